"""Adaptive phase maps: simulate where the answer changes, interpolate the rest.

:func:`adaptive_map` (``phase_diagram(..., sampling="adaptive")``, ``astrofield phase
--adaptive``) returns the same map as a full :func:`astrofield.experiments.phase.phase_diagram`
on the requested regular grid -- every variable with the same meaning -- but simulates only some
of its cells; the others are interpolated, and every cell says which it is (``sampled``) and how
far its drift may be from the simulated value (``drift_interp_error``).

Refinement (on the grid's own cells, a quadtree in index space)
----------------------------------------------------------------
1. *Seed.* The map is cut into blocks whose corners lie on a coarse sub-grid (every
   ``start``-th cell along each axis, and the last one). The first round simulates these
   corners, seeded by the theory every cell next to the Evans boundary (a cell with a bump
   whose 8-neighbourhood holds the other Evans verdict, from the vectorised
   :func:`astrofield.theory.stability.stability`), and the edge midpoints and centres of the
   first blocks (which have no error estimate yet, so they are always split).
2. *Refine.* A block is split into its (up to four) halves, simulating the midpoints of its
   edges and its centre, if a corner has no usable value (no bump, failed), the corners' numerical
   verdicts differ, the Evans verdict or the existence of the bump changes inside it, or its
   estimated interpolation error exceeds ``atol + rtol * max |drift at the corners|``. A block
   refined for its error alone, at least four cells long across one axis, whose estimated
   error along the other axis is below a quarter of the tolerance, is split across that axis
   only (simulating the midpoints of the two edges along it and its centre): where the drift
   varies steeply with one parameter only (next to the chaotic small-D edge of the map), the
   other is not refined needlessly. All splits of one round run as one batch (one
   :func:`astrofield.experiments.sweep.run_sweep` over the new points, on any executor), its
   cells dealt to two chunks per worker by their predicted cost (the cells next to the
   boundary, small ``|E'(0)|``, run longest), so the compiled loop stays busy on every core.
3. *Error estimate (held-out comparison).* When a block is split, each new point is compared
   with the bilinear interpolant of the block's corners (edge midpoints with the linear one of
   the edge). The largest difference ``r`` is the parent interpolant's error; the halves are
   interpolated from four times closer data, so a smooth drift gives them about ``r / 4``. The
   halves report ``safety * r`` (``safety = 1``: a factor four of margin for smooth drift, and
   still a bound where the drift has a kink, whose error halves rather than quarters; kept
   per axis: the largest difference at the midpoints of the edges along each axis), plus the
   corners' own drift error (``drift_error + drift_bound``; a simulated drift departs from the
   smooth trend of its neighbours by about that much where error control reran a cell at
   double resolution or decided it early). Refinement compares only ``safety * r`` with the
   tolerance. After a split across one axis, the halves' error along the other axis is the
   larger of their parent's and twice the centre's difference from the line through the new
   edge's ends, and the two axes' errors add up.
4. *Check.* A block whose estimate from its parent lies within a factor 2 of the tolerance
   has its own centre simulated first; its estimate becomes at least twice the centre's
   difference from the corners' interpolant (on the 250 x 250 map of the issue, the drift's
   steep onset next to the chaotic small-D corner fooled the parent's estimate alone). So
   has a block whose corners' runs ended differently (decided travelling, decided relaxing,
   run to ``T`` undecided: different motions, whose drifts need not interpolate), and a block
   whose sibling's check came out above the estimate they share (the parent's held-out points
   matched its interpolant by chance; the sibling was already accepted, it is taken back).
   A checked block whose corners include an unstable bump undecided at ``T`` (one that
   wanders) beside runs that ended otherwise is split further, like a block the stability
   boundary crosses, and so is any block whose four corners are such bumps (their drift can
   swing between the corners with an inflection at the centre). These rules read how each run
   ended (``decided_early``); a map without early decisions runs every cell to ``T`` and
   records instead how each run would have been decided (``settled_kind``: the same test,
   applied to the run's traces afterwards), which they read in its place. Without these
   rules, at tolerances of 0.1-0.5 rad + 10-50 % the 250 x 250 map had 11-432 cells outside
   their estimate, up to 12 times it (a held-out row between wandering and travelling bumps at
   ``D`` < 0.01 that happened to lie on the line of its neighbours); with them none, on six
   maps with early decisions and on the maps without them checked so far, at tolerances
   0.02-0.5 (docs: phase diagrams).
5. *Stop.* A block is accepted once none of the reasons of step 2 holds. ``max_points``
   (simulated cells) and ``max_time`` (seconds of wall time) end the refinement early: the
   blocks still waiting are accepted as they are, those with the largest error first in line
   for the remaining budget. Their estimates say so: the larger of the spread of their
   corners' drift and their estimate (twice it for a block waiting for its centre check; a
   block never checked: the spread alone); a block with a corner missing and never checked,
   one sharing its estimate with a sibling whose check found it too low or was left undone,
   or one next to a bump that wanders (whose drift follows no interpolant) reports NaN:
   accuracy unknown (``adaptive_cells_unestimated`` counts them, and a :class:`BudgetWarning`
   says so). Replayed on
   nine full maps at budgets of 5-90 % of the cells the default refinement simulates, no cell
   lies outside its estimate; before these rules, up to 35,000 cells of the 250 x 250 map did
   (at 5 %; 432 at 50 %, up to 12 times their estimate).

Seeding: for the paper's model (Heaviside firing, the cosine kernel) the Evans function gives
the boundary exactly, at about a millisecond per cell. For any other firing rate or kernel
(``phase_diagram(..., firing=, steepness=, kernel=)``) the seeds and the boundary test of step 2
use the verdict of the model's numerical spectrum at the map's ``N`` instead
(``numerical_stable``, :mod:`astrofield.experiments.model_map`; 0.05-0.4 s per cell): the same
code, given the other verdict array (:func:`astrofield.experiments.model_map.theory_verdict`).

Verdict of an interpolated cell: that of its block's corners (they agree, unless a stopping rule
or ``boundary_tol`` ended the refinement; then the nearest simulated cell's); ``"no bump"``
cells are known from the theory and never simulated, as in the full map. ``boundary_tol``
(fraction of each axis's range, default 0: to the grid's resolution) lets blocks in which the
verdict changes stop splitting once they are that small.

Output: the variables of the full map (:func:`astrofield.experiments.phase.drift_experiment`)
on the grid. Interpolated cells get ``drift``, ``velocity``, ``width``, ``growth``,
``persist`` and ``mass_drift`` bilinearly from their block's corners, ``drift_bound`` and
``drift_error`` (and, with ``refine_levels > 1``, ``refine_level`` and ``motion_episodes``)
as the largest of the corners', ``resolved`` only where every corner is (and the drift error
is within the tolerance), and NaN for what only a run has (``t_final``,
``t_decided``, ``drift_decided``, ``velocity_decided``, ``t_companion``, ``t_failed``; so
``summary_simulated_time_fraction`` is the simulated fraction of the full map's time). New:
``sampled`` (flag), ``drift_interp_error`` and ``velocity_interp_error`` (0 where simulated),
``sample_round`` (round a cell was simulated in, -1: interpolated) and, on dimension ``sample``,
the simulated points themselves (``sample_<axis>``, ``sample_drift``).

Checkpoint and resume: with a ``store`` (``map.nc``) each round is a resumable sweep of its own
in ``map.nc.adaptive/round-NNN.nc`` (with the chunk files, fingerprints and checksums of
:func:`astrofield.experiments.sweep.run_sweep`). The refinement is a deterministic function of
the simulated values, so ``resume=True`` replays it: finished rounds are read back (the sampled
points are the checkpoint), an interrupted one continues from its finished chunks.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from astrofield._validate import check_int, check_range
from astrofield.experiments.model_map import COLUMNS, theory_verdict
from astrofield.experiments.sweep import Grid, run_sweep

__all__ = ["AdaptiveSettings", "adaptive_map", "ADAPTIVE_DEFAULTS", "BudgetWarning"]

#: Values interpolated bilinearly in interpolated cells.
_LINEAR = ("drift", "velocity", "width", "growth", "persist", "mass_drift")
#: Error-like values: the largest of the block's corners.
_UPPER = ("drift_bound", "drift_error")
#: The refinement ladder's (``refine_levels > 1``) per-cell results: the largest of the
#: corners' in an interpolated cell.
_LADDER = ("refine_level", "motion_episodes")
#: Run results that only some maps have, carried with the runs' attributes plus what an
#: interpolated cell holds: the ladder's, and ``settled_kind`` (maps without early decisions).
_CARRIED = {**{q: "interpolated cells: the largest of their block's simulated corners"
               for q in _LADDER},
            "settled_kind": "-1 also in interpolated cells (sampled 0)"}
#: Quantities whose interpolation error is estimated (``<name>_interp_error``).
_ESTIMATED = ("drift", "velocity")
#: Factor on the corners' own drift error added to an interpolated drift's estimate
#: (:func:`_own_error`).
NOISE = 1.0


@dataclass(frozen=True)
class AdaptiveSettings:
    """Stopping rule and refinement settings of an adaptive phase map.

    Parameters
    ----------
    atol, rtol
        Tolerance on the interpolated drift at ``T``: a block is refined while its estimated
        interpolation error exceeds ``atol + rtol * max |drift|`` over its corners (``atol`` in
        rad, ``rtol`` dimensionless).
    boundary_tol
        Tolerance on the position of the stability boundary, as a fraction of each axis's range:
        blocks in which the verdict changes stop splitting once no longer than that (0: the
        boundary is resolved to the grid's cells).
    max_points
        Most cells to simulate (``None``: no limit).
    max_time
        Wall time (s) after which no further round is started (``None``: no limit).
    start
        Spacing, in cells, of the first sub-grid (a power of two works best).
    safety
        Factor on the held-out error estimate reported for interpolated cells.
    seed
        Also simulate, in the first round, every cell next to the Evans boundary.
    """

    atol: float = 0.05
    rtol: float = 0.05
    boundary_tol: float = 0.0
    max_points: int | None = None
    max_time: float | None = None
    start: int = 8
    safety: float = 1.0
    seed: bool = True

    def __post_init__(self) -> None:
        check_range("atol", self.atol, 0.0, math.inf)
        check_range("rtol", self.rtol, 0.0, math.inf)
        if self.atol == 0 and self.rtol == 0:
            raise ValueError("atol = 0 and rtol = 0: give a positive drift tolerance")
        check_range("boundary_tol", self.boundary_tol, 0.0, 1.0)
        if self.max_points is not None:
            check_int("max_points", self.max_points, 1)
        if self.max_time is not None:
            check_range("max_time", self.max_time, 0.0, math.inf, lo_open=True)
        check_int("start", self.start, 2)
        check_range("safety", self.safety, 0.0, math.inf, lo_open=True)


ADAPTIVE_DEFAULTS = asdict(AdaptiveSettings())


# ----------------------------------------------------------------------------- blocks
def _breaks(n: int, step: int) -> list[int]:
    """Corner indices of the first sub-grid along an axis of ``n`` cells."""
    return sorted(set(range(0, n, step)) | {n - 1})


def _mid(a: int, b: int) -> list[int]:
    return [a, (a + b) // 2, b] if b - a > 1 else [a, b]


def _children(b: tuple[int, int, int, int], axis: int | None = None
              ) -> list[tuple[int, int, int, int]]:
    """The halves of block ``b``: four, or two across ``axis`` (0: the first index, 1: the
    second)."""
    i = [b[0], b[1]] if axis == 1 else _mid(b[0], b[1])
    j = [b[2], b[3]] if axis == 0 else _mid(b[2], b[3])
    return [(i[p], i[p + 1], j[q], j[q + 1]) for p in range(len(i) - 1)
            for q in range(len(j) - 1)]


def _lattice(b: tuple[int, int, int, int], axis: int | None = None) -> list[tuple[int, int]]:
    """The corners, edge midpoints and centre of block ``b`` (the points of its split; across
    ``axis`` only: the corners, the midpoints of the two edges along that axis and the
    centre)."""
    i, j = _mid(b[0], b[1]), _mid(b[2], b[3])
    if axis is None:
        return [(p, q) for p in i for q in j]
    if axis == 0:
        return [(p, q) for p in i for q in (b[2], b[3])] + [(i[len(i) // 2], j[len(j) // 2])]
    return [(p, q) for p in (b[0], b[1]) for q in j] + [(i[len(i) // 2], j[len(j) // 2])]


def _bilinear(f: np.ndarray, b: tuple[int, int, int, int], i: np.ndarray,
              j: np.ndarray) -> np.ndarray:
    """Bilinear interpolant of the corner values of ``f`` (2-D) in block ``b`` at ``(i, j)``."""
    i0, i1, j0, j1 = b
    s = (i - i0) / (i1 - i0) if i1 > i0 else np.zeros(np.shape(i))
    t = (j - j0) / (j1 - j0) if j1 > j0 else np.zeros(np.shape(j))
    return ((1 - s) * (1 - t) * f[i0, j0] + (1 - s) * t * f[i0, j1]
            + s * (1 - t) * f[i1, j0] + s * t * f[i1, j1])


class _State:
    """The map's cells: analytic columns, simulated values, and the rounds so far."""

    def __init__(self, shape: tuple[int, int], an: dict[str, np.ndarray]):
        self.shape = shape
        self.exists = an["exists"].reshape(shape)
        # the theory's verdict (Evans, or another model's numerical spectrum) and its signed
        # distance from the boundary (E'(0), or minus the leading eigenvalue's real part)
        verdict, margin = theory_verdict(an)
        self.theory = np.asarray(verdict, bool).reshape(shape)
        self.margin = np.asarray(margin, float).reshape(shape)
        self.sampled = np.zeros(shape, bool)
        self.round = np.full(shape, -1, np.int16)
        self.code = np.where(self.exists, -3, -1).astype(np.int8)  # -3: not known yet
        self.values: dict[str, np.ndarray] = {}
        self.attrs_of: dict[str, dict[str, Any]] = {}  # each variable's attributes
        self.early = False  # some run was decided early (the map uses early decisions)
        self.order: list[int] = []  # flat indices in the order they were simulated
        self.attrs: dict[str, Any] = {}  # of the experiment (scheme, seed, rule, ...)

    def ok(self) -> np.ndarray:
        """Cells simulated with a verdict (stable or unstable): usable corners."""
        return self.sampled & (self.code >= 0)

    def record_attrs(self, ds: xr.Dataset) -> None:
        """Keep the experiment's attrs (scheme, seed, rule, ...) of the first results ``ds``;
        a round's own bookkeeping is not the map's."""
        if not self.attrs:
            self.attrs = {k: v for k, v in ds.attrs.items() if not k.startswith(
                ("sweep_", "chunk_", "history", "adaptive_map", "round", "Conventions"))}

    def add(self, flat: np.ndarray, ds: xr.Dataset, k: int) -> None:
        """Record the results ``ds`` (dimension ``index``) of the cells ``flat``."""
        self.record_attrs(ds)
        for name, var in ds.data_vars.items():
            if name not in self.values:
                self.values[name] = np.full(self.shape, _fill(var.dtype), dtype=var.dtype)
                self.attrs_of[name] = dict(var.attrs)
            self.values[name].reshape(-1)[flat] = var.values
        for name in _MOTION:  # the runs were (or, watched, would have been) decided early
            if name in ds:
                self.early = self.early or bool(np.any(ds[name].values >= 0))
        self.sampled.reshape(-1)[flat] = True
        self.round.reshape(-1)[flat] = k
        self.code.reshape(-1)[flat] = ds["verdict_code"].values
        self.order.extend(int(x) for x in flat)


def _fill(dtype: np.dtype) -> Any:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.nan
    if dtype.kind == "b":
        return False
    if dtype.kind in "iu":
        return -1
    return ""


def _seed_cells(st: _State) -> np.ndarray:
    """Cells with a bump next to the Evans boundary (the other verdict among 8 neighbours)."""
    ev = np.where(st.exists, st.theory.astype(np.int8), np.int8(-1))
    p = np.pad(ev, 1, mode="edge")
    n0, n1 = ev.shape
    out = np.zeros(ev.shape, bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            nb = p[1 + di: 1 + di + n0, 1 + dj: 1 + dj + n1]
            out |= (nb != ev) & (nb >= 0)
    return out & st.exists


# ----------------------------------------------------------------------------- decisions
def _split_reason(st: _State, b: tuple[int, int, int, int], est: dict | None,
                  cfg: AdaptiveSettings, kb: tuple[int, int]) -> str | None:
    """Why block ``b`` must be split (``None``: accept it; see the module docstring)."""
    i0, i1, j0, j1 = b
    if i1 - i0 <= 1 and j1 - j0 <= 1:
        return None  # every cell is a corner
    sl = (slice(i0, i1 + 1), slice(j0, j1 + 1))
    ex = st.exists[sl]
    if not (ex & ~st.sampled[sl]).any():
        return None  # nothing left to interpolate
    corners = [(i0, j0), (i0, j1), (i1, j0), (i1, j1)]
    codes = {int(st.code[c]) for c in corners}
    if min(codes) < 0:
        return "corner"
    small = i1 - i0 <= kb[0] and j1 - j0 <= kb[1]
    if len(codes) > 1 or ex.min() != ex.max() or (
            st.theory[sl][ex].min() != st.theory[sl][ex].max()):
        return None if small else "boundary"
    if est is None:
        return "unknown"
    tol = _tolerance(st, b, cfg)
    if est["drift"] > tol:
        return _error_split(b, est, tol)
    if (est.get("verified") and _wanders(st, corners)) or _unsettled(st, corners):
        return "regime"
    centre = ((i0 + i1) // 2, (j0 + j1) // 2)
    if not est.get("verified") and st.exists[centre] and (
            est["drift"] > tol / 2 or est.get("suspect") or _regimes_differ(st, corners)):
        return "verify"
    return None


#: How each run ended: ``decided_early`` on a map with early decisions; ``settled_kind`` (the
#: same test read from the traces of runs to ``T``) on a map without them, where it takes
#: precedence (its ``decided_early`` is -1 everywhere).
_MOTION = ("settled_kind", "decided_early")


def _motion(st: _State) -> np.ndarray | None:
    """Per cell: ``1`` travelling, ``0`` relaxing (decided, or settled by the same test), ``-1``
    neither by ``T``; ``None`` where the runs carry neither variable."""
    for name in _MOTION:
        if name in st.values:
            return st.values[name]
    return None


def _regimes_differ(st: _State, corners: list[tuple[int, int]]) -> bool:
    """Whether the corners' runs ended differently: decided travelling, decided relaxing or
    run to ``T`` undecided (``decided_early``). Their drift then comes from different motions
    (next to the chaotic small-D edge of the map of issue 23: bumps that wander back and forth
    to ``T`` beside bumps that settle into travel), so a block between them is checked at its
    own centre before its estimate from its parent is trusted."""
    kind = _motion(st)
    return kind is not None and len({int(kind[c]) for c in corners}) > 1


def _unsettled(st: _State, corners: list[tuple[int, int]]) -> bool:
    """Whether all four corners are unstable bumps undecided at ``T`` on a map that decides
    other runs early: bumps that wander or have not settled into travel. Their drift can swing
    between the corners with an inflection at the centre, where the held-out check sees no
    error (a 60 x 60 map of ``D`` in [0.001, 0.05] at gamma 1.5: 3.1 to -1.5 rad over eight
    cells, 147 cells outside their estimate at 0.3 rad + 30 %), so such a block is split like
    one the stability boundary crosses. Off where no run settled (nothing to tell the wandering
    bumps from the others)."""
    return _motion(st) is not None and st.early and all(_wandering(st, c) for c in corners)


def _wanders(st: _State, corners: list[tuple[int, int]]) -> bool:
    """Whether the corners' runs ended differently and one of them is an unstable bump still
    undecided at ``T``: one that wanders (at ``D`` below about 0.01 on the map of issue 23 its
    drift changes sign and size from one cell to the next), beside bumps that settled into
    travel or rest. Such a block is split like one the stability boundary crosses, even when
    its centre's check passed: the cells that wander can lie on either side of the centre."""
    return _regimes_differ(st, corners) and any(_wandering(st, c) for c in corners)


def _wandering(st: _State, c: tuple[int, int]) -> bool:
    """Whether cell ``c`` (simulated, with ``decided_early`` or ``settled_kind``) is an
    unstable bump undecided at ``T``."""
    return int(_motion(st)[c]) == -1 and int(st.code[c]) == 1


#: A block is split across one axis only where the error estimate along the other axis is
#: below this fraction of the tolerance, and only if it is at least ``ONE_AXIS_MIN`` cells
#: long across that axis (blocks of two or three cells are split into four: on the 250 x 250
#: map of issue 23, splitting blocks of two cells across one axis left one cell next to the
#: chaotic small-D corner 1.14 times its estimate away from the full map's drift).
ONE_AXIS = 0.25
ONE_AXIS_MIN = 4


def _error_split(b: tuple[int, int, int, int], est: dict, tol: float) -> str:
    """``"error"`` (split into four), or ``"error0"`` / ``"error1"`` (split across that axis
    only) where the drift's estimated error along the other axis is small: where the drift
    varies steeply along one parameter only, refining the other would simulate cells that
    interpolation already gets right."""
    e = (est.get("drift_0"), est.get("drift_1"))
    if None in e:
        return "error"
    for axis in (0, 1):
        if e[1 - axis] <= ONE_AXIS * tol and b[2 * axis + 1] - b[2 * axis] >= ONE_AXIS_MIN:
            return f"error{axis}"
    return "error"


def _tolerance(st: _State, b: tuple[int, int, int, int], cfg: AdaptiveSettings) -> float:
    """``atol + rtol * max |drift|`` over the corners of block ``b`` (rad)."""
    d = st.values["drift"]
    return cfg.atol + cfg.rtol * max(abs(float(d[i, j])) for i in b[:2] for j in b[2:])


def _verified(st: _State, b: tuple[int, int, int, int], est: dict) -> dict:
    """The estimate of block ``b`` after its centre was simulated: at least twice the
    difference between the centre and the corners' interpolant (the block's own held-out
    check, where the parent's estimate alone is close to the tolerance)."""
    i, j = (b[0] + b[1]) // 2, (b[2] + b[3]) // 2
    out = dict(est, verified=True)
    if st.ok()[i, j] and all(st.ok()[c] for c in ((b[0], b[2]), (b[0], b[3]), (b[1], b[2]),
                                                 (b[1], b[3]))):
        for q in _ESTIMATED:
            v = abs(float(st.values[q][i, j] - _bilinear(st.values[q], b, np.array(i),
                                                         np.array(j))))
            out[q] = max(est[q], 2.0 * v)
    return out


def _residual(st: _State, b: tuple[int, int, int, int], axis: int | None = None
              ) -> dict[str, float] | None:
    """Held-out error of block ``b``'s interpolant: the largest difference between a point of
    its split (across ``axis`` only, or both) and the bilinear (on an edge: linear)
    interpolant of the corners; ``<q>_0`` and ``<q>_1``: the largest over the midpoints of the
    edges along the first and along the second axis (the error of interpolating along each)."""
    if "drift" not in st.values:
        return None
    ok = st.ok()
    i0, i1, j0, j1 = b
    out: dict[str, float] = {}
    for q in _ESTIMATED:
        f = st.values[q]
        worst = [-1.0, -1.0, -1.0]  # along axis 0, along axis 1, centre
        for i, j in _lattice(b, axis):
            on_i, on_j = i in (i0, i1), j in (j0, j1)
            if (on_i and on_j) or not ok[i, j] or (axis is not None and not (on_i or on_j)):
                continue
            ei = [i0, i1] if not on_i else [i]
            ej = [j0, j1] if not on_j else [j]
            if not all(ok[a, c] for a in ei for c in ej):
                continue
            pred = _bilinear(f, (min(ei), max(ei), min(ej), max(ej)), np.array(i),
                             np.array(j))
            n = 0 if on_j else 1 if on_i else 2
            worst[n] = max(worst[n], abs(float(f[i, j]) - float(pred)))
        if max(worst) < 0:
            return None
        out[q] = max(worst)
        out[f"{q}_0"], out[f"{q}_1"] = max(worst[0], 0.0), max(worst[1], 0.0)
    return out


def _child_estimate(st: _State, b: tuple[int, int, int, int], axis: int | None,
                    est: dict | None, cfg: AdaptiveSettings) -> dict | None:
    """Error estimate of the halves of block ``b`` after its split (across ``axis``, or
    both): ``safety`` times its held-out error. After a split across one axis the halves are
    as long as ``b`` along the other: their error along it is the larger of the one ``b`` had
    and twice the centre's difference from the line through the midpoints of ``b``'s two
    edges (the new edge the halves share; the check of step 4 at the halves' own scale), and
    the errors along the two axes add up."""
    r = _residual(st, b, axis)
    if r is None:
        return None
    out = {k: cfg.safety * v for k, v in r.items()}
    if axis is None or est is None or f"drift_{1 - axis}" not in est:
        return out
    c = ((b[0] + b[1]) // 2, (b[2] + b[3]) // 2)
    ends = [(c[0], b[2]), (c[0], b[3])] if axis == 0 else [(b[0], c[1]), (b[1], c[1])]
    ok = st.ok()
    for q in _ESTIMATED:
        line = math.inf  # no check possible: the halves are not accepted on this estimate
        if ok[c] and all(ok[e] for e in ends):
            f = st.values[q]
            lo, hi, x = (b[2], b[3], c[1]) if axis == 0 else (b[0], b[1], c[0])
            t = (x - lo) / (hi - lo) if hi > lo else 0.0  # one-axis map: a point
            line = 2.0 * abs(float(f[c] - ((1 - t) * f[ends[0]] + t * f[ends[1]])))
        out[f"{q}_{1 - axis}"] = max(est[f"{q}_{1 - axis}"], line)
        out[q] = out[f"{q}_{axis}"] + out[f"{q}_{1 - axis}"]
    return out


# ----------------------------------------------------------------------------- refinement
def _refine(st: _State, cfg: AdaptiveSettings, run_round, t0: float,
            note) -> list[tuple[tuple[int, int, int, int], dict | None]]:
    """Run the rounds (``run_round(k, flat_indices)``) and return the accepted blocks with
    their error estimates."""
    n0, n1 = st.shape
    kb = (int(cfg.boundary_tol * (n0 - 1)), int(cfg.boundary_tol * (n1 - 1)))
    b0, b1 = _breaks(n0, cfg.start), _breaks(n1, cfg.start)
    coarse = np.zeros(st.shape, bool)
    coarse[np.ix_(b0, b1)] = True
    seeds = _seed_cells(st) & ~coarse if cfg.seed else np.zeros(st.shape, bool)
    active = [((b0[p], b0[p + 1] if n0 > 1 else b0[p], b1[q], b1[q + 1] if n1 > 1 else b1[q]),
               None) for p in range(max(1, len(b0) - 1)) for q in range(max(1, len(b1) - 1))]
    # the first blocks have no error estimate yet, so every one that is not already small
    # enough is split: their edge midpoints and centres join the first round
    mids = np.zeros(st.shape, bool)
    for b, _ in active:
        if not (b[1] - b[0] <= kb[0] and b[3] - b[2] <= kb[1]):
            mids[tuple(np.array(_lattice(b)).T)] = True
    mids &= ~coarse & ~seeds
    first = np.concatenate([np.flatnonzero(m & st.exists) for m in (coarse, seeds, mids)])
    _budgeted_round(st, cfg, run_round, 0, first, t0, note)  # corners, seeds, then midpoints
    leaves: list[tuple[tuple[int, int, int, int], dict | None]] = []
    k = 1
    while active:
        split = []
        for b, est in active:
            why = _split_reason(st, b, est, cfg, kb)
            (leaves.append((b, est)) if why is None else split.append((why, b, est)))
        if not split:
            break
        # the boundary and unknown blocks first, then the largest errors, then the checks
        split.sort(key=lambda s: (2 if s[0] == "verify" else 1 if s[0].startswith("error")
                                  else 0,
                                  -(s[2] or {}).get("drift", math.inf)))
        new, taken = _round_points(st, cfg, split, t0)
        for why, _, est in split[taken:]:
            if why == "verify" and est is not None:  # its check would have confirmed the
                est["unconfirmed"] = True  # estimate it shares with its siblings, or not
        leaves.extend((b, _waiting(why, est)) for why, b, est in split[taken:])
        if new.size:
            _budgeted_round(st, cfg, run_round, k, new, t0, note)
            k += 1
        active = []
        for why, b, est in split[:taken]:
            if why == "verify":  # back in line with its own check
                checked = _verified(st, b, est)
                if checked["drift"] > est["drift"]:
                    est["doubted"] = True  # the estimate its siblings share was too low
                active.append((b, checked))
                continue
            axis = int(why[-1]) if why in ("error0", "error1") else None
            est = _child_estimate(st, b, axis, est, cfg)
            active.extend((c, est) for c in _children(b, axis))
        leaves = _recheck_doubted(leaves, active)
        _progress(st, leaves, active, note, k)
    return leaves


def _waiting(why: str, est: dict | None) -> dict:
    """The estimate of a block accepted because a budget ended while it waited to be split
    for ``why`` (a reason of :func:`_split_reason`), marked as such (a block without an
    estimate: only the mark)."""
    return {**(est or {}), "waiting": why}


def _recheck_doubted(leaves: list, active: list) -> list:
    """Move the accepted blocks whose estimate (shared with their siblings, from their parent's
    split) a sibling's own check found too low back into ``active``, to be checked at their
    own centre (step 4); return the other accepted blocks."""
    keep = []
    for b, est in leaves:
        if est is not None and est.get("doubted") and not est.get("verified"):
            active.append((b, {k: v for k, v in est.items() if k != "doubted"} | {
                "suspect": True}))
        else:
            keep.append((b, est))
    return keep


def _round_points(st: _State, cfg: AdaptiveSettings, split: list, t0: float
                  ) -> tuple[np.ndarray, int]:
    """New cells of the blocks to split, within the budget: ``(flat indices, number of blocks
    of ``split`` that are split)``."""
    if cfg.max_time is not None and time.perf_counter() - t0 >= cfg.max_time:
        return np.zeros(0, np.int64), 0
    left = math.inf if cfg.max_points is None else cfg.max_points - int(st.sampled.sum())
    chosen: set[int] = set()
    taken = 0
    for why, b, _ in split:
        cells = ([((b[0] + b[1]) // 2, (b[2] + b[3]) // 2)] if why == "verify" else
                 _lattice(b, int(why[-1]) if why in ("error0", "error1") else None))
        pts = {i * st.shape[1] + j for i, j in cells
               if st.exists[i, j] and not st.sampled[i, j]} - chosen
        if len(chosen) + len(pts) > left:
            break
        chosen |= pts
        taken += 1
    return np.array(sorted(chosen), dtype=np.int64), taken


def _budgeted_round(st: _State, cfg: AdaptiveSettings, run_round, k: int, flat: np.ndarray,
                    t0: float, note) -> None:
    """Simulate ``flat`` (at most ``max_points`` in all) and record the results."""
    if cfg.max_points is not None:
        flat = flat[: max(0, cfg.max_points - int(st.sampled.sum()))]
    if flat.size:
        st.add(*run_round(k, flat), k)


def _predicted_cost(st: _State) -> np.ndarray:
    """Relative cost of simulating each cell, from the theory: a cell close to the stability
    boundary (small ``|E'(0)|``) relaxes or departs slowly, so it is neither decided early nor
    spared the refinement of error control; one far from it is decided after the shortest
    time (0.02: about the ``|E'(0)|`` of the cells next to the boundary on the map of issue 23).
    Only orders the cells of a round among its chunks; the results do not depend on it."""
    d = np.abs(np.nan_to_num(st.margin, nan=0.0))
    return 1.0 / (d + 0.02)


def _progress(st: _State, leaves: list, active: list, note, k: int) -> None:
    ests = [e["drift"] for _, e in leaves if e is not None and "drift" in e]
    ests += [e["drift"] for _, e in active if e is not None]
    worst = max(ests) if ests else float("nan")
    note(f"after round {k - 1}: {int(st.sampled.sum())} of {int(st.exists.sum())} cells with "
         f"a bump simulated, {len(active)} blocks still refining, largest estimated drift "
         f"error {worst:.3g} rad")


# ----------------------------------------------------------------------------- interpolation
def _nearest(ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the nearest usable simulated cell of every cell."""
    from scipy.ndimage import distance_transform_edt

    if not ok.any():
        z = np.zeros(ok.shape, np.int64)
        return z, z
    _, (ni, nj) = distance_transform_edt(~ok, return_indices=True)
    return ni, nj


def _fill_block(st: _State, out: dict[str, np.ndarray], err: dict[str, np.ndarray],
                code: np.ndarray, b: tuple[int, int, int, int], est: dict | None,
                near: tuple[np.ndarray, np.ndarray]) -> None:
    """Interpolate the cells of block ``b`` that have a bump and were not simulated."""
    i0, i1, j0, j1 = b
    sub = st.exists[i0:i1 + 1, j0:j1 + 1] & ~st.sampled[i0:i1 + 1, j0:j1 + 1]
    if not sub.any():
        return
    ii, jj = np.nonzero(sub)
    ii, jj = ii + i0, jj + j0
    corners = [(i0, j0), (i0, j1), (i1, j0), (i1, j1)]
    ok = st.ok()
    codes = {int(st.code[c]) for c in corners}
    unanimous = len(codes) == 1 and min(codes) >= 0
    full = all(ok[c] for c in corners)
    upper = [q for q in (*_UPPER, *_LADDER) if q in st.values]
    every = [q for q in ("resolved",) if q in st.values]  # the ladder's unsettled: not
    if full:
        for q in _LINEAR:
            out[q][ii, jj] = _bilinear(st.values[q], b, ii, jj)
        for q in upper:
            out[q][ii, jj] = max(st.values[q][c] for c in corners)
        for q in every:  # only if every corner is
            out[q][ii, jj] = all(bool(st.values[q][c]) for c in corners)
    else:  # a corner without a value (stopped early): the nearest simulated cell's values
        ni, nj = near[0][ii, jj], near[1][ii, jj]
        for q in (*_LINEAR, *upper, *every):
            out[q][ii, jj] = st.values[q][ni, nj]
    code[ii, jj] = min(codes) if unanimous else st.code[near[0][ii, jj], near[1][ii, jj]]
    waiting = None if est is None else est.get("waiting")
    unknown = _unknown(st, est, corners, full)
    if est is not None and "drift" not in est:  # waited without an estimate
        est = None
    for q in _ESTIMATED:
        vals = [float(st.values[q][c]) for c in corners if ok[c]]
        vals += list(out[q][ii, jj])
        spread = max(vals) - min(vals) if vals else math.nan
        trusted = est is not None and unanimous and full and waiting is None
        own = 0.0 if est is None else est[q] * (2.0 if waiting == "verify" else 1.0)
        err[q][ii, jj] = math.nan if unknown else est[q] if trusted else max(spread, own)
    err["drift"][ii, jj] += NOISE * _own_error(st, corners)


def _unknown(st: _State, est: dict | None, corners: list[tuple[int, int]], full: bool) -> bool:
    """Whether a budget left the accuracy of a block's interpolation unknown (step 5): never
    checked with a corner missing; sharing its estimate with a sibling whose check found it
    too low, or whose check the budget left undone; or waiting to be split next to a bump
    that wanders (its drift follows no interpolant). ``est``: the block's estimate, marked
    ``waiting`` by :func:`_waiting` where a budget ended its refinement."""
    if est is None or "drift" not in est:  # no held-out estimate
        return not full or (est is not None and _next_to_wandering(st, corners))
    if est.get("verified"):
        return False
    waiting = est.get("waiting")
    if est.get("unconfirmed") or (waiting is not None and est.get("suspect")):
        return True
    return waiting is not None and _next_to_wandering(st, corners)


def _next_to_wandering(st: _State, corners: list[tuple[int, int]]) -> bool:
    """Whether a usable corner is an unstable bump undecided at ``T`` (:func:`_wandering`)."""
    ok = st.ok()
    return _motion(st) is not None and any(_wandering(st, c) for c in corners if ok[c])


def _own_error(st: _State, corners: list[tuple[int, int]]) -> float:
    """The largest error of the corners' own simulated drift (rad): discretisation error
    ``drift_error`` plus early-decision bound ``drift_bound``. The drift of a cell that was not
    simulated is not a smooth function of its neighbours' to better than that: a neighbour
    rerun at double resolution by error control, or decided early, differs from the smooth
    trend by about this much."""
    total = 0.0
    for c in corners:
        e = sum(float(np.nan_to_num(st.values[k][c])) for k in ("drift_error", "drift_bound")
                if k in st.values)
        total = max(total, e)
    return total


def _interpolate(st: _State, leaves: list) -> tuple[dict, dict, np.ndarray]:
    """Values, error estimates and verdict codes on every cell (larger blocks first, so a
    cell on an edge shared with a smaller block takes the smaller block's values)."""
    out = {k: v.copy() for k, v in st.values.items()}
    err = {q: np.where(st.exists & ~st.sampled, np.nan, 0.0) for q in _ESTIMATED}
    for q in _ESTIMATED:
        err[q][~st.exists] = np.nan
    code = st.code.copy()
    near = _nearest(st.ok())
    area = [(b[1] - b[0]) * (b[3] - b[2]) for b, _ in leaves]
    for n in np.argsort(area, kind="stable")[::-1]:
        _fill_block(st, out, err, code, *leaves[n], near)
    return out, err, code


# ----------------------------------------------------------------------------- output
_ANALYTIC = ("evans_dprime", "evans_stable", "fourier_stable", "exists", *COLUMNS)
_RUN_ONLY = ("t_final", "t_decided", "drift_decided", "velocity_decided", "t_companion",
             "t_failed")


def _dataset(grid: Grid, st: _State, an: dict[str, np.ndarray], leaves: list) -> xr.Dataset:
    """The map on the grid: the full map's variables plus ``sampled``, the error estimates
    and the simulated points."""
    from astrofield.experiments.phase import (
        VERDICT_CODES,
        _data_vars,
        _empty_results,
        point_resolved,
    )
    from astrofield.io.cf import COMMON, flag_attrs, rate_attrs

    out, err, code = _interpolate(st, leaves)
    names = {c: n for n, c in VERDICT_CODES.items()}
    out["verdict_code"] = code
    out["verdict"] = np.array([names[int(c)] for c in code.ravel()], dtype="<U9")
    template = _data_vars(_empty_results(grid.size, 1, 1.0, False), an, traces=False)
    data: dict[str, Any] = {}
    for name, (_, vals, attrs) in template.items():
        v = out[name].reshape(-1) if name in out and name not in _ANALYTIC else vals
        if name in _RUN_ONLY and name in out:
            v = np.where(st.sampled.reshape(-1), out[name].reshape(-1), np.nan)
        data[name] = (grid.dims, np.asarray(v).reshape(grid.shape), attrs)
    # resolved from the cells' own (simulated) or corners' largest (interpolated) drift error,
    # and as the runs had it (simulated) or all corners had it (interpolated): a cell the
    # refinement ladder left unsettled is not resolved whatever its drift error
    flat = {k: np.asarray(data[k][1]).reshape(-1) for k in ("drift", "drift_error", "failed",
                                                          "exists")}
    exists = flat["exists"].astype(bool)
    ok = point_resolved({**flat, "failed": flat["failed"].astype(bool)}, exists)
    if "resolved" in out:
        ok &= np.where(exists, out["resolved"].reshape(-1).astype(bool), True)
    data["resolved"] = (grid.dims, ok.reshape(grid.shape), data["resolved"][2])
    for name, note in _CARRIED.items():  # as the full map has them
        if name in out:
            attrs = dict(st.attrs_of[name])
            attrs["description"] = "; ".join(filter(None, (attrs.get("description"), note)))
            data[name] = (grid.dims, out[name].reshape(grid.shape), attrs)
    data["sampled"] = (grid.dims, st.sampled.reshape(grid.shape), flag_attrs(
        "cell simulated", [0, 1], "interpolated simulated",
        description="1: simulated; 0: interpolated from its block's simulated corners (or "
                    "known to have no bump)"))
    data["drift_interp_error"] = (grid.dims, err["drift"].reshape(grid.shape), {
        "long_name": "interpolation error estimate of drift", "units": "rad",
        "description": "estimated |interpolated - simulated drift| at T (held-out comparison "
                       "of the refinement; 0 where simulated, NaN: no bump)"})
    data["velocity_interp_error"] = (grid.dims, err["velocity"].reshape(grid.shape), rate_attrs(
        "interpolation error of velocity", "estimated |interpolated - simulated velocity| at T "
        "(0 where simulated, NaN: no bump)"))
    data["sample_round"] = (grid.dims, st.round.reshape(grid.shape), {
        "long_name": "refinement round of the simulation", "units": "1",
        "description": "-1: not simulated"})
    order = np.array(st.order, dtype=np.int64)
    sub = np.unravel_index(order, grid.shape)
    for d, s in zip(grid.dims, sub, strict=True):
        data[f"sample_{d}"] = ("sample", grid.axes[d][s], {
            **COMMON[d], "long_name": f"{d} of the simulated point"})
    drift = st.values["drift"].reshape(-1)[order] if order.size else np.zeros(0)
    data["sample_drift"] = ("sample", drift, {
        "long_name": "simulated drift p(T) - p(0)", "units": "rad"})
    return xr.Dataset(data, coords=dict(grid.axes))




# ----------------------------------------------------------------------------- driver
def _points_chunk(index: np.ndarray, *, dims: tuple[str, ...], axes: tuple[np.ndarray, ...],
                  shape: tuple[int, ...], fixed: dict[str, float],
                  opts: dict[str, Any]) -> xr.Dataset:
    """Sweep function of one round: the drift experiment at the flat grid indices ``index``."""
    from astrofield.experiments.phase import _chunk

    sub = np.unravel_index(np.asarray(index).astype(np.int64), shape)
    pars = {**fixed, **{d: a[s] for d, a, s in zip(dims, axes, sub, strict=True)}}
    return _chunk(**pars, **opts)


def _fingerprint(grid: Grid, meta: dict[str, Any], cfg: AdaptiveSettings) -> str:
    key = json.dumps({"grid": grid.describe(), "meta": meta, "adaptive": asdict(cfg)},
                     sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()


class _Rounds:
    """Runs the rounds (one resumable sweep each) and keeps their files."""

    def __init__(self, grid: Grid, opts: dict[str, Any], fp: str, store: Path | None,
                 resume: bool, sweep: dict[str, Any], workers: int, cost: np.ndarray):
        self.func = functools.partial(_points_chunk, dims=grid.dims,
                                      axes=tuple(grid.axes.values()), shape=grid.shape,
                                      fixed=dict(grid.fixed), opts=opts)
        self.fp, self.resume, self.sweep = fp, resume, sweep
        self.workers, self.cost = workers, cost
        self.dir = None if store is None else store.with_name(store.name + ".adaptive")
        self.files: list[Path] = []

    def __call__(self, k: int, flat: np.ndarray) -> tuple[np.ndarray, xr.Dataset]:
        """Simulate the cells ``flat`` as round ``k``: ``(the cells in the order run, their
        results)``."""
        path = None if self.dir is None else self.dir / f"round-{k:03d}.nc"
        stored = _stored_order(path, flat) if self.resume else None
        if stored is not None:  # resumed, perhaps on another number of workers: as it ran
            flat, size = stored
        else:
            size = min(self.sweep["chunk_size"], max(8, -(-flat.size // (2 * self.workers))))
            flat = _balanced_order(flat, self.cost.reshape(-1)[flat],
                                   Grid({"index": flat.astype(float)}).balanced_chunks(
                                       size, self.workers))
        ds = run_sweep(self.func, Grid({"index": flat.astype(float)}), store=path,
                       resume=self.resume, meta={"adaptive_map": self.fp, "round": k},
                       progress=False, **{**self.sweep, "chunk_size": size})
        if path is not None:
            self.files.append(path)
        return flat, ds

    def remove(self) -> None:
        """Delete the round files (only those this map wrote), then the directory if empty."""
        for p in self.files:
            p.unlink(missing_ok=True)
        if self.dir is not None:
            try:
                self.dir.rmdir()
            except OSError:
                _note(f"kept {self.dir}: it holds files the map did not write")


def _stored_order(path: Path | None, flat: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The order of the cells ``flat`` and the chunk size with which a stored round ran (its
    finished file, or the manifest of its chunks), so that a resumed round continues as it
    was cut, whatever the number of workers now; ``None`` if there is none for these cells."""
    from astrofield.experiments.sweep import parts_dir

    if path is None:
        return None
    manifest = parts_dir(path) / "manifest.json"
    try:
        if manifest.is_file():
            man = json.loads(manifest.read_text())
            order, size = man["grid"]["axes"]["index"], man["chunk_size"]
        elif path.is_file():
            from astrofield.io import load

            ds = load(path)
            order, size = ds["index"].values, ds.attrs["sweep_chunk_size"]
        else:
            return None
        order = np.asarray(order, float).astype(np.int64)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable: run_sweep says so and computes the round again
    if order.size != flat.size or not np.array_equal(np.sort(order), np.sort(flat)):
        return None
    return order, int(size)


def _balanced_order(flat: np.ndarray, cost: np.ndarray,
                    chunks: list[tuple[int, int]]) -> np.ndarray:
    """The cells ``flat`` reordered so that each of the consecutive ``chunks`` (``(start,
    stop)``) gets an equal share of the expensive ones: sorted by the predicted ``cost`` and
    dealt out in snake order (0, 1, ..., n - 1, n - 1, ..., 0, ...), so every worker's chunks
    take about the same time (consecutive cells of a round lie side by side on the map, where
    the cost varies most)."""
    sizes = np.array([b - a for a, b in chunks])
    rows = np.arange(int(sizes.max()) if sizes.size else 0)
    ids = np.where((rows % 2 == 0)[:, None], np.arange(sizes.size)[None, :],
                   np.arange(sizes.size)[None, ::-1])
    seq = ids[rows[:, None] < sizes[ids]]  # the chunk of each cell, in order of cost
    by_cost = flat[np.argsort(-cost, kind="stable")]
    return by_cost[np.argsort(seq, kind="stable")]


def _note(message: str) -> None:
    print(f"adaptive phase map: {message}", file=sys.stderr, flush=True)


def _open(store: str | os.PathLike | None, resume: bool, fp: str) -> tuple[Path | None,
                                                                         xr.Dataset | None]:
    """Check the store; the finished map if ``resume`` finds it complete."""
    if store is None:
        return None, None
    from astrofield.io import NETCDF_SUFFIXES, load
    from astrofield.io.files import check_output_path

    path = Path(store)
    check_output_path(path, "store", suffixes=NETCDF_SUFFIXES, make_parents=True)
    rounds = path.with_name(path.name + ".adaptive")
    if rounds.exists() and not resume:
        raise FileExistsError(f"{rounds} holds the rounds of an earlier, unfinished adaptive "
                              "map; pass resume=True (--resume) to continue it or delete it")
    if resume and path.exists() and not rounds.exists():
        try:
            old = load(path)
        except Exception as exc:  # unreadable: computed again
            _note(f"cannot read {path} ({type(exc).__name__}); computing the map again")
        else:
            if old.attrs.get("adaptive_fingerprint") == fp:
                return path, old
            _note(f"{path} holds a different map; it will be replaced")
    return path, None


def adaptive_map(grid: Grid, opts: dict[str, Any],
                 settings: AdaptiveSettings | dict[str, Any] | None = None, *,
                 executor: Any = "threads", workers: int | None = None, chunk_size: int = 125,
                 store: str | os.PathLike | None = None, resume: bool = False,
                 progress: bool | None = None, meta: dict[str, Any] | None = None,
                 finalize=None) -> xr.Dataset:
    """Adaptive drift phase map over a grid of one or two parameters (see the module docstring).

    Parameters
    ----------
    grid
        The regular grid of the map (:func:`astrofield.experiments.sweep.make_grid`).
    opts
        Keyword arguments of :func:`astrofield.experiments.phase.drift_experiment` (``T``,
        ``N``, ``dt``, ``eps``, ``early_stop``, ``rule``, ...), as checked by ``phase_diagram``.
    settings
        :class:`AdaptiveSettings` (or a dict of its fields): tolerances and stopping rule.
    executor, workers, chunk_size
        Where each round's points run, as in :func:`astrofield.experiments.sweep.run_sweep`
        (``"local"`` starts one dask cluster for all rounds).
    store, resume
        NetCDF output; the rounds are kept in ``<store>.adaptive/`` until the map is written,
        and ``resume`` continues an interrupted map from them.
    progress
        One line per round on stderr (points simulated, largest estimated drift error, in rad);
        ``False``: silent.
    meta
        The caller's settings, stored as attrs and part of the fingerprint checked on resume.
    finalize
        ``finalize(dataset) -> dataset`` before the map is written.

    Returns
    -------
    xarray.Dataset
        The variables of a full map on the grid's dimensions, plus ``sampled``,
        ``drift_interp_error`` (rad), ``velocity_interp_error`` (rad per unit time),
        ``sample_round`` and the simulated points on dimension ``sample``.
    """
    from astrofield.experiments.sweep import _executor_kind

    cfg = AdaptiveSettings(**settings) if isinstance(settings, dict) else (
        settings or AdaptiveSettings())
    t0 = time.perf_counter()
    meta = dict(meta or {})
    kind, n_workers = _executor_kind(executor, workers)
    fp = _fingerprint(grid, meta, cfg)
    path, done = _open(store, resume, fp)
    if done is not None:
        return done
    # the theory's columns (another model's bumps and spectra), computed for the seeds, are
    # reused by the rounds where they run in this process (a cluster's workers would only get
    # copies)
    cache = {} if kind in ("serial", "threads") else None
    an = _analytic(grid, executor, workers, n_workers, opts.get("tau", 1.0), opts, cache)
    if cache is not None:
        opts = {**opts, "columns_cache": cache}
    st = _State(grid.shape if len(grid.shape) == 2 else (grid.size, 1), an)
    client = None
    if executor == "local":
        from distributed import Client, LocalCluster

        client = executor = Client(LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                                processes=True, dashboard_address=None))
    rounds = _Rounds(grid, opts, fp, path, resume, {"executor": executor, "workers": workers,
                                                    "chunk_size": chunk_size},
                     n_workers, _predicted_cost(st))
    try:
        leaves = _refine(st, cfg, rounds, t0, _note if progress is not False else _quiet)
    finally:
        if client is not None:
            cluster = client.cluster
            client.close()
            cluster.close()
    ds = _dataset(grid, st, an, leaves)
    if not st.attrs:  # nothing simulated (no cell has a bump): the experiment's attrs all the
        st.record_attrs(rounds.func(np.zeros(1, np.int64)))  # same (cell 0: no run)
    ds.attrs.update(st.attrs)
    _annotate(ds, grid, meta, cfg, st, kind, n_workers, time.perf_counter() - t0)
    _warn_unestimated(ds, cfg)
    if finalize is not None:
        ds = finalize(ds)
    if path is not None:
        from astrofield.io import save

        ds.attrs["adaptive_fingerprint"] = fp
        save(ds, path)
        rounds.remove()
    return ds


_COLUMNS = ("exists", "evans_dprime", "evans_stable", "fourier_stable")


def _analytic_chunk(theta: Any, beta: Any, gamma: Any, D: Any, tau: float,
                    model: dict[str, Any] | None = None, cache: dict | None = None
                    ) -> dict[str, Any]:
    """The theory's columns of a chunk: closed form, or (``model``: firing, steepness, kernel
    and ``N``) the numerical bump and spectrum (kept in ``cache``, see
    :func:`astrofield.experiments.model_map.numerical_columns`)."""
    from astrofield.experiments.model_map import cache_columns, model_spec, numerical_columns
    from astrofield.experiments.phase import analytic_columns

    pts = np.broadcast_arrays(*(np.atleast_1d(np.asarray(p, float)).ravel()
                                for p in (theta, beta, gamma, D)))
    if model:
        spec = model_spec(model["firing"], model["steepness"], model["kernel"])
        an, _ = numerical_columns(spec, *pts, tau, model["N"], cache)
        return {k: an[k] for k in COLUMNS}
    an = analytic_columns(*pts, tau=tau)
    if cache is not None:
        cache_columns(cache, pts, an)
    return {k: an[k] for k in _COLUMNS}


def _analytic(grid: Grid, executor: Any, workers: int | None, n_workers: int,
              tau: float, opts: dict[str, Any] | None = None, cache: dict | None = None
              ) -> dict[str, np.ndarray]:
    """The theory's columns of every cell (see
    :func:`astrofield.experiments.phase.analytic_columns`: about 0.5 ms of CPU per cell; for
    a model other than the paper's, ``opts`` with ``firing``, ``steepness``, ``kernel`` and
    ``N``, :func:`astrofield.experiments.model_map.numerical_columns`: about 0.05-0.1 s per
    cell), in chunks on the executor."""
    ex = "threads" if executor == "local" else executor  # the cluster is not started yet
    model = ({k: opts[k] for k in ("firing", "steepness", "kernel", "N")}
             if opts and "firing" in opts else None)
    size = max(256, -(-grid.size // (8 * n_workers))) if model is None else \
        max(4, -(-grid.size // (2 * n_workers)))
    ds = run_sweep(functools.partial(_analytic_chunk, tau=tau, model=model, cache=cache), grid,
                   executor=ex, workers=workers, chunk_size=size, progress=False)
    return {k: np.asarray(ds[k].values).reshape(-1) for k in (COLUMNS if model else _COLUMNS)}


class BudgetWarning(UserWarning):
    """A budget (``max_points``, ``max_time``) ended an adaptive map's refinement before some
    cells could be estimated (their ``drift_interp_error`` is NaN)."""


def _unestimated(ds: xr.Dataset) -> int:
    """Interpolated cells with a bump and no error estimate (``drift_interp_error`` NaN)."""
    return int(np.sum(ds["exists"].values.astype(bool) & ~ds["sampled"].values.astype(bool)
                      & np.isnan(ds["drift_interp_error"].values)))


def _warn_unestimated(ds: xr.Dataset, cfg: AdaptiveSettings) -> None:
    """Say so where a budget (``max_points``, ``max_time``) ended the refinement before some
    cells could be estimated (:func:`_unknown`, step 5)."""
    n = int(ds.attrs["adaptive_cells_unestimated"])
    if n:
        warnings.warn(
            f"adaptive map: the budget (max_points = {cfg.max_points}, max_time = "
            f"{cfg.max_time}) ended the refinement before {n} interpolated cells could be "
            "estimated; their drift_interp_error is NaN (accuracy unknown: next to bumps that "
            "wander, or where a check the budget left undone could have changed the estimate)."
            " A larger budget refines them", BudgetWarning, stacklevel=3)


def _quiet(message: str) -> None:
    """Progress off."""


def _annotate(ds: xr.Dataset, grid: Grid, meta: dict[str, Any], cfg: AdaptiveSettings,
              st: _State, kind: str, workers: int, wall: float) -> None:
    from astrofield._version import __version__

    ds.attrs.update({f"param_{k}": v for k, v in grid.fixed.items()})
    ds.attrs.update({k: (int(v) if isinstance(v, (bool, np.bool_)) else v)
                     for k, v in meta.items()
                     if isinstance(v, (int, float, str, np.number, np.bool_))})
    ds.attrs.update({f"adaptive_{k}": (int(v) if isinstance(v, bool) else v)
                     for k, v in asdict(cfg).items() if v is not None})
    err = ds["drift_interp_error"].values
    ds.attrs.update({
        "sampling": "adaptive", "astrofield_version": __version__,
        "sweep_points": grid.size, "sweep_dims": " ".join(grid.dims), "sweep_executor": kind,
        "sweep_workers": workers, "sweep_wall_s": wall,
        "adaptive_points_simulated": int(st.sampled.sum()),
        "adaptive_rounds": int(st.round.max()) + 1,
        "adaptive_max_drift_interp_error": (float(np.nanmax(err)) if np.isfinite(err).any()
                                            else 0.0),
        "adaptive_cells_unestimated": _unestimated(ds)})
