"""Drift stability of the wide bump: verdicts, boundaries and analytic phase maps.

Two independent methods are reported side by side, with the same rule:

* **Evans** — the bump is stable when the Evans function ``E`` has no real zero ``lambda > 0``
  (translation zero excluded), counted by
  :func:`astrofield.theory.evans.count_unstable_zeros` (argument principle on
  ``E(lambda)/lambda`` over a rectangle that provably holds all unstable zeros at ``D = inf``,
  plus real-axis sign changes). ``E'(0)`` (:func:`astrofield.theory.evans.evans_dprime`) is
  reported too: ``E(0) = 0`` and ``E ~ lambda^2``, so ``E'(0) < 0`` means an odd number of real
  unstable zeros, but ``E'(0) > 0`` allows two (this happens near the fold at large ``D``).
  Complex zeros in the right half-plane are counted and reported but are formal (the
  linearisation assumes one sign of edge motion); see ``docs/verdicts.md``.
* **Fourier** — the 6 x 6 first-mode truncation (:mod:`astrofield.theory.fourier`) with the
  shift-mode eigenvector filter: unstable if a kept eigenvalue is real and ``> 1e-11``.

Disagreements are flagged. Boundaries along ``beta`` (fixed ``gamma, D``) or ``gamma`` (fixed
``beta, D``) are every parameter value where the number of unstable real zeros changes: roots of
``E'(0)`` (a real zero through 0, :func:`scipy.optimize.brentq`) and points where a complex pair
lands on the real axis (multisection on the count), bracketed on a dense scan.

Reference: Palmer, Cihak, Avitabile, Kilpatrick, "Astrocytic resource diffusion stabilizes
persistent activity in neural fields", arXiv:2604.10036 (2026).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from scipy.optimize import brentq

from astrofield._validate import check_int, check_range
from astrofield._version import __version__
from astrofield.theory import fourier as _fourier
from astrofield.theory.bump import bump_branches, fold, stationary_bumps
from astrofield.theory.evans import _dprime_cauchy, count_unstable_zeros, evans_dprime

__all__ = [
    "stability",
    "boundary",
    "beta_star",
    "gamma_star",
    "stability_map",
    "figure2_data",
]

_NAMES = ("theta", "beta", "gamma", "D")


def _validate(theta, beta, gamma, D):
    return (check_range("theta", theta, 0.0, 1.0, lo_open=True, hi_open=True),
            check_range("beta", beta, 0.0, np.inf, hi_open=True),
            check_range("gamma", gamma, 0.0, np.inf, lo_open=True, hi_open=True),
            check_range("D", D, 0.0, np.inf, lo_open=True, allow_inf=True))


def _fourier_any(Delta, c0, beta, gamma, D):
    """Fourier verdict for arrays in which ``D`` may mix finite values and ``inf``."""
    Delta, c0, beta, gamma, D = np.broadcast_arrays(Delta, c0, beta, gamma, D)
    ok = np.isfinite(Delta)
    n_real = np.full(Delta.shape, -1)
    max_real = np.full(Delta.shape, np.nan)
    dprime = np.full(Delta.shape, np.nan)
    for sel in (ok & np.isfinite(D), ok & ~np.isfinite(D)):
        if not sel.any():
            continue
        w, kept, Z = _fourier._spectrum_core(Delta[sel], c0[sel], beta[sel], gamma[sel], D[sel])
        max_real[sel] = np.max(np.where(kept, w.real, -np.inf), axis=-1)
        n_real[sel] = _fourier.real_unstable_count(w, kept)
        dprime[sel] = _fourier._dprime_core(Z)
    return n_real == 0, n_real, max_real, dprime


def _refuse_nonfinite(ed, ex, th, be, ga, Dd) -> None:
    bad = ex & ~np.isfinite(ed)
    if bad.any():
        i = np.unravel_index(np.argmax(bad), bad.shape)
        raise ValueError(
            f"E'(0) is not finite at theta = {th[i]:g}, beta = {be[i]:g}, gamma = {ga[i]:g}, "
            f"D = {Dd[i]:g}: the Cauchy circle (half the distance to the nearest singularity of "
            "E) is too small for floating point there; no verdict is given")


def _evaluate(theta, beta, gamma, D, branch="wide") -> dict[str, np.ndarray]:
    br = bump_branches(theta, beta, gamma)
    q = br[branch]
    th, be, ga = br["theta"], br["beta"], br["gamma"]
    Delta, c0, ex = np.broadcast_arrays(q["Delta"], q["c0"], q["exists"])
    Dd = np.broadcast_to(np.asarray(D, dtype=float), np.broadcast_shapes(Delta.shape, np.shape(D)))
    Delta, c0, be, ga, Dd, ex, th = np.broadcast_arrays(Delta, c0, be, ga, Dd, ex, th)
    ed = np.full(Delta.shape, np.nan)
    cnt = {k: np.full(Delta.shape, np.nan) for k in ("n_real", "n_complex", "lam_real")}
    ok = np.zeros(Delta.shape, bool)
    if ex.any():
        ed[ex] = _dprime_cauchy(Delta[ex], c0[ex], be[ex], ga[ex], Dd[ex])
        _refuse_nonfinite(ed, ex, th, be, ga, Dd)
        r = count_unstable_zeros(Delta[ex], c0[ex], be[ex], ga[ex], Dd[ex], ed[ex])
        for k in cnt:
            cnt[k][ex] = r[k]
        ok[ex] = r["ok"]
    if np.any(ex & ~ok):
        warnings.warn(f"{int(np.sum(ex & ~ok))} point(s): the zeros of E in the right half-plane "
                      "could not be counted reliably (a zero on or very near the imaginary "
                      "axis); evans_stable is False and the counts are NaN there",
                      RuntimeWarning, stacklevel=3)
    fs, fn, fmr, fdp = _fourier_any(np.where(ex, Delta, np.nan), c0, be, ga, Dd)
    es = ex & ok & (cnt["n_real"] == 0)
    fs = fs & ex
    return {"exists": ex, "Delta": np.where(ex, Delta, np.nan), "c0": np.where(ex, c0, np.nan),
            "A0": np.where(ex, Delta * (1 - c0) / np.pi, np.nan),
            "beta_max": np.broadcast_to(br["beta_max"], Delta.shape),
            "evans_dprime": ed, "evans_n_real": cnt["n_real"],
            "evans_n_complex": cnt["n_complex"], "evans_growth_rate": cnt["lam_real"],
            "evans_stable": es, "fourier_stable": fs, "fourier_n_real": np.where(ex, fn, -1),
            "fourier_max_real": fmr, "fourier_dprime": fdp, "disagree": ex & (es != fs)}


def stability(theta: ArrayLike, beta: ArrayLike, gamma: ArrayLike, D: ArrayLike, *,
              tau: float = 1.0, branch: str = "wide") -> dict[str, np.ndarray]:
    """Drift-stability verdicts for broadcastable parameter arrays (``D = inf`` allowed).

    Parameters
    ----------
    theta, beta, gamma, D
        Threshold, depletion and replenishment rates (per unit time) and astrocytic diffusion
        (rad^2 per unit time; ``inf`` for the well-mixed limit). Broadcast together.
    tau
        Resource time scale. It enters exactly through a rescaling: the stationary bump depends
        on ``beta / gamma`` only, and dividing the resource equations by ``tau`` shows that the
        linearisation with ``(beta, gamma, D, tau)`` is the ``tau = 1`` linearisation with
        ``(beta / tau, gamma / tau, D / tau)``.
    branch
        ``"wide"`` (default) or ``"narrow"`` (shift class only, see the theory notes).

    Returns
    -------
    dict of arrays
        ``evans_stable``: no real zero of ``E`` with ``lambda > 0`` (translation zero excluded),
        counted with :func:`astrofield.theory.evans.count_unstable_zeros`;
        ``evans_n_real``, ``evans_n_complex`` (zeros in ``Re lambda >= 0``, the complex ones
        are formal: see ``docs/verdicts.md``), ``evans_growth_rate`` (largest real zero, per unit
        time), ``evans_dprime`` (``E'(0)``; ``< 0`` implies an odd number of real zeros);
        ``fourier_stable``, ``fourier_n_real``, ``fourier_max_real``, ``fourier_dprime`` (6 x 6
        truncation, same rule); ``disagree``; bump data ``exists, Delta, c0, A0, beta_max``.
        ``NaN``/``False`` where no bump exists.

    Raises
    ------
    ValueError
        For parameters outside their ranges, or where ``E'(0)`` cannot be computed finitely.
    """
    if branch not in ("wide", "narrow"):
        raise ValueError(f"branch = {branch!r} is not one of ('wide', 'narrow')")
    _validate(theta, beta, gamma, D)
    tau = float(check_range("tau", tau, 0.0, np.inf, lo_open=True, hi_open=True))
    if tau == 1.0:
        return _evaluate(theta, beta, gamma, D, branch)
    out = _evaluate(theta, np.asarray(beta, float) / tau, np.asarray(gamma, float) / tau,
                    np.asarray(D, float) / tau, branch)
    out["beta_max"] = out["beta_max"] * tau
    return out


# --------------------------------------------------------------------------------------------
# boundaries
# --------------------------------------------------------------------------------------------

_BETA_MIN = 1e-10
_GAMMA_MAX = 1e6


def _line(vary, th, fixed, Dv, tau, method):
    """``evaluate(x, smooth_only=False) -> (count, smooth)`` along a parameter line: the
    unstable real-zero count and the smooth indicator whose sign change marks a real zero
    crossing 0 (``E'(0)`` or the truncation's ``p'(0)``)."""

    def args(x):
        x = np.asarray(x, dtype=float)
        be, ga = (x, fixed) if vary == "beta" else (fixed, x)
        return th, be / tau, np.broadcast_to(ga / tau, x.shape), Dv / tau

    def evaluate(x, smooth_only=False):
        t, be, ga, D = args(x)
        if method == "fourier":
            if smooth_only:
                return None, _fourier.fourier_dprime(t, be, ga, D)
            r = _fourier.fourier_stability(t, be, ga, D)
            return r["n_real"].astype(float), r["dprime"]
        dp = evans_dprime(t, be, ga, D)
        if smooth_only:
            return None, dp
        br = bump_branches(t, be, ga)["wide"]
        r = count_unstable_zeros(br["Delta"], br["c0"], be, ga, D, dp, growth=False)
        return r["n_real"], dp

    return evaluate


def _search_range(vary, th, fixed, lo, hi):
    bmax_unit = float(fold(th, 1.0)[0])
    if vary == "beta":
        top = fixed * bmax_unit
        lo = _BETA_MIN if lo is None else lo
        hi = top if hi is None else hi
        lo = float(check_range("lo", lo, _BETA_MIN, top, hi_open=True))
        hi = float(check_range("hi", hi, lo, top, lo_open=True))
        # at the fold itself E'(0) = 0 (the branches meet): stop just short of it
        hi = min(hi, top * (1 - 1e-9))
    else:
        bottom = fixed / bmax_unit
        lo = bottom if lo is None else lo
        hi = 20.0 if hi is None else hi
        lo = float(check_range("lo", lo, bottom, _GAMMA_MAX, hi_open=True))
        lo = max(lo, bottom * (1 + 1e-9))
        hi = float(check_range("hi", hi, lo, _GAMMA_MAX, lo_open=True))
    return lo, hi


def _refine_crossing(evaluate, a, b, ca, xtol, smooth_root: bool):
    """Locate the change of the unstable count between ``a`` and ``b`` (count ``ca`` at ``a``)."""
    if smooth_root:  # a real zero passes through 0: root of the smooth indicator
        return brentq(lambda x: float(evaluate(np.array([x]), smooth_only=True)[1][0]), a, b,
                      xtol=xtol, rtol=1e-14)
    # a complex pair lands on the real axis: multisection on the count itself
    for _ in range(60):
        if b - a <= xtol + 1e-14 * b:
            break
        xs = np.linspace(a, b, 18)[1:-1]
        same = evaluate(xs)[0] == ca
        k = int(np.argmin(same)) if not same.all() else xs.size
        a, b = (xs[k - 1] if k > 0 else a), (xs[k] if k < xs.size else b)
    return 0.5 * (a + b)


def boundary(vary: str, *, theta: float | None = None, beta: float | None = None,
             gamma: float | None = None, D: float | None = None, tau: float = 1.0,
             lo: float | None = None, hi: float | None = None, method: str = "evans",
             n_scan: int = 400, xtol: float = 1e-13) -> np.ndarray:
    """Every stability boundary along one parameter line.

    A crossing is a parameter value where the number of unstable real zeros changes: either a
    real zero passes through ``lambda = 0`` (a root of ``E'(0)``, located by
    :func:`scipy.optimize.brentq`) or two complex zeros meet on the positive real axis (the count
    jumps by two; located by bisection on the count).

    Parameters
    ----------
    vary
        ``"beta"`` (``gamma`` fixed) or ``"gamma"`` (``beta`` fixed).
    theta, beta, gamma, D, tau
        Threshold (dimensionless), depletion and replenishment rates (per unit time),
        astrocytic diffusion (rad^2 per unit time) and resource time scale. Keyword-only, in
        this order; the varied one of ``beta``/``gamma`` is left out.
    lo, hi
        Search interval. ``beta`` in ``[1e-10, beta_max)`` (default: all of it), ``gamma`` in
        ``(gamma_min, 1e6]`` (default ``(gamma_min, 20)``; ``gamma_min`` is where the bump is
        born). Values outside raise ``ValueError``.
    method
        ``"evans"`` (zeros of ``E``) or ``"fourier"`` (eigenvalues of the 6 x 6 truncation).
    n_scan
        Points of the log-spaced scan that brackets the crossings.
    xtol
        Absolute tolerance of the located crossings (units of the varied rate, per unit time).

    Returns
    -------
    numpy.ndarray
        All crossings in the interval, ascending (empty if none). Crossings closer together than
        the scan spacing can be missed.
    """
    if vary not in ("beta", "gamma"):
        raise ValueError(f"vary = {vary!r} is not one of ('beta', 'gamma')")
    if method not in ("evans", "fourier"):
        raise ValueError(f"method = {method!r} is not one of ('evans', 'fourier')")
    if theta is None or D is None:
        raise ValueError("boundary needs theta and D")
    n_scan = check_int("n_scan", n_scan, 10)
    fixed = gamma if vary == "beta" else beta
    other = "gamma" if vary == "beta" else "beta"
    if fixed is None:
        raise ValueError(f"boundary along {vary} needs {other}")
    th, _, _, Dv = _validate(theta, 0.0, 1.0, D)
    fixed = float(check_range(other, fixed, 0.0, np.inf, lo_open=True, hi_open=True))
    tau = float(check_range("tau", tau, 0.0, np.inf, lo_open=True, hi_open=True))
    th, Dv = float(th), float(Dv)
    lo, hi = _search_range(vary, th, fixed, lo, hi)
    evaluate = _line(vary, th, fixed, Dv, tau, method)
    xs = np.geomspace(lo, hi, n_scan)
    counts, smooth = evaluate(xs)
    if not (np.all(np.isfinite(counts)) and np.all(np.isfinite(smooth))):
        i = int(np.argmax(~(np.isfinite(counts) & np.isfinite(smooth))))
        raise ValueError(f"the {method} verdict is not defined at {vary} = {xs[i]:g} in the "
                         f"search interval [{lo:g}, {hi:g}]; narrow it")
    roots = []
    for i in np.nonzero((counts[:-1] != counts[1:]) | (smooth[:-1] * smooth[1:] < 0))[0]:
        through0 = smooth[i] * smooth[i + 1] < 0
        roots.append(_refine_crossing(evaluate, xs[i], xs[i + 1], counts[i], xtol, through0))
    return np.array(sorted(roots))


def beta_star(theta: float, gamma: float, D: float, *, tau: float = 1.0,
              method: str = "evans", **kw) -> np.ndarray:
    """Every stability boundary ``beta*`` along ``beta`` at fixed ``gamma, D``.

    Parameters
    ----------
    theta
        Firing threshold (dimensionless).
    gamma
        Synaptic replenishment rate (per unit time).
    D
        Astrocytic diffusion (rad^2 per unit time; ``inf`` allowed).
    tau
        Resource time scale (in units of the membrane time constant); see
        :func:`astrofield.theory.stability.stability`.
    method
        ``"evans"`` (zeros of ``E``) or ``"fourier"`` (eigenvalues of the 6 x 6 truncation).
    **kw
        Passed to :func:`boundary` (``lo``, ``hi``, ``n_scan``, ``xtol``).

    Returns
    -------
    numpy.ndarray
        The crossings ``beta*`` (per unit time), ascending; empty if the wide bump keeps its
        verdict up to the fold.
    """
    return boundary("beta", theta=theta, gamma=gamma, D=D, tau=tau, method=method, **kw)


def gamma_star(theta: float, beta: float, D: float, *, tau: float = 1.0,
               method: str = "evans", **kw) -> np.ndarray:
    """Every stability boundary ``gamma*`` along ``gamma`` at fixed ``beta, D``.

    Parameters
    ----------
    theta
        Firing threshold (dimensionless).
    beta
        Synaptic depletion rate (per unit time).
    D
        Astrocytic diffusion (rad^2 per unit time; ``inf`` allowed).
    tau
        Resource time scale (in units of the membrane time constant); see
        :func:`astrofield.theory.stability.stability`.
    method
        ``"evans"`` (zeros of ``E``) or ``"fourier"`` (eigenvalues of the 6 x 6 truncation).
    **kw
        Passed to :func:`boundary` (``lo``, ``hi``, ``n_scan``, ``xtol``).

    Returns
    -------
    numpy.ndarray
        The crossings ``gamma*`` (per unit time), ascending.
    """
    return boundary("gamma", theta=theta, beta=beta, D=D, tau=tau, method=method, **kw)


# --------------------------------------------------------------------------------------------
# phase maps
# --------------------------------------------------------------------------------------------

def stability_map(theta: ArrayLike = 0.1, beta: ArrayLike = 0.05, gamma: ArrayLike = 2.0,
                  D: ArrayLike = 1.0, branch: str = "wide") -> xr.Dataset:
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
        The columns of :func:`stability` (``evans_stable``, ``evans_n_real``,
        ``evans_n_complex``, ``evans_growth_rate``, ``evans_dprime``, ``fourier_*``, ``exists``,
        ``Delta``, ``c0``, ``A0``, ``beta_max``, ``disagree``); the swept parameters are
        coordinates, scalar parameters and ``astrofield_version`` are attrs. Points past the fold
        have ``exists = False`` and ``NaN`` values.
    """
    vals = dict(zip(_NAMES, _validate(theta, beta, gamma, D), strict=True))
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
    meta = {
        "evans_dprime": ("1", "E'(0), derivative of the Evans function at 0 (< 0: odd number "
                              "of real unstable zeros)"),
        "evans_stable": ("1", "no real zero of E with lambda > 0 (translation excluded)"),
        "evans_n_real": ("1", "real zeros of E with lambda > 0"),
        "evans_n_complex": ("1", "complex zeros of E with Re lambda >= 0 (formal)"),
        "evans_growth_rate": ("1 / time", "largest real zero of E (drift growth rate)"),
        "fourier_stable": ("1", "no real kept eigenvalue > 1e-11 (6 x 6 truncation)"),
        "fourier_n_real": ("1", "real kept eigenvalues > 1e-11 (truncation; -1: no bump)"),
        "fourier_max_real": ("1 / time", "largest real part of the kept eigenvalues"),
        "fourier_dprime": ("1", "p'(0) of the truncation's characteristic polynomial"),
        "disagree": ("1", "Evans and Fourier verdicts differ"),
        "exists": ("1", "the bump exists (beta <= beta_max)"),
        "Delta": ("rad", "bump half-width"), "c0": ("1", "synaptic resource inside the bump"),
        "A0": ("1", "astrocytic resource"), "beta_max": ("1 / time", "fold of the branches"),
    }
    for k, (u, long) in meta.items():
        ds[k].attrs.update({"units": u, "long_name": long})
    ds.attrs.update({n: float(vals[n]) for n in _NAMES if n not in dims})
    ds.attrs.update({"branch": branch, "astrofield_version": __version__,
                     "method": "Evans: real zeros of E in Re >= 0 counted by the argument "
                               "principle and real-axis sign changes, E'(0) by a Cauchy "
                               "integral; Fourier: 6x6 truncation, same rule",
                     "reference": "Palmer, Cihak, Avitabile, Kilpatrick, arXiv:2604.10036"})
    return ds


def figure2_data(D: float = 0.3, gamma: float = 2.0, n: int = 400) -> xr.Dataset:
    """Data of the paper's Figure 2 (existence and stability of bumps); no drawing.

    Panel (a): profiles ``U, Q, A`` of the wide bump at ``theta = 0.03, beta = 0.3``, ``gamma``
    (the profile does not depend on ``D``). Panel (b): half-width ``Delta`` of both branches
    against ``beta`` for ``theta = 0.03`` and ``0.3`` with the Evans verdict of the wide branch.
    Drawn by :func:`astrofield.plotting.plot_figure2`.

    Parameters
    ----------
    D
        Astrocytic diffusion of panel (b), rad^2 per unit time (``inf`` allowed).
    gamma
        Replenishment rate, per unit time.
    n
        Points along ``beta`` (log-spaced from ``1e-3`` to the fold), at least 20.

    Returns
    -------
    xarray.Dataset
        ``x`` (rad) with ``U, Q, A``; for each ``theta`` tag (``0p03``, ``0p3``): ``beta_<tag>``
        (per unit time), ``Delta_wide_<tag>``, ``Delta_narrow_<tag>`` (rad),
        ``evans_dprime_<tag>`` and ``wide_stable_<tag>``; attrs ``gamma``, ``D``.
    """
    n = check_int("n", n, 20)
    check_range("D", D, 0.0, np.inf, lo_open=True, allow_inf=True)
    bump = stationary_bumps(0.03, 0.3, gamma)[0]
    x = np.linspace(-np.pi, np.pi, 1001)
    data = {"x": x, "U": ("x", bump.U(x)), "Q": ("x", bump.Q(x)), "A": ("x", bump.A(x))}
    for th in FIGURE2_THETAS:
        bmax = float(fold(th, gamma)[0])
        b = np.geomspace(1e-3, bmax, n)
        b[-1] = bmax
        br = bump_branches(th, b, gamma)
        with warnings.catch_warnings():  # the fold point itself has E'(0) = 0: no count there
            warnings.simplefilter("ignore", RuntimeWarning)
            verdict = stability(th, b, gamma, D)
        tag = f"{th:g}".replace(".", "p")
        data[f"beta_{tag}"] = (f"s_{tag}", b)
        data[f"Delta_wide_{tag}"] = (f"s_{tag}", br["wide"]["Delta"])
        data[f"Delta_narrow_{tag}"] = (f"s_{tag}", br["narrow"]["Delta"])
        data[f"evans_dprime_{tag}"] = (f"s_{tag}", verdict["evans_dprime"])
        data[f"wide_stable_{tag}"] = (f"s_{tag}", verdict["evans_stable"])
    ds = xr.Dataset(data)
    ds.attrs.update({"gamma": float(gamma), "D": float(D), "astrofield_version": __version__,
                     "panel_a": "theta=0.03, beta=0.3 wide bump",
                     "panel_b": "existence curve, wide stability from the real unstable "
                                "zeros of E"})
    return ds


#: Thresholds of the two existence curves of Figure 2, panel (b).
FIGURE2_THETAS = (0.03, 0.3)

_MOVED = {"plot_map": "astrofield.plotting.plot_map",
          "plot_figure2": "astrofield.plotting.plot_figure2"}


def __getattr__(name: str):
    """``write_netcdf`` (deprecated alias of :func:`astrofield.io.save`); a clear message for
    the figure functions that moved to :mod:`astrofield.plotting` (theory draws nothing)."""
    if name == "write_netcdf":
        warnings.warn("astrofield.theory.stability.write_netcdf is deprecated; use "
                      "astrofield.io.save", DeprecationWarning, stacklevel=2)
        from astrofield.io import save

        return save
    if name in _MOVED:
        raise AttributeError(f"{name} moved to {_MOVED[name]} (the theory layer draws no "
                             "figures and writes no files)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
