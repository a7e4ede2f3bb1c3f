"""The 2-D torus (re-exported): the simulator lives in :mod:`astrofield.simulator.torus`.

This module keeps ``from astrofield.applications.field2d import solve2d, DoG2D, ...`` working;
the torus shares its time step with the ring (:mod:`astrofield.simulator.scheme`), so it belongs
to the simulator layer.
"""

from __future__ import annotations

from astrofield.simulator.torus import (
    SCHEME_2D,
    DoG2D,
    Gaussian2D,
    Kernel2D,
    Simulator2D,
    Torus,
    solve2d,
)

__all__ = ["Kernel2D", "Gaussian2D", "DoG2D", "Torus", "Simulator2D", "solve2d", "SCHEME_2D"]

_MOVED = ('plot_field2d',)


def __getattr__(name: str):
    """Deprecated aliases: the figures of this module are drawn by
    :mod:`astrofield.plotting.applications`."""
    if name in _MOVED:
        import importlib
        import warnings

        warnings.warn(f"{__name__}.{name} is deprecated; use "
                      f"astrofield.plotting.{name}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module("astrofield.plotting.applications"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
