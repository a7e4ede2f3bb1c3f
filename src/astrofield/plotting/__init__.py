"""Every figure of astrofield: simulation runs (here), stability maps and Figure 2
(:mod:`.stability`), the paper's figures (:mod:`.paper`), bumps and spectra (:mod:`.bumps`), phase
diagrams (:mod:`.maps`), bifurcation diagrams (:mod:`.continuation`) and the applications
(:mod:`.applications`). The computing layers import no matplotlib; files are written by the
caller with :func:`save_figure` (atomic: a temporary file, then a rename).

Library code never selects a matplotlib backend: every helper draws on Axes it is given
(``ax=``/``axes=``) or on a new :class:`matplotlib.figure.Figure` that is not registered with
pyplot (so no global state, no open-figure leaks, and it works without a display).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from astrofield.io import atomic_write

__all__ = ["plot_run", "plot_phase", "plot_bumps", "plot_spectrum", "plot_indicator",
           "plot_map", "plot_figure2", "draw_figure2", "plot_memory", "plot_memory_bold",
           "plot_wandering", "plot_collapse", "plot_field2d", "plot_branch", "plot_fit",
           "plot_profiles", "plot_corner", "save_figure",
           "plt", "new_figure"]


#: Colorbar labels of the fields (all dimensionless).
FIELD_LABELS = {"u": "u (synaptic input)", "q": "q (synaptic resource)",
                "a": "a (astrocytic resource)"}


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None,
               constrained_layout: bool = False, **kw: Any):
    """``(Figure, axes)`` like :func:`matplotlib.pyplot.subplots`, without pyplot or a backend.

    Parameters
    ----------
    nrows, ncols
        Grid of subplots.
    figsize
        ``(width, height)`` in inches (default: matplotlib's).
    constrained_layout
        Use matplotlib's constrained layout.
    **kw
        Passed to :meth:`matplotlib.figure.Figure.subplots` (``sharex``, ``squeeze``, ...).

    Returns
    -------
    tuple
        The :class:`matplotlib.figure.Figure` and its Axes (one, or an array of them).
    """
    fig = Figure(figsize=figsize, layout="constrained" if constrained_layout else None)
    return fig, fig.subplots(nrows, ncols, **kw)


class _Figures:
    """The part of the pyplot interface the package's plot helpers use (``plt.subplots``),
    returning unmanaged Figures; kept under the name ``plt`` for the application modules."""

    subplots = staticmethod(new_figure)

    @staticmethod
    def figure(figsize: tuple[float, float] | None = None, **kw: Any) -> Figure:
        return Figure(figsize=figsize, **kw)

    @staticmethod
    def close(fig: Any = None) -> None:
        """Nothing to do: these Figures are not held by pyplot."""


plt = _Figures()


def save_figure(fig, path: str | os.PathLike, **kw) -> None:
    """Save ``fig`` atomically (format from the file suffix; default png).

    Parameters
    ----------
    fig
        The :class:`matplotlib.figure.Figure`.
    path
        Output file (see :func:`astrofield.io.atomic_write`).
    **kw
        Passed to :meth:`matplotlib.figure.Figure.savefig`; ``dpi`` defaults to 120.
    """
    fmt = os.path.splitext(str(path))[1].lstrip(".").lower() or "png"
    dpi = kw.pop("dpi", 120)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, **kw))


def plot_run(ds: xr.Dataset, member: int = 0, axes: Sequence[Axes] | None = None):
    """Kymographs of ``u``, ``q``, ``a`` (x against time) and the bump position trace.

    Parameters
    ----------
    ds
        Result of :func:`astrofield.solve`.
    member
        Batch member to show for batched runs.
    axes
        Four matplotlib Axes to draw on; default a new Figure.

    Returns
    -------
    matplotlib.figure.Figure
        Kymographs with labelled colorbars (the fields are dimensionless; ``x`` in rad) and
        the position trace (rad).
    """
    if "batch" in ds.dims:
        n = ds.sizes["batch"]
        if isinstance(member, bool) or not isinstance(member, (int, np.integer)) \
                or not -n <= member < n:
            raise ValueError(f"member = {member!r} is outside the allowed range [0, {n - 1}]")
        ds = ds.isel(batch=member)
    if axes is None:
        fig, axes = new_figure(1, 4, figsize=(15, 4), constrained_layout=True)
    else:
        if len(axes) != 4:
            raise ValueError(f"axes must hold 4 Axes (u, q, a, position), got {len(axes)}")
        fig = axes[0].figure
    t, x = ds["time"].values, ds["x"].values
    for ax, name, cmap in zip(axes[:3], ("u", "q", "a"), ("viridis", "magma", "cividis"),
                              strict=True):
        if name in ds:
            im = ax.pcolormesh(x, t, ds[name].values, shading="auto", cmap=cmap,
                               rasterized=True)
            fig.colorbar(im, ax=ax, label=FIELD_LABELS[name])
        ax.set(xlabel="x (rad)", ylabel="t", title=name)
    pos = ds["position"].values
    axes[3].plot(t, pos, color="k")
    axes[3].set(xlabel="t", ylabel="position (rad)",
                title=f"drift = {float(ds['drift']):.4g} rad")
    for ax in axes[:3]:
        ax.plot(np.angle(np.exp(1j * pos)), t, color="w", lw=0.8, ls="--")
        ax.set_xlim(x[0], x[-1])
    fig.suptitle(
        f"theta={float(ds['theta']):g}, beta={float(ds['beta']):g}, "
        f"gamma={float(ds['gamma']):g}, D={float(ds['D']):g}, N={ds.attrs.get('N')}, "
        f"dt={ds.attrs.get('dt')}"
    )
    return fig


_LAZY = {"plot_phase": "maps", "plot_bumps": "bumps", "plot_spectrum": "bumps",
         "plot_indicator": "bumps", "plot_map": "stability", "plot_figure2": "stability",
         "draw_figure2": "stability", "plot_memory": "applications",
         "plot_memory_bold": "applications", "plot_wandering": "applications",
         "plot_collapse": "applications", "plot_field2d": "applications",
         "plot_branch": "continuation", "plot_fit": "fit",
         "plot_profiles": "fit", "plot_corner": "fit"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
