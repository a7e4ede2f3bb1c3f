"""Error of the final drift against a fine reference, at and beyond the step-size rule's dt_max.

For each parameter set (theta 0.1, N = 32, eps 0.3, T = 20) the reference is a run with a step
ten times smaller than ``dt_max``; the table lists the rule's ``dt_max`` and the drift error at
``dt_max`` (accepted) and at 2x, 5x and 20x ``dt_max`` (run with ``dt_check="off"``: what the rule
refuses), relative to ``|drift_ref|`` plus the absolute part of the documented tolerance.

    python benchmarks/bench_step_rule.py            # the table of docs/reliability.md
    python benchmarks/bench_step_rule.py --quick    # two parameter sets
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from astrofield.model.definition import Model
from astrofield.simulator.integrator import solve
from astrofield.simulator.step_control import DRIFT_TOLERANCE, max_step

SETS = [
    ("default (beta 0.05, gamma 2, tau 1, D 0.7)", {}),
    ("D 0.1, beta 0.02", dict(D=0.1, beta=0.02)),
    ("tau 10", dict(tau=10.0)),
    ("tau 1e-2", dict(tau=1e-2)),
    ("tau 1e-3", dict(tau=1e-3)),
    ("gamma 1e4", dict(gamma=1e4)),
    ("gamma 200, beta 5", dict(gamma=200.0, beta=5.0)),
    ("gamma = beta = 10", dict(gamma=10.0, beta=10.0)),
    ("gamma = beta = 100", dict(gamma=100.0, beta=100.0)),
    ("gamma = beta = 1e6", dict(gamma=1e6, beta=1e6)),
    ("gamma 1e6, beta 2.5e4, tau 1e-6", dict(gamma=1e6, beta=2.5e4, tau=1e-6)),
]


def _drift(model: Model, T: float, dt: float) -> float:
    ds = solve(model, T=T, dt=dt, N=32, store_fields=False, n_frames=2, progress=False,
               dt_check="off")
    return float(ds["drift"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two parameter sets")
    ap.add_argument("--T", type=float, default=20.0)
    args = ap.parse_args()
    T = args.T
    rel, ab = DRIFT_TOLERANCE
    print(f"T = {T:g}, N = 32; error = |drift - ref| / (|ref| + {ab / rel:g} rad) "
          f"(<= {rel:.0%} is within tolerance)")
    print(f"{'parameters':36s} {'dt_max':>8s} {'ref drift':>10s} "
          f"{'x1':>8s} {'x2':>8s} {'x5':>8s} {'x20':>8s}")
    t0 = time.perf_counter()
    for name, p in SETS[:2] if args.quick else SETS:
        model = Model(**p)
        dt_max = max_step(model)
        ref = _drift(model, T, T / math.ceil(10 * T / dt_max))
        errs = []
        for f in (1, 2, 5, 20):
            dt = T / max(1, math.ceil(T / (f * dt_max) - 1e-9))
            d = _drift(model, T, dt)
            errs.append(abs(d - ref) / (abs(ref) + ab / rel) if np.isfinite(d) else np.inf)
        print(f"{name:36s} {dt_max:8.4g} {ref:10.4g} "
              + " ".join(f"{e:8.2%}" for e in errs), flush=True)
    print(f"wall {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
