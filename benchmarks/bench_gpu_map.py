"""GPU check of the JAX backend: a (D, beta) drift-experiment map on the default JAX device.

Run: ``python benchmarks/bench_gpu_map.py`` (250 x 250 points, T = 500; needs a GPU and
``pip install 'astrofield[gpu]'``) or ``python benchmarks/bench_gpu_map.py --quick`` (a few
seconds on JAX's CPU device: a smoke test of the script itself).

In one process:

1. the whole map with ``backend="jax"`` in batches of ``--batch`` points on the default JAX
   device (the first batch also pays the XLA compilation, reported separately);
2. a CPU baseline with ``backend="numba"`` on ``--cpu-threads`` cores (default 2) on a random
   subsample of ``--cpu-points`` points of the same map; its time per point is *extrapolated*
   to the whole map (stated as such in the output);
3. agreement: GPU and CPU verdicts on the subsample (fraction identical; the drifts agree to
   about 1e-9 as well), and the GPU map against the Evans-function verdict.

Prints a readable summary and, last, one JSON line with every number. Needs only numpy, scipy,
xarray, numba, jax and this package (no network).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


def _grid(res: int):
    D = np.linspace(0.001, 0.6, res)
    beta = np.linspace(0.001, 0.1, res)
    DD, BB = np.meshgrid(D, beta, indexing="ij")
    return DD.ravel(), BB.ravel()


def _run(D, beta, backend, batch, kw):
    from astrofield.experiments.phase import drift_experiment

    out = {k: np.empty(D.size) for k in ("code", "drift", "evans")}
    first = None
    t0 = time.perf_counter()
    for s in range(0, D.size, batch):
        tb = time.perf_counter()
        ds = drift_experiment(0.1, beta[s:s + batch], 2.0, D[s:s + batch], backend=backend, **kw)
        if first is None:
            first = time.perf_counter() - tb
        out["code"][s:s + batch] = ds.verdict_code.values
        out["drift"][s:s + batch] = ds.drift.values
        out["evans"][s:s + batch] = ds.evans_stable.values
    return out, time.perf_counter() - t0, first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 x 8 points, T = 50, CPU device")
    ap.add_argument("--resolution", type=int, default=250)
    ap.add_argument("--T", type=float, default=500.0)
    ap.add_argument("--N", type=int, default=None, help="grid points (phase default)")
    ap.add_argument("--dt", type=float, default=None, help="time step (phase default)")
    ap.add_argument("--batch", type=int, default=62500, help="points per device batch")
    ap.add_argument("--cpu-points", type=int, default=250, help="CPU baseline subsample")
    ap.add_argument("--cpu-threads", type=int, default=2,
                    help="cores for the CPU baseline (numba threads)")
    ap.add_argument("--no-early-stop", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.resolution, args.T, args.batch, args.cpu_points = 8, 50.0, 32, 16
    import jax

    from astrofield.experiments.phase import DEFAULTS

    N = args.N or DEFAULTS["N"]
    dt = args.dt or DEFAULTS["dt"]
    kw = dict(T=args.T, N=N, dt=dt, eps=DEFAULTS["eps"], early_stop=not args.no_early_stop)
    D, beta = _grid(args.resolution)
    dev = jax.devices()[0]
    print(f"device {dev.platform}: {dev.device_kind}; map {args.resolution} x {args.resolution} "
          f"= {D.size} points, T {args.T:g}, N {N}, dt {dt:g}, batch {args.batch}")

    gpu, t_gpu, t_first = _run(D, beta, "jax", args.batch, kw)
    exists = gpu["code"] >= 0
    evans_agree = float(np.mean((gpu["code"][exists] == 0) == (gpu["evans"][exists] > 0)))
    pts = D.size / t_gpu
    print(f"jax: {t_gpu:.1f} s ({pts:.1f} points/s; first batch incl. compilation "
          f"{t_first:.1f} s); agreement with Evans {evans_agree:.4f}")

    import numba

    numba.set_num_threads(min(args.cpu_threads, numba.config.NUMBA_NUM_THREADS))
    rng = np.random.default_rng(0)
    sub = np.sort(rng.choice(D.size, size=min(args.cpu_points, D.size), replace=False))
    _run(D[sub[:2]], beta[sub[:2]], "numba", 2, dict(kw, T=2 * dt * 100))  # load the cache
    cpu, t_cpu, _ = _run(D[sub], beta[sub], "numba", sub.size, kw)
    cpu_per_point = t_cpu / sub.size
    cpu_full = cpu_per_point * D.size
    same = float(np.mean(cpu["code"] == gpu["code"][sub]))
    ok = np.isfinite(cpu["drift"]) & np.isfinite(gpu["drift"][sub])
    ddrift = float(np.max(np.abs(cpu["drift"][ok] - gpu["drift"][sub][ok]))) if ok.any() else 0.0
    print(f"numba on {numba.get_num_threads()} CPU cores: {sub.size} sampled points in "
          f"{t_cpu:.1f} s -> {cpu_full:.0f} s for the map (EXTRAPOLATED from the subsample)")
    print(f"speed-up jax/{dev.platform} over CPU: {cpu_full / t_gpu:.1f}x; verdicts identical on "
          f"{same:.4f} of the subsample; max |drift difference| {ddrift:.2e} rad")
    print(json.dumps({
        "device": f"{dev.platform}:{dev.device_kind}", "points": int(D.size),
        "resolution": args.resolution, "T": args.T, "N": N, "dt": dt, "batch": args.batch,
        "early_stop": not args.no_early_stop, "jax_wall_s": t_gpu,
        "jax_first_batch_s": t_first, "jax_points_per_s": pts,
        "cpu_cores": numba.get_num_threads(), "cpu_sample_points": int(sub.size),
        "cpu_sample_s": t_cpu,
        "cpu_full_map_s_extrapolated": cpu_full, "speedup_vs_cpu_extrapolated": cpu_full / t_gpu,
        "verdict_agreement_gpu_cpu": same, "max_drift_diff_rad": ddrift,
        "agreement_with_evans": evans_agree, "load": os.getloadavg(),
        "jax_version": jax.__version__, "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
