"""External input ``I(x, t)``: Gaussian pulses on the ring.

A :class:`Pulse` adds ``amplitude * exp(-d(x, position)^2 / (2 width^2))`` for
``t_on <= t < t_off``, with ``d`` the ring distance. A :class:`Stimulus` is a sum of pulses (or
wraps any callable ``I(x, t)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from astrofield._validate import check_range
from astrofield.model.kernels import ring_distance

__all__ = ["Pulse", "Stimulus"]


@dataclass(frozen=True)
class Pulse:
    """A Gaussian input pulse.

    Parameters
    ----------
    position
        Centre on the ring (radians).
    width
        Gaussian width (radians), > 0.
    amplitude
        Peak input (units of ``u``); scalar or length-``B`` array (one amplitude per batch member).
    t_on, t_off
        The pulse is on for ``t_on <= t < t_off`` (dimensionless time).
    """

    position: float = 0.0
    width: float = 0.3
    amplitude: float = 1.0
    t_on: float = 0.0
    t_off: float = 1.0

    def __post_init__(self) -> None:
        check_range("pulse position", self.position)
        check_range("pulse width", self.width, 0, np.inf, lo_open=True, hi_open=True)
        check_range("pulse amplitude", self.amplitude)  # finite; negative = inhibitory input
        check_range("pulse t_on", self.t_on)
        check_range("pulse t_off", self.t_off, self.t_on, np.inf, lo_open=True)

    def profile(self, x: np.ndarray) -> np.ndarray:
        d = ring_distance(np.asarray(x) - self.position)
        with np.errstate(over="ignore"):  # (d / width)^2 -> inf for tiny widths: exp -> 0
            return np.exp(-0.5 * (d / np.float64(self.width)) ** 2)


class Stimulus:
    """Sum of pulses, or an arbitrary callable ``I(x, t) -> array broadcastable to (B, N)``."""

    def __init__(self, pulses: Iterable[Pulse] | Pulse | Callable | None = None) -> None:
        self.func: Callable | None = None
        if pulses is None:
            self.pulses: list[Pulse] = []
        elif isinstance(pulses, Pulse):
            self.pulses = [pulses]
        elif callable(pulses):
            self.pulses, self.func = [], pulses
        else:
            self.pulses = list(pulses)
        self._cache: tuple[int, list[np.ndarray]] | None = None

    def __bool__(self) -> bool:
        return bool(self.pulses) or self.func is not None

    def bind(self, x: np.ndarray) -> None:
        """Precompute each pulse's spatial profile times amplitude on the grid ``x``."""
        self._x = x
        self._prof = [
            np.asarray(p.amplitude, dtype=float).reshape(-1, 1) * p.profile(x) for p in self.pulses
        ]

    def __call__(self, t: float) -> np.ndarray | float:
        """Input on the bound grid at time ``t`` (0.0 when nothing is on)."""
        out: np.ndarray | float = 0.0
        for p, prof in zip(self.pulses, self._prof, strict=True):
            if p.t_on <= t < p.t_off:
                out = out + prof
        if self.func is not None:
            out = out + np.asarray(self.func(self._x, t), dtype=float)
        return out

    def describe(self) -> list[dict]:
        return [p.__dict__ for p in self.pulses] + ([{"callable": repr(self.func)}]
                                                    if self.func else [])
