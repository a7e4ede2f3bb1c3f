"""Fit a BOLD time series: model and haemodynamic parameters from the predicted fMRI signal.

Forward model (the pipeline of :mod:`astrofield.applications.bold`): the ring model runs from
the data's initial state (``eps``, ``position``, any ``solve`` options such as a stimulus) with a
:class:`~astrofield.simulator.trackers.DemandTracker` over ``region``; its metabolic demand
``m(t) = ∫_region beta q f(u) dx`` drives the Balloon-Windkessel model through
:func:`~astrofield.applications.bold.bold_from_demand` (``z = gain (m - m(0))``, model time
converted to seconds by ``seconds_per_unit``), and the BOLD signal is interpolated linearly to
the data's times (seconds). The neural run lasts the data's last time (in model units, rounded up
to whole steps).

Fitted parameters: any model parameter, and the haemodynamic ones of :data:`HRF_PARAMS`
(``hrf_kappa``, ``hrf_gamma``, ``hrf_tau``, ``hrf_alpha``, ``hrf_E0``, ``hrf_V0`` of
:class:`~astrofield.applications.bold.BalloonParams`, and ``gain``); the others stay at the
preset's values. The model's part of every evaluation is one batched solve (one solve in all when
only haemodynamic parameters vary); the haemodynamic part is one batched Balloon-Windkessel
integration per distinct haemodynamic parameter set.

The data: ``bold`` (fractional signal change) on ``time`` in seconds, from 0 (the moment the
haemodynamics start at rest, the neural run's start). Settings come from the arguments, else the
data's attributes of the same names, else the defaults: ``seconds_per_unit`` (required),
``region`` (two attributes ``region_lo``, ``region_hi``; default the whole ring), ``preset``
(``"friston2003"``), ``gain`` (1), ``demand_every`` (1 step), ``max_step`` (0.01 s).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import numpy as np

from astrofield.fitting.data import Observation, _setting
from astrofield.fitting.problem import Problem
from astrofield.model.definition import Model

__all__ = ["BoldProblem", "bold_problem", "HRF_PARAMS"]

#: Haemodynamic parameters that can be fitted: name -> (min, max, units) (open range); the
#: field of :class:`~astrofield.applications.bold.BalloonParams` is the name without ``hrf_``.
HRF_PARAMS = {
    "hrf_kappa": (0.0, math.inf, "1/s"),
    "hrf_gamma": (0.0, math.inf, "1/s"),
    "hrf_tau": (0.0, math.inf, "s"),
    "hrf_alpha": (0.0, 1.0 + 1e-12, "1"),
    "hrf_E0": (0.0, 1.0, "1"),
    "hrf_V0": (0.0, 1.0, "1"),
    "gain": (0.0, math.inf, "1/s^2 per unit of demand"),
}


@dataclass
class BoldProblem(Problem):
    """Residuals of the predicted BOLD signal against the data (see the module docstring).

    ``obs.settings`` holds the neural run (``T``, ``N``, ``dt``, ``eps``, ``position``);
    :attr:`bold_settings` the haemodynamic ones (``seconds_per_unit``, ``region``, ``preset``,
    ``gain``, ``demand_every``, ``max_step``).
    """

    bold_settings: dict[str, Any] | None = None
    extra_params = HRF_PARAMS

    def __post_init__(self) -> None:
        super().__post_init__()
        self._demand_cache: np.ndarray | None = None

    def demand(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        """Metabolic demand ``(B, n_t)`` of each parameter set (NaN rows for failed members)
        and its sample spacing in model time units."""
        from astrofield.simulator.integrator import simulate
        from astrofield.simulator.trackers import DemandTracker

        bs = self.bold_settings
        B = theta.shape[0]
        kw = {n: theta[:, j].copy() for j, n in enumerate(self.names) if n not in HRF_PARAMS}
        dt_m = self.obs.settings["dt"] * bs["demand_every"]
        if not kw and self._demand_cache is not None:  # the ring model does not change
            self.last_resolved = np.repeat(self._cache_resolved, B)
            return np.repeat(self._demand_cache, B, axis=0), dt_m
        t0 = time.perf_counter()
        m = replace(self.model, **kw) if kw else self.model
        tracker = DemandTracker(bs["region"], every=bs["demand_every"])
        sol = simulate(
            m,
            progress=False,
            store_fields=False,
            n_frames=2,
            trackers=[tracker],
            **self.solve_options,
            **self.obs.settings,
        )
        self.solve_s += time.perf_counter() - t0
        self.n_solves += 1
        v = sol.values()
        rows = 1 if not kw else B
        self.note_resolved(v, rows)
        self._cache_resolved = self.last_resolved
        self.last_resolved = np.repeat(self.last_resolved, B // rows)
        self.n_members += rows
        dem = np.array(v["demand"], dtype=float).reshape(rows, -1)
        dem[np.asarray(v["failed"]).reshape(rows).astype(bool)] = np.nan
        if not kw:
            self._demand_cache = dem
            dem = np.repeat(dem, B, axis=0)
        return dem, dt_m

    def simulate(self, theta: np.ndarray) -> np.ndarray:
        """Predicted BOLD at the data's times for each row of ``theta`` ``(B, p)``: ``(B, n)``.

        The Balloon-Windkessel integration is batched over the rows (the haemodynamic
        parameters become arrays), one integration per distinct ``hrf_E0`` (the only parameter
        the integrator takes as a scalar); it is the step of
        :func:`~astrofield.applications.bold.bold_from_demand` (``baseline="first"``, the drive
        held over each sample)."""
        from astrofield.applications.bold import BalloonParams, _integrate_log_state

        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        bs = self.bold_settings
        dem, dt_m = self.demand(theta)
        dt_s = dt_m * bs["seconds_per_unit"]
        n_sub = max(1, math.ceil(dt_s / bs["max_step"] - 1e-9))
        hrf = [n for n in self.names if n in HRF_PARAMS]
        rows = [
            dict(zip(hrf, theta[i, [self.names.index(n) for n in hrf]], strict=True))
            for i in range(theta.shape[0])
        ]
        gain = np.array([r.pop("gain", bs["gain"]) for r in rows])
        pars = [
            BalloonParams.preset(bs["preset"], **{n[4:]: v for n, v in r.items()}) for r in rows
        ]  # validated, k1..k3 following E0 as the preset defines
        out = np.full((theta.shape[0], self.obs.time.size), np.nan)
        e0 = np.array([q.E0 for q in pars])
        for val in np.unique(e0):
            sel = (e0 == val) & np.all(np.isfinite(dem), axis=1)
            if not sel.any():
                continue
            arr = {
                f: np.array([getattr(q, f) for q, ok in zip(pars, sel, strict=True) if ok])
                for f in ("kappa", "gamma", "tau", "alpha", "V0", "k1", "k2", "k3")
            }
            ns = SimpleNamespace(**arr, E0=float(val))
            z = gain[sel, None] * (dem[sel] - dem[sel, :1])
            _, _, lv, lq = _integrate_log_state(z, dt_s / n_sub, n_sub, ns, False)
            v, q = np.exp(lv), np.exp(lq)
            c = {f: arr[f][:, None] for f in ("V0", "k1", "k2", "k3")}
            y = c["V0"] * (c["k1"] * (1 - q) + c["k2"] * (1 - q / v) + c["k3"] * (1 - v))
            out[sel] = y[:, self._i0] * (1 - self._w) + y[:, self._i0 + 1] * self._w
        return out

    def prepare(self) -> None:
        """Interpolation indices and weights from the Balloon grid to the data's times."""
        bs = self.bold_settings
        dt_s = self.obs.settings["dt"] * bs["demand_every"] * bs["seconds_per_unit"]
        n_t = int(round(self.obs.settings["T"] / (self.obs.settings["dt"] * bs["demand_every"])))
        from astrofield.applications.bold import check_bold_size

        check_bold_size(n_t + 1, dt_s, max_step=bs["max_step"])
        pos = self.obs.time / dt_s
        self._i0 = np.clip(np.floor(pos).astype(int), 0, n_t - 1)
        self._w = pos - self._i0


def _bold_settings(ds: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The haemodynamic settings from the arguments, the data's attributes or defaults."""
    attrs = dict(ds.attrs)
    out = {}
    for name, default in (("seconds_per_unit", None), ("gain", 1.0), ("max_step", 0.01)):
        out[name] = _setting(name, given.get(name), attrs, default)[0]
    if out["seconds_per_unit"] is None:
        raise ValueError(
            "observable 'bold' needs seconds_per_unit (seconds per model time unit;"
            " argument or data attribute), e.g. 0.5"
        )
    for name in ("seconds_per_unit", "gain", "max_step"):
        v = float(out[name])
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} = {out[name]!r} must be a positive number")
        out[name] = v
    every = given.get("demand_every") or attrs.get("demand_every", 1)
    out["demand_every"] = int(every)
    if out["demand_every"] < 1:
        raise ValueError(f"demand_every = {every!r} must be a whole number >= 1")
    preset = given.get("preset") or attrs.get("preset", "friston2003")
    out["preset"] = str(preset)
    region = given.get("region")
    if region is None and "region_lo" in attrs and "region_hi" in attrs:
        region = (float(attrs["region_lo"]), float(attrs["region_hi"]))
    out["region"] = None if region is None else tuple(float(v) for v in region)
    return out


def bold_problem(
    ds: Any,
    model: Model,
    vary: dict[str, tuple[float, float]],
    *,
    N: int | None = None,
    dt: float | None = None,
    eps: float | None = None,
    position: float | None = None,
    seconds_per_unit: float | None = None,
    region: tuple[float, float] | None = None,
    preset: str | None = None,
    gain: float | None = None,
    demand_every: int | None = None,
    max_step: float | None = None,
    **solve_options: Any,
) -> BoldProblem:
    """Build the :class:`BoldProblem` of a BOLD series.

    Parameters
    ----------
    ds
        :class:`xarray.Dataset` with ``bold`` (fraction) on ``time`` (seconds from 0).
    model, vary
        As :func:`~astrofield.fitting.fit`; ``vary`` may name :data:`HRF_PARAMS`.
    N, dt, eps, position
        Neural simulation settings (argument, data attribute, else :func:`~astrofield.solve`'s
        default).
    seconds_per_unit, region, preset, gain, demand_every, max_step
        Haemodynamic settings (see the module docstring).
    **solve_options
        Further arguments of :func:`~astrofield.solve` (``stimulus``, ``init``, ...).
    """
    import inspect

    from astrofield.simulator.integrator import solve

    if "bold" not in ds.variables or ds["bold"].dims != ("time",):
        raise ValueError(
            "observable 'bold' needs a 'bold' variable on 'time' (seconds); found: "
            f"{', '.join(sorted(map(str, ds.variables))) or 'nothing'}"
        )
    t = np.asarray(ds["time"].values, dtype=float)
    y = np.asarray(ds["bold"].values, dtype=float)
    if t.size < 3 or not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise ValueError("data 'bold'/'time' must be finite with at least 3 samples")
    if t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError("data 'time' (seconds) must be >= 0 and increasing")
    given = dict(
        seconds_per_unit=seconds_per_unit,
        region=region,
        preset=preset,
        gain=gain,
        demand_every=demand_every,
        max_step=max_step,
    )
    bs = _bold_settings(ds, given)
    defaults = {k: p.default for k, p in inspect.signature(solve).parameters.items()}
    settings, sources = {}, {}
    for name, val in (("N", N), ("dt", dt), ("eps", eps), ("position", position)):
        settings[name], sources[name] = _setting(name, val, dict(ds.attrs), defaults[name])
    step = float(settings["dt"]) * bs["demand_every"]
    settings["T"] = step * math.ceil(t[-1] / bs["seconds_per_unit"] / step - 1e-9)
    obs = Observation("bold", t, y, settings, sources)
    prob = BoldProblem(obs, model, dict(vary), dict(solve_options), bold_settings=bs)
    prob.prepare()
    prob.meta = ("BOLD signal change", "1 (fraction of baseline)", ("time",))
    prob.coords = {"time": ("time", t, {"long_name": "time", "units": "s"})}
    return prob
