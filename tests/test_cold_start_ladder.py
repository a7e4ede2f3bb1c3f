"""The cold-start notice of ``astrofield run`` and the step ladder of ``solve``.

On a cold numba cache the command line runs a small job on the numpy backend with one notice
line. The job's companion run (the resolution check) and, where the check fails, the step
ladder's levels at dt / 2, dt / 4 belong to its cost: the notice states the first level with
its companion and the cost if every level is climbed, each climbed level is announced before
it starts, and the companion and the levels stay on numpy (nothing is compiled in the
foreground). The estimates are checked against the cost model applied to the runs that
``solve`` actually performs (recorded from the numpy backend), not against copied numbers.

A cold cache is simulated in-process by ``warm.loop_cached`` returning ``False``; a climb is
forced cheaply by a companion check that always disagrees (the physics of a real climb is in
``tests/test_step_ladder.py``); one test runs the command line in a new process with an empty
numba cache.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import astrofield
from astrofield import Model, simulate
from astrofield.simulator import integrator
from astrofield.simulator.backends import BackendNotice, choose, warm

SRC = str(Path(astrofield.__file__).resolve().parents[1])
SMALL = dict(N=32, dt=0.1, T=20.0, n_frames=3, progress=False)
COLD = "the compiled time loop is not built yet"
CLIMB = "the resolution check failed"


def _seconds(text: str, before: str) -> float:
    """The number in ``about X s`` that ends at the words ``before`` (e.g. ``if the check``)."""
    found = re.findall(r"about ([0-9.]+) s " + re.escape(before), text)
    assert len(found) == 1, text
    return float(found[0])


def _close(shown: float, expected: float) -> bool:
    """``shown`` is ``expected`` rounded for the notice (whole seconds, or one digit < 1 s)."""
    return abs(shown - expected) <= (0.5 if expected >= 1.0 else 0.05 + 0.1 * expected)


@pytest.fixture
def cold(monkeypatch):
    """The command line's policy on a cold cache, in this process (no background compile)."""
    monkeypatch.setenv("ASTROFIELD_COLD_START", "numpy")
    monkeypatch.setenv("ASTROFIELD_BACKGROUND_COMPILE", "0")
    monkeypatch.delenv("ASTROFIELD_BACKEND", raising=False)
    monkeypatch.setattr(warm, "loop_cached", lambda parallel=None: False)


@pytest.fixture
def recorded(monkeypatch):
    """Events in order: ``("run", B, N, steps, dt)`` per numpy-backend run and
    ``("notice", text)`` per BackendNotice; numba runs raise (nothing may compile)."""
    events: list[tuple] = []
    numpy_run = integrator.integrate_numpy

    def integrate(run):
        events.append(("run", run.sim.B, run.sim.ring.N, run.n_steps, run.dt))
        numpy_run(run)

    def no_numba(run):
        raise AssertionError("a run went to the numba backend")

    monkeypatch.setattr(integrator, "integrate_numpy", integrate)
    monkeypatch.setattr("astrofield.simulator.backends.numba_backend.integrate", no_numba)

    def show(message, category, *args, **kw):
        if issubclass(category, BackendNotice):
            events.append(("notice", str(message)))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield events


def _force_climbs(monkeypatch):
    """Every companion check disagrees: the ladder climbs as far as it may."""
    monkeypatch.setattr(
        integrator, "companion_check", lambda drift, drift_c: np.zeros(np.shape(drift), bool)
    )


def _levels(events: list[tuple]) -> list[list[tuple]]:
    """The runs grouped by level: a level is a run and its companion (two runs in a row)."""
    runs = [e for e in events if e[0] == "run"]
    assert len(runs) % 2 == 0, events
    return [runs[i : i + 2] for i in range(0, len(runs), 2)]


def _cost(level: list[tuple]) -> float:
    """The cost model applied to the runs a level actually made."""
    return sum(warm.numpy_seconds(B, N, steps) for _, B, N, steps, _ in level)


def test_level_estimate_doubles_per_level():
    """Each level of the estimate is the run at dt / 2**k plus its companion at
    (N / 2, dt / 2**(k - 1)), so it costs twice the one before (the model is linear in the
    steps; exactly so for an even number of steps)."""
    for B, N, steps in [(1, 256, 10000), (3, 96, 4001), (2, 30, 7), (1, 17, 1)]:
        costs = warm.ladder_seconds(B, N, steps, companion=True, refine_levels=3)
        assert len(costs) == 4
        n_c = N // 2 if N % 2 == 0 and N // 2 >= 16 else N
        for k in range(1, 4):
            run_k = warm.numpy_seconds(B, N, steps * 2**k)
            assert costs[k] == pytest.approx(
                run_k + warm.numpy_seconds(B, n_c, steps * 2 ** (k - 1))
            )
            if steps % 2 == 0:  # odd steps: the companion has (steps - 1) / 2, one less
                assert costs[k] == pytest.approx(2 * costs[k - 1], rel=1e-12)
        alone = warm.ladder_seconds(B, N, steps, companion=False, refine_levels=3)
        assert alone[0] == pytest.approx(warm.numpy_seconds(B, N, steps))
        assert all(a < c for a, c in zip(alone, costs, strict=True))


@pytest.mark.parametrize("levels, words", [(0, None), (1, "once"), (2, "twice"), (4, "4 times")])
def test_notice_states_the_worst_case_of_the_ladder(cold, levels, words):
    """The slip point's size (N 256, 10000 steps): the first level with its companion, and the
    sum over the levels where the ladder may climb; nothing about halving without levels."""
    size = (1, 256, 10000)
    with pytest.warns(BackendNotice, match=COLD) as rec:
        assert choose(None, size=size, companion=True, refine_levels=levels) == "numpy"
    (text,) = [str(w.message) for w in rec if COLD in str(w.message)]
    first = warm.numpy_seconds(1, 256, 10000) + warm.numpy_seconds(1, 128, 5000)
    assert _close(_seconds(text, "including its resolution check"), first)
    if words is None:
        assert "halves" not in text and "up to" not in text
    else:
        worst = sum(first * 2**k for k in range(levels + 1))
        assert _close(_seconds(text, f"if the check halves the step {words}"), worst)
    with pytest.warns(BackendNotice, match=COLD) as rec:  # noise: no companion, no ladder
        choose(None, size=size, companion=False, refine_levels=0, noise=True)
    (alone,) = [str(w.message) for w in rec if COLD in str(w.message)]
    assert "resolution check" not in alone and "halves" not in alone
    assert _close(
        float(re.findall(r"about ([0-9.]+) s\)", alone)[0]), warm.numpy_seconds(1, 256, 10000)
    )


def test_choice_uses_the_first_level_with_its_companion(cold):
    """Numpy while the first level (run and companion) is within COLD_NUMPY_SECONDS, whatever
    the ladder's worst case; compile beyond it."""
    steps = 12000  # run 12.6 s, companion 6.2 s: 18.8 s in all, worst case 132 s
    first = warm.ladder_seconds(1, 256, steps)[0]
    assert warm.numpy_seconds(1, 256, steps) < first < warm.COLD_NUMPY_SECONDS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert choose(None, size=(1, 256, steps), companion=True, refine_levels=2) == "numpy"
        # alone the run would fit, with its companion it does not: compile
        steps = 15000
        assert warm.numpy_seconds(1, 256, steps) < warm.COLD_NUMPY_SECONDS
        assert warm.ladder_seconds(1, 256, steps)[0] > warm.COLD_NUMPY_SECONDS
        assert choose(None, size=(1, 256, steps), companion=True, refine_levels=2) == "numba"
        assert choose(None, size=(1, 256, steps), companion=False, noise=True) == "numpy"


def test_climbs_on_numpy_are_announced_before_each_level(cold, recorded, monkeypatch):
    """A job that climbs twice: one cold-start notice first, then before each level one notice
    with its step and its estimate, which is the cost model of the runs that level made (twice
    the level before); every run (companions included) on numpy."""
    _force_climbs(monkeypatch)
    sol = simulate(Model(), **SMALL)
    assert sol.attrs["refine_level"] == 2 and sol.attrs["backend"] == "numpy"
    notices = [e for e in recorded if e[0] == "notice"]
    assert len(notices) == 3 and COLD in notices[0][1] and recorded[0] == notices[0]
    levels = _levels(recorded)
    assert len(levels) == 3
    first, worst = _cost(levels[0]), sum(_cost(lv) for lv in levels)
    assert _close(_seconds(notices[0][1], "including its resolution check"), first)
    assert _close(_seconds(notices[0][1], "if the check halves the step twice"), worst)
    for k in (1, 2):
        text = notices[k][1]
        assert text.startswith(CLIMB) and f"level {k} of 2" in text
        at = recorded.index(notices[k])
        assert recorded[at + 1] == levels[k][0]  # the notice comes right before its level
        run_dt = levels[k][0][4]
        assert run_dt == pytest.approx(SMALL["dt"] / 2**k) and f"dt = {run_dt:g} " in text
        assert _close(_seconds(text, "including its resolution check"), _cost(levels[k]))
        assert _cost(levels[k]) == pytest.approx(2 * _cost(levels[k - 1]))


def test_no_climb_notice_without_a_climb_or_outside_the_policy(cold, recorded, monkeypatch):
    """The job's check passes: the cold-start notice only. ``refine_levels=0``: no worst case.
    The library's default policy with ``backend="numpy"``: no notice while it climbs."""
    simulate(Model(), **SMALL)
    assert [e[1][: len(COLD)] for e in recorded if e[0] == "notice"] == [COLD]
    recorded.clear()
    _force_climbs(monkeypatch)
    sol = simulate(Model(), refine_levels=0, **SMALL)
    notices = [e[1] for e in recorded if e[0] == "notice"]
    assert sol.attrs["refine_level"] == 0 and len(notices) == 1 and "halves" not in notices[0]
    recorded.clear()
    monkeypatch.setenv("ASTROFIELD_COLD_START", "compile")
    sol = simulate(Model(), backend="numpy", **SMALL)
    assert sol.attrs["refine_level"] == 2
    assert [e for e in recorded if e[0] == "notice"] == []


def test_cli_on_a_cold_cache_announces_the_climbs_and_compiles_nothing(tmp_path):
    """``astrofield run`` in a new process with an empty numba cache and a forced climb: the
    notice, then one line per level on stderr in that order, and no compiled file in the
    cache (the companions and the levels stayed on numpy)."""
    env = dict(
        os.environ,
        NUMBA_CACHE_DIR=str(tmp_path),
        ASTROFIELD_BACKGROUND_COMPILE="0",
        PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
    )
    for name in ("ASTROFIELD_COLD_START", "ASTROFIELD_BACKEND", "TQDM_DISABLE"):
        env.pop(name, None)
    code = textwrap.dedent("""
        import numpy as np
        from astrofield.cli import main
        from astrofield.simulator import integrator
        integrator.companion_check = lambda d, dc: np.zeros(np.shape(d), bool)
        main(["run", "--N", "32", "--dt", "0.1", "--T", "20", "-q", "--json"],
             standalone_mode=False)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3, proc.stderr
    assert lines[0].startswith(f"astrofield: {COLD}") and "halves the step twice" in lines[0]
    for k, line in enumerate(lines[1:], start=1):
        assert line.startswith(f"astrofield: {CLIMB}") and f"level {k} of 2" in line
    out = json.loads(proc.stdout)
    assert (out["refine_level"], out["dt"], out["dt_requested"]) == (2, 0.025, 0.1)
    assert not list(tmp_path.rglob("*.nbi")), sorted(p.name for p in tmp_path.rglob("*"))


def test_ladder_takes_an_integral_float_for_its_levels(monkeypatch):
    """``refine_levels=2.0`` is accepted as 2 (as before the ladder became a loop)."""
    _force_climbs(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = simulate(Model(), backend="numpy", refine_levels=2.0, **SMALL)
    assert sol.attrs["refine_level"] == 2 and sol.attrs["dt"] == pytest.approx(0.025)
