"""Input validation shared by every public entry point.

All checks run before any numerical work and raise :class:`ValueError` with a message that names
the parameter, the offending value and the allowed range, e.g.::

    ValueError: theta = 1.5 is outside the allowed range (0, 1)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["check_range", "check_int", "check_param", "check_memory", "available_memory",
           "probe_function",
           "check_steps", "check_work", "max_work", "dense_work", "memory_fraction",
           "estimate_run_bytes",
           "estimate_sweep_bytes",
           "estimate_dense_jacobian_bytes", "check_grid_points", "parse_number", "parse_values",
           "parse_axis",
           "PARAMETER_RANGES", "SWEEP_RANGES", "as_time_series", "time_last"]

#: Allowed values of each model parameter: name -> ``(lo, hi, lo_open, hi_open, allow_inf)``.
#: The single table of parameter limits: :class:`astrofield.Model` applies it, and
#: :data:`SWEEP_RANGES` derives from it.
PARAMETER_RANGES: dict[str, tuple[float, float, bool, bool, bool]] = {
    "theta": (0.0, 1.0, True, True, False),
    "beta": (0.0, math.inf, False, True, False),
    "gamma": (0.0, math.inf, False, True, False),
    "tau": (0.0, math.inf, True, True, False),
    "D": (0.0, math.inf, False, True, True),
    "steepness": (0.0, math.inf, True, True, False),
}


def _strictly_positive(name: str) -> tuple[float, float, bool, bool, bool]:
    lo, hi, _, hi_open, allow_inf = PARAMETER_RANGES[name]
    return (lo, hi, True, hi_open, allow_inf)


#: Parameters a phase diagram or stability map may sweep, with the model's limits except that the
#: bump theory needs ``gamma > 0`` and ``D > 0`` (both rates enter as divisors) and ``beta > 0``
#: (without depletion the drift derivative E'(0) is 0/0).
SWEEP_RANGES: dict[str, tuple[float, float, bool, bool, bool]] = {
    "theta": PARAMETER_RANGES["theta"],
    "beta": _strictly_positive("beta"),
    "gamma": _strictly_positive("gamma"),
    "D": _strictly_positive("D"),
}

#: A decimal number or (+/-)inf; nothing else (no nan, no hex, no underscores).
NUMBER_RE = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf"


def _fmt_range(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    left = "(" if (lo_open or math.isinf(lo)) else "["
    right = ")" if (hi_open or math.isinf(hi)) else "]"
    return f"{left}{lo:g}, {hi:g}{right}"


def check_range(
    name: str,
    value: Any,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    allow_inf: bool = False,
) -> np.ndarray:
    """Check that every entry of ``value`` lies in the interval ``lo .. hi``.

    Parameters
    ----------
    name
        Parameter name used in the error message.
    value
        Scalar or array-like of numbers.
    lo, hi
        Interval bounds; ``lo_open``/``hi_open`` make the bound strict.
    allow_inf
        Accept ``+inf`` (e.g. for the diffusion limit ``D = inf``) even if ``hi`` is finite.

    Returns
    -------
    numpy.ndarray
        ``value`` as a float array (0-d for scalars).
    """
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} = {value!r} is not a number") from exc
    rng = _fmt_range(lo, hi, lo_open, hi_open)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; it needs at least one value in {rng}")
    flat = arr.ravel()
    bad = np.isnan(flat)
    finite_ok = flat.copy()
    if allow_inf:
        finite_ok = np.where(np.isposinf(flat), np.nan, flat)
    with np.errstate(invalid="ignore"):
        too_low = (finite_ok <= lo) if lo_open else (finite_ok < lo)
        too_high = (finite_ok >= hi) if hi_open else (finite_ok > hi)
    if not allow_inf:
        too_high |= np.isposinf(flat)
    too_low |= np.isneginf(flat)
    bad |= too_low | too_high
    if np.any(bad):
        v = flat[np.argmax(bad)]
        extra = " (or inf)" if allow_inf else ""
        raise ValueError(f"{name} = {v:g} is outside the allowed range {rng}{extra}")
    return arr


def check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    """Check an integer parameter such as the grid size ``N``."""
    try:
        integral = not isinstance(value, bool) and float(value).is_integer()
    except (TypeError, ValueError, OverflowError):
        integral = False
    if not integral:
        raise ValueError(f"{name} = {value!r} must be an integer >= {lo}")
    iv = int(value)
    if iv < lo or (hi is not None and iv > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} = {iv} is outside the allowed range {rng}")
    return iv


def as_time_series(x: Any, name: str = "x") -> np.ndarray:
    """A finite float array whose last axis is time (at least one sample)."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} = {x!r} is not numeric") from exc
    if arr.ndim == 0 or arr.shape[-1] < 1:
        raise ValueError(f"{name} needs a time axis (last axis) with >= 1 sample, got shape "
                         f"{arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr.ravel()))
        raise ValueError(f"{name} contains {bad.size} non-finite value(s) (NaN or inf), first at "
                         f"flat index {bad[0]}; it must be finite")
    return arr


def time_last(da: Any, name: str):
    """A DataArray with ``time`` as its last dimension, its other dims and their coordinates.

    Returns ``(da, dims, coords)``; raises a clear error if ``da`` has no ``time`` dimension.
    """
    if "time" not in da.dims:
        raise ValueError(f"{name} DataArray needs a 'time' dimension, has {da.dims}")
    da = da.transpose(..., "time")
    dims = [d for d in da.dims if d != "time"]
    return da, dims, {d: da[d].values for d in dims if d in da.coords}


def check_param(name: str, value: Any, table: Mapping[str, tuple] | None = None) -> np.ndarray:
    """Check model parameter ``name`` against its row of ``table`` (default the model limits)."""
    lo, hi, lo_open, hi_open, allow_inf = (PARAMETER_RANGES if table is None else table)[name]
    return check_range(name, value, lo, hi, lo_open=lo_open, hi_open=hi_open, allow_inf=allow_inf)


def parse_number(text: Any, name: str, *, allow_inf: bool = True) -> float:
    """Parse one number written as text (``inf`` and ``-inf`` allowed when ``allow_inf``).

    The one number parser of the command line and of grid specifications. Rejects ``nan``,
    empty text and anything that is not a plain decimal number, with a message naming ``name``.
    """
    if isinstance(text, bool):
        raise ValueError(f"{name} = {text!r} is not a number")
    if isinstance(text, (int, float, np.integer, np.floating)):
        v = float(text)
    else:
        s = str(text).strip().lower()
        if not re.fullmatch(NUMBER_RE, s):
            extra = " (or 'inf')" if allow_inf else ""
            raise ValueError(f"{name} = {text!r} is not a number{extra}")
        v = float(s)
    if math.isnan(v):
        raise ValueError(f"{name} = nan is not allowed; give a number")
    if math.isinf(v) and not allow_inf:
        raise ValueError(f"{name} = {v:g} is not allowed; give a finite number")
    return v


def _parse_range(name: str, spec: str) -> np.ndarray:
    """``start:stop:count`` (linear) or ``start:stop:count:log`` (geometric)."""
    parts = spec.split(":")
    log = len(parts) == 4 and parts[3].lower() == "log"
    lin = len(parts) == 4 and parts[3].lower() == "lin"
    if not (len(parts) == 3 or log or lin) or not all(
            re.fullmatch(NUMBER_RE, p.lower()) for p in parts[:2]):
        raise ValueError(f"{name} range {spec!r} is malformed; expected start:stop:count or "
                         "start:stop:count:log, e.g. 0.001:0.6:50")
    if not re.fullmatch(r"[-+]?\d+", parts[2]):
        raise ValueError(f"{name} count = {parts[2]!r} must be an integer >= 1")
    count = int(parts[2])
    if count < 1:
        raise ValueError(f"{name} count = {count} must be an integer >= 1")
    start, stop = float(parts[0]), float(parts[1])
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise ValueError(f"{name} range ends must be finite (got {start:g}:{stop:g}); list inf "
                         f"explicitly, e.g. {name}=inf")
    if count > 1 and start == stop:
        raise ValueError(f"{name} range {start:g}:{stop:g} is empty (start = stop with count = "
                         f"{count})")
    if log:
        if start <= 0 or stop <= 0:
            raise ValueError(f"{name} range {start:g}:{stop:g}:{count}:log needs start > 0 and "
                             "stop > 0 (logarithmic spacing)")
        return np.geomspace(start, stop, count)
    return np.linspace(start, stop, count)


def parse_values(name: str, spec: Any, table: Mapping[str, tuple] | None = None) -> np.ndarray:
    """Values of one grid axis from ``SPEC`` (the part after ``NAME=``).

    ``SPEC`` is ``start:stop:count`` (inclusive, evenly spaced), ``start:stop:count:log``
    (geometric spacing), a comma list ``v1,v2,...`` or a single value; ``inf`` may be listed where
    the parameter allows it. With a ``table`` (name -> limits, see :data:`PARAMETER_RANGES`) the
    values are range-checked and must be distinct.

    Returns
    -------
    numpy.ndarray
        1-D float array (at least one value).
    """
    s = re.sub(r"\s+", "", str(spec))
    if s == "":
        raise ValueError(f"{name} has no values (empty specification)")
    if ":" in s:
        values = _parse_range(name, s)
    else:
        items = s.split(",")
        bad = [it for it in items if not re.fullmatch(NUMBER_RE, it.lower())]
        if bad:
            raise ValueError(f"{name} value {bad[0]!r} is not a number; expected v1,v2,... "
                             "(numbers or inf)")
        values = np.array([float(it) for it in items])
    if table is not None and name in table:
        check_param(name, values, table)
        if np.unique(values).size != values.size:
            raise ValueError(f"{name} has repeated values {values.tolist()}; each value may "
                             "appear once")
    return values


def parse_axis(text: str, limits: Mapping[str, tuple] | None = None) -> tuple[str, np.ndarray]:
    """Parse one grid axis ``NAME=SPEC`` (see :func:`parse_values` for ``SPEC``).

    Parameters
    ----------
    text
        The specification (whitespace is ignored), e.g. ``"D=0.001:0.6:50"``,
        ``"beta=1e-3:0.1:20:log"``, ``"D=0.5,inf"``.
    limits
        Allowed names and ranges (default :data:`SWEEP_RANGES`).

    Returns
    -------
    name, values
        Parameter name and a 1-D float array of its values.

    Raises
    ------
    ValueError
        Malformed text, an unknown name, ``count < 1``, an empty range or values out of range;
        the message names the parameter, the offending value and what is allowed.
    """
    limits = SWEEP_RANGES if limits is None else limits
    allowed = ", ".join(limits)
    s = re.sub(r"\s+", "", str(text))
    if "=" not in s:
        raise ValueError(f"grid axis {text!r} is malformed: expected NAME=start:stop:count, "
                         f"NAME=start:stop:count:log, NAME=v1,v2,... or NAME=value with NAME "
                         f"one of {allowed}")
    name, spec = s.split("=", 1)
    if name not in limits:
        raise ValueError(f"grid axis {text!r}: unknown parameter {name!r}; "
                         f"allowed parameters are {allowed}")
    try:
        return name, parse_values(name, spec, limits)
    except ValueError as exc:
        raise ValueError(f"grid axis {text!r}: {exc}") from None


#: Environment variable that sets the share of this machine's memory a computation may use.
MEMORY_FRACTION_ENV = "ASTROFIELD_MEMORY_FRACTION"

#: Default share of physical memory a single computation may use.
DEFAULT_MEMORY_FRACTION = 0.8

#: Bytes of one float64 value.
_F8 = 8.0


def available_memory() -> int | None:
    """Physical memory of this machine in bytes (``None`` where it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def memory_fraction() -> float:
    """Share of physical memory a computation may use.

    Returns
    -------
    float
        The value of the environment variable ``ASTROFIELD_MEMORY_FRACTION`` (a number in
        ``(0, 1]``), or 0.8 where it is unset or empty.

    Raises
    ------
    ValueError
        For a value that is not a number in ``(0, 1]``.
    """
    return _env_number(MEMORY_FRACTION_ENV, DEFAULT_MEMORY_FRACTION, 1.0)


def _env_number(name: str, default: float, hi: float) -> float:
    """The number in the environment variable ``name``, in ``(0, hi]``, or ``default`` where
    it is unset or empty; a ``ValueError`` naming the variable, its text and the range
    otherwise."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0.0 < value <= hi):
        raise ValueError(f"{name} = {text!r} is outside the allowed range (0, {hi:g}]")
    return value


def _gib(n: float) -> str:
    """A byte count in the unit that reads best (GiB, TiB, PiB)."""
    for unit, scale in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n / 2**30:.3g} GiB"


def probe_function(function: Any, x: np.ndarray, what: str, *, hint: str = "",
                   where: Any = None) -> np.ndarray:
    """Call a user's vectorised ``function`` on the probe points ``x``: a clear error now
    instead of deep in a run.

    Parameters
    ----------
    function
        The user's callable (array in, array of the same shape out).
    x
        Probe points (a copy is passed, so the function may modify its input).
    what
        Its name in messages, e.g. ``"firing function 'f'"``.
    hint
        Appended to the message when the call raises (what the function must do).
    where
        ``where(bad)`` -> text naming the inputs (mask ``bad``) with non-finite values.

    Returns
    -------
    numpy.ndarray
        ``function(x)`` as floats, shape of ``x``.

    Raises
    ------
    ValueError
        If the call raises, returns another shape, or gives non-finite values.
    """
    try:
        with np.errstate(all="ignore"):  # non-finite values are reported below
            out = np.asarray(function(x.copy()), dtype=float)
    except Exception as exc:  # noqa: BLE001 - the user's code: report what it raised
        raise ValueError(f"{what} failed on a numpy array input "
                         f"({type(exc).__name__}: {exc}){hint}") from exc
    if out.shape != x.shape:
        raise ValueError(f"{what} returned shape {out.shape} for an input of shape {x.shape}; "
                         "it must be vectorised")
    bad = ~np.isfinite(out)
    if np.any(bad):
        raise ValueError(f"{what} returned non-finite values "
                         f"{where(bad) if where is not None else ''}".rstrip())
    return out


def check_memory(bytes_needed: float, what: str, *, fraction: float | None = None) -> float:
    """Refuse a computation whose memory estimate exceeds ``fraction`` of the machine's memory.

    Parameters
    ----------
    bytes_needed
        Estimated peak memory of the computation (bytes).
    what
        Description used in the message, e.g. ``"a run with N = 10000000 and 2 frames"``.
    fraction
        Share of physical memory that may be used (default: :func:`memory_fraction`, i.e. the
        environment variable ``ASTROFIELD_MEMORY_FRACTION`` or 0.8).

    Returns
    -------
    float
        ``bytes_needed`` (unchanged) when it fits.

    Raises
    ------
    ValueError
        When the estimate exceeds the limit; the message names the estimate and the limit.
    """
    need = float(bytes_needed)
    if math.isnan(need) or need < 0:
        raise ValueError(f"memory estimate for {what} is {need!r}; expected a size >= 0")
    frac = memory_fraction() if fraction is None else float(fraction)
    total = available_memory()
    if total is not None and need > frac * total:
        shown = "more than 16 EiB" if not math.isfinite(need) or need > 2**64 else _gib(need)
        raise ValueError(f"{what} needs about {shown} of memory (estimate), more than the "
                         f"limit of {_gib(frac * total)} ({frac:.0%} of this machine's "
                         f"{_gib(total)}; set {MEMORY_FRACTION_ENV} to change it); reduce the "
                         "problem size")
    return need


def _count(x: Any) -> float:
    """A count as a float (inf for a huge or non-finite one), for overflow-free estimates."""
    try:
        v = float(x)
    except (TypeError, ValueError, OverflowError):
        return math.inf
    return v if v >= 0 else 0.0


def estimate_run_bytes(N: Any, n_frames: Any, *, batch: Any = 1, n_steps: Any = 0,
                       store_fields: bool = True, work_arrays: float = 104.0) -> float:
    """Honest peak memory of one time integration (:func:`astrofield.solve`).

    Parameters
    ----------
    N
        Grid points.
    n_frames
        Stored frames (fields ``u, q, a`` and the traces are kept at each).
    batch
        Parameter sets integrated together.
    n_steps
        Time steps (the frame index holds one 8-byte entry per step).
    store_fields
        Whether the fields are stored at every frame.
    work_arrays
        Arrays of ``batch * N`` values alive during a step (state, kernel transforms, firing
        rates, stage values, the backend's buffers; measured peak of ``astrofield run -q
        --n-frames 2`` above the interpreter's: 100-103 arrays at N = 10^6 and 3 x 10^6).

    Returns
    -------
    float
        Bytes (``inf`` for sizes that overflow).
    """
    N, F, B, S = (_count(v) for v in (N, n_frames, batch, n_steps))
    fields = 3.0 * B * F * N if store_fields else 0.0
    traces = 32.0 * B * F
    with np.errstate(over="ignore", invalid="ignore"):
        return _F8 * (fields + traces + (S + 1.0) + work_arrays * B * N)


def estimate_sweep_bytes(N: Any, chunk_size: Any, n_points: Any, workers: Any = 1,
                         per_point: float = 40.0) -> float:
    """Peak memory of a chunked sweep: ``per_point`` arrays of ``N`` values per running point.

    Parameters
    ----------
    N
        Grid points of each simulation.
    chunk_size
        Points per chunk; only ``min(chunk_size, n_points)`` of them are ever alive in a chunk.
    n_points
        Points of the whole grid.
    workers
        Chunks running at once (never more than the number of chunks).
    per_point
        Arrays of ``N`` float64 values per running point.

    Returns
    -------
    float
        Bytes.
    """
    N, C, P, W = (_count(v) for v in (N, chunk_size, n_points, workers))
    alive = min(C, P)
    n_chunks = math.ceil(P / alive) if alive > 0 and math.isfinite(P / alive) else P
    running = min(max(W, 1.0), max(n_chunks, 1.0))
    return _F8 * per_point * N * alive * running


def estimate_dense_jacobian_bytes(N: Any, *, fields: int = 3, copies: float = 4.0) -> float:
    """Memory of a dense eigenvalue problem of a ``fields * N`` square Jacobian.

    Parameters
    ----------
    N
        Grid points.
    fields
        Unknowns per grid point (``u, q, a``: 3).
    copies
        Matrices of that size alive at once (the Jacobian, LAPACK's work copy, eigenvectors).

    Returns
    -------
    float
        Bytes: ``copies * (fields * N) ** 2 * 8``.
    """
    n = fields * _count(N)
    return _F8 * copies * n * n


def check_grid_points(n_points: Any, what: str, *, per_point: float = 8.0) -> int:
    """Refuse a parameter grid whose arrays would not fit before building it.

    Parameters
    ----------
    n_points
        Points of the grid (the product of the axis lengths).
    what
        Description used in the message.
    per_point
        Float64 values stored per point (coordinates of every axis, results).

    Returns
    -------
    int
        ``n_points``.
    """
    check_memory(_F8 * per_point * _count(n_points), f"{what} of {_count(n_points):.4g} points")
    return int(n_points)


#: Environment variable that sets the largest amount of work (cell-steps) one computation may
#: request before any of it is done.
MAX_WORK_ENV = "ASTROFIELD_MAX_WORK"

#: Default work limit in cell-steps (parameter sets x grid points x time steps, or the
#: equivalent of another command's dominant cost): at least 20 minutes of CPU time at
#: :data:`SECONDS_PER_CELL_STEP`, about an hour on the compiled backend here, more on numpy.
#: The default run is 1e6, the 50 x 50 phase map at its defaults about 2e9.
DEFAULT_MAX_WORK = 1e11

#: Lower bound of the CPU time of one cell-step (one grid point of one parameter set advanced
#: by one step): the compiled backend, the cheapest one, measured 27-37 ns of CPU time per
#: cell-step (one thread, N 64 to 1024, the default Heaviside model, medians of 3); 12 ns
#: leaves more than a factor 2 for faster cores, so the time in a refusal is a lower bound.
SECONDS_PER_CELL_STEP = 1.2e-8


#: Lower bound of the time of one floating-point operation of a dense LAPACK factorisation
#: (100 Gflop/s: a multi-core BLAS at its best), to express dense work in cell-steps.
SECONDS_PER_FLOP = 1e-11


def dense_work(N: Any, points: Any = 1, *, fields: int = 3, flops_per_n3: float = 30.0) -> float:
    """Work in cell-steps of ``points`` dense solves of a ``fields * N`` square Jacobian.

    Parameters
    ----------
    N
        Grid points of the bump.
    points
        Bumps solved (continuation points, map cells).
    fields
        Unknowns per grid point (``u, q, a``: 3).
    flops_per_n3
        Floating-point operations per ``n^3`` (``n = fields * N``) of one point: a few Newton
        steps with an LU factorisation (``2/3 n^3`` each) and an eigenvalue problem (dense QR
        about ``25 n^3``, or a shift-invert LU).

    Returns
    -------
    float
        The equivalent cell-steps: the time at :data:`SECONDS_PER_FLOP` divided by
        :data:`SECONDS_PER_CELL_STEP`, so one limit (:func:`max_work`) bounds every command.
    """
    n = fields * _count(N)
    with np.errstate(over="ignore", invalid="ignore"):
        flops = flops_per_n3 * _count(points) * n ** 3
    return flops * SECONDS_PER_FLOP / SECONDS_PER_CELL_STEP


def max_work() -> float:
    """The work limit in cell-steps: ``ASTROFIELD_MAX_WORK`` (a number > 0, ``inf`` for no
    limit) or :data:`DEFAULT_MAX_WORK` where it is unset or empty.

    Raises
    ------
    ValueError
        For a value that is not a number > 0.
    """
    return _env_number(MAX_WORK_ENV, DEFAULT_MAX_WORK, math.inf)


def _duration(seconds: float) -> str:
    """A duration in the unit that reads best (s, min, h, days, years)."""
    if not math.isfinite(seconds):
        return "forever"
    for unit, scale in (("years", 3.15e7), ("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def check_work(cell_steps: Any, what: str, *, hint: str = "reduce the problem size") -> float:
    """Refuse a computation whose estimated work exceeds the limit, before any of it is done.

    Parameters
    ----------
    cell_steps
        Estimated work in cell-steps (parameter sets x grid points x time steps, or the
        equivalent of another command's dominant cost: see the callers).
    what
        Description used in the message, naming the parameters and their values, e.g.
        ``"a run with N = 256, T = 1 and dt = 1e-09 (1e9 steps)"``.
    hint
        What to change (appended to the message).

    Returns
    -------
    float
        ``cell_steps`` (unchanged) when it is within the limit.

    Raises
    ------
    ValueError
        When the estimate exceeds :func:`max_work`; the message names the estimate, the CPU
        time it takes at least (:data:`SECONDS_PER_CELL_STEP`), the limit and how to raise it.
    """
    work = _count(cell_steps)
    limit = max_work()
    if work > limit:
        shown = "more than 1e300" if not math.isfinite(work) else f"{work:.3g}"
        raise ValueError(
            f"{what} is about {shown} cell-steps of work (estimate; at least "
            f"{_duration(work * SECONDS_PER_CELL_STEP)} of CPU time), more "
            f"than the limit of {limit:.3g} (set the environment variable {MAX_WORK_ENV} to a "
            f"larger number, or 'inf', to allow it); {hint}")
    return work


#: Largest number of time steps a single command-line run may request (about a day of compute
#: for the smallest grids); larger requests are almost always a typo in T or dt.
MAX_STEPS = 10**9


def check_steps(T: Any, dt: Any, *, T_name: str = "T", max_steps: int = MAX_STEPS) -> int:
    """Check a final time and a time step; returns the number of steps ``T / dt``.

    Raises ValueError (naming the values) for a non-positive or non-finite ``T`` or ``dt``, and
    for more than ``max_steps`` steps (including a ratio that overflows).
    """
    T = float(check_range(T_name, T, 0.0, math.inf, lo_open=True))
    dt = float(check_range("dt", dt, 0.0, math.inf, lo_open=True))
    with np.errstate(over="ignore"):
        ratio = T / dt
    if not math.isfinite(ratio) or ratio > max_steps:
        raise ValueError(f"{T_name} = {T:g} with dt = {dt:g} is {ratio:.3g} time steps, more "
                         f"than the allowed {max_steps:.0e}; increase dt or reduce {T_name}")
    return int(round(ratio))
