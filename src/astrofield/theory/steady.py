"""Numerical stationary and travelling bumps for any kernel, firing rate and diffusion.

The ring ``[-pi, pi)`` is sampled at ``N`` points ``x_j = -pi + j dx``; the state is
``v = (u, q, a)`` (``a`` is one number, the uniform pool, for ``D = inf``). In a frame moving with
speed ``c`` (``xi = x - c t``) a travelling bump solves

.. code-block:: text

    0 = -u + W (q f(u)) + c u_xi
    0 = gamma a (1 - q) - beta q f(u) + c tau q_xi
    0 = L a + beta q f(u) - gamma a (1 - q) + c tau a_xi

with ``W`` the circulant convolution matrix ``W_ij = w(x_i - x_j) dx`` (the simulator's
quadrature), ``L`` the conservative flux-form matrix of ``(D(x) a_x)_x`` with face values
``D_{j+1/2} = (D_j + D_{j+1}) / 2`` and ``d/dxi`` the spectral derivative. ``c = 0`` is a
stationary bump. Two degeneracies are removed:

* **mass**: summed over the grid the ``a``-equations are minus the ``q``-equations, so one of them
  is redundant; the last ``a``-equation is replaced by ``∫ (q + a) dx = mass`` (default ``2 pi``,
  the resource of the resting state ``q = 1, a = 0``).
* **translation**: a phase condition ``∫ u sin x dx = 0`` fixes the bump at ``x = 0`` (or ``pi``)
  and the speed ``c`` is an extra unknown. A stationary bump is even, so Newton returns ``c = 0``
  to round-off; a travelling bump has ``c != 0``.

Newton's method on this bordered system (analytic dense Jacobian, backtracking on the residual)
is what :func:`steady_bump` runs for smooth (sigmoid) firing.

Heaviside firing is not differentiable, so it is not put through Newton on the grid: for every
``D > 0`` a stationary bump has uniform ``a = A0`` and ``q = c0`` on its active arc
``(-Delta, Delta)``, ``q = 1`` outside, with ``c0 = gamma A0 / (gamma A0 + beta)``. Its profile is
``U(x) = c0 ∫_{x-Delta}^{x+Delta} w(y) dy`` for any even kernel, so the edges are the unknowns:
two scalar equations (threshold ``U(Delta) = theta`` and the mass) solved by bracketing
(:func:`heaviside_bump`), exact up to the kernel quadrature, evaluated on the grid afterwards.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.linalg as sla
from scipy.integrate import quad
from scipy.optimize import brentq

from astrofield._validate import check_int, check_range
from astrofield.model.definition import Model

if TYPE_CHECKING:  # annotations only
    from numpy.typing import ArrayLike

__all__ = ["RingSystem", "Steady", "SteadyStateError", "steady_bump", "warm_bump", "heaviside_bump",
           "bump_measures", "firing_layer", "resolution", "DEFAULT_TOL", "LAYER_POINTS",
           "single_blas_thread", "one_blas_thread"]

#: Default Newton tolerance on the max-norm of the residual.
DEFAULT_TOL = 1e-10


_BLAS_LIMIT = threading.local()


@contextlib.contextmanager
def one_blas_thread():
    """Context with BLAS limited to one thread; re-entrant (inner uses cost nothing)."""
    if getattr(_BLAS_LIMIT, "depth", 0) > 0:
        _BLAS_LIMIT.depth += 1
        try:
            yield
        finally:
            _BLAS_LIMIT.depth -= 1
        return
    try:
        from threadpoolctl import threadpool_limits
        ctx = threadpool_limits(limits=1, user_api="blas")
    except ImportError:  # pragma: no cover - optional speed-up
        ctx = contextlib.nullcontext()
    with ctx:
        _BLAS_LIMIT.depth = 1
        try:
            yield
        finally:
            _BLAS_LIMIT.depth = 0


def single_blas_thread(fun):
    """Run ``fun`` with one BLAS thread (:mod:`threadpoolctl`, if installed).

    The matrices here have a few hundred to ~1500 rows: one thread is as fast as several on an
    idle machine, and several threads spin-wait badly when the cores are shared (a 10x slow-down
    was measured with two processes on two busy cores). Nested calls (a spectrum computing its
    bump, a map computing many) set the limit once: entering ``threadpool_limits`` rescans the
    loaded libraries, several milliseconds each time.
    """

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return fun(*args, **kwargs)

    return wrapper


class SteadyStateError(ValueError):
    """Newton's method did not converge, or no bump exists to start from."""


def _spectral_derivative(N: int) -> np.ndarray:
    """Dense spectral differentiation matrix on the periodic grid (``N`` even)."""
    h = 2 * np.pi / N
    j = np.arange(N)
    col = np.zeros(N)
    k = j[1:]
    col[1:] = 0.5 * (-1.0) ** k / np.tan(k * h / 2)
    return sla.toeplitz(col, -col)  # D[i, j] = col[i - j] (antisymmetric)


def _flux_form(D_field: np.ndarray, dx: float) -> np.ndarray:
    """Matrix of ``(D(x) a_x)_x`` with face values ``(D_j + D_{j+1}) / 2`` (columns sum to 0)."""
    n = D_field.size
    d_face = 0.5 * (D_field + np.roll(D_field, -1))
    L = np.zeros((n, n))
    j = np.arange(n)
    L[j, (j + 1) % n] += d_face
    L[j, (j - 1) % n] += np.roll(d_face, 1)
    L[j, j] -= d_face + np.roll(d_face, 1)
    return L / dx**2


@dataclass
class RingSystem:
    """The discretised model at fixed parameters: residual, Jacobian and helpers.

    Parameters
    ----------
    model
        An unbatched :class:`~astrofield.Model`.
    N
        Grid points (even, >= 16).
    D_field
        Optional heterogeneous diffusion ``D(x)`` (shape ``(N,)``, > 0) replacing ``model.D``.
    mass
        Total resource ``∫ (q + a) dx`` (default ``2 pi``).
    """

    model: Model
    N: int
    D_field: np.ndarray | None = None
    mass: float = 2 * np.pi
    x: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.model.is_batched:
            raise ValueError("RingSystem needs an unbatched Model (scalar parameters)")
        self.N = check_int("N", self.N, 16)
        if self.N % 2:
            raise ValueError(f"N = {self.N} must be even (spectral derivative)")
        self.mass = float(check_range("mass", self.mass, 0.0, np.inf, lo_open=True))
        n = self.N
        from astrofield._validate import (
            check_memory,
            check_work,
            dense_work,
            estimate_dense_jacobian_bytes,
        )

        check_memory(estimate_dense_jacobian_bytes(n),
                     f"the dense Jacobian of N = {n} (a {3 * n} x {3 * n} matrix and its "
                     "eigenvalue work copies)")
        check_work(dense_work(n), f"the dense Newton and eigenvalue problems of N = {n} (a "
                                  f"{3 * n} x {3 * n} Jacobian)", hint="reduce N")
        self.dx = 2 * np.pi / n
        self.x = -np.pi + self.dx * np.arange(n)
        w = self.model.kernel(self.x - self.x[0])
        self.W = sla.circulant(w) * self.dx
        self.Dxi = _spectral_derivative(n)
        if self.D_field is not None:
            d = np.asarray(self.D_field, dtype=float)
            if d.shape != (n,):
                raise ValueError(f"D_field has shape {d.shape}; it must have shape ({n},)")
            check_range("D_field", d, 0.0, np.inf, lo_open=True)
            self.D_field = d
            self.L = _flux_form(d, self.dx)
        elif np.isinf(self.model.D):
            self.L = None
        else:
            if self.model.D <= 0:
                raise ValueError("D = 0 is outside the allowed range (0, inf] for bumps: without "
                                 "diffusion every point conserves its own resource and steady "
                                 "states are not isolated")
            self.L = self.model.D * _flux_form(np.ones(n), self.dx)
        self.na = 1 if self.L is None else n
        self.size = 2 * n + self.na
        self.sin_w = np.sin(self.x) * self.dx

    # ------------------------------------------------------------------ state helpers
    @property
    def well_mixed(self) -> bool:
        """``True`` for ``D = inf`` (``a`` is one uniform value)."""
        return self.L is None

    def split(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self.N
        return v[:n], v[n:2 * n], v[2 * n:]

    def pack(self, u, q, a) -> np.ndarray:
        """The state vector ``v = (u, q, a)`` of length :attr:`size`.

        Parameters
        ----------
        u, q
            Synaptic input and resource on the grid, shape ``(N,)``.
        a
            Astrocytic resource: ``(N,)`` or a scalar (broadcast); for ``D = inf`` its mean is
            the one uniform value.
        """
        a = np.atleast_1d(np.asarray(a, dtype=float))
        if self.well_mixed:
            a = np.array([a.mean()])
        else:
            a = np.broadcast_to(a, (self.N,))
        return np.concatenate([np.asarray(u, float), np.asarray(q, float), a])

    def total_mass(self, v: np.ndarray) -> float:
        u, q, a = self.split(v)
        return float(q.sum() * self.dx + (2 * np.pi * a[0] if self.well_mixed
                                          else a.sum() * self.dx))

    def mass_row(self) -> np.ndarray:
        r = np.zeros(self.size)
        r[self.N:2 * self.N] = self.dx
        r[2 * self.N:] = 2 * np.pi if self.well_mixed else self.dx
        return r

    def firing(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``f(u)`` and ``f'(u)`` of the model's smooth firing rate (Heaviside has no
        derivative: its bumps come from their edges)."""
        m = self.model
        if m.firing.edges:
            raise ValueError("the grid Newton solver needs a smooth firing rate (e.g. sigmoid); "
                             "Heaviside bumps are computed from their edges (heaviside_bump)")
        return (m.firing.rate(u, m.theta, m.steepness),
                m.firing.derivative(u, m.theta, m.steepness))

    def tau_vector(self) -> np.ndarray:
        """Diagonal of the mass matrix: 1 for ``u``, ``tau`` for ``q`` and ``a``."""
        t = np.full(self.size, float(self.model.tau))
        t[:self.N] = 1.0
        return t

    # ------------------------------------------------------------------ equations
    def rhs(self, v: np.ndarray) -> np.ndarray:
        """Time derivatives times the mass matrix: ``(u_t, tau q_t, tau a_t)``."""
        m = self.model
        u, q, a = self.split(v)
        f, _ = self.firing(u)
        J = m.beta * q * f - m.gamma * a * (1.0 - q)  # exchange flux q -> a
        du = -u + self.W @ (q * f)
        if self.well_mixed:
            da = np.array([J.mean()])
        else:
            da = self.L @ a + J
        return np.concatenate([du, -J, da])

    def rhs_jacobian(self, v: np.ndarray) -> np.ndarray:
        """Dense Jacobian of :meth:`rhs` (``size x size``)."""
        m = self.model
        n = self.N
        u, q, a = self.split(v)
        f, fp = self.firing(u)
        Jm = np.zeros((self.size, self.size))
        Jm[:n, :n] = self.W * (q * fp)[None, :]
        Jm[:n, :n][np.diag_indices(n)] -= 1.0
        Jm[:n, n:2 * n] = self.W * f[None, :]
        # exchange flux derivatives
        dJ_du = m.beta * q * fp
        dJ_dq = m.beta * f + m.gamma * a
        dJ_da = -m.gamma * (1.0 - q)
        rows_q = np.arange(n, 2 * n)
        Jm[rows_q, np.arange(n)] = -dJ_du
        Jm[rows_q, rows_q] = -dJ_dq
        if self.well_mixed:
            Jm[rows_q, 2 * n] = -dJ_da
            Jm[2 * n, :n] = dJ_du / n
            Jm[2 * n, n:2 * n] = dJ_dq / n
            Jm[2 * n, 2 * n] = dJ_da.mean()
        else:
            rows_a = np.arange(2 * n, 3 * n)
            Jm[rows_q, rows_a] = -dJ_da
            Jm[2 * n:, 2 * n:] = self.L
            Jm[rows_a, np.arange(n)] += dJ_du
            Jm[rows_a, rows_q] += dJ_dq
            Jm[rows_a, rows_a] += dJ_da
        return Jm

    def advection(self) -> np.ndarray:
        """Matrix of ``(u_xi, tau q_xi, tau a_xi)`` (the co-moving-frame term per unit ``c``)."""
        n, tau = self.N, float(self.model.tau)
        A = np.zeros((self.size, self.size))
        A[:n, :n] = self.Dxi
        A[n:2 * n, n:2 * n] = tau * self.Dxi
        if not self.well_mixed:
            A[2 * n:, 2 * n:] = tau * self.Dxi
        return A

    def augmented(self, y: np.ndarray) -> np.ndarray:
        """Residual of the bordered system for ``y = (v, c)`` (length ``size + 1``)."""
        v, c = y[:-1], y[-1]
        adv = self.advection()
        r = self.rhs(v) + c * (adv @ v)
        r[-1] = self.total_mass(v) - self.mass
        return np.concatenate([r, [self.sin_w @ v[:self.N]]])

    def augmented_jacobian(self, y: np.ndarray) -> np.ndarray:
        """Jacobian of :meth:`augmented` with respect to ``(v, c)``."""
        v, c = y[:-1], y[-1]
        adv = self.advection()
        G = np.zeros((self.size + 1, self.size + 1))
        G[:-1, :-1] = self.rhs_jacobian(v) + c * adv
        G[:-1, -1] = adv @ v
        G[-2, :] = 0.0
        G[-2, :-1] = self.mass_row()
        G[-1, :self.N] = self.sin_w
        return G

    def with_params(self, **kw: Any) -> RingSystem:
        """The same discretisation with some model parameters changed (validated by
        :class:`~astrofield.Model`); the kernel matrices are reused."""
        model = replace(self.model, **kw)
        if model.D <= 0 and self.D_field is None:
            raise ValueError(f"D = {model.D:g} is outside the allowed range (0, inf] for bumps")
        out = copy.copy(self)
        out.model = model
        if "D" in kw and self.D_field is None:
            if np.isinf(model.D) != self.well_mixed:
                raise ValueError("D cannot cross between finite values and inf along a branch")
            if not out.well_mixed:
                out.L = model.D * _flux_form(np.ones(self.N), self.dx)
        return out


@dataclass
class Steady:
    """A converged (stationary or travelling) bump on the grid.

    Attributes
    ----------
    system
        The :class:`RingSystem` it solves.
    u, q, a
        Fields on the grid (``a`` has length 1 for ``D = inf``).
    speed
        Speed ``c`` of the co-moving frame (0 for a stationary bump; rad per time unit).
    residual
        Max-norm of the bordered residual at the returned state.
    iterations
        Newton iterations used.
    method
        ``"newton"`` (grid Newton) or ``"edges"`` (Heaviside edge equations).
    Delta
        Half-width of the active arc for Heaviside bumps, in rad (``NaN`` otherwise).
    extra
        Further data of a Heaviside bump from :func:`heaviside_bump`: ``c0`` (resource on the
        active arc), ``A0`` (the uniform astrocytic resource), ``beta_fold`` (``beta`` at the
        fold of the existence curve, per unit time) and ``dU_edge`` (the slope ``U'(Delta)``
        of the profile at the right edge, per rad); empty for bumps from grid Newton.
    """

    system: RingSystem
    u: np.ndarray
    q: np.ndarray
    a: np.ndarray
    speed: float
    residual: float
    iterations: int
    method: str = "newton"
    Delta: float = np.nan
    extra: dict = field(default_factory=dict)

    @property
    def x(self) -> np.ndarray:
        return self.system.x

    @property
    def y(self) -> np.ndarray:
        """The bordered unknown vector ``(u, q, a, c)``."""
        return np.concatenate([self.system.pack(self.u, self.q, self.a), [self.speed]])

    def measures(self) -> dict[str, float]:
        """Amplitude, width and speed, see :func:`bump_measures`."""
        return bump_measures(self.system, self.u, self.speed)

    @property
    def active_regions(self) -> int:
        """Number of arcs of the ring where ``u > theta``: 1 for a single bump, 2 or more for a
        multi-bump pattern (which kernels whose strongest Fourier mode is not ``cos x`` can
        favour)."""
        above = self.u > float(self.system.model.theta)
        return int(np.count_nonzero(above != np.roll(above, 1))) // 2


# --------------------------------------------------------------------------------------------
# resolution of the firing layer (smooth firing)
# --------------------------------------------------------------------------------------------

#: Grid spacings needed across the firing layer of a smooth rate for a resolved bump (see
#: :func:`resolution`). The sigmoid is analytic in a strip of half-width ``pi / (s |u'|) =
#: (pi / 4) ell`` about the edge, so the trigonometric interpolation error falls like
#: ``exp(-N pi ell / 4) = exp(-(pi^2 / 2) ell / dx)``: ``exp(-7.4) ≈ 6e-4`` at 1.5 spacings.
#: Measured (docs/continuation.md): drift boundaries within 0.03 % of the converged value from
#: 1.5 spacings on, 0.06-0.2 % at 1, about 1 % at 0.5.
LAYER_POINTS = 1.5

#: Smallest ``N`` chosen by ``N="auto"``; ``N`` is rounded up to a multiple of ``_N_STEP``.
_N_AUTO_MIN = 128
_N_STEP = 64


def _resample(z: np.ndarray, n: int) -> np.ndarray:
    """Trigonometric interpolant of the periodic samples ``z`` (even length) on ``n`` points of
    the grid ``x_j = -pi + 2 pi j / n`` (``n`` even, any size)."""
    m = z.size
    Z = np.fft.rfft(z)
    if n < m:
        Z = Z[:n // 2 + 1].copy()
        Z[-1] = Z[-1].real * (2.0 if n < m else 1.0)
    elif n > m:
        Z = np.concatenate([Z, np.zeros(n // 2 + 1 - Z.size, complex)])
        Z[m // 2] *= 0.5  # split the Nyquist mode of z between +-m/2
    return np.fft.irfft(Z, n) * (n / m)


def firing_layer(system: RingSystem, u: np.ndarray) -> tuple[float, float]:
    """Width of the firing layer of a smooth rate at the bump's edges.

    Across an edge ``f(u(x))`` climbs from its resting to its active value within about
    ``ell = Delta f / max_x |d f(u(x)) / dx|``, ``max |f'(u)| |u'(x)|`` being evaluated on the
    trigonometric interpolant of ``u`` (8 times finer than the grid, so a layer narrower than a
    grid spacing is still measured). For the sigmoid ``f' <= s / 4`` and ``Delta f ≈ 1``, so
    ``ell ≈ 4 / (s |u'(x_e)|)``. Works for any smooth rate (the user's included): only
    ``firing.rate`` and ``firing.derivative`` are used.

    Parameters
    ----------
    system
        The grid system (smooth firing).
    u
        The bump's ``u`` on that grid (dimensionless).

    Returns
    -------
    tuple of float
        ``(ell, slope)``: the layer width in rad and ``max_x |d f(u(x))/dx|`` per rad.
    """
    m = system.model
    n = 8 * u.size
    uf = _resample(u, n)
    k = np.fft.rfftfreq(n, 1.0 / n)
    du = np.fft.irfft(1j * k * np.fft.rfft(uf), n)
    fd = np.asarray(m.firing.derivative(uf, m.theta, m.steepness), float)
    fr = np.asarray(m.firing.rate(uf, m.theta, m.steepness), float)
    slope = float(np.max(np.abs(fd * du)))
    span = float(fr.max() - fr.min())
    return (span / slope if slope > 0 else np.inf), slope


def resolution(system: RingSystem, u: np.ndarray) -> dict[str, Any]:
    """Whether the grid resolves the firing layer of a bump, and the ``N`` it needs.

    The rule: at least ``LAYER_POINTS`` grid spacings ``dx = 2 pi / N`` across the layer width
    ``ell`` of :func:`firing_layer`, i.e. ``N >= 2 pi LAYER_POINTS / ell`` (sigmoid:
    ``N >= pi LAYER_POINTS s |u'(x_e)| / 2``). Heaviside bumps (edges solved exactly) are always
    resolved.

    Parameters
    ----------
    system
        The grid system.
    u
        The bump's ``u`` on that grid (dimensionless).

    Returns
    -------
    dict
        ``resolved`` (bool), ``layer_width`` (rad), ``layer_points`` (grid spacings across the
        layer), ``N`` and ``N_needed`` (the smallest multiple of 64, at least 128, that obeys
        the rule).
    """
    if system.model.firing.edges:
        return {"resolved": True, "layer_width": 0.0, "layer_points": np.inf, "N": system.N,
                "N_needed": system.N}
    ell, _ = firing_layer(system, u)
    pts = ell / system.dx
    need = 2 * np.pi * LAYER_POINTS / ell if np.isfinite(ell) else 0.0
    n_need = int(max(_N_AUTO_MIN, _N_STEP * np.ceil(need / _N_STEP)))
    return {"resolved": bool(pts >= LAYER_POINTS), "layer_width": float(ell),
            "layer_points": float(pts), "N": system.N, "N_needed": n_need}


def bump_measures(system: RingSystem, u: np.ndarray, speed: float = 0.0) -> dict[str, float]:
    """``amplitude`` (max of ``u``), ``width`` (length of ``{u > theta}``, edges by linear
    interpolation between grid points) and ``speed``.

    Parameters
    ----------
    system
        The discretisation (its grid spacing and the model's ``theta``).
    u
        Synaptic input on the grid, shape ``(N,)``.
    speed
        Bump speed, in rad per unit time; returned as it is.
    """
    th = float(system.model.theta)
    v = u - th
    above = v > 0
    width = above.sum() * system.dx
    # linear sub-cell correction at each sign change
    nxt = np.roll(v, -1)
    change = np.flatnonzero(above != (nxt > 0))
    for k in change:
        s = v[k] / (v[k] - nxt[k])  # crossing at x_k + s dx
        width += (s - 0.5) * system.dx if above[k] else (0.5 - s) * system.dx
    return {"amplitude": float(u.max()), "width": float(width), "speed": float(speed)}


# --------------------------------------------------------------------------------------------
# Newton on the grid (smooth firing)
# --------------------------------------------------------------------------------------------

def newton(res_fun, jac_fun, y0: np.ndarray, *, tol: float = DEFAULT_TOL,
           maxit: int = 40) -> tuple[np.ndarray, float, int]:
    """Damped Newton's method for ``res_fun(y) = 0`` with a dense Jacobian ``jac_fun(y)``.

    Steps are halved until the max-norm residual decreases. Returns ``(y, residual,
    iterations)``; raises :class:`SteadyStateError` if the residual does not fall below ``tol``
    within ``maxit`` iterations or a non-finite value appears.
    """
    y = np.array(y0, dtype=float)
    r = res_fun(y)
    nr = float(np.max(np.abs(r)))
    it = 0
    while it < maxit and np.isfinite(nr) and nr >= tol:
        it += 1
        try:
            with warnings.catch_warnings():  # near-singular steps are judged by the residual
                warnings.simplefilter("ignore", sla.LinAlgWarning)
                step = sla.solve(jac_fun(y), -r, check_finite=True)
        except (sla.LinAlgError, ValueError):
            break
        lam = 1.0
        while True:
            y_new = y + lam * step
            r_new = res_fun(y_new)
            nr_new = float(np.max(np.abs(r_new)))
            if (np.isfinite(nr_new) and nr_new < (1 - 1e-4 * lam) * nr) or lam < 1e-3:
                break
            lam *= 0.5
        y, r, nr = y_new, r_new, nr_new
    if np.isfinite(nr) and nr < tol:
        return y, nr, it
    raise SteadyStateError(
        f"Newton's method did not converge: residual {nr:.3g} > tol {tol:g} after {it} "
        "iterations; start closer to a bump (init arrays from a simulation's final state), "
        "increase N, lower the steepness, or move the parameters away from the fold")


def _heaviside_guess(system: RingSystem, branch: str = "wide") -> np.ndarray:
    """Bordered vector ``(u, q, a, 0)`` of the Heaviside bump of the same parameters."""
    try:
        hb = heaviside_bump(system, branch=branch)
    except SteadyStateError as exc:
        raise SteadyStateError(
            f"no bump to start Newton from: {exc}. For sigmoid firing give init arrays "
            "(u, q, a), e.g. a simulation's final state") from exc
    return np.concatenate([system.pack(hb.u, hb.q, hb.a), [0.0]])


@single_blas_thread
def steady_bump(model: Model | None = None, N: int | str = 128, *,
                init: str | Sequence[ArrayLike] = "heaviside",
                D_field: np.ndarray | None = None, mass: float = 2 * np.pi,
                tol: float = DEFAULT_TOL, maxit: int = 40, branch: str = "wide") -> Steady:
    """A stationary bump of ``model`` on ``N`` grid points, converged to ``tol``.

    Parameters
    ----------
    model
        Unbatched model; any kernel, any firing rate (smooth rates, built-in or the user's, by
        Newton on the grid; Heaviside from the edge equations), ``D`` finite (> 0) or ``inf``.
    N
        Grid points (even), or ``"auto"``: the smallest multiple of 64 (at least 128) that
        resolves the firing layer (:func:`resolution`); the bump is solved at 128, then again
        on the grid the rule asks for (warm-started from the interpolated coarse bump) until
        it is resolved. Not with ``D_field`` (whose shape fixes ``N``).
    init
        ``"heaviside"`` (warm start from the Heaviside bump with the same parameters, ``branch``
        selects wide or narrow) or a tuple ``(u, q, a)`` of arrays on the grid, e.g. a
        simulation's final state (it is re-centred at ``x = 0`` first).
    D_field
        Heterogeneous diffusion ``D(x)`` (flux form), shape ``(N,)``.
    mass
        Total resource ``∫ (q + a) dx``.
    tol
        Max-norm tolerance of the residual (dimensionless rates).
    maxit
        Largest number of Newton iterations (smooth firing; per step of the steepness
        homotopy that is tried when Newton from the Heaviside bump fails).
    branch
        ``"wide"`` or ``"narrow"``: the Heaviside bump returned (Heaviside firing) or used as
        the start guess (smooth firing with ``init="heaviside"``).

    Returns
    -------
    Steady
        With ``residual <= tol`` (otherwise :class:`SteadyStateError` is raised).
    """
    model = Model() if model is None else model
    if isinstance(N, str):
        return _auto_steady(model, N, init, D_field, mass, tol, maxit, branch)
    system = RingSystem(model, N, D_field=D_field, mass=mass)
    tol = float(check_range("tol", tol, 0.0, 1e-3, lo_open=True))
    if model.firing.edges:
        if not isinstance(init, str):
            raise ValueError("Heaviside bumps are computed from their edge equations; init "
                             "arrays are only used for smooth firing rates")
        return heaviside_bump(system, branch=branch)
    y0 = _initial_vector(system, init, branch)
    try:
        y, res, it = newton(system.augmented, system.augmented_jacobian, y0, tol=tol,
                            maxit=maxit)
    except SteadyStateError:
        if not (isinstance(init, str) and model.firing.uses_steepness
                and model.steepness > _S_START):
            raise
        y, res, it = _steepness_homotopy(system, y0, tol, maxit)
    u, q, a = system.split(y[:-1])
    st = Steady(system, u.copy(), q.copy(), a.copy(), float(y[-1]), res, it)
    _check_is_bump(st)
    return st


def warm_bump(model: Model, N: int, prev: Steady | None = None) -> Steady:
    """:func:`steady_bump` of ``model`` on ``N`` points, warm-started from ``prev``.

    ``prev`` is the bump of a nearby model on the same grid (a neighbour on a parameter grid).
    The warm start is tried for smooth firing rates only, and kept only if Newton converges
    to a stationary bump (speed ``|c| <= 1e-8``). Otherwise (no ``prev``, Heaviside firing,
    another ``N``, or a failed or travelling warm start) the bump comes from the usual cold
    start, so the result does not depend on ``prev``.

    Raises
    ------
    SteadyStateError
        Where the cold start finds no stationary bump.
    """
    if prev is not None and model.firing.smooth and prev.system.N == N:
        try:
            st = steady_bump(model, N, init=(prev.u, prev.q, prev.a))
        except (SteadyStateError, np.linalg.LinAlgError):
            st = None
        if st is not None and abs(st.speed) <= 1e-8:
            return st
    return steady_bump(model, N)


def _auto_steady(model: Model, N: str, init, D_field, mass, tol, maxit, branch) -> Steady:
    """:func:`steady_bump` with ``N = "auto"``: refine the grid until :func:`resolution` says
    the firing layer is resolved (at most four solves)."""
    if N != "auto":
        raise ValueError(f"N = {N!r} must be an even integer >= 16 or 'auto'")
    if D_field is not None:
        raise ValueError("N = 'auto' cannot be used with a D_field (its shape fixes N)")
    kw = {"mass": mass, "tol": tol, "maxit": maxit, "branch": branch}
    n = _N_AUTO_MIN if isinstance(init, str) else len(init[0])
    st = steady_bump(model, n, init=init, **kw)
    for _ in range(3):
        need = resolution(st.system, st.u)["N_needed"]
        if need <= st.system.N:
            break
        z = [_resample(np.asarray(v, float), need) if np.size(v) == st.system.N else v
             for v in (st.u, st.q, st.a)]
        st = steady_bump(model, need, init=tuple(z), **kw)
    return st


_S_START = 10.0


def _steepness_homotopy(system: RingSystem, y0: np.ndarray, tol: float, maxit: int):
    """Continuation in the steepness from ``_S_START`` (a smooth, easy problem) up to the
    requested value on a geometric ladder, each Newton solve warm-started from the last.
    Used when Newton from the Heaviside bump fails (steep sigmoids, kernels far from cosine)."""
    s_target = float(system.model.steepness)
    y = y0
    ladder = np.geomspace(_S_START, s_target, max(2, int(np.ceil(np.log2(s_target / _S_START)
                                                                  * 3)) + 1))
    it_total = 0
    for s in ladder:
        sub = system.with_params(steepness=float(s))
        y, res, it = newton(sub.augmented, sub.augmented_jacobian, y, tol=tol, maxit=maxit)
        it_total += it
    return y, res, it_total


def _initial_vector(system: RingSystem, init: str | Sequence[ArrayLike],
                    branch: str) -> np.ndarray:
    if isinstance(init, str):
        if init != "heaviside":
            raise ValueError(f"init = {init!r} is not 'heaviside' or a tuple (u, q, a)")
        return _heaviside_guess(system, branch)
    u, q, a = (np.asarray(z, dtype=float) for z in init)
    n = system.N
    for name, z in (("u", u), ("q", q)):
        if z.shape != (n,):
            raise ValueError(f"initial {name} has shape {z.shape}; expected ({n},)")
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(q)) and np.all(np.isfinite(a))):
        raise ValueError("initial arrays contain NaN or inf")
    # re-centre at x = 0 by the phase of the first Fourier mode (spectral shift)
    shift = np.arctan2(np.sin(system.x) @ u, np.cos(system.x) @ u)
    k = np.fft.fftfreq(n, 1.0 / n)
    ph = np.exp(1j * k * shift)
    sh = [np.real(np.fft.ifft(np.fft.fft(z) * ph)) if z.size == n else z for z in (u, q, a)]
    return np.concatenate([system.pack(*sh), [0.0]])


def _check_is_bump(st: Steady) -> None:
    """A converged state must be localised: active somewhere, inactive somewhere (an error
    otherwise); a multi-bump pattern (more than one active arc) is returned with a warning."""
    th = float(st.system.model.theta)
    if not (st.u.max() > th > st.u.min()):
        raise SteadyStateError(
            f"Newton converged to a state without a bump (u in [{st.u.min():.3g}, "
            f"{st.u.max():.3g}], theta = {th:g}): no bump near the initial guess for these "
            "parameters; lower beta or theta, or give init arrays from a simulated bump")
    if st.active_regions != 1:
        warnings.warn(
            f"Newton converged to a pattern with {st.active_regions} active regions, not a "
            "single bump (the kernel favours multi-bump patterns near this guess); its "
            "spectrum is that pattern's. For a single bump give init arrays from a simulated "
            "one, or use a kernel whose strongest Fourier mode is cos x", UserWarning,
            stacklevel=4)


# --------------------------------------------------------------------------------------------
# Heaviside bumps from their edges
# --------------------------------------------------------------------------------------------

def _kernel_primitive(kernel, z: np.ndarray) -> np.ndarray:
    """``K(z) = ∫_0^z w(y) dy`` for ``z`` in ``[-2 pi, 2 pi]`` (adaptive quadrature)."""
    if kernel.is_cosine:
        return getattr(kernel, "amplitude", 1.0) * np.sin(z)
    out = np.empty(np.shape(z))
    flat = np.ravel(z)
    res = out.reshape(-1)
    brk = [-np.pi, 0.0, np.pi]
    for i, zi in enumerate(flat):
        pts = [b for b in brk if min(0, zi) < b < max(0, zi)]
        res[i] = quad(lambda y: float(kernel(np.array(y))), 0.0, float(zi), points=pts or None,
                      limit=200, epsabs=1e-13, epsrel=1e-12)[0]
    return out


def _edge_curve(system: RingSystem):
    """``beta(Delta)`` along the Heaviside existence curve and ``(c0, A0)(Delta)``.

    Threshold ``c0 K(2 Delta) = theta`` gives ``c0``; the mass gives
    ``A0 = (mass - 2 pi + 2 Delta (1 - c0)) / (2 pi)``; the local balance
    ``gamma A0 (1 - c0) = beta c0`` then gives ``beta`` explicitly, for any kernel.
    """
    m = system.model
    th, ga = float(m.theta), float(m.gamma)

    def parts(D):
        K = float(_kernel_primitive(m.kernel, np.array(2.0 * D)))
        c0 = th / K if K > 0 else np.inf
        A0 = (system.mass - 2 * np.pi + 2 * D * (1 - c0)) / (2 * np.pi)
        beta = ga * A0 * (1 - c0) / c0 if 0 < c0 <= 1 and A0 >= 0 else np.nan
        return beta, c0, A0

    return parts


def heaviside_fields(system: RingSystem, Delta: float, c0: float, A0: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(U, Q, a)`` of the Heaviside bump with half-width ``Delta`` (rad), resource ``c0`` on
    its active arc and uniform astrocytic resource ``A0`` on the grid of ``system``:
    ``U = c0 (K(x + Delta) - K(x - Delta))`` with ``K`` the kernel's primitive, ``Q = c0`` on
    ``|x| < Delta`` and 1 elsewhere (the edge equations do not depend on the grid, so a bump
    solved on one grid is sampled on another by this alone)."""
    kern, x = system.model.kernel, system.x
    U = c0 * (_kernel_primitive(kern, x + Delta) - _kernel_primitive(kern, x - Delta))
    Q = np.where(np.abs(x) < Delta, c0, 1.0)
    a = np.array([A0]) if system.well_mixed else np.full(system.N, A0)
    return U, Q, a


def heaviside_bump(system: RingSystem, branch: str = "wide", n_scan: int = 200) -> Steady:
    """Stationary Heaviside bump ``(U, Q, A0)`` of ``system.model`` sampled on its grid.

    Along the existence curve ``beta(Delta)`` is explicit (see :func:`_edge_curve`); its maximum
    (the fold) is found by a bounded scalar search around the best of ``n_scan`` half-widths, and
    the bump with the model's ``beta`` by Brent's method on each side of it: ``"wide"`` is the
    root right of the fold, ``"narrow"`` the one left of it. Raises :class:`SteadyStateError` if
    the model's ``beta`` is above the fold.

    Parameters
    ----------
    system
        The discretised model: its ``theta``, ``beta``, ``gamma``, kernel and ``mass`` define
        the bump (its firing rate is taken to be Heaviside), its grid is where ``U, Q, A0`` are
        sampled. ``a`` is uniform (length 1 for ``D = inf``).
    branch
        ``"wide"`` (the root right of the fold) or ``"narrow"`` (left of it).
    n_scan
        Number of half-widths ``Delta``, equally spaced in ``(0, pi)``, on which the existence
        curve is scanned for its maximum.
    """
    from scipy.optimize import minimize_scalar

    m = system.model
    if branch not in ("wide", "narrow"):
        raise ValueError(f"branch = {branch!r} is not one of ('wide', 'narrow')")
    be = float(m.beta)
    parts = _edge_curve(system)
    grid = np.linspace(1e-4, np.pi - 1e-4, n_scan)
    bvals = np.array([parts(d)[0] for d in grid])
    if not np.any(np.isfinite(bvals)):
        raise SteadyStateError(
            f"no Heaviside bump exists for theta = {float(m.theta):g} with this kernel "
            f"({m.kernel.describe()}): the threshold is never reached; lower theta")
    k = int(np.nanargmax(bvals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, n_scan - 1)]
    opt = minimize_scalar(lambda d: -np.nan_to_num(parts(d)[0], nan=-1.0), bounds=(lo, hi),
                          method="bounded", options={"xatol": 1e-12})
    d_fold, b_fold = float(opt.x), float(parts(opt.x)[0])
    if not be <= b_fold:
        raise SteadyStateError(
            f"no {branch} Heaviside bump exists for theta = {float(m.theta):g}, beta = {be:g}, "
            f"gamma = {float(m.gamma):g} with this kernel ({m.kernel.describe()}): beta is past "
            f"the fold beta_max = {b_fold:.8g}; lower beta (or theta)")

    def g(d):
        return np.nan_to_num(parts(d)[0], nan=-1.0) - be

    if branch == "wide":
        ends = grid[(grid > d_fold) & (np.array([g(d) for d in grid]) < 0)]
        a, b = d_fold, (ends[0] if ends.size else np.pi - 1e-4)
    else:
        ends = grid[(grid < d_fold) & (np.array([g(d) for d in grid]) < 0)]
        a, b = (ends[-1] if ends.size else 1e-4), d_fold
    if g(a) * g(b) > 0:
        if not (abs(g(d_fold)) <= 1e-9 * max(1.0, abs(be)) and d_fold < np.pi - 1e-3):
            other = "narrow" if branch == "wide" else "wide"
            raise SteadyStateError(
                f"no {branch} Heaviside bump exists for theta = {float(m.theta):g}, beta = "
                f"{be:g}, gamma = {float(m.gamma):g} with this kernel ({m.kernel.describe()}): "
                f"the existence curve beta(Delta) has its maximum {b_fold:.6g} at Delta = "
                f"{d_fold:.6g} and does not come back to beta on the {branch} side; try the "
                f"{other} branch")
        Delta = d_fold  # at the fold (to the search tolerance)
    else:
        Delta = brentq(g, a, b, xtol=1e-14, rtol=1e-14)
    _, c0, A0 = parts(Delta)
    kern = m.kernel
    U, Q, a = heaviside_fields(system, Delta, c0, A0)
    res = max(abs(c0 * float(_kernel_primitive(kern, np.array(2 * Delta))) - float(m.theta)),
              abs(float(m.gamma) * A0 * (1 - c0) - be * c0))
    if not res <= 1e-8 * max(1.0, abs(float(m.theta)), abs(be)):  # never return a non-solution
        raise SteadyStateError(
            f"the Heaviside edge equations are not solved at Delta = {Delta:.8g} (residual "
            f"{res:.3g}) for theta = {float(m.theta):g}, beta = {be:g}, gamma = "
            f"{float(m.gamma):g} with this kernel ({m.kernel.describe()})")
    return Steady(system, U, Q, a, 0.0, float(res), 0, method="edges", Delta=float(Delta),
                  extra={"c0": float(c0), "A0": float(A0), "beta_fold": b_fold,
                         "dU_edge": float(c0 * (float(kern(np.array(2 * Delta)))
                                                - float(kern(np.array(0.0)))))})
