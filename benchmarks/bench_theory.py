"""Cost of a stability-boundary curve: one vectorised call against a loop of scalar calls.

Run: ``python benchmarks/bench_theory.py`` (about 20 s; ``--quick`` for a smoke test).

In one process, medians of ``--repeat`` runs (the machine load ``os.getloadavg()`` is printed
with them), the curve ``beta*(D)`` at ``theta = 0.1``, ``gamma = 2`` over ``--n`` values of ``D``
in [0.001, 0.6] rad^2 per unit time (default 60; every crossing, full search range, 400-point
scan):

1. ``beta_star(0.1, 2.0, D_array)`` / ``boundary("beta", ..., D=D_array)``: all lines at once;
2. the loop ``[boundary("beta", ..., D=d) for d in D]`` (one scalar call per point).

Both must give the same crossings to 1e-12 relative (checked). Target: the vectorised curve in
at most 2 s on one core.

``--baseline-src OLD/src`` also times the vectorised curve with another checkout's code (for
example the commit before a change), in child processes alternating with this checkout's, wall
and CPU time, and checks that both give the same crossings (to the bit, or the largest
relative difference is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from astrofield.theory.stability import boundary

KW = {"theta": 0.1, "gamma": 2.0}


def _median_time(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def _child(n: int) -> None:
    """One timed vectorised curve (after a warm-up call); JSON on stdout."""
    D = np.linspace(0.001, 0.6, n)
    boundary("beta", D=0.3, **KW)
    t0, c0 = time.perf_counter(), time.process_time()
    r = boundary("beta", D=D, **KW)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"wall": wall, "cpu": cpu, "roots": np.where(np.isnan(r), -1.0, r).tolist()}))


def _alternate(srcs: dict[str, str], n: int, repeat: int) -> None:
    """Time the vectorised curve with each source tree in alternating child processes."""
    res: dict[str, list[dict]] = {k: [] for k in srcs}
    for _ in range(repeat):
        for name, src in srcs.items():
            env = {**os.environ, "PYTHONPATH": src}
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--n", str(n)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            res[name].append(json.loads(out.splitlines()[-1]))
    med = {
        k: {q: float(np.median([r[q] for r in v])) for q in ("wall", "cpu")} for k, v in res.items()
    }
    a, b = (np.array(res[k][0]["roots"]) for k in srcs)
    diff = 0.0 if np.array_equal(a, b) else float(np.max(np.abs(a - b) / np.abs(b)))
    print(f"load after:  {os.getloadavg()}")
    for k in srcs:
        print(
            f"  {k:9s} ({srcs[k]}): wall {med[k]['wall']:.2f} s, CPU {med[k]['cpu']:.2f} s "
            f"(median of {repeat}, alternated)"
        )
    print(
        f"  baseline / this: wall {med['baseline']['wall'] / med['this']['wall']:.2f}x, "
        f"CPU {med['baseline']['cpu'] / med['this']['cpu']:.2f}x; crossings "
        + ("identical to the bit" if diff == 0 else f"differ by {diff:.2e} relative at most")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="points on the curve")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="10 points, one repeat")
    ap.add_argument("--baseline-src", help="another checkout's src/ to time alternately")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    n, repeat = (10, 1) if a.quick else (a.n, a.repeat)
    if a.child:
        return _child(n)
    D = np.linspace(0.001, 0.6, n)
    boundary("beta", D=0.3, **KW)  # imports and first-call costs out of the timings
    print(f"load before: {os.getloadavg()}")
    t_vec, vec = _median_time(lambda: boundary("beta", D=D, **KW), repeat)
    t_loop, rows = _median_time(lambda: [boundary("beta", D=d, **KW) for d in D], repeat)
    print(f"load after:  {os.getloadavg()}")
    for row, r in zip(vec, rows, strict=True):
        assert np.array_equal(np.isnan(row[r.size :]), np.ones(row.size - r.size, bool))
        np.testing.assert_allclose(row[: r.size], r, rtol=1e-12, atol=0)
    print(
        f"{n}-point curve beta*(D), median of {repeat}: vectorised {t_vec:.2f} s, "
        f"scalar loop {t_loop:.2f} s, ratio {t_loop / t_vec:.1f}x "
        f"(target: vectorised <= 2 s); same crossings to 1e-12"
    )
    if a.baseline_src:
        here = str(Path(__file__).resolve().parents[1] / "src")
        _alternate({"baseline": a.baseline_src, "this": here}, n, repeat)


if __name__ == "__main__":
    main()
