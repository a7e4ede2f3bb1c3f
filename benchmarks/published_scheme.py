"""The published time-stepping scheme, re-implemented in plain numpy as a baseline.

Written from the model equations (ring ``x in [-pi, pi)``, cosine kernel, Heaviside
firing), one parameter set at a time, as described for Palmer, Cihak, Avitabile, Kilpatrick,
arXiv:2604.10036 (2026):

* ``u``: forward Euler, ``u += dt (-u + C cos x + S sin x)`` with ``C = dx sum cos(y) q f``,
  ``S = dx sum sin(y) q f`` (exact for ``w = cos``, rectangle rule in ``y``);
* ``q``: integrating factor with frozen coefficients over the step,
  ``tau q_t = gamma a - (gamma a + beta f) q`` ->
  ``q+ = q_inf + (q - q_inf) exp(-k dt)``, ``k = (gamma a + beta f) / tau``,
  ``q_inf = gamma a / (gamma a + beta f)``;
* ``a``: backward Euler for the diffusion with the exchange flux explicit,
  ``(I - dt D / tau L) a+ = a + dt J / tau``, ``J = beta q f - gamma a (1 - q)``, ``L`` the
  periodic second-difference matrix, factorised once by :func:`scipy.sparse.linalg.splu`;
* ``f = H(u_j - theta)`` sampled at the grid points.

``q`` and ``a`` receive *different* exchange increments, so ``∫ (q + a) dx`` is not conserved
exactly, and the sampled Heaviside pins the bump edges to grid points: the edge positions, and
with them the drift, carry an error of order ``dx = 2 pi / N`` (``2e-3`` rad at ``N = 3000``)
that does not shrink with ``dt``. Near the stability boundary pinning can even stop a slowly
travelling bump. This is the "grid-pinning error" against which
``tests/test_figures.py`` compares astrofield's drift.

Bump position: unwrapped phase of the first Fourier mode of ``u``; velocity: its time derivative
at ``T``, from ``du/dt``.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from astrofield.theory.bump import bump_branches

__all__ = ["run_published"]


def run_published(theta: float = 0.1, beta: float = 0.05, gamma: float = 2.0, D: float = 0.7,
                  *, N: int = 3000, dt: float = 0.01, T: float = 500.0, eps: float = 0.05,
                  tau: float = 1.0) -> dict[str, float]:
    """Drift experiment with the published scheme for one parameter set.

    Returns
    -------
    dict
        ``drift`` (rad), ``velocity`` (rad per unit time, at ``T``), ``mass_drift`` (relative
        change of ``∫ (q + a) dx``), ``steps``, ``wall_s`` and ``s_per_step``.
    """
    if not np.isfinite(D) or D <= 0:
        raise ValueError(f"D = {D:g} is outside the allowed range (0, inf) for this scheme")
    br = bump_branches(theta, beta, gamma)["wide"]
    if not bool(br["exists"]):
        raise ValueError(f"no stationary bump exists for theta = {theta:g}, beta = {beta:g}, "
                         f"gamma = {gamma:g}")
    Delta, c0, A0 = float(br["Delta"]), float(br["c0"]), float(br["A0"])
    dx = 2 * np.pi / N
    x = -np.pi + dx * np.arange(N)
    cx, sx = np.cos(x), np.sin(x)
    amp = 2 * c0 * np.sin(Delta)
    u = amp * cx + eps * amp * sx
    q = np.where(np.abs(x) < Delta, c0, 1.0)
    a = np.full(N, A0)
    r = dt * D / (tau * dx * dx)
    main = np.full(N, 1 + 2 * r)
    off = np.full(N - 1, -r)
    M = sp.diags([main, off, off], [0, 1, -1], format="lil")
    M[0, N - 1] = -r
    M[N - 1, 0] = -r
    lu = splu(M.tocsc())
    n_steps = int(round(T / dt))

    def phase(v: np.ndarray) -> float:
        return float(np.arctan2(sx @ v, cx @ v))

    mass0 = (q + a).sum() * dx
    p0 = phase(u)
    pos, last = p0, p0
    t0 = time.perf_counter()
    for _ in range(n_steps):
        f = (u > theta).astype(float)
        qf = q * f
        drive = dx * ((cx @ qf) * cx + (sx @ qf) * sx)
        gam_a = gamma * a
        J = beta * qf - gam_a * (1 - q)
        k = (gam_a + beta * f) / tau
        with np.errstate(invalid="ignore", divide="ignore"):
            q_inf = np.where(k > 0, gam_a / np.maximum(gam_a + beta * f, 1e-300), q)
        q = q_inf + (q - q_inf) * np.exp(-k * dt)
        a = lu.solve(a + dt * J / tau)
        u = u + dt * (-u + drive)
        ph = phase(u)
        pos += (ph - last + np.pi) % (2 * np.pi) - np.pi
        last = ph
    wall = time.perf_counter() - t0
    f = (u > theta).astype(float)
    du = -u + dx * ((cx @ (q * f)) * cx + (sx @ (q * f)) * sx)
    c, s = cx @ u, sx @ u
    dc, ds = cx @ du, sx @ du
    vel = (c * ds - s * dc) / (c * c + s * s)
    return {"drift": pos - p0, "velocity": float(vel),
            "mass_drift": float(((q + a).sum() * dx - mass0) / mass0), "steps": n_steps,
            "wall_s": wall, "s_per_step": wall / max(n_steps, 1)}


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    T = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    print(json.dumps(run_published(T=T)))
