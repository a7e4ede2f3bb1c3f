"""Firing rates ``f(u)``: built-in and user-supplied, as objects that every layer understands.

A firing rate turns the synaptic input ``u`` into activity in ``[0, 1]`` (dimensionless). It
enters the model through ``∫ w(x - y) q f(u) dy`` and through the resource depletion
``beta q f(u)``. Every firing object knows

* its value ``rate(u, theta, steepness)`` on numpy arrays (batch-broadcast parameters),
* its derivative ``derivative(u, theta, steepness)`` (the bump theory linearises about a bump),
* how the compiled backends evaluate it: :meth:`Firing.numba_function` (a compiled scalar
  function ``f(u, theta, steepness)``, passed to the compiled time loop as a function pointer,
  so one compiled loop serves every firing rate) and :meth:`Firing.jax_function` (traced by JAX).

Built-ins (a new one is one class in this file: subclass :class:`SmoothFiring`, set ``name`` and
write :meth:`SmoothFiring.formula` once, with ``xp`` standing for numpy or ``jax.numpy``):

``"heaviside"``
    ``f = H(u - theta)``, the paper's choice. Discontinuous: the simulator locates its edges
    between grid points (sub-grid quadrature) and the theory works from the bump edges.
``"sigmoid"``
    ``f = 1 / (1 + exp(-s (u - theta)))`` with steepness ``s``; tends to Heaviside as ``s -> inf``.
``"threshold_tanh"``
    ``f = tanh(s max(u - theta, 0))``: silent below threshold, saturating above (continuous,
    with a kink at ``theta``).
``"naka_rushton"``
    ``f = r^2 / (1 + r^2)``, ``r = s max(u - theta, 0)``: silent below threshold, saturating
    above, smooth.

Any Python callable ``u -> f(u)`` (vectorised over numpy arrays) becomes a
:class:`FiringFunction`; see its docstring for how it is compiled and differentiated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from astrofield._validate import probe_function

if TYPE_CHECKING:  # annotations only: numba is imported where a rate is compiled
    from types import ModuleType

    from numba.core.ccallback import CFunc
    from numpy.typing import ArrayLike

__all__ = ["Firing", "Heaviside", "SmoothFiring", "Sigmoid", "ThresholdTanh", "NakaRushton",
           "FiringFunction", "make_firing", "firing_names", "numerical_derivative"]

_BUILTIN: dict[str, type[Firing]] = {}

#: Points at which a user function is probed when it is wrapped (values and compiled variants
#: are checked there).
_PROBE = np.array([-1.0, -0.3, 0.0, 0.05, 0.1, 0.15, 0.3, 0.7, 1.5])


class Firing:
    """Base class of firing rates ``f(u; theta, steepness)``.

    Subclasses with a non-empty ``name`` are registered as built-ins: ``Model(firing=name)``
    and the command line's ``--firing`` accept that name.

    Attributes
    ----------
    name : str
        Registry name (``""``: not registered).
    edges : bool
        ``True`` for a rate that jumps at ``theta`` (Heaviside): the simulator then locates the
        edges of the active region between grid points, and the theory works from the edges.
    uses_steepness : bool
        Whether the model's ``steepness`` enters the rate.
    """

    name: ClassVar[str] = ""
    edges: ClassVar[bool] = False
    uses_steepness: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            _BUILTIN[cls.name] = cls
        for method in ("rate", "derivative"):  # overrides keep the documented signature
            own = cls.__dict__.get(method)
            if own is not None and not own.__doc__:
                own.__doc__ = getattr(Firing, method).__doc__

    @property
    def smooth(self) -> bool:
        """``True`` where the rate is continuous and has a derivative almost everywhere."""
        return not self.edges

    def rate(self, u: np.ndarray, theta: ArrayLike, steepness: ArrayLike) -> np.ndarray:
        """Firing rate ``f(u)`` (dimensionless, in ``[0, 1]``), broadcast over the arguments.

        Parameters
        ----------
        u
            Synaptic input (dimensionless), any shape.
        theta
            Threshold(s), broadcastable against ``u`` (e.g. ``(B, 1)`` for a batch).
        steepness
            Steepness(es) ``s`` (1 / units of ``u``), broadcastable; ignored by rates without one.
        """
        raise NotImplementedError

    def derivative(self, u: np.ndarray, theta: ArrayLike, steepness: ArrayLike) -> np.ndarray:
        """``f'(u)`` (per unit of ``u``), broadcast over the arguments.

        Parameters
        ----------
        u
            Synaptic input (dimensionless), any shape.
        theta
            Threshold(s), broadcastable against ``u``.
        steepness
            Steepness(es) ``s`` (1 / units of ``u``), broadcastable; ignored by rates without one.
        """
        raise NotImplementedError

    def numba_function(self) -> CFunc | None:
        """The rate as a compiled scalar function ``f(u, theta, steepness) -> float`` (a numba
        ``cfunc``, passed to the compiled loop as a first-class function), or ``None`` if it
        cannot be compiled (:attr:`numba_error` then says why)."""
        return None

    def jax_function(self) -> Callable | None:
        """The rate as a JAX-traceable ``f(u, theta, steepness)``, or ``None``."""
        return None

    @property
    def numba_error(self) -> str | None:
        """Why :meth:`numba_function` is ``None`` (``None`` if it compiles)."""
        return None if self.numba_function() is not None else "no compiled form"

    def describe(self) -> str:
        """Short description for output attributes."""
        return self.name or type(self).__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


def _compile_scalar(py_function: Callable) -> CFunc:
    """A numba ``cfunc`` of signature ``float64(float64, float64, float64)``."""
    from numba import cfunc, types

    return cfunc(types.float64(types.float64, types.float64, types.float64))(py_function)


class Heaviside(Firing):
    """``f(u) = H(u - theta)``: the paper's firing rate (1 above threshold, else 0).

    The simulator treats it with sub-grid edges (both resource values of an edge cell kept), and
    the exact bump, Evans-function and Fourier-truncation theory are written for it. It has no
    derivative: :meth:`Firing.derivative` raises.
    """

    name = "heaviside"
    edges = True
    _compiled: ClassVar[CFunc | None] = None

    def rate(self, u, theta, steepness=None):
        return (np.asarray(u) > theta).astype(float)

    def derivative(self, u, theta, steepness=None):
        raise ValueError("Heaviside firing has no derivative: its theory works from the bump "
                         "edges (heaviside_bump, Evans function)")

    def numba_function(self):
        if Heaviside._compiled is None:
            Heaviside._compiled = _compile_scalar(lambda u, th, s: 1.0 if u > th else 0.0)
        return Heaviside._compiled

    def jax_function(self):
        import jax.numpy as jnp

        return lambda u, th, s: jnp.where(u > th, 1.0, 0.0)


class SmoothFiring(Firing):
    """A built-in smooth rate written once as :meth:`formula` for numpy, numba and JAX.

    ``formula(xp)`` returns ``f(u, theta, steepness)`` using only arithmetic and functions of
    the array namespace ``xp`` (``numpy`` or ``jax.numpy``; numba compiles the numpy version on
    scalars). :meth:`Firing.derivative` defaults to :func:`numerical_derivative`; override it
    with the closed form where there is one.
    """

    _compiled: ClassVar[dict[type[SmoothFiring], CFunc]] = {}

    @staticmethod
    def formula(xp: ModuleType) -> Callable:  # pragma: no cover - abstract
        """``f(u, theta, steepness)`` written with the array namespace ``xp``."""
        raise NotImplementedError

    def rate(self, u, theta, steepness):
        return self.formula(np)(np.asarray(u, dtype=float), theta, steepness)

    def derivative(self, u, theta, steepness):
        return numerical_derivative(lambda v: self.rate(v, theta, steepness), u)[0]

    def numba_function(self):
        key = type(self)
        if key not in SmoothFiring._compiled:
            SmoothFiring._compiled[key] = _compile_scalar(self.formula(np))
        return SmoothFiring._compiled[key]

    def jax_function(self):
        import jax.numpy as jnp

        return self.formula(jnp)


class Sigmoid(SmoothFiring):
    """``f(u) = 1 / (1 + exp(-s (u - theta)))``, evaluated as ``(1 + tanh(s (u - theta) / 2)) / 2``
    (no overflow for large ``s |u - theta|``); ``f' = s f (1 - f)``."""

    name = "sigmoid"
    uses_steepness = True

    @staticmethod
    def formula(xp):
        def sigmoid(u, theta, steepness):
            return 0.5 * (1.0 + xp.tanh(0.5 * steepness * (u - theta)))

        return sigmoid

    def derivative(self, u, theta, steepness):
        f = self.rate(u, theta, steepness)
        return steepness * f * (1.0 - f)


class ThresholdTanh(SmoothFiring):
    """``f(u) = tanh(s max(u - theta, 0))``: zero below threshold, saturating towards 1 above
    (continuous; the derivative jumps from 0 to ``s`` at ``theta``). ``f' = s (1 - f^2)`` above
    threshold, 0 below."""

    name = "threshold_tanh"
    uses_steepness = True

    @staticmethod
    def formula(xp):
        def threshold_tanh(u, theta, steepness):
            return xp.tanh(steepness * xp.maximum(u - theta, 0.0))

        return threshold_tanh

    def derivative(self, u, theta, steepness):
        f = self.rate(u, theta, steepness)
        return np.where(np.asarray(u) > theta, steepness * (1.0 - f * f), 0.0)


class NakaRushton(SmoothFiring):
    """``f(u) = r^2 / (1 + r^2)`` with ``r = s max(u - theta, 0)``: the Naka-Rushton (Hill,
    exponent 2) rate, silent below threshold, half-saturated at ``u = theta + 1 / s``; smooth
    (``f'`` is continuous, 0 at threshold). ``f' = 2 s r / (1 + r^2)^2`` above threshold.

    Reference: Naka and Rushton, J. Physiol. 185 (1966) 536-555.
    """

    name = "naka_rushton"
    uses_steepness = True

    @staticmethod
    def formula(xp):
        def naka_rushton(u, theta, steepness):
            r = steepness * xp.maximum(u - theta, 0.0)
            return r * r / (1.0 + r * r)

        return naka_rushton

    def derivative(self, u, theta, steepness):
        r = steepness * np.maximum(np.asarray(u, dtype=float) - theta, 0.0)
        return 2.0 * steepness * r / (1.0 + r * r) ** 2


class FiringFunction(Firing):
    """A user's firing rate ``u -> f(u)`` (the model's ``theta`` and ``steepness`` do not enter it;
    ``theta`` still marks the active region ``{u > theta}`` whose width the simulator reports).

    Parameters
    ----------
    function
        Vectorised callable: numpy array in, array of the same shape out, values finite (the
        model expects rates in ``[0, 1]``; others are accepted but the theory's statements about
        resource depletion assume it).
    derivative
        Optional ``u -> f'(u)``. Without it the derivative is computed by
        :func:`numerical_derivative` (Ridders' extrapolation of central differences; relative
        error about ``1e-10`` for smooth functions, estimate available there).
    name
        Label for output attributes (default: the function's ``__name__``).

    Notes
    -----
    Backends: numba compiles ``function`` on scalars where it can (plain arithmetic and numpy
    ufuncs); otherwise :meth:`numba_function` is ``None``, :attr:`numba_error` says why, and
    ``solve`` runs on the numpy backend with a one-line notice. JAX traces the function where
    it is written with operations JAX can trace.
    """

    def __init__(self, function: Callable, derivative: Callable | None = None,
                 name: str | None = None) -> None:
        if not callable(function):
            raise TypeError(f"firing = {function!r} is not callable")
        if derivative is not None and not callable(derivative):
            raise TypeError(f"firing derivative = {derivative!r} is not callable")
        self.function = function
        self.user_derivative = derivative
        self.label = name or getattr(function, "__name__", "function")
        self._numba: CFunc | None = None
        self._numba_error: str | None = None
        self._probe()

    def __getstate__(self) -> dict:
        """Pickle without the compiled function (a process compiles its own on first use)."""
        return {**self.__dict__, "_numba": None, "_numba_error": None}

    def _probe(self) -> None:
        """Call the function on a few inputs: a clear error now instead of deep in a run."""
        probe_function(self.function, _PROBE, f"firing function {self.label!r}",
                       hint="; it must map an array u to an array f(u) of the same shape",
                       where=lambda bad: f"at u = {_PROBE[bad].tolist()}")

    def rate(self, u, theta=None, steepness=None):
        u = np.asarray(u, dtype=float)
        return np.broadcast_to(np.asarray(self.function(u), dtype=float), u.shape)

    def derivative(self, u, theta=None, steepness=None):
        u = np.asarray(u, dtype=float)
        if self.user_derivative is not None:
            return np.broadcast_to(np.asarray(self.user_derivative(u), dtype=float), u.shape)
        return numerical_derivative(self.rate, u)[0]

    def numba_function(self):
        if self._numba is None and self._numba_error is None:
            self._numba, self._numba_error = self._compile()
        return self._numba

    @property
    def numba_error(self) -> str | None:
        self.numba_function()
        return self._numba_error

    def _compile(self) -> tuple[CFunc | None, str | None]:
        """Compile the function on scalars and check it against the numpy values."""
        try:
            from numba import njit

            scalar = njit(self.function)
            compiled = _compile_scalar(lambda u, th, s: scalar(u))
            got = np.array([compiled.ctypes(float(v), 0.0, 0.0) for v in _PROBE])
        except Exception as exc:  # noqa: BLE001 - numba's error, summarised in one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return None, f"numba cannot compile {self.label!r}: {first[:200]}"
        want = self.rate(_PROBE)
        if not np.allclose(got, want, rtol=1e-12, atol=1e-14):
            return None, (f"the compiled {self.label!r} differs from its numpy values on scalars "
                          "(is it written for arrays only?)")
        return compiled, None

    def jax_function(self):
        try:
            import jax
            import jax.numpy as jnp

            jax.make_jaxpr(self.function)(jnp.asarray(_PROBE))
        except Exception:  # noqa: BLE001 - not traceable: the backend says so
            return None
        return lambda u, th, s: self.function(u)

    def describe(self) -> str:
        return f"function {self.label}"

    def __repr__(self) -> str:
        return f"FiringFunction({self.label})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, FiringFunction) and other.function is self.function
                and other.user_derivative is self.user_derivative)

    def __hash__(self) -> int:
        return hash((id(self.function), id(self.user_derivative)))


def numerical_derivative(f: Callable, u: ArrayLike, h0: float = 0.05, levels: int = 12,
                         shrink: float = 1.6) -> tuple[np.ndarray, np.ndarray]:
    """Derivative of a vectorised ``f`` by Ridders' extrapolation of central differences.

    For each element, central differences ``(f(u + h) - f(u - h)) / 2h`` at
    ``h = h0, h0 / shrink, ...`` are extrapolated to ``h -> 0`` (Neville tableau, even powers of
    ``h``); the entry with the smallest error estimate is kept.

    Parameters
    ----------
    f
        Vectorised function of a float array.
    u
        Points (any shape).
    h0
        Largest step (units of ``u``); steps go down to ``h0 / shrink**(levels - 1)``.
    levels, shrink
        Number of steps and their ratio.

    Returns
    -------
    derivative, error
        Arrays of the shape of ``u``: the estimate and its error estimate (typically ``1e-10``
        relative for smooth functions; larger next to a kink).
    """
    u = np.asarray(u, dtype=float)
    best = np.full(u.shape, np.nan)
    err = np.full(u.shape, np.inf)
    prev: list[np.ndarray] = []
    h = h0
    for _ in range(levels):
        row = [(np.asarray(f(u + h), float) - np.asarray(f(u - h), float)) / (2 * h)]
        fac = shrink * shrink
        for j, p in enumerate(prev):
            row.append((row[j] * fac - p) / (fac - 1.0))
            fac *= shrink * shrink
            e = np.maximum(np.abs(row[j + 1] - row[j]), np.abs(row[j + 1] - p))
            better = e < err
            best = np.where(better, row[j + 1], best)
            err = np.where(better, e, err)
        prev = row
        h /= shrink
    first = ~np.isfinite(best)
    best = np.where(first, prev[0], best)
    return best, err


def firing_names() -> list[str]:
    """Names of the built-in firing rates (``Model(firing=name)``, ``--firing name``)."""
    return list(_BUILTIN)


def make_firing(firing: str | Firing | Callable | None = None) -> Firing:
    """A :class:`Firing` from a built-in name, a firing object or a callable ``u -> f(u)``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the built-ins and the other accepted forms).
    """
    if firing is None:
        return Heaviside()
    if isinstance(firing, Firing):
        return firing
    if isinstance(firing, str):
        key = firing.lower().replace("-", "_")
        if key not in _BUILTIN:
            raise ValueError(f"firing = {firing!r} is not one of {firing_names()}, a Firing "
                             "object or a vectorised function u -> f(u)")
        return _BUILTIN[key]()
    if isinstance(firing, type) and issubclass(firing, Firing):
        return firing()
    if callable(firing):
        return FiringFunction(firing)
    raise ValueError(f"firing = {firing!r} is not one of {firing_names()}, a Firing object or "
                     "a vectorised function u -> f(u)")
