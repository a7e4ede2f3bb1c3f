"""Every command that returns a verdict or a number carries ``resolved`` (issue 24, part two,
item 2).

The audit found ``stability-map --firing sigmoid --beta 0.05 --D 0.7`` answering "stable" with
no flag while ``stability --firing sigmoid`` at the same point said ``resolved: false``. Both
now come from the same check of the numerical spectrum (the translation eigenvalue must be near
zero, :attr:`astrofield.theory.spectra.Spectrum.resolved`); the Heaviside routes are exact
theory (no grid, no step) and say so; phase maps derive the flag per cell from their own
two-resolution error control.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from astrofield.cli import main
from astrofield.experiments.phase import point_resolved
from astrofield.theory.stability import stability


def _json(args: list[str]) -> dict:
    res = CliRunner().invoke(main, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output.strip().splitlines()[-1])


@pytest.mark.parametrize("steepness", ["50", "5"])
def test_stability_map_agrees_with_stability(steepness):
    """Steepness 50 at N 64: the layer is not resolved (both say false); steepness 5: it is
    (both say true), so the comparison can fail either way."""
    point = ["--firing", "sigmoid", "--steepness", steepness, "--N", "64", "--D", "0.7"]
    single = _json(["stability", "--beta", "0.05", *point])
    grid = _json(["stability-map", "--beta", "0.05", *point])
    assert single["resolved"] is (steepness == "5")
    assert grid["resolved"] is single["resolved"]
    assert grid["unresolved"] == (0 if single["resolved"] else 1)


def test_stability_map_netcdf_variable(tmp_path):
    import xarray as xr

    out = tmp_path / "m.nc"
    _json(
        [
            "stability-map",
            "--firing",
            "sigmoid",
            "--steepness",
            "50",
            "--N",
            "64",
            "--beta",
            "0.05",
            "--D",
            "0.7",
            "-o",
            str(out),
        ]
    )
    with xr.open_dataset(out) as ds:
        assert ds["resolved"].attrs["flag_meanings"] == "unresolved resolved"
        assert not bool(ds["resolved"].values.any())
        assert int(ds.attrs["resolved"]) == 0


def test_heaviside_routes_say_exact():
    assert _json(["stability", "--beta", "0.05", "--D", "0.7"])["resolved"] is True
    assert _json(["boundary", "--D", "0.3"])["resolved"] is True
    assert _json(["stability-map", "--beta", "0.01,0.05", "--D", "0.7"])["resolved"] is True
    r = stability(0.1, np.array([0.01, 0.05, 0.5]), 2.0, 0.7)
    assert r["resolved"].shape == r["exists"].shape and r["resolved"].all()


def _res(drift, err, failed=False):
    return {
        "drift": np.array([drift]),
        "drift_error": np.array([err]),
        "failed": np.array([failed]),
    }


@pytest.mark.parametrize(
    ("drift", "err", "failed", "exists", "expected"),
    [
        (1.0, 0.02 + 0.01, False, True, True),  # at the tolerance 2 % + 0.01 rad
        (1.0, 0.0301, False, True, False),  # just beyond it
        (0.0, 0.0099, False, True, True),  # the absolute part
        (1.0, 0.0, True, True, False),  # failed
        (1.0, np.nan, False, True, False),  # no error control: not checked
        (np.nan, np.nan, False, False, True),  # no bump: exact theory
    ],
)
def test_phase_point_resolved(drift, err, failed, exists, expected):
    got = point_resolved(_res(drift, err, failed), np.array([exists]))
    assert bool(got[0]) is expected


@pytest.mark.slow
def test_phase_map_carries_resolved(tmp_path):
    """A small map under error control: the variable, its CF attrs and the JSON summary."""
    import xarray as xr

    out = tmp_path / "p.nc"
    s = _json(
        [
            "phase",
            "--vary",
            "beta=0.02,0.2",
            "--D",
            "0.6",
            "--T",
            "100",
            "--N",
            "64",
            "-q",
            "-o",
            str(out),
        ]
    )
    with xr.open_dataset(out) as ds:
        res = ds["resolved"].values.astype(bool)
        assert ds["resolved"].attrs["flag_meanings"] == "unresolved resolved"
        err_ok = ds["drift_error"].values <= 0.02 * np.abs(ds["drift"].values) + 0.01
        exists = ds["exists"].values.astype(bool)
        np.testing.assert_array_equal(res, np.where(exists, err_ok, True))
    assert s["n_unresolved"] == int((~res).sum())
    assert s["resolved"] is bool(res.all())


@pytest.mark.slow
def test_adaptive_map_resolved_from_its_cells_errors():
    """Adaptive maps: the flag follows each cell's (or its block corners') drift error, the
    same rule as the full map; simulated cells with an estimate are not blanket-unresolved."""
    from astrofield import phase_diagram

    ds = phase_diagram(
        ["beta=0.005:0.1:5", "D=0.05:1:5"],
        T=100.0,
        N=64,
        dt=0.1,
        sampling="adaptive",
        executor=None,
        progress=False,
    )
    res = {k: ds[k].values.reshape(-1) for k in ("drift", "drift_error", "failed")}
    expected = point_resolved(res, ds["exists"].values.reshape(-1).astype(bool))
    np.testing.assert_array_equal(ds["resolved"].values.reshape(-1), expected)
    sim = ds["sampled"].values.astype(bool) & ds["exists"].values.astype(bool)
    assert ds["resolved"].values[sim].any()


def test_phase_without_error_control_says_unresolved():
    """At N 32 the coarse companion (N 16) is below the error control's minimum: no error is
    estimated, so the simulated cells are unresolved and the text says how many."""
    res = CliRunner().invoke(
        main, ["phase", "--vary", "beta=0.02,0.2", "--D", "0.6", "--T", "100", "--N", "32", "-q"]
    )
    assert res.exit_code == 0, res.output
    assert "2 unresolved (variable 'resolved')" in res.output
