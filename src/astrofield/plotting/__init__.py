"""Figures of simulation output (matplotlib, Agg backend)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from astrofield.io import atomic_write  # noqa: E402

__all__ = ["plot_run", "save_figure"]


def save_figure(fig, path: str | os.PathLike, **kw) -> None:
    """Save ``fig`` atomically (format from the file suffix)."""
    fmt = os.path.splitext(str(path))[1].lstrip(".") or "png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=kw.pop("dpi", 120), **kw))


def plot_run(ds: xr.Dataset, member: int = 0):
    """Kymographs of ``u``, ``q``, ``a`` (x against time) and the bump position trace.

    ``member`` selects a batch member for batched runs. Returns the Figure.
    """
    if "batch" in ds.dims:
        ds = ds.isel(batch=member)
    fig, axes = plt.subplots(1, 4, figsize=(15, 4), constrained_layout=True)
    t, x = ds["time"].values, ds["x"].values
    for ax, name, cmap in zip(axes[:3], ("u", "q", "a"), ("viridis", "magma", "cividis"),
                              strict=True):
        if name in ds:
            im = ax.pcolormesh(x, t, ds[name].values, shading="auto", cmap=cmap,
                               rasterized=True)
            fig.colorbar(im, ax=ax)
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
