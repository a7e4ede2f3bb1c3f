"""Speed of the core simulator against the published scheme at equal or better accuracy.

Run: ``python benchmarks/bench_simulate.py`` (about a minute; ``--quick`` for a smoke test).

In one process:

1. a converged reference of the Figure 7 experiment (theta 0.1, beta 0.05, gamma 2, D 0.7,
   eps 0.3, T 200) with astrofield at high resolution (N = 1024, dt = 0.01);
2. (a) the published scheme (``published_scheme.py``: forward Euler for u, integrating factor for
   q, backward Euler with a sparse LU for a, N = 3000, dt = 0.01), one parameter set;
3. (b) astrofield at the cheapest (N, dt) of a ladder whose final-position error is no larger
   than the published scheme's;
4. 100 parameter sets batched in one astrofield call at that (N, dt), against the published
   scheme's cost per set (measured above).

Targets (issue: core simulator): >= 20x faster for one run, >= 200x per parameter set batched.
Measured (2-core machine): 26x single run, 710x per set batched.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from published_scheme import run_published  # noqa: E402

import astrofield as af  # noqa: E402

FIG7 = dict(theta=0.1, beta=0.05, gamma=2.0, D=0.7)


def timed(fn, repeat=3):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def drift(N, dt, T, model=None, eps=0.3):
    # the ladder measures the error of steps beyond the step-size rule too: run them unchecked
    return af.solve(model or af.Model(**FIG7), T=T, dt=dt, N=N, eps=eps, store_fields=False,
                    n_frames=2, progress=False, dt_check="off")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="T = 20 smoke test")
    args = ap.parse_args()
    T = 20.0 if args.quick else 200.0

    drift(64, 0.2, 2.0)  # compile the numba kernels outside the timings
    ref = float(drift(1024, 0.01, T).drift)
    print(f"reference (astrofield N=1024, dt=0.01): drift {ref:.6f} rad")

    pub = run_published(**FIG7, N=3000, dt=0.01, T=T, eps=0.3)
    err_pub = abs(pub["drift"] - ref)
    print(f"(a) published scheme N=3000 dt=0.01: drift {pub['drift']:.6f}, error {err_pub:.2e}, "
          f"wall {pub['wall_s']:.2f} s, mass drift {pub['mass_drift']:.1e}")

    ladder = [(32, 0.25), (32, 0.2), (64, 0.2), (64, 0.1), (128, 0.1), (128, 0.05),
              (256, 0.05), (256, 0.02), (512, 0.01)]
    chosen = None
    for N, dt in ladder:
        ds, wall = timed(lambda N=N, dt=dt: drift(N, dt, T))
        err = abs(float(ds.drift) - ref)
        print(f"    astrofield N={N:4d} dt={dt:<5}: error {err:.2e}, wall {wall:.3f} s")
        if err <= err_pub:
            chosen = (N, dt, err, wall)
            break
    if chosen is None:
        print("no ladder entry reached the published accuracy")
        return
    N, dt, err, wall = chosen
    print(f"(b) astrofield N={N} dt={dt}: error {err:.2e} <= {err_pub:.2e}, wall {wall:.3f} s")
    print(f"single-run speed-up: {pub['wall_s'] / wall:.1f}x (target >= 20x)")

    rng = np.random.default_rng(0)
    B = 100
    beta = rng.uniform(0.01, 0.1, B)
    D = rng.uniform(0.1, 1.0, B)
    batch_model = af.Model(theta=0.1, beta=beta, gamma=2.0, D=D)
    _, wall_b = timed(lambda: drift(N, dt, T, batch_model, eps=0.05), repeat=1)
    per_set = wall_b / B
    # published cost per set on two of these points (cost does not depend on the parameters)
    pub_costs = [run_published(0.1, beta[i], 2.0, D[i], N=3000, dt=0.01, T=T / 4,
                               eps=0.05)["s_per_step"] for i in (0, 1)]
    pub_per_set = float(np.mean(pub_costs)) * round(T / 0.01)
    print(f"batched: {B} sets in {wall_b:.2f} s = {per_set * 1e3:.1f} ms per set; published "
          f"{pub_per_set:.2f} s per set")
    print(f"per-set speed-up batched: {pub_per_set / per_set:.0f}x (target >= 200x)")


if __name__ == "__main__":
    main()
