"""Travelling bumps for Heaviside firing, solved in the co-moving frame.

A bump moving at speed ``c > 0`` is stationary in ``xi = x - c t``; with Heaviside firing its
active set is an arc, placed at ``(-h, h)`` (phase condition: the arc's midpoint at ``xi = 0``).
The profiles ``U(xi), Q(xi), A(xi)`` solve

.. code-block:: text

    0 = -U + ∫ w(xi - y) Q(y) H(U(y) - theta) dy + c U'
    0 = gamma A (1 - Q) - beta Q H + c tau Q'
    0 = D A'' + beta Q H - gamma A (1 - Q) + c tau A'

on the periodic domain, with ``∫ (Q + A) dxi = mass``. Three reductions make this a small
boundary-value problem:

* **Resource.** ``c tau Q' = (beta H + gamma A) Q - gamma A`` is linear in ``Q``. Adding the
  ``q``- and ``a``-equations gives ``(D A' + c tau (A + Q))' = 0``, so
  ``D A' = K - c tau (A + Q)`` with ``K = c tau mass / (2 pi)`` (integrate over a period).
  For ``D = inf`` the pool ``A`` is one number; ``Q`` is then a piecewise exponential in closed
  form (periodicity closes it), see :func:`closed_form`.
* **Activity.** ``U = G_c * (Q H)`` with the co-moving Green's function
  ``G_c(z) = sum_k w_k exp(i k z) / (1 - i k c)`` (``w_k`` the Fourier coefficients of the
  kernel, ``w(x) = sum_k w_k exp(i k x)``). For ``w = amp cos`` this is
  ``G_c(z) = amp (cos z - c sin z) / (1 + c^2)``.
* **Edges.** ``U(-h) = U(h) = theta``: two equations, matched by two unknowns (the half-width
  ``h`` and either the speed ``c`` or one model parameter).

For finite ``D`` the two arcs are mapped onto ``[0, 1]`` and the four first-order equations
(``Q, A`` on each arc, plus the running edge integrals ``∫ G_c(+-h - y) Q dy``) are solved by
collocation (:func:`scipy.integrate.solve_bvp`). ``c -> 0`` is singular (``Q`` jumps at the
edges), so branches start at a small speed next to the drift bifurcation of the stationary bump,
which is where the travelling branch is born (``c`` and ``p - p_drift`` small together).

Stability of travelling Heaviside bumps is not computed here (the edges of a moving bump meet
resource on both sides in a way the stationary edge linearisation does not describe).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.integrate import cumulative_trapezoid, solve_bvp
from scipy.interpolate import CubicSpline
from scipy.optimize import root

from astrofield._validate import check_range
from astrofield.model.definition import PARAMETER_RANGES, Model
from astrofield.theory.steady import SteadyStateError

__all__ = ["TravellingBump", "travelling_bump", "closed_form", "follow_speed", "FREE"]

#: Quantities that can be the extra unknown: the speed or one model parameter.
FREE = ("c", "beta", "gamma", "D", "theta", "tau")

_TWO_PI = 2 * np.pi


# --------------------------------------------------------------------------------------------
# co-moving Green's function of the activity equation
# --------------------------------------------------------------------------------------------

def _kernel_modes(kernel, M: int = 4096, rtol: float = 1e-13) -> np.ndarray:
    """Real Fourier coefficients ``w_k`` of an even kernel (``w = sum w_k e^{ikx}``)."""
    if kernel.is_cosine:
        return np.array([0.0, 0.5 * getattr(kernel, "amplitude", 1.0)])
    x = _TWO_PI * np.arange(M) / M
    wk = np.fft.rfft(kernel(x)).real / M
    big = np.flatnonzero(np.abs(wk) > rtol * np.abs(wk).max())
    return wk[:max(int(big[-1]) + 1, 2)]


class _Green:
    """``G_c(z)``: direct mode sum for few modes, a periodic spline table otherwise."""

    def __init__(self, wk: np.ndarray, c: float, M: int = 4096):
        k = np.arange(wk.size)
        self.coef = wk / (1.0 - 1j * k * c)
        self.k = k
        self.spline = None
        if wk.size > 8:
            z = _TWO_PI * np.arange(M + 1) / M
            full = np.zeros(M // 2 + 1, complex)
            full[:min(wk.size, M // 2)] = self.coef[:M // 2]
            g = np.fft.irfft(full, n=M) * M  # coef_0 + 2 Re sum_k coef_k e^{ikz} on the table
            self.spline = CubicSpline(z, np.append(g, g[0]), bc_type="periodic")

    def _direct(self, z: np.ndarray) -> np.ndarray:
        e = np.exp(1j * np.multiply.outer(z, self.k[1:]))
        return self.coef[0].real + 2.0 * (e @ self.coef[1:]).real

    def __call__(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, float)
        if self.spline is None:
            return self._direct(z)
        return self.spline(np.mod(z, _TWO_PI))


# --------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------

@dataclass
class TravellingBump:
    """A travelling Heaviside bump in the co-moving frame (arc ``(-h, h)``, speed ``c > 0``).

    Attributes
    ----------
    model
        The model, with the solved parameter (if any) set to its value.
    speed
        ``c`` (rad per neural time constant); the bump moves towards ``+x``.
    half_width
        ``h`` (rad): the active arc is ``(-h, h)`` in ``xi = x - c t``.
    A_mean
        Mean astrocyte resource (the uniform pool for ``D = inf``).
    mass
        Total resource ``∫ (Q + A) dxi``.
    method
        ``"closed form"`` (cosine kernel, ``D = inf``) or ``"collocation"``.
    residual
        Max-norm of the equations at the solution: the edge conditions (their mean minus
        ``theta`` and their half-difference divided by ``c``), the mass for ``D = inf`` and,
        for collocation, the continuity and periodicity conditions.
    """

    model: Model
    speed: float
    half_width: float
    A_mean: float
    mass: float
    method: str
    residual: float
    _sol: object = None  # solve_bvp result (collocation) or None
    _green: object = None

    def profiles(self, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``Q(xi), A(xi)`` at co-moving positions ``xi`` (any real values, periodic)."""
        h = self.half_width
        z = np.mod(np.asarray(xi, float) + h, _TWO_PI) - h  # in [-h, 2 pi - h)
        act = z < h
        if self._sol is None:
            Q = _closed_q(z, h, self.A_mean, self.speed, self.model)
            return Q, np.full(z.shape, self.A_mean)
        sa = (z + h) / (2 * h)
        si = (z - h) / (_TWO_PI - 2 * h)
        ya, yi = self._sol.sol(np.clip(sa, 0, 1)), self._sol.sol(np.clip(si, 0, 1))
        if np.isinf(self.model.D):
            return np.where(act, ya[0], yi[3]), np.full(z.shape, self.A_mean)
        return np.where(act, ya[0], yi[4]), np.where(act, ya[1], yi[5])

    def fields(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``U, Q, A`` at ``x`` (``xi = x`` at ``t = 0``). ``U`` by quadrature of
        ``G_c * (Q H)`` over the active arc (dense near the front edge's boundary layer)."""
        h, c = self.half_width, self.speed
        y = _arc_nodes(h, c, self.model)
        Qy, _ = self.profiles(y)
        G = self._green(np.subtract.outer(np.asarray(x, float), y))
        wts = np.concatenate([[0.5 * (y[1] - y[0])], 0.5 * (y[2:] - y[:-2]),
                              [0.5 * (y[-1] - y[-2])]])
        U = G @ (wts * Qy)
        Q, A = self.profiles(x)
        return U, Q, A

    def measures(self, n: int = 512) -> dict[str, float]:
        """``amplitude`` (max ``U``), ``width`` (``2 h``), ``speed``."""
        x = np.linspace(-np.pi, np.pi, n, endpoint=False)
        U, _, _ = self.fields(x)
        return {"amplitude": float(U.max()), "width": 2 * self.half_width,
                "speed": self.speed}


def _arc_nodes(h: float, c: float, model: Model, n: int = 1200) -> np.ndarray:
    """Quadrature nodes on ``[-h, h]``, uniform plus a geometric cluster at the front edge
    ``h``, whose boundary layer has width ``c tau / (beta + gamma A) <= c tau / beta``."""
    layer = max(c * float(model.tau) / (float(model.beta) + 1e-3), 1e-6)
    extra = h - np.minimum(layer * np.geomspace(1e-4, 40.0, 300), 2 * h)
    return np.unique(np.concatenate([np.linspace(-h, h, n), extra]))


# --------------------------------------------------------------------------------------------
# D = inf: closed form
# --------------------------------------------------------------------------------------------

def _closed_coeffs(h, A, c, model):
    """Rates and the resource at the front edge ``Q(h)`` for ``D = inf``."""
    be, ga, tau = float(model.beta), float(model.gamma), float(model.tau)
    ka, ki = (be + ga * A) / (c * tau), ga * A / (c * tau)
    qa = ga * A / (ga * A + be)
    Ea, Ei = np.exp(-ka * 2 * h), np.exp(-ki * (_TWO_PI - 2 * h))
    Q2 = (1 - Ei + qa * (1 - Ea) * Ei) / (1 - Ea * Ei)
    Q1 = qa + (Q2 - qa) * Ea
    return ka, ki, qa, Ea, Ei, Q2, Q1


def _closed_q(z, h, A, c, model):
    """``Q`` for ``D = inf`` at ``z`` in ``[-h, 2 pi - h)``: ``c tau Q' = k (Q - Q*)`` on each arc,
    integrated from the front edge ``h`` backwards (the direction resource is carried)."""
    ka, ki, qa, _, _, Q2, Q1 = _closed_coeffs(h, A, c, model)
    act = z < h
    zi = np.where(act, z + _TWO_PI, z)  # inactive arc measured from -h + 2 pi downwards
    return np.where(act, qa + (Q2 - qa) * np.exp(ka * (np.minimum(z, h) - h)),
                    1 + (Q1 - 1) * np.exp(ki * (np.minimum(zi, _TWO_PI - h) - (_TWO_PI - h))))


def _closed_residual(h, A, c, model, mass):
    """Edge conditions and mass for the cosine kernel, ``D = inf`` (all in closed form)."""
    ka, ki, qa, Ea, Ei, Q2, Q1 = _closed_coeffs(h, A, c, model)
    amp = 2 * _kernel_modes(model.kernel)[1]
    F = (np.exp(1j * h) - Ea * np.exp(-1j * h)) / (ka + 1j)  # ∫ e^{iy} e^{ka (y - h)} dy
    C = qa * 2 * np.sin(h) + (Q2 - qa) * F.real
    S = (Q2 - qa) * F.imag
    al, bt = amp * (C + c * S) / (1 + c * c), amp * (S - c * C) / (1 + c * c)
    th = float(model.theta)
    m = (qa * 2 * h + (Q2 - qa) * (1 - Ea) / ka + (_TWO_PI - 2 * h)
         + (Q1 - 1) * (1 - Ei) / ki + _TWO_PI * A)
    # U(+-h) = theta as their mean and their half-difference / c (odd in c: regular at c -> 0)
    return np.array([al * np.cos(h) - th, bt * np.sin(h) / c, (m - mass) / _TWO_PI])


def closed_form(model: Model, speed: float, free: str, guess: tuple, *,
                mass: float = _TWO_PI, tol: float = 1e-10) -> TravellingBump:
    """Travelling bump for the cosine kernel and ``D = inf`` in closed form.

    Unknowns ``(h, X, A)`` with ``X`` the speed (``free = "c"``, ``speed`` ignored) or the model
    parameter ``free`` (``speed`` fixed); ``guess = (h, X, A)``. Equations: ``U(+-h) = theta``
    and the mass, with ``U = alpha cos + beta_s sin``, ``alpha = amp (C + c S) / (1 + c^2)``,
    ``beta_s = amp (S - c C) / (1 + c^2)`` and ``C, S`` the closed-form moments of ``Q`` over
    the arc. Raises :class:`SteadyStateError` when no solution is found near ``guess``.
    """
    if not (model.kernel.is_cosine and np.isinf(model.D)):
        raise ValueError("closed_form needs the cosine kernel and D = inf")
    _check_inputs(model, speed, free, mass)

    def res(z):
        h, X, A = z
        c, m = _apply(model, speed, free, X)
        if m is None or not (0 < h < np.pi) or A <= 0 or c <= 0:
            return np.full(3, 1e3)
        return _closed_residual(h, A, c, m, mass)

    sol = root(res, np.asarray(guess, float), method="hybr", tol=1e-14)
    r = float(np.max(np.abs(res(sol.x))))
    if not (r < tol and np.isfinite(r)):
        raise SteadyStateError(f"no travelling bump found near h = {guess[0]:.4g} "
                               f"({free} = {guess[1]:.4g}): residual {r:.2g}")
    h, X, A = sol.x
    c, m = _apply(model, speed, free, X)
    return TravellingBump(m, c, float(h), float(A), mass, "closed form", r, None,
                          _Green(_kernel_modes(m.kernel), c))


def _check_inputs(model: Model, speed, free: str, mass: float) -> None:
    """Clear errors for a batched or sigmoid model, a bad ``free``, ``speed`` or ``mass``."""
    if model.is_batched:
        raise ValueError("travelling bumps need an unbatched Model (scalar parameters)")
    if not model.firing.edges:
        raise ValueError(f"firing = {model.firing.describe()}: travelling bumps here are for "
                         "Heaviside firing (smooth rates: continue_bumps)")
    _check_free(free, model)
    if free != "c" and not (speed is not None and 0 < speed < np.inf):
        raise ValueError(f"speed = {speed} must be in (0, inf) when free = {free!r}")
    if not 0 < mass < np.inf:
        raise ValueError(f"mass = {mass} must be in (0, inf)")


def _check_free(free: str, model: Model) -> None:
    if free not in FREE:
        raise ValueError(f"free = {free!r} is not one of {FREE}")
    if free == "D" and np.isinf(model.D):
        raise ValueError("free = 'D' needs a finite D (D = inf is a separate limit)")


def _apply(model: Model, speed: float, free: str, X: float):
    """``(c, model)`` with the unknown ``X`` put in place; ``model`` is None out of range."""
    if free == "c":
        return float(X), model
    lo, hi, lo_open, hi_open, _ = PARAMETER_RANGES[free]
    if not ((lo < X if lo_open else lo <= X) and (X < hi if hi_open else X <= hi)):
        return float(speed), None
    return float(speed), replace(model, **{free: float(X)})


# --------------------------------------------------------------------------------------------
# any kernel, any D: collocation on the two arcs
# --------------------------------------------------------------------------------------------

class _Arcs:
    """The boundary-value problem on the active arc ``(-h, h)`` and the inactive arc
    ``(h, 2 pi - h)``, each mapped onto ``s in [0, 1]``.

    Components, finite ``D``: ``Q_a, A_a, I_+, I_-, Q_i, A_i`` (``I_+-`` are the running
    integrals ``∫ G_c(+-h - y) Q(y) dy`` over the active arc, so ``U(+-h) = I_+-(1)``).
    ``D = inf``: ``Q_a, I_+, I_-, Q_i, M_a, M_i`` (``M``: running resource integrals) and the pool
    ``A`` is a third unknown parameter. Unknown parameters: ``p = (h, X[, A])``.
    """

    def __init__(self, model: Model, speed: float, free: str, mass: float):
        self.model, self.speed, self.free, self.mass = model, speed, free, mass
        self.inf = bool(np.isinf(model.D))
        self.wk = _kernel_modes(model.kernel)
        self._greens: dict[float, _Green] = {}
        self._models: dict[float, tuple] = {}

    def green(self, c: float) -> _Green:
        g = self._greens.get(c)
        if g is None:
            if len(self._greens) > 16:
                self._greens.clear()
            g = self._greens[c] = _Green(self.wk, c)
        return g

    def unpack(self, p):
        key = float(p[1])
        hit = self._models.get(key)
        if hit is None:
            if len(self._models) > 64:
                self._models.clear()
            hit = self._models[key] = self._unpack_model(key)
        return float(p[0]), hit[0], hit[1]

    def _unpack_model(self, X):
        c, m = _apply(self.model, self.speed, self.free, X)
        if m is None:  # out of range: clip (the residual then cannot vanish)
            lo, hi = PARAMETER_RANGES[self.free][:2]
            m = replace(self.model, **{self.free: float(np.clip(X, lo + 1e-12, hi))})
        return max(c, 1e-12), m

    def fun(self, s, y, p):
        h, c, m = self.unpack(p)
        be, ga, tau, D = float(m.beta), float(m.gamma), float(m.tau), float(m.D)
        La, Li = 2 * h, _TWO_PI - 2 * h
        xa = -h + La * s
        G = self.green(c)
        out = np.empty_like(y)
        if self.inf:
            A = p[2]
            Qa, Qi = y[0], y[3]
            out[0] = La * ((be + ga * A) * Qa - ga * A) / (c * tau)
            out[3] = Li * ga * A * (Qi - 1) / (c * tau)
            out[4], out[5] = La * Qa, Li * Qi
            k1, k2 = 1, 2
        else:
            Qa, Aa, Qi, Ai = y[0], y[1], y[4], y[5]
            K = c * tau * self.mass / _TWO_PI
            out[0] = La * ((be + ga * Aa) * Qa - ga * Aa) / (c * tau)
            out[1] = La * (K - c * tau * (Aa + Qa)) / D
            out[4] = Li * ga * Ai * (Qi - 1) / (c * tau)
            out[5] = Li * (K - c * tau * (Ai + Qi)) / D
            k1, k2 = 2, 3
        out[k1] = La * G(h - xa) * Qa
        out[k2] = La * G(-h - xa) * Qa
        return out

    def bc(self, ya, yb, p):
        h, c, m = self.unpack(p)
        th = float(m.theta)
        if self.inf:
            Up, Um = yb[1], yb[2]
            rest = [yb[0] - ya[3], yb[3] - ya[0], ya[1], ya[2], ya[4], ya[5],
                    (yb[4] + yb[5] + _TWO_PI * p[2] - self.mass) / _TWO_PI]
        else:
            Up, Um = yb[2], yb[3]
            rest = [yb[0] - ya[4], yb[1] - ya[5], yb[4] - ya[0], yb[5] - ya[1], ya[2], ya[3]]
        # mean and half-difference / c of the edge conditions (regular as c -> 0)
        return np.array([0.5 * (Up + Um) - th, 0.5 * (Up - Um) / c] + rest)

    def initial(self, h: float, c: float, A: float, m: Model, n: int = 400):
        """Mesh and profiles from the ``D = inf`` closed-form resource with pool ``A``."""
        s = _base_mesh(n)
        La, Li = 2 * h, _TWO_PI - 2 * h
        Qa = _closed_q(-h + La * s, h, A, c, m)
        Qi = _closed_q(h + Li * s * (1 - 1e-12), h, A, c, m)
        G = self.green(c)
        xa = -h + La * s
        Ip = cumulative_trapezoid(La * G(h - xa) * Qa, s, initial=0.0)
        Im = cumulative_trapezoid(La * G(-h - xa) * Qa, s, initial=0.0)
        if self.inf:
            y = np.vstack([Qa, Ip, Im, Qi, cumulative_trapezoid(La * Qa, s, initial=0.0),
                           cumulative_trapezoid(Li * Qi, s, initial=0.0)])
        else:
            y = np.vstack([Qa, np.full_like(s, A), Ip, Im, Qi, np.full_like(s, A)])
        return s, y


def _base_mesh(n: int = 400) -> np.ndarray:
    """Uniform nodes on ``[0, 1]`` plus geometric clusters at both ends (edge layers)."""
    return np.unique(np.concatenate([np.linspace(0, 1, n), 1 - np.geomspace(1e-6, 0.2, 60),
                                     np.geomspace(1e-6, 0.2, 60)]))


def _bvp_solve(arcs: _Arcs, s, y, p, tol: float) -> TravellingBump:
    """Collocation from ``(s, y, p)``; raises :class:`SteadyStateError` on failure."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        sol = solve_bvp(arcs.fun, arcs.bc, s, y, p=np.asarray(p, float), tol=tol,
                        bc_tol=tol, max_nodes=5000)
    h, c, m = arcs.unpack(sol.p)
    r = float(np.max(np.abs(arcs.bc(sol.y[:, 0], sol.y[:, -1], sol.p))))
    ok = (sol.status == 0 and 0 < h < np.pi and np.isfinite(r)
          and _apply(arcs.model, arcs.speed, arcs.free, sol.p[1])[1] is not None
          and np.all(sol.y[0] > 0))
    if not ok:
        raise SteadyStateError(f"collocation failed for the travelling bump ({sol.message}; "
                               f"h = {h:.4g}, {arcs.free} = {sol.p[1]:.4g}, residual {r:.2g}); "
                               "start from a nearby bump (continue_bumps from the drift point) "
                               "or lower the speed")
    if not _consistent(TravellingBump(m, c, h, 0.0, arcs.mass, "", r, sol, arcs.green(c))):
        raise SteadyStateError(f"collocation found h = {h:.4g}, {arcs.free} = {sol.p[1]:.4g}, "
                               "but U crosses theta away from the edges: not a single bump")
    A = float(sol.p[2]) if arcs.inf else float(
        np.trapezoid(np.concatenate([sol.y[1] * 2 * h, sol.y[5] * (_TWO_PI - 2 * h)]),
                     np.concatenate([sol.x, 1 + sol.x])) / _TWO_PI)
    return TravellingBump(m, c, h, A, arcs.mass, "collocation", r, sol, arcs.green(c))


def _consistent(tb: TravellingBump, n: int = 256) -> bool:
    """``U > theta`` inside the arc and ``< theta`` outside (sampled, edges excluded)."""
    h = tb.half_width
    x = np.linspace(-np.pi, np.pi, n, endpoint=False)
    x = x[np.abs(np.abs(x) - h) > 2 * np.pi / n]
    U, _, _ = tb.fields(x)
    th = float(tb.model.theta)
    return bool(np.all((U > th) == (np.abs(x) < h)))


def travelling_bump(model: Model, *, speed: float | None = None, free: str = "c",
                    guess: TravellingBump | tuple | None = None, mass: float = _TWO_PI,
                    tol: float = 1e-6) -> TravellingBump:
    """A travelling Heaviside bump of ``model`` by collocation (any kernel, ``D > 0`` or inf).

    Parameters
    ----------
    model
        Unbatched model with Heaviside firing.
    speed
        Fixed speed ``c > 0`` when ``free`` is a model parameter (ignored for ``free = "c"``).
    free
        The extra unknown: ``"c"`` (speed at the model's parameters) or one of
        ``beta, gamma, D, theta, tau`` (its value at the given ``speed``).
    guess
        A nearby :class:`TravellingBump` (its profiles start the collocation) or a tuple
        ``(h, X, A)``: half-width, value of the unknown and mean pool (the resource then starts
        from the ``D = inf`` closed form).
    mass
        Total resource per period, ``∫ (Q + A) dxi`` (rad; default ``2 pi``, the resting
        value of ``Q = 1, A = 0``).
    tol
        Collocation tolerance (relative residual and boundary conditions).

    Returns
    -------
    TravellingBump
        Raises :class:`SteadyStateError` if collocation fails near ``guess``.
    """
    _check_inputs(model, speed, free, mass)
    check_range("tol", tol, 0.0, 1e-2, lo_open=True)
    if guess is None:
        raise ValueError("travelling_bump needs a guess (a TravellingBump or (h, X, A)); "
                         "continue_bumps finds one at the drift bifurcation")
    arcs = _Arcs(model, speed if speed is not None else 0.0, free, mass)
    if isinstance(guess, TravellingBump) and guess._sol is not None:
        g = guess._sol
        X = guess.speed if free == "c" else float(getattr(guess.model, free))
        p = [guess.half_width, X] + ([guess.A_mean] if arcs.inf else [])
        # restart on a moderate mesh (solve_bvp only ever adds nodes)
        sm = np.unique(np.concatenate([_base_mesh(), g.x[::max(1, g.x.size // 600)]]))
        return _bvp_solve(arcs, sm, g.sol(sm), p, tol)
    if isinstance(guess, TravellingBump):
        X = guess.speed if free == "c" else float(getattr(guess.model, free))
        guess = (guess.half_width, X, guess.A_mean)
    h, X, A = (float(v) for v in guess)
    c, m = _apply(model, arcs.speed, free, X)
    m = model if m is None else m
    s, y = arcs.initial(h, c, A, m)
    return _bvp_solve(arcs, s, y, [h, X] + ([A] if arcs.inf else []), tol)


# --------------------------------------------------------------------------------------------
# the branch: local parameterisation by the speed or by the parameter
# --------------------------------------------------------------------------------------------

#: Speed scale of the arclength norm (rad per time unit); the parameter uses ``|hi - lo|``.
_C_SCALE = 0.1


def _solve_at(model, c, free, guess, mass):
    """Closed form (cosine kernel, ``D = inf``) or collocation; ``c`` is fixed unless
    ``free = "c"`` (then ``guess.speed`` starts it)."""
    if model.kernel.is_cosine and np.isinf(model.D):
        if isinstance(guess, TravellingBump):
            X = guess.speed if free == "c" else float(getattr(guess.model, free))
            guess = (guess.half_width, X, guess.A_mean)
        return closed_form(model, c, free, guess, mass=mass)
    return travelling_bump(model, speed=c, free=free, guess=guess, mass=mass)


def _coords(b: TravellingBump, param: str, span: float) -> np.ndarray:
    return np.array([b.speed / _C_SCALE, float(getattr(b.model, param)) / span])


def _step(bumps, ds, param, span, mass):
    """One step of length ``ds`` (scaled ``(c, p)`` plane) along the secant of the last two
    bumps, fixing whichever of ``c`` and ``p`` changes faster; the other is solved for."""
    prev, old = bumps[-1], bumps[-2]
    v = _coords(prev, param, span) - _coords(old, param, span)
    v /= np.hypot(*v)
    c_pred, X_pred = prev.speed + ds * v[0] * _C_SCALE, float(
        getattr(prev.model, param)) + ds * v[1] * span
    r = ds / max(np.hypot(*(_coords(prev, param, span) - _coords(old, param, span))), 1e-300)
    h_pred = prev.half_width + r * (prev.half_width - old.half_width)
    _, m_pred = _apply(prev.model, c_pred, param, X_pred)
    if m_pred is None or c_pred <= 0 or not 0 < h_pred < np.pi:
        raise SteadyStateError(f"the predicted step leaves the allowed range ({param} = "
                               f"{X_pred:.4g}, c = {c_pred:.4g})")
    guess = replace(prev, model=m_pred, half_width=h_pred, speed=c_pred)
    if abs(v[0]) >= abs(v[1]):
        nxt = _solve_at(prev.model, c_pred, param, guess, mass)
    else:
        nxt = _solve_at(m_pred, 0.0, "c", guess, mass)
    moved = np.hypot(*(_coords(nxt, param, span) - _coords(prev, param, span)))
    if moved > 2 * ds or abs(nxt.half_width - prev.half_width) > 0.1:
        raise SteadyStateError("step too large")
    return nxt


def _first_bump(model, param, p_drift, Delta, A0, lo, hi, mass, c_first):
    """The slow bump at ``c_first`` next to the drift point, or ``(None, why)``."""
    m0 = replace(model, **{param: float(p_drift)})
    try:
        first = _solve_at(m0, c_first, param, (Delta, p_drift, A0), mass)
    except SteadyStateError as exc:
        return None, f"could not be entered at {param} = {p_drift:.6g}: {exc}"
    p1 = float(getattr(first.model, param))
    if abs(p1 - p_drift) > max(0.05 * abs(p_drift), 0.01 * (hi - lo)) or abs(
            first.half_width - Delta) > 0.05:
        return None, (f"does not start at {param} = {p_drift:.6g}: the nearest slow travelling "
                      f"bump has {param} = {p1:.6g}, half-width {first.half_width:.4g} (the "
                      "stationary bump loses stability there without a drift pitchfork, e.g. "
                      "through a complex pair, or the pitchfork is on the other (narrow) "
                      "branch)")
    return first, ""


def follow_speed(model: Model, param: str, p_drift: float, Delta: float, A0: float,
                 lo: float, hi: float, *, max_points: int = 60, mass: float = _TWO_PI,
                 c_first: float = 1e-3) -> tuple[list[TravellingBump], str]:
    """The travelling branch born at the drift bifurcation ``param = p_drift``.

    The bifurcating bump (half-width ``Delta``, pool ``A0``) starts the first solve at the small
    speed ``c_first`` (the parameter is the unknown), the second at ``2 c_first``. After that
    each step moves a distance ``ds`` in the plane ``(c / 0.1, p / |hi - lo|)`` along the secant
    of the last two bumps and fixes whichever of ``c`` and ``p`` changes faster there (local
    parameterisation: folds of the speed or of the parameter are passed). ``ds`` grows by 1.5
    after a step, up to ``1/15``, and halves after a failure.

    Returns
    -------
    (bumps, message)
        The bumps along the branch and why it ended early (empty if the parameter left
        ``[lo, hi]``).
    """
    _check_free(param, model)
    if param == "c":
        raise ValueError("param must be a model parameter, not the speed")
    lo, hi = min(lo, hi), max(lo, hi)
    first, why = _first_bump(model, param, p_drift, Delta, A0, lo, hi, mass, c_first)
    if first is None:
        return [], why
    try:
        bumps = [first, _solve_at(model, 2 * c_first, param, first, mass)]
    except SteadyStateError as exc:
        return [first], f"stopped at c = {2 * c_first:g}: {exc}"
    span, ds = hi - lo, np.hypot(*(_coords(bumps[1], param, hi - lo)
                                   - _coords(first, param, hi - lo)))
    while len(bumps) < max_points:
        try:
            nxt = _step(bumps, ds, param, span, mass)
        except SteadyStateError as exc:
            ds *= 0.5
            if ds < 1e-6:
                prev = bumps[-1]
                return bumps, (f"stopped at c = {prev.speed:.6g}, {param} = "
                               f"{float(getattr(prev.model, param)):.6g}: the branch cannot be "
                               f"continued ({exc})")
            continue
        X = float(getattr(nxt.model, param))
        if not lo <= X <= hi:
            return bumps, ""
        if nxt.speed < 0.5 * c_first:
            return bumps, f"the branch returns to c = 0 at {param} = {X:.6g}"
        bumps.append(nxt)
        ds = min(1.5 * ds, 1 / 15)
    return bumps, f"stopped after max_travelling = {max_points} travelling points"
