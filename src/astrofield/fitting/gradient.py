"""Exact derivatives of a simulated position trace by automatic differentiation through the
JAX backend (smooth firing rates).

:class:`JaxJacobian` differentiates the time loop of
:mod:`astrofield.simulator.backends.jax_backend` (the same step, compiled by XLA) with respect
to the fitted parameters in **forward mode** (``jax.jacfwd``: one tangent per parameter carried
along the integration). Forward mode is the right one here: there are few parameters (``p``)
and many outputs (the frames), so ``p`` tangents cost less than one reverse sweep per frame;
and the backend's time loop is a ``fori_loop`` with traced bounds (a ``while`` loop), which
JAX differentiates forward but not in reverse.

What depends on the parameters, and how it is differentiated:

* ``theta``, ``beta``, ``gamma``, ``tau``, ``steepness`` enter the step directly;
* ``D`` and ``tau`` enter the astrocytic propagators ``exp(z)``, ``phi1(z)``, ``phi2(z)`` with
  ``z = -(D / tau) k^2 dt``, rebuilt here from the parameters as JAX expressions;
* the initial state (the stationary bump of the Heaviside theory for ``theta``, ``beta``,
  ``gamma``, shifted by ``eps``) comes from numpy root finding outside JAX: its derivative is
  taken by central differences (relative step ``1e-6``, error ``~1e-10``; no time integration)
  and enters as the linear term ``u0 + (du0 / dtheta) (theta - theta*)``, exact in value at
  ``theta*``.

Heaviside firing is refused: its trace depends on the parameters through the sub-grid edge
geometry (edge positions from a fixed number of Newton iterations, and discrete switches as
the edges cross grid cells), whose automatic derivative is the derivative of the current smooth
piece only; the fit keeps its measured finite differences there (``docs/fitting.md``).
"""

from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np

__all__ = ["JaxJacobian", "SMOOTH_ONLY"]

#: Why Heaviside firing keeps finite differences (the error message of :class:`JaxJacobian`).
SMOOTH_ONLY = (
    "gradient='jax' needs a smooth firing rate (e.g. firing='sigmoid'): with "
    "Heaviside firing the trace depends on the parameters through the sub-grid edge "
    "geometry, whose automatic derivative misses the switches as edges cross grid "
    "cells; use gradient='fd'"
)
_STEP_PARAMS = ("theta", "beta", "gamma", "tau", "steepness")
_INIT_PARAMS = ("theta", "beta", "gamma")


def _phi(z, jnp):
    """``(exp(z), (e^z - 1)/z, (e^z - 1 - z)/z^2)`` for ``z <= 0``, safe to differentiate at 0."""
    small = jnp.abs(z) < 1e-4
    zs = jnp.where(small, 1.0, z)
    p1 = jnp.where(small, 1.0 + z / 2 + z * z / 6, jnp.expm1(zs) / zs)
    p2 = jnp.where(small, 0.5 + z / 6 + z * z / 24, (jnp.expm1(zs) - zs) / zs**2)
    return jnp.exp(z), p1, p2


class JaxJacobian:
    """``d position / d theta`` at the frames of an observation, by forward-mode automatic
    differentiation through the JAX backend.

    Parameters
    ----------
    prob
        The :class:`~astrofield.fitting.problem.Problem` (observable ``position``, a smooth
        firing rate, uniform ``D``, no noise or stimulus, ``init="bump"``).

    Attributes
    ----------
    compile_s
        Seconds spent in the first call (tracing and XLA compilation included).
    n_calls
        Jacobians computed.
    """

    def __init__(self, prob: Any) -> None:
        if prob.model.firing.edges:
            raise ValueError(SMOOTH_ONLY)
        if prob.obs.observable != "position":
            raise ValueError(
                f"gradient='jax' supports the observable 'position' only, got "
                f"{prob.obs.observable!r}"
            )
        extra = sorted(set(prob.solve_options) - {"backend", "init"})
        if extra or prob.solve_options.get("init", "bump") != "bump":
            raise ValueError(
                f"gradient='jax' supports init='bump' without further solve "
                f"options, got {sorted(prob.solve_options)}"
            )
        self.prob = prob
        self.compile_s = float("nan")
        self.n_calls = 0

    def _setup(self, theta: np.ndarray) -> tuple[dict, tuple]:
        """Arrays of the step at ``theta`` (one member), the initial state and its derivative."""
        from dataclasses import replace

        from astrofield.simulator.backends import jax_backend as jb
        from astrofield.simulator.integrator import Simulator, _frame_steps, initial_state

        prob, s = self.prob, self.prob.obs.settings
        model = replace(prob.model, **dict(zip(prob.names, map(float, theta), strict=True)))
        N, dt = int(s["N"]), float(s["dt"])

        def init(m):
            return np.stack(
                initial_state(m, N, "bump", eps=s["eps"], position=s["position"], batch=1)[0]
            )[:, 0]  # (3, N): u, q, a

        y0 = init(model)
        dy = np.zeros((prob.p, 3, N))
        for k, name in enumerate(prob.names):
            if name in _INIT_PARAMS:
                h = 1e-6 * max(abs(theta[k]), 1e-3)
                dy[k] = (
                    init(replace(model, **{name: theta[k] + h}))
                    - init(replace(model, **{name: theta[k] - h}))
                ) / (2 * h)
        sim = Simulator(model, N, batch=1)
        static, arrs = jb._constants(sim, dt)
        n_steps = int(round(s["T"] / dt))
        ends = _frame_steps(n_steps, int(s["n_frames"]), None)[1:]
        k2 = np.broadcast_to(sim.ring.k**2, arrs["e"].shape).copy()
        extra = {
            "y0": y0,
            "dy": dy,
            "k2": k2,
            "theta0": np.asarray(theta, float),
            "ends": ends.astype(np.int64),
        }
        return {**arrs, **extra}, static

    def __call__(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions at the frames ``(n,)`` (rad) and ``d position / d theta`` ``(n, p)`` (rad
        per unit of each parameter) at the parameters ``theta`` ``(p,)``."""
        from astrofield.simulator.backends import jax_backend as jb

        jax, jnp = jb._jax()
        t0 = time.perf_counter()
        with jb._x64(jax):
            a, static = self._setup(np.asarray(theta, float))
            m = self.prob.model
            fn = _compiled(
                static,
                float(self.prob.obs.settings["dt"]),
                tuple(self.prob.names),
                float(m.D),
                float(m.tau),
            )
            arrs = {k: jnp.asarray(v) for k, v in a.items()}
            y, J = fn(arrs, jnp.asarray(theta, dtype=float))
            y, J = np.asarray(y), np.asarray(J)
        if self.n_calls == 0:
            self.compile_s = time.perf_counter() - t0
        self.n_calls += 1
        return y, J


@functools.lru_cache(maxsize=16)
def _compiled(static: tuple, dt: float, names: tuple[str, ...], D: float, tau: float):
    """The compiled ``(arrs, theta) -> (positions (n,), J (n, p))`` for one configuration
    (cached: later fits of the same problem reuse the compiled code; ``D``, ``tau``: the fixed
    values, used where they are not fitted)."""
    from astrofield.simulator.backends import jax_backend as jb

    jax, jnp = jb._jax()
    block = jb._block_fn(static, dt, False)
    skip = ("y0", "dy", "k2", "theta0", "ends")

    def trace(pv, a):
        arrs = {k: v for k, v in a.items() if k not in skip}
        for k, name in enumerate(names):
            if name in _STEP_PARAMS:
                arrs[name] = jnp.broadcast_to(pv[k], a[name].shape)
        if "D" in names or "tau" in names:
            d = pv[names.index("D")] if "D" in names else D
            t = pv[names.index("tau")] if "tau" in names else tau
            arrs["e"], arrs["p1"], arrs["p2"] = _phi(-(d / t) * a["k2"] * dt, jnp)
        y = a["y0"] + jnp.tensordot(pv - a["theta0"], a["dy"], axes=1)
        u, q, aa = (y[i][None] for i in range(3))
        pos0 = jb._Step(static, arrs).phase(u)
        carry = (
            u,
            q,
            q,
            aa,
            pos0,
            pos0,
            jnp.ones(1, bool),
            jnp.zeros(1, bool),
            jnp.full(1, jnp.nan),
        )
        _, (obs, _) = block(arrs, 0, carry, a["ends"])
        return jnp.concatenate([pos0, obs[:, 0, 0]])

    def both(a, pv):
        return trace(pv, a), jax.jacfwd(trace)(pv, a)

    return jax.jit(both)
