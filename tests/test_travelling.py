"""Travelling Heaviside bumps (astrofield.theory.travelling) against independent references:
the Evans function's drift pitchfork, the stationary edge solver, the D = inf closed form and
long simulations of astrofield.solve."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.optimize import brentq

from astrofield import Model, solve
from astrofield.cli import main
from astrofield.model.kernels import make_kernel
from astrofield.theory.continuation import continue_bumps
from astrofield.theory.evans import evans_dprime
from astrofield.theory.stability import beta_star
from astrofield.theory.steady import RingSystem, SteadyStateError, heaviside_bump
from astrofield.theory.travelling import (
    _Green,
    _kernel_modes,
    closed_form,
    follow_speed,
    travelling_bump,
)


def _narrow(beta, D=np.inf):
    return heaviside_bump(RingSystem(Model(D=D, beta=beta), 64), branch="narrow")


def test_closed_form_slow_limit_is_the_evans_pitchfork():
    """D = inf, gamma = 2: the drift pitchfork (E'(0) = 0) lies on the narrow branch."""
    b_star = brentq(lambda b: float(evans_dprime(0.1, b, 2.0, np.inf, branch="narrow")), 3.5,
                    4.4, xtol=1e-13)
    st = _narrow(4.0)
    tb = closed_form(Model(D=np.inf, beta=4.0), 1e-5, "beta", (st.Delta, 4.0, st.extra["A0"]))
    assert float(tb.model.beta) == pytest.approx(b_star, rel=1e-8)
    ref = _narrow(b_star)
    assert tb.half_width == pytest.approx(ref.Delta, abs=1e-4)
    U, Q, A = tb.fields(ref.x)
    assert np.max(np.abs(U - ref.u)) < 1e-4 and A[0] == pytest.approx(ref.extra["A0"], rel=1e-4)


def test_collocation_equals_closed_form_and_large_D_converges_to_it():
    st = _narrow(4.0)
    g = (st.Delta, 4.0, st.extra["A0"])
    ref = closed_form(Model(D=np.inf, beta=4.0), 0.02, "beta", g)
    col = travelling_bump(Model(D=np.inf, beta=4.0), speed=0.02, free="beta", guess=g)
    assert float(col.model.beta) == pytest.approx(float(ref.model.beta), rel=1e-9)
    assert col.half_width == pytest.approx(ref.half_width, rel=1e-9)
    errs = []
    for D in (1e3, 1e4):
        fin = travelling_bump(Model(D=D, beta=4.0), speed=0.02, free="beta", guess=g)
        errs.append(abs(float(fin.model.beta) - float(ref.model.beta)))
    assert errs[1] < 5e-4 and errs[1] < 0.2 * errs[0]  # O(1/D)
    # speed as the unknown at fixed beta returns the same bump
    back = travelling_bump(Model(D=np.inf, beta=float(ref.model.beta)), free="c", guess=col)
    assert back.speed == pytest.approx(0.02, rel=1e-7)


def test_finite_D_branch_is_born_at_the_evans_drift_point():
    b_evans = float(beta_star(0.1, 2.0, 0.3)[0])
    st = heaviside_bump(RingSystem(Model(D=0.3, beta=b_evans), 64))
    g = (st.Delta, b_evans, st.extra["A0"])
    b = [float(travelling_bump(Model(D=0.3, beta=b_evans), speed=c, free="beta",
                               guess=g).model.beta) for c in (1e-4, 2e-4)]
    # beta - beta* is linear in c at small c (the boundary layers of Q): extrapolate to c = 0
    assert 2 * b[0] - b[1] == pytest.approx(b_evans, rel=1e-4)


@pytest.fixture(scope="module")
def heaviside_branch():
    return continue_bumps(Model(D=0.3, beta=0.01), "beta", 0.005, 0.06, N=64, max_points=12)


def test_continuation_switches_at_the_drift_point(heaviside_branch):
    ds = heaviside_branch
    drift = json.loads(ds.attrs["drift_bifurcations"])
    tr = ds.where(ds.branch == "travelling", drop=True)
    assert tr.sizes["point"] > 5 and np.all(np.diff(tr.speed.values) > 0)
    assert float(tr.beta[0]) == pytest.approx(drift[0], abs=2e-3)  # first point at c = 1e-3
    assert np.all(tr.n_unstable.values == -1) and np.all(np.isnan(tr.leading_real.values))
    assert "travelling" in ds.attrs["method"]


def test_travelling_speed_equals_simulated_speed(heaviside_branch):
    tr = heaviside_branch.where(heaviside_branch.branch == "travelling", drop=True)
    c = float(np.interp(0.05, tr.beta.values, tr.speed.values))
    sim = solve(Model(D=0.3, beta=0.05), T=1000.0, dt=0.025, N=256, eps=0.05, n_frames=2,
                store_fields=False, progress=False)
    assert abs(float(sim.velocity_final)) == pytest.approx(c, rel=0.01)


def test_no_pitchfork_gives_a_message_not_a_traceback():
    ds = continue_bumps(Model(D=np.inf, beta=4.0), "beta", 4.0, 4.59, N=64, max_points=12)
    assert json.loads(ds.attrs["drift_bifurcations"])  # wide branch loses stability ...
    assert "does not start" in ds.attrs["message"]  # ... but not through a drift pitchfork
    assert (ds.branch.values == "travelling").sum() == 0


def test_green_function_solves_the_comoving_activity_equation():
    k = make_kernel("mexican_hat")
    G = _Green(_kernel_modes(k), 0.3)
    z = np.linspace(-np.pi, np.pi, 2001)
    dG = np.gradient(G(z), z)
    assert np.max(np.abs((-G(z) + 0.3 * dG + k(z))[5:-5])) < 1e-4


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="free"):
        travelling_bump(Model(), speed=0.1, free="kappa", guess=(1.0, 0.1, 0.1))
    with pytest.raises(ValueError, match="speed"):
        travelling_bump(Model(), free="beta", guess=(1.0, 0.1, 0.1))
    with pytest.raises(SteadyStateError):
        travelling_bump(Model(D=0.3), speed=0.5, free="beta", guess=(3.0, 0.2, 0.01))


def test_cli_continue_shows_heaviside_travelling_branch():
    r = CliRunner().invoke(main, ["continue", "--D", "0.3", "--param", "beta", "--start",
                                  "0.01", "--stop", "0.04", "--N", "64", "--max-points", "8",
                                  "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout.splitlines()[0])
    assert obj["travelling_points"] > 3 and len(obj["drift_bifurcations"]) == 1


MEX = {"D": np.inf, "kernel": "mexican_hat"}


def test_mexican_hat_speed_equals_simulated_speed():
    """Non-cosine kernel: the co-moving Green's function goes through the spline table."""
    p0 = 0.0661  # near the drift point (see the next test)
    st = heaviside_bump(RingSystem(Model(beta=p0, **MEX), 64))
    bumps, msg = follow_speed(Model(beta=p0, **MEX), "beta", p0, st.Delta, st.extra["A0"], 0.06,
                              0.21)
    assert msg == "" and len(bumps) > 5
    tb = travelling_bump(Model(beta=0.2, **MEX), free="c", guess=bumps[-1])
    sim = solve(tb.model, T=1000.0, dt=0.025, N=256, eps=0.05, n_frames=2, store_fields=False,
                progress=False)
    assert abs(float(sim.velocity_final)) == pytest.approx(tb.speed, rel=0.01)


@pytest.mark.slow
def test_mexican_hat_slow_limit_is_the_extrapolated_drift_point():
    """The grid drift point (edge spectra) converges at first order in 1/N; its Richardson
    extrapolation equals the c -> 0 limit of the travelling branch."""
    pts = [json.loads(continue_bumps(Model(beta=0.06, **MEX), "beta", 0.06, 0.08, N=n,
                                     max_points=5, travelling=False
                                     ).attrs["drift_bifurcations"])[0] for n in (128, 256)]
    p_grid = 2 * pts[1] - pts[0]
    st = heaviside_bump(RingSystem(Model(beta=pts[1], **MEX), 64))
    g = (st.Delta, pts[1], st.extra["A0"])
    b = [float(travelling_bump(Model(beta=pts[1], **MEX), speed=c, free="beta",
                               guess=g).model.beta) for c in (1e-4, 2e-4)]
    assert 2 * b[0] - b[1] == pytest.approx(p_grid, rel=2e-3)


def test_branch_in_D_passes_the_speed_maximum_and_matches_simulation():
    """Lowering D, the speed rises to a maximum and falls again (a fold of c in D): the local
    parameterisation passes it; past it the speed still equals the simulated one."""
    ds = continue_bumps(Model(D=0.3, beta=0.05), "D", 0.6, 0.08, N=64, max_points=10,
                        travelling=False)
    drift = json.loads(ds.attrs["drift_bifurcations"])
    assert len(drift) == 1 and drift[0] == pytest.approx(0.4169, abs=2e-3)
    st = heaviside_bump(RingSystem(Model(D=drift[0], beta=0.05), 64))
    bumps, msg = follow_speed(Model(D=drift[0], beta=0.05), "D", drift[0], st.Delta,
                              st.extra["A0"], 0.08, 0.6)
    c = np.array([b.speed for b in bumps])
    assert msg == "" and 0 < np.argmax(c) < c.size - 1  # an interior maximum
    tb = travelling_bump(Model(D=0.08, beta=0.05), free="c", guess=bumps[-1])
    sim = solve(Model(D=0.08, beta=0.05), T=1000.0, dt=0.025, N=256, eps=0.05, n_frames=2,
                store_fields=False, progress=False)
    assert tb.speed < c.max() and abs(float(sim.velocity_final)) == pytest.approx(tb.speed,
                                                                                  rel=0.005)


def test_narrow_branch_at_infinite_D_finds_the_pitchfork_and_its_travelling_branch():
    # At D = inf (theta 0.1, gamma 2) the drift pitchfork lies on the narrow family, which is
    # unstable on both sides (another mode), so only the sign of E'(0) can locate it.
    from astrofield import evans_dprime

    b_star = brentq(lambda b: float(evans_dprime(0.1, b, 2.0, np.inf, "narrow")), 3.9, 4.2,
                    xtol=1e-12)
    ds = continue_bumps(Model(theta=0.1, gamma=2.0, D=np.inf), "beta", 3.8, 4.3, N=64,
                        branch="narrow", max_points=11, max_travelling=8)
    assert ds.attrs["bump_branch"] == "narrow"
    drift = json.loads(ds.attrs["drift_bifurcations"])
    assert len(drift) == 1 and drift[0] == pytest.approx(b_star, abs=1e-6)
    trav = ds["branch"].values == "travelling"
    assert trav.sum() >= 3
    c, b = ds["speed"].values[trav], ds["beta"].values[trav]
    assert c.min() < 0.01 and np.all(c > 0)
    assert b[np.argmin(c)] == pytest.approx(b_star, abs=1e-3)  # born at the pitchfork
