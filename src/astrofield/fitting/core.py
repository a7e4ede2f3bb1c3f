"""Fit the model to an observed trace or field: best parameters, standard errors,
identifiability.

Method (default ``method="lsq"``):

1. **Global phase.** A Latin hypercube of ``n_global`` points over the ``vary`` box (scaled to
   the unit cube, log scale for ranges spanning a factor 10 or more) is evaluated in one batched
   solve; the ``n_starts`` best points start the local phase.
2. **Local phase.** :func:`scipy.optimize.least_squares` (trust-region reflective, bounds = the
   ``vary`` box) from each start, with the Jacobian by central finite differences computed as
   one batched solve of ``2 p`` perturbed parameter sets. The lowest final cost wins;
   ``n_agree`` counts the starts that reached it (a guard against reporting a local minimum).
3. **Uncertainty.** The Gauss-Newton (Fisher) information ``F = J^T J / sigma^2`` at the
   optimum, ``sigma`` the noise sd (given, or estimated as ``sqrt(2 cost / (n - p))``); the
   covariance is ``F^-1``, the 95 % intervals ``best ± t_{0.975, n-p} se``.
4. **Checks.** Identifiability (see :data:`RSE_MAX`, :data:`RCOND_MIN`) and the Laplace check:
   the cost is evaluated one standard deviation along each principal axis of the covariance
   (one batched solve) and the rise of ``2 cost / sigma^2`` compared with its predicted value 1.

``method="de"`` replaces phases 1 and 2 by :func:`scipy.optimize.differential_evolution`
(``vectorized=True``: each generation is one batched solve) followed by the same local
polish; it is slower on the position traces (``benchmarks/bench_fit.py``, ``docs/fitting.md``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from astrofield.fitting.data import read_observation
from astrofield.fitting.problem import Problem
from astrofield.fitting.result import FitResult
from astrofield.model.definition import Model

__all__ = ["fit", "run_lsq", "RSE_MAX", "RCOND_MIN", "SV_MIN", "LAPLACE_TOL"]

#: A parameter whose relative standard error exceeds ``1 / 1.96`` is not identifiable: its
#: approximate 95 % interval then contains 0, i.e. the data cannot tell it from "absent".
RSE_MAX = 1.0 / 1.96
#: A parameter with weight ``> 0.1`` in a singular direction of the relative-sensitivity matrix
#: ``J diag(theta)`` whose singular value is below ``RCOND_MIN`` times the largest is not
#: identifiable (however small the noise). Measured: an exact symmetry of the model (only
#: ``beta / tau``, ``gamma / tau``, ``D / tau`` enter; all four varied) gives ``1.4e-7``
#: (round-off: the trace is exactly invariant along it); the identifiable pair beta, D of the
#: Figure 7 trace gives ``0.067``; ``1e-4`` lies between with two decades to each side. (The
#: Jacobian's own relative error, steps ``1e-4`` against ``1e-5``, is ``2e-5``.)
RCOND_MIN = 1e-4
#: A parameter with weight ``> 0.1`` in a direction whose singular value (of ``J diag(theta)``,
#: in the observable's units) is below ``SV_MIN`` is not identifiable: a 100 % change of it moves
#: the whole trace by less than ``1e-6`` rad (root of the summed squares), which is no signal.
#: (A bump at rest, ``eps = 0``: measured ``5e-9`` rad, finite-difference noise.)
SV_MIN = 1e-6
#: The Laplace (quadratic) approximation is reported as holding when the measured rise of
#: ``2 cost / sigma^2`` one standard deviation along each principal axis is within this factor of
#: the predicted 1 (``0.8 .. 1.25``).
LAPLACE_TOL = 1.25


def _lhs(p: int, n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    return qmc.LatinHypercube(d=p, seed=seed).random(n)


def _local(prob: Problem, z0: np.ndarray, max_nfev: int, jac: Any = None) -> Any:
    """One trust-region-reflective run from ``z0`` (unit cube); the Jacobian is batched finite
    differences unless ``jac`` is given."""
    from scipy.optimize import least_squares

    prob.phase = "local"
    return least_squares(lambda z: prob.residuals(z)[0], z0, jac=jac or prob.jacobian,
                         bounds=(0.0, 1.0), method="trf", x_scale=1.0, xtol=1e-8,
                         ftol=1e-10, gtol=1e-10, max_nfev=max_nfev)


def _global_lsq(prob: Problem, n_global: int, n_starts: int, seed: int) -> list[np.ndarray]:
    """The best ``n_starts`` points of a Latin hypercube (one batched solve)."""
    prob.phase = "global"
    z = _lhs(prob.p, n_global, seed)
    r = prob.residuals(z)
    order = np.argsort(0.5 * np.sum(r * r, axis=1))
    return [z[i] for i in order[:n_starts]]


def _global_de(prob: Problem, seed: int, popsize: int, maxiter: int, tol: float
               ) -> list[np.ndarray]:
    """Differential evolution over the unit cube, each generation one batched solve."""
    from scipy.optimize import differential_evolution

    prob.phase = "global"

    def cost(zt: np.ndarray) -> np.ndarray:  # zt: (p, S)
        r = prob.residuals(np.atleast_2d(zt.T))
        return 0.5 * np.sum(r * r, axis=1)

    res = differential_evolution(cost, [(0.0, 1.0)] * prob.p, vectorized=True, updating="deferred",
                                 popsize=popsize, maxiter=maxiter, tol=tol, seed=seed,
                                 polish=False, init="latinhypercube")
    return [res.x]


def _jax_jac(prob: Problem) -> Any:
    """``d r / d z`` by automatic differentiation through the JAX backend (unit cube)."""
    from astrofield.fitting.gradient import JaxJacobian

    jj = JaxJacobian(prob)
    return lambda z: jj(prob.to_phys(z))[1] * prob.dphys_dunit(z)


def fit(data: Any, model: Model | None = None, vary: dict[str, tuple[float, float]] | None = None,
        observable: str = "position", *, sigma: float | None = None, method: str = "lsq",
        n_global: int | None = None, n_starts: int = 3, seed: int = 0, max_nfev: int = 60,
        N: int | None = None, dt: float | None = None, eps: float | None = None,
        position: float | None = None, intervals: str = "fisher", gradient: str = "fd",
        **solve_options: Any) -> FitResult:
    """Fit model parameters to an observed trace, with standard errors and identifiability.

    Parameters
    ----------
    data
        xarray Dataset/DataArray or NetCDF path with the observable on ``time`` (an
        ``astrofield run -o`` output works as is); see
        :func:`~astrofield.fitting.data.read_observation`.
    model
        Fixed parameters (default ``Model()``); the varied ones are replaced.
    vary
        ``{name: (lo, hi)}``: the fitted parameters and their bounds in their own units (``beta``,
        ``gamma`` per unit time, ``tau`` in neural time constants, ``D`` in rad^2 per unit time).
        Default ``{"beta": (0.01, 0.2), "D": (0.1, 3.0)}``.
    observable
        ``"position"``: the bump position trace (rad) on ``time``; ``"u"``: the activity field
        (synaptic input, dimensionless) on ``(time, x)`` (either with leading ``condition``
        and/or ``trial`` dimensions: :mod:`astrofield.fitting.trials`); ``"msd"``: the mean
        squared displacement of noisy trials (:mod:`astrofield.fitting.wander`); ``"bold"``: a
        BOLD series (:mod:`astrofield.fitting.bold`); ``"boundary"``: points labelled stable or
        drifting (:mod:`astrofield.fitting.boundary`). Their own options (``conditions``,
        ``n_sim``, ``seconds_per_unit``, ``region``, ...) go in ``**solve_options``.
    sigma
        Observation noise sd (units of the observable); ``None`` estimates it from the residuals
        (with a 95 % interval, :attr:`FitResult.sigma_ci`), or, for ``"msd"``, takes 1 (its
        residuals are whitened by a known noise model).
    method
        ``"lsq"`` (Latin-hypercube global phase + batched finite-difference least squares, the
        default: faster, see ``docs/fitting.md``) or ``"de"`` (differential evolution, then the
        same local polish).
    n_global, n_starts, seed
        Points of the global Latin hypercube (``method="lsq"``; default ``max(16, 8 p)``),
        local starts taken from its best points (``"de"``: one, its optimum), and the seed of
        the global phase.
    max_nfev
        Maximum residual evaluations of each local run.
    intervals
        ``"fisher"`` (default): 95 % intervals ``best ± t se`` from the Fisher information;
        ``"profile"``: profile-likelihood intervals (:meth:`FitResult.profile` of every
        parameter, ``Delta chi^2 = 3.84``; a flat or open profile marks the parameter not
        identifiable), at the cost of a batched re-optimisation per parameter.
    gradient
        Jacobian of the local phase: ``"fd"`` (default: central finite differences, one
        batched solve on the compiled backend) or ``"jax"`` (forward-mode automatic
        differentiation through the JAX backend,
        :class:`~astrofield.fitting.gradient.JaxJacobian`; smooth firing rates and the
        ``position`` observable only). Measured on CPU, finite differences reach the same
        optimum faster (``docs/fitting.md``). The standard errors always use finite
        differences (the two Jacobians agree to ``1e-6`` relative at the default step).
    N, dt, eps, position
        Simulation settings (grid points, time step in neural time constants, initial shift as a
        fraction of the bump amplitude, initial centre in rad); ``None``: from the data's
        attributes, else :func:`~astrofield.solve`'s defaults. ``T`` and the frames always come
        from the data's ``time``.
    **solve_options
        Further arguments of :func:`~astrofield.solve` (``backend``, ``init``, ``stimulus``, ...).

    Returns
    -------
    FitResult
        Best parameters, standard errors, 95 % intervals, identifiability, residuals, the fitted
        trace, the cost history and convergence information.

    Notes
    -----
    For ``method="de"`` the population is ``popsize * p`` with ``popsize = 10``, at most 100
    generations, relative tolerance ``1e-6``.
    """
    t0 = time.perf_counter()
    if method not in ("lsq", "de"):
        raise ValueError(f"method = {method!r} is not one of ('lsq', 'de')")
    if intervals not in ("fisher", "profile"):
        raise ValueError(f"intervals = {intervals!r} is not one of ('fisher', 'profile')")
    if gradient not in ("fd", "jax"):
        raise ValueError(f"gradient = {gradient!r} is not one of ('fd', 'jax')")
    if sigma is not None and not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma = {sigma!r} must be a positive number or None")
    from astrofield.fitting.observables import handler

    model = Model() if model is None else model
    vary = {"beta": (0.01, 0.2), "D": (0.1, 3.0)} if vary is None else dict(vary)
    other = handler(data, observable)
    if other is not None:  # the observables of astrofield.fitting.observables
        if gradient != "fd":
            raise ValueError(f"gradient = {gradient!r}: automatic differentiation serves the "
                             f"'position' observable only (observable = {observable!r})")
        prob = other(model, vary, N=N, dt=dt, eps=eps, position=position,
                     **solve_options)
    else:
        obs = read_observation(data, observable, N=N, dt=dt, eps=eps, position=position)
        prob = Problem(obs, model, vary, dict(solve_options))
    if not isinstance(prob, Problem):  # a problem with its own likelihood (e.g. "boundary")
        if intervals != "fisher":
            raise ValueError(f"intervals = {intervals!r}: observable {observable!r} has its "
                             "own likelihood; only 'fisher' intervals are available")
        return prob.run(n_global=n_global, n_starts=n_starts, seed=seed, t0=t0)
    prob.check_step()  # the step-size rule over the whole vary box, before any work
    jac = _jax_jac(prob) if gradient == "jax" else None  # refuses Heaviside before any work
    return run_lsq(prob, sigma=sigma, method=method, n_global=n_global, n_starts=n_starts,
                   seed=seed, max_nfev=max_nfev, t0=t0, intervals=intervals, jac=jac)


def run_lsq(prob: Problem, *, sigma: float | None, method: str, n_global: int | None,
            n_starts: int, seed: int, max_nfev: int, t0: float, intervals: str = "fisher",
            jac: Any = None) -> FitResult:
    """Global phase, local least squares and the uncertainty summary of a built problem.

    Parameters
    ----------
    prob
        The :class:`~astrofield.fitting.problem.Problem` (or a subclass).
    sigma, method, n_global, n_starts, seed, max_nfev, intervals
        As :func:`fit`.
    t0
        ``time.perf_counter()`` at the start of the fit (for the wall time).
    jac
        Jacobian of the local phase (``None``: batched finite differences).
    """
    if sigma is None:  # a problem whose residuals are whitened by a known noise model
        sigma = getattr(prob, "sigma_known", None)
    if method == "lsq":
        n_glob = max(16, 8 * prob.p) if n_global is None else int(n_global)
        starts = _global_lsq(prob, n_glob, max(1, min(n_starts, n_glob)), seed)
    else:
        starts = _global_de(prob, seed, popsize=10, maxiter=100, tol=1e-6)
    runs = [_local(prob, z, max_nfev, jac) for z in starts]
    from astrofield.fitting.uncertainty import summarise

    res = summarise(prob, runs, sigma=sigma, method=method, wall_s=time.perf_counter() - t0)
    if intervals == "profile":
        for name in res.names:
            res.profile(name)
        res.use_profile_intervals()
        res.wall_s = time.perf_counter() - t0
    return res
