"""Measured convergence orders of the scheme against its design orders.

Design: second order in dt (ETD2RK for u, ETD2 with a step-linear shared flux for a, exponential
trapezoid for q) and second order in N for the bump position with the sub-grid edge quadrature
(cell-mean resource on each side of an edge; cubic-interpolated edges are fourth order).
"""

from __future__ import annotations

import numpy as np
import pytest

from astrofield import Model
from astrofield.simulator.integrator import solve

FIG7 = dict(theta=0.1, beta=0.05, gamma=2.0)


def _observed_order(values: list[float]) -> float:
    """Order from three runs at h, h/2, h/4 (Richardson, no reference needed)."""
    a, b, c = values
    return float(np.log2(abs(a - b) / abs(b - c)))


def _state(model, dt, N=128, T=20.0):
    ds = solve(model, T=T, dt=dt, N=N, eps=0.3, n_frames=2, progress=False)
    return ds


@pytest.mark.parametrize("firing", ["heaviside", "sigmoid"])
@pytest.mark.parametrize("D", [0.7, np.inf])
def test_time_order_two(firing, D):
    model = Model(**FIG7, D=D, firing=firing, steepness=30.0)
    drifts = [float(_state(model, dt).drift) for dt in (0.1, 0.05, 0.025)]
    p = _observed_order(drifts)
    assert 1.7 < p < 2.4, (drifts, p)


def test_time_order_two_in_fields():
    """Max-norm error of u, q and a at T = 20 (reference dt / 16) halves twice per halving."""
    model = Model(**FIG7, D=0.7, firing="sigmoid", steepness=30.0)
    ref = _state(model, 0.1 / 16)
    errs = []
    for dt in (0.1, 0.05, 0.025):
        ds = _state(model, dt)
        errs.append([float(np.abs(ds[k].values[-1] - ref[k].values[-1]).max())
                     for k in ("u", "q", "a")])
    errs = np.array(errs)
    orders = np.log2(errs[:-1] / errs[1:])
    assert np.all(orders > 1.7), orders


def test_space_order_subgrid_position():
    """Final position of a travelling bump (D = 0.01): sub-grid error ~ N^-2, far below
    plain grid sampling, which pins the bump completely at these N."""
    model = Model(**FIG7, D=0.01)
    kw = dict(T=40.0, dt=0.02, eps=0.05, store_fields=False, progress=False)
    ref = float(solve(model, N=2048, **kw).drift)
    Ns = (128, 256, 512)
    sub = np.array([abs(float(solve(model, N=N, **kw).drift) - ref) for N in Ns])
    grid = np.array([abs(float(solve(model, N=N, quadrature="grid", **kw).drift) - ref)
                     for N in Ns])
    order = np.polyfit(np.log(Ns), np.log(sub), 1)[0]
    assert order < -1.5, (sub, order)
    assert np.all(sub < grid / 20), (sub, grid)


@pytest.mark.slow
def test_figure7_run_converges_in_N_and_dt():
    """The Figure 7 run (eps 0.3, T 200) converges to one final drift.

    Measured (docs in README): drift -> 0.85343 rad (N -> inf, dt -> 0). The default CLI run
    (N = 256, dt = 0.02) lies within 0.1% of it; within 1% needs only N >= 64, dt <= 0.05.
    """
    m = Model(**FIG7, D=0.7)
    kw = dict(T=200.0, eps=0.3, store_fields=False, progress=False)
    Ns = (128, 256, 512, 1024, 2048)
    byN = np.array([float(solve(m, N=N, dt=0.025, **kw).drift) for N in Ns])
    errN = np.abs(byN[:-1] - byN[-1])
    pN = -np.polyfit(np.log(Ns[:-1]), np.log(errN), 1)[0]
    assert pN > 1.6, (byN, pN)  # measured ~2 (the sub-grid error oscillates with N)
    bydt = [float(solve(m, N=512, dt=dt, **kw).drift) for dt in (0.05, 0.025, 0.0125)]
    pdt = _observed_order(bydt)
    assert 1.7 < pdt < 2.4
    limdt = bydt[-1] + (bydt[-1] - bydt[-2]) / (2**pdt - 1)
    converged = limdt + (byN[-1] - byN[2])  # dt -> 0 at N = 512, plus the N -> 2048 correction
    default = float(solve(m, N=256, dt=0.02, **kw).drift)
    assert abs(default - converged) < 0.01 * abs(converged)
