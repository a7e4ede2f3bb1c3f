"""Step-size rule, positivity limiter and non-finite detection for the ring simulator.

Step-size rule
--------------
The scheme of :mod:`astrofield.simulator.integrator` is second order in ``dt`` and treats the
stiff linear parts exactly (the decay of ``u``, the diffusion of ``a``, the relaxation of ``q``), so
it is *stable* at any step (and :func:`limit_negative_a` keeps ``a >= 0`` where a fast exchange
would draw more resource from a cell's astrocytic pool than it holds). Its *accuracy* is limited
by two rates, measured against fine references (``docs/reliability.md`` has the table):

* the neural time scale (rate 1): relative drift error about ``0.8 dt^2``;
* the depletion rate ``k = beta / tau`` of resource swept into the active region by a moving
  edge: where ``k dt`` is not small the depletion of the swept part lags by part of a step, an
  error of order ``dt^2 k`` that saturates at first order, ``~ 5 dt``, for ``k dt >> 1``;
* the full stiffness of the q/a exchange. Linearising ``tau q_t = gamma a (1 - q) - beta q f``,
  ``tau a_t = -(same)`` about a state ``(q, a)`` gives the eigenvalues ``0`` (conservation) and
  ``-lambda`` with ``lambda = (beta f + gamma a + gamma (1 - q)) / tau``; on the bump it is
  largest in the active region, ``lambda = (beta + gamma (A0 + 1 - c0)) / tau``
  (:func:`exchange_rate`). Where replenishment dominates (``gamma >> beta``) the damped stiff
  flux of the scheme loses accuracy for ``dt lambda`` between about 5 and 100 (measured: beta 10,
  gamma 1e4 at ``dt lambda = 6.7``: drift error 0.046 rad on 0.019), so the rule keeps
  ``dt lambda <= Z_EX = 3`` (every measured case within tolerance there).

:func:`max_step` returns, per parameter set,

``dt_max = min(max(DT_FLOOR, min(DT_MAX_U, DT_K * (beta / tau) ** -0.6)), Z_EX / lambda)``
(``DT_MAX_U = 0.1``, ``DT_K = 0.115``, ``DT_FLOOR = 0.002``, ``Z_EX = 3``),

which keeps the final drift within :data:`DRIFT_TOLERANCE` of the converged value on the tested
grid (``tests/test_step_control.py``: theta 0.1, gamma and beta up to 1e5, tau down to 1e-3,
travelling and relaxing bumps). The floor applies to the depletion part only: a stiff exchange
is not bounded below (``beta = gamma = 1e6`` needs ``dt`` of a few 1e-6).
:func:`resolve_dt` applies it: ``dt="auto"`` picks the largest
step ``<= dt_max`` that divides ``T``; an explicit ``dt > dt_max`` is refused with a
:class:`ValueError` (``check="error"``, the default), or run and flagged (``check="warn"``: a
:class:`StepSizeWarning` and the dataset attr ``dt_rule_ok = 0``).

Non-finite detection
--------------------
:func:`nonfinite_rows` marks batch members whose state holds a NaN or inf; the simulator freezes
them at their last finite state and reports them (``failed``, ``t_failed`` and a
:class:`NonFiniteWarning`, see :func:`warn_failed`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

__all__ = ["DT_MAX_U", "DT_K", "DT_FLOOR", "Z_EX", "DRIFT_TOLERANCE", "depletion_rate",
           "exchange_rate", "max_step", "auto_step",
           "resolve_dt", "limit_negative_a", "nonfinite_rows", "warn_failed", "NonFiniteWarning",
           "StepSizeWarning"]

#: Largest step where the depletion is slow (about 1 % relative drift error).
DT_MAX_U = 0.1
#: Prefactor of the depletion bound ``DT_K * (beta / tau) ** -0.6``.
DT_K = 0.115
#: The rule never asks for less (the error is first order there, about ``5 dt`` relative).
DT_FLOOR = 0.002
#: Largest ``dt * lambda`` accepted, ``lambda`` the exchange's relaxation rate
#: (:func:`exchange_rate`).
Z_EX = 3.0
#: Documented accuracy of an accepted step: ``|drift - drift_ref| <= rel * |drift_ref| + abs``
#: (relative part, absolute part in rad), the converged value estimated by a run with a much
#: smaller step.
DRIFT_TOLERANCE = (0.02, 0.01)


class NonFiniteWarning(RuntimeWarning):
    """Some batch members produced NaN or inf; they were frozen and flagged ``failed``."""


class StepSizeWarning(UserWarning):
    """The time step exceeds the documented rule; the result may be off by more than stated."""


def depletion_rate(model: Any) -> np.ndarray:
    """Per-member depletion rate ``beta / tau`` (per unit time) of the step-size rule."""
    B = model.batch_size
    return model.param("beta", B)[:, 0] / model.param("tau", B)[:, 0]


def exchange_rate(model: Any) -> np.ndarray:
    """Per-member relaxation rate ``lambda`` of the q/a exchange (per unit time).

    The linearisation of the exchange about ``(q, a)`` (module docstring) has the rate
    ``(beta f + gamma a + gamma (1 - q)) / tau``. It is evaluated on the exact wide bump of the
    paper's model (active region: ``f = 1``, ``q = c0``, ``a = A0``); where no bump exists the
    activity dies out and ``(beta + gamma) / tau`` bounds it (``a + 1 - q <= 1`` there).

    Parameters
    ----------
    model
        The :class:`~astrofield.model.Model` (``theta``, ``beta``, ``gamma``, ``tau``).

    Returns
    -------
    numpy.ndarray
        ``lambda`` per member, shape ``(B,)``, per unit time.
    """
    from astrofield.theory.bump import bump_branches

    B = model.batch_size
    theta, beta, gamma, tau = (model.param(n, B)[:, 0] for n in ("theta", "beta", "gamma", "tau"))
    with np.errstate(all="ignore"):
        wide = bump_branches(theta, beta, gamma)["wide"]
        s = np.asarray(wide["A0"], float) + 1.0 - np.asarray(wide["c0"], float)
    s = np.where(np.isfinite(s), np.clip(s, 0.0, None), 1.0)
    return (beta + gamma * s) / tau


def max_step(model: Any) -> float:
    """The largest time step the rule accepts for ``model`` (smallest over a batch).

    ``min(max(DT_FLOOR, min(DT_MAX_U, DT_K k^-0.6)), Z_EX / lambda)`` with ``k = beta / tau``
    (:func:`depletion_rate`) and ``lambda`` the exchange rate (:func:`exchange_rate`), in
    neural time constants.
    """
    k = float(np.max(depletion_rate(model)))
    by_k = DT_K * k ** -0.6 if k > 0 else math.inf
    lam = float(np.max(exchange_rate(model)))
    by_ex = Z_EX / lam if lam > 0 else math.inf
    return float(min(max(DT_FLOOR, min(DT_MAX_U, by_k)), by_ex))


def _auto_dt(T: float, dt_max: float) -> float:
    return T / math.ceil(T / dt_max * (1 - 1e-12))


def auto_step(dt_max: float, *lengths: float) -> float:
    """The largest step ``<= dt_max`` that divides every one of ``lengths`` (all > 0).

    The lengths (e.g. ``T`` and a cue's duration) must be commensurate: each a fraction with a
    denominator of at most 1000 (to 1e-9 relative), e.g. 200, 0.5 or 0.05; the step is
    ``g / ceil(g / dt_max)``, ``g`` the largest number of which each length is a whole
    multiple.

    Raises
    ------
    ValueError
        If a length is not such a fraction (give ``dt`` explicitly then).
    """
    from fractions import Fraction

    fr = [Fraction(float(x)).limit_denominator(1000) for x in lengths]
    if any(f <= 0 or abs(float(f) - float(x)) > 1e-9 * abs(float(x))
           for f, x in zip(fr, lengths, strict=True)):
        shown = ", ".join(f"{float(x):g}" for x in lengths)
        raise ValueError(f"dt = 'auto' needs time intervals ({shown}) that are positive "
                         "multiples of a common step (fractions p/q with q <= 1000); give dt "
                         "explicitly")
    den = math.lcm(*(f.denominator for f in fr))
    g = math.gcd(*(f.numerator * (den // f.denominator) for f in fr)) / den
    return g / math.ceil(g / dt_max * (1 - 1e-12))


def resolve_dt(dt: float | str, T: float, model: Any, check: str = "error", *,
               stacklevel: int = 3, divides: tuple[float, ...] = ()
               ) -> tuple[float, dict[str, Any]]:
    """Apply the step-size rule.

    Parameters
    ----------
    dt
        A step (> 0) or ``"auto"`` (the largest step ``<= dt_max`` that divides ``T``).
    T
        Final time (> 0).
    model
        The :class:`~astrofield.model.Model`.
    check
        ``"error"`` (refuse ``dt > dt_max``), ``"warn"`` (run, warn and flag) or ``"off"``.
    divides
        Further time intervals (e.g. a cue's duration) that ``"auto"`` must divide, as ``T``
        (:func:`auto_step`).
    stacklevel
        Of the warning, as in :func:`warnings.warn` (3: the caller of this function's caller).

    Returns
    -------
    dt, info
        The step to use and attrs for the output: ``dt_max``, ``dt_rule`` (``"auto"``,
        ``"checked"``, ``"unchecked"``), ``dt_rule_ok`` (1 or 0).

    Raises
    ------
    ValueError
        For ``check="error"`` and ``dt > dt_max``, naming dt, its value and the maximum.
    """
    if check not in ("error", "warn", "off"):
        raise ValueError(f"dt_check = {check!r} is not one of ('error', 'warn', 'off')")
    dt_max = max_step(model)
    if isinstance(dt, str):
        if dt != "auto":
            raise ValueError(f"dt = {dt!r} is not a positive number or 'auto'")
        step = auto_step(dt_max, T, *divides) if divides else _auto_dt(T, dt_max)
        return step, {"dt_max": dt_max, "dt_rule": "auto", "dt_rule_ok": 1}
    ok = dt <= dt_max * (1 + 1e-9)
    if not ok and check == "error":
        raise ValueError(
            f"dt = {dt:g} is outside the allowed range (0, {dt_max:g}] of the step-size rule for "
            "these parameters: "
            f"larger steps can be off by more than {100 * DRIFT_TOLERANCE[0]:g} % "
            "(use dt='auto', a smaller dt, or dt_check='warn' to run anyway, flagged)")
    if not ok and check == "warn":
        warnings.warn(f"dt = {dt:g} exceeds the step-size rule dt <= {dt_max:g}; the result may "
                      "be off by more than the documented tolerance (attr dt_rule_ok = 0)",
                      StepSizeWarning, stacklevel=stacklevel)
    return float(dt), {"dt_max": dt_max, "dt_rule": "checked" if check != "off" else "unchecked",
                       "dt_rule_ok": int(ok)}


def limit_negative_a(a_n, qi_n, qo_n, qi_m, qo_m, phim, xp: Any = np):
    """Give back to ``a`` the resource a stiff exchange over-drew, so that ``a >= 0``.

    Where ``a_n < 0`` the rise of ``q`` over the step (``q_*n - q_*m`` on the active and inactive
    parts, weights ``phim`` and ``1 - phim``) is scaled down by exactly ``-a_n`` (as far as it
    goes), so the total ``∫ (q + a) dx`` is unchanged. Arrays ``(B, N)``; returns new arrays.
    ``xp`` is the array namespace (``numpy``, or ``jax.numpy`` for the JAX backend, which takes
    the same branch-free formula; numpy returns the inputs at once where no ``a_n < 0``).
    """
    if xp is np and not np.any(a_n < 0):
        return a_n, qi_n, qo_n
    ri = xp.maximum(qi_n - qi_m, 0.0)
    ro = xp.maximum(qo_n - qo_m, 0.0)
    inc = phim * ri + (1 - phim) * ro
    take = xp.where(a_n < 0, xp.minimum(-a_n, inc), 0.0)
    r = xp.where(inc > 0, take / xp.where(inc > 0, inc, 1.0), 0.0)
    return a_n + take, qi_n - r * ri, qo_n - r * ro


def nonfinite_rows(*arrays: np.ndarray) -> np.ndarray:
    """Boolean ``(B,)``: rows of any ``(B, N)`` array that hold a NaN or inf."""
    bad = np.zeros(arrays[0].shape[0], bool)
    for arr in arrays:
        bad |= ~np.isfinite(arr).all(axis=-1)
    return bad


def warn_failed(failed: np.ndarray, t_failed: np.ndarray, *, stacklevel: int = 3) -> None:
    """Emit a :class:`NonFiniteWarning` describing the failed members (if any); ``stacklevel``
    as in :func:`warnings.warn` (3: the caller of the function that calls this one)."""
    n = int(np.count_nonzero(failed))
    if n:
        first = float(np.nanmin(t_failed))
        warnings.warn(f"{n} of {failed.size} parameter set(s) produced non-finite values (first "
                      f"at t = {first:g}); they were frozen at their last finite state and are "
                      "flagged in the variables 'failed' and 't_failed'", NonFiniteWarning,
                      stacklevel=stacklevel)
