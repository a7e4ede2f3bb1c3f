r"""Neurovascular coupling: BOLD fMRI predicted from metabolic demand (Balloon-Windkessel model).

The ring model's metabolic demand -- the resource consumption rate ``beta q f(u)`` integrated over a
region of the ring -- is taken as the neural/metabolic drive ``z(t)`` of the
hemodynamic Balloon-Windkessel model (Buxton et al. 1998; Friston et al. 2000)::

    ds/dt     = z - kappa s - gamma (f - 1)                 vasodilatory signal s       [1/s]
    df/dt     = s                                           normalised inflow f         [1]
    tau dv/dt = f - v^(1/alpha)                             normalised venous volume v  [1]
    tau dq/dt = f E(f, E0) / E0 - v^(1/alpha) q / v         normalised deoxyhemoglobin q [1]
    E(f, E0)  = 1 - (1 - E0)^(1/f)                          oxygen extraction fraction

and the BOLD signal (fractional signal change; multiply by 100 for per cent)::

    y = V0 (k1 (1 - q) + k2 (1 - q / v) + k3 (1 - v)).

Time is in seconds; ``z`` has units 1/s^2.  The rest state ``s = 0, f = v = q = 1`` gives
``y = 0`` exactly, and the integrator keeps it to the last bit (:func:`balloon_windkessel`).

Numerics
--------
``f, v, q`` are strictly positive, so, as in Stephan et al. (2007) and SPM's ``spm_fx_fmri``, the
model is integrated in the log-transformed states ``(s, ln f, ln v, ln q)``::

    d ln f / dt = s / f,
    d ln v / dt = (f - v^(1/alpha)) / (tau v),
    d ln q / dt = (f E(f) / (E0 q) - v^(1/alpha) / v) / tau,

which keeps them positive for any step size and any drive.  A classical fourth-order Runge-Kutta
scheme advances all batch members at once; the drive is either held constant over each sample
interval (``interpolation="previous"``) or linearly interpolated between samples (``"linear"``).
``E(f)/E0`` is evaluated as ``expm1(ln(1 - E0) / f) / expm1(ln(1 - E0))``, which equals one exactly
at ``f = 1`` so that the rest state is an exact fixed point in floating point.

References
----------
Buxton RB, Wong EC, Frank LR (1998). Dynamics of blood flow and oxygenation changes during brain
activation: the Balloon model. Magn Reson Med 39:855-864.

Friston KJ, Mechelli A, Turner R, Price CJ (2000). Nonlinear responses in fMRI: the Balloon model,
Volterra kernels, and other hemodynamics. NeuroImage 12:466-477.

Friston KJ, Harrison L, Penny W (2003). Dynamic causal modelling. NeuroImage 19:1273-1302.

Obata T, Liu TT, Miller KL, et al. (2004). Discrepancies between BOLD and flow dynamics in primary
and supplementary motor areas. NeuroImage 21:144-153.

Stephan KE, Weiskopf N, Drysdale PM, Robinson PA, Friston KJ (2007). Comparing hemodynamic models
with DCM. NeuroImage 38:387-401.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from astrofield._validate import as_time_series, check_range, time_last
from astrofield._version import __version__

__all__ = [
    "BalloonParams",
    "PRESETS",
    "balloon_windkessel",
    "bold_from_demand",
    "impulse_response",
    "resample_to_tr",
    "hrf_features",
]

#: Names accepted by :meth:`BalloonParams.preset`.
PRESETS = ("friston2000", "friston2003", "stephan2007")

_INTERPOLATION = ("previous", "linear")


@dataclass(frozen=True)
class BalloonParams:
    r"""Parameters of the Balloon-Windkessel model and its BOLD signal equation.

    Parameters
    ----------
    kappa
        Rate of decay of the vasodilatory signal, 1/s (> 0).
    gamma
        Rate of flow-dependent (autoregulatory) elimination, 1/s (>= 0).
    tau
        Haemodynamic transit time through the venous balloon, s (> 0).
    alpha
        Grubb's vessel-stiffness exponent (outflow ``f_out = v^(1/alpha)``), in (0, 1].
    E0
        Resting oxygen extraction fraction (``rho`` in Friston et al.), in (0, 1).
    V0
        Resting venous blood volume fraction, in [0, 1).
    k1, k2, k3
        Dimensionless coefficients of the BOLD signal equation
        ``y = V0 (k1 (1 - q) + k2 (1 - q/v) + k3 (1 - v))``.
    name
        Label (the preset it came from, or ``"custom"``).

    Notes
    -----
    Use :meth:`preset` for the documented literature sets (values and sources there); any field
    may be overridden there or with :func:`dataclasses.replace`.
    """

    kappa: float = 0.65
    gamma: float = 0.41
    tau: float = 0.98
    alpha: float = 0.32
    E0: float = 0.34
    V0: float = 0.02
    k1: float = 7 * 0.34
    k2: float = 2.0
    k3: float = 2 * 0.34 - 0.2
    name: str = "custom"

    def __post_init__(self) -> None:
        checks = {
            "kappa": (0.0, math.inf, True, True),
            "gamma": (0.0, math.inf, False, True),
            "tau": (0.0, math.inf, True, True),
            "alpha": (0.0, 1.0, True, False),
            "E0": (0.0, 1.0, True, True),
            "V0": (0.0, 1.0, False, True),
            "k1": (-math.inf, math.inf, True, True),
            "k2": (-math.inf, math.inf, True, True),
            "k3": (-math.inf, math.inf, True, True),
        }
        for key, (lo, hi, lo_open, hi_open) in checks.items():
            arr = check_range(key, getattr(self, key), lo, hi, lo_open=lo_open, hi_open=hi_open)
            if arr.ndim != 0:
                raise ValueError(f"{key} must be a scalar, got shape {arr.shape}")
            object.__setattr__(self, key, float(arr))

    @classmethod
    def preset(cls, name: str, **overrides: float) -> BalloonParams:
        r"""A documented literature parameter set, optionally with fields overridden.

        Parameters
        ----------
        name
            One of :data:`PRESETS`:

            ``"friston2000"``
                Friston, Mechelli, Turner, Price (2000) NeuroImage 12:466, Table 1 (after
                Buxton et al. 1998): ``kappa = 0.65 /s`` (signal decay, ``tau_s = 1.54 s``),
                ``gamma = 0.41 /s`` (autoregulation, ``tau_f = 2.44 s``), ``tau = 0.98 s``,
                ``alpha = 0.32``, ``E0 = rho = 0.34``; classical BOLD equation with
                ``V0 = 0.02``, ``k1 = 7 E0 = 2.38``, ``k2 = 2``, ``k3 = 2 E0 - 0.2 = 0.48``
                (1.5 T, TE = 40 ms).
            ``"friston2003"``
                Friston, Harrison, Penny (2003) DCM, NeuroImage 19:1273: the prior means of the
                haemodynamic parameters, identical to the 2000 values (kappa 0.65, gamma 0.41,
                tau 0.98, alpha 0.32, rho 0.34) with the same classical BOLD equation (V0 0.02,
                k1 = 7 rho, k2 = 2, k3 = 2 rho - 0.2).  Kept as a separate name so that results
                can cite the DCM priors; numerically it equals ``"friston2000"``.
            ``"stephan2007"``
                The revised BOLD signal equation of Stephan et al. (2007) NeuroImage 38:387
                (after Obata et al. 2004), 1.5 T constants: ``V0 = 0.04``, ``TE = 0.04 s``,
                ``nu0 = 40.3 /s`` (frequency offset at the outer surface of magnetised vessels),
                ``r0 = 25 /s`` (slope of the intravascular relaxation rate), ``epsilon = 1``
                (ratio of intra- to extravascular signal; DCM's prior mean),
                ``k1 = 4.3 nu0 E0 TE``, ``k2 = epsilon r0 E0 TE``, ``k3 = 1 - epsilon``.
                State-equation values are those distributed with this signal model in SPM8/12
                (``spm_fx_fmri``/``spm_gx_fmri``): ``kappa = 0.64 /s``, ``gamma = 0.32 /s``,
                ``tau = 2.0 s``, ``alpha = 0.32``, ``E0 = 0.4``; with them ``k1 = 2.77264``,
                ``k2 = 0.4``, ``k3 = 0``.  (The 2007 paper itself estimated kappa, gamma, tau
                and E0 under the 2003 priors; the SPM values are the ones used with the revised
                equation in current practice.)
        **overrides
            Any field of :class:`BalloonParams`.  For ``"stephan2007"`` also the physical
            constants ``TE``, ``nu0``, ``r0`` and ``epsilon``; for the Friston sets the ``k``
            coefficients follow an overridden ``E0`` unless given explicitly.

        Returns
        -------
        BalloonParams

        Raises
        ------
        ValueError
            For an unknown preset name or field, or a value outside its range.
        """
        key = str(name).lower()
        if key not in PRESETS:
            raise ValueError(f"preset = {name!r} is not one of {PRESETS}")
        ov = dict(overrides)
        if key in ("friston2000", "friston2003"):
            base = dict(kappa=0.65, gamma=0.41, tau=0.98, alpha=0.32, E0=0.34, V0=0.02)
            extra: dict[str, float] = {}
        else:
            base = dict(kappa=0.64, gamma=0.32, tau=2.0, alpha=0.32, E0=0.4, V0=0.04)
            extra = {k: ov.pop(k) for k in ("TE", "nu0", "r0", "epsilon") if k in ov}
        allowed = {f for f in BalloonParams.__dataclass_fields__ if f != "name"}
        unknown = sorted(set(ov) - allowed)
        if unknown:
            raise ValueError(f"unknown Balloon parameter(s) {unknown} for preset {key!r}; "
                             f"allowed: {sorted(allowed)}")
        base.update({k: v for k, v in ov.items() if k not in ("k1", "k2", "k3")})
        E0 = float(check_range("E0", base["E0"], 0.0, 1.0, lo_open=True, hi_open=True))
        if key == "stephan2007":
            TE = float(check_range("TE", extra.get("TE", 0.04), 0.0, math.inf, lo_open=True,
                                   hi_open=True))
            nu0 = float(check_range("nu0", extra.get("nu0", 40.3), 0.0, math.inf,
                                    hi_open=True))
            r0 = float(check_range("r0", extra.get("r0", 25.0), 0.0, math.inf, hi_open=True))
            eps = float(check_range("epsilon", extra.get("epsilon", 1.0), 0.0, math.inf,
                                    lo_open=True, hi_open=True))
            ks = dict(k1=4.3 * nu0 * E0 * TE, k2=eps * r0 * E0 * TE, k3=1.0 - eps)
        else:
            ks = dict(k1=7.0 * E0, k2=2.0, k3=2.0 * E0 - 0.2)
        ks.update({k: ov[k] for k in ("k1", "k2", "k3") if k in ov})
        return cls(**base, **ks, name=key)

    def to_attrs(self) -> dict[str, Any]:
        """Flat attribute dictionary (prefixed ``balloon_``) for ``xarray`` attrs."""
        return {f"balloon_{k}": v for k, v in asdict(self).items()}

    def signal(self, v: np.ndarray, q: np.ndarray) -> np.ndarray:
        """BOLD signal ``y = V0 (k1 (1 - q) + k2 (1 - q/v) + k3 (1 - v))`` (fractional)."""
        return self.V0 * (self.k1 * (1.0 - q) + self.k2 * (1.0 - q / v) + self.k3 * (1.0 - v))


def _resolve_params(params: BalloonParams | str | None, overrides: dict[str, float]
                    ) -> BalloonParams:
    if params is None:
        params = "friston2003"
    if isinstance(params, str):
        return BalloonParams.preset(params, **overrides)
    if not isinstance(params, BalloonParams):
        raise ValueError(f"params = {params!r} must be a BalloonParams or a preset name {PRESETS}")
    return replace(params, **overrides) if overrides else params


def _rhs(y: tuple[np.ndarray, ...], z: np.ndarray, p: BalloonParams, log1m_e0: float,
         e0_norm: float) -> tuple[np.ndarray, ...]:
    """Right-hand side in the log-transformed states ``(s, ln f, ln v, ln q)``."""
    s, lf, lv, lq = y
    f = np.exp(lf)
    fout_over_v = np.exp(lv * (1.0 / p.alpha) - lv)  # v^(1/alpha) / v
    ds = z - p.kappa * s - p.gamma * (f - 1.0)
    dlf = s / f
    dlv = (f * np.exp(-lv) - fout_over_v) / p.tau
    extraction = np.expm1(log1m_e0 / f) / e0_norm  # E(f) / E0, exactly 1 at f = 1
    dlq = (f * extraction * np.exp(-lq) - fout_over_v) / p.tau
    return ds, dlf, dlv, dlq


def _batch_dims(shape: tuple[int, ...]) -> list[str]:
    if len(shape) == 0:
        return []
    if len(shape) == 1:
        return ["batch"]
    return [f"batch_{i}" for i in range(len(shape))]


def balloon_windkessel(
    drive: ArrayLike,
    dt: float,
    params: BalloonParams | str | None = None,
    *,
    interpolation: str = "previous",
    max_step: float = 0.01,
    **overrides: float,
) -> xr.Dataset:
    r"""Integrate the Balloon-Windkessel model for a sampled drive ``z(t)``.

    Parameters
    ----------
    drive
        Drive ``z``, shape ``(..., n_time)`` (leading batch axes allowed), in 1/s^2, sampled at
        ``t_n = n dt``, n = 0 .. n_time - 1.  Must be finite.
    dt
        Sample spacing in seconds (> 0).
    params
        A :class:`BalloonParams`, a preset name (:data:`PRESETS`) or ``None`` (``"friston2003"``).
    interpolation
        ``"previous"``: ``z(t) = z_n`` on ``[t_n, t_{n+1})`` (zero-order hold; the last sample
        then does not influence the output).  ``"linear"``: ``z`` linearly interpolated.
    max_step
        Largest Runge-Kutta step in seconds; each sample interval is split into
        ``ceil(dt / max_step)`` equal substeps.  The model's fastest time scales are ~1 s, so the
        default 10 ms gives errors far below 1e-8 of the peak response.
    **overrides
        Parameter overrides applied to ``params`` (see :meth:`BalloonParams.preset`).

    Returns
    -------
    xarray.Dataset
        ``s, f, v, q, bold, drive`` with dims ``(*batch, "time")``; ``time`` in seconds; the
        state at ``t_0`` is the rest state ``s = 0, f = v = q = 1`` (``bold = 0``).

    Raises
    ------
    ValueError
        For a non-finite or empty drive, ``dt <= 0``, an unknown preset or interpolation.
    """
    p = _resolve_params(params, overrides)
    dt = float(check_range("dt", dt, 0.0, math.inf, lo_open=True, hi_open=True))
    max_step = float(check_range("max_step", max_step, 0.0, math.inf, lo_open=True,
                                 hi_open=True))
    if interpolation not in _INTERPOLATION:
        raise ValueError(f"interpolation = {interpolation!r} is not one of {_INTERPOLATION}")
    z = _as_drive(drive)
    check_bold_size(z.shape[-1], dt, max_step=max_step, batch=float(np.prod(z.shape[:-1])))
    n_sub = max(1, math.ceil(dt / max_step - 1e-9))
    out = _integrate_log_state(z, dt / n_sub, n_sub, p, interpolation == "linear")
    return _balloon_dataset(out, z, dt, n_sub, p, interpolation)


#: Largest number of Runge-Kutta steps (samples x sub-steps) of one Balloon-Windkessel
#: integration: a few minutes of the Python time loop; more is almost always a wrong time scale.
MAX_BALLOON_STEPS = 5_000_000


def check_bold_size(n_samples: float, dt: float, *, tail: float = 0.0, max_step: float = 0.01,
                    batch: float = 1.0) -> float:
    """Refuse a Balloon-Windkessel integration that would not fit in memory or time, up front.

    Parameters
    ----------
    n_samples
        Samples of the drive (before the tail).
    dt
        Sample spacing in seconds.
    tail
        Seconds of rest appended.
    max_step
        Largest Runge-Kutta step in seconds.
    batch
        Series integrated together.

    Returns
    -------
    float
        The number of Runge-Kutta steps.

    Raises
    ------
    ValueError
        When the series' arrays exceed the memory limit
        (:func:`astrofield._validate.check_memory`, naming the estimate and the limit) or the
        steps exceed :data:`MAX_BALLOON_STEPS` (naming both).
    """
    from astrofield._validate import check_memory

    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        n_total = float(n_samples) + (math.ceil(tail / dt - 1e-9) if tail > 0 and
                                      math.isfinite(tail / dt) else (math.inf if tail > 0
                                                                     else 0.0))
        n_sub = max(1.0, math.ceil(dt / max_step - 1e-9)) if math.isfinite(dt / max_step) \
            else math.inf
    check_memory(8.0 * 16.0 * float(batch) * n_total,
                 f"a BOLD series of {n_total:.4g} samples of {dt:.3g} s (tail {tail:g} s "
                 "included)")
    steps = n_total * n_sub
    if not steps <= MAX_BALLOON_STEPS:
        raise ValueError(f"the BOLD integration needs {steps:.3g} Runge-Kutta steps "
                         f"({n_total:.4g} samples of {dt:.3g} s, {n_sub:.3g} steps of at most "
                         f"{max_step:g} s each), more than the allowed {MAX_BALLOON_STEPS:.0e}; "
                         "check seconds_per_unit, shorten the trial or the tail")
    return steps


def _integrate_log_state(z: np.ndarray, h: float, n_sub: int, p: BalloonParams, linear: bool
                         ) -> np.ndarray:
    """Classical RK4 on ``(s, log f, log v, log q)`` from rest, ``n_sub`` sub-steps per sample.

    The drive is held (``linear=False``) or interpolated linearly between samples. Returns the
    states at the samples, shape ``(4, *batch, n_time)``.
    """
    n_time = z.shape[-1]
    batch = z.shape[:-1]
    log1m_e0 = math.log1p(-p.E0)
    e0_norm = math.expm1(log1m_e0)
    zero = np.zeros(batch)
    y = (zero.copy(), zero.copy(), zero.copy(), zero.copy())
    out = np.empty((4, *batch, n_time))
    for k in range(4):
        out[k, ..., 0] = y[k]

    def rhs(state: tuple[np.ndarray, ...], zz: np.ndarray) -> tuple[np.ndarray, ...]:
        return _rhs(state, zz, p, log1m_e0, e0_norm)

    for n in range(n_time - 1):
        z0 = z[..., n]
        dz = (z[..., n + 1] - z0) if linear else None
        for j in range(n_sub):
            if dz is None:
                za = zm = zb = z0
            else:
                za = z0 + dz * (j / n_sub)
                zm = z0 + dz * ((j + 0.5) / n_sub)
                zb = z0 + dz * ((j + 1) / n_sub)
            k1 = rhs(y, za)
            k2 = rhs(tuple(a + 0.5 * h * b for a, b in zip(y, k1, strict=True)), zm)
            k3 = rhs(tuple(a + 0.5 * h * b for a, b in zip(y, k2, strict=True)), zm)
            k4 = rhs(tuple(a + h * b for a, b in zip(y, k3, strict=True)), zb)
            y = tuple(a + (h / 6.0) * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
                      for a, b1, b2, b3, b4 in zip(y, k1, k2, k3, k4, strict=True))
        for k in range(4):
            out[k, ..., n + 1] = y[k]
    return out


#: The BOLD signal's units in words (its ``units`` are ``"1"``).
_BOLD_UNITS = "fraction of the resting signal (x100 for per cent)"
#: Attributes of the time in seconds.
_SECONDS = {"units": "s", "long_name": "time (s)"}


def _balloon_dataset(out: np.ndarray, z: np.ndarray, dt: float, n_sub: int, p: BalloonParams,
                     interpolation: str) -> xr.Dataset:
    """The haemodynamic states, BOLD signal and drive as a Dataset with units."""
    s = out[0]
    f, v, q = np.exp(out[1]), np.exp(out[2]), np.exp(out[3])
    bold = p.signal(v, q)
    dims = [*_batch_dims(z.shape[:-1]), "time"]
    t = dt * np.arange(z.shape[-1])
    return xr.Dataset(
        {
            "s": (dims, s, {"long_name": "vasodilatory signal", "units": "s-1"}),
            "f": (dims, f, {"long_name": "normalised blood inflow", "units": "1"}),
            "v": (dims, v, {"long_name": "normalised venous volume", "units": "1"}),
            "q": (dims, q, {"long_name": "normalised deoxyhemoglobin content", "units": "1"}),
            "bold": (dims, bold, {"long_name": "BOLD signal change", "units": "1",
                                  "description": _BOLD_UNITS}),
            "drive": (dims, z.copy(), {"long_name": "vasodilatory drive z", "units": "s-2"}),
        },
        coords={"time": ("time", t, _SECONDS)},
        attrs={
            "model": "Balloon-Windkessel (Friston et al. 2000), log-state RK4",
            "dt": dt,
            "n_substeps": n_sub,
            "interpolation": interpolation,
            "astrofield_version": __version__,
            **p.to_attrs(),
        },
    )


def _as_drive(drive: ArrayLike) -> np.ndarray:
    if isinstance(drive, xr.DataArray):
        if "time" in drive.dims:
            drive = drive.transpose(..., "time")
        drive = drive.values
    z = as_time_series(drive, "drive")
    return z


def resample_to_tr(t: ArrayLike, y: ArrayLike, tr: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Average a time series over consecutive scan windows of length ``TR``.

    Window ``k`` is ``[t_0 + k TR, t_0 + (k + 1) TR)``; its value is the exact mean of the
    piecewise-linear interpolant of ``y``,

    .. math:: \bar y_k = \frac{1}{TR} \int_{t_0 + k TR}^{t_0 + (k+1) TR} y(t)\, dt,

    so a constant is returned unchanged and a linear ramp gives its exact window means (no
    samples are dropped; each acquisition integrates the signal over its repetition time).
    Only complete windows inside ``[t_0, t_end]`` are returned.

    Parameters
    ----------
    t
        Sample times, shape ``(n_time,)``, strictly increasing (any spacing), seconds.
    y
        Samples, shape ``(..., n_time)``.
    tr
        Repetition time (> 0), same units as ``t``; at most ``t_end - t_0``.

    Returns
    -------
    t_tr : numpy.ndarray
        Window centres ``t_0 + (k + 1/2) TR``, shape ``(n_tr,)``.
    y_tr : numpy.ndarray
        Window means, shape ``(..., n_tr)``.
    """
    t = np.asarray(t, dtype=float)
    if t.ndim != 1 or t.size < 2:
        raise ValueError(f"t must be 1-D with at least 2 samples, got shape {t.shape}")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ValueError("t must be finite and strictly increasing")
    y = np.asarray(y, dtype=float)
    if y.ndim == 0 or y.shape[-1] != t.size:
        raise ValueError(f"y has shape {y.shape}; its last axis must match len(t) = {t.size}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or inf")
    span = t[-1] - t[0]
    tr = float(check_range("tr", tr, 0.0, span * (1 + 1e-12), lo_open=True))
    n_tr = int(math.floor(span / tr * (1 + 1e-12)))
    edges = t[0] + tr * np.arange(n_tr + 1)
    edges[-1] = min(edges[-1], t[-1])

    h = np.diff(t)
    cum = np.concatenate([np.zeros((*y.shape[:-1], 1)),
                          np.cumsum(0.5 * h * (y[..., 1:] + y[..., :-1]), axis=-1)], axis=-1)
    idx = np.clip(np.searchsorted(t, edges, side="right") - 1, 0, t.size - 2)
    r = edges - t[idx]
    slope = (y[..., idx + 1] - y[..., idx]) / h[idx]
    F = cum[..., idx] + y[..., idx] * r + 0.5 * slope * r**2
    y_tr = np.diff(F, axis=-1) / tr
    t_tr = t[0] + tr * (np.arange(n_tr) + 0.5)
    return t_tr, y_tr


def hrf_features(t: ArrayLike, y: ArrayLike) -> dict[str, np.ndarray]:
    """Shape descriptors of a (positive) haemodynamic response ``y(t)``.

    Parameters
    ----------
    t
        Times, shape ``(n_time,)``, seconds.
    y
        Response, shape ``(..., n_time)``.

    Returns
    -------
    dict
        ``time_to_peak`` and ``peak`` (global maximum), ``undershoot`` (minimum after the peak,
        negative for an undershoot) and ``time_to_undershoot``, ``fwhm`` (full width at half
        maximum of the positive lobe, from linear interpolation of the crossings), each of shape
        ``y.shape[:-1]``.
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    ip = np.argmax(y, axis=-1)
    peak = np.take_along_axis(y, ip[..., None], -1)[..., 0]
    n = t.size
    after = np.where(np.arange(n) >= ip[..., None], y, np.inf)
    iu = np.argmin(after, axis=-1)
    under = np.take_along_axis(y, iu[..., None], -1)[..., 0]
    above = y >= 0.5 * peak[..., None]
    fwhm = np.full(peak.shape, np.nan)
    for index in np.ndindex(peak.shape):
        row, a = y[index], above[index]
        k = ip[index]
        lo = k
        while lo > 0 and a[lo - 1]:
            lo -= 1
        hi = k
        while hi < n - 1 and a[hi + 1]:
            hi += 1
        half = 0.5 * peak[index]
        if lo == 0 or hi == n - 1:
            continue
        t_lo = t[lo - 1] + (half - row[lo - 1]) / (row[lo] - row[lo - 1]) * (t[lo] - t[lo - 1])
        t_hi = t[hi] + (half - row[hi]) / (row[hi + 1] - row[hi]) * (t[hi + 1] - t[hi])
        fwhm[index] = t_hi - t_lo
    return {"time_to_peak": t[ip], "peak": peak, "undershoot": under,
            "time_to_undershoot": t[iu], "fwhm": fwhm}


def impulse_response(
    params: BalloonParams | str | None = None,
    dt: float = 0.01,
    duration: float = 32.0,
    *,
    amplitude: float = 1.0,
    **overrides: float,
) -> xr.Dataset:
    r"""BOLD response to a brief drive pulse of area ``amplitude`` (a unit impulse by default).

    The drive is ``z = amplitude / dt`` over the first sample interval ``[0, dt)`` and zero after
    it, i.e. an impulse of area ``amplitude`` (1/s) in the vasodilatory signal.  For small
    ``amplitude`` the response divided by ``amplitude`` is the first-order Volterra kernel (the
    model's haemodynamic response function, HRF).

    Parameters
    ----------
    params
        :class:`BalloonParams`, preset name or ``None`` (``"friston2003"``).
    dt
        Sample spacing, s (> 0).
    duration
        Length of the response, s (> 2 dt).
    amplitude
        Pulse area, 1/s (finite).
    **overrides
        Parameter overrides.

    Returns
    -------
    xarray.Dataset
        As :func:`balloon_windkessel`, with the :func:`hrf_features` of ``bold`` (for
        ``amplitude > 0``) stored in ``attrs`` (``time_to_peak``, ``peak``, ``undershoot``,
        ``time_to_undershoot``, ``fwhm``).
    """
    dt = float(check_range("dt", dt, 0.0, math.inf, lo_open=True, hi_open=True))
    duration = float(check_range("duration", duration, 2 * dt, math.inf, lo_open=True,
                                 hi_open=True))
    amplitude = float(check_range("amplitude", amplitude))
    n = int(round(duration / dt)) + 1
    z = np.zeros(n)
    z[0] = amplitude / dt
    ds = balloon_windkessel(z, dt, params, interpolation="previous", **overrides)
    ds.attrs["amplitude"] = amplitude
    if amplitude > 0:
        feats = hrf_features(ds["time"].values, ds["bold"].values)
        ds.attrs.update({k: float(v) for k, v in feats.items()})
    return ds


def bold_from_demand(
    demand: ArrayLike,
    dt_model: float | None = None,
    *,
    seconds_per_unit: float,
    tr: float = 2.0,
    preset: BalloonParams | str = "friston2003",
    gain: float = 1.0,
    baseline: float | str | None = "first",
    tail: float = 0.0,
    interpolation: str = "previous",
    max_step: float = 0.01,
    **overrides: float,
) -> xr.Dataset:
    r"""Predict the BOLD signal of a region from its metabolic demand time series.

    The demand ``m(t)`` (resource consumption ``beta q f(u)`` integrated over the chosen region, a
    rate per model time unit) drives the vasodilatory signal through

    .. math:: z(t) = g\, (m(t) - m_\mathrm{rest}),

    with ``g = gain`` (1/s^2 per demand unit).  Model time is converted to seconds by
    ``seconds_per_unit`` (e.g. a neural time constant of 10 ms gives ``0.01``).  The model is
    integrated with :func:`balloon_windkessel` from its rest state and the BOLD signal is averaged
    over scan windows of length ``tr`` with :func:`resample_to_tr`.

    Parameters
    ----------
    demand
        Demand samples, shape ``(..., n_time)``, or an ``xarray.DataArray`` with a ``time``
        dimension (model time units; its spacing gives ``dt_model`` when that is ``None``).
    dt_model
        Sample spacing in model time units (> 0); inferred from a DataArray's uniform ``time``
        coordinate when ``None``.
    seconds_per_unit
        Seconds per model time unit (> 0); required, there is no natural default.
    tr
        Scan repetition time, s (> 0; at most the length of the series).
    preset
        Preset name (:data:`PRESETS`) or a :class:`BalloonParams`.
    gain
        Scale from demand to drive, 1/s^2 per demand unit (finite, >= 0).
    baseline
        ``"first"`` subtracts the first sample (the simulator starts at rest), ``"min"`` the
        minimum over time, a number subtracts that value, ``None`` subtracts nothing.
    tail
        Seconds of rest-level drive appended after the series so that the slow haemodynamic
        response can complete (>= 0).
    interpolation, max_step
        Passed to :func:`balloon_windkessel`.
    **overrides
        Balloon parameter overrides.

    Returns
    -------
    xarray.Dataset
        ``s, f, v, q, bold, drive`` on ``time`` (seconds; a DataArray's first model time
        ``t_0`` maps to ``t_0 * seconds_per_unit``, where the haemodynamics start at rest),
        ``model_time`` (the same instants in model units), ``demand`` (as given, padded over the
        tail with its rest value) and ``bold_tr`` on ``tr_time`` (window centres, s); attrs
        hold all parameters and the package version.
    """
    demand, dt_model, t0_model, dims_in, coords_in = _demand_series(demand, dt_model)
    dt_model = float(check_range("dt_model", dt_model, 0.0, math.inf, lo_open=True,
                                 hi_open=True))
    spu = float(check_range("seconds_per_unit", seconds_per_unit, 0.0, math.inf, lo_open=True,
                            hi_open=True))
    gain_arr = check_range("gain", gain, 0.0, math.inf, hi_open=True)
    tail = float(check_range("tail", tail, 0.0, math.inf, hi_open=True))
    tr = float(check_range("tr", tr, 0.0, math.inf, lo_open=True, hi_open=True))
    params = _resolve_params(preset, overrides)
    m = _as_drive(demand)
    rest = _rest_level(m, baseline)
    dt_s = dt_model * spu
    check_bold_size(m.shape[-1], dt_s, tail=tail, max_step=max_step,
                    batch=float(np.prod(m.shape[:-1])))
    n_tail = int(math.ceil(tail / dt_s - 1e-9)) if tail > 0 else 0
    if n_tail:
        m = np.concatenate([m, np.broadcast_to(rest, (*m.shape[:-1], n_tail))], axis=-1)
    total = dt_s * (m.shape[-1] - 1)
    if tr > total * (1 + 1e-12):
        raise ValueError(f"tr = {tr:g} s is longer than the series ({total:g} s = "
                         f"{m.shape[-1]} samples x {dt_s:g} s); lengthen it or add a tail")
    z = np.asarray(gain_arr)[..., None] * (m - rest) if gain_arr.ndim else float(gain_arr) * (
        m - rest)
    ds = balloon_windkessel(z, dt_s, params, interpolation=interpolation, max_step=max_step)
    ds = ds.assign_coords(time=("time", ds["time"].values + t0_model * spu, _SECONDS))
    ds = _add_demand_and_scans(ds, m, tr, spu, dims_in, coords_in)
    ds.attrs.update({
        "dt_model": dt_model,
        "seconds_per_unit": spu,
        "tr": tr,
        "gain": gain_arr.tolist(),
        "baseline": baseline if isinstance(baseline, str) else (
            "none" if baseline is None else float(np.mean(baseline))),
        "tail_s": tail,
    })
    return ds


def _demand_series(demand: ArrayLike, dt_model: float | None):
    """Step 1 of :func:`bold_from_demand`: the demand as an array, its step and time origin.

    Returns ``(values, dt_model, t0_model, dims, coords)``; ``dims``/``coords`` are the
    non-time dimensions of a DataArray input (``None`` for arrays).
    """
    t0_model = 0.0
    dims_in = coords_in = None
    if isinstance(demand, xr.DataArray):
        demand, dims_in, coords_in = time_last(demand, "demand")
        if "time" in demand.coords:
            t0_model = float(demand["time"].values[0])
        if dt_model is None:
            if "time" not in demand.coords or demand.sizes["time"] < 2:
                raise ValueError("dt_model is None and demand has no usable 'time' coordinate")
            tm = np.asarray(demand["time"].values, dtype=float)
            steps = np.diff(tm)
            if np.any(steps <= 0) or np.ptp(steps) > 1e-6 * np.mean(steps):
                raise ValueError("demand 'time' coordinate is not uniformly increasing; "
                                 "pass dt_model explicitly after resampling")
            dt_model = float(np.mean(steps))
        demand = demand.values
    if dt_model is None:
        raise ValueError("dt_model is required when demand is not a DataArray with a 'time' "
                         "coordinate")
    return demand, dt_model, t0_model, dims_in, coords_in


def _rest_level(m: np.ndarray, baseline: float | str | None) -> np.ndarray:
    """Step 2: the resting demand subtracted from the drive, shape ``(*batch, 1)``."""
    if isinstance(baseline, str):
        if baseline == "first":
            return m[..., :1]
        if baseline == "min":
            return m.min(axis=-1, keepdims=True)
        raise ValueError(f"baseline = {baseline!r} must be 'first', 'min', a number or None")
    if baseline is None:
        return np.zeros((*m.shape[:-1], 1))
    return np.broadcast_to(check_range("baseline", baseline), m.shape[:-1])[..., None]


def _add_demand_and_scans(ds: xr.Dataset, m: np.ndarray, tr: float, spu: float, dims_in,
                          coords_in) -> xr.Dataset:
    """Step 4: restore the input's dimensions and add the demand and the per-TR BOLD."""
    t_tr, y_tr = resample_to_tr(ds["time"].values, ds["bold"].values, tr)
    bdims = list(ds["bold"].dims[:-1])
    if dims_in is not None and len(dims_in) == len(bdims):
        ds = ds.rename({old: new for old, new in zip(bdims, dims_in, strict=True)
                        if old != new})
        bdims = dims_in
        ds = ds.assign_coords({d: v for d, v in coords_in.items()})
    ds["demand"] = ([*bdims, "time"], m, {
        "long_name": "metabolic demand", "units": "rad",
        "description": "resource consumption rate (resource x rad, e.g. ∫ beta q f(u) dx) per "
                       "neural time constant (model time is dimensionless)"})
    ds["bold_tr"] = ([*bdims, "tr_time"], y_tr, {"long_name": "BOLD averaged over each TR",
                                                  "units": "1", "description": _BOLD_UNITS})
    ds = ds.assign_coords(tr_time=("tr_time", t_tr, {"units": "s",
                                                     "long_name": "centre of scan window"}))
    return ds.assign_coords(model_time=("time", ds["time"].values / spu, {
        "units": "1", "long_name": "time (neural time constants)",
        "description": "the model's (dimensionless) time of each sample: time / "
                       "seconds_per_unit"}))
