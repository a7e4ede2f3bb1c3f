"""Adaptive phase maps (``phase_diagram(sampling="adaptive")``, ``astrofield phase --adaptive``)
against the full map: verdicts, interpolated drift within its error estimate, ``sampled`` flags,
stopping rules, resume and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from astrofield.cli import main
from astrofield.experiments import adaptive as adaptive_mod
from astrofield.experiments.adaptive import AdaptiveSettings
from astrofield.experiments.phase import phase_diagram, summarize

VARY = ["D=0.01:0.6:12", "beta=0.001:0.1:12"]
KW = dict(gamma=2.0, T=100, N=32, dt=0.1, executor="serial", progress=False)
LOOSE = {"atol": 0.1, "rtol": 0.1, "start": 4}


@pytest.fixture(scope="module")
def maps():
    full = phase_diagram(VARY, **KW)
    ad = phase_diagram(VARY, sampling="adaptive", adaptive=LOOSE, **KW)
    return full, ad


def test_same_variables_as_the_full_map(maps):
    full, ad = maps
    assert set(full.data_vars) <= set(ad.data_vars)
    for k in full.data_vars:
        assert ad[k].dims == full[k].dims, k
        assert ad[k].attrs.get("units") == full[k].attrs.get("units"), k
    for k in ("sampled", "drift_interp_error", "velocity_interp_error", "sample_round"):
        assert ad[k].dims == ("D", "beta")
        assert "long_name" in ad[k].attrs and "units" in ad[k].attrs or k == "sampled"
    assert ad.attrs["sampling"] == "adaptive"
    assert summarize(ad)["points"] == 144


def test_fewer_points_same_verdicts(maps):
    full, ad = maps
    n_sim = int(ad["sampled"].sum())
    assert n_sim < int(full["exists"].sum())
    assert ad.attrs["adaptive_points_simulated"] == n_sim
    assert np.mean(ad["verdict_code"].values == full["verdict_code"].values) >= 0.99
    assert summarize(ad)["agreement"] >= summarize(full)["agreement"] - 0.01


def test_drift_within_reported_error_of_the_full_map(maps):
    full, ad = maps
    d = np.abs(ad["drift"].values - full["drift"].values)
    fin = np.isfinite(full["drift"].values)
    assert np.array_equal(fin, np.isfinite(ad["drift"].values))
    assert np.all(d[fin] <= ad["drift_interp_error"].values[fin])


def test_sampled_flags_are_consistent(maps):
    full, ad = maps
    s = ad["sampled"].values.astype(bool)
    assert not (s & ~ad["exists"].values.astype(bool)).any()  # no bump: never simulated
    for k in ("drift", "velocity", "t_final", "verdict_code"):
        np.testing.assert_array_equal(ad[k].values[s], full[k].values[s])
    assert np.all(ad["drift_interp_error"].values[s] == 0)
    assert np.all(ad["sample_round"].values[s] >= 0)
    interp = ~s & ad["exists"].values.astype(bool)
    assert np.all(ad["sample_round"].values[interp] == -1)
    assert np.all(np.isnan(ad["t_final"].values[interp]))
    assert np.all(ad["drift_interp_error"].values[interp] >= 0)
    assert ad.sizes["sample"] == s.sum()
    i, j = np.nonzero(s)
    got = sorted(zip(ad["sample_D"].values, ad["sample_beta"].values, strict=True))
    want = sorted(zip(ad["D"].values[i], ad["beta"].values[j], strict=True))
    assert got == want


def test_max_points_is_honoured():
    with pytest.warns(UserWarning, match="budget"):  # cells left without an estimate
        ds = phase_diagram(VARY, sampling="adaptive", adaptive={**LOOSE, "max_points": 20},
                           **KW)
    assert int(ds["sampled"].sum()) <= 20
    assert ds["drift"].shape == (12, 12)
    has = ds["exists"].values.astype(bool)
    assert np.all(ds["verdict_code"].values[has] >= 0)  # every cell with a bump has a verdict
    assert np.all(np.isfinite(ds["drift"].values[has]))


def test_one_axis_and_settings_checked():
    ds = phase_diagram(["beta=0.001:0.1:9"], D=0.3, sampling="adaptive",
                       adaptive={"start": 4}, **KW)
    assert ds["drift"].dims == ("beta",) and ds.sizes["beta"] == 9
    assert int(ds["sampled"].sum()) >= 3
    with pytest.raises(ValueError, match="sampling"):
        phase_diagram(VARY, sampling="random", **KW)
    with pytest.raises(ValueError, match="atol"):
        AdaptiveSettings(atol=0.0, rtol=0.0)
    with pytest.raises(ValueError, match="max_points"):
        phase_diagram(VARY, sampling="adaptive", adaptive={"max_points": 0}, **KW)


def test_kill_and_resume_reuses_the_rounds(tmp_path, monkeypatch, maps):
    store = tmp_path / "map.nc"
    real = adaptive_mod._Rounds.__call__
    calls = []

    def crash(self, k, flat):
        calls.append(k)
        if k == 1 and len(calls) == 2:  # killed before the second (last) round
            raise KeyboardInterrupt
        return real(self, k, flat)

    monkeypatch.setattr(adaptive_mod._Rounds, "__call__", crash)
    with pytest.raises(KeyboardInterrupt):
        phase_diagram(VARY, sampling="adaptive", adaptive=LOOSE, store=store, **KW)
    rounds = tmp_path / "map.nc.adaptive"
    assert (rounds / "round-000.nc").exists() and not (rounds / "round-001.nc").exists()
    with pytest.raises(FileExistsError, match="resume"):
        phase_diagram(VARY, sampling="adaptive", adaptive=LOOSE, store=store, **KW)
    seen = []
    real_sweep = adaptive_mod.run_sweep

    def spy(func, grid, store=None, **kw):
        if store is not None:  # the rounds (the analytic columns run without a store)
            seen.append((store.name, store.exists()))
        return real_sweep(func, grid, store=store, **kw)

    monkeypatch.setattr(adaptive_mod, "run_sweep", spy)
    monkeypatch.setattr(adaptive_mod._Rounds, "__call__", real)
    ds = phase_diagram(VARY, sampling="adaptive", adaptive=LOOSE, store=store, resume=True, **KW)
    np.testing.assert_array_equal(ds["drift"].values, maps[1]["drift"].values)
    np.testing.assert_array_equal(ds["sampled"].values, maps[1]["sampled"].values)
    assert seen[:2] == [("round-000.nc", True), ("round-001.nc", False)]
    assert not rounds.exists() and store.exists()
    again = phase_diagram(VARY, sampling="adaptive", adaptive=LOOSE, store=store, resume=True,
                          **KW)
    assert again.attrs["adaptive_fingerprint"] == ds.attrs["adaptive_fingerprint"]


def test_cli_adaptive(tmp_path):
    out = tmp_path / "map.nc"
    with pytest.warns(adaptive_mod.BudgetWarning):
        res = CliRunner().invoke(main, [
            "phase", "--vary", "D=0.05:0.6:6", "--vary", "beta=0.005:0.08:6", "--gamma", "2",
            "--T", "100", "--N", "32", "--dt", "0.1", "--scheduler", "serial", "--adaptive",
            "--max-points", "30", "--atol", "0.1", "-o", str(out), "--summary-json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["sampling"] == "adaptive" and obj["points_simulated"] <= 30
    ds = xr.open_dataset(out, engine="h5netcdf").load()
    assert ds["sampled"].dims == ("D", "beta")
    assert int(ds["sampled"].sum()) == obj["points_simulated"]
    assert obj["cells_unestimated"] == int(ds.attrs["adaptive_cells_unestimated"]) == int(
        np.sum(ds["exists"].values.astype(bool) & ~ds["sampled"].values.astype(bool)
               & np.isnan(ds["drift_interp_error"].values)))
    assert obj["cells_unestimated"] > 0  # this budget ends the refinement early
    from test_cf_outputs import _check_file

    _check_file(out)  # units, long names, flags: the CF rules of every output file


def test_cli_shows_a_budget_warning_as_one_plain_line(capsys):
    from astrofield.cli import _show_notice

    _show_notice(adaptive_mod.BudgetWarning("the budget ended it"), adaptive_mod.BudgetWarning,
                 "adaptive.py", 1)
    assert capsys.readouterr().err == "astrofield: warning: the budget ended it\n"


def test_any_executor_gives_the_same_map(maps):
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(2) as ex:
        ds = phase_diagram(VARY, sampling="adaptive", adaptive=LOOSE, **{**KW, "executor": ex})
    np.testing.assert_array_equal(ds["drift"].values, maps[1]["drift"].values)
    np.testing.assert_array_equal(ds["sampled"].values, maps[1]["sampled"].values)


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_map(maps):
    ds = phase_diagram(VARY, sampling="adaptive", adaptive=LOOSE,
                       **{**KW, "executor": "local", "workers": 2})
    np.testing.assert_array_equal(ds["drift"].values, maps[1]["drift"].values)
    assert ds.attrs["sweep_executor"] == "dask"


def test_boundary_tolerance_stops_splitting_at_the_boundary(maps):
    ds = phase_diagram(VARY, sampling="adaptive", adaptive={**LOOSE, "boundary_tol": 0.4},
                       **KW)
    assert int(ds["sampled"].sum()) < int(maps[1]["sampled"].sum())
    has = ds["exists"].values.astype(bool)
    assert np.all(ds["verdict_code"].values[has] >= 0)
    err = ds["drift_interp_error"].values[has]
    assert np.all(np.isfinite(err)) and np.all(err >= 0)
    assert np.mean(ds["verdict_code"].values == maps[0]["verdict_code"].values) >= 0.8


# ----------------------------------------------------------------------------- the refinement
# on known functions (no simulation): the refinement and interpolation of
# astrofield.experiments.adaptive, driven by a synthetic "simulation" of a drift field given in
# closed form, so every cell's interpolation error is known exactly.
def _synthetic_map(f, n=33, cfg=None, kind=None, code=0, watched=False, values=None):
    """Refine and interpolate the drift field ``f(x, y)`` (x, y in [0, 1]) on an n x n grid
    (every cell stable, Evans stable, no own error; ``kind``: the cells' ``decided_early``,
    how their runs ended, or with ``watched`` their ``settled_kind``, how runs to ``T`` would
    have been decided, beside ``decided_early`` -1 everywhere, as a map without early
    decisions has them); ``(interpolated, estimate, truth, sampled)``."""
    x = np.linspace(0.0, 1.0, n)
    truth = f(x[:, None], x[None, :]) * np.ones((n, n))
    extra = ({} if kind is None else {"decided_early": kind} if not watched else
             {"settled_kind": kind, "decided_early": np.full_like(kind, -1)})
    extra.update(values or {})  # more per-cell results of the "runs", (n, n) each
    an = {"exists": np.ones(n * n, bool), "evans_stable": np.ones(n * n, bool),
          "evans_dprime": np.full(n * n, 0.3)}
    st = adaptive_mod._State((n, n), an)

    def run_round(k, flat):
        zero = np.zeros(flat.size)
        ds = xr.Dataset({"drift": ("index", truth.reshape(-1)[flat]),
                         "verdict_code": ("index", np.full(flat.size, code, np.int8)),
                         **{q: ("index", zero) for q in ("velocity", "width", "growth",
                                                         "persist", "mass_drift",
                                                         "drift_bound", "drift_error")},
                         **{q: ("index", v.reshape(-1)[flat]) for q, v in extra.items()}})
        return flat, ds

    cfg = cfg or AdaptiveSettings(atol=0.01, rtol=0.0)
    leaves = adaptive_mod._refine(st, cfg, run_round, 0.0, lambda m: None)
    out, err, _ = adaptive_mod._interpolate(st, leaves)
    if values:
        return out, err, truth, st.sampled
    return out["drift"], err["drift"], truth, st.sampled


@pytest.mark.parametrize("f", [
    lambda x, y: np.sin(6 * x) + 0.1 * y,              # steep along the first axis only
    lambda x, y: 0.1 * x + np.tanh(8 * (y - 0.4)),     # along the second only
    lambda x, y: np.sin(5 * x) * np.cos(4 * y),        # along both
    lambda x, y: np.abs(x + y - 0.9),                  # a kink across the diagonal
])
def test_every_cell_within_its_estimate_of_a_known_field(f):
    got, est, truth, sampled = _synthetic_map(f)
    assert np.all(np.abs(got - truth) <= est + 1e-12)
    assert np.all(est[~sampled] <= 0.01 + 1e-12)  # accepted blocks meet the tolerance
    assert sampled.sum() < sampled.size


def _wandering(n=33):
    """A linear drift field whose rows 1-3 (runs to ``T`` undecided, like the bumps that
    wander at the smallest ``D`` of the map of issue 23) drift backwards, and whose row 6
    has a dip: rows 0, 4 and 8, where the first split samples, lie on the line, so the
    held-out check of the first blocks sees no error at all."""
    def f(x, y):
        out = 10.0 + 4.0 * x + y
        return np.where((x > 0.01) & (x < 0.1), -1.0, out) - 3.0 * np.isclose(x, 6 / (n - 1))

    kind = np.ones((n, n), np.int8)
    kind[:4] = -1
    return f, kind


def test_blocks_between_runs_that_ended_differently_are_checked(monkeypatch):
    f, kind = _wandering()
    cfg = AdaptiveSettings(atol=0.05, rtol=0.05)
    got, est, truth, sampled = _synthetic_map(f, cfg=cfg, kind=kind)
    assert np.all(np.abs(got - truth) <= est + 1e-12)
    assert sampled[1:4].all()  # the wandering rows are simulated, not interpolated
    # without the check of step 4 for such blocks, the backward rows are interpolated from
    # rows 0 and 4 and reported with an estimate of 0
    monkeypatch.setattr(adaptive_mod, "_regimes_differ", lambda st, corners: False)
    got, est, truth, sampled = _synthetic_map(f, cfg=cfg, kind=kind)
    assert np.any(np.abs(got - truth) > est + 1e-12)


def test_siblings_of_a_block_whose_check_failed_are_checked_too(monkeypatch):
    f, kind = _wandering()
    cfg = AdaptiveSettings(atol=0.05, rtol=0.05)
    got, est, truth, sampled = _synthetic_map(f, cfg=cfg, kind=kind)
    assert np.all(np.abs(got - truth) <= est + 1e-12)
    assert sampled[6].any()  # the dip, found by the sibling's check of rows 4-8
    # the rows 4-8 block's runs ended alike and its estimate from the first split is 0: only
    # the failed check of its sibling (rows 0-4) sends it back to be checked
    monkeypatch.setattr(adaptive_mod, "_recheck_doubted", lambda leaves, active: leaves)
    got, est, truth, sampled = _synthetic_map(f, cfg=cfg, kind=kind)
    assert np.any(np.abs(got - truth) > est + 1e-12)


def test_blocks_with_wandering_bumps_are_split_even_when_their_centre_checks(monkeypatch):
    n = 33

    def f(x, y):  # rows 1 and 3 wander off the line; row 2, the block's centre, is on it
        out = 10.0 + 4.0 * x + y
        return np.where(np.isclose(x, 1 / (n - 1)) | np.isclose(x, 3 / (n - 1)), -1.0, out)

    kind = np.ones((n, n), np.int8)
    kind[:4] = -1  # unstable and undecided at T: wandering
    cfg = AdaptiveSettings(atol=0.05, rtol=0.05)
    got, est, truth, sampled = _synthetic_map(f, cfg=cfg, kind=kind, code=1)
    assert np.all(np.abs(got - truth) <= est + 1e-12)
    assert sampled[1:4].all()
    monkeypatch.setattr(adaptive_mod, "_wanders", lambda st, corners: False)
    got, est, truth, sampled = _synthetic_map(f, cfg=cfg, kind=kind, code=1)
    assert np.any(np.abs(got - truth) > est + 1e-12)


def test_blocks_of_unsettled_bumps_are_split_to_the_grid(monkeypatch):
    n = 33

    def f(x, y):  # rows 0-8 swing from 3 to -1.5 with the inflection at row 4, the first
        # split's held-out row: it lies on the line of rows 0 and 8
        s = (x - 4 / (n - 1)) / (2 / (n - 1))
        swing = 0.75 - 2.25 * np.tanh(s)
        return np.where(x <= 8 / (n - 1) + 1e-9, swing, 10.0 + 4.0 * x) + 0.0 * y

    kind = np.ones((n, n), np.int8)
    kind[:9] = -1  # unstable and undecided at T; the rest of the map decided early
    cfg = AdaptiveSettings(atol=0.3, rtol=0.3)
    got, est, truth, sampled = _synthetic_map(f, cfg=cfg, kind=kind, code=1)
    assert np.all(np.abs(got - truth) <= est + 1e-12)
    assert sampled[:9].all()
    monkeypatch.setattr(adaptive_mod, "_unsettled", lambda st, corners: False)
    got, est, truth, sampled = _synthetic_map(f, cfg=cfg, kind=kind, code=1)
    assert np.any(np.abs(got - truth) > est + 1e-12)


@pytest.mark.parametrize("rule", ["_unsettled", "_wanders"])
def test_without_early_decisions_the_rules_read_how_runs_settled(monkeypatch, rule):
    """A map without early decisions (every run to T) gives the rules ``settled_kind``: the
    wandering rows are found as on a map with early decisions; without it (only
    ``decided_early``, -1 everywhere) some cell lies outside its estimate."""
    if rule == "_unsettled":
        n = 33

        def f(x, y):
            s = (x - 4 / (n - 1)) / (2 / (n - 1))
            return np.where(x <= 8 / (n - 1) + 1e-9, 0.75 - 2.25 * np.tanh(s),
                            10.0 + 4.0 * x) + 0.0 * y

        kind = np.ones((n, n), np.int8)
        kind[:9] = -1
        cfg = AdaptiveSettings(atol=0.3, rtol=0.3)
    else:  # rows 1 and 3 wander off the line; row 2, their block's centre, is on it
        n = 33

        def f(x, y):
            out = 10.0 + 4.0 * x + y
            return np.where(np.isclose(x, 1 / (n - 1)) | np.isclose(x, 3 / (n - 1)), -1.0,
                            out)

        kind = np.ones((n, n), np.int8)
        kind[:4] = -1
        cfg = AdaptiveSettings(atol=0.05, rtol=0.05)
    got, est, truth, sampled = _synthetic_map(f, cfg=cfg, kind=kind, code=1, watched=True)
    assert np.all(np.abs(got - truth) <= est + 1e-12)
    monkeypatch.setattr(adaptive_mod, "_MOTION", ("decided_early",))
    got, est, truth, sampled = _synthetic_map(f, cfg=cfg, kind=kind, code=1, watched=True)
    assert np.any(np.abs(got - truth) > est + 1e-12)


def test_map_without_early_decisions_records_how_runs_settled():
    """``early_stop=False``: the adaptive map carries ``settled_kind`` (what the rules read),
    equal to the full map's at its simulated cells, and its drift stays within its estimate."""
    kw = dict(KW, early_stop=False)
    full = phase_diagram(VARY, **kw)
    ad = phase_diagram(VARY, sampling="adaptive", adaptive=LOOSE, **kw)
    s = ad["sampled"].values.astype(bool)
    np.testing.assert_array_equal(ad["settled_kind"].values[s], full["settled_kind"].values[s])
    assert (full["settled_kind"].values >= 0).any()
    assert np.all(full["decided_early"].values == -1)
    fin = np.isfinite(full["drift"].values)
    diff = np.abs(ad["drift"].values - full["drift"].values)[fin]
    assert np.all(diff <= ad["drift_interp_error"].values[fin] + 1e-12)


@pytest.mark.parametrize("budget, matters", [(30, True), (50, True), (120, False),
                                             (200, False)])
def test_a_budget_leaves_no_cell_outside_its_estimate(monkeypatch, budget, matters):
    """``max_points`` ends the refinement of the wandering field early: every cell either lies
    within its estimate or reports none (NaN: next to wandering bumps, sharing an estimate a
    sibling's undone check might have disproved, or never checked); with those blocks
    trusted instead, some cell lies outside its estimate at the smaller budgets."""
    f, kind = _wandering()
    cfg = AdaptiveSettings(atol=0.05, rtol=0.05, max_points=budget)
    got, est, truth, sampled = _synthetic_map(f, cfg=cfg, kind=kind, code=1)
    known = np.isfinite(est)
    assert np.all(np.abs(got - truth)[known] <= est[known] + 1e-12)
    assert (~known).any() and known[~sampled].any()
    if matters:
        monkeypatch.setattr(adaptive_mod, "_unknown", lambda *a: False)
        got, est, truth, sampled = _synthetic_map(f, cfg=cfg, kind=kind, code=1)
        assert np.isfinite(est).all()
        assert np.any(np.abs(got - truth) > est + 1e-12)


def test_a_budget_that_leaves_cells_unestimated_warns():
    with pytest.warns(UserWarning, match="cells could be estimated"):
        ad = phase_diagram(VARY, sampling="adaptive", adaptive={**LOOSE, "max_points": 10},
                           **KW)
    n = int(ad.attrs["adaptive_cells_unestimated"])
    err = ad["drift_interp_error"].values
    assert n == int(np.sum(ad["exists"].values.astype(bool) & ~ad["sampled"].values.astype(bool)
                           & np.isnan(err))) > 0


def test_interpolated_cells_are_resolved_only_if_their_corners_are():
    """A simulated cell the refinement ladder left unsettled is not resolved; an interpolated
    cell is resolved only if every corner of its block is (its drift error alone could pass).
    The field is linear, so the blocks stay four cells wide: rows 1-3 lie in blocks with a
    corner in row 0 (unresolved), rows 5 and beyond do not."""
    n = 33
    resolved = np.ones((n, n), bool)
    resolved[0] = False
    ladder = {"resolved": resolved, "refine_level": np.where(resolved, 1, 2).astype(np.int8)}
    out, err, truth, sampled = _synthetic_map(lambda x, y: 1.0 + x + 0.5 * y, values=ladder)
    interp = ~sampled
    assert interp[1:4].any() and not out["resolved"][1:4][interp[1:4]].any()
    assert out["resolved"][5:][interp[5:]].all()
    assert np.all(out["refine_level"][1:4][interp[1:4]] == 2)  # the largest of the corners'
    assert np.all(out["refine_level"][5:][interp[5:]] == 1)


def test_ladder_maps_keep_the_full_maps_variables():
    """``refine_levels > 1``: the adaptive map carries ``refine_level`` and ``motion_episodes``
    as the full map does, equal at its simulated cells, as is ``resolved``."""
    kw = dict(KW, refine_levels=2)
    axes = ["D=0.05:0.6:8", "beta=0.005:0.08:8"]
    full = phase_diagram(axes, **kw)
    ad = phase_diagram(axes, sampling="adaptive", adaptive={"start": 4}, **kw)
    assert set(full.data_vars) <= set(ad.data_vars)
    s = ad["sampled"].values.astype(bool)
    for name in ("refine_level", "motion_episodes", "resolved"):
        np.testing.assert_array_equal(ad[name].values[s], full[name].values[s])
        assert ad[name].attrs["long_name"] == full[name].attrs["long_name"]


def test_a_map_without_any_bump_still_records_its_scheme_and_seed():
    """theta 0.95: no cell has a bump, none is simulated; the map still carries the
    experiment's attributes (scheme, seed, version), as the full map does."""
    kw = dict(KW, theta=0.95)
    axes = ["D=0.05:0.6:5", "beta=0.05:0.08:5"]
    full = phase_diagram(axes, **kw)
    ad = phase_diagram(axes, sampling="adaptive", **kw)
    assert int(ad["sampled"].sum()) == 0 and not ad["exists"].values.any()
    for key in ("scheme", "seed", "astrofield_version", "experiment"):
        assert ad.attrs[key] == full.attrs[key]


def test_steep_along_one_axis_refines_across_that_axis_only(monkeypatch):
    def f(x, y):
        return np.sin(3 * x) + 0.1 * y

    got, est, truth, sampled = _synthetic_map(f)
    assert np.all(np.abs(got - truth) <= est + 1e-12)
    monkeypatch.setattr(adaptive_mod, "ONE_AXIS", -1.0)  # always split into four
    four = _synthetic_map(f)[3].sum()
    assert sampled.sum() < 0.6 * four


def test_cells_are_dealt_to_chunks_by_cost():
    rng = np.random.default_rng(1)
    flat = np.arange(100, 197)
    cost = np.where(np.arange(97) < 30, 10.0, 1.0) * rng.uniform(0.9, 1.1, 97)  # a dear band
    chunks = [(0, 25), (25, 49), (49, 73), (73, 97)]
    order = adaptive_mod._balanced_order(flat, cost, chunks)
    assert sorted(order) == list(flat)  # a permutation
    per = np.array([cost[order[a:b] - 100].sum() for a, b in chunks])
    naive = np.array([cost[a:b].sum() for a, b in chunks])
    # snake dealing: the chunks' costs differ by at most about one cell's
    assert per.max() - per.min() <= cost.max() < 0.2 * (naive.max() - naive.min())


def test_resume_on_another_number_of_workers(tmp_path, monkeypatch, maps):
    """A round is cut into chunks by the number of workers; resumed with another number, the
    finished rounds are read back (not recomputed) and the interrupted one continues."""
    import concurrent.futures as cf

    store = tmp_path / "map.nc"
    real = adaptive_mod._Rounds.__call__

    def crash(self, k, flat):
        if k == 1:
            raise KeyboardInterrupt
        return real(self, k, flat)

    monkeypatch.setattr(adaptive_mod._Rounds, "__call__", crash)
    with pytest.raises(KeyboardInterrupt):  # serial: one worker
        phase_diagram(VARY, sampling="adaptive", adaptive=LOOSE, store=store, **KW)
    monkeypatch.setattr(adaptive_mod._Rounds, "__call__", real)
    computed = []
    real_chunk = adaptive_mod._points_chunk

    def spy(index, **kw):
        computed.append(len(index))
        return real_chunk(index, **kw)

    monkeypatch.setattr(adaptive_mod, "_points_chunk", spy)
    with cf.ThreadPoolExecutor(3) as ex:
        ds = phase_diagram(VARY, sampling="adaptive", adaptive=LOOSE, store=store, resume=True,
                           **{**KW, "executor": ex, "workers": 3})
    np.testing.assert_array_equal(ds["drift"].values, maps[1]["drift"].values)
    first = int((maps[1]["sample_round"].values == 0).sum())
    assert sum(computed) == int(maps[1]["sampled"].sum()) - first  # round 0 read back


def test_auto_sampling_picks_adaptive_for_two_axes_of_at_least_20_cells(tmp_path):
    from astrofield.experiments.phase import AUTO_ADAPTIVE_MIN, choose_sampling
    from astrofield.experiments.sweep import make_grid

    fixed = {"theta": 0.1, "beta": 0.05, "gamma": 2.0, "D": 0.7}

    def grid(*vary):
        return make_grid(list(vary), fixed, max_dims=2)

    assert AUTO_ADAPTIVE_MIN == 20
    assert choose_sampling("auto", grid("D=0.01:0.6:20", "beta=0.001:0.1:20")) == "adaptive"
    assert choose_sampling("auto", grid("D=0.01:0.6:19", "beta=0.001:0.1:50")) == "full"
    assert choose_sampling("auto", grid("D=0.01:0.6:50", "beta=0.001:0.1:19")) == "full"
    assert choose_sampling("auto", grid("D=0.01:0.6:400")) == "full"  # one axis
    for s in ("full", "adaptive"):  # given explicitly: as given, whatever the grid
        assert choose_sampling(s, grid("D=0.01:0.6:3")) == s
        assert choose_sampling(s, grid("D=0.01:0.6:30", "beta=0.001:0.1:30")) == s
    with pytest.raises(ValueError, match=r"sampling = 'random' is not one of 'auto', 'full'"):
        choose_sampling("random", grid("D=0.01:0.6:3"))
    # resuming keeps the sampling the stored map was started with
    big = grid("D=0.01:0.6:30", "beta=0.001:0.1:30")
    store = tmp_path / "map.nc"
    assert choose_sampling("auto", big, store=store, resume=True) == "adaptive"  # nothing yet
    (tmp_path / "map.nc.parts").mkdir()
    assert choose_sampling("auto", big, store=store, resume=True) == "full"
    assert choose_sampling("auto", big, store=store, resume=False) == "adaptive"
    (tmp_path / "map.nc.parts").rmdir()
    (tmp_path / "map.nc.adaptive").mkdir()
    small = grid("D=0.01:0.6:5")
    assert choose_sampling("auto", small, store=store, resume=True) == "adaptive"
    # a budget on simulated cells or time asks for the adaptive map on any grid
    assert choose_sampling("auto", small, budget=True) == "adaptive"
    assert choose_sampling("full", small, budget=True) == "full"
    # other models: full unless a budget is given
    assert choose_sampling("auto", big, paper=False) == "full"
    assert choose_sampling("auto", big, paper=False, budget=True) == "adaptive"
    ds = phase_diagram(VARY, adaptive={"max_points": 20}, **KW)  # 12 x 12, auto
    assert ds.attrs["sampling"] == "adaptive" and int(ds["sampled"].sum()) <= 20


def test_auto_sampling_is_the_default_and_recorded(maps):
    full, ad = maps  # 12 x 12: below the adaptive threshold, so the default map is the full one
    assert full.attrs["sampling"] == "full" and full.attrs["sampling_requested"] == "auto"
    assert ad.attrs["sampling"] == "adaptive" and ad.attrs["sampling_requested"] == "adaptive"
    assert "sampled" not in full


def test_auto_finished_store_keeps_its_sampling(maps, tmp_path):
    from astrofield.experiments.phase import choose_sampling
    from astrofield.experiments.sweep import make_grid

    big = make_grid(["D=0.01:0.6:30", "beta=0.001:0.1:30"],
                    {"theta": 0.1, "beta": 0.05, "gamma": 2.0, "D": 0.7}, max_dims=2)
    for ds, kind in ((maps[0], "full"), (maps[1], "adaptive")):
        path = tmp_path / f"{kind}.nc"
        out = ds.copy()
        if kind == "adaptive":
            out.attrs["adaptive_fingerprint"] = "x"
        out.drop_vars([v for v in out.data_vars if out[v].dtype.kind == "U"]).to_netcdf(path)
        assert choose_sampling("auto", big, store=path, resume=True) == kind


def test_cli_sampling_option(tmp_path):
    args = ["phase", "--vary", "D=0.05:0.6:3", "--gamma", "2", "--T", "100", "--N", "32",
            "--dt", "0.1", "--scheduler", "serial", "--summary-json"]
    res = CliRunner().invoke(main, [*args, "--adaptive", "--sampling", "full"])
    assert res.exit_code == 2 and "--adaptive contradicts --sampling full" in res.output
    res = CliRunner().invoke(main, args)  # auto on one axis: the full map
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["sampling"] == "full"
    res = CliRunner().invoke(main, [*args, "--sampling", "adaptive"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["sampling"] == "adaptive"


def test_theory_columns_are_computed_once_per_cell(monkeypatch):
    """In this process the rounds take the Evans and Fourier columns of the cells they simulate
    from the seeding, which computed them for every cell (they were computed twice), and the
    map is the same as one whose rounds compute them afresh (a futures executor: no reuse)."""
    from astrofield.experiments import phase as ph

    points = []
    real = ph.analytic_columns

    def counted(theta, beta, gamma, D, tau=1.0):
        points.append(np.broadcast(theta, beta, gamma, D).size)
        return real(theta, beta, gamma, D, tau=tau)

    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(2) as ex:
        fresh = phase_diagram(VARY, sampling="adaptive", adaptive=LOOSE,
                              **{**KW, "executor": ex})
    monkeypatch.setattr(ph, "analytic_columns", counted)
    ds = phase_diagram(VARY, sampling="adaptive", adaptive=LOOSE, **KW)
    assert sum(points) == 144 and ds.attrs["adaptive_points_simulated"] > 0
    for k in ("evans_dprime", "evans_stable", "fourier_stable", "exists", "drift"):
        np.testing.assert_array_equal(ds[k].values, fresh[k].values)
