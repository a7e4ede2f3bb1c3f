"""Fit wandering statistics: the mean squared displacement MSD(t) of noisy bumps.

The data: ``msd`` (rad^2) on ``time``, the mean over ``n_trials`` independent noisy trials of
``(phi(t) - phi(0))^2`` of the bump position, each trial starting at the exact bump (an output
of :func:`~astrofield.applications.wandering.measure_wandering` with one parameter set selected
works as is: its attributes give ``n_trials``, the noise ``sigma`` and ``correlation``, ``N`` and
``dt``). The times must be the evenly spaced frames of one run from 0.

Forward model: for every candidate parameter set, ``n_sim`` noisy trials in one batched solve,
with **common random numbers**: the noise increments of simulated trial ``k`` are the same for
every candidate (one seeded draw per step, repeated over the candidates), so the simulated MSD is
a smooth function of the parameters and finite differences see the parameters, not the noise.
The noise amplitude can be fitted as ``noise_sigma`` (the rows of the common draw are scaled per
member).

Noise model: for Gaussian zero-mean displacements with independent increments,
``Cov(X_s^2, X_t^2) = 2 E[X_s X_t]^2 = 2 MSD(min(s, t))^2``, so the estimated MSD of ``n``
trials has covariance ``2 MSD(min(s, t))^2 / n``: a Brownian motion in the clock
``g(t) = MSD(t)^2``, whose increments are independent. The residuals are therefore the
increments of ``simulated - observed`` between frames, each divided by its sd
``sqrt(2 c (g_k - g_{k-1}))`` with ``c = 1 / n_data + 1 / n_sim`` (both sampling errors) and
``g`` from the diffusive law ``a t`` fitted to the observed MSD (:func:`reference_msd`). The
noise sd of these whitened residuals is 1 by construction, so ``sigma`` is fixed at 1 (a fitted
``sigma`` far from 1 would say that the model or the Gaussian assumption does not hold).

Bias: the simulated MSD is a noisy regressor whose noise grows with the parameters it depends
on (errors in variables), so least squares shrinks such parameters. For diffusive wandering and
``K`` frames the squared noise amplitude is scaled by about ``S / (S + 2 K / n_sim)`` with
``S = sum_k (t_k - t_{k-1})^2 / (t_k^2 - t_{k-1}^2)`` (0.66 for ``K = 20`` frames and
``n_sim = 32``, 0.94 for ``n_sim = 256``): use ``n_sim`` well above ``2 K / S`` (the default
256), or few frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from astrofield.fitting.data import Observation, _check_frames, _setting
from astrofield.fitting.problem import FAILED_RESIDUAL, Problem
from astrofield.model.definition import Model
from astrofield.model.noise import Noise

__all__ = ["CommonNoise", "MsdProblem", "msd_problem", "NOISE_PARAM"]

#: The fitted noise amplitude: name -> (min, max, units).
NOISE_PARAM = {"noise_sigma": (0.0, math.inf, "1 per sqrt(neural time constant)")}


@dataclass(frozen=True)
class CommonNoise(Noise):
    """:class:`~astrofield.model.noise.Noise` with common random numbers over parameter sets.

    The batch holds ``B`` parameter sets times ``n_common`` trials (set-major: member
    ``b n_common + k``); every step draws ``n_common`` increments and gives trial ``k`` of every
    set the same one, scaled by that member's ``amplitude``.

    Parameters
    ----------
    n_common
        Trials per parameter set.
    amplitude
        Noise amplitude of each member, ``(B n_common,)``; ``None``: ``sigma`` for all.
    """

    n_common: int = 1
    amplitude: np.ndarray | None = field(default=None, repr=False, compare=False)

    def sampler(self, x: np.ndarray, batch: int):
        """``draw(dt) -> (batch, N)`` increments (see the class docstring)."""
        if batch % self.n_common:
            raise ValueError(f"batch {batch} is not a multiple of n_common = {self.n_common}")
        lam = np.fft.rfft(self.correlation_function(x - x[0])).real
        root = np.sqrt(np.clip(lam, 0.0, None))
        rng = np.random.default_rng(self.seed)
        amp = np.full(batch, self.sigma) if self.amplitude is None else self.amplitude
        amp = np.asarray(amp, dtype=float).reshape(batch, 1)
        reps, n = batch // self.n_common, x.size

        def draw(dt: float) -> np.ndarray:
            xi = rng.standard_normal((self.n_common, n))
            inc = np.fft.irfft(root * np.fft.rfft(xi, axis=-1), n=n, axis=-1)
            return amp * math.sqrt(dt) * np.tile(inc, (reps, 1))

        return draw


@dataclass
class MsdProblem(Problem):
    """Whitened MSD residuals of ``n_sim`` simulated trials against the data (module docstring).

    ``obs.values`` and ``obs.time`` are the data after ``t = 0`` (where the MSD is 0).
    """

    noise: dict[str, Any] = field(default_factory=dict)
    n_data: int = 1
    n_sim: int = 256
    extra_params = NOISE_PARAM
    sigma_known = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        g = reference_msd(self.obs.time, self.obs.values) ** 2
        dg = np.diff(np.concatenate([[0.0], g]))
        c = 1.0 / self.n_data + 1.0 / self.n_sim
        self._scale = np.sqrt(2 * c * dg)

    def simulate(self, theta: np.ndarray) -> np.ndarray:
        """Simulated MSD at the data's times after 0, ``(B, n)`` (NaN rows where a trial
        failed)."""
        from astrofield.simulator.integrator import simulate

        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        B, K = theta.shape[0], self.n_sim
        kw = {n: np.repeat(theta[:, j], K) for j, n in enumerate(self.names) if n != "noise_sigma"}
        if not kw:
            kw = {"beta": np.full(B * K, float(self.model.beta))}
        amp = (
            np.repeat(theta[:, self.names.index("noise_sigma")], K)
            if "noise_sigma" in self.names
            else None
        )
        nz = self.noise
        noise = CommonNoise(nz["sigma"], nz["correlation"], nz["seed"], n_common=K, amplitude=amp)
        sol = simulate(
            replace(self.model, **kw),
            noise=noise,
            progress=False,
            store_fields=False,
            init="bump",
            eps=0.0,
            **self.solve_options,
            **self.obs.settings,
        )
        self.n_solves += 1
        self.n_members += B * K
        v = sol.values()
        self.note_resolved(v, B)
        pos = np.asarray(v["position"], dtype=float).reshape(B, K, -1)
        msd = np.mean((pos[..., 1:] - pos[..., :1]) ** 2, axis=1)
        msd[np.asarray(v["failed"]).reshape(B, K).any(axis=1)] = np.nan
        return msd

    def residuals(self, z: np.ndarray) -> np.ndarray:
        """Whitened increments of ``simulated - observed`` ``(B, n)``; history as the base."""
        z = np.clip(np.atleast_2d(z), 0.0, 1.0)
        d = self.simulate(self.to_phys(z)) - self.obs.values
        r = np.diff(d, axis=1, prepend=0.0) / self._scale
        r = np.where(np.isfinite(r), r, FAILED_RESIDUAL)
        self.history.extend((self.phase, 0.5 * float(row @ row)) for row in r)
        return r

    def extra_variables(self, fitted: np.ndarray) -> dict[str, Any]:
        """The sampling sd of the observed MSD if the fitted one is the truth,
        ``sqrt(2 / n_data) MSD(t)`` (the noise model of the module docstring), for the figure
        of the fit; and the trial counts."""
        sd = np.sqrt(2.0 / self.n_data) * np.asarray(fitted, dtype=float)
        long = f"sampling sd of the observed MSD ({self.n_data} trials) at the fitted MSD"
        return {
            "data_sd": (("time",), sd, {"long_name": long, "units": "rad^2"}),
            "n_trials": ((), self.n_data, {"long_name": "trials behind the data", "units": "1"}),
            "n_sim": (
                (),
                self.n_sim,
                {"long_name": "simulated trials per candidate", "units": "1"},
            ),
        }

    def fitted(self, resid: np.ndarray) -> np.ndarray:
        """The simulated MSD at the optimum, recovered from its whitened residuals."""
        return self.obs.values + np.cumsum(resid * self._scale)


def reference_msd(t: np.ndarray, msd: np.ndarray) -> np.ndarray:
    """The diffusive law ``a t`` fitted to the observed MSD (least squares through 0): the clock
    ``g = MSD^2`` of the noise model.

    Only its shape matters for the estimate (its scale cancels), and a shape fitted to the data
    would make the weights depend on the data's noise: a power law ``a t^alpha`` fitted here
    gave standardised errors with sd 0.65 instead of 1 over 20 draws (the straight line: 0.94).
    The noisy MSD itself would not do either: where it dips, an increment of ``g`` would vanish
    and its residual weight blow up. For wandering that is not diffusive the weights are then
    not optimal, and the standard errors approximate.

    Parameters
    ----------
    t
        Times after 0 (neural time constants), ``(n,)``.
    msd
        Observed MSD (rad^2) at those times.
    """
    a = float(msd @ t) / float(t @ t)
    if not a > 0:
        raise ValueError(
            "the observed MSD must grow with time (its least-squares slope through "
            f"0 is {a:g} rad^2 per unit time)"
        )
    return a * t


def msd_problem(
    ds: Any,
    model: Model,
    vary: dict[str, tuple[float, float]],
    *,
    N: int | None = None,
    dt: float | None = None,
    eps: float | None = None,
    position: float | None = None,
    n_trials: int | None = None,
    noise_sigma: float | None = None,
    correlation: float | str | None = None,
    n_sim: int = 256,
    sim_seed: int = 1,
    **solve_options: Any,
) -> MsdProblem:
    """Build the :class:`MsdProblem` of an observed MSD.

    Parameters
    ----------
    ds
        :class:`xarray.Dataset` with ``msd`` (rad^2) on ``time`` (frames of one run from 0).
    model, vary
        As :func:`~astrofield.fitting.fit`; ``vary`` may name ``noise_sigma``.
    N, dt
        Grid points and time step (argument, data attribute ``N``/``dt``, else solve's
        default).
    eps, position
        Not used (every trial starts at the exact bump); must be ``None``.
    n_trials
        Trials behind the data's MSD (argument, else the data attribute ``n_trials``).
    noise_sigma, correlation
        Noise amplitude (when not fitted) and correlation (Gaussian length in rad or
        ``"cosine"``): argument, else the data attributes ``sigma``/``correlation``.
    n_sim, sim_seed
        Simulated trials per candidate and the seed of their common random numbers.
    **solve_options
        Further arguments of :func:`~astrofield.solve`.
    """
    if eps is not None or position is not None:
        raise ValueError(
            "observable 'msd': every trial starts at the exact bump; eps and position cannot be set"
        )
    if "msd" not in ds.variables or ds["msd"].dims != ("time",):
        raise ValueError(
            "observable 'msd' needs an 'msd' variable on 'time' (select one "
            "parameter set of a measure_wandering output, e.g. ds.isel(param=0)); "
            f"found: {', '.join(sorted(map(str, ds.variables))) or 'nothing'}"
        )
    t = np.asarray(ds["time"].values, dtype=float)
    y = np.asarray(ds["msd"].values, dtype=float)
    if t.size < 3 or not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise ValueError("data 'msd'/'time' must be finite with at least 3 frames")
    attrs = dict(ds.attrs)
    n_data = n_trials if n_trials is not None else attrs.get("n_trials")
    sig = noise_sigma if noise_sigma is not None else attrs.get("sigma")
    corr = correlation if correlation is not None else attrs.get("correlation")
    for name, val in (("n_trials", n_data), ("noise sigma", sig), ("correlation", corr)):
        if val is None:
            raise ValueError(
                f"observable 'msd' needs the {name} of the data (argument or data attribute)"
            )
    corr = corr if str(corr) == "cosine" else float(corr)
    if int(n_data) < 2 or int(n_sim) < 2:
        raise ValueError(f"n_trials = {n_data} and n_sim = {n_sim} must be at least 2")
    import inspect

    from astrofield.simulator.integrator import solve

    defaults = {k: p.default for k, p in inspect.signature(solve).parameters.items()}
    settings, sources = {"T": float(t[-1]), "n_frames": int(t.size)}, {}
    for name, val in (("N", N), ("dt", dt)):
        settings[name], sources[name] = _setting(name, val, attrs, defaults[name])
    _check_frames(t, float(settings["dt"]))
    obs = Observation("msd", t[1:], y[1:], settings, sources)
    Noise(float(sig), corr)  # validates amplitude and correlation, naming them
    prob = MsdProblem(
        obs,
        model,
        dict(vary),
        dict(solve_options),
        noise={"sigma": float(sig), "correlation": corr, "seed": int(sim_seed)},
        n_data=int(n_data),
        n_sim=int(n_sim),
    )
    prob.meta = ("mean squared displacement of the bump position", "rad^2", ("time",))
    return prob
