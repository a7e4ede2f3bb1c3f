"""Figures of a fit (:func:`astrofield.fitting.fit`): the data against the fitted trace, the
profile likelihoods and a corner plot of the pairwise 95 % regions."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

__all__ = ["plot_fit", "plot_profiles", "plot_corner"]

#: ``Delta chi^2`` of the 95 % levels: one parameter (intervals), two parameters (joint regions).
CHI2_1, CHI2_2 = 3.841458820694124, 5.991464547107979


def plot_fit(result: Any, *, fig: Figure | None = None) -> Figure:
    """Observed against fitted observable, the residuals, and the cost history.

    What the first panels show depends on the observable:

    * a position trace or a BOLD series: data and fit against time (neural time constants, or
      seconds for BOLD), and the residuals with the ± 2 sigma band;
    * the field ``u(x, t)``: observed and fitted profiles at the last frame and a kymograph of
      the residuals;
    * trials and conditions: one panel per condition, its trials as thin lines (their mean
      ± 1 sd as a band when there are more than :data:`MAX_TRIAL_LINES`) and the fit on top
      (for ``u``: profiles at the last frame), then the residuals of every trial (for ``u``:
      their root mean square over trials, conditions and positions);
    * the MSD: the observed MSD with the band ± 1 sampling sd (``sqrt(2 / n_trials)`` times
      the fitted MSD) and the fitted MSD, then the residuals with ± 2 sampling sd;
    * a labelled boundary: the points over the plane of the two parameters that differ
      between them, coloured by label, and the theory's boundary at the fitted parameters (the
      zero contour of ``E'(0)``; with one such parameter, the labels and the fitted probability
      of drifting against it), then the calibration (observed fraction drifting against the
      predicted probability, in bins).

    Parameters
    ----------
    result : FitResult or xarray.Dataset
        A :class:`~astrofield.fitting.result.FitResult` or its
        :meth:`~astrofield.fitting.result.FitResult.to_dataset` (e.g. read back from NetCDF).
    fig : matplotlib.figure.Figure, optional
        Figure to draw into; default a new one, 12 inches wide (wider with many conditions).

    Returns
    -------
    matplotlib.figure.Figure
        The figure; the title lists each parameter as value ± standard error (or "not
        identifiable"). Where the result holds profiles (:meth:`FitResult.profile`), a second
        row shows them (:func:`plot_profiles`).
    """
    ds = _dataset(result)
    prof = "profile_dchi2" in ds
    ratios, draw = _layout(ds)
    if fig is None:
        fig = Figure(
            figsize=(max(12.0, 3.2 * len(ratios) + 2), 7.5 if prof else 4), layout="constrained"
        )
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 0.9]) if prof else (fig, None)
    ax = np.atleast_1d(top.subplots(1, len(ratios) + 1, gridspec_kw={"width_ratios": [*ratios, 1]}))
    draw(ds, ax[:-1])
    ax[-1].semilogy(np.arange(ds.sizes["evaluation"]), ds["cost_history"].values, ".", ms=2)
    ax[-1].set(xlabel="model evaluation", ylabel="cost")
    parts = []
    for i, name in enumerate(ds["param"].values):
        v, se = float(ds["params"][i]), float(ds["stderr"][i])
        parts.append(
            f"{name} = {v:.4g} ± {se:.2g}"
            if int(ds["identifiable"][i])
            else f"{name} = {v:.4g} (not identifiable)"
        )
    fig.suptitle(", ".join(parts))
    if bottom is not None:
        _profile_row(ds, bottom)
    return fig


#: Trials drawn one line each up to this many per condition; beyond it, their mean ± 1 sd.
MAX_TRIAL_LINES = 10


def _layout(ds):
    """Width ratios of the observable's panels (before the cost history) and their painter."""
    kind = ds.attrs.get("observable", "")
    need = {"boundary": "boundary_dprime", "msd": "data_sd"}.get(kind)
    if need is not None and need not in ds:
        raise ValueError(
            f"plot_fit: this {kind} fit's dataset has no {need!r} (saved by to_dataset since "
            "the figures of each observable were added); refit to draw it"
        )
    if kind == "boundary":
        return [2, 1.2], _boundary_panels
    if kind == "msd":
        return [2, 1.2], _msd_panels
    if "trial" in ds["data"].dims or "condition" in ds["data"].dims:
        return [1.6] * ds.sizes.get("condition", 1) + [1.2], _trial_panels
    if "x" in ds["data"].dims:
        return [2, 1.2], _field_panels
    return [2, 1.2], _trace_panels


def _dataset(result: Any):
    return result.to_dataset() if hasattr(result, "to_dataset") else result


def _profiled(ds) -> list[int]:
    if "profile_dchi2" not in ds:
        return []
    return [i for i in range(ds.sizes["param"]) if np.isfinite(ds["profile_dchi2"][i]).any()]


def _label(ds, i: int) -> str:
    return f"{ds['param'].values[i]} ({ds['param_units'].values[i]})"


def _profile_panel(ax, ds, i: int, legend: bool = True) -> None:
    """Delta chi^2 of parameter ``i``: the profile (if computed), the Fisher parabola, the 3.84
    level and the 95 % intervals."""
    best, se = float(ds["params"][i]), float(ds["stderr"][i])
    lo, hi = float(ds["lower"][i]), float(ds["upper"][i])
    ymax = 3 * CHI2_1
    if i in _profiled(ds):
        v, d = ds["profile_value"].values[i], ds["profile_dchi2"].values[i]
        ok = np.isfinite(v) & np.isfinite(d)
        ax.plot(v[ok], d[ok], "o-", ms=3, color="C0", label="profile")
        ax.axvspan(
            float(ds["profile_ci_low"][i]),
            float(ds["profile_ci_high"][i]),
            color="C0",
            alpha=0.12,
            label="95 % profile interval",
        )
        lo, hi = float(np.min(v[ok])), float(np.max(v[ok]))
        ymax = max(ymax, min(float(np.max(d[ok])), 6 * CHI2_1))
        if int(ds["profile_flat"][i]) == 1:
            ax.set_title("flat profile: not identifiable", fontsize="medium")
    if np.isfinite(se) and se > 0:
        if i not in _profiled(ds):
            lo, hi = max(lo, best - 4 * se), min(hi, best + 4 * se)
        vv = np.linspace(lo, hi, 200)
        ax.plot(vv, ((vv - best) / se) ** 2, "--", color="C3", label="Fisher (quadratic)")
        for e in (best - 1.959964 * se, best + 1.959964 * se):
            ax.axvline(e, color="C3", lw=0.8, ls=":")
    ax.axhline(CHI2_1, color="0.4", lw=0.8, ls=":", label="Δχ² = 3.84 (95 %)")
    ax.set(xlabel=_label(ds, i), ylabel="Δχ²", ylim=(0, ymax * 1.05))
    if legend:
        ax.legend(frameon=False, fontsize="small")


def _profile_row(ds, fig) -> None:
    idx = _profiled(ds)
    axes = np.atleast_1d(fig.subplots(1, len(idx)))
    for k, (ax, i) in enumerate(zip(axes, idx, strict=True)):
        _profile_panel(ax, ds, i, legend=k == 0)


def plot_profiles(result: Any, *, fig: Figure | None = None) -> Figure:
    """Profile likelihood of each profiled parameter against the Fisher parabola.

    Each panel: ``Delta chi^2 = 2 (cost - cost_min) / sigma^2`` with the other parameters
    re-optimised (dots), the quadratic prediction ``((v - best) / se)^2`` of the Fisher
    information (dashed), the 95 % level 3.84, the profile interval (shaded) and the Fisher
    interval ``best ± 1.96 se`` (dotted). Where the two curves agree, the standard errors can be
    trusted; a flat profile is labelled not identifiable.

    Parameters
    ----------
    result : FitResult or xarray.Dataset
        A fit with at least one profile (:meth:`FitResult.profile` or ``fit(...,
        intervals="profile")``), or its dataset.
    fig : matplotlib.figure.Figure, optional
        Figure to draw into; default a new one, 4 inches wide per parameter.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ds = _dataset(result)
    if not _profiled(ds):
        raise ValueError(
            "plot_profiles: the result holds no profile; call "
            "result.profile(name) or fit(..., intervals='profile') first"
        )
    fig = (
        fig
        if fig is not None
        else Figure(figsize=(4 * len(_profiled(ds)), 3.4), layout="constrained")
    )
    _profile_row(ds, fig)
    return fig


def _ellipse(ds, i: int, j: int, level: float) -> np.ndarray | None:
    """Points ``(2, 200)`` of the ellipse ``d^T C^-1 d = level`` of parameters ``(i, j)``."""
    c = ds["cov"].values[np.ix_([i, j], [i, j])]
    if not np.all(np.isfinite(c)):
        return None
    w, v = np.linalg.eigh(c)
    t = np.linspace(0, 2 * np.pi, 200)
    circle = np.sqrt(level * np.maximum(w, 0))[:, None] * np.array([np.cos(t), np.sin(t)])
    return ds["params"].values[[i, j], None] + v @ circle


def _pair_panel(ax, ds, i: int, j: int) -> None:
    """Parameter ``j`` (x) against ``i`` (y): the Laplace 95 % regions and the profile paths."""
    for level, ls, lab in (
        (CHI2_2, "-", "joint 95 % (Laplace)"),
        (CHI2_1, "--", "Δχ² = 3.84 (Laplace)"),
    ):
        e = _ellipse(ds, j, i, level)
        if e is not None:
            ax.plot(e[0], e[1], ls, color="C3", lw=1, label=lab)
    prof = _profiled(ds)
    if j in prof:
        path = ds["profile_path"].values[j]
        ax.plot(
            path[:, j],
            path[:, i],
            ".-",
            ms=3,
            lw=0.8,
            color="C0",
            label="profile path (others re-optimised)",
        )
    if i in prof:
        path = ds["profile_path"].values[i]
        ax.plot(path[:, j], path[:, i], ".-", ms=3, lw=0.8, color="C2")
    ax.plot(ds["params"].values[j], ds["params"].values[i], "k+", ms=10, label="best fit")
    ax.set(xlabel=_label(ds, j), ylabel=_label(ds, i))


def plot_corner(result: Any, *, fig: Figure | None = None) -> Figure:
    """Corner plot of a fit: profiles on the diagonal, pairwise 95 % regions below it.

    Diagonal: :func:`plot_profiles`' panel of each parameter (the Fisher parabola alone where it
    was not profiled). Below: for each pair, the Laplace (Fisher) ellipses of the joint 95 %
    region (``Delta chi^2 = 5.99``, two parameters) and of ``Delta chi^2 = 3.84``, with the
    paths of the profiles through that plane: where the quadratic approximation holds, the
    profile of a parameter is the straight line through the best fit that meets the 3.84
    ellipse where that parameter is extreme (at ``best ± 1.96 se``); curved paths or paths
    leaving the ellipse show where it does not.

    Parameters
    ----------
    result : FitResult or xarray.Dataset
        A fit (profiles optional) or its dataset.
    fig : matplotlib.figure.Figure, optional
        Figure to draw into; default a new one, 3 inches per parameter each way.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ds = _dataset(result)
    p = ds.sizes["param"]
    fig = fig if fig is not None else Figure(figsize=(3.2 * p + 0.6, 3 * p), layout="constrained")
    ax = np.atleast_2d(fig.subplots(p, p, squeeze=False))
    for i in range(p):
        for j in range(p):
            if j > i:
                ax[i, j].set_visible(False)
            elif j == i:
                _profile_panel(ax[i, i], ds, i, legend=(i == 0))
            else:
                _pair_panel(ax[i, j], ds, i, j)
                if (i, j) == (1, 0):
                    ax[i, j].legend(frameon=False, fontsize="small")
    return fig


def _unit(ds) -> str:
    """``"(units)"`` of the data, without doubled parentheses."""
    u = ds["data"].attrs.get("units", "")
    return f"[{u}]" if "(" in u else f"({u})"


def _time_label(ds) -> str:
    return f"time ({ds['time'].attrs.get('units', 'neural time constants')})"


def _trace_panels(ds, ax) -> None:
    t = ds["time"].values
    ax[0].plot(t, ds["data"].values, ".", ms=3, color="0.4", label="data")
    ax[0].plot(t, ds["fitted"].values, "-", color="C3", label="fit")
    ax[0].set(
        xlabel=_time_label(ds), ylabel=f"{ds.attrs.get('observable', 'observable')} {_unit(ds)}"
    )
    ax[0].legend(frameon=False)
    ax[1].axhline(0, color="0.7", lw=0.8)
    ax[1].plot(t, ds["residual"].values, ".", ms=3, color="C0")
    sig = float(ds.attrs.get("sigma", np.nan))
    ax[1].axhspan(-2 * sig, 2 * sig, color="C0", alpha=0.12, label="± 2 sigma")
    ax[1].set(xlabel=_time_label(ds), ylabel=f"fit - data {_unit(ds)}")
    ax[1].legend(frameon=False, loc="upper right")


def _field_panels(ds, ax) -> None:
    x, t = ds["x"].values, ds["time"].values
    ax[0].plot(x, ds["data"].values[-1], ".", ms=3, color="0.4", label="data")
    ax[0].plot(x, ds["fitted"].values[-1], "-", color="C3", label="fit")
    ax[0].set(xlabel="x (rad)", ylabel=f"{ds.attrs.get('observable')} at t = {t[-1]:g}")
    ax[0].legend(frameon=False)
    r = ds["residual"].values
    lim = float(np.max(np.abs(r))) or 1.0
    im = ax[1].imshow(
        r,
        origin="lower",
        aspect="auto",
        cmap="RdBu_r",
        vmin=-lim,
        vmax=lim,
        extent=(x[0], x[-1], t[0], t[-1]),
    )
    ax[1].set(xlabel="x (rad)", ylabel=_time_label(ds), title="fit - data")
    ax[1].figure.colorbar(im, ax=ax[1])


def _condition_title(ds, c: int) -> str:
    """``"gamma = 2, ..."`` from the coordinates on ``condition`` (or ``condition c``)."""
    parts = [
        f"{n} = {float(v.values[c]):.4g}"
        for n, v in ds.coords.items()
        if v.dims == ("condition",) and n != "condition"
    ]
    return ", ".join(parts) or f"condition {c}"


def _trial_panels(ds, ax) -> None:
    """One panel per condition (trials and fit), then the residuals."""
    field = "x" in ds["data"].dims
    order = ("condition", "trial", "time", *(("x",) if field else ()))
    d, f = (ds[k].transpose(*order).values for k in ("data", "fitted"))
    t = ds["time"].values
    x = ds["x"].values if field else t
    if field:  # profiles at the last frame
        d, f = d[:, :, -1], f[:, :, -1]
    unit = ds["data"].attrs.get("units", "")
    C, K = d.shape[:2]
    for c in range(C):
        a = ax[c]
        if K <= MAX_TRIAL_LINES:
            a.plot(x, d[c].T, "-", lw=0.6, color="0.55")
            a.lines[-1].set_label(f"data ({K} trials)")
        else:
            m, sd = d[c].mean(axis=0), d[c].std(axis=0, ddof=1)
            a.fill_between(x, m - sd, m + sd, color="0.6", alpha=0.3, label="trials: mean ± 1 sd")
            a.plot(x, m, "-", lw=0.8, color="0.4", label=f"mean of {K} trials")
        a.plot(x, f[c, 0], "-", lw=1.8, color="C3", label="fit")
        name = ds.attrs.get("observable", "observable")
        a.set(
            xlabel="x (rad)" if field else _time_label(ds),
            ylabel=f"{name} at t = {t[-1]:g}" if field else f"{name} ({unit})",
            title=_condition_title(ds, c),
        )
    ax[0].legend(frameon=False, fontsize="small")
    r = ds["residual"].values
    ax[-1].axhline(0, color="0.7", lw=0.8)
    if field:
        rms = np.sqrt(
            np.mean(ds["residual"].transpose("time", ...).values.reshape(t.size, -1) ** 2, axis=1)
        )
        ax[-1].plot(t, rms, ".-", ms=3, color="C0", label="rms over trials and x")
    else:
        r = ds["residual"].transpose("condition", "trial", "time").values.reshape(-1, t.size)
        ax[-1].plot(t, r.T, ".", ms=2, color="C0")
    sig = float(ds.attrs.get("sigma", np.nan))
    ax[-1].axhspan(-2 * sig, 2 * sig, color="C0", alpha=0.12, label="± 2 sigma")
    ax[-1].set(xlabel=_time_label(ds), ylabel=f"fit - data ({unit})")
    ax[-1].legend(frameon=False, loc="upper right", fontsize="small")


def _msd_panels(ds, ax) -> None:
    """Observed MSD with its sampling band and the fitted MSD; residuals against 2 sd."""
    t, y, f = ds["time"].values, ds["data"].values, ds["fitted"].values
    sd = ds["data_sd"].values
    n = int(ds["n_trials"]) if "n_trials" in ds else 0
    ax[0].fill_between(t, y - sd, y + sd, color="0.6", alpha=0.3, label="data ± 1 sampling sd")
    ax[0].plot(t, y, ".", ms=4, color="0.3", label=f"data ({n} trials)")
    ax[0].plot(t, f, "-", color="C3", label="fit")
    ax[0].set(xlabel=_time_label(ds), ylabel="MSD (rad^2)")
    ax[0].legend(frameon=False)
    ax[1].axhline(0, color="0.7", lw=0.8)
    ax[1].fill_between(t, -2 * sd, 2 * sd, color="C0", alpha=0.12, label="± 2 sampling sd")
    ax[1].plot(t, ds["residual"].values, ".", ms=3, color="C0")
    ax[1].set(xlabel=_time_label(ds), ylabel="fit - data (rad^2)")
    ax[1].legend(frameon=False, loc="upper left")


def _boundary_panels(ds, ax) -> None:
    """Labelled points and the fitted boundary; the calibration of the probabilities."""
    e = ds["boundary_dprime"]
    names = [d[len("grid_") :] for d in e.dims]
    lab = ds["data"].values.astype(bool)
    a = ax[0]
    xn = names[-1]
    gx = ds[e.dims[-1]].values
    if len(names) == 2:
        yn = names[0]
        gy = ds[e.dims[0]].values
        px, py = ds[xn].values, ds[yn].values
        a.contour(gx, gy, e.values, levels=[0.0], colors="k", linewidths=1.5)
        a.plot([], [], "k-", label="fitted boundary E'(0) = 0")
        ylab = f"{yn} ({ds['grid_' + yn].attrs.get('units', '')})"
        a.set_yscale("log" if _geometric(gy) else "linear")
    else:
        px, py = ds[xn].values, lab.astype(float)
        s = float(ds["params"].sel(param="sharpness"))
        a.plot(
            gx,
            1.0 / (1.0 + np.exp(np.clip(s * e.values, -700, 700))),
            "-",
            color="k",
            label="fitted P(drifting)",
        )
        ylab = "drifting (1) or stable (0)"
    a.plot(px[~lab], py[~lab], "o", ms=4, mfc="none", color="C0", label="stable")
    a.plot(px[lab], py[lab], "x", ms=4, color="C3", label="drifting")
    a.set_xscale("log" if _geometric(gx) else "linear")
    a.xaxis.set_minor_formatter(NullFormatter())
    a.set(xlabel=f"{xn} ({ds[e.dims[-1]].attrs.get('units', '')})", ylabel=ylab)
    a.legend(frameon=False, fontsize="small")
    p = ds["fitted"].values
    edges = np.linspace(0.0, 1.0, 6)
    k = np.clip(np.digitize(p, edges) - 1, 0, 4)
    use = np.bincount(k, minlength=5) > 0
    pred = np.bincount(k, weights=p, minlength=5)[use] / np.bincount(k, minlength=5)[use]
    seen = np.bincount(k, weights=lab, minlength=5)[use] / np.bincount(k, minlength=5)[use]
    ax[1].plot([0, 1], [0, 1], ":", color="0.5", label="perfect calibration")
    ax[1].plot(pred, seen, "o-", color="C0", label="points in 5 bins")
    ax[1].set(
        xlabel="predicted P(drifting)",
        ylabel="fraction observed drifting",
        xlim=(0, 1),
        ylim=(-0.02, 1.02),
    )
    ax[1].legend(frameon=False, fontsize="small")


def _geometric(v: np.ndarray) -> bool:
    """Whether grid values ``v`` are evenly spaced in log (as the boundary grid makes them)."""
    return bool(v.size > 2 and v[0] > 0 and np.allclose(np.diff(np.log(v)), np.log(v[1] / v[0])))
