"""The ``resolved`` flag of the application commands and of ``fit`` (issue 24, item 1).

Each result carries the flag of the runs behind it (astrofield.solve's grid and step rules,
failures and, without noise, its companion run): in the dataset (variable with CF flag
attributes and an int attr), in the JSON (``resolved``) and as a warning line in the text.
The under-resolved cases are set up from the rules themselves, checked here independently of
the flag: a step above the step-size rule's ``dt_max`` (run with ``--dt-check warn``), or a
grid of N = 16 that puts fewer cells across the bump than the rule asks for.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import astrofield as af
from astrofield.cli import main
from astrofield.io import load
from astrofield.simulator.resolution import BUMP_CELLS, ResolutionWarning
from astrofield.simulator.step_control import max_step
from astrofield.theory.bump import bump_branches


def _run(args):
    res = CliRunner().invoke(main, [*args, "-q"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.stdout


def _json(args):
    return json.loads(_run([*args, "--json"]))


def _check_flag_var(da, expected):
    """The CF flag attributes of a ``resolved`` variable and its values."""
    assert list(da.attrs["flag_values"]) == [0, 1]
    assert da.attrs["flag_meanings"] == "unresolved resolved"
    assert da.attrs["units"] == "1" and da.attrs["long_name"]
    assert np.all(da.values.astype(bool) == expected)


def _cells(theta, beta, gamma, N):
    """Grid cells across the stable (wide) bump of the theory on N points."""
    return 2 * float(bump_branches(theta, beta, gamma)["wide"]["Delta"]) / (2 * np.pi / N)


def test_premises_of_the_under_resolved_cases():
    """Independent of the flag: at N = 16 the bumps of wander/fit (theta 0.1, beta 0.05) and
    collapse (theta 0.3, beta 0.3) span fewer cells than the rule asks, at N = 64 more."""
    for theta, beta in ((0.1, 0.05), (0.3, 0.3)):
        assert _cells(theta, beta, 2.0, 16) < BUMP_CELLS < _cells(theta, beta, 2.0, 64)
    assert max_step(af.Model()) < 0.5  # memory at --dt 0.5 is above the rule


def test_memory_flag_in_json_text_and_netcdf(tmp_path):
    s = _json(
        [*"memory --n-trials 2 --delay 5 --N 32 --sigma 0 -o".split(), str(tmp_path / "m.nc")]
    )
    assert s["resolved"] is True
    ds = load(tmp_path / "m.nc")
    _check_flag_var(ds["resolved"], True)
    assert ds["resolved"].dims == ("param", "cue", "trial") and ds.attrs["resolved"] == 1
    args = "memory --n-trials 1 --delay 5 --sigma 0 --N 32 --dt 0.5 --dt-check warn".split()
    assert _json(args)["resolved"] is False
    text = _run(args)
    assert "warning: 1 of 1 trial(s) not resolved" in text


def test_bold_flag_in_json_and_attrs(tmp_path):
    base = "bold --seconds-per-unit 0.05 --delay 20 --N 32".split()
    s = _json([*base, "-o", str(tmp_path / "b.nc")])
    assert s["resolved"] is True and load(tmp_path / "b.nc").attrs["resolved"] == 1
    bad = [*base, "--dt", "0.5", "--dt-check", "warn"]
    assert _json(bad)["resolved"] is False
    assert "not resolved" in _run(bad)


def test_wander_flag(tmp_path):
    base = ["wander", "--n-trials", "2", "--T", "5", "--D", "0.7,inf"]
    s = _json([*base, "--N", "64", "-o", str(tmp_path / "w.nc")])
    assert s["resolved"] is True
    ds = load(tmp_path / "w.nc")
    _check_flag_var(ds["resolved"], [True, True])
    assert ds["resolved"].dims == ("param",)
    assert _json([*base, "--N", "16"])["resolved"] is False
    assert "warning: 2 of 2 parameter set(s) not resolved" in _run([*base, "--N", "16"])


def test_collapse_flag(tmp_path):
    base = ["collapse", "--n-trials", "2", "--T-ramp", "50", "--window", "20"]
    s = _json([*base, "-o", str(tmp_path / "c.nc")])
    assert s["resolved"] is True
    ds = load(tmp_path / "c.nc")
    _check_flag_var(ds["resolved"], [True, True])
    assert ds.attrs["resolved"] == 1
    assert _json([*base, "--N", "16"])["resolved"] is False
    assert "warning: 2 of 2 trial(s) not resolved" in _run([*base, "--N", "16"])


def test_field2d_flag_covers_the_step_rule(tmp_path):
    s = _json(["field2d", "--N", "16", "--T", "2", "-o", str(tmp_path / "f.nc")])
    assert s["resolved"] is True
    ds = load(tmp_path / "f.nc")
    _check_flag_var(ds["resolved"], True)
    model = af.Model(theta=0.3, steepness=10.0, firing="sigmoid", gamma=10.0)
    assert max_step(model) < 1.0  # independent premise: --dt 1 is above the rule
    bad = ["field2d", "--N", "16", "--T", "2", "--dt", "1", "--dt-check", "warn"]
    assert _json(bad)["resolved"] is False
    assert "warning: 1 of 1 run(s) not resolved" in _run(bad)


def test_fit_flag_of_the_best_fit_simulation(tmp_path):
    from astrofield.fitting import fit

    truth = af.Model(theta=0.1, beta=0.05, gamma=2, D=0.7)
    data = af.solve(truth, T=20, N=64, dt=0.05, eps=0.3, n_frames=11, progress=False)
    opts = dict(vary={"beta": (0.02, 0.1)}, n_global=4, n_starts=1, max_nfev=8)
    good = fit(data, af.Model(theta=0.1, gamma=2, D=0.7), **opts)
    assert good.resolved is True and good.summary()["resolved"] is True
    assert good.to_dataset().attrs["resolved"] == 1
    with pytest.warns(ResolutionWarning):
        coarse = fit(data, af.Model(theta=0.1, gamma=2, D=0.7), N=16, **opts)
    assert coarse.resolved is False and coarse.to_dataset().attrs["resolved"] == 0
    path = tmp_path / "obs.nc"
    af.io.save(data, path)
    args = "--theta 0.1 --gamma 2 --vary beta=0.02:0.1 --n-starts 1".split()
    assert _json(["fit", "--data", str(path), *args])["resolved"] is True
