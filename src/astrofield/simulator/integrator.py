"""Batched, resource-conserving time integration of the ring model.

One entry point, :func:`solve`. The state of ``B`` parameter sets is held as ``(B, N)`` arrays and
advanced in one vectorised loop.

Scheme (``"etd2-subgrid-shared-flux"``), one step of length ``h``:

1. ``u`` by the second-order exponential time-differencing Runge-Kutta method ETD2RK (Cox and
   Matthews 2002): the decay ``-u`` is integrated exactly, the drive by a predictor-corrector.
2. each resource fraction ``q`` by the exact solution of
   ``tau q_t = gamma a - (gamma a + beta f) q`` with coefficients averaged over the step
   (exponential trapezoid rule, predictor values from the ETD stage).
3. ``a`` by an exponential integrator in which the stiff diffusion ``(D / tau) a_xx`` is exact
   (spectrally on the ring, ``D = inf`` keeps only the mean; a heterogeneous ``D(x)`` uses the
   conservative flux-form operator ``(D(x) a_x)_x`` with face values ``D_{j+1/2}`` and its exact
   matrix functions) and the exchange flux is linear in time over the step, with its step average
   ``J_eff = -Δq / h`` taken from the resource update itself: **one shared exchange flux**, so
   ``∫ (q + a) dx`` is conserved to round-off. (Strang splitting of diffusion and reaction, tried
   first, loses an order on this stiff problem; the exponential integrator keeps order 2.)

Heaviside firing uses sub-grid quadrature (:mod:`astrofield.simulator.ring`):
the edges of the active region
are located between grid points and every cell stores two resource values, ``q_in`` on its active
part and ``q_out`` on its inactive part (weights ``phi`` and ``1 - phi``). When an edge moves the
swept part of a cell carries its resource from one side to the other (a conservative remap, done in
two half moves around the exchange step), so the jump of ``q`` at a bump edge is represented
exactly and the exact stationary bump is an exact discrete equilibrium at *any* sub-grid position.
The drive ``∫ w(x - y) q f dy`` is exact for the cosine kernel (``C cos x + S sin x`` with exact
cell integrals of ``cos``/``sin`` over active parts) and, for other kernels, a dx-scaled circular
FFT convolution of the cell masses with a first-moment correction (``- w' * m1``) for partial cells.
Sigmoid firing is smooth: plain nodal values with the (spectrally accurate) trapezoid rule.

Design orders: 2 in ``h``; in ``N`` spectral for the smooth parts, with the sub-grid edge treatment
second order or better (see ``tests/test_convergence.py`` for the measured orders).

Optional additive noise (:class:`~astrofield.noise.Noise`) is added by Euler-Maruyama.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from astrofield._validate import check_int, check_range, check_steps
from astrofield._version import __version__
from astrofield.model.definition import PARAMETER_RANGES, Model
from astrofield.model.noise import Noise
from astrofield.model.stimulus import Pulse, Stimulus
from astrofield.simulator import compiled as _accel
from astrofield.simulator.expint import phi1, phi2, relax
from astrofield.simulator.ring import EdgeGeometry, Ring
from astrofield.simulator.trackers import Tracker

__all__ = ["solve", "initial_state", "SCHEME", "State", "Simulator"]

SCHEME = "etd2-subgrid-shared-flux"
_SCHEDULABLE = ("theta", "beta", "gamma", "steepness")
_TINY = 1e-300


@dataclass
class State:
    """Simulator state; every array is ``(B, N)``.

    ``q_in``/``q_out`` are the resource fractions on the active / inactive part of each cell
    (for sigmoid firing only ``q_out`` is used); :attr:`q` is the cell mean.
    """

    u: np.ndarray
    q_in: np.ndarray
    q_out: np.ndarray
    a: np.ndarray
    geo: EdgeGeometry

    @property
    def q(self) -> np.ndarray:
        phi = self.geo.phi
        return phi * self.q_in + (1.0 - phi) * self.q_out

    def take(self, keep: np.ndarray) -> State:
        g = self.geo
        return State(self.u[keep], self.q_in[keep], self.q_out[keep], self.a[keep],
                     EdgeGeometry(g.phi[keep], g.mc[keep], g.ms[keep], g.m1[keep]))


def _remap(q_in, q_out, phi_old, phi_new):
    """Move the resource of the swept part of each cell across a moving edge (conservative).

    Where the active fraction grows by ``phi_new - phi_old`` the swept part brings ``q_out`` into
    the active part; where it shrinks it brings ``q_in`` to the inactive part. The cell mean
    ``phi q_in + (1 - phi) q_out`` is unchanged.
    """
    if _accel.ENABLED:
        return _accel.remap_compiled(q_in, q_out, phi_old, phi_new)
    idx = np.nonzero(phi_new != phi_old)
    if idx[0].size == 0:
        return q_in, q_out
    q_in, q_out = q_in.copy(), q_out.copy()
    po, pn = phi_old[idx], phi_new[idx]
    qi, qo = q_in[idx], q_out[idx]
    gain = pn - po
    q_in[idx] = np.where(gain > 0, (po * qi + gain * qo) / np.maximum(pn, _TINY), qi)
    q_out[idx] = np.where(gain < 0, ((1 - po) * qo - gain * qi) / np.maximum(1 - pn, _TINY), qo)
    return q_in, q_out


class Simulator:
    """Right-hand sides and the time step for a batch of parameter sets (used by :func:`solve`).

    Parameters
    ----------
    model
        The :class:`~astrofield.model.Model` (array parameters give a batch).
    N
        Grid points on the ring.
    quadrature
        ``"subgrid"`` (default; edges located between grid points) or ``"grid"`` (plain nodal
        sampling ``H(u_j - theta)``, kept for comparison).
    stimulus
        External input.
    noise
        Optional additive noise.
    D_field
        Optional heterogeneous diffusion ``D(x)``: array of length ``N`` or callable of ``x``
        (replaces ``model.D``).
    """

    def __init__(self, model: Model, N: int, *, quadrature: str = "subgrid",
                 stimulus: Stimulus | None = None, noise: Noise | None = None,
                 D_field: np.ndarray | Callable | None = None, batch: int | None = None) -> None:
        if quadrature not in ("subgrid", "grid"):
            raise ValueError(f"quadrature = {quadrature!r} is not one of ('subgrid', 'grid')")
        self.model = model
        self.ring = Ring(N)
        self.B = model.batch_size if batch is None else batch
        self.quadrature = quadrature
        self.heaviside = model.firing == "heaviside"
        self.stimulus = stimulus if stimulus is not None else Stimulus()
        self.stimulus.bind(self.ring.x)
        self.noise = noise
        self._draw = noise.sampler(self.ring.x, self.B) if noise is not None else None
        self.params = {n: model.param(n, self.B) for n in
                       ("theta", "beta", "gamma", "tau", "D", "steepness")}
        kern = model.kernel
        self.cosine = kern.is_cosine
        self.kernel_amp = float(getattr(kern, "amplitude", 1.0)) if self.cosine else 1.0
        if not self.cosine:
            x = self.ring.x
            d = x - x[0]
            eps = 1e-6
            self._w_hat = np.fft.rfft(kern(d))
            self._dw_hat = np.fft.rfft((kern(d + eps) - kern(d - eps)) / (2 * eps))
        self.D_field = None
        if D_field is not None:
            dfield = D_field(self.ring.x) if callable(D_field) else np.asarray(D_field, float)
            if dfield.shape != (N,):
                raise ValueError(f"D_field has shape {dfield.shape}; it must have shape ({N},)")
            check_range("D_field", dfield, 0, np.inf)
            if np.ndim(model.tau) != 0:
                raise ValueError("a heterogeneous D_field needs a scalar tau")
            self.D_field = dfield
        self._diff_cache: dict[float, Any] = {}

    # ------------------------------------------------------------------ pieces
    def geometry(self, u: np.ndarray) -> EdgeGeometry:
        """Active-region quadrature data for ``u`` (zeros for sigmoid firing)."""
        if not self.heaviside:
            z = np.zeros_like(u)
            return EdgeGeometry(z, z, z, z)
        th = self.params["theta"]
        if self.quadrature == "subgrid":
            if _accel.ENABLED:  # direct call: skips the argument normalisation of Ring.edges
                r = self.ring
                return EdgeGeometry(*_accel.edges_compiled(u, np.ascontiguousarray(th[:, 0]),
                                                           r.x, r.dx, r.cell_cos, r.cell_sin))
            return self.ring.edges(u, th)
        phi = (u > th).astype(float)
        r = self.ring
        return EdgeGeometry(phi, phi * r.cos * r.dx, phi * r.sin * r.dx, np.zeros_like(phi))

    def firing_out(self, u: np.ndarray) -> np.ndarray | float:
        """Firing rate on the inactive/nodal part: 0 for Heaviside, ``f(u_j)`` for sigmoid."""
        if self.heaviside:
            return 0.0
        s, th = self.params["steepness"], self.params["theta"]
        return 0.5 * (1.0 + np.tanh(0.5 * s * (u - th)))

    def drive(self, geo: EdgeGeometry, q_in, q_out, f_out) -> np.ndarray:
        """Synaptic drive ``∫ w(x - y) q(y) f(u(y)) dy`` on the grid, shape ``(B, N)``."""
        r = self.ring
        if self.cosine:
            if self.heaviside:
                C = np.einsum("bn,bn->b", q_in, geo.mc)
                S = np.einsum("bn,bn->b", q_in, geo.ms)
            else:
                C, S = r.first_mode(q_out * f_out)
            return self.kernel_amp * (C[:, None] * r.cos + S[:, None] * r.sin)
        if self.heaviside:
            rho0 = q_in * geo.phi * r.dx
            out = np.fft.irfft(self._w_hat * np.fft.rfft(rho0, axis=-1), n=r.N, axis=-1)
            if self.quadrature == "subgrid":
                rho1 = q_in * geo.m1
                out -= np.fft.irfft(self._dw_hat * np.fft.rfft(rho1, axis=-1), n=r.N, axis=-1)
            return out
        rho0 = q_out * f_out * r.dx
        return np.fft.irfft(self._w_hat * np.fft.rfft(rho0, axis=-1), n=r.N, axis=-1)

    def diffusion_operators(self, h: float):
        """``(e^{hL}, phi1(hL), phi2(hL))`` for the astrocyte operator ``L = (D / tau) d_xx``.

        Uniform ``D``: diagonal in Fourier space, arrays ``(B, N//2 + 1)``. Heterogeneous ``D(x)``:
        dense ``(N, N)`` matrices of the conservative flux-form operator (symmetric, so computed
        through its eigendecomposition). ``D = inf`` keeps only the mean.
        """
        ops = self._diff_cache.get(h)
        if ops is not None:
            return ops
        if self.D_field is not None:
            lam, V = np.linalg.eigh(self._flux_form_operator())
            z = np.minimum(lam * h, 0.0)
            ops = tuple((V * f(z)) @ V.T for f in (np.exp, phi1, phi2))
            # exact column sums 1, 1, 1/2 (what the mean mode needs) so that the dense products
            # conserve the total to round-off per step instead of drifting by ~1e-16 per step
            for M, c in zip(ops, (1.0, 1.0, 0.5), strict=True):
                M[np.diag_indices_from(M)] += c - M.sum(axis=0)
        else:
            D, tau = self.params["D"], self.params["tau"]
            k2 = self.ring.k**2
            with np.errstate(invalid="ignore"):
                z = np.where(k2 == 0, 0.0, -(D / tau) * k2 * h)  # -inf for D = inf, k > 0
            ops = (np.exp(z), phi1(z), phi2(z))
        self._diff_cache[h] = ops
        return ops

    def _flux_form_operator(self) -> np.ndarray:
        """Matrix of ``(1/tau) (D(x) a_x)_x`` with face values ``D_{j+1/2}`` (columns sum to 0)."""
        n, dx = self.ring.N, self.ring.dx
        d_face = 0.5 * (self.D_field + np.roll(self.D_field, -1))  # D_{j+1/2}
        L = np.zeros((n, n))
        j = np.arange(n)
        L[j, (j + 1) % n] += d_face
        L[j, (j - 1) % n] += np.roll(d_face, 1)
        L[j, j] -= d_face + np.roll(d_face, 1)
        return L / (dx**2 * float(self.model.tau))

    def astro_update(self, a0, J0, J1, h, cache: dict | None = None):
        """``a(h)`` for ``a_t = L a + J(t)`` with ``J`` linear from ``J0`` to ``J1`` (exact).

        ``a0 e^{hL} + h phi1(hL) J0 + h phi2(hL) (J1 - J0)``; the mean of ``a`` changes by exactly
        ``h (J0 + J1) / 2``, which is what makes the shared exchange flux conservative. Calls with
        the same ``a0``, ``J0`` may share a ``cache`` dict (the transforms of the first part).
        """
        e, p1, p2 = self.diffusion_operators(h)
        if self.D_field is not None:
            return a0 @ e.T + h * (J0 @ p1.T) + h * ((J1 - J0) @ p2.T)
        cache = {} if cache is None else cache
        if "base" not in cache:
            cache["j0"] = np.fft.rfft(J0, axis=-1)
            cache["base"] = e * np.fft.rfft(a0, axis=-1) + (h * p1) * cache["j0"]
        out = cache["base"]
        if J1 is not J0:
            out = out + (h * p2) * (np.fft.rfft(J1, axis=-1) - cache["j0"])
        return np.fft.irfft(out, n=self.ring.N, axis=-1)

    def input(self, t: float) -> np.ndarray | float:
        return self.stimulus(t) if self.stimulus else 0.0

    def rhs_u(self, st: State, t: float) -> np.ndarray:
        """``u_t`` at the current state (deterministic part)."""
        return -st.u + self.drive(st.geo, st.q_in, st.q_out, self.firing_out(st.u)) + self.input(t)

    def make_state(self, u, q, a) -> State:
        u = np.array(u, dtype=float)
        q = np.array(q, dtype=float)
        return State(u, q.copy(), q.copy(), np.array(a, dtype=float), self.geometry(u))

    # ------------------------------------------------------------------ the step
    def step(self, st: State, t: float, h: float) -> State:
        """One step: ETD2RK for ``u`` and ``a``, exponential trapezoid for ``q``.

        The astrocyte update uses the step-averaged exchange flux ``J_eff = -Δq / h`` taken from
        the resource update itself, so ``∫ (q + a) dx`` is conserved to round-off.
        """
        P = self.params
        beta, gamma, tau = P["beta"], P["gamma"], P["tau"]
        u0, g0, qi0, qo0, a0 = st.u, st.geo, st.q_in, st.q_out, st.a
        phi0 = g0.phi
        fo0 = self.firing_out(u0)
        N0 = self.drive(g0, qi0, qo0, fo0) + self.input(t)
        E = np.exp(-h)
        u1 = E * u0 + (1.0 - E) * N0
        # exchange flux (into a, per unit time) at the start of the step
        s0 = gamma * a0 / tau
        if self.heaviside:
            J0 = (beta * qi0 * phi0 - gamma * a0 * (1.0 - (phi0 * qi0 + (1 - phi0) * qo0))) / tau
        else:
            J0 = (beta * qo0 * fo0 - gamma * a0 * (1.0 - qo0)) / tau
        # predictor (exponential Euler) for q and a
        qo_p = relax(qo0, s0 + beta * fo0 / tau, s0, h)
        qi_p = relax(qi0, s0 + beta / tau, s0, h) if self.heaviside else qi0
        cache: dict = {}
        a_p = self.astro_update(a0, J0, J0, h, cache)
        g1 = self.geometry(u1)
        fo1 = self.firing_out(u1)
        if self.heaviside:
            qi_p, qo_p = _remap(qi_p, qo_p, phi0, g1.phi)
        N1 = self.drive(g1, qi_p, qo_p, fo1) + self.input(t + h)
        u_new = u1 + ((E - 1.0 + h) / h) * (N1 - N0)
        # corrector: exponential trapezoid for q, shared flux into a
        sb = gamma * 0.5 * (a0 + a_p) / tau
        if self.heaviside:
            phim = 0.5 * (phi0 + g1.phi)
            qi_m, qo_m = _remap(qi0, qo0, phi0, phim)
            qi_n = relax(qi_m, sb + beta / tau, sb, h)
            qo_n = relax(qo_m, sb, sb, h)
            dq = phim * (qi_n - qi_m) + (1 - phim) * (qo_n - qo_m)
        else:
            fbar = 0.5 * (fo0 + fo1)
            qo_n = relax(qo0, sb + beta * fbar / tau, sb, h)
            dq = qo_n - qo0
        J_eff = -dq / h
        a_n = self.astro_update(a0, J0, 2.0 * J_eff - J0, h, cache)
        if self._draw is not None:
            u_new = u_new + self._draw(h)
        g_new = self.geometry(u_new)
        if self.heaviside:
            qi_n, qo_n = _remap(qi_n, qo_n, phim, g_new.phi)
        else:
            qi_n = qo_n
        return State(u_new, qi_n, qo_n, a_n, g_new)

    def take(self, keep: np.ndarray) -> None:
        """Drop batch members (keep those where ``keep`` is True)."""
        self.params = {k: v[keep] for k, v in self.params.items()}
        self.B = int(np.count_nonzero(keep))
        if self.D_field is None:  # uniform D: operators are per member, (B, K)
            self._diff_cache = {h: tuple(np.broadcast_to(o, (keep.size, o.shape[-1]))[keep]
                                         for o in ops) for h, ops in self._diff_cache.items()}
        if self.noise is not None:
            raise ValueError("batch members cannot be dropped from a noisy run")


# ---------------------------------------------------------------------- initial states
def initial_state(model: Model, N: int, init: Any = "rest", *, eps: float = 0.05,
                  position: float = 0.0, batch: int | None = None, branch: str = "wide"):
    """Initial ``(u, q, a)`` arrays shaped ``(B, N)`` and the bump data used (or ``None``).

    Parameters
    ----------
    init
        ``"rest"`` (``u = 0, q = 1, a = 0``), ``"bump"`` (the exact wide stationary bump of
        centred at ``position``, with the shift perturbation
        ``u += eps * amplitude * sin(x - position)`` of §5), or a tuple/dict of arrays
        ``(u, q, a)`` of shape ``(N,)`` or ``(B, N)``.
    eps
        Shift perturbation as a fraction of the bump amplitude ``2 c0 sin Delta``.
    branch
        Which stationary bump ``init="bump"`` starts from: ``"wide"`` (default) or ``"narrow"``.
    """
    B = model.batch_size if batch is None else batch
    ring = Ring(N)
    x = ring.x
    if isinstance(init, str):
        if init == "rest":
            z = np.zeros((B, N))
            return (z, np.ones((B, N)), z.copy()), None
        if init == "bump":
            from astrofield.theory.bump import bump_branches

            br = bump_branches(model.param("theta", B)[:, 0], model.param("beta", B)[:, 0],
                               model.param("gamma", B)[:, 0])
            if branch not in ("wide", "narrow"):
                raise ValueError(f"branch = {branch!r} is not one of ('wide', 'narrow')")
            bump = {**br[branch], "beta_fold": br["beta_max"]}
            missing = ~np.isfinite(bump["Delta"])
            if np.any(missing):
                i = int(np.argmax(missing))
                m = model.member(i) if model.is_batched else model
                raise ValueError(
                    f"no stationary bump exists for theta = {m.theta:g}, beta = {m.beta:g}, "
                    f"gamma = {m.gamma:g} (beta is past the fold beta_max = "
                    f"{bump['beta_fold'][i]:g})")
            Delta, c0, A0 = (bump[k][:, None] for k in ("Delta", "c0", "A0"))
            amp = 2 * c0 * np.sin(Delta)
            xs = x - position
            u = amp * np.cos(xs) + eps * amp * np.sin(xs)
            q = _cell_average_q(x, ring.dx, position, Delta, c0)
            a = np.broadcast_to(A0, (B, N)).copy()
            return (u, q, a), {k: bump[k] for k in ("Delta", "c0", "A0")}
        raise ValueError(f"init = {init!r} is not one of 'rest', 'bump' or a tuple of arrays")
    if isinstance(init, dict):
        arrays = (init["u"], init["q"], init["a"])
    else:
        arrays = tuple(init)
    if len(arrays) != 3:
        raise ValueError("init arrays must be (u, q, a)")
    out = []
    for name, arr in zip("uqa", arrays, strict=True):
        arr = np.asarray(arr, dtype=float)
        if arr.shape[-1] != N or arr.ndim > 2:
            raise ValueError(f"initial {name} has shape {arr.shape}; expected ({N},) or (B, {N})")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"initial {name} contains NaN or inf")
        out.append(np.broadcast_to(arr, (B, N)).copy())
    check_range("initial q", out[1], 0, 1)
    check_range("initial a", out[2], 0, np.inf)
    return tuple(out), None


def _cell_average_q(x, dx, position, Delta, c0):
    """Cell averages of ``Q = c0`` on ``|x - position| < Delta`` (ring), 1 elsewhere."""
    lo = x - dx / 2
    d = (lo - (position - Delta) + np.pi) % (2 * np.pi) - np.pi  # cell start rel. to arc start
    # overlap of [d, d + dx] with [0, 2 Delta] (arc), allowing wrap by +-2pi
    overlap = np.zeros(np.broadcast(d, Delta).shape)
    for shift in (-2 * np.pi, 0.0, 2 * np.pi):
        s = d + shift
        overlap += np.clip(np.minimum(s + dx, 2 * Delta) - np.maximum(s, 0.0), 0.0, None)
    frac = overlap / dx
    return 1.0 - (1.0 - c0) * frac


# ---------------------------------------------------------------------- solve
def _frame_steps(n_steps: int, n_frames: int | None, sample_every: int | None) -> np.ndarray:
    if sample_every is not None:
        sample_every = check_int("sample_every", sample_every, 1)
        steps = np.arange(0, n_steps + 1, sample_every)
        if steps[-1] != n_steps:
            steps = np.append(steps, n_steps)
        return steps
    n_frames = check_int("n_frames", 201 if n_frames is None else n_frames, 2)
    return np.unique(np.round(np.linspace(0, n_steps, min(n_frames, n_steps + 1))).astype(int))


def solve(
    model: Model | None = None,
    *,
    T: float = 200.0,
    dt: float = 0.05,
    N: int = 256,
    init: Any = "bump",
    eps: float = 0.3,
    position: float = 0.0,
    branch: str = "wide",
    stimulus: Stimulus | Sequence[Pulse] | Pulse | Callable | None = None,
    noise: Noise | None = None,
    D_field: np.ndarray | Callable | None = None,
    quadrature: str = "subgrid",
    n_frames: int | None = 201,
    sample_every: int | None = None,
    store_fields: bool = True,
    trackers: Sequence[Tracker] = (),
    schedule: dict[str, Callable[[float], Any]] | None = None,
    stop_rule: Callable | None = None,
    stop_every: float = 10.0,
    progress: bool | None = None,
    seed: int | None = None,
) -> xr.Dataset:
    """Integrate the astrocyte-neural field model and return a labelled dataset.

    Parameters
    ----------
    model
        Model parameters (default: the paper's Figure 7 values theta 0.1, beta 0.05, gamma 2,
        tau 1, D 0.7). Array parameters run a batch of ``B`` sets in one vectorised loop.
    T, dt
        Final time and time step (dimensionless; units of the neural time constant).
    N
        Grid points on the ring (>= 16).
    init, eps, position, branch
        Initial state, see :func:`initial_state`. Default: the exact wide bump at
        ``position`` with the shift perturbation ``eps = 0.3`` (fraction of the bump amplitude).
    stimulus
        External input ``I(x, t)``: pulses or a callable.
    noise
        Additive noise (Euler-Maruyama); ``seed`` overrides ``noise.seed``.
    D_field
        Heterogeneous astrocytic diffusion ``D(x)`` in flux form ``(D(x) a_x)_x``.
    quadrature
        ``"subgrid"`` (default) or ``"grid"`` (plain nodal Heaviside sampling, for comparison).
    n_frames, sample_every
        Frames stored: ``n_frames`` evenly spaced, or every ``sample_every`` steps.
    store_fields
        Store ``u, q, a`` frames (``False`` keeps only the scalar traces: for sweeps).
    trackers
        Extra :class:`~astrofield.trackers.Tracker` objects evaluated during the run.
    schedule
        Time-dependent parameters: ``{"beta": f}`` with ``f(t)`` a scalar or a length-``B``
        array, for any of ``theta, beta, gamma, steepness`` (slow ramps for early-warning studies).
        Each step of ``[t, t + dt]`` uses ``f(t + dt / 2)`` (second order); the values at the frame
        times are stored as ``<name>_t`` on ``(batch, time)``.
    stop_rule
        Optional ``rule(t, drift, velocity, width, members) -> decided`` evaluated every
        ``stop_every`` time units on the members still running (``members``: their indices in
        the batch; the other arrays are aligned with it; ``decided`` is boolean of the same
        length). Decided members are dropped from the batch and their final values frozen
        (``t_final`` records when). Requires ``store_fields=False``.
    progress
        Show a tqdm bar (default: only when the run takes longer than about a second).

    Returns
    -------
    xarray.Dataset
        ``u, q, a`` on ``(time, x)``; ``position`` (unwrapped phase of the first Fourier mode
        of ``u``), ``velocity``, ``width`` and ``mass`` (``∫ (q + a) dx``) on ``time``; final
        ``drift`` (change of position), ``velocity_final``, ``mass_drift`` (relative change of the
        total resource). Batched runs add a leading ``batch`` dimension with the parameters as
        coordinates. ``attrs`` hold parameters, scheme, seed and package version.
    """
    t_wall = _time.perf_counter()
    model = Model() if model is None else model
    N = check_int("N", N, 16)
    check_range("dt", dt, 0, np.inf, lo_open=True)
    check_range("T", T, 0, np.inf, lo_open=True)
    check_range("eps", eps, -1, 1)
    if dt > T:
        raise ValueError(f"dt = {dt:g} is outside the allowed range (0, T = {T:g}]")
    n_steps = check_steps(T, dt, max_steps=2**62)  # ValueError, not OverflowError, for T/dt=inf
    if abs(n_steps * dt - T) > 1e-9 * T:
        raise ValueError(f"T = {T:g} is not a whole number of steps dt = {dt:g}")
    schedule = dict(schedule or {})
    for name, f in schedule.items():
        if name not in _SCHEDULABLE:
            raise ValueError(f"schedule parameter {name!r} is not one of {_SCHEDULABLE}")
        if not callable(f):
            raise ValueError(f"schedule[{name!r}] must be a function of time")
        lo, hi, lo_open, hi_open, allow_inf = PARAMETER_RANGES[name]
        for tt in (0.0, 0.5 * T, T):
            check_range(f"{name}(t={tt:g})", f(tt), lo, hi, lo_open=lo_open, hi_open=hi_open,
                        allow_inf=allow_inf)
    if stop_rule is not None and store_fields:
        raise ValueError("stop_rule needs store_fields=False (fields of dropped members)")
    if not isinstance(stimulus, Stimulus):
        stimulus = Stimulus(stimulus)
    if noise is not None and seed is not None:
        noise = Noise(noise.sigma, noise.correlation, seed)
    B = model.batch_size
    sim = Simulator(model, N, quadrature=quadrature, stimulus=stimulus, noise=noise,
                    D_field=D_field, batch=B)
    (u, q, a), bump = initial_state(model, N, init, eps=eps, position=position, batch=B,
                                    branch=branch)
    st = sim.make_state(u, q, a)
    if bump is not None and sim.heaviside:
        _split_bump_resource(st, bump)
    ring = sim.ring
    frames = _frame_steps(n_steps, n_frames, sample_every)
    frame_set = {int(s): i for i, s in enumerate(frames)}
    nf = frames.size

    # outputs for all B members (indexed through `alive`)
    alive = np.arange(B)
    rec = {k: np.full((B, nf), np.nan) for k in ("position", "velocity", "width", "mass")}
    for name in schedule:
        rec[f"{name}_t"] = np.full((B, nf), np.nan)
    if store_fields:
        fields = {k: np.full((B, nf, N), np.nan) for k in ("u", "q", "a")}
    mass0 = ring.integrate(st.q + st.a)
    pos0 = ring.phase(st.u)
    pos = pos0.copy()
    last_phase = pos0.copy()
    final = {"position": np.full(B, np.nan), "velocity": np.full(B, np.nan),
             "width": np.full(B, np.nan), "mass": np.full(B, np.nan), "t_final": np.full(B, T)}
    tracker_data: list[dict[str, list]] = [{} for _ in trackers]
    tracker_times: list[list[float]] = [[] for _ in trackers]
    for tr in trackers:
        tr.start(sim)

    def observe(st: State, t: float) -> dict[str, np.ndarray]:
        du = sim.rhs_u(st, t)
        c, s = ring.first_mode(st.u)
        dc, ds = ring.first_mode(du)
        vel = (c * ds - s * dc) / np.maximum(c * c + s * s, _TINY)
        if sim.heaviside:
            width = st.geo.width
        else:
            width = ring.edges(st.u, sim.params["theta"]).width
        return {"velocity": vel, "width": width, "mass": ring.integrate(st.q + st.a)}

    def record(i: int, st: State, t: float) -> None:
        obs = observe(st, t)
        rec["position"][alive, i] = pos
        for k, v in obs.items():
            rec[k][alive, i] = v
        for name in schedule:
            rec[f"{name}_t"][alive, i] = sim.params[name][:, 0]
        if store_fields:
            fields["u"][alive, i] = st.u
            fields["q"][alive, i] = st.q
            fields["a"][alive, i] = st.a

    def run_trackers(step: int, st: State, t: float) -> None:
        for j, tr in enumerate(trackers):
            if step % tr.every == 0:
                out = tr.handle(st, t, sim)
                tracker_times[j].append(t)
                for k, v in out.items():
                    full = np.full(B, np.nan)
                    full[alive] = v
                    tracker_data[j].setdefault(k, []).append(full)

    stop_stride = max(1, int(round(stop_every / dt)))
    show = progress if progress is not None else True
    bar = tqdm(total=n_steps, disable=not show, delay=1.0 if progress is None else 0.0,
               unit="step", leave=False, mininterval=0.5)
    chunk = max(1, n_steps // 200)
    t = 0.0

    def apply_schedule(tt: float) -> None:
        for name, f in schedule.items():
            full = np.broadcast_to(np.asarray(f(tt), dtype=float).reshape(-1), (B,))
            sim.params[name] = full[alive].reshape(-1, 1)

    apply_schedule(0.0)
    record(0, st, 0.0)
    run_trackers(0, st, 0.0)
    for n in range(1, n_steps + 1):
        apply_schedule(t + 0.5 * dt)
        st = sim.step(st, t, dt)
        if schedule:
            apply_schedule(n * dt)
        t = n * dt
        ph = ring.phase(st.u)
        pos += (ph - last_phase + np.pi) % (2 * np.pi) - np.pi
        last_phase = ph
        if n in frame_set:
            record(frame_set[n], st, t)
        if trackers:
            run_trackers(n, st, t)
        if stop_rule is not None and n % stop_stride == 0 and n < n_steps:
            obs = observe(st, t)
            decided = np.asarray(stop_rule(t, pos - pos0[alive], obs["velocity"], obs["width"],
                                           alive.copy()), dtype=bool)
            if np.any(decided):
                idx = alive[decided]
                final["position"][idx] = pos[decided]
                for k in ("velocity", "width", "mass"):
                    final[k][idx] = obs[k][decided]
                final["t_final"][idx] = t
                keep = ~decided
                alive, pos, last_phase = alive[keep], pos[keep], last_phase[keep]
                st = st.take(keep)
                sim.take(keep)
                if alive.size == 0:
                    break
        if n % chunk == 0:
            bar.update(chunk)
    bar.close()
    if alive.size:
        obs = observe(st, t)
        final["position"][alive] = pos
        for k in ("velocity", "width", "mass"):
            final[k][alive] = obs[k]
    wall = _time.perf_counter() - t_wall
    return _to_dataset(model, sim, ring, frames * dt, rec, fields if store_fields else None,
                       final, pos0, mass0, bump, trackers, tracker_times, tracker_data,
                       dict(T=T, dt=dt, N=N, eps=eps, position=position, quadrature=quadrature,
                            init=init if isinstance(init, str) else "arrays", branch=branch,
                            seed=(noise.seed if noise is not None else seed),
                            stimulus=repr(stimulus.describe()), wall_s=wall,
                            noise=repr(noise) if noise is not None else "none",
                            D_field="heterogeneous" if D_field is not None else "uniform"))


def _split_bump_resource(st: State, bump: dict) -> None:
    """Split the exact bump's cell-averaged resource into active/inactive parts.

    Cells fully inside the depleted arc get ``q_in = q_out = c0``; fully outside ``1``; in the
    edge cells the active part of the (perturbed) ``u`` carries the depleted resource first, so
    that the cell mean equals the exact cell average of ``Q``.
    """
    phi = st.geo.phi
    qbar = st.q_out.copy()  # cell averages from initial_state
    c0 = bump["c0"][:, None]
    # depleted fraction of each cell
    dep = np.clip((1.0 - qbar) / np.maximum(1.0 - c0, _TINY), 0.0, 1.0)
    # active part takes min(phi, dep) of depleted resource; the rest of the active part is fresh
    act_dep = np.minimum(phi, dep)
    with np.errstate(invalid="ignore", divide="ignore"):
        q_in = np.where(phi > 0, (act_dep * c0 + (phi - act_dep) * 1.0) / np.maximum(phi, _TINY),
                        c0)
        rest = 1.0 - phi
        q_out = np.where(rest > 0, (qbar - phi * q_in) / np.maximum(rest, _TINY), 1.0)
    st.q_in[:] = q_in
    st.q_out[:] = np.clip(q_out, 0.0, 1.0)


def _to_dataset(model, sim, ring, times, rec, fields, final, pos0, mass0, bump, trackers,
                tracker_times, tracker_data, run_attrs) -> xr.Dataset:
    B = model.batch_size
    batched = model.is_batched
    dims_t = ("batch", "time")
    data_vars: dict[str, Any] = {
        "position": (dims_t, rec["position"], {"long_name": "bump position", "units": "rad"}),
        "velocity": (dims_t, rec["velocity"], {"long_name": "d position / dt"}),
        "width": (dims_t, rec["width"], {"long_name": "active width", "units": "rad"}),
        "mass": (dims_t, rec["mass"], {"long_name": "total resource ∫(q + a) dx"}),
        "drift": ("batch", final["position"] - pos0,
                  {"long_name": "change of bump position by the final time", "units": "rad"}),
        "velocity_final": ("batch", final["velocity"], {"long_name": "velocity at final time"}),
        "width_final": ("batch", final["width"], {"units": "rad"}),
        "mass_drift": ("batch", (final["mass"] - mass0) / mass0,
                       {"long_name": "relative change of ∫(q + a) dx"}),
        "t_final": ("batch", final["t_final"], {"long_name": "time the member was decided"}),
    }
    for k in rec:
        if k.endswith("_t"):
            data_vars[k] = (dims_t, rec[k], {"long_name": f"scheduled {k[:-2]}(t)"})
    if fields is not None:
        for k, long in (("u", "synaptic input"), ("q", "synaptic resource"),
                        ("a", "astrocytic resource")):
            data_vars[k] = (("batch", "time", "x"), fields[k], {"long_name": long})
    if bump is not None:
        for k in ("Delta", "c0", "A0"):
            data_vars[f"bump_{k}"] = ("batch", np.asarray(bump[k]))
    for tr, tt, td in zip(trackers, tracker_times, tracker_data, strict=True):
        tdim = f"time_{tr.name}"
        for k, v in td.items():
            data_vars[k] = (("batch", tdim), np.stack(v, axis=1), tr.attrs.get(k, {}))
        data_vars[tdim] = (tdim, np.asarray(tt))
    coords: dict[str, Any] = {"time": times, "x": ring.x}
    for name in ("theta", "beta", "gamma", "tau", "D", "steepness"):
        coords[name] = ("batch", model.param(name, B)[:, 0])
    ds = xr.Dataset(data_vars, coords=coords)
    attrs = {"astrofield_version": __version__, "scheme": SCHEME, "model": "ring",
             "firing": model.firing, "kernel": model.kernel.describe()}
    attrs.update({k: (v if v is not None else "none") for k, v in run_attrs.items()})
    for name in ("theta", "beta", "gamma", "tau", "D", "steepness"):
        val = getattr(model, name)
        attrs[f"param_{name}"] = np.asarray(val, dtype=float)
    ds.attrs.update(attrs)
    if not batched:
        ds = ds.isel(batch=0)
    return ds

