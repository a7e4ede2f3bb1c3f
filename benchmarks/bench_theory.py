"""Cost of a stability-boundary curve: one vectorised call against a loop of scalar calls.

Run: ``python benchmarks/bench_theory.py`` (about a minute; ``--quick`` for a smoke test).

In one process, medians of ``--repeat`` runs (the machine load ``os.getloadavg()`` is printed
with them), the curve ``beta*(D)`` at ``theta = 0.1``, ``gamma = 2`` over ``--n`` values of ``D``
in [0.001, 0.6] rad^2 per unit time (default 60; every crossing, full search range, 400-point
scan):

1. ``beta_star(0.1, 2.0, D_array)`` / ``boundary("beta", ..., D=D_array)``: all lines at once;
2. the loop ``[boundary("beta", ..., D=d) for d in D]`` (one scalar call per point).

Both must give the same crossings to 1e-12 relative (checked). Target: the vectorised curve in
at most 2 s on one core.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from astrofield.theory.stability import boundary


def _median_time(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="points on the curve")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="10 points, one repeat")
    a = ap.parse_args()
    n, repeat = (10, 1) if a.quick else (a.n, a.repeat)
    D = np.linspace(0.001, 0.6, n)
    kw = {"theta": 0.1, "gamma": 2.0}
    boundary("beta", D=0.3, **kw)  # imports and first-call costs out of the timings
    print(f"load before: {os.getloadavg()}")
    t_vec, vec = _median_time(lambda: boundary("beta", D=D, **kw), repeat)
    t_loop, rows = _median_time(lambda: [boundary("beta", D=d, **kw) for d in D], repeat)
    print(f"load after:  {os.getloadavg()}")
    for row, r in zip(vec, rows, strict=True):
        assert np.array_equal(np.isnan(row[r.size:]), np.ones(row.size - r.size, bool))
        np.testing.assert_allclose(row[:r.size], r, rtol=1e-12, atol=0)
    print(f"{n}-point curve beta*(D), median of {repeat}: vectorised {t_vec:.2f} s, "
          f"scalar loop {t_loop:.2f} s, ratio {t_loop / t_vec:.1f}x "
          f"(target: vectorised <= 2 s); same crossings to 1e-12")


if __name__ == "__main__":
    main()
