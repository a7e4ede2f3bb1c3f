"""Phase maps of the user's model: any firing rate, any kernel.

The closed-form bump, the Evans function and the Fourier truncation of
:mod:`astrofield.theory.stability` describe one model only: Heaviside firing with the cosine
kernel ``w = cos x``. For every other model (a smooth or user-defined firing rate, another or
a user-defined kernel) the drift experiment of :mod:`astrofield.experiments.phase` works from
the numerical theory instead:

* **Start.** The stationary wide bump ``(U, Q, A)`` of the model itself, solved by Newton on the
  simulation's own grid (:func:`astrofield.theory.steady.steady_bump` at the run's ``N``; a
  Heaviside firing rate with another kernel: from its edge equations). On that grid the
  discrete bump is a fixed point of the simulator's spatial scheme to round-off (measured: a
  sigmoid bump, steepness 50, N 128, left unperturbed moves by 1e-11 rad in 100 time units), so
  the run sees the shift perturbation and nothing else. A bump computed at ``N = "auto"`` and
  interpolated onto the run's grid would add an interpolation error of the size of the
  perturbation's effect near the boundary. The coarse (``N / 2``) and fine (``2 N``) runs of
  error control start from the bump interpolated onto their grid and polished by Newton there
  (if Newton fails there, from the interpolated bump itself); a Heaviside bump's edges do not
  depend on the grid, so it is sampled on theirs from its edges.
* **Perturbation.** ``u = U(x) - eps U'(x)``: the bump moved by ``eps`` rad to first order.
  For the paper's model ``U = 2 c0 sin(Delta) cos x`` and this is exactly the paper's
  ``eps * 2 c0 sin(Delta) * sin x``.
* **Verdict columns.** ``numerical_stable`` (1: every eigenvalue of the linearisation about the
  bump, translation mode excluded, has a negative real part; the flags convention of
  ``evans_stable``), ``numerical_leading_real`` (real part of the leading eigenvalue, per unit
  time), ``numerical_resolved`` (the spectrum's own check:
  :attr:`astrofield.theory.spectra.Spectrum.resolved`) and ``exists`` (Newton found a single
  bump). Where it did not, ``exists`` is 0 and ``no_bump_reason`` says why; the cell is not
  simulated (verdict ``"no bump"``). The Evans and Fourier columns are absent: the attribute
  ``evans_columns`` says why, and ``theory_verdict`` names the column that the agreement of
  :func:`astrofield.experiments.phase.summarize` and the seeds of the adaptive map use.
* **Attributes.** ``firing``, ``steepness``, ``kernel`` (descriptions) and
  ``model_reproducible`` (0 for a user's Python function: its name is recorded, its code is
  not, so the file alone cannot reproduce the map).

Cost: one dense Newton solve and one eigenvalue problem of size ``3 N`` per cell (about 0.05 s
at N 64 and 0.1 s at N 128 on one core), before the simulations.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from astrofield.model.definition import Model
from astrofield.model.firing import Firing
from astrofield.model.kernels import Kernel, KernelFunction

__all__ = [
    "ModelSpec",
    "model_spec",
    "numerical_columns",
    "cache_columns",
    "cached_columns",
    "Starts",
    "shift_perturbation",
    "COLUMNS",
    "theory_verdict",
]

#: Per-cell columns of a numerical map (in this order).
COLUMNS = (
    "numerical_stable",
    "numerical_leading_real",
    "numerical_resolved",
    "exists",
    "no_bump_reason",
)
#: Why a numerical map has no Evans or Fourier columns (attribute ``evans_columns``).
NO_EVANS = (
    "absent: the Evans function and the Fourier truncation are the theory of Heaviside "
    "firing with the cosine kernel only; this map's verdicts come from the numerical "
    "spectrum (numerical_stable)"
)


@dataclass(frozen=True)
class ModelSpec:
    """Firing rate, steepness and kernel of a phase map (validated by :func:`model_spec`)."""

    firing: Firing
    steepness: float
    kernel: Kernel

    @property
    def paper(self) -> bool:
        """Heaviside firing with the kernel ``cos x``: the closed-form theory applies."""
        return bool(
            self.firing.edges
            and self.kernel.is_cosine
            and getattr(self.kernel, "amplitude", 1.0) == 1.0
        )

    def model(self, **params: Any) -> Model:
        """A :class:`~astrofield.model.definition.Model` with these and ``params``."""
        return Model(firing=self.firing, steepness=self.steepness, kernel=self.kernel, **params)

    def options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`astrofield.experiments.phase.drift_experiment`."""
        return {"firing": self.firing, "steepness": self.steepness, "kernel": self.kernel}

    def attrs(self) -> dict[str, Any]:
        """Output attributes: descriptions of the three, and whether they are reproducible
        from the file alone (not for a user's Python function)."""
        user = [
            n for n, o in (("firing", self.firing), ("kernel", self.kernel)) if _is_user_function(o)
        ]
        note = (
            "1"
            if not user
            else "0: " + " and ".join(user) + " are the user's Python functions; only their "
            "names are recorded"
        )
        return {
            "firing": self.firing.describe(),
            "steepness": float(self.steepness),
            "kernel": self.kernel.describe(),
            "model_reproducible": int(not user),
            "model_reproducible_note": note,
            "evans_columns": NO_EVANS,
            "experiment": "drift: the model's own numerical wide bump U, u = U - eps U' "
            "(moved by eps rad)",
            "theory_verdict": "numerical_stable",
        }


def _is_user_function(obj: Any) -> bool:
    from astrofield.model.firing import FiringFunction

    return isinstance(obj, (FiringFunction, KernelFunction))


def model_spec(
    firing: Firing | str | Callable = "heaviside",
    steepness: float = 50.0,
    kernel: Kernel | str | Callable = "cosine",
) -> ModelSpec:
    """The validated firing rate, steepness and kernel of a map.

    Raises
    ------
    ValueError
        For an unknown firing rate or kernel, or a steepness outside ``(0, inf)`` (naming the
        parameter, its value and the allowed range).
    """
    if np.ndim(steepness) != 0:
        raise ValueError(
            f"steepness = {steepness!r} must be one number in (0, inf) for a "
            "phase map (sweep it with separate maps)"
        )
    m = Model(firing=firing, steepness=steepness, kernel=kernel)  # checks all three
    return ModelSpec(m.firing, float(m.steepness), m.kernel)


def theory_verdict(an: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The theory's verdict (bool, stable) and a signed distance from its boundary (the Evans
    ``E'(0)``, or minus the leading eigenvalue's real part) of the columns ``an``."""
    if "evans_stable" in an:
        return np.asarray(an["evans_stable"], bool), np.asarray(an["evans_dprime"], float)
    return (
        np.asarray(an["numerical_stable"], bool),
        -np.asarray(an["numerical_leading_real"], float),
    )


# ----------------------------------------------------------------------------- columns
def _solve_bump(model: Model, N: int, prev: Any) -> tuple[Any, str]:
    """``(steady bump, "")`` or ``(None, reason)``; warm start from ``prev`` where it helps."""
    from astrofield.theory.steady import SteadyStateError, warm_bump

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # multi-bump: reported below
            st = warm_bump(model, N, prev)
    except (SteadyStateError, np.linalg.LinAlgError) as exc:
        return None, f"Newton found no stationary bump: {exc}"
    if st.active_regions != 1:
        return None, (
            f"Newton converged to a pattern with {st.active_regions} active regions, "
            "not a single bump"
        )
    return st, ""


def _point_columns(model: Model, N: int, prev: Any) -> tuple[Any, str, tuple]:
    """``(bump or None, reason, (stable, leading real part, resolved))`` of one point."""
    from astrofield.theory.spectra import spectrum

    st, reason = _solve_bump(model, N, prev)
    if st is None:
        return None, reason, (False, np.nan, False)
    sp = spectrum(st, vectors=False)
    return st, "", (bool(sp.stable), float(sp.leading.real), bool(sp.resolved))


def numerical_columns(
    spec: ModelSpec,
    theta: np.ndarray,
    beta: np.ndarray,
    gamma: np.ndarray,
    D: np.ndarray,
    tau: float,
    N: int,
    cache: dict | None = None,
) -> tuple[dict[str, np.ndarray], Starts]:
    """The verdict columns (:data:`COLUMNS`) of the points ``(theta, beta, gamma, D)`` (1-D,
    one point per element) from the numerical bump and spectrum at ``N`` grid points, and
    their bumps as starting states of the drift experiment (:class:`Starts`).

    Newton is warm-started from the previous point's bump (give neighbouring points in
    sequence); a point where it fails gets ``exists = False`` and the reason, never an
    exception. ``cache`` (a dict, filled in place, keyed by the point's four floats) holds
    points already solved for the same ``spec``, ``tau`` and ``N``: an adaptive map solves
    every cell for its seeds and reuses the bumps and verdicts for the cells it simulates.
    """
    from astrofield.theory.steady import one_blas_thread

    n = np.size(theta)
    out: dict[str, np.ndarray] = {
        "numerical_stable": np.zeros(n, bool),
        "numerical_leading_real": np.full(n, np.nan),
        "numerical_resolved": np.zeros(n, bool),
        "exists": np.zeros(n, bool),
    }
    reasons = [""] * n
    bumps: list[Any] = [None] * n
    prev = None
    with one_blas_thread():
        for i in range(n):
            key = (float(theta[i]), float(beta[i]), float(gamma[i]), float(D[i]))
            hit = cache.get(key) if cache is not None else None
            if hit is None:
                model = spec.model(theta=theta[i], beta=beta[i], gamma=gamma[i], D=D[i],
                                   tau=tau)
                hit = _point_columns(model, N, prev)
                if cache is not None:
                    cache[key] = hit
            st, reasons[i], cols = hit
            if st is None:
                continue
            prev = bumps[i] = st
            out["exists"][i] = True
            (out["numerical_stable"][i], out["numerical_leading_real"][i],
             out["numerical_resolved"][i]) = cols
    out["no_bump_reason"] = np.array(reasons, dtype=object).astype(str)
    return out, Starts(spec, (theta, beta, gamma, D), tau, N, bumps)


def cache_columns(cache: dict, points: tuple, an: dict[str, np.ndarray]) -> None:
    """Keep the columns ``an`` of the points ``(theta, beta, gamma, D)`` (1-D arrays) in
    ``cache``, one row per point (keyed by its four floats)."""
    for i, key in enumerate(zip(*(map(float, p) for p in points), strict=True)):
        cache[key] = {k: v[i] for k, v in an.items()}


def cached_columns(cache: dict | None, points: tuple) -> dict[str, np.ndarray] | None:
    """The columns of the points from ``cache`` (see :func:`cache_columns`), or ``None`` when
    some point is not in it."""
    if cache is None:
        return None
    rows = [cache.get(key) for key in zip(*(map(float, p) for p in points), strict=True)]
    if not rows or any(r is None or isinstance(r, tuple) for r in rows):
        return None
    return {k: np.array([r[k] for r in rows], dtype=np.asarray(rows[0][k]).dtype)
            for k in rows[0]}


def numerical_vars(an: dict[str, np.ndarray]) -> dict[str, Any]:
    """The verdict columns as data variables on ``point`` with CF attributes."""
    from astrofield.io.cf import flag_attrs

    return {
        "numerical_stable": (
            "point",
            an["numerical_stable"].astype(bool),
            flag_attrs(
                "stable by the numerical spectrum",
                [0, 1],
                "unstable stable",
                description="every eigenvalue of the linearisation about the model's numerical "
                "bump, translation mode excluded, has Re < 0",
            ),
        ),
        "numerical_leading_real": (
            "point",
            np.asarray(an["numerical_leading_real"], float),
            {
                "long_name": "Re of the leading eigenvalue",
                "units": "1",
                "description": "leading non-translation eigenvalue of the numerical spectrum, per "
                "neural time constant (NaN: no bump)",
            },
        ),
        "numerical_resolved": (
            "point",
            an["numerical_resolved"].astype(bool),
            flag_attrs(
                "numerical spectrum resolved",
                [0, 1],
                "unresolved resolved",
                description="translation eigenvalue near zero and the count of unstable "
                "eigenvalues certified",
            ),
        ),
        "exists": (
            "point",
            an["exists"].astype(bool),
            flag_attrs(
                "wide bump exists",
                [0, 1],
                "no_bump bump",
                description="Newton found a single stationary bump of the model",
            ),
        ),
        "no_bump_reason": (
            "point",
            np.asarray(an["no_bump_reason"]).astype(str),
            {"long_name": "why no bump", "description": "empty where a bump exists"},
        ),
    }


# ----------------------------------------------------------------------------- starting states
def shift_perturbation(u: np.ndarray, eps: float) -> np.ndarray:
    """``u - eps u'`` on the periodic grid (spectral derivative, last axis): ``u`` moved by
    ``eps`` rad to first order."""
    n = u.shape[-1]
    k = np.fft.rfftfreq(n, 1.0 / n)
    if n % 2 == 0:
        k[-1] = 0.0  # the Nyquist mode has no odd part on the grid
    du = np.fft.irfft(1j * k * np.fft.rfft(u, axis=-1), n, axis=-1)
    return u - eps * du


class Starts:
    """The bumps of the points of a drift experiment, as perturbed starting states on any grid.

    Parameters
    ----------
    spec
        The model's firing rate, steepness and kernel.
    params
        ``(theta, beta, gamma, D)`` of the points (1-D arrays).
    tau
        Resource time scale.
    N
        Grid of ``bumps``.
    bumps
        Per point: its :class:`~astrofield.theory.steady.Steady` bump at ``N`` (``None``: no
        bump; such points are never asked for).
    """

    def __init__(self, spec: ModelSpec, params: tuple, tau: float, N: int, bumps: list):
        self.spec, self.params, self.tau = spec, params, tau
        self.bumps: dict[int, list] = {N: bumps}
        self.N = N

    def _bump(self, i: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(u, q, a)`` of point ``i`` on ``n`` points (cached)."""
        if n not in self.bumps:
            self.bumps[n] = [None] * len(self.bumps[self.N])
        if self.bumps[n][i] is None:
            self.bumps[n][i] = self._regrid(self.bumps[self.N][i], i, n)
        b = self.bumps[n][i]
        return b if isinstance(b, tuple) else (b.u, b.q, b.a)

    def _regrid(self, base: Any, i: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The bump ``base`` (a :class:`~astrofield.theory.steady.Steady` on ``N`` points) on
        ``n`` points: a Heaviside bump sampled from its edges (they do not depend on the grid);
        a smooth one interpolated and polished by Newton there (the interpolant itself where
        Newton fails)."""
        from astrofield.theory.steady import (
            RingSystem,
            SteadyStateError,
            _resample,
            heaviside_fields,
            steady_bump,
        )

        th, be, ga, D = (float(p[i]) for p in self.params)
        model = self.spec.model(theta=th, beta=be, gamma=ga, D=D, tau=self.tau)
        if base.method == "edges":
            x = base.extra
            return heaviside_fields(RingSystem(model, n), base.Delta, x["c0"], x["A0"])
        z = tuple(
            _resample(np.asarray(v, float), n) if np.size(v) == self.N else np.asarray(v, float)
            for v in (base.u, base.q, base.a)
        )
        try:
            st = steady_bump(model, n, init=z)
        except (SteadyStateError, np.linalg.LinAlgError):
            return z  # documented in the module docstring
        return (st.u, st.q, st.a) if st.active_regions == 1 and abs(st.speed) < 1e-8 else z

    def init(self, idx: np.ndarray, n: int, eps: float) -> tuple[np.ndarray, ...]:
        """Perturbed starting ``(u, q, a)``, each ``(len(idx), n)``, of the points ``idx``."""
        rows = [self._bump(int(i), n) for i in idx]
        u = shift_perturbation(np.array([r[0] for r in rows]), eps)
        q = np.clip(np.array([r[1] for r in rows]), 0.0, 1.0)  # Newton's round-off
        a = np.array([np.broadcast_to(np.maximum(r[2], 0.0), (n,)) for r in rows])
        return u, q, a
