"""Backend ``jax`` (on JAX's CPU device here) reproduces the numpy reference step.

Skipped when JAX is not installed (``pip install astrofield[jax]``).
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from astrofield import Gaussian, Model  # noqa: E402
from astrofield.simulator.integrator import solve  # noqa: E402

KW = dict(T=10.0, dt=0.05, N=64, eps=0.3, progress=False, n_frames=6)


def _agree(ref, fast, tol=1e-9, fields=True):
    names = ["drift", "velocity_final", "width_final", "mass_drift", "position", "velocity",
             "width", "mass", "t_final"] + (["u", "q", "a"] if fields else [])
    for k in names:
        np.testing.assert_allclose(fast[k].values, ref[k].values, rtol=0, atol=tol, err_msg=k)


def test_heaviside_batch_matches_numpy():
    m = Model(theta=0.1, beta=np.array([0.02, 0.05, 0.08]), gamma=2.0,
              D=np.array([0.01, 0.7, np.inf]))
    ref = solve(m, backend="numpy", **KW)
    fast = solve(m, backend="jax", **KW)
    assert fast.attrs["backend"] == "jax"
    _agree(ref, fast)
    assert not jax.config.read("jax_enable_x64")  # float64 only while the backend runs


@pytest.mark.slow
def test_sigmoid_general_kernel_matches_numpy():
    m = Model(theta=0.1, beta=0.05, gamma=2.0, D=0.7, firing="sigmoid", steepness=30.0,
              kernel=Gaussian(amplitude=1.5, width=0.8))
    _agree(solve(m, backend="numpy", **KW), solve(m, backend="jax", **KW))


@pytest.mark.slow
def test_stop_rule_same_decisions_and_unsupported_options():
    m = Model(theta=0.1, beta=np.array([0.02, 0.09]), gamma=2.0, D=np.array([0.7, 0.001]))

    def rule(t, drift, velocity, width, members):
        return np.abs(drift) > 0.2

    kw = {**KW, "T": 100.0, "store_fields": False, "stop_rule": rule, "stop_every": 5.0}
    ref, fast = solve(m, backend="numpy", **kw), solve(m, backend="jax", **kw)
    assert fast.t_final.values[1] < 100.0
    _agree(ref, fast, fields=False)
    with pytest.raises(ValueError, match="does not support"):
        solve(m, backend="jax", D_field=np.ones(64), **KW)


@pytest.mark.slow
def test_adaptive_map_in_jax_batches_matches_numba():
    """Issue 23 item 3: an adaptive map whose rounds run as JAX batches samples the same
    points and gives the same drifts and verdicts as the compiled CPU loop (about 15 s here,
    on JAX's CPU device)."""
    import warnings

    from astrofield.experiments.phase import phase_diagram

    kw = dict(gamma=2.0, T=100.0, N=32, dt=0.1, sampling="adaptive", progress=False)
    axes = ["D=0.001:0.6:8", "beta=0.001:0.1:8"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cpu = phase_diagram(axes, backend="numba", **kw)
        gpu = phase_diagram(axes, backend="jax", **kw)
    np.testing.assert_array_equal(gpu["sampled"].values, cpu["sampled"].values)
    np.testing.assert_array_equal(gpu["verdict_code"].values, cpu["verdict_code"].values)
    np.testing.assert_allclose(gpu["drift"].values, cpu["drift"].values, rtol=0, atol=1e-9)
    assert gpu.attrs["backend"] == "jax"
