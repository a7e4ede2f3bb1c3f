"""Experiments built on the simulator and the theory: parameter sweeps, phase diagrams and the
data of the paper's figures (drawn by :mod:`astrofield.plotting`).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["adaptive", "figures", "phase", "sweep"],
    submod_attrs={
        "sweep": ["Grid", "make_grid", "run_sweep"],
        "phase": ["phase_diagram", "drift_experiment", "summarize"],
        "figures": ["figure_data"],
    },
)
