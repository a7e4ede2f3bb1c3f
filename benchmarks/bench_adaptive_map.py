"""Benchmark: the adaptive drift phase map side by side with the full map, in one process.

The map of issue 23: D in [0.001, 0.6], beta in [0.001, 0.1] (50 x 50 by default), gamma 2,
theta 0.1, T 500, the ``astrofield phase`` defaults otherwise. Targets: adaptive in at most 10 s on
2 cores, verdict agreement with the Evans map >= 0.99, and the drift at T of every cell within
the adaptive map's reported error estimate (``drift_interp_error``) of the full map's value.

Prints, for the full and the adaptive map (run one after the other in this process, after a
warm-up that compiles the time loop): wall time, points simulated, verdict agreement with the
Evans map and with the full map, the largest drift difference over all cells, the number of cells
outside the reported error estimate, and the machine load (``os.getloadavg()``) before and after
each map. The main figure is the ratio of the wall times (the machine may be shared: absolute
times vary with its load); the ratio of the process's CPU times (all threads) is reported too: it
measures the work, which a loaded machine changes less, but not the cores left idle.

Usage::

    python benchmarks/bench_adaptive_map.py                 # 50 x 50, T 500
    python benchmarks/bench_adaptive_map.py --n 250         # 250 x 250
    python benchmarks/bench_adaptive_map.py --quick         # 12 x 12, T 150 smoke test
    python benchmarks/bench_adaptive_map.py --no-full       # adaptive only (no comparison)
    python benchmarks/bench_adaptive_map.py --repeat 3      # 3 pairs, medians of the times
                                                            # and of the pairs' ratios
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from astrofield.experiments.adaptive import ADAPTIVE_DEFAULTS
from astrofield.experiments.phase import phase_diagram, summarize


def _timed(label: str, **kw) -> tuple[object, dict]:
    load0 = os.getloadavg()
    t0, c0 = time.perf_counter(), time.process_time()
    ds = phase_diagram(**kw)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    info = {"wall_s": wall, "cpu_s": cpu, "load_before": load0, "load_after": os.getloadavg()}
    print(f"{label}: {wall:.1f} s, CPU {cpu:.1f} s (load {load0[0]:.1f} -> "
          f"{info['load_after'][0]:.1f})", flush=True)
    return ds, info


def compare(full, ad) -> dict:
    """Agreement and drift differences of the adaptive map ``ad`` with the full map."""
    d = np.abs(ad["drift"].values - full["drift"].values)
    err = ad["drift_interp_error"].values
    fin = np.isfinite(full["drift"].values)
    both = fin & np.isfinite(ad["drift"].values)
    interp = both & ~ad["sampled"].values.astype(bool)
    code_f, code_a = full["verdict_code"].values, ad["verdict_code"].values
    return {"verdict_agreement_with_full": float(np.mean(code_f == code_a)),
            "max_drift_difference_rad": float(np.max(d[both])) if both.any() else 0.0,
            "max_drift_difference_interpolated_rad": (float(np.max(d[interp])) if interp.any()
                                                      else 0.0),
            "cells_outside_error_estimate": int(np.sum(~(d[fin] <= err[fin]))),
            "cells_nan_mismatch": int(np.sum(fin != np.isfinite(ad["drift"].values))),
            "max_ratio_difference_to_estimate": (float(np.max(d[interp] / err[interp]))
                                                 if interp.any() else 0.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50, help="grid points per axis")
    ap.add_argument("--T", type=float, default=500.0)
    ap.add_argument("--quick", action="store_true", help="12 x 12, T 150")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--executor", default="threads", choices=["threads", "local", "serial"])
    ap.add_argument("--no-full", action="store_true", help="adaptive map only")
    ap.add_argument("--full-first", action="store_true", help="run the full map first")
    ap.add_argument("--full-file", default=None,
                    help="compare with a full map saved earlier (NetCDF; its wall_s attr is "
                    "reported, not measured side by side) instead of running it")
    ap.add_argument("--save", default=None, help="directory to save the maps to (NetCDF)")
    for k in ("atol", "rtol", "boundary_tol"):
        ap.add_argument(f"--{k.replace('_', '-')}", type=float, default=ADAPTIVE_DEFAULTS[k])
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the pair this many times (alternating); medians are reported")
    ap.add_argument("--max-points", type=int, default=None)
    ap.add_argument("--max-time", type=float, default=None)
    args = ap.parse_args()
    n, T = (12, 150.0) if args.quick else (args.n, args.T)
    vary = [f"D=0.001:0.6:{n}", f"beta=0.001:0.1:{n}"]
    common = dict(vary=vary, theta=0.1, gamma=2.0, T=T, executor=args.executor,
                  workers=args.workers, progress=False)
    settings = {"atol": args.atol, "rtol": args.rtol, "boundary_tol": args.boundary_tol,
                "max_points": args.max_points, "max_time": args.max_time}
    print("warm-up (compiles the time loop once) ...", flush=True)
    for ex in ("serial", "threads"):  # the main thread's and the worker threads' loop variants
        phase_diagram(["D=0.1,0.5"], beta=0.05, gamma=2.0, T=100, executor=ex,
                      progress=False, sampling="full")
    runs = [("adaptive", dict(common, sampling="adaptive", adaptive=settings))]
    if not (args.no_full or args.full_file):
        full_run = ("full", dict(common, sampling="full"))
        runs = [full_run, *runs] if args.full_first else [*runs, full_run]
    res: dict = {"grid": f"{n}x{n}", "T": T, "cores": os.cpu_count(), "executor": args.executor,
                 "adaptive_settings": settings}
    maps: dict = {}
    walls: dict = {label: [] for label, _ in runs}
    cpus: dict = {label: [] for label, _ in runs}
    for rep in range(args.repeat):
        for label, kw in (runs if rep % 2 == 0 else runs[::-1]):
            maps[label], info = _timed(label, **kw)
            walls[label].append(info["wall_s"])
            cpus[label].append(info["cpu_s"])
            res[label] = info
    for label, _ in runs:
        s = summarize(maps[label])
        res[label].update(wall_s=float(np.median(walls[label])), walls_s=walls[label],
                          cpu_s=float(np.median(cpus[label])), cpus_s=cpus[label],
                          points_simulated=int(maps[label].attrs.get(
                              "adaptive_points_simulated", s["points"] - s["n_no_bump"])),
                          agreement_with_evans=s["agreement"])
    if len(runs) == 2:
        res["wall_ratios"] = [a / f for a, f in zip(walls["adaptive"], walls["full"],
                                                    strict=True)]
        res["cpu_ratio_adaptive_over_full"] = float(np.median(
            [a / f for a, f in zip(cpus["adaptive"], cpus["full"], strict=True)]))
    if args.full_file:
        import xarray as xr

        maps["full"] = xr.open_dataset(args.full_file).load()
        res["full"] = {"wall_s": float(maps["full"].attrs["wall_s"]), "from_file": args.full_file,
                       "points_simulated": int(maps["full"]["exists"].sum()),
                       "agreement_with_evans": summarize(maps["full"])["agreement"]}
    if args.save:
        os.makedirs(args.save, exist_ok=True)
        for label, ds in maps.items():
            ds.to_netcdf(os.path.join(args.save, f"{label}_{n}.nc"))
    if "full" in maps:
        res["comparison"] = compare(maps["full"], maps["adaptive"])
        res["wall_ratio_adaptive_over_full"] = (float(np.median(res["wall_ratios"]))
                                                if "wall_ratios" in res else
                                                res["adaptive"]["wall_s"] / res["full"]["wall_s"])
    print(json.dumps(res, indent=1))
    a = res["adaptive"]
    line = (f"\nadaptive {a['wall_s']:.1f} s, {a['points_simulated']} points, Evans agreement "
            f"{a['agreement_with_evans']:.4f}")
    if "full" in maps:
        c, f, r = res["comparison"], res["full"], res["wall_ratio_adaptive_over_full"]
        line += (f"; full {f['wall_s']:.1f} s, {f['points_simulated']} points, Evans agreement "
                 f"{f['agreement_with_evans']:.4f}; ratio {r:.2f}"
                 + (f" (CPU time {res['cpu_ratio_adaptive_over_full']:.2f})"
                    if "cpu_ratio_adaptive_over_full" in res else "")
                 + f"; verdicts equal to full {c['verdict_agreement_with_full']:.4f}; largest "
                 f"drift difference {c['max_drift_difference_rad']:.3g} rad; cells outside the "
                 f"estimate {c['cells_outside_error_estimate']}")
    print(line + f"; load {os.getloadavg()}")


if __name__ == "__main__":
    main()
