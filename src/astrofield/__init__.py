"""astrofield: astrocyte-neural field models of working memory.

Simulate the ring model of Palmer, Cihak, Avitabile and Kilpatrick (arXiv:2604.10036), compute its
exact bump solutions and their stability, sweep phase diagrams and run the applications.
"""

from ._version import __version__
from .kernels import Cosine, Gaussian, Kernel, MexicanHat, WizardHat
from .model import Model

__all__ = ["__version__", "Model", "Kernel", "Cosine", "Gaussian", "MexicanHat", "WizardHat"]
