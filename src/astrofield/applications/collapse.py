r"""Early warnings of resource collapse: a slowly ramped depletion rate.

The seed note names *seizure prediction* -- resource depletion as an early warning of a transition.
In the ring model the cleanest resource-driven transition is the **fold** of the bump branch: for
fixed ``(theta, gamma)`` a bump exists only for ``beta <= beta_max(theta, gamma)``. Ramping the
depletion rate slowly through ``beta_max`` makes the persistent activity collapse. Near a fold the
eigenvalue of the width (amplitude) mode tends to zero, so
noise-driven fluctuations of the bump amplitude recover ever more slowly: *critical slowing
down*, seen as rising rolling variance and lag-1 autocorrelation (Scheffer et al. 2009; Dakos et
al. 2012).

Protocol (:func:`ramp_collapse`)
--------------------------------
* Start at the exact wide bump for ``beta_start``; hold for ``t_hold``; then ramp
  ``beta(t) = beta_start + (beta_end - beta_start) (t - t_hold) / T_ramp`` (a time-dependent
  model through ``solve(schedule={"beta": ...})``, each step using the value at its midpoint).
  Optionally a uniform drive ``I(t)`` is ramped the same way (callable
  stimulus).
* Weak additive noise (:class:`~astrofield.Noise`, seeded) makes fluctuations to measure.
* Every ``record_every`` steps record the bump amplitude (first-mode amplitude of ``u``), the
  peak ``u``, the active width, the minimum and mean synaptic resource ``q`` and the demand.
* The **collapse time** ``t_c`` is the first sample with ``max u < theta`` (no active region).
* On the amplitude series up to ``t_c - margin``: detrended rolling variance and lag-1
  autocorrelation, their Kendall ``tau`` with time (:func:`astrofield.applications.early_warning
  .early_warning_indicators`), the minimum resource and the time of resource depletion
  (``q_min`` below ``depletion_level``).
* **Lead time**: ``t_c`` minus the first time the rolling variance exceeds its baseline (mean of
  the first quarter of the analysed window) by ``alarm_sd`` baseline standard deviations
  (and stays above it until the end of the window).

With the defaults (``theta = 0.3``, ``gamma = 2``, ``D = inf``; ``beta_max = 0.893``) the
theoretical fold is crossed at ``t_fold = t_hold + T_ramp (beta_max - beta_start) /
(beta_end - beta_start)``; the collapse follows it with the delay typical of a slow passage through
a saddle-node.

References
----------
Scheffer M, et al. (2009) Early-warning signals for critical transitions. Nature 461:53-59.
Dakos V, et al. (2012) Methods for detecting early warnings of critical transitions in time series
illustrated using simulated ecological data. PLoS ONE 7:e41010.
Palmer, Cihak, Avitabile, Kilpatrick, arXiv:2604.10036 (2026).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr

from astrofield._compat import moved_attributes
from astrofield._validate import check_int, check_range
from astrofield._version import __version__
from astrofield.applications.early_warning import early_warning_indicators, time_to_depletion
from astrofield.applications.memory import tile_model
from astrofield.io.cf import annotate, flag_attrs, index_attrs, rate_attrs, seed_attrs, time_attrs
from astrofield.model.definition import Model
from astrofield.model.noise import Noise
from astrofield.model.stimulus import Stimulus
from astrofield.simulator.integrator import SCHEME, solve
from astrofield.simulator.step_control import resolve_dt
from astrofield.simulator.trackers import BumpTracker, DemandTracker, ResourceTracker
from astrofield.theory.bump import bump_branches

__all__ = ["ramp_collapse", "DEFAULT_COLLAPSE_MODEL"]

#: theta = 0.3 puts the fold at beta_max = 0.893 (gamma = 2); D = inf keeps the wide branch
#: drift-stable up to the fold.
DEFAULT_COLLAPSE_MODEL = dict(theta=0.3, beta=0.3, gamma=2.0, tau=1.0, D=np.inf)


def ramp_collapse(
    model: Model | None = None,
    *,
    beta_start: float = 0.3,
    beta_end: float = 1.2,
    drive_start: float = 0.0,
    drive_end: float = 0.0,
    t_hold: float = 20.0,
    T_ramp: float = 400.0,
    t_after: float = 30.0,
    sigma: float = 0.02,
    correlation: float | str = 0.5,
    n_trials: int = 4,
    N: int = 64,
    dt: float | str = 0.05,
    record_every: int = 10,
    window: float = 60.0,
    margin: float = 5.0,
    depletion_level: float = 0.3,
    alarm_sd: float = 2.0,
    seed: int = 0,
    progress: bool | None = False,
    dt_check: str = "error",
) -> xr.Dataset:
    r"""Ramp the depletion rate (and optionally a uniform drive) slowly through the bump's fold.

    Parameters
    ----------
    model
        Ring model (``beta`` is overridden by the ramp). Default :data:`DEFAULT_COLLAPSE_MODEL`
        (theta 0.3, gamma 2, tau 1, D = inf, Heaviside firing, cosine kernel).
    beta_start, beta_end
        Depletion rate at the start and the end of the ramp (a bump must exist at
        ``beta_start``).
    drive_start, drive_end
        Uniform external input ``I(t)``, ramped over the same interval (units of ``u``).
    t_hold, T_ramp, t_after
        Hold time before the ramp, ramp duration, and time simulated after it.
    sigma, correlation
        Additive noise amplitude and correlation (Gaussian length, rad, or ``"cosine"``).
    n_trials
        Independent noise realisations (one batch; default 4, as ``astrofield collapse``: the
        early-warning statistics are compared across realisations).
    N, dt, record_every
        Grid, time step, sampling stride of the recorded series (steps). ``dt="auto"``: the
        largest step of the step-size rule at the ramp's largest ``beta`` that divides the run
        (``t_hold + T_ramp + t_after``).
    dt_check
        A step above the step-size rule (at the ramp's largest ``beta``): ``"error"`` (refused
        before any work), ``"warn"`` or ``"off"`` (as :func:`astrofield.solve`).
    window
        Rolling window for variance and AC1 (time units).
    margin
        Analyse the amplitude series up to ``t_c - margin``.
    depletion_level
        ``q_min`` level that defines resource depletion (time to depletion).
    alarm_sd
        Alarm threshold of the lead-time rule (baseline standard deviations).
    seed
        Noise seed.
    progress
        Show a tqdm bar of the run on stderr (``None``: only once it has taken about a second;
        ``False``, the default: never).

    Returns
    -------
    xarray.Dataset
        Series on ``(trial, time)``: ``beta``/``drive`` (on ``time``), ``amplitude``, ``u_max``,
        ``width``, ``q_min``, ``q_mean``, ``demand``, ``mass``, and the indicators ``variance``,
        ``ac1`` (NaN after the analysis window). Per trial: ``t_collapse``, ``beta_collapse``,
        ``variance_tau``, ``ac1_tau`` (and p-values), ``min_resource``,
        ``t_depletion``, ``t_alarm``, ``lead_time``. Scalars: ``beta_max`` and ``t_fold``
        (theory, for the ramped beta with no drive). ``resolved`` per trial: the flag of
        :func:`astrofield.solve` (grid and step rules at the ramp's largest ``beta``, no
        failure and, for ``sigma = 0``, the companion run at ``(N/2, 2 dt)``; noisy trials:
        only the rules and failures); attr ``resolved`` (1: every trial). ``attrs``: protocol,
        seed, scheme, version.
    """
    model = Model(**DEFAULT_COLLAPSE_MODEL) if model is None else model
    n_trials, N, record_every, dt = _check_ramp_args(
        model, beta_start, beta_end, drive_start, drive_end, t_hold, T_ramp, t_after, n_trials,
        N, dt, record_every, window, margin, depletion_level, alarm_sd, sigma)
    beta_ramp = _Ramp(beta_start, beta_end, t_hold, T_ramp)
    drive_ramp = _Ramp(drive_start, drive_end, t_hold, T_ramp)
    noise = Noise(sigma, correlation, seed) if sigma > 0 else None
    t, rec, step = _simulate_ramp(model, beta_ramp, drive_ramp, noise, n_trials,
                                  t_hold + T_ramp + t_after, N, dt, record_every, progress,
                                  dt_check)
    resolved = step.pop("resolved")
    dead = rec["u_max"] < float(model.theta)
    hit = dead.any(axis=1)
    t_c = np.where(hit, t[np.argmax(dead, axis=1)], np.nan)
    ind = _indicators(t, rec["amplitude"], t_c, t_hold, margin, window, record_every * dt,
                      alarm_sd)
    beta_max = float(bump_branches(float(model.theta), 0.0, float(model.gamma))["beta_max"])
    t_fold = (t_hold + T_ramp * (beta_max - beta_start) / (beta_end - beta_start)
              if beta_end != beta_start else np.nan)
    beta_t = np.array([beta_ramp(tt) for tt in t])
    data = {k: (("trial", "time"), v) for k, v in rec.items()}
    data.update({
        "beta": ("time", beta_t, {"long_name": "ramped depletion rate"}),
        "drive": ("time", np.array([drive_ramp(tt) for tt in t]),
                  {"long_name": "ramped uniform input"}),
        "t_collapse": ("trial", t_c, {"long_name": "first time with max u < theta"}),
        "beta_collapse": ("trial", np.where(hit, np.interp(t_c, t, beta_t), np.nan)),
        "min_resource": ("trial", rec["q_min"].min(axis=1)),
        "t_depletion": ("trial", time_to_depletion(t, rec["q_min"], depletion_level),
                        {"long_name": f"first time q_min < {depletion_level:g}"}),
        "beta_max": ((), beta_max, {"long_name": "fold of the bump branch (theory)"}),
        "t_fold": ((), t_fold, {"long_name": "time the ramp crosses beta_max"}),
        "mass_drift": ("trial", (rec["mass"][:, -1] - rec["mass"][:, 0]) / rec["mass"][:, 0]),
        "resolved": ("trial", resolved),
        **ind,
    })
    ds = annotate(xr.Dataset(data, coords={"trial": np.arange(n_trials), "time": t}), CF_ATTRS)
    ds.attrs.update({
        "astrofield_version": __version__, "scheme": SCHEME, "application": "collapse",
        "theta": float(model.theta), "gamma": float(model.gamma), "tau": float(model.tau),
        "D": float(model.D), "firing": model.firing.describe(), "kernel": model.kernel.describe(),
        "beta_start": float(beta_start), "beta_end": float(beta_end),
        "drive_start": float(drive_start), "drive_end": float(drive_end),
        "t_hold": float(t_hold), "T_ramp": float(T_ramp), "t_after": float(t_after),
        "sigma": float(sigma), "correlation": str(correlation),
        **seed_attrs(seed, noise is not None),
        "N": N, "dt": dt, "dt_check": dt_check, **step, "resolved": int(np.all(resolved)),
        "record_every": record_every,
        "window": float(window),
        "margin": float(margin), "alarm_sd": float(alarm_sd),
        "reference": "Scheffer 2009; Dakos 2012; Palmer et al. arXiv:2604.10036",
    })
    return ds


_T = "neural time constants"
#: CF attributes of the variables of :func:`ramp_collapse` (shared names: :data:`COMMON`).
CF_ATTRS: dict[str, dict] = {
    "amplitude": {"units": "1", "long_name": "first-mode amplitude of u"},
    "u_max": {"units": "1", "long_name": "maximum of u over the ring"},
    "width": {"units": "rad", "long_name": "length of the active region"},
    "q_min": {"units": "1", "long_name": "minimum synaptic resource"},
    "q_mean": {"units": "1", "long_name": "mean synaptic resource"},
    "demand": rate_attrs("resource consumption rate",
                         "∫ beta q f(u) dx over the ring (resource x rad)"),
    "mass": {"units": "rad", "long_name": "total resource",
             "description": "∫ (q + a) dx (resource x rad)"},
    "beta": {"units": "1", "long_name": "ramped depletion rate beta",
             "description": "depletion rate of the ramp at each sample, per neural time "
                            "constant"},
    "drive": {"units": "1", "long_name": "ramped uniform input",
              "description": "uniform external input I(t) (units of u)"},
    "t_collapse": time_attrs("collapse time", description="first time with max u < theta"),
    "beta_collapse": {"units": "1", "long_name": "beta at the collapse"},
    "min_resource": {"units": "1", "long_name": "lowest q_min of the trial"},
    "t_depletion": time_attrs("time of resource depletion",
                              description="first time q_min < depletion_level (attr)"),
    "beta_max": {"units": "1", "long_name": "fold of the bump branch",
                 "description": "largest beta with a bump (theory), per neural time constant"},
    "t_fold": time_attrs("time the ramp crosses beta_max"),
    "resolved": flag_attrs("trial resolved", [0, 1], "unresolved resolved",
                           description="grid and step rules of astrofield.solve, no failure "
                                       "and (sigma = 0) the companion run at (N/2, 2 dt)"),
    "mass_drift": {"units": "1", "long_name": "relative change of resource",
                   "description": "(mass(T) - mass(0)) / mass(0)"},
    "variance_tau": {"units": "1", "long_name": "Kendall tau of the variance",
                     "description": "trend of the rolling variance up to the collapse"},
    "variance_pvalue": {"units": "1", "long_name": "p-value of variance_tau"},
    "ac1_tau": {"units": "1", "long_name": "Kendall tau of AC1",
                "description": "trend of the rolling lag-1 autocorrelation"},
    "ac1_pvalue": {"units": "1", "long_name": "p-value of ac1_tau"},
    "t_alarm": time_attrs("alarm time", description="first time after which the rolling "
                          "variance stays above its alarm level (NaN: never)"),
    "lead_time": time_attrs("warning lead time", description="t_collapse - t_alarm, in " + _T),
    "variance": {"units": "1", "long_name": "rolling variance",
                 "description": "rolling variance of the detrended amplitude"},
    "ac1": {"units": "1", "long_name": "rolling lag-1 autocorrelation",
            "description": "rolling lag-1 autocorrelation of the amplitude"},
    "trial": index_attrs("trial"),
}


def _check_ramp_args(model, beta_start, beta_end, drive_start, drive_end, t_hold, T_ramp, t_after,
                     n_trials, N, dt, record_every, window, margin, depletion_level, alarm_sd,
                     sigma) -> tuple[int, int, int, float]:
    """Step 1: validate every argument; returns ``(n_trials, N, record_every)`` as integers and
    the step (``"auto"`` resolved at the ramp's largest ``beta``)."""
    if model.is_batched:
        raise ValueError("ramp_collapse needs an unbatched model (use n_trials for repeats)")
    check_range("beta_start", beta_start, 0, np.inf)
    check_range("beta_end", beta_end, 0, np.inf)
    check_range("drive_start", drive_start)
    check_range("drive_end", drive_end)
    check_range("t_hold", t_hold, 0, np.inf)
    check_range("T_ramp", T_ramp, 0, np.inf, lo_open=True)
    check_range("t_after", t_after, 0, np.inf)
    n_trials = check_int("n_trials", n_trials, 1)
    N = check_int("N", N, 16)
    if isinstance(dt, str):
        dt = resolve_dt(dt, t_hold + T_ramp + t_after,
                        replace(model, beta=float(max(beta_start, beta_end))))[0]
    check_range("dt", dt, 0, 1, lo_open=True)
    record_every = check_int("record_every", record_every, 1)
    check_range("window", window, 0, np.inf, lo_open=True)
    check_range("margin", margin, 0, np.inf)
    check_range("depletion_level", depletion_level, 0, 1)
    check_range("alarm_sd", alarm_sd, 0, np.inf, lo_open=True)
    check_range("sigma", sigma, 0, np.inf)
    if beta_end < beta_start:
        raise ValueError(f"beta_end = {beta_end:g} is below beta_start = {beta_start:g}: the "
                         "collapse protocol ramps the depletion rate up (beta_end >= beta_start)")
    # the rolling statistics need a window plus 10 records inside the analysed span, which
    # ends at the collapse (during the ramp) or at the end of the run
    longest = T_ramp + t_after - margin - 10 * record_every * dt
    if window > longest:
        raise ValueError(f"window = {window:g} is longer than the ramp allows: T_ramp = "
                         f"{T_ramp:g} (+ t_after {t_after:g} - margin {margin:g} - 10 records) "
                         f"leaves at most {max(longest, 0.0):g} time units to analyse; "
                         "shorten the window or lengthen T_ramp")
    return n_trials, N, record_every, float(dt)


class _Ramp:
    """``v(t)``: ``v0`` until ``t_hold``, then linear to ``v1`` over ``T_ramp``, then ``v1``."""

    def __init__(self, v0: float, v1: float, t_hold: float, T_ramp: float) -> None:
        self.v0, self.v1, self.t_hold, self.T_ramp = v0, v1, t_hold, T_ramp

    @property
    def active(self) -> bool:
        return self.v0 != 0 or self.v1 != 0

    def __call__(self, t: float) -> float:
        s = min(max((t - self.t_hold) / self.T_ramp, 0.0), 1.0)
        return self.v0 + (self.v1 - self.v0) * s


def _simulate_ramp(model: Model, beta_ramp: _Ramp, drive_ramp: _Ramp, noise: Noise | None,
                   n_trials: int, duration: float, N: int, dt: float, record_every: int,
                   progress: bool | None = False, dt_check: str = "error"
                   ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """Step 2: run the trials from the exact bump at ``beta_start`` with the ramped schedule.

    Returns the sample times, the recorded series (``(trial, time)`` arrays) and the step
    rule's attrs (``dt_max``, ``dt_rule_ok``, ``resolution_check``) with the per-trial
    ``resolved`` flags of :func:`astrofield.solve`.
    """
    big, _ = tile_model(replace(model, beta=float(beta_ramp.v0)), n_trials)
    T = round(duration / dt) * dt  # a whole number of steps
    stim = Stimulus((lambda x, t: drive_ramp(t)) if drive_ramp.active else None)
    run = solve(big, T=T, dt=dt, N=N, init="bump", eps=0.0, stimulus=stim, noise=noise,
                store_fields=False, n_frames=2, progress=progress, schedule={"beta": beta_ramp},
                dt_check=dt_check,
                trackers=[BumpTracker(every=record_every), ResourceTracker(every=record_every),
                          DemandTracker(every=record_every)])
    rec = {k: run[k].values for k in ("amplitude", "u_max", "width", "q_min", "q_mean",
                                      "demand")}
    rec["mass"] = run["total_resource"].values
    samples = np.rint(run["time_bump"].values / dt).astype(int)
    step = {k: run.attrs[k] for k in ("dt_max", "dt_rule_ok", "resolution_check")}
    step["resolved"] = run["resolved"].values.astype(bool)  # per trial (popped by the caller)
    return np.asarray(samples, dtype=float) * dt, rec, step


def _indicators(t: np.ndarray, amplitude: np.ndarray, t_c: np.ndarray, t_hold: float,
                margin: float, window: float, dt_s: float, alarm_sd: float) -> dict:
    """Step 3: rolling variance and AC1, their Kendall trends and the alarm, trial by trial.

    Each trial is analysed on ``[t_hold, t_c - margin]`` (to the end if it did not collapse);
    windows too short for the rolling statistics are left as NaN.
    """
    n_trials, ns = amplitude.shape
    res = {k: np.full(n_trials, np.nan) for k in
           ("variance_tau", "variance_pvalue", "ac1_tau", "ac1_pvalue", "t_alarm", "lead_time")}
    var_s = np.full((n_trials, ns), np.nan)
    ac1_s = np.full((n_trials, ns), np.nan)
    for k in range(n_trials):
        stop = (t_c[k] if np.isfinite(t_c[k]) else t[-1]) - margin
        sel = (t >= t_hold) & (t <= stop)
        if sel.sum() < int(window / dt_s) + 10:
            continue
        ew = early_warning_indicators(t[sel], amplitude[k, sel], window=window,
                                      bandwidth=window / 2)
        var_s[k, sel] = ew["variance"].values
        ac1_s[k, sel] = ew["ac1"].values
        for name in ("variance_tau", "variance_pvalue", "ac1_tau", "ac1_pvalue"):
            res[name][k] = float(ew[name])
        res["t_alarm"][k] = _alarm_time(t[sel], ew["variance"].values, alarm_sd)
        res["lead_time"][k] = t_c[k] - res["t_alarm"][k]  # NaN without collapse or alarm
    out = {k: ("trial", v) for k, v in res.items()}
    out["variance"] = (("trial", "time"), var_s,
                       {"long_name": "rolling variance of the detrended amplitude"})
    out["ac1"] = (("trial", "time"), ac1_s,
                  {"long_name": "rolling lag-1 autocorrelation of the amplitude"})
    return out


def _alarm_time(tv: np.ndarray, v: np.ndarray, alarm_sd: float) -> float:
    """First time after which the rolling variance stays above its alarm level (NaN if never).

    The level is the mean plus ``alarm_sd`` standard deviations of the first quarter (at least 3
    samples) of the finite values.
    """
    ok = np.isfinite(v)
    base_n = max(3, ok.sum() // 4)
    vb = v[ok][:base_n]
    above = v[ok] > vb.mean() + alarm_sd * vb.std()
    if not above[-1]:
        return np.nan
    last_below = np.flatnonzero(~above)
    return float(tv[ok][last_below[-1] + 1 if last_below.size else 0])


#: Figure functions that moved to :mod:`astrofield.plotting.applications`.
__getattr__ = moved_attributes(__name__, ('plot_collapse',), "astrofield.plotting.applications",
                               advertised="astrofield.plotting")
