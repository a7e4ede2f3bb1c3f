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
   corners and, seeded by the theory, every cell next to the Evans boundary (a cell with a bump
   whose 8-neighbourhood holds the other Evans verdict, from the vectorised
   :func:`astrofield.theory.stability.stability`).
2. *Refine.* A block is split into its (up to four) halves, simulating the midpoints of its
   edges and its centre, if a corner has no usable value (no bump, failed), the corners' numerical
   verdicts differ, the Evans verdict or the existence of the bump changes inside it, or its
   estimated interpolation error exceeds ``atol + rtol * max |drift at the corners|``. All
   splits of one round run as one batch (one :func:`astrofield.experiments.sweep.run_sweep` over
   the new points, on any executor), so the compiled loop stays busy.
3. *Error estimate (held-out comparison).* When a block is split, each new point is compared
   with the bilinear interpolant of the block's corners (edge midpoints with the linear one of
   the edge). The largest difference ``r`` is the parent interpolant's error; the halves are
   interpolated from four times closer data, so a smooth drift gives them about ``r / 4``. The
   halves report ``safety * r`` (``safety = 1``: a factor four of margin for smooth drift, and
   still a bound where the drift has a kink, whose error halves rather than quarters), plus the
   corners' own drift error (``drift_error + drift_bound``; a simulated drift departs from the
   smooth trend of its neighbours by about that much where error control reran a cell at
   double resolution or decided it early). Refinement compares only ``safety * r`` with the
   tolerance.
4. *Check.* A block whose estimate from its parent lies within a factor 2 of the tolerance
   has its own centre simulated first; its estimate becomes at least twice the centre's
   difference from the corners' interpolant (on the 250 x 250 map of the issue, the drift's
   steep onset next to the chaotic small-D corner fooled the parent's estimate alone).
5. *Stop.* A block is accepted once none of the reasons of step 2 holds. ``max_points``
   (simulated cells) and ``max_time`` (seconds of wall time) end the refinement early: the
   blocks still waiting are accepted as they are, those with the largest error first in line
   for the remaining budget; a block that is accepted without an estimate reports the spread
   of its corners' drift (NaN where it has none).

Verdict of an interpolated cell: that of its block's corners (they agree, unless a stopping rule
or ``boundary_tol`` ended the refinement; then the nearest simulated cell's); ``"no bump"``
cells are known from the theory and never simulated, as in the full map. ``boundary_tol``
(fraction of each axis's range, default 0: to the grid's resolution) lets blocks in which the
verdict changes stop splitting once they are that small.

Output: the variables of the full map (:func:`astrofield.experiments.phase.drift_experiment`)
on the grid. Interpolated cells get ``drift``, ``velocity``, ``width``, ``growth``,
``persist`` and ``mass_drift`` bilinearly from their block's corners, ``drift_bound`` and
``drift_error`` as the largest of the corners', and NaN for what only a run has (``t_final``,
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from astrofield._validate import check_int, check_range
from astrofield.experiments.sweep import Grid, run_sweep

__all__ = ["AdaptiveSettings", "adaptive_map", "ADAPTIVE_DEFAULTS"]

#: Values interpolated bilinearly in interpolated cells.
_LINEAR = ("drift", "velocity", "width", "growth", "persist", "mass_drift")
#: Error-like values: the largest of the block's corners.
_UPPER = ("drift_bound", "drift_error")
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


def _children(b: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    i, j = _mid(b[0], b[1]), _mid(b[2], b[3])
    return [(i[p], i[p + 1], j[q], j[q + 1]) for p in range(len(i) - 1)
            for q in range(len(j) - 1)]


def _lattice(b: tuple[int, int, int, int]) -> list[tuple[int, int]]:
    """The corners, edge midpoints and centre of block ``b`` (the points of its split)."""
    return [(i, j) for i in _mid(b[0], b[1]) for j in _mid(b[2], b[3])]


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
        self.evans = an["evans_stable"].astype(bool).reshape(shape)
        self.sampled = np.zeros(shape, bool)
        self.round = np.full(shape, -1, np.int16)
        self.code = np.where(self.exists, -3, -1).astype(np.int8)  # -3: not known yet
        self.values: dict[str, np.ndarray] = {}
        self.order: list[int] = []  # flat indices in the order they were simulated
        self.attrs: dict[str, Any] = {}  # of the experiment (scheme, seed, rule, ...)

    def ok(self) -> np.ndarray:
        """Cells simulated with a verdict (stable or unstable): usable corners."""
        return self.sampled & (self.code >= 0)

    def add(self, flat: np.ndarray, ds: xr.Dataset, k: int) -> None:
        """Record the results ``ds`` (dimension ``index``) of the cells ``flat``."""
        if not self.attrs:  # a round's own bookkeeping is not the map's
            self.attrs = {k: v for k, v in ds.attrs.items() if not k.startswith(
                ("sweep_", "chunk_", "history", "adaptive_map", "round", "Conventions"))}
        for name, var in ds.data_vars.items():
            if name not in self.values:
                self.values[name] = np.full(self.shape, _fill(var.dtype), dtype=var.dtype)
            self.values[name].reshape(-1)[flat] = var.values
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
    ev = np.where(st.exists, st.evans.astype(np.int8), np.int8(-1))
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
            st.evans[sl][ex].min() != st.evans[sl][ex].max()):
        return None if small else "boundary"
    if est is None:
        return "unknown"
    tol = _tolerance(st, b, cfg)
    if est["drift"] > tol:
        return "error"
    centre = ((i0 + i1) // 2, (j0 + j1) // 2)
    if not est.get("verified") and est["drift"] > tol / 2 and st.exists[centre]:
        return "verify"
    return None


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


def _residual(st: _State, b: tuple[int, int, int, int]) -> dict[str, float] | None:
    """Held-out error of block ``b``'s interpolant: the largest difference between a point of
    its split and the bilinear (on an edge: linear) interpolant of the corners."""
    if "drift" not in st.values:
        return None
    ok = st.ok()
    i0, i1, j0, j1 = b
    out: dict[str, float] = {}
    for q in _ESTIMATED:
        f = st.values[q]
        worst = -1.0
        for i, j in _lattice(b):
            if (i in (i0, i1) and j in (j0, j1)) or not ok[i, j]:
                continue
            ei = [i0, i1] if i not in (i0, i1) else [i]
            ej = [j0, j1] if j not in (j0, j1) else [j]
            if not all(ok[a, c] for a in ei for c in ej):
                continue
            pred = _bilinear(f, (min(ei), max(ei), min(ej), max(ej)), np.array(i),
                             np.array(j))
            worst = max(worst, abs(float(f[i, j]) - float(pred)))
        if worst < 0:
            return None
        out[q] = worst
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
    first = np.concatenate([np.flatnonzero(coarse & st.exists), np.flatnonzero(seeds)])
    _budgeted_round(st, cfg, run_round, 0, first, t0, note)  # corners first, then seeds
    active = [((b0[p], b0[p + 1] if n0 > 1 else b0[p], b1[q], b1[q + 1] if n1 > 1 else b1[q]),
               None) for p in range(max(1, len(b0) - 1)) for q in range(max(1, len(b1) - 1))]
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
        split.sort(key=lambda s: (("error", "verify").index(s[0]) + 1 if s[0] in
                                  ("error", "verify") else 0,
                                  -(s[2] or {}).get("drift", math.inf)))
        new, taken = _round_points(st, cfg, split, t0)
        leaves.extend((b, est) for _, b, est in split[taken:])
        if new.size:
            _budgeted_round(st, cfg, run_round, k, new, t0, note)
            k += 1
        active = []
        for why, b, est in split[:taken]:
            if why == "verify":  # back in line with its own check
                active.append((b, _verified(st, b, est)))
                continue
            r = _residual(st, b)
            est = None if r is None else {q: cfg.safety * v for q, v in r.items()}
            active.extend((c, est) for c in _children(b))
        _progress(st, leaves, active, note, k)
    return leaves


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
        cells = [((b[0] + b[1]) // 2, (b[2] + b[3]) // 2)] if why == "verify" else _lattice(b)
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
        st.add(flat, run_round(k, flat), k)


def _progress(st: _State, leaves: list, active: list, note, k: int) -> None:
    ests = [e["drift"] for _, e in leaves if e is not None]
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
    if full:
        for q in _LINEAR:
            out[q][ii, jj] = _bilinear(st.values[q], b, ii, jj)
        for q in _UPPER:
            out[q][ii, jj] = max(float(st.values[q][c]) for c in corners)
    else:  # a corner without a value (stopped early): the nearest simulated cell's values
        ni, nj = near[0][ii, jj], near[1][ii, jj]
        for q in _LINEAR + _UPPER:
            out[q][ii, jj] = st.values[q][ni, nj]
    code[ii, jj] = min(codes) if unanimous else st.code[near[0][ii, jj], near[1][ii, jj]]
    for q in _ESTIMATED:
        vals = [float(st.values[q][c]) for c in corners if ok[c]]
        vals += list(out[q][ii, jj])
        spread = max(vals) - min(vals) if vals else math.nan
        trusted = est is not None and unanimous and full
        err[q][ii, jj] = est[q] if trusted else max(spread, 0.0 if est is None else est[q])
    err["drift"][ii, jj] += NOISE * _own_error(st, corners)


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
_ANALYTIC = ("evans_dprime", "evans_stable", "fourier_stable", "exists")
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
    # resolved from the cells' own (simulated) or corners' largest (interpolated) drift error
    flat = {k: np.asarray(data[k][1]).reshape(-1) for k in ("drift", "drift_error", "failed",
                                                          "exists")}
    ok = point_resolved({**flat, "failed": flat["failed"].astype(bool)},
                        flat["exists"].astype(bool))
    data["resolved"] = (grid.dims, ok.reshape(grid.shape), data["resolved"][2])
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
                 resume: bool, sweep: dict[str, Any]):
        self.func = functools.partial(_points_chunk, dims=grid.dims,
                                      axes=tuple(grid.axes.values()), shape=grid.shape,
                                      fixed=dict(grid.fixed), opts=opts)
        self.fp, self.resume, self.sweep = fp, resume, sweep
        self.dir = None if store is None else store.with_name(store.name + ".adaptive")
        self.files: list[Path] = []

    def __call__(self, k: int, flat: np.ndarray) -> xr.Dataset:
        path = None if self.dir is None else self.dir / f"round-{k:03d}.nc"
        ds = run_sweep(self.func, Grid({"index": flat.astype(float)}), store=path,
                       resume=self.resume, meta={"adaptive_map": self.fp, "round": k},
                       progress=False, **self.sweep)
        if path is not None:
            self.files.append(path)
        return ds

    def remove(self) -> None:
        """Delete the round files (only those this map wrote), then the directory if empty."""
        for p in self.files:
            p.unlink(missing_ok=True)
        if self.dir is not None:
            try:
                self.dir.rmdir()
            except OSError:
                _note(f"kept {self.dir}: it holds files the map did not write")


def _note(message: str) -> None:
    print(f"astrofield phase --adaptive: {message}", file=sys.stderr, flush=True)


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
    an = _analytic(grid, executor, workers, n_workers, opts.get("tau", 1.0))
    st = _State(grid.shape if len(grid.shape) == 2 else (grid.size, 1), an)
    client = None
    if executor == "local":
        from distributed import Client, LocalCluster

        client = executor = Client(LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                                processes=True, dashboard_address=None))
    rounds = _Rounds(grid, opts, fp, path, resume, {"executor": executor, "workers": workers,
                                                    "chunk_size": chunk_size})
    try:
        leaves = _refine(st, cfg, rounds, t0, _note if progress is not False else _quiet)
    finally:
        if client is not None:
            cluster = client.cluster
            client.close()
            cluster.close()
    ds = _dataset(grid, st, an, leaves)
    ds.attrs.update(st.attrs)
    _annotate(ds, grid, meta, cfg, st, kind, n_workers, time.perf_counter() - t0)
    if finalize is not None:
        ds = finalize(ds)
    if path is not None:
        from astrofield.io import save

        ds.attrs["adaptive_fingerprint"] = fp
        save(ds, path)
        rounds.remove()
    return ds


_COLUMNS = ("exists", "evans_dprime", "evans_stable", "fourier_stable")


def _analytic_chunk(theta: Any, beta: Any, gamma: Any, D: Any, tau: float) -> dict[str, Any]:
    from astrofield.experiments.phase import analytic_columns

    an = analytic_columns(theta, beta, gamma, D, tau=tau)
    return {k: an[k] for k in _COLUMNS}


def _analytic(grid: Grid, executor: Any, workers: int | None, n_workers: int,
              tau: float) -> dict[str, np.ndarray]:
    """The analytic columns of every cell (see
    :func:`astrofield.experiments.phase.analytic_columns`), in chunks on the executor (about
    0.5 ms of CPU per cell)."""
    ex = "threads" if executor == "local" else executor  # the cluster is not started yet
    ds = run_sweep(functools.partial(_analytic_chunk, tau=tau), grid, executor=ex,
                   workers=workers, chunk_size=max(256, -(-grid.size // (8 * n_workers))),
                   progress=False)
    return {k: np.asarray(ds[k].values).reshape(-1) for k in _COLUMNS}


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
                                            else 0.0)})
