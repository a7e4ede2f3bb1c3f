"""Exponential-integrator helpers shared by the ring and torus simulators.

``phi1(z) = (e^z - 1) / z`` and ``phi2(z) = (e^z - 1 - z) / z^2`` with their removable
singularities at 0 and limits at ``-inf`` (the ``D = inf`` diffusion modes), and the exact
solution of the linear resource equation ``q' = s - k q`` over a step.
"""

from __future__ import annotations

import numpy as np

from astrofield.simulator import compiled as _accel

__all__ = ["phi1", "phi2", "relax"]


def phi1(z: np.ndarray) -> np.ndarray:
    """``(exp(z) - 1) / z`` (``1`` at 0, ``0`` at ``-inf``)."""
    small = np.abs(z) < 1e-8
    zs = np.where(small | np.isinf(z), 1.0, z)
    return np.where(small, 1.0 + 0.5 * z, np.where(np.isinf(z), 0.0, np.expm1(zs) / zs))


def phi2(z: np.ndarray) -> np.ndarray:
    """``(exp(z) - 1 - z) / z^2`` (``1/2`` at 0, ``0`` at ``-inf``)."""
    small = np.abs(z) < 1e-4
    zs = np.where(small | np.isinf(z), 1.0, z)
    big = (np.expm1(zs) - zs) / zs**2
    zt = np.where(small, z, 0.0)
    return np.where(small, 0.5 + zt / 6 + zt * zt / 24, np.where(np.isinf(z), 0.0, big))


def relax(q: np.ndarray, k: np.ndarray, s: np.ndarray, h: float) -> np.ndarray:
    """Exact solution after time ``h`` of ``q' = s - k q`` (``k``, ``s`` constant):
    ``q e^{-kh} + s h phi1(-kh)``; stays in ``[0, 1]`` whenever ``0 <= s <= k`` and ``q`` does."""
    if _accel.ENABLED:
        if not (np.shape(q) == np.shape(k) == np.shape(s)):
            q, k, s = np.broadcast_arrays(q, k, s)
        return _accel.relax_compiled(q, k, s, h)
    z = -k * h
    return q * np.exp(z) + s * h * phi1(z)
