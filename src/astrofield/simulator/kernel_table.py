"""The connectivity kernel as the ring needs it: its samples and their Fourier transforms.

Every backend receives a :class:`KernelTable` (public arrays), never the kernel object: the
ring convolution needs only the kernel's samples on the grid. For the cosine kernel (and any
kernel recognised as ``A cos x``) the drive is exactly ``A (C cos x + S sin x)`` from the first
Fourier moments, so only ``amplitude`` is used; other kernels are convolved by FFT, with the
first-moment correction ``- w' * m1`` for partly active Heaviside cells (``w'`` by a central
difference of step ``1e-6``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from astrofield.model.kernels import Kernel

__all__ = ["KernelTable"]

#: Step of the central difference that gives ``w'`` (units of x, rad).
DW_STEP = 1e-6


@dataclass(frozen=True)
class KernelTable:
    """A kernel sampled on a ring of ``N`` points.

    Attributes
    ----------
    cosine : bool
        The kernel is ``amplitude * cos x`` (exact two-mode path; the arrays are then empty).
    amplitude : float
        Its amplitude (1 for non-cosine kernels).
    w, dw : ndarray ``(N,)``
        ``w(x_j - x_0)`` and ``w'(x_j - x_0)``.
    w_hat, dw_hat : complex ndarray ``(N // 2 + 1,)``
        Their real FFTs (the drive is ``irfft(w_hat * rfft(rho)) `` with cell masses ``rho``).
    """

    cosine: bool
    amplitude: float
    w: np.ndarray
    dw: np.ndarray
    w_hat: np.ndarray
    dw_hat: np.ndarray

    @classmethod
    def sample(cls, kernel: Kernel, x: np.ndarray) -> KernelTable:
        """Sample ``kernel`` on the grid ``x`` (equispaced on the ring).

        Parameters
        ----------
        kernel
            The connectivity kernel. One recognised as ``A cos x``
            (:attr:`~astrofield.model.kernels.Kernel.is_cosine`) gives the cosine table (its
            ``amplitude``, empty arrays) without being sampled.
        x
            The ring grid, 1-D of ``N`` equispaced points in rad on ``[-pi, pi)``; the kernel
            is sampled at the distances ``x - x[0]``.

        Raises
        ------
        ValueError
            If the kernel gives non-finite values on the grid.
        """
        if kernel.is_cosine:
            empty = np.zeros(0)
            return cls(True, float(getattr(kernel, "amplitude", 1.0)), empty, empty,
                       empty.astype(complex), empty.astype(complex))
        d = x - x[0]
        with np.errstate(all="ignore"):  # reported below as a non-finite kernel
            w = np.asarray(kernel(d), dtype=float)
            dw = (np.asarray(kernel(d + DW_STEP), float)
                  - np.asarray(kernel(d - DW_STEP), float)) / (2 * DW_STEP)
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(dw))):
            raise ValueError(f"kernel = {kernel.describe()} is not finite on the grid of "
                             f"N = {x.size} points")
        return cls(False, 1.0, w, dw, np.fft.rfft(w), np.fft.rfft(dw))
