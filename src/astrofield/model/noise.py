"""Spatially correlated additive noise for the activity equation.

The stochastic model is ``du = [-u + w * (q f(u)) + I] dt + sigma dW(x, t)`` with
``E[dW(x, t) dW(y, s)] = c(x - y) δ(t - s) dt ds``. The spatial correlation ``c`` is either
Gaussian, ``c(d) = exp(-d^2 / (2 lambda^2))`` on ring distances, or ``"cosine"``,
``c(d) = cos d`` (noise confined to the first Fourier mode, the case with a closed-form wandering
law, see :mod:`astrofield.applications.wandering`).
Increments are sampled exactly on the grid through the
circulant square root of the correlation matrix: with ``lam_k`` the discrete Fourier transform of
``c(x_j - x_0)``, ``dW = irfft(sqrt(lam_k) * rfft(xi)) sqrt(dt)`` for standard normal ``xi`` has
covariance ``c(x_i - x_j) dt``. Integration is Euler-Maruyama (strong order 1/2; additive noise
gives weak order 1).

Reference: Kilpatrick and Ermentrout, "Wandering bumps in stochastic neural fields",
SIAM J. Appl. Dyn. Syst. 12 (2013) 61-94.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from astrofield._validate import check_range
from astrofield.model.kernels import ring_distance

__all__ = ["Noise"]


@dataclass(frozen=True)
class Noise:
    """Additive noise specification.

    Parameters
    ----------
    sigma
        Noise amplitude (``sigma^2`` is the intensity ``eps``), >= 0.
    correlation
        Gaussian correlation length ``lambda`` (radians, > 0), or the string ``"cosine"``.
    seed
        Seed for :func:`numpy.random.default_rng` (reproducible runs).
    """

    sigma: float = 0.01
    correlation: float | str = 0.5
    seed: int | None = 0

    def __post_init__(self) -> None:
        check_range("noise sigma", self.sigma, 0, np.inf)
        if self.correlation != "cosine":
            check_range("noise correlation", self.correlation, 0, np.inf, lo_open=True)

    def correlation_function(self, d: np.ndarray) -> np.ndarray:
        d = ring_distance(d)
        if self.correlation == "cosine":
            return np.cos(d)
        return np.exp(-(d**2) / (2 * float(self.correlation) ** 2))

    def sampler(self, x: np.ndarray, batch: int):
        """Return ``draw(dt) -> (batch, N)`` noise increments ``sigma dW`` on grid ``x``.

        Each call creates a fresh :func:`numpy.random.default_rng` seeded with :attr:`seed`, so
        two samplers of the same noise draw the same sequence. ``draw(dt)`` takes the step
        length ``dt`` in neural time constants and returns increments with covariance
        ``sigma^2 c(x_i - x_j) dt`` between grid points, independent between rows and calls.

        Parameters
        ----------
        x
            The ring grid, 1-D of ``N`` equispaced points in rad on ``[-pi, pi)`` (the
            correlation is sampled at ``x - x[0]`` and diagonalised by the FFT, which assumes a
            uniform periodic grid).
        batch
            Number of independent rows ``B`` per draw (one per batch member).
        """
        n = x.size
        lam = np.fft.rfft(self.correlation_function(x - x[0])).real
        root = np.sqrt(np.clip(lam, 0.0, None))
        rng = np.random.default_rng(self.seed)
        sigma = self.sigma

        def draw(dt: float) -> np.ndarray:
            xi = rng.standard_normal((batch, n))
            return sigma * np.sqrt(dt) * np.fft.irfft(root * np.fft.rfft(xi, axis=-1), n=n,
                                                       axis=-1)

        return draw
