"""``astrofield fit``: fit model parameters to an observed trace, with standard errors."""

from __future__ import annotations

from typing import Any

import click

from astrofield.cli._common import (
    FINITE,
    FLOAT_INF,
    Timer,
    api_default,
    command,
    emit,
    guard,
    json_option,
    option,
    output_option,
    plot_option,
    quiet_option,
    save_outputs,
    say,
)
from astrofield.simulator.backends import names as backend_names

__all__ = ["fit_cmd", "parse_vary"]

_MODEL = "astrofield.model.definition:Model"
_FIXED = ("theta", "beta", "gamma", "tau", "D")


def parse_vary(items: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """``NAME=LO:HI`` items of ``--vary`` -> ``{name: (lo, hi)}`` (ValueError naming the item).

    Parameters
    ----------
    items
        The ``--vary`` values, e.g. ``("beta=0.01:0.2", "D=0.1:3")``.
    """
    from astrofield._validate import parse_number

    out: dict[str, tuple[float, float]] = {}
    for item in items:
        name, sep, spec = str(item).partition("=")
        name = name.strip()
        parts = spec.split(":")
        if not sep or not name or len(parts) != 2:
            raise ValueError(f"--vary {item!r}: expected NAME=LO:HI, e.g. beta=0.01:0.2")
        if name in out:
            raise ValueError(f"--vary {item!r}: {name} is varied twice")
        out[name] = tuple(
            parse_number(p, f"--vary {name}", allow_inf=False)  # type: ignore
            for p in parts
        )
    if not out:
        raise ValueError("--vary: give at least one NAME=LO:HI, e.g. --vary beta=0.01:0.2")
    return out


def _lines(s: dict[str, Any], output: str | None) -> list[str]:
    lines = []
    for n, v in s["params"].items():
        if s["identifiable"][n]:
            lo, hi = s["ci95"][n]
            lines.append(f"{n} = {v:.6g} ± {s['stderr'][n]:.3g} (95 % CI {lo:.6g} .. {hi:.6g})")
        else:
            lines.append(f"{n} = {v:.6g}: NOT IDENTIFIABLE from these data (no standard error)")
        pr = s.get("profile", {}).get(n)
        if pr is not None:
            lines.append("    " + _profile_line(pr))
    ci = s.get("sigma_ci95", [float("nan")] * 2)
    est = f" (estimated, 95 % CI {ci[0]:.3g} .. {ci[1]:.3g})" if s["sigma_estimated"] else ""
    lines.append(
        f"cost {s['cost']:.6g}, noise sd {s['sigma']:.3g}{est}, converged "
        f"{s['converged']}, {s['n_agree']}/{s['n_starts']} starts agree, "
        f"{s['wall_s']:.1f} s" + (f" -> {output}" if output else "")
    )
    if not s.get("resolved", True):
        lines.append("warning: the simulation at the best-fit parameters is not resolved (grid "
                     "or step rule, a failed run or its companion run at (N/2, 2 dt) "
                     "disagrees): the fit is not trustworthy; refit with a larger N or a "
                     "smaller dt")
    return lines


def _profile_line(pr: dict[str, Any]) -> str:
    """One line on a parameter's profile likelihood."""
    if pr["flat"]:
        return "profile: FLAT over the whole range (not identifiable)"
    lo, hi = pr["ci95"]
    ends = (
        f"{'(open) ' if pr['open'][0] else ''}{lo:.6g} .. {hi:.6g}"
        f"{' (open)' if pr['open'][1] else ''}"
    )
    if not pr["identifiable"]:
        return f"profile: 95 % interval {ends}: not closed inside the range (not identifiable)"
    verdict = (
        "agrees with the Fisher interval"
        if pr["agrees_with_fisher"]
        else "DIFFERS from the Fisher interval (the quadratic approximation does not hold)"
    )
    return f"profile: 95 % interval {ends}, {verdict}: ends {pr['deviation']:.2f} half-widths apart"


@command(
    "fit",
    example="""
astrofield run --T 200 --N 128 --n-frames 101 -o obs.nc
astrofield fit --data obs.nc --observable position --theta 0.1 --gamma 2 --eps 0.3 \\
    --vary beta=0.01:0.2 --vary D=0.1:3 -o fit.nc --plot fit.png --json
astrofield fit --data obs.nc --theta 0.1 --gamma 2 --vary beta=0.01:0.2 --vary D=0.1:3 \\
    --profile --plot fit.png""",
)
@option(
    "--data",
    "data",
    type=click.Path(dir_okay=False),
    required=True,
    help="NetCDF file with the observable on a 'time' coordinate (an 'astrofield run -o' "
    "output works as is).",
)
@option(
    "--observable",
    type=click.Choice(["position", "u", "msd", "bold", "boundary"]),
    default="position",
    help="Observable to fit: the bump position trace (rad) on time, or the activity field "
    "u on (time, x) (either with optional trial/condition dimensions); msd: the mean "
    "squared displacement of noisy trials; bold: a BOLD series (time in s); boundary: "
    "points labelled 'drifting' (1) or stable (0) on a 'point' dimension.",
)
@option(
    "--vary",
    "vary",
    multiple=True,
    metavar="NAME=LO:HI",
    required=True,
    help="Fitted parameter and its range (theta, beta, gamma, tau or D; msd: also "
    "noise_sigma; bold: also hrf_kappa, hrf_gamma, hrf_tau, hrf_alpha, hrf_E0, hrf_V0, "
    "gain; boundary: also sharpness); repeatable.",
)
@option("--theta", type=FINITE, default=api_default(_MODEL, "theta"), help="Firing threshold.")
@option("--beta", type=FINITE, default=api_default(_MODEL, "beta"), help="Depletion rate.")
@option("--gamma", type=FINITE, default=api_default(_MODEL, "gamma"), help="Replenishment rate.")
@option("--tau", type=FINITE, default=api_default(_MODEL, "tau"), help="Resource time scale.")
@option(
    "--D",
    "D",
    type=FLOAT_INF,
    default=api_default(_MODEL, "D"),
    help="Astrocytic diffusion ('inf' for the well-mixed limit).",
)
@option(
    "--N",
    "N",
    type=click.IntRange(min=16),
    default=None,
    help="Grid points (default: the data's attribute N, else solve's default).",
)
@option(
    "--dt",
    type=FINITE,
    default=None,
    help="Time step (default: the data's attribute dt, else solve's default).",
)
@option(
    "--T",
    "T",
    type=FINITE,
    default=None,
    help="Final time; must equal the data's last time (read from the data when omitted).",
)
@option(
    "--eps",
    type=FINITE,
    default=None,
    help="Initial shift perturbation (default: the data's attribute eps, else 0.3).",
)
@option(
    "--position",
    type=FINITE,
    default=None,
    help="Initial bump centre, rad (default: the data's attribute position, else 0).",
)
@option(
    "--sigma",
    type=FINITE,
    default=None,
    help="Observation noise sd (default: estimated from the residuals).",
)
@option(
    "--method",
    type=click.Choice(["lsq", "de"]),
    default="lsq",
    help="lsq: Latin hypercube + batched finite-difference least squares (faster); "
    "de: differential evolution + the same polish.",
)
@option("--n-starts", type=click.IntRange(min=1), default=3, help="Local starts.")
@option("--seed", type=click.IntRange(min=0), default=0, help="Seed of the global phase.")
@option(
    "--profile",
    "profile",
    is_flag=True,
    default=False,
    help="Profile-likelihood 95 % intervals (Delta chi^2 = 3.84, the other parameters "
    "re-optimised), compared with the Fisher ones; a flat profile is reported as not "
    "identifiable. Costs a batched re-optimisation per parameter.",
)
@option(
    "--seconds-per-unit",
    "seconds_per_unit",
    type=FINITE,
    default=None,
    help="bold: seconds per model time unit (default: the data's attribute).",
)
@option(
    "--region",
    type=str,
    default=None,
    metavar="LO:HI",
    help="bold: arc of the voxel in rad (default: the data's region_lo/region_hi, else "
    "the whole ring).",
)
@option(
    "--gain",
    type=FINITE,
    default=None,
    help="bold: demand-to-drive gain when not fitted (default: the data's attribute, else 1).",
)
@option(
    "--n-sim",
    "n_sim",
    type=click.IntRange(min=2),
    default=256,
    help="msd: simulated trials per parameter set (common random numbers).",
)
@option(
    "--backend",
    type=click.Choice(["auto", *backend_names()]),
    default="auto",
    help="Time-integration backend.",
)
@output_option("NetCDF file of the fit (parameters, errors, data, fitted trace, history).")
@plot_option(
    "Figure file: data against fit (per condition for trials; the MSD with its "
    "sampling band; BOLD against seconds; labelled points and the fitted boundary), "
    "residuals, cost history (and the profiles with --profile)."
)
@json_option
@quiet_option
def fit_cmd(**p: Any) -> None:
    """Fit model parameters to an observed trace: values, standard errors, identifiability.

    The simulation uses the data's frames (T and the number of frames from its time
    coordinate) and, unless given, its N, dt, eps and position attributes.
    """
    from astrofield.fitting import fit
    from astrofield.model.definition import Model

    timer = Timer()
    with guard():
        obs, extra = _check_inputs(p)
    say(
        f"fitting {', '.join(parse_vary(p['vary']))} to {p['data']}"
        + (
            f" ({obs.time.size} frames, T = {obs.settings['T']:g}, N = {obs.settings['N']}, "
            f"dt = {obs.settings['dt']:g})"
            if obs is not None
            else f" ({p['observable']})"
        ),
        p["quiet"] or p["as_json"],
    )
    with guard(runtime=True):
        model = Model(**{k: p[k] for k in _FIXED})
        res = fit(
            p["data"],
            model,
            parse_vary(p["vary"]),
            p["observable"],
            sigma=p["sigma"],
            method=p["method"],
            n_starts=p["n_starts"],
            seed=p["seed"],
            **extra,
            intervals="profile" if p["profile"] else "fisher",
            **({} if p["backend"] == "auto" else {"backend": p["backend"]}),
        )
        s = res.summary()
        s.update(wall_s=timer.wall_s, output=p["output"], plot=p["plot"])
        if p["output"] or p["plot"]:
            ds = res.to_dataset()
            save_outputs(ds, p["output"], p["plot"], lambda: _figure(ds))
    emit(s, p["as_json"], _lines(s, p["output"]))


def _check_inputs(p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Check the inputs before any work (ValueError naming the problem); returns the
    observation of a single trace or field (``None`` for the other observables) and the
    observable's keyword arguments of :func:`~astrofield.fitting.fit`."""
    from astrofield.fitting import read_observation
    from astrofield.fitting.observables import handler
    from astrofield.fitting.problem import Problem, check_vary
    from astrofield.model.definition import Model

    vary = parse_vary(p["vary"])
    model = Model(**{k: p[k] for k in _FIXED})
    kind = p["observable"]
    for flag, key in (
        ("--seconds-per-unit", "seconds_per_unit"),
        ("--region", "region"),
        ("--gain", "gain"),
    ):
        if p[key] is not None and kind != "bold":
            raise ValueError(f"{flag} applies to --observable bold only")
    extra = _observable_options(p)
    other = handler(p["data"], kind)
    if other is not None:  # built once here so that bad input stops before any work
        prob = other(model, vary, **extra)
        if isinstance(prob, Problem):
            prob.check_step()
        if p["profile"] and not isinstance(prob, Problem):
            raise ValueError(
                f"--profile: --observable {kind} has its own likelihood; its "
                "intervals are Fisher intervals only"
            )
        return None, extra
    check_vary(vary)
    obs = read_observation(p["data"], kind, **extra)
    if p["T"] is not None and abs(p["T"] - obs.settings["T"]) > 1e-9 * obs.settings["T"]:
        raise ValueError(
            f"--T {p['T']:g} differs from the data's last time "
            f"{obs.settings['T']:g}; the fit simulates the data's frames"
        )
    Problem(obs, model, vary).check_step()
    return obs, extra


def _observable_options(p: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`~astrofield.fitting.fit` for the chosen observable."""
    sim = {"N": p["N"], "dt": p["dt"], "eps": p["eps"], "position": p["position"]}
    kind = p["observable"]
    if kind == "boundary":
        return {k: v for k, v in sim.items() if v is not None}
    if kind == "msd":
        return {"N": p["N"], "dt": p["dt"], "n_sim": p["n_sim"]}
    if kind != "bold":
        return sim
    region = None
    if p["region"] is not None:
        lo, sep, hi = p["region"].partition(":")
        try:
            region = (float(lo), float(hi)) if sep else None
        except ValueError:
            region = None
        if region is None:
            raise ValueError(f"--region {p['region']!r}: expected LO:HI in rad, e.g. 0:1.5")
    return {**sim, "seconds_per_unit": p["seconds_per_unit"], "region": region, "gain": p["gain"]}


def _figure(ds):
    from astrofield.plotting import plot_fit

    return plot_fit(ds)
