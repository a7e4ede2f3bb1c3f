"""Drift-experiment phase diagrams: verdict rule, early decisions, no-bump points, Evans check."""

from __future__ import annotations

import numpy as np
import pytest

from astrofield.experiments.phase import (
    EarlyStop,
    VerdictRule,
    drift_experiment,
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
    v0 = np.array([1e-3, 1e-3, 1e-3, 1e-3])
    alive = np.arange(4)
    assert not rule(10.0, 0 * v0, v0, v0, alive).any()  # first call only records v_ref
    # member 1 travels (4x), member 2 relaxed but would still move > dx/10 by T
    d = rule(20.0, 0 * v0, np.array([1e-3, 5e-3, 4e-5, 1e-3]), v0, alive)
    assert d.tolist() == [False, True, False, False]
    # remaining members 0, 2, 3: member 2 now relaxed below the resolution
    d = rule(400.0, 0 * v0[:3], np.array([9e-4, 1e-6, 2e-4]), v0[:3], np.array([0, 2, 3]))
    assert d.tolist() == [False, True, False]
    assert rule.decided.tolist() == [-1, 1, 0, -1]


# --------------------------------------------------------------------------- experiment
def test_no_bump_point_is_a_verdict_not_a_crash():
    # beta_max(theta = 0.1, gamma = 2) = 4.59: beta = 5 has no bump
    ds = drift_experiment(0.1, np.array([0.05, 5.0]), 2.0, 0.6, T=20, early_stop=False, **FAST)
    assert ds["verdict"].values.tolist()[1] == "no bump"
    assert ds["verdict_code"].values[1] == -1 and not ds["exists"].values[1]
    assert np.isnan(ds["drift"].values[1]) and np.isnan(ds["evans_dprime"].values[1])
    assert ds["verdict"].values[0] in ("stable", "unstable") and ds["exists"].values[0]
    # a chunk of only no-bump points runs nothing
    only = drift_experiment(0.1, 6.0, 2.0, [0.5, np.inf], T=20, **FAST)
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
    ds = phase_diagram(["beta=0.01,5.0"], D=np.inf, T=20, progress=False, **FAST)
    assert ds["verdict"].dims == ("beta",)
    assert ds["verdict"].values.tolist()[1] == "no bump"
    for k in ("drift", "velocity", "width", "verdict", "evans_dprime", "fourier_stable"):
        assert k in ds
    assert ds.attrs["param_D"] == np.inf and ds.attrs["N"] == 64
    assert ds.attrs["summary_n_no_bump"] == 1
    assert "astrofield_version" in ds.attrs and "scheme" in ds.attrs


def test_phase_diagram_rejects_bad_settings_before_work():
    with pytest.raises(ValueError, match="T = 5"):
        phase_diagram(["D=0.1,0.2"], T=5, **FAST)
    with pytest.raises(ValueError, match="eps = 0"):
        phase_diagram(["D=0.1,0.2"], eps=0.0, **FAST)
    with pytest.raises(ValueError, match="tau"):
        phase_diagram(["tau=1,2"], **FAST)
