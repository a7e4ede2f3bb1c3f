r"""Working-memory task on the ring model: cue, delay, read-out.

Protocol
--------
Every trial starts at rest (``u = 0, q = 1, a = 0``). A cue -- the Gaussian input
``I(x, t) = A exp(-d(x, x_c)^2 / (2 w^2))`` for ``0 <= t < t_cue`` (``d`` the ring distance) --
ignites a bump at the cued position ``x_c``; the network then runs without input for the delay and
the remembered position is read out at ``T = t_cue + delay``:

* **persistence**: the bump survived if ``max_x u(x, T) > theta``;
* **decoded position**: the phase of the first Fourier mode of ``u(., T)``,
  ``x_hat = atan2(∫ u sin x dx, ∫ u cos x dx)``;
* **read-out error**: the circular difference ``wrap(x_hat - x_c)`` in ``[-pi, pi)`` (NaN for
  trials whose bump died);
* **drift** during the delay: the change of the (unwrapped) bump phase from ``t_cue`` to ``T``;
* **resource cost**: the total consumption ``∫_0^T ∫ beta q f(u) dx dt`` (trapezoid rule over the
  per-step :class:`~astrofield.trackers.DemandTracker` samples), and the part spent during the
  delay.

All trials and parameter sets run as one batch of :func:`astrofield.solve`: the batch is
``(parameter set) x (cue position) x (repeat)``, the per-trial cue positions enter through a
callable stimulus returning a ``(B, N)`` array, and noise (if any) is drawn independently for
every member from one seeded generator.

Units: dimensionless time (neural time constant 1), positions in radians on ``[-pi, pi)``;
resource cost in units of resource (fraction x radians).

References
----------
Palmer, Cihak, Avitabile, Kilpatrick, "Astrocytic resource diffusion stabilizes persistent
activity in neural fields", arXiv:2604.10036 (2026).
Kilpatrick and Ermentrout, "Wandering bumps in stochastic neural fields", SIAM J. Appl. Dyn.
Syst. 12 (2013) 61-94.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import xarray as xr
from scipy.integrate import trapezoid

from astrofield._compat import moved_attributes
from astrofield._validate import check_int, check_range
from astrofield._version import __version__
from astrofield.io.cf import annotate, flag_attrs, index_attrs, rate_attrs, seed_attrs, time_attrs
from astrofield.model.definition import Model
from astrofield.model.kernels import ring_distance
from astrofield.model.noise import Noise
from astrofield.simulator.integrator import SCHEME, solve
from astrofield.simulator.step_control import resolve_dt
from astrofield.simulator.trackers import BumpTracker, DemandTracker

__all__ = ["BumpTracker", "working_memory", "tile_model", "memory_bold", "MODEL_PARAMS"]

MODEL_PARAMS = ("theta", "beta", "gamma", "tau", "D", "steepness")


def tile_model(model: Model, repeats: int) -> tuple[Model, int]:
    """Expand a (possibly batched) model to ``P * repeats`` members, parameter set slowest.

    Returns the expanded model and ``P`` (the number of parameter sets).
    """
    P = model.batch_size
    kw = {}
    for name in MODEL_PARAMS:
        arr = np.broadcast_to(np.asarray(getattr(model, name), dtype=float).ravel(), (P,))
        kw[name] = np.repeat(arr, repeats)
    return replace(model, **kw), P


def _cue_input(positions: np.ndarray, amplitude: float, width: float, t_off: float):
    """Callable stimulus ``I(x, t)``: one Gaussian cue per batch member, on for ``t < t_off``
    (the profile cached per grid size: solve's companion run uses a coarser grid)."""
    cache: dict[int, np.ndarray] = {}

    def stim(x: np.ndarray, t: float) -> np.ndarray | float:
        if t >= t_off:
            return 0.0
        if x.size not in cache:
            d = ring_distance(x[None, :] - positions[:, None])
            cache[x.size] = amplitude * np.exp(-(d**2) / (2 * width**2))
        return cache[x.size]

    return stim


def working_memory(
    model: Model | None = None,
    cue_positions: float | Sequence[float] | np.ndarray = 0.0,
    *,
    n_trials: int = 1,
    cue_amplitude: float = 1.0,
    cue_width: float = 0.3,
    cue_duration: float = 1.0,
    delay: float = 20.0,
    noise: Noise | None = None,
    N: int = 128,
    dt: float | str = 0.05,
    record_every: int = 4,
    demand_region: tuple[float, float] | None = None,
    seed: int | None = 0,
    progress: bool | None = False,
    dt_check: str = "error",
) -> xr.Dataset:
    r"""Run a batch of cue-delay-read-out trials of the ring model.

    Parameters
    ----------
    model
        Ring model (default :class:`~astrofield.model.Model`: theta 0.1, beta 0.05, gamma 2,
        tau 1, D 0.7, Heaviside firing, cosine kernel). Array parameters give ``P`` parameter sets.
    cue_positions
        Cue centre(s) in radians; one block of trials per position (``C`` positions).
    n_trials
        Repeats per (parameter set, cue position); with noise each repeat is independent.
    cue_amplitude, cue_width, cue_duration
        Cue peak input (units of ``u``), Gaussian width (rad) and duration ``t_cue``.
    delay
        Delay after the cue; the read-out is at ``T = cue_duration + delay``.
    noise
        Optional additive noise (:class:`~astrofield.Noise`); ``seed`` overrides its seed.
    N, dt
        Grid points and time step; ``T`` and ``cue_duration`` must be whole numbers of steps.
        ``dt="auto"``: the largest step of the step-size rule
        (:func:`astrofield.simulator.step_control.max_step`) that divides both.
    dt_check
        A step above the step-size rule: ``"error"`` (refused before any work), ``"warn"`` (run,
        warn, attr ``dt_rule_ok = 0``) or ``"off"`` (as :func:`astrofield.solve`).
    record_every
        Record the bump phase every ``record_every`` steps (drift traces).
    demand_region
        ``(x_lo, x_hi)`` arc over which the demand (cost) is integrated; ``None``: whole ring.
    seed
        Noise seed (reproducible).
    progress
        Show a tqdm bar of the run (``None``: only when it takes longer than about a second;
        default not shown).

    Returns
    -------
    xarray.Dataset
        Dimensions ``param`` (P), ``cue`` (C), ``trial`` (n_trials), ``time`` (phase samples) and
        ``time_demand``. Per trial: ``persistent`` (bool), ``decoded``, ``error``
        (circular, NaN if the bump died), ``drift`` (delay-period drift, rad), ``cost`` and
        ``cost_delay`` (∫∫ beta q f dx dt), ``u_max`` and ``amplitude`` at read-out. Traces:
        ``position`` (unwrapped phase, on ``time``; meaningful once the bump has formed),
        ``demand`` (on ``time_demand``). Summary per parameter set: ``p_persist``,
        ``rms_error``, ``mean_abs_drift``, ``mean_cost``. ``resolved`` per trial (the flag of
        :func:`astrofield.solve`: grid and step rules, no failure and, without noise, the
        companion run at ``(N/2, 2 dt)``; with noise only the rules and failures) and the attr
        ``resolved`` (1: every trial resolved). Parameter values are coordinates on
        ``param``; ``attrs`` record the protocol, seed, scheme and package version.
    """
    model = Model() if model is None else model
    cues, n_trials, N, record_every, T, dt = _check_protocol(
        cue_positions, n_trials, cue_amplitude, cue_width, cue_duration, delay, N, dt,
        record_every, model)
    big, P = tile_model(model, cues.size * n_trials)
    pos_b = np.tile(np.repeat(cues, n_trials), P)
    ds = _simulate_trials(big, pos_b, T, dt, N, cue_amplitude, cue_width, cue_duration, noise,
                          record_every, demand_region, seed, progress, dt_check)
    trials = _read_out(ds, big.param("theta")[:, 0], pos_b, cue_duration)
    out = _trial_dataset(trials, ds, big, cues, n_trials, P)
    out.attrs.update({
        "astrofield_version": __version__, "scheme": SCHEME, "application": "working_memory",
        "T": T, "dt": dt, "dt_check": dt_check, "dt_max": ds.attrs.get("dt_max", np.nan),
        "dt_rule_ok": ds.attrs.get("dt_rule_ok", 1), "N": N,
        "resolved": int(np.all(out["resolved"].values)),
        "resolution_check": ds.attrs.get("resolution_check", "off"),
        "cue_amplitude": float(cue_amplitude),
        "cue_width": float(cue_width), "cue_duration": float(cue_duration),
        "delay": float(delay), "firing": model.firing.describe(), "kernel": model.kernel.describe(),
        "noise": repr(noise) if noise is not None else "none",
        **seed_attrs(seed if seed is not None else getattr(noise, "seed", None),
                     noise is not None),
        "demand_region": "ring" if demand_region is None else list(demand_region),
        "reference": "Palmer et al. arXiv:2604.10036",
    })
    return out


def _check_protocol(cue_positions, n_trials, cue_amplitude, cue_width, cue_duration, delay, N,
                    dt, record_every, model) -> tuple[np.ndarray, int, int, int, float, float]:
    """Step 1: validate the protocol; returns ``(cues, n_trials, N, record_every, T, dt)``
    (``dt = "auto"`` resolved by the step-size rule)."""
    cues = np.atleast_1d(np.asarray(check_range("cue_positions", cue_positions, -np.pi, np.pi),
                                    dtype=float))
    if cues.ndim != 1:
        raise ValueError(f"cue_positions must be a scalar or 1-D, got shape {cues.shape}")
    n_trials = check_int("n_trials", n_trials, 1)
    check_range("cue_amplitude", cue_amplitude)
    check_range("cue_width", cue_width, 0, np.inf, lo_open=True)
    check_range("cue_duration", cue_duration, 0, np.inf, lo_open=True)
    check_range("delay", delay, 0, np.inf, lo_open=True)
    N = check_int("N", N, 16)
    T = float(cue_duration + delay)
    if isinstance(dt, str):
        dt = resolve_dt(dt, T, model, divides=(float(cue_duration),))[0]
    check_range("dt", dt, 0, cue_duration, lo_open=True)
    record_every = check_int("record_every", record_every, 1)
    n_steps = int(round(T / dt))
    if abs(n_steps * dt - T) > 1e-9 * T or abs(round(cue_duration / dt) * dt - cue_duration) > 1e-9:
        raise ValueError(f"cue_duration = {cue_duration:g} and delay = {delay:g} must be whole "
                         f"numbers of steps dt = {dt:g}")
    return cues, n_trials, N, record_every, T, float(dt)


def _simulate_trials(big, pos_b, T, dt, N, cue_amplitude, cue_width, cue_duration, noise,
                     record_every, demand_region, seed, progress, dt_check) -> xr.Dataset:
    """Step 2: run every trial from rest as one batch, tracking the bump phase and the demand."""
    stim = _cue_input(pos_b, float(cue_amplitude), float(cue_width), float(cue_duration))
    trackers = [BumpTracker(every=record_every), DemandTracker(region=demand_region, every=1)]
    return solve(big, T=T, dt=dt, N=N, init="rest", stimulus=stim, noise=noise, n_frames=2,
                 store_fields=False, trackers=trackers, progress=progress, seed=seed,
                 dt_check=dt_check)


def _read_out(ds: xr.Dataset, theta: np.ndarray, pos_b: np.ndarray, cue_duration: float
              ) -> dict[str, np.ndarray]:
    """Step 3: per-trial read-out -- persistence, decoded position, error, drift and cost."""
    tb = ds["time_bump"].values
    phase = ds["phase"].values
    unwrapped = np.unwrap(phase, axis=-1)
    i_cue = int(np.argmin(np.abs(tb - cue_duration)))
    u_max = ds["u_max"].values[:, -1]
    persistent = u_max > theta
    decoded = phase[:, -1]
    td = ds["time_demand"].values
    dem = ds["demand"].values
    late = td >= cue_duration - 1e-12
    return {
        "persistent": persistent, "decoded": decoded, "u_max": u_max,
        "error": np.where(persistent, ring_distance(decoded - pos_b), np.nan),
        "drift": np.where(persistent, unwrapped[:, -1] - unwrapped[:, i_cue], np.nan),
        "cost": trapezoid(dem, td, axis=-1),
        "cost_delay": trapezoid(dem[:, late], td[late], axis=-1),
        "position": unwrapped, "demand": dem, "time": tb, "time_demand": td,
    }


def _summaries(persistent: np.ndarray, error: np.ndarray, drift: np.ndarray, cost: np.ndarray
               ) -> dict[str, np.ndarray]:
    """Step 4: per-parameter-set summaries from ``(P, ...)`` trial arrays."""
    P = persistent.shape[0]
    with np.errstate(invalid="ignore"):
        flat_err = error.reshape(P, -1)
        n_ok = np.sum(np.isfinite(flat_err), axis=1)
        rms = np.where(n_ok > 0, np.sqrt(np.nansum(flat_err**2, axis=1) / np.maximum(n_ok, 1)),
                       np.nan)
        mad = np.where(n_ok > 0, np.nansum(np.abs(drift.reshape(P, -1)), axis=1)
                       / np.maximum(n_ok, 1), np.nan)
    return {"p_persist": persistent.reshape(P, -1).mean(axis=1), "rms_error": rms,
            "mean_abs_drift": mad, "mean_cost": cost.reshape(P, -1).mean(axis=1)}


def _trial_dataset(trials: dict[str, np.ndarray], ds: xr.Dataset, big: Model, cues: np.ndarray,
                   n_trials: int, P: int) -> xr.Dataset:
    """Step 5: arrange the trials on ``(param, cue, trial)`` with units and summaries."""
    C = cues.size
    dims = ("param", "cue", "trial")

    def r(a: np.ndarray) -> np.ndarray:
        return a.reshape((P, C, n_trials) + a.shape[1:])

    t = {k: r(trials[k]) for k in ("persistent", "decoded", "error", "drift", "cost",
                                    "cost_delay", "u_max", "position", "demand")}
    summary = _summaries(t["persistent"], t["error"], t["drift"], t["cost"])
    ds = xr.Dataset(
        {
            "persistent": (dims, t["persistent"]),
            "decoded": (dims, t["decoded"]),
            "error": (dims, t["error"]),
            "drift": (dims, t["drift"]),
            "cost": (dims, t["cost"]),
            "cost_delay": (dims, t["cost_delay"]),
            "u_max": (dims, t["u_max"]),
            "amplitude": (dims, r(ds["amplitude"].values[:, -1])),
            "position": ((*dims, "time"), t["position"]),
            "demand": ((*dims, "time_demand"), t["demand"]),
            "p_persist": ("param", summary["p_persist"]),
            "rms_error": ("param", summary["rms_error"]),
            "mean_abs_drift": ("param", summary["mean_abs_drift"]),
            "mean_cost": ("param", summary["mean_cost"]),
            "mass_drift": ("param", np.abs(r(ds["mass_drift"].values)).reshape(P, -1)
                           .max(axis=1)),
            "resolved": (dims, r(ds["resolved"].values.astype(bool))),
        },
        coords={"param": np.arange(P), "cue": cues, "trial": np.arange(n_trials),
                "time": trials["time"], "time_demand": trials["time_demand"],
                **{name: ("param", big.param(name)[::C * n_trials, 0]) for name in MODEL_PARAMS}},
    )
    return annotate(ds, CF_ATTRS)


_COST = "resource x ring length (rad): ∫∫ beta q f(u) dx dt, time in neural time constants"
#: CF attributes of the variables of :func:`working_memory` (shared names: :data:`COMMON`).
CF_ATTRS: dict[str, dict] = {
    "persistent": flag_attrs("bump survived the delay", [0, 1], "died persisted",
                             description="max u > theta at the read-out"),
    "decoded": {"units": "rad", "long_name": "decoded position",
                "description": "phase of the first Fourier mode of u at the read-out"},
    "error": {"units": "rad", "long_name": "read-out error",
              "description": "wrap(decoded - cue) in [-pi, pi); NaN where the bump died"},
    "drift": {"units": "rad", "long_name": "drift during the delay",
              "description": "change of the unwrapped bump phase from the cue's end to T"},
    "cost": {"units": "rad", "long_name": "total resource consumption",
             "description": _COST + ", over the whole trial"},
    "cost_delay": {"units": "rad", "long_name": "consumption during the delay",
                   "description": _COST + ", over the delay"},
    "u_max": {"units": "1", "long_name": "max u at read-out"},
    "amplitude": {"units": "1", "long_name": "first-mode amplitude at read-out"},
    "position": {"units": "rad", "long_name": "unwrapped bump phase"},
    "demand": rate_attrs("demand ∫ beta q f dx", "resource consumption rate over the "
                         "demand region (resource x rad)"),
    "p_persist": {"units": "1", "long_name": "fraction of trials persisting"},
    "rms_error": {"units": "rad", "long_name": "rms read-out error",
                  "description": "over the trials whose bump persisted"},
    "mean_abs_drift": {"units": "rad", "long_name": "mean |drift| during the delay"},
    "mean_cost": {"units": "rad", "long_name": "mean consumption per trial",
                  "description": _COST + ", mean over the trials"},
    "mass_drift": {"units": "1", "long_name": "max relative change of resource",
                   "description": "largest relative change of ∫ (q + a) dx over the trials"},
    "resolved": flag_attrs("trial resolved", [0, 1], "unresolved resolved",
                           description="the trial's run passed the grid and step rules of "
                                       "astrofield.solve, did not fail, and (without noise) "
                                       "agreed with its companion run at (N/2, 2 dt)"),
    "param": index_attrs("parameter set"),
    "cue": {"units": "rad", "long_name": "cue position"},
    "trial": index_attrs("trial"),
    "time_demand": time_attrs("time of the demand samples"),
}


def _check_region(region) -> tuple[float, float]:
    """``(lo, hi)`` of a demand region: two finite numbers with ``lo < hi`` (ValueError)."""
    try:
        lo, hi = (float(v) for v in region)
    except (TypeError, ValueError):
        raise ValueError(f"region = {region!r}: expected two numbers (lo, hi) in rad") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"region = ({lo:g}, {hi:g}) is empty or not finite: it needs "
                         "lo < hi (rad)")
    return lo, hi


def memory_bold(
    model: Model | None = None,
    cue_position: float = 0.0,
    *,
    seconds_per_unit: float,
    region: tuple[float, float] | None = None,
    delay: float = 600.0,
    tr: float = 1.0,
    preset: str = "friston2003",
    tail: float = 20.0,
    gain: float = 1.0,
    N: int = 64,
    dt: float | str = 0.05,
    noise: Noise | None = None,
    seed: int | None = 0,
    progress: bool | None = False,
    dt_check: str = "error",
    **memory_kw,
) -> tuple[xr.Dataset, xr.Dataset]:
    r"""BOLD prediction of one working-memory trial (neurovascular coupling).

    The metabolic demand ``m(t) = ∫_region beta q f(u) dx`` of the trial (a
    :class:`~astrofield.trackers.DemandTracker` over ``region``) drives the Balloon-Windkessel
    model through :func:`astrofield.applications.bold.bold_from_demand` (vasodilatory signal
    ``z = gain (m - m_rest)``; Friston et al. 2000, Stephan et al. 2007).

    Parameters
    ----------
    model, cue_position, delay, N, dt, noise, seed, dt_check, **memory_kw
        As :func:`working_memory` (one trial; ``dt="auto"`` and a step above the rule are
        handled there).
    seconds_per_unit
        Seconds per model time unit -- required (e.g. 0.01 for a 10 ms neural time constant).
    region
        ``(x_lo, x_hi)`` arc of the voxel; default the cued arc ``cue_position +- 1`` rad.
    tr, preset, tail, gain
        Scan repetition time (s), haemodynamic preset, seconds of rest appended, demand gain.
    progress
        Show a tqdm bar of the trial on stderr (as :func:`working_memory`).

    Returns
    -------
    (xarray.Dataset, xarray.Dataset)
        The working-memory dataset and the BOLD dataset (``bold`` in seconds, ``bold_tr``).
        The BOLD dataset's attr ``resolved`` is the trial's flag (:func:`working_memory`: the
        rules, failures and, without noise, the companion run; the haemodynamic model adds
        no check of its own).
    """
    from astrofield.applications.bold import bold_from_demand

    check_range("seconds_per_unit", seconds_per_unit, 0, np.inf, lo_open=True)
    cue = float(check_range("cue_position", cue_position, -np.pi, np.pi))
    if region is None:
        region = (cue - 1.0, cue + 1.0)
    region = _check_region(region)
    from astrofield.applications.bold import check_bold_size

    check_range("tail", tail, 0.0, np.inf, hi_open=True)
    t_cue = float(check_range("cue_duration", memory_kw.get("cue_duration", 1.0), 0, np.inf,
                              lo_open=True))
    trial = t_cue + float(check_range("delay", delay, 0, np.inf, lo_open=True))
    if isinstance(dt, str):  # the rule's step, before the size check below
        dt = resolve_dt(dt, trial, Model() if model is None else model, divides=(t_cue,))[0]
    check_range("dt", dt, 0, np.inf, lo_open=True, hi_open=True)
    check_bold_size(trial / dt + 1.0, dt * float(seconds_per_unit), tail=float(tail))
    wm = working_memory(model, cue, delay=delay, N=N, dt=dt, noise=noise, seed=seed,
                        demand_region=region, progress=progress, dt_check=dt_check,
                        **memory_kw)
    dem = wm["demand"].isel(param=0, cue=0, trial=0).rename(time_demand="time")
    bold = bold_from_demand(dem, seconds_per_unit=seconds_per_unit, tr=tr, preset=preset,
                            tail=tail, gain=gain)
    keep = ("scheme", "firing", "kernel", "noise", "seed", "seed_description", "dt", "dt_check",
            "dt_max", "dt_rule_ok", "resolved", "resolution_check", "N", "delay", "cue_amplitude",
            "cue_width", "cue_duration")
    params = {k: float(wm[k].values[0]) for k in MODEL_PARAMS}
    annotate(bold, None, **{k: wm.attrs[k] for k in keep if k in wm.attrs}, **params,
             region=list(region), cue_position=cue, application="working_memory_bold",
             balloon_model=bold.attrs.get("model", ""))
    return wm, bold


#: Figure functions that moved to :mod:`astrofield.plotting.applications`.
__getattr__ = moved_attributes(__name__, ("plot_memory", "plot_memory_bold"),
                               "astrofield.plotting.applications",
                               advertised="astrofield.plotting")
