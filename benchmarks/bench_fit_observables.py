"""Benchmark of the fitting observables beyond one trace: wall time of each fit against the
single-trace fit measured in the same process, and a coverage study of the 95 % intervals over
repeated noise draws for the field, trials/conditions, MSD, BOLD and boundary observables (each
coverage with its exact binomial 95 % interval).

Run: ``python benchmarks/bench_fit_observables.py`` (20 draws per coverage study, a few minutes
on two cores) or ``--quick`` (2 draws: a smoke test). The machine load is printed with every
timing (the machine may be shared); wall times are medians of ``--repeats`` runs.

Settings (those of ``tests/test_fit_observables.py``): field ``u`` T 40, N 64, 21 frames, noise
sd 0.01 on every grid value, beta and D free; trials 2 conditions (gamma 2, 3) x 3
trials, T 40, N 64, 21 frames, noise sd 0.01; MSD of 64 Amari trials (beta 0, noise 0.1,
cosine), T 20, N 32, fitted with the default 256 simulated trials; BOLD 20 s at 1 s per
sample, kappa and gain free, or beta and kappa free; boundary 200 points, gamma 2, sharpness 10.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import astrofield as af  # noqa: E402
from astrofield.fitting import fit  # noqa: E402


def load() -> str:
    return "load " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def _helpers():
    import test_fit_observables as t

    return t


def timed(fn, repeats: int):
    times, res = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), res


def cases(t):
    """name -> (data factory(seed), fit call(data))."""
    m_amari = af.Model(theta=0.1, beta=0.0)

    def msd_data(seed):
        from astrofield.applications.wandering import measure_wandering

        w = measure_wandering(
            m_amari,
            sigma=0.1,
            correlation="cosine",
            n_trials=64,
            T=20,
            dt=0.05,
            N=32,
            record_every=20,
            t_fit=0,
            n_boot=10,
            seed=seed,
        )
        return w.isel(param=0)

    def single(seed):
        ds = af.solve(af.Model(theta=0.1, beta=0.05, gamma=2, D=0.7), progress=False, **t.RUN)
        rng = np.random.default_rng(seed)
        ds["position"] = ds.position + 0.01 * rng.standard_normal(ds.position.size)
        return ds

    def field(seed):
        ds = af.solve(af.Model(theta=0.1, beta=0.05, gamma=2, D=0.7), progress=False, **t.RUN)
        rng = np.random.default_rng(seed)
        ds["u"] = ds.u + 0.01 * rng.standard_normal(ds.u.shape)
        return ds

    return {
        "single trace (baseline)": (
            single,
            lambda d: fit(
                d, af.Model(theta=0.1, gamma=2), {"beta": (0.01, 0.2), "D": (0.1, 3)}, **t.FAST
            ),
            {"beta": 0.05, "D": 0.7},
        ),
        "field u": (
            field,
            lambda d: fit(
                d,
                af.Model(theta=0.1, gamma=2),
                {"beta": (0.01, 0.2), "D": (0.1, 3)},
                observable="u",
                **t.FAST,
            ),
            {"beta": 0.05, "D": 0.7},
        ),
        "trials x conditions": (
            lambda s: t._conditions_data(seed=s),
            lambda d: fit(d, af.Model(theta=0.1), {"beta": (0.01, 0.2), "D": (0.1, 3)}, **t.FAST),
            {"beta": 0.05, "D": 0.7},
        ),
        "msd": (
            msd_data,
            lambda d: fit(
                d,
                m_amari,
                {"noise_sigma": (0.02, 0.5)},
                observable="msd",
                n_starts=1,
                n_global=6,
            ),
            {"noise_sigma": 0.1},
        ),
        "bold": (
            lambda s: t._bold_data(seed=s),
            lambda d: fit(
                d,
                af.Model(theta=0.1, gamma=2, D=0.7),
                {"hrf_kappa": (0.3, 1.5), "gain": (20, 500)},
                observable="bold",
                **t.FAST,
            ),
            {"hrf_kappa": 0.65, "gain": 100.0},
        ),
        "bold beta kappa": (
            lambda s: t._bold_data(seed=s),
            lambda d: fit(
                d,
                af.Model(theta=0.1, gamma=2, D=0.7),
                {"beta": (0.02, 0.1), "hrf_kappa": (0.3, 1.5)},
                observable="bold",
                **t.FAST,
            ),
            {"beta": 0.05, "hrf_kappa": 0.65},
        ),
        "boundary": (
            lambda s: t._labels(s),
            lambda d: fit(
                d, af.Model(theta=0.1), {"gamma": (1, 4)}, observable="boundary", n_starts=1
            ),
            {"gamma": 2.0, "sharpness": 10.0},
        ),
    }


def _clopper_pearson(k: int, n: int) -> tuple[float, float]:
    """Exact (Clopper-Pearson) 95 % interval of a binomial rate, ``k`` of ``n``."""
    from scipy.stats import beta

    lo = float(beta.ppf(0.025, k, n - k + 1)) if k > 0 else 0.0
    hi = float(beta.ppf(0.975, k + 1, n - k)) if k < n else 1.0
    return lo, hi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--draws", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument(
        "--coverage",
        nargs="*",
        default=["field u", "trials x conditions", "msd", "bold", "bold beta kappa", "boundary"],
        help="coverage studies to run (names as printed)",
    )
    ap.add_argument("--seed0", type=int, default=100, help="first seed of the draws")
    ap.add_argument("--no-timing", action="store_true", help="skip the wall-time table")
    a = ap.parse_args()
    draws = a.draws or (2 if a.quick else 20)
    repeats = a.repeats or (1 if a.quick else 3)
    t = _helpers()
    cs = cases(t)
    base = None
    print(f"wall time of one fit (median of {repeats}), {load()}")
    for name, (make, run, _truth) in ({} if a.no_timing else cs).items():
        data = make(1)
        run(data)  # warm-up (compilation, imports)
        w, r = timed(lambda run=run, data=data: run(data), repeats)
        base = w if base is None else base
        print(
            f"  {name:24s} {w:6.2f} s  ({w / base:4.1f} x baseline)  solves {r.n_solves:3d}  "
            f"members {r.n_members:5d}  {load()}"
        )
    print(
        f"coverage of the 95 % intervals over {draws} draws "
        f"(binomial se {np.sqrt(0.95 * 0.05 / draws):.3f})"
    )
    for name in a.coverage:
        make, run, truth = cs[name]
        hit, zs, t0 = [], [], time.perf_counter()
        for seed in range(a.seed0, a.seed0 + draws):
            r = run(make(seed))
            v = np.array([truth[n] for n in r.names])
            hit.append((r.ci_low < v) & (v < r.ci_high))
            zs.append((r.params - v) / r.stderr)
        cover = np.mean(hit, axis=0)
        ci = [_clopper_pearson(int(k), draws) for k in np.sum(hit, axis=0)]
        sd = np.std(zs, axis=0, ddof=1) if draws > 1 else np.full(len(truth), np.nan)
        print(
            f"  {name:24s} "
            + ", ".join(
                f"{n}: {c:.0%} [95 % CI {lo:.0%}-{hi:.0%}] (z sd {s:.2f})"
                for n, c, (lo, hi), s in zip(truth, cover, ci, sd, strict=True)
            )
            + f"  [{time.perf_counter() - t0:.0f} s, {load()}]"
        )
    print("fit observables benchmark done")


if __name__ == "__main__":
    main()
