"""Comparison of two floating-point results in units in the last place (ulp).

Bit-for-bit equality is asserted only where the code guarantees it on every CPU: the same
compiled (or numpy) code run twice, results that are copies, integers or booleans. Two
*different* implementations of the same arithmetic (a compiled kernel and its plain-Python
reference, numba and numpy) may round differently on another CPU or library build: the C
library's ``pow``/``sin``/``cos`` differ between versions and CPU-specific variants (glibc picks
an FMA variant on CPUs that have FMA; its ``pow`` is within 0.52 ulp, not correctly rounded),
numpy's vectorised transcendental loops differ from the scalar ones, and a compiler may contract
``a * b + c`` into one fused multiply-add. Such comparisons use :func:`assert_ulp_close` with a
bound derived from the arithmetic between the two results.
"""

from __future__ import annotations

import numpy as np


def ulp_distance(actual, desired, scale=None) -> np.ndarray:
    """``|actual - desired|`` in ulps of the larger magnitude of the two (or of ``scale``,
    where larger: the magnitude of the intermediate results, for quantities formed by
    cancellation). Equal values (also equal infinities and two NaNs) are 0 apart; a NaN or an
    infinity against anything else is infinitely far."""
    a = np.asarray(actual, dtype=float)
    b = np.asarray(desired, dtype=float)
    mag = np.maximum(np.abs(a), np.abs(b))
    if scale is not None:
        mag = np.maximum(mag, np.abs(np.asarray(scale, dtype=float)))
    with np.errstate(invalid="ignore"):
        dist = np.abs(a - b) / np.spacing(mag)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return np.where(same, 0.0, np.where(np.isfinite(dist), dist, np.inf))


def assert_ulp_close(actual, desired, max_ulp: float, scale=None, err_msg: str = "") -> None:
    """Assert that ``actual`` and ``desired`` are at most ``max_ulp`` ulps apart (see
    :func:`ulp_distance`; NaNs must sit at the same places). The failure message names the
    worst element, both values and their distance in ulps."""
    a = np.asarray(actual, dtype=float)
    b = np.asarray(desired, dtype=float)
    a, b = np.broadcast_arrays(a, b)
    dist = np.broadcast_to(ulp_distance(a, b, scale), a.shape)
    if dist.size == 0 or np.max(dist) <= max_ulp:
        return
    i = np.unravel_index(int(np.argmax(dist)), dist.shape)
    bad = int(np.sum(dist > max_ulp))
    raise AssertionError(
        f"{err_msg}{': ' if err_msg else ''}{bad} of {dist.size} elements more than "
        f"{max_ulp:g} ulp apart; worst at index {tuple(int(k) for k in i)}: "
        f"{float(a[i])!r} vs {float(b[i])!r} ({dist[i]:.3g} ulp"
        + (f" of scale {np.max(np.abs(np.asarray(scale, float))):.3g})" if scale is not None
           else ")"))
