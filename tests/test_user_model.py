"""User-supplied firing rates and kernels: the same results as the built-ins they equal.

Independent references: a Python function that is mathematically the built-in sigmoid (or the
cosine / Gaussian kernel) must reproduce the built-in's drift and spectrum to round-off, since
the ring needs only the rate's values and the kernel's samples; derivatives are checked against
their closed forms.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import astrofield as af
from astrofield.model.firing import (
    FiringFunction,
    Sigmoid,
    ThresholdTanh,
    firing_names,
    make_firing,
    numerical_derivative,
)
from astrofield.model.kernels import KernelFunction, make_kernel
from astrofield.simulator import backends

RUN = dict(T=40.0, dt=0.05, N=64, eps=0.3, store_fields=False, progress=False)
#: Steepness 50 needs N >= 256 for its firing layer (the simulator's grid rule refuses less).
RUN_SIG = {**RUN, "N": 256}


def user_sigmoid(u):
    return 1.0 / (1.0 + np.exp(-50.0 * (u - 0.1)))


# ---------------------------------------------------------------------- kernels
def test_cosine_function_is_the_cosine_kernel():
    """A kernel given as ``lambda x: cos x`` is recognised as the cosine kernel (its Fourier
    content is one mode) and reproduces the built-in's drift (acceptance: 1e-9)."""
    k = make_kernel(lambda x: np.cos(x))
    assert isinstance(k, KernelFunction) and k.is_cosine and k.amplitude == 1.0
    ref = af.solve(af.Model(), **RUN)
    got = af.solve(af.Model(kernel=lambda x: np.cos(x)), **RUN)
    assert abs(float(got.drift) - float(ref.drift)) <= 1e-9
    assert make_kernel(lambda x: 2.5 * np.cos(x)).amplitude == pytest.approx(2.5, rel=1e-14)
    assert not make_kernel(lambda x: np.cos(x) + 0.01 * np.cos(2 * x)).is_cosine


def test_gaussian_function_equals_the_gaussian_kernel():
    """A non-cosine kernel as a function: same samples as the built-in Gaussian, same run."""
    w = 0.6
    ref = af.solve(af.Model(kernel=af.Gaussian(amplitude=2.0, width=w)), **RUN)
    fn = af.Model(kernel=lambda x: 2.0 * np.exp(-x**2 / (2 * w**2)))
    got = af.solve(fn, **RUN)
    assert abs(float(got.drift) - float(ref.drift)) <= 1e-12


@pytest.mark.parametrize("bad, match", [
    (lambda x: np.ones(3), "returned shape"),
    (lambda x: x / 0.0, "non-finite"),
    (lambda x: x.nonexistent, "failed on a numpy array"),
])
def test_bad_kernel_functions_are_refused_by_name(bad, match):
    with pytest.raises(ValueError, match=match):
        af.Model(kernel=bad)


# ---------------------------------------------------------------------- firing rates
def test_firing_registry_and_errors():
    assert {"heaviside", "sigmoid", "threshold_tanh"} <= set(firing_names())
    assert make_firing("sigmoid") == Sigmoid()
    assert af.Model(firing="sigmoid").firing.uses_steepness
    with pytest.raises(ValueError, match=r"firing = 'relu' is not one of .*function u -> f"):
        af.Model(firing="relu")
    with pytest.raises(ValueError, match="returned shape"):
        af.Model(firing=lambda u: 1.0)
    with pytest.raises(ValueError, match="non-finite"):
        af.Model(firing=lambda u: np.log(u))


def test_sigmoid_derivative_closed_form_and_numerical():
    """``f' = s f (1 - f)`` against Ridders' differences, and a user function's numerical
    derivative against that closed form (relative 1e-9)."""
    u = np.linspace(-0.5, 0.7, 301)
    exact = Sigmoid().derivative(u, 0.1, 50.0)
    h = 1e-6
    fd = (Sigmoid().rate(u + h, 0.1, 50.0) - Sigmoid().rate(u - h, 0.1, 50.0)) / (2 * h)
    np.testing.assert_allclose(exact, fd, rtol=0, atol=1e-7 * exact.max())
    num, err = numerical_derivative(user_sigmoid, u)
    np.testing.assert_allclose(num, exact, rtol=0, atol=1e-9 * exact.max())
    assert np.all(err < 1e-8 * exact.max())
    np.testing.assert_allclose(FiringFunction(user_sigmoid).derivative(u), exact, rtol=0,
                               atol=1e-9 * exact.max())


def test_threshold_tanh_derivative():
    u = np.array([-0.2, 0.05, 0.12, 0.3, 0.8])
    tt = ThresholdTanh()
    want = np.where(u > 0.1, 4.0 / np.cosh(4.0 * (u - 0.1)) ** 2, 0.0)
    np.testing.assert_allclose(tt.derivative(u, 0.1, 4.0), want, rtol=1e-13, atol=0)
    assert tt.numba_function() is not None


def test_user_sigmoid_equals_builtin_on_every_backend():
    """Acceptance: the same drift (1e-9) as the built-in sigmoid, on the compiled loop (the
    user's function compiled) and on the numpy reference."""
    ref = af.solve(af.Model(firing="sigmoid", steepness=50.0, theta=0.1), **RUN_SIG)
    for backend in ("numba", "numpy"):
        got = af.solve(af.Model(firing=user_sigmoid), backend=backend, **RUN_SIG)
        assert got.attrs["backend"] == backend
        assert abs(float(got.drift) - float(ref.drift)) <= 1e-9
    assert got.attrs["firing"] == "function user_sigmoid"


def test_user_sigmoid_spectrum_equals_builtin():
    """Acceptance: the leading eigenvalues of the linearisation agree to 1e-6."""
    sp_ref = af.theory.spectra.spectrum(model=af.Model(firing="sigmoid", steepness=20.0, D=0.3),
                                        N=64)
    f20 = FiringFunction(lambda u: 1.0 / (1.0 + np.exp(-20.0 * (u - 0.1))))
    sp = af.theory.spectra.spectrum(model=af.Model(firing=f20, D=0.3), N=64)
    n = 4
    np.testing.assert_allclose(sp.eigenvalues[:n], sp_ref.eigenvalues[:n], rtol=0, atol=1e-6)
    assert sp.stable == sp_ref.stable


def test_uncompilable_user_function_runs_on_numpy_with_a_notice():
    clipped = af.Model(firing=lambda u: np.clip(3.0 * (u - 0.1), 0.0, 1.0))
    with pytest.warns(backends.BackendNotice, match="running on the numpy backend"):
        ds = af.solve(clipped, **RUN)
    assert ds.attrs["backend"] == "numpy" and np.isfinite(float(ds.drift))
    with pytest.raises(ValueError, match=r"backend = 'numba' cannot run this firing rate: "
                                         r"numba cannot compile '<lambda>'"):
        af.solve(clipped, backend="numba", **RUN)


# ---------------------------------------------------------------------- backends
class _Recorder(backends.Backend):
    """A third-party backend: delegates to the numpy reference and records the call."""

    name = "recorder"
    features = backends.FEATURES
    calls = 0

    def integrate(self, run):
        type(self).calls += 1
        backends.get("numpy").integrate(run)


def test_third_party_backend_registers_and_runs():
    backends.register(_Recorder(), replace=True)
    try:
        assert "recorder" in backends.names()
        ds = af.solve(af.Model(), backend="recorder", **RUN)
        ref = af.solve(af.Model(), backend="numpy", **RUN)
        # two calls: the run and its resolution companion at (N/2, 2 dt), same backend
        assert _Recorder.calls == 2 and ds.attrs["backend"] == "recorder"
        assert float(ds.drift) == float(ref.drift)
        with pytest.raises(ValueError, match="already registered"):
            backends.register(_Recorder())
    finally:
        backends._REGISTRY.pop("recorder", None)


def test_backend_declares_unknown_feature():
    class Bad(backends.Backend):
        name = "bad"
        features = frozenset({"teleport"})

    with pytest.raises(ValueError, match="unknown features"):
        backends.register(Bad())


def test_jax_refuses_an_untraceable_firing_by_reason():
    pytest.importorskip("jax")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="JAX cannot trace firing = function user_sigmoid"):
            af.solve(af.Model(firing=user_sigmoid), backend="jax", **RUN_SIG)


def test_naka_rushton_builtin_everywhere():
    """The built-in added as one class: closed-form derivative against Ridders' differences,
    the compiled and numpy runs agree, and the CLI accepts the name."""
    from click.testing import CliRunner

    from astrofield.cli import main
    from astrofield.model.firing import NakaRushton

    u = np.linspace(-0.3, 0.9, 25) + 0.013  # off the threshold, where f'' jumps
    nr = NakaRushton()
    num, _ = numerical_derivative(lambda v: nr.rate(v, 0.1, 5.0), u)
    np.testing.assert_allclose(nr.derivative(u, 0.1, 5.0), num, rtol=0, atol=1e-10)
    half = nr.rate(np.array([0.1 + 1 / 5.0]), 0.1, 5.0)[0]
    assert half == pytest.approx(0.5, rel=1e-15)  # half-saturation at theta + 1/s
    m = af.Model(firing="naka_rushton", steepness=5.0)
    fast = af.solve(m, backend="numba", **RUN)
    ref = af.solve(m, backend="numpy", **RUN)
    assert abs(float(fast.drift) - float(ref.drift)) <= 1e-10
    res = CliRunner().invoke(main, ["run", "--firing", "naka_rushton", "--steepness", "5",
                                    "--N", "64", "--T", "2", "--dt", "0.05", "-q", "--json"])
    assert res.exit_code == 0, res.output


def test_user_firing_pickles_and_maps_numerically():
    """A user rate travels to worker processes (pickled without its compiled form) and gives
    the same numerical stability map there as in this process."""
    import pickle

    from astrofield.theory.spectra import numerical_stability_grid

    f = FiringFunction(user_sigmoid)
    assert f.numba_function() is not None
    g = pickle.loads(pickle.dumps(f))
    assert g.numba_function() is not None
    np.testing.assert_array_equal(g.rate(np.linspace(0, 0.2, 5)), f.rate(np.linspace(0, 0.2, 5)))
    models = [af.Model(firing=f, D=0.3, beta=b) for b in (0.01, 0.05)]
    here = numerical_stability_grid(models, N=64)
    there = numerical_stability_grid(models, N=64, workers=2)
    assert [r["stable"] for r in here] == [r["stable"] for r in there]
    ref = numerical_stability_grid([af.Model(firing="sigmoid", D=0.3, beta=b)
                                    for b in (0.01, 0.05)], N=64)
    assert [r["stable"] for r in here] == [r["stable"] for r in ref]
