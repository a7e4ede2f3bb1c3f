"""One set of defaults and names (issue 21, items 3 and 4).

* every command's default for the shared model options equals ``af.Model``'s and ``solve``'s,
  except where the table below (the one in ``docs/cli_conventions.md``) says why not;
* the option names are the API's parameter names; the old names still work, with a notice;
* ``--dt auto``, ``--dt-check``; the step-size rule is checked before any work;
* progress on stderr for the long commands, nothing with ``-q``.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import time
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from astrofield import Model
from astrofield.cli import main
from astrofield.cli._common import FLOAT_INF, RENAMED
from astrofield.simulator.integrator import solve

SHARED = ("theta", "beta", "gamma", "tau", "D", "eps")

#: The documented exceptions: (command, option) -> (its default, why). The same table is in
#: docs/cli_conventions.md ("Defaults that differ on purpose"); test_docs_table_matches checks it.
EXCEPTIONS = {
    # the drift experiment measures the linear response to a small shift of the exact bump
    ("phase", "eps"): (0.05, "small perturbation of the drift experiment"),
    # the collapse experiment's model: well mixed, a threshold where the ramp reaches the fold
    ("collapse", "theta"): (0.3, "collapse model"),
    ("collapse", "D"): (math.inf, "collapse model"),
    # the 2-D example's model (sigmoid, theta 0.3, steepness 10): gamma 2 drifts in 2-D
    ("field2d", "gamma"): (10.0, "2-D example model"),
    # a map sweeps by default: the paper's Figure 5 grid
    ("stability-map", "beta"): ("0.001:0.1:50", "map grid"),
    ("stability-map", "D"): ("0.001:0.6:50", "map grid"),
}

#: Commands whose model options take a grid SPEC (one value, a list or start:stop:count).
SPEC_COMMANDS = {"memory", "wander", "stability-map"}


def reference() -> dict[str, float]:
    """The library's defaults of the shared options (Model, solve)."""
    model = inspect.signature(Model).parameters
    ref = {k: model[k].default for k in ("theta", "beta", "gamma", "tau", "D")}
    ref["eps"] = inspect.signature(solve).parameters["eps"].default
    assert ref["D"] == Model().D
    return ref


def _default(cmd: click.Command, name: str):
    ctx = click.Context(cmd)
    for p in cmd.params:
        if p.name == name:
            value = p.get_default(ctx)
            if isinstance(value, str):  # a grid SPEC: one value is a number
                try:
                    return float(value)
                except ValueError:
                    return value
            return value
    return None


@pytest.mark.parametrize("name", sorted(main.commands))
def test_shared_defaults_equal_the_api_or_are_documented(name):
    cmd, ref = main.commands[name], reference()
    for opt in SHARED:
        value = _default(cmd, opt)
        if value is None:
            continue
        if (name, opt) in EXCEPTIONS:
            assert value == EXCEPTIONS[name, opt][0], (name, opt, value)
            assert value != ref[opt], f"{name} --{opt}: no longer an exception; drop it"
        else:
            assert value == ref[opt], f"{name} --{opt} = {value!r}, the API's is {ref[opt]!r}"


def test_api_functions_share_the_model_defaults():
    """phase_diagram, stability_map, drift_experiment, continue_bumps vs Model/steady_bump."""
    from astrofield.experiments.phase import drift_experiment, phase_diagram
    from astrofield.theory.continuation import continue_bumps
    from astrofield.theory.stability import stability_map
    from astrofield.theory.steady import steady_bump

    ref = reference()
    for fn in (phase_diagram, stability_map, drift_experiment):
        sig = inspect.signature(fn).parameters
        for k in ("theta", "beta", "gamma", "D"):
            assert sig[k].default == ref[k], (fn.__name__, k)
    assert inspect.signature(phase_diagram).parameters["eps"].default == \
        EXCEPTIONS["phase", "eps"][0]
    assert (inspect.signature(continue_bumps).parameters["N"].default
            == inspect.signature(steady_bump).parameters["N"].default
            == _default(main.commands["continue"], "N"))


@pytest.mark.parametrize("name", sorted(main.commands))
def test_one_type_for_D(name):
    for p in main.commands[name].params:
        if p.name == "D" and name not in SPEC_COMMANDS:
            assert p.type is FLOAT_INF, (name, p.type)


def test_docs_table_matches():
    text = (Path(__file__).parents[1] / "docs" / "cli_conventions.md").read_text()
    for (cmd, opt), (value, _) in EXCEPTIONS.items():
        shown = "inf" if value == math.inf else (f"{value:g}" if isinstance(value, float)
                                                 else value)
        assert re.search(rf"\|\s*`{cmd}`\s*\|\s*`--{opt}`\s*\|\s*`?{re.escape(shown)}`?\s*\|",
                         text), (cmd, opt, shown)
    for old, new in RENAMED.items():
        assert f"`{old}`" in text and new.split("/")[0] in text, old


# ------------------------------------------------------------------------ names
def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_option_names_are_the_api_names():
    names = {n: {o for p in c.params for o in getattr(p, "opts", [])}
             for n, c in main.commands.items()}
    assert {"--sigma", "--correlation"} <= names["run"] and "--noise-sigma" not in names["run"]
    assert {"--n-trials", "--sigma", "--correlation"} <= names["memory"]
    assert "--n-trials" in names["wander"] and "--n-trials" in names["collapse"]
    assert "--executor" in names["phase"] and "--executor" in names["figure"]
    assert {"--lo", "--hi"} <= names["boundary"]
    for c in main.commands.values():
        assert not set(RENAMED) & {o for p in c.params for o in getattr(p, "opts", [])}


def test_old_names_still_work_with_a_notice():
    tiny = ["run", "--N", "16", "--T", "0.5", "--dt", "0.1", "--n-frames", "3", "--json"]
    res = invoke(*tiny, "--noise-sigma", "0.01", "--noise-correlation=0.4")
    assert res.exit_code == 0, res.output
    assert "--noise-sigma is deprecated; use --sigma" in res.stderr
    assert "--noise-correlation is deprecated" in res.stderr
    assert json.loads(res.stdout)["drift"] is not None
    res = invoke("boundary", "--D", "0.3", "--range", "0.5:0.6", "--json")
    assert res.exit_code == 0 and "--range is deprecated" in res.stderr
    assert json.loads(res.stdout)["beta_star"] is None
    res = invoke("boundary", "--D", "0.3", "--range", "0.5", "--json")
    assert res.exit_code == 2 and "LO:HI" in res.output
    res = invoke("phase", "--vary", "D=0.1", "--scheduler", "foo")
    assert res.exit_code == 2 and "scheduler address" in res.output


def test_old_config_keys_still_work(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("noise-sigma = 0.01\nN = 16\nT = 0.5\ndt = 0.1\nn-frames = 3\n")
    res = invoke("run", "--config", str(cfg), "--json")
    assert res.exit_code == 0, res.output
    assert "config key 'noise-sigma' is deprecated" in res.stderr


def test_unknown_config_key_lists_N_D_T(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("bogus = 1\n")
    res = invoke("run", "--config", str(cfg))
    assert res.exit_code == 2
    allowed = res.output.split("allowed keys are the option names:")[1]
    keys = {k.strip(" .\n'") for k in allowed.replace("\n", " ").split(",")}
    assert {"N", "D", "T", "dt", "sigma"} <= keys and "o" not in keys and "q" not in keys


def test_stability_json_has_the_api_keys():
    from astrofield.theory.stability import stability

    obj = json.loads(invoke("stability", "--no-spectrum", "--json").stdout)
    api = stability(0.1, 0.05, 2.0, Model().D)
    assert obj["D"] == Model().D and obj["evans_stable"] == bool(api["evans_stable"])
    assert obj["stable"] == obj["evans_stable"]  # the old key, kept


# ------------------------------------------------------------------------ time step
def test_run_dt_auto_and_dt_check():
    res = invoke("run", "--dt", "auto", "--T", "2", "--N", "32", "--json", "-q")
    assert res.exit_code == 0, res.output
    assert 0 < json.loads(res.stdout)["dt"] <= 0.1
    res = invoke("run", "--dt", "0.5", "--T", "2", "--N", "32", "-q")
    assert res.exit_code == 2 and "--dt auto" in res.output and "--dt-check warn" in res.output
    res = invoke("run", "--dt", "0.5", "--dt-check", "off", "--T", "2", "--N", "32", "--json")
    assert res.exit_code == 0, res.output
    res = invoke("run", "--dt", "fast")
    assert res.exit_code == 2 and "auto" in res.output


def test_figure_step_rule_checked_before_any_work(tmp_path):
    t0 = time.perf_counter()
    res = invoke("figure", "6", "--resolution", "4", "--dt", "0.1", "-o", str(tmp_path))
    assert res.exit_code == 2 and "step-size rule" in res.output and "--dt auto" in res.output
    assert time.perf_counter() - t0 < 3.0
    assert not list(tmp_path.iterdir())


def test_phase_step_rule_checked_before_any_work():
    res = invoke("phase", "--vary", "beta=0.01,3", "--D", "inf", "--T", "100", "--N", "16",
                 "--executor", "serial", "-q")
    assert res.exit_code == 2 and "step-size rule" in res.output
    res = invoke("phase", "--vary", "beta=0.01,3", "--D", "inf", "--T", "100", "--N", "16",
                 "--executor", "serial", "--dt", "auto", "-q", "--json", "--no-early-stop",
                 "--error-control", "off")
    assert res.exit_code == 0, res.output
    dt = json.loads(res.stdout)["dt"]
    assert dt < 0.1 and abs(0.5 / dt - round(0.5 / dt)) < 1e-9


# ------------------------------------------------------------------------ progress
@pytest.mark.parametrize("args, target", [
    (["stability-map", "--beta", "0.01:0.1:3", "--D", "0.3,0.6"],
     "astrofield.theory.stability:stability_map"),
    (["field2d", "--N", "8", "--T", "0.2", "--dt", "0.1"],
     "astrofield.applications.field2d:solve2d"),
    (["collapse", "--N", "16", "--T-ramp", "20", "--window", "5", "--n-trials", "2"],
     "astrofield.applications.collapse:ramp_collapse"),
])
def test_progress_follows_quiet(monkeypatch, args, target):
    """The CLI asks for a bar (progress=None: shown after about a second) unless -q."""
    import functools
    import importlib

    mod, _, name = target.partition(":")
    module = importlib.import_module(mod)
    original, seen = getattr(module, name), []

    @functools.wraps(original)  # the CLI reads its defaults from the signature
    def spy(*a, **kw):
        seen.append(kw.get("progress", "missing"))
        return original(*a, **kw)

    monkeypatch.setattr(module, name, spy)
    res = invoke(*args, "--json")
    assert res.exit_code == 0, res.output
    res = invoke(*args, "--json", "-q")
    assert res.exit_code == 0, res.output
    assert res.stderr == ""
    assert seen == [None, False]


def test_bar_on_stderr_for_a_slow_job(capsys):
    from astrofield.theory.stability import MAP_BLOCK, stability_map

    stability_map(beta=np.linspace(0.01, 0.1, 2 * MAP_BLOCK // 10 + 1),
                  D=np.linspace(0.1, 1.0, 10), progress=True)
    err = capsys.readouterr().err
    assert "stability map" in err and "pt" in err
    stability_map(beta=np.linspace(0.01, 0.1, 60), D=np.linspace(0.1, 1.0, 10),
                  progress=False)
    assert capsys.readouterr().err == ""


def test_continuation_counts_points(capsys):
    from astrofield.theory.continuation import continue_bumps

    continue_bumps(Model(D=0.3), "beta", 0.01, 0.02, N=32, max_points=4, travelling=False,
                   progress=True)
    assert "continuation" in capsys.readouterr().err
