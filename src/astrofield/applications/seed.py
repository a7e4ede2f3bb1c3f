r"""The seed note's single-resource neural field, implemented correctly.

The user's original note sketched a class ``AstrocyteNeuralField`` with one
astrocytic resource ``r`` that diffuses, is consumed by activity and recovers to 1. This module
keeps that API -- constructor ``AstrocyteNeuralField(n_grid=64, dx=1.0, diffusion_coeff=0.1)``,
attributes ``u, r, D, tau_r, r_production, kernel``, ``step(external, dt)`` and
``stimulate(position, amplitude, duration, dt)`` -- but integrates a well-posed model.

Model
-----
On a ring of ``n`` grid points ``x_j = j dx`` (length ``L = n dx``, periodic):

.. math::

    u_t &= -u + \int_0^L w(x - y)\, r(y)\, f(u(y))\, dy + I(x, t) \\
    r_t &= D\, r_{xx} - \kappa\, f(u)\, r + \rho\, (1 - r),
    \qquad \rho = 1/\tau_r + p,

* ``w(d) = w_e exp(-d^2 / 2 s_e^2) - w_i exp(-d^2 / 2 s_i^2)`` (Mexican hat) evaluated on the
  **ring distance** ``d`` in ``[-L/2, L/2)``;
* the convolution is **circular** and a **Riemann sum scaled by dx**,
  ``(w * g)_i = sum_j w(x_i - x_j) g_j dx`` (computed with the FFT);
* ``f`` is the firing rate, a thresholded ``tanh``, ``f = tanh(g max(u - theta, 0))`` (default),
  or a logistic sigmoid ``1 / (1 + exp(-g (u - theta)))``; both lie in ``[0, 1]``;
* ``kappa`` (``consumption``) is the consumption rate per unit firing, ``tau_r`` the recovery
  time constant and ``p`` (``r_production``) a baseline production that also saturates at full
  capacity (source ``p (1 - r)``), so recovery has the total rate ``rho = 1/tau_r + p``
  (the seed stored ``r_production = 0.1`` but never used it);
* ``r_xx`` is the standard three-point Laplacian ``(r_{j+1} - 2 r_j + r_{j-1}) / dx^2`` (as in the
  seed).

Units: time in units of the neural time constant; ``x`` and ``dx`` in grid length units; ``D`` in
length^2 per time unit.

Scheme (first order in ``dt``, one step of length ``h``)
--------------------------------------------------------
* ``u``: exponential Euler, ``u <- e^{-h} u + (1 - e^{-h}) N(u, r)`` with the drive ``N`` at the
  start of the step (the decay is integrated exactly, so any ``h`` is stable for the decay).
* ``r``: Strang splitting with exact sub-steps and ``f`` frozen over the step, written for the
  deficit ``s = 1 - r``. Reaction: ``s' = kappa f - k s`` with ``k = kappa f + rho`` has the exact
  solution ``s <- s* + (s - s*) e^{-k h/2}``, a convex combination of ``s`` and the fixed point
  ``s* = kappa f / k`` in ``[0, 1)``. Diffusion: the exact matrix exponential of the three-point
  Laplacian, applied as a circulant sum with the lattice heat kernel
  ``e^{-2z} I_k(2z)``, ``z = D h / dx^2`` (modified Bessel functions, wrapped around the ring).
  Its weights are non-negative and sum to 1, so it maps ``[0, 1]^n`` into itself. Hence
  ``0 <= r <= 1`` holds **by construction for every dt** -- no clipping, and (because every
  operation combines non-negative numbers) also exactly in floating point.

Defaults
--------
The seed's kernel widths (``s_e = 2, s_i = 4``), ``tau_r = 10`` and ``r_production = 0.1`` are kept;
the remaining defaults were chosen so that a cue leaves a **persistent bump**: ``w_e = 1.5``,
``w_i = 0.75`` (the seed's 2:1 ratio, stronger), the seed's ``tanh`` firing in thresholded form with
threshold ``theta = 0.3`` and gain ``g = 8``, and ``consumption = 0.05``. With them,
``stimulate(32, 2.0, 20.0)`` on the default grid ignites a bump (5 grid points above threshold,
peak ``u`` about 2) that persists after the 1-time-unit stimulus, with the resource inside the bump
at about ``rho / (rho + kappa) = 0.8``. Stronger consumption narrows and weakens it
(``kappa = 0.5``: peak 0.63, resource 0.3); at ``kappa = 1`` the bump dies after the stimulus --
the resource limit of persistent activity the seed note describes. The smooth logistic sigmoid
with the same gain has a background rate ``f(0) = 0.08`` that lets the Mexican hat form a periodic
pattern over the whole ring; with it use e.g. ``gain = 20, threshold = 0.5``.

Differences from the seed sketch (all are defects of the sketch)
--------------------------------------------------------------------------
1. The kernel was built on distances ``0 .. L`` from the first grid point; here it uses ring
   distances, so the connectivity is symmetric and translation invariant.
2. ``np.convolve(..., mode='same')`` is a linear (zero-padded), unscaled convolution; here it is
   circular and multiplied by ``dx`` (a Riemann sum of the integral), so results do not depend
   on the grid size except through discretisation error.
3. The seed used ``tanh(convolved * u * r)``, multiplying the input by the *local* activity;
   here the standard form ``-u + w * (r f(u)) + I`` is used (Amari/Wilson-Cowan type).
4. Consumption ``0.1 u r`` could be negative for negative ``u`` (creating resource); here
   consumption is ``kappa f(u) r >= 0``.
5. ``r`` was clipped to ``[0, 1]`` after an explicit Euler step; here the scheme keeps it there.
6. ``stimulate`` drove a single grid cell, i.e. an integrated drive ``amplitude * dx`` that
   vanishes as the grid is refined (at ``n = 256, dx = 0.25`` the seed's cue ignites nothing, even
   at four times the amplitude). Here the cue is a top-hat of ``width`` grid length units
   (default 1.0, the seed's cell at ``dx = 1``) applied as cell averages, so the same call gives
   the same bump on any grid of the same length ``n dx``: at ``L = 64`` the final profiles at
   ``dx = 1, 0.5, 0.25`` differ from ``dx = 0.125`` by at most 0.26, 0.051 and 0.0082 in ``u``
   (``tests/test_seed.py``).

References
----------
Palmer, Cihak, Avitabile, Kilpatrick, "Astrocytic resource diffusion stabilizes persistent
activity in neural fields", arXiv:2604.10036 (2026).
Amari, "Dynamics of pattern formation in lateral-inhibition type neural fields",
Biol. Cybern. 27 (1977) 77-87.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ive

from astrofield._validate import check_int, check_range
from astrofield.model.firing import Sigmoid, ThresholdTanh

__all__ = ["AstrocyteNeuralField", "mexican_hat_ring"]

FIRING_SEED = ("tanh", "sigmoid")
_SEED_RATES = {"tanh": ThresholdTanh(), "sigmoid": Sigmoid()}


def mexican_hat_ring(n_grid: int, dx: float, w_exc: float = 1.5, w_inh: float = 0.75,
                     sigma_exc: float = 2.0, sigma_inh: float = 4.0) -> np.ndarray:
    """Mexican-hat kernel sampled at the ring distances of the grid points from point 0.

    ``w(d) = w_exc exp(-d^2 / 2 sigma_exc^2) - w_inh exp(-d^2 / 2 sigma_inh^2)`` with ``d`` the
    signed ring distance of ``j dx`` in ``[-L/2, L/2)``, ``L = n_grid dx``. Entry ``j`` is the
    weight between points at index separation ``j`` (the first column of the circulant matrix).
    """
    L = n_grid * dx
    d = (np.arange(n_grid) * dx + L / 2) % L - L / 2
    return (w_exc * np.exp(-(d**2) / (2 * sigma_exc**2))
            - w_inh * np.exp(-(d**2) / (2 * sigma_inh**2)))


class AstrocyteNeuralField:
    """Single-resource astrocyte-neural field on a periodic 1-D grid (seed-compatible API).

    Parameters
    ----------
    n_grid : int
        Number of grid points ``n`` (>= 4).
    dx : float
        Grid spacing (> 0), in grid length units; the ring has length ``n dx``.
    diffusion_coeff : float
        Resource diffusion coefficient ``D`` (>= 0), length^2 per time unit.
    tau_r : float
        Resource recovery time constant (> 0), time units. Default 10 (as the seed).
    r_production : float
        Baseline (saturating) production rate ``p >= 0`` per time unit: source ``p (1 - r)``.
        Default 0.1.
    consumption : float
        Consumption rate ``kappa >= 0`` per unit firing rate, per time unit. Default 0.05.
    threshold : float
        Firing threshold ``theta`` (units of ``u``). Default 0.3.
    gain : float
        Gain ``g > 0`` of the firing rate (per unit of ``u``). Default 8.
    firing : str
        ``"tanh"`` (default, ``tanh(g max(u - theta, 0))``) or ``"sigmoid"``.
    w_exc : float
        Strength of the excitatory Gaussian of the Mexican hat. Default 1.5.
    w_inh : float
        Strength of the inhibitory Gaussian. Default 0.75.
    sigma_exc : float
        Width of the excitatory Gaussian (> 0), grid length units. Default 2.
    sigma_inh : float
        Width of the inhibitory Gaussian (> 0), grid length units. Default 4.

    Attributes
    ----------
    u, r : numpy.ndarray
        Activity (synaptic input) and resource, shape ``(n,)``; start at rest ``u = 0, r = 1``.
    D, tau_r, r_production, consumption : float
        Resource parameters.
    kernel : numpy.ndarray
        ``w`` at the ring distances ``j dx`` (circulant first column), shape ``(n,)``.
    x : numpy.ndarray
        Grid positions ``j dx``.
    t : float
        Elapsed time.

    Notes
    -----
    The defaults give a persistent bump after a cue (see the module docstring). Parameters may be
    changed as attributes between steps; ``kernel`` is re-read on every step.

    The resource step works on the deficit ``s = 1 - r`` (same equations): where the resource is
    full, ``s`` is zero up to FFT round-off of order 1e-17 and ``1 - s`` rounds to exactly 1, so
    ``r <= 1`` holds in floating point as well, not only in exact arithmetic.
    """

    def __init__(self, n_grid: int = 64, dx: float = 1.0, diffusion_coeff: float = 0.1, *,
                 tau_r: float = 10.0, r_production: float = 0.1, consumption: float = 0.05,
                 threshold: float = 0.3, gain: float = 8.0, firing: str = "tanh",
                 w_exc: float = 1.5, w_inh: float = 0.75, sigma_exc: float = 2.0,
                 sigma_inh: float = 4.0) -> None:
        self.n = check_int("n_grid", n_grid, 4)
        self.dx = float(check_range("dx", dx, 0, np.inf, lo_open=True))
        self.D = float(check_range("diffusion_coeff", diffusion_coeff, 0, np.inf))
        self.tau_r = float(check_range("tau_r", tau_r, 0, np.inf, lo_open=True))
        self.r_production = float(check_range("r_production", r_production, 0, np.inf))
        self.consumption = float(check_range("consumption", consumption, 0, np.inf))
        self.threshold = float(check_range("threshold", threshold))
        self.gain = float(check_range("gain", gain, 0, np.inf, lo_open=True))
        if firing not in FIRING_SEED:
            raise ValueError(f"firing = {firing!r} is not one of {FIRING_SEED}")
        self.firing = firing
        check_range("sigma_exc", sigma_exc, 0, np.inf, lo_open=True)
        check_range("sigma_inh", sigma_inh, 0, np.inf, lo_open=True)
        self.x = np.arange(self.n) * self.dx
        self.kernel = mexican_hat_ring(self.n, self.dx, w_exc, w_inh, sigma_exc, sigma_inh)
        self.u = np.zeros(self.n)
        self.r = np.ones(self.n)
        self.t = 0.0
        self._heat: tuple | None = None
        self._heat_mat: tuple | None = None

    # ------------------------------------------------------------------ model pieces
    def firing_rate(self, u: np.ndarray) -> np.ndarray:
        """Firing rate ``f(u)`` in ``[0, 1]`` (sigmoid or thresholded tanh, with the gain as
        steepness: :class:`~astrofield.model.firing.Sigmoid`,
        :class:`~astrofield.model.firing.ThresholdTanh`)."""
        rate = _SEED_RATES[self.firing]
        return rate.rate(np.asarray(u, dtype=float), self.threshold, self.gain)

    def convolve(self, g: np.ndarray) -> np.ndarray:
        """Circular convolution ``(w * g)_i = sum_j w(x_i - x_j) g_j dx`` (FFT)."""
        return np.fft.irfft(np.fft.rfft(self.kernel) * np.fft.rfft(g), n=self.n) * self.dx

    def _external(self, external) -> np.ndarray | float:
        if external is None or isinstance(external, (str, bytes, bool)):
            raise TypeError(f"external = {external!r} must be a number or an array of shape "
                            f"({self.n},)")
        ext = check_range("external", external)  # finite numbers
        if ext.ndim == 0:
            return float(ext)
        if ext.shape != (self.n,):
            raise ValueError(f"external has shape {ext.shape}; expected a scalar or ({self.n},)")
        return ext

    def _react(self, s: np.ndarray, f: np.ndarray, h: float) -> np.ndarray:
        """Exact reaction step for the deficit ``s = 1 - r`` over ``h`` (``f`` frozen).

        ``s' = kappa f - (rho + kappa f) s``: ``s <- s* + (s - s*) e^{-k h}`` with
        ``s* = kappa f / k`` in ``[0, 1)``.
        """
        rho = 1.0 / self.tau_r + self.r_production
        cf = self.consumption * f
        k = rho + cf
        s_star = cf / k
        return s_star + (s - s_star) * np.exp(-k * h)

    def heat_kernel(self, h: float) -> np.ndarray:
        """First column of ``exp(h D Laplacian)`` for the periodic three-point Laplacian.

        On the infinite lattice the heat kernel of ``D (v_{j+1} - 2 v_j + v_{j-1}) / dx^2`` is
        ``e^{-2 z} I_k(2 z)`` (modified Bessel function, ``z = D h / dx^2``); on the ring the
        images ``k + m n`` are summed. Every entry is a sum of non-negative terms and the entries
        sum to 1 (to rounding).
        """
        key = (float(h), self.D, self.n, self.dx)
        if self._heat is not None and self._heat[0] == key:
            return self._heat[1]
        z2 = 2.0 * self.D * h / self.dx**2
        reach = int(np.ceil(z2 + 40.0 * np.sqrt(z2 + 1.0) + 40.0))
        m = np.arange(-(reach // self.n) - 1, reach // self.n + 2)
        k = np.arange(self.n)[:, None] + m[None, :] * self.n
        col = ive(np.abs(k), z2).sum(axis=1)
        self._heat = (key, col)
        return col

    def _heat_matrix(self, h: float) -> np.ndarray:
        key = (float(h), self.D, self.n, self.dx)
        if self._heat_mat is None or self._heat_mat[0] != key:
            col = self.heat_kernel(h)
            idx = (np.arange(self.n)[:, None] - np.arange(self.n)[None, :]) % self.n
            self._heat_mat = (key, col[idx])
        return self._heat_mat[1]

    def _diffuse(self, s: np.ndarray, h: float) -> np.ndarray:
        """Exact ``exp(h D Laplacian) s`` as a circulant sum with non-negative weights."""
        if self.D == 0:
            return s
        return self._heat_matrix(h) @ s

    # ------------------------------------------------------------------ public API
    def step(self, external: float | np.ndarray = 0.0, dt: float = 0.01
             ) -> tuple[np.ndarray, np.ndarray]:
        """Advance one time step and return copies of ``(u, r)``.

        Parameters
        ----------
        external : float or numpy.ndarray
            External input ``I`` (units of ``u``; scalar or shape ``(n,)``), held over the step.
        dt : float
            Time step (> 0), time units.

        Returns
        -------
        u, r : numpy.ndarray
            Copies of the state after the step, shape ``(n,)``.
        """
        dt = float(check_range("dt", dt, 0, np.inf, lo_open=True))
        ext = self._external(external)
        f = self.firing_rate(self.u)
        drive = self.convolve(self.r * f) + ext
        e = np.exp(-dt)
        self.u = e * self.u + (1.0 - e) * drive
        s = self._react(1.0 - self.r, f, 0.5 * dt)  # the deficit 1 - r (see Notes)
        s = self._diffuse(s, dt)
        self.r = 1.0 - self._react(s, f, 0.5 * dt)
        self.t += dt
        return self.u.copy(), self.r.copy()

    def cue_profile(self, position: int, amplitude: float, width: float = 1.0) -> np.ndarray:
        """Grid input of a top-hat cue of the given width, as cell averages.

        The cue is ``amplitude`` on the interval of length ``width`` centred at ``x = position dx``
        (on the ring) and 0 elsewhere. Cell ``j`` covers ``[x_j - dx/2, x_j + dx/2)`` and receives
        the average of the cue over it, so ``sum_j I_j dx = amplitude * width`` on every grid: the
        integrated drive does not depend on ``dx``. With ``width = dx`` the cue is exactly the
        seed's point stimulus (``amplitude`` on one grid cell).

        Parameters
        ----------
        position : int
            Grid index of the cue centre, in ``[0, n - 1]``.
        amplitude : float
            Input strength inside the cue (units of ``u``).
        width : float
            Cue width in grid length units, in ``(0, n dx]``. Default 1.0.

        Returns
        -------
        numpy.ndarray
            Input per grid cell, shape ``(n,)``.
        """
        position = check_int("position", position, 0, self.n - 1)
        amplitude = float(check_range("amplitude", amplitude))
        L = self.n * self.dx
        width = float(check_range("width", width, 0, L, lo_open=True))
        offset = (np.arange(self.n) - position) * self.dx
        offset = (offset + L / 2) % L - L / 2  # signed ring distance of each cell centre
        centres = np.array([-L, 0.0, L])[:, None]  # the cue and its images on the ring
        lo = np.maximum(offset - self.dx / 2, centres - width / 2)
        hi = np.minimum(offset + self.dx / 2, centres + width / 2)
        overlap = np.clip(hi - lo, 0.0, None).sum(axis=0)
        return amplitude * overlap / self.dx

    def stimulate(self, position: int, amplitude: float, duration: float, dt: float = 0.01,
                  *, width: float = 1.0, cue_duration: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Apply a localised cue for the first ``cue_duration`` time units and record the response.

        The seed drove a single grid cell, so its integrated drive was ``amplitude * dx``: on a
        finer grid the same call delivered less input (at ``n = 256, dx = 0.25`` no bump ignites
        even at four times the amplitude). Here the cue has a width in space units
        (:meth:`cue_profile`); the default ``width = 1.0`` is the seed's behaviour at ``dx = 1``,
        and the response converges as ``dx`` is refined at fixed ring length ``n dx``.

        Parameters
        ----------
        position : int
            Grid index of the cue centre (as in the seed); the cue is centred at ``position dx``.
        amplitude : float
            Input strength inside the cue (units of ``u``).
        duration : float
            Total simulated time (> 0), in units of the neural time constant.
        dt : float
            Time step, in ``(0, duration]``. Default 0.01.
        width : float
            Cue width in grid length units, in ``(0, n dx]``. Default 1.0.
        cue_duration : float
            How long the cue is on, from the call (>= 0). Default 1.0 (the seed's value).

        Returns
        -------
        history_u, history_r : numpy.ndarray
            Shape ``(n_steps, n)``, the state after each step, ``n_steps = round(duration/dt)``.
        """
        pulse = self.cue_profile(position, amplitude, width)
        duration = float(check_range("duration", duration, 0, np.inf, lo_open=True))
        dt = float(check_range("dt", dt, 0, duration, lo_open=True))
        cue_duration = float(check_range("cue_duration", cue_duration, 0, np.inf))
        n_steps = max(1, int(round(duration / dt)))
        hist_u = np.empty((n_steps, self.n))
        hist_r = np.empty((n_steps, self.n))
        for k in range(n_steps):
            ext = pulse if k * dt < cue_duration else 0.0
            hist_u[k], hist_r[k] = self.step(ext, dt)
        return hist_u, hist_r

    def reset(self) -> None:
        """Return to rest (``u = 0``, ``r = 1``, ``t = 0``)."""
        self.u = np.zeros(self.n)
        self.r = np.ones(self.n)
        self.t = 0.0

    def total_resource(self) -> float:
        """``sum_j r_j dx`` (diffusion alone conserves it exactly)."""
        return float(self.r.sum() * self.dx)

    def active_width(self, u: np.ndarray | None = None) -> float:
        """Length of the region where ``u > threshold`` (grid length units)."""
        u = self.u if u is None else np.asarray(u)
        return float(np.count_nonzero(u > self.threshold, axis=-1) * self.dx)
