"""Low-dimensional Fourier truncation of the bump linearisation.

The perturbations of ``(u, q, a)`` are projected on ``(cos x, sin x)``: six amplitudes
``v = (psi_c, psi_s, phi_c, phi_s, alpha_c, alpha_s)`` with ``v' = Z v``, ``Z = M A``::

    M = [[I, 0, 0], [0, I, 0], [0, -I, I]]               (2 x 2 blocks; alpha' = J - phi')
    A = [[F - I,        I,                0               ],
         [-mu beta R,  -(gamma A0 + beta) I, gamma (1 - c0) I],
         [0,            0,               -D I             ]]
    F = mu [[(1 + c0) cos^2 D, (1 - c0) sin D cos D], [(1 - c0) sin D cos D, (1 + c0) sin^2 D]]
    R = [[cos^2 D, sin D cos D], [sin D cos D, sin^2 D]]

The translation mode ``(0, 1, 0, -c, 0, 0)``-direction makes ``Z``
exactly singular: ``(gamma A0 + beta)(F - I) - mu beta R`` annihilates ``(0, 1)`` because
``gamma A0 + beta = beta / (1 - c0)`` and ``mu (1 + c0) sin^2 Delta - 1 = (1 - c0) / (2 c0)``.
``D = inf`` removes the ``alpha`` block (it relaxes infinitely fast), leaving a 4 x 4 matrix.

Only eigenvalues whose eigenvector describes a *shift* are kept: the edge displacements
``psi(+Delta) = v1 cos D + v2 sin D`` and ``psi(-Delta) = v1 cos D - v2 sin D`` have opposite
signs. For complex eigenvectors the phase-invariant test ``Re(psi(+Delta) conj psi(-Delta)) < 0``
is used. The verdict is *unstable* if a kept **real** eigenvalue exceeds ``1e-11`` (complex kept
eigenvalues with positive real part are reported in ``max_real`` but, as for the Evans function,
are formal: the truncation assigns resting resource to the outward edge and depleted resource to
the inward edge, which oscillating edges do not respect; see ``docs/verdicts.md``).

As a smooth indicator (for root finding) :func:`fourier_dprime` returns ``p'(0)`` of the
characteristic polynomial ``p(lambda) = det(lambda I - Z)``, i.e. the product of ``-lambda_j`` over
the non-translation eigenvalues: positive when they are all stable, changing sign when a real
eigenvalue crosses zero (the analogue of ``E'(0)``).

Reference: Palmer, Cihak, Avitabile, Kilpatrick, "Astrocytic resource diffusion stabilizes
persistent activity in neural fields", arXiv:2604.10036 (2026).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from astrofield._validate import check_range
from astrofield.theory.bump import bump_branches

__all__ = ["fourier_matrix", "fourier_spectrum", "fourier_stability", "fourier_dprime",
           "real_unstable_count", "UNSTABLE_TOL"]

UNSTABLE_TOL = 1e-11


def real_unstable_count(w: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Number of kept eigenvalues that are real (``|Im| <= 1e-9 max(1, |w|)``) and ``> 1e-11``."""
    with np.errstate(invalid="ignore"):
        real = np.abs(w.imag) <= 1e-9 * np.maximum(1.0, np.abs(w))
        return np.sum(kept & real & (w.real > UNSTABLE_TOL), axis=-1)


def _matrix_core(Delta, c0, beta, gamma, D) -> np.ndarray:
    """``Z`` for broadcastable arrays: ``(..., 6, 6)``, or ``(..., 4, 4)`` if all ``D = inf``."""
    Delta, c0, beta, gamma, D = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (Delta, c0, beta, gamma, D)))
    cD, sD = np.cos(Delta), np.sin(Delta)
    mu = 1.0 / (2.0 * c0 * sD * sD)
    A0 = Delta * (1.0 - c0) / np.pi
    rate = gamma * A0 + beta
    k = gamma * (1.0 - c0)
    f1, f2, f3 = mu * (1 + c0) * cD**2, mu * (1 - c0) * sD * cD, mu * (1 + c0) * sD**2
    f4, f5, f6 = mu * beta * cD**2, mu * beta * sD * cD, mu * beta * sD**2
    A = np.zeros(Delta.shape + (6, 6))
    A[..., 0, 0], A[..., 0, 1], A[..., 0, 2] = f1 - 1, f2, 1.0
    A[..., 1, 0], A[..., 1, 1], A[..., 1, 3] = f2, f3 - 1, 1.0
    A[..., 2, 0], A[..., 2, 1], A[..., 2, 2], A[..., 2, 4] = -f4, -f5, -rate, k
    A[..., 3, 0], A[..., 3, 1], A[..., 3, 3], A[..., 3, 5] = -f5, -f6, -rate, k
    Dfin = np.where(np.isfinite(D), D, 0.0)
    A[..., 4, 4] = -Dfin
    A[..., 5, 5] = -Dfin
    Z = A.copy()
    Z[..., 4:, :] = A[..., 4:, :] - A[..., 2:4, :]   # M A: alpha rows get  (alpha) - (phi)
    inf = ~np.isfinite(D)
    if inf.all():
        return Z[..., :4, :4]
    if inf.any():
        raise ValueError("mix finite and infinite D in separate calls")
    return Z


def _bump(theta, beta, gamma, branch):
    br = bump_branches(theta, beta, gamma)
    q = br[branch]
    return q["Delta"], q["c0"], br["beta"], br["gamma"], q["exists"]


def _check(D, branch):
    if branch not in ("wide", "narrow"):
        raise ValueError(f"branch = {branch!r} is not one of ('wide', 'narrow')")
    return check_range("D", D, 0.0, np.inf, lo_open=True, allow_inf=True)


def fourier_matrix(theta: ArrayLike, beta: ArrayLike, gamma: ArrayLike, D: ArrayLike,
                   branch: str = "wide") -> np.ndarray:
    """The truncation matrix ``Z`` (``(..., 6, 6)``; ``(..., 4, 4)`` for ``D = inf``)."""
    D = _check(D, branch)
    Delta, c0, be, ga, _ = _bump(theta, beta, gamma, branch)
    return _matrix_core(Delta, c0, be, ga, D)


def _spectrum_core(Delta, c0, beta, gamma, D):
    Delta, c0, beta, gamma, D = np.broadcast_arrays(Delta, c0, beta, gamma, D)
    Z = _matrix_core(Delta, c0, beta, gamma, D)
    bad = ~np.isfinite(Z).all(axis=(-1, -2))
    Zs = np.where(bad[..., None, None], 0.0, Z)
    w, V = np.linalg.eig(Zs)
    cD, sD = np.cos(Delta)[..., None], np.sin(Delta)[..., None]
    right = V[..., 0, :] * cD + V[..., 1, :] * sD
    left = V[..., 0, :] * cD - V[..., 1, :] * sD
    kept = np.real(right * np.conj(left)) < 0
    w = np.where(bad[..., None], np.nan, w)
    return w, kept, Z


def fourier_spectrum(theta: ArrayLike, beta: ArrayLike, gamma: ArrayLike, D: ArrayLike,
                     branch: str = "wide") -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of ``Z`` and the shift-mode mask.

    Parameters
    ----------
    theta, beta, gamma, D
        Threshold (dimensionless), depletion and replenishment rates (per unit time) and
        astrocytic diffusion (rad^2 per unit time; ``inf`` for the well-mixed limit), broadcast
        together.
    branch
        Bump branch, ``"wide"`` (default) or ``"narrow"``.

    Returns
    -------
    eigenvalues, kept
        Arrays of shape ``(..., 6)`` (``(..., 4)`` for ``D = inf``); ``kept`` marks the
        eigenvalues whose eigenvector is a shift (edges moving in opposite directions).
    """
    D = _check(D, branch)
    Delta, c0, be, ga, _ = _bump(theta, beta, gamma, branch)
    w, kept, _ = _spectrum_core(Delta, c0, be, ga, D)
    return w, kept


def _dprime_core(Z: np.ndarray) -> np.ndarray:
    """``p'(0)`` of ``det(lambda I - Z)``: the sum of the principal ``(n-1)``-minors of ``-Z``."""
    n = Z.shape[-1]
    tot = np.zeros(Z.shape[:-2])
    for j in range(n):
        idx = [i for i in range(n) if i != j]
        tot = tot + np.linalg.det(-Z[..., idx, :][..., :, idx])
    return tot


def fourier_dprime(theta: ArrayLike, beta: ArrayLike, gamma: ArrayLike, D: ArrayLike,
                   branch: str = "wide") -> np.ndarray:
    """``p'(0)`` of ``p(lambda) = det(lambda I - Z)`` (``p(0) = 0``); ``> 0`` on the stable side."""
    D = _check(D, branch)
    Delta, c0, be, ga, ex = _bump(theta, beta, gamma, branch)
    Delta, c0, be, ga, D = np.broadcast_arrays(Delta, c0, be, ga, D)
    Z = _matrix_core(np.where(ex, Delta, 1.0), np.where(ex, c0, 0.5), be, ga, D)
    return np.where(ex, _dprime_core(Z), np.nan)


def fourier_stability(theta: ArrayLike, beta: ArrayLike, gamma: ArrayLike, D: ArrayLike,
                      branch: str = "wide") -> dict[str, np.ndarray]:
    """Fourier-truncation verdict (vectorised).

    Parameters
    ----------
    theta, beta, gamma, D
        Threshold (dimensionless), depletion and replenishment rates (per unit time) and
        astrocytic diffusion (rad^2 per unit time; ``inf`` for the well-mixed limit), broadcast
        together.
    branch
        Bump branch, ``"wide"`` (default) or ``"narrow"``.

    Returns
    -------
    dict
        ``stable`` (bool; ``False`` where no bump; no kept real eigenvalue above ``1e-11``),
        ``n_real`` (that count), ``max_real`` (largest real part among the kept eigenvalues,
        complex ones included), ``dprime`` (:func:`fourier_dprime`), ``eigenvalues`` and
        ``kept``.
    """
    D = _check(D, branch)
    Delta, c0, be, ga, ex = _bump(theta, beta, gamma, branch)
    Delta, c0, be, ga, D, ex = np.broadcast_arrays(Delta, c0, be, ga, D, ex)
    w, kept, Z = _spectrum_core(np.where(ex, Delta, 1.0), np.where(ex, c0, 0.5), be, ga, D)
    max_real = np.max(np.where(kept, w.real, -np.inf), axis=-1)
    max_real = np.where(ex, max_real, np.nan)
    n_real = real_unstable_count(w, kept)
    stable = ex & (n_real == 0)
    return {"stable": stable, "n_real": np.where(ex, n_real, -1), "max_real": max_real,
            "dprime": np.where(ex, _dprime_core(Z), np.nan),
            "eigenvalues": w, "kept": kept & ex[..., None]}
