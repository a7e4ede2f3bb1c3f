"""astrofield: astrocyte-neural field models of working memory.

Simulate the ring model of Palmer, Cihak, Avitabile and Kilpatrick (arXiv:2604.10036), compute its
exact bump solutions and their stability, sweep phase diagrams and run the applications.
"""

from . import io, trackers
from ._version import __version__
from .bump import Bump, bump_branches, existence_curve, fold, stationary_bumps
from .evans import evans, evans_dprime, evans_zeros
from .fourier import fourier_stability
from .kernels import Cosine, Gaussian, Kernel, MexicanHat, WizardHat
from .model import Model
from .noise import Noise
from .seed import AstrocyteNeuralField
from .simulate import solve
from .stability import beta_star, boundary, gamma_star, plot_figure2, stability, stability_map
from .stimulus import Pulse, Stimulus

__all__ = ["__version__", "solve", "Model", "Pulse", "Stimulus", "Noise", "io", "trackers",
           "AstrocyteNeuralField", "Kernel", "Cosine", "Gaussian", "MexicanHat", "WizardHat",
           "Bump", "stationary_bumps", "bump_branches", "fold", "existence_curve",
           "evans", "evans_dprime", "evans_zeros", "fourier_stability",
           "stability", "boundary", "beta_star", "gamma_star", "stability_map", "plot_figure2"]
