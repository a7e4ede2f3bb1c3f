r"""The astrocyte-neural field on a periodic square (torus), batched.

Model
-----
On the torus ``(x, y) in [-L/2, L/2)^2`` (default ``L = 2 pi``), dimensionless time:

.. math::

    u_t     &= -u + \iint w(|\mathbf{x} - \mathbf{y}|)\, q f(u)\, d\mathbf{y} + I(\mathbf{x}, t)\\
    \tau q_t &= \gamma a (1 - q) - \beta q f(u)\\
    \tau a_t &= D \Delta a + \beta q f(u) - \gamma a (1 - q)

* ``w`` is radially symmetric (:class:`Gaussian2D`, :class:`DoG2D` -- a difference of Gaussians,
  the 2-D Mexican hat) evaluated on **periodic** distances
  ``r = sqrt(d_x^2 + d_y^2)`` with each ``d`` wrapped to ``[-L/2, L/2)``;
* the convolution is a 2-D circular FFT convolution scaled by ``dx dy``:
  ``(w * g)_{ij} = sum_{kl} w(x_i - x_k, y_j - y_l) g_{kl} dx dy``;
* ``f`` is the sigmoid ``1 / (1 + exp(-s (u - theta)))`` (recommended in 2-D) or the Heaviside
  ``H(u - theta)`` sampled at the nodes. The 1-D simulator locates bump edges between grid points;
  in 2-D the edge is a curve and we use plain nodal sampling instead, so Heaviside bumps are
  pinned to the grid (positions move in whole cells). The sigmoid is smooth, and nodal values
  with the trapezoid rule are spectrally accurate for it -- that is why it is the default here.

Scheme: the step of the ring for smooth firing, :func:`~astrofield.simulator.scheme.smooth_step`
(one code path for both; :class:`Simulator2D` supplies the 2-D operators), one step of length
``h``:

1. ``u``: ETD2RK (Cox and Matthews 2002) -- the decay ``-u`` exact, the drive by a
   predictor-corrector;
2. ``q``: exact solution of ``tau q_t = gamma a - (gamma a + beta f) q`` with step-averaged
   coefficients (exponential trapezoid rule);
3. ``a``: exponential integrator with the diffusion ``(D / tau) Delta`` exact in Fourier space
   (``D = inf`` keeps only the mean) and the exchange flux linear in time over the step, its step
   average ``J_eff = -Δq / h`` taken from the resource update itself -- **one shared flux**, so
   ``∬ (q + a) dx dy`` is conserved to round-off.

Stiff exchange (``h (gamma a + beta f) / tau > 1``): the safeguards of the ring apply here too
(see :mod:`astrofield.simulator.scheme`): the predictor of ``a`` takes the flux of the predicted
``q``, the flux's slope is damped, and over-drawn resource is given back to ``a``
(:func:`~astrofield.simulator.step_control.limit_negative_a`), so the step stays finite, with
``q`` in ``[0, 1]``, ``a >= 0`` and the total conserved, at any ``dt``. (Before they were added
a stiff torus run went negative in the first step and blew up.) Away from stiffness the step is
unchanged. Its accuracy is not checked here: the ring's step-size rule
(:mod:`astrofield.simulator.step_control`) is the guide.

State arrays are ``(B, N, N)`` (axis ``-2`` is ``y``, axis ``-1`` is ``x``); array parameters of
the :class:`~astrofield.model.Model` give the batch (its 1-D ``kernel`` is ignored: pass a 2-D
kernel). Noise is not implemented in 2-D (the ring's :class:`~astrofield.model.noise.Noise`
draws 1-D correlated fields): :func:`solve2d` refuses ``noise`` with a :class:`ValueError`.

References
----------
Palmer, Cihak, Avitabile, Kilpatrick, arXiv:2604.10036 (2026) (the ring model);
Cox and Matthews, "Exponential time differencing for stiff systems", J. Comput. Phys. 176 (2002).
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from astrofield._validate import check_int, check_range
from astrofield._version import __version__
from astrofield.io.cf import annotate, flag_attrs, seed_attrs
from astrofield.model.definition import Model
from astrofield.simulator.expint import phi1, phi2
from astrofield.simulator.scheme import smooth_step
from astrofield.simulator.step_control import resolve_dt

if TYPE_CHECKING:  # imported where the dataset is built (slow to import)
    import xarray as xr

__all__ = ["Kernel2D", "Gaussian2D", "DoG2D", "Torus", "Simulator2D", "solve2d", "SCHEME_2D"]

SCHEME_2D = "etd2-shared-flux-stiff-safe-2d"  # with the ring's stiff-exchange safeguards
PARAMS = ("theta", "beta", "gamma", "tau", "D", "steepness")


@dataclass(frozen=True)
class Kernel2D:
    """Radially symmetric kernel ``w(r)`` (base class)."""

    def profile(self, r: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        return repr(self)


@dataclass(frozen=True)
class Gaussian2D(Kernel2D):
    """``w(r) = amplitude exp(-r^2 / (2 width^2))``."""

    amplitude: float = 1.0
    width: float = 0.5

    def __post_init__(self) -> None:
        check_range("width", self.width, 0, np.inf, lo_open=True)

    def profile(self, r):
        return self.amplitude * np.exp(-(r**2) / (2 * self.width**2))


@dataclass(frozen=True)
class DoG2D(Kernel2D):
    """Difference of Gaussians ``w_e exp(-r^2/2 s_e^2) - w_i exp(-r^2/2 s_i^2)`` (2-D Mexican hat).

    Defaults (``w_e = 3, s_e = 0.5, w_i = 0.5, s_i = 1.5``) with the default sigmoid model
    parameters of :func:`solve2d` support a persistent localised bump on the ``2 pi`` torus
    (radius about 1.26, about 13 % of the area; peak ``u`` about 1.54, ``q`` about 0.65 inside).
    """

    w_e: float = 3.0
    s_e: float = 0.5
    w_i: float = 0.5
    s_i: float = 1.5

    def __post_init__(self) -> None:
        check_range("s_e", self.s_e, 0, np.inf, lo_open=True)
        check_range("s_i", self.s_i, 0, np.inf, lo_open=True)

    def profile(self, r):
        return (self.w_e * np.exp(-(r**2) / (2 * self.s_e**2))
                - self.w_i * np.exp(-(r**2) / (2 * self.s_i**2)))


class Torus:
    """Uniform ``N x N`` grid on ``[-L/2, L/2)^2`` with periodic distances and FFT helpers."""

    def __init__(self, N: int, L: float = 2 * np.pi) -> None:
        self.N = check_int("N", N, 8)
        self.L = float(check_range("L", L, 0, np.inf, lo_open=True))
        self.dx = self.L / self.N
        self.x = -self.L / 2 + self.dx * np.arange(self.N)
        self.X, self.Y = np.meshgrid(self.x, self.x)  # (N, N): axis 0 is y, axis 1 is x
        k = 2 * np.pi * np.fft.fftfreq(self.N, d=self.dx)
        kr = 2 * np.pi * np.fft.rfftfreq(self.N, d=self.dx)
        self.k2 = k[:, None] ** 2 + kr[None, :] ** 2  # rfft2 layout (N, N//2 + 1)
        self._e = np.exp(2j * np.pi * self.x / self.L)

    def wrap(self, d: np.ndarray) -> np.ndarray:
        """Signed periodic distance in ``[-L/2, L/2)``."""
        return (np.asarray(d) + self.L / 2) % self.L - self.L / 2

    def distance(self, x0: Any = 0.0, y0: Any = 0.0) -> np.ndarray:
        """Periodic Euclidean distance of every grid point from ``(x0, y0)``."""
        x0 = np.asarray(x0, dtype=float)[..., None, None]
        y0 = np.asarray(y0, dtype=float)[..., None, None]
        return np.hypot(self.wrap(self.X - x0), self.wrap(self.Y - y0))

    def kernel_hat(self, kernel: Kernel2D) -> np.ndarray:
        """``rfft2`` of the kernel on periodic distances from the first grid point."""
        dxs = self.wrap(self.X - self.x[0])
        dys = self.wrap(self.Y - self.x[0])
        return np.fft.rfft2(kernel.profile(np.hypot(dxs, dys)))

    def integrate(self, v: np.ndarray) -> np.ndarray:
        """``∬ v dx dy`` (trapezoid rule), over the last two axes."""
        return v.sum(axis=(-2, -1)) * self.dx**2

    def centre(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Circular centre of mass of ``v`` along ``x`` and ``y`` (phases of first modes)."""
        zx = np.einsum("...ji,i->...", v, self._e)
        zy = np.einsum("...ji,j->...", v, self._e)
        s = self.L / (2 * np.pi)
        return np.angle(zx) * s, np.angle(zy) * s


class Simulator2D:
    """The operators of the torus for the shared step (used by :func:`solve2d`).

    Implements :class:`~astrofield.simulator.scheme.Space`: state arrays ``(B, N, N)``,
    parameters ``(B, 1, 1)``.

    Parameters
    ----------
    model
        Parameters (array values give the batch); its firing rate is sampled at the nodes.
    kernel
        The radially symmetric 2-D kernel.
    torus
        The grid.
    stimulus
        Optional ``I(X, Y, t)``, an array broadcastable to ``(B, N, N)``.
    """

    def __init__(self, model: Model, kernel: Kernel2D, torus: Torus,
                 stimulus: Callable | None = None) -> None:
        self.model = model
        self.torus = torus
        self.B = model.batch_size
        self.heaviside = model.firing.edges
        #: ``(B, 1, 1)`` arrays of ``theta, beta, gamma, tau, D, steepness``
        self.params = {n: model.param(n, self.B)[:, :, None] for n in PARAMS}
        self.w_hat = torus.kernel_hat(kernel)
        self.stimulus = stimulus
        self.draw_noise = None  # noise is not implemented in 2-D
        D, tau = self.params["D"], self.params["tau"]
        with np.errstate(invalid="ignore"):
            z = np.where(torus.k2 == 0, 0.0, -(D / tau) * torus.k2)  # per unit h
        self._zrate = z
        self._ops: dict[float, tuple[np.ndarray, ...]] = {}

    def rate(self, u: np.ndarray) -> np.ndarray:
        """The model's firing rate at the nodes (Heaviside: plain nodal sampling)."""
        return self.model.firing.rate(u, self.params["theta"], self.params["steepness"])

    def drive_nodal(self, q: np.ndarray, f: np.ndarray) -> np.ndarray:
        """``∬ w(|x - y|) q f dy``: 2-D circular FFT convolution scaled by ``dx dy``.

        Parameters
        ----------
        q, f
            Synaptic resource and firing rate at the nodes, ``(B, N, N)`` (dimensionless).
        """
        n = self.torus.N
        return np.fft.irfft2(self.w_hat * np.fft.rfft2(q * f), s=(n, n)) * self.torus.dx**2

    def input(self, t: float) -> np.ndarray | float:
        """External input ``I(X, Y, t)`` (0 without a stimulus)."""
        if self.stimulus is None:
            return 0.0
        return np.asarray(self.stimulus(self.torus.X, self.torus.Y, t), dtype=float)

    def ops(self, h: float) -> tuple[np.ndarray, ...]:
        """``(e^{hL}, phi1(hL), phi2(hL))`` of ``L = (D / tau) Δ`` in the ``rfft2`` layout."""
        if h not in self._ops:
            z = self._zrate * h
            self._ops[h] = (np.exp(z), phi1(z), phi2(z))
        return self._ops[h]

    def astro_update(self, a0: np.ndarray, J0: np.ndarray, J1: np.ndarray, h: float,
                     cache: dict | None = None) -> np.ndarray:
        """``a(h)`` for ``a_t = L a + J(t)``, ``J`` linear from ``J0`` to ``J1`` (exact).

        ``a0 e^{hL} + h phi1(hL) J0 + h phi2(hL) (J1 - J0)``; the mean of ``a`` changes by
        exactly ``h (J0 + J1) / 2``.

        Parameters
        ----------
        a0
            Astrocytic resource at the start, ``(B, N, N)``.
        J0, J1
            Exchange flux into ``a`` (per unit time) at the start and the end of the step.
        h
            Step length (neural time constants).
        cache
            Shared by calls with the same ``a0`` and ``J0`` (the transforms of the first part).
        """
        e, p1, p2 = self.ops(h)
        cache = {} if cache is None else cache
        if "base" not in cache:
            cache["j0"] = np.fft.rfft2(J0)
            cache["base"] = e * np.fft.rfft2(a0) + h * p1 * cache["j0"]
        out = cache["base"]
        if J1 is not J0:
            out = out + h * p2 * (np.fft.rfft2(J1) - cache["j0"])
        n = self.torus.N
        return np.fft.irfft2(out, s=(n, n))

    def step(self, u0: np.ndarray, q0: np.ndarray, a0: np.ndarray, t: float, h: float):
        """One step of :func:`~astrofield.simulator.scheme.smooth_step`.

        Parameters
        ----------
        u0, q0, a0
            State at time ``t``, ``(B, N, N)``.
        t, h
            Time and step length (neural time constants).

        Returns
        -------
        u, q, a
            The state at ``t + h``.
        """
        return smooth_step(self, u0, q0, a0, t, h)


def _initial(model: Model, torus: Torus, init: Any, B: int, amplitude: float, width: float,
             position: tuple[float, float]):
    N = torus.N
    if isinstance(init, str):
        if init == "rest":
            return np.zeros((B, N, N)), np.ones((B, N, N)), np.zeros((B, N, N))
        if init == "blob":
            r = torus.distance(*position)
            u = amplitude * np.exp(-(r**2) / (2 * width**2))
            return (np.broadcast_to(u, (B, N, N)).copy(), np.ones((B, N, N)),
                    np.zeros((B, N, N)))
        raise ValueError(f"init = {init!r} is not one of 'rest', 'blob' or a tuple of arrays")
    arrays = (init["u"], init["q"], init["a"]) if isinstance(init, dict) else tuple(init)
    if len(arrays) != 3:
        raise ValueError("init arrays must be (u, q, a)")
    out = []
    for name, arr in zip("uqa", arrays, strict=True):
        arr = np.asarray(arr, dtype=float)
        if arr.shape[-2:] != (N, N) or arr.ndim > 3:
            raise ValueError(f"initial {name} has shape {arr.shape}; expected ({N}, {N}) or "
                             f"(B, {N}, {N})")
        out.append(np.broadcast_to(arr, (B, N, N)).copy())
    check_range("initial q", out[1], 0, 1)
    check_range("initial a", out[2], 0, np.inf)
    return tuple(out)


def solve2d(
    model: Model | None = None,
    kernel: Kernel2D | None = None,
    *,
    N: int = 64,
    L: float = 2 * np.pi,
    T: float = 50.0,
    dt: float | str = 0.05,
    init: Any = "blob",
    blob_amplitude: float = 2.0,
    blob_width: float = 0.5,
    position: tuple[float, float] = (0.0, 0.0),
    stimulus: Callable | None = None,
    noise: Any = None,
    n_frames: int = 11,
    store_fields: bool = True,
    progress: bool | None = False,
    dt_check: str = "error",
) -> xr.Dataset:
    r"""Integrate the 2-D astrocyte-neural field on the torus.

    Parameters
    ----------
    model
        Parameters (array values give a batch). Default: sigmoid firing with ``theta = 0.3``,
        ``steepness = 10``, ``beta = 0.05``, ``gamma = 10``, ``tau = 1``, ``D = 0.7``, which with
        the default :class:`DoG2D` kernel holds a persistent, stationary bump. (With the ring's
        ``gamma = 2`` the 2-D bump is drift-unstable for every ``D`` tried, including
        ``D = inf``, and becomes a travelling spot; fast replenishment -- larger ``gamma`` or
        smaller ``tau`` -- stabilises it, as in the ring model.)
    kernel
        Radially symmetric :class:`Kernel2D` (default :class:`DoG2D`).
    N, L
        Grid points per side (>= 8) and side length.
    T, dt
        Final time and step (``T`` a whole number of steps). The ring's step-size rule
        (:func:`astrofield.simulator.step_control.max_step`: the depletion and exchange rates
        of the shared scheme, which are local, so the same on the torus) applies; ``"auto"``
        is its largest step that divides ``T``.
    init
        ``"blob"`` (``u = A exp(-r^2 / 2 w^2)`` at ``position``, ``q = 1``, ``a = 0``),
        ``"rest"`` or a tuple ``(u, q, a)`` of ``(N, N)`` or ``(B, N, N)`` arrays.
    blob_amplitude, blob_width, position
        The initial blob.
    stimulus
        Optional ``I(X, Y, t)`` returning an array broadcastable to ``(B, N, N)``.
    noise
        Not implemented in 2-D: anything but ``None`` raises a :class:`ValueError`.
    n_frames
        Stored frames (evenly spaced, including 0 and ``T``).
    store_fields
        Store ``u, q, a`` frames; scalar traces are always stored.

    progress
        Show a tqdm bar of the steps on stderr (``None``: only once the run has taken about a
        second; ``False``, the default: never).
    dt_check
        A step above the rule: ``"error"`` (a ``ValueError`` before any work), ``"warn"`` (run,
        a :class:`~astrofield.simulator.step_control.StepSizeWarning`, attr ``dt_rule_ok = 0``)
        or ``"off"``.

    Returns
    -------
    xarray.Dataset
        ``u, q, a`` on ``(batch, time, y, x)`` (if stored); on ``(batch, time)``: ``mass``
        (``∬ (q + a)``), ``u_max``, ``area`` (area where ``u > theta``), ``x_c``, ``y_c``
        (circular centre of ``u``), ``q_min``; ``mass_drift`` (relative change of the total
        resource) per member; ``resolved`` per member (the step-size rule obeyed and the
        final state finite; the ring's grid rules and companion run do not apply to the torus,
        so its grid is not checked) and the attr ``resolved`` (1: every member). Unbatched
        models drop the ``batch`` dimension. ``attrs`` hold the parameters, scheme and package
        version.
    """
    t_wall = _time.perf_counter()
    if model is None:
        model = Model(theta=0.3, steepness=10.0, firing="sigmoid", gamma=10.0)
    kernel = DoG2D() if kernel is None else kernel
    if not isinstance(dt, str):
        check_range("dt", dt, 0, np.inf, lo_open=True)
    check_range("T", T, 0, np.inf, lo_open=True)
    dt, step_info = resolve_dt(dt, float(T), model, dt_check, stacklevel=3)
    n_steps, n_frames = _check_2d_args(kernel, T, dt, n_frames, blob_width, noise)
    _check_2d_work(model.batch_size, N, n_steps, T, dt)
    torus = Torus(N, L)
    B = model.batch_size
    sim = Simulator2D(model, kernel, torus, stimulus)
    u, q, a = _initial(model, torus, init, B, float(blob_amplitude), float(blob_width),
                       tuple(position))
    frames = np.unique(np.round(np.linspace(0, n_steps, min(n_frames, n_steps + 1))).astype(int))
    recorder = _Recorder(torus, sim.params["theta"], B, frames.size, store_fields)
    mass0 = torus.integrate(q + a)
    u, q, a = _time_loop(sim, recorder, frames, u, q, a, n_steps, dt, progress)
    ds = _dataset_2d(recorder, frames * dt, torus, model, B,
                     (torus.integrate(q + a) - mass0) / mass0)
    finite = np.all(np.isfinite(np.stack(np.broadcast_arrays(u, q, a))), axis=(0, -2, -1))
    ds["resolved"] = ("batch", finite.reshape(B) & bool(step_info["dt_rule_ok"]),
                      flag_attrs("result resolved", [0, 1], "unresolved resolved",
                                 description="step-size rule obeyed and the final state "
                                             "finite (no grid rule or companion run on the "
                                             "torus)"))
    ds.attrs.update({
        "astrofield_version": __version__, "scheme": SCHEME_2D, "model": "torus",
        "firing": model.firing.describe(), "kernel2d": kernel.describe(), "N": N, "L": L, "T": T,
        "dt": dt, "dt_check": dt_check, **step_info, **seed_attrs(None, False),
        "resolved": int(np.all(ds["resolved"].values)), "resolution_check": "rules",
        "init": init if isinstance(init, str) else "arrays",
        "stimulus": repr(stimulus) if stimulus is not None else "none",
        "wall_s": _time.perf_counter() - t_wall,
        **{f"param_{n}": np.asarray(getattr(model, n), dtype=float) for n in PARAMS},
    })
    if not model.is_batched:
        ds = ds.isel(batch=0)
    return ds


def _check_2d_args(kernel, T, dt, n_frames, blob_width, noise=None) -> tuple[int, int]:
    """Step 1: validate the run settings; returns ``(n_steps, n_frames)``."""
    if noise is not None:
        raise ValueError(f"noise = {noise!r}: noise is not implemented on the torus (the "
                         "ring's Noise draws 1-D correlated fields); use astrofield.solve on "
                         "the ring for noisy runs")
    if not isinstance(kernel, Kernel2D):
        raise ValueError(f"kernel = {kernel!r} is not a Kernel2D")
    check_range("dt", dt, 0, np.inf, lo_open=True)
    check_range("T", T, dt, np.inf)
    n_steps = int(round(T / dt))
    if abs(n_steps * dt - T) > 1e-9 * T:
        raise ValueError(f"T = {T:g} is not a whole number of steps dt = {dt:g}")
    n_frames = check_int("n_frames", n_frames, 2)
    check_range("blob_width", blob_width, 0, np.inf, lo_open=True)
    return n_steps, n_frames


def _check_2d_work(B: int, N: Any, n_steps: int, T: float, dt: float) -> None:
    """Refuse a run whose work, members x N^2 cells x steps, exceeds the limit
    (:func:`astrofield._validate.check_work`), before any array is built."""
    from astrofield._validate import check_work

    try:
        n = int(N)
    except (TypeError, ValueError, OverflowError):
        return  # reported by Torus
    check_work(float(B) * n * n * n_steps,
               f"a 2-D run of {B} parameter set(s) x N^2 = {n}^2 cells x {n_steps} steps "
               f"(T = {float(T):g}, dt = {float(dt):g})",
               hint="increase dt, or reduce T or N")


class _Recorder:
    """Scalar traces (and optionally the fields) at the stored frames of a 2-D run."""

    TRACES = ("mass", "u_max", "area", "x_c", "y_c", "q_min")

    def __init__(self, torus: Torus, theta: np.ndarray, B: int, n_frames: int,
                 store_fields: bool) -> None:
        self.torus, self.theta = torus, theta
        self.rec = {k: np.empty((B, n_frames)) for k in self.TRACES}
        N = torus.N
        self.fields = ({k: np.empty((B, n_frames, N, N)) for k in "uqa"} if store_fields
                       else None)

    def __call__(self, i: int, u: np.ndarray, q: np.ndarray, a: np.ndarray) -> None:
        rec, torus = self.rec, self.torus
        rec["mass"][:, i] = torus.integrate(q + a)
        rec["u_max"][:, i] = u.max(axis=(-2, -1))
        rec["area"][:, i] = torus.integrate((u > self.theta).astype(float))
        rec["x_c"][:, i], rec["y_c"][:, i] = torus.centre(u)
        rec["q_min"][:, i] = q.min(axis=(-2, -1))
        if self.fields is not None:
            self.fields["u"][:, i], self.fields["q"][:, i], self.fields["a"][:, i] = u, q, a


def _time_loop(sim: Simulator2D, recorder: _Recorder, frames: np.ndarray, u, q, a,
               n_steps: int, dt: float, progress: bool | None = False):
    """Step 2: advance ``n_steps`` steps, recording at the frame steps; returns the final state."""
    from astrofield._progress import progress_bar

    fi = 0
    if frames[0] == 0:
        recorder(0, u, q, a)
        fi = 1
    t = 0.0
    with progress_bar(n_steps, progress, "step") as bar:
        for n in range(1, n_steps + 1):
            u, q, a = sim.step(u, q, a, t, dt)
            t = n * dt
            if fi < frames.size and frames[fi] == n:
                recorder(fi, u, q, a)
                fi += 1
            bar.update(1)
    return u, q, a


def _dataset_2d(recorder: _Recorder, times: np.ndarray, torus: Torus, model: Model, B: int,
                mass_drift: np.ndarray) -> xr.Dataset:
    """Step 3: the recorded traces and fields as a Dataset on ``(batch, time[, y, x])``."""
    import xarray as xr

    rec = recorder.rec
    dims_t = ("batch", "time")
    data: dict[str, Any] = {
        "mass": (dims_t, rec["mass"], {"long_name": "total resource ∬(q + a)"}),
        "u_max": (dims_t, rec["u_max"]),
        "area": (dims_t, rec["area"], {"long_name": "area where u > theta"}),
        "x_c": (dims_t, rec["x_c"], {"long_name": "circular centre of u along x"}),
        "y_c": (dims_t, rec["y_c"], {"long_name": "circular centre of u along y"}),
        "q_min": (dims_t, rec["q_min"], {"long_name": "minimum synaptic resource"}),
        "mass_drift": ("batch", mass_drift,
                       {"long_name": "relative change of the total resource"}),
    }
    if recorder.fields is not None:
        for k in "uqa":
            data[k] = (("batch", "time", "y", "x"), recorder.fields[k])
    coords = {"time": times, "x": torus.x, "y": torus.x,
              **{n: ("batch", model.param(n, B)[:, 0]) for n in PARAMS}}
    return annotate(xr.Dataset(data, coords=coords), CF_ATTRS)


_LEN = "a length on the torus, in the units of its side L (attr; default 2 pi)"
#: CF attributes of the variables of :func:`solve2d` (shared names: :data:`COMMON`; lengths on
#: the torus are dimensionless, in the units of its side ``L``).
CF_ATTRS: dict[str, dict[str, str]] = {
    "mass": {"units": "1", "long_name": "total resource", "description": "∬ (q + a) dx dy"},
    "u_max": {"units": "1", "long_name": "maximum of u"},
    "area": {"units": "1", "long_name": "area where u > theta",
             "description": "in the units of L^2"},
    "x_c": {"units": "1", "long_name": "centre of u along x",
            "description": "circular mean; " + _LEN},
    "y_c": {"units": "1", "long_name": "centre of u along y",
            "description": "circular mean; " + _LEN},
    "q_min": {"units": "1", "long_name": "minimum synaptic resource"},
    "mass_drift": {"units": "1", "long_name": "relative change of resource",
                   "description": "relative change of the total resource over the run"},
    "u": {"units": "1", "long_name": "synaptic input u"},
    "q": {"units": "1", "long_name": "synaptic resource q"},
    "a": {"units": "1", "long_name": "astrocytic resource a"},
    "x": {"units": "1", "long_name": "position x on the torus", "description": _LEN},
    "y": {"units": "1", "long_name": "position y on the torus", "description": _LEN},
    "batch": {"units": "1", "long_name": "batch member"},
    "D": {"units": "1", "long_name": "astrocytic diffusion D",
          "description": "diffusion coefficient of the astrocytic resource, L^2 units per "
                         "neural time constant"},
}
