"""Fit a labelled stability boundary: points observed stable or drifting, explained by the theory.

Data: points in parameter space (``beta``, ``D``, ... on a ``point`` dimension, as variables or
coordinates) with a label ``drifting`` (1: the bump drifted, 0: it stayed). Unknown: shared model
parameters (e.g. ``gamma`` or ``theta``, in ``vary``) and the **sharpness** ``s`` of the
classification, which absorbs label noise and the finite observation time of the experiment.

Likelihood (logistic in the Evans function's slope at 0, :func:`~astrofield.theory.evans_dprime`,
which is positive on the stable side and negative past the drift instability)::

    P(drifting | point) = 1 / (1 + exp(s E'(0; point, parameters)))

so the verdict flips where ``E'(0) = 0``, the theory's boundary, and ``s`` (time units, since
``E'(0)`` is a rate) says how sharply the labels follow it. A point where the candidate
parameters have no bump at all counts as drifting with probability 1 (clipped to ``1e-12``).
``tau`` enters as the rates' scale: ``E'(0)`` is evaluated at ``beta / tau``, ``gamma / tau``,
``D / tau`` (only these ratios enter the equations), which leaves its sign unchanged.

The fit minimises the negative log-likelihood (``cost``) from the best points of a Latin
hypercube with L-BFGS-B in the unit cube; standard errors come from the Fisher information
``sum_i p_i (1 - p_i) g_i g_i^T`` with ``g_i`` the gradient of the logit ``-s E'(0)`` (central
differences), and the same identifiability rules as for traces apply (a perfectly separable set
of labels sends ``s`` to its upper bound: reported as not identifiable).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from astrofield.fitting.problem import UnitCube, check_vary
from astrofield.model.definition import Model

__all__ = ["BoundaryProblem", "boundary_problem", "SHARPNESS", "LABEL"]

#: Name, default range and units of the classification sharpness (always fitted).
SHARPNESS = ("sharpness", (0.1, 1e4), "neural time constants")
#: Name of the label variable in the data (1 drifting, 0 stable).
LABEL = "drifting"
_MODEL = ("theta", "beta", "gamma", "tau", "D")
_PMIN = 1e-12
#: Trapezoid nodes of the Cauchy integral for E'(0): measured absolute error 5e-9 against 64
#: nodes (2000 random points, beta 0.01-0.2, gamma 1-4, D 0.05-3), 2.7 times fewer evaluations.
N_CAUCHY = 24


@dataclass
class BoundaryProblem(UnitCube):
    """The classification likelihood of labelled points (see the module docstring).

    Parameters
    ----------
    labels
        ``(n,)`` 0/1 labels (1: drifting).
    points
        ``name -> (n,)`` model parameters that differ between points.
    model
        The fixed model parameters.
    vary
        ``name -> (lo, hi)``: shared model parameters and ``sharpness``.
    """

    labels: np.ndarray
    points: dict[str, np.ndarray]
    model: Model
    vary: dict[str, tuple[float, float]]
    history: list[tuple[str, float]] = field(default_factory=list, init=False)
    phase: str = field(default="global", init=False)

    def __post_init__(self) -> None:
        extra = {SHARPNESS[0]: (0.0, np.inf, SHARPNESS[2])}
        self.vary = check_vary(self.vary, extra)
        both = sorted(set(self.points) & set(self.vary))
        if both:
            raise ValueError(f"{', '.join(both)} is given per point and cannot be varied too")
        self.set_scale()

    def dprime(self, theta: np.ndarray) -> np.ndarray:
        """``E'(0)`` (per unit time) of every point for each parameter set ``theta`` ``(B, p)``:
        ``(B, n)``, NaN where no bump exists."""
        from astrofield.theory.evans import evans_dprime

        theta = np.atleast_2d(theta)
        par = {n: np.asarray(getattr(self.model, n), dtype=float) for n in _MODEL}
        par.update({n: v[None, :] for n, v in self.points.items()})
        par.update({n: theta[:, j, None] for j, n in enumerate(self.names) if n in _MODEL})
        tau = par.pop("tau")
        return evans_dprime(
            par["theta"], par["beta"] / tau, par["gamma"] / tau, par["D"] / tau, n=N_CAUCHY
        )

    def logit(self, theta: np.ndarray) -> np.ndarray:
        """``log(P / (1 - P))`` of drifting, ``(B, n)`` (``+inf`` where no bump exists)."""
        theta = np.atleast_2d(theta)
        s = theta[:, self.names.index(SHARPNESS[0])][:, None]
        e = self.dprime(theta)
        return np.where(np.isfinite(e), -s * e, np.inf)

    def nll(self, theta: np.ndarray) -> np.ndarray:
        """Negative log-likelihood of the labels for each parameter set, ``(B,)``."""
        eta = self.logit(theta)
        # -log P(label) = log(1 + exp(-eta)) for drifting, log(1 + exp(eta)) for stable
        sgn = np.where(self.labels > 0, -1.0, 1.0)
        with np.errstate(over="ignore"):
            out = np.logaddexp(0.0, sgn * eta)
        out = np.minimum(out, -np.log(_PMIN)).sum(axis=1)
        self.history.extend((self.phase, float(c)) for c in out)
        return out

    def gradients(self, theta: np.ndarray, h: float = 1e-5) -> np.ndarray:
        """``d logit / d theta`` at one parameter set, ``(n, p)`` (central differences, relative
        steps ``h``; ``E'(0)`` is analytic in the parameters)."""
        step = h * np.maximum(np.abs(theta), 1e-8)
        pts = np.vstack([theta + np.diag(step), theta - np.diag(step)])
        eta = self.logit(pts)
        return ((eta[: self.p] - eta[self.p :]) / (2 * step[:, None])).T

    def _cost_and_gradient(self, z: np.ndarray, h: float = 1e-6) -> tuple[float, np.ndarray]:
        """NLL and its gradient in the unit cube: one batched evaluation of ``2 p + 1`` sets
        (central differences, one-sided at a bound)."""
        eye = np.eye(self.p) * h
        zp, zm = np.clip(z + eye, 0.0, 1.0), np.clip(z - eye, 0.0, 1.0)
        c = self.nll(self.to_phys(np.vstack([z[None], zp, zm])))
        return float(c[0]), (c[1 : self.p + 1] - c[self.p + 1 :]) / np.diag(zp - zm)

    def run(self, *, n_global: int | None, n_starts: int, seed: int, t0: float) -> Any:
        """Global Latin hypercube, L-BFGS-B from its best points, then the summary."""
        from scipy.optimize import minimize

        from astrofield.fitting.core import _lhs

        n_glob = max(16, 8 * self.p) if n_global is None else int(n_global)
        z = _lhs(self.p, n_glob, seed)
        self.phase = "global"
        order = np.argsort(self.nll(self.to_phys(z)))
        runs = []
        self.phase = "local"
        for z0 in z[order[: max(1, min(n_starts, n_glob))]]:
            runs.append(
                minimize(
                    self._cost_and_gradient,
                    z0,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=[(0.0, 1.0)] * self.p,
                    options={"ftol": 1e-12, "gtol": 1e-8, "maxiter": 500},
                )
            )
        return summarise_boundary(self, runs, time.perf_counter() - t0)


def boundary_problem(
    ds: Any, model: Model, vary: dict[str, tuple[float, float]], **ignored: Any
) -> BoundaryProblem:
    """Build the :class:`BoundaryProblem` of a labelled data set.

    Parameters
    ----------
    ds
        :class:`xarray.Dataset` with ``drifting`` (1 drifting, 0 stable) on ``point`` and, on
        the same dimension, the model parameters that differ between points.
    model
        The fixed model parameters.
    vary
        Shared model parameters to fit, ``{name: (lo, hi)}``; ``sharpness`` is added with the
        range ``(0.1, 1e4)`` unless given.
    **ignored
        Simulation settings (``N``, ``dt``, ...): not used (no simulation), must be ``None``.
    """
    used = sorted(k for k, v in ignored.items() if v is not None)
    if used:
        raise ValueError(
            f"observable 'boundary' runs no simulation: {', '.join(used)} cannot be used with it"
        )
    if LABEL not in ds.variables or ds[LABEL].dims != ("point",):
        raise ValueError(
            f"the data need {LABEL!r} on a 'point' dimension (1 drifting, 0 "
            f"stable); found: {', '.join(sorted(map(str, ds.variables)))}"
        )
    labels = np.asarray(ds[LABEL].values, dtype=float)
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError(f"{LABEL!r} must be 0 (stable) or 1 (drifting) at every point")
    points = {
        n: np.asarray(ds[n].values, dtype=float)
        for n in _MODEL
        if n in ds.variables and ds[n].dims == ("point",)
    }
    if not points:
        raise ValueError(f"the data give no model parameter on 'point' (any of {_MODEL})")
    for n, v in points.items():
        Model(**{n: v})  # the model's own range checks, naming the parameter
    vary = dict(vary)
    vary.setdefault(SHARPNESS[0], SHARPNESS[1])
    prob = BoundaryProblem(labels, points, model, vary)
    prob.coords = {n: ("point", v, {"long_name": f"{n} of each point"}) for n, v in points.items()}
    return prob


def _laplace_rise(
    prob: BoundaryProblem, theta: np.ndarray, cov: np.ndarray, cost: float, ok: np.ndarray
) -> np.ndarray:
    """Rise of ``2 NLL`` one sd along +/- each principal axis of ``cov`` (predicted 1), for the
    identifiable parameters; NaN elsewhere or outside the box."""
    out = np.full(2 * prob.p, np.nan)
    idx = np.flatnonzero(ok)
    if idx.size == 0 or not np.all(np.isfinite(cov[np.ix_(idx, idx)])):
        return out
    w, v = np.linalg.eigh(cov[np.ix_(idx, idx)])
    pts = np.repeat(theta[None], 2 * idx.size, axis=0)
    for k in range(idx.size):
        for j, sgn in enumerate((1.0, -1.0)):
            pts[2 * k + j, idx] += sgn * np.sqrt(max(w[k], 0.0)) * v[:, k]
    zz = prob.to_unit(pts)
    inside = np.all((zz >= 0) & (zz <= 1), axis=1)
    prob.phase = "laplace"
    rise = 2 * (prob.nll(np.clip(pts, prob.lo, prob.hi)) - cost)
    out[: 2 * idx.size] = np.where(inside, rise, np.nan)
    return out


def _axis(v: np.ndarray, n: int) -> np.ndarray:
    """``n`` grid values spanning ``v`` (geometric where ``v`` is positive and spans a factor of
    10 or more, as a log-spaced design would)."""
    lo, hi = float(np.min(v)), float(np.max(v))
    if hi <= lo:
        lo, hi = (lo * 0.9, lo * 1.1) if lo > 0 else (lo - 1.0, lo + 1.0)
    if lo > 0 and hi >= 10 * lo:
        return np.geomspace(lo, hi, n)
    return np.linspace(lo, hi, n)


def boundary_grid(prob: BoundaryProblem, theta: np.ndarray, n: int = 64) -> dict[str, Any]:
    """The theory's ``E'(0)`` at the fitted parameters on a grid over the labelled points: the
    fitted boundary is its zero contour (variables for :meth:`FitResult.to_dataset`).

    Parameters
    ----------
    prob
        The fitted problem.
    theta
        The fitted parameters, ``(p,)``.
    n
        Grid values per axis.

    Returns
    -------
    dict
        ``boundary_dprime`` on ``(grid_<y>, grid_<x>)`` over the first two point parameters
        (``grid_<x>`` only, when the points differ in one); further point parameters are held at
        their medians; plus the grid coordinates.
    """
    from astrofield.fitting.problem import PARAM_UNITS

    names = list(prob.points)[:2]
    axes = {k: _axis(prob.points[k], n) for k in names}
    mesh = np.meshgrid(*[axes[k] for k in reversed(names)], indexing="ij")
    pts = {k: np.median(v) * np.ones(mesh[0].size) for k, v in prob.points.items()}
    pts.update({k: m.ravel() for k, m in zip(reversed(names), mesh, strict=True)})
    grid = BoundaryProblem(np.zeros(mesh[0].size), pts, prob.model, dict(prob.vary))
    e = grid.dprime(np.asarray(theta, dtype=float)[None])[0].reshape(mesh[0].shape)
    dims = tuple(f"grid_{k}" for k in reversed(names))
    out: dict[str, Any] = {
        d: ((d,), axes[k], {"long_name": f"{k} of the grid", "units": PARAM_UNITS[k]})
        for d, k in zip(dims, reversed(names), strict=True)
    }
    out["boundary_dprime"] = (
        dims,
        e,
        {
            "long_name": "Evans function slope E'(0) at the fitted parameters (> 0 stable, < 0 "
            "drifting; the fitted boundary is its zero contour)",
            "units": "1 per neural time constant",
        },
    )
    return out


def summarise_boundary(prob: BoundaryProblem, runs: list[Any], wall_s: float) -> Any:
    """The :class:`~astrofield.fitting.result.FitResult` of a boundary fit: Fisher information
    of the labels, identifiability, intervals ``best +- 1.96 se`` and the Laplace check.

    Parameters
    ----------
    prob
        The fitted :class:`BoundaryProblem`.
    runs
        The :func:`scipy.optimize.minimize` results of the local phase.
    wall_s
        Seconds spent so far.
    """
    from astrofield.fitting.core import LAPLACE_TOL
    from astrofield.fitting.result import FitResult
    from astrofield.fitting.uncertainty import fisher

    t0 = time.perf_counter()
    costs = np.array([r.fun for r in runs])
    best = runs[int(np.argmin(costs))]
    z = np.clip(best.x, 0.0, 1.0)
    theta = prob.to_phys(z)
    prob.phase = "final"
    cost = float(prob.nll(theta[None])[0])
    eta = prob.logit(theta[None])[0]
    p_drift = np.where(np.isfinite(eta), 1.0 / (1.0 + np.exp(-np.clip(eta, -700, 700))), 1.0)
    w = np.sqrt(p_drift * (1 - p_drift))
    info = fisher(w[:, None] * np.nan_to_num(prob.gradients(theta)), theta, 1.0)
    at_bound = (z <= 1e-6) | (z >= 1 - 1e-6)
    info["identifiable"] &= ~at_bound
    rise = _laplace_rise(prob, theta, info["cov"], cost, info["identifiable"])
    fin = rise[np.isfinite(rise)]
    se = info["stderr"]
    n = prob.labels.size
    return FitResult(
        names=list(prob.names),
        params=theta,
        stderr=se,
        ci_low=theta - 1.96 * se,
        ci_high=theta + 1.96 * se,
        identifiable=info["identifiable"],
        at_bound=at_bound,
        cov=info["cov"],
        singular_values=info["sv"],
        rcond=info["rcond"],
        sigma=1.0,
        sigma_estimated=False,
        cost=cost,
        converged=bool(best.success),
        message=str(best.message),
        n_agree=int(np.sum(costs <= best.fun + 1e-6 * max(1.0, abs(best.fun)))),
        n_starts=len(runs),
        start_costs=costs,
        time=np.zeros(0),
        data=prob.labels,
        fitted=p_drift,
        residuals=p_drift - prob.labels,
        cost_history=np.array([c for _, c in prob.history]),
        history_phase=np.array([ph for ph, _ in prob.history]),
        laplace_rise=rise,
        laplace_ok=bool(fin.size > 0 and np.all((fin > 1 / LAPLACE_TOL) & (fin < LAPLACE_TOL))),
        observable="boundary",
        settings={"n_points": n},
        lower=prob.lo.copy(),
        upper=prob.hi.copy(),
        method="lbfgsb",
        n_solves=0,
        n_members=0,
        wall_s=wall_s + time.perf_counter() - t0,
        meta=("probability of drifting (data: 1 drifting, 0 stable)", "1", ("point",)),
        coords=dict(prob.coords),
        units={SHARPNESS[0]: SHARPNESS[2]},
        extras=boundary_grid(prob, theta),
    )
