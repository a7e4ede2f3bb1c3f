"""CF-1.10 metadata of the written files (the rules of :mod:`astrofield.io.cf`).

Real small outputs of ``astrofield run -o`` and ``astrofield phase -o`` are read back raw with
h5netcdf (the stored dtypes and attributes, not xarray's decoded view) and checked: units and a
short long_name on every variable and coordinate, units that UDUNITS-2 parses, Conventions,
history, numeric flags, one seed convention.
"""

from __future__ import annotations

import re

import h5netcdf
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from astrofield.cli import main
from astrofield.io import load, save
from astrofield.io.cf import MAX_LONG_NAME, NO_SEED, finalize, flag_attrs, seed_attrs

#: The unit strings the package writes, each one UDUNITS-2 parsable (checked with cf_units
#: when it is installed, else against this list).
UDUNITS_OK = {"1", "rad", "rad2"}


def _udunits_ok(units: str) -> bool:
    try:
        import cf_units
    except ImportError:
        return units in UDUNITS_OK
    try:
        cf_units.Unit(units)
    except ValueError:
        return False
    return True


def _check_file(path) -> dict:
    """Every CF rule of the package on the raw file; returns its global attributes."""
    with h5netcdf.File(path, "r") as f:
        gattrs = dict(f.attrs)
        assert gattrs["Conventions"] == "CF-1.10"
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: astrofield ", gattrs["history"])
        assert isinstance(gattrs["seed"], (int, np.integer))
        assert gattrs["seed_description"]
        assert "astrofield_version" in gattrs and "scheme" in gattrs
        for name, var in f.variables.items():
            a = dict(var.attrs)
            text = var.dtype.kind in "OUS" or h5netcdf.core.h5py.check_string_dtype(var.dtype)
            assert "long_name" in a, name
            assert 0 < len(a["long_name"]) <= MAX_LONG_NAME, (name, a["long_name"])
            if not text:  # a label (string) variable has no units
                assert "units" in a, name
                assert _udunits_ok(a["units"]), (name, a["units"])
            if "flag_values" in a or "flag_meanings" in a:
                fv = np.asarray(a["flag_values"])
                assert fv.dtype.kind in "iu" and fv.dtype == var.dtype, (name, fv.dtype)
                assert len(a["flag_meanings"].split()) == fv.size, name
                assert len(set(fv.tolist())) == fv.size, name
            if a.get("dtype") == "bool":  # NetCDF has no booleans: int8 with 0/1 flags
                assert var.dtype == np.int8 and "flag_values" in a, name
            if name in f.dimensions:
                assert "_FillValue" not in a, name
    return gattrs


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("cf") / "run.nc"
    res = CliRunner().invoke(main, ["run", "--T", "2", "--dt", "0.1", "--N", "32", "-o",
                                    str(out), "-q"])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def map_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("cf") / "map.nc"
    res = CliRunner().invoke(main, ["phase", "--vary", "beta=0.01:0.05:3", "--D", "0.6",
                                    "--T", "100", "--N", "32", "--dt", "0.1", "--scheduler",
                                    "serial", "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    return out


def test_run_file_follows_the_cf_rules(run_file):
    g = _check_file(run_file)
    assert g["history"].count("\n") == 0 and "astrofield run" in g["history"]
    assert "--output" in g["history"] and "--N 32" in g["history"]
    assert g["seed"] == NO_SEED and "deterministic" in g["seed_description"]
    with h5netcdf.File(run_file, "r") as f:
        for name in ("time", "x", "theta", "beta", "gamma", "tau", "D", "steepness",
                     "bump_Delta", "bump_c0", "bump_A0", "velocity", "failed"):
            assert name in f.variables, name
        assert f.variables["time"].attrs["units"] == "1"
        assert "neural time constants" in f.variables["time"].attrs["long_name"]


def test_phase_map_follows_the_cf_rules(map_file):
    g = _check_file(map_file)
    assert g["history"].count("\n") == 0 and "astrofield phase" in g["history"]
    assert g["seed"] == NO_SEED
    with h5netcdf.File(map_file, "r") as f:
        code = f.variables["verdict_code"]
        assert code.dtype == np.int8
        meanings = code.attrs["flag_meanings"].split()
        assert dict(zip(meanings, code.attrs["flag_values"].tolist(), strict=True)) == {
            "stable": 0, "unstable": 1, "no_bump": -1, "failed": -2, "undecided": -3}
        assert f.variables["beta"].attrs["units"] == "1"
        assert "description" in f.variables["drift"].attrs  # the long sentence moved there


def test_decoded_dataset_keeps_booleans_and_flags(map_file):
    ds = load(map_file)
    assert ds["exists"].dtype == bool and ds["failed"].dtype == bool
    assert ds["exists"].attrs["flag_meanings"] == "no_bump bump"


def test_history_is_appended_when_saved_again(run_file, tmp_path):
    ds = load(run_file)
    again = save(ds, tmp_path / "again.nc", command="resave test")
    with h5netcdf.File(again, "r") as f:
        lines = f.attrs["history"].splitlines()
    assert len(lines) == 2 and "astrofield run" in lines[0] and "resave test" in lines[1]
    _check_file(again)


def test_finalize_fixes_legacy_metadata_and_leaves_input_alone():
    ds = xr.Dataset({"ok": ("point", np.array([True, False])),
                     "code": ("point", np.array([0, 1], np.int16),
                              {"flag_values": "0 1", "flag_meanings": "a b", "units": "1",
                               "long_name": "a long label " * 5})},
                    coords={"point": [0, 1]})
    out = finalize(ds, command="unit test")
    assert ds["code"].attrs["flag_values"] == "0 1" and "Conventions" not in ds.attrs
    assert out["code"].attrs["flag_values"].dtype == np.int16
    assert out["code"].attrs["long_name"] == "code"
    assert out["code"].attrs["description"].startswith("a long label")
    assert out["ok"].attrs["flag_values"].dtype == np.int8
    assert ": unit test (astrofield " in out.attrs["history"]
    assert out.attrs["Conventions"] == "CF-1.10"


def test_flag_and_seed_helpers():
    a = flag_attrs("x", [0, 1], "no yes")
    assert a["flag_values"].dtype == np.int8 and a["units"] == "1"
    with pytest.raises(ValueError, match="meanings"):
        flag_attrs("x", [0, 1, 2], "no yes")
    assert seed_attrs(None, noisy=False)["seed"] == NO_SEED
    assert seed_attrs(None, noisy=True)["seed"] == NO_SEED
    assert seed_attrs(7, noisy=True) == {"seed": 7, "seed_description":
                                         "seed of numpy.random.default_rng (noise)"}


def test_legacy_units_are_replaced_by_udunits_strings():
    ds = xr.Dataset({"c": ("p", [1.0], {"units": "rad/time", "long_name": "speed"}),
                     "s": ("p", [1.0], {"units": "1/s", "long_name": "signal"})})
    out = finalize(ds)
    assert out["c"].attrs["units"] == "rad" and "rad/time" in out["c"].attrs["description"]
    assert out["s"].attrs["units"] == "s-1" and "dimensionless" not in out["s"].attrs["description"]
