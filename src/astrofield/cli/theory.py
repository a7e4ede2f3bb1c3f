"""Bump-theory commands: ``bump``, ``stability``, ``boundary``, ``stability-map``.

Every command validates its inputs before any work and accepts ``--json`` for scripting.
Parameter sweeps for ``stability-map`` use ``LO:HI:N`` (linear) or ``LO:HI:N:log``; ``D`` also
accepts ``inf`` (large-diffusion limit).
"""

from __future__ import annotations

import json
import math
from typing import Any

import click
import numpy as np

from astrofield.cli import continuation as _numeric  # numerical spectrum paths (contin lane)
from astrofield.cli import main

__all__ = ["bump_cmd", "stability_cmd", "boundary_cmd", "stability_map_cmd", "parse_sweep"]


def _num(x: Any) -> Any:
    """JSON-safe float (NaN/inf -> None/'inf')."""
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _float_or_inf(value: str, name: str) -> float:
    try:
        v = float(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a number (or 'inf')", param_hint=name) from exc
    if math.isnan(v):
        raise click.BadParameter("NaN is not allowed", param_hint=name)
    return v


def parse_sweep(text: str, name: str) -> float | np.ndarray:
    """Parse ``V`` (scalar), ``LO:HI:N`` (linspace) or ``LO:HI:N:log`` (geomspace)."""
    parts = str(text).split(":")
    if len(parts) == 1:
        return _float_or_inf(parts[0], name)
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("lin", "log")):
        raise click.BadParameter(f"{text!r}: use V, LO:HI:N or LO:HI:N:log", param_hint=name)
    lo, hi = _float_or_inf(parts[0], name), _float_or_inf(parts[1], name)
    try:
        n = int(parts[2])
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: N must be an integer", param_hint=name) from exc
    if n < 2 or not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise click.BadParameter(f"{text!r}: need finite LO < HI and N >= 2", param_hint=name)
    if len(parts) == 4 and parts[3] == "log":
        if lo <= 0:
            raise click.BadParameter(f"{text!r}: log spacing needs LO > 0", param_hint=name)
        return np.geomspace(lo, hi, n)
    return np.linspace(lo, hi, n)


def _validated(**kw: Any) -> None:
    """Run the library checks up front and turn ValueError into click errors."""
    from astrofield._validate import check_range

    ranges = {"theta": (0.0, 1.0, True, True, False), "beta": (0.0, math.inf, False, True, False),
              "gamma": (0.0, math.inf, True, True, False), "D": (0.0, math.inf, True, True, True)}
    for name, v in kw.items():
        if v is None:
            continue
        lo, hi, lo_open, hi_open, allow_inf = ranges[name]
        try:
            check_range(name, v, lo, hi, lo_open=lo_open, hi_open=hi_open, allow_inf=allow_inf)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=f"--{name}") from exc


def _emit(obj: dict, as_json: bool, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(obj))
    else:
        for line in lines:
            click.echo(line)


_theta = click.option("--theta", type=float, default=0.1, show_default=True, help="Threshold.")
_gamma = click.option("--gamma", type=float, default=2.0, show_default=True,
                      help="Replenishment rate.")
_json = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
_D = click.option("--D", "D", default="1.0", show_default=True,
                  help="Astrocytic diffusion (> 0, or 'inf').")


@main.command("bump")
@_theta
@click.option("--beta", type=float, default=0.05, show_default=True, help="Depletion rate.")
@_gamma
@_json
def bump_cmd(theta: float, beta: float, gamma: float, as_json: bool) -> None:
    """Stationary bumps (wide and narrow branch) and the fold beta_max."""
    from astrofield.theory.bump import fold, stationary_bumps

    _validated(theta=theta, beta=beta, gamma=gamma)
    bmax, dfold = fold(theta, gamma)
    bumps = stationary_bumps(theta, beta, gamma)
    obj = {"theta": theta, "beta": beta, "gamma": gamma, "beta_fold": float(bmax),
           "Delta_fold": float(dfold), "exists": bool(bumps),
           "branches": [{k: (b.branch if k == "branch" else float(getattr(b, k)))
                         for k in ("branch", "Delta", "c0", "A0", "amplitude", "mu")}
                        for b in bumps]}
    lines = [f"beta_fold = {float(bmax):.10g} (Delta_fold = {float(dfold):.10g})"]
    if not bumps:
        lines.append("no bump exists (beta > beta_fold)")
    for b in obj["branches"]:
        lines.append("  ".join(f"{k}={v}" if k == "branch" else f"{k}={v:.10g}"
                               for k, v in b.items()))
    _emit(obj, as_json, lines)


def _parse_region(text: str | None):
    if text is None:
        return None
    parts = text.split(",")
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: four numbers RE_MIN,RE_MAX,IM_MIN,IM_MAX",
                                 param_hint="--region") from exc
    if len(vals) != 4 or not (vals[0] < vals[1] and vals[2] < vals[3]) or not all(
            math.isfinite(v) for v in vals):
        raise click.BadParameter(f"{text!r}: need RE_MIN<RE_MAX,IM_MIN<IM_MAX (finite)",
                                 param_hint="--region")
    return vals


@main.command("stability")
@_theta
@click.option("--beta", type=float, default=0.05, show_default=True, help="Depletion rate.")
@_gamma
@_D
@click.option("--branch", type=click.Choice(["wide", "narrow"]), default="wide",
              show_default=True)
@click.option("--region", default=None,
              help="Search rectangle for zeros of E: RE_MIN,RE_MAX,IM_MIN,IM_MAX "
                   "(default: -gamma*A0/4, 2, -2, 2).")
@click.option("--no-spectrum", is_flag=True, help="Skip the zero search.")
@click.option("--tau", type=float, default=1.0, show_default=True,
              help="Resource time scale (enters as beta, gamma, D -> beta/tau, gamma/tau, D/tau).")
@_json
@_numeric.numerical_options
def stability_cmd(theta: float, beta: float, gamma: float, D: str, branch: str,
                  region: str | None, no_spectrum: bool, tau: float, as_json: bool,
                  **numopts: Any) -> None:
    """Drift stability of a bump: Evans E'(0), Fourier truncation and zeros of E.

    With --firing sigmoid or another --kernel: the numerical spectrum (see 'spectrum').
    """
    if _numeric.wants_numerical(numopts):
        return _numeric.numerical_stability_cmd(theta, beta, gamma, D, tau, as_json, **numopts)
    from astrofield.theory.evans import evans_zeros
    from astrofield.theory.stability import stability

    Dv = _float_or_inf(D, "--D")
    _validated(theta=theta, beta=beta, gamma=gamma, D=Dv)
    reg = _parse_region(region)
    try:
        r = stability(theta, beta, gamma, Dv, branch=branch, tau=tau)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--tau") from exc
    obj: dict[str, Any] = {"theta": theta, "beta": beta, "gamma": gamma, "D": _num(Dv),
                           "tau": tau, "branch": branch, "exists": bool(r["exists"])}
    if not obj["exists"]:
        obj.update({"evans_dprime": None, "stable": None, "fourier_stable": None,
                    "eigenvalues": [], "multiplicities": [], "disagree": False})
        _emit(obj, as_json, ["no bump exists (beta > beta_fold): nothing to analyse"])
        return
    zeros = []
    if not no_spectrum:
        try:
            zeros = evans_zeros(theta, beta / tau, gamma / tau, Dv / tau, region=reg,
                                branch=branch)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--region") from exc
    obj.update({
        "evans_dprime": float(r["evans_dprime"]),
        "stable": bool(r["evans_stable"]),
        "fourier_stable": bool(r["fourier_stable"]),
        "fourier_max_real": float(r["fourier_max_real"]),
        "disagree": bool(r["disagree"]),
        "Delta": float(r["Delta"]), "c0": float(r["c0"]),
        "eigenvalues": [[z.lam.real, z.lam.imag] for z in zeros],
        "multiplicities": [z.multiplicity for z in zeros],
    })
    lines = [f"E'(0) = {obj['evans_dprime']:.10g}  ->  "
             f"{'stable' if obj['stable'] else 'drift-unstable'} (Evans)",
             f"Fourier truncation: {'stable' if obj['fourier_stable'] else 'unstable'}"
             + ("  [DISAGREE]" if obj["disagree"] else "")]
    for z in zeros:
        lines.append(f"  zero {z.lam.real:+.10g} {z.lam.imag:+.10g}i  (x{z.multiplicity})")
    _emit(obj, as_json, lines)


@main.command("boundary")
@_theta
@_gamma
@click.option("--beta", type=float, default=None,
              help="Fixed depletion rate (needed with --vary gamma).")
@_D
@click.option("--vary", type=click.Choice(["beta", "gamma"]), default="beta", show_default=True)
@click.option("--range", "rng", default=None, help="Search interval LO:HI (default: all).")
@_json
@_numeric.numerical_options
def boundary_cmd(theta: float, gamma: float, beta: float | None, D: str, vary: str,
                 rng: str | None, as_json: bool, **numopts: Any) -> None:
    """Stability boundary beta* (or gamma* with --vary gamma) by Evans and by Fourier.

    With --firing sigmoid: the drift bifurcation of the numerical bump (continuation).
    """
    if _numeric.wants_numerical(numopts):
        return _numeric.numerical_boundary_cmd(theta, gamma, beta, D, vary, rng, as_json,
                                               **numopts)
    from astrofield.theory.stability import boundary

    Dv = _float_or_inf(D, "--D")
    _validated(theta=theta, gamma=gamma if vary == "beta" else None, beta=beta, D=Dv)
    if vary == "gamma" and (beta is None or beta <= 0):
        raise click.BadParameter("--vary gamma needs a fixed --beta > 0", param_hint="--beta")
    lo = hi = None
    if rng is not None:
        parts = rng.split(":")
        try:
            lo, hi = (float(p) for p in parts)
        except ValueError as exc:
            raise click.BadParameter(f"{rng!r}: use LO:HI", param_hint="--range") from exc
        if not (0 < lo < hi < math.inf):
            raise click.BadParameter(f"{rng!r}: need 0 < LO < HI", param_hint="--range")
    kw = {"gamma": gamma} if vary == "beta" else {"beta": beta}
    ev = boundary(vary, theta, Dv, lo=lo, hi=hi, method="evans", **kw)
    fo = boundary(vary, theta, Dv, lo=lo, hi=hi, method="fourier", **kw)
    key = f"{vary}_star"
    first = float(ev[0]) if ev.size else math.nan
    ffirst = float(fo[0]) if fo.size else math.nan
    obj = {"theta": theta, "D": _num(Dv), "vary": vary, **kw,
           key: _num(first), f"fourier_{key}": _num(ffirst),
           "crossings": [float(x) for x in ev], "fourier_crossings": [float(x) for x in fo],
           "relative_difference": _num(abs(ffirst - first) / first)
           if ev.size and fo.size else None}
    lines = [f"{key} (Evans)   = {first:.10g}", f"{key} (Fourier) = {ffirst:.10g}"]
    _emit(obj, as_json, lines)


@main.command("stability-map")
@click.option("--theta", default="0.1", show_default=True, help="V | LO:HI:N[:log]")
@click.option("--beta", default="0.001:0.1:50", show_default=True, help="V | LO:HI:N[:log]")
@click.option("--gamma", default="2", show_default=True, help="V | LO:HI:N[:log]")
@click.option("--D", "D", default="0.001:0.6:50", show_default=True,
              help="V | LO:HI:N[:log] | inf")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="NetCDF file (written atomically).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="PNG of the map.")
@_json
@_numeric.numerical_options
def stability_map_cmd(theta: str, beta: str, gamma: str, D: str, output: str | None,
                      plot: str | None, as_json: bool, **numopts: Any) -> None:
    """Analytic phase map (Evans E'(0) and Fourier verdict) over any two swept parameters.

    Example: astrofield stability-map --beta 0.001:0.1:50 --D 0.001:0.6:50 --gamma 2
    --theta 0.1 -o map.nc --plot map.png
    """
    import os
    import time

    from astrofield.theory.stability import plot_map, stability_map, write_netcdf

    vals = {"theta": parse_sweep(theta, "--theta"), "beta": parse_sweep(beta, "--beta"),
            "gamma": parse_sweep(gamma, "--gamma"), "D": parse_sweep(D, "--D")}
    _validated(**vals)
    if _numeric.wants_numerical(numopts):  # sigmoid / other kernels: one spectrum per point
        return _numeric.numerical_map_cmd(vals, numopts, output, as_json)
    swept = [k for k, v in vals.items() if np.ndim(v)]
    if plot and len(swept) != 2:
        raise click.BadParameter(f"--plot needs exactly two swept parameters, got {swept}",
                                 param_hint="--plot")
    for path in (output, plot):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise click.BadParameter(f"directory of {path!r} does not exist")
    t0 = time.perf_counter()
    ds = stability_map(**vals)
    wall = time.perf_counter() - t0
    ds.attrs["wall_time_s"] = wall
    if output:
        write_netcdf(ds, output)
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        fig = plot_map(ds)
        fig.savefig(plot, dpi=120)
    ex = ds["exists"].values
    obj = {"dims": {d: int(ds.sizes[d]) for d in ds["evans_dprime"].dims},
           "points": int(ex.size), "exists": int(ex.sum()),
           "evans_stable": int(ds["evans_stable"].values.sum()),
           "fourier_stable": int(ds["fourier_stable"].values.sum()),
           "disagree": int(ds["disagree"].values.sum()), "wall_time_s": wall,
           "output": output, "plot": plot}
    lines = [f"{obj['points']} points ({obj['exists']} with a bump) in {wall:.2f} s: "
             f"{obj['evans_stable']} Evans-stable, {obj['fourier_stable']} Fourier-stable, "
             f"{obj['disagree']} disagree"]
    if output:
        lines.append(f"wrote {output}")
    if plot:
        lines.append(f"wrote {plot}")
    _emit(obj, as_json, lines)
