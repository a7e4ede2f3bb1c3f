"""The first run after installing: fast on a cold numba cache, and it says what it does.

A cold cache is a fresh ``NUMBA_CACHE_DIR`` in a new process. ``astrofield run`` then runs a
small job on the numpy backend (one notice line on stderr) instead of compiling the time loop
for a minute; ``astrofield compile`` builds the loop (slow: ``-m slow``), after which the same
command runs on numba without a notice. The policy helpers are checked without compiling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import astrofield
from astrofield.simulator.backends import warm

SRC = str(Path(astrofield.__file__).resolve().parents[1])
SMALL = ["--N", "32", "--dt", "0.1", "--T", "20"]
NOTICE = "astrofield: the compiled time loop is not built yet"


def _env(cache: Path, **extra: str) -> dict[str, str]:
    """A new process's environment: this source tree, an own numba cache, the CLI's policy."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), ASTROFIELD_BACKGROUND_COMPILE="0",
               PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]), **extra)
    for name in ("ASTROFIELD_COLD_START", "ASTROFIELD_BACKEND", "TQDM_DISABLE"):
        if name not in extra:
            env.pop(name, None)
    return env


def _cli(args: list[str], env: dict[str, str], timeout: float = 600):
    proc = subprocess.run([sys.executable, "-m", "astrofield", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _python(code: str, env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _numba_drift() -> float:
    """Drift of the small job on the compiled loop (this process's cache)."""
    from astrofield import Model, simulate

    sol = simulate(Model(), N=32, dt=0.1, T=20.0, progress=False, backend="numba")
    return float(sol.values()["drift"])


def test_cold_cache_runs_a_small_job_on_numpy_with_a_notice(tmp_path):
    proc = _cli(["run", *SMALL, "-q", "--json"], _env(tmp_path))
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(NOTICE), proc.stderr
    assert "numpy backend" in lines[0]
    drift = json.loads(proc.stdout)["drift"]
    assert abs(drift - _numba_drift()) <= 1e-9
    # nothing was compiled: neither the loop nor (turned off for this run) the small kernels
    assert not list(tmp_path.rglob("*.nbi")), sorted(p.name for p in tmp_path.rglob("*"))


def test_policy_helpers_on_a_cold_cache(tmp_path):
    out = _python("""
        import json, warnings
        from astrofield.simulator.backends import warm, choose
        from astrofield.simulator import compiled
        res = {"loop": warm.loop_cached(), "serial": warm.loop_cached(False),
               "kernels": warm.kernels_cached(), "dir": warm.cache_dir()}
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            res["library"] = choose(None, size=(1, 256, 4000))  # default policy: compile
            with warm.cold_start("numpy"):
                res["named"] = choose("numba", size=(1, 256, 4000))
                res["big"] = choose(None, size=(64, 1024, 100000))
                res["small"] = choose(None, size=(1, 256, 4000))
                # the small kernels are off for the rest of the context (numpy fall-backs)
                res["enabled_inside"] = compiled.ENABLED
        res["enabled_after"] = compiled.ENABLED
        res["notices"] = [str(r.message) for r in rec]
        print(json.dumps(res))
    """, _env(tmp_path))
    assert not out["loop"] and not out["serial"] and not out["kernels"]
    assert out["dir"].startswith(str(tmp_path))
    assert out["library"] == "numba" and out["big"] == "numba" and out["named"] == "numba"
    assert out["small"] == "numpy"
    assert out["enabled_inside"] is False and out["enabled_after"] is True
    assert len(out["notices"]) == 1 and "about 4 s" in out["notices"][0]


def test_environment_overrides_the_policy(tmp_path):
    env = _env(tmp_path, ASTROFIELD_COLD_START="compile")
    code = """
        import json
        from astrofield.simulator.backends import warm, choose
        with warm.cold_start("numpy"):
            print(json.dumps({"backend": choose(None, size=(1, 32, 200))}))
    """
    assert _python(code, env)["backend"] == "numba"
    assert _python(code, _env(tmp_path, ASTROFIELD_BACKEND="numpy"))["backend"] == "numpy"
    with pytest.raises(ValueError, match="policy"):
        with warm.cold_start("sometimes"):
            pass


def test_numpy_estimate_of_the_default_run():
    assert 2.0 < warm.numpy_seconds(1, 256, 4000) < warm.COLD_NUMPY_SECONDS
    assert warm.numpy_seconds(64, 1024, 4000) > warm.COLD_NUMPY_SECONDS


def test_ready_says_so_before_compiling(tmp_path):
    """:func:`warm.ready` on a cached function of a small module: a notice only when it
    compiles (first process), none when the cache holds it (second)."""
    (tmp_path / "tiny_mod.py").write_text(textwrap.dedent("""
        from numba import njit

        @njit(cache=True)
        def twice(x):
            return 2.0 * x
    """))
    env = _env(tmp_path / "cache")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    code = """
        import json, warnings
        from astrofield.simulator.backends import warm
        import tiny_mod
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            before = warm._cached(tiny_mod.twice)
            warm.ready(tiny_mod.twice, (1.5,))
            warm.ready(tiny_mod.twice, (2.5,))
        print(json.dumps({"before": before, "value": tiny_mod.twice(1.5),
                          "notices": [str(r.message) for r in rec]}))
    """
    first, second = _python(code, env), _python(code, env)
    assert not first["before"] and len(first["notices"]) == 1
    assert first["notices"][0].startswith("compiling the time loop once")
    assert second["before"] and second["notices"] == [] and second["value"] == 3.0


def test_background_compile_is_started_once(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(warm, "cache_dir", lambda: str(tmp_path))
    monkeypatch.setattr(warm.subprocess, "Popen", lambda argv, **kw: started.append((argv, kw)))
    monkeypatch.setenv("ASTROFIELD_BACKGROUND_COMPILE", "0")
    assert not warm.start_background_compile() and not started
    monkeypatch.setenv("ASTROFIELD_BACKGROUND_COMPILE", "1")
    assert warm.start_background_compile()
    lock = tmp_path / "astrofield-compile.lock"
    assert lock.is_file() and len(started) == 1
    argv, kw = started[0]
    assert argv[1:] == ["-m", "astrofield", "compile", "-q", "--background"]
    assert kw["env"]["ASTROFIELD_COMPILE_LOCK"] == str(lock) and kw["start_new_session"]
    assert kw["env"]["PYTHONPATH"].split(os.pathsep)[0] == SRC
    assert not warm.start_background_compile() and len(started) == 1  # one is running
    old = time.time() - warm.LOCK_STALE_S - 10
    os.utime(lock, (old, old))
    assert warm.start_background_compile() and len(started) == 2  # a stale lock is replaced


@pytest.mark.slow
def test_compile_command_then_a_warm_run(tmp_path):
    """`astrofield compile` on a cold cache compiles every group; afterwards the loop is cached
    for a new process, `run` uses it without a notice, and a second compile only loads."""
    env = _env(tmp_path)
    first = json.loads(_cli(["compile", "--json"], env, timeout=1200).stdout)
    assert [g["action"] for g in first["groups"]] == ["compiled"] * 3 and first["cached"]
    assert _python("""
        import json
        from astrofield.simulator.backends import warm
        print(json.dumps({"loop": warm.loop_cached(), "kernels": warm.kernels_cached()}))
    """, env) == {"loop": True, "kernels": True}
    proc = _cli(["run", *SMALL, "-q", "--json"], env)
    assert proc.stderr.strip() == ""
    assert json.loads(proc.stdout)["drift"] == pytest.approx(_numba_drift(), abs=1e-12)
    again = json.loads(_cli(["compile", "--json"], env).stdout)
    assert [g["action"] for g in again["groups"]] == ["loaded"] * 3
    assert np.isfinite(again["wall_s"]) and again["wall_s"] < first["wall_s"]
