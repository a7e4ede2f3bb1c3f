"""Drift-experiment phase diagrams: verdict rule, early decisions, no-bump points, Evans check."""

from __future__ import annotations

import numpy as np
import pytest

from astrofield.experiments.phase import (
    EarlyStop,
    VerdictRule,
    drift_experiment,
    extrapolate_to_T,
    phase_diagram,
    summarize,
)

FAST = {"N": 64, "dt": 0.1}


# --------------------------------------------------------------------------- verdict rule
def test_verdict_rule_on_synthetic_traces():
    t = np.arange(0.0, 501.0)
    decay = 1e-3 * np.exp(-0.02 * t)            # relaxing bump
    grow = 1e-3 * np.exp(0.01 * t)              # accelerating bump
    travel = np.full_like(t, 5e-3)              # constant speed: motion persists
    burst = 1e-3 * (1 + 20 * np.exp(-((t - 50) / 10) ** 2))  # runs off, then stops
    slow_decay = 1e-3 * np.exp(-1e-3 * t)       # next to the boundary: not relaxed by T
    early = decay.copy()
    early[200:] = np.nan                        # decided (stopped) at t = 199
    v = np.stack([decay, grow, travel, burst, slow_decay, -grow, early])
    res = VerdictRule().classify(t, v)
    assert res["unstable"].tolist() == [False, True, True, True, True, True, False]
    assert res["persist"][0] == pytest.approx(np.exp(-0.02 * 490))
    assert res["persist"][6] == pytest.approx(np.exp(-0.02 * 189))
    assert res["growth"][1] == pytest.approx(np.exp(0.01 * 490))


def test_verdict_rule_slow_steady_travel_and_round_off_floor():
    t = np.arange(0.0, 501.0)
    kick_then_travel = 0.05 * np.exp(-t / 5) + 0.01   # large transient, small steady speed
    rng = np.random.default_rng(0)
    round_off = 10 ** rng.uniform(-10, -6.6, t.size)  # bump at rest; samples are round-off
    relaxed_to_round_off = np.maximum(1e-3 * np.exp(-0.05 * t), round_off)
    res = VerdictRule().classify(t, np.stack([kick_then_travel, round_off,
                                              relaxed_to_round_off]))
    assert res["unstable"].tolist() == [True, False, False]
    assert res["late_ratio"][0] == pytest.approx(1.0, abs=1e-6)


def test_slow_travellers_near_the_infinite_D_boundary_are_unstable():
    """Just inside the D = inf unstable region the bump travels slower than the eps = 0.05 kick;
    Evans says unstable, and so must the numerical verdict (gamma* = 1.1386 at beta = 1)."""
    ds = drift_experiment(0.1, 1.0, np.array([1.12, 1.16]), np.inf, T=500, early_stop=False,
                          **FAST)
    assert ds["evans_stable"].values.tolist() == [False, True]
    assert ds["verdict"].values.tolist() == ["unstable", "stable"]


def test_verdict_rule_validation():
    with pytest.raises(ValueError, match="growth = 1"):
        VerdictRule(growth=1.0)
    with pytest.raises(ValueError, match="t_ref = -1"):
        VerdictRule(t_ref=-1)


def test_early_stop_rule_follows_members():
    rule = EarlyStop(T=500, N=128)
    z = np.zeros(5)
    speed = [  # v(t) of each member
        lambda t: 1e-3,  # 0: steady at v_ref: the persist criterion holds, decided at t = 80
        lambda t: 5e-3,  # 1: travels at 5 v_ref, decided once seven mean speeds agree (t = 80)
        # 2: halves every 10 time units below 20 % of v_ref; remaining motion |v| / mu at
        # t = 50 is 7e-5 rad < a tenth of a cell (4.9e-3 rad): decided then
        lambda t: 1e-3 if t <= 10 else 4e-5 * 0.5 ** ((t - 20) / 10),
        lambda t: 1e-7 * (-1) ** round(t / 10),  # 3: oscillates through zero: never decided
        lambda t: 1e-3 * (1 + (t - 10) / 100),  # 4: accelerates: drift at T unpredictable
    ]
    drift = [lambda t: 1e-3 * t, lambda t: 5e-3 * t, lambda t: 0.0, lambda t: 0.0,
             lambda t: 1e-3 * (t + (t - 10) ** 2 / 200)]
    assert not rule(5.0, z, np.full(5, 1e-3), z, np.arange(5)).any()  # before t_ref: ignored
    out = {}
    for t in np.arange(10.0, 100.0, 10.0):
        alive = np.flatnonzero(rule.decided < 0) if rule.decided is not None else np.arange(5)
        v = np.array([speed[i](t) for i in alive])
        p = np.array([drift[i](t) for i in alive])
        out[t] = dict(zip(alive.tolist(), rule(t, p, v, z[alive], alive).tolist(), strict=True))
    assert not any(out[10.0].values())  # the first call records v_ref only
    assert rule.decided.tolist() == [1, 1, 0, -1, -1]
    assert rule.t_decided[2] == 50.0 and rule.t_decided[0] == rule.t_decided[1] == 80.0
    assert rule.speed[1] == pytest.approx(5e-3, rel=1e-12)
    assert rule.speed[0] == pytest.approx(1e-3, rel=1e-12)
    assert rule.drift_bound[1] == pytest.approx(0.0, abs=1e-12)  # steady: exact
    mu = np.log(2) / 10
    assert rule.rate[2] == pytest.approx(mu)
    assert rule.drift_bound[2] == pytest.approx(5e-6 / mu, rel=1e-9)  # max(E, 2|v|/mu - E)


def test_early_stop_does_not_extrapolate_a_traveller_that_slows_down():
    """A bump that travelled (|v| >= 2 v_ref) and then decays (the small-D corner) is not
    decided relaxed, however geometric its decay looks."""
    rule = EarlyStop(T=500, N=128)
    one = np.zeros(1), np.array([0])
    rule(10.0, one[0], np.array([1e-3]), *one)
    rule(20.0, one[0], np.array([3e-3]), *one)
    for k, t in enumerate(np.arange(30.0, 300.0, 10.0)):
        assert not rule(t, one[0], np.array([1e-5 * 0.5 ** k]), *one)[0]


def test_travelling_decision_bounds_an_exponential_approach_to_steady_speed():
    """Speed c (1 - 0.9 exp(-mu t)): closed-form drift; the extrapolated drift at T is within
    the reported bound and the decision comes once the bound is below 0.2 % of the drift."""
    c, mu, T = 0.02, 0.02, 500.0
    drift = lambda t: c * t - 0.9 * c * (1 - np.exp(-mu * t)) / mu  # noqa: E731
    speed = lambda t: c * (1 - 0.9 * np.exp(-mu * t))  # noqa: E731
    rule = EarlyStop(T=T, N=128)
    for t in np.arange(10.0, T, 10.0):
        if rule(t, np.array([drift(t)]), np.array([speed(t)]), np.zeros(1), np.array([0]))[0]:
            break
    assert rule.decided[0] == 1 and rule.t_decided[0] < 400
    out = extrapolate_to_T(T, rule.t_decided, rule.drift_decided, rule.velocity_decided,
                           rule.decided, rule.speed, rule.rate)
    err = abs(out["drift"][0] - drift(T))
    assert err <= rule.drift_bound[0] <= 2 * 2e-3 * drift(T) * 1.01


def test_extrapolation_is_exact_for_steady_travel_and_exponential_relaxation():
    T, t_d = 500.0, np.array([200.0, 200.0])
    lam = 0.03
    v_d = np.array([0.02, 1e-5])
    out = extrapolate_to_T(T, t_d, np.array([4.0, 0.1]), v_d, np.array([1, 0]),
                           np.array([0.021, np.nan]), np.array([np.nan, lam]))
    # independent: travel at constant speed; integral of v_d exp(-lam s) over [0, 300]
    assert out["drift"][0] == pytest.approx(4.0 + 0.021 * 300)
    assert out["velocity"][0] == 0.021
    s = np.linspace(0, 300, 300001)
    integral = np.trapezoid(1e-5 * np.exp(-lam * s), s)
    assert out["drift"][1] == pytest.approx(0.1 + integral, rel=1e-9)
    assert out["velocity"][1] == pytest.approx(1e-5 * np.exp(-lam * 300))


# --------------------------------------------------------------------------- experiment
def test_no_bump_point_is_a_verdict_not_a_crash():
    # beta_max(theta = 0.1, gamma = 2) = 4.59: beta = 5 has no bump
    ds = drift_experiment(0.1, np.array([0.05, 5.0]), 2.0, 0.6, T=100, early_stop=False,
                          **FAST)
    assert ds["verdict"].values.tolist()[1] == "no bump"
    assert ds["verdict_code"].values[1] == -1 and not ds["exists"].values[1]
    assert np.isnan(ds["drift"].values[1]) and np.isnan(ds["evans_dprime"].values[1])
    assert ds["verdict"].values[0] in ("stable", "unstable") and ds["exists"].values[0]
    # a chunk of only no-bump points runs nothing
    only = drift_experiment(0.1, 6.0, 2.0, [0.5, np.inf], T=100, **FAST)
    assert only["verdict"].values.tolist() == ["no bump", "no bump"]


def test_numerical_verdict_matches_evans_away_from_boundary():
    # strongly unstable (small D) and clearly stable (large D, moderate beta) points;
    # D = inf (well-mixed) is stable at these beta
    D = np.array([0.005, 0.02, 0.6, 0.5, np.inf])
    beta = np.array([0.05, 0.08, 0.02, 0.002, 0.05])
    ds = drift_experiment(0.1, beta, 2.0, D, T=150, early_stop=False, **FAST)
    evans = np.where(ds["evans_stable"].values, "stable", "unstable")
    assert evans.tolist() == ["unstable", "unstable", "stable", "stable", "stable"]
    assert ds["verdict"].values.tolist() == evans.tolist()
    assert np.all(np.abs(ds["mass_drift"].values) < 1e-10)


def test_early_stop_keeps_verdicts_on_grid_across_boundary():
    """Validation of the early-decision rule: same verdicts with and without it."""
    kw = dict(theta=0.1, gamma=2.0, T=300, progress=False, chunk_size=16, **FAST)
    vary = ["D=0.02:0.6:4", "beta=0.002:0.1:4"]
    full = phase_diagram(vary, early_stop=False, **kw)
    fast = phase_diagram(vary, early_stop=True, **kw)
    assert (full["verdict"].values == fast["verdict"].values).all()
    dec = fast["decided_early"].values
    assert (dec == 1).any() and (dec == 0).any()  # both early decisions exercised
    assert (fast["t_final"].values[dec >= 0] < 300).all()
    # the grid straddles the boundary
    assert 0 < full["evans_stable"].values.sum() < full["evans_stable"].size
    s = summarize(fast)
    assert s["points"] == 16 and s["n_stable"] + s["n_unstable"] == 16
    assert s["simulated_time_fraction"] < 1.0


def test_phase_diagram_layout_and_attrs():
    ds = phase_diagram(["beta=0.01,5.0"], D=np.inf, T=100, progress=False, **FAST)
    assert ds["verdict"].dims == ("beta",)
    assert ds["verdict"].values.tolist()[1] == "no bump"
    for k in ("drift", "velocity", "width", "verdict", "evans_dprime", "fourier_stable"):
        assert k in ds
    assert ds.attrs["param_D"] == np.inf and ds.attrs["N"] == 64
    assert ds.attrs["summary_n_no_bump"] == 1
    assert "astrofield_version" in ds.attrs and "scheme" in ds.attrs


def test_phase_diagram_result_writes_with_plain_to_netcdf(tmp_path):
    # a user's own ds.to_netcdf must work: NetCDF has no boolean attributes
    ds = phase_diagram(["beta=0.01,0.02"], D=0.5, T=100, progress=False, early_stop=True,
                       **FAST)
    path = tmp_path / "map.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf") as back:
        assert back.attrs["early_stop"] == 1
        np.testing.assert_array_equal(back["verdict_code"].values, ds["verdict_code"].values)


def test_phase_diagram_rejects_bad_settings_before_work():
    with pytest.raises(ValueError, match="T = 5"):
        phase_diagram(["D=0.1,0.2"], T=5, **FAST)
    # just above t_ref the verdict would call stable points unstable: refused
    with pytest.raises(ValueError, match=r"T = 20 is outside the allowed range \[100, inf\)"):
        phase_diagram(["D=0.1,0.2"], T=20, **FAST)
    # the per-point experiment keeps its drift at short T but does not guess a verdict
    short = drift_experiment(0.1, np.array([0.05, 5.0]), 2.0, 0.6, T=20, **FAST)
    assert short["verdict"].values.tolist() == ["undecided", "no bump"]
    assert np.isfinite(short["drift"].values[0]) and summarize(short)["n_stable"] == 0
    # the step-size rule is applied to the largest beta of the grid before any work
    with pytest.raises(ValueError, match=r"dt = 0.1 is outside the allowed range \(0, 0.0758717\]"):
        phase_diagram(["beta=0.01,2.0,5.0"], D=1.0, T=100, **FAST)  # 5.0: no bump, not run
    with pytest.raises(ValueError, match="eps = 0"):
        phase_diagram(["D=0.1,0.2"], eps=0.0, **FAST)
    with pytest.raises(ValueError, match="tau"):
        phase_diagram(["tau=1,2"], **FAST)
