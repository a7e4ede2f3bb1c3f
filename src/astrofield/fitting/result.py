"""The result of :func:`~astrofield.fitting.fit`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from astrofield.fitting.data import OBSERVABLES
from astrofield.fitting.problem import PARAM_UNITS
from astrofield.fitting.profile import Profile, profile_problem, profile_variables

__all__ = ["FitResult"]


@dataclass
class FitResult:
    """Best parameters with uncertainty, the fitted trace and the optimiser's record.

    Attributes
    ----------
    names
        The fitted parameters, in order.
    params, stderr
        Best values and standard errors (from the Fisher information at the optimum), each in
        the parameter's own units (``beta``, ``gamma`` per unit time; ``tau`` in neural time
        constants; ``D`` in rad^2 per unit time).
    ci_low, ci_high
        95 % confidence interval: ``params ± t_{0.975, n-p} stderr`` (``intervals ==
        "fisher"``) or the profile-likelihood interval (``"profile"``, see :meth:`profile`).
    identifiable
        Per parameter: False when the data do not determine it (relative standard error above
        :data:`~astrofield.fitting.core.RSE_MAX`, a near-singular Fisher direction involving it,
        or the optimum on a bound of its ``vary`` range); its ``stderr`` is then not meaningful.
    at_bound
        Per parameter: the optimum lies on a bound of the ``vary`` range.
    cov
        Covariance matrix ``(p, p)`` (inf where the information is singular).
    singular_values, rcond
        Singular values of the relative-sensitivity matrix ``J diag(params)`` (rad) and each over
        the largest.
    sigma, sigma_estimated
        Observation noise sd (units of the observable) and whether it was estimated from the
        residuals (``sqrt(2 cost / (n - p))``).
    cost
        ``0.5 sum residuals^2`` at the optimum (rad^2 for positions).
    converged, message
        Whether the best local run met its tolerance, and its message.
    n_agree, n_starts, start_costs
        Local starts whose final cost is within 0.1 % of the best, the number of starts and
        their final costs.
    time, data, fitted, residuals
        Frame times (neural time constants), observed and fitted observable, ``fitted - data``
        (shape ``(n,)`` for ``position``, ``(n, N)`` for the field ``u``).
    cost_history, history_phase
        Cost of every model evaluation in order and its phase (``global``, ``local``,
        ``final``, ``laplace``).
    laplace_rise, laplace_ok
        Measured rise of ``2 cost / sigma^2`` one standard deviation along each principal axis
        (``+`` and ``-``; predicted 1; NaN where not evaluated) and whether all lie within
        :data:`~astrofield.fitting.core.LAPLACE_TOL` of 1.
    observable, settings
        The fitted observable and the simulation settings (``T``, ``n_frames``, ``N``, ``dt``,
        ``eps``, ``position``).
    lower, upper
        The ``vary`` bounds.
    method
        ``"lsq"`` or ``"de"``.
    x
        Ring positions (rad) of a field observable, else ``None``.
    sigma_ci
        95 % interval of an estimated noise sd (chi-square law of the residual sum of squares,
        see :func:`~astrofield.fitting.uncertainty.sigma_interval`); NaN when ``sigma`` was
        given.
    meta
        ``(long name, units, dimensions)`` of the data when the observable is not one of
        :data:`~astrofield.fitting.data.OBSERVABLES` as it stands (trials, conditions, MSD,
        BOLD, boundary labels), else ``None``.
    coords
        Extra coordinates of the data's dimensions (``name -> (dim, values, attrs)``).
    units
        Units of fitted parameters that are not model parameters (e.g. haemodynamic ones).
    extras
        Further variables of :meth:`to_dataset` that an observable's figure draws
        (``name -> (dims, values, attrs)``): the MSD's sampling sd, the theory's boundary on a
        grid of the labelled points' plane.
    n_solves, n_members
        Batched solves and simulated parameter sets in all.
    wall_s
        Wall time of the fit (s).
    profiles
        ``name -> Profile`` of the profiled parameters (:meth:`profile`).
    intervals
        ``"fisher"`` or ``"profile"``: where ``ci_low``/``ci_high`` come from.
    problem
        The fitted problem (the model evaluations of :meth:`profile`); ``None`` for a result
        rebuilt without it.
    resolved
        The simulation at the best-fit parameters passed the ``resolved`` check of
        :func:`~astrofield.simulator.integrator.solve`: the grid and step rules at the fitted
        parameters, no failure and, without noise, its companion run at ``(N/2, 2 dt)`` (the
        final drift of the fitted trace agrees); noisy fits (``"msd"``) carry only the rules
        and failures. ``True`` for a likelihood without simulations (``"boundary"``: theory).
    """

    names: list[str]
    params: np.ndarray
    stderr: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    identifiable: np.ndarray
    at_bound: np.ndarray
    cov: np.ndarray
    singular_values: np.ndarray
    rcond: np.ndarray
    sigma: float
    sigma_estimated: bool
    cost: float
    converged: bool
    message: str
    n_agree: int
    n_starts: int
    start_costs: np.ndarray
    time: np.ndarray
    data: np.ndarray
    fitted: np.ndarray
    residuals: np.ndarray
    cost_history: np.ndarray
    history_phase: np.ndarray
    laplace_rise: np.ndarray
    laplace_ok: bool
    observable: str
    settings: dict[str, Any]
    lower: np.ndarray
    upper: np.ndarray
    method: str
    n_solves: int
    n_members: int
    wall_s: float
    x: np.ndarray | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)
    intervals: str = "fisher"
    problem: Any = field(default=None, repr=False, compare=False)
    sigma_ci: tuple[float, float] = (np.nan, np.nan)
    meta: tuple[str, str, tuple[str, ...]] | None = None
    coords: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    resolved: bool = True

    def profile(self, name: str, *, n: int = 21, span: float = 4.0) -> Profile:
        """Profile likelihood of parameter ``name``: the others re-optimised (batched) along a
        grid of it; the 95 % interval where ``Delta chi^2 = 3.84`` with the fit's noise sd.

        Parameters
        ----------
        name
            A fitted parameter.
        n
            Grid points (at least 3), over ``best ± span stderr`` clipped to the ``vary`` range
            (the whole range where the standard error is not finite).
        span
            Half-width of the grid in standard errors.

        Returns
        -------
        Profile
            Also stored in :attr:`profiles` (and so in :meth:`to_dataset`); it says whether the
            profile is flat (not identifiable) and whether its interval agrees with the Fisher
            one (``agrees``, within ``PROFILE_TOL`` of the half-width).
        """
        if name not in self.names:
            raise ValueError(f"profile: {name!r} is not a fitted parameter ({self.names})")
        if self.problem is None:
            raise ValueError(
                "profile: this result holds no fitted problem (it was rebuilt "
                "without one); refit with astrofield.fit"
            )
        j = self.names.index(name)
        z = np.clip(self.problem.to_unit(self.params), 0.0, 1.0)
        pr = profile_problem(self.problem, z, self.cost, self.sigma, self.cov, j, n=n, span=span)
        self.profiles[name] = pr
        return pr

    def use_profile_intervals(self) -> None:
        """Take ``ci_low``/``ci_high`` from the profiles (all parameters must be profiled) and
        mark a parameter whose profile is flat or open as not identifiable."""
        missing = [n for n in self.names if n not in self.profiles]
        if missing:
            raise ValueError(f"use_profile_intervals: no profile of {missing}; call profile()")
        prs = [self.profiles[n] for n in self.names]
        self.ci_low = np.array([pr.ci_low for pr in prs])
        self.ci_high = np.array([pr.ci_high for pr in prs])
        self.identifiable = self.identifiable & np.array([pr.identifiable for pr in prs])
        self.intervals = "profile"

    def value(self, name: str) -> float:
        """Best value of parameter ``name`` (its own units)."""
        return float(self.params[self.names.index(name)])

    def error(self, name: str) -> float:
        """Standard error of parameter ``name`` (its own units)."""
        return float(self.stderr[self.names.index(name)])

    def summary(self) -> dict[str, Any]:
        """The numbers of the fit as a plain dictionary (the CLI's JSON; a standard error is
        NaN where the parameter is not identifiable)."""
        se = np.where(self.identifiable, self.stderr, np.nan)
        return {
            "params": dict(zip(self.names, map(float, self.params), strict=True)),
            "stderr": dict(zip(self.names, map(float, se), strict=True)),
            "ci95": {
                n: [float(a), float(b)] if ok else [np.nan, np.nan]
                for n, a, b, ok in zip(
                    self.names, self.ci_low, self.ci_high, self.identifiable, strict=True
                )
            },
            "identifiable": dict(zip(self.names, map(bool, self.identifiable), strict=True)),
            "at_bound": dict(zip(self.names, map(bool, self.at_bound), strict=True)),
            "cost": self.cost,
            "sigma": self.sigma,
            "sigma_estimated": self.sigma_estimated,
            "sigma_ci95": [float(v) for v in self.sigma_ci],
            "converged": self.converged,
            "resolved": bool(self.resolved),
            "n_agree": self.n_agree,
            "n_starts": self.n_starts,
            "laplace_ok": self.laplace_ok,
            "method": self.method,
            "n_solves": self.n_solves,
            "n_members": self.n_members,
            "wall_s": self.wall_s,
            "intervals": self.intervals,
            **(
                {"profile": {n: pr.summary() for n, pr in self.profiles.items()}}
                if self.profiles
                else {}
            ),
        }

    def to_dataset(self):
        """The result as an :class:`xarray.Dataset` (``long_name`` and ``units`` on every
        variable; parameters on a ``param`` dimension with their units as a coordinate)."""
        import xarray as xr

        long, unit, dims = self.meta if self.meta is not None else OBSERVABLES[self.observable]
        same = "units of each parameter (see param_units)"
        pv = {
            "params": (self.params, "best value", same),
            "stderr": (self.stderr, "standard error (Fisher information)", same),
            "ci_low": (
                self.ci_low,
                f"95 % confidence interval ({self.intervals}), lower end",
                same,
            ),
            "ci_high": (
                self.ci_high,
                f"95 % confidence interval ({self.intervals}), upper end",
                same,
            ),
            "lower": (self.lower, "lower bound of the fitted range", same),
            "upper": (self.upper, "upper bound of the fitted range", same),
            "identifiable": (
                self.identifiable.astype(np.int8),
                "1 if the data determine the parameter",
                "1",
            ),
            "at_bound": (self.at_bound.astype(np.int8), "1 if the optimum is on a bound", "1"),
        }
        dv = {k: ("param", v, {"long_name": ln, "units": u}) for k, (v, ln, u) in pv.items()}
        dv["cov"] = (
            ("param", "param2"),
            self.cov,
            {"long_name": "covariance", "units": "product of the parameters' units"},
        )
        dv["singular_values"] = (
            "component",
            self.singular_values,
            {"long_name": "singular values of J diag(params)", "units": unit},
        )
        for k, v, ln in (
            ("data", self.data, f"observed {long}"),
            ("fitted", self.fitted, f"fitted {long}"),
            ("residual", self.residuals, f"fitted minus observed {long}"),
        ):
            dv[k] = (dims, v, {"long_name": ln, "units": unit})
        dv["cost_history"] = (
            "evaluation",
            self.cost_history,
            {"long_name": "0.5 sum residual^2 of each model evaluation", "units": f"({unit})^2"},
        )
        dv["history_phase"] = (
            "evaluation",
            self.history_phase.astype(str),
            {"long_name": "phase of the evaluation", "units": "1"},
        )
        if self.profiles:
            dv.update(profile_variables(self.profiles, self.names, same))
        coords = {
            "param": self.names,
            "param2": self.names,
            "param_units": ("param", [{**PARAM_UNITS, **self.units}[n] for n in self.names]),
        }
        if "time" in dims and "time" not in self.coords:
            coords["time"] = (
                "time",
                self.time,
                {"long_name": "time", "units": "neural time constants"},
            )
        coords.update(self.coords)
        for k, (d, v, a) in self.extras.items():
            if k.startswith("grid_"):
                coords[k] = (d, v, a)
            else:
                dv[k] = (d, v, a)
        if self.x is not None:
            coords["x"] = ("x", self.x, {"long_name": "position on the ring", "units": "rad"})
        ds = xr.Dataset({k: (d, v, a) for k, (d, v, a) in dv.items()}, coords=coords)
        attrs = {
            "observable": self.observable,
            "method": self.method,
            "cost": self.cost,
            "sigma": self.sigma,
            "sigma_estimated": int(self.sigma_estimated),
            "sigma_ci_low": self.sigma_ci[0],
            "sigma_ci_high": self.sigma_ci[1],
            "converged": int(self.converged),
            "resolved": int(self.resolved),
            "message": self.message,
            "n_agree": self.n_agree,
            "n_starts": self.n_starts,
            "laplace_ok": int(self.laplace_ok),
            "wall_s": self.wall_s,
            "intervals": self.intervals,
        }
        attrs.update({k: v for k, v in self.settings.items() if v is not None})
        ds.attrs.update(attrs)
        return ds
