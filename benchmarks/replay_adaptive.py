"""Replay an adaptive phase map on a stored full map: its sampling, in seconds, without simulating.

An adaptive map simulates each of its cells exactly as the full map of the same settings does
(same runs, bit for bit), so its refinement can be rerun on the full map's stored values: the
cells it would simulate, and how far each interpolated cell would lie from the full map's value
against the estimate it would report. This script does that by swapping the adaptive map's round
runner for a lookup in the full map, which makes a sampling change (a tolerance, a rule of
:mod:`astrofield.experiments.adaptive`) testable on the 50 x 50 and 250 x 250 maps of issue 23
in about 1 and 15 seconds instead of 10 seconds and 2 minutes of simulation.

Printed per replay: cells simulated, the **modelled work** as a fraction of the full map's
(the sum over simulated cells of the time simulated at the map's resolution, plus 0.43 times
that of error control's companion at half the resolution and 3.3 times that of its refinement
at double resolution: the CPU cost per time unit of the three resolutions relative to the map's,
measured by ``profile_adaptive_map.py``), the cells outside their reported error estimate
(``|adaptive - full| > drift_interp_error``: must be 0), the cells without an estimate (NaN,
where a budget ended the refinement), the largest ratio of a difference to its estimate, the
largest drift difference, and the verdict agreement with the full map.

Usage::

    python benchmarks/bench_adaptive_map.py --save maps        # once: maps/full_50.nc, ...
    python benchmarks/replay_adaptive.py maps/full_50.nc
    python benchmarks/replay_adaptive.py maps/full_50.nc --set atol=0.1 --set start=16

The full map must have been computed with the phase command's defaults apart from its grid, the
fixed parameters, ``early_stop`` and a built-in firing rate and kernel (read from the file): the
replay passes only those.
"""

from __future__ import annotations

import argparse
import ast
import time
import warnings

import numpy as np
import xarray as xr

import astrofield.experiments.adaptive as adaptive
from astrofield.experiments.phase import phase_diagram

#: CPU cost per simulated time unit of error control's companion (N / 2, 2 dt) and refinement
#: (2 N, dt / 2) relative to the map's own resolution (N 64, dt 0.1), from
#: ``profile_adaptive_map.py`` (2026-12-07: 35, 15 and 116 us per time unit).
COMPANION_COST, REFINEMENT_COST = 0.43, 3.3


def modelled_work(full: xr.Dataset, mask: np.ndarray) -> float:
    """Modelled CPU work of simulating the cells ``mask`` (in map time units)."""
    t = np.nan_to_num(full["t_final"].values)
    tc = np.nan_to_num(full["t_companion"].values)
    refined = np.nan_to_num(full["refined"].values.astype(float))
    cost = t + COMPANION_COST * tc + REFINEMENT_COST * refined * t
    return float(cost[mask].sum())


def _lookup(full: xr.Dataset):
    """A round runner that reads the cells' results from the full map."""
    dims = tuple(full["drift"].dims)
    names = [v for v in full.data_vars if full[v].dims == dims and v not in
             ("evans_dprime", "evans_stable", "fourier_stable", "exists")]
    flat = {v: full[v].values.reshape(-1) for v in names}

    def run_round(self, k: int, cells: np.ndarray) -> tuple[np.ndarray, xr.Dataset]:
        ds = xr.Dataset({v: ("index", flat[v][cells]) for v in names},
                        coords={"index": cells.astype(float)})
        return cells, ds

    return run_round


def replay(full: xr.Dataset, settings: dict) -> dict:
    """The adaptive map of ``full``'s grid with ``settings``, replayed: its figures."""
    adaptive._Rounds.__call__ = _lookup(full)
    vary = []
    for d in full["drift"].dims:
        a = full[d].values
        if not np.allclose(np.diff(a), a[1] - a[0], rtol=1e-9, atol=0):
            raise SystemExit(f"axis {d} is not evenly spaced: not a map this script replays")
        vary.append(f"{d}={float(a[0])!r}:{float(a[-1])!r}:{a.size}")
    fixed = {k[len("param_"):]: float(v) for k, v in full.attrs.items()
             if k.startswith("param_")}
    if "firing" in full.attrs:  # another model's map: its firing rate and kernel (by name)
        from astrofield.model import kernels

        names = {n: getattr(kernels, n) for n in ("Cosine", "Gaussian", "MexicanHat",
                                                  "WizardHat")}
        fixed.update(firing=full.attrs["firing"], steepness=float(full.attrs["steepness"]),
                     kernel=eval(full.attrs["kernel"], {"__builtins__": {}}, names))  # repr
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # a budget's cells without an estimate: counted below
        warnings.simplefilter("ignore", UserWarning)
        ad = phase_diagram(vary=vary, **fixed, T=float(full.attrs["T"]), sampling="adaptive",
                           early_stop=bool(full.attrs.get("early_stop", True)),
                           adaptive=settings or None, executor="serial", progress=False)
    wall = time.perf_counter() - t0
    fin = np.isfinite(full["drift"].values)
    sampled = ad["sampled"].values.astype(bool)
    diff = np.abs(ad["drift"].values - full["drift"].values)
    est = ad["drift_interp_error"].values
    interp = fin & ~sampled & np.isfinite(est)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = diff[interp] / est[interp]
    return {
        "cells": int(sampled.sum()),
        "work": modelled_work(full, sampled) / modelled_work(full, fin),
        "outside": int(np.sum(diff[fin] > est[fin])),
        "unestimated": int(np.sum(fin & np.isnan(est))),
        "max_ratio": float(np.max(ratio)) if interp.any() else 0.0,
        "max_diff": float(np.nanmax(diff[fin])),
        "agreement": float(np.mean(ad["verdict_code"].values == full["verdict_code"].values)),
        "wall_s": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("full", help="a full map (NetCDF) of the phase command's defaults")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="an AdaptiveSettings field (atol, rtol, start, max_points, ...); "
                    "repeatable")
    args = ap.parse_args()
    settings = {}
    for item in args.set:
        name, _, value = item.partition("=")
        settings[name] = ast.literal_eval(value)
    full = xr.load_dataset(args.full)
    r = replay(full, settings)
    print(f"{args.full} {settings or 'defaults'}: {r['cells']} cells simulated, modelled work "
          f"{r['work']:.3f} of the full map's, {r['outside']} outside their estimate (largest "
          f"ratio {r['max_ratio']:.2f}), {r['unestimated']} without an estimate (NaN: a budget "
          f"ended the refinement next to wandering bumps), largest drift difference "
          f"{r['max_diff']:.3f} rad, "
          f"verdicts equal to the full map's {r['agreement']:.4f} ({r['wall_s']:.1f} s)")


if __name__ == "__main__":
    main()
