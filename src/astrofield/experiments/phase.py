"""Numerical drift-experiment phase diagrams (the paper's Figures 5 and 6).

For every grid point the exact wide bump is perturbed by a right shift,
``u = U(x) + eps * (2 c0 sin Delta) * sin x`` (``eps = 0.05``), and integrated to ``T`` with the
batched simulator (:func:`astrofield.simulator.integrator.solve`, many points per vectorised
run). The bump
position ``p(t)`` is the unwrapped phase of the first Fourier mode of ``u``; *drift* is
``p(T) - p(0)`` and *velocity* ``dp/dt`` at ``T`` (both in rad and rad per unit time; time in
units of the neural time constant). The analytic verdicts of :mod:`astrofield.theory.stability`
(sign of
the Evans ``E'(0)``, Fourier truncation) are stored alongside.

Verdict rule (:class:`VerdictRule`)
-----------------------------------
Physics: a stable bump perturbed by a shift relaxes back, its velocity decaying like
``exp(-|lambda| t)`` (``lambda`` the leading shift eigenvalue); an unstable one starts to move, its
velocity first growing like ``exp(lambda t)`` and then either saturating at a travelling speed or,
in the strongly unstable small-``D`` corner, travelling a finite distance through its own wake and
slowing down again. With ``v_ref = |v(t_ref)|`` (``t_ref = 10``: the fast ``u``-relaxation,
rate 1, is over) a point with a bump is

* **unstable** if ``max_{t_ref <= t <= T} |v(t)| >= growth * v_ref`` (``growth = 2``: the velocity
  has grown, which a linearly stable bump's velocity does not do after its transient), **or** if
  ``|v(T)| >= persist * v_ref`` (``persist = 0.4``: the motion has not relaxed by ``T``), **or** if
  the mean speed over the last fifth of ``[t_ref, T]`` is at least ``late = 0.8`` times the mean
  speed over its middle fifth (the bump keeps travelling at a steady speed: near the boundary the
  travelling speed is small, below ``persist * v_ref`` for a large initial kick, yet it does not
  decay; this criterion counts only while that late speed is at least ``v_floor = 1e-6``) --
  provided the bump moves at all: if ``|v| < v_floor`` throughout ``[t_ref, T]`` the velocity
  samples are round-off and the point is stable;
* **stable** otherwise; points past the fold (no wide bump, checked with
  :func:`astrofield.theory.bump.bump_branches`) get **"no bump"** and are not simulated.

A stable point is misread only if ``|lambda| < max(ln(1 / persist), 2.5 ln(1 / late)) /
(T - t_ref)`` (``1.9e-3`` at ``T = 500``) and an unstable point only if its velocity neither
doubles, nor keeps 40 % of its reference value, nor keeps 80 % of its mid-run speed; both happen
only next to the boundary ``E'(0) = 0``, where ``lambda -> 0``. On the 50 x 50 (D, beta) map
of the paper (gamma 2, theta 0.1, T 500) the rule agrees with the Evans verdict on about 99 % of
the cells and every disagreement touches the boundary (see ``benchmarks/bench_phase_map.py``).

Early decisions (:class:`EarlyStop`)
------------------------------------
Optional; evaluated every ``t_ref`` time units through ``solve``'s ``stop_rule`` (decided members
leave the batch, so the sweep stops paying for them). The verdict of a decided point is the
rule's verdict on its trace *extended to T by the extrapolation* (:func:`_extend_trace`), so the
persist and late criteria see the motion up to ``T``.

* **travelling** -- the drift at ``T`` is predictable to ``accuracy = 0.2 %``: from the mean
  speeds over the last seven ``t_ref`` intervals (drift differences: the speed's fast ripple as
  the bump crosses grid cells averages out) the rule estimates the error of extrapolating to
  ``T`` -- ``S (R + h) / 2`` if the speed approaches its limit geometrically (increments of one
  sign shrinking by a steady ratio ``q``, remaining change ``S = |last increment| q / (1 - q)``,
  extrapolated with half of it added), else ``r R (R + h) / 2`` with ``r`` the largest rate of
  change of the speed in the window (``R = T - t``, ``h = t_ref``) -- and decides once that
  estimate is below ``accuracy`` times the extrapolated drift, *and* either ``|v| >= travel *
  v_ref`` (``travel`` = the rule's ``growth``, 2: the growth criterion already holds, so the
  verdict cannot change by stopping) or the speed at ``T``, less the change the same estimate
  allows, is at least ``1.25 persist v_ref`` (the persist criterion holds at ``T``: bumps that
  travel next to the boundary without doubling their speed). The 70-time-unit window is longer
  than half the period of the slow oscillations through which some travellers settle.
* **relaxed below the resolution** -- over the last four samples (30 time units)
  ``|v| <= relax * v_ref`` (``relax = 0.2``), one sign and a geometric decay (consecutive
  ratios below 1 and within 20 % of each other, which rules out deciding at a zero crossing of
  an oscillating relaxation) at a steady rate (the three interval rates within 30 % of the
  slowest, ``mu``: a fast transient that hides a slower, possibly growing, mode next to the
  boundary shows as a falling rate); the rate ``safety * mu`` (``safety = 0.5``) is fast
  enough to keep the late criterion false (``>= 2.5 ln(1 / late) / (T - t_ref)``), and the
  error of the extrapolated remaining motion, for any decay at least that fast, is below a
  tenth of a grid cell ``2 pi / N``. A bump whose speed has doubled is never decided relaxed
  (in the small-D corner it travels, then slows down non-geometrically and may reverse).

``drift`` and ``velocity`` always mean the values **at T**. For a decided point they are
extrapolated from the decision time ``t_decided`` (:func:`extrapolate_to_T`): a travelling bump
moves on at the extrapolation speed, a relaxing bump's speed decays exponentially at ``mu``.
``drift_bound`` bounds the extrapolation error (0 for points simulated to ``T``): for a relaxed
point the bound above, for a travelling one twice the error estimate. The values at the
decision are kept as ``drift_decided`` and ``velocity_decided``.

*Guarantee and its assumptions.* A travelling decision by growth never changes the verdict. The
other decisions keep the verdict, and every drift error stays within ``drift_bound``, as long as
the trend seen in the window continues: a relaxing speed keeps decaying at least at
``safety * mu``; a travelling speed changes no faster than the window shows (geometrically, or at
its largest rate). Points next to the boundary ``E'(0) = 0`` whose motion keeps changing (slow
growth after a fast transient, slow decay) and traces that never settle are not decided and run
to ``T``. Replayed on full traces of the 50 x 50 (D, beta) map (gamma 2, theta 0.1, T 500,
N 128, dt 0.05) and of 200 random points of the same region (N 64, T 300), every verdict is
unchanged, travellers' drift errors at ``T`` stay below 0.23 % (at most 0.7 times
``drift_bound``) and relaxed ones below 5 % of ``drift_bound``
(``tests/test_phase_early_replay.py`` replays a small set); ``tests/test_phase_drift_at_T.py``
checks runs with and without early decisions against each other.

Error control (:func:`control_errors`)
--------------------------------------
The scheme is second order in both ``dt`` and ``dx = 2 pi / N``, so a drift computed at
``(N, dt)`` is ``p* + A dt^2 + B dx^2 + ...`` and one computed at ``(N / 2, 2 dt)`` carries four
times that leading error. Every simulated point is therefore run again at ``(N / 2, 2 dt)``
(about a third of the cost of the first run at the defaults); its ``drift`` and ``velocity``
at ``T`` are the Richardson extrapolations
``fine + (fine - coarse) / 3`` (:func:`richardson`), and ``drift_error = |fine - coarse| / 3``
estimates the discretisation error of the fine run. A point whose two runs disagree on the
verdict, or whose ``persist`` or ``growth`` statistic lies within twice its estimated error
(``|fine - coarse| / 3``) of the rule's threshold (next to the boundary, where the verdict and
the travelling speed depend on the resolution), or a travelling point whose ``drift_error``
exceeds ``refine_tol`` (5 %) of its drift, is run at ``(2 N, dt / 2)``: that run gives its
verdict, and the extrapolation of ``(2 N, dt / 2)`` and ``(N, dt)`` its drift (``refined``).
Each run decides early on its own; ``drift_bound`` of an extrapolated drift is
``(4 b_fine + b_coarse) / 3``. With ``refine_levels > 1`` the refinement is a ladder: the
unresolved points are rerun too, and a point climbs to ``(4 N, dt / 4)``, ... while its last two
levels disagree or its bump moves in more than one episode (a second slip released by rounding
near the fold at ``D = inf``; :func:`motion_episodes`).

``drift_error`` is an estimate, not a bound: it assumes both runs are in the asymptotic
(second-order) regime. Checked on the 50 x 50 map of the paper (gamma 2, theta 0.1,
D in [0.001, 0.6], beta in [0.001, 0.1], T 500) at the defaults N 64, dt 0.1 against every
point run to ``T`` at N 256, dt 0.0125: the verdicts differ on 3 of 2500 points, all next to the
boundary (as at N 128, dt 0.05); travellers' drift is within 1.05 % (median 0.04 %; N 128,
dt 0.05 alone: 1.96 %; N 64, dt 0.1 alone: 7.8 %), stable points' within 2.3 % (median 0.4 %;
N 128, dt 0.05: 2.0 %; N 64, dt 0.1 alone: 8.0 %) (``docs/reliability.md``;
``tests/test_phase_error_control.py`` checks single points).

Failed points and short runs
----------------------------
A point whose state becomes non-finite gets the verdict **"failed"** (code -2; ``drift`` etc.
NaN) and is left out of ``agreement``. Below :data:`T_MIN` (100) the verdict cannot tell a
stable bump from a slow one: :func:`phase_diagram` refuses such ``T`` (:func:`check_T`) and
:func:`drift_experiment` (whose ``drift`` is valid at any ``T``) labels its points
**"undecided"** (code -3) instead of guessing.

Other models
------------
With ``firing``, ``steepness`` and ``kernel`` other than Heaviside firing with the kernel
``cos x``, each point starts from the model's own stationary bump (Newton on the run's grid),
moved by ``eps`` rad, and carries the verdict of its numerical spectrum in place of the Evans
and Fourier columns (:mod:`astrofield.experiments.model_map`).

Reference: Palmer, Cihak, Avitabile, Kilpatrick, "Astrocytic resource diffusion stabilizes
persistent activity in neural fields", arXiv:2604.10036 (2026), Figures 5-7.
"""

from __future__ import annotations

import functools
import math
import os
import time
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from astrofield._validate import check_int, check_range
from astrofield._version import __version__
from astrofield.experiments.model_map import (
    ModelSpec,
    cached_columns,
    model_spec,
    numerical_columns,
    numerical_vars,
)
from astrofield.experiments.sweep import Grid, make_grid, run_sweep
from astrofield.io.cf import annotate, flag_attrs, rate_attrs, seed_attrs, time_attrs
from astrofield.model.definition import Model
from astrofield.simulator.integrator import SCHEME, solve
from astrofield.simulator.resolution import RefinementWarning
from astrofield.simulator.step_control import DRIFT_TOLERANCE, NonFiniteWarning, resolve_dt
from astrofield.theory.bump import bump_branches
from astrofield.theory.stability import stability

if TYPE_CHECKING:  # annotations only
    import concurrent.futures as cf

    from distributed import Client

__all__ = [
    "VERDICTS",
    "VERDICT_CODES",
    "VerdictRule",
    "EarlyStop",
    "extrapolate_to_T",
    "settled_kinds",
    "error_control_plan",
    "control_errors",
    "richardson",
    "CONTROL_MIN_N",
    "check_T",
    "T_MIN",
    "choose_sampling",
    "AUTO_ADAPTIVE_MIN",
    "drift_experiment",
    "phase_diagram",
    "summarize",
    "analytic_columns",
    "DEFAULTS",
]

#: Verdict labels and their integer codes (``verdict_code`` variable).
VERDICTS = ("stable", "unstable", "no bump", "failed", "undecided")
VERDICT_CODES = {"stable": 0, "unstable": 1, "no bump": -1, "failed": -2, "undecided": -3}
#: Shortest final time the verdict rule serves (it resolves shift eigenvalues
#: ``|lambda| >= max(ln(1 / persist), 2.5 ln(1 / late)) / (T - t_ref)``, 0.0102 at T = 100).
T_MIN = 100.0

#: Default numerical settings of the drift experiment: N = 64, dt = 0.1 with error control
#: (:func:`control_errors`): every point is rerun at (N/2, 2 dt) and its drift at T
#: extrapolated from the two runs; points next to the boundary and travellers whose estimated
#: error exceeds ``refine_tol`` (5 %) are rerun at (2N, dt/2). On the 50 x 50 map of the paper
#: the travellers' drift at T is within 1.05 % of runs at N 256, dt 0.0125 (N 128, dt 0.05
#: alone: 1.96 %), and the verdicts agree with Evans on 99.2 % of the cells, every
#: disagreement next to the boundary.
DEFAULTS: dict[str, Any] = {"T": 500.0, "N": 64, "dt": 0.1, "eps": 0.05, "chunk_size": 125,
                            "frame_dt": 1.0, "error_control": None, "refine_tol": 0.05}


@dataclass(frozen=True)
class VerdictRule:
    """Stable/unstable verdict from a velocity trace (see the module docstring).

    Parameters
    ----------
    t_ref
        Reference time (after the fast relaxation of ``u``, rate 1).
    growth
        ``max |v| / |v(t_ref)|`` at or above this: unstable.
    persist
        ``|v(T)| / |v(t_ref)|`` at or above this: unstable (the motion did not relax).
    late
        ``mean |v|`` over the last fifth of ``[t_ref, t_final]`` divided by ``mean |v|`` over its
        middle fifth, at or above this: unstable (the bump keeps travelling at a steady speed,
        however small compared with the initial transient).
    v_floor
        A bump whose speed stays below ``v_floor`` (rad per unit time) after ``t_ref`` is at rest:
        stable, whatever the ratios of its round-off-level velocity samples say (``1e-6`` moves
        the bump by 5e-4 rad over T = 500, a hundredth of a cell at N = 128).
    """

    t_ref: float = 10.0
    growth: float = 2.0
    persist: float = 0.4
    late: float = 0.8
    v_floor: float = 1e-6

    def __post_init__(self) -> None:
        check_range("t_ref", self.t_ref, 0.0, math.inf, lo_open=True)
        check_range("growth", self.growth, 1.0, math.inf, lo_open=True)
        check_range("persist", self.persist, 0.0, math.inf, lo_open=True)
        check_range("late", self.late, 0.0, 1.0, lo_open=True, hi_open=True)
        check_range("v_floor", self.v_floor, 0.0, math.inf)

    def classify(self, time: np.ndarray, velocity: np.ndarray) -> dict[str, np.ndarray]:
        """Verdicts for traces ``velocity`` of shape ``(B, n_time)`` (``NaN`` after a member's
        decision time) on ``time``.

        Returns
        -------
        dict
            ``unstable`` (bool), ``growth`` (``max |v| / v_ref``), ``persist``
            (``|v(t_final)| / v_ref``), ``late_ratio`` (late over middle mean speed) and
            ``v_ref``.
        """
        t = np.asarray(time, float)
        v = np.abs(np.atleast_2d(np.asarray(velocity, float)))
        iref = int(np.searchsorted(t, self.t_ref - 1e-9))
        iref = min(iref, t.size - 1)
        vref = np.maximum(v[:, iref], 1e-300)
        tail = v[:, iref:]
        with np.errstate(invalid="ignore"):
            vmax = np.nanmax(np.where(np.isfinite(tail), tail, -np.inf), axis=1)
        ok = np.isfinite(tail)
        last = np.where(ok.any(axis=1), tail.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1), 0)
        vlast = tail[np.arange(tail.shape[0]), last]
        g = vmax / vref
        p = vlast / vref
        late = np.zeros(tail.shape[0])
        end = np.zeros(tail.shape[0])
        for b in range(tail.shape[0]):  # windows over each member's own [t_ref, t_final]
            n = last[b] + 1
            if n >= 5:
                w = n // 5
                mid = tail[b, 2 * w: 3 * w].mean()
                end[b] = tail[b, n - w: n].mean()
                late[b] = end[b] / mid if mid > 0 else 0.0
        moving = vmax >= self.v_floor
        # a steady late speed counts only while the bump still moves (not round-off)
        steady = (late >= self.late) & (end >= self.v_floor)
        unstable = moving & ((g >= self.growth) | (p >= self.persist) | steady)
        return {"unstable": unstable, "growth": g, "persist": p, "late_ratio": late,
                "v_ref": vref}


#: Factor between the reported ``drift_bound`` of a travelling point and the error estimate that
#: decides it (:meth:`EarlyStop._travelling`): that estimate assumes the speed's recent trend
#: does not steepen, and on 1,436 replayed travellers (two resolutions) the error reached 1.2
#: times it.
_TRAVEL_MARGIN = 2.0


class EarlyStop:
    """Early-decision rule for ``solve(stop_rule=..., stop_every=rule.t_ref)`` (see the module
    docstring).

    The instance is stateful: it stores each member's reference speed at the first call at or
    after ``t_ref`` (all members running) and the recent velocities and drifts of each member, so
    one instance serves exactly one ``solve`` call. Calls must come every ``t_ref`` time units.

    Parameters
    ----------
    T, N
        Final time and grid size of the run (for the resolution criterion).
    rule
        The :class:`VerdictRule` whose verdict the decisions must not change (default
        thresholds if ``None``): its ``t_ref`` (reference time and call spacing), ``growth``,
        ``persist`` and ``late`` are used.
    travel
        Decide *unstable* once ``|v| >= travel * v_ref`` and the drift at ``T`` is predictable.
        At least the rule's ``growth``: then the growth criterion already holds at the decision
        and stopping cannot change the verdict.
    persist_margin
        Also decide *unstable* (a bump that travels without doubling its speed, next to the
        boundary) once the drift at ``T`` is predictable and the speed at ``T``, less its
        possible error, is at least ``persist_margin`` times the rule's ``persist * v_ref``:
        the persist criterion then holds at ``T`` too.
    accuracy
        Travelling: decide once the estimated error of the extrapolated drift at ``T`` (see
        :meth:`_travelling`) is at most ``accuracy`` times that drift.
    travel_window
        Number of mean speeds (one per ``t_ref`` interval, from drift differences) that the
        travelling test looks at (7: 70 time units, longer than half the period of the slow
        oscillations with which some travellers settle).
    relax
        Decide *stable* once ``|v| <= relax * v_ref`` over the last ``window`` samples, decaying
        geometrically at a steady rate, and the error bound of the extrapolated remaining
        motion is below ``resolution`` grid cells. Must be below the rule's ``persist``.
    resolution
        Fraction of a grid cell ``2 pi / N`` that the error bound of a relaxing bump's
        extrapolated remaining motion (its ``drift_bound``) must stay below.
    window
        Number of velocity samples of the relaxation test (``window - 1`` intervals of
        ``t_ref``; at least 3).
    rate_spread
        The decay rates of the window's intervals may differ by at most ``rate_spread`` times
        the slowest: a fast transient on top of a slower mode (which may even grow, next to the
        boundary) shows as a rate that keeps falling.
    safety
        The relaxation test assumes that the decay rate will not fall below ``safety`` times
        the slowest rate measured in its window (``mu``); it also requires ``safety mu`` to be
        fast enough for the rule's late criterion to stay false.

    Attributes
    ----------
    decided
        Per batch member: ``1`` decided unstable early, ``0`` decided stable early, ``-1`` not.
    t_decided, drift_decided, velocity_decided
        Per member: decision time, drift and velocity then (NaN where not decided).
    peak
        Per member: the largest ``|v| / v_ref`` seen so far.
    speed, rate, drift_bound
        Per decided member: the extrapolation speed (travelling), the decay rate ``mu``
        (relaxed) and the bound on the extrapolated drift's error -- what
        :func:`extrapolate_to_T` needs.
    """

    def __init__(self, T: float, N: int, rule: VerdictRule | None = None, *,
                 travel: float = 2.0, persist_margin: float = 1.25, accuracy: float = 2e-3,
                 travel_window: int = 7, relax: float = 0.2, resolution: float = 0.1,
                 window: int = 4, rate_spread: float = 0.3, safety: float = 0.5) -> None:
        self.rule = VerdictRule() if rule is None else rule
        self.T = float(check_range("T", T, 0.0, math.inf, lo_open=True))
        self.N = check_int("N", N, 4)
        self.travel = float(check_range("travel", travel, self.rule.growth, math.inf))
        self.persist_margin = float(check_range("persist_margin", persist_margin, 1.0,
                                                math.inf))
        self.accuracy = float(check_range("accuracy", accuracy, 0.0, 1.0, lo_open=True))
        self.travel_window = check_int("travel_window", travel_window, 3)
        self.relax = float(check_range("relax", relax, 0.0, self.rule.persist, lo_open=True,
                                       hi_open=True))
        self.resolution = float(check_range("resolution", resolution, 0.0, math.inf,
                                            lo_open=True))
        self.window = check_int("window", window, 3)
        self.rate_spread = float(check_range("rate_spread", rate_spread, 0.0, 1.0,
                                             lo_open=True))
        self.safety = float(check_range("safety", safety, 0.0, 1.0, lo_open=True))
        self.v_ref: np.ndarray | None = None
        self.decided: np.ndarray | None = None

    def _start(self, v: np.ndarray, drift: np.ndarray, members: np.ndarray) -> None:
        n = members.max() + 1
        self.v_ref = np.full(n, np.inf)
        self.v_ref[members] = np.maximum(np.abs(v), 1e-300)
        self.decided = np.full(n, -1, dtype=np.int8)
        self.history = np.full((n, self.window), np.nan)
        self.history[members, -1] = v
        self.drifts = np.full((n, self.travel_window + 1), np.nan)
        self.drifts[members, -1] = drift
        self.peak = np.ones(n)  # largest |v| / v_ref so far
        for k in ("t_decided", "drift_decided", "velocity_decided", "speed", "rate",
                  "drift_bound"):
            setattr(self, k, np.full(n, np.nan))

    def __call__(self, t: float, drift: np.ndarray, velocity: np.ndarray,
                 width: np.ndarray, members: np.ndarray) -> np.ndarray:
        v = np.asarray(velocity, float)
        drift = np.asarray(drift, float)
        members = np.asarray(members, int)
        if t < self.rule.t_ref * (1 - 1e-9):
            return np.zeros(v.size, bool)
        if self.v_ref is None:
            self._start(v, drift, members)
            return np.zeros(v.size, bool)
        hist = np.concatenate([self.history[members, 1:], v[:, None]], axis=1)
        self.history[members] = hist
        drifts = np.concatenate([self.drifts[members, 1:], drift[:, None]], axis=1)
        self.drifts[members] = drifts
        vref = self.v_ref[members]
        self.peak[members] = np.maximum(self.peak[members], np.abs(v) / vref)
        travelling, t_bound, speed = self._travelling(t, drifts, v, vref)
        relaxed, r_bound, rate = self._relaxed(t, hist, vref)
        # a bump that has travelled (growth criterion met) and slows down again is not a
        # relaxation to extrapolate (the small-D corner: it decays non-geometrically and may
        # reverse); it runs on until its drift at T is predictable or to T
        relaxed &= ~travelling & (self.peak[members] < self.travel)
        done = travelling | relaxed
        idx = members[done]
        self.decided[members[travelling]] = 1
        self.decided[members[relaxed]] = 0
        self.t_decided[idx] = t
        self.drift_decided[idx] = drift[done]
        self.velocity_decided[idx] = v[done]
        self.speed[idx] = np.where(travelling, speed, np.nan)[done]
        self.rate[idx] = np.where(relaxed, rate, np.nan)[done]
        self.drift_bound[idx] = np.where(travelling, _TRAVEL_MARGIN * t_bound, r_bound)[done]
        return done

    def _travelling(self, t: float, drifts: np.ndarray, v: np.ndarray, vref: np.ndarray):
        """Travelling with a predictable drift at ``T``.

        From the mean speeds ``w_k`` over the last ``travel_window`` intervals of ``h = t_ref``
        (drift differences: no aliasing of the speed's fast ripple as the bump crosses grid
        cells) and their increments ``d_k``, with ``R = T - t``:

        * if the increments have one sign and shrink geometrically (ratios ``< 1`` and within
          20 % of each other; largest ratio ``q``), the speed will still change by at most
          ``S = |d_last| q / (1 - q)``: extrapolate with ``w_last + S / 2`` (signed), error at
          most ``S (R + h) / 2``, or ``|d_last| / h * R (R + h) / 2`` (speed changing at a
          non-increasing rate) if smaller, then extrapolating with ``w_last``;
        * otherwise the speed is assumed to keep changing at most at the largest rate of the
          window, ``r = max |d_k| / h``: extrapolate with ``w_last``, error at most
          ``r R (R + h) / 2``.

        Decide when ``|v| >= travel * v_ref`` (or the extrapolation speed, less the change it
        may still undergo under the same assumption, is at least ``persist_margin * persist *
        v_ref``), the window's mean speeds have the sign of ``v`` and the error bound is at
        most ``accuracy`` times the extrapolated drift.

        Returns
        -------
        tuple
            Decision mask, drift error bound (rad) and extrapolation speed per member.
        """
        h, rest = self.rule.t_ref, self.T - t
        w = np.diff(drifts, axis=1) / h
        d = np.diff(w, axis=1)
        a = np.abs(d)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios = a[:, 1:] / a[:, :-1]
            q = ratios.max(axis=1)
            geometric = (np.all(np.sign(d) == np.sign(d[:, -1:]), axis=1) & (q < 1)
                         & (q <= 1.2 * ratios.min(axis=1)))
            tail = np.where(geometric, a[:, -1] * q / (1 - q), np.inf)
            geo = 0.5 * tail * (rest + h)
            slowing = 0.5 * a[:, -1] / h * rest * (rest + h)
            linear = 0.5 * a.max(axis=1) / h * rest * (rest + h)
            use_tail = geometric & (geo < slowing)
            bound = np.where(geometric, np.minimum(geo, slowing), linear)
            speed = w[:, -1] + np.where(use_tail, 0.5 * np.sign(d[:, -1]) * tail, 0.0)
            # how far the speed at T may be from `speed` under the same assumption
            off = np.where(use_tail, 0.5 * tail,
                           np.where(geometric, a[:, -1], a.max(axis=1)) / h * (rest + h))
            moving = ((np.abs(v) >= self.travel * vref)
                      | (np.abs(speed) - off >= self.persist_margin * self.rule.persist * vref))
            one_sign = np.all(np.sign(w) == np.sign(v)[:, None], axis=1)
            ok = (moving & one_sign & np.isfinite(w).all(axis=1)
                  & (bound <= self.accuracy * np.abs(drifts[:, -1] + speed * rest)))
        return ok, bound, speed

    def _relaxed(self, t: float, hist: np.ndarray, vref: np.ndarray):
        """Relaxed: every sample of the window below ``relax * v_ref``, of one sign, decaying
        geometrically (consecutive ratios ``< 1`` and within 20 % of each other: not a zero
        crossing of an oscillation) at a steady rate (interval rates within ``rate_spread`` of
        the slowest, ``mu``); with ``s = safety``, ``s mu >= 2.5 ln(1 / late) / (T - t_ref)``
        (a decay at ``s mu`` keeps the late criterion false) and the error of the extrapolated
        remaining motion ``E = |v| (1 - exp(-mu R)) / mu``, ``max(E, min(|v| / (s mu), |v| R)
        - E)`` for any rate of at least ``s mu`` (``R = T - t``), at most ``resolution`` cells.

        Returns
        -------
        tuple
            Decision mask, drift error bound (rad) and decay rate ``mu`` per member.
        """
        ah = np.abs(hist)
        h, rest = self.rule.t_ref, self.T - t
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = ah[:, 1:] / ah[:, :-1]
            rmax = ratio.max(axis=1)
            geometric = (rmax < 1.0) & (rmax <= 1.2 * ratio.min(axis=1))
            one_sign = np.all(np.sign(hist) == np.sign(hist[:, -1:]), axis=1)
            rates = -np.log(ratio) / h
            steady = rates.max(axis=1) - rates.min(axis=1) <= self.rate_spread * rates.min(axis=1)
            mu = -np.log(rmax) / h
            # remaining motion: the extrapolation's, in [0, at most |v| / (safety mu)]
            most = np.minimum(ah[:, -1] / (self.safety * mu), ah[:, -1] * rest)
            extrapolated = ah[:, -1] * -np.expm1(-mu * rest) / mu
            bound = np.maximum(extrapolated, most - extrapolated)
        mu_late = 2.5 * math.log(1 / self.rule.late) / max(self.T - self.rule.t_ref, 1e-300)
        small = np.all(ah <= self.relax * vref[:, None], axis=1)
        ok = (small & one_sign & geometric & steady & (self.safety * mu >= mu_late)
              & (bound <= self.resolution * 2 * np.pi / self.N))
        return ok, bound, mu


def _early_stop(T: float, N: int, rule: VerdictRule, weight: float = 1.0) -> EarlyStop:
    """The phase map's early-decision rule: travel threshold at least the verdict rule's
    ``growth``, so that stopping a traveller cannot change its verdict. ``weight``: the weight
    of this run's drift in an extrapolated drift (1/3 for the coarse run of error control,
    whose travelling decisions may then be three times less accurate for the same error)."""
    es = EarlyStop(T, N, rule, travel=max(2.0, rule.growth))
    es.accuracy /= weight
    return es


def settled_kinds(rule: EarlyStop, time: np.ndarray, drift: np.ndarray,
                  velocity: np.ndarray) -> np.ndarray:
    """How each run's motion settled, by the early-decision test, read from its stored traces.

    ``rule`` (a fresh :class:`EarlyStop`) is called on the frames at ``t_ref, 2 t_ref, ...``
    before the last frame, as ``solve`` would call it (each member until the rule decides it; a
    frame at or just after each call time where the frames do not fall on it), but after the
    run, so the run itself is not touched. Per member: ``1`` travelling at a predictable
    speed, ``0`` relaxing geometrically, ``-1`` neither by the last frame (a bump that wanders,
    or one still departing or relaxing slowly next to the stability boundary). A map without early
    decisions records this as ``settled_kind``; adaptive maps read it to find the blocks of
    wandering bumps.

    Parameters
    ----------
    rule
        The early-decision rule (its state is filled; use a new one per call).
    time
        Frame times, shape ``(n_t,)``.
    drift, velocity
        ``p(t) - p(0)`` (rad) and ``dp/dt`` at the frames, shape ``(B, n_t)``.

    Returns
    -------
    numpy.ndarray
        int8 per member, shape ``(B,)``.
    """
    B = drift.shape[0]
    members = np.arange(B)
    h = rule.rule.t_ref
    for tc in np.arange(h, time[-1] - 1e-9 * h, h):  # as solve: not at the end of the run
        i = int(np.searchsorted(time, tc - 1e-9 * h))
        if i >= time.size or not members.size:
            break
        done = rule(tc, drift[members, i], velocity[members, i], None, members)
        members = members[~done]
    out = np.full(B, -1, dtype=np.int8)
    if rule.decided is not None:
        n = min(B, rule.decided.size)
        out[:n] = rule.decided[:n]
    return out


def extrapolate_to_T(T: float, t_d: np.ndarray, drift_d: np.ndarray, v_d: np.ndarray,
                     kind: np.ndarray, speed: np.ndarray, rate: np.ndarray
                     ) -> dict[str, np.ndarray]:
    """Drift and velocity at ``T`` of points decided at ``t_d`` (see the module docstring).

    Parameters
    ----------
    T
        Final time.
    t_d, drift_d, v_d
        Decision time, drift (rad) and velocity (rad per unit time) then.
    kind
        ``1`` decided travelling, ``0`` decided relaxed.
    speed
        Travelling: the extrapolation speed (:attr:`EarlyStop.speed`, rad per unit time).
    rate
        Relaxed: the decay rate ``mu`` of the speed (:attr:`EarlyStop.rate`, per unit time).

    Returns
    -------
    dict
        ``drift`` and ``velocity`` at ``T``: a travelling bump moves on at ``speed``
        (``drift_d + speed (T - t_d)``); a relaxing bump's speed decays as
        ``v_d exp(-mu (t - t_d))`` (``drift_d + v_d (1 - exp(-mu (T - t_d))) / mu``).
    """
    rest = T - t_d
    travelling = kind == 1
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mu = np.where(travelling | ~(rate > 0), 1.0, rate)
        relax_extra = np.where(rate > 0, v_d * -np.expm1(-mu * rest) / mu, v_d * rest)
    drift = drift_d + np.where(travelling, speed * rest, relax_extra)
    return {"drift": drift, "velocity": _velocity_after(rest, kind, v_d, speed, rate)}


def _velocity_after(s: np.ndarray, kind: np.ndarray, v_d: np.ndarray, speed: np.ndarray,
                    rate: np.ndarray) -> np.ndarray:
    """The extrapolated velocity a time ``s`` after a decision (broadcast): ``speed`` for a
    travelling point (``kind`` 1), ``v_d exp(-rate s)`` for a relaxed one (``v_d`` where the
    rate is not positive)."""
    with np.errstate(over="ignore", invalid="ignore"):
        decay = np.where(rate > 0, np.exp(-np.where(rate > 0, rate, 1.0) * s), 1.0)
    return np.where(kind == 1, speed, v_d * decay)


def _extend_trace(time: np.ndarray, v: np.ndarray, kind: np.ndarray, t_d: np.ndarray,
                  v_d: np.ndarray, speed: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Velocity traces with the samples after each member's decision filled by the
    extrapolation (:func:`_velocity_after`): the verdict rule reads
    these, so its persist and late criteria see the motion up to ``T``."""
    out = v.copy()
    dec = np.flatnonzero(kind >= 0)
    if dec.size == 0:
        return out
    s = time[None, :] - t_d[dec, None]
    fill = _velocity_after(s, kind[dec, None], v_d[dec, None], speed[dec, None],
                           rate[dec, None])
    out[dec] = np.where(s > 1e-9, fill, v[dec])
    return out


# ----------------------------------------------------------------------------- analytic
def analytic_columns(theta: ArrayLike, beta: ArrayLike, gamma: ArrayLike, D: ArrayLike,
                     tau: float = 1.0) -> dict[str, np.ndarray]:
    """Evans ``E'(0)`` and verdict, Fourier-truncation verdict and bump existence per point
    (:func:`astrofield.theory.stability.stability`)."""
    br = bump_branches(theta, beta, gamma)
    exists = np.asarray(br["wide"]["exists"], bool)
    shape = np.broadcast_shapes(exists.shape, np.shape(D))
    st = stability(theta, beta, gamma, D, tau=tau)
    out = {"exists": np.broadcast_to(exists, shape).copy(),
           "Delta": np.broadcast_to(br["wide"]["Delta"], shape).copy()}
    for k in ("evans_dprime", "evans_stable", "fourier_stable"):
        out[k] = np.broadcast_to(st[k], shape).copy()
    return out


# ----------------------------------------------------------------------------- error control
#: Smallest grid of the coarse run of error control (``N / 2``).
CONTROL_MIN_N = 32
#: Most levels of the refinement ladder of error control (``refine_levels``): the finest run
#: is at ``(2^L N, dt / 2^L)``, N 2048 from the default N 64.
MAX_REFINE_LEVELS = 5
#: Per-point results that the finer run of a refined point replaces.
_RUN_RESULTS = ("width", "t_final", "growth", "persist", "mass_drift", "drift_decided",
                "velocity_decided", "t_decided", "t_failed")


def _whole(x: float, h: float) -> bool:
    n = round(x / h)
    return n >= 1 and abs(n * h - x) <= 1e-9 * x


def error_control_plan(error_control: bool | None, *, T: float, N: int, dt: float,
                       frame_dt: float, rule: VerdictRule) -> tuple[bool, str]:
    """Whether error control runs for these settings, and the reason (stored as an attr).

    It needs a coarse run at ``(N / 2, 2 dt)``: ``N`` even with ``N / 2 >=``
    :data:`CONTROL_MIN_N`, and ``T``, ``frame_dt`` and ``rule.t_ref`` whole numbers of steps
    ``2 dt``. ``error_control=True`` raises a ``ValueError`` naming what is missing;
    ``None`` switches it off quietly (the attr says why); ``False`` switches it off.
    """
    if error_control is False:
        return False, "off"
    missing = []
    if N % 2 or N // 2 < CONTROL_MIN_N:
        missing.append(f"N = {N} is not an even number >= {2 * CONTROL_MIN_N}")
    for name, x in (("T", T), ("frame_dt", frame_dt), ("t_ref", rule.t_ref)):
        if not _whole(x, 2 * dt):
            missing.append(f"{name} = {x:g} is not a whole number of steps 2 dt = {2 * dt:g}")
    if not missing:
        return True, "on"
    if error_control is None:
        return False, "off: " + "; ".join(missing)
    raise ValueError("error_control = True needs a coarse run at (N / 2, 2 dt): "
                     + "; ".join(missing))


def check_refine_levels(refine_levels: Any) -> int:
    """``refine_levels`` as an int in ``[1, MAX_REFINE_LEVELS]`` (a ``ValueError`` naming the
    parameter, its value and the allowed range otherwise)."""
    return check_int("refine_levels", refine_levels, 1, MAX_REFINE_LEVELS)


def richardson(fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Richardson extrapolation of a second-order quantity from resolutions ``(N, dt)`` and
    ``(N / 2, 2 dt)``: ``fine + (fine - coarse) / 3``.

    Both the time error (``O(dt^2)``) and the space error (``O(dx^2)``) of the scheme are of
    second order, so halving both resolutions multiplies the leading error by 4 and the
    combination cancels it.
    """
    fine = np.asarray(fine, float)
    return fine + (fine - np.asarray(coarse, float)) / 3.0


def control_errors(res: dict[str, Any], run: Any, *, N: int, dt: float, refine_tol: float,
                   rule: VerdictRule | None = None, refine_levels: int = 1,
                   T: float | None = None) -> None:
    """Error control of the drift of the simulated points of ``res`` (results at ``(N, dt)``).

    1. Every simulated point that did not fail is rerun at ``(N / 2, 2 dt)`` (``run(idx, N, dt,
       coarse)`` runs points and returns their results; a coarse run is exempt from the
       step-size rule and decides early with a 3x looser accuracy, since its drift enters the
       extrapolation with weight 1/3). Where the coarse run did not fail, ``drift`` and
       ``velocity`` at ``T`` become the Richardson extrapolations (:func:`richardson`; the
       drift is continuous in the resolution even where the verdict flips),
       ``drift_error = |fine - coarse| / 3`` estimates the discretisation error of the fine
       run (an estimate, not a bound; see the module docstring for how it was checked) and
       ``drift_bound`` (extrapolation from an early decision) becomes
       ``(4 b_fine + b_coarse) / 3``.
    2. A point whose two runs disagree on the verdict, whose verdict statistic ``persist`` or
       ``growth`` lies closer to its threshold than twice its estimated error (both next to
       the boundary, where the verdict depends on the resolution), or a travelling point whose
       ``drift_error`` exceeds ``refine_tol |drift|``, is rerun at ``(2 N, dt / 2)``
       (``refined``): that run gives its verdict and statistics, and the extrapolation of
       ``(2 N, dt / 2)`` and ``(N, dt)`` its drift and velocity. Stable points are
       not refined for their estimate: their drift is the offset of a relaxation, and
       refining the slow ones next to the boundary would cost more than the whole coarse pass.
    3. With ``refine_levels = L > 1`` (opt-in; 1 is steps 1-2 alone), step 2 also reruns the
       points whose drift is not resolved (:func:`point_resolved`: ``drift_error`` above the
       documented tolerance), stable ones included, and the refinement climbs a ladder: a
       point rerun at level ``l`` (``(2^l N, dt / 2^l)``) whose last two levels still
       disagree (another verdict, or a drift difference beyond the tolerance) or whose run
       shows more than one episode of motion (:func:`motion_episodes`: a slip, a rest and a
       second slip, which near the fold at ``D = inf`` is released by the scheme's rounding,
       not by the model) is rerun at level ``l + 1``, up to level ``L`` (:func:`_ladder`);
       points with several episodes at level 0 or in the coarse run start the ladder too.
       A point that has not settled at level ``L`` is not resolved (``res["unsettled"]``).
       Each level's work is estimated before it runs; a level beyond the work limit
       (``ASTROFIELD_MAX_WORK``) is not run, and its points stay unresolved (a
       :class:`RefinementWarning` says so).
       ``res["refine_level"]`` records each point's finest level (0: not refined).

    ``res`` is updated in place; ``t_companion`` records the coarse run's simulated time.
    """
    pts = np.nonzero(np.isfinite(res["t_final"]) & ~res["failed"])[0]  # simulated, finite
    if not pts.size:
        return
    fine = {k: res[k].copy() for k in ("drift", "velocity", "drift_bound")}
    # the coarse run may break the step-size rule (its error is what is measured), and its
    # drift enters the extrapolation with weight 1/3 (its early decisions may be 3x looser)
    coarse = run(pts, N // 2, 2.0 * dt, True)
    res["t_companion"][pts] = coarse["t_final"][pts]
    ok = (coarse["unstable"][pts] == res["unstable"][pts]) & ~coarse["failed"][pts]
    # the drift is continuous in the resolution even where a verdict flips (next to the
    # boundary the verdict statistics sit at their thresholds): extrapolate every finite pair
    _combine(res, fine, coarse, pts[~coarse["failed"][pts]])
    with np.errstate(invalid="ignore"):
        loose = res["unstable"][pts] & ~(res["drift_error"][pts]
                                         <= refine_tol * np.abs(res["drift"][pts]))
    pick = ~ok | loose | _borderline(res, coarse, pts, rule or VerdictRule())
    if refine_levels > 1:
        pick |= ~_within_tolerance(res["drift_error"][pts], res["drift"][pts])
        pick |= (res["episodes"][pts] > 1) | (coarse["episodes"][pts] > 1)
    again = pts[pick]
    if not again.size:
        return
    if refine_levels > 1:
        _ladder(res, run, again, fine, N=N, dt=dt, levels=refine_levels, T=T)
        return
    finer = run(again, 2 * N, 0.5 * dt)
    _take_level(res, finer, fine, again)


def _take_level(res: dict[str, Any], finer: dict[str, Any], fine: dict[str, Any],
                idx: np.ndarray) -> None:
    """Replace the results of ``idx`` by those of the rerun ``finer`` and extrapolate their
    drift from ``finer`` and the previous level ``fine``."""
    res["refined"][idx] = True
    for k in (*_RUN_RESULTS, "drift", "velocity", "drift_bound", "unstable", "failed",
              "decided", "settled", "episodes"):
        res[k][idx] = finer[k][idx]
    if res["velocity_trace"] is not None:
        res["velocity_trace"][idx] = finer["velocity_trace"][idx]
    res["drift_error"][idx] = np.nan
    _combine(res, finer, fine, idx[~finer["failed"][idx]])


def _within_tolerance(err: np.ndarray, drift: np.ndarray) -> np.ndarray:
    """``err <= rel |drift| + abs`` (:data:`DRIFT_TOLERANCE`; False where either is NaN)."""
    rel, tol_abs = DRIFT_TOLERANCE
    with np.errstate(invalid="ignore"):
        return np.asarray(err, float) <= rel * np.abs(np.asarray(drift, float)) + tol_abs


#: :func:`motion_episodes`: the bump moves when ``|v|`` exceeds ``EPISODE_MOVE`` of the trace's
#: peak and rests when it is below ``EPISODE_REST`` of it.
EPISODE_MOVE, EPISODE_REST = 0.1, 1e-3


def motion_episodes(velocity: np.ndarray) -> np.ndarray:
    """Number of separate episodes of motion in each velocity trace (last axis: time).

    An episode starts where ``|v|`` rises above ``EPISODE_MOVE`` times the trace's peak for the
    first time, or for the first time after a rest (``|v|`` below ``EPISODE_REST`` times the
    peak). A traveller, a relaxing bump and a single slip have one episode; a slip, a rest and
    another slip have two. Non-finite samples count as neither. Vectorised over the traces.
    """
    a = np.abs(np.asarray(velocity, float))
    a = np.where(np.isfinite(a), a, np.nan)
    peak = np.max(np.nan_to_num(a, nan=0.0), axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        up = a > EPISODE_MOVE * peak
        down = (a < EPISODE_REST * peak) & ~up
    ev = np.where(up, 1, np.where(down, -1, 0))
    ev = np.concatenate([np.full(ev.shape[:-1] + (1,), -1), ev], axis=-1)  # armed at t = 0
    pos = np.where(ev != 0, np.arange(ev.shape[-1]), 0)
    last = np.maximum.accumulate(pos, axis=-1)  # index of the latest move or rest
    state = np.take_along_axis(ev, last, axis=-1)[..., :-1]  # before each sample
    return np.sum(up & (state == -1), axis=-1)


def _ladder(res: dict[str, Any], run: Any, idx: np.ndarray, fine: dict[str, Any], *, N: int,
            dt: float, levels: int, T: float | None) -> None:
    """Refinement ladder of :func:`control_errors` (step 3): rerun ``idx`` at ``(2 N, dt /
    2)``, then every point whose last two levels disagree (verdict, or drift difference
    ``|d_l - d_(l-1)| / 3`` beyond :data:`DRIFT_TOLERANCE`) one level finer, up to ``levels``.
    ``fine`` holds the raw (not extrapolated) drift of the level-0 run."""
    from astrofield._validate import check_work

    prev = {k: np.asarray(fine[k]).copy() for k in ("drift", "velocity", "drift_bound")}
    prev["unstable"] = res["unstable"].copy()
    level = 1
    while idx.size and level <= levels:
        n, h = N * 2**level, dt / 2**level
        try:  # the work limit of every command; here a partial result, not a refusal
            check_work(float(idx.size) * n * (T / h if T is not None else 0.0),
                       f"refinement level {level} (N = {n}, dt = {h:g}) of {idx.size} points",
                       hint="lower refine_levels")
        except ValueError as exc:
            warnings.warn(f"{exc}; the level was not run and its points stay unresolved",
                          RefinementWarning, stacklevel=4)
            res["unsettled"][idx] = True
            return
        finer = run(idx, n, h)
        flipped = finer["unstable"][idx] != prev["unstable"][idx]
        _take_level(res, finer, prev, idx)
        res["refine_level"][idx] = level
        # agreed: same verdict, drifts within the tolerance, and one episode of motion (a
        # slip, rest and second slip is decided by the scheme's residual perturbations)
        agree = ~flipped & _within_tolerance(res["drift_error"][idx], res["drift"][idx]) \
            & (res["episodes"][idx] <= 1)
        res["unsettled"][idx] = ~agree
        prev = finer
        idx = idx[~agree]
        level += 1


def _borderline(res: dict[str, Any], coarse: dict[str, Any], idx: np.ndarray,
                rule: VerdictRule) -> np.ndarray:
    """Points whose ``persist`` or ``growth`` statistic lies closer to the rule's threshold
    than twice its estimated discretisation error ``|fine - coarse| / 3``: their verdict may
    change with the resolution."""
    near = np.zeros(idx.size, bool)
    for k, thr in (("persist", rule.persist), ("growth", rule.growth)):
        f, c = res[k][idx], coarse[k][idx]
        with np.errstate(invalid="ignore"):
            near |= np.abs(f - thr) < 2.0 * np.abs(f - c) / 3.0
    return near


def _combine(res: dict[str, Any], fine: dict[str, Any], coarse: dict[str, Any],
             idx: np.ndarray) -> None:
    """Set ``drift``, ``velocity``, ``drift_bound`` and ``drift_error`` of ``res`` at ``idx``
    from a run and the run at half its resolution (:func:`richardson`)."""
    d_f, d_c = fine["drift"][idx], coarse["drift"][idx]
    res["drift_error"][idx] = np.abs(d_f - d_c) / 3.0
    res["drift"][idx] = richardson(d_f, d_c)
    res["velocity"][idx] = richardson(fine["velocity"][idx], coarse["velocity"][idx])
    res["drift_bound"][idx] = (4.0 * fine["drift_bound"][idx] + coarse["drift_bound"][idx]) / 3


# ----------------------------------------------------------------------------- experiment
def drift_experiment(
    theta: ArrayLike = 0.1,
    beta: ArrayLike = 0.05,
    gamma: ArrayLike = 2.0,
    D: ArrayLike = 0.7,
    *,
    T: float = DEFAULTS["T"],
    N: int = DEFAULTS["N"],
    dt: float = DEFAULTS["dt"],
    eps: float = DEFAULTS["eps"],
    early_stop: bool = True,
    frame_dt: float = DEFAULTS["frame_dt"],
    rule: VerdictRule | None = None,
    tau: float = 1.0,
    traces: bool = False,
    backend: str | None = None,
    error_control: bool | None = DEFAULTS["error_control"],
    refine_tol: float = DEFAULTS["refine_tol"],
    dt_check: str = "error",
    firing: Any = "heaviside",
    steepness: float = 50.0,
    kernel: Any = "cosine",
    refine_levels: int = 1,
    columns_cache: dict | None = None,
) -> xr.Dataset:
    """The drift experiment for a batch of parameter points (one vectorised run).

    Parameters
    ----------
    theta, beta, gamma, D
        Threshold (dimensionless), depletion and replenishment rates (per unit time) and
        astrocytic diffusion (rad^2 per unit time; ``D = inf`` allowed); broadcastable scalars
        or 1-D arrays, one point per element.
    T, dt, N
        Final time (>= :data:`T_MIN`) and time step (both in units of the membrane time
        constant; ``dt`` within the step-size rule of
        :func:`astrofield.simulator.step_control.max_step`) and grid size (cells on the ring).
    eps
        Shift perturbation as a fraction of the bump amplitude ``2 c0 sin Delta`` (> 0).
    early_stop
        Use :class:`EarlyStop` (decided points stop before ``T``; their values at ``T`` are
        extrapolated by :func:`extrapolate_to_T`).
    frame_dt
        Spacing of the stored velocity samples used by the verdict.
    rule
        The :class:`VerdictRule` (default thresholds if ``None``).
    tau
        Resource time scale (in units of the membrane time constant), shared by all points.
    traces
        Also return the ``velocity_trace`` on ``(point, time)``.
    backend
        Time-integration backend of :func:`astrofield.simulator.integrator.solve` (``None``:
        its default).
    error_control
        Estimate and remove the discretisation error of the points' drift (see
        :func:`control_errors`): ``True`` on (a ``ValueError`` if the settings do not allow
        it), ``False`` off, ``None`` (default) on where the settings allow it: ``N`` even and
        at least 64, and ``T``, ``frame_dt`` and the rule's ``t_ref`` whole numbers of steps
        ``2 dt``.
    refine_tol
        Error control: travelling points whose estimated relative drift error exceeds
        ``refine_tol`` are rerun at ``(2 N, dt / 2)``, as are points whose coarse run gives
        another verdict or whose verdict statistic lies at its threshold (see
        :func:`control_errors`).
    dt_check
        A ``dt`` above the step-size rule: ``"error"`` (refused), ``"warn"`` or ``"off"`` (as
        :func:`astrofield.solve`; the error control's coarse runs are never checked).
    firing, steepness, kernel
        The model's firing rate, steepness (dimensionless) and kernel, as in
        :class:`~astrofield.model.definition.Model`. Heaviside firing with the kernel
        ``cos x`` (default): the exact bump and the Evans and Fourier verdicts. Any other
        model: its own numerical bump and the verdict of its numerical spectrum
        (:mod:`astrofield.experiments.model_map`).
    refine_levels
        Error control: most refinements of a point (an int in ``[1, MAX_REFINE_LEVELS]``).
        1 (default): one rerun at ``(2 N, dt / 2)``; ``L > 1``: unresolved points are rerun
        too, and points whose last two levels disagree climb to ``(2^L N, dt / 2^L)``
        (:func:`control_errors`, step 3; per point ``refine_level``).
    columns_cache
        The theory's columns already computed for these settings (``firing``, ``steepness``,
        ``kernel``, ``tau``, ``N``), keyed by point: for the paper's model the rows of
        :func:`analytic_columns` (:func:`astrofield.experiments.model_map.cache_columns`;
        used where every point is in it), for other models the numerical bumps and spectra
        (:func:`astrofield.experiments.model_map.numerical_columns`, used and filled in
        place). An adaptive map passes the one its seeding filled. ``None``: compute them.

    Returns
    -------
    xarray.Dataset
        On dimension ``point``: ``drift`` and ``velocity`` *at T* (rad, rad per unit time;
        simulated, or extrapolated for points decided early, with ``drift_bound`` bounding the
        extrapolation error, 0 where simulated; under error control the Richardson
        extrapolation of two resolutions, with ``drift_error`` its estimated
        discretisation error and ``refined`` marking points rerun at ``(2 N, dt / 2)``),
        ``t_companion`` (simulated time of the coarse run), ``drift_decided``,
        ``velocity_decided`` and ``t_decided`` (the values at the decision, NaN where the
        point ran to ``T``),
        ``width`` (at ``t_final``), ``t_final`` (the last simulated time), ``verdict``
        (``"stable"``, ``"unstable"``, ``"no bump"``, ``"failed"``; ``"undecided"`` when
        ``T < T_MIN``), ``verdict_code`` (0, 1, -1, -2, -3), ``growth`` and ``persist``
        (the verdict statistics), ``decided_early``, ``failed``, ``t_failed``,
        ``mass_drift``, and the analytic ``evans_dprime``, ``evans_stable``,
        ``fourier_stable``, ``exists``; the parameters as coordinates. Without early
        decisions (``early_stop=False``) also ``settled_kind``: how each run's motion settled
        by the early-decision rule's test, read from its traces (:func:`settled_kinds`).
        A failed point (non-finite state) has NaN drift, velocity and statistics.
    """
    rule = VerdictRule() if rule is None else rule
    decidable = T >= _t_min(rule)
    control, why = error_control_plan(error_control, T=T, N=N, dt=dt, frame_dt=frame_dt,
                                      rule=rule)
    refine_tol = float(check_range("refine_tol", refine_tol, 0.0, math.inf, lo_open=True))
    refine_levels = check_refine_levels(refine_levels)
    arrs = np.broadcast_arrays(*(np.atleast_1d(np.asarray(p, float)) for p in
                                 (theta, beta, gamma, D)))
    th, be, ga, Dd = (np.ascontiguousarray(a.ravel()) for a in arrs)
    spec = model_spec(firing, steepness, kernel)
    an, starts = _theory_columns(spec, th, be, ga, Dd, tau, N, columns_cache)
    shape = {} if spec.paper else spec.options()

    def run(idx: np.ndarray, n: int, h: float, coarse: bool = False) -> dict[str, Any]:
        stride = max(1, int(round(frame_dt / h)))
        out = _empty_results(th.size, int(round(T / h)) // stride + 1, stride * h, traces)
        if idx.size:
            model = Model(theta=th[idx], beta=be[idx], gamma=ga[idx], D=Dd[idx], tau=tau,
                          **shape)
            _simulate(out, idx, model, rule, T=T, N=n, dt=h, eps=eps, stride=stride,
                      early_stop=early_stop, traces=traces, backend=backend,
                      dt_check="off" if coarse else dt_check, weight=1 / 3 if coarse else 1.0,
                      init=None if starts is None else starts.init(idx, n, eps))
        return out

    res = run(np.nonzero(an["exists"])[0], N, dt)
    if control:
        control_errors(res, run, N=N, dt=dt, refine_tol=refine_tol, rule=rule,
                       refine_levels=refine_levels, T=T)
    if not decidable:  # too short for the verdict rule: say so instead of guessing
        res["undecided"] = True
    data = _data_vars(res, an, traces)
    if not early_stop:  # only without early decisions: other maps and stores keep their layout
        data["settled_kind"] = ("point", res["settled"], flag_attrs(
            "how the motion settled", [-1, 0, 1], "not_settled relaxing travelling",
            description="the early-decision rule's test, applied to the run's traces after "
                        "it ran to T: 1 travelling at a predictable speed, 0 relaxing "
                        "geometrically, -1 neither by T (a bump that wanders, or a slow one "
                        "next to the boundary)"))
    if refine_levels > 1:  # only with the ladder: maps and stores without it keep their layout
        data["refine_level"] = ("point", res["refine_level"], flag_attrs(
            "finest refinement level", list(range(refine_levels + 1)),
            " ".join(f"level_{i}" for i in range(refine_levels + 1)),
            description="level l: rerun at (2^l N, dt / 2^l); 0: not refined"))
        data["motion_episodes"] = ("point", res["episodes"], {
            "long_name": "episodes of motion", "units": "1",
            "description": "separate episodes of motion of the bump up to T at the finest "
                           "level (1: travels, relaxes or slips once; > 1: slips again after "
                           "a rest)"})
    out = xr.Dataset(data,
                     coords={"theta_p": ("point", th), "beta_p": ("point", be),
                             "gamma_p": ("point", ga), "D_p": ("point", Dd)})
    if traces:
        out = out.assign_coords(time=res["time"])
    out.attrs.update(_attrs(T=T, N=N, dt=dt, eps=eps, early_stop=early_stop, rule=rule,
                            tau=tau, error_control=why,
                            refine_tol=refine_tol if control else np.nan,
                            refine_levels=refine_levels))
    if not spec.paper:
        out.attrs.update(spec.attrs())
    return out


def _theory_columns(spec: ModelSpec, th: np.ndarray, be: np.ndarray, ga: np.ndarray,
                    D: np.ndarray, tau: float, N: int, cache: dict | None = None
                    ) -> tuple[dict[str, np.ndarray], Any]:
    """The theory's columns of the points and their starting states: the closed form (the
    paper's model; ``None``: the exact bump of ``init="bump"``) or the numerical bump and
    spectrum (:func:`astrofield.experiments.model_map.numerical_columns`, with ``cache``)."""
    if spec.paper:
        an = cached_columns(cache, (th, be, ga, D))
        return (analytic_columns(th, be, ga, D, tau=tau) if an is None else an), None
    return numerical_columns(spec, th, be, ga, D, tau, N, cache)


_FLOAT_RESULTS = ("drift", "velocity", "width", "t_final", "growth", "persist", "mass_drift",
                  "drift_decided", "velocity_decided", "t_decided", "drift_bound", "t_failed",
                  "drift_error", "t_companion")


def _empty_results(n: int, n_t: int, frame_dt: float, traces: bool) -> dict[str, Any]:
    res: dict[str, Any] = {k: np.full(n, np.nan) for k in _FLOAT_RESULTS}
    res["decided"] = np.full(n, -1, dtype=np.int8)
    res["settled"] = np.full(n, -1, dtype=np.int8)
    res["unstable"] = np.zeros(n, bool)
    res["failed"] = np.zeros(n, bool)
    res["refined"] = np.zeros(n, bool)
    res["refine_level"] = np.zeros(n, np.int8)
    res["episodes"] = np.zeros(n, np.int16)
    res["unsettled"] = np.zeros(n, bool)
    res["time"] = np.arange(n_t) * frame_dt
    res["velocity_trace"] = np.full((n, n_t), np.nan) if traces else None
    return res


def _simulate(res: dict[str, Any], idx: np.ndarray, model: Model, rule: VerdictRule, *,
              T: float, N: int, dt: float, eps: float, stride: int, early_stop: bool,
              traces: bool, backend: str | None = None, dt_check: str = "error",
              weight: float = 1.0, init: tuple | None = None) -> None:
    """Run the points ``idx`` (all with a bump) and fill their entries of ``res`` (``weight``:
    see :func:`_early_stop`; ``init``: perturbed starting ``(u, q, a)``, default the exact
    bump with the shift perturbation ``eps``)."""
    stop = _early_stop(T, N, rule, weight) if early_stop else None
    with warnings.catch_warnings():  # failures are reported per point (verdict "failed")
        warnings.simplefilter("ignore", NonFiniteWarning)
        # the map's own error control (two resolutions, refinement) judges its accuracy: the
        # solver's grid warnings would fire for every coarse run at N / 2
        ds = solve(model, T=T, dt=dt, N=N, init="bump" if init is None else init, eps=eps,
                   store_fields=False,
                   sample_every=stride, stop_rule=stop, stop_every=rule.t_ref, progress=False,
                   backend=backend, dt_check=dt_check, check_resolution=False)
    v = ds["velocity"].values
    ext = _extrapolated(stop, T, v.shape[0])
    v_ext = v if ext is None else _extend_trace(ds["time"].values, v, **ext["trace"])
    verdict = rule.classify(ds["time"].values, v_ext)  # reads the motion up to T
    res["episodes"][idx] = motion_episodes(v_ext)
    failed = ds["failed"].values.astype(bool)
    res["unstable"][idx] = verdict["unstable"]
    res["growth"][idx] = verdict["growth"]
    res["persist"][idx] = verdict["persist"]
    res["drift"][idx] = ds["drift"].values
    res["velocity"][idx] = ds["velocity_final"].values
    res["drift_bound"][idx] = 0.0
    for k, src in (("width", "width_final"), ("t_final", "t_final"),
                   ("mass_drift", "mass_drift"), ("t_failed", "t_failed")):
        res[k][idx] = ds[src].values
    res["failed"][idx] = failed
    if not early_stop:  # how the runs would have been decided (adaptive maps read it)
        pos = ds["position"].values
        res["settled"][idx] = settled_kinds(_early_stop(T, N, rule, weight), ds["time"].values,
                                            pos - pos[:, :1], v)
    if ext is not None:
        res["decided"][idx[: ext["n"]]] = ext["decided"]
        early = idx[: ext["n"]][ext["decided"] >= 0]
        for k in ("t_decided", "drift_decided", "velocity_decided", "drift", "velocity",
                  "drift_bound"):
            res[k][early] = ext[k]
    bad = idx[failed]
    for k in ("drift", "velocity", "growth", "persist", "drift_bound", "drift_decided",
              "velocity_decided"):
        res[k][bad] = np.nan
    if traces:
        res["velocity_trace"][idx, : v.shape[1]] = v
        res["time"] = ds["time"].values


def _extrapolated(stop: EarlyStop | None, T: float, B: int) -> dict[str, Any] | None:
    """The early decisions of ``stop`` (``None`` if there were none): per decided member the
    decision-time values, the values at ``T`` (:func:`extrapolate_to_T`) and the error bound,
    and the arguments of :func:`_extend_trace` for all ``B`` members."""
    if stop is None or stop.decided is None:
        return None
    n = stop.decided.size
    dec = stop.decided
    kind = np.full(B, -1, dtype=np.int8)
    kind[:n] = dec
    cols = {k: np.full(B, np.nan) for k in ("t_decided", "velocity_decided", "speed", "rate")}
    for k in cols:
        cols[k][:n] = getattr(stop, k)
    m = dec >= 0
    at_T = extrapolate_to_T(T, stop.t_decided[m], stop.drift_decided[m],
                            stop.velocity_decided[m], dec[m], stop.speed[m], stop.rate[m])
    return {"n": n, "decided": dec, "t_decided": stop.t_decided[m],
            "drift_decided": stop.drift_decided[m], "velocity_decided": stop.velocity_decided[m],
            "drift": at_T["drift"], "velocity": at_T["velocity"],
            "drift_bound": stop.drift_bound[m],
            "trace": {"kind": kind, "t_d": cols["t_decided"], "v_d": cols["velocity_decided"],
                      "speed": cols["speed"], "rate": cols["rate"]}}


def point_resolved(res: dict[str, Any], exists: np.ndarray) -> np.ndarray:
    """Per point: is the result resolved, by the map's own two-resolution error control?

    A point without a bump is (its verdict is the exact theory's). A simulated point is when
    it did not fail, its verdict was decided, and the estimated discretisation error of its
    drift (``drift_error``, from the runs at two resolutions; after a refinement from
    ``(2 N, dt / 2)`` and ``(N, dt)``) is within the documented tolerance
    ``rel |drift| + abs`` (:data:`~astrofield.simulator.step_control.DRIFT_TOLERANCE`).
    Without error control no error was estimated: simulated points are then not resolved.
    With the refinement ladder (``refine_levels > 1``), a point that did not settle by the last
    level (``res["unsettled"]``, see :func:`control_errors`) is not resolved either.
    """
    within = _within_tolerance(res["drift_error"], res["drift"])
    within &= ~np.asarray(res.get("unsettled", False), bool)  # the ladder's cap reached
    ok = within & ~np.asarray(res["failed"], bool) & (not res.get("undecided", False))
    return np.where(np.asarray(exists, bool), ok, True)


def _data_vars(res: dict[str, Any], an: dict[str, np.ndarray], traces: bool) -> dict[str, Any]:
    """The variables of :func:`drift_experiment` with their attrs."""
    exists = an["exists"]
    code = np.where(exists, res["unstable"].astype(np.int8), np.int8(-1)).astype(np.int8)
    if res.get("undecided"):
        code[exists] = VERDICT_CODES["undecided"]
    code[res["failed"]] = VERDICT_CODES["failed"]
    names = {c: n for n, c in VERDICT_CODES.items()}
    labels = np.array([names[int(c)] for c in code], dtype="<U9")
    codes = sorted(VERDICT_CODES.items(), key=lambda kv: -kv[1])
    data: dict[str, Any] = {
        "drift": ("point", res["drift"], {
            "long_name": "drift p(T) - p(0)", "units": "rad",
            "description": "drift p(T) - p(0) at the final time T (under error control: "
                           "extrapolated from two resolutions; points decided early: "
                           "extrapolated from t_decided, within drift_bound)"}),
        "velocity": ("point", res["velocity"], rate_attrs(
            "velocity dp/dt at T", "dp/dt at the final time T (extrapolated if decided early; "
                                   "from two resolutions under error control)")),
        "drift_bound": ("point", res["drift_bound"], {
            "long_name": "error bound of early drift", "units": "rad",
            "description": "bound on the error of drift from extrapolating an early decision "
                           "to T (0 where simulated to T)"}),
        "drift_error": ("point", res["drift_error"], {
            "long_name": "discretisation error of drift", "units": "rad",
            "description": "estimated discretisation error of the finer run's drift, |fine - "
                           "coarse| / 3 (error control; NaN: not estimated)"}),
        "resolved": ("point", point_resolved(res, exists), flag_attrs(
            "result resolved", [0, 1], "unresolved resolved",
            description="the drift's estimated discretisation error (two resolutions) is "
                        "within the documented tolerance (2 % + 0.01 rad); no bump: resolved; "
                        "failed, undecided or no error control: unresolved")),
        "refined": ("point", res["refined"], flag_attrs(
            "rerun by error control", [0, 1], "not_refined refined",
            description="rerun at (2 N, dt / 2) by error control")),
        "t_companion": ("point", res["t_companion"], time_attrs(
            "last time of the coarse run",
            description="last simulated time of the coarse (N / 2, 2 dt) run of error "
                        "control (NaN: none)")),
        "drift_decided": ("point", res["drift_decided"], {
            "long_name": "drift at t_decided", "units": "rad",
            "description": "p(t_decided) - p(0) (NaN: ran to T)"}),
        "velocity_decided": ("point", res["velocity_decided"], rate_attrs(
            "velocity at t_decided", "dp/dt at t_decided (NaN: ran to T)")),
        "t_decided": ("point", res["t_decided"], time_attrs(
            "time of the early decision", description="NaN: ran to T")),
        "width": ("point", res["width"], {"long_name": "active width at t_final",
                                          "units": "rad"}),
        "t_final": ("point", res["t_final"], time_attrs(
            "last simulated time",
            description="T unless decided early or failed")),
        "verdict": ("point", labels, {"long_name": "numerical verdict",
                                      "values": ", ".join(VERDICTS)}),
        "verdict_code": ("point", code, flag_attrs(
            "numerical verdict code", [c for _, c in codes],
            [n.replace(" ", "_") for n, _ in codes])),
        "growth": ("point", res["growth"], {"long_name": "velocity growth",
                                            "description": "max |v| / |v(t_ref)|",
                                            "units": "1"}),
        "persist": ("point", res["persist"], {"long_name": "velocity persistence",
                                              "description": "|v(t_final)| / |v(t_ref)|",
                                              "units": "1"}),
        "decided_early": ("point", res["decided"], flag_attrs(
            "early decision", [-1, 0, 1], "ran_to_T stable_early unstable_early")),
        "failed": ("point", res["failed"], flag_attrs(
            "state became non-finite", [0, 1], "finite non_finite",
            description="state became non-finite (no verdict)")),
        "t_failed": ("point", res["t_failed"], time_attrs(
            "time of first non-finite state", description="NaN: did not fail")),
        "mass_drift": ("point", res["mass_drift"],
                       {"long_name": "relative change of total resource", "units": "1"}),
        **_theory_vars(an),
    }
    if traces:
        data["velocity_trace"] = (("point", "time"), res["velocity_trace"],
                                  rate_attrs("velocity dp/dt"))
    return data


def _theory_vars(an: dict[str, np.ndarray]) -> dict[str, Any]:
    """The theory's columns as variables: Evans and Fourier (the paper's model) or the
    numerical spectrum's (:func:`astrofield.experiments.model_map.numerical_vars`)."""
    if "evans_dprime" not in an:
        return numerical_vars(an)
    exists = an["exists"]
    return {
        "evans_dprime": ("point", an["evans_dprime"], {
            "long_name": "Evans derivative E'(0)", "units": "1",
            "description": "E'(0) of the Evans function; > 0: stable"}),
        "evans_stable": ("point", an["evans_stable"].astype(bool), flag_attrs(
            "stable by the Evans function", [0, 1], "unstable stable")),
        "fourier_stable": ("point", an["fourier_stable"].astype(bool), flag_attrs(
            "stable by the Fourier analysis", [0, 1], "unstable stable")),
        "exists": ("point", exists.astype(bool), flag_attrs(
            "wide bump exists", [0, 1], "no_bump bump")),
    }


def _attrs(**kw: Any) -> dict[str, Any]:
    rule = kw.pop("rule")
    out = {"experiment": "drift: wide bump + eps * amplitude * sin x",
           "scheme": SCHEME, **seed_attrs(None, noisy=False), "astrofield_version": __version__,
           "reference": "Palmer, Cihak, Avitabile, Kilpatrick, arXiv:2604.10036"}
    out.update({f"rule_{k}": v for k, v in asdict(rule).items()})
    if kw.get("early_stop"):
        es = _early_stop(kw["T"], kw["N"], rule)
        out.update({"early_travel": es.travel, "early_accuracy": es.accuracy,
                    "early_relax": es.relax, "early_resolution": es.resolution})
    out.update({k: (int(v) if isinstance(v, bool) else v) for k, v in kw.items()})
    return out


def _chunk(theta=0.1, beta=0.05, gamma=2.0, D=1.0, **opts: Any) -> xr.Dataset:
    """Chunk function for :func:`run_sweep` (drops the per-point coordinates)."""
    ds = drift_experiment(theta, beta, gamma, D, **opts)
    return ds.drop_vars(["theta_p", "beta_p", "gamma_p", "D_p"])


# ----------------------------------------------------------------------------- phase map
def phase_diagram(
    vary: Iterable[str | tuple[str, ArrayLike]],
    *,
    theta: float = 0.1,
    beta: float = 0.05,
    gamma: float = 2.0,
    D: float = 0.7,
    T: float = DEFAULTS["T"],
    N: int = DEFAULTS["N"],
    dt: float = DEFAULTS["dt"],
    eps: float = DEFAULTS["eps"],
    early_stop: bool = True,
    chunk_size: int = DEFAULTS["chunk_size"],
    executor: str | cf.Executor | Client | None = "threads",
    workers: int | None = None,
    store: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool | None = None,
    rule: VerdictRule | None = None,
    backend: str | None = None,
    error_control: bool | None = DEFAULTS["error_control"],
    refine_tol: float = DEFAULTS["refine_tol"],
    sampling: str = "auto",
    adaptive: Any = None,
    dt_check: str = "error",
    firing: Any = "heaviside",
    steepness: float = 50.0,
    kernel: Any = "cosine",
    refine_levels: int = 1,
) -> xr.Dataset:
    """Numerical phase diagram of the drift experiment over a grid of one or two parameters.

    Parameters
    ----------
    vary
        One or two axis specifications over ``beta, D, gamma, theta`` (see
        :func:`astrofield.experiments.sweep.parse_axis`), e.g.
        ``["D=0.001:0.6:50", "beta=0.001:0.1:50"]``.
    theta, beta, gamma, D
        Values of the parameters that are not swept (units as in :func:`drift_experiment`).
    T, N, dt, eps, early_stop, rule, error_control, refine_tol, refine_levels
        See :func:`drift_experiment`. ``dt="auto"``: the largest step of the step-size rule
        over the simulated points (those with a bump) that divides 0.5 and ``T``
        (:func:`map_step`).
    dt_check
        A ``dt`` above the step-size rule of the simulated points: ``"error"`` (a
        ``ValueError`` before any work), ``"warn"`` (one
        :class:`~astrofield.simulator.step_control.StepSizeWarning`, attr ``dt_rule_ok = 0``)
        or ``"off"``.
    executor
        Where the chunks run (see :func:`astrofield.run_sweep`). Default ``"threads"``:
        in this process, one chunk per core at a time (the fastest on one machine); ``"local"``
        or a :class:`distributed.Client` for dask, ``None`` for one chunk after the other.
    chunk_size, workers, store, resume, progress
        See :func:`astrofield.experiments.sweep.run_sweep`.
    backend
        Time-integration backend (see :func:`astrofield.simulator.integrator.solve`;
        ``None``: default).
    sampling
        ``"full"``: simulate every cell; ``"adaptive"``: simulate a coarse sub-grid and the
        cells next to the Evans boundary, then refine where the verdict changes or the drift's
        estimated interpolation error exceeds the tolerance; the other cells are interpolated
        (:mod:`astrofield.experiments.adaptive`). ``"auto"`` (default): adaptive for maps of
        the paper's model over two parameters with at least :data:`AUTO_ADAPTIVE_MIN` (20)
        cells along each, full otherwise (:func:`choose_sampling`; a resumed store keeps the
        sampling it was started with; ``max_points`` or ``max_time`` in ``adaptive`` pick the
        adaptive map on any grid). The choice is the attr ``sampling``.
    adaptive
        Tolerances and stopping rule of the adaptive map: an
        :class:`astrofield.experiments.adaptive.AdaptiveSettings` or a dict of its fields
        (``atol`` in rad, ``rtol``, ``boundary_tol``, ``max_points``, ``max_time`` in s).
    firing, steepness, kernel
        The model (as in :class:`~astrofield.model.definition.Model`: a built-in name, an
        object, or the user's Python function; ``steepness`` dimensionless, one number).
        Default Heaviside firing with the kernel ``cos x``: the paper's model, its exact bump
        and the Evans and Fourier columns. Any other model starts from its own numerical bump
        and carries the verdict of its numerical spectrum at ``N`` (``numerical_stable``),
        which also seeds the adaptive map (:mod:`astrofield.experiments.model_map`); user
        functions run with ``executor="threads"`` or ``None`` (they are not sent to
        processes) and are recorded by name only (attr ``model_reproducible = 0``).

    Returns
    -------
    xarray.Dataset
        The variables of :func:`drift_experiment` on the swept coordinates, with attrs holding
        the settings, the verdict rule and the summary of :func:`summarize`. Adaptive maps add
        ``sampled``, ``drift_interp_error``, ``velocity_interp_error``, ``sample_round`` and
        the simulated points (dimension ``sample``).

    Raises
    ------
    ValueError
        Before any work, for bad grid specifications or settings.
    """
    grid = make_grid(vary, {"theta": theta, "beta": beta, "gamma": gamma, "D": D}, max_dims=2)
    spec = model_spec(firing, steepness, kernel)
    requested = sampling
    sampling = choose_sampling(sampling, grid, store=store, resume=resume,
                               budget=_has_budget(adaptive), paper=spec.paper)
    rule = VerdictRule() if rule is None else rule
    opts, step = _check_settings(T=T, N=N, dt=dt, eps=eps, grid=grid, rule=rule,
                                 dt_check=dt_check, every_point=not spec.paper)
    control, why = error_control_plan(error_control, T=opts["T"], N=opts["N"],
                                      dt=opts["dt"], frame_dt=DEFAULTS["frame_dt"], rule=rule)
    opts.update(early_stop=bool(early_stop), rule=rule, error_control=control,
                refine_tol=float(check_range("refine_tol", refine_tol, 0.0, math.inf,
                                             lo_open=True)))
    levels = check_refine_levels(refine_levels)
    if levels > 1:  # only then: stores written without the ladder keep their fingerprint
        opts["refine_levels"] = levels
    if backend is not None:
        from astrofield.simulator.backends import choose

        opts["backend"] = choose(str(backend))  # unknown / not installed: ValueError now
    if sampling == "full":
        _check_map_work(grid.size, opts, control)
    meta_model = {} if spec.paper else _model_options(spec, opts, grid.size, executor)
    func = functools.partial(_chunk, **opts)
    # the step rule's attrs go on the result, not into the store's fingerprint (``meta``):
    # stores written before they existed still resume
    meta = {k: v for k, v in opts.items() if k not in ("rule", "dt_check", *meta_model)}
    meta.update(meta_model)
    meta["error_control"] = why
    step_attrs = {**step, "dt_check": str(dt_check)}
    meta.update({f"rule_{k}": v for k, v in asdict(rule).items()})
    t0 = time.perf_counter()

    def finalize(ds: xr.Dataset) -> xr.Dataset:
        ds.attrs.update({f"summary_{k}": v for k, v in summarize(ds).items()})
        ds.attrs["wall_s"] = time.perf_counter() - t0
        ds.attrs["refine_levels"] = levels
        ds.attrs.update(step_attrs)
        ds.attrs.update(sampling=sampling, sampling_requested=requested)
        return annotate(ds)  # the swept parameters' metadata and Conventions

    if sampling == "adaptive":
        from astrofield.experiments.adaptive import AdaptiveSettings, adaptive_map

        cfg = adaptive if isinstance(adaptive, AdaptiveSettings) else \
            AdaptiveSettings(**(adaptive or {}))
        return adaptive_map(grid, opts, cfg, executor=executor, workers=workers,
                            chunk_size=chunk_size, store=store, resume=resume,
                            progress=progress, meta=meta, finalize=finalize)
    return run_sweep(func, grid, executor=executor, chunk_size=chunk_size, store=store,
                     resume=resume, workers=workers, meta=meta, progress=progress,
                     finalize=finalize)


def _model_options(spec: ModelSpec, opts: dict[str, Any], n_points: int,
                   executor: Any) -> dict[str, Any]:
    """Add a model other than the paper's to the chunks' options ``opts``; its attrs (part
    of the store's fingerprint). Refuses, before any work, more dense bump and spectrum
    problems than the work limit allows and a user's function sent to other processes."""
    from astrofield._validate import check_work, dense_work

    check_work(dense_work(opts["N"], n_points),
               f"{n_points} numerical bumps and spectra at N = {opts['N']} (a dense "
               f"{3 * opts['N']} x {3 * opts['N']} problem each)",
               hint="use fewer points or a smaller N")
    attrs = spec.attrs()
    import concurrent.futures as cf

    in_process = executor in ("threads", "serial", None) or isinstance(
        executor, cf.ThreadPoolExecutor)
    if not attrs["model_reproducible"] and not in_process:
        raise ValueError(f"executor = {executor!r}: the user's Python functions of this model "
                         f"({attrs['firing']}, {attrs['kernel']}) run in this process only; "
                         "use executor='threads' or None")
    opts.update(spec.options())
    return attrs


#: ``sampling="auto"`` maps a grid of two parameters adaptively from this many cells along each
#: axis on: on the 50 x 50 map of issue 23 the adaptive map takes about 0.7 of the full map's
#: time (CPU and wall, ``benchmarks/bench_adaptive_map.py``), on 250 x 250 about 0.15; below
#: about 20 x 20 the band of cells along the boundary, simulated cell by cell, is most of the
#: map, and a 1-D map has too few cells to gain from it.
AUTO_ADAPTIVE_MIN = 20


def choose_sampling(sampling: str, grid: Grid, *, store: str | os.PathLike | None = None,
                    resume: bool = False, budget: bool = False, paper: bool = True) -> str:
    """The sampling of a phase map: ``"full"`` or ``"adaptive"``.

    Parameters
    ----------
    sampling
        ``"full"``, ``"adaptive"`` (returned as given) or ``"auto"``: adaptive for a map of
        the paper's model over a grid of two parameters with at least
        :data:`AUTO_ADAPTIVE_MIN` cells along each axis, full otherwise. With ``resume`` and
        a ``store`` that already holds a map or its partial results, ``"auto"`` keeps the
        sampling that map was started with (its rounds in ``<store>.adaptive/``, its chunks in
        ``<store>.parts/``, or the finished file's attr ``sampling``), so that resuming never
        starts the other kind of map.
    grid
        The map's :class:`~astrofield.experiments.sweep.Grid`.
    store, resume
        As in :func:`phase_diagram`.
    budget
        The adaptive settings set ``max_points`` or ``max_time``: ``"auto"`` then picks the
        adaptive map whatever the grid (a full map would not keep to that budget).
    paper
        The map is of the paper's model (Heaviside firing, cosine kernel), the one the adaptive
        map was timed against the full map for. Other models compute their numerical bump and
        spectrum, most of a map's time, for every cell either way: ``"auto"`` maps them in full
        unless a budget is given.

    Raises
    ------
    ValueError
        For any other ``sampling``, naming the allowed values.
    """
    if sampling not in ("auto", "full", "adaptive"):
        raise ValueError(f"sampling = {sampling!r} is not one of 'auto', 'full', 'adaptive'")
    if sampling != "auto":
        return sampling
    if resume and store is not None:
        held = _stored_sampling(Path(store))
        if held is not None:
            return held
    big = len(grid.shape) == 2 and min(grid.shape) >= AUTO_ADAPTIVE_MIN
    return "adaptive" if (big and paper) or budget else "full"


def _has_budget(adaptive: Any) -> bool:
    """Do the adaptive settings (an ``AdaptiveSettings``, a dict of its fields or ``None``) set
    ``max_points`` or ``max_time``?"""
    get = adaptive.get if isinstance(adaptive, dict) else functools.partial(getattr, adaptive)
    return adaptive is not None and any(get(k, None) is not None
                                        for k in ("max_points", "max_time"))


def _stored_sampling(path: Path) -> str | None:
    """The sampling of the map held (partly or finished) by the store ``path``; ``None``:
    nothing there, or unreadable (the map is then computed afresh, as without ``resume``)."""
    from astrofield.experiments.sweep import parts_dir

    if path.with_name(path.name + ".adaptive").exists():
        return "adaptive"
    if parts_dir(path).exists():
        return "full"
    if not path.is_file():
        return None
    try:
        with xr.open_dataset(path) as old:
            return "adaptive" if "adaptive_fingerprint" in old.attrs else "full"
    except Exception:  # unreadable: run_sweep / adaptive_map say so and compute it again
        return None


def _check_map_work(n_points: int, opts: dict[str, Any], control: bool) -> None:
    """Refuse a map whose work (points x N x steps, plus a quarter for the coarse companion
    runs of the error control) exceeds :func:`astrofield._validate.max_work`, before any run;
    early stopping only shortens it."""
    from astrofield._validate import check_work

    steps = opts["T"] / opts["dt"]
    work = float(n_points) * opts["N"] * steps * (1.25 if control else 1.0)
    check_work(work, f"a phase map of {n_points} points x N = {opts['N']} x {steps:.4g} steps "
                     f"(T = {opts['T']:g}, dt = {opts['dt']:g})",
               hint="use fewer points, a larger dt, or reduce T or N")


def _t_min(rule: VerdictRule) -> float:
    return max(T_MIN, 10 * rule.t_ref)


def check_T(T: float, rule: VerdictRule | None = None) -> float:
    """``T`` if the verdict rule can serve it, else a ``ValueError`` naming the allowed range.

    The rule compares velocities over ``[t_ref, T]``; below ``max(T_MIN, 10 t_ref)`` a stable
    bump has not relaxed enough to be told from a slowly moving one (at ``T = 20`` stable points
    read as unstable), so such ``T`` are refused rather than answered wrongly.
    """
    rule = VerdictRule() if rule is None else rule
    T = float(check_range("T", T, 0.0, math.inf, lo_open=True))
    t_min = _t_min(rule)
    if T < t_min:
        raise ValueError(f"T = {T:g} is outside the allowed range [{t_min:g}, inf): the verdict "
                         f"needs the motion after t_ref = {rule.t_ref:g} to be followed for long "
                         "enough to tell a relaxing bump from a travelling one")
    return T


def _check_settings(T: float, N: int, dt: float | str, eps: float, grid: Grid,
                    rule: VerdictRule, tau: float = 1.0, dt_check: str = "error",
                    every_point: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check the settings of a phase diagram before any work (``ValueError`` naming each);
    returns the options of the chunks and the step rule's attrs (:func:`map_step`;
    ``every_point``: over every point, see there)."""
    N = check_int("N", N, 16)
    if not isinstance(dt, str):
        dt = float(check_range("dt", dt, 0.0, math.inf, lo_open=True))
    T = check_T(T, rule)
    eps = float(check_range("eps", eps, 0.0, 1.0, lo_open=True))
    dt, step = map_step(dt, grid, T, dt_check, tau=tau, every_point=every_point)
    n = round(T / dt)
    if n < 1 or abs(n * dt - T) > 1e-9 * T:
        raise ValueError(f"T = {T:g} is not a whole number of steps dt = {dt:g}")
    # the rule was applied once to every simulated point: the chunks re-check only "error"
    chunk_check = "error" if dt_check == "error" else "off"
    return {"T": T, "N": N, "dt": dt, "eps": eps, "dt_check": chunk_check}, step


def map_step(dt: float | str, grid: Grid, T: float, dt_check: str = "error", *,
             tau: float = 1.0, every_point: bool = False) -> tuple[float, dict[str, Any]]:
    """The step-size rule of a map, over the points it simulates (those with a bump).

    Parameters
    ----------
    dt
        A step (> 0) or ``"auto"``: the largest step of the rule
        (:func:`astrofield.simulator.step_control.max_step`, the smallest over the simulated
        points, each with its own ``theta``, ``beta`` and ``gamma``) that divides 0.5 and ``T``
        (frames every time unit and the error control's coarse runs at ``2 dt`` then fit).
    grid
        The map's :class:`~astrofield.experiments.sweep.Grid`.
    T
        Final time.
    dt_check
        ``"error"``, ``"warn"`` or ``"off"``
        (:func:`~astrofield.simulator.step_control.resolve_dt`).
    tau
        Resource time scale.
    every_point
        Apply the rule over every point of the grid (a model other than the paper's, whose
        bumps are found by Newton only when the map runs).

    Returns
    -------
    dt, attrs
        The step and ``dt_max``, ``dt_rule`` and ``dt_rule_ok`` (attrs of the map).

    Raises
    ------
    ValueError
        ``dt_check="error"`` and ``dt`` above the rule (naming dt and the allowed range).
    """
    if dt_check not in ("error", "warn", "off"):
        raise ValueError(f"dt_check = {dt_check!r} is not one of ('error', 'warn', 'off')")
    pts = {**grid.fixed, **grid.points()}
    th, be, ga = (np.broadcast_to(np.asarray(pts[k], float), (grid.size,))
                  for k in ("theta", "beta", "gamma"))
    exists = np.asarray(np.broadcast_to(True if every_point else
                                        bump_branches(th, be, ga)["wide"]["exists"],
                                        (grid.size,)), bool)
    if not exists.any():  # nothing is simulated: any step will do
        if dt == "auto":
            dt = DEFAULTS["dt"]
        return float(dt), {"dt_max": math.inf, "dt_rule": "no simulated point",
                           "dt_rule_ok": 1}
    model = Model(theta=th[exists], beta=be[exists], gamma=ga[exists], tau=tau)
    return resolve_dt(dt, T, model, dt_check, divides=(0.5,), stacklevel=4)


def summarize(ds: xr.Dataset) -> dict[str, Any]:
    """Counts and agreement of a phase diagram.

    ``agreement`` is the fraction of points *with a bump that did not fail* whose numerical
    verdict equals the Evans verdict (``E'(0) > 0`` stable; for a model other than the
    paper's, the verdict of its numerical spectrum, ``numerical_stable``);
    ``fourier_agreement`` the same for the Fourier truncation (NaN for other models); ``NaN``
    when no such point exists. ``n_failed`` counts points whose
    state became non-finite (verdict ``"failed"``, never counted as stable or unstable);
    ``max_drift_bound`` is the largest error bound of a ``drift`` at ``T`` (rad; 0 when every
    point ran to ``T``). Error control: ``n_refined`` points were rerun at ``(2 N, dt / 2)``,
    ``companion_time_fraction`` is the coarse runs' simulated time per simulated point and
    ``T``, ``max_relative_drift_error`` the largest ``drift_error / |drift|`` (NaN: none
    estimated).
    """
    code = ds["verdict_code"].values
    has = code >= 0
    # the paper's model: Evans; any other: the numerical spectrum (no Fourier truncation)
    ev = ds["evans_stable" if "evans_stable" in ds else "numerical_stable"].values.astype(bool)
    fo = ds["fourier_stable"].values.astype(bool) if "fourier_stable" in ds else None
    num_stable = code == 0
    n_has = int(has.sum())
    agree = float(np.mean(num_stable[has] == ev[has])) if n_has else float("nan")
    fagree = (float(np.mean(num_stable[has] == fo[has])) if n_has and fo is not None
              else float("nan"))
    te = ds["t_final"].values
    T = float(ds.attrs.get("T", np.nanmax(te) if np.isfinite(te).any() else np.nan))
    sim = code != VERDICT_CODES["no bump"]
    n_sim = int(sim.sum())
    bound = ds["drift_bound"].values if "drift_bound" in ds else np.zeros(code.shape)
    return {"points": int(code.size), "n_stable": int(num_stable.sum()),
            "n_unstable": int((code == 1).sum()), "n_no_bump": int((code == -1).sum()),
            "n_failed": int((code == VERDICT_CODES["failed"]).sum()),
            "agreement": agree, "fourier_agreement": fagree,
            "n_decided_early": int((ds["decided_early"].values >= 0).sum()),
            "max_drift_bound": float(np.nanmax(bound)) if np.isfinite(bound).any() else 0.0,
            "simulated_time_fraction": (float(np.nansum(te[sim]) / (n_sim * T)) if n_sim
                                        else 0.0),
            **_control_summary(ds, n_sim * T)}


def _control_summary(ds: xr.Dataset, total: float) -> dict[str, Any]:
    """The error-control entries of :func:`summarize` (maps made before it: zeros / NaN)."""
    if "drift_error" not in ds:
        return {"n_refined": 0, "companion_time_fraction": 0.0,
                "max_relative_drift_error": float("nan"), "n_unresolved": int(ds["drift"].size),
                "resolved": 0}
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = ds["drift_error"].values / np.abs(ds["drift"].values)
    res = ds["resolved"].values if "resolved" in ds else np.zeros(ds["drift"].shape, bool)
    return {"n_refined": int(ds["refined"].values.sum()),
            "n_unresolved": int(np.sum(~res.astype(bool))), "resolved": int(np.all(res)),
            "companion_time_fraction": (float(np.nansum(ds["t_companion"].values) / total)
                                        if total else 0.0),
            "max_relative_drift_error": (float(np.nanmax(rel)) if np.isfinite(rel).any()
                                         else float("nan"))}



