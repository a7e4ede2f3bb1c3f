"""Figure 6's speckled D = inf cells: the refinement ladder of the map's error control against
independent long runs.

Run: ``python benchmarks/dinf_ladder_check.py`` (a few minutes on 2 cores with the numba backend
compiled; ``--quick`` for a smoke test at T 100 and reference N 128).

For each cell (theta 0.1, D = inf, eps 0.05, T 500) the script runs the drift experiment as
Figure 6 does (N 64, dt 0.05, error control, no early decisions) with ``refine_levels`` 1 (the
single refinement) and ``L`` (default 4), and, separately, plain runs at N 512 with dt 0.01
(the reference of issue 25) and dt 0.005 (no error control). The reference is their Richardson
extrapolation in dt (the space error at N 512 is far smaller), with the error estimate
``|d(0.005) - d(0.01)| / 3``. It prints per cell and ladder setting the drift at T, its
estimated error ``drift_error``, the finest level reached, ``resolved``, and
``|drift - reference|`` in units of the two error estimates added.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import astrofield as af
from astrofield.experiments.phase import drift_experiment, richardson

#: (gamma, beta): the four speckled cells of docs/verdicts.md 6.1 and the two slip points of
#: issue 25 (independent converged drifts 1.906 and 2.028 rad)
CELLS = (
    (1.0612, 2.0457),
    (1.0735, 2.1271),
    (1.1347, 2.5343),
    (1.1469, 2.29),
    (1.0, 2.2086),
    (1.0245, 1.8829),
)


def reference(T: float, N: int, dt: float) -> np.ndarray:
    """Plain runs (no error control) of every cell at (N, dt), batched."""
    g = np.array([c[0] for c in CELLS])
    b = np.array([c[1] for c in CELLS])
    ds = af.solve(
        af.Model(theta=0.1, beta=b, gamma=g, D=np.inf),
        N=N,
        dt=dt,
        T=T,
        eps=0.05,
        store_fields=False,
        progress=False,
        check_resolution=False,
        sample_every=max(1, int(round(1.0 / dt))),
    )
    return ds["drift"].values


def ladder(T: float, levels: int) -> tuple[dict[str, np.ndarray], float]:
    """The drift experiment as Figure 6 runs it, with ``refine_levels = levels``."""
    g = np.array([c[0] for c in CELLS])
    b = np.array([c[1] for c in CELLS])
    t0 = time.perf_counter()
    ds = drift_experiment(
        0.1, b, g, np.inf, T=T, N=64, dt=0.05, early_stop=False, refine_levels=levels
    )
    keys = ("drift", "drift_error", "resolved", "verdict")
    out = {k: ds[k].values for k in keys}
    out["level"] = (
        ds["refine_level"].values if "refine_level" in ds else ds["refined"].values.astype(int)
    )
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke test (T 100, reference N 128)")
    ap.add_argument("--levels", type=int, default=4, help="refine_levels of the ladder")
    args = ap.parse_args()
    T = 100.0 if args.quick else 500.0
    n_ref, dt_ref = (128, 0.025) if args.quick else (512, 0.01)
    t0 = time.perf_counter()
    coarse, fine = reference(T, n_ref, dt_ref), reference(T, n_ref, dt_ref / 2)
    ref, ref_err = richardson(fine, coarse), np.abs(fine - coarse) / 3
    t_ref = time.perf_counter() - t0
    print(
        f"theta 0.1, D inf, eps 0.05, T {T:g}; reference: N {n_ref}, dt {dt_ref:g} and "
        f"{dt_ref / 2:g}, extrapolated ({t_ref:.1f} s)"
    )
    for i, (g, b) in enumerate(CELLS):
        print(
            f"  gamma {g:<7g} beta {b:<7g} dt {dt_ref:g}: {coarse[i]:+8.4f}  "
            f"dt {dt_ref / 2:g}: {fine[i]:+8.4f}  reference {ref[i]:+8.4f} +- {ref_err[i]:.1e}"
        )
    for levels in sorted({1, args.levels}):
        res, wall = ladder(T, levels)
        print(
            f"refine_levels {levels} ({wall:.1f} s): drift, drift_error, level, resolved, "
            "|drift - reference| / (drift_error + reference error)"
        )
        for i, (g, b) in enumerate(CELLS):
            d, e = res["drift"][i], res["drift_error"][i]
            off = abs(d - ref[i])
            print(
                f"  gamma {g:<7g} beta {b:<7g} {d:+8.4f} {e:9.2e}  L{res['level'][i]} "
                f"{int(res['resolved'][i])}  off {off:.2e} ({off / (e + ref_err[i]):.2f})"
            )
    print("ladder check done")


if __name__ == "__main__":
    main()
