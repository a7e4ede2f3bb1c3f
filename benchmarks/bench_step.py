"""Cost of one compiled time step for a single member, against the numpy reference step.

For each ``N`` runs ``solve(Model(), T, dt=0.25, N=N, dt_check="off")`` (Figure 7 parameters, one
member, no frames but the default ones) with the numba backend on one thread and with the numpy
backend, and prints the CPU time per step (``time.process_time``, median of ``--repeat`` runs,
with the range) and their ratio. Run it with ``NUMBA_NUM_THREADS=1`` for the single-core figure::

    NUMBA_NUM_THREADS=1 python benchmarks/bench_step.py
    NUMBA_NUM_THREADS=1 python benchmarks/bench_step.py --quick
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from astrofield import Model
from astrofield.simulator.integrator import solve


def cpu_per_step(N: int, T: float, backend: str, repeat: int) -> list[float]:
    kw = dict(T=T, dt=0.25, N=N, dt_check="off", progress=False, backend=backend)
    solve(Model(), **{**kw, "T": 1.0})  # compile / load the cache
    out = []
    for _ in range(repeat):
        t0 = time.process_time()
        solve(Model(), **kw)
        out.append((time.process_time() - t0) / (T / 0.25))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--T", type=float, default=2000.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.N, args.T, args.repeat = [32], 100.0, 2
    print(f"threads {os.environ.get('NUMBA_NUM_THREADS', 'all')}, load "
          f"{os.getloadavg()[0]:.2f}")
    for N in args.N:
        fast = cpu_per_step(N, args.T, "numba", args.repeat)
        ref = cpu_per_step(N, min(args.T, 200.0), "numpy", max(1, args.repeat // 2))
        print(f"N {N:4d}: numba {np.median(fast) * 1e6:6.2f} us per step "
              f"({min(fast) * 1e6:.2f}-{max(fast) * 1e6:.2f}), numpy "
              f"{np.median(ref) * 1e6:7.1f} us, ratio {np.median(ref) / np.median(fast):.0f}x")
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
