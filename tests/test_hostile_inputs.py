"""Regression tests of the 2026-12-07 audit (issue 24): resolution checked, every option used or
refused, no crash on hostile numbers, API errors that name the parameter, value and range."""

from __future__ import annotations

import numpy as np
import pytest
from _ulp import assert_ulp_close

import astrofield as af
from astrofield.model.definition import Model
from astrofield.model.kernels import Cosine, Gaussian, MexicanHat
from astrofield.simulator.integrator import solve
from astrofield.simulator.step_control import max_step

Q = dict(store_fields=False, n_frames=2, progress=False)


def test_step_rule_covers_gamma():
    """beta 10, gamma 1e4: the old rule's 0.99 dt_max (0.0286) gave 0.159 against 0.0188."""
    m = Model(beta=10.0, gamma=1e4)
    assert max_step(m) < 0.005
    with pytest.raises(ValueError, match=r"dt = 0.0286 is outside the allowed range \(0, "):
        solve(m, T=20.0, dt=0.0286, N=32, **Q)
    with pytest.raises(ValueError, match=r"dt = 0.005 is outside the allowed range"):
        solve(Model(beta=100.0, gamma=1e4), T=50.0, dt=0.005, N=64, **Q)


def test_stiff_exchange_does_not_overflow_on_a_fine_grid():
    """beta = gamma = 1e6 at N 128: a spectral undershoot of a made the q relaxation rate
    negative (exp overflow at any dt); now a >= 0 in the rates."""
    ds = solve(Model(beta=1e6, gamma=1e6), T=0.02, dt=0.001, N=128, dt_check="off",
               check_resolution=False, **Q)
    assert not bool(ds["failed"]) and np.isfinite(float(ds["drift"]))


def test_coarse_bump_grid_is_flagged():
    with pytest.warns(af.simulator.resolution.ResolutionWarning, match="N = 16 puts"):
        ds = solve(Model(), T=2.0, dt=0.1, N=16, **Q)
    assert ds.attrs["resolved"] == 0 and not bool(ds["resolved"])
    assert solve(Model(), T=2.0, dt=0.1, N=32, **Q).attrs["resolved"] == 1


def test_default_run_unchanged_and_resolved():
    ds = solve(Model(), progress=False)
    # the default run's drift before these checks were added; not bitwise: another CPU may
    # round the 10 000 steps differently (FMA contraction, libm variants; see tests/_ulp.py)
    assert_ulp_close(float(ds["drift"]), 0.8518097972665646, 2 * 4000, scale=np.pi)
    assert ds.attrs["resolved"] == 1 and ds.attrs["resolution_check"] == "companion"


@pytest.mark.parametrize("model, needs", [
    (Model(kernel=Gaussian(width=0.001)), "the kernel needs N >= 16384"),
    (Model(firing="sigmoid", steepness=1e4), "use N >= "),
])
def test_unresolved_grid_is_refused(model, needs):
    with pytest.raises(ValueError, match=f"N = 64 is outside the allowed range .*{needs}"):
        solve(model, T=1.0, dt=0.05, N=64, **Q)


def test_position_wrapped_onto_the_ring():
    a = solve(Model(), T=1.0, dt=0.05, N=32, position=1e20, **Q)
    b = solve(Model(), T=1.0, dt=0.05, N=32, position=float((1e20 + np.pi) % (2 * np.pi) - np.pi),
              **Q)
    assert float(a["drift"]) == float(b["drift"])
    assert abs(float(a["drift"]) - float(solve(Model(), T=1.0, dt=0.05, N=32, **Q)["drift"])) < 0.01


def test_schedule_checked_between_its_nodes():
    def beta(t):  # positive at 0, T/2 and T, negative in between
        return 0.05 * np.cos(2 * np.pi * t / 5.0)

    with pytest.raises(ValueError, match=r"schedule beta\(t = .*\) = -0.0.* is outside"):
        solve(Model(), T=10.0, dt=0.1, N=32, schedule={"beta": beta}, **Q)
    with pytest.raises(ValueError, match=r"has 3 values; it must return a scalar or one value"):
        solve(Model(), T=1.0, dt=0.1, N=32, schedule={"beta": lambda t: [0.1] * 3}, **Q)


@pytest.mark.parametrize("kw, err, msg", [
    (dict(stop_every=0), ValueError, r"stop_every = 0 is outside the allowed range \(0, inf\)"),
    (dict(stop_every=-5), ValueError, r"stop_every = -5 is outside the allowed range"),
    (dict(T="10"), TypeError, r"T = '10' must be a number, not str"),
    (dict(seed=1.5), TypeError, r"seed = 1.5 must be an integer >= 0 or None"),
    (dict(init={"u": np.zeros(32), "a": np.zeros(32)}), ValueError, r"init dict has keys"),
    (dict(init=(np.zeros((3, 32)), np.ones(32), np.zeros(32))), ValueError,
     r"initial u has shape \(3, 32\); expected \(32,\) or \(1, 32\)"),
    (dict(N="many"), TypeError, r"N = 'many' must be an integer >= 16 or 'auto'"),
    (dict(position=float("nan")), ValueError, r"position = nan is outside the allowed range"),
])
def test_solve_arguments_named(kw, err, msg):
    args = dict(T=1.0, dt=0.1, N=32, **Q)
    args.update(kw)
    with pytest.raises(err, match=msg):
        solve(Model(), **args)


def test_solve_model_type():
    with pytest.raises(TypeError, match=r"model = 'abc' must be an astrofield.Model"):
        solve("abc")


def test_stop_rule_wrong_length():
    with pytest.raises(ValueError, match=r"stop_rule returned shape \(3,\) .* shape \(2,\)"):
        solve(Model(beta=[0.05, 0.06]), T=2.0, dt=0.1, N=32, stop_every=1.0,
              stop_rule=lambda t, d, v, w, m: np.zeros(3, bool), **Q)


def test_parameter_arrays_named():
    with pytest.raises(ValueError, match=r"beta has 2, gamma has 3"):
        Model(beta=[0.05, 0.06], gamma=[1.0, 2.0, 3.0])


@pytest.mark.parametrize("make, msg", [
    (lambda: Cosine(amplitude=float("nan")), r"amplitude = nan is outside the allowed range"),
    (lambda: MexicanHat(w_i=1e308), r"w_i = 1e\+308 is outside the allowed range"),
    (lambda: Gaussian(amplitude=float("inf")), r"amplitude = inf is outside"),
])
def test_kernel_parameters_by_range(make, msg):
    with pytest.raises(ValueError, match=msg):
        make()


def test_seed_field_step_refuses_nan_and_none():
    from astrofield.applications.seed import AstrocyteNeuralField

    f = AstrocyteNeuralField()
    with pytest.raises(ValueError, match="external = nan is outside"):
        f.step(float("nan"))
    with pytest.raises(TypeError, match="external = None must be a number"):
        f.step(None)
    assert np.all(np.isfinite(f.u))


def test_stability_beta_zero_is_the_amari_limit_and_gamma_boundary_at_large_beta():
    """beta = 0 is not hostile: it is the Amari limit, answered in closed form by the API (see
    test_verdicts); the CLI refuses it because its default search region would start at the
    accumulation point -(beta + gamma A0) = 0."""
    from astrofield.theory.stability import boundary, stability

    assert bool(stability(0.1, 0.0, 2.0, 0.7)["evans_stable"])
    g = float(np.ravel(boundary("gamma", theta=0.1, beta=1e6, D=0.7))[0])
    assert np.isfinite(g) and g > 1e5


def test_N_auto_picks_a_resolving_grid():
    ds = solve(Model(kernel=Gaussian(width=0.05)), T=0.2, dt=0.1, N="auto", **Q)
    assert ds.attrs["N"] >= 128 and ds.attrs["N"] % 64 == 0
