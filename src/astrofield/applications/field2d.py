"""The 2-D torus (re-exported): the simulator lives in :mod:`astrofield.simulator.torus`.

This module keeps ``from astrofield.applications.field2d import solve2d, DoG2D, ...`` working;
the torus shares its time step with the ring (:mod:`astrofield.simulator.scheme`), so it belongs
to the simulator layer.
"""

from __future__ import annotations

from astrofield._compat import moved_attributes
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

#: Figure functions that moved to :mod:`astrofield.plotting.applications`.
__getattr__ = moved_attributes(__name__, ('plot_field2d',), "astrofield.plotting.applications",
                               advertised="astrofield.plotting")
