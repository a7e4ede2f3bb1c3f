"""Batched throughput and memory per point of the compiled loop (phase-map workload).

Run: ``python benchmarks/bench_batch.py`` (about a minute on a quiet 2-core machine) or
``--quick`` (seconds).

In one process:

1. throughput: ``B`` drift-experiment points (exact bump + shift, theta 0.1, gamma 2, random
   ``D`` in [0.001, 0.6] and ``beta`` in [0.001, 0.1] with a bump) at N 128, dt 0.05, T 500,
   frames every time unit, no early stopping, with ``backend="numba"`` (all cores); the numpy
   reference step on the same points over a shorter ``T`` gives the baseline cost per step
   (*extrapolated* to T 500, stated as such); medians of ``--repeat`` runs;
2. memory per point: ``tracemalloc`` peak of ``solve`` (phase-map settings, 501 frames,
   ``store_fields=False``) for growing ``B`` (large ``dt``: the memory does not depend on it),
   divided by ``B``; flat in ``B`` means no per-batch working copies.

Targets: >= 20 points per second at N 128, T 500 on 2 cores; <= 100 KB per point.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc

import numpy as np

import astrofield as af
from astrofield.theory.bump import bump_branches


def points(B: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    D = rng.uniform(0.001, 0.6, 4 * B)
    beta = rng.uniform(0.001, 0.1, 4 * B)
    ok = np.asarray(bump_branches(0.1, beta, 2.0)["wide"]["exists"], bool)
    return af.Model(theta=0.1, beta=beta[ok][:B], gamma=2.0, D=D[ok][:B])


def run(model, T, dt, N, backend):
    # dt_check off: the memory runs take a large step on purpose (memory does not depend on it)
    return af.solve(model, T=T, dt=dt, N=N, eps=0.05, store_fields=False,
                    sample_every=max(1, round(1.0 / dt)), progress=False, backend=backend,
                    dt_check="off")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--B", type=int, default=200)
    ap.add_argument("--N", type=int, default=128)
    ap.add_argument("--T", type=float, default=500.0)
    ap.add_argument("--dt", type=float, default=0.05)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.quick:
        args.B, args.T, args.repeat = 16, 20.0, 1
    m = points(args.B)
    run(points(2), 2.0, args.dt, args.N, "numba")  # load the compiled loop
    walls = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ds = run(m, args.T, args.dt, args.N, "numba")
        walls.append(time.perf_counter() - t0)
    wall = float(np.median(walls))
    n_steps = round(args.T / args.dt)
    T_np = min(args.T, 5.0)
    t0 = time.perf_counter()
    run(m, T_np, args.dt, args.N, "numpy")
    np_wall = (time.perf_counter() - t0) * args.T / T_np
    load = os.getloadavg()
    print(f"throughput N {args.N}, T {args.T:g}, dt {args.dt:g}, B {args.B}: numba "
          f"{args.B / wall:.1f} points/s ({wall:.2f} s, {wall / (args.B * n_steps) * 1e6:.2f} "
          f"us per member-step); numpy reference {args.B / np_wall:.2f} points/s "
          f"(EXTRAPOLATED from T {T_np:g}); ratio {np_wall / wall:.1f}x; load "
          f"{load[0]:.1f} (target >= 20 points/s)")
    assert np.all(np.isfinite(ds.drift.values))

    mem = {}
    for B in ([8, 32] if args.quick else [100, 400, 1600]):
        mb = points(B, seed=1)
        run(mb, 1.0, 0.5, args.N, "numba")
        tracemalloc.start()
        run(mb, args.T, 0.5, args.N, "numba")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        mem[B] = peak / B / 1024
        print(f"memory B {B}: peak {peak / 2**20:.1f} MiB = {mem[B]:.1f} KiB per point "
              f"(target <= 100)")
    print(json.dumps({"N": args.N, "T": args.T, "dt": args.dt, "B": args.B,
                      "numba_points_per_s": args.B / wall, "numba_wall_s": wall,
                      "numpy_points_per_s_extrapolated": args.B / np_wall,
                      "ratio_numba_over_numpy": np_wall / wall,
                      "kib_per_point": mem, "load": load}))


if __name__ == "__main__":
    main()
