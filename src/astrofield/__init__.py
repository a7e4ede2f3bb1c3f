"""astrofield: astrocyte-neural field models of working memory.

Simulate the ring model of Palmer, Cihak, Avitabile and Kilpatrick (arXiv:2604.10036), compute its
exact bump solutions and their stability, sweep phase diagrams and run the applications.

The package is layered; each layer imports only from the layers above it in this list:

``astrofield.io``
    Atomic NetCDF/JSON output.
``astrofield.model``
    The declarative model: parameters (:class:`Model`), kernels, stimuli, noise.
``astrofield.theory``
    Exact bumps, the Evans function, Fourier truncation, stability verdicts and boundaries.
``astrofield.simulator``
    The ring, the time integrator (:func:`solve`), compiled kernels and trackers.
``astrofield.experiments``
    Parameter sweeps, phase diagrams and the data of the paper's figures.
``astrofield.applications``
    Working memory, wandering, BOLD, early warnings, collapse, the 2-D torus and the
    seed-compatible :class:`AstrocyteNeuralField`.
``astrofield.fitting``
    Fit the model to data: parameters with standard errors and identifiability.
``astrofield.plotting``
    Every figure: functions that draw the results of the layers above on unmanaged
    :class:`matplotlib.figure.Figure` objects (no pyplot state), and the atomic figure writer.
``astrofield.cli``
    The ``astrofield`` command.

Everything listed in ``__all__`` is importable from the top level; the submodules are imported on
first use (``lazy_loader``), so ``import astrofield`` is fast.
"""

import lazy_loader as _lazy

from astrofield._version import __version__

_SUBMODULES = ["io", "plotting", "model", "theory", "simulator", "experiments", "applications",
               "cli"]
_ATTRS = {
    "model.definition": ["Model"],
    "model.kernels": ["Kernel", "KernelFunction", "Cosine", "Gaussian", "MexicanHat",
                      "WizardHat"],
    "model.firing": ["Firing", "FiringFunction", "Heaviside", "Sigmoid", "ThresholdTanh"],
    "model.noise": ["Noise"],
    "model.stimulus": ["Pulse", "Stimulus"],
    "simulator": ["trackers"],
    "simulator.integrator": ["solve", "simulate"],
    "theory.bump": ["Bump", "stationary_bumps", "bump_branches", "fold", "existence_curve"],
    "theory.evans": ["evans", "evans_dprime", "evans_zeros"],
    "theory.fourier": ["fourier_stability"],
    "theory.stability": ["stability", "boundary", "beta_star", "gamma_star", "boundary_curve",
                         "stability_map"],
    "plotting.stability": ["plot_figure2", "plot_map"],
    "theory.steady": ["steady_bump"],
    "theory.spectra": ["spectrum", "numerical_stability"],
    "theory.continuation": ["continue_bumps", "numerical_boundary"],
    "experiments.sweep": ["run_sweep", "make_grid"],
    "experiments.phase": ["phase_diagram", "drift_experiment"],
    "experiments.figures": ["figure_data"],
    "plotting.paper": ["make_figure"],
    "applications.seed": ["AstrocyteNeuralField"],
    "applications.memory": ["working_memory", "memory_bold"],
    "applications.wandering": ["measure_wandering"],
    "applications.bold": ["balloon_windkessel", "bold_from_demand"],
    "applications.early_warning": ["early_warning_indicators"],
    "applications.collapse": ["ramp_collapse"],
    "applications.field2d": ["solve2d"],
    "fitting": ["fit", "FitResult"],
}

__getattr__, __dir__, _all = _lazy.attach(__name__, submodules=_SUBMODULES, submod_attrs=_ATTRS)
__all__ = ["__version__", *_all]
