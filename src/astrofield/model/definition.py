"""Declarative description of the astrocyte-neural field model.

On the ring ``x in [-pi, pi)`` with dimensionless time (neural time constant 1)::

    u_t     = -u + ∫ w(x - y) q(y) f(u(y)) dy + I(x, t)
    tau q_t = gamma a (1 - q) - beta q f(u)
    tau a_t = D a_xx + beta q f(u) - gamma a (1 - q)

``u`` is the synaptic input, ``q`` the available synaptic resource (fraction, 0..1) and ``a`` the
astrocytic resource pool. The exchange flux ``J = beta q f(u) - gamma a (1 - q)`` leaves ``q`` and
enters ``a``; with periodic diffusion the total resource ``∫ (q + a) dx`` is conserved.

Every rate may be a scalar or a 1-D array: a :class:`Model` with array parameters describes a
*batch* of parameter sets that :func:`astrofield.solve` integrates in one vectorised loop.

Reference: Palmer, Cihak, Avitabile, Kilpatrick, "Astrocytic resource diffusion stabilizes
persistent activity in neural fields", arXiv:2604.10036 (2026).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np

from astrofield._validate import PARAMETER_RANGES, check_range
from astrofield.model.firing import Firing, firing_names, make_firing
from astrofield.model.kernels import Kernel, make_kernel

if TYPE_CHECKING:  # annotations only
    from numpy.typing import ArrayLike

__all__ = ["Model", "PARAMETER_RANGES", "FIRING"]

# PARAMETER_RANGES (name -> (lo, hi, lo_open, hi_open, allow_inf)), the checks Model applies, is
# the one table of parameter limits; it lives in astrofield._validate and is re-exported here.
#: Names of the built-in firing rates when this module was imported (see
#: :func:`astrofield.model.firing.firing_names` for the live registry).
FIRING = tuple(firing_names())
_RATE_NAMES = ("theta", "beta", "gamma", "tau", "D", "steepness")


@dataclass(frozen=True)
class Model:
    """Parameters of the ring model.

    Parameters
    ----------
    theta
        Firing threshold, in (0, 1). Paper range 0.03-0.3, default 0.1.
    beta
        Resource depletion rate, >= 0. Paper range 0.001-0.3, default 0.05.
    gamma
        Replenishment rate, >= 0. Paper range 1-2, default 2.
    tau
        Resource time scale (units of the neural time constant), > 0. Default 1.
    D
        Astrocytic diffusion coefficient, >= 0, ``inf`` for the well-mixed limit. Default 0.7.
    firing
        The firing rate ``f(u)``: a built-in name (``"heaviside"``, ``f = H(u - theta)``, the
        paper's choice; ``"sigmoid"``, ``f = 1 / (1 + exp(-steepness (u - theta)))``;
        ``"threshold_tanh"``), a :class:`~astrofield.model.firing.Firing` object, or any
        vectorised Python function ``u -> f(u)`` (wrapped as
        :class:`~astrofield.model.firing.FiringFunction`). Stored as a ``Firing`` object.
    steepness
        Steepness ``s`` of the built-in smooth rates (ignored by Heaviside firing and by user
        functions).
    kernel
        A :class:`~astrofield.model.kernels.Kernel`, its name, or any Python function
        ``x -> w(x)`` on ring distances ``x in [-pi, pi)`` (wrapped as
        :class:`~astrofield.model.kernels.KernelFunction`); default the cosine kernel.

    Notes
    -----
    Any of ``theta, beta, gamma, tau, D, steepness`` may be a 1-D array of length ``B`` (others
    scalar or the same length): the model then stands for ``B`` parameter sets.
    """

    theta: ArrayLike = 0.1
    beta: ArrayLike = 0.05
    gamma: ArrayLike = 2.0
    tau: ArrayLike = 1.0
    D: ArrayLike = 0.7
    firing: Firing | str | Callable = "heaviside"
    steepness: ArrayLike = 50.0
    kernel: Kernel | str | Callable = field(default="cosine")

    def __post_init__(self) -> None:
        for name in _RATE_NAMES:
            lo, hi, lo_open, hi_open, allow_inf = PARAMETER_RANGES[name]
            arr = check_range(name, getattr(self, name), lo, hi, lo_open=lo_open,
                              hi_open=hi_open, allow_inf=allow_inf)
            if arr.ndim > 1:
                raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {arr.shape}")
            object.__setattr__(self, name, float(arr) if arr.ndim == 0 else arr)
        object.__setattr__(self, "firing", make_firing(self.firing))
        object.__setattr__(self, "kernel", make_kernel(self.kernel))
        self.batch_size  # noqa: B018 - validates that array lengths agree

    @property
    def batch_size(self) -> int:
        """Number of parameter sets ``B`` described by this model."""
        sizes = {np.size(getattr(self, n)) for n in _RATE_NAMES} - {1}
        if len(sizes) > 1:
            lengths = ", ".join(f"{n} has {np.size(getattr(self, n))}" for n in _RATE_NAMES
                                if np.size(getattr(self, n)) > 1)
            raise ValueError(f"parameter arrays have different lengths ({lengths}); give "
                             "scalars or arrays of one length B (one value per member)")
        return sizes.pop() if sizes else 1

    @property
    def is_batched(self) -> bool:
        return any(np.ndim(getattr(self, n)) == 1 for n in _RATE_NAMES)

    def param(self, name: str, batch: int | None = None) -> np.ndarray:
        """Parameter ``name`` broadcast to shape ``(B, 1)``.

        Parameters
        ----------
        name
            A rate field of the model: ``"theta"``, ``"beta"``, ``"gamma"``, ``"tau"``, ``"D"``
            or ``"steepness"``, in its own units (``tau`` in neural time constants, ``beta`` and
            ``gamma`` per unit time, ``D`` in rad^2 per unit time).
        batch
            Number of rows ``B`` (default: :attr:`batch_size`). A scalar parameter is broadcast
            to it (a read-only view); an array parameter must have exactly ``batch`` entries
            (otherwise ``ValueError``).
        """
        b = self.batch_size if batch is None else batch
        arr = np.asarray(getattr(self, name), dtype=float).ravel()
        return np.broadcast_to(arr, (b,)).reshape(b, 1) if arr.size == 1 else arr.reshape(b, 1)

    def member(self, i: int) -> Model:
        """The ``i``-th parameter set as an unbatched model."""
        kw = {n: (float(np.ravel(getattr(self, n))[i]) if np.ndim(getattr(self, n)) else
                  getattr(self, n)) for n in _RATE_NAMES}
        return replace(self, **kw)

    def firing_rate(self, u: np.ndarray, theta: np.ndarray | float | None = None) -> np.ndarray:
        """Pointwise firing rate ``f(u)`` (batch-broadcast parameters).

        Parameters
        ----------
        u
            Synaptic input (dimensionless), broadcastable against ``(B, 1)``, e.g. ``(B, N)``
            for ``B`` members on ``N`` grid points.
        theta
            Threshold(s) to use instead of the model's (default: :meth:`param` ``("theta")``,
            shape ``(B, 1)``); broadcastable against ``u``. The steepness is always the model's
            (shape ``(B, 1)`` if it is an array, else the scalar).
        """
        th = self.param("theta") if theta is None else theta
        s = self.param("steepness") if np.ndim(self.steepness) else self.steepness
        return self.firing.rate(u, th, s)

    def to_attrs(self) -> dict[str, float | list[float] | str]:
        """Flat attribute dictionary (for NetCDF ``attrs``); arrays become lists."""
        out: dict[str, float | list[float] | str] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("kernel", "firing"):
                out[f.name] = v.describe()
            elif isinstance(v, np.ndarray):
                out[f.name] = v.tolist()
            else:
                out[f.name] = v
        return out
