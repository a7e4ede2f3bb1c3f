"""Figures of the applications: working memory, BOLD, wandering, collapse and the 2-D torus.

Each function draws into a Figure the caller passes (``fig=``) or into a new unmanaged
:class:`matplotlib.figure.Figure` (constrained layout, not registered with pyplot), and returns
it; none selects a matplotlib backend or writes a file (save with
:func:`astrofield.plotting.save_figure`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from astrofield.plotting import FIELD_LABELS

__all__ = ["plot_memory", "plot_memory_bold", "plot_wandering", "plot_collapse",
           "plot_field2d"]

def _figure(fig: Figure | None, figsize: tuple[float, float]) -> Figure:
    """``fig`` if given, else a new constrained-layout Figure of ``figsize`` inches."""
    return fig if fig is not None else Figure(figsize=figsize, layout="constrained")


def plot_memory(ds: xr.Dataset, param: int = 0, *, fig: Figure | None = None,
                axes: Any = None) -> Figure:
    """Figure of a working-memory run: delay traces, read-out errors, cost and demand.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`astrofield.applications.memory.working_memory`.
    param : int
        Index of the parameter set to show.
    fig : matplotlib.figure.Figure, optional
        Figure to draw into (three panels are added); default a new 14 x 4 inch figure.
    axes : sequence of three matplotlib Axes, optional
        Axes to draw on instead (e.g. one row of a grid showing every parameter set);
        overrides ``fig``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the backend is left as the user set it).
    """
    d = ds.isel(param=param)
    own = axes is None
    if own:
        fig = _figure(fig, (14, 4))
        axes = fig.subplots(1, 3)
    else:
        fig = axes[0].figure
    t = d["time"].values
    for ci, cue in enumerate(d["cue"].values):
        for k in range(d.sizes["trial"]):
            pos = d["position"].values[ci, k]
            rel = pos - pos[-1] + float(d["decoded"].values[ci, k])
            axes[0].plot(t, np.angle(np.exp(1j * rel)), lw=0.8, color=f"C{ci % 10}")
        axes[0].axhline(cue, color=f"C{ci % 10}", ls=":", lw=0.8)
    axes[0].axvspan(0, ds.attrs["cue_duration"], color="0.85")
    axes[0].set(xlabel="t", ylabel="bump position (rad)", title="cue (grey), delay, read-out")
    err = d["error"].values.ravel()
    err = err[np.isfinite(err)]
    if err.size:
        axes[1].hist(err, bins=max(5, min(30, err.size // 3)), color="C0")
    axes[1].set(xlabel="read-out error (rad)", ylabel="trials",
                title=f"persist {float(d['p_persist']):.2f}, rms err "
                      f"{float(d['rms_error']):.3g}")
    td = d["time_demand"].values
    dem = d["demand"].values.reshape(-1, td.size)
    axes[2].plot(td, dem.mean(axis=0), color="k")
    axes[2].set(xlabel="t", ylabel="demand ∫ beta q f dx",
                title=f"mean cost {float(d['mean_cost']):.3g}")
    label = (f"theta={float(d['theta']):g}, beta={float(d['beta']):g}, "
             f"gamma={float(d['gamma']):g}, D={float(d['D']):g}")
    if own:
        fig.suptitle(f"working memory: {label}")
    else:
        axes[0].set_title(f"{label}\n{axes[0].get_title()}", fontsize=9)
    return fig


def plot_memory_bold(wm: xr.Dataset, bold: xr.Dataset, *,
                     fig: Figure | None = None) -> Figure:
    """Demand of the trial (model time) and the predicted BOLD signal (seconds).

    Parameters
    ----------
    wm, bold : xarray.Dataset
        The two outputs of :func:`astrofield.applications.memory.memory_bold`.
    fig : matplotlib.figure.Figure, optional
        Figure to draw into (two panels are added); default a new 8 x 6 inch figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    fig = _figure(fig, (8, 6))
    axes = fig.subplots(2, 1)
    spu = float(bold.attrs["seconds_per_unit"])
    d = wm["demand"].isel(param=0, cue=0, trial=0)
    axes[0].plot(d["time_demand"].values * spu, d.values, color="k")
    axes[0].axvspan(0, wm.attrs["cue_duration"] * spu, color="0.85")
    axes[0].set(ylabel="demand ∫ beta q f dx", title="metabolic demand of the cued region")
    axes[1].plot(bold["time"].values, bold["bold"].values, color="C3", label="BOLD")
    axes[1].step(bold["tr_time"].values, bold["bold_tr"].values, where="mid", color="C0",
                 label=f"TR = {bold.attrs['tr']:g} s")
    axes[1].set(xlabel="time (s)", ylabel="BOLD (fractional)", title="Balloon-Windkessel")
    axes[1].legend()
    return fig


def plot_wandering(ds: xr.Dataset, labels: list[str] | None = None, *,
                   fig: Figure | None = None) -> Figure:
    """MSD against time (with chi-square bands) and ``D_eff`` with bootstrap intervals.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`astrofield.applications.wandering.measure_wandering`.
    labels : list of str, optional
        One legend label per parameter set; default the values of D, gamma and beta.
    fig : matplotlib.figure.Figure, optional
        Figure to draw into (two panels are added); default a new 11 x 4 inch figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    fig = _figure(fig, (11, 4))
    axes = fig.subplots(1, 2)
    t = ds["time"].values
    P = ds.sizes["param"]
    labels = labels or [f"D={float(ds['D'][i]):g}, gamma={float(ds['gamma'][i]):g}, "
                        f"beta={float(ds['beta'][i]):g}" for i in range(P)]
    for i in range(P):
        c = f"C{i % 10}"
        axes[0].plot(t, ds["msd"].values[i], color=c, label=labels[i])
        axes[0].fill_between(t, ds["msd_lo"].values[i], ds["msd_hi"].values[i], color=c,
                             alpha=0.2)
        if "D_theory" in ds and np.isfinite(ds["D_theory"].values[i]):
            axes[0].plot(t, 2 * ds["D_theory"].values[i] * t, color=c, ls="--", lw=1,
                         label="theory sigma^2 t / R^2")
    axes[0].set(xlabel="t", ylabel="MSD of bump position (rad^2)",
                title=f"sigma={ds.attrs['sigma']:g}, {ds.attrs['n_trials']} trials")
    axes[0].legend(fontsize=7)
    x = np.arange(P)
    D = ds["D_eff"].values
    yerr = np.vstack([D - ds["D_lo"].values, ds["D_hi"].values - D])
    axes[1].errorbar(x, D, yerr=yerr, fmt="o", capsize=3)
    axes[1].set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
    axes[1].set(ylabel="D_eff (rad^2 / time)", title="effective diffusion (95% bootstrap CI)")
    return fig


def plot_collapse(ds: xr.Dataset, trial: int = 0, *, fig: Figure | None = None) -> Figure:
    """Amplitude, resource, rolling variance and AC1 against time, with the collapse marked.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`astrofield.applications.collapse.ramp_collapse`.
    trial : int
        Index of the trial to show.
    fig : matplotlib.figure.Figure, optional
        Figure to draw into (four stacked panels are added); default a new 8 x 10 inch figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    d = ds.isel(trial=trial)
    t = d["time"].values
    fig = _figure(fig, (8, 10))
    axes = fig.subplots(4, 1, sharex=True)
    axes[0].plot(t, d["amplitude"], color="k", lw=0.8)
    axes[0].set(ylabel="bump amplitude")
    ax2 = axes[0].twinx()
    ax2.plot(t, d["beta"], color="C3", lw=1)
    ax2.set_ylabel("beta(t)", color="C3")
    axes[1].plot(t, d["q_min"], label="min q")
    axes[1].plot(t, d["q_mean"], label="mean q")
    axes[1].legend()
    axes[1].set(ylabel="synaptic resource")
    axes[2].plot(t, d["variance"], color="C0")
    axes[2].set(ylabel="rolling variance", title=f"Kendall tau = {float(d['variance_tau']):.2f}")
    axes[3].plot(t, d["ac1"], color="C1")
    axes[3].set(ylabel="rolling AC1", xlabel="t", title=f"Kendall tau = {float(d['ac1_tau']):.2f}")
    for ax in axes:
        if np.isfinite(float(d["t_collapse"])):
            ax.axvline(float(d["t_collapse"]), color="r", ls="--", lw=1)
        ax.axvline(float(ds["t_fold"]), color="0.5", ls=":", lw=1)
        if np.isfinite(float(d["t_alarm"])):
            ax.axvline(float(d["t_alarm"]), color="g", ls="-.", lw=1)
    fig.suptitle(f"ramped depletion: collapse at t = {float(d['t_collapse']):.1f} "
                 f"(fold {float(ds['t_fold']):.1f}), lead time {float(d['lead_time']):.1f}")
    return fig


def plot_field2d(ds: xr.Dataset, member: int = 0, *, fig: Figure | None = None) -> Figure:
    """Snapshots of ``u`` and ``q`` at the first, middle and last stored frame, and traces.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`astrofield.simulator.torus.solve2d` (with fields stored).
    member : int
        Batch member to show (ignored for unbatched runs).
    fig : matplotlib.figure.Figure, optional
        Figure to draw into (2 x 4 panels are added); default a new 15 x 7 inch figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if "batch" in ds.dims:
        ds = ds.isel(batch=member)
    idx = [0, ds.sizes["time"] // 2, ds.sizes["time"] - 1]
    fig = _figure(fig, (15, 7))
    axes = fig.subplots(2, 4)
    ext = [float(ds.x[0]), float(ds.x[-1]), float(ds.y[0]), float(ds.y[-1])]
    for j, i in enumerate(idx):
        for r, name, cmap in ((0, "u", "viridis"), (1, "q", "magma")):
            if name in ds:
                im = axes[r, j].imshow(ds[name].values[i], origin="lower", extent=ext, cmap=cmap)
                fig.colorbar(im, ax=axes[r, j], shrink=0.8, label=FIELD_LABELS[name])
            axes[r, j].set(title=f"{name}, t = {float(ds.time[i]):g}", xlabel="x",
                           ylabel="y")
    t = ds["time"].values
    axes[0, 3].plot(t, ds["u_max"], label="max u")
    axes[0, 3].plot(t, ds["area"], label="active area")
    axes[0, 3].legend()
    axes[0, 3].set(xlabel="t")
    m = ds["mass"].values
    axes[1, 3].plot(t, (m - m[0]) / m[0])
    axes[1, 3].set(xlabel="t", ylabel="relative change of ∬(q + a)", title="conservation")
    return fig

