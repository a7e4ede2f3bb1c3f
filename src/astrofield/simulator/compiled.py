"""Compiled (numba) kernels for the per-step hot spots, with identical numpy fall-backs.

The sub-grid edge geometry and the two-part resource remap touch only a few cells per row but, in
numpy, cost dozens of small array operations per call; for a single parameter set that overhead
dominates a time step. The numba versions below do the same arithmetic in one pass. They are used
when numba is importable (it is a package dependency) and ``ASTROFIELD_NO_NUMBA`` is not set;
``tests/test_accel.py`` checks that both paths agree to round-off.
"""

from __future__ import annotations

import math
import os

import numpy as np

try:  # pragma: no cover - exercised implicitly
    if os.environ.get("ASTROFIELD_NO_NUMBA"):
        raise ImportError
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

__all__ = ["HAVE_NUMBA", "ENABLED", "edges_compiled", "remap_compiled",
           "relax_compiled"]

#: Use the compiled kernels (set to False to force the numpy path, e.g. to compare them).
ENABLED = HAVE_NUMBA

#: Stencil of the edge interpolant: the ``2 * HALF`` nodes ``s = 1 - HALF, ..., HALF`` (offsets
#: in units of ``dx`` from the left node of the interval holding a crossing). ``VINV`` is the
#: inverse Vandermonde matrix: ``coef = VINV @ values`` are the monomial coefficients of the
#: interpolating polynomial (degree ``2 HALF - 1``, crossing error ``O(dx^(2 HALF))``).
HALF = 4
STENCIL = np.arange(1.0 - HALF, HALF + 1.0)
VINV = np.linalg.inv(np.vander(STENCIL, 2 * HALF, increasing=True))

if HAVE_NUMBA:

    @njit(cache=True)
    def _crossing(row, th, k, n, v0, v1):  # pragma: no cover - compiled
        """Offset ``s`` in [0, 1] of the root of the interpolant through ``row[k+STENCIL] - th``."""
        m = 2 * HALF
        c = np.zeros(m)
        for i in range(m):
            vi = row[(k + 1 - HALF + i) % n] - th
            for j in range(m):
                c[j] += VINV[j, i] * vi
        s = v0 / (v0 - v1)
        for _ in range(4):
            p = c[m - 1]
            dp = 0.0
            for j in range(m - 2, -1, -1):
                dp = dp * s + p
                p = p * s + c[j]
            if dp == 0:
                break
            s = s - p / dp
        return min(max(s, 0.0), 1.0)


    @njit(cache=True, fastmath=False)
    def edges_compiled(u, theta, x, dx, cell_cos, cell_sin):  # pragma: no cover - compiled
        """Sub-grid active-region geometry; see :meth:`astrofield.ring.Ring.edges`."""
        B, n = u.shape
        phi = np.zeros((B, n))
        mc = np.zeros((B, n))
        ms = np.zeros((B, n))
        m1 = np.zeros((B, n))
        for b in range(B):
            th = theta[b]
            for j in range(n):
                if u[b, j] - th > 0:
                    phi[b, j] = 1.0
                    mc[b, j] = cell_cos[j]
                    ms[b, j] = cell_sin[j]
            for k in range(n):
                kp = k + 1 if k + 1 < n else 0
                a0 = u[b, k] - th > 0
                a1 = u[b, kp] - th > 0
                if a0 == a1:
                    continue
                v0 = u[b, k] - th
                v1 = u[b, kp] - th
                s = _crossing(u[b], th, k, n, v0, v1)
                s = min(max(s, 0.0), 1.0)
                xi = x[k] + s * dx
                if s >= 0.5:
                    xc = x[k] + dx
                    c = kp
                else:
                    xc = x[k]
                    c = k
                if a0:  # falling edge: active on the left
                    lo = xc - dx / 2
                    hi = xi
                else:
                    lo = xi
                    hi = xc + dx / 2
                phi[b, c] = (hi - lo) / dx
                mc[b, c] = np.sin(hi) - np.sin(lo)
                ms[b, c] = np.cos(lo) - np.cos(hi)
                m1[b, c] = 0.5 * ((hi - xc) ** 2 - (lo - xc) ** 2)
        return phi, mc, ms, m1

    @njit(cache=True)
    def remap_compiled(q_in, q_out, phi_old, phi_new):  # pragma: no cover - compiled
        """Conservative two-part remap; see :func:`astrofield.simulator.integrator._remap`."""
        qi = q_in.copy()
        qo = q_out.copy()
        B, n = q_in.shape
        for b in range(B):
            for j in range(n):
                po = phi_old[b, j]
                pn = phi_new[b, j]
                if pn == po:
                    continue
                gain = pn - po
                if gain > 0:
                    qi[b, j] = (po * q_in[b, j] + gain * q_out[b, j]) / pn
                else:
                    qo[b, j] = ((1 - po) * q_out[b, j] - gain * q_in[b, j]) / (1 - pn)
        return qi, qo

    @njit(cache=True)
    def relax_compiled(q, k, s, h):  # pragma: no cover - compiled
        """``q e^{-kh} + s h phi1(-kh)``; see :func:`astrofield._expint.relax`."""
        q, k, s = np.broadcast_arrays(q, k, s)
        out = np.empty(q.shape)
        qf, kf, sf, of = q.ravel(), k.ravel(), s.ravel(), out.ravel()
        for i in range(of.size):
            z = -kf[i] * h
            if abs(z) < 1e-8:
                p1 = 1.0 + 0.5 * z
            else:
                p1 = math.expm1(z) / z
            of[i] = qf[i] * math.exp(z) + sf[i] * h * p1
        return out

else:  # pragma: no cover
    edges_compiled = None
    remap_compiled = None
    relax_compiled = None
