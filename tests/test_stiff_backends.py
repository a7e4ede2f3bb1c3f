"""The stiff-exchange safeguards in every backend (issue 24, part two, item 3).

At ``beta = gamma = 1e6`` (``dt`` 0.001, ``N`` 128: ``h k`` about 1e3) an explicit
``backend="numba"`` or ``"jax"`` used to overflow in the first step (NaN at ``t = 0.001``):
their steps lacked the guards of the numpy step (``a >= 0`` in the rates, the damped flux slope
and stiff predictor, the limiter that keeps ``a >= 0``). They now have them, stay finite, keep
``a >= 0`` and the total resource, and agree with numpy to round-off.

The bound: the three backends do the same operations in a different order (numba multiplies by
reciprocals and sums in another order, XLA fuses), about an ulp per operation; over the run the
differences of the fields stay within a few ulps per step of the fields' magnitude (measured:
at most 36 ulps after 500 steps). ``2 ulp`` per step is the budget.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest
from _ulp import assert_ulp_close

from astrofield import Model, solve
from astrofield.simulator.backends import available

T, N, DT = 0.5, 128, 0.001
STEPS = round(T / DT)


def _run(backend: str):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NonFiniteWarning
        warnings.simplefilter("ignore", UserWarning)  # the step-size rule's own warning
        return solve(
            Model(beta=1e6, gamma=1e6),
            T=T,
            N=N,
            dt=DT,
            backend=backend,
            dt_check="off",
            check_resolution=False,
            progress=False,
            n_frames=3,
        )


@pytest.fixture(scope="module")
def reference():
    return _run("numpy")


def _check_against(ds, ref):
    assert not ds["failed"].values.any()
    for k in ("u", "q", "a"):
        x = ds[k].values[..., -1, :]
        assert np.isfinite(x).all()
        y = ref[k].values[..., -1, :]
        assert_ulp_close(x, y, 2 * STEPS, scale=np.max(np.abs(y)), err_msg=k)
    assert (ds["a"].values[..., -1, :] >= 0).all()
    # the exchange conserves the total resource: independent of the backend's arithmetic
    assert abs(float(ds["mass_drift"].values.ravel()[0])) < 1e-12
    assert_ulp_close(ds["drift"].values, ref["drift"].values, 2 * STEPS, scale=np.pi)


@pytest.mark.skipif(not available("numba"), reason="numba not installed")
def test_numba_stiff_exchange_finite_and_agrees(reference):
    _check_against(_run("numba"), reference)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax not installed")
def test_jax_stiff_exchange_finite_and_agrees(reference):
    _check_against(_run("jax"), reference)


def test_numpy_reference_keeps_invariants(reference):
    """The reference itself: finite, ``0 <= q <= 1``, ``a >= 0``, total resource conserved."""
    q, a = reference["q"].values, reference["a"].values
    assert np.isfinite(q).all() and ((q >= 0) & (q <= 1)).all() and (a >= 0).all()
    assert abs(float(reference["mass_drift"].values.ravel()[0])) < 1e-12


@pytest.mark.skipif(not available("numba"), reason="numba not installed")
def test_default_run_on_numba_unchanged_bit_for_bit():
    """The guards act only where ``a < 0`` or ``h k > 1``: the default run (neither) gives the
    same drift on the compiled loop as before they were added (the same compiled code run
    twice is bit-reproducible, see tests/_ulp.py), and numpy's within round-off of it."""
    drift = float(solve(Model(), progress=False, backend="numba")["drift"])
    # the value the compiled loop gave on the machine the guards were written on: the same
    # code on another CPU may contract a * b + c into an FMA or call another libm variant, so
    # the pin allows the rounding of the 10 000 steps (as numba against numpy below)
    assert_ulp_close(drift, 0.8518097972665646, 2 * 4000, scale=np.pi)
    ref = float(solve(Model(), progress=False, backend="numpy")["drift"])
    assert_ulp_close(drift, ref, 2 * 4000, scale=np.pi)


CASES = {
    "sigmoid": (dict(firing="sigmoid", steepness=20.0, beta=1e6, gamma=1e6), {}),
    "batch of a slow and a stiff member": (
        dict(beta=np.array([0.05, 1e6]), gamma=np.array([2.0, 1e6])),
        {},
    ),
    "D inf (mean only)": (dict(beta=1e6, gamma=1e6, D=np.inf), {}),
    "D_field (dense)": (dict(beta=1e6, gamma=1e6), {"D_field": lambda x: 0.5 + 0.2 * np.cos(x)}),
    "gamma >> beta": (dict(beta=10.0, gamma=1e4), {}),
}


@pytest.mark.skipif(not available("numba"), reason="numba not installed")
@pytest.mark.parametrize("name", list(CASES))
def test_numba_stiff_paths_agree_with_numpy(name):
    """Every diffusion path of the compiled step (Fourier, mean only, dense) and both firing
    kinds, in a mixed batch too (numba decides per member, numpy per batch: round-off)."""
    params, kw = CASES[name]
    steps = 300
    runs = {}
    for backend in ("numpy", "numba"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            runs[backend] = solve(
                Model(**params),
                T=steps * DT,
                N=64,
                dt=DT,
                backend=backend,
                dt_check="off",
                check_resolution=False,
                progress=False,
                n_frames=2,
                **kw,
            )
    assert not runs["numba"]["failed"].values.any()
    for k in ("u", "q", "a"):
        ref = runs["numpy"][k].values[..., -1, :]
        assert_ulp_close(
            runs["numba"][k].values[..., -1, :],
            ref,
            2 * steps,
            scale=np.max(np.abs(ref)),
            err_msg=k,
        )
