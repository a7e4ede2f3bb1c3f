"""Pseudo-arclength continuation of numerical bumps, with folds, drift bifurcations and the
branch of travelling bumps.

Smooth (sigmoid) firing
-----------------------
The unknowns are ``Y = (v, c, p)``: the grid state, the co-moving speed and the continuation
parameter. Each step predicts along the unit tangent ``T`` (``G_Y T = 0``, in the weighted norm
``|v|^2 / n + c^2 + (p / p_scale)^2``) and corrects with Newton's method on ``G(Y) = 0`` plus the
arclength condition ``<T, Y - Y_pred> = 0``. The step grows by 1.3 after an easy correction
(<= 3 iterations), halves after a failed one and stops below ``ds_min``.

* **Folds**: the parameter component of the tangent changes sign. Located by bisection on the
  arclength between the two points (each trial point corrected by Newton).
* **Drift (pitchfork) bifurcations**: the bordered Jacobian ``[[G_(v,c), G_p], [T^T]]`` changes
  the sign of its determinant while ``dp/ds`` does not. Its null vector at the located point is
  classified by symmetry: odd in ``x`` with a speed component means the stationary bump starts to
  travel (drift); an even one is reported as a symmetric branch point.
* **Branch switching**: from a drift point the travelling branch leaves along the null vector of
  ``G_(v,c)`` (which carries the speed); it is continued like the stationary one, so the speed
  ``c`` against the parameter is a curve (only ``c > 0`` is followed; ``c < 0`` is its mirror).

Every point carries the spectrum of its linearisation (:mod:`astrofield.theory.spectra`).

Heaviside firing
----------------
Heaviside bumps are computed from their edges (no grid Newton). The branch is then followed by
natural-parameter steps; the fold is located by bisection on existence, the drift bifurcation by
bisection on the sign of the leading drift-class (shift) eigenvalue. At every drift point the
travelling branch is followed in the co-moving frame (:mod:`astrofield.theory.travelling`): the
edges ``(-h, h)`` and the parameter are the unknowns at a fixed speed ``c = 10^-3`` next to the
drift point; the branch is then followed fixing whichever of ``c`` and the parameter changes
faster (closed form for the cosine kernel with ``D = inf``, collocation otherwise). Their
stability is not computed (``n_unstable = -1``, leading eigenvalue ``NaN``).

Failures (a bump that cannot be found at the start, a parameter leaving its allowed range, a step
that cannot be corrected) end the branch with a message in ``attrs["message"]``; the points
computed so far are returned.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.linalg as sla
import xarray as xr

from astrofield._validate import check_int, check_range
from astrofield._version import __version__
from astrofield.io.cf import COMMON, annotate, flag_attrs, index_attrs, rate_attrs, seed_attrs
from astrofield.model.definition import PARAMETER_RANGES, Model
from astrofield.theory.evans import evans_dprime
from astrofield.theory.spectra import UNSTABLE_TOL, spectrum
from astrofield.theory.steady import (
    DEFAULT_TOL,
    LAYER_POINTS,
    RingSystem,
    Steady,
    SteadyStateError,
    bump_measures,
    heaviside_bump,
    newton,
    resolution,
    single_blas_thread,
    steady_bump,
)
from astrofield.theory.travelling import follow_speed

if TYPE_CHECKING:  # annotations only
    from numpy.typing import ArrayLike

__all__ = ["continue_bumps", "numerical_boundary", "PARAMETERS"]

#: Parameters that can be continued.
PARAMETERS = ("beta", "gamma", "D", "theta", "steepness", "tau")


@dataclass
class _Point:
    y: np.ndarray
    p: float
    kind: str = "regular"
    branch: str = "stationary"
    n_unstable: int = -1
    leading: complex = complex(np.nan)
    residual: float = np.nan
    measures: dict = field(default_factory=dict)
    stable: bool = False
    resolved: bool = True
    n_needed: int = 0  # N the resolution rule asks for at this point (smooth firing)
    bracket: tuple = ()  # drift points: (p_lo, p_hi, leading real at p_lo, at p_hi)


class _Branch:
    """Bordered system ``G(v, c; p)`` along one parameter, with weights for the arclength."""

    def __init__(self, system: RingSystem, param: str, p_scale: float, tol: float):
        self.base = system
        self.param = param
        self.p_scale = p_scale
        self.tol = tol
        n = system.size
        self.wts = np.concatenate([np.full(n, 1.0 / n), [1.0], [1.0 / p_scale**2]])
        self._cache: dict[float, RingSystem] = {}

    def system(self, p: float) -> RingSystem:
        s = self._cache.get(p)
        if s is None:
            s = self.base.with_params(**{self.param: float(p)})
            if len(self._cache) > 8:
                self._cache.clear()
            self._cache[p] = s
        return s

    def G(self, Y: np.ndarray) -> np.ndarray:
        """Bordered residual; ``NaN`` where the parameter is outside its allowed range (so that
        Newton's line search backs off instead of stopping the branch)."""
        try:
            sysm = self.system(Y[-1])
        except ValueError:
            return np.full(Y.size - 1, np.nan)
        return sysm.augmented(Y[:-1])

    def in_range(self, p: float) -> bool:
        lo, hi, lo_open, hi_open, _ = PARAMETER_RANGES[self.param]
        return (lo < p if lo_open else lo <= p) and (p < hi if hi_open else p <= hi)

    def G_vc(self, Y: np.ndarray) -> np.ndarray:
        return self.system(Y[-1]).augmented_jacobian(Y[:-1])

    def G_p(self, Y: np.ndarray) -> np.ndarray:
        """``dG/dp`` by central differences (forward at the edge of the allowed range)."""
        p = Y[-1]
        h = 1e-6 * max(abs(p), self.p_scale)
        try:
            lo = self.system(p - h).augmented(Y[:-1])
            return (self.system(p + h).augmented(Y[:-1]) - lo) / (2 * h)
        except ValueError:
            return (self.system(p + h).augmented(Y[:-1]) - self.G(Y)) / h

    def full_jac(self, Y: np.ndarray, T: np.ndarray) -> np.ndarray:
        Jm = np.zeros((Y.size, Y.size))
        Jm[:-1, :-1] = self.G_vc(Y)
        Jm[:-1, -1] = self.G_p(Y)
        Jm[-1] = self.wts * T
        return Jm

    def tangent(self, Y: np.ndarray, T_old: np.ndarray) -> np.ndarray:
        rhs = np.zeros(Y.size)
        rhs[-1] = 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sla.LinAlgWarning)
            T = sla.solve(self.full_jac(Y, T_old), rhs)
        return T / np.sqrt(np.sum(self.wts * T * T))

    def bordered_det_sign(self, Y: np.ndarray, T: np.ndarray) -> tuple[float, float]:
        return np.linalg.slogdet(self.full_jac(Y, T))

    _ds = 1.0  # current step length (set by the caller), bounds the corrector's move

    def correct(self, Y_pred: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, float, int]:
        def res(Y):
            return np.concatenate([self.G(Y), [np.sum(self.wts * T * (Y - Y_pred))]])

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sla.LinAlgWarning)
            Y, r, it = newton(res, lambda Y: self.full_jac(Y, T), Y_pred, tol=self.tol, maxit=8)
        step = np.sqrt(np.sum(self.wts * (Y - Y_pred) ** 2))
        sysm = self.system(Y[-1])
        u = Y[:sysm.N]
        th = float(sysm.model.theta)
        if step > 0.5 * max(np.sqrt(np.sum(self.wts * T * T)), 1e-300) * self._ds or not (
                u.max() > th > u.min()):
            raise SteadyStateError("corrector left the branch (step too large)")
        return Y, r, it


def _point_data(br: _Branch, Y: np.ndarray, branch: str, res: float, with_spectrum: bool,
                eig_kw: dict) -> _Point:
    sysm = br.system(Y[-1])
    u, q, a = sysm.split(Y[:-2])
    pt = _Point(Y.copy(), float(Y[-1]), branch=branch, residual=res,
                measures=bump_measures(sysm, u, Y[-2]))
    rule = resolution(sysm, u)
    pt.resolved, pt.n_needed = rule["resolved"], rule["N_needed"]
    if with_spectrum:
        st = Steady(sysm, u, q, a, float(Y[-2]), res, 0)
        sp = spectrum(st, **eig_kw)
        pt.n_unstable, pt.leading, pt.stable = sp.n_unstable, sp.leading, sp.stable
        pt.resolved = pt.resolved and sp.resolved
    return pt


def _locate(br: _Branch, Y0: np.ndarray, T0: np.ndarray, ds: float, test, f0: float,
            f1: float, xtol: float = 1e-10):
    """Zero of the continuous test function ``test(Y, T)`` on the arclength ``s in (0, ds)`` from
    ``Y0`` (values ``f0`` at 0 and ``f1`` at ``ds``, of opposite signs), each trial point
    corrected by Newton's method.

    Brent's method (:func:`scipy.optimize.brentq`) keeps the sign change bracketed and falls back
    to bisection where interpolation does not help. That matters for the bordered determinant:
    over one step its magnitude can change by ten orders of magnitude (at ``N = 256`` and
    steepness 20 from ``2e-6`` to ``-5e5`` relative to the mean), where regula falsi crawls from
    the small end and stops after its iteration limit far from the zero (the located drift point
    was 10 % low). Returns the corrected point and tangent at the zero, or at the last trial
    point if the corrector fails inside the bracket.
    """
    from scipy.optimize import brentq

    last = {"Y": Y0, "T": T0}

    def g(s):
        if s <= 0.0:
            return f0
        if s >= ds:
            return f1
        Y, _, _ = br.correct(Y0 + s * T0, T0)
        T = br.tangent(Y, T0)
        last["Y"], last["T"] = Y, T
        return test(Y, T)

    try:
        root = brentq(g, 0.0, ds, xtol=xtol * ds, rtol=4 * np.finfo(float).eps, maxiter=200)
        if 0.0 < root < ds:
            g(root)  # the point at the zero itself (brentq's last call may be another one)
    except (ValueError, sla.LinAlgError, RuntimeError):
        pass
    return last["Y"], last["T"]


#: Half-width of the eigenvalue bracket around a located drift point, relative to ``|p|``.
BRACKET_REL = 5e-4


def _eigen_bracket(br: _Branch, Y: np.ndarray, T: np.ndarray, eig_kw: dict) -> tuple:
    """Independent check of a drift point: the leading non-translation eigenvalue of
    :func:`~astrofield.theory.spectra.spectrum` on the branch at ``p (1 -+ BRACKET_REL)``.

    Returns ``(p_lo, p_hi, lead_lo, lead_hi)`` (parameter values in the units of ``p``, leading
    real parts in 1/time), ordered so that ``p_lo < p_hi``; leading parts of opposite signs mean
    that the eigenvalue crossing is bracketed within ``2 BRACKET_REL |p|``. An empty tuple when
    the points either side cannot be corrected or ``dp/ds = 0`` (a fold).
    """
    dp = BRACKET_REL * max(abs(Y[-1]), 1e-3 * br.p_scale)
    if abs(T[-1]) < 1e-12:
        return ()
    out = []
    for sgn in (-1.0, 1.0):
        h = sgn * dp / T[-1]
        ds_old, br._ds = br._ds, abs(h)
        try:
            Yb, res, _ = br.correct(Y + h * T, T)
        except (ValueError, sla.LinAlgError):
            return ()
        finally:
            br._ds = ds_old
        pt = _point_data(br, Yb, "stationary", res, True, eig_kw)
        out.append((pt.p, pt.leading.real))
    (p0, l0), (p1, l1) = sorted(out)
    return (p0, p1, l0, l1)


def _classify(br: _Branch, Y: np.ndarray) -> str:
    """``"drift"`` if the null vector of ``G_(v,c)`` is odd (moves the bump), else ``"branch"``."""
    _, _, Vh = np.linalg.svd(br.G_vc(Y))
    phi = Vh[-1]
    sysm = br.system(Y[-1])
    n = sysm.N
    u = phi[:n]
    # reflection x -> -x on the grid x_j = -pi + j dx maps index j to (N - j) mod N
    refl = u[(-np.arange(n)) % n]
    odd = np.linalg.norm(u - refl) + abs(phi[-1]) * np.sqrt(n)
    even = np.linalg.norm(u + refl)
    return "drift" if odd > even else "branch"


def _null_direction(br: _Branch, Y: np.ndarray) -> np.ndarray:
    _, _, Vh = np.linalg.svd(br.G_vc(Y))
    phi = Vh[-1]
    if phi[-1] < 0:
        phi = -phi
    T = np.concatenate([phi, [0.0]])
    return T / np.sqrt(np.sum(br.wts * T * T))


def _run_branch(br: _Branch, Y: np.ndarray, T: np.ndarray, stop: float, opts: dict,
                branch: str, pts: list) -> str:
    """Continue from ``(Y, T)`` until ``p`` passes ``stop`` or ``max_points``; returns a message."""
    ds, start_p = opts["ds"], Y[-1]
    direction = np.sign(stop - start_p) if stop != start_p else 1.0
    det0, logdet0 = br.bordered_det_sign(Y, T)
    while len(pts) < opts["max_points"]:
        if not br.in_range(Y[-1] + ds * T[-1]):
            return (f"stopped: the branch leaves the allowed range of {br.param} after "
                    f"{br.param} = {Y[-1]:.6g}; continue towards the other end or change the "
                    "other parameters")
        br._ds = ds
        try:
            Y_new, res, it = br.correct(Y + ds * T, T)
            T_new = br.tangent(Y_new, T)
        except ValueError as exc:  # SteadyStateError or parameter out of range
            if "outside the allowed range" in str(exc):
                return f"stopped: {exc}; choose --stop inside the allowed range"
            ds *= 0.5
            if ds < opts["ds_min"]:
                return (f"stopped at {br.param} = {Y[-1]:.6g}: the step could not be corrected "
                        f"(step < ds_min = {opts['ds_min']:g}); increase N or lower ds_min")
            continue
        except sla.LinAlgError:
            return f"stopped at {br.param} = {Y[-1]:.6g}: singular Jacobian"
        det1, logdet1 = br.bordered_det_sign(Y_new, T_new)
        special = []
        if np.sign(T_new[-1]) != np.sign(T[-1]) and T[-1] != 0:
            special.append(("fold", lambda y, t: t[-1], T[-1], T_new[-1]))
        elif det1 != det0:
            ref = 0.5 * (logdet0 + logdet1)

            def det_ratio(y, t, ref=ref):
                sg, ld = br.bordered_det_sign(y, t)
                return sg * np.exp(np.clip(ld - ref, -700.0, 700.0))

            special.append(("bp", det_ratio, det0 * np.exp(np.clip(logdet0 - ref, -700, 700)),
                            det1 * np.exp(np.clip(logdet1 - ref, -700, 700))))
        for kind, test, f0, f1 in special:
            Yl, Tl = _locate(br, Y, T, ds, test, f0, f1)
            if kind == "bp":
                kind = _classify(br, Yl)
            pt = _point_data(br, Yl, branch, float(np.max(np.abs(br.G(Yl)))),
                             opts["spectra"], opts["eig_kw"])
            pt.kind = kind
            if kind == "drift" and opts["spectra"]:
                pt.bracket = _eigen_bracket(br, Yl, Tl, opts["eig_kw"])
            pts.append(pt)
        det0, logdet0 = det1, logdet1
        pts.append(_point_data(br, Y_new, branch, res, opts["spectra"], opts["eig_kw"]))
        Y, T = Y_new, T_new
        if (Y[-1] - stop) * direction >= 0:
            return ""
        if (Y[-1] - start_p) * direction < -abs(stop - start_p):
            return f"stopped: the branch turned back past the start ({br.param} = {Y[-1]:.6g})"
        ds = min(ds * 1.3, opts["ds_max"]) if it <= 3 else ds
    return f"stopped after max_points = {opts['max_points']} points"


@single_blas_thread
def continue_bumps(model: Model | None = None, param: str = "beta", start: float | None = None,
                   stop: float = 0.1, *, N: int | str = 128, D_field: np.ndarray | None = None,
                   mass: float = 2 * np.pi, init: str | Sequence[ArrayLike] = "heaviside",
                   ds: float = 0.05, ds_min: float = 1e-5, ds_max: float = 0.2,
                   max_points: int = 200,
                   tol: float = DEFAULT_TOL, spectra: bool = True, travelling: bool = True,
                   max_travelling: int = 60, branch: str = "wide",
                   progress: bool | None = False) -> xr.Dataset:
    """Follow the bump branch of ``model`` in ``param`` from ``start`` to ``stop``.

    Parameters
    ----------
    model
        Unbatched model; ``param`` is set to ``start`` (default: the model's value).
    param
        One of ``beta, gamma, D, theta, steepness, tau`` (``steepness``: sigmoid only).
    start, stop
        First and last value of ``param`` (default ``start``: the model's value), in its units
        (``beta``, ``gamma`` per unit time, ``D`` in rad^2 per unit time, ``tau`` in neural time
        constants, ``theta`` and ``steepness`` dimensionless); both within the parameter's
        allowed range, ``start != stop``.
    N
        Grid points (even; default 128, as :func:`~astrofield.theory.steady.steady_bump` and
        ``astrofield continue``), or ``"auto"``: chosen at ``start`` by the resolution rule of
        :func:`~astrofield.theory.steady.resolution` (the firing layer of a smooth rate
        resolved; 128 for Heaviside firing). Points where the grid does not resolve the layer
        have ``resolved = False`` and the message names the ``N`` they need.
    D_field
        Optional heterogeneous diffusion ``D(x)``, shape ``(N,)``, in rad^2 per unit time
        (replaces ``model.D``; not with ``param="D"``).
    mass
        Total resource ``∫ (q + a) dx`` of every bump on the branch (default ``2 pi``, the
        resting state).
    init
        Start guess: ``"heaviside"`` or arrays ``(u, q, a)`` (see
        :func:`~astrofield.theory.steady.steady_bump`).
    ds, ds_min, ds_max
        Arclength steps in the weighted norm (parameter measured in units of ``|stop - start|``).
    max_points
        Largest number of points on the stationary branch.
    tol
        Max-norm tolerance of the Newton residual (smooth firing; Heaviside bumps are solved
        from their edge equations to their own tolerance). Recorded in ``attrs``.
    spectra
        Compute the spectrum (``n_unstable``, leading eigenvalue) at every point.
    branch
        Bump family to follow: ``"wide"`` or ``"narrow"`` (Heaviside firing: the two roots of
        the edge equations either side of the fold; sigmoid firing: the Heaviside bump used as
        the start guess when ``init="heaviside"``). Near the fold at large ``D`` the drift
        bifurcation can lie on the narrow family only.
    travelling
        Switch onto the travelling branch at the first drift bifurcation (sigmoid) or at every
        drift bifurcation (Heaviside, homogeneous ``D``) and follow it for at most
        ``max_travelling`` points. Heaviside travelling points have ``n_unstable = -1`` and
        ``NaN`` leading eigenvalues (stability not computed) and ``stable = False``.
    max_travelling
        Largest number of points on each travelling branch.
    progress
        Show a tqdm counter of the computed points on stderr (``None``: only once the
        continuation has taken about a second; ``False``, the default: never).

    Returns
    -------
    xarray.Dataset
        On dimension ``point``: the parameter, ``amplitude``, ``width``, ``speed``,
        ``n_unstable``, ``stable``, ``resolved`` (the grid resolves the firing layer,
        :func:`~astrofield.theory.steady.resolution`, and the translation eigenvalue is small,
        :attr:`~astrofield.theory.spectra.Spectrum.resolved`), ``leading_real``/``leading_imag``,
        ``point_type`` (``start``,
        ``regular``, ``fold``, ``drift``, ``branch``, ``end``), ``branch`` (``stationary`` or
        ``travelling``), ``residual``. ``attrs``: model parameters, ``N``, tolerances, the special
        points (JSON lists ``folds``, ``drift_bifurcations``), ``message`` (why the branch ended
        early, empty if it reached ``stop``), ``wall_s`` and the package version.
    """
    t0 = time.perf_counter()
    model = Model() if model is None else model
    if param not in PARAMETERS:
        raise ValueError(f"param = {param!r} is not one of {PARAMETERS}")
    if param == "steepness" and not model.firing.uses_steepness:
        raise ValueError(f"param = 'steepness' needs a firing rate with a steepness (sigmoid, "
                         f"threshold_tanh), not {model.firing.describe()}")
    if param == "D" and D_field is not None:
        raise ValueError("param = 'D' cannot be continued with a heterogeneous D_field")
    start = float(getattr(model, param)) if start is None else float(start)
    lo, hi, lo_open, hi_open, allow_inf = PARAMETER_RANGES[param]
    for name, v in (("start", start), ("stop", stop)):
        check_range(f"{name} ({param})", v, lo, hi, lo_open=lo_open, hi_open=hi_open)
    if start == stop:
        raise ValueError(f"start = stop = {start:g}: give a range to continue over")
    if not (isinstance(N, str) and N == "auto"):
        N = check_int("N", N, 16)
    elif model.firing.edges or D_field is not None:
        N = 128 if D_field is None else len(D_field)  # edges are exact; D_field fixes N
    max_points = check_int("max_points", max_points, 2)
    from astrofield._validate import check_memory, check_work, dense_work

    n_est = N if isinstance(N, int) else 128
    check_memory(8.0 * float(max_points) * (3.0 * n_est + 64.0),
                 f"a continuation of up to max_points = {max_points} points at N = {N} "
                 "(the points of the branch)")
    check_work(dense_work(n_est, max_points),
               f"a continuation of up to max_points = {max_points} points at N = {N} "
               f"(a dense {3 * n_est} x {3 * n_est} Newton and eigenvalue problem each)",
               hint="reduce N or max_points")
    if branch not in ("wide", "narrow"):
        raise ValueError(f"branch = {branch!r} is not one of ('wide', 'narrow')")
    check_range("ds", ds, 0, np.inf, lo_open=True)
    from dataclasses import replace

    model = replace(model, **{param: start})
    opts = {"ds": ds, "ds_min": ds_min, "ds_max": ds_max, "max_points": max_points,
            "spectra": spectra, "eig_kw": {"k": 10, "dense_max": 400}}
    from astrofield._progress import progress_bar

    with progress_bar(None, progress, "pt", desc="continuation") as bar:
        pts, msg, N = _branches(model, param, start, stop, N, D_field, mass, init, tol, opts,
                                travelling, max_travelling, branch, max_points, spectra, bar)
    out = _to_dataset(list(pts), msg, model, param, N, tol, time.perf_counter() - t0, D_field)
    out.attrs["bump_branch"] = branch
    return out


class _Points(list):
    """The list of computed points; each one added moves the progress bar."""

    def __init__(self, bar: Any = None) -> None:
        super().__init__()
        self.bar = bar

    def append(self, item: Any) -> None:
        super().append(item)
        if self.bar is not None:
            self.bar.update(1)

    def extend(self, items: Any) -> None:
        items = list(items)
        super().extend(items)
        if self.bar is not None:
            self.bar.update(len(items))


def _branches(model, param, start, stop, N, D_field, mass, init, tol, opts, travelling,
              max_travelling, branch, max_points, spectra, bar):
    """The stationary branch and, if asked, the travelling ones: ``(points, message, N)``."""
    opts = {**opts, "bar": bar}
    if model.firing.edges:
        pts, msg = _heaviside_branch(model, param, start, stop, N, D_field, mass, max_points,
                                     spectra, branch, bar)
        if travelling and D_field is None:
            msg = _heaviside_travelling(model, param, start, stop, N, mass, max_travelling, pts,
                                        msg, branch)
        elif travelling and any(p.kind == "drift" for p in pts):
            msg = (msg + "; " if msg else "") + (
                "travelling Heaviside bumps are not computed with a heterogeneous D_field")
    else:
        pts, msg, N = _smooth_branch(model, param, start, stop, N, D_field, mass, init, tol,
                                     opts, travelling, max_travelling, branch)
    return pts, msg, N


def _smooth_branch(model, param, start, stop, N, D_field, mass, init, tol, opts, travelling,
                   max_travelling, branch="wide"):
    pts: list[_Point] = _Points(opts.get("bar"))
    try:
        st = steady_bump(model, N, init=init, D_field=D_field, mass=mass, tol=tol,
                         branch=branch)
    except SteadyStateError as exc:
        return pts, f"no bump to continue from at {param} = {start:g}: {exc}", N
    N = st.system.N
    br = _Branch(st.system, param, abs(stop - start), tol)
    Y = np.concatenate([st.y, [start]])
    T0 = np.zeros(Y.size)
    T0[-1] = np.sign(stop - start)
    try:
        T = br.tangent(Y, T0)
    except (sla.LinAlgError, ValueError) as exc:
        return pts, (f"cannot start at {param} = {start:g}: the Jacobian is singular there "
                     f"({exc}); start slightly away from a fold or bifurcation"), N
    if np.sign(T[-1]) != np.sign(stop - start):
        T = -T
    first = _point_data(br, Y, "stationary", st.residual, opts["spectra"], opts["eig_kw"])
    first.kind = "start"
    pts.append(first)
    msg = _run_branch(br, Y, T, stop, opts, "stationary", pts)
    drift = [p for p in pts if p.kind == "drift"]
    if travelling and drift:
        msg2 = _switch(br, drift[0], stop, start, opts, max_travelling, pts)
        if msg2:
            msg = (msg + "; " if msg else "") + "travelling branch " + msg2
    if pts:
        pts[-1].kind = "end" if pts[-1].kind == "regular" else pts[-1].kind
    return pts, msg, N


def _switch(br: _Branch, bp: _Point, stop, start, opts, max_travelling, pts) -> str:
    """Leave the drift point along the odd null vector onto the travelling branch."""
    T = _null_direction(br, bp.y)
    Y = bp.y
    sub: list[_Point] = []
    o = dict(opts, max_points=max_travelling, ds=min(opts["ds"], 0.05))
    # first point off the stationary branch: fix the speed at a small value, free the parameter
    Y1 = None
    for eps in (1e-3, 3e-3, 1e-2):
        Y_guess = Y + (eps / T[-2]) * T

        def res(y, eps=eps):
            return np.concatenate([br.G(y), [y[-2] - eps]])

        def jac(y):
            e = np.zeros(y.size)
            e[-2] = 1.0
            Jm = br.full_jac(y, e)
            Jm[-1] = e
            return Jm

        try:
            Y1, res1, _ = newton(res, jac, Y_guess, tol=br.tol, maxit=12)
            break
        except (ValueError, sla.LinAlgError):
            continue
    if Y1 is None:
        return "could not be entered at the drift point (Newton with fixed speed failed)"
    T1 = br.tangent(Y1, Y1 - Y)
    res = res1
    # the travelling branch goes to one side of the drift point: continue towards either end
    target = stop if np.sign(T1[-1]) == np.sign(stop - bp.p) else start
    sub.append(_point_data(br, Y1, "travelling", res, opts["spectra"], opts["eig_kw"]))
    msg = _run_branch(br, Y1, T1, target, o, "travelling", sub)
    if sub:
        sub[-1].kind = "end"
    pts.extend(sub)
    return msg


# --------------------------------------------------------------------------------------------
# Heaviside: natural-parameter steps on the edge equations
# --------------------------------------------------------------------------------------------

def _heaviside_point(system, param, p, spectra, branch="wide"):
    sysm = system.with_params(**{param: float(p)})
    st = heaviside_bump(sysm, branch=branch)
    pt = _Point(np.zeros(0), float(p), residual=st.residual, measures=bump_measures(sysm, st.u))
    pt.measures["width"] = 2 * st.Delta
    if spectra:
        sp = spectrum(st)
        pt.n_unstable, pt.leading, pt.stable = sp.n_unstable, sp.leading, sp.stable
    return pt


def _heaviside_branch(model, param, start, stop, N, D_field, mass, max_points, spectra,
                      branch="wide", bar=None):
    system = RingSystem(model, N, D_field=D_field, mass=mass)
    pts: list[_Point] = _Points(bar)
    values = np.linspace(start, stop, max_points)
    msg = ""
    pitch = _pitchfork_sign(system, param, branch)
    sign = None  # sign of E'(0) at the previous point (special case only)
    for i, p in enumerate(values):
        try:
            pt = _heaviside_point(system, param, p, True, branch)
        except SteadyStateError as exc:
            if i == 0:
                return pts, f"no bump to continue from at {param} = {start:g}: {exc}"
            pf = _bisect_heaviside(system, param, values[i - 1], p,
                                   lambda q: _exists(system, param, q, branch))
            fold = _heaviside_point(system, param, pf, spectra, branch)
            fold.kind = "fold"
            pts.append(fold)
            msg = f"the bump ceases to exist past the fold at {param} = {pf:.8g}"
            break
        s0, sign = sign, (pitch(p) if pitch is not None else None)
        if pts and s0 is not None and s0 != sign:
            # special case: E'(0) changes sign -- a drift pitchfork, also on unstable branches
            pd = _bisect_heaviside(system, param, values[i - 1], p,
                                   lambda q, s0=s0: pitch(q) == s0)
            d = _heaviside_point(system, param, pd, spectra, branch)
            d.kind = "drift"
            pts.append(d)
        elif pts and pts[-1].stable != pt.stable and pts[-1].kind != "fold":
            pd = _bisect_heaviside(system, param, values[i - 1], p,
                                   lambda q, s0=pts[-1].stable: _heaviside_point(
                                       system, param, q, True, branch).stable == s0)
            d = _heaviside_point(system, param, pd, spectra, branch)
            d.kind = "drift"
            pts.append(d)
        pt.kind = "start" if i == 0 else "regular"
        pts.append(pt)
    if pts and pts[-1].kind == "regular":
        pts[-1].kind = "end"
    return pts, msg


def _pitchfork_sign(system, param, branch):
    """``p -> sign E'(0)`` where the Evans function applies (cosine kernel of amplitude 1,
    ``tau = 1``, resting mass ``2 pi``, uniform ``D``), else ``None``. ``E'(0)`` changes sign
    exactly at a drift pitchfork, whether or not another mode is unstable there."""
    m = system.model
    k = m.kernel
    special = (k.is_cosine and float(k.amplitude) == 1.0
               and float(m.tau) == 1.0 and system.D_field is None
               and abs(system.mass - 2 * np.pi) < 1e-12 and param in ("beta", "gamma", "D",
                                                                       "theta"))
    if not special:
        return None

    def sign(p):
        pr = {"theta": m.theta, "beta": m.beta, "gamma": m.gamma, "D": m.D}
        pr[param] = float(p)
        return bool(evans_dprime(pr["theta"], pr["beta"], pr["gamma"], pr["D"], branch) > 0)

    return sign


def _heaviside_travelling(model, param, start, stop, N, mass, max_travelling, pts, msg,
                          branch="wide"):
    """At every drift point of the stationary Heaviside branch, follow the travelling branch
    (:func:`astrofield.theory.travelling.follow_speed`); its points are appended to ``pts``."""
    drift = [p for p in pts if p.kind == "drift"]
    if param not in ("beta", "gamma", "D", "theta", "tau"):
        return msg
    system = RingSystem(model, N, mass=mass)
    for d in drift:
        st = heaviside_bump(system.with_params(**{param: d.p}), branch=branch)
        bumps, why = follow_speed(model, param, d.p, st.Delta, st.extra["A0"], start, stop,
                                  max_points=max_travelling, mass=mass)
        for i, b in enumerate(bumps):
            pt = _Point(np.zeros(0), float(getattr(b.model, param)), branch="travelling",
                        residual=b.residual, measures=b.measures(), stable=False)
            pt.kind = "start" if i == 0 else ("end" if i == len(bumps) - 1 else "regular")
            pts.append(pt)
        if why:
            msg = (msg + "; " if msg else "") + f"travelling branch from {param} = {d.p:.6g} {why}"
    return msg


def _exists(system, param, p, branch="wide") -> bool:
    try:
        heaviside_bump(system.with_params(**{param: float(p)}), branch=branch)
        return True
    except SteadyStateError:
        return False


def _bisect_heaviside(system, param, a, b, same_as_a, n_iter: int = 40) -> float:
    for _ in range(n_iter):
        m = 0.5 * (a + b)
        if same_as_a(m):
            a = m
        else:
            b = m
        if abs(b - a) < 1e-9 * max(1.0, abs(a)):
            break
    return a  # the last value on the side of ``a`` (e.g. where the bump still exists)


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------

def _to_dataset(pts, msg, model, param, N, tol, wall, D_field) -> xr.Dataset:
    n = len(pts)

    def col(f, dtype=float):
        return np.array([f(p) for p in pts], dtype=dtype) if n else np.zeros(0, dtype)

    rate = "eigenvalue (growth rate) per neural time constant (time is dimensionless)"
    ds = xr.Dataset(
        {
            param: ("point", col(lambda p: p.p),
                    {**COMMON.get(param, {"units": "1", "long_name": param}),
                     "description": f"continuation parameter {param}; "
                                    + COMMON.get(param, {}).get("description", "")}),
            "amplitude": ("point", col(lambda p: p.measures.get("amplitude", np.nan)),
                          {"long_name": "bump amplitude max u", "units": "1"}),
            "width": ("point", col(lambda p: p.measures.get("width", np.nan)),
                      {"long_name": "width of the active region", "units": "rad",
                       "description": "length of {u > theta}"}),
            "speed": ("point", col(lambda p: p.measures.get("speed", 0.0)),
                      rate_attrs("bump speed c")),
            "n_unstable": ("point", col(lambda p: p.n_unstable, int),
                           {"long_name": "number of unstable eigenvalues", "units": "1",
                            "description": "-1: not computed"}),
            "stable": ("point", col(lambda p: p.stable, bool),
                       flag_attrs("linearly stable", [0, 1], "unstable stable",
                                  description="linear stability, translation mode excluded")),
            "leading_real": ("point", col(lambda p: p.leading.real),
                             {"long_name": "Re of the leading eigenvalue", "units": "1",
                              "description": "leading non-translation " + rate}),
            "leading_imag": ("point", col(lambda p: p.leading.imag),
                             {"long_name": "Im of the leading eigenvalue", "units": "1",
                              "description": "leading non-translation " + rate}),
            "point_type": ("point", col(lambda p: p.kind, object).astype(str),
                           {"long_name": "kind of point",
                            "description": "start, regular, fold, drift, branch or end"}),
            "branch": ("point", col(lambda p: p.branch, object).astype(str),
                       {"long_name": "stationary or travelling"}),
            "resolved": ("point", col(lambda p: p.resolved, bool),
                         flag_attrs("resolved", [0, 1], "unresolved resolved",
                                    description="the grid resolves the firing layer and the "
                                                "translation eigenvalue is small")),
            "residual": ("point", col(lambda p: p.residual),
                         {"long_name": "residual of the bump equations", "units": "1",
                          "description": "max-norm residual, per neural time constant"}),
        },
        coords={"point": ("point", np.arange(n), index_attrs("index along the branch"))},
    )
    special = {k: [float(p.p) for p in pts if p.kind == k] for k in ("fold", "drift")}
    brackets = [[float(v) for v in p.bracket] for p in pts if p.kind == "drift" and p.bracket]
    bad = [p.p for p in pts if p.kind == "drift" and len(p.bracket) == 4
           and not p.bracket[2] * p.bracket[3] < 0]
    if bad:
        msg = (msg + "; " if msg else "") + (
            "warning: the leading eigenvalue does not change sign within "
            f"{BRACKET_REL:.2%} either side of the drift point(s) at "
            + ", ".join(f"{param} = {v:.8g}" for v in bad) + " (increase N)")
    if pts and not all(p.resolved for p in pts):
        need = max([p.n_needed for p in pts] + [N])
        msg = (msg + "; " if msg else "") + (
            f"warning: N = {N} does not resolve the firing layer at some points (fewer than "
            f"{LAYER_POINTS:g} grid spacings across it, or the translation eigenvalue is not "
            f"small), so their positions and stability are not trustworthy; use N >= {need} "
            "or N = 'auto'")
    ds.attrs.update({f"param_{k}": v for k, v in model.to_attrs().items()})
    ds.attrs.update({"continuation_parameter": param, "N": N, "tol": tol,
                     "unstable_tol": UNSTABLE_TOL, "folds": json.dumps(special["fold"]),
                     "drift_bifurcations": json.dumps(special["drift"]),
                     "drift_brackets": json.dumps(brackets), "message": msg,
                     "wall_s": wall, "heterogeneous_D": int(D_field is not None),
                     "method": ("stationary: edges+natural; travelling: co-moving edges, "
                                "local (speed, parameter) steps, closed form or collocation")
                     if model.firing.edges else "pseudo-arclength",
                     "astrofield_version": __version__})
    annotate(ds, None, scheme=f"numerical continuation ({ds.attrs['method']}), "
                              "finite-difference spectra", **seed_attrs(None, False))
    return ds


@single_blas_thread
def numerical_boundary(model: Model | None = None, param: str = "beta", lo: float = 1e-3,
                       hi: float = 0.3, *, N: int | str = 128, n_scan: int = 16,
                       tol: float = DEFAULT_TOL, D_field: np.ndarray | None = None,
                       xtol: float = 1e-8, details: bool = False) -> float | dict:
    """Drift-stability boundary (e.g. ``beta*`` at the model's ``D``), smooth firing rates.

    The stationary bump is followed on ``n_scan`` values of ``param`` in ``[lo, hi]`` (each
    Newton solve warm-started from the nearest solved one, with smaller parameter steps where
    Newton fails). The drift bifurcation is where the determinant of the bordered Jacobian
    ``G_(v,c)`` (speed as unknown, phase condition) changes sign with an odd null vector; it is
    polished by Brent's method on the determinant ratio. There the leading non-translation
    eigenvalue of :func:`~astrofield.theory.spectra.spectrum` changes sign. Returns ``NaN`` if
    there is no drift bifurcation in ``[lo, hi]`` before the bump ceases to exist (or Newton
    fails). For Heaviside firing use :func:`astrofield.theory.stability.beta_star`.

    The grid must resolve the firing layer (:func:`~astrofield.theory.steady.resolution`):
    with too small an ``N`` the boundary is biased (steepness 200: 2 % low at ``N = 128``).
    An unresolved result comes with a :class:`UserWarning` naming the ``N`` it needs
    (``resolved = False`` with ``details``).

    Parameters
    ----------
    model
        Unbatched model with a smooth firing rate (default: ``Model()``, which is Heaviside and
        is refused); its value of ``param`` is replaced by the scanned values.
    param
        One of ``beta, gamma, D, theta, steepness, tau``.
    lo, hi
        The interval scanned, in the units of ``param`` (``beta``, ``gamma`` per unit time,
        ``D`` in rad^2 per unit time, ``tau`` in neural time constants), within its allowed
        range, ``lo < hi``.
    N
        Grid points (even, >= 16), or ``"auto"``: the ``N`` the resolution rule asks for at
        ``lo``, raised (and the boundary recomputed) if the bump at the boundary needs more.
    n_scan
        Number of equally spaced values of ``param`` in ``[lo, hi]`` (>= 2).
    tol
        Max-norm tolerance of the Newton residual.
    D_field
        Optional heterogeneous diffusion ``D(x)``, shape ``(N,)``, in rad^2 per unit time
        (replaces ``model.D``; not with ``N="auto"``).
    xtol
        Absolute tolerance of Brent's method on the boundary value (units of ``param``).
    details
        Return a dict instead of the bare value.

    Returns
    -------
    float or dict
        The boundary value of ``param`` or ``NaN``; with ``details`` a dict with ``value``,
        ``N``, ``resolved``, ``layer_points`` and ``N_needed`` (see
        :func:`~astrofield.theory.steady.resolution`, at the boundary), ``bracket`` (the last
        interval of ``param`` known to contain the sign change, ``None`` if none) and
        ``message`` (why the value is ``NaN``, or empty).
    """
    model = Model() if model is None else model
    if model.firing.edges:
        raise ValueError("numerical_boundary needs a smooth firing rate, e.g. 'sigmoid' "
                         "(Heaviside: beta_star)")
    if param not in PARAMETERS:
        raise ValueError(f"param = {param!r} is not one of {PARAMETERS}")
    rng = PARAMETER_RANGES[param]
    check_range(f"lo ({param})", lo, rng[0], rng[1], lo_open=rng[2], hi_open=rng[3])
    check_range(f"hi ({param})", hi, rng[0], rng[1], lo_open=rng[2], hi_open=rng[3])
    if not lo < hi:
        raise ValueError(f"lo = {lo:g} must be below hi = {hi:g}")
    n_scan = check_int("n_scan", n_scan, 2)
    from dataclasses import replace

    model = replace(model, **{param: lo})
    auto = isinstance(N, str)
    y0 = None
    if auto:
        try:
            st = steady_bump(model, N, D_field=D_field, tol=tol)
        except SteadyStateError as exc:
            out = _boundary_result(float("nan"), None, f"no bump at {param} = {lo:g}: {exc}")
            return _finish(out, RingSystem(model, 128), None, details)
        N, y0 = st.system.N, st.y
    N = check_int("N", N, 16)
    system = RingSystem(model, N, D_field=D_field)
    out = _boundary_scan(system, param, np.linspace(lo, hi, n_scan), tol, xtol, y0)
    for _ in range(3 if auto else 0):  # N = "auto": refine the grid at the boundary
        if not np.isfinite(out["value"]):
            break
        rule = resolution(system, system.split(out["y"][:-1])[0])
        if rule["resolved"] or rule["N_needed"] <= system.N:
            break
        system = RingSystem(model, rule["N_needed"])
        a, b = out["bracket"]
        near = np.linspace(max(lo, a - 0.05 * (hi - lo)), min(hi, b + 0.05 * (hi - lo)), 3)
        out = _boundary_scan(system, param, near, tol, xtol, None)
    return _finish(out, system, out.get("y"), details)


def _boundary_result(value: float, bracket, message: str, y=None) -> dict:
    return {"value": float(value), "bracket": bracket, "message": message, "y": y}


def _finish(out: dict, system: RingSystem, y, details: bool) -> float | dict:
    """Add the resolution verdict at the boundary (warn when it is not resolved)."""
    rule = (resolution(system, system.split(y[:-1])[0]) if y is not None
            else {"resolved": False, "layer_points": float("nan"), "N_needed": None})
    res = {"value": out["value"], "N": system.N, "resolved": rule["resolved"],
           "layer_points": rule["layer_points"], "N_needed": rule["N_needed"],
           "bracket": out["bracket"], "message": out["message"]}
    if y is not None and not rule["resolved"]:
        res["message"] = (res["message"] + "; " if res["message"] else "") + (
            f"N = {system.N} does not resolve the firing layer ({rule['layer_points']:.2f} grid "
            f"spacings across it, {LAYER_POINTS:g} needed): the boundary is biased; use N >= "
            f"{rule['N_needed']} or N = 'auto'")
        if not details:
            warnings.warn(res["message"], UserWarning, stacklevel=4)
    return res if details else res["value"]


def _boundary_scan(system: RingSystem, param: str, grid, tol: float, xtol: float,
                   y0: np.ndarray | None) -> dict:
    """Scan ``grid`` for a sign change of ``det G_(v,c)`` with an odd null vector, then polish
    it by Brent's method. Newton failures end the scan with a message (no exception)."""
    from scipy.optimize import brentq

    known: dict[float, np.ndarray] = {}
    prev = None
    for p in np.asarray(grid, float):
        try:
            y = _solve_near(system, param, float(p), known, tol, y0)
        except SteadyStateError as exc:
            return _boundary_result(np.nan, None, f"no bump found at {param} = {p:.6g}: past "
                                    f"the fold, or Newton failed ({exc})")
        sg, ld = np.linalg.slogdet(system.with_params(**{param: float(p)}).augmented_jacobian(y))
        if prev is not None and sg != prev[1]:
            ref = 0.5 * (ld + prev[2])

            def g(pp, ref=ref):
                y2 = _solve_near(system, param, float(pp), known, tol)
                s2 = system.with_params(**{param: float(pp)})
                sg2, ld2 = np.linalg.slogdet(s2.augmented_jacobian(y2))
                return sg2 * np.exp(np.clip(ld2 - ref, -700.0, 700.0))

            try:
                root = brentq(g, prev[0], p, xtol=xtol)
            except SteadyStateError as exc:
                return _boundary_result(np.nan, [prev[0], float(p)], (
                    f"Newton failed while refining the boundary in [{prev[0]:.8g}, {p:.8g}] "
                    f"({exc}); increase N or lower the steepness"))
            yr = _solve_near(system, param, root, known, tol)
            br = _Branch(system, param, 1.0, tol)
            if _classify(br, np.concatenate([yr, [root]])) == "drift":
                return _boundary_result(root, [float(prev[0]), float(p)], "", yr)
        prev = (float(p), sg, ld, y)
    return _boundary_result(np.nan, None, f"no drift bifurcation of {param} in "
                            f"[{grid[0]:g}, {grid[-1]:g}]")


def _solve_near(system: RingSystem, param: str, p: float, known: dict, tol: float,
                y0: np.ndarray | None = None) -> np.ndarray:
    """Bump at ``param = p``, warm-started from the nearest solved value in ``known`` (which
    it joins); where Newton fails, in 2, 4 or 8 smaller parameter steps."""
    sysm = system.with_params(**{param: p})
    if not known:
        y = y0 if y0 is not None else steady_bump(sysm.model, sysm.N, D_field=sysm.D_field,
                                                  mass=sysm.mass, tol=tol).y
        if y0 is not None:
            y, _, _ = newton(sysm.augmented, sysm.augmented_jacobian, y, tol=tol, maxit=20)
        known[p] = y
        return y
    p0 = min(known, key=lambda k: abs(k - p))
    err: SteadyStateError | None = None
    for n_sub in (1, 2, 4, 8):
        y = known[p0]
        try:
            for q in np.linspace(p0, p, n_sub + 1)[1:]:
                s2 = system.with_params(**{param: float(q)})
                y, _, _ = newton(s2.augmented, s2.augmented_jacobian, y, tol=tol, maxit=20)
        except SteadyStateError as exc:
            err = exc
            continue
        known[p] = y
        return y
    raise SteadyStateError(f"at {param} = {p:.8g}: {err}")
