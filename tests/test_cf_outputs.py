"""CF-1.10 metadata of the written files (the rules of :mod:`astrofield.io.cf`).

Real small outputs of every command that writes ``-o FILE.nc`` are read back raw with h5netcdf
(the stored dtypes and attributes, not xarray's decoded view) and checked: units and a short
long_name on every variable and coordinate, units that UDUNITS-2 parses, Conventions, history,
numeric flags, one seed convention. For the commands other than run and phase the dataset the
builder hands to ``save`` is checked too (:func:`astrofield.io.cf.problems`), and the file's
units and long_names must be the builder's: the metadata is made where the dataset is made,
not supplied by ``save``'s generic fallback.
"""

from __future__ import annotations

import re

import h5netcdf
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import astrofield.io as aio
from astrofield.cli import main
from astrofield.io import load, save
from astrofield.io.cf import (
    MAX_LONG_NAME,
    NO_SEED,
    finalize,
    flag_attrs,
    problems,
    seed_attrs,
    udunits_ok,
)

#: The unit strings the package writes, each one UDUNITS-2 parsable (checked with cf_units
#: when it is installed, else against this list; "s-1": an exponent written after the symbol).
UDUNITS_OK = {"1", "rad", "rad2", "s", "s-1", "s-2"}


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


# ------------------------------------------------------------------ every other writer
#: Every other command that writes ``-o FILE.nc``, at small sizes (a few seconds each).
WRITERS = {
    "memory": ["memory", "--delay", "2", "--N", "32", "--n-trials", "2", "--sigma", "0.05"],
    "bold": ["bold", "--seconds-per-unit", "0.05", "--delay", "20", "--N", "32"],
    "wander": ["wander", "--T", "10", "--N", "32", "--n-trials", "2"],
    "collapse": ["collapse", "--N", "32", "--T-ramp", "40", "--window", "10", "--n-trials", "1"],
    "field2d": ["field2d", "--N", "8", "--T", "1"],
    "continue": ["continue", "--firing", "sigmoid", "--steepness", "10", "--D", "0.3", "--N",
                 "64", "--param", "beta", "--start", "0.01", "--stop", "0.05", "--max-points",
                 "4"],
    "spectrum": ["spectrum", "--firing", "sigmoid", "--steepness", "10", "--D", "inf", "--N",
                 "64"],
    "stability-map": ["stability-map", "--beta", "0.01:0.1:3", "--D", "0.3,inf"],
    "stability-map-numerical": ["stability-map", "--firing", "sigmoid", "--steepness", "20",
                                "--N", "64", "--beta", "0.005,0.05", "--D", "0.3"],
}


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_writer_builds_its_cf_metadata(name, tmp_path, monkeypatch):
    built = {}
    save = aio.save

    def capture(ds, path, **kw):
        built["ds"] = ds.copy()  # what the builder made, before save's finalize
        return save(ds, path, **kw)

    monkeypatch.setattr(aio, "save", capture)
    out = tmp_path / f"{name}.nc"
    res = CliRunner().invoke(main, [*WRITERS[name], "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    ds = built["ds"]
    assert problems(ds) == [], problems(ds)
    g = _check_file(out)
    assert f"astrofield {WRITERS[name][0]}" in g["history"]
    assert isinstance(g["seed"], (int, np.integer)) and g["seed"] >= NO_SEED
    with h5netcdf.File(out, "r") as f:
        for vname, var in f.variables.items():  # finalize changed nothing the builder gave
            for key in ("units", "long_name"):
                if key in ds[vname].attrs:
                    assert var.attrs[key] == ds[vname].attrs[key], (vname, key)


def test_udunits_subset_checker():
    good = ["1", "rad", "rad2", "s", "s-1", "s^-2", "rad/s", "m2 s-1", "m.s-1"]
    bad = ["", "rad per unit time", "1/time", "rad^2 per time unit", "neural time constants",
           "1 (fraction of baseline; x100 for per cent)", "rad/s/s", "foo", "rad 2"]
    assert [udunits_ok(u) for u in good] == [True] * len(good)
    assert [udunits_ok(u) for u in bad] == [False] * len(bad)
    for u in UDUNITS_OK:
        assert udunits_ok(u), u


def test_problems_names_each_broken_rule():
    ds = xr.Dataset({"ok": ("p", np.array([True]), {"long_name": "flag", "units": "1",
                                                     "flag_values": np.array([0, 1], np.int8),
                                                     "flag_meanings": "no yes"}),
                     "bare": ("p", [1.0]),
                     "wordy": ("p", [1.0], {"units": "1", "long_name": "x" * 41}),
                     "legacy": ("p", [1.0], {"units": "rad/time", "long_name": "speed"}),
                     "b": ("p", np.array([False]), {"units": "1", "long_name": "b"}),
                     "code": ("p", np.array([1], np.int16), {"units": "1", "long_name": "c",
                                                            "flag_values": "0 1",
                                                            "flag_meanings": "a b"})},
                    coords={"p": ("p", [0], {"units": "1", "long_name": "p"})},
                    attrs={"seed": "none", "scheme": "s", "astrofield_version": "0"})
    found = " | ".join(problems(ds))
    for what in ("bare: units", "bare: long_name", "wordy: long_name", "legacy: units",
                 "b: a boolean without flag_values", "code: flags", "Conventions", "seed"):
        assert what in found, what
    assert "ok:" not in found and "p:" not in found


@pytest.mark.parametrize("args", [["7", "--T", "2", "--N", "32"], ["2"],
                                  ["5", "--resolution", "3", "--T", "100", "--N", "16"]])
def test_figure_files_follow_the_cf_rules(args, tmp_path, monkeypatch):
    import astrofield.plotting.paper as paper

    built = {}
    write = paper.write_figure

    def capture(fig, ds, outdir, stem):
        built["ds"] = ds.copy()
        return write(fig, ds, outdir, stem)

    monkeypatch.setattr(paper, "write_figure", capture)
    res = CliRunner().invoke(main, ["figure", *args, "-o", str(tmp_path), "-q"])
    assert res.exit_code == 0, res.output
    assert problems(built["ds"]) == [], problems(built["ds"])
    g = _check_file(tmp_path / f"figure{args[0]}.nc")
    assert "astrofield figure" in g["history"]
