"""Step-size rule: every accepted step is within the documented tolerance of a fine reference,
every other step is refused (or flagged); stiff exchange stays stable and conservative."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from astrofield.model.definition import Model
from astrofield.simulator.integrator import solve
from astrofield.simulator.step_control import (
    DRIFT_TOLERANCE,
    StepSizeWarning,
    limit_negative_a,
    max_step,
)

QUIET = dict(N=32, store_fields=False, n_frames=3, progress=False)


def _drift(model, T, dt, **kw):
    return float(solve(model, T=T, dt=dt, **QUIET, **kw)["drift"])


def _check_grid(params, T, dts, ref_factor):
    """Each dt: refused with a ValueError naming dt, or within tolerance of the reference."""
    model = Model(**params)
    dt_max = max_step(model)
    n_ref = int(np.ceil(T / (dt_max / ref_factor)))
    ref = _drift(model, T, T / n_ref)
    rel, ab = DRIFT_TOLERANCE
    accepted = 0
    for dt in dts:
        try:
            got = _drift(model, T, dt)
        except ValueError as exc:
            assert dt > dt_max and f"dt = {dt:g} is outside the allowed range" in str(exc)
            continue
        accepted += 1
        assert abs(got - ref) <= rel * abs(ref) + ab, (params, dt, got, ref)
    got = solve(model, T=T, dt="auto", **QUIET)
    assert abs(float(got["drift"]) - ref) <= rel * abs(ref) + ab
    assert abs(float(got["mass_drift"])) < 1e-12
    assert not bool(got["failed"])
    return accepted


FAST_GRID = [
    dict(),                                   # default: travelling bump
    dict(gamma=1e4),                          # stiff replenishment (NaN before the fix)
    dict(gamma=200.0, beta=5.0, D=0.7),       # moderately stiff exchange
    dict(tau=1e-2),                           # depletion rate beta / tau = 5 limits dt
]


@pytest.mark.parametrize("params", FAST_GRID)
def test_accepted_steps_are_accurate_or_refused(params):
    T = 20.0
    dts = [0.05, 0.1, 0.5, 1.0, 2.0, 20.0]
    _check_grid(params, T, dts, ref_factor=8)


@pytest.mark.slow
@pytest.mark.parametrize("params", [
    dict(gamma=2.0, beta=0.02, D=0.1), dict(tau=10.0), dict(tau=1e-3), dict(tau=1e-6),
    dict(gamma=1e4, beta=10.0), dict(gamma=10.0, beta=10.0), dict(gamma=1e4, beta=100.0),
    dict(gamma=100.0, beta=100.0), dict(gamma=1e5, beta=1.0), dict(gamma=2.0, beta=0.02, D=0.01),
    dict(firing="sigmoid", steepness=10.0),
])
def test_accepted_steps_are_accurate_or_refused_wide(params):
    _check_grid(params, 20.0, [0.002, 0.004, 0.01, 0.02, 0.05, 0.1, 0.5, 2.0, 10.0],
                ref_factor=10)


def test_coarse_step_is_refused_with_the_maximum():
    with pytest.raises(ValueError, match=r"dt = 50 is outside the allowed range \(0, 0.1\]"):
        solve(Model(), T=10000.0, dt=50.0, N=32)
    with pytest.raises(ValueError, match=r"dt = 0.02 is outside the allowed range \(0, 0.0045953"):
        solve(Model(tau=1e-3), T=200.0, dt=0.02, N=32)


def test_rule_covers_a_scheduled_beta():
    ramp = {"beta": lambda t: 0.05 + 0.5 * t}  # reaches beta = 5.05 at T = 10
    with pytest.raises(ValueError, match=r"dt = 0.05 is outside the allowed range \(0, 0.0435"):
        solve(Model(), T=10.0, dt=0.05, schedule=ramp, **QUIET)
    ds = solve(Model(), T=1.0, dt=0.05, schedule=ramp, **QUIET)  # beta <= 0.55: accepted
    assert ds.attrs["dt_rule_ok"] == 1


def test_auto_step_divides_T_and_is_recorded():
    ds = solve(Model(tau=1e-3), T=1.0, dt="auto", **QUIET)
    n = round(1.0 / ds.attrs["dt"])
    assert n * ds.attrs["dt"] == pytest.approx(1.0)
    assert ds.attrs["dt"] <= ds.attrs["dt_max"] < 1.01 * 1.0 / (n - 1)
    assert ds.attrs["dt_rule"] == "auto" and ds.attrs["dt_rule_ok"] == 1


def test_warn_mode_runs_and_flags():
    with pytest.warns(StepSizeWarning, match="dt = 0.5 exceeds"):
        ds = solve(Model(), T=1.0, dt=0.5, dt_check="warn", **QUIET)
    assert ds.attrs["dt_rule_ok"] == 0
    with pytest.raises(ValueError, match="dt_check = 'x'"):
        solve(Model(), T=1.0, dt=0.1, dt_check="x", **QUIET)
    with pytest.raises(ValueError, match="dt = 'fast'"):
        solve(Model(), T=1.0, dt="fast", **QUIET)


def test_stiff_exchange_is_stable_and_conservative_at_large_steps():
    """Far above the rule (flagged), the stiff exchange must still give finite, conserving,
    non-negative states: the rule is about accuracy, never about blow-up."""
    model = Model(gamma=np.array([2.0, 1e4, 1e6, 200.0]), beta=np.array([0.05, 0.05, 1e6, 5.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StepSizeWarning)
        ds = solve(model, T=20.0, dt=1.0, N=32, n_frames=3, progress=False, dt_check="warn")
    assert not ds["failed"].any()
    assert np.all(np.abs(ds["mass_drift"].values) < 1e-12)
    assert float(ds["a"].min()) >= 0.0
    assert 0.0 <= float(ds["q"].min()) and float(ds["q"].max()) <= 1.0 + 1e-12


def test_limiter_returns_exactly_the_overdrawn_resource():
    rng = np.random.default_rng(1)
    qi_m, qo_m = rng.uniform(0, 1, (2, 3, 8))
    qi_n, qo_n = np.minimum(qi_m + 0.3, 1.0), np.minimum(qo_m + 0.2, 1.0)
    phim = rng.uniform(0, 1, (3, 8))
    a_n = rng.uniform(-0.1, 0.1, (3, 8))
    a2, qi2, qo2 = limit_negative_a(a_n, qi_n, qo_n, qi_m, qo_m, phim)
    before = a_n + phim * qi_n + (1 - phim) * qo_n
    after = a2 + phim * qi2 + (1 - phim) * qo2
    np.testing.assert_allclose(after, before, atol=1e-15)
    np.testing.assert_array_equal(a2[a_n >= 0], a_n[a_n >= 0])
    short = a2 < 0  # not enough rise of q to give back: all of it was given back
    np.testing.assert_allclose(qi2[short], qi_m[short])
    np.testing.assert_allclose(qo2[short], qo_m[short])
    assert a2.min() >= -1e-15 or short.any()
    assert np.all(a2[~short] >= 0)


def test_stiff_exchange_runs_on_the_step_with_safeguards():
    """dt (gamma max(q + a) + beta) / tau > 1: the default backend is the numpy step (the only
    one with the stiff-exchange safeguards); a non-stiff run keeps the compiled default."""

    kw = dict(T=2.0, dt=0.05, N=32, n_frames=3, progress=False)
    stiff = solve(Model(gamma=1e4), **kw)
    assert stiff.attrs["backend"] == "numpy"
    assert not bool(stiff["failed"]) and np.isfinite(float(stiff["drift"]))
    mild = solve(Model(gamma=2.0), **kw)
    assert mild.attrs["backend"] != "numpy"
