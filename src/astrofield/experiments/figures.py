"""The paper's figures from astrofield computations: Figures 2, 5, 6 and 7.

Every figure is written as ``figureN.png`` and ``figureN.pdf`` together with the data behind it,
``figureN.nc`` (NetCDF, written atomically). :func:`make_figure` dispatches on the number.

* **Figure 2** - existence and stability of bumps; drawn by
  :func:`astrofield.theory.stability.plot_figure2`.
* **Figure 5** - numerical drift and |velocity| at ``T`` over ``(D, beta)`` at ``gamma = 2``,
  ``theta = 0.1`` (``D`` in [0.001, 0.6], ``beta`` in [0.001, 0.1]) from the drift experiment
  (:func:`astrofield.experiments.phase.phase_diagram`), with the Evans boundary ``beta*(D)`` (solid,
  ``E'(0) = 0``) and the Fourier-truncation boundary (dashed) on top.
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

import os
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from astrofield._validate import check_int, check_range
from astrofield.experiments.phase import DEFAULTS, phase_diagram
from astrofield.io import atomic_write, save
from astrofield.model.definition import Model
from astrofield.simulator.integrator import solve
from astrofield.theory.bump import fold
from astrofield.theory.stability import boundary, plot_figure2

if TYPE_CHECKING:  # annotations only
    import concurrent.futures as cf

    from distributed import Client

__all__ = ["make_figure", "figure2", "figure5", "figure6", "figure7", "boundary_curve",
           "boundary_curves", "FIGURES", "LARGE_D"]

FIGURES = (2, 5, 6, 7)
#: Diffusion values of the large-D boundary panel of Figure 6.
LARGE_D = (1.0, 2.5, 10.0, 50.0, np.inf)
FIG7_TIMES = (0.7, 30.0, 100.0)


def _save_all(fig, ds: xr.Dataset, outdir: str | os.PathLike, name: str) -> list[Path]:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        p = out / f"{name}.{ext}"
        atomic_write(p, lambda tmp, ext=ext: fig.savefig(tmp, format=ext, dpi=150))
        paths.append(p)
    paths.append(save(ds, out / f"{name}.nc"))
    plt.close(fig)
    return paths


def boundary_curves(vary: str, along: np.ndarray, *, theta: float = 0.1,
                    D: float | None = None, gamma: float | None = None, method: str = "evans",
                    beta_hi: float | None = None) -> np.ndarray:
    """Every stability boundary ``beta*`` for each value of ``along``: shape ``(n, k)``.

    ``vary="D"``: ``beta*(D)`` at fixed ``gamma``; ``vary="gamma"``: ``beta*(gamma)`` at fixed
    ``D``. Row ``i`` holds the crossings found by :func:`astrofield.theory.stability.boundary`
    (changes of the number of unstable real zeros) in ascending order, searched in ``beta`` up
    to ``beta_hi`` (default: the fold), padded with ``NaN``; ``k >= 1``.
    """
    rows = []
    for x in np.ravel(along):
        g = gamma if vary == "D" else float(x)
        d = float(x) if vary == "D" else D
        rows.append(boundary("beta", theta=theta, gamma=g, D=d, method=method, hi=beta_hi,
                             n_scan=120))
    k = max([1] + [r.size for r in rows])
    out = np.full((len(rows), k), np.nan)
    for i, r in enumerate(rows):
        out[i, :r.size] = r
    return out


def boundary_curve(vary: str, along: np.ndarray, **kw) -> np.ndarray:
    """Lowest stability boundary for each value of ``along`` (first column of
    :func:`boundary_curves`; ``NaN`` where there is no crossing)."""
    return boundary_curves(vary, along, **kw)[:, 0]


def _pad(a: np.ndarray, k: int) -> np.ndarray:
    out = np.full((a.shape[0], k), np.nan)
    out[:, :a.shape[1]] = a
    return out


def _log_abs(a: np.ndarray, floor: float = 1e-8) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.maximum(np.abs(a), floor))


def _map_panel(ax, ds: xr.Dataset, var: str, xdim: str, ydim: str, label: str):
    z = _log_abs(ds[var].transpose(ydim, xdim).values)
    z = np.where(ds["verdict_code"].transpose(ydim, xdim).values >= 0, z, np.nan)
    pc = ax.pcolormesh(ds[xdim].values, ds[ydim].values, z, shading="nearest", cmap="viridis")
    plt.colorbar(pc, ax=ax, label=f"log10 {label}")
    ax.set_xlabel(xdim)
    ax.set_ylabel(ydim)
    return pc


def _draw_boundaries(ax, x, evans, fourier, ylim):
    ax.plot(x, evans, "w-", lw=2, label="Evans E'(0) = 0")
    ax.plot(x, fourier, "w--", lw=1.5, label="Fourier truncation")
    ax.set_ylim(*ylim)


def _settings(T, N, dt, default_T):
    T = default_T if T is None else float(T)
    N = DEFAULTS["N"] if N is None else N
    dt = DEFAULTS["dt"] if dt is None else dt
    return T, N, dt


# ------------------------------------------------------------------------------ figures
def figure2(outdir: str | os.PathLike) -> list[Path]:
    """Figure 2 (bump existence and stability) from :func:`astrofield.plot_figure2`."""
    fig, ds = plot_figure2(None)
    return _save_all(fig, ds, outdir, "figure2")


def figure5(outdir: str | os.PathLike, *, resolution: int = 50, T: float | None = None,
            N: int | None = None, dt: float | None = None, early_stop: bool = False,
            executor: str | cf.Executor | Client | None = "threads", workers: int | None = None,
            progress: bool | None = None) -> list[Path]:
    """Figure 5: drift and |velocity| over ``(D, beta)`` at ``gamma = 2``, ``theta = 0.1``."""
    n = check_int("resolution", resolution, 2)
    T, N, dt = _settings(T, N, dt, 500.0)
    ds = phase_diagram([f"D=0.001:0.6:{n}", f"beta=0.001:0.1:{n}"], theta=0.1, gamma=2.0, T=T,
                       N=N, dt=dt, early_stop=early_stop, executor=executor, workers=workers,
                       chunk_size=min(DEFAULTS["chunk_size"], max(1, n * n // 2)),
                       progress=progress)
    Db = np.linspace(0.001, 0.6, max(2 * n, 12))
    ev = boundary_curve("D", Db, gamma=2.0, method="evans", beta_hi=0.3)
    fo = boundary_curve("D", Db, gamma=2.0, method="fourier", beta_hi=0.3)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, var, lab in zip(axes, ("drift", "velocity"), ("|drift| (rad)", "|velocity|"),
                            strict=True):
        _map_panel(ax, ds, var, "D", "beta", lab)
        _draw_boundaries(ax, Db, ev, fo, (0.001, 0.1))
        ax.set_title(rf"{lab} at T={T:g}, $\gamma$=2, $\theta$=0.1")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    data = ds.assign({"boundary_D": ("boundary_D", Db),
                      "beta_star_evans": ("boundary_D", ev),
                      "beta_star_fourier": ("boundary_D", fo)})
    data.attrs["figure"] = "5: drift experiment over (D, beta), gamma 2, theta 0.1"
    return _save_all(fig, data, outdir, "figure5")


def figure6(outdir: str | os.PathLike, *, resolution: int = 50, T: float | None = None,
            N: int | None = None, dt: float | None = None, early_stop: bool = False,
            executor: str | cf.Executor | Client | None = "threads", workers: int | None = None,
            progress: bool | None = None) -> list[Path]:
    """Figure 6: ``(gamma, beta)`` maps at ``D = 1`` and the large-``D`` panel (``D = inf``)."""
    n = check_int("resolution", resolution, 2)
    T, N, dt = _settings(T, N, dt, 500.0)
    kw = dict(theta=0.1, T=T, N=N, dt=dt, early_stop=early_stop, executor=executor,
              workers=workers, chunk_size=min(DEFAULTS["chunk_size"], max(1, n * n // 2)),
              progress=progress)
    ds1 = phase_diagram([f"gamma=1:1.6:{n}", f"beta=0.001:0.1:{n}"], D=1.0, **kw)
    beta_top = 4.0
    dsi = phase_diagram([f"gamma=1:1.6:{n}", f"beta=0.01:{beta_top}:{n}"], D=np.inf, **kw)
    gb = np.linspace(1.0, 1.6, max(2 * n, 12))
    ev = boundary_curve("gamma", gb, D=1.0, method="evans", beta_hi=0.3)
    fo = boundary_curve("gamma", gb, D=1.0, method="fourier", beta_hi=0.3)
    large = {D: boundary_curves("gamma", gb, D=D, method="evans") for D in LARGE_D}
    bmax = np.asarray(fold(0.1, gb)[0])
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    for ax, var, lab in zip(axes[:2], ("drift", "velocity"), ("|drift| (rad)", "|velocity|"),
                            strict=True):
        _map_panel(ax, ds1, var, "gamma", "beta", lab)
        _draw_boundaries(ax, gb, ev, fo, (0.001, 0.1))
        ax.set_title(rf"{lab} at T={T:g}, D=1, $\theta$=0.1")
    axes[0].legend(loc="upper left", fontsize=8)
    ax = axes[2]
    _map_panel(ax, dsi, "velocity", "gamma", "beta", "|velocity|")
    styles = ["-", "--", "-.", ":", "-"]
    for (D, curves), ls in zip(large.items(), styles, strict=True):
        # every crossing of the unstable real-zero count, one line per crossing index
        for j in range(curves.shape[1]):
            ax.plot(gb, curves[:, j], ls, color="w" if np.isfinite(D) else "r", lw=1.5,
                    label=f"D = {D:g}" if j == 0 else None)
    ax.plot(gb, bmax, "k:", lw=1, label="fold (no bump above)")
    ax.set_ylim(0.01, beta_top)
    kmax = max(c.shape[1] for c in large.values())
    ax.set_title(rf"|velocity| at D=inf, T={T:g}; boundaries $\beta^*(\gamma)$")
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    data = xr.Dataset(
        {**{f"D1_{k}": v.rename({"gamma": "gamma_D1", "beta": "beta_D1"})
            for k, v in ds1.data_vars.items()},
         **{f"Dinf_{k}": v.rename({"gamma": "gamma_Dinf", "beta": "beta_Dinf"})
            for k, v in dsi.data_vars.items()},
         "beta_star_evans_D1": ("boundary_gamma", ev),
         "beta_star_fourier_D1": ("boundary_gamma", fo),
         "beta_max": ("boundary_gamma", bmax),
         "beta_star_evans_largeD": (("large_D", "boundary_gamma", "crossing"),
                                    np.stack([_pad(large[D], kmax) for D in LARGE_D]))},
        coords={"boundary_gamma": gb, "large_D": np.array(LARGE_D)})
    data.attrs.update({k: v for k, v in ds1.attrs.items() if not k.startswith("summary_")})
    data.attrs["figure"] = ("6: drift experiment over (gamma, beta) at D 1; large-D panel at "
                            "D inf with Evans boundaries for D = 1, 2.5, 10, 50, inf")
    return _save_all(fig, data, outdir, "figure6")


def figure7(outdir: str | os.PathLike, *, T: float | None = None, N: int | None = None,
            dt: float | None = None, progress: bool | None = None) -> list[Path]:
    """Figure 7: ``q`` and ``a`` at ``t = 0.7, 30, 100`` (those ``<= T``) of the run with
    ``eps = 0.3, theta = 0.1, beta = 0.05, gamma = 2, D = 0.7`` to ``T = 200``."""
    T = 200.0 if T is None else float(check_range("T", T, 0.7, np.inf))
    N = 256 if N is None else N
    dt = 0.02 if dt is None else dt
    every = max(1, int(round(0.1 / dt)))
    model = Model(theta=0.1, beta=0.05, gamma=2.0, D=0.7)
    run = solve(model, T=T, dt=dt, N=N, eps=0.3, sample_every=every, progress=progress)
    times = [t for t in FIG7_TIMES if t <= T + 1e-9]
    snap = run[["q", "a", "u"]].sel(time=times, method="nearest")
    fig, axes = plt.subplots(2, len(times), figsize=(4 * len(times), 5.5), sharex=True,
                             squeeze=False)
    x = run["x"].values
    for j, t in enumerate(snap["time"].values):
        axes[0, j].plot(x, snap["q"].values[j], "C0")
        axes[0, j].set_title(f"t = {t:.1f}")
        axes[1, j].plot(x, snap["a"].values[j], "C2")
        axes[1, j].set_xlabel("x")
    axes[0, 0].set_ylabel("q (synaptic resource)")
    axes[1, 0].set_ylabel("a (astrocytic resource)")
    fig.suptitle(r"$\epsilon$=0.3, $\theta$=0.1, $\beta$=0.05, $\gamma$=2, D=0.7")
    fig.tight_layout()
    data = snap.assign({"position": run["position"], "drift": run["drift"]})
    data = data.rename({"time": "snapshot_time"}).assign_coords(time_trace=run["time"].values)
    data["position"] = ("time_trace", run["position"].values)
    data.attrs.update(run.attrs)
    data.attrs["figure"] = "7: snapshots of q and a, eps 0.3, theta 0.1, beta 0.05, gamma 2, D 0.7"
    return _save_all(fig, data, outdir, "figure7")


def make_figure(number: int, outdir: str | os.PathLike, *, resolution: int = 50,
                T: float | None = None, N: int | None = None, dt: float | None = None,
                early_stop: bool = False, executor: str | cf.Executor | Client | None = "threads",
                workers: int | None = None, progress: bool | None = None) -> list[Path]:
    """Write figure ``number`` (2, 5, 6 or 7) to ``outdir`` as PNG, PDF and NetCDF.

    Figures 5 and 6 run the drift experiment on a ``resolution x resolution`` grid (``T``
    default 500) on ``executor``; Figure 7 one run (``T`` default 200, ``N`` 256, ``dt`` 0.02).

    Parameters
    ----------
    number
        The paper's figure: 2, 5, 6 or 7.
    outdir
        Directory the files are written to (created if missing).
    resolution
        Grid points per axis of Figures 5 and 6.
    T, dt
        Final time and time step (units of the membrane time constant; ``None``: the figure's
        default).
    N
        Grid cells on the ring (``None``: the figure's default).
    early_stop
        Stop decided points early in Figures 5 and 6 (see
        :func:`astrofield.experiments.phase.drift_experiment`).
    executor, workers, progress
        Where the chunks of Figures 5 and 6 run, how many at a time, and the progress bar (see
        :func:`astrofield.experiments.phase.phase_diagram`).

    Returns
    -------
    list of pathlib.Path
        The written files.
    """
    if number not in FIGURES:
        raise ValueError(f"figure number = {number!r} is not one of {FIGURES}")
    if number == 2:
        return figure2(outdir)
    if number == 7:
        return figure7(outdir, T=T, N=N, dt=dt, progress=progress)
    fn = figure5 if number == 5 else figure6
    return fn(outdir, resolution=resolution, T=T, N=N, dt=dt, early_stop=early_stop,
              executor=executor, workers=workers, progress=progress)


