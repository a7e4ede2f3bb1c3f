"""Fitting benchmark: the issue's acceptance fit (wall time, recovered values, standard errors),
its profile likelihoods against the Fisher intervals, the optimiser comparison (batched
finite-difference least squares against differential evolution), the Jacobian comparison for
smooth firing (batched finite differences against automatic differentiation through the JAX
backend) and a coverage study of the 95 % intervals.

Run: ``python benchmarks/bench_fit.py`` (acceptance settings: T 200, N 128, dt 0.05, 101
frames, noise sd 0.01; ``--draws 40`` noise draws for the coverage study, a few minutes on two
cores) or ``--quick`` (T 60, N 64, 31 frames, 4 draws, 5-point profiles, no gradient
comparison: a smoke test); ``--only gradients`` or ``--only profiles`` runs one part. The
machine load (``os.getloadavg()``) is printed with every timing: the machine may be shared.

Independent checks printed alongside: the issue's Fisher relative standard errors (1.4 % beta,
0.7 % D at sd 0.01, rescaled here to the estimated noise sd), and the coverage's binomial
standard error ``sqrt(0.95 * 0.05 / draws)``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import astrofield as af
from astrofield.fitting import fit, read_observation

TRUE = {"beta": 0.05, "D": 0.7}
VARY = {"beta": (0.01, 0.2), "D": (0.1, 3.0)}
MODEL = af.Model(theta=0.1, gamma=2)


def load() -> str:
    return "load " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def clean_trace(T: float, N: int, n_frames: int):
    return af.solve(af.Model(theta=0.1, beta=0.05, gamma=2, D=0.7), T=T, N=N, dt=0.05, eps=0.3,
                    n_frames=n_frames, progress=False)


def noisy(clean, seed: int, sd: float = 0.01):
    ds = clean.copy()
    rng = np.random.default_rng(seed)
    ds["position"] = clean.position + sd * rng.standard_normal(clean.position.size)
    return ds


def report(label: str, r) -> None:
    print(f"{label}: wall {r.wall_s:.2f} s ({load()}), cost {r.cost:.6g}, converged "
          f"{r.converged}, {r.n_agree}/{r.n_starts} starts agree, {r.n_solves} batched solves "
          f"of {r.n_members} members")
    for j, n in enumerate(r.names):
        rse = r.stderr[j] / r.params[j]
        err = r.params[j] / TRUE[n] - 1
        print(f"  {n:5s} = {r.params[j]:.5g} ± {r.stderr[j]:.3g}  (true {TRUE[n]}, error "
              f"{err * 100:+.2f} % = {(r.params[j] - TRUE[n]) / r.stderr[j]:+.2f} se; "
              f"rse {rse * 100:.2f} %, at sd 0.01: {rse * 0.01 / r.sigma * 100:.2f} %)")
    glob = r.cost_history[r.history_phase == "global"]
    print(f"  best cost of the global phase: {glob.min() / r.cost:.6g} x the final cost "
          f"({glob.size} members)")


def compare(data) -> None:
    """Both optimisers on the same data: wall time to the optimum and the optimum itself."""
    res = {}
    for method in ("lsq", "de"):
        res[method] = r = fit(data, MODEL, VARY, method=method)
        report(f"method {method}", r)
    a, b = res["lsq"], res["de"]
    print(f"optimum agreement: |Δcost|/cost {abs(a.cost - b.cost) / a.cost:.1e}, max "
          f"|Δparam|/se {np.max(np.abs(a.params - b.params) / a.stderr):.2e}; speed-up of lsq "
          f"over de: {b.wall_s / a.wall_s:.1f}x (model evaluations {a.n_members} vs "
          f"{b.n_members})")


def gradients(T: float, N: int, n_frames: int, repeats: int = 3) -> None:
    """Smooth (sigmoid, steepness 20) firing: the local phase with the Jacobian by batched
    finite differences on the compiled backend against forward-mode automatic differentiation
    through the JAX backend; same data, same starts; median wall time of ``repeats`` fits each
    (alternating), the JAX compilation timed separately."""
    import statistics

    from astrofield.fitting.gradient import JaxJacobian
    from astrofield.fitting.problem import Problem

    smooth = dict(theta=0.1, gamma=2, firing="sigmoid", steepness=20)
    clean = af.solve(af.Model(beta=0.05, D=0.7, **smooth), T=T, N=N, dt=0.05, eps=0.3,
                     n_frames=n_frames, progress=False)
    data = noisy(clean, 0)
    model = af.Model(**smooth)
    # the Jacobians themselves at the truth: AD against central differences of three steps
    prob = Problem(read_observation(data), model, dict(VARY))
    jj = JaxJacobian(prob)
    t0 = time.perf_counter()
    _, J = jj(np.array([0.05, 0.7]))
    compile_s = time.perf_counter() - t0
    z = prob.to_unit(np.array([0.05, 0.7]))
    errs = [np.abs(prob.jacobian(z, h=h) / prob.dphys_dunit(z) - J).max() / np.abs(J).max()
            for h in (1e-3, 1e-4, 1e-5)]
    t_ad = min(_timed(lambda: jj(np.array([0.05, 0.7])))[0] for _ in range(repeats))
    t_fd = min(_timed(lambda: prob.jacobian(z))[0] for _ in range(repeats))
    print(f"smooth firing, one Jacobian (2 parameters, {n_frames} frames): AD {t_ad:.3f} s, "
          f"finite differences {t_fd:.3f} s ({load()}); JAX first call (trace + compile) "
          f"{compile_s:.1f} s; max relative difference FD - AD at steps 1e-3, 1e-4, 1e-5: "
          + ", ".join(f"{e:.1e}" for e in errs))
    fit(data, model, VARY, n_global=4, n_starts=1, max_nfev=2)  # compile numba (sigmoid)
    walls: dict[str, list[float]] = {"fd": [], "jax": []}
    res = {}
    for _ in range(repeats):
        for g in ("fd", "jax"):
            w, res[g] = _timed(lambda g=g: fit(data, model, VARY, gradient=g))
            walls[g].append(w)
    med = {g: statistics.median(v) for g, v in walls.items()}
    a, b = res["fd"], res["jax"]
    print(f"smooth firing, whole fit (median of {repeats}, {load()}): gradient='fd' "
          f"{med['fd']:.2f} s ({a.n_members} members simulated), gradient='jax' "
          f"{med['jax']:.2f} s ({b.n_members} members + AD Jacobians); ratio jax/fd "
          f"{med['jax'] / med['fd']:.2f}; |dcost|/cost {abs(a.cost - b.cost) / a.cost:.1e}, "
          f"max |dparam|/se {np.max(np.abs(a.params - b.params) / a.stderr):.1e}")


def profiles(r, points: int = 21) -> None:
    """Profile likelihood of each parameter of the acceptance fit against its Fisher interval
    (``points`` grid points each)."""
    for n in r.names:
        w, pr = _timed(lambda n=n: r.profile(n, n=points))
        print(f"profile of {n}: {w:.1f} s ({load()}), {pr.n_members} members; 95 % interval "
              f"{pr.ci_low:.5g} .. {pr.ci_high:.5g} (Fisher ± 1.96 se: {pr.fisher_low:.5g} .. "
              f"{pr.fisher_high:.5g}); ends differ by {pr.deviation:.3f} half-widths "
              f"(agrees: {pr.agrees}); contains the truth {TRUE[n]}: "
              f"{pr.ci_low <= TRUE[n] <= pr.ci_high}")


def _timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def coverage(clean, draws: int) -> None:
    """Fraction of the 95 % intervals containing the truth over independent noise draws."""
    hits = np.zeros(2)
    z = []
    t0 = time.perf_counter()
    for seed in range(1000, 1000 + draws):
        r = fit(noisy(clean, seed), MODEL, VARY, n_starts=1)
        truth = np.array([TRUE[n] for n in r.names])
        hits += (r.ci_low <= truth) & (truth <= r.ci_high)
        z.append((r.params - truth) / r.stderr)
    z = np.array(z)
    se = np.sqrt(0.95 * 0.05 / draws)
    print(f"coverage of the 95 % intervals over {draws} noise draws ({time.perf_counter() - t0:.0f}"
          f" s, {load()}): " + ", ".join(f"{n} {h / draws:.3f}" for n, h in zip(r.names, hits,
                                                                              strict=True))
          + f" (binomial se {se:.3f}); sd of (fit - true)/se: "
          + ", ".join(f"{n} {s:.2f}" for n, s in zip(r.names, z.std(axis=0), strict=True))
          + " (ideal 1)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small settings (smoke test)")
    ap.add_argument("--draws", type=int, default=None, help="noise draws of the coverage study")
    ap.add_argument("--figure", default=None, help="write the acceptance fit's figure here")
    ap.add_argument("--only", choices=["gradients", "profiles"], default=None,
                    help="run only this part (gradients: AD against finite differences; "
                         "profiles: the acceptance fit and its profiles)")
    args = ap.parse_args()
    T, N, n_frames = (60.0, 64, 31) if args.quick else (200.0, 128, 101)
    draws = args.draws or (4 if args.quick else 40)
    print(f"settings: T {T:g}, N {N}, dt 0.05, {n_frames} frames, noise sd 0.01, "
          f"{os.cpu_count()} cpus, {load()}")
    if args.only == "gradients":
        gradients(T, N, n_frames)
        print("fit benchmark done")
        return
    clean = clean_trace(T, N, n_frames)
    fit(noisy(clean, 0), MODEL, VARY, n_global=4, n_starts=1, max_nfev=2)  # compile (numba)
    r = fit(noisy(clean, 0), MODEL, VARY)
    report("acceptance fit (default method)", r)
    profiles(r, 5 if args.quick else 21)
    if args.only == "profiles":
        print("fit benchmark done")
        return
    if args.figure:
        from astrofield.plotting import plot_fit, save_figure

        save_figure(plot_fit(r), args.figure)
    compare(noisy(clean, 0))
    if args.quick:
        print("gradients: skipped in --quick (the JAX compilation alone takes about 25 s)")
    else:
        gradients(T, N, n_frames)
    coverage(clean, draws)
    print("fit benchmark done")


if __name__ == "__main__":
    main()
