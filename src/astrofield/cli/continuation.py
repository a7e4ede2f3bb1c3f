"""Numerical bump commands: ``spectrum`` and ``continue`` (any kernel, sigmoid or Heaviside).

Model options follow ``astrofield run``: ``--kernel``, ``--kernel-param NAME=VALUE``,
``--firing``, ``--steepness``, ``--D`` (``inf`` allowed), ``--N``. ``--json`` prints one JSON
object (infinity as the string ``"inf"``). The helpers at the bottom let ``stability``,
``boundary`` and ``stability-map`` use the numerical spectrum where the Evans function does not
apply (sigmoid firing or a non-cosine kernel).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

import click
import numpy as np

from astrofield._version import __version__
from astrofield.cli._common import (
    FINITE,
    FLOAT_INF,
    KERNELS,  # noqa: F401 - re-exported (was defined here)
    api_default,
    command,
    emit,
    firing_kernel_options,
    json_option,
    option,
    output_option,
    plot_option,
    progress_for,
    quiet_option,
    save_outputs,
    say,
)
from astrofield.io.cf import annotate, flag_attrs, seed_attrs
from astrofield.io.jsonio import json_number

__all__ = ["spectrum_cmd", "continue_cmd", "model_options", "numerical_options",
           "wants_numerical"]

_MODEL = "astrofield.model.definition:Model"
_STEADY = "astrofield.theory.steady:steady_bump"


class _GridSize(click.ParamType):
    """``--N``: an integer or ``auto`` (the resolution rule of the firing layer)."""

    name = "N"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value == "auto":
            return value
        try:
            return int(value)
        except ValueError:
            self.fail(f"{value!r} is not an integer or 'auto'", param, ctx)


def numerical_options(f):
    """``--firing --steepness --kernel --kernel-param --N`` (added to the theory commands)."""
    f = option("--N", "N", type=_GridSize(), default=api_default(_STEADY, "N"),
               help="Grid points of the numerical bump (even), or 'auto': enough to "
               "resolve the firing layer (spectrum, stability, continue, boundary).")(f)
    return firing_kernel_options(f)


def model_options(f):
    """All model options: ``--theta --beta --gamma --tau --D`` plus :func:`numerical_options`."""
    opts = [
        option("--theta", type=FINITE, default=api_default(_MODEL, "theta"), help="Threshold."),
        option("--beta", type=FINITE, default=api_default(_MODEL, "beta"),
               help="Depletion rate."),
        option("--gamma", type=FINITE, default=api_default(_MODEL, "gamma"),
               help="Replenishment rate."),
        option("--tau", type=FINITE, default=api_default(_MODEL, "tau"),
               help="Resource time scale."),
        option("--D", "D", type=FLOAT_INF, default=api_default(_MODEL, "D"),
               help="Astrocytic diffusion (> 0, or 'inf')."),
    ]
    for o in reversed(opts):
        f = o(f)
    return numerical_options(f)


def wants_numerical(opts: dict) -> bool:
    """Whether the Evans theory does not apply (smooth firing or a non-cosine kernel)."""
    return opts.get("firing", "heaviside") != "heaviside" or opts.get("kernel",
                                                                    "cosine") != "cosine"


def build_model(theta, beta, gamma, tau, D, firing, steepness, kernel, kernel_params):
    """A validated :class:`~astrofield.Model`; bad input becomes a click usage error."""
    from astrofield._validate import parse_number
    from astrofield.cli.run import parse_kernel_params
    from astrofield.model.definition import Model
    from astrofield.model.kernels import make_kernel

    try:
        Dv = parse_number(D, "--D") if isinstance(D, str) else float(D)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--D") from None
    try:
        kw = parse_kernel_params(kernel_params)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--kernel-param") from None
    try:
        kern = make_kernel(kernel, **kw)
    except (TypeError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--kernel-param") from exc
    if Dv <= 0:
        raise click.BadParameter(f"D = {Dv:g} is outside the allowed range (0, inf] (bumps "
                                 "need diffusion)", param_hint="--D")
    try:
        return Model(theta=theta, beta=beta, gamma=gamma, tau=tau, D=Dv, firing=firing,
                     steepness=steepness, kernel=kern)
    except ValueError as exc:
        name = str(exc).split(" ")[0]
        raise click.BadParameter(str(exc), param_hint=f"--{name}") from exc


def _check_N(N: int | str, allow_auto: bool = True, points: int = 1) -> None:
    """``--N``: even, >= 16, its dense Jacobian within the memory limit and ``points`` dense
    problems of that size within the work limit (``UsageError``, exit 2, before any work)."""
    if N == "auto":
        if not allow_auto:
            raise click.BadParameter("N = auto is not available here; give an even integer",
                                     param_hint="--N")
        return
    if N < 16 or N % 2:
        raise click.BadParameter(f"N = {N} must be an even integer >= 16", param_hint="--N")
    from astrofield._validate import check_memory, check_work, dense_work
    from astrofield._validate import estimate_dense_jacobian_bytes as jacobian_bytes

    try:  # every route builds dense N x N operators and a (3N)^2 Jacobian
        check_memory(jacobian_bytes(N), f"the dense Jacobian of N = {N} (a {3 * N} x {3 * N} "
                                        "matrix and its eigenvalue work copies)")
        check_work(dense_work(N, points),
                   f"{points} dense Newton and eigenvalue problem(s) of N = {N} (a {3 * N} x "
                   f"{3 * N} Jacobian each)", hint="use fewer points or a smaller N")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _fail(message: str, as_json: bool, extra: dict | None = None) -> None:
    """Report a numerical failure (no bump, no convergence) and exit 1, without a traceback."""
    if as_json:
        emit({"error": message, **(extra or {})}, True, [])
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _spectrum_obj(sp, n_show: int) -> dict:
    ev = sp.eigenvalues[:n_show]
    return {"eigenvalues": {"real": [float(z.real) for z in ev],
                            "imag": [float(z.imag) for z in ev]},
            "formal": [bool(b) for b in sp.formal[:n_show]],
            "n_unstable": int(sp.n_unstable), "stable": bool(sp.stable),
            "leading": {"real": json_number(sp.leading.real), "imag": json_number(sp.leading.imag)},
            "translation_eigenvalue": json_number(np.real(sp.translation_eigenvalue)),
            "residual": json_number(sp.steady.residual), "speed": json_number(sp.steady.speed),
            "resolved": bool(sp.resolved), "certified": bool(sp.certified), "method": sp.method}


@command("spectrum", example="""
astrofield spectrum --firing sigmoid --steepness 20 --D 0.3 --N 128 --json
astrofield spectrum --kernel mexican_hat --D inf --N 64 -o spectrum.nc""")
@model_options
@click.option("--branch", type=click.Choice(["wide", "narrow"]), default="wide",
              show_default=True, help="Heaviside bump used (or as the sigmoid start guess).")
@click.option("--n-show", type=int, default=10, show_default=True,
              help="How many leading eigenvalues to print.")
@output_option("NetCDF file with the leading eigenvalues and eigenfunction.")
@json_option
@quiet_option
def spectrum_cmd(theta, beta, gamma, tau, D, firing, steepness, kernel, kernel_params, N,
                 branch, n_show, output, as_json, quiet) -> None:
    """Eigenvalues of the linearisation about a numerical bump (any kernel and firing rate)."""
    from astrofield.theory.spectra import spectrum
    from astrofield.theory.steady import SteadyStateError, steady_bump

    model = build_model(theta, beta, gamma, tau, D, firing, steepness, kernel, kernel_params)
    _check_N(N)
    if n_show < 1:
        raise click.BadParameter(f"n_show = {n_show} must be >= 1", param_hint="--n-show")
    _check_dir(output, "--output")
    t0 = time.perf_counter()
    try:
        sp = spectrum(steady_bump(model, N, branch=branch))
    except SteadyStateError as exc:
        _fail(str(exc), as_json)
    obj = {"model": _model_obj(model), "N": sp.steady.system.N, **_spectrum_obj(sp, n_show),
           "wall_s": time.perf_counter() - t0, "output": output}
    if output:
        from astrofield.io import save

        save(sp.to_dataset(), output)
    lines = [f"bump residual {sp.steady.residual:.3g}, translation eigenvalue "
             f"{np.real(sp.translation_eigenvalue):+.3g}",
             f"{'stable' if sp.stable else 'unstable'}: n_unstable = {sp.n_unstable}"]
    lines += [f"  {z.real:+.10g} {z.imag:+.10g}i" for z in sp.eigenvalues[:n_show]]
    if not sp.resolved:
        lines.append("warning: the translation eigenvalue is not small; increase --N")
    emit(obj, as_json, lines)


def _model_obj(model) -> dict:
    out = {}
    for k, v in model.to_attrs().items():
        out[k] = json_number(v) if isinstance(v, float) else v
    return out


def _check_dir(path: str | None, hint: str) -> None:
    if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise click.BadParameter(f"directory of {path!r} does not exist", param_hint=hint)


@command("continue", example="""
astrofield continue --firing sigmoid --steepness 20 --D 0.3 --param beta --start 0.01 \\
    --stop 0.1 -o branch.nc --plot branch.png --json""")
@model_options
@click.option("--param", type=click.Choice(["beta", "gamma", "D", "theta", "steepness", "tau"]),
              default="beta", show_default=True, help="Continuation parameter.")
@click.option("--start", type=float, default=None, help="First value (default: the model's).")
@click.option("--stop", type=float, required=True, help="Last value.")
@click.option("--max-points", type=int, default=200, show_default=True,
              help="Largest number of points on the stationary branch.")
@click.option("--ds", type=float, default=0.05, show_default=True,
              help="Initial arclength step (parameter in units of |stop - start|).")
@click.option("--branch", type=click.Choice(["wide", "narrow"]), default="wide",
              show_default=True, help="Bump family to follow (Heaviside; the sigmoid start "
              "guess). Near the fold at large D the drift bifurcation is on the narrow one.")
@click.option("--no-travelling", is_flag=True, help="Do not switch onto travelling bumps.")
@output_option("NetCDF file of the branch (written atomically).")
@plot_option("Bifurcation diagram (solid stable, dashed unstable, markers at special points).")
@json_option
@quiet_option
def continue_cmd(theta, beta, gamma, tau, D, firing, steepness, kernel, kernel_params, N, param,
                 start, stop, max_points, ds, branch, no_travelling, output, plot, as_json,
                 quiet) -> None:
    """Follow bumps in one parameter: folds, drift bifurcations, travelling bumps."""
    from astrofield.model.definition import PARAMETER_RANGES
    from astrofield.theory.continuation import continue_bumps

    model = build_model(theta, beta, gamma, tau, D, firing, steepness, kernel, kernel_params)
    _check_N(N)
    lo, hi, lo_open, hi_open, _ = PARAMETER_RANGES[param]
    for hint, v in (("--start", start), ("--stop", stop)):
        if v is not None and not ((lo < v if lo_open else lo <= v) and v < hi):
            raise click.BadParameter(f"{param} = {v:g} is outside the allowed range "
                                     f"{'(' if lo_open else '['}{lo:g}, {hi:g})",
                                     param_hint=hint)
    if max_points < 2:
        raise click.BadParameter(f"{max_points} must be >= 2", param_hint="--max-points")
    if not ds > 0:
        raise click.BadParameter(f"ds = {ds:g} must be > 0", param_hint="--ds")
    _check_dir(output, "--output")
    _check_dir(plot, "--plot")
    try:
        res = continue_bumps(model, param, start, stop, N=N, max_points=max_points, ds=ds,
                             travelling=not no_travelling, branch=branch,
                             progress=progress_for(quiet))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if output:
        from astrofield.io import save

        save(res, output)
    if plot and res.sizes["point"]:
        from astrofield.plotting.continuation import plot_branch

        save_outputs(None, None, plot, lambda: plot_branch(res))
    _report_branch(res, param, output, plot, as_json, quiet)


def _report_branch(res, param: str, output, plot, as_json: bool, quiet: bool) -> None:
    pt = res["point_type"].values
    pv = res[param].values

    def special(kind):
        return [{param: float(v), "speed": float(c)}
                for v, k, c in zip(pv, pt, res["speed"].values, strict=True) if k == kind]

    obj = {"points": int(res.sizes["point"]), "folds": special("fold"),
           "drift_bifurcations": special("drift"),
           "travelling_points": int((res["branch"].values == "travelling").sum()),
           "wall_s": float(res.attrs["wall_s"]), "message": res.attrs["message"],
           "N": int(res.attrs["N"]), "resolved": bool(res["resolved"].values.all()),
           "drift_brackets": json.loads(res.attrs.get("drift_brackets", "[]")),
           "output": output, "plot": plot if res.sizes["point"] else None}
    msg = res.attrs["message"]
    if obj["points"] == 0:
        _fail(msg or "no points computed", as_json, obj)
    lines = [f"{obj['points']} points in {obj['wall_s']:.2f} s"]
    lines += [f"fold at {param} = {d[param]:.8g}" for d in obj["folds"]]
    lines += [f"drift bifurcation at {param} = {d[param]:.8g}" for d in obj["drift_bifurcations"]]
    trav = res["branch"].values == "travelling"
    if trav.any():
        c, p = res["speed"].values[trav], pv[trav]
        lines.append(f"travelling branch: {int(trav.sum())} points, speed {c.min():.4g} to "
                     f"{c.max():.4g} for {param} from {p[0]:.6g} to {p[-1]:.6g}")
    if output:
        lines.append(f"wrote {output}")
    if plot:
        lines.append(f"wrote {plot}")
    emit(obj, as_json, lines)
    if msg:
        say(f"warning: {msg}", quiet)


# --------------------------------------------------------------------------------------------
# numerical paths for `stability`, `boundary` and `stability-map`
# --------------------------------------------------------------------------------------------

def numerical_stability_cmd(theta, beta, gamma, D, tau, as_json, firing, steepness, kernel,
                            kernel_params, N, **_ignored) -> None:
    """``astrofield stability`` with the numerical spectrum."""
    from astrofield.theory.spectra import numerical_stability

    model = build_model(theta, beta, gamma, tau, D, firing, steepness, kernel, kernel_params)
    _check_N(N)
    r = numerical_stability(model, N)
    obj = {"method": "numerical spectrum", "theta": theta, "beta": beta, "gamma": gamma,
           "D": json_number(model.D), "tau": tau, "firing": firing, "steepness": steepness,
           "kernel": model.kernel.describe(), "N": N, "exists": r["exists"],
           "stable": r["stable"] if r["exists"] else None, "n_unstable": r["n_unstable"],
           "leading": {"real": json_number(r["leading_real"]),
                       "imag": json_number(r["leading_imag"])},
           "translation_eigenvalue": json_number(r["translation_eigenvalue"]),
           "residual": json_number(r["residual"]), "resolved": r["resolved"],
           "certified": r["certified"], "message": r["message"]}
    if not r["exists"]:
        lines = [f"no bump: {r['message']}"]
    else:
        lines = [f"{'stable' if r['stable'] else 'unstable'} (numerical spectrum, N = {N}): "
                 f"n_unstable = {r['n_unstable']}, leading eigenvalue "
                 f"{r['leading_real']:+.8g} {r['leading_imag']:+.8g}i"]
        if r["message"]:
            lines.append(f"warning: {r['message']}")
    emit(obj, as_json, lines)


def numerical_boundary_cmd(theta, gamma, beta, D, vary, lo, hi, as_json, firing, steepness,
                           kernel, kernel_params, N, **_ignored) -> None:
    """``astrofield boundary`` for smooth firing or other kernels (drift bifurcation)."""
    from astrofield.theory.continuation import numerical_boundary
    from astrofield.theory.steady import SteadyStateError

    if firing == "heaviside":
        raise click.BadParameter("numerical boundaries need a smooth --firing, e.g. sigmoid "
                                 "(Heaviside "
                                 "bumps with other kernels: use 'astrofield continue')",
                                 param_hint="--firing")
    default_lo, default_hi = (1e-3, 0.3) if vary == "beta" else (0.1, 10.0)
    lo = default_lo if lo is None else lo
    hi = default_hi if hi is None else hi
    if not (0 < lo < hi < math.inf):
        raise click.BadParameter(f"lo = {lo:g}, hi = {hi:g}: need 0 < lo < hi",
                                 param_hint="--lo/--hi")
    if vary == "gamma" and (beta is None or beta <= 0):
        raise click.BadParameter("--vary gamma needs a fixed --beta > 0", param_hint="--beta")
    model = build_model(theta, beta if beta is not None else lo, gamma, 1.0, D, firing,
                        steepness, kernel, kernel_params)
    _check_N(N)
    t0 = time.perf_counter()
    try:
        r = numerical_boundary(model, vary, lo, hi, N=N, details=True)
    except SteadyStateError as exc:
        _fail(f"no bump to start from: {exc}", as_json, {"N": N})
    val, key = r["value"], f"{vary}_star"
    obj = {"method": "numerical continuation", "theta": theta, "D": json_number(model.D),
           "vary": vary, "steepness": steepness, "kernel": model.kernel.describe(),
           "N": r["N"], key: json_number(val), "resolved": r["resolved"],
           "layer_points": json_number(r["layer_points"]), "N_needed": r["N_needed"],
           "bracket": r["bracket"], "message": r["message"],
           "wall_s": time.perf_counter() - t0}
    if not math.isfinite(val) and r["bracket"] is not None:
        _fail(r["message"], as_json, obj)  # Newton failed inside a known bracket: exit 1
    emit(obj, as_json, [f"{key} (numerical, N = {r['N']}) = {val:.10g}" if math.isfinite(val)
                         else f"no drift bifurcation for {vary} in [{lo:g}, {hi:g}]"])
    if r["message"]:  # unresolved grid, or the scan stopped (fold or Newton failure)
        say(f"warning: {r['message']}")


def numerical_map(vals: dict, opts: dict):
    """Stability verdicts of the numerical spectrum over the swept parameters (an
    ``xarray.Dataset`` with ``exists``, ``stable``, ``n_unstable``, ``leading_real``)."""
    import xarray as xr

    from astrofield.theory.spectra import numerical_stability_grid

    names = list(vals)
    grids = np.meshgrid(*[np.atleast_1d(vals[k]) for k in names], indexing="ij")
    shape = grids[0].shape
    out = {k: np.zeros(shape, dtype) for k, dtype in
           (("exists", bool), ("stable", bool), ("resolved", bool), ("n_unstable", int),
            ("leading_real", float))}
    order = _snake(shape)  # neighbours follow each other: Newton warm-starts along the path
    models = []
    for idx in order:
        p = {k: float(g[idx]) for k, g in zip(names, grids, strict=True)}
        models.append(build_model(p["theta"], p["beta"], p["gamma"], 1.0, p["D"],
                                  opts["firing"], opts["steepness"], opts["kernel"],
                                  opts["kernel_params"]))
    results = numerical_stability_grid(models, opts["N"], workers=opts.get("workers") or 1)
    for idx, r in zip(order, results, strict=True):
        out["exists"][idx] = r["exists"]
        out["stable"][idx] = r["stable"]
        out["resolved"][idx] = r["resolved"]  # the spectrum's own check (Spectrum.resolved)
        out["n_unstable"][idx] = -1 if r["n_unstable"] is None else r["n_unstable"]
        out["leading_real"][idx] = r["leading_real"]
    dims = [k for k in names]
    ds = xr.Dataset({k: (dims, v) for k, v in out.items()},
                    coords={k: np.atleast_1d(vals[k]) for k in names})
    ds = ds.squeeze([k for k in names if np.ndim(vals[k]) == 0], drop=False)
    ds.attrs.update({k: str(v) for k, v in opts.items() if k != "workers"})
    ds["resolved"].attrs.update(flag_attrs("spectrum resolved", [0, 1], "unresolved resolved",
                                           description="translation eigenvalue near zero and "
                                                       "the count of unstable ones certified"))
    ds.attrs["resolved"] = int(np.all(ds["resolved"].values | ~ds["exists"].values))
    return annotate(ds, _NUMERICAL_MAP_ATTRS, scheme="finite-difference spectrum at each point",
                    astrofield_version=__version__, **seed_attrs(None, False))


#: CF attributes of the numerical stability map (swept parameters: COMMON).
_NUMERICAL_MAP_ATTRS = {
    "exists": flag_attrs("bump exists", [0, 1], "no_bump bump"),
    "stable": flag_attrs("linearly stable", [0, 1], "unstable stable",
                         description="numerical spectrum, translation mode excluded"),
    "n_unstable": {"units": "1", "long_name": "number of unstable eigenvalues",
                   "description": "-1: not computed"},
    "leading_real": {"units": "1", "long_name": "Re of the leading eigenvalue",
                     "description": "leading non-translation eigenvalue, per neural time "
                                    "constant (time is dimensionless)"},
}


def _snake(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """All indices of ``shape`` in boustrophedon order: consecutive ones differ by one step
    along one axis (the last axis runs forwards, then backwards, ...)."""
    if len(shape) == 0:
        return [()]
    if len(shape) == 1:
        return [(i,) for i in range(shape[0])]
    out = []
    for i in range(shape[0]):
        sub = _snake(shape[1:])
        out += [(i, *j) for j in (sub if i % 2 == 0 else sub[::-1])]
    return out


def numerical_map_cmd(vals: dict, opts: dict, output: str | None, as_json: bool) -> None:
    """``astrofield stability-map`` with the numerical spectrum at every point."""
    _check_N(opts["N"], allow_auto=False,
             points=int(np.prod([np.size(v) for v in vals.values()])))
    _check_dir(output, "--output")
    t0 = time.perf_counter()
    ds = numerical_map(vals, opts)
    wall = time.perf_counter() - t0
    ds.attrs["wall_time_s"] = wall
    if output:
        from astrofield.io import save

        save(ds, output)
    ex = ds["exists"].values
    unresolved = int(np.sum(ex & ~ds["resolved"].values))
    obj = {"method": "numerical spectrum", "points": int(ex.size), "exists": int(ex.sum()),
           "stable": int(ds["stable"].values.sum()), "resolved": unresolved == 0,
           "unresolved": unresolved, "N": int(opts["N"]), "wall_time_s": wall, "output": output}
    lines = [f"{obj['points']} points ({obj['exists']} with a bump) in {wall:.2f} s:"
             f" {obj['stable']} stable (numerical spectrum)"]
    if unresolved:
        lines.append(f"warning: {unresolved} point(s) not resolved at N = {opts['N']} (the "
                     "firing layer pins the bump to the grid: their verdicts are not "
                     "trustworthy; variable 'resolved'); increase --N")
    emit(obj, as_json, lines)
