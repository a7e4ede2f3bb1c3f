"""Stationary bumps of the ring model (Heaviside firing, cosine kernel, no input).

A bump is active on the arc ``(-Delta, Delta)``. With ``kappa = Delta / pi``::

    U(x) = 2 c0 sin(Delta) cos(x)           (amplitude 2 c0 sin Delta)
    Q(x) = c0 inside, 1 outside             A(x) = A0 (uniform, for every D > 0)
    threshold      c0 sin(2 Delta) = theta
    local balance  gamma A0 (1 - c0) = beta c0
    conservation   A0 = kappa (1 - c0)       (from ∫ (Q + A) dx = 2 pi)

Eliminating ``A0`` gives the existence curve, parametrised by the half-width,

.. math::

    \\beta(\\Delta) = \\frac{\\gamma \\Delta}{\\pi} \\frac{(1 - c_0)^2}{c_0}
                   = \\frac{\\gamma \\Delta}{\\pi} \\frac{(s - \\theta)^2}{s \\theta},
    \\qquad s = \\sin 2\\Delta,\\quad \\Delta \\in (\\tfrac12 \\arcsin\\theta,
    \\tfrac{\\pi}{2} - \\tfrac12 \\arcsin\\theta).

``beta(Delta)`` vanishes at both ends (the Amari bumps ``c0 = 1``) and has exactly one interior
maximum, the fold ``beta_max(theta, gamma) = gamma * h(theta)``: ``d log beta / d Delta`` is
``1/Delta + 2 cos(2 Delta) (s + theta) / (s (s - theta))``, positive for ``Delta <= pi/4`` and
strictly decreasing beyond. So ``beta_max`` is proportional to ``gamma`` and the fold's ``Delta``
depends on ``theta`` only. For ``0 < beta < beta_max`` there are two bumps: the *narrow* branch
(``Delta < Delta_fold``, always unstable to expansion/contraction) and the *wide* branch.

Every root is found by vectorised bisection on a bracket taken from the existence curve (the curve
is monotone on each branch), so there is no initial guess and no solver exception: absent bumps
are ``NaN`` with ``exists = False``.

Units: time in units of the neural time constant; ``Delta`` in radians on the ring ``[-pi, pi)``.

Reference: Palmer, Cihak, Avitabile, Kilpatrick, "Astrocytic resource diffusion stabilizes
persistent activity in neural fields", arXiv:2604.10036 (2026).
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from astrofield._validate import check_int, check_range

__all__ = [
    "Bump",
    "BRANCHES",
    "stationary_bumps",
    "bump_branches",
    "fold",
    "existence_curve",
    "delta_limits",
    "beta_of_delta",
    "c0_of_delta",
    "bump_quantities",
]

BRANCHES = ("wide", "narrow")
_BISECT_ITERS = 80


def _check_theta_gamma(theta: ArrayLike, gamma: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    th = check_range("theta", theta, 0.0, 1.0, lo_open=True, hi_open=True)
    ga = check_range("gamma", gamma, 0.0, np.inf, lo_open=True, hi_open=True)
    return th, ga


def _check_beta(beta: ArrayLike) -> np.ndarray:
    return check_range("beta", beta, 0.0, np.inf, hi_open=True)


def delta_limits(theta: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Interval of half-widths on the existence curve: ``(asin(theta)/2, pi/2 - asin(theta)/2)``.

    At both ends ``c0 = 1`` and ``beta = 0`` (the Amari bumps without depression).
    """
    th = check_range("theta", theta, 0.0, 1.0, lo_open=True, hi_open=True)
    lo = 0.5 * np.arcsin(th)
    return lo, 0.5 * np.pi - lo


def c0_of_delta(Delta: ArrayLike, theta: ArrayLike) -> np.ndarray:
    """Resource inside the bump from the threshold condition, ``c0 = theta / sin(2 Delta)``."""
    return np.asarray(theta, dtype=float) / np.sin(2.0 * np.asarray(Delta, dtype=float))


def _beta_of_delta_unit(Delta: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``beta(Delta) / gamma`` on the existence curve (no validation; broadcasting)."""
    s = np.sin(2.0 * Delta)
    return Delta * (s - theta) ** 2 / (np.pi * s * theta)


def beta_of_delta(Delta: ArrayLike, theta: ArrayLike, gamma: ArrayLike) -> np.ndarray:
    """Existence curve ``beta(Delta) = gamma Delta (1 - c0)^2 / (pi c0)``, ``c0 = theta/sin2D``.

    ``Delta`` outside :func:`delta_limits` gives ``NaN``.
    """
    th, ga = _check_theta_gamma(theta, gamma)
    D = np.asarray(Delta, dtype=float)
    lo, hi = 0.5 * np.arcsin(th), 0.5 * np.pi - 0.5 * np.arcsin(th)
    out = ga * _beta_of_delta_unit(D, th)
    return np.where((D >= lo) & (D <= hi), out, np.nan)


def _bisect(fun, lo: np.ndarray, hi: np.ndarray, iters: int = _BISECT_ITERS) -> np.ndarray:
    """Vectorised bisection for ``fun(x) = 0`` with ``fun(lo) > 0 >= fun(hi)`` elementwise."""
    lo = np.array(lo, dtype=float, copy=True)
    hi = np.array(hi, dtype=float, copy=True)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        pos = fun(mid) > 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
    return 0.5 * (lo + hi)


def _fold_delta_unit(theta: np.ndarray) -> np.ndarray:
    """Half-width at the fold: root on ``(pi/4, pi/2 - asin(theta)/2)`` of
    ``s (s - theta) + 2 Delta cos(2 Delta) (s + theta)``
    (``= Delta s (s - theta) d log beta / d Delta``).
    """
    hi = 0.5 * np.pi - 0.5 * np.arcsin(theta)

    def g(d: np.ndarray) -> np.ndarray:
        s = np.sin(2.0 * d)
        return s * (s - theta) + 2.0 * d * np.cos(2.0 * d) * (s + theta)

    return _bisect(g, np.full_like(theta, 0.25 * np.pi), hi)


def fold(theta: ArrayLike, gamma: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Fold (saddle-node) of the bump branches.

    Parameters
    ----------
    theta, gamma
        Threshold in (0, 1) and replenishment rate > 0 (scalars or broadcastable arrays).

    Returns
    -------
    beta_max, Delta_fold
        ``beta_max = gamma * max_Delta Delta (1 - c0)^2 / (pi c0)``: no bump exists for
        ``beta > beta_max``. ``Delta_fold`` depends on ``theta`` only.
    """
    th, ga = _check_theta_gamma(theta, gamma)
    th, ga = np.broadcast_arrays(th, ga)
    d = _fold_delta_unit(th)
    return ga * _beta_of_delta_unit(d, th), d


def existence_curve(theta: ArrayLike, gamma: ArrayLike, n: int = 200) -> dict[str, np.ndarray]:
    """The existence curve sampled at ``n`` half-widths across the whole admissible interval.

    Parameters
    ----------
    theta
        Firing threshold (dimensionless scalar).
    gamma
        Synaptic replenishment rate (per unit time, scalar).
    n
        Number of half-widths ``Delta`` sampled.

    Returns
    -------
    dict
        1-D arrays ``Delta`` (rad), ``beta`` (per unit time), ``c0``, ``A0`` and ``branch``
        (``"narrow"`` left of the fold, ``"wide"`` right of it).
    """
    th, ga = _check_theta_gamma(theta, gamma)
    if th.ndim or ga.ndim:
        raise ValueError("existence_curve takes scalar theta and gamma")
    n = check_int("n", n, 3)
    lo, hi = 0.5 * np.arcsin(th), 0.5 * np.pi - 0.5 * np.arcsin(th)
    d = np.linspace(lo, hi, n)
    c0 = c0_of_delta(d, th)
    c0[[0, -1]] = 1.0
    beta = ga * _beta_of_delta_unit(d, th)
    beta[[0, -1]] = 0.0
    dfold = float(_fold_delta_unit(th))
    return {
        "Delta": d,
        "beta": beta,
        "c0": c0,
        "A0": d * (1.0 - c0) / np.pi,
        "branch": np.where(d <= dfold, "narrow", "wide"),
    }


def bump_quantities(Delta: ArrayLike, theta: ArrayLike, beta: ArrayLike,
                    gamma: ArrayLike) -> dict[str, np.ndarray]:
    """Derived bump quantities for half-widths on the existence curve (no validation).

    ``c0`` uses the closed form
    ``c0 = (beta + 2 gamma kappa - sqrt(beta^2 + 4 beta gamma kappa)) / (2 gamma kappa)``,
    which equals ``theta / sin 2Delta`` at a solution and is better conditioned for small beta.
    """
    D = np.asarray(Delta, dtype=float)
    th = np.asarray(theta, dtype=float)
    be = np.asarray(beta, dtype=float)
    ga = np.asarray(gamma, dtype=float)
    gk = ga * D / np.pi
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(be * be + 4.0 * be * gk)
        # 1 - c0 = (root - beta) / (2 gk), written without cancellation:
        one_m_c0 = np.where(be > 0, 2.0 * be / (root + be), 0.0)
        c0 = 1.0 - one_m_c0
        A0 = D * one_m_c0 / np.pi
        sD = np.sin(D)
        return {
            "Delta": D,
            "c0": c0,
            "A0": A0,
            "amplitude": 2.0 * c0 * sD,
            "mu": 1.0 / (2.0 * c0 * sD * sD),
            "threshold_residual": c0 * np.sin(2.0 * D) - th,
        }


def bump_branches(theta: ArrayLike, beta: ArrayLike, gamma: ArrayLike) -> dict[str, Any]:
    """Both bump branches for broadcastable parameter arrays.

    Parameters
    ----------
    theta
        Threshold in (0, 1).
    beta
        Depletion rate >= 0.
    gamma
        Replenishment rate > 0.

    Returns
    -------
    dict
        ``beta_max`` and ``Delta_fold`` (shape of the broadcast parameters) and, for each branch
        name in ``("wide", "narrow")``, a dict of arrays ``exists, Delta, c0, A0, amplitude, mu``
        (``NaN`` where the branch does not exist, i.e. ``beta > beta_max``).

    Notes
    -----
    ``beta(Delta) - beta`` changes sign once on ``(Delta_lo, Delta_fold)`` (narrow branch) and
    once on ``(Delta_fold, Delta_hi)`` (wide branch); 80 bisection steps resolve ``Delta`` to
    rounding. At ``beta = 0`` the two Amari bumps ``sin 2Delta = theta`` are returned.
    """
    th, ga = _check_theta_gamma(theta, gamma)
    be = _check_beta(beta)
    th, be, ga = np.broadcast_arrays(th, be, ga)
    key = (th.shape, th.tobytes(), be.tobytes(), ga.tobytes())
    with _MEMO_LOCK:  # sweeps call this from several threads
        cached = _BRANCH_MEMO.get(key)
    if cached is None:
        cached = _branches(th, be, ga)
        with _MEMO_LOCK:
            _BRANCH_MEMO[key] = cached
            while len(_BRANCH_MEMO) > _MEMO_SIZE:
                _BRANCH_MEMO.popitem(last=False)
    return copy.deepcopy(cached)  # callers may modify their arrays


#: The last few results of :func:`bump_branches` (a run asks for the same bumps twice: for
#: the step-size rule and for its initial state).
_BRANCH_MEMO: OrderedDict = OrderedDict()
_MEMO_SIZE = 8
_MEMO_LOCK = threading.Lock()


def _branches(th: np.ndarray, be: np.ndarray, ga: np.ndarray) -> dict[str, Any]:
    """The work of :func:`bump_branches` on broadcast, validated arrays."""
    dfold = _fold_delta_unit(th)
    bmax = ga * _beta_of_delta_unit(dfold, th)
    lo, hi = 0.5 * np.arcsin(th), 0.5 * np.pi - 0.5 * np.arcsin(th)
    exists = be <= bmax
    target = np.where(exists, be / ga, 0.0)
    out: dict[str, Any] = {"beta_max": bmax, "Delta_fold": dfold,
                           "theta": th, "beta": be, "gamma": ga}
    # narrow: beta(Delta) increasing on (lo, dfold): root of target - beta_unit, + then -
    narrow = _bisect(lambda d: target - _beta_of_delta_unit(d, th), lo, dfold)
    # wide: decreasing on (dfold, hi): root of beta_unit - target, + then -
    wide = _bisect(lambda d: _beta_of_delta_unit(d, th) - target, dfold, hi)
    for name, d in (("wide", wide), ("narrow", narrow)):
        q = bump_quantities(np.where(exists, d, np.nan), th, be, ga)
        q.pop("threshold_residual")
        q["exists"] = exists.copy()
        out[name] = q
    return out


@dataclass(frozen=True)
class Bump:
    """One stationary bump, centred at 0 unless a ``centre`` is given.

    Attributes
    ----------
    branch
        ``"wide"`` or ``"narrow"``.
    Delta
        Half-width of the active region (rad).
    c0
        Synaptic resource inside the active region.
    A0
        Uniform astrocytic resource, ``A0 = Delta (1 - c0) / pi``.
    amplitude
        ``2 c0 sin Delta`` (peak of ``U``).
    mu
        ``1 / |U'(Delta)| = 1 / (2 c0 sin^2 Delta)``.
    theta, beta, gamma
        Model parameters.
    """

    branch: str
    Delta: float
    c0: float
    A0: float
    amplitude: float
    mu: float
    theta: float
    beta: float
    gamma: float

    def U(self, x: ArrayLike, centre: float = 0.0) -> np.ndarray:
        """Synaptic input ``U(x) = 2 c0 sin(Delta) cos(x - centre)``.

        Parameters
        ----------
        x
            Positions on the ring (rad), any shape.
        centre
            Centre of the bump (rad).

        Returns
        -------
        numpy.ndarray
            ``U`` at ``x``, same shape.
        """
        return self.amplitude * np.cos(np.asarray(x, dtype=float) - centre)

    def active(self, x: ArrayLike, centre: float = 0.0) -> np.ndarray:
        """Indicator of the active arc ``|x - centre| < Delta`` (ring distance).

        Parameters
        ----------
        x
            Positions on the ring (rad), any shape.
        centre
            Centre of the bump (rad).

        Returns
        -------
        numpy.ndarray
            Boolean, same shape as ``x``.
        """
        r = (np.asarray(x, dtype=float) - centre + np.pi) % (2 * np.pi) - np.pi
        return np.abs(r) < self.Delta

    def Q(self, x: ArrayLike, centre: float = 0.0) -> np.ndarray:
        """Synaptic resource: ``c0`` on the active arc, 1 elsewhere.

        Parameters
        ----------
        x
            Positions on the ring (rad), any shape.
        centre
            Centre of the bump (rad).

        Returns
        -------
        numpy.ndarray
            ``Q`` at ``x`` (dimensionless fraction), same shape.
        """
        return np.where(self.active(x, centre), self.c0, 1.0)

    def A(self, x: ArrayLike, centre: float = 0.0) -> np.ndarray:
        """Astrocytic resource, uniform ``A0``.

        Parameters
        ----------
        x
            Positions on the ring (rad), any shape.
        centre
            Centre of the bump (rad).

        Returns
        -------
        numpy.ndarray
            ``A0`` (dimensionless fraction) in the shape of ``x``.
        """
        return np.full(np.shape(x), self.A0)


def stationary_bumps(theta: float, beta: float, gamma: float) -> list[Bump]:
    """Every stationary bump for scalar ``(theta, beta, gamma)``: wide first, then narrow.

    Parameters
    ----------
    theta
        Firing threshold (dimensionless).
    beta
        Synaptic depletion rate (per unit time, time in units of the membrane time constant).
    gamma
        Synaptic replenishment rate (per unit time).

    Returns
    -------
    list of Bump
        Empty past the fold (``beta > beta_max``). At the fold both branches coincide and one
        bump labelled ``"wide"`` is returned.
    """
    for name, v in (("theta", theta), ("beta", beta), ("gamma", gamma)):
        if np.ndim(v):
            raise ValueError(f"{name} must be a scalar here; use bump_branches for arrays")
    br = bump_branches(theta, beta, gamma)
    bumps = []
    for name in BRANCHES:
        q = br[name]
        if not bool(q["exists"]):
            continue
        if name == "narrow" and bumps and np.isclose(float(q["Delta"]), bumps[0].Delta,
                                                     rtol=0, atol=1e-12):
            continue
        bumps.append(Bump(branch=name, Delta=float(q["Delta"]), c0=float(q["c0"]),
                          A0=float(q["A0"]), amplitude=float(q["amplitude"]),
                          mu=float(q["mu"]), theta=float(theta), beta=float(beta),
                          gamma=float(gamma)))
    return bumps
