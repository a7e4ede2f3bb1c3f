"""Start-up time of the command line: ``astrofield run`` as a whole process, warm cache.

Run: ``python benchmarks/bench_startup.py`` (about a minute; ``--quick`` for a smoke test).

Method: each command is started as a new process ``--repeat`` times (default 8) after one untimed
warm-up run (which fills numba's cache if it is empty); for every run the wall time (start to
exit) and the CPU time of the child (user + sys, from ``RUSAGE_CHILDREN``) are recorded, and the
medians and ranges are printed with the machine load (``os.getloadavg()``) before and after. CPU
time is the reliable number on a shared machine: wall time grows with the load, CPU time hardly
does.

Warm means numba's cache and Python's bytecode cache (``__pycache__``) are filled: the measured
processes run without ``PYTHONDONTWRITEBYTECODE``, whatever this shell sets, since an installed
package has its bytecode compiled (recompiling astrofield's sources costs about 0.05-0.1 s a run).

The command is the installed ``astrofield`` console script next to this Python (not a shell
shim), else ``python -m astrofield``. ``--src DIR [DIR ...]`` measures the same command with each
source tree first on ``PYTHONPATH`` (e.g. ``--src /path/old/src /path/new/src``), *interleaved*
(old, new, old, new, ...) so that both see the same load, and checks that every tree prints the
same JSON result (apart from ``wall_s``).

Target: ``astrofield run --N 32 --dt 0.1 -q --json`` in under 2 s of wall time (warm cache).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RUN = ["run", "--N", "32", "--dt", "0.1", "-q", "--json"]
HELP = ["--help"]
TARGET_S = 2.0


def command() -> list[str]:
    """The ``astrofield`` console script of this Python, else ``python -m astrofield``."""
    script = Path(sys.executable).parent / "astrofield"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "astrofield"]


def env_for(src: str | None) -> dict[str, str]:
    """The measured processes' environment: ``src`` first on ``PYTHONPATH``, and bytecode
    caching on (as for an installed package; the warm-up run writes the ``.pyc`` files)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """``(wall s, CPU s = user + sys, stdout)`` of one process running ``argv`` (its CPU time
    is the change of this process's ``RUSAGE_CHILDREN`` over the run)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()  # waits for the child: its usage is then counted
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.decode()


def which_astrofield(env: dict[str, str]) -> str:
    """The ``astrofield`` package file the measured processes import."""
    out = subprocess.run([sys.executable, "-c", "import astrofield; print(astrofield.__file__)"],
                         env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def stats(values: list[float]) -> str:
    return f"median {np.median(values):.2f} s (range {min(values):.2f}-{max(values):.2f})"


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def result_of(stdout: str) -> dict:
    """The JSON summary without its timing (to compare source trees)."""
    res = json.loads(stdout.strip().splitlines()[-1])
    res.pop("wall_s", None)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", "-R", type=int, default=8, help="timed runs per command")
    ap.add_argument("--src", nargs="+", default=[None], metavar="DIR",
                    help="source trees to put first on PYTHONPATH, measured interleaved")
    ap.add_argument("--quick", action="store_true", help="2 runs each (smoke test)")
    args = ap.parse_args()
    R = 2 if args.quick else args.repeat
    if R < 1:
        raise SystemExit(f"--repeat = {R} is outside the allowed range [1, inf)")
    base = command()
    envs = {src or "installed": env_for(src) for src in args.src}
    print(f"astrofield start-up: whole process, warm cache, {R} runs per command, "
          f"{' '.join(base)}; load before {load()}")
    for label, env in envs.items():
        print(f"  [{label}] imports {which_astrofield(env)}")
        measure(base + RUN, env)  # warm-up: fills numba's cache if empty, not timed
    times = {(label, name): ([], []) for label in envs for name in ("run", "help")}
    results: dict[str, dict] = {}
    for _ in range(R):  # interleaved: every tree sees the same load
        for label, env in envs.items():
            for name, extra in (("run", RUN), ("help", HELP)):
                wall, cpu, out = measure(base + extra, env)
                times[label, name][0].append(wall)
                times[label, name][1].append(cpu)
                if name == "run":
                    results[label] = result_of(out)
    for (label, name), (wall, cpu) in times.items():
        cmd = " ".join(["astrofield"] + (RUN if name == "run" else HELP))
        print(f"  [{label}] {cmd}: wall {stats(wall)}; CPU user+sys {stats(cpu)}")
    print(f"load after {load()}")
    if len(results) > 1:
        same = all(r == next(iter(results.values())) for r in results.values())
        print(f"JSON results identical across source trees: {same}")
    for label in envs:
        med = float(np.median(times[label, "run"][0]))
        verdict = "met" if med < TARGET_S else "NOT met"
        print(f"target: astrofield run {' '.join(RUN[1:])} < {TARGET_S:g} s wall (warm): "
              f"[{label}] {verdict} (median {med:.2f} s; CPU median "
              f"{np.median(times[label, 'run'][1]):.2f} s)")


if __name__ == "__main__":
    main()
