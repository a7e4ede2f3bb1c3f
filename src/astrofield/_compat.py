"""Deprecated names that moved to another module: one mechanism for every module."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["moved_attributes"]


def moved_attributes(module: str, names: Iterable[str], target: str, note: str = "",
                     advertised: str | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves ``names`` from ``target`` with a warning.

    Parameters
    ----------
    module
        The module's ``__name__`` (for the messages).
    names
        The names that moved.
    target
        The module they moved to; imported only when an old name is used, so the old module
        does not depend on it otherwise.
    note
        Appended to the deprecation message (e.g. what the old module still does).
    advertised
        The public module the message names (default ``target``), e.g. a package that
        re-exports the names.
    """
    moved = frozenset(names)
    shown = advertised or target

    def __getattr__(name: str) -> Any:
        if name in moved:
            warnings.warn(f"{module}.{name} is deprecated; use {shown}.{name}{note}",
                          DeprecationWarning, stacklevel=2)
            return getattr(importlib.import_module(target), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
