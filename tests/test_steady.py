"""Numerical stationary bumps (astrofield.theory.steady) against independent references."""

from __future__ import annotations

import numpy as np
import pytest

from astrofield import Model, solve
from astrofield.theory.bump import stationary_bumps
from astrofield.theory.steady import (
    RingSystem,
    SteadyStateError,
    heaviside_bump,
    steady_bump,
)

SIG = {"firing": "sigmoid", "steepness": 10.0, "D": 0.3}


def test_heaviside_edges_match_closed_form_cosine():
    """Edge equations solved numerically (kernel primitive + Brent) vs the closed-form bump."""
    for beta in (0.01, 0.05, 0.1):
        ref = stationary_bumps(0.1, beta, 2.0)[0]
        st = heaviside_bump(RingSystem(Model(beta=beta), 64))
        assert st.Delta == pytest.approx(ref.Delta, abs=1e-11)
        assert st.extra["c0"] == pytest.approx(ref.c0, abs=1e-11)
        assert st.extra["A0"] == pytest.approx(ref.A0, abs=1e-11)
        np.testing.assert_allclose(st.u, ref.U(st.x), atol=1e-11)


def test_heaviside_edges_mexican_hat_profile_is_the_convolution():
    """U from the kernel primitive equals a fine-grid convolution of Q H(U - theta); the
    threshold sits at the edges and the resource adds up to 2 pi."""
    m = Model(kernel="mexican_hat", beta=0.02)
    st = heaviside_bump(RingSystem(m, 64))
    y = np.linspace(-np.pi, np.pi, 200001)[:-1]
    dy = y[1] - y[0]
    q = np.where(np.abs(y) < st.Delta, st.extra["c0"], 1.0)
    active = np.abs(y) < st.Delta
    for j in (32, 40, 50, 60):  # grid points x_j = -pi + j dx (x_32 = 0)
        conv = np.sum(m.kernel(st.x[j] - y[active]) * q[active]) * dy
        assert st.u[j] == pytest.approx(conv, abs=2e-4)
    Uedge = np.sum(m.kernel(st.Delta - y[active]) * q[active]) * dy
    assert Uedge == pytest.approx(0.1, abs=1e-4)
    mass = 2 * st.Delta * st.extra["c0"] + 2 * np.pi - 2 * st.Delta + 2 * np.pi * st.extra["A0"]
    assert mass == pytest.approx(2 * np.pi, abs=1e-12)


def test_sigmoid_newton_converges_conserves_mass_and_is_even():
    st = steady_bump(Model(**SIG), 64)
    assert st.residual < 1e-10
    assert abs(st.speed) < 1e-10
    assert st.system.total_mass(st.system.pack(st.u, st.q, st.a)) == pytest.approx(2 * np.pi,
                                                                                    abs=1e-10)
    refl = (-np.arange(64)) % 64  # x -> -x on the grid
    np.testing.assert_allclose(st.u, st.u[refl], atol=1e-9)
    np.testing.assert_allclose(st.a, st.a[0], atol=1e-10)  # a uniform at steady state


@pytest.mark.parametrize("D", [0.3, np.inf])
def test_newton_bump_is_a_fixed_point_of_the_simulator(D):
    """The time integrator (an independent code path) leaves the Newton bump in place."""
    m = Model(firing="sigmoid", steepness=10.0, D=D, beta=0.01)
    st = steady_bump(m, 64)
    a = np.broadcast_to(st.a, (64,))
    ds = solve(m, T=10.0, dt=0.05, N=64, init=(st.u, st.q, a), n_frames=2, progress=False)
    assert float(np.max(np.abs(ds.u.values[-1] - st.u))) < 1e-7
    assert float(np.max(np.abs(ds.q.values[-1] - st.q))) < 1e-7


def test_warm_start_from_simulated_state_recovers_the_same_bump():
    m = Model(firing="sigmoid", steepness=10.0, D=0.3, beta=0.01)
    ref = steady_bump(m, 64)
    ds = solve(m, T=60.0, dt=0.05, N=64, init="bump", position=1.0, eps=0.05, n_frames=2,
               progress=False)
    st = steady_bump(m, 64, init=(ds.u.values[-1], ds.q.values[-1], ds.a.values[-1]))
    np.testing.assert_allclose(st.u, ref.u, atol=1e-8)


def test_sigmoid_bump_approaches_heaviside_bump_as_steepness_grows():
    ref = stationary_bumps(0.1, 0.05, 2.0)[0]
    errs = []
    for s in (10.0, 20.0, 40.0):
        st = steady_bump(Model(firing="sigmoid", steepness=s, D=0.3), 128)
        errs.append(abs(st.u.max() - ref.amplitude))
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.5 * errs[0]


def test_heterogeneous_D_gives_the_same_stationary_bump():
    """At steady state a is uniform for any D(x) > 0, so D(x) does not change the bump."""
    m = Model(**SIG)
    x = RingSystem(m, 64).x
    st1 = steady_bump(m, 64)
    st2 = steady_bump(m, 64, D_field=0.3 + 0.2 * np.cos(x))
    np.testing.assert_allclose(st1.u, st2.u, atol=1e-9)


def test_bad_input_is_reported_clearly():
    with pytest.raises(ValueError, match="D = 0"):
        steady_bump(Model(firing="sigmoid", D=0.0), 64)
    with pytest.raises(ValueError, match="even"):
        steady_bump(Model(**SIG), 65)
    with pytest.raises(SteadyStateError, match="lower beta"):
        steady_bump(Model(firing="sigmoid", beta=5.0), 64)
    with pytest.raises(ValueError, match="D_field"):
        steady_bump(Model(**SIG), 64, D_field=np.ones(10))


def test_heaviside_bump_never_returns_a_non_solution():
    # A purely excitatory Gaussian kernel: beta(Delta) rises all the way to Delta = pi, so
    # there is no wide bump; the solver used to return Delta = pi with residual 1.7.
    from scipy.integrate import quad

    m = Model(kernel="gaussian")
    with pytest.raises(SteadyStateError, match="narrow branch"):
        heaviside_bump(RingSystem(m, 64))
    st = heaviside_bump(RingSystem(m, 64), branch="narrow")
    w = m.kernel
    # threshold at the edge, by independent quadrature: U(Delta) = c0 * int_0^{2 Delta} w
    c0 = st.extra["c0"]
    edge = c0 * quad(lambda y: float(w(np.array(y))), 0.0, 2 * st.Delta)[0]
    assert edge == pytest.approx(float(m.theta), rel=1e-9)
