"""Figures of the analytic stability results: ``E'(0)`` maps and the paper's Figure 2.

The numbers come from :mod:`astrofield.theory.stability` (which draws nothing and writes no
files); the functions here only draw, on Axes they are given or on a new unmanaged
:class:`matplotlib.figure.Figure` (no pyplot state).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.colors import SymLogNorm
from matplotlib.figure import Figure

__all__ = ["plot_map", "plot_figure2", "draw_figure2"]


def plot_map(ds: xr.Dataset, fig: Figure | None = None, *, ax: Any = None) -> Figure:
    """A 2-D analytic stability map: ``E'(0)`` in colour with both sets of boundaries.

    Parameters
    ----------
    ds
        Result of :func:`astrofield.stability_map` over exactly two swept parameters.
    fig
        Figure to add one Axes to; default a new Figure (6 x 4.5 in).
    ax
        Axes to draw on (takes precedence over ``fig``).

    Returns
    -------
    matplotlib.figure.Figure
        ``E'(0)`` (dimensionless, symmetric-log colour scale, labelled colorbar); the Evans
        boundaries (black, every change of the number of unstable real zeros) and the Fourier
        ones (red dashed).
    """
    dims = list(ds["evans_dprime"].dims)
    if len(dims) != 2:
        raise ValueError(f"plot_map needs a 2-D map, got dims {dims}")
    ydim, xdim = dims
    if ax is None:
        fig = Figure(figsize=(6, 4.5), layout="constrained") if fig is None else fig
        ax = fig.add_subplot(111)
    fig = ax.figure
    x, y = ds[xdim].values, ds[ydim].values
    z = ds["evans_dprime"].values
    lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    norm = SymLogNorm(linthresh=1e-2 * max(lim, 1e-300), vmin=-lim, vmax=lim)
    pc = ax.pcolormesh(x, y, z, cmap="RdBu", norm=norm, shading="auto")
    fig.colorbar(pc, ax=ax, label="E'(0) (> 0: no real zero through 0)")
    for var, style in (("evans_n_real", dict(colors="k")),
                       ("fourier_n_real", dict(colors="r", linestyles="--"))):
        n = np.where(ds["exists"].values, ds[var].values.astype(float), np.nan)
        levels = np.arange(np.nanmin(n), np.nanmax(n)) + 0.5 if np.isfinite(n).any() else []
        if len(levels):
            ax.contour(x, y, n, levels=levels, **style)
    ax.set_xlabel(xdim)
    ax.set_ylabel(ydim)
    ax.set_title("E'(0); boundaries: Evans (black), Fourier (red dashed)", fontsize=10)
    return fig


def _two_axes(fig: Figure | None, ax: Any) -> tuple[Figure, Any, Any]:
    if ax is not None:
        if len(ax) != 2:
            raise ValueError(f"ax must hold 2 Axes (panels a and b), got {len(ax)}")
        return ax[0].figure, ax[0], ax[1]
    fig = Figure(figsize=(10, 4), layout="constrained") if fig is None else fig
    ax_a, ax_b = fig.subplots(1, 2)
    return fig, ax_a, ax_b


def draw_figure2(ds: xr.Dataset, fig: Figure | None = None, *, ax: Any = None) -> Figure:
    """Draw the paper's Figure 2 from :func:`astrofield.theory.stability.figure2_data`.

    Parameters
    ----------
    ds
        The data: profiles ``U, Q, A`` over ``x`` (rad) and, per threshold tag, ``beta_<tag>``
        (per unit time), ``Delta_wide_<tag>``, ``Delta_narrow_<tag>`` (rad) and
        ``wide_stable_<tag>``; attrs ``gamma`` and ``D``.
    fig
        Figure to draw in; default a new Figure (10 x 4 in).
    ax
        Two Axes ``(ax_a, ax_b)`` to draw on (takes precedence over ``fig``).

    Returns
    -------
    matplotlib.figure.Figure
        (a) bump profiles; (b) ``Delta`` against ``beta`` (log axis): narrow branch thin dashed,
        wide branch solid where drift-stable and thick dashed where drift-unstable.
    """
    fig, ax_a, ax_b = _two_axes(fig, ax)
    gamma, D = float(ds.attrs["gamma"]), float(ds.attrs["D"])
    x = ds["x"].values
    for name in ("U", "Q", "A"):
        ax_a.plot(x, ds[name].values, label=name)
    ax_a.axhline(0.03, color="gray", lw=0.5, ls=":")
    ax_a.set(xlabel="x (rad)", ylabel="U, Q, A",
             title=rf"(a) $\theta$=0.03, $\beta$=0.3, $\gamma$={gamma:g}")
    ax_a.legend()
    for th, color in ((0.03, "C0"), (0.3, "C3")):
        tag = f"{th:g}".replace(".", "p")
        b = ds[f"beta_{tag}"].values
        dw, dn = ds[f"Delta_wide_{tag}"].values, ds[f"Delta_narrow_{tag}"].values
        stable = ds[f"wide_stable_{tag}"].values.astype(bool)
        ax_b.semilogx(b, dn, "--", color=color, lw=1)
        ax_b.semilogx(b, np.where(stable, dw, np.nan), "-", color=color,
                      label=rf"$\theta$={th:g}")
        un = ~stable
        un[1:] |= un[:-1]  # join the dashed part to the solid one
        ax_b.semilogx(b, np.where(un, dw, np.nan), "--", color=color, lw=2)
    ax_b.set(xlabel=r"$\beta$ (1 / time)", ylabel=r"$\Delta$ (rad)", xlim=(1e-3, None),
             title=rf"(b) $\gamma$={gamma:g}, D={D:g}: solid stable, dashed unstable")
    ax_b.legend()
    return fig


def plot_figure2(outdir: str | os.PathLike | None = None, fig: Figure | None = None, *,
                 ax: Any = None, D: float = 0.3, gamma: float = 2.0,
                 n: int = 400) -> tuple[Figure, xr.Dataset]:
    """Existence/stability diagram (the paper's Figure 2): compute and draw.

    Parameters
    ----------
    outdir
        Deprecated: if given, ``figure2.png`` and ``figure2.nc`` are also written there
        (atomically). Save the returned objects with :func:`astrofield.plotting.save_figure`
        and :func:`astrofield.io.save` instead.
    fig, ax
        Where to draw, as in :func:`draw_figure2`.
    D
        Astrocytic diffusion of panel (b), rad^2 per unit time.
    gamma
        Replenishment rate, per unit time.
    n
        Points along ``beta`` in panel (b).

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : xarray.Dataset
        The plotted data (:func:`astrofield.theory.stability.figure2_data`).
    """
    from astrofield.theory.stability import figure2_data

    ds = figure2_data(D=D, gamma=gamma, n=n)
    fig = draw_figure2(ds, fig, ax=ax)
    if outdir is not None:
        warnings.warn("plot_figure2(outdir) is deprecated: save the returned figure and data "
                      "with astrofield.plotting.save_figure and astrofield.io.save",
                      DeprecationWarning, stacklevel=2)
        from astrofield.io import save
        from astrofield.plotting import save_figure

        save_figure(fig, os.path.join(outdir, "figure2.png"))
        save(ds, os.path.join(outdir, "figure2.nc"))
    return fig, ds
