"""The periodic grid on the ring and sub-grid quadrature of the active region.

Grid points ``x_j = -pi + j dx`` (``j = 0..N-1``, ``dx = 2 pi / N``); cell ``j`` is
``[x_j - dx/2, x_j + dx/2]``.

For Heaviside firing the active set ``{u > theta}`` is located *between* grid points: in every grid
interval where ``u - theta`` changes sign the crossing is found by Newton's method on the degree-7
Lagrange interpolant through the eight nearest values (eighth-order accurate in ``dx``; a cubic,
used before, left an ``O(dx^4)`` position-dependent error in the edge positions that made the exact
bump creep at ``~1e-8`` (N = 128), enough to seed a drift instability early: see
``docs/verdicts.md``). Each
cell then carries its exact active fraction ``phi_j`` and the exact integrals of ``cos y``,
``sin y`` and ``(y - x_j)`` over its active part. Quadrature built on these does not pin the bump
edges to grid points, which is what makes small grids give accurate positions and drift speeds
(plain sampling ``H(u_j - theta)`` moves an edge only when it jumps a whole cell).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from astrofield.simulator import compiled as _accel

__all__ = ["Ring", "EdgeGeometry"]


@dataclass
class EdgeGeometry:
    """Active-region quadrature data, each array shaped ``(B, N)``.

    Attributes
    ----------
    phi
        Active fraction of each cell, in [0, 1].
    mc, ms
        ``∫ cos y dy`` and ``∫ sin y dy`` over the active part of each cell.
    m1
        First moment ``∫ (y - x_j) dy`` over the active part of cell ``j`` (zero in full cells).
    """

    phi: np.ndarray
    mc: np.ndarray
    ms: np.ndarray
    m1: np.ndarray

    @property
    def width(self) -> np.ndarray:
        """Total active length per batch member (``sum phi dx``), shape ``(B,)``."""
        n = self.phi.shape[-1]
        return self.phi.sum(axis=-1) * (2 * np.pi / n)


@dataclass
class Ring:
    """Uniform periodic grid with ``N`` points on ``[-pi, pi)``."""

    N: int
    x: np.ndarray = field(init=False)
    dx: float = field(init=False)

    def __post_init__(self) -> None:
        self.dx = 2 * np.pi / self.N
        self.x = -np.pi + self.dx * np.arange(self.N)
        self.cos = np.cos(self.x)
        self.sin = np.sin(self.x)
        # exact integrals of cos / sin over each full cell
        fac = 2 * np.sin(self.dx / 2)
        self.cell_cos = fac * self.cos
        self.cell_sin = fac * self.sin
        #: The rows the compiled kernels read: ``x, cos x, sin x``, the cell integrals of
        #: ``cos`` and ``sin``, then :meth:`edge_bounds`.
        self.table = np.concatenate([np.stack([self.x, self.cos, self.sin, self.cell_cos,
                                               self.cell_sin]), self.edge_bounds()])
        self.k = np.fft.rfftfreq(self.N, d=1.0 / self.N)  # integer wavenumbers 0..N/2
        self._modes = np.stack([self.cos, self.sin]) * self.dx  # (2, N), contiguous rows

    def edge_bounds(self) -> np.ndarray:
        """``sin`` and ``cos`` of the fixed end of an edge cell's active part, shape ``(8, N)``.

        A crossing in ``(x_k, x_k + dx)`` lies in the cell centred on ``xc = x_k`` or
        ``x_k + dx``; its active part runs from the crossing to the cell boundary
        ``xc - dx / 2`` (falling edge) or ``xc + dx / 2`` (rising edge). Row pairs ``(sin,
        cos)``, indexed by ``k``: ``x_k - dx / 2``, ``x_k + dx / 2``, ``(x_k + dx) - dx / 2``,
        ``(x_k + dx) + dx / 2``, each rounded as the edge geometry rounds it and evaluated by
        the C library (``math.sin``), as the compiled kernel would.
        """
        h = self.dx / 2
        ends = (self.x - h, self.x + h, (self.x + self.dx) - h, (self.x + self.dx) + h)
        rows = []
        for e in ends:
            rows.append([math.sin(v) for v in e.tolist()])
            rows.append([math.cos(v) for v in e.tolist()])
        return np.array(rows)

    # ------------------------------------------------------------------ Fourier helpers
    def first_mode(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(∫ v cos x dx, ∫ v sin x dx)`` by the (spectrally accurate) trapezoid rule.

        Each row is summed on its own (not a matrix product, whose BLAS blocking, and so its
        rounding, depends on the number of rows): a parameter set gets the same bits in any
        batch."""
        return (v * self._modes[0]).sum(axis=-1), (v * self._modes[1]).sum(axis=-1)

    def phase(self, v: np.ndarray) -> np.ndarray:
        """Phase of the first Fourier mode of ``v`` (bump position, radians in (-pi, pi])."""
        c, s = self.first_mode(v)
        return np.arctan2(s, c)

    def integrate(self, v: np.ndarray) -> np.ndarray:
        """``∫ v dx`` over the ring (trapezoid rule, exact for cell averages)."""
        return v.sum(axis=-1) * self.dx

    # ------------------------------------------------------------------ active region
    def edges(self, u: np.ndarray, theta: np.ndarray | float) -> EdgeGeometry:
        """Sub-grid geometry of the active region ``{u > theta}``.

        Parameters
        ----------
        u
            Field values at the grid points, shape ``(B, N)``.
        theta
            Threshold, scalar or shape ``(B, 1)``.

        Notes
        -----
        Assumes each cell contains at most one crossing (edges resolved by the grid).
        """
        if _accel.ENABLED:
            th = np.broadcast_to(np.asarray(theta, dtype=float).reshape(-1), (u.shape[0],))
            return EdgeGeometry(*_accel.edges_compiled(np.ascontiguousarray(u, dtype=float),
                                                       np.ascontiguousarray(th), self.table))
        n, dx = self.N, self.dx
        v = u - theta
        above = v > 0
        phi = above.astype(float)
        mc = phi * self.cell_cos
        ms = phi * self.cell_sin
        m1 = np.zeros_like(phi)
        change = above[:, :-1] != above[:, 1:]
        wrap = above[:, -1] != above[:, 0]
        b, k = np.nonzero(np.concatenate([change, wrap[:, None]], axis=1))
        if b.size == 0:
            return EdgeGeometry(phi, mc, ms, m1)
        v0 = v[b, k]
        v1 = v[b, (k + 1) % n]
        # Lagrange interpolant through the stencil nodes around k, monomial coefficients in s
        vals = np.stack([v[b, (k + int(i)) % n] for i in _accel.STENCIL], axis=-1)
        coef = vals @ _accel.VINV.T
        top = coef.shape[1] - 1
        s = v0 / (v0 - v1)  # linear estimate of the crossing, in units of dx from x_k
        for _ in range(4):  # Newton; the linear estimate is already O(dx^2) accurate
            p = coef[:, top]
            dp = np.zeros_like(s)
            for j in range(top - 1, -1, -1):
                dp = dp * s + p
                p = p * s + coef[:, j]
            s = s - p / np.where(dp == 0, 1.0, dp)
        s = np.clip(s, 0.0, 1.0)
        xi = self.x[k] + s * dx
        in_next = s >= 0.5
        xc = self.x[k] + np.where(in_next, dx, 0.0)
        c = (k + in_next) % n
        falling = above[b, k]  # active to the left of the crossing
        lo = np.where(falling, xc - dx / 2, xi)
        hi = np.where(falling, xi, xc + dx / 2)
        phi[b, c] = (hi - lo) / dx
        mc[b, c] = np.sin(hi) - np.sin(lo)
        ms[b, c] = np.cos(lo) - np.cos(hi)
        m1[b, c] = 0.5 * ((hi - xc) ** 2 - (lo - xc) ** 2)
        return EdgeGeometry(phi, mc, ms, m1)

