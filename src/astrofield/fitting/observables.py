"""Which fitting problem handles an observable: the registry of :func:`~astrofield.fitting.fit`.

A single position trace or field (``"position"``, ``"u"`` on ``time``) is the core problem of
:mod:`astrofield.fitting.problem`. Every other observable is one module of this package,
registered here by name with the function that builds its problem from the data:

* ``"position"``/``"u"`` with a ``trial`` and/or ``condition`` dimension:
  :mod:`astrofield.fitting.trials` (many trials and conditions, one batched simulation);
* ``"msd"``: :mod:`astrofield.fitting.wander` (mean squared displacement of noisy trials,
  common random numbers);
* ``"bold"``: :mod:`astrofield.fitting.bold` (a BOLD time series, haemodynamic parameters fixed
  or free);
* ``"boundary"``: :mod:`astrofield.fitting.boundary` (points labelled stable or drifting against
  the theory's verdicts, a logistic classification likelihood).

A builder is called as ``builder(ds, model, vary, N=..., dt=..., eps=..., position=...,
**solve_options)`` with the data opened as an :class:`xarray.Dataset`; it returns a
:class:`~astrofield.fitting.problem.Problem` (fitted by least squares) or an object with a
``run(n_global=, n_starts=, seed=, t0=)`` method returning the
:class:`~astrofield.fitting.result.FitResult` (its own likelihood).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["NAMES", "REGISTRY", "handler", "TRIAL_DIMS"]

#: observable name -> "module:builder"
REGISTRY = {
    "trials": "astrofield.fitting.trials:trial_problem",
    "msd": "astrofield.fitting.wander:msd_problem",
    "bold": "astrofield.fitting.bold:bold_problem",
    "boundary": "astrofield.fitting.boundary:boundary_problem",
}
#: Every observable :func:`~astrofield.fitting.fit` accepts.
NAMES = ("position", "u", "msd", "bold", "boundary")
#: Leading dimensions of a position trace or field that hold repeated trials and conditions.
TRIAL_DIMS = ("condition", "trial")


def _load(key: str) -> Callable[..., Any]:
    module, name = REGISTRY[key].split(":")
    return getattr(importlib.import_module(module), name)


def handler(data: Any, observable: str) -> Callable[..., Any] | None:
    """The builder of the problem for ``observable`` bound to the opened data, or ``None`` for
    the core problem (one trace or field on ``time``).

    Parameters
    ----------
    data
        As :func:`~astrofield.fitting.fit`.
    observable
        One of :data:`NAMES`.

    Raises
    ------
    ValueError
        For an observable not in :data:`NAMES`.
    """
    from astrofield.fitting.data import _open

    if observable not in NAMES:
        raise ValueError(f"observable = {observable!r} is not one of {list(NAMES)}")
    if observable in ("position", "u"):
        ds = _open(data)
        if observable in ds.variables and any(d in ds[observable].dims for d in TRIAL_DIMS):
            return functools.partial(_load("trials"), ds, observable)
        return None
    return functools.partial(_load(observable), _open(data))
