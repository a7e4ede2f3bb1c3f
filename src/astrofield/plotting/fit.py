"""Figures of a fit (:func:`astrofield.fitting.fit`): the data against the fitted trace."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_fit"]


def plot_fit(result: Any, *, fig: Figure | None = None) -> Figure:
    """Observed against fitted observable, the residuals, and the cost history.

    A position trace is drawn against time with its residuals; a field ``u(x, t)`` as the
    observed and fitted profiles at the last frame and a kymograph of the residuals.

    Parameters
    ----------
    result : FitResult or xarray.Dataset
        A :class:`~astrofield.fitting.result.FitResult` or its
        :meth:`~astrofield.fitting.result.FitResult.to_dataset`.
    fig : matplotlib.figure.Figure, optional
        Figure to draw into (three panels are added); default a new 12 x 4 inch figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; the title lists each parameter as value ± standard error (or "not
        identifiable").
    """
    ds = result.to_dataset() if hasattr(result, "to_dataset") else result
    fig = fig if fig is not None else Figure(figsize=(12, 4), layout="constrained")
    ax = fig.subplots(1, 3, gridspec_kw={"width_ratios": [2, 1.2, 1]})
    if ds["data"].ndim == 2:
        _field_panels(ds, ax)
    else:
        _trace_panels(ds, ax)
    ax[2].semilogy(np.arange(ds.sizes["evaluation"]), ds["cost_history"].values, ".", ms=2)
    ax[2].set(xlabel="model evaluation", ylabel="cost 0.5 sum r^2")
    parts = []
    for i, name in enumerate(ds["param"].values):
        v, se = float(ds["params"][i]), float(ds["stderr"][i])
        parts.append(f"{name} = {v:.4g} ± {se:.2g}" if int(ds["identifiable"][i])
                     else f"{name} = {v:.4g} (not identifiable)")
    fig.suptitle(", ".join(parts))
    return fig


def _trace_panels(ds, ax) -> None:
    t = ds["time"].values
    unit = ds["data"].attrs.get("units", "")
    ax[0].plot(t, ds["data"].values, ".", ms=3, color="0.4", label="data")
    ax[0].plot(t, ds["fitted"].values, "-", color="C3", label="fit")
    ax[0].set(xlabel="time (neural time constants)",
              ylabel=f"{ds.attrs.get('observable', 'observable')} ({unit})")
    ax[0].legend(frameon=False)
    ax[1].axhline(0, color="0.7", lw=0.8)
    ax[1].plot(t, ds["residual"].values, ".", ms=3, color="C0")
    sig = float(ds.attrs.get("sigma", np.nan))
    ax[1].axhspan(-2 * sig, 2 * sig, color="C0", alpha=0.12, label="± 2 sigma")
    ax[1].set(xlabel="time (neural time constants)", ylabel=f"fit - data ({unit})")
    ax[1].legend(frameon=False, loc="upper right")


def _field_panels(ds, ax) -> None:
    x, t = ds["x"].values, ds["time"].values
    ax[0].plot(x, ds["data"].values[-1], ".", ms=3, color="0.4", label="data")
    ax[0].plot(x, ds["fitted"].values[-1], "-", color="C3", label="fit")
    ax[0].set(xlabel="x (rad)", ylabel=f"{ds.attrs.get('observable')} at t = {t[-1]:g}")
    ax[0].legend(frameon=False)
    r = ds["residual"].values
    lim = float(np.max(np.abs(r))) or 1.0
    im = ax[1].imshow(r, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                      extent=(x[0], x[-1], t[0], t[-1]))
    ax[1].set(xlabel="x (rad)", ylabel="time (neural time constants)", title="fit - data")
    ax[1].figure.colorbar(im, ax=ax[1])
