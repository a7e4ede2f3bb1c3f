"""Input validation shared by every public entry point.

All checks run before any numerical work and raise :class:`ValueError` with a message that names
the parameter, the offending value and the allowed range, e.g.::

    ValueError: theta = 1.5 is outside the allowed range (0, 1)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["check_range", "check_int", "as_param_array", "as_time_series", "time_last"]


def _fmt_range(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    left = "(" if (lo_open or math.isinf(lo)) else "["
    right = ")" if (hi_open or math.isinf(hi)) else "]"
    return f"{left}{lo:g}, {hi:g}{right}"


def check_range(
    name: str,
    value: Any,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    allow_inf: bool = False,
) -> np.ndarray:
    """Check that every entry of ``value`` lies in the interval ``lo .. hi``.

    Parameters
    ----------
    name
        Parameter name used in the error message.
    value
        Scalar or array-like of numbers.
    lo, hi
        Interval bounds; ``lo_open``/``hi_open`` make the bound strict.
    allow_inf
        Accept ``+inf`` (e.g. for the diffusion limit ``D = inf``) even if ``hi`` is finite.

    Returns
    -------
    numpy.ndarray
        ``value`` as a float array (0-d for scalars).
    """
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} = {value!r} is not a number") from exc
    rng = _fmt_range(lo, hi, lo_open, hi_open)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; it needs at least one value in {rng}")
    flat = arr.ravel()
    bad = np.isnan(flat)
    finite_ok = flat.copy()
    if allow_inf:
        finite_ok = np.where(np.isposinf(flat), np.nan, flat)
    with np.errstate(invalid="ignore"):
        too_low = (finite_ok <= lo) if lo_open else (finite_ok < lo)
        too_high = (finite_ok >= hi) if hi_open else (finite_ok > hi)
    if not allow_inf:
        too_high |= np.isposinf(flat)
    too_low |= np.isneginf(flat)
    bad |= too_low | too_high
    if np.any(bad):
        v = flat[np.argmax(bad)]
        extra = " (or inf)" if allow_inf else ""
        raise ValueError(f"{name} = {v:g} is outside the allowed range {rng}{extra}")
    return arr


def check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    """Check an integer parameter such as the grid size ``N``."""
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"{name} = {value!r} must be an integer >= {lo}")
    iv = int(value)
    if iv < lo or (hi is not None and iv > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} = {iv} is outside the allowed range {rng}")
    return iv


def as_param_array(value: Any, batch: int) -> np.ndarray:
    """Broadcast a scalar or length-``batch`` parameter to shape ``(batch, 1)``."""
    arr = np.asarray(value, dtype=float).ravel()
    if arr.size == 1:
        return np.full((batch, 1), arr[0])
    if arr.size != batch:
        raise ValueError(f"parameter array of length {arr.size} does not match batch size {batch}")
    return arr.reshape(batch, 1)


def as_time_series(x: Any, name: str = "x") -> np.ndarray:
    """A finite float array whose last axis is time (at least one sample)."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} = {x!r} is not numeric") from exc
    if arr.ndim == 0 or arr.shape[-1] < 1:
        raise ValueError(f"{name} needs a time axis (last axis) with >= 1 sample, got shape "
                         f"{arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr.ravel()))
        raise ValueError(f"{name} contains {bad.size} non-finite value(s) (NaN or inf), first at "
                         f"flat index {bad[0]}; it must be finite")
    return arr


def time_last(da: Any, name: str):
    """A DataArray with ``time`` as its last dimension, its other dims and their coordinates.

    Returns ``(da, dims, coords)``; raises a clear error if ``da`` has no ``time`` dimension.
    """
    if "time" not in da.dims:
        raise ValueError(f"{name} DataArray needs a 'time' dimension, has {da.dims}")
    da = da.transpose(..., "time")
    dims = [d for d in da.dims if d != "time"]
    return da, dims, {d: da[d].values for d in dims if d in da.coords}
