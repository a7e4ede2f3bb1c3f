"""Compiled (numba) kernels for the per-step hot spots, with identical numpy fall-backs.

The sub-grid edge geometry and the two-part resource remap touch only a few cells per row but, in
numpy, cost dozens of small array operations per call; for a single parameter set that overhead
dominates a time step. The numba versions below do the same arithmetic in one pass. Each works on
one batch member (``*_row``) so that the compiled time loop
(:mod:`astrofield.simulator.backends.numba_loop`) calls exactly the same code as the batched
wrappers used by the numpy path. They are used when numba is importable (it is a package
dependency) and ``ASTROFIELD_NO_NUMBA`` is not set; ``tests/test_accel.py`` checks that both paths
agree to round-off.
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
           "relax_compiled", "edges_row", "remap_row"]

#: Use the compiled kernels (set to False to force the numpy path, e.g. to compare them).
ENABLED = HAVE_NUMBA

#: Stencil of the edge interpolant: the ``2 * HALF`` nodes ``s = 1 - HALF, ..., HALF`` (offsets
#: in units of ``dx`` from the left node of the interval holding a crossing). ``VINV`` is the
#: inverse Vandermonde matrix: ``coef = VINV @ values`` are the monomial coefficients of the
#: interpolating polynomial (degree ``2 HALF - 1``, crossing error ``O(dx^(2 HALF))``).
HALF = 4  # _crossing is unrolled for 2 * HALF = 8 stencil values
STENCIL = np.arange(1.0 - HALF, HALF + 1.0)
VINV = np.linalg.inv(np.vander(STENCIL, 2 * HALF, increasing=True))
#: Newton's method for a crossing stops once its predicted next update ``|p''/(2p')| d^2`` is at
#: most ``NEWTON_TOL * max(|s|, 1)`` (``s`` in units of ``dx``), an estimate trusted only once the
#: update ``d`` itself is at most ``NEWTON_ASYMPTOTIC`` (the quadratic regime).
NEWTON_TOL = 4e-16
NEWTON_ASYMPTOTIC = 1e-6


if HAVE_NUMBA:

    @njit(cache=True, inline="always")
    def _wrap(i, n):  # pragma: no cover - compiled
        """Index ``i`` of a stencil (``-n <= i < 2 n``) mapped onto the ring ``0 .. n - 1``."""
        if i < 0:
            return i + n
        if i >= n:
            return i - n
        return i

    @njit(cache=True, inline="always")
    def _coef(j, v0, v1, v2, v3, v4, v5, v6, v7):  # pragma: no cover - compiled
        """Monomial coefficient ``j`` of the interpolant: ``sum_i VINV[j, i] v_i`` (in order)."""
        c = 0.0
        c += VINV[j, 0] * v0
        c += VINV[j, 1] * v1
        c += VINV[j, 2] * v2
        c += VINV[j, 3] * v3
        c += VINV[j, 4] * v4
        c += VINV[j, 5] * v5
        c += VINV[j, 6] * v6
        c += VINV[j, 7] * v7
        return c

    @njit(cache=True)
    def _crossing(row, th, k, n, v0, v1):  # pragma: no cover - compiled
        """Offset ``s`` in [0, 1] of the root of the interpolant through ``row[k+STENCIL] - th``.

        The ``2 HALF = 8`` values and coefficients are local scalars (no allocation per call);
        the root is refined by Newton's method from the linear guess ``v0 / (v0 - v1)``, at most
        four iterations. Newton converges quadratically: after an update ``d`` the error is about
        ``C d^2`` with ``C = |p''(s) / (2 p'(s))|``, so the iteration stops as soon as that
        predicted next update is below round-off (``C d^2 <= NEWTON_TOL max(|s|, 1)``, trusted
        once ``|d| <= NEWTON_ASYMPTOTIC``). This saves the last iteration, whose update is
        rounding noise, for nearly every crossing (on smooth bumps a quarter of the crossings
        at ``N`` 32, 40 % at 64 and 70 % at 128 stop after two iterations, nearly all others
        after three).
        """
        i0 = k + 1 - HALF
        if i0 >= 0 and i0 + 7 < n:  # inside the row: no wrap (an integer % costs ~25 cycles)
            w0 = row[i0] - th
            w1 = row[i0 + 1] - th
            w2 = row[i0 + 2] - th
            w3 = row[i0 + 3] - th
            w4 = row[i0 + 4] - th
            w5 = row[i0 + 5] - th
            w6 = row[i0 + 6] - th
            w7 = row[i0 + 7] - th
        else:
            w0 = row[_wrap(i0, n)] - th
            w1 = row[_wrap(i0 + 1, n)] - th
            w2 = row[_wrap(i0 + 2, n)] - th
            w3 = row[_wrap(i0 + 3, n)] - th
            w4 = row[_wrap(i0 + 4, n)] - th
            w5 = row[_wrap(i0 + 5, n)] - th
            w6 = row[_wrap(i0 + 6, n)] - th
            w7 = row[_wrap(i0 + 7, n)] - th
        c0 = _coef(0, w0, w1, w2, w3, w4, w5, w6, w7)
        c1 = _coef(1, w0, w1, w2, w3, w4, w5, w6, w7)
        c2 = _coef(2, w0, w1, w2, w3, w4, w5, w6, w7)
        c3 = _coef(3, w0, w1, w2, w3, w4, w5, w6, w7)
        c4 = _coef(4, w0, w1, w2, w3, w4, w5, w6, w7)
        c5 = _coef(5, w0, w1, w2, w3, w4, w5, w6, w7)
        c6 = _coef(6, w0, w1, w2, w3, w4, w5, w6, w7)
        c7 = _coef(7, w0, w1, w2, w3, w4, w5, w6, w7)
        s = v0 / (v0 - v1)
        for _ in range(4):  # Newton on the degree-7 polynomial (Horner for p, p', p''/2)
            p = c7
            dp = p
            ddp = dp
            p = p * s + c6
            dp = dp * s + p
            p = p * s + c5
            ddp = ddp * s + dp
            dp = dp * s + p
            p = p * s + c4
            ddp = ddp * s + dp
            dp = dp * s + p
            p = p * s + c3
            ddp = ddp * s + dp
            dp = dp * s + p
            p = p * s + c2
            ddp = ddp * s + dp
            dp = dp * s + p
            p = p * s + c1
            ddp = ddp * s + dp
            dp = dp * s + p
            p = p * s + c0
            if dp == 0:
                break
            d = p / dp
            s = s - d
            # the next update would be about (p''/2p') d^2: stop once that is below round-off
            if abs(d) <= NEWTON_ASYMPTOTIC and \
                    abs(ddp) * (d * d) <= NEWTON_TOL * max(abs(s), 1.0) * abs(dp):
                break
        return min(max(s, 0.0), 1.0)

    @njit(cache=True, fastmath=False, error_model="numpy", inline="always")
    def edges_row(u, th, ring, phi, mc, ms, m1):  # pragma: no cover - compiled
        """Sub-grid active-region geometry of one member (writes ``phi, mc, ms, m1``).

        See :meth:`astrofield.simulator.ring.Ring.edges`; ``ring`` is its
        :attr:`~astrofield.simulator.ring.Ring.table`. Inlined into its callers: a call would
        increment and decrement the reference counts of its array arguments.
        """
        n = u.shape[0]
        cell_cos, cell_sin = ring[3], ring[4]
        # full cells, then the sign changes counted on them: short single-purpose loops
        # without branches (each vectorises)
        for j in range(n):
            phi[j] = 1.0 if u[j] - th > 0 else 0.0
        flips = 0
        for j in range(n - 1):
            flips += phi[j] != phi[j + 1]
        for j in range(n):
            mc[j] = phi[j] * cell_cos[j]
            ms[j] = phi[j] * cell_sin[j]
            m1[j] = 0.0
        wrap = phi[n - 1] != phi[0]  # the pair (n - 1, 0) closes the ring
        if flips == 0 and not wrap:
            return
        for k in range(n - 1):  # only rows with a crossing are walked pair by pair
            if (u[k] - th > 0) != (u[k + 1] - th > 0):
                _edge_cell(u, th, ring, phi, mc, ms, m1, k, n)
        if wrap:
            _edge_cell(u, th, ring, phi, mc, ms, m1, n - 1, n)

    @njit(cache=True, fastmath=False, error_model="numpy", inline="always")
    def _edge_cell(u, th, ring, phi, mc, ms, m1, k, n):  # pragma: no cover - compiled
        """The edge cell of the crossing between ``k`` and ``k + 1`` (mod ``n``): the cell
        holding the crossing gets its active fraction and exact moments. One end of the
        active part is the crossing ``xi``, the other a boundary of the cell, whose ``sin``
        and ``cos`` are tabulated (:meth:`~astrofield.simulator.ring.Ring.edge_bounds`: one
        ``sin`` and ``cos`` per edge instead of two)."""
        x, dx = ring[0], 2 * np.pi / n
        kp = k + 1 if k + 1 < n else 0
        v0 = u[k] - th
        v1 = u[kp] - th
        s = _crossing(u, th, k, n, v0, v1)
        xi = x[k] + s * dx
        if s >= 0.5:
            xc = x[k] + dx
            c = kp
        else:
            xc = x[k]
            c = k
        s_xi = np.sin(xi)
        c_xi = np.cos(xi)
        r = 5 + 4 * (s >= 0.5)  # Ring.edge_bounds: the cell's boundaries, rounded as below
        if v0 > 0:  # falling edge: active from the cell's left boundary to xi
            lo = xc - dx / 2
            hi = xi
            mc[c] = s_xi - ring[r, k]
            ms[c] = ring[r + 1, k] - c_xi
        else:  # rising edge: active from xi to the cell's right boundary
            lo = xi
            hi = xc + dx / 2
            mc[c] = ring[r + 2, k] - s_xi
            ms[c] = c_xi - ring[r + 3, k]
        phi[c] = (hi - lo) / dx
        m1[c] = 0.5 * ((hi - xc) ** 2 - (lo - xc) ** 2)

    @njit(cache=True, fastmath=False)
    def edges_compiled(u, theta, ring):  # pragma: no cover - compiled
        """Sub-grid active-region geometry of a batch ``(B, N)``; see :func:`edges_row`."""
        B, n = u.shape
        phi = np.zeros((B, n))
        mc = np.zeros((B, n))
        ms = np.zeros((B, n))
        m1 = np.zeros((B, n))
        for b in range(B):
            edges_row(u[b], theta[b], ring, phi[b], mc[b], ms[b], m1[b])
        return phi, mc, ms, m1

    @njit(cache=True, error_model="numpy")
    def remap_row(q_in, q_out, phi_old, phi_new, qi, qo):  # pragma: no cover - compiled
        """Conservative two-part remap of one member into ``qi, qo`` (may alias the inputs).

        See :func:`astrofield.simulator.integrator._remap`.
        """
        # a branch per cell, not a vectorised select: only the few edge cells change, and the
        # select would divide in every cell
        for j in range(q_in.shape[0]):
            po = phi_old[j]
            pn = phi_new[j]
            a = q_in[j]
            o = q_out[j]
            qi[j] = a
            qo[j] = o
            if pn == po:
                continue
            gain = pn - po
            if gain > 0:
                qi[j] = (po * a + gain * o) / pn
            else:
                qo[j] = ((1 - po) * o - gain * a) / (1 - pn)

    @njit(cache=True)
    def remap_compiled(q_in, q_out, phi_old, phi_new):  # pragma: no cover - compiled
        """Conservative two-part remap of a batch; see :func:`remap_row`."""
        qi = np.empty_like(q_in)
        qo = np.empty_like(q_out)
        for b in range(q_in.shape[0]):
            remap_row(q_in[b], q_out[b], phi_old[b], phi_new[b], qi[b], qo[b])
        return qi, qo

    @njit(cache=True, inline="always")
    def relax_scalar(q, k, s, h):  # pragma: no cover - compiled
        """Exact solution after ``h`` of ``q' = s - k q`` for scalars (one transcendental:
        ``e^z = expm1(z) + 1`` is accurate to round-off since ``e^z`` is near 1 wherever
        ``expm1`` matters)."""
        z = -k * h
        em = math.expm1(z)
        if abs(z) < 1e-8:
            p1 = 1.0 + 0.5 * z
        else:
            p1 = em / z
        return q * (em + 1.0) + s * h * p1

    @njit(cache=True)
    def relax_compiled(q, k, s, h):  # pragma: no cover - compiled
        """``q e^{-kh} + s h phi1(-kh)``; see :func:`astrofield.simulator.expint.relax`."""
        q, k, s = np.broadcast_arrays(q, k, s)
        out = np.empty(q.shape)
        qf, kf, sf, of = q.ravel(), k.ravel(), s.ravel(), out.ravel()
        for i in range(of.size):
            of[i] = relax_scalar(qf[i], kf[i], sf[i], h)
        return out

else:  # pragma: no cover
    edges_compiled = None
    remap_compiled = None
    relax_compiled = None
    edges_row = None
    remap_row = None
    relax_scalar = None
