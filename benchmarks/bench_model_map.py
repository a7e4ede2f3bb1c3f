"""Phase maps of other models against the paper's, at the same grid and settings, in one process.

For each model (the paper's Heaviside/cosine model, a sigmoid, the Mexican-hat kernel) the same
(D, beta) map is computed ``--repeat`` times, the models taking turns (so a change of machine
load hits all of them); reported: the median wall time (min-max), its ratio to the paper's
model, the time of the theory columns alone (the Newton bumps and numerical spectra of every
cell; the paper's model: the closed form) and the agreement of the simulated verdicts with
the theory's (Evans, or the numerical spectrum). The machine load (``uptime``) is printed
before and after: the machine is shared, so compare the ratios.

Usage::

    python benchmarks/bench_model_map.py [--n 6] [--N 128] [--T 500] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from astrofield.experiments.model_map import model_spec, numerical_columns
from astrofield.experiments.phase import analytic_columns, phase_diagram

MODELS = {
    "paper (heaviside, cosine)": {},
    "sigmoid, steepness 20": {"firing": "sigmoid", "steepness": 20.0},
    "heaviside, mexican_hat": {"kernel": "mexican_hat"},
}


def _columns_time(shape: dict, D: np.ndarray, beta: np.ndarray, N: int) -> float:
    """Wall time of the theory columns of every cell (one thread)."""
    d, b = (a.ravel() for a in np.meshgrid(D, beta, indexing="ij"))
    t0 = time.perf_counter()
    if shape:
        n = d.size
        numerical_columns(model_spec(**shape), np.full(n, 0.1), b, np.full(n, 2.0), d, 1.0, N)
    else:
        analytic_columns(0.1, b, 2.0, d)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6, help="cells per axis")
    ap.add_argument("--N", type=int, default=128)
    ap.add_argument("--T", type=float, default=500.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="3 x 3, N 64, T 100, once")
    a = ap.parse_args()
    if a.quick:
        a.n, a.N, a.T, a.repeat = 3, 64, 100.0, 1
    vary = [f"D=0.05:0.6:{a.n}", f"beta=0.005:0.1:{a.n}"]
    print("load before:", os.popen("uptime").read().strip())
    walls: dict[str, list[float]] = {k: [] for k in MODELS}
    agree: dict[str, float] = {}
    for r in range(a.repeat):
        order = list(MODELS) if r % 2 == 0 else list(MODELS)[::-1]
        for name in order:
            t0 = time.perf_counter()
            ds = phase_diagram(
                vary, theta=0.1, gamma=2.0, T=a.T, N=a.N, progress=False, **MODELS[name]
            )
            walls[name].append(time.perf_counter() - t0)
            agree[name] = float(ds.attrs["summary_agreement"])
    print("load after:", os.popen("uptime").read().strip())
    D, beta = np.linspace(0.05, 0.6, a.n), np.linspace(0.005, 0.1, a.n)
    base = statistics.median(walls[next(iter(MODELS))])
    print(f"{a.n} x {a.n} (D, beta) map, T {a.T:g}, N {a.N}, threads, {a.repeat} repeats")
    print(
        "| model | wall time, median (min-max) | ratio to the paper's | theory columns | "
        "agreement with its theory |"
    )
    print("|---|---|---|---|---|")
    for name, w in walls.items():
        med = statistics.median(w)
        cols = _columns_time(MODELS[name], D, beta, a.N)
        print(
            f"| {name} | {med:.1f} s ({min(w):.1f}-{max(w):.1f}) | {med / base:.2f} | "
            f"{cols:.2f} s | {agree[name]:.3f} |"
        )
    print("model map benchmark done")


if __name__ == "__main__":
    main()
