"""Registry of time-integration backends for :func:`astrofield.simulator.integrator.solve`.

A backend is a function ``integrate(run)`` taking the :class:`~astrofield.simulator.integrator.Run`
of one ``solve`` call (state, settings and output arrays) and filling its outputs. Three are
registered, one name each:

``"numpy"``
    The reference: one vectorised :meth:`~astrofield.simulator.integrator.Simulator.step` per
    time step. Every option of ``solve`` (trackers, schedules included).
``"numba"``
    The whole time loop compiled (:mod:`.numba_loop`), members spread over the cores. All
    options except trackers and schedules. The default whenever it applies.
``"jax"``
    The step as pure array code inside ``jax.lax.scan`` on the default JAX device (GPU if
    present), float64. Uniform ``D``, no noise/stimulus/trackers/schedules
    (:mod:`.jax_backend`). Needs ``pip install astrofield[jax]`` (``[gpu]`` for CUDA).

Backends are imported only when first used (JAX in particular is never imported otherwise).
``ASTROFIELD_BACKEND`` sets the default for ``backend=None``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable

__all__ = ["register", "names", "available", "get", "choose", "supports"]

_REGISTRY: dict[str, tuple[str, str, frozenset]] = {}

_ALL_FEATURES = frozenset({"trackers", "schedule", "noise", "stimulus", "D_field",
                           "grid_quadrature"})


def register(name: str, module: str, attr: str, features: set[str] | frozenset) -> None:
    """Register backend ``name`` as ``module.attr``, supporting the options in ``features``."""
    _REGISTRY[name] = (module, attr, frozenset(features))


register("numpy", "astrofield.simulator.integrator", "integrate_numpy", _ALL_FEATURES)
register("numba", "astrofield.simulator.backends.numba_backend", "integrate",
         _ALL_FEATURES - {"trackers", "schedule"})
register("jax", "astrofield.simulator.backends.jax_backend", "integrate", frozenset())


def names() -> list[str]:
    """Names of the registered backends."""
    return list(_REGISTRY)


def available(name: str) -> bool:
    """Whether backend ``name`` can run here (its libraries are importable)."""
    if name == "numba":  # the compiled loop also needs rocket-fft (numpy.fft inside numba)
        from astrofield.simulator import compiled

        return bool(compiled.HAVE_NUMBA and compiled.ENABLED
                    and importlib.util.find_spec("rocket_fft") is not None)
    if name == "jax":
        return importlib.util.find_spec("jax") is not None
    return name in _REGISTRY


def supports(name: str, used: set[str]) -> set[str]:
    """The options in ``used`` that backend ``name`` does not support."""
    return set(used) - _REGISTRY[name][2]


def choose(backend: str | None, **used: bool) -> str:
    """Backend name for a run using the options flagged in ``used``.

    Raises
    ------
    ValueError
        For an unknown name, a backend that is not installed, or one that lacks an option the
        run uses (named in the message).
    """
    flags = {k for k, v in used.items() if v}
    if backend is None:
        backend = os.environ.get("ASTROFIELD_BACKEND") or None
    if backend is None:
        ok = available("numba") and not supports("numba", flags)
        return "numba" if ok else "numpy"
    if backend not in _REGISTRY:
        raise ValueError(f"backend = {backend!r} is not one of {tuple(_REGISTRY)}")
    if not available(backend):
        extra = {"jax": " (pip install 'astrofield[jax]')",
                 "numba": " (needs numba and rocket-fft)"}.get(backend, "")
        raise ValueError(f"backend = {backend!r} is not available here{extra}")
    missing = supports(backend, flags)
    if missing:
        raise ValueError(f"backend = {backend!r} does not support {sorted(missing)}; "
                         f"use backend='numpy'")
    return backend


def get(name: str) -> Callable:
    """The ``integrate(run)`` function of backend ``name`` (imported on first use)."""
    module, attr, _ = _REGISTRY[name]
    return getattr(importlib.import_module(module), attr)
