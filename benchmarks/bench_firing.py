"""Cost of a pluggable firing rate on the compiled loop: a user's function against the built-in.

Run: ``python benchmarks/bench_firing.py`` (about a minute; ``--quick`` for a smoke test).

In one process, medians of ``--repeat`` runs (the machine load ``os.getloadavg()`` is printed
with them), a batch of ``--B`` sigmoid models (steepness 50, beta spread over 0.01-0.1, D 0.3)
at ``N``, ``dt``, ``T``:

1. the built-in ``firing="sigmoid"`` on the numba backend (the compiled loop calls the rate
   through a function pointer);
2. the same rate written by the user, ``lambda u: 1 / (1 + exp(-50 (u - 0.1)))``, compiled by
   numba on first use (its compile time is reported separately);
3. the built-in on the numpy backend (the reference step);
4. the paper's Heaviside firing on the numba backend (no rate evaluated in the loop).

The user's function must give the built-in's drift to 1e-9 (checked) and cost about the same
(target: ratio user / built-in <= 1.1). ``--src DIR`` runs the built-in rows with another
checkout's ``src`` (e.g. the commit before the firing objects, whose loop inlined the sigmoid)
for a side-by-side comparison in separate processes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def _median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke test")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--B", type=int, default=16)
    ap.add_argument("--N", type=int, default=256)
    ap.add_argument("--dt", type=float, default=0.05)
    ap.add_argument("--T", type=float, default=200.0)
    ap.add_argument("--src", default=None, help="another checkout's src for the built-in rows")
    args = ap.parse_args()
    if args.src:
        sys.path.insert(0, os.path.abspath(args.src))
    if args.quick:
        args.B, args.T, args.repeat = 4, 20.0, 2
    import astrofield as af

    beta = np.linspace(0.01, 0.1, args.B)
    kw = dict(T=args.T, dt=args.dt, N=args.N, eps=0.3, store_fields=False, progress=False)

    def run(firing, backend, **extra):
        model = af.Model(firing=firing, steepness=50.0, theta=0.1, beta=beta, D=0.3, **extra)
        return af.solve(model, backend=backend, **kw)

    run("sigmoid", "numba")  # compile / load the cached loop outside the timings
    print(f"astrofield {af.__version__} from {os.path.dirname(af.__file__)}")
    print(f"B {args.B}, N {args.N}, dt {args.dt}, T {args.T}, median of {args.repeat}; "
          f"load before {os.getloadavg()}")
    t_builtin, ref = _median_time(lambda: run("sigmoid", "numba"), args.repeat)
    t_heav, _ = _median_time(lambda: run("heaviside", "numba"), args.repeat)
    rows = [("built-in sigmoid, numba", t_builtin), ("Heaviside, numba", t_heav)]
    if hasattr(af, "FiringFunction"):
        user = af.FiringFunction(lambda u: 1.0 / (1.0 + np.exp(-50.0 * (u - 0.1))))
        t0 = time.perf_counter()
        user.numba_function()
        t_compile = time.perf_counter() - t0
        t_user, got = _median_time(lambda: run(user, "numba"), args.repeat)
        err = float(np.max(np.abs(got.drift.values - ref.drift.values)))
        assert err <= 1e-9, f"user sigmoid drift differs from the built-in by {err:g}"
        rows.append(("user sigmoid, numba", t_user))
        print(f"user function compiled in {t_compile:.2f} s; drift difference {err:.1e}")
    t_np, _ = _median_time(lambda: run("sigmoid", "numpy"), max(1, args.repeat // 2))
    rows.append(("built-in sigmoid, numpy", t_np))
    for name, t in rows:
        print(f"{name:28s} {t:8.3f} s   ratio to built-in numba {t / t_builtin:6.2f}")
    print(f"load after {os.getloadavg()}")


if __name__ == "__main__":
    main()
