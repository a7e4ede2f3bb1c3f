"""Where an adaptive (or full) drift phase map spends its time: rounds, resolutions, idle cores.

Runs one map of issue 23 (D in [0.001, 0.6], beta in [0.001, 0.1], ``--n`` x ``--n``, gamma 2,
theta 0.1, T 500, the defaults otherwise) with every call of the time integrator recorded, and
prints

* per resolution ``(N, dt)``: the runs, the points, the **simulated time units** (the sum over
  points of the last simulated time, a deterministic work proxy that does not depend on the
  machine's load) and the CPU time of the integrator calls (thread time, s);
* the process's CPU time outside the integrator (theory, bookkeeping, interpolation: Python
  overhead) and the wall time;
* for an adaptive map, per refinement round: points, time units per resolution, wall time, and
  per worker thread its busy time (wall and CPU): a round's wall time minus a thread's busy
  time is what that core idled at the round's end (on a shared machine a busy thread may still
  wait for a core: its CPU time is below its busy wall time);
* per band of ``|E'(0)|`` (distance from the stability boundary) and per early decision: the
  cells simulated and their time units at the map's resolution.

Usage::

    python benchmarks/profile_adaptive_map.py                  # adaptive, 50 x 50
    python benchmarks/profile_adaptive_map.py --sampling full  # the full map
    python benchmarks/profile_adaptive_map.py --json out.json  # also write the numbers
    python benchmarks/profile_adaptive_map.py --quick          # 12 x 12, T 150 smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

import numpy as np

import astrofield.experiments.adaptive as adaptive
import astrofield.experiments.phase as phase

_LOCK = threading.Lock()


def _instrument(calls: list[dict], rounds: list[dict]) -> None:
    """Wrap the integrator used by the drift experiment and the adaptive map's rounds."""
    solve = phase.solve

    def timed_solve(model, **kw):
        t0, c0 = time.perf_counter(), time.thread_time()
        ds = solve(model, **kw)
        rec = {
            "N": kw["N"],
            "dt": kw["dt"],
            "points": int(ds["t_final"].size),
            "units": float(np.nansum(ds["t_final"].values)),
            "wall": time.perf_counter() - t0,
            "cpu": time.thread_time() - c0,
            "thread": threading.get_ident(),
        }
        with _LOCK:
            calls.append(rec)
        return ds

    phase.solve = timed_solve
    run_round = adaptive._Rounds.__call__

    def timed_round(self, k, flat):
        t0, n0 = time.perf_counter(), len(calls)
        out = run_round(self, k, flat)
        rounds.append(
            {
                "round": k,
                "points": int(flat.size),
                "wall": time.perf_counter() - t0,
                "calls": calls[n0:],
            }
        )
        return out

    adaptive._Rounds.__call__ = timed_round


def _by_resolution(calls: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for c in calls:
        d = out.setdefault(
            f"N {c['N']}, dt {c['dt']:g}", {"runs": 0, "points": 0, "units": 0.0, "cpu_s": 0.0}
        )
        d["runs"] += 1
        d["points"] += c["points"]
        d["units"] += c["units"]
        d["cpu_s"] += c["cpu"]
    return out


def _threads(calls: list[dict]) -> list[dict]:
    per: dict[int, dict] = {}
    for c in calls:
        d = per.setdefault(c["thread"], {"busy_wall_s": 0.0, "cpu_s": 0.0})
        d["busy_wall_s"] += c["wall"]
        d["cpu_s"] += c["cpu"]
    return list(per.values())


def _cells(ds) -> dict[str, dict]:
    """Cells simulated and their time units at the map's resolution, by |E'(0)| and by decision
    (refined cells report the time of their finer run)."""
    sim = np.isfinite(ds["t_final"].values)
    tf = ds["t_final"].values
    dp = np.abs(ds["evans_dprime"].values)
    dec = ds["decided_early"].values
    out: dict[str, dict] = {}
    for lo, hi in ((0, 0.01), (0.01, 0.03), (0.03, 0.1), (0.1, 1.0), (1.0, np.inf)):
        m = sim & (dp >= lo) & (dp < hi)
        out[f"|E'(0)| in [{lo:g}, {hi:g})"] = {
            "cells": int(m.sum()),
            "units": float(np.nansum(tf[m])),
        }
    for code, name in ((-1, "ran to T"), (0, "decided stable"), (1, "decided travelling")):
        m = sim & (dec == code)
        out[name] = {
            "cells": int(m.sum()),
            "units": float(np.nansum(tf[m])),
            "median_t_final": float(np.median(tf[m])) if m.any() else float("nan"),
            "refined": int(ds["refined"].values[m].sum()),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50, help="grid points per axis")
    ap.add_argument("--T", type=float, default=500.0)
    ap.add_argument("--sampling", default="adaptive", choices=["adaptive", "full"])
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    ap.add_argument("--quick", action="store_true", help="12 x 12, T 150 (smoke test)")
    args = ap.parse_args()
    if args.quick:
        args.n, args.T = 12, 150.0
    calls: list[dict] = []
    rounds: list[dict] = []
    phase.phase_diagram(
        ["D=0.1,0.5"], beta=0.05, gamma=2.0, T=100, executor="serial", progress=False
    )  # warm-up: compiles the time loop once
    _instrument(calls, rounds)
    vary = [f"D=0.001:0.6:{args.n}", f"beta=0.001:0.1:{args.n}"]
    load0 = os.getloadavg()
    t0, c0 = time.perf_counter(), time.process_time()
    ds = phase.phase_diagram(
        vary,
        theta=0.1,
        gamma=2.0,
        T=args.T,
        sampling=args.sampling,
        workers=args.workers,
        progress=False,
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    solve_cpu = sum(c["cpu"] for c in calls)
    res = {
        "sampling": args.sampling,
        "grid": f"{args.n}x{args.n}",
        "wall_s": wall,
        "cpu_s": cpu,
        "integrator_cpu_s": solve_cpu,
        "other_cpu_s": cpu - solve_cpu,
        "load_before": load0,
        "load_after": os.getloadavg(),
        "resolutions": _by_resolution(calls),
        "cells": _cells(ds),
        "rounds": [
            {
                "round": r["round"],
                "points": r["points"],
                "wall_s": r["wall"],
                "resolutions": _by_resolution(r["calls"]),
                "threads": _threads(r["calls"]),
            }
            for r in rounds
        ],
    }
    print(json.dumps(res, indent=1))
    units = {k: round(v["units"]) for k, v in res["resolutions"].items()}
    print(
        f"\n{args.sampling} {res['grid']}: wall {wall:.1f} s, CPU {cpu:.1f} s (integrator "
        f"{solve_cpu:.1f} s); simulated time units per resolution {units}; "
        f"load {load0[0]:.1f} -> {res['load_after'][0]:.1f}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
