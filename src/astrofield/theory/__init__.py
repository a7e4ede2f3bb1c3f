"""Stationary bumps and their stability: exact bumps, the Evans function, Fourier truncation,
verdicts and stability boundaries.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["bump", "evans", "fourier", "stability"],
    submod_attrs={
        "bump": ["Bump", "stationary_bumps", "bump_branches", "fold", "existence_curve"],
        "evans": ["evans", "evans_dprime", "evans_zeros"],
        "fourier": ["fourier_stability", "fourier_spectrum"],
        "stability": ["stability", "boundary", "beta_star", "gamma_star", "stability_map",
                      "plot_figure2"],
    },
)
