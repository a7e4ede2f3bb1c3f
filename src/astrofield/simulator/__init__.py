"""Time integration on the ring: grid and edge geometry, the exponential integrator,
compiled kernels and trackers.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["integrator", "ring", "trackers"],
    submod_attrs={
        "integrator": ["solve", "initial_state", "SCHEME", "State", "Simulator"],
        "ring": ["Ring", "EdgeGeometry"],
        "trackers": ["Tracker", "DemandTracker", "ResourceTracker", "BumpTracker"],
    },
)
