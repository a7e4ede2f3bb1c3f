"""Adaptive against full phase maps of a model other than the paper's, in one process.

A (D, beta) map of the sigmoid model (steepness 20, gamma 2, T 300, N 64, dt 0.1) is computed
with ``sampling="full"`` and ``"adaptive"``, ``--repeat`` pairs taking turns. Reported: median
wall times (min-max) and their ratio, cells simulated, verdict agreement of the two maps, the
largest drift difference and the cells whose difference exceeds the adaptive map's reported
error (``drift_interp_error``), and the machine load before and after.

Both maps solve the numerical bump and spectrum of every cell (the full map for each cell's
start and verdict columns, the adaptive one for its seeds); the adaptive map reuses them for
the cells it simulates, in this process. This decides ``sampling="auto"`` for such models.

Usage::

    python benchmarks/bench_model_adaptive.py [--n 12] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np

from astrofield.experiments.phase import phase_diagram


def one_map(n: int, sampling: str):
    """``(wall s, dataset)`` of one map."""
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = phase_diagram([f"D=0.05:0.6:{n}", f"beta=0.005:0.1:{n}"], gamma=2.0, T=300.0,
                           N=64, dt=0.1, firing="sigmoid", steepness=20.0, sampling=sampling,
                           progress=False)
    return time.perf_counter() - t0, ds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=12, help="cells per axis")
    ap.add_argument("--repeat", type=int, default=1, help="pairs of maps")
    args = ap.parse_args()
    print(f"load before {os.getloadavg()}")
    walls: dict[str, list[float]] = {"full": [], "adaptive": []}
    maps = {}
    for r in range(args.repeat):
        for s in (("full", "adaptive") if r % 2 == 0 else ("adaptive", "full")):
            w, maps[s] = one_map(args.n, s)
            walls[s].append(w)
    full, ad = maps["full"], maps["adaptive"]
    gap = np.abs(ad["drift"].values - full["drift"].values)
    outside = int(np.sum(gap > ad["drift_interp_error"].values + 1e-9))
    med = {s: statistics.median(w) for s, w in walls.items()}
    for s, w in walls.items():
        print(f"{s:9s} {med[s]:.2f} s ({min(w):.2f}-{max(w):.2f})")
    print(f"{args.n} x {args.n} sigmoid map: adaptive/full {med['adaptive'] / med['full']:.2f}, "
          f"{int(ad['sampled'].sum())} of {args.n ** 2} cells simulated, verdicts equal "
          f"{float(np.mean(ad['verdict_code'].values == full['verdict_code'].values)):.4f}, "
          f"largest drift difference {np.nanmax(gap):.3g} rad, cells outside the estimate "
          f"{outside}")
    print(f"load after {os.getloadavg()}")


if __name__ == "__main__":
    main()
