"""The compiled sub-grid edge kernel against a plain-Python reference of the edge geometry.

The reference below is written from the definition of :meth:`Ring.edges`: in every grid
interval ``(x_k, x_k+1)`` where ``u - theta`` changes sign, the crossing is the root of the
degree-7 interpolant through the eight values ``k - 3 .. k + 4`` (indices modulo ``N``, always),
found by Newton's method from the linear estimate; the crossing's cell (centre ``x_k`` or
``x_k + dx``) carries its active fraction and the exact integrals of ``cos``, ``sin`` and
``y - xc`` over its active part, evaluated with ``math.sin``/``math.cos`` at both ends. Full
cells carry the exact cell integrals. Scalar Python floats round every operation like the
compiled code, but the two are different code paths: the C library's ``sin``/``cos`` (and, for
Python's ``**``, ``pow``) differ between builds and CPU-specific variants, and a compiler may
fuse a multiply and an add, so the kernel is held to an ulp bound (see
:func:`test_kernel_matches_reference`), not to bit-for-bit equality (which held on one CPU and
failed by one ulp on another).

Separately, the crossings are checked against the root of the same interpolant computed in
high precision (mpmath), and against four full Newton iterations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _ulp import assert_ulp_close

from astrofield.simulator import compiled as _accel
from astrofield.simulator.ring import Ring

pytestmark = pytest.mark.skipif(not _accel.HAVE_NUMBA, reason="numba not installed")


def _coefficients(v, k, th, n):
    """Monomial coefficients of the interpolant through ``v[(k + i) % n] - th``, ``i = -3..4``
    (each an in-order sum ``sum_i VINV[j, i] w_i``)."""
    w = [float(v[(k + int(i)) % n]) - th for i in _accel.STENCIL]
    coef = []
    for j in range(len(w)):
        c = 0.0
        for i, wi in enumerate(w):
            c += float(_accel.VINV[j, i]) * wi
        coef.append(c)
    return coef


def _horner(coef, s):
    """``p(s), p'(s), p''(s) / 2`` by Horner's scheme (highest coefficient first)."""
    p = coef[-1]
    dp = p
    ddp = dp
    for j in range(len(coef) - 2, -1, -1):
        p = p * s + coef[j]
        if j > 0:
            if j < len(coef) - 2:
                ddp = ddp * s + dp
            dp = dp * s + p
    return p, dp, ddp


def _newton(coef, s, rule):
    """Newton's method from ``s``: four iterations (``rule="4"``) or the kernel's stopping rule
    (stop once the predicted next update ``|p''/(2p')| d^2`` is below round-off)."""
    for _ in range(4):
        p, dp, ddp = _horner(coef, s)
        if dp == 0:
            break
        d = p / dp
        s = s - d
        if rule == "stop" and abs(d) <= _accel.NEWTON_ASYMPTOTIC and \
                abs(ddp) * (d * d) <= _accel.NEWTON_TOL * max(abs(s), 1.0) * abs(dp):
            break
    return s


def _crossing_reference(u, th, k, n, rule):
    v0 = float(u[k]) - th
    v1 = float(u[(k + 1) % n]) - th
    s = _newton(_coefficients(u, k, th, n), v0 / (v0 - v1), rule)
    return min(max(s, 0.0), 1.0)


def _edges_reference(ring, u, th, rule="stop"):
    """Geometry of one row ``u`` (see the module docstring)."""
    n, dx, x = ring.N, ring.dx, ring.x
    phi = np.where(u - th > 0, 1.0, 0.0)
    mc, ms, m1 = phi * ring.cell_cos, phi * ring.cell_sin, np.zeros(n)
    for k in range(n):
        kp = (k + 1) % n
        falling = float(u[k]) - th > 0
        if falling == (float(u[kp]) - th > 0):
            continue
        s = _crossing_reference(u, th, k, n, rule)
        xi = float(x[k]) + s * dx
        nxt = s >= 0.5
        xc = float(x[k]) + dx if nxt else float(x[k])
        c = kp if nxt else k
        lo, hi = (xc - dx / 2, xi) if falling else (xi, xc + dx / 2)
        phi[c] = (hi - lo) / dx
        mc[c] = math.sin(hi) - math.sin(lo)  # ∫_lo^hi cos y dy
        ms[c] = math.cos(lo) - math.cos(hi)  # ∫_lo^hi sin y dy
        # ∫_lo^hi (y - xc) dy; products, not ``**`` (the C library's pow, not correctly rounded)
        m1[c] = 0.5 * ((hi - xc) * (hi - xc) - (lo - xc) * (lo - xc))
    return phi, mc, ms, m1


def _random_bumps(ring, rng, B):
    """Smooth bumps ``A cos(w (x - c))``-like rows at random centres (edges anywhere, next to
    the wrap-around too), widths and thresholds, with a little noise."""
    c = rng.uniform(-np.pi, np.pi, (B, 1))
    c[: B // 4] = np.pi + rng.uniform(-0.1, 0.1, (B // 4, 1))  # bump across the wrap-around
    w = rng.uniform(0.7, 1.5, (B, 1))
    u = 0.8 * np.cos(w * np.sin((ring.x - c) / 2) * 2) + 0.02 * np.sin(3 * ring.x + c)
    th = rng.uniform(-0.3, 0.6, B)
    return u, th


#: Ulp bound of the kernel against the reference, in ulps of each quantity's natural scale.
#: The budget: the crossing ``xi = x_k + s dx`` may move by the rounding of the interpolant's
#: coefficients (a fused multiply-add in their sums changes it by an ulp; that moves the root
#: by up to about 2e-14 of a cell, see test_crossings_against_high_precision_root) plus two ulps
#: of the position itself: at most about 11 ulp of pi at N = 32 (fewer at larger N, dx being
#: smaller). Every sin, cos and square may differ by one ulp between C libraries. Hence, with
#: the scales of the intermediate results:
#: phi = (hi - lo) / dx: positions of magnitude pi over dx, scale pi / dx = N / 2 (<= 7 units);
#: mc, ms: a difference of sin/cos of positions, scale pi (<= 11 + 1 units);
#: m1 = ((hi - xc)^2 - (lo - xc)^2) / 2: the lever |hi - xc| <= dx / 2 times the position's
#: error, scale pi dx / 2 (<= 9 units). 16 leaves a margin; a wrong crossing or a wrong cell
#: (errors of order dx or more) is 1e10 or more such units away.
EDGE_MAX_ULP = 16


@pytest.mark.parametrize("N", [32, 64, 128])
def test_kernel_matches_reference(N):
    ring = Ring(N)
    rng = np.random.default_rng(N)
    u, th = _random_bumps(ring, rng, 200)
    # crossings right at the ring's ends: stencils that wrap on either side
    u[0] = 0.8 * np.cos(ring.x - (-np.pi + 0.02))
    th[0] = 0.79 * np.cos(0.5 * ring.dx)
    fast = ring.edges(u, th[:, None])
    scales = {"phi": np.pi / ring.dx, "mc": np.pi, "ms": np.pi, "m1": np.pi * ring.dx / 2}
    n_edges = 0
    for b in range(u.shape[0]):
        ref = _edges_reference(ring, u[b], float(th[b]))
        n_edges += int(np.sum((ref[0] > 0) & (ref[0] < 1)))
        for name, r, f in zip(("phi", "mc", "ms", "m1"), ref,
                              (fast.phi[b], fast.mc[b], fast.ms[b], fast.m1[b]), strict=True):
            assert_ulp_close(f, r, EDGE_MAX_ULP, scale=scales[name],
                             err_msg=f"{name}, member {b}, N {N}")
    assert n_edges > 300


@pytest.mark.parametrize("N", [32, 64, 128])
def test_crossings_against_high_precision_root(N):
    """Edge positions within 1e-15 of the exact root of the interpolant (its coefficients as
    rounded to float64, the polynomial Newton's method solves; the coefficients' own rounding
    moves the root by up to about 2e-14 of a cell, far below the interpolation error) and of
    the result of four Newton iterations."""
    import mpmath as mp
    ring = Ring(N)
    rng = np.random.default_rng(100 + N)
    u, th = _random_bumps(ring, rng, 60)
    worst_exact = worst_fixed = 0.0
    count = 0
    with mp.workdps(40):
        for b in range(u.shape[0]):
            t = float(th[b])
            for k in np.nonzero((u[b] > t) != (np.roll(u[b], -1) > t))[0]:
                k = int(k)
                v0, v1 = float(u[b, k]) - t, float(u[b, (k + 1) % N]) - t
                s = _accel._crossing(u[b], t, k, N, v0, v1)
                s4 = _crossing_reference(u[b], t, k, N, "4")
                coef = [mp.mpf(c) for c in reversed(_coefficients(u[b], k, t, N))]
                root = mp.findroot(lambda z, c=coef: mp.polyval(c, z), mp.mpf(s4))
                xk = float(ring.x[k])
                xi = xk + s * ring.dx
                worst_exact = max(worst_exact, abs(float(xk + root * ring.dx) - xi))
                worst_fixed = max(worst_fixed, abs(xk + s4 * ring.dx - xi))
                count += 1
    assert count > 100
    assert worst_exact <= 1e-15
    assert worst_fixed <= 1e-15
