"""Bifurcation diagrams of continued bump branches (:func:`astrofield.continue_bumps`).

Draws on Axes it is given or on a new unmanaged :class:`matplotlib.figure.Figure`; writes
nothing (save with :func:`astrofield.plotting.save_figure`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import xarray as xr
from matplotlib.figure import Figure

__all__ = ["plot_branch"]

_BRANCHES = (("stationary", "C0"), ("travelling", "C1"))
_SPECIAL = (("fold", "s"), ("drift", "o"))


def _draw_branches(ax, res: xr.Dataset, param: str, var: str) -> None:
    for name, colour in _BRANCHES:
        sel = res["branch"].values == name
        p, y = res[param].values[sel], res[var].values[sel]
        st = res["stable"].values[sel]
        for i in range(len(p) - 1):
            ax.plot(p[i:i + 2], y[i:i + 2], color=colour,
                    ls="-" if (st[i] and st[i + 1]) else "--")
        if sel.any():
            ax.plot([], [], color=colour, label=name)
    for kind, mk in _SPECIAL:
        sel = res["point_type"].values == kind
        if sel.any():
            ax.plot(res[param].values[sel], res[var].values[sel], mk, color="k", mfc="none",
                    label=kind)


def plot_branch(res: xr.Dataset, axes: Sequence[Any] | None = None) -> Figure:
    """Bifurcation diagram: bump amplitude and speed against the continuation parameter.

    Parameters
    ----------
    res
        Result of :func:`astrofield.continue_bumps` (variables ``amplitude`` (dimensionless),
        ``speed`` (rad per unit time), ``branch``, ``stable``, ``point_type``; attr
        ``continuation_parameter``).
    axes
        Two Axes (amplitude, speed) to draw on; default a new 9 x 3.6 inch Figure.

    Returns
    -------
    matplotlib.figure.Figure
        Solid lines where the branch is stable, dashed where unstable; stationary (C0) and
        travelling (C1) branches; open squares at folds, open circles at drift bifurcations.
    """
    if axes is None:
        fig = Figure(figsize=(9, 3.6), layout="constrained")
        axes = fig.subplots(1, 2)
    elif len(axes) != 2:
        raise ValueError(f"axes must hold 2 Axes (amplitude, speed), got {len(axes)}")
    fig = axes[0].figure
    param = res.attrs["continuation_parameter"]
    for ax, var in zip(axes, ("amplitude", "speed"), strict=True):
        _draw_branches(ax, res, param, var)
        ax.set_xlabel(param)
        ax.set_ylabel("amplitude" if var == "amplitude" else "speed (rad / time)")
    axes[0].legend(fontsize=8, title="solid: stable, dashed: unstable", title_fontsize=7)
    return fig
