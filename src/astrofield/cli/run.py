"""``astrofield run``: simulate one parameter set and save/plot/summarise it."""

from __future__ import annotations

from typing import Any

import click

from astrofield.cli._common import (
    FINITE,
    FLOAT_INF,
    Timer,
    api_default,
    command,
    dt_options,
    emit,
    firing_kernel_options,
    guard,
    json_option,
    option,
    output_option,
    plot_option,
    progress_for,
    quiet_option,
    save_outputs,
    step_size,
)
from astrofield.simulator.backends import names as backend_names

__all__ = ["run_cmd", "parse_pulse", "parse_kernel_params", "FLOAT_INF"]

_SOLVE = "astrofield.simulator.integrator:solve"
_MODEL = "astrofield.model.definition:Model"
_NOISE = "astrofield.model.noise:Noise"


def parse_pulse(text: str):
    """``POSITION,WIDTH,AMPLITUDE,T_ON,T_OFF`` -> :class:`~astrofield.model.stimulus.Pulse`."""
    from astrofield._validate import parse_number
    from astrofield.model.stimulus import Pulse

    parts = str(text).split(",")
    if len(parts) != 5:
        raise ValueError(f"--pulse {text!r}: expected POSITION,WIDTH,AMPLITUDE,T_ON,T_OFF "
                         "(5 numbers)")
    names = ("position", "width", "amplitude", "t_on", "t_off")
    vals = [parse_number(p, f"--pulse {n}", allow_inf=False) for n, p in zip(names, parts,
                                                                              strict=True)]
    try:
        return Pulse(*vals)
    except ValueError as exc:
        raise ValueError(f"--pulse {text!r}: {exc}") from None


def parse_kernel_params(items: tuple[str, ...]) -> dict[str, float]:
    """``NAME=VALUE`` items of ``--kernel-param`` -> keyword arguments (finite numbers)."""
    from astrofield._validate import parse_number

    kw: dict[str, float] = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--kernel-param {item!r}: expected NAME=VALUE, e.g. width=0.6")
        kw[name.strip()] = parse_number(value, f"--kernel-param {name.strip()}",
                                        allow_inf=False)
    return kw


def _estimate_bytes(N: int, n_frames: int, n_steps: float = 0.0) -> float:
    """Peak memory of a single run: stored frames of u, q, a, the frame index and the working
    arrays (:func:`astrofield._validate.estimate_run_bytes`)."""
    from astrofield._validate import estimate_run_bytes

    return estimate_run_bytes(N, min(n_frames, n_steps + 1) if n_steps else n_frames,
                              n_steps=n_steps)


def _build(p: dict[str, Any]):
    """Model, stimulus and noise from the options (ValueError on bad input, before any work)."""
    from astrofield._validate import check_memory, check_steps
    from astrofield.model.definition import Model
    from astrofield.model.kernels import make_kernel
    from astrofield.model.noise import Noise

    try:
        kern = make_kernel(p["kernel"], **parse_kernel_params(p["kernel_params"]))
    except TypeError as exc:
        raise ValueError(f"--kernel-param: {exc}") from None
    model = Model(theta=p["theta"], beta=p["beta"], gamma=p["gamma"], tau=p["tau"], D=p["D"],
                  firing=p["firing"], steepness=p["steepness"], kernel=kern)
    stim = [parse_pulse(s) for s in p["pulses"]]
    if p["sigma"] < 0:
        raise ValueError(f"--sigma = {p['sigma']:g} is outside the allowed range [0, inf)")
    noise = Noise(p["sigma"], p["correlation"], p["seed"]) if p["sigma"] > 0 else None
    check_steps(p["T"], 1.0 if p["dt"] == "auto" else p["dt"])
    # the step-size rule (dt = 'auto' resolved, a too large step refused), before any work
    p["dt_used"] = step_size(p["dt"], p["T"], model, p["dt_check"])
    n_steps = float(p["T"]) / float(p["dt_used"])
    check_memory(_estimate_bytes(p["N"], p["n_frames"], n_steps),
                 f"a run with N = {p['N']}, {n_steps:.4g} steps and {p['n_frames']} frames")
    return model, stim, noise


def _summary(v: dict[str, Any], p: dict[str, Any], wall: float) -> dict[str, Any]:
    """The JSON summary from the run's values (the arrays of the dataset's variables, see
    :meth:`~astrofield.simulator.integrator.Solution.values`); ``resolved``: every member
    passed the grid and step rules and the a-posteriori check of :func:`astrofield.solve`."""
    import numpy as np

    return {"drift": float(v["drift"]), "velocity": float(v["velocity_final"]),
            "mass_drift": float(v["mass_drift"]), "width": float(v["width_final"]),
            "final_position": float(v["position"][-1]), "wall_s": wall,
            "resolved": bool(np.all(v["resolved"])),
            "N": p["N"], "dt": p["dt_used"], "dt_requested": p["dt_requested"],
            "refine_level": p["refine_level"], "T": p["T"], "seed": p["seed"],
            "output": p["output"], "plot": p["plot"]}


@command("run", example="""
astrofield run --beta 0.05 --D 0.7 --T 200 -o run.nc --plot run.png --json
astrofield run --config run.toml --D inf      # file values, D overridden""")
@option("--theta", type=FINITE, default=api_default(_MODEL, "theta"), help="Firing threshold.")
@option("--beta", type=FINITE, default=api_default(_MODEL, "beta"), help="Depletion rate.")
@option("--gamma", type=FINITE, default=api_default(_MODEL, "gamma"), help="Replenishment rate.")
@option("--tau", type=FINITE, default=api_default(_MODEL, "tau"), help="Resource time scale.")
@option("--D", "D", type=FLOAT_INF, default=api_default(_MODEL, "D"),
        help="Astrocytic diffusion ('inf' for the well-mixed limit).")
@firing_kernel_options
@option("--N", "N", type=click.IntRange(min=16), default=api_default(_SOLVE, "N"),
        help="Grid points on the ring.")
@dt_options(api_default(_SOLVE, "dt"))
@option("--T", "T", type=FINITE, default=api_default(_SOLVE, "T"), help="Final time.")
@option("--refine-levels", type=click.IntRange(0, 5), default=api_default(_SOLVE, "refine_levels"),
        help="Times the step may be halved when the companion run disagrees (0: never).")
@option("--init", type=click.Choice(["bump", "rest"]), default="bump", help="Initial state.")
@option("--eps", type=FINITE, default=api_default(_SOLVE, "eps"),
        help="Shift perturbation (fraction of bump amplitude).")
@option("--position", type=FINITE, default=api_default(_SOLVE, "position"),
        help="Initial bump centre (rad).")
@option("--pulse", "pulses", multiple=True, metavar="POS,WIDTH,AMP,T_ON,T_OFF",
        help="Input pulse POSITION,WIDTH,AMPLITUDE,T_ON,T_OFF (repeatable).")
@option("--sigma", type=FINITE, default=0.0,
        help="Additive noise amplitude (0: deterministic; was --noise-sigma).")
@option("--correlation", type=FINITE, default=api_default(_NOISE, "correlation"),
        help="Gaussian noise correlation length (rad; was --noise-correlation).")
@option("--seed", type=click.IntRange(min=0), default=0, help="Noise seed.")
@option("--n-frames", type=click.IntRange(min=2), default=api_default(_SOLVE, "n_frames"),
        help="Stored frames of u, q, a.")
@option("--backend", type=click.Choice(["auto", *backend_names()]), default="auto",
        help="Time-integration backend: any registered one (jax: pip install "
             "'astrofield[jax]'; plug-ins: entry-point group astrofield.backends).")
@output_option()
@plot_option("Figure file (kymographs and position trace), e.g. run.png.")
@json_option
@quiet_option
def run_cmd(**p: Any) -> None:
    """Simulate the astrocyte-neural field on the ring.

    Defaults are those of the Python API (astrofield.solve and astrofield.Model): the paper's
    Figure 7 run (theta 0.1, beta 0.05, gamma 2, D 0.7, eps 0.3, T 200).
    """
    from astrofield.simulator.backends.warm import cold_start
    from astrofield.simulator.integrator import simulate

    timer = Timer()
    # a small job while the compiled loop is not built yet runs on numpy (with a notice) and
    # the loop is compiled in the background once the run is done (see warm.cold_start)
    with guard(), cold_start("numpy"):
        model, stim, noise = _build(p)
        sol = simulate(model, T=p["T"], dt=p["dt"], N=p["N"], init=p["init"], eps=p["eps"],
                       position=p["position"], stimulus=stim, noise=noise,
                       n_frames=p["n_frames"], progress=progress_for(p["quiet"]),
                       dt_check=p["dt_check"], refine_levels=p["refine_levels"],
                       seed=p["seed"], backend=None if p["backend"] == "auto" else p["backend"])
    values = sol.values()
    p["dt_used"], p["dt_requested"] = sol.attrs["dt"], sol.attrs["dt_requested"]
    p["refine_level"] = sol.attrs["refine_level"]
    s = _summary(values, p, timer.wall_s)
    # A failed (non-finite) run is reported here, before any file is written.
    _refuse_non_finite(s, values)
    if p["output"] or p["plot"]:  # the labelled dataset (xarray) only when something is saved
        with guard(runtime=True):
            ds = sol.to_dataset()
            save_outputs(ds, p["output"], p["plot"], lambda: _figure(ds))
    emit(s, p["as_json"],
         f"drift {s['drift']:.6g} rad, velocity {s['velocity']:.3g} rad/time, mass drift "
         f"{s['mass_drift']:.2e}, {s['wall_s']:.2f} s"
         + (f" (dt {s['dt_requested']:g} halved {s['refine_level']}x to {s['dt']:g}: the "
            "companion run disagreed)" if s["refine_level"] else "")
         + (f" -> {p['output']}" if p["output"] else ""))


def _refuse_non_finite(s: dict[str, Any], v: dict[str, Any]) -> None:
    """Exit 1 (nothing written) if the run failed (solve's ``failed`` flag: a non-finite state,
    the run frozen at its last finite one) or its summary holds NaN or inf."""
    import math

    import numpy as np

    if bool(np.any(v["failed"])):
        raise click.ClickException(
            f"the simulation became non-finite at t = {float(np.nanmin(v['t_failed'])):g} "
            f"(dt = {s['dt']:g}): the numerical solution failed and nothing was written; "
            "reduce dt or check the kernel and pulse parameters")
    keys = ("drift", "velocity", "mass_drift", "width", "final_position")
    bad = [k for k in keys if not math.isfinite(s[k])]
    if bad:
        raise click.ClickException(
            f"the simulation produced non-finite {', '.join(bad)} (NaN or inf): the numerical "
            "solution failed and nothing was written; reduce dt or check the kernel and pulse "
            "parameters")


def _figure(ds):
    from astrofield.plotting import plot_run

    return plot_run(ds)
