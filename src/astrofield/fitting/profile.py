"""Profile likelihood of a fitted parameter: intervals without the quadratic approximation.

The profile of parameter ``j`` is the least cost over the other parameters with ``j`` held at
each value of a grid,

.. math:: \\Delta\\chi^2(v) = 2\\,[\\min_{\\theta: \\theta_j = v} C(\\theta) - C_{min}]/\\sigma^2,

with ``C = 0.5 sum r^2`` and ``sigma`` the fit's noise sd (estimated or given). Its 95 %
interval is where ``Delta chi^2 <= 3.84`` (the 0.95 quantile of chi^2 with one degree of
freedom). For a model linear in its parameters the profile is exactly the parabola
``((v - best) / se)^2`` of the Fisher information, so the two intervals coincide; where they
differ the quadratic (Laplace) approximation behind the standard errors does not hold.

The re-optimisation is **batched over the grid**: a Levenberg-Marquardt iteration of every
grid point at once, each iteration one batched solve of the ``1 + 2 (p - 1)`` members per
point (centre and central finite-difference steps of the free parameters), warm-started on the
line the Fisher covariance predicts for the other parameters.

A profile that stays below 3.84 over the whole ``vary`` range is *flat*: the data do not
determine the parameter (within its range), and the profile says so instead of giving an
interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Profile", "profile_problem", "CHI2_95", "PROFILE_TOL", "profile_variables"]

#: ``Delta chi^2`` of a 95 % profile-likelihood interval: the 0.95 quantile of chi^2 with one
#: degree of freedom (``1.959964^2``).
CHI2_95 = 3.841458820694124
#: The profile and the Fisher interval ``best ± 1.96 se`` (the same 95 % level) are reported
#: as agreeing when each end of one lies within this fraction of the Fisher half-width of the
#: other's.
PROFILE_TOL = 0.1


@dataclass
class Profile:
    """The profile likelihood of one parameter.

    Attributes
    ----------
    name
        The profiled parameter.
    values
        Grid of its values, ascending (its own units).
    dchi2
        ``2 (cost - cost_min) / sigma^2`` at each value, the others re-optimised.
    path
        All fitted parameters at each grid point ``(n, p)`` (the profiled one fixed).
    best, stderr
        The fit's best value and Fisher standard error of the parameter.
    ci_low, ci_high
        The 95 % profile interval (``Delta chi^2 = 3.84``); the ``vary`` bound where the
        profile stays below 3.84 up to it (``open_low`` / ``open_high``); NaN where the grid ended
        before reaching 3.84 away from a bound.
    open_low, open_high
        The interval reaches the bound of the ``vary`` range on that side.
    flat
        The profile stays below 3.84 over the whole ``vary`` range: not identifiable.
    identifiable
        Both ends of the interval found inside the range.
    fisher_low, fisher_high
        ``best ∓ 1.96 se`` (same level, for comparison).
    deviation
        Largest distance between the ends of the two intervals over the Fisher half-width
        ``1.96 se`` (NaN where not comparable).
    agrees
        ``deviation <= PROFILE_TOL``: the quadratic approximation holds at the 95 % level.
    lower_cost
        The profile found a lower cost than the fit's optimum (by more than ``1e-9``
        relative): the fit had not converged; ``dchi2`` is then relative to the lower cost.
    n_members
        Parameter sets simulated for the profile.
    """

    name: str
    values: np.ndarray
    dchi2: np.ndarray
    path: np.ndarray
    best: float
    stderr: float
    ci_low: float
    ci_high: float
    open_low: bool
    open_high: bool
    flat: bool
    identifiable: bool
    fisher_low: float
    fisher_high: float
    deviation: float
    agrees: bool
    lower_cost: bool
    n_members: int

    def summary(self) -> dict[str, Any]:
        """The numbers of the profile as a plain dictionary (for JSON)."""
        return {
            "ci95": [float(self.ci_low), float(self.ci_high)],
            "open": [bool(self.open_low), bool(self.open_high)],
            "flat": bool(self.flat),
            "identifiable": bool(self.identifiable),
            "agrees_with_fisher": bool(self.agrees),
            "deviation": float(self.deviation),
            "points": int(self.values.size),
        }


def _jac_members(z: np.ndarray, free: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Members ``(m (1 + 2 q), p)``: centres, then + and - steps of each free coordinate,
    clipped to the unit cube; and the steps actually taken ``(m, q)``."""
    q = free.size
    eye = np.zeros((q, z.shape[1]))
    eye[np.arange(q), free] = h
    zp = np.clip(z[None] + eye[:, None], 0.0, 1.0)  # (q, m, p)
    zm = np.clip(z[None] - eye[:, None], 0.0, 1.0)
    dz = (zp - zm)[:, :, free].diagonal(axis1=0, axis2=2)  # (m, q)
    return np.vstack([z, zp.reshape(-1, z.shape[1]), zm.reshape(-1, z.shape[1])]), dz


def _reoptimise(
    prob: Any, z0: np.ndarray, j: int, iters: int, h: float = 1e-4
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise the cost over all coordinates but ``j`` for every row of ``z0`` ``(m, p)`` at
    once (batched Levenberg-Marquardt in unit-cube coordinates); returns ``(z, cost)``."""
    free = np.array([k for k in range(prob.p) if k != j], dtype=int)
    m, q = z0.shape[0], free.size
    if q == 0:
        r = prob.residuals(z0)
        return z0.copy(), 0.5 * np.sum(r * r, axis=1)
    z, z_acc = z0.copy(), z0.copy()
    cost = np.full(m, np.inf)
    lam = np.full(m, 1e-3)
    J = r_acc = None
    active = np.ones(m, bool)
    for _ in range(iters):
        idx = np.flatnonzero(active)
        zz, dz = _jac_members(z[idx], free, h)
        R = prob.residuals(zz).reshape(1 + 2 * q, idx.size, -1)
        if J is None:
            r_acc, J = np.zeros((m, R.shape[2])), np.zeros((m, R.shape[2], q))
        c = 0.5 * np.sum(R[0] ** 2, axis=1)
        better = c <= cost[idx]
        rel = (cost[idx] - c) / np.maximum(c, 1e-300)
        ib = idx[better]
        z_acc[ib], r_acc[ib] = z[ib], R[0][better]
        J[ib] = np.moveaxis(
            (R[1 : 1 + q] - R[1 + q :])[:, better] / dz[better].T[:, :, None], 0, -1
        )
        done = np.zeros(m, bool)
        done[idx] = (better & (rel < 1e-10)) | (~better & (lam[idx] > 1e6))
        cost[ib] = c[better]
        lam[idx] = np.where(better, lam[idx] * 0.3, lam[idx] * 10.0)
        active &= ~done
        if not active.any():
            break
        a = np.flatnonzero(active)
        JtJ = np.einsum("mnk,mnl->mkl", J[a], J[a])
        g = np.einsum("mnk,mn->mk", J[a], r_acc[a])
        A = JtJ + lam[a, None, None] * (
            np.eye(q) * np.diagonal(JtJ, axis1=1, axis2=2)[:, None] + 1e-12 * np.eye(q)
        )
        step = -np.linalg.solve(A, g[..., None])[..., 0]
        step *= np.minimum(1.0, 0.25 / np.maximum(np.linalg.norm(step, axis=1), 1e-300))[:, None]
        z[a] = z_acc[a]
        z[np.ix_(a, free)] = np.clip(z_acc[np.ix_(a, free)] + step, 0.0, 1.0)
    return z_acc, cost


def _grid(prob: Any, z_best: np.ndarray, j: int, se: float, n: int, span: float) -> np.ndarray:
    """Unit-cube coordinates of the grid of parameter ``j``: ``n`` points over
    ``best ± span se`` (clipped to the range), or the whole range where ``se`` is not finite;
    the optimum is one of them."""
    zb = float(z_best[j])
    theta = prob.to_phys(z_best)
    if np.isfinite(se) and se > 0:
        ends = []
        for sgn in (-1.0, 1.0):
            th = theta.copy()
            th[j] = np.clip(theta[j] + sgn * span * se, prob.lo[j], prob.hi[j])
            ends.append(float(np.clip(prob.to_unit(th)[j], 0.0, 1.0)))
    else:
        ends = [0.0, 1.0]
    half = max(n // 2, 1)
    return np.unique(
        np.concatenate([np.linspace(ends[0], zb, half + 1), np.linspace(zb, ends[1], half + 1)])
    )


def _starts(prob: Any, z_best: np.ndarray, cov: np.ndarray, j: int, zj: np.ndarray) -> np.ndarray:
    """Start points ``(m, p)``: parameter ``j`` at ``zj``, the others on the line of their
    conditional mean under the Fisher covariance (the optimum where that is not finite)."""
    theta = prob.to_phys(z_best)
    z0 = np.tile(z_best, (zj.size, 1))
    z0[:, j] = zj
    vj = prob.to_phys(z0)[:, j]
    if np.all(np.isfinite(cov)) and cov[j, j] > 0:
        th = theta[None] + np.outer(vj - theta[j], cov[:, j] / cov[j, j])
        th[:, j] = vj
        th = np.clip(th, prob.lo, prob.hi)
        z0 = np.clip(prob.to_unit(th), 0.0, 1.0)
        z0[:, j] = zj
    return z0


def _crossing(v: np.ndarray, d: np.ndarray, idx: np.ndarray) -> float:
    """Value where ``sqrt(Delta chi^2)`` reaches ``sqrt(3.84)`` along the indices ``idx``
    (walking away from the minimum), linear in the root (exact for a quadratic); NaN if never."""
    s = np.sqrt(np.maximum(d, 0.0))
    target = np.sqrt(CHI2_95)
    hit = np.flatnonzero(s[idx] >= target)
    if hit.size == 0 or hit[0] == 0:
        return float("nan")
    a, b = idx[hit[0] - 1], idx[hit[0]]
    return float(v[a] + (target - s[a]) / (s[b] - s[a]) * (v[b] - v[a]))


def profile_problem(
    prob: Any,
    z_best: np.ndarray,
    cost_best: float,
    sigma: float,
    cov: np.ndarray,
    j: int,
    *,
    n: int = 21,
    span: float = 4.0,
    iters: int = 12,
) -> Profile:
    """Profile likelihood of parameter ``j`` of a fitted problem.

    Parameters
    ----------
    prob
        The :class:`~astrofield.fitting.problem.Problem` (anything with its ``p``, ``names``,
        ``lo``, ``hi``, ``to_phys``, ``to_unit`` and batched ``residuals``).
    z_best
        The optimum in unit-cube coordinates, shape ``(p,)``.
    cost_best
        ``0.5 sum r^2`` at the optimum (units of the observable, squared).
    sigma
        Noise sd of the observations (units of the observable).
    cov
        Fisher covariance ``(p, p)`` in the parameters' own units (inf where singular).
    j
        Index of the profiled parameter.
    n, span
        Grid points, over ``best ± span se`` (the whole range where ``se`` is not finite); a
        side that has not reached ``Delta chi^2 = 3.84`` at the grid's end is extended once to
        the bound of the range with ``n // 2`` more points.
    iters
        Levenberg-Marquardt iterations at most (each one batched solve).

    Returns
    -------
    Profile
    """
    if not (isinstance(n, (int, np.integer)) and n >= 3):
        raise ValueError(f"n = {n!r} must be an integer >= 3 (grid points of the profile)")
    if not (np.isfinite(span) and span > 0):
        raise ValueError(f"span = {span!r} must be a positive number (standard errors)")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(
            f"sigma = {sigma!r}: the profile needs a positive noise sd (the fit "
            "matched the data exactly; refit with a known sigma=)"
        )
    m0 = getattr(prob, "n_members", 0)
    prob.phase = "profile"
    se = float(np.sqrt(cov[j, j])) if np.isfinite(cov[j, j]) else float("nan")
    zj = _grid(prob, z_best, j, se, n, span)
    z, cost = _reoptimise(prob, _starts(prob, z_best, cov, j, zj), j, iters)
    for side in (0, -1):  # extend a side that has not reached 3.84 before the bound
        dmax = 2 * (cost[side] - min(cost_best, cost.min())) / sigma**2
        edge = float(z[side, j])
        if dmax < CHI2_95 and 0.0 < edge < 1.0:
            new = np.linspace(edge, 0.0 if side == 0 else 1.0, max(n // 2, 1) + 1)[1:]
            start = np.tile(z[side], (new.size, 1))
            start[:, j] = new
            z2, c2 = _reoptimise(prob, start, j, iters)
            z, cost = np.vstack([z, z2]), np.concatenate([cost, c2])
    order = np.argsort(z[:, j])
    z, cost = z[order], cost[order]
    best = float(prob.to_phys(z_best)[j])
    return _summarise(
        prob, z, cost, cost_best, sigma, best, se, j, getattr(prob, "n_members", 0) - m0
    )


def _summarise(
    prob: Any,
    z: np.ndarray,
    cost: np.ndarray,
    cost_best: float,
    sigma: float,
    best: float,
    se: float,
    j: int,
    n_members: int,
) -> Profile:
    """The :class:`Profile` from the re-optimised grid (sorted by the profiled value)."""
    cmin = min(cost_best, float(cost.min()))
    d = 2 * (cost - cmin) / sigma**2
    path = prob.to_phys(z)
    v = path[:, j]
    im = int(np.argmin(d))
    hi = _crossing(v, d, np.arange(im, v.size))
    lo = _crossing(v, d, np.arange(im, -1, -1))
    open_lo = bool(np.isnan(lo) and z[0, j] <= 1e-12)
    open_hi = bool(np.isnan(hi) and z[-1, j] >= 1 - 1e-12)
    lo = float(prob.lo[j]) if open_lo else lo
    hi = float(prob.hi[j]) if open_hi else hi
    ident = bool(np.isfinite(lo) and np.isfinite(hi) and not (open_lo or open_hi))
    f_lo, f_hi = best - 1.959963984540054 * se, best + 1.959963984540054 * se
    dev = (
        max(abs(lo - f_lo), abs(hi - f_hi)) / (1.959963984540054 * se)
        if ident and np.isfinite(se) and se > 0
        else float("nan")
    )
    return Profile(
        name=prob.names[j],
        values=v,
        dchi2=d,
        path=path,
        best=best,
        stderr=se,
        ci_low=lo,
        ci_high=hi,
        open_low=open_lo,
        open_high=open_hi,
        flat=bool(np.nanmax(d) < CHI2_95 and open_lo and open_hi),
        identifiable=ident,
        fisher_low=f_lo,
        fisher_high=f_hi,
        deviation=dev,
        agrees=bool(dev <= PROFILE_TOL),
        lower_cost=bool(cost_best - cmin > 1e-9 * cost_best),
        n_members=int(n_members),
    )


def profile_variables(
    profiles: dict[str, Profile], names: list[str], units: str
) -> dict[str, tuple]:
    """Variables of :meth:`FitResult.to_dataset` for the computed profiles: ``name ->
    (dims, values, attrs)`` on the dimensions ``param``, ``profile_point`` and ``param2``
    (NaN-padded; flags ``-1`` for a parameter that was not profiled).

    Parameters
    ----------
    profiles
        ``name -> Profile`` of the profiled parameters.
    names
        All fitted parameters, in order.
    units
        The units note of the parameter-valued variables.
    """
    p = len(names)
    k = max(pr.values.size for pr in profiles.values())
    val, d2 = np.full((p, k), np.nan), np.full((p, k), np.nan)
    path = np.full((p, k, p), np.nan)
    ends = np.full((2, p), np.nan)
    flags = np.full((3, p), -1, dtype=np.int8)
    dev = np.full(p, np.nan)
    for i, n in enumerate(names):
        pr = profiles.get(n)
        if pr is None:
            continue
        m = pr.values.size
        val[i, :m], d2[i, :m], path[i, :m] = pr.values, pr.dchi2, pr.path
        ends[:, i] = pr.ci_low, pr.ci_high
        flags[:, i] = pr.identifiable, pr.flat, pr.agrees
        dev[i] = pr.deviation
    flag = " (1 yes, 0 no, -1 not profiled)"
    return {
        "profile_value": (
            ("param", "profile_point"),
            val,
            {"long_name": "profiled parameter value", "units": units},
        ),
        "profile_dchi2": (
            ("param", "profile_point"),
            d2,
            {
                "long_name": "profile likelihood: 2 (cost - cost_min) / sigma^2, the "
                "other parameters re-optimised",
                "units": "1",
            },
        ),
        "profile_path": (
            ("param", "profile_point", "param2"),
            path,
            {
                "long_name": "all fitted parameters along the profile",
                "units": "units of each parameter (see param_units)",
            },
        ),
        "profile_ci_low": (
            "param",
            ends[0],
            {
                "long_name": "95 % profile-likelihood interval (Delta chi^2 = 3.84), lower end",
                "units": units,
            },
        ),
        "profile_ci_high": (
            "param",
            ends[1],
            {
                "long_name": "95 % profile-likelihood interval (Delta chi^2 = 3.84), upper end",
                "units": units,
            },
        ),
        "profile_identifiable": (
            "param",
            flags[0],
            {"long_name": "profile crosses Delta chi^2 = 3.84 on both sides" + flag, "units": "1"},
        ),
        "profile_flat": (
            "param",
            flags[1],
            {
                "long_name": "profile below 3.84 over the whole range: not identifiable" + flag,
                "units": "1",
            },
        ),
        "profile_agrees": (
            "param",
            flags[2],
            {
                "long_name": "profile and Fisher (best ± 1.96 se) intervals agree to "
                f"{PROFILE_TOL:g} of the half-width" + flag,
                "units": "1",
            },
        ),
        "profile_deviation": (
            "param",
            dev,
            {
                "long_name": "largest end-point difference of profile and Fisher intervals over "
                "1.96 se",
                "units": "1",
            },
        ),
    }
