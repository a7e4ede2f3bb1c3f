"""Application CLI commands (astrofield.cli.apps)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from astrofield.cli import main
from astrofield.io import load


def _run(args):
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.stdout  # the JSON object is on stdout; progress and messages go to stderr


def test_memory_command(tmp_path):
    out = _run(["memory", "--cue", "0,1.5", "--D", "0.7,inf", "--trials", "2", "--delay", "5",
                "--N", "32", "--json", "-o", str(tmp_path / "m.nc"),
                "--plot", str(tmp_path / "m.png")])
    s = json.loads(out)
    assert s["p_persist"] == [1.0, 1.0] and s["D"][1] == "inf"  # inf -> "inf" in JSON
    ds = load(tmp_path / "m.nc")
    assert ds["error"].shape == (2, 2, 2)
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_bold_command_requires_seconds_per_unit(tmp_path):
    res = CliRunner().invoke(main, ["bold", "--delay", "50"])
    assert res.exit_code != 0 and "seconds-per-unit" in res.output
    out = _run(["bold", "--seconds-per-unit", "0.05", "--delay", "100", "--N", "32", "--json",
                "--plot", str(tmp_path / "b.png"), "-o", str(tmp_path / "b.nc")])
    s = json.loads(out)
    assert s["peak_bold"] > 0 and s["seconds_per_unit"] == 0.05
    assert float(load(tmp_path / "b.nc").attrs["seconds_per_unit"]) == 0.05


def test_wander_command():
    n, sigma, theta = 200, 0.1, 0.1  # theta: the command's default
    out = _run(["wander", "--beta", "0", "--correlation", "cosine", "--sigma", str(sigma),
                "--trials", str(n), "--T", "5", "--N", "32", "--json", "-q"])
    s = json.loads(out)
    # theory (Kilpatrick & Ermentrout 2013, cosine kernel and cosine-correlated noise, no
    # depression): D = sigma^2 / (2 R^2), R = 2 sin(Delta) the Amari bump's first-mode
    # amplitude, sin(2 Delta) = theta on the wide branch
    R = 2 * np.sin(0.5 * (np.pi - np.arcsin(theta)))
    d_theory = sigma**2 / (2 * R**2)
    assert s["D_theory"][0] == pytest.approx(d_theory, rel=1e-9)
    # the estimate from n trials: the mean square displacement of n independent walks has a
    # relative standard deviation sqrt(2 / n) (chi-square with n degrees of freedom), 0.1 here;
    # four of them cover the statistics (grid error and the O(sigma^2) mean shift of the
    # amplitude are a few per cent, tests/test_wandering.py)
    assert s["D_eff"][0] == pytest.approx(d_theory, rel=4 * np.sqrt(2 / n))
    assert s["D_lo"][0] < s["D_eff"][0] < s["D_hi"][0]


def test_collapse_and_field2d_commands(tmp_path):
    out = _run(["collapse", "--trials", "1", "--N", "32", "--T-ramp", "100", "--window", "20",
                "--json"])
    assert json.loads(out)["beta_max"] > 0.8
    out = _run(["field2d", "--N", "16", "--T", "2", "--json", "--plot", str(tmp_path / "f.png")])
    assert abs(json.loads(out)["mass_drift"]) < 1e-12


def test_bad_values_are_usage_errors():
    res = CliRunner().invoke(main, ["memory", "--delay", "-1"])
    assert res.exit_code == 2 and "delay" in res.output
    res = CliRunner().invoke(main, ["memory", "--D", "a,b"])
    assert res.exit_code == 2
