"""Drift stability of the wide bump: verdicts, boundaries and analytic phase maps.

Two independent methods are reported side by side:

* **Evans** — the sign of ``E'(0)`` (:func:`astrofield.evans.evans_dprime`). ``E(0) = 0`` always
  and ``E ~ lambda^2`` for large real ``lambda``, so ``E'(0) < 0`` means a real positive eigenvalue
  (drift instability); ``E'(0) > 0`` is the stable side and ``E(0) = E'(0) = 0`` the boundary.
* **Fourier** — the 6 x 6 first-mode truncation (:mod:`astrofield.theory.fourier`)
  with the shift-mode
  eigenvector filter: unstable if a kept eigenvalue has real part ``> 1e-11``.

Disagreements are flagged (they occur only in thin slivers near the boundary, where the truncation
shifts the critical ``beta``). Boundaries (``beta*`` along ``beta`` at fixed ``gamma, D``, or
``gamma*`` along ``gamma`` at fixed ``beta, D``) are found by :func:`scipy.optimize.brentq` on
``E'(0)`` (Evans) and on ``p'(0)`` of the truncation's characteristic polynomial (Fourier), after
bracketing every sign change on a dense grid.

Reference: Palmer, Cihak, Avitabile, Kilpatrick, "Astrocytic resource diffusion stabilizes
persistent activity in neural fields", arXiv:2604.10036 (2026).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import brentq

from astrofield._validate import check_int, check_range
from astrofield._version import __version__
from astrofield.io import save
from astrofield.theory import fourier as _fourier
from astrofield.theory.bump import bump_branches, fold, stationary_bumps
from astrofield.theory.evans import _dprime_cauchy, evans_dprime

__all__ = [
    "stability",
    "boundary",
    "beta_star",
    "gamma_star",
    "stability_map",
    "write_netcdf",
    "plot_map",
    "plot_figure2",
]

_NAMES = ("theta", "beta", "gamma", "D")


def _validate(theta, beta, gamma, D):
    return (check_range("theta", theta, 0.0, 1.0, lo_open=True, hi_open=True),
            check_range("beta", beta, 0.0, np.inf, hi_open=True),
            check_range("gamma", gamma, 0.0, np.inf, lo_open=True, hi_open=True),
            check_range("D", D, 0.0, np.inf, lo_open=True, allow_inf=True))


def _beta_positive(beta) -> None:
    """E'(0) needs depletion: at beta = 0 the resource perturbations are neutral (E has a
    degenerate zero at 0), so the Evans derivative would be 0/0."""
    if np.any(np.asarray(beta, dtype=float) == 0):
        raise ValueError("beta = 0 is outside the allowed range (0, inf) of the stability "
                         "analysis: without depletion E'(0) is undefined (0/0)")


def _fourier_any(Delta, c0, beta, gamma, D):
    """Fourier verdict for arrays in which ``D`` may mix finite values and ``inf``."""
    Delta, c0, beta, gamma, D = np.broadcast_arrays(Delta, c0, beta, gamma, D)
    ok = np.isfinite(Delta)
    stable = np.zeros(Delta.shape, bool)
    max_real = np.full(Delta.shape, np.nan)
    dprime = np.full(Delta.shape, np.nan)
    for sel in (ok & np.isfinite(D), ok & ~np.isfinite(D)):
        if not sel.any():
            continue
        w, kept, Z = _fourier._spectrum_core(Delta[sel], c0[sel], beta[sel], gamma[sel], D[sel])
        mr = np.max(np.where(kept, w.real, -np.inf), axis=-1)
        max_real[sel] = mr
        stable[sel] = ~(mr > _fourier.UNSTABLE_TOL)
        dprime[sel] = _fourier._dprime_core(Z)
    return stable, max_real, dprime


def _evaluate(theta, beta, gamma, D, branch="wide") -> dict[str, np.ndarray]:
    br = bump_branches(theta, beta, gamma)
    q = br[branch]
    th, be, ga = br["theta"], br["beta"], br["gamma"]
    Delta, c0, ex = np.broadcast_arrays(q["Delta"], q["c0"], q["exists"])
    Dd = np.broadcast_to(np.asarray(D, dtype=float), np.broadcast_shapes(Delta.shape, np.shape(D)))
    Delta, c0, be, ga, Dd, ex, th = np.broadcast_arrays(Delta, c0, be, ga, Dd, ex, th)
    ed = np.full(Delta.shape, np.nan)
    if ex.any():
        ed[ex] = _dprime_cauchy(Delta[ex], c0[ex], be[ex], ga[ex], Dd[ex])
    bad = ex & ~np.isfinite(ed)
    if bad.any():  # never a silent NaN verdict (e.g. beta so small that the resource underflows)
        i = np.flatnonzero(bad.ravel())[0]
        raise ValueError(f"E'(0) is not finite at theta = {th.ravel()[i]:g}, beta = "
                         f"{be.ravel()[i]:g}, gamma = {ga.ravel()[i]:g}, D = {Dd.ravel()[i]:g}; "
                         "beta is below what the Evans computation resolves")
    fs, fmr, fdp = _fourier_any(np.where(ex, Delta, np.nan), c0, be, ga, Dd)
    es = ex & (ed > 0)
    fs = fs & ex
    return {"exists": ex, "Delta": np.where(ex, Delta, np.nan), "c0": np.where(ex, c0, np.nan),
            "A0": np.where(ex, Delta * (1 - c0) / np.pi, np.nan),
            "beta_max": np.broadcast_to(br["beta_max"], Delta.shape),
            "evans_dprime": ed, "evans_stable": es, "fourier_stable": fs,
            "fourier_max_real": fmr, "fourier_dprime": fdp, "disagree": ex & (es != fs)}


def stability(theta: Any, beta: Any, gamma: Any, D: Any,
              branch: str = "wide", tau: float = 1.0) -> dict[str, np.ndarray]:
    """Stability verdicts for broadcastable parameter arrays (``D = inf`` allowed).

    ``tau`` (the resource time scale) enters exactly through a rescaling: the stationary bump
    depends on ``beta / gamma`` only, and dividing the resource equations by ``tau`` shows that
    the linearisation with ``(beta, gamma, D, tau)`` is the ``tau = 1`` linearisation with
    ``(beta / tau, gamma / tau, D / tau)``. (Checked against the simulator in
    ``tests/test_theory_vs_simulation.py``.)

    Returns
    -------
    dict of arrays
        ``exists, Delta, c0, A0, beta_max, evans_dprime, evans_stable, fourier_stable,
        fourier_max_real, fourier_dprime, disagree`` (``NaN``/``False`` where no bump exists).
    """
    if branch not in ("wide", "narrow"):
        raise ValueError(f"branch = {branch!r} is not one of ('wide', 'narrow')")
    _validate(theta, beta, gamma, D)
    _beta_positive(beta)
    tau = float(check_range("tau", tau, 0.0, np.inf, lo_open=True))
    if tau == 1.0:
        return _evaluate(theta, beta, gamma, D, branch)
    out = _evaluate(theta, np.asarray(beta, float) / tau, np.asarray(gamma, float) / tau,
                    np.asarray(D, float) / tau, branch)
    out["beta_max"] = out["beta_max"] * tau
    return out


# --------------------------------------------------------------------------------------------
# boundaries
# --------------------------------------------------------------------------------------------

def _indicator(method: str):
    if method == "evans":
        return lambda th, be, ga, D: evans_dprime(th, be, ga, D)
    if method == "fourier":
        return lambda th, be, ga, D: _fourier.fourier_dprime(th, be, ga, D)
    raise ValueError(f"method = {method!r} is not one of ('evans', 'fourier')")


def boundary(vary: str, theta: float, D: float, *, gamma: float | None = None,
             beta: float | None = None, lo: float | None = None, hi: float | None = None,
             method: str = "evans", n_scan: int = 400, xtol: float = 1e-13) -> np.ndarray:
    """Stability boundary along one parameter line, by bracketing + :func:`scipy.optimize.brentq`.

    Parameters
    ----------
    vary
        ``"beta"`` (``gamma`` fixed) or ``"gamma"`` (``beta`` fixed).
    theta, D
        Fixed threshold and diffusion (``D = inf`` allowed).
    gamma, beta
        The fixed one of the two.
    lo, hi
        Search interval. Defaults: ``beta`` in ``(1e-6, beta_max)``; ``gamma`` in
        ``(gamma_min, 20)`` with ``gamma_min = beta / (beta_max(theta, 1))`` where the bump is born.
    method
        ``"evans"`` (zeros of ``E'(0)``) or ``"fourier"`` (zeros of the truncation's ``p'(0)``,
        i.e. where its largest kept real eigenvalue crosses 0).
    n_scan
        Points of the (log-spaced) bracketing scan.

    Returns
    -------
    numpy.ndarray
        All crossings in the interval, ascending (empty if none).
    """
    if vary not in ("beta", "gamma"):
        raise ValueError(f"vary = {vary!r} is not one of ('beta', 'gamma')")
    n_scan = check_int("n_scan", n_scan, 10)
    fixed = gamma if vary == "beta" else beta
    if fixed is None:
        raise ValueError(f"boundary along {vary} needs {'gamma' if vary == 'beta' else 'beta'}")
    th, _, _, Dv = _validate(theta, 0.0, 1.0, D)
    th, Dv = float(th), float(Dv)
    fun = _indicator(method)
    bmax_unit = float(fold(th, 1.0)[0])
    if vary == "beta":
        ga = float(check_range("gamma", gamma, 0.0, np.inf, lo_open=True, hi_open=True))
        lo = 1e-6 if lo is None else lo
        hi = ga * bmax_unit * (1 - 1e-9) if hi is None else min(hi, ga * bmax_unit * (1 - 1e-9))

        def f(x):
            return fun(th, x, ga, Dv)
    else:
        be = float(check_range("beta", beta, 0.0, np.inf, lo_open=True, hi_open=True))
        lo = be / bmax_unit * (1 + 1e-9) if lo is None else max(lo, be / bmax_unit * (1 + 1e-9))
        hi = 20.0 if hi is None else hi

        def f(x):
            return fun(th, be, x, Dv)
    lo = float(check_range("lo", lo, 0.0, np.inf, lo_open=True, hi_open=True))
    hi = float(check_range("hi", hi, lo, np.inf, lo_open=True, hi_open=True))
    xs = np.geomspace(lo, hi, n_scan)
    vals = f(xs)
    sgn = np.sign(vals)
    roots = []
    for i in np.nonzero(sgn[:-1] * sgn[1:] < 0)[0]:
        roots.append(brentq(lambda x: float(f(x)), xs[i], xs[i + 1], xtol=xtol, rtol=1e-14))
    roots += [float(x) for x in xs[vals == 0]]
    return np.array(sorted(roots))


def beta_star(theta: float, gamma: float, D: float, method: str = "evans", **kw) -> float:
    """First stability boundary ``beta*`` along ``beta`` (``NaN`` if none): stable below it."""
    r = boundary("beta", theta, D, gamma=gamma, method=method, **kw)
    return float(r[0]) if r.size else float("nan")


def gamma_star(theta: float, beta: float, D: float, method: str = "evans", **kw) -> float:
    """First stability boundary ``gamma*`` along ``gamma`` (``NaN`` if none): stable above it."""
    r = boundary("gamma", theta, D, beta=beta, method=method, **kw)
    return float(r[0]) if r.size else float("nan")


# --------------------------------------------------------------------------------------------
# phase maps
# --------------------------------------------------------------------------------------------

def stability_map(theta: Any = 0.1, beta: Any = 0.05, gamma: Any = 2.0, D: Any = 1.0,
                  branch: str = "wide") -> xr.Dataset:
    """Analytic phase map over every parameter given as a 1-D array (outer product).

    Parameters
    ----------
    theta, beta, gamma, D
        Scalars or 1-D arrays; each array becomes a dimension (in the order theta, beta, gamma,
        D). ``D`` may contain ``inf``.
    branch
        Bump branch (default ``"wide"``).

    Returns
    -------
    xarray.Dataset
        Variables ``evans_dprime, evans_stable, fourier_stable, fourier_max_real,
        fourier_dprime, exists, Delta, c0, A0, beta_max, disagree``; the swept parameters are
        coordinates, scalar parameters and ``astrofield_version`` are attrs. Points past the fold
        have ``exists = False`` and ``NaN`` values.
    """
    vals = dict(zip(_NAMES, _validate(theta, beta, gamma, D), strict=True))
    _beta_positive(beta)
    if branch not in ("wide", "narrow"):
        raise ValueError(f"branch = {branch!r} is not one of ('wide', 'narrow')")
    dims = []
    for name, v in vals.items():
        if v.ndim > 1:
            raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {v.shape}")
        if v.ndim == 1:
            dims.append(name)
    grids = np.meshgrid(*(vals[d] for d in dims), indexing="ij") if dims else []
    args = {n: (grids[dims.index(n)] if n in dims else vals[n]) for n in _NAMES}
    res = _evaluate(args["theta"], args["beta"], args["gamma"], args["D"], branch)
    shape = tuple(vals[d].size for d in dims)
    data = {k: (dims, np.broadcast_to(v, shape).copy()) for k, v in res.items()}
    ds = xr.Dataset(data, coords={d: vals[d] for d in dims})
    units = {"evans_dprime": "E'(0), > 0 stable", "Delta": "rad", "c0": "1", "A0": "1"}
    for k, u in units.items():
        ds[k].attrs["description"] = u
    ds.attrs.update({n: float(vals[n]) for n in _NAMES if n not in dims})
    ds.attrs.update({"branch": branch, "astrofield_version": __version__,
                     "method": "Evans E'(0) (Cauchy integral) and 6x6 Fourier truncation",
                     "reference": "Palmer, Cihak, Avitabile, Kilpatrick, arXiv:2604.10036"})
    return ds


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike) -> None:
    """Write ``ds`` to NetCDF atomically (:func:`astrofield.io.save`; booleans round-trip)."""
    save(ds, path)


def plot_map(ds: xr.Dataset, fig=None):
    """Plot ``E'(0)`` with the Evans (black) and Fourier (red dashed) boundaries of a 2-D map."""
    import matplotlib
    import matplotlib.pyplot as plt

    dims = list(ds["evans_dprime"].dims)
    if len(dims) != 2:
        raise ValueError(f"plot_map needs a 2-D map, got dims {dims}")
    ydim, xdim = dims
    fig = fig or plt.figure(figsize=(6, 4.5))
    ax = fig.add_subplot(111)
    x, y = ds[xdim].values, ds[ydim].values
    z = ds["evans_dprime"].values
    lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    norm = matplotlib.colors.SymLogNorm(linthresh=1e-2 * max(lim, 1e-300), vmin=-lim, vmax=lim)
    pc = ax.pcolormesh(x, y, z, cmap="RdBu", norm=norm, shading="auto")
    fig.colorbar(pc, ax=ax, label="E'(0)  (> 0 stable)")
    if np.isfinite(z).any() and np.nanmin(z) < 0 < np.nanmax(z):
        ax.contour(x, y, z, levels=[0.0], colors="k")
    fz = ds["fourier_dprime"].values
    if np.isfinite(fz).any() and np.nanmin(fz) < 0 < np.nanmax(fz):
        ax.contour(x, y, fz, levels=[0.0], colors="r", linestyles="--")
    ax.set_xlabel(xdim)
    ax.set_ylabel(ydim)
    ax.set_title("E'(0); boundaries: Evans (black), Fourier (red dashed)", fontsize=10)
    return fig


def plot_figure2(outdir: str | os.PathLike | None = None, fig=None, *, D: float = 0.3,
                 gamma: float = 2.0, n: int = 400):
    """Existence/stability diagram (the paper's Figure 2).

    (a) Bump profiles ``U, Q, A`` for ``theta = 0.03, beta = 0.3, gamma = 2`` (wide branch; the
    profile does not depend on ``D``). (b) ``Delta`` against ``beta`` (log axis) for
    ``theta = 0.03`` and ``0.3`` at ``gamma = 2``, ``D = 0.3``: narrow branch dashed, wide branch
    solid where ``E'(0) > 0`` (stable) and dashed where drift-unstable.

    Returns
    -------
    fig, data
        The matplotlib Figure and an ``xr.Dataset`` with the plotted data. If ``outdir`` is
        given, ``figure2.png`` and ``figure2.nc`` are written there.
    """

    import matplotlib.pyplot as plt

    n = check_int("n", n, 20)
    check_range("D", D, 0.0, np.inf, lo_open=True, allow_inf=True)
    fig = fig or plt.figure(figsize=(10, 4))
    ax_a, ax_b = fig.subplots(1, 2)
    bump = stationary_bumps(0.03, 0.3, gamma)[0]
    x = np.linspace(-np.pi, np.pi, 1001)
    ax_a.plot(x, bump.U(x), label="U")
    ax_a.plot(x, bump.Q(x), label="Q")
    ax_a.plot(x, bump.A(x), label="A")
    ax_a.axhline(0.03, color="gray", lw=0.5, ls=":")
    ax_a.set_xlabel("x")
    ax_a.set_title(rf"(a) $\theta$=0.03, $\beta$=0.3, $\gamma$={gamma:g}")
    ax_a.legend()
    data = {"x": x, "U": ("x", bump.U(x)), "Q": ("x", bump.Q(x)), "A": ("x", bump.A(x))}
    colors = {0.03: "C0", 0.3: "C3"}
    for th in (0.03, 0.3):
        bmax = float(fold(th, gamma)[0])
        b = np.geomspace(1e-3, bmax, n)
        b[-1] = bmax
        br = bump_branches(th, b, gamma)
        dn, dw = br["narrow"]["Delta"], br["wide"]["Delta"]
        ed = _dprime_cauchy(dw, br["wide"]["c0"], b, np.full(n, float(gamma)),
                            np.full(n, float(D)))
        ax_b.semilogx(b, dn, "--", color=colors[th], lw=1)
        ax_b.semilogx(b, np.where(ed > 0, dw, np.nan), "-", color=colors[th],
                      label=rf"$\theta$={th:g}")
        un = ~(ed > 0)
        un[1:] |= un[:-1]  # join the dashed part to the solid one
        ax_b.semilogx(b, np.where(un, dw, np.nan), "--", color=colors[th], lw=2)
        tag = f"{th:g}".replace(".", "p")
        data[f"beta_{tag}"] = (f"s_{tag}", b)
        data[f"Delta_wide_{tag}"] = (f"s_{tag}", dw)
        data[f"Delta_narrow_{tag}"] = (f"s_{tag}", dn)
        data[f"evans_dprime_{tag}"] = (f"s_{tag}", ed)
        data[f"wide_stable_{tag}"] = (f"s_{tag}", ed > 0)
    ax_b.set_xlabel(r"$\beta$")
    ax_b.set_ylabel(r"$\Delta$")
    ax_b.set_xlim(1e-3, None)
    ax_b.set_title(rf"(b) $\gamma$={gamma:g}, D={D:g}: solid stable, dashed unstable")
    ax_b.legend()
    fig.tight_layout()
    ds = xr.Dataset(data)
    ds.attrs.update({"gamma": float(gamma), "D": float(D), "astrofield_version": __version__,
                     "panel_a": "theta=0.03, beta=0.3 wide bump",
                     "panel_b": "existence curve, wide stability from sign of E'(0)"})
    if outdir is not None:
        os.makedirs(outdir, exist_ok=True)
        fig.savefig(os.path.join(outdir, "figure2.png"), dpi=120)
        write_netcdf(ds, os.path.join(outdir, "figure2.nc"))
    return fig, ds
