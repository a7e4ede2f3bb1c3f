"""How much simulated time could better early decisions save on issue 23's drift map?

Runs every cell with a bump of the (D, beta) map (gamma 2, theta 0.1; ``--n`` x ``--n``) to ``T``
at one resolution without early decisions, then replays :class:`EarlyStop` on the traces (called
every ``t_ref`` as ``solve`` calls it) for several settings, and reports for each: the simulated
time units (sum over cells of the decision time, or ``T``), the decisions, verdicts changed
against the runs to ``T``, the travellers' largest relative drift error at ``T`` and the largest
ratio of a drift error to its ``drift_bound``. The *oracle* line is a bound on what any rule
for travellers could save at the same accuracy: each traveller stops at the first call from
which extrapolating its mean speed over the last ``t_ref`` stays within ``accuracy`` of the true
drift at ``T`` (it knows that drift; no rule can).

With ``--sampled MAP.nc`` (an adaptive map of the same grid saved by
``bench_adaptive_map.py --save``) the time units are also summed over the cells that map
simulated.

Usage::

    python benchmarks/early_stop_headroom.py               # 50 x 50, T 500, N 64, dt 0.1
    python benchmarks/early_stop_headroom.py --quick       # 12 x 12, T 150
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os

import numpy as np

from astrofield.experiments.phase import (
    EarlyStop,
    VerdictRule,
    _extend_trace,
    analytic_columns,
    extrapolate_to_T,
)
from astrofield.model.definition import Model
from astrofield.simulator.integrator import solve


def traces(n: int, T: float, N: int, dt: float) -> dict[str, np.ndarray]:
    """Position and velocity traces (every time unit) of every cell with a bump, run to T."""
    D, beta = (
        a.ravel()
        for a in np.meshgrid(np.linspace(0.001, 0.6, n), np.linspace(0.001, 0.1, n), indexing="ij")
    )
    idx = np.flatnonzero(analytic_columns(0.1, beta, 2.0, D)["exists"])

    def run(part: np.ndarray) -> tuple[np.ndarray, ...]:
        ds = solve(
            Model(theta=0.1, beta=beta[part], gamma=2.0, D=D[part]),
            T=T,
            dt=dt,
            N=N,
            init="bump",
            eps=0.05,
            store_fields=False,
            sample_every=int(round(1.0 / dt)),
            progress=False,
            dt_check="off",
            check_resolution=False,
        )
        return ds["time"].values, ds["position"].values, ds["velocity"].values

    with cf.ThreadPoolExecutor(os.cpu_count()) as ex:
        res = list(ex.map(run, np.array_split(idx, 4 * (os.cpu_count() or 1))))
    pos = np.concatenate([r[1] for r in res])
    return {
        "idx": idx,
        "t": res[0][0],
        "drift": pos - pos[:, :1],
        "v": np.concatenate([r[2] for r in res]),
    }


def replay(tr: dict[str, np.ndarray], stop: EarlyStop, T: float) -> dict[str, np.ndarray]:
    """The decisions of ``stop`` on the traces, their drift at T and their verdicts."""
    t, d, v = tr["t"], tr["drift"], tr["v"]
    rule = stop.rule
    members = np.arange(v.shape[0])
    for tc in np.arange(rule.t_ref, T, rule.t_ref):
        i = int(np.searchsorted(t, tc - 1e-9))
        members = members[~stop(tc, d[members, i], v[members, i], None, members)]
    kind = stop.decided
    m = kind >= 0
    est = d[:, -1].copy()
    est[m] = extrapolate_to_T(
        T,
        stop.t_decided[m],
        stop.drift_decided[m],
        stop.velocity_decided[m],
        kind[m],
        stop.speed[m],
        stop.rate[m],
    )["drift"]
    cut = np.where(m, stop.t_decided, T)
    shown = np.where(t[None, :] <= cut[:, None] + 1e-9, v, np.nan)
    ext = _extend_trace(
        t, shown, kind, stop.t_decided, stop.velocity_decided, stop.speed, stop.rate
    )
    bound = np.where(m, stop.drift_bound, 0.0)
    return {
        "kind": kind,
        "t_final": cut,
        "err": np.abs(est - d[:, -1]),
        "bound": bound,
        "flips": rule.classify(t, ext)["unstable"] != rule.classify(t, v)["unstable"],
    }


def oracle(tr: dict[str, np.ndarray], T: float, accuracy: float, h: float) -> np.ndarray:
    """Per cell: the first call time from which extrapolating the last interval's mean speed
    stays within ``accuracy`` of the drift at T (T if never)."""
    t, d = tr["t"], tr["drift"]
    calls = np.arange(8 * h, T, h)
    i = np.searchsorted(t, calls - 1e-9)
    j = np.searchsorted(t, calls - h - 1e-9)
    pred = d[:, i] + (d[:, i] - d[:, j]) / h * (T - calls)
    ok = np.abs(pred - d[:, -1:]) <= accuracy * np.abs(d[:, -1:])
    after = np.flip(np.cumprod(np.flip(ok, 1), 1), 1).astype(bool)  # ok from here on
    return np.where(after.any(1), calls[np.argmax(after, 1)], T)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--T", type=float, default=500.0)
    ap.add_argument("--N", type=int, default=64)
    ap.add_argument("--dt", type=float, default=0.1)
    ap.add_argument("--quick", action="store_true", help="12 x 12, T 150")
    ap.add_argument("--sampled", default=None, help="adaptive map (NetCDF) of the same grid")
    args = ap.parse_args()
    n, T = (12, 150.0) if args.quick else (args.n, args.T)
    tr = traces(n, T, args.N, args.dt)
    sampled = np.ones(tr["idx"].size, bool)
    if args.sampled:
        import xarray as xr

        with xr.open_dataset(args.sampled) as ad:
            sampled = ad["sampled"].values.astype(bool).ravel()[tr["idx"]]
    rule = VerdictRule()
    settings = [
        ("defaults", {}),
        ("relaxed bound 0.3 cells", {"resolution": 0.3}),
        ("travellers 0.5 %", {"accuracy": 5e-3}),
        ("travellers 1 %", {"accuracy": 1e-2}),
    ]
    base = None
    for label, kw in settings:
        r = replay(tr, EarlyStop(T, args.N, rule, **kw), T)
        base = r if base is None else base
        trav = r["kind"] == 1
        dec = r["kind"] >= 0
        rel = r["err"][trav] / np.abs(tr["drift"][trav, -1])
        print(
            f"{label}: time units {r['t_final'].sum():.0f} (sampled cells "
            f"{r['t_final'][sampled].sum():.0f}); travelling {trav.sum()}, relaxed "
            f"{(r['kind'] == 0).sum()}, to T {(~dec).sum()}; verdicts changed "
            f"{int(r['flips'].sum())}; travellers' largest relative drift error "
            f"{rel.max() if rel.size else 0:.4f}; largest error / drift_bound "
            f"{np.max(r['err'][dec] / r['bound'][dec]) if dec.any() else 0:.3f}"
        )
    trav = (base["kind"] == 1) & sampled
    best = oracle(tr, T, EarlyStop(T, args.N, rule).accuracy, rule.t_ref)
    print(
        f"oracle for travellers (sampled cells): time units {best[trav].sum():.0f} against "
        f"{base['t_final'][trav].sum():.0f} with the defaults "
        f"({1 - best[trav].sum() / max(base['t_final'][trav].sum(), 1):.1%} saved)"
    )
    print("early-stop headroom done")


if __name__ == "__main__":
    main()
