"""CLI: ``astrofield phase`` (summary JSON, NetCDF layout, errors, resume) and ``figure``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from astrofield.cli import main

TINY = ["--T", "20", "--N", "32", "--dt", "0.1", "--scheduler", "serial"]


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_phase_summary_json_and_netcdf(tmp_path):
    out = tmp_path / "map.nc"
    res = run("phase", "--vary", "D=0.05,0.6", "--vary", "beta=0.01,0.05,5", "--gamma", "2",
              "--theta", "0.1", *TINY, "-o", str(out), "--summary-json")
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    for k in ("points", "wall_s", "n_unstable", "agreement", "n_no_bump", "output"):
        assert k in obj
    assert obj["points"] == 6 and obj["n_no_bump"] == 2
    assert 0.0 <= obj["agreement"] <= 1.0
    ds = xr.open_dataset(out, engine="h5netcdf").load()
    for k in ("drift", "velocity", "verdict", "evans_dprime"):
        assert ds[k].dims == ("D", "beta"), k
    assert ds["verdict"].values[0, 2] == "no bump"
    assert not (tmp_path / "map.nc.parts").exists()


def test_phase_inf_and_single_axis():
    res = run("phase", "--vary", "beta=0.01,0.05", "--D", "inf", *TINY, "--summary-json")
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["dims"] == ["beta"] and obj["points"] == 2
    res = run("phase", "--vary", "D=inf", "--vary", "beta=0.05", *TINY, "--summary-json")
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("args, words", [
    (["--vary", "D=0.1:0.1:3"], ["D", "empty"]),
    (["--vary", "kappa=1,2"], ["kappa", "allowed"]),
    (["--vary", "D=0.1,0.2", "--vary", "D=0.3"], ["swept twice"]),
    (["--vary", "D=0.1:0.6:0"], ["count = 0"]),
    (["--vary", "D=0.1;0.6"], ["D", "not a number"]),
    (["--vary", "D=0.1,0.2", "--vary", "beta=0.1", "--vary", "gamma=1"], ["at most 2"]),
    (["--vary", "D=0.1,0.2", "--T", "5"], ["T = 5"]),
    (["--vary", "D=0.1,0.2", "--resume"], ["--resume needs -o"]),
])
def test_phase_bad_specs_fail_before_work(args, words):
    res = run("phase", *args, "--scheduler", "serial", "--N", "32")
    assert res.exit_code == 2, res.output
    for w in words:
        assert w in res.output, (w, res.output)


def test_phase_resume_refuses_and_continues(tmp_path):
    out = tmp_path / "m.nc"
    parts = tmp_path / "m.nc.parts"
    parts.mkdir()
    res = run("phase", "--vary", "D=0.1,0.6", *TINY, "-o", str(out), "-q")
    assert res.exit_code == 2 and "resume" in res.output
    res = run("phase", "--vary", "D=0.1,0.6", *TINY, "-o", str(out), "--resume", "-q",
              "--chunk-size", "1")
    assert res.exit_code == 0, res.output
    assert out.exists() and not parts.exists()


def test_figure7_tiny(tmp_path):
    res = run("figure", "7", "-o", str(tmp_path), "--T", "2", "--N", "64", "--dt", "0.05",
              "-q")
    assert res.exit_code == 0, res.output
    for ext in ("png", "pdf", "nc"):
        assert (tmp_path / f"figure7.{ext}").stat().st_size > 0
    ds = xr.open_dataset(tmp_path / "figure7.nc", engine="h5netcdf").load()
    assert ds["q"].dims == ("snapshot_time", "x")
    np.testing.assert_allclose(ds["snapshot_time"].values, [0.7], atol=0.051)


def test_figure_bad_number(tmp_path):
    res = run("figure", "3", "-o", str(tmp_path))
    assert res.exit_code == 2


def test_phase_plot_with_boundaries(tmp_path):
    png = tmp_path / "p.png"
    res = run("phase", "--vary", "gamma=1:1.6:3", "--D", "1", "--beta", "0.05", "--T", "11",
              "--N", "16", "--dt", "0.5", "--scheduler", "serial", "--plot", str(png), "--json",
              "-q")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["plot"] == str(png) and png.stat().st_size > 1000


def test_plot_phase_keeps_the_backend_and_pyplot_state():
    """Library plotting draws unmanaged Figures: no backend switch, no pyplot figures left."""
    import matplotlib
    import matplotlib.pyplot as plt

    from astrofield.plotting.maps import plot_phase

    backend = matplotlib.get_backend()
    before = plt.get_fignums()
    ds = xr.Dataset({"drift": ("beta", [0.1, 0.2, 0.3]), "velocity": ("beta", [1e-3, 2e-3, 0.0]),
                     "verdict_code": ("beta", [0, 1, -1])}, coords={"beta": [0.01, 0.02, 0.03]})
    fig = plot_phase(ds, {"Evans": np.array([0.015])})
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "Evans"]
    assert lines and lines[0].get_xdata()[0] == 0.015
    assert matplotlib.get_backend() == backend and plt.get_fignums() == before
