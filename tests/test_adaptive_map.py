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
    ds = phase_diagram(VARY, sampling="adaptive", adaptive={**LOOSE, "max_points": 20}, **KW)
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
    from test_cf_outputs import _check_file

    _check_file(out)  # units, long names, flags: the CF rules of every output file


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
