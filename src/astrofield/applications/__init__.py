"""Applications: working memory, noise-driven wandering, BOLD, early warnings of resource
collapse, the 2-D torus and the seed-compatible field class.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["bold", "collapse", "early_warning", "field2d", "memory", "seed", "wandering"],
    submod_attrs={
        "memory": ["working_memory", "memory_bold"],
        "wandering": ["measure_wandering"],
        "bold": ["balloon_windkessel", "bold_from_demand", "impulse_response"],
        "early_warning": ["early_warning_indicators"],
        "collapse": ["ramp_collapse"],
        "field2d": ["solve2d"],
        "seed": ["AstrocyteNeuralField"],
    },
)
