"""The compiled (numba) kernels and the numpy fall-back give the same results."""

from __future__ import annotations

import numpy as np
import pytest

from astrofield import Model
from astrofield.simulator import compiled as _accel
from astrofield.simulator.integrator import solve
from astrofield.simulator.ring import Ring

pytestmark = pytest.mark.skipif(not _accel.HAVE_NUMBA, reason="numba not installed")


@pytest.fixture
def numpy_path():
    _accel.ENABLED = False
    yield
    _accel.ENABLED = _accel.HAVE_NUMBA


def test_edges_agree(numpy_path):
    rng = np.random.default_rng(1)
    ring = Ring(96)
    u = 0.8 * np.cos(ring.x - rng.uniform(-3, 3, (5, 1))) + 0.05 * rng.standard_normal((5, 96))
    theta = np.full((5, 1), 0.1)
    ref = ring.edges(u, theta)
    _accel.ENABLED = True
    fast = ring.edges(u, theta)
    for k in ("phi", "mc", "ms", "m1"):
        np.testing.assert_allclose(getattr(fast, k), getattr(ref, k), rtol=0, atol=1e-14)


def test_solve_agrees(numpy_path):
    m = Model(beta=np.array([0.02, 0.05]), D=np.array([0.01, 0.7]))
    kw = dict(T=20.0, dt=0.05, N=128, eps=0.3, progress=False)
    ref = solve(m, **kw)
    _accel.ENABLED = True
    fast = solve(m, **kw)
    np.testing.assert_allclose(fast["u"].values, ref["u"].values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast["q"].values, ref["q"].values, rtol=0, atol=1e-12)
