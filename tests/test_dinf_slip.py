"""D = inf near the fold: one slip, then rest (issue 25, item 3).

Near the fold at D = inf the wide bump is drift-unstable (real Evans rate ~2) and the shift
``eps = 0.05`` makes it slip once by ~2 rad; afterwards it rests only while it still shrinks
towards its stationary width. Any perturbation the scheme leaves behind ends that rest with a
second slip whose direction depends on rounding. The compiled loop summed the uniform
astrocytic pool as ``N`` equal values, a bias of the same sign at every step: the total resource
drifted by ~1e-12 and released second slips at the figure's step (drift -0.08 / 3.93 / -0.08
at N 128 / 256 / 1024 where independent converged runs give 1.906).

The reference drifts 1.906 and 2.028 rad are independent converged runs (issue 25); the
accuracy asked for is the step-size rule's documented tolerance (2 % + 0.01 rad).
"""

from __future__ import annotations

import numpy as np
import pytest

from astrofield import Model
from astrofield.simulator import compiled as _accel
from astrofield.simulator.integrator import solve
from astrofield.simulator.step_control import DRIFT_TOLERANCE

CASES = [("numpy", 256)] + ([("numba", 200), ("numba", 256)] if _accel.HAVE_NUMBA else [])


@pytest.mark.parametrize(("backend", "N"), CASES)
def test_dinf_total_resource_does_not_drift(backend, N):
    """A travelling bump at D = inf (4000 steps): the total resource stays at 2 pi to 1e-13
    (the compiled loop's biased sum drifted by 1.1e-12 - 1.5e-12 here, at N 200 and 256)."""
    m = Model(theta=0.1, beta=1.0, gamma=1.0, D=np.inf)
    ds = solve(
        m,
        N=N,
        dt=0.05,
        T=200.0,
        eps=0.0,
        store_fields=False,
        progress=False,
        check_resolution=False,
        backend=backend,
        n_frames=101,
    )
    assert abs(float(ds.drift)) > 1.0  # it travels: the exchange flux is never small
    assert np.max(np.abs(ds.mass.values - 2 * np.pi)) < 1e-13


def test_dinf_pool_stays_uniform_and_exact():
    """The mean of the uniform pool is the pool itself (bit for bit), at any N."""
    from astrofield.simulator.integrator import Simulator

    a0 = np.full((2, 200), 0.30285000963436076)
    J = np.zeros_like(a0)
    out = Simulator._astro_mean(a0, J, J, 0.05)
    np.testing.assert_array_equal(out, a0)


@pytest.mark.skipif(not _accel.HAVE_NUMBA, reason="about 40 s on the numpy backend")
def test_dinf_slip_points_converge_at_figure_step():
    """Issue 25's two slip points at dt 0.05 (Figure 6's step), N 256 - 1024 (about 3 s with the
    numba backend): one slip, drifts
    within 2 % of each other and within the step rule's tolerance of the independent values."""
    gamma = np.array([1.0, 1.0245])
    beta = np.array([2.2086, 1.8829])
    ref = np.array([1.906, 2.028])
    m = Model(theta=0.1, beta=beta, gamma=gamma, D=np.inf)
    drifts = np.array(
        [
            solve(
                m,
                N=N,
                dt=0.05,
                T=500.0,
                eps=0.05,
                n_frames=2,
                store_fields=False,
                progress=False,
                check_resolution=False,
            ).drift.values
            for N in (256, 512, 1024)
        ]
    )
    spread = drifts.max(axis=0) / drifts.min(axis=0) - 1
    assert np.all(drifts > 0) and np.all(spread < 0.02), drifts
    rel, absol = DRIFT_TOLERANCE
    assert np.all(np.abs(drifts - ref) <= rel * ref + absol), drifts
