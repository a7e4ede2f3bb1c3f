"""Heterogeneous astrocytic coupling D(x) in flux form (simulate.solve(D_field=...))."""

import numpy as np
import pytest

from astrofield.model.definition import Model
from astrofield.model.kernels import ring_distance
from astrofield.simulator.integrator import initial_state, solve


def _patch(lo, hi, centre=1.5, width=0.5):
    """Gaussian patch of high diffusion on a low background."""
    return lambda x: lo + (hi - lo) * np.exp(-ring_distance(x - centre) ** 2 / (2 * width**2))


@pytest.mark.parametrize("dfield", [_patch(0.05, 2.0), np.linspace(0.01, 3.0, 64)])
def test_total_resource_conserved_to_round_off(dfield):
    ds = solve(Model(D=0.3), T=50.0, dt=0.05, N=64, eps=0.3, D_field=dfield, n_frames=6,
               progress=False)
    m = ds["mass"].values
    assert abs(float(ds["mass_drift"])) < 1e-12
    assert np.max(np.abs(m - m[0])) / m[0] < 1e-12
    assert float(ds["a"].std("x").max()) > 1e-3  # a really was non-uniform (diffusion active)


def test_constant_D_field_converges_to_the_spectral_solution():
    """Constant D(x) = D: the flux-form three-point operator against the exact spectral one.

    The two discretisations of a_xx differ by O(dx^2) for smooth a; the exchange flux has kinks
    at the bump edges, so the observed order is about 1.6 (error ratio about 3 per doubling).
    Tolerance: max |a| difference below 3e-4 at N = 32, and at least 2.5x smaller per doubling.
    """
    errs = []
    for N in (32, 64, 128):
        kw = dict(T=20.0, dt=0.05, N=N, eps=0.3, n_frames=5, progress=False)
        a = solve(Model(D=0.3), **kw)
        b = solve(Model(D=0.3), D_field=np.full(N, 0.3), **kw)
        errs.append(float(np.abs(a["a"] - b["a"]).max()))
        assert float(np.abs(a["position"] - b["position"]).max()) < 10 * errs[-1]
    assert errs[0] < 3e-4
    assert errs[1] < errs[0] / 2.5 and errs[2] < errs[1] / 2.5


def _bumps_at(positions, N):
    u, q, a = [], [], []
    for p in positions:
        (uu, qq, aa), _ = initial_state(Model(), N, "bump", eps=0.0, position=p)
        u.append(uu[0])
        q.append(qq[0])
        a.append(aa[0])
    return np.array(u), np.array(q), np.array(a)


def _smooth(lo, hi, centre=1.5):
    """Geometric interpolation from ``lo`` (at centre + pi) to ``hi`` (at centre)."""
    return lambda x: lo * (hi / lo) ** ((1 + np.cos(x - centre)) / 2)


def test_stable_bumps_settle_in_a_heterogeneous_medium():
    """At equilibrium a is uniform for any D(x) > 0, so where every D is on the stable side
    bumps only relax (small transient shift from the initial edge cells) and then stop."""
    pos = np.array([-2.0, 0.0, 0.8, 2.5])
    ds = solve(Model(theta=np.full(4, 0.1)), T=150.0, dt=0.05, N=64, init=_bumps_at(pos, 64),
               D_field=_smooth(0.3, 3.0), store_fields=False, n_frames=3, progress=False)
    assert np.max(np.abs(ds["drift"].values)) < 0.1
    assert np.max(np.abs(ds["velocity_final"].values)) < 5e-4


def test_bumps_leave_low_D_regions_and_are_trapped_at_high_D():
    """D from 0.05 (at x = 1.5 - pi) to 2 (at x = 1.5): a bump at x = 0 (D about 0.4, below the
    drift-stability boundary) starts to travel down the gradient, away from the high-D region;
    a bump centred on the high-D region stays put."""
    pos = np.array([0.0, 1.5])
    ds = solve(Model(theta=np.full(2, 0.1)), T=300.0, dt=0.05, N=64, init=_bumps_at(pos, 64),
               D_field=_smooth(0.05, 2.0), store_fields=False, n_frames=3, progress=False)
    drift = ds["drift"].values
    assert drift[0] < -1.0
    assert abs(drift[1]) < 0.1 and abs(float(ds["velocity_final"].values[1])) < 1e-3
    # 6000 steps of the dense eigendecomposition-based operator: ~3e-16 per step
    assert np.max(np.abs(ds["mass_drift"].values)) < 1e-11


def test_D_field_validation():
    with pytest.raises(ValueError, match="D_field"):
        solve(Model(), T=1.0, N=32, D_field=np.ones(31), progress=False)
    with pytest.raises(ValueError, match="D_field"):
        solve(Model(), T=1.0, N=32, D_field=-np.ones(32), progress=False)
