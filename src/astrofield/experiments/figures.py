"""Data of the paper's figures from astrofield computations: Figures 2, 5, 6 and 7.

This module computes; it draws nothing and writes no files. :func:`figure_data` returns the data
behind figure ``N`` as an :class:`xarray.Dataset`; :mod:`astrofield.plotting.paper` draws it and
:func:`astrofield.plotting.paper.make_figure` (also ``astrofield.make_figure`` and
``astrofield figure N``) writes ``figureN.png``, ``figureN.pdf`` and ``figureN.nc`` atomically.

* **Figure 2** - existence and stability of bumps
  (:func:`astrofield.theory.stability.figure2_data`).
* **Figure 5** - numerical drift and |velocity| at ``T`` over ``(D, beta)`` at ``gamma = 2``,
  ``theta = 0.1`` (``D`` in [0.001, 0.6], ``beta`` in [0.001, 0.1]) from the drift experiment
  (:func:`astrofield.phase_diagram`), with the Evans boundary ``beta*(D)`` (``E'(0) = 0``) and
  the Fourier-truncation boundary.
* **Figure 6** - the same over ``(gamma, beta)`` at ``D = 1`` (``gamma`` in [1, 1.6]), and a
  large-diffusion panel: |velocity| at ``D = inf`` over ``gamma`` in [1, 1.6] and ``beta`` up to
  past the fold, with every Evans boundary ``beta*(gamma)`` (each change of the number of real
  unstable zeros: near the fold at large ``D`` there are several) for ``D = 1, 2.5, 10, 50, inf``
  and the fold ``beta_max(gamma)`` (no bump above it).
* **Figure 7** - snapshots of ``q`` and ``a`` at ``t = 0.7, 30, 100`` of the run with
  ``eps = 0.3, theta = 0.1, beta = 0.05, gamma = 2, D = 0.7, T = 200``.

``resolution`` (grid points per axis, default 50 as in the paper's analytic maps) and ``T`` can be
reduced for quick checks.

Reference: Palmer, Cihak, Avitabile, Kilpatrick, "Astrocytic resource diffusion stabilizes
persistent activity in neural fields", arXiv:2604.10036 (2026).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from astrofield._compat import moved_attributes
from astrofield._validate import check_int, check_range
from astrofield.experiments.phase import DEFAULTS, check_refine_levels, phase_diagram
from astrofield.io.cf import COMMON, annotate, time_attrs
from astrofield.model.definition import Model
from astrofield.simulator.integrator import solve
from astrofield.theory.bump import fold
from astrofield.theory.stability import boundary_curve as stability_boundary_curve
from astrofield.theory.stability import figure2_data

__all__ = ["figure_data", "figure_step", "FIGURE_BETA_MAX", "figure5_data", "figure6_data",
           "figure7_data", "FIGURES", "LARGE_D", "FIG7_TIMES"]

FIGURES = (2, 5, 6, 7)
#: Diffusion values of the large-D boundary panel of Figure 6.
LARGE_D = (1.0, 2.5, 10.0, 50.0, np.inf)
FIG7_TIMES = (0.7, 30.0, 100.0)
#: Points of the scan that brackets the figures' boundaries.
_N_SCAN = 120
#: Default ``refine_levels`` of Figure 6's maps (the error control's refinement ladder,
#: :func:`astrofield.experiments.phase.control_errors`): near the fold at ``D = inf`` some cells
#: slip a second time, released by rounding, at N 64 - 128 and dt 0.05 - 0.025; their drift at
#: T settles from about (N 256, dt 0.0125) on (docs/verdicts.md, section 6.1). At ``D = 1`` the
#: ladder also refines the slowly relaxing cells next to the boundary (one level suffices).
FIG6_REFINE_LEVELS = 4


def boundary_curves(vary: str, along: np.ndarray, *, theta: float = 0.1,
                    D: float | None = None, gamma: float | None = None, method: str = "evans",
                    beta_hi: float | None = None) -> np.ndarray:
    """Deprecated: every ``beta*`` for each value of ``along`` (``vary`` names the curve's axis,
    the opposite of :func:`astrofield.theory.stability.boundary`); use
    :func:`astrofield.theory.stability.boundary_curve` (``"<vary>_crossings"``)."""
    warnings.warn("astrofield.experiments.figures.boundary_curves is deprecated; use "
                  "astrofield.theory.stability.boundary_curve('beta', ...)['beta_crossings']",
                  DeprecationWarning, stacklevel=2)
    return _beta_curve(vary, along, theta, D, gamma, method, beta_hi)["beta_crossings"].values


def boundary_curve(vary: str, along: np.ndarray, **kw) -> np.ndarray:
    """Deprecated: the lowest ``beta*`` for each value of ``along`` (``vary`` names the curve's
    axis, the opposite of :func:`astrofield.theory.stability.boundary`); use
    :func:`astrofield.theory.stability.boundary_curve` (``"beta_star"``)."""
    warnings.warn("astrofield.experiments.figures.boundary_curve is deprecated; use "
                  "astrofield.theory.stability.boundary_curve('beta', ...)['beta_star'] (its "
                  "vary is the rate solved for)", DeprecationWarning, stacklevel=2)
    kw = {"theta": 0.1, "D": None, "gamma": None, "method": "evans", "beta_hi": None, **kw}
    return _beta_curve(vary, along, kw["theta"], kw["D"], kw["gamma"], kw["method"],
                       kw["beta_hi"])["beta_star"].values


def _beta_curve(axis: str, along, theta, D, gamma, method, beta_hi) -> xr.Dataset:
    """``beta*`` along ``axis`` (``"D"`` at fixed ``gamma`` or ``"gamma"`` at fixed ``D``) with
    the figures' scan (120 points, up to ``beta_hi`` or the fold)."""
    along = np.ravel(np.asarray(along, dtype=float))
    kw = {"D": along, "gamma": gamma} if axis == "D" else {"gamma": along, "D": D}
    return stability_boundary_curve("beta", theta=theta, method=method, hi=beta_hi,
                                    n_scan=_N_SCAN, **kw)


#: The largest depletion rate ``beta`` (per unit time, ``tau = 1``) of each figure's grids
#: (Figure 6's ``D = inf`` map reaches 4; only points with a bump, ``beta`` below the fold, are
#: simulated: see :func:`figure_step`).
FIGURE_BETA_MAX = {5: 0.1, 6: 4.0, 7: 0.05}


def _simulated_beta_max(number: int) -> float:
    """The largest ``beta`` that figure ``number`` simulates (a bump exists up to the fold;
    Figure 6's largest fold is at ``gamma = 1.6``)."""
    beta = FIGURE_BETA_MAX[number]
    return min(beta, float(fold(0.1, 1.6)[0])) if number == 6 else beta


def figure_step(number: int, dt: float | str | None = None, T: float | None = None,
                dt_check: str = "error") -> float:
    """The time step of figure ``number``'s simulations, checked before any work.

    Parameters
    ----------
    number
        5, 6 or 7.
    dt
        A step, ``None`` (the figure's default) or ``"auto"``: the largest step of the
        step-size rule (:func:`astrofield.simulator.step_control.max_step`) at the figure's
        largest ``beta`` that divides 0.5 (so that the maps' frames, ``T`` and the error
        control's coarse runs at ``2 dt`` are whole numbers of steps).
    T
        Final time (for the error message only).
    dt_check
        A ``dt`` above the rule: ``"error"`` (refused here), ``"warn"`` or ``"off"`` (returned;
        the simulations warn, as :func:`astrofield.solve`).

    Returns
    -------
    float
        The step.

    Raises
    ------
    ValueError
        If ``dt`` exceeds the step-size rule for the figure's largest ``beta`` (the maps would
        otherwise fail after computing the first ones).
    """
    from astrofield.simulator.step_control import max_step

    beta = _simulated_beta_max(number)
    dt_max = max_step(Model(beta=beta))
    if dt is None:
        dt = 0.02 if number == 7 else DEFAULTS["dt"]
        if dt <= dt_max * (1 + 1e-9):
            return float(dt)
        dt = "auto"
    if isinstance(dt, str):
        if dt != "auto":
            raise ValueError(f"dt = {dt!r} is not a positive number or 'auto'")
        return 0.5 / np.ceil(0.5 / dt_max * (1 - 1e-12))
    dt = float(check_range("dt", dt, 0.0, np.inf, lo_open=True))
    if dt_check not in ("error", "warn", "off"):
        raise ValueError(f"dt_check = {dt_check!r} is not one of ('error', 'warn', 'off')")
    if dt > dt_max * (1 + 1e-9) and dt_check == "error":
        raise ValueError(
            f"dt = {dt:g} is outside the allowed range (0, {dt_max:g}] of the step-size rule "
            f"for Figure {number} (its simulations reach beta = {beta:.4g}); "
            "use dt='auto', a smaller dt, or dt_check='warn' to run anyway, flagged")
    return dt


def _settings(T, N, dt, default_T):
    T = default_T if T is None else float(T)
    N = DEFAULTS["N"] if N is None else N
    dt = DEFAULTS["dt"] if dt is None else dt
    return T, N, dt



def _map_kw(resolution, T, N, dt, early_stop, executor, workers, progress, dt_check="error",
            refine_levels=1):
    n = check_int("resolution", resolution, 2)
    T, N, dt = _settings(T, N, dt, 500.0)
    return n, dict(theta=0.1, T=T, N=N, dt=dt, dt_check=dt_check, early_stop=early_stop,
                   sampling="full",  # the paper's figures simulate every cell
                   refine_levels=check_refine_levels(refine_levels),
                   executor=executor,
                   workers=workers, chunk_size=min(DEFAULTS["chunk_size"], max(1, n * n // 2)),
                   progress=progress)


# ------------------------------------------------------------------------------ figure data
def figure5_data(*, resolution: int = 50, T: float | None = None, N: int | None = None,
                 dt: float | str | None = None, early_stop: bool = False,
                 executor: Any = "threads", workers: int | None = None,
                 progress: bool | None = None, dt_check: str = "error",
                 refine_levels: int = 1) -> xr.Dataset:
    """Data of Figure 5: drift and |velocity| over ``(D, beta)`` at ``gamma = 2``,
    ``theta = 0.1``, with the Evans and Fourier boundaries ``beta*(D)``.

    Parameters
    ----------
    resolution
        Grid points per axis of the map (``D`` in [0.001, 0.6] rad^2 per unit time, ``beta`` in
        [0.001, 0.1] per unit time).
    T, N, dt
        Final time (default 500), grid points and time step of each simulation (``None``: the
        figure's default, ``"auto"``: :func:`figure_step`).
    early_stop, executor, workers, progress, dt_check, refine_levels
        As in :func:`astrofield.phase_diagram`.

    Returns
    -------
    xarray.Dataset
        The phase diagram (``drift`` in rad, ``velocity`` in rad per unit time,
        ``verdict_code``) over ``(D, beta)`` and ``beta_star_evans``, ``beta_star_fourier``
        over ``boundary_D``; attr ``figure_T`` (the final time).
    """
    n, kw = _map_kw(resolution, T, N, figure_step(5, dt, T, dt_check), early_stop, executor,
                    workers, progress, dt_check, refine_levels)
    ds = phase_diagram([f"D=0.001:0.6:{n}", f"beta=0.001:0.1:{n}"], gamma=2.0, **kw)
    Db = np.linspace(0.001, 0.6, max(2 * n, 12))
    ev, fo = (_beta_curve("D", Db, 0.1, None, 2.0, m, 0.3)["beta_star"].values
              for m in ("evans", "fourier"))
    data = ds.assign({"boundary_D": ("boundary_D", Db),
                      "beta_star_evans": ("boundary_D", ev),
                      "beta_star_fourier": ("boundary_D", fo)})
    data.attrs["figure"] = "5: drift experiment over (D, beta), gamma 2, theta 0.1"
    data.attrs["figure_T"] = kw["T"]
    return _label(data)


def figure6_data(*, resolution: int = 50, T: float | None = None, N: int | None = None,
                 dt: float | str | None = None, early_stop: bool = False,
                 executor: Any = "threads", workers: int | None = None,
                 progress: bool | None = None, dt_check: str = "error",
                 refine_levels: int | None = None) -> xr.Dataset:
    """Data of Figure 6: ``(gamma, beta)`` maps at ``D = 1`` and at ``D = inf`` with the
    boundaries ``beta*(gamma)``.

    Parameters
    ----------
    resolution, T, N, dt, early_stop, executor, workers, progress, dt_check
        As in :func:`figure5_data` (``gamma`` in [1, 1.6] per unit time; ``beta`` in
        [0.001, 0.1] at ``D = 1`` and in [0.01, 4] at ``D = inf``).
    refine_levels
        Refinement ladder of both maps' error control (see :func:`astrofield.phase_diagram`;
        ``None``: :data:`FIG6_REFINE_LEVELS`).

    Returns
    -------
    xarray.Dataset
        ``D1_*`` over ``(gamma_D1, beta_D1)`` and ``Dinf_*`` over ``(gamma_Dinf, beta_Dinf)``
        (the phase-diagram variables), over ``boundary_gamma``: ``beta_star_evans_D1``,
        ``beta_star_fourier_D1``, ``beta_max`` (the fold, per unit time) and
        ``beta_star_evans_largeD`` (every Evans crossing for each ``large_D`` of
        :data:`LARGE_D`); attr ``figure_T``.
    """
    n, kw = _map_kw(resolution, T, N, figure_step(6, dt, T, dt_check), early_stop, executor,
                    workers, progress, dt_check,  # the step checked before the first map
                    FIG6_REFINE_LEVELS if refine_levels is None else refine_levels)
    ds1 = phase_diagram([f"gamma=1:1.6:{n}", f"beta=0.001:0.1:{n}"], D=1.0, **kw)
    dsi = phase_diagram([f"gamma=1:1.6:{n}", f"beta=0.01:4.0:{n}"], D=np.inf, **kw)
    gb = np.linspace(1.0, 1.6, max(2 * n, 12))
    ev, fo = (_beta_curve("gamma", gb, 0.1, 1.0, None, m, 0.3)["beta_star"].values
              for m in ("evans", "fourier"))
    # every crossing for all large-D values in one call: dims (gamma, D, crossing)
    large = stability_boundary_curve("beta", theta=0.1, gamma=gb, D=np.array(LARGE_D),
                                     n_scan=_N_SCAN)["beta_crossings"].values
    data = xr.Dataset(
        {**{f"D1_{k}": v.rename({"gamma": "gamma_D1", "beta": "beta_D1"})
            for k, v in ds1.data_vars.items()},
         **{f"Dinf_{k}": v.rename({"gamma": "gamma_Dinf", "beta": "beta_Dinf"})
            for k, v in dsi.data_vars.items()},
         "beta_star_evans_D1": ("boundary_gamma", ev),
         "beta_star_fourier_D1": ("boundary_gamma", fo),
         "beta_max": ("boundary_gamma", np.asarray(fold(0.1, gb)[0])),
         "beta_star_evans_largeD": (("large_D", "boundary_gamma", "crossing"),
                                    large.transpose(1, 0, 2))},
        coords={"boundary_gamma": gb, "large_D": np.array(LARGE_D)})
    data.attrs.update({k: v for k, v in ds1.attrs.items() if not k.startswith("summary_")})
    data.attrs.pop("refine_levels", None)  # the two maps' own, below
    data.attrs["refine_levels_D1"] = ds1.attrs["refine_levels"]
    data.attrs["refine_levels_Dinf"] = dsi.attrs["refine_levels"]
    data.attrs["figure"] = ("6: drift experiment over (gamma, beta) at D 1; large-D panel at "
                            "D inf with Evans boundaries for D = 1, 2.5, 10, 50, inf")
    data.attrs["figure_T"] = kw["T"]
    return _label(data)


def figure7_data(*, T: float | None = None, N: int | None = None, dt: float | str | None = None,
                 progress: bool | None = None, dt_check: str = "error") -> xr.Dataset:
    """Data of Figure 7: ``q`` and ``a`` at ``t = 0.7, 30, 100`` (those ``<= T``) of the run
    with ``eps = 0.3, theta = 0.1, beta = 0.05, gamma = 2, D = 0.7``.

    Parameters
    ----------
    T
        Final time (default 200, at least 0.7).
    N, dt
        Grid points (default 256) and time step (default 0.02; ``"auto"``: see
        :func:`figure_step`).
    progress
        Show a progress bar.
    dt_check
        A step above the step-size rule: ``"error"``, ``"warn"`` or ``"off"`` (as
        :func:`astrofield.solve`).

    Returns
    -------
    xarray.Dataset
        ``q``, ``a``, ``u`` (dimensionless) over ``(snapshot_time, x)``; ``position`` (rad)
        over ``time_trace``; ``drift`` (rad); the run's attrs.
    """
    T = 200.0 if T is None else float(check_range("T", T, 0.7, np.inf))
    N = 256 if N is None else N
    dt = figure_step(7, dt, T, dt_check)
    every = max(1, int(round(0.1 / dt)))
    model = Model(theta=0.1, beta=0.05, gamma=2.0, D=0.7)
    run = solve(model, T=T, dt=dt, N=N, eps=0.3, sample_every=every, progress=progress,
                dt_check=dt_check)
    times = [t for t in FIG7_TIMES if t <= T + 1e-9]
    snap = run[["q", "a", "u"]].sel(time=times, method="nearest")
    data = snap.assign({"position": run["position"], "drift": run["drift"]})
    data = data.rename({"time": "snapshot_time"}).assign_coords(time_trace=run["time"].values)
    data["position"] = ("time_trace", run["position"].values, run["position"].attrs)
    data.attrs.update(run.attrs)
    data.attrs["figure"] = "7: snapshots of q and a, eps 0.3, theta 0.1, beta 0.05, gamma 2, D 0.7"
    return _label(data)


def _boundary_attrs(method: str, where: str = "") -> dict[str, str]:
    return {"units": "1", "long_name": f"boundary beta* ({method}{where})",
            "description": f"stability boundary beta* from the {method} analysis, "
                           "per neural time constant (NaN: no crossing)"}


#: Metadata of the figure datasets' own variables (CF: units and a short long_name).
_FIGURE_ATTRS: dict[str, dict[str, str]] = {
    "boundary_D": dict(COMMON["D"], long_name="D of the boundary curves"),
    "boundary_gamma": dict(COMMON["gamma"], long_name="gamma of the boundary curves"),
    "beta_star_evans": _boundary_attrs("Evans"),
    "beta_star_fourier": _boundary_attrs("Fourier"),
    "beta_star_evans_D1": _boundary_attrs("Evans", ", D 1"),
    "beta_star_fourier_D1": _boundary_attrs("Fourier", ", D 1"),
    "beta_star_evans_largeD": _boundary_attrs("Evans", ", large D"),
    "beta_max": {"units": "1", "long_name": "fold beta_max",
                 "description": "largest beta with a bump (the fold), per neural time constant"},
    "large_D": dict(COMMON["D"], long_name="D of the large-D boundaries"),
    "crossing": {"units": "1", "long_name": "crossing index"},
    "snapshot_time": time_attrs("snapshot time"),
    "time_trace": time_attrs(),
    **{f"{p}_{m}": dict(COMMON[p], long_name=f"{COMMON[p]['long_name']} (map at D {m[1:]})")
       for p in ("gamma", "beta") for m in ("D1", "Dinf")},
}


def _label(data: xr.Dataset) -> xr.Dataset:
    """Give the figure variables that have none their ``units`` and ``long_name``."""
    for name, var in data.variables.items():
        for k, v in _FIGURE_ATTRS.get(str(name), {}).items():
            var.attrs.setdefault(k, v)
    return annotate(data)  # the shared names (coordinates, parameters) and Conventions


def figure_data(number: int, *, resolution: int = 50, T: float | None = None,
                N: int | None = None, dt: float | None = None, early_stop: bool = False,
                executor: Any = "threads", workers: int | None = None,
                progress: bool | None = None, dt_check: str = "error",
                refine_levels: int | None = None) -> xr.Dataset:
    """The data behind figure ``number`` (2, 5, 6 or 7); see the ``figureN_data`` functions.

    Figures 5 and 6 run the drift experiment on a ``resolution x resolution`` grid (``T``
    default 500) on ``executor``; Figure 7 one run (``T`` default 200, ``N`` 256, ``dt`` 0.02);
    Figure 2 is analytic (the other arguments are ignored).

    Parameters
    ----------
    number
        The paper's figure: 2, 5, 6 or 7.
    resolution
        Grid points per axis of the maps of Figures 5 and 6.
    T, N, dt
        Final time (neural time constants), grid points and time step (``None``: the figure's
        default; ``"auto"``: :func:`figure_step`).
    dt_check
        A ``dt`` above the step-size rule: ``"error"`` (refused before any work), ``"warn"``
        (run, warned and flagged) or ``"off"``.
    early_stop
        Stop decided points early (Figures 5 and 6).
    executor, workers
        Where the map's chunks run and how many at once (see
        :func:`astrofield.experiments.sweep.run_sweep`).
    progress
        Show a progress bar (``None``: only for long runs).
    refine_levels
        Refinement ladder of the maps' error control (Figures 5 and 6; see
        :func:`astrofield.phase_diagram`; ``None``: the figure's default, 1 for Figure 5 and
        :data:`FIG6_REFINE_LEVELS` for Figure 6).
    """
    if number not in FIGURES:
        raise ValueError(f"figure number = {number!r} is not one of {FIGURES}")
    if number == 2:
        return figure2_data()
    if number == 7:
        return figure7_data(T=T, N=N, dt=dt, progress=progress, dt_check=dt_check)
    fn = figure5_data if number == 5 else figure6_data
    levels = {} if refine_levels is None else {"refine_levels": refine_levels}
    return fn(resolution=resolution, T=T, N=N, dt=dt, early_stop=early_stop,
              executor=executor, workers=workers, progress=progress, dt_check=dt_check,
              **levels)


#: The figure writers that moved to :mod:`astrofield.plotting.paper`.
__getattr__ = moved_attributes(
    __name__, ("make_figure", "figure2", "figure5", "figure6", "figure7"),
    "astrofield.plotting.paper", " (this module only computes the data)")
