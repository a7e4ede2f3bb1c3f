"""Many trials and conditions fitted jointly: one batched simulation per parameter candidate set.

The data hold the observable (``position`` on ``time``, or the field ``u`` on ``(time, x)``)
with leading ``trial`` and/or ``condition`` dimensions. Trials of one condition repeat the same
deterministic run: they differ only by observation noise, so each condition is simulated once
and compared with all its trials. Conditions differ by fixed model parameters, given as
coordinates on ``condition`` named like the parameter (e.g. a ``gamma`` coordinate: one value
per condition) or with the ``conditions`` argument. For ``B`` candidate parameter sets and ``C``
conditions one evaluation is **one** batched solve of ``B C`` members.

Residuals: ``simulated(condition) - observed(condition, trial)`` for every frame, so the cost is
the Gaussian negative log-likelihood of independent noise of one sd on every value and the noise
sd is estimated from all of them (``n = C K n_frames`` values).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from astrofield.fitting.data import OBSERVABLES, read_observation
from astrofield.fitting.observables import TRIAL_DIMS
from astrofield.fitting.problem import FAILED_RESIDUAL, Problem
from astrofield.model.definition import Model

__all__ = ["TrialProblem", "trial_problem", "CONDITION_PARAMS"]

#: Model parameters that may differ between conditions (coordinates on ``condition``).
CONDITION_PARAMS = ("theta", "beta", "gamma", "tau", "D")


@dataclass
class TrialProblem(Problem):
    """Residuals of ``C`` simulated conditions against their ``K`` trials each.

    Parameters
    ----------
    cond
        ``name -> (C,)`` fixed model parameters per condition (may be empty).
    shape
        ``(C, K)``: conditions and trials per condition of the data.
    obs, model, vary, solve_options
        As :class:`~astrofield.fitting.problem.Problem`; ``obs.values`` has shape
        ``(C, K, n_frames[, N])``.
    """

    cond: dict[str, np.ndarray] = field(default_factory=dict)
    shape: tuple[int, int] = (1, 1)

    def __post_init__(self) -> None:
        super().__post_init__()
        both = sorted(set(self.cond) & set(self.names))
        if both:
            raise ValueError(f"{', '.join(both)} is fixed per condition and cannot be varied too")

    def member_params(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Set-major members: ``C`` conditions for each of the ``B`` sets."""
        C = self.shape[0]
        kw = {n: np.repeat(theta[:, j], C) for j, n in enumerate(self.names)}
        kw.update({n: np.tile(v, theta.shape[0]) for n, v in self.cond.items()})
        return kw

    def residuals(self, z: np.ndarray) -> np.ndarray:
        """``simulated - observed`` ``(B, C K m)`` (``m`` values per trial) at unit-cube points
        ``z`` ``(B, p)``; each member's cost ``0.5 sum r^2`` goes to :attr:`history`."""
        z = np.clip(np.atleast_2d(z), 0.0, 1.0)
        C, K = self.shape
        sim = self.simulate(self.to_phys(z)).reshape(z.shape[0], C, 1, -1)
        r = (sim - self.obs.values.reshape(C, K, -1)).reshape(z.shape[0], -1)
        r = np.where(np.isfinite(r), r, FAILED_RESIDUAL)
        self.history.extend((self.phase, 0.5 * float(row @ row)) for row in r)
        return r


def _conditions(ds: Any, C: int, given: dict[str, Any] | None) -> dict[str, np.ndarray]:
    """Per-condition parameters from the ``condition`` coordinates and ``given`` (checked)."""
    out: dict[str, np.ndarray] = {}
    if "condition" in ds.dims:
        for name, coord in ds.coords.items():
            if name in CONDITION_PARAMS and coord.dims == ("condition",):
                out[name] = np.asarray(coord.values, dtype=float)
    for name, vals in (given or {}).items():
        if name not in CONDITION_PARAMS:
            raise ValueError(f"conditions: {name!r} is not one of {CONDITION_PARAMS}")
        out[name] = np.asarray(vals, dtype=float).reshape(-1)
    for name, vals in out.items():
        if vals.shape != (C,) or not np.all(np.isfinite(vals)):
            raise ValueError(
                f"condition parameter {name!r} must be {C} finite values (one per "
                f"condition), got {vals.tolist()}"
            )
    return out


def trial_problem(
    ds: Any,
    observable: str,
    model: Model,
    vary: dict[str, tuple[float, float]],
    *,
    N: int | None = None,
    dt: float | None = None,
    eps: float | None = None,
    position: float | None = None,
    conditions: dict[str, Any] | None = None,
    **solve_options: Any,
) -> TrialProblem:
    """Build the :class:`TrialProblem` of data with ``trial``/``condition`` dimensions.

    Parameters
    ----------
    ds
        The data (:class:`xarray.Dataset`): ``observable`` on ``([condition,] [trial,] time[,
        x])``; the per-condition fixed parameters as coordinates on ``condition``.
    observable
        ``"position"`` (rad) or ``"u"`` (dimensionless).
    model, vary
        As :func:`~astrofield.fitting.fit`.
    N, dt, eps, position
        Simulation settings (see :func:`~astrofield.fitting.data.read_observation`).
    conditions
        ``{name: values}``: per-condition fixed model parameters (override the coordinates).
    **solve_options
        Further arguments of :func:`~astrofield.solve`.
    """
    da = ds[observable]
    lead = tuple(d for d in TRIAL_DIMS if d in da.dims)
    want = (*lead, *OBSERVABLES[observable][2])
    if set(da.dims) != set(want):
        raise ValueError(
            f"data variable {observable!r} has dimensions {da.dims}; with trials "
            f"and conditions it must have {want}"
        )
    da = da.transpose(*want)
    C = da.sizes.get("condition", 1)
    K = da.sizes.get("trial", 1)
    values = np.asarray(da.values, dtype=float).reshape(C, K, *da.shape[len(lead) :])
    if not np.all(np.isfinite(values)):
        raise ValueError(f"data {observable!r} must be finite in every trial and condition")
    first = ds.isel({d: 0 for d in lead}).drop_vars(
        [n for n in ds.coords if set(ds[n].dims) & set(lead)]
    )
    obs = read_observation(first, observable, N=N, dt=dt, eps=eps, position=position)
    obs = type(obs)(observable, obs.time, values, obs.settings, obs.sources, obs.x)
    cond = _conditions(ds, C, conditions)
    prob = TrialProblem(obs, model, dict(vary), dict(solve_options), cond=cond, shape=(C, K))
    long, unit, dims = OBSERVABLES[observable]
    prob.meta = (long, unit, ("condition", "trial", *dims))
    prob.coords = {
        n: ("condition", v, {"long_name": f"{n} of each condition"}) for n, v in cond.items()
    }
    return prob
