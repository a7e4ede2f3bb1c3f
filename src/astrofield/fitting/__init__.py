"""Fit the model to data: best parameters with standard errors, intervals and identifiability.

:func:`fit` recovers model parameters from an observed bump position trace (a
:class:`FitResult`); :func:`read_observation` reads and checks the data. See ``docs/fitting.md``.
"""

from astrofield.fitting.core import LAPLACE_TOL, RCOND_MIN, RSE_MAX, SV_MIN, fit
from astrofield.fitting.data import Observation, read_observation
from astrofield.fitting.result import FitResult

__all__ = ["fit", "FitResult", "Observation", "read_observation", "RSE_MAX", "RCOND_MIN",
           "SV_MIN", "LAPLACE_TOL"]
