"""Stationary bumps and their stability: exact bumps, the Evans function, Fourier truncation,
verdicts and stability boundaries; numerical bumps, spectra and continuation for any kernel,
firing rate and diffusion (``steady``, ``spectra``, ``continuation``).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["bump", "evans", "fourier", "stability", "steady", "spectra", "continuation",
                "travelling"],
    submod_attrs={
        "bump": ["Bump", "stationary_bumps", "bump_branches", "fold", "existence_curve"],
        "evans": ["evans", "evans_dprime", "evans_zeros"],
        "fourier": ["fourier_stability", "fourier_spectrum"],
        "stability": ["stability", "boundary", "beta_star", "gamma_star", "stability_map",
                      "figure2_data"],
        "steady": ["steady_bump", "heaviside_bump", "Steady", "SteadyStateError"],
        "spectra": ["spectrum", "numerical_stability", "numerical_stability_grid", "Spectrum"],
        "continuation": ["continue_bumps", "numerical_boundary"],
        "travelling": ["travelling_bump", "TravellingBump"],
    },
)
