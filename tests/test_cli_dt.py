"""``--dt auto`` and ``--dt-check`` on every command that simulates (one shared definition).

For each command: ``--dt auto`` runs and takes the rule's step (at most ``dt_max``, dividing the
run, and the largest such step); a step above the rule exits 2 before any work with a message
naming dt and the allowed range; ``--dt-check warn`` runs it with a StepSizeWarning.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time

import click
import numpy as np
import pytest
from click.testing import CliRunner

from astrofield.cli import main
from astrofield.model.definition import Model
from astrofield.simulator.step_control import StepSizeWarning, auto_step, max_step

#: Small, fast versions of the simulating commands (besides --dt / --dt-check).
SMALL = {
    "run": ["run", "--T", "2", "--N", "32"],
    "memory": ["memory", "--delay", "2", "--N", "32", "--n-trials", "1", "--sigma", "0"],
    "bold": ["bold", "--seconds-per-unit", "0.05", "--delay", "20", "--N", "32"],
    "wander": ["wander", "--T", "10", "--N", "32", "--n-trials", "2"],
    "collapse": ["collapse", "--N", "16", "--T-ramp", "40", "--window", "10", "--n-trials", "1"],
    "field2d": ["field2d", "--N", "8", "--T", "1"],
    "phase": [
        "phase",
        "--vary",
        "beta=0.01,0.05",
        "--D",
        "0.6",
        "--T",
        "100",
        "--N",
        "16",
        "--executor",
        "serial",
        "--error-control",
        "off",
    ],
    "figure": ["figure", "7", "--T", "2", "--N", "32"],
}
#: The API function each application command calls (must not run when the step is refused).
API = {
    "memory": "astrofield.applications.memory.working_memory",
    "bold": "astrofield.applications.memory.memory_bold",
    "wander": "astrofield.applications.wandering.measure_wandering",
    "collapse": "astrofield.applications.collapse.ramp_collapse",
    "field2d": "astrofield.applications.field2d.solve2d",
    "phase": "astrofield.experiments.phase.phase_diagram",
    "figure": "astrofield.plotting.paper.make_figure",
}
REFUSED = re.compile(r"dt = 0\.5 is outside the allowed range \(0, ([0-9.e-]+)\]")


def _invoke(args, tmp_path=None):
    if args[0] == "figure":
        args = [*args, "-o", str(tmp_path / "fig")]
    return CliRunner().invoke(main, args)


def test_every_simulating_command_has_the_shared_options():
    """Same names, help and --dt-check default on every command that simulates."""
    ref = {p.name: p for p in main.commands["run"].params}
    for name in SMALL:
        params = {p.name: p for p in main.commands[name].params}
        for opt in ("dt", "dt_check"):
            assert opt in params, (name, opt)
            assert params[opt].help.startswith(ref[opt].help), (name, opt)
            assert params[opt].type is ref[opt].type, (name, opt)
        assert params["dt_check"].default == "error"
        assert isinstance(params["dt_check"].type, click.Choice)


@pytest.mark.parametrize("name", list(API))
def test_too_large_dt_exits_2_before_any_work(name, monkeypatch, tmp_path):
    mod, _, attr = API[name].rpartition(".")
    module = __import__(mod, fromlist=[attr])

    @functools.wraps(getattr(module, attr))  # its signature: the CLI reads defaults from it
    def never(*a, **k):
        raise AssertionError("the simulation started although the step breaks the rule")

    monkeypatch.setattr(module, attr, never)
    args = SMALL[name] if name != "figure" else ["figure", "6", "--resolution", "4"]
    t0 = time.perf_counter()
    res = _invoke([*args, "--dt", "0.5"], tmp_path)
    wall = time.perf_counter() - t0
    assert res.exit_code == 2, res.output
    m = REFUSED.search(" ".join(res.output.split()))
    assert m, res.output
    assert 0 < float(m.group(1)) < 0.5
    assert "--dt auto" in res.output and "--dt-check warn" in res.output
    assert wall < 3.0


def _json(res):
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name, T", [("run", 2.0), ("wander", 10.0)])
def test_auto_takes_the_rule_step(name, T):
    """'auto': at most dt_max, divides T, and one step fewer would break the rule."""
    res = CliRunner().invoke(
        main,
        [*SMALL[name], "--dt", "auto", "--json", "-q", "--beta", "2" if name == "run" else "0.05"],
    )
    out = _json(res)
    if name == "wander":
        assert out["D_eff"][0] >= 0
        return
    dt, dt_max = out["dt"], max_step(Model(beta=2.0))
    n = round(T / dt)
    assert dt <= dt_max * (1 + 1e-12) and abs(n * dt - T) < 1e-12
    assert T / (n - 1) > dt_max


@pytest.mark.parametrize("name", ["memory", "bold", "collapse", "field2d", "phase", "figure"])
def test_auto_runs(name, tmp_path):
    res = _invoke([*SMALL[name], "--dt", "auto", "-q", "--json"], tmp_path)
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("name", list(SMALL))
def test_dt_check_warn_runs_flagged(name, tmp_path):
    with pytest.warns(StepSizeWarning, match=r"dt = 0\.2 exceeds the step-size rule"):
        res = _invoke([*SMALL[name], "--dt", "0.2", "--dt-check", "warn"], tmp_path)
    assert res.exit_code == 0, res.output


def test_figure2_refuses_the_step_options(tmp_path):
    res = _invoke(["figure", "2", "--dt-check", "warn"], tmp_path)
    assert res.exit_code == 2 and "--dt-check" in res.output and "analytic" in res.output


def test_auto_step_is_the_largest_common_step():
    rng = np.random.default_rng(1)
    for _ in range(200):
        lengths = rng.integers(1, 400, size=rng.integers(1, 4)) / rng.choice([1, 2, 4, 20, 100])
        dt_max = float(rng.uniform(1e-3, 0.3))
        h = auto_step(dt_max, *lengths)
        k = [x / h for x in lengths]
        assert h <= dt_max * (1 + 1e-12)
        assert all(abs(v - round(v)) < 1e-6 for v in k)
        g = math.gcd(*(round(x * 100) for x in lengths)) / 100  # the exact common unit
        assert abs(g / h - round(g / h)) < 1e-6
        assert round(g / h) == 1 or g / (round(g / h) - 1) > dt_max
    with pytest.raises(ValueError, match="common step"):
        auto_step(0.1, 1.0, math.sqrt(2))


def test_memory_auto_divides_the_cue_and_the_delay():
    from astrofield.applications.memory import working_memory

    model = Model(beta=3.0)  # dt_max well below 0.05
    ds = working_memory(model, 0.0, delay=1.5, N=32, dt="auto", cue_duration=0.75)
    dt, dt_max = ds.attrs["dt"], max_step(model)
    assert dt <= dt_max and dt > dt_max / 2
    for x in (0.75, 2.25):
        assert abs(x / dt - round(x / dt)) < 1e-9


def test_map_rule_uses_every_point_own_parameters():
    """The map's rule is the smallest dt_max over the simulated points, each with its own
    gamma (it used to take the largest beta at the default gamma)."""
    from astrofield.experiments.phase import map_step
    from astrofield.experiments.sweep import make_grid

    fixed = {"theta": 0.1, "beta": 0.05, "gamma": 2.0, "D": 0.7}
    grid = make_grid(["gamma=2,2000", "beta=0.05,0.5"], fixed, max_dims=2)
    each = min(
        max_step(Model(theta=0.1, beta=b, gamma=g)) for g in (2.0, 2000.0) for b in (0.05, 0.5)
    )
    assert each < 0.5 * max_step(Model(beta=0.5))  # the fast exchange sets the step here
    dt, info = map_step("auto", grid, 100.0)
    assert info["dt_max"] == pytest.approx(each, rel=1e-12)
    assert dt <= each and abs(0.5 / dt - round(0.5 / dt)) < 1e-9
    with pytest.raises(ValueError, match="allowed range"):
        map_step(0.1, grid, 100.0)


def test_the_cli_cue_duration_is_the_api_default():
    import inspect

    from astrofield.applications.memory import working_memory
    from astrofield.cli import apps

    assert (
        apps._CUE_DURATION == inspect.signature(working_memory).parameters["cue_duration"].default
    )


def test_defaults_read_from_the_source_equal_the_imported_ones():
    """api_default reads literal defaults from the source (no import: a refused --dt or --help
    stays fast); each must equal the value of the imported object."""
    import importlib

    from astrofield.cli._common import api_default, static_default

    checked = 0
    for cmd in main.commands.values():
        for p in cmd.params:
            d = p.default
            if not isinstance(d, api_default):
                continue
            mod, _, attr = d.target.partition(":")
            found, value = static_default(mod, attr, d.name)
            importlib.import_module(mod)
            if found:
                assert value == d(), (cmd.name, p.name, value, d())
                assert type(value) is type(d()), (cmd.name, p.name)
                checked += 1
    assert checked >= 40
