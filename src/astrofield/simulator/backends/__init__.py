"""Registry of time-integration backends for :func:`astrofield.simulator.integrator.solve`.

A backend is a :class:`Backend` object: it declares what it supports (options of ``solve``,
firing rates) and integrates a :class:`~astrofield.simulator.integrator.Run` (the state, the
settings, the simulator's public problem data: parameters, ``kernel_table``, ``firing``,
``draw_noise``, ``diffusion_operators``, and the output arrays it fills). Three are built in:

``"numpy"``
    The reference: one vectorised :meth:`~astrofield.simulator.integrator.Simulator.step` per
    time step. Every option of ``solve`` (trackers, schedules, any firing rate).
``"numba"``
    The whole time loop compiled (:mod:`.numba_loop`), members spread over the cores. All
    options except trackers and schedules; a firing rate that numba can compile (the built-ins,
    and user functions written with arithmetic and numpy ufuncs). The default whenever it
    applies.
``"jax"``
    The step as pure array code inside ``jax.lax.scan`` on the default JAX device (GPU if
    present), float64. Uniform ``D``, no noise/stimulus/trackers/schedules, a firing rate that
    JAX can trace (:mod:`.jax_backend`). Needs ``pip install astrofield[jax]``.

A third-party backend registers itself with :func:`register` (an instance of a
:class:`Backend` subclass), or through the entry-point group ``astrofield.backends`` (each
entry point names a :class:`Backend` subclass or instance; loaded on first use), without
editing astrofield. ``astrofield run --backend`` and ``astrofield phase --backend`` accept every
registered name.

Backends are imported only when first used (JAX in particular is never imported otherwise).
``ASTROFIELD_BACKEND`` sets the default for ``backend=None``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import warnings
from typing import Any

__all__ = ["Backend", "register", "names", "available", "get", "choose", "supports",
           "FEATURES", "BackendNotice"]

#: Options of ``solve`` a backend may support (``stiff_exchange``: the safeguards of a step
#: where ``dt (gamma max(q + a) + beta) / tau > 1``; it only steers the automatic choice).
FEATURES = frozenset({"trackers", "schedule", "noise", "stimulus", "D_field",
                      "grid_quadrature", "stiff_exchange"})
_PREFERENCES = frozenset({"stiff_exchange"})  # steer backend=None, never refuse a named backend


class BackendNotice(UserWarning):
    """One-line notice that ``backend=None`` chose another backend than the default, and why."""


class Backend:
    """Base class of a time-integration backend.

    Subclasses set :attr:`name` and :attr:`features` and implement :meth:`integrate`; they may
    override :meth:`available` and :meth:`firing_support`.

    Attributes
    ----------
    name : str
        Registry name (``solve(backend=name)``, ``--backend name``).
    features : frozenset of str
        The options of :data:`FEATURES` it supports.
    install_hint : str
        What to install when :meth:`available` is false.
    """

    name: str = ""
    features: frozenset = frozenset()
    install_hint: str = ""

    def available(self) -> bool:
        """Whether its libraries are importable here."""
        return True

    def firing_support(self, firing: Any) -> str | None:
        """``None`` if it can evaluate ``firing`` (a :class:`~astrofield.model.firing.Firing`),
        else the reason (one line)."""
        return None

    def integrate(self, run: Any) -> None:
        """Advance ``run`` (a :class:`~astrofield.simulator.integrator.Run`) and fill its
        outputs."""
        raise NotImplementedError

    def __call__(self, run: Any) -> None:
        self.integrate(run)

    def __repr__(self) -> str:
        return f"<backend {self.name!r}>"


class _Lazy(Backend):
    """A built-in backend whose ``integrate`` lives in a module imported on first use."""

    def __init__(self, name: str, target: str, features: frozenset) -> None:
        self.name, self.features = name, frozenset(features)
        self._module, self._attr = target.split(":")

    def integrate(self, run: Any) -> None:
        getattr(importlib.import_module(self._module), self._attr)(run)


class _Numba(_Lazy):
    install_hint = " (needs numba and rocket-fft)"

    def available(self) -> bool:
        from astrofield.simulator import compiled

        return bool(compiled.HAVE_NUMBA and compiled.ENABLED
                    and importlib.util.find_spec("rocket_fft") is not None)

    def firing_support(self, firing: Any) -> str | None:
        if firing.edges or firing.numba_function() is not None:
            return None
        return firing.numba_error or f"numba cannot compile firing = {firing.describe()}"


class _Jax(_Lazy):
    install_hint = " (pip install 'astrofield[jax]')"

    def available(self) -> bool:
        return importlib.util.find_spec("jax") is not None

    def firing_support(self, firing: Any) -> str | None:
        if firing.edges or firing.jax_function() is not None:
            return None
        return f"JAX cannot trace firing = {firing.describe()}"


_REGISTRY: dict[str, Backend] = {}
_ENTRY_POINTS_LOADED = False


def register(backend: Backend, *, replace: bool = False) -> None:
    """Register ``backend`` under ``backend.name``.

    Parameters
    ----------
    backend
        An instance of a :class:`Backend` subclass (its ``features`` within :data:`FEATURES`).
    replace
        Allow replacing a backend of the same name.

    Raises
    ------
    ValueError
        For a missing name, unknown features, or a taken name without ``replace``.
    """
    if not isinstance(backend, Backend) or not backend.name:
        raise ValueError(f"backend = {backend!r} must be a Backend instance with a name")
    unknown = set(backend.features) - FEATURES
    if unknown:
        raise ValueError(f"backend {backend.name!r} declares unknown features {sorted(unknown)}; "
                         f"allowed: {sorted(FEATURES)}")
    if backend.name in _REGISTRY and not replace:
        raise ValueError(f"backend {backend.name!r} is already registered (replace=True)")
    _REGISTRY[backend.name] = backend


register(_Lazy("numpy", "astrofield.simulator.integrator:integrate_numpy", FEATURES))
register(_Numba("numba", "astrofield.simulator.backends.numba_backend:integrate",
                FEATURES - {"trackers", "schedule", "stiff_exchange"}))
register(_Jax("jax", "astrofield.simulator.backends.jax_backend:integrate", frozenset()))


def _load_entry_points() -> None:
    """Register the backends of installed packages (entry-point group ``astrofield.backends``)."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="astrofield.backends"):
        try:
            obj = ep.load()
            register(obj() if isinstance(obj, type) else obj)
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break solve
            warnings.warn(f"backend plug-in {ep.name!r} could not be registered: {exc}",
                          BackendNotice, stacklevel=2)


def names() -> list[str]:
    """Names of the registered backends."""
    _load_entry_points()
    return list(_REGISTRY)


def get(name: str) -> Backend:
    """The registered backend ``name`` (a callable ``backend(run)``)."""
    _load_entry_points()
    if name not in _REGISTRY:
        raise ValueError(f"backend = {name!r} is not one of {tuple(_REGISTRY)}")
    return _REGISTRY[name]


def available(name: str) -> bool:
    """Whether backend ``name`` can run here (its libraries are importable)."""
    return name in names() and _REGISTRY[name].available()


def supports(name: str, used: set[str]) -> set[str]:
    """The options in ``used`` that backend ``name`` does not support.

    Parameters
    ----------
    name
        A registered backend name (``ValueError`` otherwise).
    used
        Option names from :data:`FEATURES` that a run uses.
    """
    return set(used) - get(name).features


def choose(backend: str | None, firing: Any = None, *,
           size: tuple[int, int, int] | None = None, companion: bool = False,
           refine_levels: int = 0, **used: bool) -> str:
    """Backend name for a run using the options flagged in ``used`` and the rate ``firing``.

    ``backend=None``: ``$ASTROFIELD_BACKEND`` if set, else ``"numba"`` when it is available and
    supports the run, else ``"numpy"`` (with a one-line :class:`BackendNotice` when the firing
    rate is what kept numba out). Under the numpy cold-start policy
    (:func:`.warm.cold_start`, used by ``astrofield run``) a small run (``size``: members, grid
    points, steps; with ``companion`` and ``refine_levels`` its resolution check and step
    ladder, :func:`.warm.prefer_numpy`) also goes to numpy, with a notice, while the compiled
    loop is not built.

    Parameters
    ----------
    backend
        A registered backend name, or ``None`` for the automatic choice.
    firing
        The run's :class:`~astrofield.model.firing.Firing`; ``None`` skips the check that the
        backend can evaluate it.
    size
        Members, grid points and steps of the run (``None``: no cold-start choice).
    companion, refine_levels
        Whether the run has its companion run, and the levels its step ladder may climb: they
        enter the cold-start estimate and its notice only.
    **used
        One flag per option of :data:`FEATURES` (e.g. ``trackers=True``): the options the run
        uses (false flags are ignored, unknown names raise ``ValueError``).

    Raises
    ------
    ValueError
        For an unknown name, a backend that is not installed, or one that lacks an option or
        cannot evaluate the firing rate (named in the message).
    """
    flags = {k for k, v in used.items() if v}
    unknown = flags - FEATURES
    if unknown:
        raise ValueError(f"unknown backend features {sorted(unknown)}")
    if backend is None:
        backend = os.environ.get("ASTROFIELD_BACKEND") or None
    if backend is None:
        return _automatic(flags, firing, size, (companion, refine_levels))
    chosen = get(backend)
    if not chosen.available():
        raise ValueError(f"backend = {backend!r} is not available here{chosen.install_hint}")
    missing = supports(backend, flags - _PREFERENCES)
    if missing:
        raise ValueError(f"backend = {backend!r} does not support {sorted(missing)}; "
                         f"use backend='numpy'")
    why = chosen.firing_support(firing) if firing is not None else None
    if why:
        raise ValueError(f"backend = {backend!r} cannot run this firing rate: {why}; "
                         "use backend='numpy'")
    return backend


def _automatic(flags: set[str], firing: Any, size: tuple[int, int, int] | None,
               checks: tuple[bool, int]) -> str:
    numba = get("numba")
    if not numba.available() or supports("numba", flags):
        return "numpy"
    why = numba.firing_support(firing) if firing is not None else None
    if why:
        warnings.warn(f"running on the numpy backend: {why}", BackendNotice, stacklevel=4)
        return "numpy"
    if size is not None:
        from astrofield.simulator.backends import warm

        if warm.prefer_numpy(*size, companion=checks[0], refine_levels=checks[1],
                             stacklevel=4):
            return "numpy"
    return "numba"

