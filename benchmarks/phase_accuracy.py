"""Accuracy of the phase-map settings: drift at T of travelling points against a converged run.

Draws ``--points`` random (D, beta) points of the 50 x 50 map's region (theta 0.1, gamma 2,
D in [0.001, 0.6], beta in [0.001, 0.1]), runs the drift experiment

* with the settings under test (default: the ``astrofield phase`` defaults, early decisions and
  error control on, exactly as the map runs them), and
* with a converged reference (N 256, dt 0.0125, no early decisions),

and prints, for the points the reference calls unstable, the relative error of ``drift`` (the
drift at T) -- median, 90th percentile and maximum, with the Evans ``E'(0)`` of the worst point
(small ``|E'(0)|``: next to the boundary, where the travelling speed itself depends on the
resolution) -- and whether every verdict agrees. The issue's accuracy criterion is 2 % for the
travelling points.

    python benchmarks/phase_accuracy.py                     # 24 points, phase defaults
    python benchmarks/phase_accuracy.py --N 128 --dt 0.05   # a candidate setting
    python benchmarks/phase_accuracy.py --error-control off # one resolution, no extrapolation
    python benchmarks/phase_accuracy.py --quick             # 4 points, short T (smoke test)
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from astrofield.experiments.phase import DEFAULTS, drift_experiment


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=24)
    ap.add_argument("--N", type=int, default=DEFAULTS["N"])
    ap.add_argument("--dt", type=float, default=DEFAULTS["dt"])
    ap.add_argument("--T", type=float, default=DEFAULTS["T"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--error-control", default="auto", choices=["auto", "on", "off"])
    ap.add_argument("--refine-tol", type=float, default=DEFAULTS["refine_tol"])
    args = ap.parse_args()
    if args.quick:
        args.points, args.T = 4, 100.0
    rng = np.random.default_rng(args.seed)
    D = rng.uniform(0.001, 0.6, args.points)
    beta = rng.uniform(0.001, 0.1, args.points)
    t0 = time.perf_counter()
    control = {"auto": None, "on": True, "off": False}[args.error_control]
    test = drift_experiment(0.1, beta, 2.0, D, T=args.T, N=args.N, dt=args.dt,
                            early_stop=True, error_control=control, refine_tol=args.refine_tol)
    t_test = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_N, ref_dt = (64, 0.05) if args.quick else (256, 0.0125)
    ref = drift_experiment(0.1, beta, 2.0, D, T=args.T, N=ref_N, dt=ref_dt, early_stop=False,
                           error_control=False)
    t_ref = time.perf_counter() - t0
    unstable = ref["verdict"].values == "unstable"
    rel = np.abs(test["drift"].values - ref["drift"].values) / np.abs(ref["drift"].values)
    same = bool(np.all(test["verdict"].values == ref["verdict"].values))
    print(f"settings N {args.N}, dt {args.dt:g}, T {args.T:g} (early decisions on) against "
          f"N {ref_N}, dt {ref_dt:g} (to T): {args.points} points, {int(unstable.sum())} "
          f"travelling; verdicts identical: {same}; load {os.getloadavg()[0]:.1f}; "
          f"wall {t_test:.1f} s / {t_ref:.1f} s")
    if unstable.any():
        r = rel[unstable]
        worst = int(np.flatnonzero(unstable)[np.argmax(r)])
        print(f"relative drift error of travelling points: median {np.median(r):.2%}, 90th "
              f"percentile {np.percentile(r, 90):.2%}, max {r.max():.2%} at D "
              f"{D[worst]:.3f}, beta {beta[worst]:.4f} (E'(0) = "
              f"{float(test['evans_dprime'].values[worst]):.3g}); points above 2 %: "
              f"{int((r > 0.02).sum())}")
        est = test["drift_error"].values[unstable] / np.abs(ref["drift"].values[unstable])
        if np.isfinite(est).any():
            print(f"error control ({test.attrs['error_control']}): "
                  f"{int(test['refined'].values.sum())} points refined; estimated error of the "
                  f"finer run (drift_error / |drift|) median {np.nanmedian(est):.2%}, max "
                  f"{np.nanmax(est):.2%}; actual error of the reported drift / estimate: max "
                  f"{np.nanmax(r / est):.2f}")


if __name__ == "__main__":
    main()
