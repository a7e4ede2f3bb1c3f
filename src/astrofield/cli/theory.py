"""Bump-theory commands: ``bump``, ``stability``, ``boundary``, ``stability-map``.

Every command validates its inputs before any work and accepts ``--json`` for scripting.
``stability-map`` takes each parameter as a grid SPEC (``start:stop:count``,
``start:stop:count:log``, ``v1,v2,...``, one value, ``inf`` for D) or ``--vary NAME=SPEC``.
"""

from __future__ import annotations

import math
from typing import Any

import click
import numpy as np

from astrofield.cli import continuation as _numeric  # numerical spectrum paths (contin lane)
from astrofield.cli._common import (
    FINITE,
    FLOAT_INF,
    Timer,
    api_default,
    command,
    emit,
    grid_from,
    guard,
    json_option,
    option,
    output_option,
    plot_option,
    progress_for,
    quiet_option,
    save_outputs,
    vary_option,
)

__all__ = ["bump_cmd", "stability_cmd", "boundary_cmd", "stability_map_cmd"]


def _validated(table: str = "theory", **kw: Any) -> None:
    """The bump theory's limits (beta, gamma > 0, D > 0 or inf), checked up front (exit 2);
    ``table="model"``: the model's limits (bumps exist at beta = 0 too)."""
    from astrofield._validate import PARAMETER_RANGES, SWEEP_RANGES, check_param

    for name, v in kw.items():
        if v is not None:
            try:
                check_param(name, v, SWEEP_RANGES if table == "theory" else PARAMETER_RANGES)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint=f"--{name}") from None


_MODEL = "astrofield.model.definition:Model"
_theta = option("--theta", type=FINITE, default=api_default(_MODEL, "theta"),
                help="Firing threshold, in (0, 1).")
_beta = option("--beta", type=FINITE, default=api_default(_MODEL, "beta"),
               help="Depletion rate, >= 0.")
_gamma = option("--gamma", type=FINITE, default=api_default(_MODEL, "gamma"),
                help="Replenishment rate, > 0.")
_D = option("--D", "D", type=FLOAT_INF, default=api_default(_MODEL, "D"),
            help="Astrocytic diffusion (> 0, or 'inf').")


@command("bump", example="astrofield bump --theta 0.1 --beta 0.05 --gamma 2 --json --plot bump.png")
@_theta
@_beta
@_gamma
@plot_option("Figure of the U, Q, A profiles of both branches.")
@json_option
@quiet_option
def bump_cmd(theta: float, beta: float, gamma: float, plot: str | None, as_json: bool,
             quiet: bool) -> None:
    """Stationary bumps (wide and narrow branch) and the fold beta_max."""
    from astrofield.theory.bump import fold, stationary_bumps

    timer = Timer()
    _validated(theta=theta, gamma=gamma)
    _validated("model", beta=beta)
    with guard():
        bmax, dfold = fold(theta, gamma)
        bumps = stationary_bumps(theta, beta, gamma)
    obj = {"theta": theta, "beta": beta, "gamma": gamma, "beta_fold": float(bmax),
           "Delta_fold": float(dfold), "exists": bool(bumps),
           "branches": [{k: (b.branch if k == "branch" else float(getattr(b, k)))
                         for k in ("branch", "Delta", "c0", "A0", "amplitude", "mu")}
                        for b in bumps], "wall_s": timer.wall_s, "plot": plot}
    with guard(runtime=True):
        save_outputs(None, None, plot, lambda: _plot("plot_bumps", bumps))
    lines = [f"beta_fold = {float(bmax):.10g} (Delta_fold = {float(dfold):.10g})"]
    if not bumps:
        lines.append("no bump exists (beta > beta_fold)")
    for b in obj["branches"]:
        lines.append("  ".join(f"{k}={v}" if k == "branch" else f"{k}={v:.10g}"
                               for k, v in b.items()))
    emit(obj, as_json, lines)


def _plot(name: str, *args: Any, **kw: Any):
    import astrofield.plotting as plotting

    return getattr(plotting, name)(*args, **kw)


def _parse_region(text: str | None):
    from astrofield._validate import parse_number

    if text is None:
        return None
    try:
        vals = tuple(parse_number(p, "--region", allow_inf=False) for p in text.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: four numbers RE_MIN,RE_MAX,IM_MIN,IM_MAX ({exc})",
                                 param_hint="--region") from None
    if len(vals) != 4 or not (vals[0] < vals[1] and vals[2] < vals[3]):
        raise click.BadParameter(f"{text!r}: need RE_MIN<RE_MAX,IM_MIN<IM_MAX (finite)",
                                 param_hint="--region")
    return vals


def _refuse_numeric_plot(plot: str | None) -> None:
    """``--plot`` draws the Evans function, which the numerical route (a sigmoid firing rate or
    another kernel) does not compute: refuse it there instead of dropping it."""
    if plot:
        raise click.BadParameter(
            f"{plot!r}: --plot draws the Evans function of the Heaviside model and is not "
            "available on the numerical route (--firing other than heaviside, or --kernel other "
            "than the default); use --json or -o and plot the numbers", param_hint="--plot")


@command("stability", example="""
astrofield stability --theta 0.1 --beta 0.05 --gamma 2 --D 0.7 --json
astrofield stability --D inf --region=-1.5,2,-2,2""")
@_theta
@_beta
@_gamma
@_D
@option("--branch", type=click.Choice(["wide", "narrow"]), default="wide",
        help="Bump branch to analyse.")
@option("--region", default=None, metavar="RE_MIN,RE_MAX,IM_MIN,IM_MAX",
        help="Search rectangle for zeros of E (default: -gamma*A0/4, 2, -2, 2).")
@option("--no-spectrum", is_flag=True, help="Skip the zero search.")
@option("--nonlinear-check", is_flag=True,
        help="Simulate the bump at two perturbation amplitudes (1e-9, 1e-6; about 1 s) and "
             "report whether the drift scales with the perturbation (finite_slip).")
@option("--tau", type=FINITE, default=api_default(_MODEL, "tau"),
        help="Resource time scale (enters as beta, gamma, D -> beta/tau, gamma/tau, D/tau).")
@plot_option("Figure of the zeros of E in the complex plane.")
@json_option
@quiet_option
@_numeric.numerical_options
def stability_cmd(theta: float, beta: float, gamma: float, D: float, branch: str,
                  region: str | None, no_spectrum: bool, nonlinear_check: bool, tau: float,
                  plot: str | None, as_json: bool, quiet: bool, **numopts: Any) -> None:
    """Drift stability of a bump: Evans E'(0), Fourier truncation and zeros of E.

    With --firing sigmoid or another --kernel: the numerical spectrum (see 'spectrum').
    """
    if _numeric.wants_numerical(numopts):
        _refuse_numeric_plot(plot)
        return _numeric.numerical_stability_cmd(theta, beta, gamma, D, tau, as_json, **numopts)
    from astrofield.theory.evans import evans_zeros
    from astrofield.theory.stability import stability, verdict_text

    timer = Timer()
    # beta > 0: at beta = 0 the default region's edge meets the accumulation point -(beta +
    # gamma A0) = 0 (the API answers beta = 0, the Amari limit, in closed form)
    _validated(theta=theta, beta=beta, gamma=gamma, D=D)
    reg = _parse_region(region)
    with guard():
        r = stability(theta, beta, gamma, D, branch=branch, tau=tau,
                      nonlinear_check="all" if nonlinear_check else False)
    obj: dict[str, Any] = {"theta": theta, "beta": beta, "gamma": gamma, "D": D,
                           "tau": tau, "branch": branch, "exists": bool(r["exists"]),
                           "resolved": True}  # exact theory (Evans function): no grid, no step
    if not obj["exists"]:
        obj.update({"evans_dprime": None, "evans_stable": None, "stable": None,
                    "fourier_stable": None,
                    "eigenvalues": [], "multiplicities": [], "disagree": False,
                    "wall_s": timer.wall_s, "plot": plot})
        with guard(runtime=True):
            save_outputs(None, None, plot, lambda: _plot("plot_spectrum", [], region=reg))
        emit(obj, as_json, ["no bump exists (beta > beta_fold): nothing to analyse"])
        return
    zeros = []
    if not no_spectrum:
        try:
            zeros = evans_zeros(theta, beta / tau, gamma / tau, D / tau, region=reg,
                                branch=branch)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--region") from None
    obj.update({
        "evans_dprime": float(r["evans_dprime"]), "evans_stable": bool(r["evans_stable"]),
        "stable": bool(r["evans_stable"]),  # the same as evans_stable (kept for old scripts)
        "evans_n_real": float(r["evans_n_real"]), "evans_n_complex": float(r["evans_n_complex"]),
        "complex_unstable": float(r["complex_unstable"]),
        "evans_growth_rate": float(r["evans_growth_rate"]),
        "fourier_stable": bool(r["fourier_stable"]),
        "fourier_max_real": float(r["fourier_max_real"]), "disagree": bool(r["disagree"]),
        "Delta": float(r["Delta"]), "c0": float(r["c0"]),
        "eigenvalues": [[z.lam.real, z.lam.imag] for z in zeros],
        "multiplicities": [z.multiplicity for z in zeros], "wall_s": timer.wall_s,
        "plot": plot,
    })
    if nonlinear_check:
        obj.update({"nonlinear_response_ratio": float(r["nonlinear_response_ratio"]),
                    "finite_slip": bool(r["finite_slip"])})
    obj["verdict"] = verdict_text(obj["evans_stable"], obj["complex_unstable"],
                                  (not obj["finite_slip"]) if nonlinear_check else None)
    with guard(runtime=True):
        save_outputs(None, None, plot, lambda: _plot("plot_spectrum", [z.lam for z in zeros],
                                                     obj["multiplicities"], region=reg))
    lines = [f"E'(0) = {obj['evans_dprime']:.10g}  ->  {obj['verdict']} (Evans)",
             f"Fourier truncation: {'stable' if obj['fourier_stable'] else 'unstable'}"
             + ("  [DISAGREE]" if obj["disagree"] else "")]
    for z in zeros:
        lines.append(f"  zero {z.lam.real:+.10g} {z.lam.imag:+.10g}i  (x{z.multiplicity})")
    emit(obj, as_json, lines)


def _check_interval(lo: float | None, hi: float | None) -> None:
    """``--lo``/``--hi``: positive, ``lo < hi`` (either may be left out)."""
    for name, v in (("lo", lo), ("hi", hi)):
        if v is not None and not v > 0:
            raise click.BadParameter(f"{name} = {v:g} must be > 0", param_hint=f"--{name}")
    if lo is not None and hi is not None and not lo < hi:
        raise click.BadParameter(f"lo = {lo:g}, hi = {hi:g}: need lo < hi",
                                 param_hint="--lo/--hi")


@command("boundary", example="""
astrofield boundary --theta 0.1 --gamma 2 --D 0.3 --json
astrofield boundary --vary gamma --beta 0.05 --D 1 --lo 1 --hi 2""")
@_theta
@_gamma
@option("--beta", type=FINITE, default=None,
        help="Fixed depletion rate (needed with --vary gamma).")
@_D
@option("--vary", type=click.Choice(["beta", "gamma"]), default="beta",
        help="Parameter whose critical value is searched.")
@option("--lo", type=FINITE, default=None,
        help="Lower end of the search interval (default: the whole range; with --hi it "
             "replaces --range LO:HI).")
@option("--hi", type=FINITE, default=None, help="Upper end of the search interval.")
@plot_option("Figure of E'(0) and the Fourier indicator along the varied parameter.")
@json_option
@quiet_option
@_numeric.numerical_options
def boundary_cmd(theta: float, gamma: float, beta: float | None, D: float, vary: str,
                 lo: float | None, hi: float | None, plot: str | None, as_json: bool,
                 quiet: bool, **numopts: Any) -> None:
    """Stability boundary beta* (or gamma* with --vary gamma) by Evans and by Fourier.

    A quantity that does not exist (no crossing in the interval) is null in JSON and listed
    under "undefined". With --firing sigmoid: the drift bifurcation of the numerical bump.
    """
    if vary == "beta" and beta is not None:
        raise click.BadParameter(f"--beta {beta:g} is not used with --vary beta (beta is the "
                                 "searched parameter); drop it, or use --vary gamma with a "
                                 "fixed --beta", param_hint="--beta")
    if _numeric.wants_numerical(numopts):
        _refuse_numeric_plot(plot)
        return _numeric.numerical_boundary_cmd(theta, gamma, beta, D, vary, lo, hi, as_json,
                                               **numopts)
    from astrofield.theory.stability import boundary

    timer = Timer()
    _validated(theta=theta, gamma=gamma if vary == "beta" else None, beta=beta, D=D)
    if vary == "gamma" and (beta is None or beta <= 0):
        raise click.BadParameter("--vary gamma needs a fixed --beta > 0", param_hint="--beta")
    _check_interval(lo, hi)
    kw = {"gamma": gamma} if vary == "beta" else {"beta": beta}
    with guard():
        ev = boundary(vary, theta=theta, D=D, lo=lo, hi=hi, method="evans", **kw)
        fo = boundary(vary, theta=theta, D=D, lo=lo, hi=hi, method="fourier", **kw)
    key = f"{vary}_star"
    first = float(ev[0]) if ev.size else math.nan
    ffirst = float(fo[0]) if fo.size else math.nan
    obj = {"theta": theta, "D": D, "vary": vary, **kw, key: first, f"fourier_{key}": ffirst,
           "resolved": True,  # exact theory (roots of E'(0)): no grid, no step
           "crossings": ev, "fourier_crossings": fo,
           "relative_difference": abs(ffirst - first) / first if ev.size and fo.size
           else math.nan, "wall_s": timer.wall_s, "plot": plot}
    with guard(runtime=True):
        save_outputs(None, None, plot, lambda: _indicator_figure(vary, theta, D, kw, lo, hi,
                                                                 ev, fo))
    emit(obj, as_json, [f"{key} (Evans)   = {first:.10g}", f"{key} (Fourier) = {ffirst:.10g}"])


def _indicator_figure(vary, theta, D, kw, lo, hi, ev, fo):
    """E'(0) and the Fourier p'(0) along ``vary`` (search interval, or around the crossings)."""
    from astrofield.theory.bump import fold
    from astrofield.theory.stability import stability

    found = np.concatenate([ev, fo])
    if lo is None:
        lo = 0.5 * found.min() if found.size else (1e-3 if vary == "beta" else 0.1)
    if hi is None:
        hi = 2.0 * found.max() if found.size else (
            float(fold(theta, kw["gamma"])[0]) if vary == "beta" else 10.0)
    x = np.linspace(lo, hi, 200)
    r = (stability(theta, x, kw["gamma"], D) if vary == "beta"
         else stability(theta, kw["beta"], x, D))
    return _plot("plot_indicator", x, {"Evans E'(0)": r["evans_dprime"],
                                       "Fourier p'(0)": r["fourier_dprime"]},
                 {"Evans E'(0)": ev, "Fourier p'(0)": fo}, xlabel=vary)


@command("stability-map", example="""
astrofield stability-map --beta 0.001:0.1:50 --D 0.001:0.6:50 --gamma 2 --theta 0.1 \\
    -o map.nc --plot map.png
astrofield stability-map --vary beta=1e-3:0.1:40:log --vary gamma=1:1.6:4 --D inf --json""")
@option("--theta", default="0.1", help="Threshold: SPEC (one value or a grid).")
@option("--beta", default="0.001:0.1:50", help="Depletion rate: SPEC.")
@option("--gamma", default="2", help="Replenishment rate: SPEC.")
@option("--D", "D", default="0.001:0.6:50", help="Astrocytic diffusion: SPEC ('inf' allowed).")
@vary_option()
@option("--workers", type=click.IntRange(min=1), default=1,
        help="Processes for the numerical route (--firing sigmoid or another --kernel): the "
             "grid path is split into this many pieces.")
@option("--nonlinear-check", is_flag=True,
        help="Simulate the Evans-stable cells with a complex pair in the right half-plane at "
             "two perturbation amplitudes and flag finite slips (finite_slip).")
@output_option()
@plot_option("Figure of E'(0) with both boundaries (needs exactly two swept parameters).")
@json_option
@quiet_option
@_numeric.numerical_options
def stability_map_cmd(theta: str, beta: str, gamma: str, D: str, vary: tuple[str, ...],
                      workers: int, nonlinear_check: bool, output: str | None,
                      plot: str | None, as_json: bool, quiet: bool, **numopts: Any) -> None:
    """Analytic phase map (Evans E'(0) and Fourier verdict) over any two swept parameters.

    SPEC: start:stop:count, start:stop:count:log, v1,v2,... or one value; --vary NAME=SPEC
    overrides the parameter's option.
    """
    from astrofield._validate import check_memory
    from astrofield.plotting.stability import plot_map
    from astrofield.theory.stability import stability_map

    timer = Timer()
    with guard():
        vals = grid_from({"theta": theta, "beta": beta, "gamma": gamma, "D": D}, vary)
        points = int(np.prod([v.size for v in vals.values()]))
        check_memory(8.0 * 16 * points, f"a stability map of {points} points")
    if _numeric.wants_numerical(numopts):  # sigmoid / other kernels: one spectrum per point
        _refuse_numeric_plot(plot)
        return _numeric.numerical_map_cmd(vals, {**numopts, "workers": workers}, output,
                                          as_json)
    swept = [k for k, v in vals.items() if v.size > 1]
    if plot and len(swept) != 2:
        raise click.BadParameter(f"--plot needs exactly two swept parameters, got {swept}",
                                 param_hint="--plot")
    with guard():
        ds = stability_map(**{k: (v if v.size > 1 else float(v[0])) for k, v in vals.items()},
                           progress=progress_for(quiet), nonlinear_check=nonlinear_check)
    wall = timer.wall_s
    ds.attrs["wall_s"] = wall
    with guard(runtime=True):
        save_outputs(ds, output, plot, lambda: plot_map(ds))
    ex = ds["exists"].values
    obj = {"dims": {d: int(ds.sizes[d]) for d in ds["evans_dprime"].dims},
           "points": int(ex.size), "exists": int(ex.sum()),
           "evans_stable": int(ds["evans_stable"].values.sum()),
           "fourier_stable": int(ds["fourier_stable"].values.sum()),
           "disagree": int(ds["disagree"].values.sum()),
           "resolved": bool(ds.attrs["resolved"]),  # exact theory: no grid, no step
           "complex_unstable": int(np.sum(ds["complex_unstable"].values > 0)),
           "stable_with_complex": int(np.sum(ds["evans_stable"].values
                                             & (ds["complex_unstable"].values > 0))),
           "wall_s": wall, "output": output, "plot": plot}
    if nonlinear_check:
        obj["finite_slip"] = int(ds["finite_slip"].values.sum())
    lines = [f"{obj['points']} points ({obj['exists']} with a bump) in {wall:.2f} s: "
             f"{obj['evans_stable']} Evans-stable, {obj['fourier_stable']} Fourier-stable, "
             f"{obj['disagree']} disagree; {obj['stable_with_complex']} stable (real zeros) "
             "with a complex pair with Re > 0"
             + (f"; {obj['finite_slip']} finite slips" if nonlinear_check else "")]
    lines += [f"wrote {f}" for f in (output, plot) if f]
    emit(obj, as_json, lines)
