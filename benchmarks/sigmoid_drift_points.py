"""Sigmoid drift points: where the leading non-translation eigenvalue of the dense Jacobian
crosses zero, computed independently of the continuation (issue 25, item 1).

Run: ``python benchmarks/sigmoid_drift_points.py --case 20:256 --case 50:512`` (minutes per case;
N = 1024 about ten; ``--quick``: steepness 20 at N 128, about a minute).

For each ``steepness:N`` (theta 0.1, gamma 2, D 0.3, sigmoid firing, cosine kernel) the stationary
bump is solved by Newton at each trial ``beta`` (warm-started from the nearest solved one). The
bump is symmetric about ``x = 0`` (checked), so the Jacobian ``J`` of the grid right-hand side
commutes with the reflection ``x -> -x`` (the Jacobian is taken at the bump's even part; the
odd part Newton leaves is printed as ``symmetry_defect``) and its odd block (basis
``e_j - e_{N-j}`` in each of ``u, q, a``) holds the translation mode and the drift mode (the
resource-mass mode is even). Its eigenvalues come from ``numpy.linalg.eig``.

On the grid the translation eigenvalue is not exactly 0 (sampling ``f(u)`` at the nodes pins
the bump), and next to the drift point the two odd modes mix: their eigenvalues ``mu1, mu2``
form an avoided crossing, ``mu1 mu2 ≈ -eps^2`` nearly constant and ``mu1 + mu2 ≈ s(beta)``
smooth, where ``s`` is the drift eigenvalue the continuum problem would have (its translation
eigenvalue being exactly 0). Away from the crossing the one whose eigenvector overlaps most
with ``d(u, q, a)/dx`` is the translation eigenvalue and the other is the leading
non-translation eigenvalue; at the crossing the two swap roles, so the leading
non-translation eigenvalue changes sign where ``s = mu1 + mu2`` does. That zero (the sum of the
odd block's two eigenvalues of largest real part) is found by Brent's method
(:func:`scipy.optimize.brentq`, relative tolerance 1e-8) on a bracket widened until the sign
changes. Nothing of the continuation's bordered determinant is used.

The pinning has opposite signs for a bump centred on a grid point and one centred midway
between two (the pinning potential is periodic in the bump's position, its second derivative
averages to zero), so ``--centre average`` takes the zero of the mean of the two sums: the
grid-free crossing to leading order (steepness 20, N 128: grid-centred 0.026950, midway
0.027634, mean 0.0272973, against the continuation's 0.0272981). ``--centre grid`` (default)
and ``mid`` give each alone.

Prints one JSON line per case: ``beta_eig`` (the crossing), the pinning splitting ``eps``
there, the leading non-translation eigenvalue identified by overlap at ``beta_eig (1 -+ 1e-3)``
(it must change sign there) and the bump's symmetry defect.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.optimize import brentq

from astrofield import Model
from astrofield.theory.steady import RingSystem, SteadyStateError, newton, steady_bump

BASE = {"theta": 0.1, "gamma": 2.0, "D": 0.3, "firing": "sigmoid"}


def _odd_basis(n: int, blocks: int, half: int) -> np.ndarray:
    """Orthonormal basis (columns) of the vectors odd under ``j -> N + half - j`` (mod N) in
    each block: the reflection about the grid point ``x = 0`` (``half = 0``) or about the
    cell's midpoint ``x = dx / 2`` (``half = 1``)."""
    j = np.arange(1, n // 2 + half)
    cols = []
    for b in range(blocks):
        B = np.zeros((blocks * n, j.size))
        B[b * n + j, np.arange(j.size)] = 1 / np.sqrt(2)
        B[b * n + (n + half - j) % n, np.arange(j.size)] = -1 / np.sqrt(2)
        cols.append(B)
    return np.concatenate(cols, axis=1)


def _shift_half_cell(v: np.ndarray, n: int) -> np.ndarray:
    """Each length-``n`` block of ``v`` moved by half a grid spacing (trigonometric)."""
    k = np.fft.rfftfreq(n, 1.0 / n)
    ph = np.exp(-1j * k * np.pi / n)
    return np.concatenate(
        [np.fft.irfft(np.fft.rfft(v[i : i + n]) * ph, n) for i in range(0, v.size, n)]
    )


class Crossing:
    """Sum of the odd block's two leading eigenvalues as a function of ``beta``, for the bump
    centred on a grid point (``half = 0``) or midway between two (``half = 1``)."""

    def __init__(self, steepness: float, N: int, beta0: float, half: int = 0) -> None:
        self.model = Model(**BASE, steepness=steepness, beta=beta0)
        st = steady_bump(self.model, N)
        self.system = st.system
        y = st.y
        if half:  # phase condition sin(x - dx/2): the bump centred midway
            self.system.sin_w = np.sin(self.system.x - 0.5 * self.system.dx) * self.system.dx
            y = np.concatenate([_shift_half_cell(y[:-1], N), y[-1:]])
            y, _, _ = newton(
                self.system.augmented, self.system.augmented_jacobian, y, maxit=30, tol=1e-9
            )
        self.half = half
        self.known = {beta0: y}
        self.P = _odd_basis(N, 3, half)
        self.log: list[dict] = []

    def _bump(self, beta: float) -> tuple[RingSystem, np.ndarray]:
        s = self.system.with_params(beta=beta)
        b0 = min(self.known, key=lambda k: abs(k - beta))
        try:
            y, _, _ = newton(s.augmented, s.augmented_jacobian, self.known[b0], maxit=30)
        except SteadyStateError:  # N >= 1024: rounding can keep the residual above 1e-10
            y, _, _ = newton(s.augmented, s.augmented_jacobian, self.known[b0], maxit=30, tol=1e-9)
        self.known[beta] = y
        return s, y

    def leading(self, beta: float) -> float:
        s, y = self._bump(beta)
        v = y[:-1]
        n = s.N
        refl = np.concatenate(
            [np.roll(v[k * n : (k + 1) * n][::-1], 1 + self.half) for k in range(3)]
        )
        sym = float(np.max(np.abs(v - refl)))
        v = 0.5 * (v + refl)  # the even part: the odd block is exact for it
        A = s.rhs_jacobian(v) / s.tau_vector()[:, None]
        Ao = self.P.T @ A @ self.P
        w, V = np.linalg.eig(Ao)
        trans = self.P.T @ np.concatenate([s.Dxi @ v[k * n : (k + 1) * n] for k in range(3)])
        overlap = np.abs(V.conj().T @ trans) / np.linalg.norm(trans)
        it = int(np.argmax(overlap))
        rest = np.delete(w, it)
        lead = rest[np.argmax(rest.real)]
        top = w[np.argsort(w.real)[-2:]]
        self.log.append(
            {
                "beta": beta,
                "leading": [lead.real, lead.imag],
                "translation": [w[it].real, w[it].imag],
                "sum": float(top.real.sum()),
                "eps": float(np.sqrt(abs((top[0] * top[1]).real))),
                "overlap": float(overlap[it]),
                "symmetry_defect": sym,
            }
        )
        return float(top.real.sum())


def crossing(
    steepness: float, N: int, guess: float, rtol: float = 1e-8, centre: str = "grid"
) -> dict:
    """Zero in ``beta`` of the odd block's leading-pair sum for the bump centred on a grid
    point (``centre="grid"``), midway (``"mid"``), or of the mean of the two (``"average"``:
    the pinning of the translation mode has opposite signs at the two centres and cancels to
    leading order)."""
    t0 = time.perf_counter()
    cs = [
        Crossing(steepness, N, guess, h)
        for h in {"grid": [0], "mid": [1], "average": [0, 1]}[centre]
    ]

    def f(beta):
        return float(np.mean([c.leading(beta) for c in cs]))

    lo, hi, h = guess, guess, 0.01 * guess
    flo = fhi = f(guess)
    for _ in range(12):  # widen until the sign changes
        if flo < 0 < fhi or fhi < 0 < flo:
            break
        if flo > 0:  # unstable at lo: the crossing lies below
            hi, fhi, lo = lo, flo, lo - h
            flo = f(lo)
        else:
            lo, flo, hi = hi, fhi, hi + h
            fhi = f(hi)
        h *= 2
    beta = brentq(f, lo, hi, rtol=rtol, xtol=1e-12)
    f(beta)
    roots = [c.log[-1] for c in cs]
    side = []
    for fac in (1 - 1e-3, 1 + 1e-3):
        f(beta * fac)
        side.append(cs[0].log[-1]["leading"][0])
    return {
        "steepness": steepness,
        "N": N,
        "centre": centre,
        "beta_eig": beta,
        "eps": [r["eps"] for r in roots],
        "leading_below_above": side,
        "symmetry_defect": max(r["symmetry_defect"] for r in roots),
        "evaluations": len(cs[0].log),
        "wall_s": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", default=[], help="steepness:N[:guess]")
    ap.add_argument("--quick", action="store_true", help="steepness 20 at N 128")
    ap.add_argument("--centre", choices=("grid", "mid", "average"), default="grid")
    ap.add_argument("--rtol", type=float, default=1e-8)
    a = ap.parse_args()
    cases = ["20:128:0.0273"] if a.quick else a.case
    for case in cases:
        parts = case.split(":")
        s, n = float(parts[0]), int(parts[1])
        guess = float(parts[2]) if len(parts) > 2 else 0.026
        print(json.dumps(crossing(s, n, guess, a.rtol, a.centre)), flush=True)


if __name__ == "__main__":
    main()
