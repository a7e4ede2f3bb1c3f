"""Phase-diagram figures: drift and velocity over one or two swept parameters.

Library code: draws on axes it is given (``axes=``) or on a new
:class:`matplotlib.figure.Figure`; never changes the user's matplotlib backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["plot_phase"]

_PANELS = (("drift", "|drift| (rad)"), ("velocity", "|velocity| (rad / time)"))
_STYLES = ("-", "--", "-.", ":")


def _log_abs(a: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.maximum(np.abs(a), floor))


def _axes(axes: Sequence[Axes] | None, n: int):
    if axes is not None:
        if len(axes) != n:
            raise ValueError(f"axes must hold {n} Axes (drift and velocity), got {len(axes)}")
        return axes[0].figure, list(axes)
    fig = Figure(figsize=(5.5 * n, 4.2), layout="constrained")
    return fig, list(fig.subplots(1, n))


def _panel_2d(ax, ds: xr.Dataset, var: str, label: str, xdim: str, ydim: str) -> None:
    z = _log_abs(ds[var].transpose(ydim, xdim).values)
    if "verdict_code" in ds:
        z = np.where(ds["verdict_code"].transpose(ydim, xdim).values >= 0, z, np.nan)
    x, y = ds[xdim].values, ds[ydim].values
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("a 2-D phase plot needs finite coordinates (plot D = inf as a 1-D map)")
    pc = ax.pcolormesh(x, y, z, shading="nearest", cmap="viridis")
    ax.figure.colorbar(pc, ax=ax, label=f"log10 {label}")
    ax.set(xlabel=xdim, ylabel=ydim)
    mark_unresolved(ax, ds, xdim, ydim)


def mark_unresolved(ax, ds: xr.Dataset, xdim: str, ydim: str, prefix: str = "") -> None:
    """Cross out the cells whose drift the map's own two-resolution check did not resolve
    (``resolved == 0`` where a bump exists): their colour is not a converged value, e.g. the
    stick-slip cells next to the fold at ``D = inf``, where rounding decides whether a second
    slip comes before ``T``."""
    name = prefix + "resolved"
    if name not in ds:
        return
    bad = ds[name].transpose(ydim, xdim).values == 0
    if prefix + "verdict_code" in ds:  # no bump: the exact theory's verdict, nothing to mark
        bad &= ds[prefix + "verdict_code"].transpose(ydim, xdim).values >= 0
    if not bad.any():
        return
    X, Y = np.meshgrid(ds[xdim].values, ds[ydim].values)
    n = int(bad.sum())
    ax.scatter(X[bad], Y[bad], s=6, marker="x", c="tab:orange", linewidths=0.6,
               label=f"unresolved ({n} cell{'s' if n != 1 else ''})")


def _panel_1d(ax, ds: xr.Dataset, var: str, label: str, dim: str) -> None:
    x = ds[dim].values
    y = np.abs(ds[var].values)
    ok = ds["verdict_code"].values >= 0 if "verdict_code" in ds else np.ones(x.size, bool)
    ax.semilogy(x[ok], np.maximum(y[ok], 1e-16), "o-", color="k", ms=3)
    if x.size > 2 and np.all(x > 0) and np.allclose(np.diff(np.log(x)), np.log(x[1] / x[0])):
        ax.set_xscale("log")  # a geometric (":log") grid
    ax.set(xlabel=dim, ylabel=label)


def plot_phase(ds: xr.Dataset, boundaries: Mapping[str, Any] | None = None,
               axes: Sequence[Axes] | None = None):
    """Drift and |velocity| maps of a phase diagram with analytic stability boundaries.

    Parameters
    ----------
    ds
        Result of :func:`astrofield.phase_diagram` (variables ``drift``, ``velocity`` and
        ``verdict_code`` over one or two swept parameters; no-bump points are left blank).
    boundaries
        Curves to draw: label -> ``(x, beta_star)`` for a 2-D map whose y axis is ``beta``
        (``beta_star`` NaN where there is none), or label -> array of ``beta*`` values for a
        1-D map over ``beta`` (drawn as vertical lines).
    axes
        Two matplotlib Axes to draw on (drift, velocity); default: a new Figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    dims = list(ds["drift"].dims)
    if len(dims) not in (1, 2):
        raise ValueError(f"plot_phase needs a map over 1 or 2 parameters, got dims {dims}")
    fig, axs = _axes(axes, 2)
    if len(dims) == 2:
        ydim = "beta" if "beta" in dims else dims[1]
        xdim = dims[0] if dims[0] != ydim else dims[1]
    for ax, (var, label) in zip(axs, _PANELS, strict=True):
        if len(dims) == 2:
            _panel_2d(ax, ds, var, label, xdim, ydim)
        else:
            _panel_1d(ax, ds, var, label, dims[0])
        for (name, curve), ls in zip((boundaries or {}).items(), _STYLES * 4, strict=False):
            if len(dims) == 2:
                bx, by = curve
                ax.plot(bx, by, ls, color="w", lw=1.8, label=name)
                ax.set_ylim(float(np.min(ds[ydim])), float(np.max(ds[ydim])))
            else:
                for k, b in enumerate(np.atleast_1d(curve)):
                    ax.axvline(b, ls=ls, color="r", lw=1.2, label=name if k == 0 else None)
        ax.set_title(label)
    if axs[0].get_legend_handles_labels()[0]:
        axs[0].legend(loc="best", fontsize=8)
    elif boundaries:
        axs[0].text(0.02, 0.98, "no boundary crossing in this range", transform=axs[0].transAxes,
                    va="top", fontsize=8)
    return fig
