"""Accuracy check: the adaptive 50 x 50 map's cells against long runs at the published resolution.

Builds the adaptive drift map of issue 23 (D in [0.001, 0.6], beta in [0.001, 0.1], gamma 2,
theta 0.1, T 500, the ``astrofield phase`` defaults otherwise), draws cells from it -- the
interpolated cells with the largest reported interpolation error, random interpolated cells and
random simulated cells -- and reruns each one on its own at the resolution of the published maps
(N 8000, dt 0.01, no early decision, no error control, no interpolation: the plain drift at T).

For each cell it prints the map's drift, the long run's drift, their difference, and what the
map reports about its own error: ``drift_interp_error`` (interpolated cells) plus
``drift_error`` (the two-resolution estimate of simulated cells; 0 where it was not estimated)
plus ``drift_bound`` (early decisions). A cell is counted as *outside* when the difference
exceeds that total plus 0.01 rad + 1 % of the long run's drift (the long run's own error: the
scheme's drift at N 8000, dt 0.01 is not exact either). It also checks that the verdicts agree.
Load and wall times are printed; the long runs take about a minute per cell on one core.

    python benchmarks/adaptive_vs_published_resolution.py             # 12 cells
    python benchmarks/adaptive_vs_published_resolution.py --cells 24
    python benchmarks/adaptive_vs_published_resolution.py --quick     # 12 x 12 map, T 100,
                                                                      # N 1024: smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from astrofield.experiments.phase import drift_experiment, phase_diagram


def _pick(ds, n: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of the cells to check: a third the interpolated cells of largest reported
    error, a third random interpolated cells, a third random simulated cells (with a bump)."""
    exists = ds["exists"].values.ravel().astype(bool)
    sampled = ds["sampled"].values.ravel().astype(bool)
    err = np.nan_to_num(ds["drift_interp_error"].values.ravel(), nan=-1.0)
    interp = np.flatnonzero(exists & ~sampled)
    simulated = np.flatnonzero(exists & sampled)
    k = max(1, n // 3)
    worst = interp[np.argsort(err[interp])[::-1][:k]]
    rest = np.setdiff1d(interp, worst)
    rand_i = rng.choice(rest, size=min(k, rest.size), replace=False)
    rand_s = rng.choice(simulated, size=min(n - 2 * k, simulated.size), replace=False)
    return np.concatenate([worst, rand_i, rand_s])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=12)
    ap.add_argument("--N", type=int, default=8000)
    ap.add_argument("--dt", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, T, N = (12, 100.0, 1024) if args.quick else (50, 500.0, args.N)
    cells = min(args.cells, 6) if args.quick else args.cells
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    ds = phase_diagram([f"D=0.001:0.6:{n}", f"beta=0.001:0.1:{n}"], gamma=2.0, theta=0.1, T=T,
                       sampling="adaptive", progress=False)
    t_map = time.perf_counter() - t0
    idx = _pick(ds, cells, np.random.default_rng(args.seed))
    D = np.broadcast_to(ds["D"].values[:, None], ds["drift"].shape).ravel()[idx]
    beta = np.broadcast_to(ds["beta"].values[None, :], ds["drift"].shape).ravel()[idx]
    t1 = time.perf_counter()
    ref = drift_experiment(0.1, beta, 2.0, D, T=T, N=N, dt=args.dt, early_stop=False,
                           error_control=False, dt_check="off")
    t_ref = time.perf_counter() - t1

    def flat(name: str) -> np.ndarray:
        return np.nan_to_num(ds[name].values.ravel()[idx], nan=0.0)

    drift_map, drift_ref = ds["drift"].values.ravel()[idx], ref["drift"].values
    reported = flat("drift_interp_error") + flat("drift_error") + flat("drift_bound")
    allowed = reported + 0.01 + 0.01 * np.abs(drift_ref)
    diff = np.abs(drift_map - drift_ref)
    verdict_map = ds["verdict_code"].values.ravel()[idx]
    rows = [{"D": float(d), "beta": float(b), "sampled": int(s), "drift_map": float(m),
             "drift_ref": float(r), "difference": float(x), "reported_error": float(e),
             "outside": bool(x > a), "verdict_map": int(vm), "verdict_ref": int(vr)}
            for d, b, s, m, r, x, e, a, vm, vr in zip(
                D, beta, ds["sampled"].values.ravel()[idx], drift_map, drift_ref, diff,
                reported, allowed, verdict_map, ref["verdict_code"].values, strict=True)]
    print(json.dumps(rows, indent=1))
    print(f"adaptive {n} x {n} map: {t_map:.1f} s; {len(idx)} long runs at N {N}, dt "
          f"{args.dt}: {t_ref:.1f} s; outside (reported error + 0.01 rad + 1 %): "
          f"{int(np.sum(diff > allowed))} of {len(idx)}; largest difference "
          f"{float(np.max(diff)):.4f} rad; verdicts equal: "
          f"{int(np.sum(verdict_map == ref['verdict_code'].values))} of {len(idx)}; "
          f"load {load0[0]:.1f} -> {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
