"""The least-squares problem of a fit: parameter scaling and batched evaluation.

Every evaluation of the model goes through :meth:`Problem.residuals`, which integrates ``B``
parameter sets in **one** batched :func:`~astrofield.simulator.integrator.simulate` call (the
model's parameters become arrays of length ``B``): the finite-difference Jacobian, the global
phase and the Laplace check each cost one call.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from astrofield.fitting.data import Observation
from astrofield.model.definition import PARAMETER_RANGES, Model

__all__ = ["Problem", "UnitCube", "PARAM_UNITS", "FAILED_RESIDUAL", "check_vary"]

#: Units of the parameters that can be fitted.
PARAM_UNITS = {"theta": "1", "beta": "per unit time", "gamma": "per unit time",
               "tau": "neural time constants", "D": "rad^2 per unit time", "steepness": "1"}
#: Residual (rad) given to every frame of a member whose simulation failed (non-finite state):
#: far larger than any misfit of a trace on the ring, so the optimiser moves away from it.
FAILED_RESIDUAL = 10.0


def check_vary(vary: Mapping[str, tuple[float, float]],
               extra: Mapping[str, tuple[float, float, str]] | None = None
               ) -> dict[str, tuple[float, float]]:
    """The fitted parameters and their ranges, checked (ValueError naming the parameter).

    Parameters
    ----------
    vary
        ``{name: (lo, hi)}`` with ``lo < hi`` finite and inside the parameter's allowed range.
    extra
        Further parameters an observable can fit (e.g. haemodynamic ones): ``name -> (min, max,
        units)``, the range open at both ends.
    """
    extra = dict(extra or {})
    if not vary:
        raise ValueError("vary must name at least one parameter, e.g. {'beta': (0.01, 0.2)}")
    out = {}
    for name, rng in vary.items():
        if name in extra:
            lo, hi = _pair(name, rng)
            emin, emax = extra[name][:2]
            if not (math.isfinite(lo) and math.isfinite(hi) and emin < lo < hi < emax):
                raise ValueError(f"vary[{name!r}] = ({lo:g}, {hi:g}) must be finite with "
                                 f"{emin:g} < lo < hi < {emax:g}")
            out[name] = (lo, hi)
            continue
        if name not in PARAM_UNITS:
            raise ValueError(f"vary: {name!r} is not a parameter that can be fitted here "
                             f"({', '.join([*PARAM_UNITS, *extra])})")
        lo, hi = _pair(name, rng)
        plo, _, lo_open, _, _ = PARAMETER_RANGES[name]
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"vary[{name!r}] = ({lo:g}, {hi:g}) must be finite with lo < hi")
        if lo < plo or (lo_open and lo == plo) or (name == "theta" and hi >= 1):
            raise ValueError(f"vary[{name!r}] = ({lo:g}, {hi:g}) leaves the allowed range "
                             f"of {name}")
        out[name] = (lo, hi)
    return out


def _pair(name: str, rng: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in rng)
    except (TypeError, ValueError):
        raise ValueError(f"vary[{name!r}] must be a pair (lo, hi), got {rng!r}") from None
    return lo, hi


class UnitCube:
    """The map between the fitted parameters (``vary``: ``name -> (lo, hi)``) and the unit cube.

    ``z in [0, 1]`` per parameter, on a log scale where the range spans a factor 10 or more and
    ``lo > 0`` (``log``), else linearly. A subclass sets ``vary`` and calls :meth:`set_scale`.
    """

    vary: dict[str, tuple[float, float]]

    def set_scale(self) -> None:
        """``names``, ``lo``, ``hi``, ``log`` and the scaled ends from ``vary``."""
        self.names = list(self.vary)
        lo, hi = (np.array([self.vary[n][i] for n in self.names]) for i in (0, 1))
        self.log = (lo > 0) & (hi / np.where(lo > 0, lo, 1.0) >= 10.0)
        self.lo, self.hi = lo, hi
        self._a = np.where(self.log, np.log(np.where(self.log, lo, 1.0)), lo)
        self._b = np.where(self.log, np.log(np.where(self.log, hi, 1.0)), hi)

    @property
    def p(self) -> int:
        return len(self.names)

    def to_phys(self, z: np.ndarray) -> np.ndarray:
        """Unit-cube coordinates ``(..., p)`` -> parameters in their own units."""
        s = self._a + np.asarray(z, dtype=float) * (self._b - self._a)
        return np.where(self.log, np.exp(s), s)

    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        """Parameters ``(..., p)`` -> unit-cube coordinates."""
        th = np.asarray(theta, dtype=float)
        s = np.where(self.log, np.log(np.where(self.log, th, 1.0)), th)
        return (s - self._a) / (self._b - self._a)

    def dphys_dunit(self, z: np.ndarray) -> np.ndarray:
        """``d theta / d z`` per parameter at ``z`` (shape ``(p,)``)."""
        span = self._b - self._a
        return np.where(self.log, self.to_phys(z) * span, span)


@dataclass
class Problem(UnitCube):
    """Residuals of the simulated observable against the data, for batches of parameter sets.

    The fitted parameters are mapped to the unit cube: ``z in [0, 1]`` per parameter, on a log
    scale where the range spans a factor 10 or more and ``lo > 0`` (``log=True``), else linearly.

    Parameters
    ----------
    obs
        The :class:`~astrofield.fitting.data.Observation`.
    model
        Fixed parameters (the varied ones are replaced).
    vary
        ``name -> (lo, hi)``: the fitted parameters and their bounds, in their own units.
    solve_options
        Further keyword arguments of :func:`~astrofield.simulator.integrator.simulate`
        (``backend``, ``init``, ``stimulus``, ...).
    """

    obs: Observation
    model: Model
    vary: dict[str, tuple[float, float]]
    solve_options: dict[str, Any] = field(default_factory=dict)
    #: ``(phase, cost)`` of every member evaluated, in order
    history: list[tuple[str, float]] = field(default_factory=list, init=False)
    #: batched solves, members simulated, and seconds spent in them
    n_solves: int = field(default=0, init=False)
    n_members: int = field(default=0, init=False)
    solve_s: float = field(default=0.0, init=False)
    #: label of the current phase (recorded in :attr:`history`)
    phase: str = field(default="global", init=False)
    #: per parameter set of the latest solve: every member passed the ``resolved`` check of
    #: :func:`~astrofield.simulator.integrator.solve` (``None`` before the first solve)
    last_resolved: np.ndarray | None = field(default=None, init=False)

    #: parameters beyond the model's that a subclass can fit: ``name -> (min, max, units)``
    extra_params = {}  # type: ignore[var-annotated]

    def __post_init__(self) -> None:
        self.vary = check_vary(self.vary, self.extra_params)
        self.set_scale()
        for n in self.names:
            if n not in self.extra_params and np.ndim(getattr(self.model, n)) != 0:
                raise ValueError(f"model.{n} is an array; fit one parameter set at a time")

    def member_params(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """The model parameters of the simulated members for the parameter sets ``theta``
        ``(B, p)``: ``name -> (B * m,)`` arrays, ``m`` members per set in set-major order (here
        ``m = 1``; a subclass adds per-condition members)."""
        return {n: theta[:, j].copy() for j, n in enumerate(self.names)}

    def check_step(self) -> None:
        """Apply the step-size rule at every corner of the ``vary`` box (all simulated members,
        conditions included) before any work.

        A step too large for part of the box is refused with the rule's message (or warned and
        flagged with ``dt_check="warn"``; nothing with ``"off"``), instead of failing in the
        middle of the fit. The rule's largest step falls with ``beta`` and ``gamma`` and grows
        with ``tau``, so the box's corners carry its smallest value.

        Raises
        ------
        ValueError
            If the data's ``dt`` exceeds the rule's largest step at a corner.
        """
        from astrofield.simulator.step_control import resolve_dt

        s = getattr(getattr(self, "obs", None), "settings", None) or {}
        dt, T = s.get("dt"), s.get("T")
        if isinstance(dt, str) or dt is None or T is None:
            return
        cube = np.array(list(itertools.product((0.0, 1.0), repeat=self.p))) if self.p <= 8 \
            else np.vstack([np.zeros(self.p), np.ones(self.p)])
        names = {f.name for f in fields(Model)}
        kw = {n: v for n, v in self.member_params(self.to_phys(cube)).items() if n in names}
        try:
            resolve_dt(float(dt), float(T), replace(self.model, **kw),
                       self.solve_options.get("dt_check", "error"), stacklevel=4)
        except ValueError as exc:
            raise ValueError(f"{exc} -- at a corner of the vary box "
                             f"{ {n: self.vary[n] for n in self.names} }") from None

    def simulate(self, theta: np.ndarray) -> np.ndarray:
        """The simulated observable for each row of ``theta`` ``(B, p)``, flattened: ``(B, n)``
        (``n`` frames, or frames times ``N`` for a field, times the members of a set); NaN rows
        for failed members."""
        from astrofield.simulator.integrator import simulate

        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        kw = self.member_params(theta)
        # no step ladder unless asked for: a step that changes between evaluations would make
        # the objective jump
        opts = {"refine_levels": 0, **self.solve_options, **self.obs.settings}
        t0 = time.perf_counter()
        field = self.obs.x is not None
        sol = simulate(replace(self.model, **kw), progress=False, store_fields=field, **opts)
        self.solve_s += time.perf_counter() - t0
        self.n_solves += 1
        self.n_members += int(np.size(next(iter(kw.values()))))
        v = sol.values()
        self.note_resolved(v, theta.shape[0])
        out = np.array(v[self.obs.observable], dtype=float).reshape(theta.shape[0], -1)
        out[np.asarray(v["failed"]).reshape(theta.shape[0], -1).any(axis=1)] = np.nan
        return out

    def note_resolved(self, values: Mapping[str, Any], rows: int) -> None:
        """Record :attr:`last_resolved` from a solve's values (``rows`` parameter sets, their
        members in set-major order)."""
        self.last_resolved = np.asarray(values["resolved"], bool).reshape(rows, -1).all(axis=1)

    def residuals(self, z: np.ndarray) -> np.ndarray:
        """Residuals ``simulated - observed`` ``(B, n)`` at unit-cube points ``z`` ``(B, p)``;
        each member's cost ``0.5 sum r^2`` is appended to :attr:`history`."""
        r = (self.simulate(self.to_phys(np.clip(np.atleast_2d(z), 0.0, 1.0)))
             - self.obs.values.ravel())
        r = np.where(np.isfinite(r), r, FAILED_RESIDUAL)
        self.history.extend((self.phase, 0.5 * float(row @ row)) for row in r)
        return r

    def jacobian(self, z: np.ndarray, h: float = 1e-4) -> np.ndarray:
        """Central finite-difference Jacobian ``d r / d z`` ``(n, p)`` from one batched solve
        of ``2 p`` members (steps of ``h`` in unit-cube coordinates, one-sided at a bound).

        The error is first order in ``h`` (bump edges crossing grid cells make the trace only
        piecewise smooth in the parameters): measured relative error ``8e-4`` at ``h = 1e-3``,
        ``2e-5`` at the default ``1e-4`` (against ``1e-5``; Figure 7 trace, beta and D)."""
        z = np.asarray(z, dtype=float)
        eye = np.eye(self.p)
        zp = np.clip(z + h * eye, 0.0, 1.0)
        zm = np.clip(z - h * eye, 0.0, 1.0)
        r = self.residuals(np.vstack([zp, zm]))
        dz = np.diag(zp - zm)
        return ((r[: self.p] - r[self.p:]) / dz[:, None]).T
