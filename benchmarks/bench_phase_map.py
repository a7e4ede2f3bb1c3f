"""Benchmark: the full 50 x 50 (D, beta) drift phase map against its targets.

Targets: D in [0.001, 0.6], beta in [0.001, 0.1], gamma 2, theta 0.1, T 500, with the
``astrofield phase`` defaults, at most 30 s on a 2-core machine, everything included (start of
the executor, analytic columns, merge, store); verdicts agree with the Evans boundary on >= 99 % of
cells and every disagreement lies next to the boundary (the drift accuracy of the travelling
points is checked by ``phase_accuracy.py``); memory a few hundred MB at most.

Prints, from one run: wall time, agreement, disagreements and how many touch the boundary (a cell
whose 8-neighbourhood contains the other Evans verdict), peak memory (driver and workers, from
``resource.getrusage``; with ``--trace-memory`` also the driver's Python allocations from
``tracemalloc``), the cost per point of
the published scheme (``benchmarks/published_scheme.py`` at N = 3000, dt = 0.01, timed on a few
points over a short T and extrapolated to T = 500) and the ratio of the two costs per point.

Usage::

    python benchmarks/bench_phase_map.py            # full 50 x 50, T = 500 (~ a few minutes)
    python benchmarks/bench_phase_map.py --quick    # 8 x 8, T = 100 smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from published_scheme import run_published  # noqa: E402

from astrofield.experiments.phase import DEFAULTS, phase_diagram, summarize  # noqa: E402


def boundary_cells(stable: np.ndarray) -> np.ndarray:
    """Cells with a cell of the other verdict among their 8 neighbours."""
    s = stable.astype(bool)
    out = np.zeros_like(s)
    padded = np.pad(s, 1, mode="edge")
    n0, n1 = s.shape
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            nb = padded[1 + di: 1 + di + n0, 1 + dj: 1 + dj + n1]
            out |= nb != s
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 x 8 grid, T = 100")
    ap.add_argument("--n", type=int, default=None, help="grid points per axis (default 50)")
    ap.add_argument("--T", type=float, default=None)
    ap.add_argument("--N", type=int, default=DEFAULTS["N"])
    ap.add_argument("--dt", type=float, default=DEFAULTS["dt"])
    ap.add_argument("--chunk-size", type=int, default=DEFAULTS["chunk_size"])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-early-stop", action="store_true")
    ap.add_argument("--error-control", default="auto", choices=["auto", "on", "off"],
                    help="error control of the drift (Richardson extrapolation of every point "
                    "from two resolutions, refinement next to the boundary)")
    ap.add_argument("--refine-tol", type=float, default=DEFAULTS["refine_tol"])
    ap.add_argument("--executor", default="threads", choices=["threads", "local", "serial"],
                    help="threads (the CLI default): one chunk per core on threads of this "
                    "process; local: one dask worker process per core; serial: in this "
                    "process, one chunk at a time, the compiled loop spreading it over the cores")
    ap.add_argument("--backend", default=None, help="solve backend (default: numba)")
    ap.add_argument("--trace-memory", action="store_true",
                    help="also record the driver's Python allocations with tracemalloc (slows "
                    "the in-process executor down several times: not for timing)")
    ap.add_argument("--published-points", type=int, default=3)
    ap.add_argument("--published-T", type=float, default=None)
    ap.add_argument("-o", "--output", default=None, help="NetCDF of the map (default: temp)")
    args = ap.parse_args()
    n = args.n or (8 if args.quick else 50)
    T = args.T or (100.0 if args.quick else 500.0)
    T_pub = args.published_T or (1.0 if args.quick else 5.0)
    out = args.output or os.path.join(tempfile.mkdtemp(prefix="bench_phase_"), "map.nc")

    if args.trace_memory:  # tracemalloc slows every allocation of this process: off by default
        tracemalloc.start()
    t0 = time.perf_counter()
    ds = phase_diagram([f"D=0.001:0.6:{n}", f"beta=0.001:0.1:{n}"], theta=0.1, gamma=2.0, T=T,
                       N=args.N, dt=args.dt, early_stop=not args.no_early_stop,
                       chunk_size=args.chunk_size, executor=args.executor,
                       workers=args.workers, store=out, progress=True, backend=args.backend,
                       error_control={"auto": None, "on": True, "off": False}[args.error_control],
                       refine_tol=args.refine_tol, sampling="full")
    wall = time.perf_counter() - t0
    _, py_peak = tracemalloc.get_traced_memory() if args.trace_memory else (0, float("nan"))
    tracemalloc.stop()
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB (Linux: KiB)
    rss_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    s = summarize(ds)
    stable_num = ds["verdict_code"].transpose("D", "beta").values == 0
    evans = ds["evans_stable"].transpose("D", "beta").values.astype(bool)
    dis = stable_num != evans
    near = boundary_cells(evans)

    # published scheme: a few points (stable and unstable), short T, extrapolated to T
    D_pub = np.linspace(0.1, 0.6, args.published_points)
    b_pub = np.linspace(0.01, 0.08, args.published_points)
    per_step = []
    for Dp, bp in zip(D_pub, b_pub, strict=True):
        r = run_published(0.1, float(bp), 2.0, float(Dp), N=3000, dt=0.01, T=T_pub)
        per_step.append(r["s_per_step"])
    pub_per_point = float(np.mean(per_step)) * round(T / 0.01)
    ours_per_point = wall / s["points"]
    res = {
        "grid": f"{n}x{n}", "T": T, "N": args.N, "dt": args.dt, "chunk_size": args.chunk_size,
        "workers": args.workers, "early_stop": not args.no_early_stop,
        "executor": args.executor, "backend": args.backend or "default",
        "load": os.getloadavg(),
        "wall_s": wall, "target_wall_s": 30.0,
        "agreement": s["agreement"], "fourier_agreement": s["fourier_agreement"],
        "n_disagree": int(dis.sum()), "n_disagree_next_to_boundary": int((dis & near).sum()),
        "n_unstable": s["n_unstable"], "n_stable": s["n_stable"],
        "n_decided_early": s["n_decided_early"],
        "simulated_time_fraction": s["simulated_time_fraction"],
        "peak_rss_driver_MB": rss_self, "peak_rss_worker_MB": rss_child,
        "tracemalloc_peak_driver_MB": py_peak / 2**20,
        "published_s_per_point_T": pub_per_point,
        "published_measured_T": T_pub, "published_points": args.published_points,
        "ours_s_per_point_wall": ours_per_point,
        "ours_core_s_per_point": ours_per_point * args.workers,
        "speedup_per_point_wall": pub_per_point / ours_per_point,
        "speedup_per_point_core": pub_per_point / (ours_per_point * args.workers),
        "output": out,
    }
    print(json.dumps(res, indent=1))
    print(f"\nwall {wall:.1f} s (target 30 s, ratio {wall / 30:.2f}); agreement "
          f"{s['agreement']:.4f} (target 0.99); disagreements {int(dis.sum())}, next to the "
          f"boundary {int((dis & near).sum())}; peak RSS driver {rss_self:.0f} MB, worker "
          f"{rss_child:.0f} MB; published scheme {pub_per_point:.2f} s/point vs ours "
          f"{ours_per_point:.3f} s/point (wall) -> ratio {pub_per_point / ours_per_point:.0f}x "
          f"({pub_per_point / (ours_per_point * args.workers):.0f}x per core)")


if __name__ == "__main__":
    main()
