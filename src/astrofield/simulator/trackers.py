"""Trackers: small objects that record extra observables during :func:`astrofield.solve`.

A tracker is called every ``every`` steps with the current state and returns a dictionary of
``(B,)`` arrays; :func:`~astrofield.solve` stacks them on a time axis of their own,
``time_<name>``, in the output dataset.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from astrofield._validate import check_int

__all__ = ["Tracker", "DemandTracker", "ResourceTracker", "BumpTracker"]


class Tracker:
    """Base class. Subclasses set :attr:`name` and implement :meth:`handle`."""

    name = "tracker"
    attrs: dict[str, dict[str, Any]] = {}

    def __init__(self, every: int = 1) -> None:
        self.every = check_int("every", every, 1)

    def start(self, sim) -> None:
        """Called once before the run with the :class:`~astrofield.simulator.Simulator`."""

    def handle(self, state, t: float, sim) -> dict[str, np.ndarray]:  # pragma: no cover
        """The observables at one recorded step (called every :attr:`every` steps).

        Parameters
        ----------
        state
            The current :class:`~astrofield.simulator.integrator.State` of the members still
            running (arrays ``(B', N)``).
        t
            Its time, in neural time constants.
        sim
            The :class:`~astrofield.simulator.integrator.Simulator` (grid, firing rate and the
            current parameters ``sim.params``, rows aligned with ``state``).

        Returns
        -------
        dict of str to ndarray
            One ``(B',)`` array per observable, keyed by its name (its metadata, if any, in
            :attr:`attrs`).
        """
        raise NotImplementedError


def _region_weights(x: np.ndarray, region: tuple[float, float] | None) -> np.ndarray:
    if region is None:
        return np.ones_like(x)
    lo, hi = region
    d = (x - lo) % (2 * np.pi)
    return (d <= (hi - lo) % (2 * np.pi)).astype(float)


class DemandTracker(Tracker):
    """Metabolic demand: resource consumption ``∫_region beta q f(u) dx`` (rate, per unit time).

    Parameters
    ----------
    region
        ``(x_lo, x_hi)`` arc on the ring (radians, wraps) or ``None`` for the whole ring.
    every
        Record every ``every`` steps.
    """

    name = "demand"
    attrs = {"demand": {"long_name": "resource consumption rate", "units": "rad",
                        "description": "∫ beta q f(u) dx over the region, per neural time "
                                       "constant"}}

    def __init__(self, region: tuple[float, float] | None = None, every: int = 1) -> None:
        super().__init__(every)
        self.region = region

    def start(self, sim) -> None:
        self.w = _region_weights(sim.ring.x, self.region) * sim.ring.dx

    def handle(self, state, t, sim):
        """``demand``: ``∫_region beta q f(u) dx`` per member (the depletion term of
        ``tau q_t``: resource per unit of ``tau``; divide by ``tau`` for resource per neural time
        constant).

        Parameters
        ----------
        state
            The current :class:`~astrofield.simulator.integrator.State` (arrays ``(B', N)``).
        t
            Its time, in neural time constants (not used).
        sim
            The :class:`~astrofield.simulator.integrator.Simulator` (its current ``beta``,
            firing rate and grid).
        """
        beta = sim.params["beta"]
        if sim.heaviside:
            qf = state.q_in * state.geo.phi
        else:
            qf = state.q_out * sim.firing_out(state.u)
        return {"demand": (beta * qf) @ self.w}


class ResourceTracker(Tracker):
    """Minimum and mean of the synaptic resource ``q``, mean activity and total resource."""

    name = "resource"
    attrs = {"q_min": {"long_name": "minimum synaptic resource", "units": "1"},
             "q_mean": {"long_name": "mean synaptic resource", "units": "1"},
             "u_mean": {"long_name": "mean synaptic input", "units": "1"},
             "total_resource": {"long_name": "total resource", "units": "rad",
                                "description": "∫ (q + a) dx over the ring"}}

    def handle(self, state, t, sim):
        """``q_min``, ``q_mean``, ``u_mean`` (over the grid points) and ``total_resource``
        ``∫ (q + a) dx`` per member.

        Parameters
        ----------
        state
            The current :class:`~astrofield.simulator.integrator.State` (arrays ``(B', N)``).
        t
            Its time, in neural time constants (not used).
        sim
            The :class:`~astrofield.simulator.integrator.Simulator` (its grid).
        """
        q = state.q
        return {"q_min": q.min(axis=-1), "q_mean": q.mean(axis=-1),
                "u_mean": state.u.mean(axis=-1),
                "total_resource": sim.ring.integrate(q + state.a)}


class BumpTracker(Tracker):
    """The bump's first-mode phase and amplitude, the peak of ``u`` and the active width.

    ``phase = atan2(S, C)`` and ``amplitude = sqrt(C^2 + S^2) / pi`` with ``C = ∫ u cos x dx`` and
    ``S = ∫ u sin x dx`` (for ``u = R cos(x - phi)`` this returns ``R`` and ``phi``); ``width`` is
    the total length of ``{u > theta}`` from the sub-grid edge quadrature.
    """

    name = "bump"
    attrs = {"phase": {"long_name": "first-mode phase of u", "units": "rad"},
             "amplitude": {"long_name": "first-mode amplitude of u", "units": "1"},
             "u_max": {"long_name": "maximum of u over the ring", "units": "1"},
             "width": {"long_name": "length of the active region", "units": "rad"}}

    def handle(self, state, t, sim):
        """``phase`` (rad), ``amplitude``, ``u_max`` and ``width`` (rad) per member.

        Parameters
        ----------
        state
            The current :class:`~astrofield.simulator.integrator.State` (arrays ``(B', N)``).
        t
            Its time, in neural time constants (not used).
        sim
            The :class:`~astrofield.simulator.integrator.Simulator` (its grid and current
            ``theta``).
        """
        c, s = sim.ring.first_mode(state.u)
        geo = state.geo if sim.heaviside else sim.ring.edges(state.u, sim.params["theta"])
        return {"phase": np.arctan2(s, c), "amplitude": np.hypot(c, s) / np.pi,
                "u_max": state.u.max(axis=-1), "width": geo.width}
