"""The declarative model: parameters, connectivity kernels, stimuli and noise.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["definition", "firing", "kernels", "noise", "stimulus"],
    submod_attrs={
        "definition": ["Model", "PARAMETER_RANGES", "FIRING"],
        "firing": ["Firing", "Heaviside", "SmoothFiring", "Sigmoid", "ThresholdTanh",
                   "FiringFunction", "make_firing", "firing_names", "numerical_derivative"],
        "kernels": ["Kernel", "KernelFunction", "Cosine", "Gaussian", "MexicanHat", "WizardHat",
                    "make_kernel", "ring_distance"],
        "stimulus": ["Pulse", "Stimulus"],
        "noise": ["Noise"],
    },
)
