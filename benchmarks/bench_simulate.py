"""Speed of the core simulator against the published scheme at equal or better accuracy.

Run: ``python benchmarks/bench_simulate.py`` (about a minute; ``--quick`` for a smoke test).

In one process (all times are medians of ``--repeat`` runs; the machine load
``os.getloadavg()`` is printed with them):

1. a converged reference of the Figure 7 experiment (theta 0.1, beta 0.05, gamma 2, D 0.7,
   eps 0.3, T 200) with astrofield at high resolution (N = 1024, dt = 0.01);
2. (a) the published scheme (``published_scheme.py``: forward Euler for u, integrating factor for
   q, backward Euler with a sparse LU for a, N = 3000, dt = 0.01), one parameter set;
3. (b) astrofield at the cheapest (N, dt) of a ladder whose final-position error is no larger
   than the published scheme's, timed with the compiled loop (``backend="numba"``) and with the
   numpy reference step (``backend="numpy"``) at that same (N, dt);
4. 100 parameter sets batched in one astrofield call at that (N, dt) (numba, both cores), against
   the published scheme's cost per set (measured above).

Targets: Figure 7 run >= 200x faster than the published scheme at equal or better accuracy.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from published_scheme import run_published  # noqa: E402

import astrofield as af  # noqa: E402

FIG7 = dict(theta=0.1, beta=0.05, gamma=2.0, D=0.7)


def timed(fn, repeat=3):
    """``(result, median wall time)`` of ``repeat`` calls."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times))


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def drift(N, dt, T, model=None, eps=0.3, backend="numba"):
    return af.solve(model or af.Model(**FIG7), T=T, dt=dt, N=N, eps=eps, store_fields=False,
                    n_frames=2, progress=False, backend=backend,
                    dt_check="off")  # the ladder measures steps beyond the rule too


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="T = 20 smoke test")
    ap.add_argument("--repeat", type=int, default=5, help="repeats (median) of each timing")
    args = ap.parse_args()
    T = 20.0 if args.quick else 200.0
    rep = 1 if args.quick else args.repeat

    drift(64, 0.2, 2.0)  # load the compiled loops (serial and parallel) outside the timings
    drift(64, 0.2, 2.0, af.Model(theta=0.1, beta=[0.04, 0.05], gamma=2.0, D=[0.5, 0.7]))
    ref = float(drift(1024, 0.01, T).drift)
    print(f"reference (astrofield N=1024, dt=0.01): drift {ref:.6f} rad")

    pub, pub_wall = timed(lambda: run_published(**FIG7, N=3000, dt=0.01, T=T, eps=0.3),
                          repeat=max(1, min(rep, 3)))
    err_pub = abs(pub["drift"] - ref)
    print(f"(a) published scheme N=3000 dt=0.01: drift {pub['drift']:.6f}, error {err_pub:.2e}, "
          f"wall {pub_wall:.2f} s, mass drift {pub['mass_drift']:.1e}; {load()}")

    ladder = [(32, 0.25), (32, 0.2), (64, 0.2), (64, 0.1), (128, 0.1), (128, 0.05),
              (256, 0.05), (256, 0.02), (512, 0.01)]
    chosen = None
    for N, dt in ladder:
        ds, wall = timed(lambda N=N, dt=dt: drift(N, dt, T), repeat=rep)
        err = abs(float(ds.drift) - ref)
        print(f"    astrofield N={N:4d} dt={dt:<5}: error {err:.2e}, wall {wall:.4f} s")
        if err <= err_pub:
            chosen = (N, dt, err, wall, float(ds.drift))
            break
    if chosen is None:
        print("no ladder entry reached the published accuracy")
        return
    N, dt, err, wall, d_fast = chosen
    ds_np, wall_np = timed(lambda: drift(N, dt, T, backend="numpy"), repeat=max(1, min(rep, 3)))
    print(f"(b) astrofield N={N} dt={dt}: error {err:.2e} <= {err_pub:.2e}; numba {wall:.4f} s, "
          f"numpy {wall_np:.4f} s (same drift to {abs(float(ds_np.drift) - d_fast):.1e}); "
          f"{load()}")
    print(f"single-run speed-up: {pub_wall / wall:.0f}x numba, {pub_wall / wall_np:.0f}x numpy "
          f"over the published scheme; numba / numpy {wall_np / wall:.1f}x (target >= 200x)")

    rng = np.random.default_rng(0)
    B = 100
    beta = rng.uniform(0.01, 0.1, B)
    D = rng.uniform(0.1, 1.0, B)
    batch_model = af.Model(theta=0.1, beta=beta, gamma=2.0, D=D)
    _, wall_b = timed(lambda: drift(N, dt, T, batch_model, eps=0.05), repeat=max(1, rep // 2))
    per_set = wall_b / B
    # published cost per set on two of these points (cost does not depend on the parameters)
    pub_costs = [run_published(0.1, beta[i], 2.0, D[i], N=3000, dt=0.01, T=T / 4,
                               eps=0.05)["s_per_step"] for i in (0, 1)]
    pub_per_set = float(np.mean(pub_costs)) * round(T / 0.01)
    print(f"batched: {B} sets in {wall_b:.3f} s = {per_set * 1e3:.2f} ms per set; published "
          f"{pub_per_set:.2f} s per set; {load()}")
    print(f"per-set speed-up batched: {pub_per_set / per_set:.0f}x")


if __name__ == "__main__":
    main()
