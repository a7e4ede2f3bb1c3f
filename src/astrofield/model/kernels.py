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

from astrofield._validate import check_range, probe_function

__all__ = ["Kernel", "KernelFunction", "Cosine", "Gaussian", "MexicanHat", "WizardHat",
           "make_kernel", "ring_distance"]

from collections.abc import Callable

#: Samples per ring on which a user kernel is checked and its Fourier content measured.
_SAMPLES = 256
#: Relative size below which a user kernel's Fourier modes other than ``cos x`` count as absent
#: (the kernel is then exactly ``amplitude cos x`` to round-off and takes the exact cosine path).
_COSINE_TOL = 1e-12


#: Largest magnitude of a kernel's amplitude-like parameter: larger values overflow the kernel's
#: norm or a quadrature of it (``|w| * 2 pi`` and products with the state must stay finite).
AMPLITUDE_MAX = 1e100


def _check_amplitude(name: str, value: float) -> None:
    """Refuse a non-finite or overflowing amplitude-like kernel parameter (by range)."""
    check_range(name, value, -AMPLITUDE_MAX, AMPLITUDE_MAX)


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

    def __post_init__(self):
        _check_amplitude("amplitude", self.amplitude)

    def profile(self, d):
        return self.amplitude * np.cos(d)

    @property
    def is_cosine(self) -> bool:
        return True


@dataclass(frozen=True)
class Gaussian(Kernel):
    """``w(x) = amplitude * exp(-x^2 / (2 width^2))`` on ring distances.

    Parameters
    ----------
    amplitude
        Peak value ``w(0)`` (any sign; negative gives an inhibitory kernel).
    width
        Standard deviation of the Gaussian, in rad on the ring, > 0.
    """

    amplitude: float = 1.0
    width: float = 0.5
    name = "gaussian"

    def __post_init__(self):
        _check_amplitude("amplitude", self.amplitude)
        check_range("width", self.width, 0, np.inf, lo_open=True)

    def profile(self, d):
        return self.amplitude * np.exp(-(d**2) / (2 * self.width**2))


@dataclass(frozen=True)
class MexicanHat(Kernel):
    """Difference of Gaussians ``w_e exp(-x^2/2 s_e^2) - w_i exp(-x^2/2 s_i^2)`` (ring distance).

    The defaults give local excitation and broader inhibition on the ring of length ``2 pi``.

    Parameters
    ----------
    w_e
        Peak of the excitatory Gaussian (added; ``|w_e| <= 1e100``).
    s_e
        Width (standard deviation) of the excitatory Gaussian, in rad, > 0.
    w_i
        Peak of the inhibitory Gaussian (subtracted; ``|w_i| <= 1e100``).
    s_i
        Width (standard deviation) of the inhibitory Gaussian, in rad, > 0.
    """

    w_e: float = 2.0
    s_e: float = 0.5
    w_i: float = 1.0
    s_i: float = 1.0
    name = "mexican_hat"

    def __post_init__(self):
        _check_amplitude("w_e", self.w_e)
        _check_amplitude("w_i", self.w_i)
        check_range("s_e", self.s_e, 0, np.inf, lo_open=True)
        check_range("s_i", self.s_i, 0, np.inf, lo_open=True)

    def profile(self, d):
        return self.w_e * np.exp(-(d**2) / (2 * self.s_e**2)) - self.w_i * np.exp(
            -(d**2) / (2 * self.s_i**2)
        )


@dataclass(frozen=True)
class WizardHat(Kernel):
    """``w(x) = amplitude * (1 - |x|/scale) * exp(-|x|/scale)`` on ring distances.

    Parameters
    ----------
    amplitude
        Peak value ``w(0)`` (any sign).
    scale
        Length scale in rad, > 0: ``w`` changes sign at ``|x| = scale`` and is most negative at
        ``|x| = 2 scale``.
    """

    amplitude: float = 1.0
    scale: float = 0.5
    name = "wizard_hat"

    def __post_init__(self):
        _check_amplitude("amplitude", self.amplitude)
        check_range("scale", self.scale, 0, np.inf, lo_open=True)

    def profile(self, d):
        r = np.abs(d) / self.scale
        return self.amplitude * (1 - r) * np.exp(-r)


class KernelFunction(Kernel):
    """A user's kernel ``x -> w(x)``, evaluated on ring distances ``x in [-pi, pi)``.

    The ring needs only the kernel's samples (the simulator convolves by FFT, the numerical
    theory samples it on its grid). A function that is ``A cos x`` to round-off (all other
    Fourier modes below ``1e-12`` of the largest, checked on 256 samples) is recognised as the
    cosine kernel with amplitude ``A``: it then takes the exact two-mode path of
    :class:`Cosine` and the Evans-function theory applies to it.

    Parameters
    ----------
    function
        Vectorised callable: array of ring distances in, array of the same shape out, finite.
    name
        Label for output attributes (default: the function's ``__name__``).
    """

    name = "function"

    def __init__(self, function: Callable, name: str | None = None) -> None:
        if not callable(function):
            raise TypeError(f"kernel = {function!r} is not callable")
        object.__setattr__(self, "function", function)
        object.__setattr__(self, "label", name or getattr(function, "__name__", "function"))
        d = ring_distance(np.linspace(-np.pi, np.pi, _SAMPLES, endpoint=False))
        w = probe_function(function, d, f"kernel function {self.label!r}",
                           where=lambda bad: "on [-pi, pi)")
        c = np.fft.rfft(w) / (_SAMPLES / 2)
        scale = max(float(np.max(np.abs(c))), 1e-300)
        others = np.delete(np.abs(c), 1)
        cosine = bool(np.max(others) <= _COSINE_TOL * scale and abs(c[1].imag) <= _COSINE_TOL
                      * scale and scale > 1e-300)
        # A = w(0) for a cosine (sample _SAMPLES // 2 is d = 0)
        object.__setattr__(self, "_cosine", cosine)
        object.__setattr__(self, "amplitude", float(w[_SAMPLES // 2]) if cosine else 1.0)

    def profile(self, d):
        return np.asarray(self.function(np.asarray(d, dtype=float)), dtype=float)

    @property
    def is_cosine(self) -> bool:
        return self._cosine

    def describe(self) -> str:
        return f"function {self.label}" + (f" (= {self.amplitude:g} cos x)" if self._cosine
                                            else "")

    def __repr__(self) -> str:
        return f"KernelFunction({self.label})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KernelFunction) and other.function is self.function

    def __hash__(self) -> int:
        return hash(id(self.function))


_KERNELS = {"cosine": Cosine, "gaussian": Gaussian, "mexican_hat": MexicanHat,
            "mexican-hat": MexicanHat, "wizard_hat": WizardHat, "wizard-hat": WizardHat}


def make_kernel(kernel: str | Kernel | None = None, **kwargs) -> Kernel:
    """Return a :class:`Kernel` from a name (``cosine``, ``gaussian``, ``mexican_hat``,
    ``wizard_hat``; ``kwargs`` are its parameters), pass an existing kernel through, or wrap a
    function ``x -> w(x)`` as a :class:`KernelFunction`.

    Parameters
    ----------
    kernel
        ``None`` (the cosine kernel), a built-in name (case-insensitive; ``mexican-hat`` and
        ``wizard-hat`` are accepted too), a :class:`Kernel` (returned unchanged, ``kwargs``
        ignored), or a vectorised callable ``x -> w(x)`` on ring distances in rad.
    **kwargs
        Constructor arguments of the named kernel class (e.g. ``amplitude``, ``width`` for
        :class:`Gaussian`; for ``None``, those of :class:`Cosine`), or ``name`` for a callable
        (:class:`KernelFunction`).

    Raises
    ------
    ValueError
        For an unknown name, or a parameter outside its range.
    """
    if kernel is None:
        return Cosine(**kwargs)
    if isinstance(kernel, Kernel):
        return kernel
    if callable(kernel) and not isinstance(kernel, str):
        return KernelFunction(kernel, **kwargs)
    key = str(kernel).lower()
    if key not in _KERNELS:
        raise ValueError(f"kernel = {kernel!r} is not one of {sorted(set(_KERNELS))}, a Kernel "
                         "object or a vectorised function x -> w(x) on [-pi, pi)")
    return _KERNELS[key](**kwargs)
