"""Standard errors, confidence intervals, identifiability and the Laplace check of a fit."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from astrofield.fitting.problem import Problem
from astrofield.fitting.result import FitResult

__all__ = ["summarise", "fisher", "sigma_interval"]


def sigma_interval(s: float, dof: int, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of a Gaussian noise sd estimated as ``s = sqrt(RSS / dof)``.

    ``dof s^2 / sigma^2`` follows a chi-square law with ``dof`` degrees of freedom (exact for a
    model linear in its parameters, asymptotic otherwise), so
    ``[s sqrt(dof / chi2_{(1+level)/2}), s sqrt(dof / chi2_{(1-level)/2})]`` covers sigma with
    probability ``level``.

    Parameters
    ----------
    s
        Estimated sd (units of the observable).
    dof
        Degrees of freedom ``n - p`` (observations minus fitted parameters), >= 1.
    level
        Coverage of the interval.
    """
    from scipy.stats import chi2

    dof = max(int(dof), 1)
    return (
        float(s * np.sqrt(dof / chi2.ppf(0.5 + level / 2, dof))),
        float(s * np.sqrt(dof / chi2.ppf(0.5 - level / 2, dof))),
    )


def fisher(J: np.ndarray, theta: np.ndarray, sigma: float) -> dict[str, np.ndarray]:
    """Covariance, standard errors and identifiability from the Jacobian at the optimum.

    Parameters
    ----------
    J
        ``d residual / d theta`` in the parameters' own units, shape ``(n, p)``.
    theta
        Best parameters, shape ``(p,)``.
    sigma
        Noise sd of the observations (units of the observable).

    Returns
    -------
    dict
        ``cov`` ``(p, p)`` (``sigma^2 (J^T J)^-1``; inf where singular), ``stderr``, ``rse``
        (relative standard error), ``sv`` (singular values of ``J diag(theta)``, descending),
        ``rcond`` (each over the largest), ``singular`` (per parameter: weight > 0.1 in a
        direction with ``rcond < RCOND_MIN`` or a singular value below ``SV_MIN``) and
        ``identifiable``.
    """
    from astrofield.fitting.core import RCOND_MIN, RSE_MAX, SV_MIN

    scale = np.where(theta != 0, np.abs(theta), 1.0)
    Jr = J * scale  # relative sensitivities: d r / d log theta
    _, sv, vt = np.linalg.svd(Jr, full_matrices=False)
    rcond = sv / sv[0] if sv[0] > 0 else np.zeros_like(sv)
    weak = (rcond < RCOND_MIN) | (sv < SV_MIN)
    singular = (
        np.any((np.abs(vt[weak]) > 0.1), axis=0) if weak.any() else np.zeros(len(theta), bool)
    )
    if weak.all() or sv[-1] == 0:
        cov = np.full((len(theta),) * 2, np.inf)
    else:
        inv = (vt.T / sv**2) @ vt  # (Jr^T Jr)^-1
        cov = sigma**2 * inv * np.outer(scale, scale)
    stderr = np.sqrt(np.abs(np.diag(cov)))
    rse = stderr / scale
    identifiable = ~singular & (rse <= RSE_MAX)
    return {
        "cov": cov,
        "stderr": stderr,
        "rse": rse,
        "sv": sv,
        "rcond": rcond,
        "singular": singular,
        "identifiable": identifiable,
    }


def _laplace(
    prob: Problem, z: np.ndarray, cov: np.ndarray, cost: float, sigma: float, ok_dirs: np.ndarray
) -> np.ndarray:
    """Measured rise of ``2 cost / sigma^2`` one sd along +/- each principal axis of ``cov``
    (predicted: 1), for the identifiable parameters; NaN where not evaluated."""
    theta = prob.to_phys(z)
    idx = np.flatnonzero(ok_dirs)
    out = np.full(2 * prob.p, np.nan)
    if idx.size == 0 or not np.all(np.isfinite(cov[np.ix_(idx, idx)])):
        return out
    w, v = np.linalg.eigh(cov[np.ix_(idx, idx)])
    pts = []
    for k in range(idx.size):
        for sgn in (1.0, -1.0):
            th = theta.copy()
            th[idx] += sgn * np.sqrt(max(w[k], 0.0)) * v[:, k]
            pts.append(th)
    zz = prob.to_unit(np.array(pts))
    inside = np.all((zz >= 0) & (zz <= 1), axis=1)
    prob.phase = "laplace"
    r = prob.residuals(np.clip(zz, 0, 1))
    rise = (np.sum(r * r, axis=1) - 2 * cost) / sigma**2
    out[: 2 * idx.size] = np.where(inside, rise, np.nan)
    return out


def summarise(
    prob: Problem, runs: list[Any], *, sigma: float | None, method: str, wall_s: float
) -> FitResult:
    """Build the :class:`~astrofield.fitting.result.FitResult` from the local runs.

    Parameters
    ----------
    prob
        The fitted :class:`~astrofield.fitting.problem.Problem`.
    runs
        The :func:`scipy.optimize.least_squares` results of the local phase.
    sigma
        Known noise sd, or ``None`` to estimate it from the residuals.
    method
        The optimiser's name (recorded).
    wall_s
        Seconds spent before this call (added to the result's wall time).
    """
    from scipy.stats import t as student_t

    from astrofield.fitting.core import LAPLACE_TOL

    t0 = time.perf_counter()
    costs = np.array([r.cost for r in runs])
    best = runs[int(np.argmin(costs))]
    z = np.clip(best.x, 0.0, 1.0)
    theta = prob.to_phys(z)
    n, p = int(getattr(prob, "n_obs", prob.obs.values.size)), prob.p
    prob.phase = "final"
    resid = prob.residuals(z[None])[0]
    # the best fit's flag: solve's grid and step rules, failures and (without noise) the
    # companion run at (N/2, 2 dt), from the solve at the fitted parameters just made
    resolved = bool(prob.last_resolved[0]) if prob.last_resolved is not None else True
    cost = 0.5 * float(resid @ resid)
    sig_est = np.sqrt(2 * cost / max(n - p, 1))
    sig = float(sigma) if sigma is not None else float(sig_est)
    sig_ci = sigma_interval(sig_est, n - p) if sigma is None else (np.nan, np.nan)
    J = prob.jacobian(z) / prob.dphys_dunit(z)  # d r / d theta, own units
    shape = prob.obs.values.shape
    fitted = (
        prob.fitted(resid) if hasattr(prob, "fitted") else prob.obs.values + resid.reshape(shape)
    )
    info = fisher(J, theta, sig)
    q = float(student_t.ppf(0.975, max(n - p, 1)))
    at_bound = (z <= 1e-6) | (z >= 1 - 1e-6)
    info["identifiable"] &= ~at_bound
    rise = _laplace(prob, z, info["cov"], cost, sig, info["identifiable"])
    fin = rise[np.isfinite(rise)]
    agree = int(np.sum(costs <= best.cost * (1 + 1e-3) + 1e-12))
    return FitResult(
        names=list(prob.names),
        params=theta,
        stderr=info["stderr"],
        ci_low=theta - q * info["stderr"],
        ci_high=theta + q * info["stderr"],
        identifiable=info["identifiable"],
        at_bound=at_bound,
        cov=info["cov"],
        singular_values=info["sv"],
        rcond=info["rcond"],
        sigma=sig,
        sigma_estimated=sigma is None,
        cost=cost,
        converged=bool(best.status > 0) and bool(np.isfinite(cost)),
        message=str(best.message),
        n_agree=agree,
        n_starts=len(runs),
        start_costs=costs,
        time=prob.obs.time,
        data=prob.obs.values,
        fitted=fitted,
        residuals=fitted - prob.obs.values if hasattr(prob, "fitted") else resid.reshape(shape),
        x=prob.obs.x,
        sigma_ci=sig_ci,
        meta=getattr(prob, "meta", None),
        units={n: prob.extra_params[n][2] for n in prob.names if n in prob.extra_params},
        coords=dict(getattr(prob, "coords", {})),
        extras=prob.extra_variables(fitted) if hasattr(prob, "extra_variables") else {},
        cost_history=np.array([c for _, c in prob.history]),
        history_phase=np.array([ph for ph, _ in prob.history]),
        laplace_rise=rise,
        laplace_ok=bool(fin.size > 0 and np.all((fin > 1 / LAPLACE_TOL) & (fin < LAPLACE_TOL))),
        observable=prob.obs.observable,
        settings=dict(prob.obs.settings),
        lower=prob.lo.copy(),
        upper=prob.hi.copy(),
        method=method,
        n_solves=prob.n_solves,
        n_members=prob.n_members,
        wall_s=wall_s + time.perf_counter() - t0,
        problem=prob,
        resolved=resolved,
    )
