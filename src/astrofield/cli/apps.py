"""Application commands: ``astrofield memory``, ``bold``, ``wander``, ``collapse``, ``field2d``."""

from __future__ import annotations

import json
import math

import click
import numpy as np

from astrofield.cli import main


def _floats(text: str, name: str) -> np.ndarray:
    """Parse a comma-separated list of numbers (``inf`` allowed)."""
    try:
        vals = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"--{name} {text!r}: expected numbers separated by commas"
                                 ) from exc
    if not vals:
        raise click.BadParameter(f"--{name} is empty")
    return np.array(vals)


def _grid(**lists: np.ndarray) -> dict[str, np.ndarray]:
    """All combinations of the listed parameter values (scalars stay scalars)."""
    names = [k for k, v in lists.items() if v.size > 1]
    out = {k: float(v[0]) for k, v in lists.items() if v.size == 1}
    if names:
        mesh = np.meshgrid(*[lists[k] for k in names], indexing="ij")
        out.update({k: m.ravel() for k, m in zip(names, mesh, strict=True)})
    return out


def _echo_json(obj: dict) -> None:
    def clean(v):
        if isinstance(v, (list, tuple, np.ndarray)):
            return [clean(x) for x in np.asarray(v).tolist()]
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    click.echo(json.dumps({k: clean(v) for k, v in obj.items()}))


def _save_outputs(ds, output, fig_fn, plot) -> None:
    from astrofield.io import save

    if output:
        save(ds, output)
    if plot:
        from astrofield.plotting import save_figure

        save_figure(fig_fn(), plot)


_model_options = [
    click.option("--theta", default="0.1", show_default=True, help="Threshold(s), comma list."),
    click.option("--beta", default="0.05", show_default=True, help="Depletion rate(s)."),
    click.option("--gamma", default="2", show_default=True, help="Replenishment rate(s)."),
    click.option("--D", "D", default="0.7", show_default=True,
                 help="Astrocytic diffusion(s), 'inf' allowed."),
]


def model_options(f):
    for opt in reversed(_model_options):
        f = opt(f)
    return f


def _model(theta, beta, gamma, D):
    from astrofield.model.definition import Model

    params = _grid(theta=_floats(theta, "theta"), beta=_floats(beta, "beta"),
                   gamma=_floats(gamma, "gamma"), D=_floats(D, "D"))
    return Model(**params)


@main.command("memory")
@model_options
@click.option("--cue", default="0", show_default=True, help="Cue position(s) in rad, comma list.")
@click.option("--trials", type=int, default=4, show_default=True, help="Trials per cue and set.")
@click.option("--delay", type=float, default=20.0, show_default=True, help="Delay (time units).")
@click.option("--cue-amplitude", type=float, default=1.0, show_default=True)
@click.option("--noise-sigma", type=float, default=0.05, show_default=True,
              help="Additive noise amplitude (0: deterministic).")
@click.option("--noise-correlation", type=float, default=0.5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--N", "N", type=int, default=64, show_default=True)
@click.option("--dt", type=float, default=0.05, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="NetCDF output.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Figure (PNG/PDF).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def memory_cmd(theta, beta, gamma, D, cue, trials, delay, cue_amplitude, noise_sigma,
               noise_correlation, seed, N, dt, output, plot, as_json):
    """Working-memory task: cue, delay, read-out (persistence, error, drift, resource cost).

    Comma lists in --theta/--beta/--gamma/--D give a batch of all combinations.
    """
    from astrofield.applications.memory import plot_memory, working_memory
    from astrofield.model.noise import Noise

    try:
        model = _model(theta, beta, gamma, D)
        noise = Noise(noise_sigma, noise_correlation, seed) if noise_sigma > 0 else None
        ds = working_memory(model, _floats(cue, "cue"), n_trials=trials, delay=delay,
                            cue_amplitude=cue_amplitude, noise=noise, N=N, dt=dt, seed=seed)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    _save_outputs(ds, output, lambda: plot_memory(ds), plot)
    summary = {k: ds[k].values for k in ("p_persist", "rms_error", "mean_abs_drift",
                                         "mean_cost")}
    summary.update({k: ds[k].values for k in ("theta", "beta", "gamma", "D")})
    if as_json:
        _echo_json(summary)
    else:
        for i in range(ds.sizes["param"]):
            click.echo(f"D={float(ds['D'][i]):g} beta={float(ds['beta'][i]):g}: persist "
                       f"{float(ds['p_persist'][i]):.2f}, rms error "
                       f"{float(ds['rms_error'][i]):.4g} rad, |drift| "
                       f"{float(ds['mean_abs_drift'][i]):.4g} rad, cost "
                       f"{float(ds['mean_cost'][i]):.4g}")


@main.command("bold")
@click.option("--seconds-per-unit", type=float, required=True,
              help="Seconds per model time unit (e.g. 0.01 for a 10 ms time constant).")
@click.option("--theta", type=float, default=0.1, show_default=True)
@click.option("--beta", type=float, default=0.05, show_default=True)
@click.option("--gamma", type=float, default=2.0, show_default=True)
@click.option("--D", "D", type=float, default=0.7, show_default=True)
@click.option("--cue", type=float, default=0.0, show_default=True, help="Cue position (rad).")
@click.option("--region", default=None, help="Voxel arc 'lo,hi' in rad (default cue +- 1).")
@click.option("--delay", type=float, default=600.0, show_default=True,
              help="Delay in model time units.")
@click.option("--tr", type=float, default=1.0, show_default=True, help="Repetition time (s).")
@click.option("--preset", type=click.Choice(["friston2000", "friston2003", "stephan2007"]),
              default="friston2003", show_default=True)
@click.option("--tail", type=float, default=20.0, show_default=True,
              help="Seconds of rest appended after the trial.")
@click.option("--N", "N", type=int, default=64, show_default=True)
@click.option("--dt", type=float, default=0.05, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="NetCDF (BOLD dataset).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Figure file.")
@click.option("--json", "as_json", is_flag=True)
def bold_cmd(seconds_per_unit, theta, beta, gamma, D, cue, region, delay, tr, preset, tail, N,
             dt, output, plot, as_json):
    """BOLD prediction of a working-memory trial (demand -> Balloon-Windkessel)."""
    from astrofield.applications.memory import memory_bold, plot_memory_bold
    from astrofield.model.definition import Model

    try:
        reg = tuple(_floats(region, "region")) if region else None
        if reg is not None and len(reg) != 2:
            raise ValueError(f"region = {region!r} must be two numbers 'lo,hi'")
        wm, bold = memory_bold(Model(theta=theta, beta=beta, gamma=gamma, D=D), cue,
                               seconds_per_unit=seconds_per_unit, region=reg, delay=delay,
                               tr=tr, preset=preset, tail=tail, N=N, dt=dt)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    _save_outputs(bold, output, lambda: plot_memory_bold(wm, bold), plot)
    y = bold["bold"].values
    t = bold["time"].values
    summary = {"peak_bold": float(y.max()), "time_to_peak_s": float(t[np.argmax(y)]),
               "undershoot": float(y.min()), "n_scans": int(bold.sizes["tr_time"]),
               "seconds_per_unit": seconds_per_unit}
    if as_json:
        _echo_json(summary)
    else:
        click.echo(f"peak BOLD {summary['peak_bold']:.4g} at {summary['time_to_peak_s']:.3g} s, "
                   f"undershoot {summary['undershoot']:.3g}, {summary['n_scans']} scans")


@main.command("wander")
@model_options
@click.option("--sigma", type=float, default=0.05, show_default=True, help="Noise amplitude.")
@click.option("--correlation", default="0.5", show_default=True,
              help="Gaussian correlation length (rad) or 'cosine'.")
@click.option("--trials", type=int, default=100, show_default=True)
@click.option("--T", "T", type=float, default=50.0, show_default=True)
@click.option("--N", "N", type=int, default=64, show_default=True)
@click.option("--dt", type=float, default=0.05, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False))
@click.option("--plot", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def wander_cmd(theta, beta, gamma, D, sigma, correlation, trials, T, N, dt, seed, output, plot,
               as_json):
    """Noise-driven bump wandering: MSD and effective diffusion with confidence intervals."""
    from astrofield.applications.wandering import measure_wandering, plot_wandering

    corr = correlation if correlation == "cosine" else float(correlation)
    try:
        ds = measure_wandering(_model(theta, beta, gamma, D), sigma=sigma, correlation=corr,
                               n_trials=trials, T=T, N=N, dt=dt, seed=seed,
                               t_fit=0.0 if corr == "cosine" else None)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    _save_outputs(ds, output, lambda: plot_wandering(ds), plot)
    keys = ["D_eff", "D_lo", "D_hi", "msd_exponent"] + (["D_theory"] if "D_theory" in ds else [])
    summary = {k: ds[k].values for k in keys + ["D", "gamma", "beta"]}
    if as_json:
        _echo_json(summary)
    else:
        for i in range(ds.sizes["param"]):
            extra = (f", theory {float(ds['D_theory'][i]):.4g}" if "D_theory" in ds
                     and np.isfinite(ds["D_theory"][i]) else "")
            click.echo(f"D={float(ds['D'][i]):g} gamma={float(ds['gamma'][i]):g} "
                       f"beta={float(ds['beta'][i]):g}: D_eff {float(ds['D_eff'][i]):.4g} "
                       f"[{float(ds['D_lo'][i]):.4g}, {float(ds['D_hi'][i]):.4g}]{extra}")


@main.command("collapse")
@click.option("--theta", type=float, default=0.3, show_default=True)
@click.option("--gamma", type=float, default=2.0, show_default=True)
@click.option("--D", "D", type=float, default=math.inf, show_default=True)
@click.option("--beta-start", type=float, default=0.3, show_default=True)
@click.option("--beta-end", type=float, default=1.2, show_default=True)
@click.option("--T-ramp", "T_ramp", type=float, default=400.0, show_default=True)
@click.option("--sigma", type=float, default=0.02, show_default=True)
@click.option("--trials", type=int, default=4, show_default=True)
@click.option("--window", type=float, default=60.0, show_default=True)
@click.option("--N", "N", type=int, default=64, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False))
@click.option("--plot", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def collapse_cmd(theta, gamma, D, beta_start, beta_end, T_ramp, sigma, trials, window, N, seed,
                 output, plot, as_json):
    """Early warnings of resource collapse under a slow depletion ramp."""
    from astrofield.applications.collapse import plot_collapse, ramp_collapse
    from astrofield.model.definition import Model

    try:
        ds = ramp_collapse(Model(theta=theta, gamma=gamma, D=D), beta_start=beta_start,
                           beta_end=beta_end, T_ramp=T_ramp, sigma=sigma, n_trials=trials,
                           window=window, N=N, seed=seed)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    _save_outputs(ds, output, lambda: plot_collapse(ds), plot)
    summary = {k: ds[k].values for k in ("t_collapse", "variance_tau", "ac1_tau", "lead_time",
                                         "t_depletion")}
    summary.update({"t_fold": float(ds["t_fold"]), "beta_max": float(ds["beta_max"])})
    if as_json:
        _echo_json(summary)
    else:
        click.echo(f"fold at t = {summary['t_fold']:.1f} (beta_max {summary['beta_max']:.4g})")
        for k in range(ds.sizes["trial"]):
            click.echo(f"trial {k}: collapse t = {float(ds['t_collapse'][k]):.1f}, "
                       f"variance tau {float(ds['variance_tau'][k]):.2f}, AC1 tau "
                       f"{float(ds['ac1_tau'][k]):.2f}, lead {float(ds['lead_time'][k]):.1f}")


@main.command("field2d")
@click.option("--N", "N", type=int, default=48, show_default=True)
@click.option("--T", "T", type=float, default=100.0, show_default=True)
@click.option("--dt", type=float, default=0.05, show_default=True)
@click.option("--beta", type=float, default=0.05, show_default=True)
@click.option("--gamma", type=float, default=10.0, show_default=True)
@click.option("--D", "D", type=float, default=0.7, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False))
@click.option("--plot", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def field2d_cmd(N, T, dt, beta, gamma, D, output, plot, as_json):
    """2-D bump on the torus (sigmoid firing, difference-of-Gaussians kernel)."""
    from astrofield.applications.field2d import plot_field2d, solve2d
    from astrofield.model.definition import Model

    try:
        model = Model(theta=0.3, steepness=10.0, firing="sigmoid", beta=beta, gamma=gamma, D=D)
        ds = solve2d(model, N=N, T=T, dt=dt)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    _save_outputs(ds, output, lambda: plot_field2d(ds), plot)
    summary = {"u_max": float(ds["u_max"][-1]), "area": float(ds["area"][-1]),
               "x_c": float(ds["x_c"][-1]), "y_c": float(ds["y_c"][-1]),
               "mass_drift": float(ds["mass_drift"])}
    if as_json:
        _echo_json(summary)
    else:
        click.echo(", ".join(f"{k} {v:.4g}" for k, v in summary.items()))
