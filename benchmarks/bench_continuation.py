"""Timings of numerical bumps, spectra and continuation (astrofield.theory.*).

Targets: a spectrum at N = 256 in under a second; a continuation run of 200 points in under a
minute on 2 cores; a sigmoid boundary point beta*(D) in seconds. The machine load
(``os.getloadavg``) and the BLAS thread setting are printed with the numbers, since the dense
linear algebra is sensitive to both.

Usage: python bench_continuation.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

# The matrices here are small (a few hundred to ~1500 unknowns): one BLAS thread per process is
# fastest, and several threads spin-wait badly when the cores are shared. Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from astrofield import Model  # noqa: E402
from astrofield.theory.continuation import continue_bumps, numerical_boundary  # noqa: E402
from astrofield.theory.spectra import spectrum  # noqa: E402
from astrofield.theory.stability import beta_star  # noqa: E402
from astrofield.theory.steady import steady_bump  # noqa: E402


def best_of(fun, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fun()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = ap.parse_args()
    N_spec, N_cont, points = (64, 64, 20) if args.quick else (256, 128, 200)
    repeat = 1 if args.quick else 3
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")

    sig = Model(firing="sigmoid", steepness=20.0, D=0.3, beta=0.05)
    st = steady_bump(sig, N_spec)
    t, sp = best_of(lambda: spectrum(st), repeat)
    print(f"spectrum, sigmoid, N = {N_spec} ({3 * N_spec} unknowns, dense): {t:.3f} s "
          f"(leading {sp.leading.real:+.6f}, n_unstable {sp.n_unstable})")
    t, _ = best_of(lambda: steady_bump(sig, N_spec), repeat)
    print(f"Newton bump, sigmoid, N = {N_spec}: {t:.3f} s")
    hv = Model(D=0.3, beta=0.05)
    t, sp = best_of(lambda: spectrum(model=hv, N=N_spec), repeat)
    print(f"spectrum, Heaviside (three edge operators), N = {N_spec}: {t:.3f} s "
          f"(leading {sp.leading.real:+.6f})")

    t0 = time.perf_counter()
    ds = continue_bumps(Model(firing="sigmoid", steepness=20.0, D=0.3), "beta", 0.01, 4.0,
                        N=N_cont, max_points=points, ds_max=0.005, travelling=False)
    wall = time.perf_counter() - t0
    print(f"continuation, sigmoid, N = {N_cont}: {ds.sizes['point']} points with spectra in "
          f"{wall:.2f} s (drift at beta = {ds.attrs['drift_bifurcations']})")

    t, b = best_of(lambda: numerical_boundary(Model(firing="sigmoid", steepness=20.0, D=0.3),
                                              "beta", 0.01, 0.06, N=N_cont, n_scan=4), 1)
    print(f"sigmoid boundary beta*(D = 0.3), steepness 20, N = {N_cont}: {b:.6f} in {t:.2f} s "
          f"(Heaviside Evans value {float(beta_star(0.1, 2.0, 0.3)[0]):.6f})")
    print("continuation benchmark done")


if __name__ == "__main__":
    main()
