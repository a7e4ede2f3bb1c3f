"""Time integration on the ring and the 2-D torus: grid and edge geometry, the shared time step,
the exponential integrator, compiled kernels and trackers.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["integrator", "ring", "scheme", "torus", "trackers"],
    submod_attrs={
        "integrator": ["solve", "initial_state", "SCHEME", "State", "Simulator"],
        "ring": ["Ring", "EdgeGeometry"],
        "torus": ["solve2d"],
        "trackers": ["Tracker", "DemandTracker", "ResourceTracker", "BumpTracker"],
    },
)
