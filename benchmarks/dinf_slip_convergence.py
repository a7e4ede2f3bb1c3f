"""The D = inf slip points of issue 25: convergence of the drift with N and dt.

Run: ``python benchmarks/dinf_slip_convergence.py`` (about 20 s on 2 cores with the numba backend
compiled; ``--quick`` for a smoke test, ``--backend numpy`` for the reference step).

Setting: theta 0.1, D = inf, the exact wide bump with the shift ``eps = 0.05``, T = 500, at two
points just below the fold where the bump slips once by about 2 rad and then rests:
(gamma 1.0, beta 2.2086) and (gamma 1.0245, beta 1.8829). Independent converged runs give the
drifts 1.906 and 2.028 rad. The wide bump is drift-unstable there (real Evans rate ~2), so the
rest after the slip lasts only while the bump still shrinks towards its stationary width; a
perturbation left behind by the scheme (a drift of the total resource, a creep of the discrete
bump) ends it early with a second slip in a direction that depends on rounding.

For every (point, dt, N) the script prints the drift at T, the number of slips (drift increments
above 0.5 rad within 30 time units) and the largest deviation of the total resource
``∫ (q + a) dx`` from 2 pi over the run. A second table shows what a plain ``solve`` (and
``astrofield run``) returns at its defaults, each point on its own, with ``dt = 0.05`` and
``dt = "auto"``: the step ladder (``refine_levels``, default 2) halves the step where the
companion run at ``(N / 2, 2 dt)`` disagrees; the table gives the drift, its error against the
independent value, the step used and ``resolved``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import astrofield as af

POINTS = ((1.0, 2.2086, 1.906), (1.0245, 1.8829, 2.028))  # gamma, beta, independent drift


def slips(pos: np.ndarray, t: np.ndarray) -> int:
    """Number of slips: separate episodes in which the position moves by more than 0.5 rad."""
    moving = np.abs(np.diff(pos)) > 0.01
    starts = t[1:][moving & ~np.concatenate([[False], moving[:-1]])]
    count, last = 0, -np.inf
    for s in starts:
        if s - last > 30.0:
            count += 1
            last = s
    return count


def run(N: int, dt: float, T: float, backend: str):
    """Both points in one batch; returns drift, slips and mass error per point, and wall s."""
    gam = np.array([p[0] for p in POINTS])
    beta = np.array([p[1] for p in POINTS])
    m = af.Model(theta=0.1, beta=beta, gamma=gam, D=np.inf)
    t0 = time.perf_counter()
    ds = af.solve(
        m,
        N=N,
        dt=dt,
        T=T,
        eps=0.05,
        store_fields=False,
        progress=False,
        sample_every=max(1, int(round(1.0 / dt))),
        check_resolution=False,
        backend=backend,
    )
    wall = time.perf_counter() - t0
    t = ds["time"].values
    pos = ds["position"].values
    mass = ds["mass"].values
    out = [
        (float(ds["drift"].values[i]), slips(pos[i], t), float(np.max(np.abs(mass[i] - 2 * np.pi))))
        for i in range(len(POINTS))
    ]
    return out, wall


def default_solve(Ns, T: float, backend: str | None) -> None:
    """The table of a plain ``solve`` at its defaults (the step ladder included)."""
    print(f"\nplain solve (refine_levels default), each point alone, T {T:g}: drift "
          "(error vs independent) dt used, resolved")
    for g, b, ref in POINTS:
        m = af.Model(theta=0.1, beta=b, gamma=g, D=np.inf)
        for dt in (0.05, "auto"):
            cells = []
            for N in Ns:
                ds = af.solve(m, N=N, dt=dt, T=T, eps=0.05, store_fields=False, n_frames=2,
                              progress=False, backend=backend)
                d = float(ds["drift"])
                cells.append(f"{d:7.4f} ({100 * (d / ref - 1):+.2f} %) dt {ds.attrs['dt']:.4g} "
                             f"{'ok' if ds.attrs['resolved'] else 'unresolved'}")
            print(f"  gamma {g}, beta {b}, dt {dt}: " + " | ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke test (N 128, 256; T 50)")
    ap.add_argument("--T", type=float, default=500.0)
    ap.add_argument("--backend", default=None, help="numba (default where available) or numpy")
    args = ap.parse_args()
    Ns = (128, 256) if args.quick else (128, 256, 512, 1024)
    dts = (0.05,) if args.quick else (0.05, 0.025, 0.01)
    T = 50.0 if args.quick else args.T
    print(f"theta 0.1, D inf, eps 0.05, T {T:g}; drift (slips) per N; max |mass - 2 pi|")
    results = {(dt, N): run(N, dt, T, args.backend) for dt in dts for N in Ns}
    for i, (g, b, ref) in enumerate(POINTS):
        print(f"gamma {g}, beta {b} (independent: {ref})")
        for dt in dts:
            cells = [results[dt, N][0][i] for N in Ns]
            merr = max(c[2] for c in cells)
            print(
                f"  dt {dt:<6g} "
                + " | ".join(f"{d:+8.3f} ({s})" for d, s, _ in cells)
                + f"   mass {merr:.1e}"
            )
    walls = [w for _, w in results.values()]
    print(f"wall s per run (both points batched): median {np.median(walls):.2f}")
    default_solve(Ns[1:], T, args.backend)


if __name__ == "__main__":
    main()
