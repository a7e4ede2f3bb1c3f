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


def _odd_basis(n: int, blocks: int) -> np.ndarray:
    """Orthonormal basis (columns) of the vectors odd under ``j -> N - j`` in each block."""
    j = np.arange(1, n // 2)
    cols = []
    for b in range(blocks):
        B = np.zeros((blocks * n, j.size))
        B[b * n + j, np.arange(j.size)] = 1 / np.sqrt(2)
        B[b * n + n - j, np.arange(j.size)] = -1 / np.sqrt(2)
        cols.append(B)
    return np.concatenate(cols, axis=1)


class Crossing:
    """Leading non-translation eigenvalue of the odd block as a function of ``beta``."""

    def __init__(self, steepness: float, N: int, beta0: float) -> None:
        self.model = Model(**BASE, steepness=steepness, beta=beta0)
        st = steady_bump(self.model, N)
        self.system = st.system
        self.known = {beta0: st.y}
        self.P = _odd_basis(N, 3)
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
        refl = np.concatenate([np.roll(v[k * n : (k + 1) * n][::-1], 1) for k in range(3)])
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


def crossing(steepness: float, N: int, guess: float, rtol: float = 1e-8) -> dict:
    t0 = time.perf_counter()
    c = Crossing(steepness, N, guess)
    lo, hi, h = guess, guess, 0.01 * guess
    flo = fhi = c.leading(guess)
    for _ in range(12):  # widen until the sign changes
        if flo < 0 < fhi or fhi < 0 < flo:
            break
        if flo > 0:  # unstable at lo: the crossing lies below
            hi, fhi, lo = lo, flo, lo - h
            flo = c.leading(lo)
        else:
            lo, flo, hi = hi, fhi, hi + h
            fhi = c.leading(hi)
        h *= 2
    beta = brentq(c.leading, lo, hi, rtol=rtol, xtol=1e-12)
    c.leading(beta)
    root = c.log[-1]
    side = []
    for f in (1 - 1e-3, 1 + 1e-3):
        c.leading(beta * f)
        side.append(c.log[-1]["leading"][0])
    return {
        "steepness": steepness,
        "N": N,
        "beta_eig": beta,
        "eps": root["eps"],
        "leading_below_above": side,
        "symmetry_defect": root["symmetry_defect"],
        "evaluations": len(c.log),
        "wall_s": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", default=[], help="steepness:N[:guess]")
    ap.add_argument("--quick", action="store_true", help="steepness 20 at N 128")
    a = ap.parse_args()
    cases = ["20:128:0.0273"] if a.quick else a.case
    for case in cases:
        parts = case.split(":")
        s, n = float(parts[0]), int(parts[1])
        guess = float(parts[2]) if len(parts) > 2 else 0.026
        print(json.dumps(crossing(s, n, guess)), flush=True)


if __name__ == "__main__":
    main()
