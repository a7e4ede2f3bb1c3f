"""Grid rules and the a-posteriori resolution check of :func:`astrofield.solve`.

Grid rules (checked before any work, :func:`grid_rules`)
-------------------------------------------------------
* **kernel**: the sampled kernel's spectrum must have decayed at the grid's top wavenumbers,
  ``max_{k >= N/4} |w_hat_k| <= KERNEL_TAIL max_k |w_hat_k|`` (the cosine kernel always passes).
  A Gaussian of width ``sigma`` needs about ``N >= 10 / sigma`` (width 0.001 needs N = 16384;
  measured: width 0.05 drifts 0.090 at N 64, 0.0815 at N 128 against 0.0785 converged).
* **firing layer** (smooth rates): the layer width ``ell`` of the initial ``u`` (as in
  :func:`astrofield.theory.steady.firing_layer`) must span at least ``LAYER_MIN = 1`` grid
  spacing (the theory's rule :func:`astrofield.theory.steady.resolution` asks for
  ``LAYER_POINTS = 1.5``; between 1 and 1.5 the companion run decides). Measured, sigmoid
  steepness 50 from the default bump (layer 0.048 rad): N 64 (0.5 spacings) drifts 0.298,
  N 128 (1.0) 0.835, N 256 0.854; steepness 1e4 needs N of about 26000.
* **bump edges** (a bump at the start): at least ``BUMP_CELLS`` cells across the active width
  (the default bump, width 3.02 rad: N 16 drifts 0.803, N 32 0.836, N 256 0.847 at dt 0.1).

A violated kernel or layer rule is refused (``ValueError`` naming N, the rule and the N it
needs; ``N="auto"`` picks that N); a violated bump-edge rule is run, warned
(:class:`ResolutionWarning`) and flagged ``resolved = False``.

A-posteriori check (:func:`companion_check`)
-------------------------------------------
After the run a companion run at half the grid and twice the step (a quarter of the cost)
estimates the error of the drift: for a second-order scheme the companion's error is about four
times the run's, so ``|drift - drift_companion| <= rel |drift| + abs`` (:data:`DRIFT_TOLERANCE`)
bounds the run's error by about a third of the documented tolerance. The dataset's variable
``resolved`` (per member) and attr ``resolved`` (all members) combine the rules and this check.
Runs with noise or a stop rule have no companion (attr ``resolution_check = "rules"``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from astrofield.simulator.step_control import DRIFT_TOLERANCE

__all__ = ["KERNEL_TAIL", "LAYER_MIN", "BUMP_CELLS", "ResolutionWarning", "RefinementWarning",
           "kernel_tail", "kernel_N", "layer_N", "grid_rules", "auto_N", "companion_check"]

#: Largest relative spectral tail of the sampled kernel at wavenumbers ``>= N / 4``.
KERNEL_TAIL = 0.05
#: Fewest grid spacings across a smooth rate's firing layer (refused below).
LAYER_MIN = 1.0
#: Fewest grid cells across the initial active width of a bump.
BUMP_CELLS = 12.0
#: Largest N tried by the rules (and chosen by ``N="auto"``).
N_CAP = 2**17


class ResolutionWarning(UserWarning):
    """The grid is coarser than a resolution rule asks; the result is flagged unresolved."""


class RefinementWarning(UserWarning):
    """A level of a refinement ladder was not run (its work exceeds the work limit)."""


def kernel_tail(kernel: Any, N: int) -> float:
    """Relative spectral tail ``max_{k >= N/4} |w_hat_k| / max |w_hat_k|`` of ``kernel`` on
    ``N`` points (0 for the cosine kernel; 1 for a kernel that samples as zero)."""
    if kernel.is_cosine:
        return 0.0
    x = -np.pi + 2 * np.pi * np.arange(N) / N
    with np.errstate(all="ignore"):
        w_hat = np.abs(np.fft.rfft(np.asarray(kernel(x - x[0]), float)))
    top = float(np.max(w_hat)) if w_hat.size else 0.0
    if not np.all(np.isfinite(w_hat)):
        raise ValueError(f"kernel = {kernel.describe()} overflows on the grid of N = {N} points "
                         "(its values or their sum are not finite); use parameters of a "
                         "moderate size")
    if top == 0.0:
        return 1.0
    return float(np.max(w_hat[N // 4:]) / top)


def kernel_N(kernel: Any) -> int:
    """Smallest power of two ``N >= 32`` whose kernel tail obeys :data:`KERNEL_TAIL`."""
    N = 32
    while N < N_CAP and kernel_tail(kernel, N) > KERNEL_TAIL:
        N *= 2
    return N


def _layer_widths(model: Any, u: np.ndarray) -> np.ndarray:
    """Firing-layer width (rad) of each member's ``u``, ``inf`` where ``f(u)`` is flat.

    ``ell = Delta f / (max_v |f'(v)| max_x |u'(x)|)``: the layer of
    :func:`astrofield.theory.steady.firing_layer`, with the steepest rate taken over the values
    ``v`` of ``u`` (4097 samples and ``theta``) rather than at grid points, so a layer far
    narrower than a grid spacing is measured too (an upper bound of the slope: a lower bound of
    the width).
    """
    out = np.full(u.shape[0], np.inf)
    if model.firing.edges:
        return out
    k = np.fft.rfftfreq(u.shape[-1], 1.0 / u.shape[-1])
    du = np.max(np.abs(np.fft.irfft(1j * k * np.fft.rfft(u, axis=-1), u.shape[-1], axis=-1)),
                axis=-1)
    for i in range(u.shape[0]):
        m = model.member(i) if model.is_batched else model
        v = np.append(np.linspace(u[i].min(), u[i].max(), 4097), m.theta)
        with np.errstate(all="ignore"):
            fd = np.abs(np.asarray(m.firing.derivative(v, m.theta, m.steepness), float))
            fr = np.asarray(m.firing.rate(v, m.theta, m.steepness), float)
        slope = float(np.nanmax(fd)) * du[i]
        if slope > 0 and np.isfinite(slope):
            out[i] = float(np.nanmax(fr) - np.nanmin(fr)) / slope
    return out


def layer_N(model: Any, u: np.ndarray) -> int:
    """Smallest ``N`` (multiple of 64) with ``LAYER_POINTS`` (the theory's 1.5) spacings across
    the firing layer of ``u`` (0 where ``f(u)`` is flat): the N that ``N="auto"`` picks."""
    from astrofield.theory.steady import LAYER_POINTS

    ell = float(np.min(_layer_widths(model, u)))
    if not np.isfinite(ell):
        return 0
    return int(64 * np.ceil(2 * np.pi * LAYER_POINTS / ell / 64))


def _bump_cells(model: Any, u: np.ndarray) -> np.ndarray:
    """Grid points inside each member's initial active region ``{u > theta}`` (inf: no bump):
    the cells across its width to within one (a plain count, so that the check never compiles
    or calls the sub-grid edge kernel before the backend is chosen)."""
    above = np.count_nonzero(u > model.param("theta", u.shape[0]), axis=-1).astype(float)
    return np.where(above > 0, above, np.inf)


def grid_rules(model: Any, N: int, u: np.ndarray) -> np.ndarray:
    """Apply the grid rules (module docstring) to ``N`` and the initial ``u`` ``(B, N)``.

    Returns
    -------
    numpy.ndarray
        Boolean ``(B,)``: members that obey the bump-edge rule (the others are warned about).

    Raises
    ------
    ValueError
        Where the kernel or the firing layer is not resolved, naming N and the N it needs.
    """
    tail = kernel_tail(model.kernel, N)
    if tail > KERNEL_TAIL:
        raise ValueError(
            f"N = {N} is outside the allowed range for kernel = {model.kernel.describe()}: its "
            f"spectrum at the top quarter of the grid's wavenumbers is {tail:.3g} of its peak "
            f"(at most {KERNEL_TAIL:g}); the kernel needs N >= {kernel_N(model.kernel)} "
            "(or N='auto')")
    ell = float(np.min(_layer_widths(model, u)))
    if np.isfinite(ell) and ell / (2 * np.pi / N) < LAYER_MIN:
        raise ValueError(
            f"N = {N} is outside the allowed range for the firing rate {model.firing.describe()}"
            f": its firing layer ({ell:.3g} rad wide) spans {ell / (2 * np.pi / N):.3g} grid "
            f"spacings (at least {LAYER_MIN:g}); use N >= {layer_N(model, u)} "
            "(or N='auto')")
    cells = _bump_cells(model, u)
    ok = cells >= BUMP_CELLS
    if not np.all(ok):
        warnings.warn(
            f"N = {N} puts {float(np.min(cells)):.3g} grid cells across the bump's active "
            f"width (the rule asks for {BUMP_CELLS:g}); the result is flagged resolved = False",
            ResolutionWarning, stacklevel=4)
    return ok


def auto_N(model: Any, initial: Any) -> int:
    """``N="auto"``: the smallest N (multiple of 64, at least 128) that obeys every grid rule.

    Parameters
    ----------
    model
        The :class:`~astrofield.model.Model`.
    initial
        ``initial(N) -> u``: the initial ``u`` ``(B, N)`` on ``N`` points.
    """
    N = max(128, kernel_N(model.kernel))
    N = max(N, layer_N(model, initial(256)))
    cells = float(np.min(_bump_cells(model, initial(256)))) * N / 256
    if np.isfinite(cells) and cells < BUMP_CELLS:
        N = int(N * BUMP_CELLS / cells) + 1
    N = int(64 * np.ceil(N / 64))
    if N > N_CAP:
        raise ValueError(f"N = 'auto' needs N = {N}, more than the largest allowed {N_CAP}")
    return N


def companion_grid(N: int, steps: int) -> tuple[int, int]:
    """Grid points and steps of the companion run at ``(N / 2, 2 dt)`` of a run of ``N``
    points and ``steps`` steps: ``N // 2`` where ``N`` is even and that is at least 16 (else
    ``N``: the check is then on the step alone), and half the steps, at least one."""
    Nc = N // 2 if N % 2 == 0 and N // 2 >= 16 else N
    return Nc, max(1, int(steps) // 2)


def companion_check(drift: np.ndarray, drift_c: np.ndarray) -> np.ndarray:
    """Members whose drift agrees with the companion run's within :data:`DRIFT_TOLERANCE`
    (``False`` where either is not finite)."""
    rel, ab = DRIFT_TOLERANCE
    with np.errstate(invalid="ignore"):
        ok = np.abs(drift - drift_c) <= rel * np.abs(drift) + ab
    return ok & np.isfinite(drift) & np.isfinite(drift_c)

