"""``astrofield run``: simulate one parameter set (or a small batch) and save/plot/summarise it."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import click

from astrofield.cli import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class FloatOrInf(click.ParamType):
    """A float that also accepts ``inf``."""

    name = "float|inf"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        try:
            return float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number (or 'inf')", param, ctx)


FLOAT_INF = FloatOrInf()


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None):
    """Read a TOML file into the command's defaults (command-line options still win)."""
    if not value:
        return value
    try:
        with open(value, "rb") as fh:
            cfg = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"cannot read config {value!r}: {exc}", ctx, param) from exc
    cfg = cfg.get("run", cfg)
    names = {p.name for p in ctx.command.params}
    unknown = sorted(k for k in cfg if k.replace("-", "_") not in names)
    if unknown:
        raise click.BadParameter(f"unknown keys in config: {', '.join(unknown)}", ctx, param)
    ctx.default_map = {**(ctx.default_map or {}), **{k.replace("-", "_"): v for k, v in
                                                      cfg.items()}}
    return value


def _parse_pulse(text: str):
    from astrofield.model.stimulus import Pulse

    parts = [float(v) for v in text.split(",")]
    if len(parts) != 5:
        raise click.BadParameter(
            f"--pulse {text!r}: expected POSITION,WIDTH,AMPLITUDE,T_ON,T_OFF (5 numbers)")
    try:
        return Pulse(*parts)
    except ValueError as exc:
        raise click.BadParameter(f"--pulse {text!r}: {exc}") from exc


@main.command("run")
@click.option("--config", type=click.Path(dir_okay=False), callback=_load_config, is_eager=True,
              expose_value=False, help="TOML file with any of these options (keys as below).")
@click.option("--theta", type=float, default=0.1, show_default=True, help="Firing threshold.")
@click.option("--beta", type=float, default=0.05, show_default=True, help="Depletion rate.")
@click.option("--gamma", type=float, default=2.0, show_default=True, help="Replenishment rate.")
@click.option("--tau", type=float, default=1.0, show_default=True, help="Resource time scale.")
@click.option("--D", "D", type=FLOAT_INF, default=0.7, show_default=True,
              help="Astrocytic diffusion ('inf' for the well-mixed limit).")
@click.option("--firing", type=click.Choice(["heaviside", "sigmoid"]), default="heaviside",
              show_default=True)
@click.option("--steepness", type=float, default=50.0, show_default=True,
              help="Sigmoid steepness.")
@click.option("--kernel", type=click.Choice(["cosine", "gaussian", "mexican_hat", "wizard_hat"]),
              default="cosine", show_default=True)
@click.option("--kernel-param", "kernel_params", multiple=True, metavar="NAME=VALUE",
              help="Kernel parameter, e.g. width=0.6 (gaussian), w_e/s_e/w_i/s_i (mexican_hat), "
                   "amplitude, scale (wizard_hat); repeatable.")
@click.option("--N", "N", type=int, default=256, show_default=True, help="Grid points.")
@click.option("--dt", type=float, default=0.02, show_default=True, help="Time step.")
@click.option("--T", "T", type=float, default=200.0, show_default=True, help="Final time.")
@click.option("--init", type=click.Choice(["bump", "rest"]), default="bump", show_default=True)
@click.option("--eps", type=float, default=0.3, show_default=True,
              help="Shift perturbation (fraction of bump amplitude).")
@click.option("--position", type=float, default=0.0, show_default=True,
              help="Initial bump centre (rad).")
@click.option("--pulse", "pulses", multiple=True,
              help="Input pulse POSITION,WIDTH,AMPLITUDE,T_ON,T_OFF (repeatable).")
@click.option("--noise-sigma", type=float, default=0.0, show_default=True,
              help="Additive noise amplitude (0: deterministic).")
@click.option("--noise-correlation", type=float, default=0.5, show_default=True,
              help="Gaussian noise correlation length (rad).")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed.")
@click.option("--n-frames", type=int, default=201, show_default=True,
              help="Stored frames of u, q, a.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="NetCDF output file.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Figure file (kymographs and position trace), e.g. run.png.")
@click.option("--summary-json", is_flag=True, help="Print a one-line JSON summary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def run_cmd(theta, beta, gamma, tau, D, firing, steepness, kernel, kernel_params, N, dt, T, init,
            eps, position,
            pulses, noise_sigma, noise_correlation, seed, n_frames, output, plot, summary_json,
            quiet):
    """Simulate the astrocyte-neural field on the ring.

    Defaults reproduce the paper's Figure 7 run (theta 0.1, beta 0.05, gamma 2, D 0.7, eps 0.3,
    T 200) at a resolution whose final drift is within 1% of the converged value.
    """
    from astrofield.io import save
    from astrofield.model.definition import Model
    from astrofield.model.kernels import make_kernel
    from astrofield.model.noise import Noise
    from astrofield.simulator.integrator import solve

    t0 = time.perf_counter()
    try:
        kw = {}
        for item in kernel_params:
            name, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--kernel-param {item!r}: expected NAME=VALUE")
            kw[name.strip()] = float(value)
        try:
            kern = make_kernel(kernel, **kw)
        except TypeError as exc:
            raise ValueError(f"--kernel-param: {exc}") from exc
        model = Model(theta=theta, beta=beta, gamma=gamma, tau=tau, D=D, firing=firing,
                      steepness=steepness, kernel=kern)
        stim = [_parse_pulse(p) for p in pulses]
        noise = Noise(noise_sigma, noise_correlation, seed) if noise_sigma > 0 else None
        ds = solve(model, T=T, dt=dt, N=N, init=init, eps=eps, position=position, stimulus=stim,
                   noise=noise, n_frames=n_frames, progress=False if quiet else None, seed=seed)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if output:
        save(ds, output)
    if bool(ds["failed"].any()):  # never report a non-finite run as a result
        t_bad = float(ds["t_failed"].min())
        click.echo(f"Error: the simulation became non-finite at t = {t_bad:g} (dt = {dt:g}); "
                   "no result is reported" + (f" ({output} holds the run up to then, flagged)"
                                              if output else ""), err=True)
        raise click.exceptions.Exit(1)
    if plot:
        from astrofield.plotting import plot_run, save_figure

        save_figure(plot_run(ds), plot)
    wall = time.perf_counter() - t0
    if summary_json:
        out = {
            "drift": float(ds["drift"]),
            "velocity": float(ds["velocity_final"]),
            "mass_drift": float(ds["mass_drift"]),
            "width": float(ds["width_final"]),
            "final_position": float(ds["position"].values[-1]),
            "wall_s": wall,
            "N": N, "dt": dt, "T": T,
            "output": str(Path(output)) if output else None,
        }
        click.echo(json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                               for k, v in out.items()}))
    elif not quiet:
        click.echo(f"drift {float(ds['drift']):.6g} rad, velocity "
                   f"{float(ds['velocity_final']):.3g} rad/time, mass drift "
                   f"{float(ds['mass_drift']):.2e}, {wall:.2f} s"
                   + (f" -> {output}" if output else ""))
