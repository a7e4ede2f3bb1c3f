"""Figures of the bump theory: stationary profiles and zeros of the Evans function.

Library code: draws on given Axes or on a new unmanaged :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

__all__ = ["plot_bumps", "plot_spectrum"]


def plot_bumps(bumps: Sequence[Any], axes: Sequence[Axes] | None = None, n: int = 400):
    """Profiles ``U(x)``, ``Q(x)``, ``A(x)`` of stationary bumps (one line per branch).

    Parameters
    ----------
    bumps
        Objects with ``branch`` and methods ``U(x)``, ``Q(x)``, ``A(x)`` (e.g. the result of
        :func:`astrofield.stationary_bumps`); may be empty (no bump exists).
    axes
        Three matplotlib Axes (U, Q, A); default a new Figure.
    n
        Grid points on ``[-pi, pi)``.
    """
    if axes is None:
        fig = Figure(figsize=(13, 3.8), layout="constrained")
        axes = fig.subplots(1, 3)
    else:
        if len(axes) != 3:
            raise ValueError(f"axes must hold 3 Axes (U, Q, A), got {len(axes)}")
        fig = axes[0].figure
    x = np.linspace(-np.pi, np.pi, n, endpoint=False)
    for ax, name, unit in zip(axes, ("U", "Q", "A"), ("synaptic input u", "resource q",
                                                       "astrocytic pool a"), strict=True):
        for b in bumps:
            ax.plot(x, getattr(b, name)(x), label=f"{b.branch} branch")
        ax.set(xlabel="x (rad)", ylabel=unit, title=name)
    if bumps:
        axes[0].legend(fontsize=8)
    else:
        axes[0].text(0.5, 0.5, "no bump exists", ha="center", transform=axes[0].transAxes)
    return fig


#: Imaginary parts below this fraction of the real extent are taken as round-off.
IMAG_ROUNDOFF = 1e-8


def _imag_range(lam: np.ndarray) -> float | None:
    """Half-height of a symmetric Im axis when every imaginary part is round-off, else None.

    Autoscaling would stretch round-off (``|Im| ~ 1e-22``) over the whole axis; the half-height
    is half the real extent of the zeros (at least 1e-3, 1 when there are none)."""
    finite = lam[np.isfinite(lam)]
    re_scale = float(max(np.ptp(finite.real), np.max(np.abs(finite.real)))) if finite.size else 0.0
    im_scale = float(np.max(np.abs(finite.imag))) if finite.size else 0.0
    if im_scale > IMAG_ROUNDOFF * max(re_scale, 1e-300):
        return None
    return max(0.5 * re_scale, 1e-3) if finite.size else 1.0


def plot_spectrum(eigenvalues: ArrayLike, multiplicities: ArrayLike | None = None,
                  ax: Axes | None = None, region: Sequence[float] | None = None):
    """Zeros ``lambda`` of the Evans function in the complex plane (``Re > 0``: unstable).

    Parameters
    ----------
    eigenvalues
        Complex values, or ``(re, im)`` pairs.
    multiplicities
        Marker labels (multiplicity of each zero); optional.
    ax
        Axes to draw on; default a new Figure.
    region
        ``(re_min, re_max, im_min, im_max)`` of the searched rectangle, drawn as a frame.

    Returns
    -------
    matplotlib.figure.Figure
        ``lambda`` in units of 1 / time. When every imaginary part is round-off (e.g. only
        real zeros) and no ``region`` is given, the Im axis is symmetric about 0 with half
        the real extent as half-height, instead of being scaled to the round-off.
    """
    lam = np.asarray(eigenvalues)
    if lam.ndim == 2 and lam.shape[-1] == 2:
        lam = lam[:, 0] + 1j * lam[:, 1]
    lam = lam.astype(complex).ravel()
    if ax is None:
        fig = Figure(figsize=(5, 4.5), layout="constrained")
        ax = fig.subplots()
    fig = ax.figure
    colors = np.where(lam.real > 0, "r", "k")
    ax.scatter(lam.real, lam.imag, c=colors, marker="x", zorder=3)
    for k, z in enumerate(lam):
        if multiplicities is not None and int(np.ravel(multiplicities)[k]) > 1:
            ax.annotate(f"x{int(np.ravel(multiplicities)[k])}", (z.real, z.imag), fontsize=8)
    ax.axvline(0.0, color="0.6", lw=0.8)
    if region is not None:
        r0, r1, i0, i1 = region
        ax.plot([r0, r1, r1, r0, r0], [i0, i0, i1, i1, i0], color="0.8", lw=0.8)
    else:
        half = _imag_range(lam)
        if half is not None:
            ax.set_ylim(-half, half)
    ax.set(xlabel="Re lambda (1 / time)", ylabel="Im lambda (1 / time)",
           title="zeros of E (red: Re > 0)")
    return fig


def plot_indicator(x: ArrayLike, curves: dict[str, ArrayLike],
                   crossings: dict[str, ArrayLike] | None = None,
                   xlabel: str = "beta", ax: Axes | None = None):
    """Stability indicators (e.g. E'(0), > 0 stable) against a parameter, with their zeros.

    Parameters
    ----------
    x
        Parameter values.
    curves
        label -> indicator values on ``x`` (NaN where undefined, e.g. no bump: left blank).
    crossings
        label -> parameter values where the indicator changes sign (vertical lines).
    xlabel
        Name of the parameter.
    ax
        Axes to draw on; default a new Figure.
    """
    if ax is None:
        fig = Figure(figsize=(6, 4.2), layout="constrained")
        ax = fig.subplots()
    fig = ax.figure
    x = np.asarray(x, float)
    for k, (label, y) in enumerate(curves.items()):
        y = np.asarray(y, float)
        scale = np.nanmax(np.abs(y)) if np.any(np.isfinite(y)) else 1.0
        ax.plot(x, y / (scale or 1.0), color=f"C{k}", label=f"{label} (/ {scale:.3g})")
        for c in np.atleast_1d((crossings or {}).get(label, [])):
            ax.axvline(c, color=f"C{k}", ls="--", lw=1)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set(xlabel=xlabel, ylabel="indicator (scaled; > 0 stable)")
    ax.legend(fontsize=8)
    return fig
