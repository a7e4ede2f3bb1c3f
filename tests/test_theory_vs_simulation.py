"""Bump theory against the simulator: two independent computations of the same dynamics.

The simulator knows nothing of the Evans function; a shift-perturbed exact bump is integrated and
the late-time exponential growth rate of its drift velocity is measured. Linear theory says it is
the leading non-zero eigenvalue (a real zero of E(lambda)).
"""

from __future__ import annotations

import numpy as np
import pytest

from astrofield import Model
from astrofield.simulator.integrator import Simulator, _split_bump_resource, initial_state, solve
from astrofield.theory.bump import bump_branches
from astrofield.theory.evans import evans_dprime, evans_zeros
from astrofield.theory.stability import beta_star

THETA = 0.1


def _measured_rates(beta, gamma, D, T=120.0, t0=40.0, eps=0.002, N=128):
    m = Model(theta=THETA, beta=np.asarray(beta, float), gamma=np.asarray(gamma, float),
              D=np.asarray(D, float))
    ds = solve(m, T=T, dt=0.05, N=N, eps=eps, store_fields=False, n_frames=241, progress=False)
    t = ds["time"].values
    sel = t > t0
    logv = np.log(np.abs(ds["velocity"].values[:, sel]))
    return np.polyfit(t[sel], logv.T, 1)[0]


def _leading_eigenvalue(beta, gamma, D):
    zeros = evans_zeros(THETA, beta, gamma, D)
    return max(z.lam.real for z in zeros if abs(z.lam) > 1e-8)


def test_growth_rates_match_evans_eigenvalues():
    pts = [(0.05, 1.0, np.inf), (0.05, 1.1, np.inf), (0.05, 2.0, 0.3), (0.01, 2.0, 0.3),
           (0.03, 2.0, 0.3)]
    beta, gamma, D = (np.array(v) for v in zip(*pts, strict=True))
    measured = _measured_rates(beta, gamma, D)
    for (b, g, d), r in zip(pts, measured, strict=True):
        lam = _leading_eigenvalue(b, g, d)
        assert r == pytest.approx(lam, rel=0.12, abs=5e-4), (b, g, d, r, lam)
        # and the verdicts agree: E'(0) > 0 on the stable side
        assert (float(evans_dprime(THETA, b, g, d)) > 0) == (r < 0)


def test_velocity_growth_changes_sign_at_beta_star():
    bs = float(beta_star(theta=THETA, gamma=2.0, D=0.3)[0])
    rates = _measured_rates(np.array([0.8 * bs, 1.25 * bs]), 2.0, 0.3, T=150.0, t0=60.0)
    assert rates[0] < 0 < rates[1]


def test_stable_bump_relaxes_and_unstable_bump_travels():
    m = Model(theta=THETA, beta=np.array([0.01, 0.09]), gamma=2.0, D=np.array([0.6, 0.05]))
    assert float(evans_dprime(THETA, 0.01, 2.0, 0.6)) > 0 > float(
        evans_dprime(THETA, 0.09, 2.0, 0.05))
    ds = solve(m, T=300.0, dt=0.05, N=128, eps=0.05, store_fields=False, progress=False)
    v = np.abs(ds["velocity_final"].values)
    assert v[0] < 1e-5 and v[1] > 1e-2
    assert abs(float(ds["drift"][0])) < 0.2 < abs(float(ds["drift"][1]))


def test_bump_values_solve_the_simulators_stationary_equations():
    """Insert U, Q, A into the simulator's right-hand sides: residuals at round-off level."""
    for theta, beta, gamma in [(0.1, 0.05, 2.0), (0.03, 0.3, 2.0), (0.3, 0.01, 1.2)]:
        m = Model(theta=theta, beta=beta, gamma=gamma, D=0.3)
        N = 1024
        sim = Simulator(m, N)
        (u, q, a), bump = initial_state(m, N, "bump", eps=0.0, position=0.01)
        st = sim.make_state(u, q, a)
        _split_bump_resource(st, bump)
        assert np.max(np.abs(sim.rhs_u(st, 0.0))) < 1e-9
        # resource exchange vanishes on both parts
        c0, A0 = bump["c0"][0], bump["A0"][0]
        assert gamma * A0 * (1 - c0) == pytest.approx(beta * c0, rel=1e-10)
        br = bump_branches(theta, beta, gamma)["wide"]
        assert float(br["c0"]) * np.sin(2 * float(br["Delta"])) == pytest.approx(theta,
                                                                                 rel=1e-12)


@pytest.mark.parametrize(("theta", "beta", "D"), [(0.1, 0.05, 0.7), (0.2, 0.01, np.inf)])
def test_narrow_bump_is_unstable_to_expansion_and_contraction(theta, beta, D):
    """Theory: the narrow branch is unstable; slightly wider grows to the wide bump,
    slightly narrower dies out (independent of the Evans shift analysis)."""
    m = Model(theta=theta, beta=beta, gamma=2.0, D=D)
    N = 256
    (u, q, a), bump = initial_state(m, N, "bump", eps=0.0, branch="narrow")
    wide = 2 * float(bump_branches(theta, beta, 2.0)["wide"]["Delta"])
    grow = solve(m, T=80.0, dt=0.05, N=N, init=(u * 1.002, q, a), store_fields=False,
                 progress=False)
    die = solve(m, T=80.0, dt=0.05, N=N, init=(u * 0.998, q, a), store_fields=False,
                progress=False)
    assert float(grow["width_final"]) == pytest.approx(wide, abs=1e-3)
    assert float(die["width_final"]) == 0.0


def _model_md_limit_evans(lam, theta, beta, gamma):
    """E(lambda) at D = inf in the circulating minus-sign form (K terms with a minus sign)."""
    b = bump_branches(theta, beta, gamma)["wide"]
    Dl, c0, A0, mu = (float(b[k]) for k in ("Delta", "c0", "A0", "mu"))
    s, c = np.sin(Dl), np.cos(Dl)
    P = np.array([[(1 + c0) * c * c, (1 - c0) * s * c], [(1 - c0) * s * c, (1 + c0) * s * s]])
    L = lam + beta + gamma * A0
    m = mu * beta / L
    W = np.pi * L + Dl * gamma * (1 - c0)
    K1 = gamma * (1 - c0) / W
    K2 = gamma * (1 - c0) * c0 * L / ((lam + gamma * A0) * W)
    B = -m * np.array([[c * c + (K1 + K2) * s * c, s * c + (K1 - K2) * s * s],
                       [s * c, s * s]])
    return np.linalg.det((lam + 1) * np.eye(2) - mu * P - B)


def test_simulation_confirms_the_corrected_infinite_D_evans_function():
    """Where the sign of the K terms matters (beta 2, gamma 1.2, D = inf) the simulator's linear
    growth rate matches the corrected limit (docs/theory_notes.md), not the minus-sign formula."""
    from scipy.optimize import brentq

    beta, gamma = 2.0, 1.2
    ds = solve(Model(theta=THETA, beta=beta, gamma=gamma, D=np.inf), T=20.0, dt=0.01, N=256,
               eps=1e-6, store_fields=False, n_frames=201, progress=False)
    t, v = ds["time"].values, np.abs(ds["velocity"].values)
    sel = t >= 10.0
    rate = np.polyfit(t[sel], np.log(v[sel]), 1)[0]
    corrected = _leading_eigenvalue(beta, gamma, np.inf)
    grid = np.linspace(1e-3, 1.0, 400)
    vals = [_model_md_limit_evans(g, THETA, beta, gamma) for g in grid]
    i = next(i for i in range(len(grid) - 1) if np.sign(vals[i]) != np.sign(vals[i + 1]))
    as_written = brentq(_model_md_limit_evans, grid[i], grid[i + 1], args=(THETA, beta, gamma))
    assert rate == pytest.approx(corrected, rel=0.03)
    assert abs(rate - as_written) > 0.1


def test_tau_enters_the_theory_by_exact_rescaling():
    """tau = 2: the simulator's growth rate equals the Evans eigenvalue at (beta, gamma, D) / tau,
    and stability(..., tau=2) gives that verdict (the tau = 1 verdict would be different)."""
    from astrofield.theory.stability import stability

    tau, beta, gamma, D = 2.0, 0.05, 2.0, 0.3
    ds = solve(Model(theta=THETA, beta=beta, gamma=gamma, D=D, tau=tau), T=80.0, dt=0.05, N=128,
               eps=1e-6, store_fields=False, n_frames=161, progress=False)
    t, v = ds["time"].values, np.abs(ds["velocity"].values)
    sel = t > 30.0
    rate = np.polyfit(t[sel], np.log(v[sel]), 1)[0]
    assert rate == pytest.approx(_leading_eigenvalue(beta / tau, gamma / tau, D / tau), rel=0.03)
    # a point that is stable at tau = 1 but unstable at tau = 4 (beta* scales like D)
    st1 = stability(THETA, 0.01, 2.0, 0.3)
    st4 = stability(THETA, 0.01, 2.0, 0.3, tau=4.0)
    assert bool(st1["evans_stable"]) and not bool(st4["evans_stable"])
    assert float(st4["beta_max"]) == pytest.approx(float(st1["beta_max"]))
    m4 = solve(Model(theta=THETA, beta=0.01, gamma=2.0, D=0.3, tau=4.0), T=300.0, dt=0.05, N=64,
               eps=1e-4, store_fields=False, n_frames=31, progress=False)
    vv = np.abs(m4["velocity"].values)
    assert vv[-1] > 10 * vv[3]  # grows, as the rescaled theory says
