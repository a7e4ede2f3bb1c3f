"""The paper's Figures 2, 5, 6 and 7, drawn from the data of :mod:`astrofield.experiments.figures`.

``draw_figureN(ds)`` builds and returns an unmanaged :class:`matplotlib.figure.Figure` (no pyplot
state, no backend change). :func:`make_figure` computes, draws and writes ``figureN.png``,
``figureN.pdf`` and ``figureN.nc``, each atomically (temporary file, then rename).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from astrofield.plotting.maps import mark_unresolved
from astrofield.plotting.stability import draw_figure2

__all__ = ["draw_figure", "draw_figure2", "draw_figure5", "draw_figure6", "draw_figure7",
           "make_figure", "write_figure", "figure2", "figure5", "figure6", "figure7"]

#: Line styles of the large-D boundaries of Figure 6 (D = 1, 2.5, 10, 50, inf).
_LARGE_D_STYLES = ("-", "--", "-.", ":", "-")


def _log_abs(a: np.ndarray, floor: float = 1e-8) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.maximum(np.abs(a), floor))


def _map_panel(ax, ds: xr.Dataset, var: str, xdim: str, ydim: str, label: str,
               prefix: str = "") -> None:
    """``log10 |var|`` over ``(xdim, ydim)``, blank where no bump exists; labelled colorbar."""
    z = _log_abs(ds[prefix + var].transpose(ydim, xdim).values)
    z = np.where(ds[prefix + "verdict_code"].transpose(ydim, xdim).values >= 0, z, np.nan)
    pc = ax.pcolormesh(ds[xdim].values, ds[ydim].values, z, shading="nearest", cmap="viridis")
    ax.figure.colorbar(pc, ax=ax, label=f"log10 {label}")
    ax.set_xlabel(xdim.split("_")[0])
    ax.set_ylabel(ydim.split("_")[0])
    mark_unresolved(ax, ds, xdim, ydim, prefix)


def _legend(ax, **kw: Any) -> None:
    """A legend on a mid-grey box: the white boundary lines, the red and the black ones all
    stay visible (on the default white box the white lines vanished)."""
    ax.legend(facecolor="0.55", edgecolor="k", framealpha=1.0, **kw)


def _draw_boundaries(ax, x, evans, fourier, ylim) -> None:
    ax.plot(x, evans, "w-", lw=2, label="Evans E'(0) = 0")
    ax.plot(x, fourier, "w--", lw=1.5, label="Fourier truncation")
    ax.set_ylim(*ylim)


_MAPS = (("drift", "|drift| (rad)"), ("velocity", "|velocity| (rad / time)"))


def draw_figure5(ds: xr.Dataset) -> Figure:
    """Figure 5 from :func:`astrofield.experiments.figures.figure5_data`.

    Parameters
    ----------
    ds
        ``drift`` (rad), ``velocity`` (rad per unit time) and ``verdict_code`` over
        ``(D, beta)``; ``beta_star_evans``, ``beta_star_fourier`` over ``boundary_D``.

    Returns
    -------
    matplotlib.figure.Figure
        Two maps of ``log10 |drift|`` and ``log10 |velocity|`` with both boundaries (white).
    """
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    T = float(ds.attrs.get("figure_T", ds.attrs.get("T", np.nan)))
    for ax, (var, lab) in zip(axes, _MAPS, strict=True):
        _map_panel(ax, ds, var, "D", "beta", lab)
        _draw_boundaries(ax, ds["boundary_D"].values, ds["beta_star_evans"].values,
                         ds["beta_star_fourier"].values, (0.001, 0.1))
        ax.set_title(rf"{lab} at T={T:g}, $\gamma$=2, $\theta$=0.1")
    _legend(axes[0], loc="upper left", fontsize=8)
    return fig


def _large_d_panel(ax, ds: xr.Dataset, T: float) -> None:
    _map_panel(ax, ds, "velocity", "gamma_Dinf", "beta_Dinf", "|velocity| (rad / time)",
               prefix="Dinf_")
    gb = ds["boundary_gamma"].values
    curves = ds["beta_star_evans_largeD"].values
    for D, c, ls in zip(ds["large_D"].values, curves, _LARGE_D_STYLES, strict=True):
        for j in range(c.shape[1]):  # every crossing of the unstable real-zero count
            ax.plot(gb, c[:, j], ls, color="w" if np.isfinite(D) else "r", lw=1.5,
                    label=f"D = {D:g}" if j == 0 else None)
    ax.plot(gb, ds["beta_max"].values, "k:", lw=1, label="fold (no bump above)")
    beta = ds["beta_Dinf"].values
    ax.set_ylim(float(beta.min()), float(beta.max()))
    ax.set_title(rf"|velocity| at D=inf, T={T:g}; boundaries $\beta^*(\gamma)$")
    _legend(ax, loc="upper left", fontsize=7)


def draw_figure6(ds: xr.Dataset) -> Figure:
    """Figure 6 from :func:`astrofield.experiments.figures.figure6_data`.

    Parameters
    ----------
    ds
        ``D1_*`` over ``(gamma_D1, beta_D1)``, ``Dinf_*`` over ``(gamma_Dinf, beta_Dinf)`` and
        the boundaries over ``boundary_gamma`` (``beta`` in per unit time).

    Returns
    -------
    matplotlib.figure.Figure
        Maps of ``log10 |drift|`` and ``log10 |velocity|`` at ``D = 1`` with both boundaries,
        and ``log10 |velocity|`` at ``D = inf`` with the Evans boundaries for every ``large_D``
        (one line style each, legend on a grey box) and the fold.
    """
    fig = Figure(figsize=(16, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    T = float(ds.attrs.get("figure_T", ds.attrs.get("T", np.nan)))
    for ax, (var, lab) in zip(axes[:2], _MAPS, strict=True):
        _map_panel(ax, ds, var, "gamma_D1", "beta_D1", lab, prefix="D1_")
        _draw_boundaries(ax, ds["boundary_gamma"].values, ds["beta_star_evans_D1"].values,
                         ds["beta_star_fourier_D1"].values, (0.001, 0.1))
        ax.set_title(rf"{lab} at T={T:g}, D=1, $\theta$=0.1")
    _legend(axes[0], loc="upper left", fontsize=8)
    _large_d_panel(axes[2], ds, T)
    return fig


def draw_figure7(ds: xr.Dataset) -> Figure:
    """Figure 7 from :func:`astrofield.experiments.figures.figure7_data`.

    Parameters
    ----------
    ds
        ``q`` and ``a`` over ``(snapshot_time, x)`` (``x`` in rad).

    Returns
    -------
    matplotlib.figure.Figure
        One column per snapshot: ``q`` (top) and ``a`` (bottom) against ``x``.
    """
    times = ds["snapshot_time"].values
    fig = Figure(figsize=(4 * len(times), 5.5), layout="constrained")
    axes = fig.subplots(2, len(times), sharex=True, squeeze=False)
    x = ds["x"].values
    for j, t in enumerate(times):
        axes[0, j].plot(x, ds["q"].values[j], "C0")
        axes[0, j].set_title(f"t = {t:.1f}")
        axes[1, j].plot(x, ds["a"].values[j], "C2")
        axes[1, j].set_xlabel("x (rad)")
    axes[0, 0].set_ylabel("q (synaptic resource)")
    axes[1, 0].set_ylabel("a (astrocytic resource)")
    fig.suptitle(r"$\epsilon$=0.3, $\theta$=0.1, $\beta$=0.05, $\gamma$=2, D=0.7")
    return fig


_DRAW = {2: draw_figure2, 5: draw_figure5, 6: draw_figure6, 7: draw_figure7}


def draw_figure(number: int, ds: xr.Dataset) -> Figure:
    """Draw figure ``number`` (2, 5, 6 or 7) from its data
    (:func:`astrofield.experiments.figures.figure_data`); returns the Figure."""
    if number not in _DRAW:
        raise ValueError(f"figure number = {number!r} is not one of {tuple(_DRAW)}")
    return _DRAW[number](ds)


def write_figure(fig: Figure, ds: xr.Dataset, outdir: str | os.PathLike,
                 name: str) -> list[Path]:
    """Write ``NAME.png``, ``NAME.pdf`` (150 dpi) and ``NAME.nc`` to ``outdir`` atomically.

    Returns
    -------
    list of pathlib.Path
        The paths written.
    """
    from astrofield.io import save
    from astrofield.plotting import save_figure

    out = Path(outdir)
    paths = []
    for ext in ("png", "pdf"):
        save_figure(fig, out / f"{name}.{ext}", dpi=150)
        paths.append(out / f"{name}.{ext}")
    paths.append(save(ds, out / f"{name}.nc"))
    return paths


def make_figure(number: int, outdir: str | os.PathLike, **kw: Any) -> list[Path]:
    """Compute, draw and write figure ``number`` (2, 5, 6 or 7) to ``outdir``.

    Parameters
    ----------
    number
        Figure of the paper.
    outdir
        Directory (created if missing) for ``figureN.png``, ``figureN.pdf`` and
        ``figureN.nc``; every file is written atomically.
    **kw
        ``resolution``, ``T``, ``N``, ``dt``, ``early_stop``, ``executor``, ``workers``,
        ``progress``: see :func:`astrofield.experiments.figures.figure_data`.

    Returns
    -------
    list of pathlib.Path
        The paths written.
    """
    from astrofield.experiments.figures import figure_data

    ds = figure_data(number, **kw)
    return write_figure(draw_figure(number, ds), ds, outdir, f"figure{number}")


def figure2(outdir: str | os.PathLike) -> list[Path]:
    """Write Figure 2 to ``outdir`` (:func:`make_figure` ``(2, outdir)``)."""
    return make_figure(2, outdir)


def figure5(outdir: str | os.PathLike, **kw: Any) -> list[Path]:
    """Write Figure 5 to ``outdir`` (:func:`make_figure` ``(5, outdir, **kw)``)."""
    return make_figure(5, outdir, **kw)


def figure6(outdir: str | os.PathLike, **kw: Any) -> list[Path]:
    """Write Figure 6 to ``outdir`` (:func:`make_figure` ``(6, outdir, **kw)``)."""
    return make_figure(6, outdir, **kw)


def figure7(outdir: str | os.PathLike, **kw: Any) -> list[Path]:
    """Write Figure 7 to ``outdir`` (:func:`make_figure` ``(7, outdir, **kw)``)."""
    return make_figure(7, outdir, **kw)
