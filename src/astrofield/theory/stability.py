"""Drift stability of the wide bump: verdicts, boundaries and analytic phase maps.

Two independent methods are reported side by side, with the same rule:

* **Evans** — the bump is stable when the Evans function ``E`` has no real zero ``lambda > 0``
  (translation zero excluded), counted by
  :func:`astrofield.theory.evans.count_unstable_zeros` (argument principle on
  ``E(lambda)/lambda`` over a rectangle that provably holds all unstable zeros at ``D = inf``,
  plus real-axis sign changes). ``E'(0)`` (:func:`astrofield.theory.evans.evans_dprime`) is
  reported too: ``E(0) = 0`` and ``E ~ lambda^2``, so ``E'(0) < 0`` means an odd number of real
  unstable zeros, but ``E'(0) > 0`` allows two (this happens near the fold at large ``D``).
  Complex zeros in the right half-plane are counted and reported (``complex_unstable``) but
  not part of the verdict: they give transient growth only (the linearisation assumes one
  sign of edge motion); :func:`nonlinear_check` flags finite slips. See ``docs/verdicts.md``.
* **Fourier** — the 6 x 6 first-mode truncation (:mod:`astrofield.theory.fourier`) with the
  shift-mode eigenvector filter: unstable if a kept eigenvalue is real and ``> 1e-11``.

Disagreements are flagged. Boundaries along ``beta`` (fixed ``gamma, D``) or ``gamma`` (fixed
``beta, D``) are every parameter value where the number of unstable real zeros changes: roots of
``E'(0)`` (a real zero through 0, :func:`scipy.optimize.brentq`) and points where a complex pair
lands on the real axis (bisection on the count, evaluating at each midpoint only the real-axis
grid points whose sign of ``E`` differs between the bracket's ends), bracketed on a dense scan.

Reference: Palmer, Cihak, Avitabile, Kilpatrick, "Astrocytic resource diffusion stabilizes
persistent activity in neural fields", arXiv:2604.10036 (2026).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from astrofield._validate import check_int, check_range
from astrofield._version import __version__
from astrofield.io.cf import annotate, flag_attrs, seed_attrs
from astrofield.theory import fourier as _fourier
from astrofield.theory.bump import bump_branches, fold, stationary_bumps
from astrofield.theory.evans import (
    _count_ok,
    _dprime_cauchy,
    _evans_core,
    _n_rhp,
    _real_unit,
    count_unstable_zeros,
    rhp_bound,
    singularity_radius,
)

__all__ = [
    "stability",
    "boundary",
    "beta_star",
    "gamma_star",
    "boundary_curve",
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
            "evans_n_complex": cnt["n_complex"], "complex_unstable": cnt["n_complex"].copy(),
            "evans_growth_rate": cnt["lam_real"],
            "evans_stable": es, "fourier_stable": fs, "fourier_n_real": np.where(ex, fn, -1),
            "fourier_max_real": fmr, "fourier_dprime": fdp, "disagree": ex & (es != fs)}


#: Defaults of :func:`nonlinear_check`: perturbations (fractions of the bump amplitude), run
#: length, step and grid. N 128 misses the finite slips at D = inf (the transient growth stalls
#: at 1e-8 rad there); N 256 - 512 resolve them (docs/verdicts.md, section 3).
NONLINEAR_DEFAULTS = {"amplitudes": (1e-9, 1e-6), "T": 200.0, "dt": 0.01, "N": 512}


def verdict_text(stable: bool, complex_unstable: float, linear: bool | None = None) -> str:
    """One-line verdict: ``"stable"``, ``"drift-unstable"``, or, for a bump without real
    unstable zeros but with a complex pair in the right half-plane, ``"stable (real zeros);
    complex pair with Re > 0 present"`` (and ``"; finite-amplitude slip"`` where
    :func:`nonlinear_check` found a response that does not scale with the perturbation)."""
    if not stable:
        return "drift-unstable"
    text = "stable"
    if np.isfinite(complex_unstable) and complex_unstable > 0:
        text = "stable (real zeros); complex pair with Re > 0 present"
    if linear is False:
        text += "; finite-amplitude slip (nonlinear check)"
    return text


def nonlinear_check(theta: ArrayLike, beta: ArrayLike, gamma: ArrayLike, D: ArrayLike, *,
                    tau: ArrayLike = 1.0, amplitudes: tuple[float, float] | None = None,
                    T: float | None = None, dt: float | None = None,
                    N: int | None = None) -> dict[str, np.ndarray]:
    """Does the drift response of the wide bump scale with the perturbation? (Simulation.)

    The exact wide bump is started with the shift perturbation ``a1`` and ``a2`` (fractions of
    the bump amplitude) and run to ``T``; the final drifts ``d1, d2`` (rad) are compared. In the
    linear regime ``d2 / d1 = a2 / a1``; a finite slip reached from any small perturbation gives
    ``d2 / d1`` near 1. The response is called linear when ``d2 / d1 >= a2 / (2 a1)``.

    Parameters
    ----------
    theta, beta, gamma, D, tau
        Threshold (dimensionless), depletion and replenishment rates (per unit time),
        astrocytic diffusion (rad^2 per unit time, ``inf`` allowed) and resource time scale;
        broadcast together (1-D at most after broadcasting; one batched simulation).
    amplitudes
        ``(a1, a2)`` with ``0 < a1 < a2`` (default :data:`NONLINEAR_DEFAULTS`: ``1e-9, 1e-6``;
        at ``1e-3`` responses of 0.1 rad saturate even where the small-amplitude response is
        linear).
    T, dt, N
        Run length and step (units of the neural time constant) and grid points (defaults
        :data:`NONLINEAR_DEFAULTS`).

    Returns
    -------
    dict of arrays
        ``drift_small``, ``drift_large`` (rad, absolute final drifts), ``response_ratio``
        (``d2 / d1``), ``amplitude_ratio`` (``a2 / a1``), ``linear`` (bool), ``finite_slip``
        (not linear). ``NaN``/``False`` where no bump exists.
    """
    from astrofield import Model
    from astrofield.simulator.integrator import solve

    o = {**NONLINEAR_DEFAULTS, **{k: v for k, v in (("amplitudes", amplitudes), ("T", T),
                                                      ("dt", dt), ("N", N)) if v is not None}}
    a1, a2 = (float(v) for v in o["amplitudes"])
    if not 0 < a1 < a2:
        raise ValueError(f"amplitudes = {o['amplitudes']!r}: need 0 < a1 < a2")
    _validate(theta, beta, gamma, D)
    th, be, ga, Dd, ta = np.broadcast_arrays(*(np.asarray(v, float) for v in
                                               (theta, beta, gamma, D, tau)))
    shape = th.shape
    th, be, ga, Dd, ta = (np.atleast_1d(v).ravel() for v in (th, be, ga, Dd, ta))
    ex = np.asarray(bump_branches(th, be, ga)["wide"]["exists"], bool).reshape(th.shape)
    out = {k: np.full(th.shape, np.nan) for k in ("drift_small", "drift_large",
                                                   "response_ratio")}
    idx = np.nonzero(ex)[0]
    if idx.size:
        m = Model(theta=th[idx], beta=be[idx], gamma=ga[idx], D=Dd[idx], tau=ta[idx])
        for key, a in (("drift_small", a1), ("drift_large", a2)):
            ds = solve(m, T=float(o["T"]), dt=float(o["dt"]), N=int(o["N"]), eps=a,
                       store_fields=False, n_frames=2, progress=False, refine_levels=0)
            out[key][idx] = np.abs(np.asarray(ds["drift"].values, float)).reshape(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["response_ratio"][idx] = out["drift_large"][idx] / out["drift_small"][idx]
    out["amplitude_ratio"] = np.full(th.shape, a2 / a1)
    lin = ex & (out["response_ratio"] >= 0.5 * a2 / a1)
    out["linear"], out["finite_slip"] = lin, ex & ~lin
    return {k: v.reshape(shape) for k, v in out.items()}


_nonlinear = nonlinear_check


def _add_nonlinear(res: dict[str, np.ndarray], pars: tuple, mode: bool | str) -> None:
    """Add ``nonlinear_checked``, ``nonlinear_response_ratio`` and ``finite_slip`` to ``res``
    (in place): :func:`nonlinear_check` at the Evans-stable points with a complex pair in the
    right half-plane (``mode=True``) or at every point with a bump (``mode="all"``)."""
    if mode not in (False, True, "all"):
        raise ValueError(f"nonlinear_check = {mode!r} is not one of (False, True, 'all')")
    shape = np.shape(res["exists"])
    ex = np.broadcast_to(res["exists"], shape)
    sel = ex.copy() if mode == "all" else ex & np.broadcast_to(res["evans_stable"], shape) & (
        np.broadcast_to(res["complex_unstable"], shape) > 0)
    ratio = np.full(shape, np.nan)
    slip = np.zeros(shape, bool)
    if mode and sel.any():
        th, be, ga, Dd = (np.broadcast_to(np.asarray(v, float), shape)[sel] for v in pars)
        r = _nonlinear(th, be, ga, Dd)
        ratio[sel], slip[sel] = r["response_ratio"], r["finite_slip"]
    res.update({"nonlinear_checked": sel if mode else np.zeros(shape, bool),
                "nonlinear_response_ratio": ratio, "finite_slip": slip})


def stability(theta: ArrayLike, beta: ArrayLike, gamma: ArrayLike, D: ArrayLike, *,
              tau: ArrayLike = 1.0, branch: str = "wide",
              nonlinear_check: bool | str = False) -> dict[str, np.ndarray]:
    """Drift-stability verdicts for broadcastable parameter arrays (``D = inf`` allowed).

    Parameters
    ----------
    theta, beta, gamma, D
        Threshold, depletion and replenishment rates (per unit time) and astrocytic diffusion
        (rad^2 per unit time; ``inf`` for the well-mixed limit). Broadcast together.
    tau
        Resource time scale (membrane time constants; broadcast with the others). It enters
        exactly through a rescaling: the stationary bump depends
        on ``beta / gamma`` only, and dividing the resource equations by ``tau`` shows that the
        linearisation with ``(beta, gamma, D, tau)`` is the ``tau = 1`` linearisation with
        ``(beta / tau, gamma / tau, D / tau)``.
    branch
        ``"wide"`` (default) or ``"narrow"`` (shift class only, see the theory notes).
    nonlinear_check
        ``True``: run :func:`nonlinear_check` (a short batched simulation at two perturbation
        amplitudes, about 1 s) at the Evans-stable points with a complex pair in the right
        half-plane; ``"all"``: at every point with a bump; ``False`` (default): none. Wide
        branch only.

    Returns
    -------
    dict of arrays
        ``evans_stable``: no real zero of ``E`` with ``lambda > 0`` (translation zero excluded),
        counted with :func:`astrofield.theory.evans.count_unstable_zeros`;
        ``evans_n_real``, ``evans_n_complex`` (zeros in ``Re lambda >= 0``),
        ``complex_unstable`` (complex zeros with ``Re lambda > 0``: not part of the verdict,
        they give transient growth by up to ``exp(pi Re / |Im|)``, see ``docs/verdicts.md``),
        ``evans_growth_rate`` (largest real zero, per unit
        time), ``evans_dprime`` (``E'(0)``; ``< 0`` implies an odd number of real zeros);
        ``fourier_stable``, ``fourier_n_real``, ``fourier_max_real``, ``fourier_dprime`` (6 x 6
        truncation, same rule); ``disagree``; bump data ``exists, Delta, c0, A0, beta_max``;
        with ``nonlinear_check``: ``nonlinear_checked``, ``nonlinear_response_ratio``
        (``d2 / d1`` for amplitudes ``1e-9, 1e-6``; 1000 when linear) and ``finite_slip``
        (checked and not linear). ``NaN``/``False`` where no bump exists. ``resolved``: always
        ``True`` (the exact theory of the Heaviside model has no grid and no time step; the
        numerical route, :func:`astrofield.theory.spectra.numerical_stability`, checks its own).

    Raises
    ------
    ValueError
        For parameters outside their ranges, or where ``E'(0)`` cannot be computed finitely.
    """
    if branch not in ("wide", "narrow"):
        raise ValueError(f"branch = {branch!r} is not one of ('wide', 'narrow')")
    _validate(theta, beta, gamma, D)
    tau = check_range("tau", tau, 0.0, np.inf, lo_open=True, hi_open=True)
    if nonlinear_check and branch != "wide":
        raise ValueError("nonlinear_check simulates the wide bump only (branch = 'wide')")
    pars = (theta, np.asarray(beta, float) / tau, np.asarray(gamma, float) / tau,
            np.asarray(D, float) / tau)
    out = _evaluate(*pars, branch)
    out["beta_max"] = out["beta_max"] * tau
    if nonlinear_check is not False:
        _add_nonlinear(out, pars, nonlinear_check)
    out["resolved"] = np.ones(np.shape(out["exists"]), bool)
    return out


# --------------------------------------------------------------------------------------------
# boundaries (vectorised over parameter points)
# --------------------------------------------------------------------------------------------

_BETA_MIN = 1e-10
_GAMMA_MAX = 1e6
#: parameter points per block of Evans evaluations (bounds the memory of the 2048-point scans)
_CHUNK = 256
#: the Evans count is taken on every ``_COARSE``-th scan point, and on all points between two
#: where it differs in a way the sign changes of ``E'(0)`` do not explain
_COARSE = 8
#: ... except within this factor of the fold, where complex pairs land on the real axis
_NEAR_FOLD = 4.0


def _search_range(vary, fixed, lo, hi, bmax_unit):
    """Search interval of one parameter line (scalars; ``bmax_unit``: the fold at gamma 1)."""
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
        if bottom >= _GAMMA_MAX:
            raise ValueError(f"beta = {fixed:g} needs gamma > {bottom:g} for a bump, outside the "
                             f"searched range of gamma (0, {_GAMMA_MAX:g}]")
        lo = bottom if lo is None else lo
        # default top of the search: 20, or far enough above the fold for a large beta
        hi = min(_GAMMA_MAX, max(20.0, 100.0 * float(lo))) if hi is None else hi
        lo = float(check_range("lo", lo, bottom, _GAMMA_MAX, hi_open=True))
        lo = max(lo, bottom * (1 + 1e-9))
        hi = float(check_range("hi", hi, lo, _GAMMA_MAX, lo_open=True))
    return lo, hi


def _ranges(vary, th, fixed, lo, hi):
    """Vectorised :func:`_search_range` over flat arrays (``lo``/``hi``: NaN for the default);
    also the fold (the varied rate where the bump is born or dies)."""
    uth, inv = np.unique(th, return_inverse=True)
    bmu = np.asarray(fold(uth, 1.0)[0], dtype=float).reshape(-1)[inv.reshape(-1)]
    keys = np.stack([th, fixed, lo, hi], axis=1)
    ukeys, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    out = np.array([_search_range(vary, f, None if np.isnan(a) else a, None if np.isnan(b) else b,
                                  bmu[i]) for (_, f, a, b), i in zip(ukeys, first, strict=True)])
    xfold = fixed * bmu if vary == "beta" else fixed / bmu
    return out[inv.reshape(-1), 0], out[inv.reshape(-1), 1], xfold


def _by_D(fn, D, *arrays, chunk=None, width=None):
    """``fn(*arrays[sel])`` over the finite and the infinite ``D`` separately (and in blocks of
    ``chunk`` points): the ``D = inf`` closed form is then used exactly where a scalar call uses
    it, so a point's value does not depend on the other points in the array. ``width``: ``fn``
    returns that many values per point (a trailing axis)."""
    D = np.ravel(D)
    out = np.full(D.shape + (() if width is None else (width,)), np.nan)
    for sel in (np.isfinite(D), ~np.isfinite(D)):
        idx = np.nonzero(sel)[0]
        step = chunk or max(idx.size, 1)
        for s in range(0, idx.size, step):
            j = idx[s:s + step]
            out[j] = fn(*(a[j] for a in arrays))
    return out


def _pars(vary, th, fixed, D, tau, x):
    """``(Delta, c0, beta, gamma, D)`` of the wide bump at the varied value ``x`` (flat arrays,
    rates and diffusion divided by ``tau``)."""
    be, ga = (x, fixed) if vary == "beta" else (fixed, x)
    be, ga = be / tau, ga / tau
    br = bump_branches(th, be, ga)["wide"]
    return tuple(np.ascontiguousarray(a) for a in
                 np.broadcast_arrays(br["Delta"], br["c0"], be, ga, D / tau))


def _evans_cs(Delta, c0, be, ga, D):
    """``E'(0)`` by one complex step (as :func:`astrofield.theory.evans.evans_dprime_complex_step`):
    used for the sign on the scan, where the 64-point Cauchy integral would cost 64 times more."""
    step = 1e-9 * singularity_radius(Delta, c0, be, ga, D)
    return _evans_core(1j * step, Delta, c0, be, ga, D)[0].imag / step


def _fourier_dprime(Delta, c0, be, ga, D):
    return _fourier._dprime_core(_fourier._matrix_core(Delta, c0, be, ga, D))


def _fourier_count(Delta, c0, be, ga, D):
    w, kept, _ = _fourier._spectrum_core(Delta, c0, be, ga, D)
    return _fourier.real_unstable_count(w, kept)


def _smooth(method, pars, exact=True):
    """The smooth indicator (``E'(0)`` or the truncation's ``p'(0)``) at flat parameter arrays;
    ``exact=False``: the one-step ``E'(0)`` for the scan."""
    if method == "fourier":
        return _by_D(_fourier_dprime, pars[4], *pars)
    if exact:
        return _by_D(_dprime_cauchy, pars[4], *pars, chunk=4 * _CHUNK)
    return _by_D(_evans_cs, pars[4], *pars, chunk=16 * _CHUNK)


def _count(method, pars, dprime, n_complex=False):
    """Unstable real-zero count (Evans) or real kept eigenvalues (truncation); with
    ``n_complex``, shape ``(N, 2)``: also the complex zeros in the right half-plane (0 for the
    truncation)."""
    if method == "fourier":
        c = _by_D(_fourier_count, pars[4], *pars)
        return np.stack([c, np.zeros_like(c)], axis=-1) if n_complex else c

    def count(Delta, c0, be, ga, D, dp):
        r = count_unstable_zeros(Delta, c0, be, ga, D, dp, growth=False)
        return np.stack([r["n_real"], r["n_complex"]], axis=-1) if n_complex else r["n_real"]

    return _by_D(count, pars[4], *pars, dprime, chunk=_CHUNK, width=2 if n_complex else None)

def _scan_pars(vary, th, fixed, D, tau, xs):
    """Flat parameters on the scan grids ``xs`` (shape ``(P, n)``); the bump is solved once per
    distinct line (same ``theta``, fixed rate, ``tau`` and interval)."""
    P, n = xs.shape
    keys = np.stack([th, fixed, tau, xs[:, 0], xs[:, -1]], axis=1)
    _, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    Delta, c0, be, ga, _ = _pars(vary, th[first, None], fixed[first, None], 1.0,
                                 tau[first, None], xs[first])
    Dt = np.broadcast_to((D / tau)[:, None], (P, n))
    return tuple(np.ascontiguousarray(a).ravel() for a in
                 (Delta[inv], c0[inv], be[inv], ga[inv], Dt))


def _scan_counts(method, pars, smooth, near):
    """Counts on the scan ``(P, n)``. Evans: counted on every ``_COARSE``-th point and filled in
    between where the sign changes of ``smooth`` explain the counts at the two ends (no change,
    or one change by one at one sign change) and neither end has complex zeros in the right
    half-plane (a pair of real zeros is born from one); counted on every point elsewhere and
    where ``near`` (close to the fold)."""
    P, n = smooth.shape
    flat = lambda idx: tuple(p.reshape(P, n)[idx].ravel() for p in pars)  # noqa: E731
    stride = 1 if method == "fourier" else _COARSE
    cols = np.unique(np.r_[np.arange(0, n, stride), n - 1])
    C = np.full((P, n), np.nan)
    both = _count(method, flat((slice(None), cols)), smooth[:, cols].ravel(), n_complex=True)
    C[:, cols] = both[:, 0].reshape(P, -1)
    if cols.size == n:
        return C
    calm = np.zeros((P, n), bool)
    calm[:, cols] = both[:, 1].reshape(P, -1) == 0
    sc = smooth[:, :-1] * smooth[:, 1:] < 0
    before = np.concatenate([np.zeros((P, 1), int), np.cumsum(sc, axis=1)], axis=1)
    todo = np.zeros((P, n), bool)
    for a, b in zip(cols[:-1], cols[1:], strict=True):
        nsc = before[:, b] - before[:, a]
        dC = C[:, b] - C[:, a]
        fill = ((dC == 0) & (nsc == 0)) | ((np.abs(dC) == 1) & (nsc == 1))
        fill &= calm[:, a] & calm[:, b]
        inner = np.arange(a + 1, b)
        C[:, inner] = np.where((before[:, inner] - before[:, [a]]) == 0, C[:, [a]], C[:, [b]])
        todo[:, inner] = ~fill[:, None] | near[:, inner]
    ii = np.nonzero(todo)
    if ii[0].size:
        C[ii] = _count(method, flat(ii), smooth[ii])
    return C

def _brent(f, a, b, fa, fb, xtol, rtol=1e-14, maxiter=100):
    """Brent's root finder run on many brackets at once (the steps of
    :func:`scipy.optimize.brentq`, each bracket stopping on its own); ``f(idx, x)`` evaluates
    the brackets ``idx`` at ``x``."""
    xpre, xcur, fpre, fcur = (np.array(v, dtype=float) for v in (a, b, fa, fb))
    xblk, fblk, spre, scur = (np.zeros_like(xpre) for _ in range(4))
    root = np.where(fpre == 0, xpre, np.where(fcur == 0, xcur, np.nan))
    act = np.isnan(root)
    for _ in range(maxiter):
        new = act & (fpre != 0) & (fcur != 0) & (np.signbit(fpre) != np.signbit(fcur))
        xblk, fblk = np.where(new, xpre, xblk), np.where(new, fpre, fblk)
        spre = scur = np.where(new, xcur - xpre, scur)
        sw = act & (np.abs(fblk) < np.abs(fcur))
        xpre, xcur, xblk = [np.where(sw, n, o) for n, o in ((xcur, xpre), (xblk, xcur),
                                                             (xcur, xblk))]
        fpre, fcur, fblk = [np.where(sw, n, o) for n, o in ((fcur, fpre), (fblk, fcur),
                                                             (fcur, fblk))]
        delta = 0.5 * (xtol + rtol * np.abs(xcur))
        sbis = 0.5 * (xblk - xcur)
        conv = act & ((fcur == 0) | (np.abs(sbis) < delta))
        root, act = np.where(conv, xcur, root), act & ~conv
        if not act.any():
            break
        with np.errstate(invalid="ignore", divide="ignore"):
            secant = -fcur * (xcur - xpre) / (fcur - fpre)
            dpre, dblk = (fpre - fcur) / (xpre - xcur), (fblk - fcur) / (xblk - xcur)
            iqi = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
        stry = np.where(xpre == xblk, secant, iqi)
        good = ((np.abs(spre) > delta) & (np.abs(fcur) < np.abs(fpre))
                & (2 * np.abs(stry) < np.minimum(np.abs(spre), 3 * np.abs(sbis) - delta)))
        spre, scur = np.where(good, scur, sbis), np.where(good, stry, sbis)
        xpre, fpre = np.where(act, xcur, xpre), np.where(act, fcur, fpre)
        step = np.where(np.abs(scur) > delta, scur, np.where(sbis > 0, delta, -delta))
        xcur = np.where(act, xcur + step, xcur)
        idx = np.nonzero(act)[0]
        fcur[idx] = f(idx, xcur[idx])
    return np.where(act, xcur, root)


def _bisect_count(g, a, b, ca, xtol):
    """Where the count changes on ``[a, b]`` (count ``ca`` at ``a``): bisection on the count,
    many brackets at once; ``g(idx, x)`` counts the brackets ``idx`` at ``x``."""
    a, b = np.array(a, dtype=float), np.array(b, dtype=float)
    for _ in range(200):
        idx = np.nonzero(b - a > xtol + 1e-14 * b)[0]
        if idx.size == 0:
            break
        m = 0.5 * (a[idx] + b[idx])
        same = g(idx, m) == ca[idx]
        a[idx] = np.where(same, m, a[idx])
        b[idx] = np.where(same, b[idx], m)
    return 0.5 * (a + b)


#: the real-axis grids of :func:`astrofield.theory.evans.count_unstable_zeros` (coarse, fine)
_REAL_GRIDS = (64, 2048)


def _real_signs(pars, R, rows, cols, n):
    """Signs of ``E`` at the points ``R[rows] * u[cols]`` of the ``n``-point real-axis grid
    ``u`` of the count (flat index pairs), evaluated separately for finite and infinite ``D``
    (as :func:`_count` does, so the values are the count's own)."""
    out = np.empty(rows.size)
    unit = _real_unit(n)
    inf = np.isposinf(pars[4][rows])
    for sel in (~inf, inf):
        if sel.any():
            r = rows[sel]
            lam = R[r] * unit[cols[sel]] + 0j
            out[sel] = np.sign(_evans_core(lam, *(v[r] for v in pars))[0].real)
    return out


def _count_state(pars):
    """Everything the Evans count at ``pars`` (flat arrays) is made of: the contour count
    ``n_rhp`` (and ``plain``: no shifted contour was needed), the one-step ``E'(0)`` and the
    signs of ``[E'(0), E(R u_1), ..., E(R u_n)]`` on both real-axis grids."""
    dprime = _smooth("evans", pars, exact=False)
    R = rhp_bound(*pars)
    n_rhp, plain = _by_D(lambda *p: np.stack(_n_rhp(p[:5], rhp_bound(*p[:5]), p[5]), -1),
                         pars[4], *pars, dprime, chunk=_CHUNK, width=2).T
    P = R.size
    signs = {}
    for n in _REAL_GRIDS:
        rows, cols = np.repeat(np.arange(P), n), np.tile(np.arange(n), P)
        signs[n] = np.concatenate([np.sign(dprime)[:, None],
                                   _real_signs(pars, R, rows, cols, n).reshape(P, n)], axis=1)
    return {"n_rhp": n_rhp, "plain": plain == 1, "dprime": dprime, "R": R, "signs": signs}


def _state_count(st):
    """The real-zero count of :func:`astrofield.theory.evans.count_unstable_zeros` from a
    :func:`_count_state` (``NaN`` where the count is not certified)."""
    s = {n: np.sum(S[:, 1:] * S[:, :-1] < 0, axis=1) for n, S in st["signs"].items()}
    n_rhp = st["n_rhp"]
    n_real = np.where(n_rhp == 0, 0.0, s[_REAL_GRIDS[0]])
    n_real = np.where(np.isfinite(n_rhp) & (n_real < n_rhp), s[_REAL_GRIDS[1]], n_real)
    return np.where(_count_ok(n_rhp, n_real, st["dprime"]), n_real, np.nan)


def _bisect_evans_count(pf, a, b, ca, xtol):
    """:func:`_bisect_count` on the Evans count, evaluating at each midpoint only what can
    change in the bracket: the signs of ``E`` on the grid points where they differ between the
    bracket's two ends, and ``E'(0)``. The contour count is taken as the larger of the ends'
    (a complex pair that lands on the real axis is in the right half-plane on both sides of
    the landing; where it crossed the imaginary axis earlier in the bracket, the count there
    is the same with either contour count). The same midpoints and the same decisions as the
    full count wherever the other signs do not change inside the bracket; a bracket whose ends
    do not fit (a shifted contour, counts other than the scan's), or whose final ends the full
    count does not confirm, is bisected on the full count instead."""
    P = a.size
    a, b = np.array(a, dtype=float), np.array(b, dtype=float)
    sa, sb = (_count_state(pf(np.arange(P), x)) for x in (a, b))
    fast = sa["plain"] & sb["plain"] & (_state_count(sa) == ca) & ~(_state_count(sb) == ca)
    n_rhp = np.maximum(sa["n_rhp"], sb["n_rhp"])
    Sa, Sb = sa["signs"], sb["signs"]
    for _ in range(200):
        idx = np.nonzero(fast & (b - a > xtol + 1e-14 * b))[0]
        if idx.size == 0:
            break
        m = 0.5 * (a[idx] + b[idx])
        p = pf(idx, m)
        dprime = _smooth("evans", p, exact=False)
        R = rhp_bound(*p)
        signs = {}
        for n in _REAL_GRIDS:
            S = Sa[n][idx].copy()
            S[:, 0] = np.sign(dprime)
            rows, cols = np.nonzero(Sa[n][idx, 1:] != Sb[n][idx, 1:])
            S[rows, cols + 1] = _real_signs(p, R, rows, cols, n)
            signs[n] = S
        same = _state_count({"n_rhp": n_rhp[idx], "dprime": dprime, "signs": signs}) == ca[idx]
        a[idx] = np.where(same, m, a[idx])
        b[idx] = np.where(same, b[idx], m)
        for n in _REAL_GRIDS:
            Sa[n][idx[same]] = signs[n][same]
            Sb[n][idx[~same]] = signs[n][~same]
    # the full count at the final ends: the change must be there
    done = np.nonzero(fast)[0]
    if done.size:
        ends = np.r_[a[done], b[done]]
        p = pf(np.r_[done, done], ends)
        c = _count("evans", p, _smooth("evans", p, exact=False))
        fast[done] = (c[:done.size] == ca[done]) & ~(c[done.size:] == ca[done])
    return np.where(fast, 0.5 * (a + b), np.nan), fast


def _crossings(vary, method, th, fixed, D, tau, lo, hi, n_scan, xtol):
    """Every crossing for ``P`` parameter lines (flat arrays): ``(roots (P, k), x_bad)``.

    ``roots`` is ascending along each row and NaN-padded (``k >= 1``); ``x_bad`` is NaN, or
    where on a row's scan the verdict is not defined (that row is all NaN).
    """
    lo, hi, xfold = _ranges(vary, th, fixed, lo, hi)
    xs = np.geomspace(lo, hi, n_scan, axis=-1)
    r = xs / xfold[:, None]
    near = (r > 1 / _NEAR_FOLD) if vary == "beta" else (r < _NEAR_FOLD)
    P = th.size
    pars = _scan_pars(vary, th, fixed, D, tau, xs)
    smooth = _smooth(method, pars, exact=method == "fourier").reshape(P, n_scan)
    counts = _scan_counts(method, pars, smooth, near)
    fin = np.isfinite(smooth) & np.isfinite(counts)
    x_bad = np.where(fin.all(axis=1), np.nan, xs[np.arange(P), np.argmin(fin, axis=1)])
    sc = smooth[:, :-1] * smooth[:, 1:] < 0
    pi, ii = np.nonzero((sc | (counts[:, :-1] != counts[:, 1:])) & fin.all(axis=1)[:, None])
    through0 = sc[pi, ii]
    roots = np.full(pi.shape, np.nan)

    def at(sel):
        return lambda idx, x: _pars(vary, th[sel][idx], fixed[sel][idx], D[sel][idx],
                                    tau[sel][idx], x)

    if through0.any():
        s = np.nonzero(through0)[0]
        roots[s] = _refine_smooth(method, at(pi[s]), xs[pi[s], ii[s]], xs[pi[s], ii[s] + 1],
                                  smooth[pi[s], ii[s]], smooth[pi[s], ii[s] + 1], xtol)
    if (~through0).any():
        s = np.nonzero(~through0)[0]
        pf = at(pi[s])

        def g(idx, x):
            p = pf(idx, x)
            return _count(method, p, _smooth(method, p, exact=False))

        a, b, ca = xs[pi[s], ii[s]], xs[pi[s], ii[s] + 1], counts[pi[s], ii[s]]
        fast = np.zeros(s.size, bool)
        if method == "evans":
            roots[s], fast = _bisect_evans_count(pf, a, b, ca, xtol)
        if (~fast).any():
            k = np.nonzero(~fast)[0]
            roots[s[k]] = _bisect_count(lambda idx, x: g(k[idx], x), a[k], b[k], ca[k], xtol)
    out = np.full((P, max(1, int(np.bincount(pi, minlength=P).max(initial=0)))), np.nan)
    rank = np.arange(pi.size) - np.searchsorted(pi, pi)
    out[pi, rank] = roots
    return np.sort(out, axis=1), x_bad


def _refine_smooth(method, pars_at, a, b, fa, fb, xtol):
    """Roots of the smooth indicator on brackets ``[a, b]`` by :func:`_brent`. For Evans the
    ends are re-evaluated with the Cauchy-integral ``E'(0)`` (the scan used one complex step);
    in the rare bracket where the two disagree on a sign, the complex step is used throughout."""
    exact = np.ones(a.shape, bool)
    if method == "evans":
        ends = _smooth(method, pars_at(np.r_[np.arange(a.size), np.arange(a.size)],
                                       np.r_[a, b]))
        ca, cb = ends[:a.size], ends[a.size:]
        exact = ca * cb < 0
        fa, fb = np.where(exact, ca, fa), np.where(exact, cb, fb)

    def f(idx, x):
        p = pars_at(idx, x)
        e = exact[idx]
        out = np.empty(idx.size)
        for sel, ex in ((e, True), (~e, False)):
            if sel.any():
                out[sel] = _smooth(method, tuple(v[sel] for v in p), exact=ex)
        return out

    return _brent(f, a, b, fa, fb, xtol)


def _lines(vary, theta, fixed, D, tau, lo, hi):
    """Validate and broadcast the parameters of :func:`boundary`: ``(shape, flat arrays)``."""
    other = "gamma" if vary == "beta" else "beta"
    th, _, _, Dv = _validate(theta, 1.0, 1.0, D)  # beta, gamma: placeholders (checked below)
    fixed = check_range(other, fixed, 0.0, np.inf, lo_open=True, hi_open=True)
    tau = check_range("tau", tau, 0.0, np.inf, lo_open=True, hi_open=True)
    lo, hi = (np.nan if v is None else check_range(n, v, 0.0, np.inf, lo_open=True)
              for n, v in (("lo", lo), ("hi", hi)))
    arrs = np.broadcast_arrays(th, fixed, Dv, tau, lo, hi)
    return arrs[0].shape, [np.ascontiguousarray(a, dtype=float).ravel() for a in arrs]


def boundary(vary: str, *, theta: ArrayLike | None = None, beta: ArrayLike | None = None,
             gamma: ArrayLike | None = None, D: ArrayLike | None = None, tau: ArrayLike = 1.0,
             lo: ArrayLike | None = None, hi: ArrayLike | None = None, method: str = "evans",
             n_scan: int = 400, xtol: float = 1e-13) -> np.ndarray:
    """Every stability boundary along one parameter line, or along many lines at once.

    A crossing is a parameter value where the number of unstable real zeros changes: either a
    real zero passes through ``lambda = 0`` (a root of ``E'(0)``, located by Brent's method on
    the Cauchy-integral ``E'(0)``) or two complex zeros meet on the positive real axis (the count
    jumps by two; located by bisection on the count). The lines are bracketed on a log-spaced
    scan of ``n_scan`` points (``E'(0)`` there from one complex step; the zero count on every
    8th point, and on every point between two whose counts differ in a way the sign changes of
    ``E'(0)`` do not explain), all lines evaluated together.

    Parameters
    ----------
    vary
        ``"beta"`` (``gamma`` fixed) or ``"gamma"`` (``beta`` fixed): the rate solved for.
    theta, beta, gamma, D, tau
        Threshold (dimensionless), depletion and replenishment rates (per unit time),
        astrocytic diffusion (rad^2 per unit time; ``inf`` for the well-mixed limit) and
        resource time scale (in units of the membrane time constant). Keyword-only; the varied
        one of ``beta``/``gamma`` is left out. Scalars or arrays, broadcast together: each
        element of the broadcast is one line.
    lo, hi
        Search interval (scalars or arrays broadcast with the parameters). ``beta`` in
        ``[1e-10, beta_max)`` (default: all of it), ``gamma`` in ``(gamma_min, 1e6]`` (default
        ``(gamma_min, 20)``; ``gamma_min`` is where the bump is born). Values outside raise
        ``ValueError``.
    method
        ``"evans"`` (zeros of ``E``) or ``"fourier"`` (eigenvalues of the 6 x 6 truncation).
    n_scan
        Points of the log-spaced scan that brackets the crossings.
    xtol
        Absolute tolerance of the located crossings (units of the varied rate, per unit time).

    Returns
    -------
    numpy.ndarray
        Scalar parameters: all crossings in the interval, ascending (empty if none). Array
        parameters: shape ``broadcast + (k,)``, each line's crossings ascending and padded with
        ``NaN`` to the largest number ``k >= 1`` found on any line (so ``[..., 0]`` is the
        lowest crossing, ``NaN`` where there is none). Crossings closer together than the scan
        spacing can be missed.

    Raises
    ------
    ValueError
        For parameters outside their ranges, or (scalar parameters) where the verdict is not
        defined somewhere on the scan. With array parameters such a line is all ``NaN`` and a
        ``RuntimeWarning`` names it.
    """
    if vary not in ("beta", "gamma"):
        raise ValueError(f"vary = {vary!r} is not one of ('beta', 'gamma')")
    if method not in ("evans", "fourier"):
        raise ValueError(f"method = {method!r} is not one of ('evans', 'fourier')")
    if theta is None or D is None:
        raise ValueError("boundary needs theta and D")
    n_scan = check_int("n_scan", n_scan, 10)
    fixed = gamma if vary == "beta" else beta
    if fixed is None:
        raise ValueError(f"boundary along {vary} needs {'gamma' if vary == 'beta' else 'beta'}")
    shape, (th, fx, Dv, ta, lo, hi) = _lines(vary, theta, fixed, D, tau, lo, hi)
    roots, x_bad = _crossings(vary, method, th, fx, Dv, ta, lo, hi, n_scan, float(xtol))
    if np.isfinite(x_bad).any():
        i = int(np.argmax(np.isfinite(x_bad)))
        msg = (f"the {method} verdict is not defined at {vary} = {x_bad[i]:g} (theta = "
               f"{th[i]:g}, D = {Dv[i]:g}); narrow the search interval")
        if shape == ():
            raise ValueError(msg)
        warnings.warn(f"{int(np.isfinite(x_bad).sum())} line(s) left NaN: {msg}",
                      RuntimeWarning, stacklevel=2)
        roots[np.isfinite(x_bad)] = np.nan
    if shape == ():
        return roots[0][np.isfinite(roots[0])]
    return roots.reshape(shape + roots.shape[-1:])


def _is_scalar(*values) -> bool:
    return all(np.ndim(v) == 0 for v in values if v is not None)


def beta_star(theta: ArrayLike, gamma: ArrayLike, D: ArrayLike, *, tau: ArrayLike = 1.0,
              method: str = "evans", **kw) -> np.ndarray:
    """Stability boundaries ``beta*`` along ``beta`` at fixed ``gamma, D`` (vectorised).

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
        Scalar parameters: every crossing ``beta*`` (per unit time), ascending; empty if the
        wide bump keeps its verdict up to the fold. Array parameters (``theta, gamma, D, tau``
        broadcast together): the **lowest** crossing of each line, in the broadcast shape,
        ``NaN`` where there is none (every crossing: :func:`boundary` or
        :func:`boundary_curve`).
    """
    r = boundary("beta", theta=theta, gamma=gamma, D=D, tau=tau, method=method, **kw)
    return r if _is_scalar(theta, gamma, D, tau, kw.get("lo"), kw.get("hi")) else r[..., 0]


def gamma_star(theta: ArrayLike, beta: ArrayLike, D: ArrayLike, *, tau: ArrayLike = 1.0,
               method: str = "evans", **kw) -> np.ndarray:
    """Stability boundaries ``gamma*`` along ``gamma`` at fixed ``beta, D`` (vectorised).

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
        Scalar parameters: every crossing ``gamma*`` (per unit time), ascending. Array
        parameters: the lowest crossing of each line in the broadcast shape, ``NaN`` where
        there is none.
    """
    r = boundary("gamma", theta=theta, beta=beta, D=D, tau=tau, method=method, **kw)
    return r if _is_scalar(theta, beta, D, tau, kw.get("lo"), kw.get("hi")) else r[..., 0]


_META = {"theta": ("1", "firing threshold"), "beta": ("1 / time", "synaptic depletion rate"),
         "gamma": ("1 / time", "synaptic replenishment rate"),
         "D": ("rad^2 / time", "astrocytic diffusion"),
         "tau": ("time", "resource time scale (membrane time constants)")}


def boundary_curve(vary: str, *, theta: ArrayLike | None = None, beta: ArrayLike | None = None,
                   gamma: ArrayLike | None = None, D: ArrayLike | None = None,
                   tau: ArrayLike = 1.0, method: str = "evans", **kw) -> xr.Dataset:
    """Stability boundary curves (or surfaces) as a labelled dataset.

    ``vary`` is the rate solved for, as in :func:`boundary`; every other parameter given as a
    1-D array becomes a dimension (outer product, in the order theta, beta/gamma, D, tau), e.g.
    ``boundary_curve("beta", theta=0.1, gamma=2.0, D=np.linspace(0.01, 0.6, 60))`` is the curve
    ``beta*(D)``. All lines are solved together (:func:`boundary`).

    Parameters
    ----------
    vary
        ``"beta"`` (``gamma`` fixed) or ``"gamma"`` (``beta`` fixed).
    theta, beta, gamma, D, tau
        Threshold (dimensionless), depletion and replenishment rates (per unit time),
        astrocytic diffusion (rad^2 per unit time; ``inf`` allowed) and resource time scale:
        scalars or 1-D arrays; the varied rate is left out.
    method
        ``"evans"`` or ``"fourier"``.
    **kw
        Passed to :func:`boundary` (``lo``, ``hi``, ``n_scan``, ``xtol``; scalars).

    Returns
    -------
    xarray.Dataset
        ``<vary>_star`` (the lowest crossing, per unit time; ``NaN`` where none),
        ``<vary>_crossings`` (every crossing, ascending, ``NaN``-padded along ``crossing``) and
        ``n_crossings``; the array parameters are coordinates, every variable and coordinate
        has ``units`` and ``long_name``; the scalar parameters, ``method`` and
        ``astrofield_version`` are attrs.
    """
    if vary not in ("beta", "gamma"):
        raise ValueError(f"vary = {vary!r} is not one of ('beta', 'gamma')")
    given = {"theta": theta, "beta": beta, "gamma": gamma, "D": D, "tau": tau}
    given.pop(vary)
    vals = {n: (None if v is None else np.asarray(v, dtype=float)) for n, v in given.items()}
    for n, v in vals.items():
        if v is not None and v.ndim > 1:
            raise ValueError(f"{n} must be a scalar or a 1-D array, got shape {v.shape}")
    dims = [n for n, v in vals.items() if v is not None and v.ndim == 1]
    grids = np.meshgrid(*(vals[d] for d in dims), indexing="ij") if dims else []
    args = {n: (grids[dims.index(n)] if n in dims else v) for n, v in vals.items()}
    roots = boundary(vary, method=method, **args, **kw)
    if not dims:
        roots = np.concatenate([roots, np.full(max(0, 1 - roots.size), np.nan)])
    u = _META[vary][0]
    ds = xr.Dataset(
        {f"{vary}_star": (dims, roots[..., 0], {"units": u, "long_name": f"lowest stability "
                                                f"boundary of the {_META[vary][1]}"}),
         f"{vary}_crossings": ([*dims, "crossing"], roots,
                               {"units": u, "long_name": "every change of the number of "
                                                         "unstable real zeros, ascending"}),
         "n_crossings": (dims, np.sum(np.isfinite(roots), axis=-1),
                         {"units": "1", "long_name": "number of crossings found"})},
        coords={d: (d, vals[d], {"units": _META[d][0], "long_name": _META[d][1]})
                for d in dims})
    ds.attrs.update({n: float(v) for n, v in vals.items() if v is not None and n not in dims})
    ds.attrs.update({"vary": vary, "method": method, "astrofield_version": __version__,
                     **{k: v for k, v in kw.items() if v is not None}})
    return ds


# --------------------------------------------------------------------------------------------
# phase maps
# --------------------------------------------------------------------------------------------

#: Grid points per block of :func:`stability_map` when it shows progress.
MAP_BLOCK = 256


def _evaluate_blocks(args: dict[str, Any], shape: tuple[int, ...], branch: str,
                     progress: bool | None) -> dict[str, np.ndarray]:
    """:func:`_evaluate` over the map, in blocks of :data:`MAP_BLOCK` points with a progress
    bar (one call without one, or for a small map)."""
    n = int(np.prod(shape))
    if progress is False or n <= MAP_BLOCK:
        return _evaluate(args["theta"], args["beta"], args["gamma"], args["D"], branch)
    from astrofield._progress import progress_bar

    flat = {k: np.broadcast_to(np.asarray(v, float), shape).ravel() for k, v in args.items()}
    parts: list[dict[str, np.ndarray]] = []
    with progress_bar(n, progress, "pt", desc="stability map") as bar:
        for i in range(0, n, MAP_BLOCK):
            block = {k: v[i:i + MAP_BLOCK] for k, v in flat.items()}
            m = block["theta"].size
            r = _evaluate(block["theta"], block["beta"], block["gamma"], block["D"], branch)
            parts.append({k: np.broadcast_to(v, (m,)) for k, v in r.items()})
            bar.update(m)
    return {k: np.concatenate([p[k] for p in parts]).reshape(shape) for k in parts[0]}


def stability_map(theta: ArrayLike = 0.1, beta: ArrayLike = 0.05, gamma: ArrayLike = 2.0,
                  D: ArrayLike = 0.7, branch: str = "wide", progress: bool | None = False,
                  nonlinear_check: bool | str = False) -> xr.Dataset:
    """Analytic phase map over every parameter given as a 1-D array (outer product).

    Parameters
    ----------
    theta, beta, gamma, D
        Scalars or 1-D arrays; each array becomes a dimension (in the order theta, beta, gamma,
        D). ``D`` may contain ``inf``.
    branch
        Bump branch (default ``"wide"``).
    progress
        Show a tqdm bar of the grid points on stderr (``None``: only once the map has taken
        about a second; ``False``, the default: never). With a bar the points are evaluated
        in blocks of :data:`MAP_BLOCK` (the same values).
    nonlinear_check
        As in :func:`stability`: simulate the Evans-stable cells with a complex pair in the
        right half-plane (``True``) or every cell (``"all"``) at two perturbation amplitudes
        and flag ``finite_slip`` where the response does not scale with the perturbation.

    Returns
    -------
    xarray.Dataset
        The columns of :func:`stability` (``evans_stable``, ``evans_n_real``,
        ``evans_n_complex``, ``complex_unstable``, ``evans_growth_rate``, ``evans_dprime``,
        ``fourier_*``, ``exists``, (with ``nonlinear_check``: ``nonlinear_checked``,
        ``nonlinear_response_ratio``, ``finite_slip``),
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
    shape = tuple(vals[d].size for d in dims)
    if nonlinear_check and branch != "wide":
        raise ValueError("nonlinear_check simulates the wide bump only (branch = 'wide')")
    res = _evaluate_blocks(args, shape, branch, progress)
    if nonlinear_check is not False:
        res = {k: np.broadcast_to(v, shape) for k, v in res.items()}
        _add_nonlinear(res, tuple(args[n] for n in _NAMES), nonlinear_check)
    data = {k: (dims, np.broadcast_to(v, shape).copy()) for k, v in res.items()}
    ds = xr.Dataset(data, coords={d: vals[d] for d in dims})
    annotate(ds, {k: v for k, v in MAP_ATTRS.items() if k in ds.variables})
    ds.attrs.update({n: float(vals[n]) for n in _NAMES if n not in dims})
    ds.attrs.update({"branch": branch, "astrofield_version": __version__,
                     "method": "Evans: real zeros of E in Re >= 0 counted by the argument "
                               "principle and real-axis sign changes, E'(0) by a Cauchy "
                               "integral; Fourier: 6x6 truncation, same rule",
                     "scheme": "analytic (Evans function and 6 x 6 Fourier truncation)",
                     **seed_attrs(None, False),
                     "reference": "Palmer, Cihak, Avitabile, Kilpatrick, arXiv:2604.10036",
                     # the verdicts come from the exact (Heaviside) theory: no grid or step
                     "resolved": 1, "resolution": "exact theory (no grid, no time step)"})
    return ds


_PER_T = "per neural time constant (time is dimensionless)"
_VERDICTS = "docs/verdicts.md"


def _m(units: str, long_name: str, description: str = "") -> dict[str, str]:
    return {"units": units, "long_name": long_name,
            **({"description": description} if description else {})}


#: CF attributes of the variables of :func:`stability_map` (swept parameters: :data:`COMMON`).
MAP_ATTRS: dict[str, dict[str, Any]] = {
    "evans_dprime": _m("1", "Evans E'(0)", "derivative of the Evans function at 0 (< 0: an "
                       "odd number of real unstable zeros)"),
    "evans_stable": flag_attrs("Evans verdict", [0, 1], "unstable stable",
                               description="no real zero of E with lambda > 0 (translation "
                                           "excluded)"),
    "evans_n_real": _m("1", "real unstable Evans zeros", "real zeros of E with lambda > 0"),
    "evans_n_complex": _m("1", "complex Evans zeros, Re >= 0",
                          f"complex zeros of E with Re lambda >= 0 (see {_VERDICTS})"),
    "complex_unstable": _m("1", "complex Evans zeros, Re > 0",
                           "complex zeros of E with Re lambda > 0 (not in the verdict; "
                           f"transient growth, see {_VERDICTS})"),
    "evans_growth_rate": _m("1", "drift growth rate",
                            "largest real zero of E, " + _PER_T),
    "fourier_stable": flag_attrs("Fourier verdict", [0, 1], "unstable stable",
                                 description="no real kept eigenvalue > 1e-11 (6 x 6 "
                                             "truncation)"),
    "fourier_n_real": _m("1", "real unstable Fourier eigenvalues",
                         "real kept eigenvalues > 1e-11 (truncation; -1: no bump)"),
    "fourier_max_real": _m("1", "largest Re of Fourier eigenvalues",
                           "largest real part of the kept eigenvalues, " + _PER_T),
    "fourier_dprime": _m("1", "Fourier p'(0)",
                         "p'(0) of the truncation's characteristic polynomial"),
    "disagree": flag_attrs("Evans and Fourier differ", [0, 1], "agree disagree"),
    "nonlinear_checked": flag_attrs("nonlinear check run", [0, 1], "not_checked checked",
                                    description="simulated at two perturbation amplitudes"),
    "nonlinear_response_ratio": _m("1", "nonlinear response ratio",
                                   "drift ratio for perturbations 1e-6 and 1e-9 (1000: "
                                   "linear response)"),
    "finite_slip": flag_attrs("finite slip", [0, 1], "no_slip slip",
                              description="checked, and the drift does not scale with the "
                                          "perturbation"),
    "exists": flag_attrs("bump exists", [0, 1], "no_bump bump",
                         description="the bump exists (beta <= beta_max)"),
    "Delta": _m("rad", "bump half-width Delta"),
    "c0": _m("1", "synaptic resource in the bump c0"),
    "A0": _m("1", "astrocytic resource A0"),
    "beta_max": _m("1", "fold of the branches beta_max", "largest beta with a bump, " + _PER_T),
}


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
    return annotate(ds, _figure2_attrs(), scheme="analytic (exact bumps, Evans function)",
                    **seed_attrs(None, False))


def _figure2_attrs() -> dict[str, dict[str, Any]]:
    """CF attributes of :func:`figure2_data`'s variables."""
    out: dict[str, dict[str, Any]] = {
        "x": {"units": "rad", "long_name": "position on the ring"},
        "U": _m("1", "bump profile U", "u of the wide bump (theta 0.03, beta 0.3)"),
        "Q": _m("1", "bump resource Q", "q of the wide bump (theta 0.03, beta 0.3)"),
        "A": _m("1", "bump astrocytic resource A",
                "a of the wide bump (theta 0.03, beta 0.3)"),
    }
    for th in FIGURE2_THETAS:
        tag = f"{th:g}".replace(".", "p")
        out.update({
            f"beta_{tag}": _m("1", f"beta (theta {th:g})", "depletion rate, " + _PER_T),
            f"Delta_wide_{tag}": _m("rad", f"wide bump half-width (theta {th:g})"),
            f"Delta_narrow_{tag}": _m("rad", f"narrow bump half-width (theta {th:g})"),
            f"evans_dprime_{tag}": _m("1", f"Evans E'(0) (theta {th:g})",
                                      "derivative of the Evans function at 0"),
            f"wide_stable_{tag}": flag_attrs(f"wide bump stable (theta {th:g})", [0, 1],
                                             "unstable stable"),
        })
    return out


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
