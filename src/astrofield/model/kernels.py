"""Synaptic connectivity kernels on the ring ``x in [-pi, pi)``.

A kernel ``w(x)`` is evaluated on *ring distances* (``x`` wrapped to ``[-pi, pi)``), never on
``0..L`` as in the seed sketch. The simulator convolves with it through a circular FFT scaled by
the grid spacing ``dx``, so ``(w * g)(x_i) = sum_j w(x_i - x_j) g_j dx``.

The paper's kernel is :class:`Cosine` (``w = cos x``); for it the convolution is exactly
``C cos x + S sin x`` with ``C = ∫ cos y g dy`` and ``S = ∫ sin y g dy``, which the simulator uses
as a fast and exact path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from astrofield._validate import check_range

__all__ = ["Kernel", "Cosine", "Gaussian", "MexicanHat", "WizardHat", "make_kernel",
           "ring_distance"]


def ring_distance(x: np.ndarray) -> np.ndarray:
    """Wrap ``x`` to the signed ring distance in ``[-pi, pi)``."""
    return (np.asarray(x) + np.pi) % (2 * np.pi) - np.pi


@dataclass(frozen=True)
class Kernel:
    """Base class: a real, even, 2pi-periodic connectivity kernel."""

    name = "kernel"

    def profile(self, d: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """Kernel value at ring distance ``d`` (``|d| <= pi``)."""
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.profile(ring_distance(x))

    @property
    def is_cosine(self) -> bool:
        return False

    def describe(self) -> str:
        return repr(self)


@dataclass(frozen=True)
class Cosine(Kernel):
    """``w(x) = amplitude * cos(x)``: the paper's kernel (exact two-mode fast path)."""

    amplitude: float = 1.0
    name = "cosine"

    def profile(self, d):
        return self.amplitude * np.cos(d)

    @property
    def is_cosine(self) -> bool:
        return True


@dataclass(frozen=True)
class Gaussian(Kernel):
    """``w(x) = amplitude * exp(-x^2 / (2 width^2))`` on ring distances."""

    amplitude: float = 1.0
    width: float = 0.5
    name = "gaussian"

    def __post_init__(self):
        check_range("width", self.width, 0, np.inf, lo_open=True)

    def profile(self, d):
        return self.amplitude * np.exp(-(d**2) / (2 * self.width**2))


@dataclass(frozen=True)
class MexicanHat(Kernel):
    """Difference of Gaussians ``w_e exp(-x^2/2 s_e^2) - w_i exp(-x^2/2 s_i^2)`` (ring distance).

    The defaults give local excitation and broader inhibition on the ring of length ``2 pi``.
    """

    w_e: float = 2.0
    s_e: float = 0.5
    w_i: float = 1.0
    s_i: float = 1.0
    name = "mexican_hat"

    def __post_init__(self):
        check_range("s_e", self.s_e, 0, np.inf, lo_open=True)
        check_range("s_i", self.s_i, 0, np.inf, lo_open=True)

    def profile(self, d):
        return self.w_e * np.exp(-(d**2) / (2 * self.s_e**2)) - self.w_i * np.exp(
            -(d**2) / (2 * self.s_i**2)
        )


@dataclass(frozen=True)
class WizardHat(Kernel):
    """``w(x) = amplitude * (1 - |x|/scale) * exp(-|x|/scale)`` on ring distances."""

    amplitude: float = 1.0
    scale: float = 0.5
    name = "wizard_hat"

    def __post_init__(self):
        check_range("scale", self.scale, 0, np.inf, lo_open=True)

    def profile(self, d):
        r = np.abs(d) / self.scale
        return self.amplitude * (1 - r) * np.exp(-r)


_KERNELS = {"cosine": Cosine, "gaussian": Gaussian, "mexican_hat": MexicanHat,
            "mexican-hat": MexicanHat, "wizard_hat": WizardHat, "wizard-hat": WizardHat}


def make_kernel(kernel: str | Kernel | None = None, **kwargs) -> Kernel:
    """Return a :class:`Kernel` from a name (``cosine``, ``gaussian``, ``mexican_hat``,
    ``wizard_hat``) or pass an existing kernel through."""
    if kernel is None:
        return Cosine()
    if isinstance(kernel, Kernel):
        return kernel
    key = str(kernel).lower()
    if key not in _KERNELS:
        raise ValueError(f"kernel = {kernel!r} is not one of {sorted(set(_KERNELS))}")
    return _KERNELS[key](**kwargs)
