"""The compiled time loop (backend ``numba``) reproduces the numpy reference step.

The numpy backend (one vectorised :meth:`Simulator.step` per step) is the independent reference:
the compiled loop is a separate implementation of the same arithmetic (its own Fourier
multipliers and transforms, direct sums over small active sets, member-by-member loops), so
agreement to round-off over hundreds of steps checks both. Every configuration the compiled loop
supports is covered.
"""

from __future__ import annotations

import numpy as np
import pytest

from astrofield import Gaussian, Model
from astrofield.model.noise import Noise
from astrofield.model.stimulus import Pulse
from astrofield.simulator import backends
from astrofield.simulator import compiled as _accel
from astrofield.simulator.integrator import solve

pytestmark = pytest.mark.skipif(not _accel.HAVE_NUMBA, reason="numba not installed")

FIG7 = dict(theta=0.1, beta=0.05, gamma=2.0)
# backend agreement, not accuracy: coarse sigmoid grids allowed (no grid rules, no companion)
KW = dict(T=10.0, dt=0.05, N=64, eps=0.3, progress=False, n_frames=11, check_resolution=False)


def _both(model, **kw):
    opts = {**KW, **kw}
    ref = solve(model, backend="numpy", **opts)
    fast = solve(model, backend="numba", **opts)
    assert fast.attrs["backend"] == "numba" and ref.attrs["backend"] == "numpy"
    return ref, fast


def _agree(ref, fast, tol=1e-12, fields=True):
    names = ["drift", "velocity_final", "width_final", "mass_drift", "position", "velocity",
             "width", "mass"] + (["u", "q", "a"] if fields else [])
    for k in names:
        np.testing.assert_allclose(fast[k].values, ref[k].values, rtol=0, atol=tol, err_msg=k)
    assert np.all(np.isfinite(fast["drift"].values))


@pytest.mark.parametrize("case", [
    dict(),                                              # cosine kernel, Heaviside, sub-grid
    dict(quadrature="grid"),                             # plain nodal Heaviside sampling
    dict(model=dict(firing="sigmoid", steepness=30.0)),  # smooth firing
    dict(model=dict(kernel=Gaussian(amplitude=1.5, width=0.8))),  # FFT-kernel path
    dict(N=32, model=dict(kernel=Gaussian(amplitude=1.5, width=0.8))),  # direct sums only
    dict(N=128, model=dict(kernel=Gaussian(amplitude=1.5, width=0.8))),  # transforms only
    dict(model=dict(kernel=Gaussian(amplitude=1.5, width=0.8), firing="sigmoid")),
    dict(model=dict(D=np.inf)),                          # well-mixed astrocytes
])
def test_numba_matches_numpy(case):
    case = dict(case)
    m = Model(**{**FIG7, "D": 0.7, **case.pop("model", {})})
    _agree(*_both(m, **case))


def test_total_resource_conserved_over_long_compiled_run():
    """``∫ (q + a) dx`` summed from the returned fields stays 2 pi to round-off over 10^4
    compiled steps, for slow to fast finite diffusion (an independent check that the mean-mode
    multipliers of the diffusion products are exactly 1, 1 and 1/2)."""
    D = np.array([1e-3, 0.3, 30.0])
    m = Model(theta=0.1, beta=0.05, gamma=2.0, D=D)
    ds = solve(m, T=500.0, dt=0.05, N=64, eps=0.3, progress=False, n_frames=21,
               backend="numba")
    dx = 2 * np.pi / 64
    total = (ds["q"].values + ds["a"].values).sum(axis=-1) * dx  # (member, frame)
    assert not ds["failed"].values.any()
    np.testing.assert_allclose(total, 2 * np.pi, rtol=1e-12, atol=0)
    assert np.ptp(ds["a"].values[1, -1]) > 1e-6  # finite D: a is not uniform (modes k > 0 live)


def test_batched_heterogeneous_parameters():
    m = Model(theta=0.1, beta=np.array([0.02, 0.05, 0.08]), gamma=2.0,
              D=np.array([0.01, 0.7, np.inf]))
    _agree(*_both(m))


def test_heterogeneous_D_field():
    m = Model(**FIG7, D=0.5)
    _agree(*_both(m, D_field=lambda x: 0.2 + 0.5 * (1 + np.cos(x))))


def test_pulse_stimulus_and_noise():
    m = Model(**FIG7, D=0.7)
    stim = [Pulse(position=1.0, width=0.3, amplitude=0.5, t_on=2.0, t_off=4.0)]
    _agree(*_both(m, stimulus=stim, noise=Noise(0.02, 0.5, seed=3)), tol=1e-11)


def test_stop_rule_same_decisions():
    m = Model(theta=0.1, beta=np.array([0.02, 0.09]), gamma=2.0, D=np.array([0.7, 0.001]))

    def rule(t, drift, velocity, width, members):
        return np.abs(drift) > 0.2

    ref, fast = _both(m, T=100.0, store_fields=False, stop_rule=rule, stop_every=5.0)
    # decision times: the same Python schedule of checks, the drifts 1e-12 apart (a decision)
    np.testing.assert_array_equal(fast.t_final.values, ref.t_final.values)
    assert fast.t_final.values[1] < 100.0
    _agree(ref, fast, fields=False)


def test_non_finite_member_is_frozen_and_reported():
    m = Model(theta=0.1, beta=np.array([0.05, 0.05]), gamma=2.0, D=np.array([0.7, 0.7]))

    def blowup(x, t):  # infinite input to member 0 from t = 1
        out = np.zeros((2, x.size))
        out[0] = np.inf if t >= 1.0 else 0.0
        return out

    for backend in ("numpy", "numba"):
        ds = solve(m, **KW, stimulus=blowup, backend=backend)
        assert ds.failed.values.tolist() == [True, False]
        assert ds.t_failed.values[0] == pytest.approx(1.0, abs=0.051)
        assert np.isnan(ds.t_failed.values[1])
        assert np.isnan(ds.drift.values[0]) and np.isfinite(ds.drift.values[1])
        late = ds.time.values >= ds.t_failed.values[0]
        assert np.all(np.isnan(ds.u.values[0, late])) and np.all(np.isfinite(ds.u.values[1]))
        assert ds.failed.attrs["long_name"] and ds.t_failed.attrs["units"]
        alone = solve(Model(**FIG7, D=0.7), **KW, backend=backend)
        np.testing.assert_allclose(ds.drift.values[1], float(alone.drift), rtol=0, atol=1e-12)


def test_many_mixed_members_with_a_failure():
    """Many members with uniform finite and infinite ``D`` mixed, spread over the threads, one
    member blowing up mid-run while the others go on: every member matches the numpy
    reference, and a member's result does not depend on the others (it equals the member run
    alone, up to the round-off of the vectorised initial bump)."""
    B = 19
    D = np.where(np.arange(B) % 5 == 3, np.inf, np.linspace(0.05, 0.9, B))
    m = Model(theta=0.1, beta=np.linspace(0.02, 0.08, B), gamma=2.0, D=D)

    def blowup(x, t):  # infinite input to member 9 from t = 2
        out = np.zeros((B, x.size))
        out[9] = np.inf if t >= 2.0 else 0.0
        return out

    ref, fast = _both(m, stimulus=blowup)
    assert fast.failed.values.tolist() == [i == 9 for i in range(B)]
    keep = np.arange(B) != 9
    for k in ("drift", "velocity_final", "width_final", "mass_drift"):
        np.testing.assert_allclose(fast[k].values[keep], ref[k].values[keep], rtol=0,
                                   atol=1e-12, err_msg=k)
    alone = solve(Model(theta=0.1, beta=float(m.beta[4]), gamma=2.0, D=float(D[4])), **KW,
                  backend="numba")
    np.testing.assert_allclose(float(fast.drift.values[4]), float(alone.drift), rtol=0,
                               atol=1e-13)  # initial bumps are computed vectorised: ulp apart


def test_default_backend_and_errors(monkeypatch):
    assert backends.choose(None) == "numba"
    assert backends.choose(None, trackers=True) == "numpy"
    monkeypatch.setenv("ASTROFIELD_BACKEND", "numpy")
    assert backends.choose(None) == "numpy"
    with pytest.raises(ValueError, match="backend = 'fortran' is not one of"):
        solve(Model(), T=1.0, backend="fortran")


def test_numba_backend_needs_rocket_fft(monkeypatch):
    """Without rocket-fft the compiled loop cannot be imported: the default falls back to
    numpy and asking for numba says what is missing."""
    find_spec = backends.importlib.util.find_spec
    monkeypatch.setattr(backends.importlib.util, "find_spec",
                        lambda name, *a: None if name == "rocket_fft" else find_spec(name, *a))
    assert not backends.available("numba")
    assert backends.choose(None) == "numpy"
    with pytest.raises(ValueError, match="numba.*not available here.*rocket-fft"):
        backends.choose("numba")


def test_borrowed_array_is_the_same_memory():
    """``_borrow`` (the step loop's arrays without a reference count) reads and writes the
    owner's data with the owner's shape and strides, also through views of views."""
    from numba import njit

    from astrofield.simulator.backends.numba_loop import _borrow

    @njit
    def touch(a):
        v = _borrow(a)
        row = v[1]
        row[:] = -1.0
        v[2, 1:3] = 5.0
        s = 0.0
        for j in range(v.shape[1]):
            s += v[0, j]
        return s, v.shape[0], v.shape[1], v.strides[0]

    a = np.arange(12.0).reshape(3, 4)
    s, n0, n1, stride = touch(a)
    assert (s, n0, n1, stride) == (0.0 + 1.0 + 2.0 + 3.0, 3, 4, a.strides[0])
    np.testing.assert_array_equal(a[1], -1.0)
    np.testing.assert_array_equal(a[2], [8.0, 5.0, 5.0, 11.0])
    np.testing.assert_array_equal(a[0], [0.0, 1.0, 2.0, 3.0])


def test_serial_and_parallel_loops_give_identical_numbers(monkeypatch):
    """The in-process sweep runs the parallel chunk loop, a dask worker the serial one: the
    member arithmetic must round the same in both (no fast-math reassociation that LLVM could
    apply differently where the step is inlined), so every executor gives identical numbers."""
    from astrofield.simulator.backends import numba_backend

    B = 6
    m = Model(theta=0.1, beta=np.linspace(0.02, 0.08, B), gamma=2.0,
              D=np.array([0.05, 0.3, np.inf, 0.6, 0.1, 0.9]))
    out = {}
    for parallel in (True, False):
        monkeypatch.setattr(numba_backend, "_parallel", lambda B, p=parallel: p)
        out[parallel] = solve(m, **KW, backend="numba")
    for k in ("drift", "velocity_final", "width_final", "mass_drift", "u", "q", "a"):
        np.testing.assert_array_equal(out[True][k].values, out[False][k].values, err_msg=k)
