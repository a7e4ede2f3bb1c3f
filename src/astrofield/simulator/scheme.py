"""The time step shared by the ring and the torus: ETD2RK, exponential trapezoid, shared flux.

One step of length ``h`` (all times in units of the neural time constant) of

``u_t = -u + w * (q f(u)) + I``, ``tau q_t = gamma a (1 - q) - beta q f(u)``,
``tau a_t = D Δa + beta q f(u) - gamma a (1 - q)``

with the firing rate ``f`` sampled at the grid nodes (smooth firing; see
:mod:`astrofield.simulator.integrator` for the ring's sub-grid Heaviside step, which uses the
flux helpers of this module):

1. ``u`` by ETD2RK (Cox and Matthews 2002): the decay ``-u`` exact, the drive
   ``N = w * (q f) + I`` by a predictor-corrector;
2. ``q`` by the exact solution of ``tau q_t = gamma a - (gamma a + beta f) q`` with the
   coefficients averaged over the step (exponential trapezoid; predictor values from the ETD
   stage);
3. ``a`` by an exponential integrator, exact for the diffusion, with the exchange flux linear in
   time over the step and its step average ``J_eff = -Δq / h`` taken from the resource update
   itself: one shared flux, so the total resource ``∫ (q + a)`` is conserved to round-off.

Stiff exchange (``z = h k > 1``, ``k = (gamma a + beta f) / tau`` the relaxation rate of ``q``;
elsewhere the step is exactly the one above): the predictor of ``a`` takes its flux from the
predicted ``q`` (:func:`astro_predictor`), the flux's slope is damped by ``1 / z``
(:func:`flux_ends`), the coefficient ``gamma a`` of the corrector uses ``max(a0 + a_p, 0)``, and
:func:`~astrofield.simulator.step_control.limit_negative_a` gives back to ``a`` what the
exchange over-drew. The step is then stable at any ``h``, keeps ``q`` in ``[0, 1]`` and ``a >= 0``
and still conserves the total exactly.

The space enters only through the operators of a :class:`Space` (the ring's
:class:`~astrofield.simulator.integrator.Simulator`, the torus's
:class:`~astrofield.simulator.torus.Simulator2D`): state arrays may have any trailing shape,
``(B, N)`` on the ring and ``(B, N, N)`` on the torus, and parameters broadcast against them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from astrofield.simulator.expint import relax
from astrofield.simulator.step_control import limit_negative_a

__all__ = ["Space", "smooth_step", "astro_predictor", "flux_ends", "shared_flux_update"]

#: ``astro_update(a0, J0, J1, h, cache=None) -> a``, see :meth:`Space.astro_update`.
AstroUpdate = Callable[..., np.ndarray]


class Space(Protocol):
    """The space-specific operators one step needs (a structural type: any object with these).

    Attributes
    ----------
    params
        ``"beta"``, ``"gamma"``, ``"tau"`` (and whatever :meth:`rate` uses) as arrays that
        broadcast against the state, e.g. ``(B, 1)`` on the ring, ``(B, 1, 1)`` on the torus.
    draw_noise
        ``draw(h)``: the additive noise increment of ``u`` over a step, or ``None``.
    """

    params: dict[str, np.ndarray]
    draw_noise: Callable[[float], np.ndarray] | None

    def rate(self, u: np.ndarray) -> np.ndarray:
        """Firing rate ``f(u)`` at the nodes (dimensionless, in ``[0, 1]``)."""

    def drive_nodal(self, q: np.ndarray, f: np.ndarray) -> np.ndarray:
        """Synaptic drive ``∫ w(x - y) q(y) f(y) dy`` on the grid, same shape as ``q``."""

    def input(self, t: float) -> np.ndarray | float:
        """External input ``I`` at time ``t``."""

    def astro_update(self, a0: np.ndarray, J0: np.ndarray, J1: np.ndarray, h: float,
                     cache: dict | None = None) -> np.ndarray:
        """``a(h)`` of ``a_t = L a + J(t)``, ``L`` the diffusion ``(D / tau) Δ``, ``J`` linear
        from ``J0`` to ``J1``, exact; the mean of ``a`` changes by exactly ``h (J0 + J1) / 2``.
        Calls with the same ``a0`` and ``J0`` may share ``cache``."""


def flux_ends(J0: np.ndarray, J_mean: np.ndarray, z0: np.ndarray,
              xp: Any = np) -> tuple[Any, Any]:
    """Start and end values of an exchange flux, linear over the step with average ``J_mean``.

    Parameters
    ----------
    J0
        Exchange flux into ``a`` at the start of the step (per unit time).
    J_mean
        Its step average (``-Δq / h``), which fixes the total exactly.
    z0
        Stiffness ``h k`` of the exchange at the start of the step.
    xp
        Array namespace: ``numpy`` or ``jax.numpy`` (the JAX backend calls this only where some
        cell is stiff and always takes the damped formula, which has no data-dependent branch).

    Returns
    -------
    Js, Je
        ``J0`` and ``2 J_mean - J0`` where the exchange is slow (``z0 <= 1``: the ETD2 flux);
        where it is stiff the slope is damped, ``Js = J_mean + (J0 - J_mean) / z0``, since the
        explicit start flux of a fast exchange would blow up the spatial modes of ``a``.
        ``Js`` is the object ``J0`` itself when no cell is stiff.
    """
    psi = 1.0 / xp.maximum(z0, 1.0)
    Js = J_mean + (J0 - J_mean) * psi if xp is not np or np.any(z0 > 1.0) else J0
    return Js, 2.0 * J_mean - Js


def astro_predictor(astro_update: AstroUpdate, a0, J0, dq_p: Callable[[], np.ndarray], z0,
                    h: float, cache: dict) -> np.ndarray:
    """Predictor for ``a``.

    Parameters
    ----------
    astro_update
        The space's exact astrocyte update (:meth:`Space.astro_update`).
    a0, J0
        Astrocytic resource and exchange flux at the start of the step.
    dq_p
        Zero-argument callable returning the predicted change of the (cell-mean) ``q`` over the
        step; called only if some cell is stiff.
    z0
        Stiffness ``h k`` at the start of the step.
    h
        Step length.
    cache
        Shared with the corrector's :func:`shared_flux_update` (same ``a0``, ``J0``).

    Returns
    -------
    numpy.ndarray
        Exponential Euler with the start flux ``J0`` where the exchange is slow; where it is
        stiff, the step-averaged flux of the predicted ``q`` (locally conservative, so the
        explicit start flux cannot overshoot) with the damped slope of :func:`flux_ends`, kept
        non-negative.
    """
    stiff = z0 > 1.0
    if not np.any(stiff):
        return astro_update(a0, J0, J0, h, cache)
    Js, Je = flux_ends(J0, -dq_p() / h, z0)
    a_p = astro_update(a0, Js, np.where(stiff, Je, J0), h)
    return np.where(stiff, np.maximum(a_p, 0.0), a_p)


def shared_flux_update(astro_update: AstroUpdate, a0, J0, J_mean, z0, h: float,
                       cache: dict) -> np.ndarray:
    """``a`` after the step with the exchange flux of :func:`flux_ends`.

    Parameters
    ----------
    astro_update, a0, J0, z0, h
        As in :func:`astro_predictor`.
    J_mean
        Step average of the exchange flux, ``-Δq / h`` from the resource update itself, so
        ``∫ (q + a)`` is conserved to round-off.
    cache
        The predictor's cache (used only where the start flux is ``J0`` itself).

    Returns
    -------
    numpy.ndarray
        The astrocytic resource at the end of the step.
    """
    Js, Je = flux_ends(J0, J_mean, z0)
    return astro_update(a0, Js, Je, h, cache if Js is J0 else None)


def smooth_step(space: Space, u0: np.ndarray, q0: np.ndarray, a0: np.ndarray, t: float,
                h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of the scheme (module docstring) with the firing rate sampled at the nodes.

    Parameters
    ----------
    space
        The space's operators (:class:`Space`).
    u0, q0, a0
        State at time ``t``, arrays of one shape (any trailing shape).
    t, h
        Time and step length.

    Returns
    -------
    u, q, a
        The state at ``t + h`` (new arrays). ``q + a`` has the same total as ``q0 + a0`` to
        round-off; ``q`` stays in ``[0, 1]`` and ``a >= 0`` at any ``h``.
    """
    P = space.params
    beta, gamma, tau = P["beta"], P["gamma"], P["tau"]
    f0 = space.rate(u0)
    N0 = space.drive_nodal(q0, f0) + space.input(t)
    E = np.exp(-h)
    u1 = E * u0 + (1.0 - E) * N0
    # exchange flux (into a, per unit time) at the start of the step
    # a >= 0 in the rates: a spectral undershoot of a (a flux with jumps, Gibbs) must not make
    # the relaxation rate of q negative (anti-damped, overflowing at any step)
    a0p = np.maximum(a0, 0.0)
    s0 = gamma * a0p / tau
    J0 = (beta * q0 * f0 - gamma * a0p * (1.0 - q0)) / tau
    # predictor (exponential Euler) for q and a; z0: stiffness of the exchange times h
    q_p = relax(q0, s0 + beta * f0 / tau, s0, h)
    z0 = h * (s0 + beta * f0 / tau)
    cache: dict = {}
    a_p = astro_predictor(space.astro_update, a0, J0, lambda: q_p - q0, z0, h, cache)
    f1 = space.rate(u1)
    N1 = space.drive_nodal(q_p, f1) + space.input(t + h)
    u_new = u1 + ((E - 1.0 + h) / h) * (N1 - N0)
    # corrector: exponential trapezoid for q, shared flux into a
    sb = gamma * 0.5 * np.maximum(a0 + a_p, 0.0) / tau  # >= 0 (equal where a_p >= -a0)
    fbar = 0.5 * (f0 + f1)
    q_n = relax(q0, sb + beta * fbar / tau, sb, h)
    a_n = shared_flux_update(space.astro_update, a0, J0, -(q_n - q0) / h, z0, h, cache)
    a_n, q_n, _ = limit_negative_a(a_n, q_n, q_n, q0, q0, 1.0)
    if space.draw_noise is not None:
        u_new = u_new + space.draw_noise(h)
    return u_new, q_n, a_n
