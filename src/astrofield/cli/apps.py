"""Application commands: ``astrofield memory``, ``bold``, ``wander``, ``collapse``, ``field2d``.

``memory`` and ``wander`` take each model parameter as a grid SPEC (``start:stop:count``,
``start:stop:count:log``, ``v1,v2,...`` or one value) or ``--vary NAME=SPEC``: every combination
is one parameter set of a single batched run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import numpy as np

from astrofield.cli._common import (
    FINITE,
    FLOAT_INF,
    Timer,
    api_default,
    command,
    dt_options,
    emit,
    grid_from,
    guard,
    json_option,
    option,
    outer,
    output_option,
    plot_option,
    progress_for,
    quiet_option,
    save_outputs,
    step_size,
    vary_option,
)

_MODEL = "astrofield.model.definition:Model"
_MEMORY = "astrofield.applications.memory:working_memory"
_BOLD = "astrofield.applications.memory:memory_bold"
_WANDER = "astrofield.applications.wandering:measure_wandering"
_COLLAPSE = "astrofield.applications.collapse:ramp_collapse"
_COLLAPSE_MODEL = "astrofield.applications.collapse:DEFAULT_COLLAPSE_MODEL"
_FIELD2D = "astrofield.applications.field2d:solve2d"
_NOISE = "astrofield.model.noise:Noise"
#: The cue's duration of ``working_memory`` (not an option: its API default).
_CUE_DURATION = 1.0


def model_options(f):
    """``--theta/--beta/--gamma/--D`` as grid SPECs (Model defaults) and ``--vary``."""
    for name in ("D", "gamma", "beta", "theta"):
        f = option(f"--{name}", name, default=api_default(_MODEL, name),
                   help=f"{name}: one value or a SPEC (comma list, start:stop:count[:log])"
                        + ("; 'inf' allowed." if name == "D" else "."))(f)
    return vary_option()(f)


def _model(p: dict[str, Any]):
    """A batched Model over every combination of the parameter SPECs (checked up front)."""
    from astrofield._validate import PARAMETER_RANGES
    from astrofield.model.definition import Model

    vals = grid_from({k: p[k] for k in ("theta", "beta", "gamma", "D")}, p["vary"],
                     PARAMETER_RANGES)
    return Model(**outer(vals))


def _check_size(batch: int, N: int, what: str, per_point: float = 200.0,
                T: float | None = None, dt: float | Callable[[], float] | None = None,
                T_name: str = "T") -> None:
    """Memory estimate (about ``per_point`` floats per grid point), then the step (``dt`` may
    be a function: the step-size rule, evaluated once the batch is known to fit) and the step
    count, up front."""
    from astrofield._validate import check_memory, check_steps

    check_memory(8.0 * batch * N * per_point, what)
    if T is not None:
        check_steps(T, dt() if callable(dt) else dt, T_name=T_name)


def _step(p: dict[str, Any], model: Any, T: float) -> float:
    """The step-size rule, up front (before the application starts): a ``--dt`` above it is a
    usage error here (``--dt-check error``); returns the step of the size checks
    (``dt``, or for ``auto`` the rule's largest step: the step taken divides the run and is at
    least half of it)."""
    from astrofield.simulator.step_control import max_step

    if p["dt"] != "auto":
        return step_size(p["dt"], T, model, p["dt_check"])
    return max_step(model)


def _noise(sigma: float, correlation: float, seed: int):
    from astrofield.model.noise import Noise

    if sigma < 0:
        raise ValueError(f"--sigma = {sigma:g} is outside the allowed range [0, inf)")
    return Noise(sigma, correlation, seed) if sigma > 0 else None


def _unresolved(flags: Any, what: str, ds: Any) -> list[str]:
    """The warning line of a result with unresolved parts (the dataset's ``resolved`` flags:
    grid and step rules, failures and, where it ran, the companion run), or none."""
    flags = np.asarray(flags, bool)
    bad = int(flags.size - np.count_nonzero(flags))
    if not bad:
        return []
    return [f"warning: {bad} of {flags.size} {what} not resolved at N = {ds.attrs['N']}, "
            f"dt = {float(ds.attrs['dt']):g} (grid or step rule, a failed run or the companion "
            "run at (N/2, 2 dt) disagrees; variable 'resolved'): its numbers are not "
            "trustworthy; increase --N or reduce --dt"]


def _memory_figure(ds):
    from astrofield.plotting import new_figure
    from astrofield.plotting.applications import plot_memory

    n = ds.sizes["param"]
    fig, axes = new_figure(n, 3, figsize=(14, 3.6 * n), constrained_layout=True, squeeze=False)
    for i in range(n):
        plot_memory(ds, i, axes=axes[i])
    return fig


@command("memory", example="""
astrofield memory --cue 0,1.5 --D 0.1,0.7,inf --n-trials 4 --json --plot memory.png
astrofield memory --vary beta=0.01:0.1:4 --sigma 0.05 -o memory.nc""")
@model_options
@option("--cue", default="0", help="Cue position(s) in rad, comma list.")
@option("--n-trials", type=click.IntRange(min=1), default=4,
        help="Trials per cue and set (was --trials; the API's working_memory defaults to one "
             "deterministic trial).")
@option("--delay", type=FINITE, default=api_default(_MEMORY, "delay"),
        help="Delay (time units).")
@option("--cue-amplitude", type=FINITE, default=api_default(_MEMORY, "cue_amplitude"),
        help="Cue input amplitude (units of u).")
@option("--sigma", type=FINITE, default=0.05,
        help="Additive noise amplitude (0: deterministic; was --noise-sigma).")
@option("--correlation", type=FINITE, default=api_default(_NOISE, "correlation"),
        help="Gaussian noise correlation length (rad; was --noise-correlation).")
@option("--seed", type=click.IntRange(min=0), default=api_default(_MEMORY, "seed"),
        help="Noise seed.")
@option("--N", "N", type=click.IntRange(min=16), default=api_default(_MEMORY, "N"),
        help="Grid points.")
@dt_options(api_default(_MEMORY, "dt"))
@output_option()
@plot_option("Figure (one row per parameter set).")
@json_option
@quiet_option
def memory_cmd(**p: Any) -> None:
    """Working-memory task: cue, delay, read-out (persistence, error, drift, resource cost)."""
    from astrofield._validate import parse_values

    timer = Timer()
    with guard():
        model = _model(p)
        cues = parse_values("--cue", p["cue"])
        if not np.all(np.isfinite(cues)):
            raise ValueError(f"--cue = {p['cue']!r}: cue positions must be finite")
        _check_size(model.batch_size * cues.size * p["n_trials"], p["N"], "the memory batch",
                    T=p["delay"], dt=lambda: _step(p, model, _CUE_DURATION + p["delay"]),
                    T_name="delay")
        from astrofield.applications.memory import working_memory

        ds = working_memory(model, cues, n_trials=p["n_trials"], delay=p["delay"],
                            cue_amplitude=p["cue_amplitude"],
                            noise=_noise(p["sigma"], p["correlation"], p["seed"]),
                            N=p["N"], dt=p["dt"], seed=p["seed"],
                            progress=progress_for(p["quiet"]), dt_check=p["dt_check"])
    with guard(runtime=True):
        save_outputs(ds, p["output"], p["plot"], lambda: _memory_figure(ds))
    keys = ("p_persist", "rms_error", "mean_abs_drift", "mean_cost", "theta", "beta", "gamma",
            "D")
    summary = {k: ds[k].values for k in keys}
    summary.update({"resolved": bool(ds.attrs["resolved"]), "wall_s": timer.wall_s,
                    "output": p["output"], "plot": p["plot"]})
    emit(summary, p["as_json"], [
        " ".join(f"{k}={float(ds[k][i]):g}" for k in ("theta", "beta", "gamma", "D")) + ": persist "
        f"{float(ds['p_persist'][i]):.2f}, rms error {float(ds['rms_error'][i]):.4g} rad, "
        f"|drift| {float(ds['mean_abs_drift'][i]):.4g} rad, cost "
        f"{float(ds['mean_cost'][i]):.4g}" for i in range(ds.sizes["param"])]
        + _unresolved(ds["resolved"].values, "trial(s)", ds))


def _parse_region(text: str | None):
    from astrofield._validate import parse_number

    if not text:
        return None
    parts = str(text).split(",")
    if len(parts) != 2:
        raise ValueError(f"--region = {text!r} must be two numbers 'lo,hi' (rad)")
    return tuple(parse_number(x, "--region", allow_inf=False) for x in parts)


@command("bold", example="""
astrofield bold --seconds-per-unit 0.01 --delay 600 --tr 1 --plot bold.png --json""")
@option("--seconds-per-unit", type=FINITE, required=True,
        help="Seconds per model time unit (e.g. 0.01 for a 10 ms time constant).")
@option("--theta", type=FINITE, default=api_default(_MODEL, "theta"), help="Threshold.")
@option("--beta", type=FINITE, default=api_default(_MODEL, "beta"), help="Depletion rate.")
@option("--gamma", type=FINITE, default=api_default(_MODEL, "gamma"), help="Replenishment.")
@option("--D", "D", type=FLOAT_INF, default=api_default(_MODEL, "D"),
        help="Astrocytic diffusion ('inf' allowed).")
@option("--cue", type=FINITE, default=0.0, help="Cue position (rad).")
@option("--region", default=None, metavar="LO,HI",
        help="Voxel arc 'lo,hi' in rad (default cue +- 1).")
@option("--delay", type=FINITE, default=api_default(_BOLD, "delay"),
        help="Delay in model time units.")
@option("--tr", type=FINITE, default=api_default(_BOLD, "tr"), help="Repetition time (s).")
@option("--preset", type=click.Choice(["friston2000", "friston2003", "stephan2007"]),
        default=api_default(_BOLD, "preset"), help="Balloon-Windkessel parameter set.")
@option("--tail", type=FINITE, default=api_default(_BOLD, "tail"),
        help="Seconds of rest appended after the trial.")
@option("--N", "N", type=click.IntRange(min=16), default=api_default(_BOLD, "N"),
        help="Grid points.")
@dt_options(api_default(_BOLD, "dt"))
@output_option("NetCDF output (the BOLD dataset).")
@plot_option()
@json_option
@quiet_option
def bold_cmd(**p: Any) -> None:
    """BOLD prediction of a working-memory trial (demand -> Balloon-Windkessel)."""
    from astrofield.model.definition import Model

    timer = Timer()
    with guard():
        model = Model(theta=p["theta"], beta=p["beta"], gamma=p["gamma"], D=p["D"])
        _check_size(1, p["N"], "the BOLD trial", T=p["delay"],
                    dt=lambda: _step(p, model, _CUE_DURATION + p["delay"]), T_name="delay")
        from astrofield.applications.memory import memory_bold

        wm, bold = memory_bold(model, p["cue"], seconds_per_unit=p["seconds_per_unit"],
                               region=_parse_region(p["region"]), delay=p["delay"],
                               tr=p["tr"], preset=p["preset"], tail=p["tail"], N=p["N"],
                               dt=p["dt"], progress=progress_for(p["quiet"]),
                               dt_check=p["dt_check"])
    with guard(runtime=True):
        save_outputs(bold, p["output"], p["plot"], lambda: _plot_bold(wm, bold))
    y, t = bold["bold"].values, bold["time"].values
    s = {"peak_bold": float(y.max()), "time_to_peak_s": float(t[np.argmax(y)]),
         "undershoot": float(y.min()), "n_scans": int(bold.sizes["tr_time"]),
         "seconds_per_unit": p["seconds_per_unit"], "resolved": bool(bold.attrs["resolved"]),
         "wall_s": timer.wall_s, "output": p["output"], "plot": p["plot"]}
    emit(s, p["as_json"], [f"peak BOLD {s['peak_bold']:.4g} at {s['time_to_peak_s']:.3g} s, "
                           f"undershoot {s['undershoot']:.3g}, {s['n_scans']} scans"]
         + _unresolved(wm["resolved"].values, "trial(s)", wm))


def _plot_bold(wm, bold):
    """The BOLD figure; matplotlib is imported only when a figure is asked for (not before a
    refusal of the options)."""
    from astrofield.plotting.applications import plot_memory_bold

    return plot_memory_bold(wm, bold)


def _correlation(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    from astrofield._validate import parse_number

    if value == "cosine":
        return value
    try:
        v = parse_number(value, "--correlation", allow_inf=False)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}; give a length in rad (> 0) or 'cosine'", ctx,
                                 param) from None
    if v <= 0:
        raise click.BadParameter(f"--correlation = {v:g} must be > 0 (rad) or 'cosine'", ctx,
                                 param)
    return v


@command("wander", example="""
astrofield wander --D 0.1,0.7,inf --sigma 0.05 --n-trials 100 --T 50 --json --plot wander.png
astrofield wander --beta 0 --correlation cosine --sigma 0.1""")
@model_options
@option("--sigma", type=FINITE, default=api_default(_WANDER, "sigma"), help="Noise amplitude.")
@option("--correlation", default=api_default(_WANDER, "correlation"), callback=_correlation,
        help="Gaussian correlation length (rad, > 0) or 'cosine'.")
@option("--n-trials", type=click.IntRange(min=2), default=api_default(_WANDER, "n_trials"),
        help="Trials per parameter set (was --trials).")
@option("--T", "T", type=FINITE, default=api_default(_WANDER, "T"), help="Final time.")
@option("--N", "N", type=click.IntRange(min=16), default=api_default(_WANDER, "N"),
        help="Grid points.")
@dt_options(api_default(_WANDER, "dt"))
@option("--seed", type=click.IntRange(min=0), default=api_default(_WANDER, "seed"),
        help="Noise seed.")
@output_option()
@plot_option()
@json_option
@quiet_option
def wander_cmd(**p: Any) -> None:
    """Noise-driven bump wandering: MSD and effective diffusion with confidence intervals."""
    timer = Timer()
    corr = p["correlation"]
    with guard():
        if p["sigma"] < 0:
            raise ValueError(f"--sigma = {p['sigma']:g} is outside the allowed range [0, inf)")
        model = _model(p)
        _check_size(model.batch_size * p["n_trials"], p["N"], "the wandering batch", T=p["T"],
                    dt=lambda: _step(p, model, p["T"]))
        from astrofield.applications.wandering import measure_wandering
        from astrofield.plotting.applications import plot_wandering

        ds = measure_wandering(model, sigma=p["sigma"], correlation=corr,
                               n_trials=p["n_trials"], T=p["T"], N=p["N"], dt=p["dt"],
                               seed=p["seed"], t_fit=0.0 if corr == "cosine" else None,
                               progress=progress_for(p["quiet"]), dt_check=p["dt_check"])
    with guard(runtime=True):
        save_outputs(ds, p["output"], p["plot"], lambda: plot_wandering(ds))
    keys = ["D_eff", "D_lo", "D_hi", "msd_exponent"] + (["D_theory"] if "D_theory" in ds else [])
    summary: dict[str, Any] = {k: ds[k].values for k in keys + ["D", "gamma", "beta"]}
    summary.update({"resolved": bool(ds.attrs["resolved"]), "wall_s": timer.wall_s,
                    "output": p["output"], "plot": p["plot"]})
    emit(summary, p["as_json"], [
        f"D={float(ds['D'][i]):g} gamma={float(ds['gamma'][i]):g} "
        f"beta={float(ds['beta'][i]):g}: D_eff {float(ds['D_eff'][i]):.4g} "
        f"[{float(ds['D_lo'][i]):.4g}, {float(ds['D_hi'][i]):.4g}]"
        for i in range(ds.sizes["param"])] + _unresolved(ds["resolved"].values,
                                                          "parameter set(s)", ds))


@command("collapse", example="""
astrofield collapse --beta-start 0.3 --beta-end 1.2 --T-ramp 400 --n-trials 4 \\
    --plot collapse.png""")
@option("--theta", type=FINITE, default=api_default(_COLLAPSE_MODEL, "theta"), help="Threshold.")
@option("--gamma", type=FINITE, default=api_default(_COLLAPSE_MODEL, "gamma"),
        help="Replenishment rate.")
@option("--D", "D", type=FLOAT_INF, default=api_default(_COLLAPSE_MODEL, "D"),
        help="Astrocytic diffusion ('inf' allowed).")
@option("--beta-start", type=FINITE, default=api_default(_COLLAPSE, "beta_start"),
        help="Depletion rate at the start of the ramp.")
@option("--beta-end", type=FINITE, default=api_default(_COLLAPSE, "beta_end"),
        help="Depletion rate at the end of the ramp.")
@option("--T-ramp", "T_ramp", type=FINITE, default=api_default(_COLLAPSE, "T_ramp"),
        help="Ramp duration (time units).")
@option("--sigma", type=FINITE, default=api_default(_COLLAPSE, "sigma"),
        help="Noise amplitude.")
@option("--n-trials", type=click.IntRange(min=1), default=api_default(_COLLAPSE, "n_trials"),
        help="Noise realisations (was --trials).")
@option("--window", type=FINITE, default=api_default(_COLLAPSE, "window"),
        help="Rolling window of the indicators (time units).")
@option("--N", "N", type=click.IntRange(min=16), default=api_default(_COLLAPSE, "N"),
        help="Grid points.")
@dt_options(api_default(_COLLAPSE, "dt"))
@option("--seed", type=click.IntRange(min=0), default=api_default(_COLLAPSE, "seed"),
        help="Noise seed.")
@output_option()
@plot_option()
@json_option
@quiet_option
def collapse_cmd(**p: Any) -> None:
    """Early warnings of resource collapse under a slow depletion ramp."""
    from astrofield.model.definition import Model

    timer = Timer()
    with guard():
        if p["sigma"] < 0:
            raise ValueError(f"--sigma = {p['sigma']:g} is outside the allowed range [0, inf)")
        model = Model(theta=p["theta"], gamma=p["gamma"], D=p["D"])
        rule = Model(theta=p["theta"], gamma=p["gamma"], D=p["D"],
                     beta=max(p["beta_start"], p["beta_end"], 0.0))
        _check_size(p["n_trials"], p["N"], "the collapse batch", T=p["T_ramp"],
                    dt=lambda: _step(p, rule, p["T_ramp"]), T_name="T-ramp")
        from astrofield.applications.collapse import ramp_collapse
        from astrofield.plotting.applications import plot_collapse

        ds = ramp_collapse(model,
                           beta_start=p["beta_start"], beta_end=p["beta_end"],
                           T_ramp=p["T_ramp"], sigma=p["sigma"], n_trials=p["n_trials"],
                           window=p["window"], N=p["N"], dt=p["dt"], seed=p["seed"],
                           progress=progress_for(p["quiet"]), dt_check=p["dt_check"])
    with guard(runtime=True):
        save_outputs(ds, p["output"], p["plot"], lambda: plot_collapse(ds))
    s = {k: ds[k].values for k in ("t_collapse", "variance_tau", "ac1_tau", "lead_time",
                                   "t_depletion")}
    s.update({"t_fold": float(ds["t_fold"]), "beta_max": float(ds["beta_max"]),
              "resolved": bool(ds.attrs["resolved"]), "wall_s": timer.wall_s,
              "output": p["output"], "plot": p["plot"]})
    emit(s, p["as_json"], [f"fold at t = {s['t_fold']:.1f} (beta_max {s['beta_max']:.4g})"] + [
        f"trial {k}: collapse t = {float(ds['t_collapse'][k]):.1f}, variance tau "
        f"{float(ds['variance_tau'][k]):.2f}, AC1 tau {float(ds['ac1_tau'][k]):.2f}, lead "
        f"{float(ds['lead_time'][k]):.1f}" for k in range(ds.sizes["trial"])]
        + _unresolved(ds["resolved"].values, "trial(s)", ds))


@command("field2d", example="""
astrofield field2d --N 48 --T 100 --plot field2d.png --json""")
@option("--N", "N", type=click.IntRange(min=8), default=48, help="Grid points per side.")
@option("--T", "T", type=FINITE, default=api_default(_FIELD2D, "T"), help="Final time.")
@dt_options(api_default(_FIELD2D, "dt"))
@option("--beta", type=FINITE, default=api_default(_MODEL, "beta"), help="Depletion rate.")
@option("--gamma", type=FINITE, default=10.0,
        help="Replenishment rate (the 2-D example's default model).")
@option("--D", "D", type=FLOAT_INF, default=api_default(_MODEL, "D"),
        help="Astrocytic diffusion.")
@output_option()
@plot_option()
@json_option
@quiet_option
def field2d_cmd(**p: Any) -> None:
    """2-D bump on the torus (sigmoid firing theta 0.3, steepness 10; difference of Gaussians)."""
    from astrofield.model.definition import Model

    timer = Timer()
    with guard():
        model = Model(theta=0.3, steepness=10.0, firing="sigmoid", beta=p["beta"],
                      gamma=p["gamma"], D=p["D"])
        _check_size(p["N"], p["N"], "the 2-D field", T=p["T"], dt=lambda: _step(p, model, p["T"]))
        from astrofield.applications.field2d import solve2d
        from astrofield.plotting.applications import plot_field2d

        ds = solve2d(model, N=p["N"], T=p["T"], dt=p["dt"], progress=progress_for(p["quiet"]),
                     dt_check=p["dt_check"])
    with guard(runtime=True):
        save_outputs(ds, p["output"], p["plot"], lambda: plot_field2d(ds))
    s = {"u_max": float(ds["u_max"][-1]), "area": float(ds["area"][-1]),
         "x_c": float(ds["x_c"][-1]), "y_c": float(ds["y_c"][-1]),
         "mass_drift": float(ds["mass_drift"]), "wall_s": timer.wall_s,
         "output": p["output"], "plot": p["plot"]}
    lines = [", ".join(f"{k} {v:.4g}" for k, v in s.items() if isinstance(v, float))]
    s["resolved"] = bool(ds.attrs["resolved"])  # step rule and a finite state (no grid rule)
    emit(s, p["as_json"], lines + _unresolved(ds["resolved"].values, "run(s)", ds))
