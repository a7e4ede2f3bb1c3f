r"""Noise-driven wandering of bumps: measurement and small-noise theory.

Stochastic model
----------------
Additive noise enters the activity equation (Euler-Maruyama in :func:`astrofield.solve`):

.. math:: du = [-u + w * (q f(u)) + I]\, dt + \sigma\, dW(x, t),
          \qquad E[dW(x,t)\, dW(y,t)] = c(x - y)\, dt,

with a Gaussian correlation ``c(d) = exp(-d^2 / 2 lambda^2)`` or the ``"cosine"`` correlation
``c(d) = cos d`` (``dW = cos x dW_1 + sin x dW_2``), see :class:`astrofield.model.noise.Noise`.

Measurement
-----------
Each trial starts at the exact stationary bump (no shift perturbation) and the bump
position ``phi(t)`` (phase of the first Fourier mode of ``u``, unwrapped) is recorded. Over ``n``
independent trials we report the mean squared displacement
``MSD(t) = (1/n) sum_k (phi_k(t) - phi_k(0))^2`` with a chi-square interval (for Gaussian,
zero-mean displacements ``n MSD / E[MSD] ~ chi^2_n``), and the effective diffusion coefficient
``D_eff`` from the least-squares fit ``MSD(t) = 2 D_eff t + c`` over ``t >= t_fit``, with a
bootstrap percentile interval over trials (the MSD values at different times are strongly
correlated, so only resampling whole trials gives an honest interval).

Small-noise theory (Amari limit, cosine kernel, cosine-correlated noise)
------------------------------------------------------------------------
Take ``beta = 0``: then ``q = 1`` and ``a = 0`` for all time (no depression), and the model is
Amari's field ``u_t = -u + ∫ cos(x - y) H(u(y) - theta) dy + sigma xi``. Write
``u = A cos x + B sin x + v`` with ``v`` orthogonal to the first Fourier mode. The drive and the
cosine-correlated noise both lie in the first mode, so ``v_t = -v``: ``v`` decays and, starting
from a bump, is zero. With ``z = A + iB = R e^{i phi}`` the active arc is ``|x - phi| < Delta(R)``,
``cos Delta = theta / R``, and ``∫ e^{iy} H dy = 2 sin Delta e^{i phi}``, hence

.. math:: dz = \bigl(-z + g(R)\, e^{i\phi}\bigr)\, dt + \sigma\,(dW_1 + i\, dW_2),
          \qquad g(R) = 2 \sqrt{1 - \theta^2 / R^2}.

Itô's formula for ``log z`` has no correction because ``(dz)^2 = sigma^2 (dW_1 + i dW_2)^2 = 0``,
so ``d log z = dz / z`` and its imaginary part is

.. math:: d\phi = \frac{\sigma}{R}\,(\cos\phi\, dW_2 - \sin\phi\, dW_1)
               = \frac{\sigma}{R}\, d\beta_t

with ``beta_t`` a standard Brownian motion: the deterministic part does not move the phase at
all (translation invariance), and the position is a martingale with quadratic variation
``sigma^2 ∫ R^{-2} dt``. The amplitude obeys ``d log R = (g(R)/R - 1) dt + (sigma/R) dbeta_R``
and fluctuates about the wide-bump fixed point ``R* = g(R*)``, i.e. ``R*^2 = 2 + 2 sqrt(1 -
theta^2)``, equivalently ``R* = 2 sin Delta`` with ``sin 2 Delta = theta`` (wide root), with
relaxation rate ``k = 1 - g'(R*)`` and variance ``sigma^2 / (2 k)``. Therefore

.. math:: E[(\phi(t) - \phi(0))^2] = \sigma^2 \int_0^t E[R^{-2}]\, ds
          = \frac{\sigma^2 t}{R_*^2}\,\bigl(1 + O(\sigma^2 / (k R_*^2))\bigr),
          \qquad D_\mathrm{eff} = \frac{\sigma^2}{2 R_*^2}.

Assumptions: ``beta = 0`` (so D and gamma play no role), Heaviside firing, cosine kernel, noise
confined to the first mode, an initial first-mode profile, and weak noise (``sigma`` small
against ``R* - R_narrow`` so that the bump never collapses; the relative correction is about
``3 sigma^2 / (2 k R*^2)``, 0.4 % at ``sigma = 0.1, theta = 0.1``). In the Euler-Maruyama scheme
the deterministic stages preserve the phase exactly and each step adds an exact Gaussian phase
increment of variance ``sigma^2 dt / R^2`` to leading order, so the law is reproduced for any
``dt``. This is the cosine-kernel special case of the projection formula of Kilpatrick and
Ermentrout (2013): ``D_eff = sigma^2 <c * U', U'> / (2 <U', U'>^2)``-type ratios reduce to
``sigma^2 / (2 R^2)`` here.

With resource depression (``beta > 0``) the bump is no longer neutrally stable in the
infinite-dimensional sense: moving leaves depleted resource behind and meets fresh resource
ahead, which speeds wandering up near the drift instability, while astrocytic diffusion ``D`` and
replenishment ``gamma`` refill the trail and slow it down -- a question the paper leaves open and
:func:`measure_wandering` answers numerically (see ``examples/wandering.py``).

References
----------
Kilpatrick and Ermentrout, "Wandering bumps in stochastic neural fields", SIAM J. Appl. Dyn.
Syst. 12 (2013) 61-94.
Palmer, Cihak, Avitabile, Kilpatrick, arXiv:2604.10036 (2026).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from scipy.stats import chi2

from astrofield._compat import moved_attributes
from astrofield._validate import check_int, check_range
from astrofield._version import __version__
from astrofield.applications.memory import MODEL_PARAMS, tile_model
from astrofield.io.cf import annotate, flag_attrs, index_attrs, seed_attrs, time_attrs
from astrofield.model.definition import Model
from astrofield.model.noise import Noise
from astrofield.simulator.integrator import SCHEME, solve
from astrofield.simulator.trackers import BumpTracker

__all__ = ["amari_wandering_theory", "msd_chi2_interval", "fit_diffusion", "measure_wandering"]


def amari_wandering_theory(theta: ArrayLike, sigma: ArrayLike) -> dict[str, np.ndarray]:
    """Small-noise wandering law of the Amari bump (``beta = 0``, cosine kernel and noise).

    Parameters
    ----------
    theta
        Threshold in (0, 1).
    sigma
        Noise amplitude (>= 0) of ``Noise(sigma, "cosine")``.

    Returns
    -------
    dict
        ``R`` (first-mode amplitude ``2 sin Delta`` of the wide bump), ``Delta``
        (``sin 2 Delta = theta``, wide root), ``msd_slope = sigma^2 / R^2`` (so
        ``MSD(t) = msd_slope t``), ``D_eff = sigma^2 / (2 R^2)``, ``radial_rate``
        ``k = 1 - g'(R)`` and ``var_R = sigma^2 / (2 k)`` (stationary amplitude variance).
    """
    th = check_range("theta", theta, 0, 1, lo_open=True, hi_open=True)
    sg = check_range("sigma", sigma, 0, np.inf)
    delta = 0.5 * (np.pi - np.arcsin(th))
    R = 2.0 * np.sin(delta)
    gprime = 2.0 * th**2 / (R**3 * np.sqrt(1.0 - th**2 / R**2))
    k = 1.0 - gprime
    return {"R": R, "Delta": delta, "msd_slope": sg**2 / R**2, "D_eff": sg**2 / (2 * R**2),
            "radial_rate": k, "var_R": sg**2 / (2 * k)}


def msd_chi2_interval(msd: ArrayLike, n: int, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Chi-square confidence interval for a mean squared displacement of ``n`` trials.

    For independent zero-mean Gaussian displacements with variance ``s^2``,
    ``n MSD / s^2 ~ chi^2_n``, so ``[n MSD / chi2_{n,(1+ci)/2}, n MSD / chi2_{n,(1-ci)/2}]``
    covers ``s^2`` with probability ``ci``.
    """
    n = check_int("n", n, 1)
    ci = float(check_range("ci", ci, 0, 1, lo_open=True, hi_open=True))
    m = np.asarray(msd, dtype=float)
    return n * m / chi2.ppf(0.5 + ci / 2, n), n * m / chi2.ppf(0.5 - ci / 2, n)


def _fit_slope(t: np.ndarray, msd: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``msd`` (``(..., n_t)``) against ``t`` with an intercept."""
    tc = t - t.mean()
    return (msd - msd.mean(axis=-1, keepdims=True)) @ tc / (tc @ tc)


def _loglog_slope(t: np.ndarray, msd: np.ndarray) -> np.ndarray:
    ok = t > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return _fit_slope(np.log(t[ok]), np.log(np.maximum(msd[:, ok], 1e-300)))


def fit_diffusion(t: ArrayLike, displacement: ArrayLike, *, t_min: float = 0.0, n_boot: int = 1000,
                  ci: float = 0.95, seed: int | None = 0) -> dict[str, np.ndarray]:
    """Effective diffusion coefficient from trial displacements, with a bootstrap interval.

    Parameters
    ----------
    t
        Times, shape ``(n_t,)``.
    displacement
        ``phi(t) - phi(0)``, shape ``(..., n_trials, n_t)`` (leading axes: parameter sets).
    t_min
        Fit only ``t >= t_min`` (skip an initial transient).
    n_boot, ci, seed
        Bootstrap resamples of whole trials, interval level, generator seed.

    Returns
    -------
    dict
        ``D_eff`` (half the fitted slope of ``MSD = 2 D t + c``), ``D_lo``, ``D_hi`` (bootstrap
        percentile interval), ``D_se`` (bootstrap standard error); shapes ``(...)``.
    """
    t = np.asarray(t, dtype=float)
    X = np.asarray(displacement, dtype=float)
    n_boot = check_int("n_boot", n_boot, 10)
    ci = float(check_range("ci", ci, 0, 1, lo_open=True, hi_open=True))
    sel = t >= float(t_min)
    if sel.sum() < 2:
        raise ValueError(f"t_min = {t_min:g} leaves fewer than 2 samples")
    ts = t[sel]
    sq = X[..., sel] ** 2
    n = X.shape[-2]
    D = 0.5 * _fit_slope(ts, sq.mean(axis=-2))
    rng = np.random.default_rng(seed)
    W = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot) / n  # (n_boot, n)
    boot = 0.5 * _fit_slope(ts, np.einsum("bn,...nt->...bt", W, sq))  # (..., n_boot)
    lo, hi = np.percentile(boot, [50 * (1 - ci), 50 * (1 + ci)], axis=-1)
    return {"D_eff": D, "D_lo": lo, "D_hi": hi, "D_se": boot.std(axis=-1, ddof=1)}


def measure_wandering(
    model: Model | None = None,
    *,
    sigma: float = 0.05,
    correlation: float | str = 0.5,
    n_trials: int = 100,
    T: float = 50.0,
    dt: float | str = 0.05,
    N: int = 64,
    record_every: int = 10,
    t_fit: float | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    progress: bool | None = False,
    dt_check: str = "error",
) -> xr.Dataset:
    r"""Simulate ``n_trials`` noisy bumps per parameter set and measure their wandering.

    Parameters
    ----------
    model
        Ring model; array parameters give ``P`` parameter sets (e.g. a sweep over ``D`` and
        ``gamma``). Each set must have a stationary bump (``beta <= beta_max``).
    sigma, correlation
        Noise amplitude and correlation (Gaussian length in rad, or ``"cosine"``).
    n_trials
        Independent trials per parameter set (all in one batch).
    T, dt, N
        Duration, time step (``"auto"``: the largest step of the step-size rule that divides
        ``T``), grid points.
    dt_check
        A step above the step-size rule: ``"error"`` (refused before any work), ``"warn"`` or
        ``"off"`` (as :func:`astrofield.solve`).
    record_every
        Position sample spacing in steps.
    t_fit
        Start of the MSD fit window (default ``T / 5``; use 0 for the Amari theory check).
    n_boot, ci
        Bootstrap resamples and interval level for ``D_eff``.
    seed
        Noise seed (all trials draw from one seeded generator: reproducible).
    progress
        Show a tqdm bar of the run (``None``: only when it takes longer than about a second;
        default not shown).

    Returns
    -------
    xarray.Dataset
        ``displacement`` (param, trial, time); ``msd``, ``msd_lo``, ``msd_hi`` (chi-square
        interval) on (param, time); per parameter set ``D_eff``, ``D_lo``, ``D_hi``, ``D_se``,
        ``msd_exponent`` (log-log slope of the MSD over the fit window: near 1 for diffusive
        wandering, near 2 for a bump that travels -- then ``D_eff`` is not a diffusion constant),
        ``amplitude`` (mean first-mode amplitude over the second half), ``p_persist`` (fraction
        of trials whose bump survived) and ``mass_drift``; for ``beta = 0`` members with the
        cosine kernel and cosine noise also ``D_theory`` and ``R_theory``. ``resolved`` per
        parameter set: every trial passed the grid and step rules of :func:`astrofield.solve`
        and did not fail (the runs are noisy: no companion run); attr ``resolved`` (1: all).
    """
    model = Model() if model is None else model
    noise = Noise(sigma, correlation, seed)  # validates sigma and correlation
    n_trials = check_int("n_trials", n_trials, 2)
    check_range("T", T, 0, np.inf, lo_open=True)
    record_every = check_int("record_every", record_every, 1)
    t_fit = T / 5 if t_fit is None else float(check_range("t_fit", t_fit, 0, T, hi_open=True))
    big, P = tile_model(model, n_trials)
    ds = solve(big, T=T, dt=dt, N=N, init="bump", eps=0.0, noise=noise, n_frames=2,
               store_fields=False, trackers=[BumpTracker(every=record_every)],
               progress=progress, seed=seed, dt_check=dt_check)
    dt = float(ds.attrs["dt"])  # the step used ("auto" resolved)
    data = _msd_statistics(ds, big, P, n_trials, T, t_fit, ci, n_boot, seed)
    beta = big.param("beta")[::n_trials, 0]
    if model.kernel.is_cosine and correlation == "cosine" and model.firing.edges:
        theta = big.param("theta")[::n_trials, 0]
        th = amari_wandering_theory(np.clip(theta, 1e-12, 1 - 1e-12), sigma)
        data["D_theory"] = ("param", np.where(beta == 0, th["D_eff"], np.nan),
                            {"long_name": "small-noise theory of D_eff", "units": "rad2",
                             "description": "sigma^2 / (2 R^2) (beta = 0, Amari bump); rad2 "
                                            "per neural time constant"})
        data["R_theory"] = ("param", np.where(beta == 0, th["R"], np.nan),
                            {"long_name": "first-mode amplitude R (theory)", "units": "1"})
    data["resolved"] = ("param", ds["resolved"].values.astype(bool).reshape(P, n_trials).all(1),
                        flag_attrs("parameter set resolved", [0, 1], "unresolved resolved",
                                   description="every trial passed the grid and step rules "
                                               "of astrofield.solve and did not fail (noisy "
                                               "runs: no companion run)"))
    t = ds["time_bump"].values
    out = xr.Dataset(data, coords={"param": np.arange(P), "trial": np.arange(n_trials),
                                   "time": t, **{n: ("param", big.param(n)[::n_trials, 0])
                                                 for n in MODEL_PARAMS}})
    annotate(out, {"param": index_attrs("parameter set"), "trial": index_attrs("trial"),
                   "time": time_attrs("time of the phase samples")})
    out.attrs.update({
        "astrofield_version": __version__, "scheme": SCHEME, "application": "wandering",
        "sigma": float(sigma), "correlation": str(correlation),
        **seed_attrs(seed, float(sigma) > 0),
        "n_trials": n_trials, "T": float(T), "dt": dt, "dt_check": dt_check,
        "dt_max": float(ds.attrs["dt_max"]), "dt_rule_ok": int(ds.attrs["dt_rule_ok"]),
        "resolved": int(np.all(data["resolved"][1])),
        "resolution_check": ds.attrs.get("resolution_check", "off"), "N": int(N),
        "t_fit": float(t_fit), "ci": ci, "n_boot": n_boot, "firing": model.firing.describe(),
        "kernel": model.kernel.describe(),
        "reference": "Kilpatrick & Ermentrout, SIAM J Appl Dyn Syst 12 (2013); "
                     "Palmer et al. arXiv:2604.10036",
    })
    return out


def _msd_statistics(ds: xr.Dataset, big: Model, P: int, n_trials: int, T: float, t_fit: float,
                    ci: float, n_boot: int, seed: int) -> dict:
    """Displacements, MSD with chi-square bands, the diffusion fit and persistence per set.

    Returns the data variables of :func:`measure_wandering` (name -> (dims, values, attrs)).
    """
    t = ds["time_bump"].values
    ph = np.unwrap(ds["phase"].values, axis=-1)
    disp = (ph - ph[:, :1]).reshape(P, n_trials, t.size)
    msd = (disp**2).mean(axis=1)
    lo, hi = msd_chi2_interval(msd, n_trials, ci)
    if np.count_nonzero(t >= t_fit) < 2:
        raise ValueError(f"T = {T:g} with t_fit = {t_fit:g} leaves {np.count_nonzero(t >= t_fit)}"
                         " recorded time(s) for the diffusion fit (at least 2); increase T or "
                         "lower t_fit")
    fit = fit_diffusion(t, disp, t_min=t_fit, n_boot=n_boot, ci=ci, seed=seed)
    amp = ds["amplitude"].values.reshape(P, n_trials, t.size)
    umax = ds["u_max"].values.reshape(P, n_trials, t.size)
    theta = big.param("theta")[::n_trials, 0]
    half = t >= T / 2
    pct = f"{ci:.0%}"
    diff = "rad2 per neural time constant (time is dimensionless)"
    return {
        "displacement": (("param", "trial", "time"), disp,
                         {"long_name": "displacement phi(t) - phi(0)", "units": "rad",
                          "description": "change of the unwrapped first-mode phase"}),
        "msd": (("param", "time"), msd, {"long_name": "mean squared displacement",
                                          "units": "rad2"}),
        "msd_lo": (("param", "time"), lo, {"long_name": f"MSD {pct} lower bound", "units": "rad2",
                                            "description": "chi-square interval over trials"}),
        "msd_hi": (("param", "time"), hi, {"long_name": f"MSD {pct} upper bound", "units": "rad2",
                                            "description": "chi-square interval over trials"}),
        "D_eff": ("param", fit["D_eff"], {"long_name": "effective diffusion D_eff",
                                          "units": "rad2",
                                          "description": f"fit MSD = 2 D_eff t + c; {diff}"}),
        "D_lo": ("param", fit["D_lo"], {"long_name": f"D_eff {pct} lower bound", "units": "rad2",
                                        "description": f"bootstrap interval; {diff}"}),
        "D_hi": ("param", fit["D_hi"], {"long_name": f"D_eff {pct} upper bound", "units": "rad2",
                                        "description": f"bootstrap interval; {diff}"}),
        "D_se": ("param", fit["D_se"], {"long_name": "D_eff standard error", "units": "rad2",
                                        "description": f"bootstrap standard error; {diff}"}),
        "msd_exponent": ("param", _loglog_slope(t[t >= t_fit], msd[:, t >= t_fit]),
                         {"long_name": "MSD exponent alpha", "units": "1",
                          "description": "alpha in MSD ~ t^alpha over the fit window (1: "
                                         "diffusive, 2: ballistic)"}),
        "amplitude": ("param", amp[..., half].mean(axis=(1, 2)),
                      {"long_name": "mean first-mode amplitude", "units": "1",
                       "description": "over the second half of the run and the trials"}),
        "p_persist": ("param", (umax[..., -1] > theta[:, None]).mean(axis=1),
                      {"long_name": "fraction of trials persisting", "units": "1"}),
        "mass_drift": ("param", np.abs(ds["mass_drift"].values.reshape(P, n_trials)).max(1),
                       {"long_name": "max relative change of resource", "units": "1",
                        "description": "largest relative change of ∫ (q + a) dx over trials"}),
    }


#: Figure functions that moved to :mod:`astrofield.plotting.applications`.
__getattr__ = moved_attributes(__name__, ('plot_wandering',), "astrofield.plotting.applications",
                               advertised="astrofield.plotting")
