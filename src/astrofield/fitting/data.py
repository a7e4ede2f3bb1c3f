"""Observed data for :func:`~astrofield.fitting.fit`: the observable, its times and the settings
of the simulation that must reproduce them.

The data is any xarray object (or NetCDF file) holding the observable on a ``time`` coordinate;
an ``astrofield run -o`` output works as is. The fit simulates exactly the frames of the data:
``T`` is the last time, the number of frames is the length of ``time`` (which must be the evenly
spaced frames :func:`~astrofield.solve` stores), and ``N``, ``dt``, ``eps`` and ``position`` are
taken from the arguments when given, else from the data's attributes (an ``astrofield run``
output records them), else the defaults of :func:`~astrofield.solve`.
"""

from __future__ import annotations

import inspect
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Observation", "read_observation", "OBSERVABLES", "SETTINGS"]

#: Observables that can be fitted: name -> (long name, units, dimensions).
OBSERVABLES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "position": ("bump position", "rad", ("time",)),
    "u": ("synaptic input u(x, t) (the activity field)", "1", ("time", "x")),
}
#: Simulation settings read from the data's attributes when not given (same names as solve's).
SETTINGS = ("N", "dt", "eps", "position")


@dataclass(frozen=True)
class Observation:
    """An observed trace and the simulation settings that reproduce its frames.

    Attributes
    ----------
    observable
        Name of the observable (a key of :data:`OBSERVABLES`).
    time
        Frame times, in neural time constants, shape ``(n,)``.
    values
        Observed values at those times: ``position`` (rad) of shape ``(n,)``, or the field
        ``u`` (dimensionless) of shape ``(n, N)``.
    x
        Ring positions of a field observable (rad, the grid of ``N`` points from ``-pi``), else
        ``None``.
    settings
        Keyword arguments of :func:`~astrofield.solve` that reproduce the frames: ``T``,
        ``n_frames``, ``N``, ``dt``, ``eps``, ``position``.
    sources
        Where each of ``N``, ``dt``, ``eps``, ``position`` came from: ``"argument"``,
        ``"data attrs"`` or ``"default"``.
    """

    observable: str
    time: np.ndarray
    values: np.ndarray
    settings: dict[str, Any]
    sources: dict[str, str]
    x: np.ndarray | None = None


def _open(data: Any):
    """The data as an xarray Dataset (a path is read into memory and closed)."""
    import xarray as xr

    if isinstance(data, (str, os.PathLike)):
        if not os.path.exists(data):
            raise ValueError(f"data file {os.fspath(data)!r} does not exist")
        try:
            with xr.open_dataset(data) as ds:
                return ds.load()
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read data file {os.fspath(data)!r} as NetCDF: {exc}"
                             ) from None
    if isinstance(data, xr.DataArray):
        return data.to_dataset(name=data.name or "position")
    if isinstance(data, xr.Dataset):
        return data
    raise ValueError(f"data must be an xarray Dataset, a DataArray or a NetCDF path, "
                     f"got {type(data).__name__}")


def _trace(ds, observable: str) -> tuple[np.ndarray, np.ndarray]:
    """``(time, values)`` of the observable, checked: on its dimensions, finite, >= 3 frames."""
    if observable not in OBSERVABLES:
        raise ValueError(f"observable = {observable!r} is not one of {sorted(OBSERVABLES)}")
    dims = OBSERVABLES[observable][2]
    missing = [n for n in (observable, *dims) if n not in ds.variables]
    if missing:
        raise ValueError(f"the data has no {' and no '.join(map(repr, missing))} variable "
                         f"(needed: {observable!r} on {' and '.join(map(repr, dims))} "
                         f"coordinates; found: "
                         f"{', '.join(sorted(map(str, ds.variables))) or 'nothing'})")
    da = ds[observable]
    if da.dims != dims:
        raise ValueError(f"data variable {observable!r} must have the dimensions {dims}, "
                         f"got {da.dims} (select one trial first, e.g. ds.isel(batch=0))")
    t = np.asarray(da["time"].values, dtype=float)
    y = np.asarray(da.values, dtype=float)
    if t.size < 3 or not np.all(np.isfinite(t)) or not np.all(np.isfinite(y)):
        raise ValueError(f"data {observable!r}/'time' must be finite with at least 3 frames")
    if abs(t[0]) > 1e-9 * max(abs(t[-1]), 1.0) or np.any(np.diff(t) <= 0):
        raise ValueError("data 'time' must start at 0 and increase (the frames of one run)")
    return t, y


def _setting(name: str, given: Any, attrs: dict, default: Any) -> tuple[Any, str]:
    if given is not None:
        return given, "argument"
    if name in attrs and not isinstance(attrs[name], str):
        val = attrs[name]
        return (int(val) if name == "N" else float(val)), "data attrs"
    return default, "default"


def read_observation(data: Any, observable: str = "position", *, N: int | None = None,
                     dt: float | None = None, eps: float | None = None,
                     position: float | None = None) -> Observation:
    """Read the observed trace and the simulation settings of a fit.

    Parameters
    ----------
    data
        xarray Dataset or DataArray, or the path of a NetCDF file, with the observable on a
        ``time`` coordinate (times in neural time constants, from 0, the evenly spaced frames
        of one run).
    observable
        ``"position"``: the bump position trace (rad) on ``time``; ``"u"``: the activity field
        (synaptic input, dimensionless) on ``(time, x)``, ``x`` the ring grid of ``N`` points.
    N, dt, eps, position
        Grid points, time step (neural time constants), initial shift (fraction of the bump
        amplitude) and initial bump centre (rad) of the simulation; ``None`` reads each from the
        data's attributes, else takes :func:`~astrofield.solve`'s default.

    Returns
    -------
    Observation
        The trace and the settings (``T`` and ``n_frames`` from the ``time`` coordinate).

    Raises
    ------
    ValueError
        Naming what is missing or wrong: no observable or no ``time`` variable, a multi-trial
        array, times that are not the frames of a run with this ``dt``.
    """
    from astrofield.simulator.integrator import solve

    ds = _open(data)
    t, y = _trace(ds, observable)
    defaults = {k: p.default for k, p in inspect.signature(solve).parameters.items()}
    given = {"N": N, "dt": dt, "eps": eps, "position": position}
    settings: dict[str, Any] = {"T": float(t[-1]), "n_frames": int(t.size)}
    sources: dict[str, str] = {}
    for name in SETTINGS:
        settings[name], sources[name] = _setting(name, given[name], dict(ds.attrs), defaults[name])
    _check_frames(t, float(settings["dt"]))
    x = None
    if "x" in OBSERVABLES[observable][2]:
        x = np.asarray(ds["x"].values, dtype=float)
        N_ = int(settings["N"])
        grid = -np.pi + 2 * np.pi / N_ * np.arange(N_)
        if x.shape != grid.shape or np.max(np.abs(x - grid)) > 1e-9:
            raise ValueError(f"the data's 'x' ({x.size} points) is not the ring grid of "
                             f"N = {N_} points from -pi; give the N the data were made with")
    return Observation(observable, t, y, settings, sources, x)


def _check_frames(t: np.ndarray, dt: float) -> None:
    """The times must be the frames solve stores for ``T = t[-1]`` and ``n_frames = len(t)``."""
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt = {dt!r} must be a positive number")
    n_steps = int(round(t[-1] / dt))
    if n_steps < 1 or abs(n_steps * dt - t[-1]) > 1e-6 * dt:
        raise ValueError(f"the data's last time {t[-1]:g} is not a whole number of steps "
                         f"dt = {dt:g}")
    steps = np.unique(np.round(np.linspace(0, n_steps, min(t.size, n_steps + 1))).astype(int))
    if steps.size != t.size or np.max(np.abs(steps * dt - t)) > 1e-6 * dt:
        raise ValueError(f"the data's times are not the {t.size} evenly spaced frames of a run "
                         f"with T = {t[-1]:g} and dt = {dt:g}; give the dt the data were made "
                         "with (--dt) or resample the data onto those frames")
