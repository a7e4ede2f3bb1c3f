"""Input validation, NetCDF round trip and the ``astrofield run`` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from astrofield import Model
from astrofield.cli import main
from astrofield.io import load, save
from astrofield.simulator.integrator import solve


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(theta=1.5), r"theta = 1.5 is outside the allowed range \(0, 1\)"),
        (dict(theta=0.0), r"theta = 0 is outside the allowed range \(0, 1\)"),
        (dict(beta=-0.1), r"beta = -0.1 is outside the allowed range \[0, inf\)"),
        (dict(gamma=math.nan), r"gamma = nan is outside the allowed range"),
        (dict(D=-1.0), r"D = -1 is outside the allowed range \[0, inf\) \(or inf\)"),
        (dict(tau=0.0), r"tau = 0 is outside the allowed range \(0, inf\)"),
        (dict(firing="relu"), r"firing = 'relu' is not one of"),
        (dict(kernel="box"), r"kernel = 'box' is not one of"),
        (dict(beta=np.array([0.1, 0.2]), D=np.array([0.1, 0.2, 0.3])), r"different lengths"),
    ],
)
def test_model_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Model(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(N=8), r"N = 8 is outside the allowed range >= 16"),
        (dict(N=100.5), r"N = 100.5 must be an integer"),
        (dict(dt=0.0), r"dt = 0 is outside the allowed range \(0, inf\)"),
        (dict(dt=-0.1), r"dt = -0.1 is outside"),
        (dict(T=-5.0), r"T = -5 is outside the allowed range \(0, inf\)"),
        (dict(T=1.0, dt=2.0), r"dt = 2 is outside the allowed range \(0, T = 1\]"),
        (dict(init="banana"), r"init = 'banana' is not one of"),
        (dict(n_frames=1), r"n_frames = 1 is outside"),
    ],
)
def test_solve_rejects_bad_run_settings(kwargs, match):
    kw = dict(T=1.0, dt=0.1, N=64, progress=False)
    kw.update(kwargs)
    with pytest.raises(ValueError, match=match):
        solve(Model(), **kw)


def test_no_bump_past_fold_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no stationary bump exists .* fold"):
        solve(Model(beta=5.0, gamma=1.0), T=1.0, dt=0.1, N=64, progress=False)


def test_netcdf_round_trip(tmp_path):
    ds = solve(Model(D=np.inf), T=2.0, dt=0.1, N=64, progress=False)
    path = save(ds, tmp_path / "run.nc")
    back = load(path)
    for k in ("u", "q", "a", "position", "drift"):
        np.testing.assert_array_equal(back[k].values, ds[k].values)
    assert back.attrs["scheme"] == ds.attrs["scheme"]
    assert back.attrs["astrofield_version"] == ds.attrs["astrofield_version"]
    assert math.isinf(float(back["D"]))
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_failed_write_leaves_no_partial_file(tmp_path):
    from astrofield.io import atomic_write

    target = tmp_path / "out.nc"

    def boom(tmp):
        with open(tmp, "w") as fh:
            fh.write("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_cli_run_end_to_end(tmp_path):
    out, fig = tmp_path / "r.nc", tmp_path / "r.png"
    res = CliRunner().invoke(main, ["run", "--T", "10", "--dt", "0.05", "--N", "64", "-o",
                                    str(out), "--plot", str(fig), "--summary-json", "--quiet"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    for key in ("drift", "velocity", "mass_drift", "wall_s"):
        assert key in summary
    assert abs(summary["mass_drift"]) < 1e-12
    ds = load(out)
    assert float(ds["drift"]) == pytest.approx(summary["drift"])
    assert fig.stat().st_size > 1000


def test_cli_config_file_and_override(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('T = 5.0\ndt = 0.05\nN = 64\nbeta = 0.02\nD = "inf"\n')
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "--beta", "0.03",
                                    "--summary-json", "-q", "-o", str(tmp_path / "c.nc")])
    assert res.exit_code == 0, res.output
    ds = load(tmp_path / "c.nc")
    assert float(ds["beta"]) == 0.03 and math.isinf(float(ds["D"])) and ds.attrs["N"] == 64


def test_cli_bad_input_message():
    res = CliRunner().invoke(main, ["run", "--theta", "2", "-q"])
    assert res.exit_code != 0
    assert "theta = 2 is outside the allowed range (0, 1)" in res.output
    res = CliRunner().invoke(main, ["run", "--pulse", "1,2,3", "-q"])
    assert res.exit_code != 0 and "POSITION,WIDTH,AMPLITUDE,T_ON,T_OFF" in res.output


def test_cli_kernel_parameters_reach_the_kernel():
    """Mexican hat from rest with a cue: a localized bump; stronger excitation fills the ring."""
    base = ["run", "--kernel", "mexican_hat", "--init", "rest", "--pulse", "1,0.3,1,0,5",
            "--T", "30", "--N", "128", "-q", "--summary-json"]
    narrow = json.loads(CliRunner().invoke(main, base).stdout)
    wide = json.loads(CliRunner().invoke(main, base + ["--kernel-param", "w_e=3"]).stdout)
    assert 0.5 < narrow["width"] < 3.0 and narrow["final_position"] == pytest.approx(1.0, abs=0.01)
    assert wide["width"] == pytest.approx(2 * np.pi)
    res = CliRunner().invoke(main, ["run", "--kernel", "gaussian", "--kernel-param", "foo=1"])
    assert res.exit_code != 0 and "unexpected keyword argument 'foo'" in res.output
