"""Is the compiled time loop built? Build it once, in the foreground or in the background.

The ``"numba"`` backend's time loop (:mod:`.numba_loop`) is compiled with ``cache=True``: the
first run on a machine compiles it (about a minute of CPU time; 55 s user CPU on the reference
machine, see the performance page) and writes it to numba's on-disk cache, later runs load it
in well under a second. This module answers, without compiling anything, whether that cache
holds the loop (:func:`loop_cached`: numba's own cache index of each entry point, checked with
numba's own index key, i.e. the same numba version, source stamp, bytecode and CPU), compiles
every entry point on request (:func:`compile_all`, ``astrofield compile``) and starts that
compile as a detached background process (:func:`start_background_compile`).

Cold-start policy (:func:`cold_start`, used by ``astrofield run``): with ``backend=None``, a
cold cache and a run whose first level (the run and its companion run, the resolution check)
is estimated at most :data:`COLD_NUMPY_SECONDS` on numpy, the run goes to the numpy backend
(results agree to round-off) with a one-line
:class:`~astrofield.simulator.backends.BackendNotice` that states that cost and, where the
step ladder of ``solve`` may halve the step, the cost if it does so every time
(:func:`ladder_seconds`); the check run and the ladder's levels stay on numpy, each level
announced before it starts (:func:`announce_level`), and the loop is compiled in the
background for the next run. Larger runs, and every run of the Python API (unless
``ASTROFIELD_COLD_START=numpy``), compile in the foreground after a one-line notice
(:func:`ready`), before any progress bar.

Environment: ``ASTROFIELD_COLD_START`` (``numpy`` or ``compile``) overrides the policy;
``ASTROFIELD_BACKGROUND_COMPILE=0`` never starts a background compile.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["ENTRY_POINTS", "COLD_NUMPY_SECONDS", "loop_cached", "kernels_cached", "cache_dir",
           "numpy_seconds", "ladder_seconds", "numpy_policy", "cold_numpy", "prefer_numpy",
           "announce_level", "cold_start", "ready", "compile_all", "start_background_compile"]

#: The compiled loop's entry points (functions of :mod:`.numba_loop` called from Python): one
#: member or a call from a worker thread runs the serial pair, several members the parallel one.
ENTRY_POINTS = {"serial": ("run_chunk_serial", "observe_all_serial"),
                "parallel": ("run_chunk", "observe_all")}
#: The small kernels of :mod:`astrofield.simulator.compiled` that the numpy backend calls.
KERNELS = ("edges_compiled", "remap_compiled", "relax_compiled")
#: Cold cache, ``backend=None`` and the numpy policy: runs whose first level (the run and its
#: companion run; :func:`ladder_seconds`) is estimated to take at most this long on the numpy
#: backend run there (the compile costs about a minute of CPU time). The levels of the step
#: ladder, run only where the check fails, do not enter this choice (see :func:`prefer_numpy`).
COLD_NUMPY_SECONDS = 20.0
#: Numpy backend cost model (seconds per step, per member x grid point x step), measured on the
#: reference machine under load (so an over-estimate on an idle one): the default run
#: (1 x 256 points x 4000 steps) is estimated at 4.2 s and took 2.5-3.4 s.
NUMPY_STEP_S, NUMPY_ELEMENT_S = 1.0e-3, 2.0e-7
#: A background compile's lock file counts as stale after this many seconds.
LOCK_STALE_S = 1800.0
_LOCK_NAME = "astrofield-compile.lock"

_POLICY: contextvars.ContextVar[str] = contextvars.ContextVar("astrofield_cold_start",
                                                              default="compile")
_PENDING: contextvars.ContextVar[list | None] = contextvars.ContextVar("astrofield_cold_pending",
                                                                      default=None)
_NOTICED: set[str] = set()


def _loop_functions(kinds: tuple[str, ...]) -> list[Any]:
    from astrofield.simulator.backends import numba_loop

    return [getattr(numba_loop, name) for kind in kinds for name in ENTRY_POINTS[kind]]


def _kernel_functions() -> list[Any]:
    from astrofield.simulator import compiled

    return [getattr(compiled, name) for name in KERNELS]


def _index(fn: Any) -> tuple[dict, tuple] | None:
    """numba's cache index of dispatcher ``fn`` (``{}`` if absent, stale or of another numba
    version) and the key tail of this process (CPU, bytecode); ``None`` if not readable."""
    try:
        cache = fn._cache
        key = cache._index_key((), fn.targetctx.codegen())
        return cache._cache_file._load_index(), key[1:]
    except Exception:  # noqa: BLE001 - caching off or numba internals changed: unknown
        return None


def _cached(fn: Any, sig: tuple | None = None) -> bool:
    """Whether ``fn`` is compiled in this process or in numba's cache (for ``sig``, or for any
    signature); ``True`` when that cannot be told (the old behaviour: just call it)."""
    if sig is None and fn.overloads or sig is not None and sig in fn.overloads:
        return True
    found = _index(fn)
    if found is None:
        return True
    index, tail = found
    return any(key[1:] == tail and (sig is None or key[0] == sig) for key in index)


def loop_cached(parallel: bool | None = None) -> bool:
    """Whether the compiled time loop is built (in this process or in numba's cache).

    Parameters
    ----------
    parallel
        Check the entry points of several members (``True``), of one (``False``) or all
        (``None``).

    Returns
    -------
    bool
        ``False`` if an entry point would be compiled by its next call. ``True`` also when numba
        is missing or its cache cannot be read (nothing to decide then).
    """
    from astrofield.simulator import compiled

    if not compiled.HAVE_NUMBA:
        return True
    kinds = ("serial", "parallel") if parallel is None else \
        (("parallel",) if parallel else ("serial",))
    return all(_cached(fn) for fn in _loop_functions(kinds))


def kernels_cached() -> bool:
    """Whether the numpy backend's small compiled kernels are built (see :func:`loop_cached`)."""
    from astrofield.simulator import compiled

    return not compiled.HAVE_NUMBA or all(_cached(fn) for fn in _kernel_functions())


def cache_dir() -> str | None:
    """The folder where numba caches the compiled loop (``None`` without numba)."""
    try:
        return str(_loop_functions(("serial",))[0]._cache.cache_path)
    except Exception:  # noqa: BLE001
        return None


def numpy_seconds(members: int, N: int, steps: int) -> float:
    """Estimated wall time of a run on the numpy backend (see :data:`NUMPY_STEP_S`)."""
    return float(steps) * (NUMPY_STEP_S + NUMPY_ELEMENT_S * members * N)


def ladder_seconds(members: int, N: int, steps: int, companion: bool = True,
                   refine_levels: int = 0) -> list[float]:
    """Estimated numpy wall time of each level of a run's step ladder, in seconds.

    Level ``k`` is the run at ``dt / 2**k`` (``steps * 2**k`` steps) and, with ``companion``,
    its companion run at ``(N / 2, dt / 2**(k - 1))`` (grid and steps of
    :func:`~astrofield.simulator.resolution.companion_grid`), each by :func:`numpy_seconds`. The
    cost model is linear in the steps, so each level costs twice the one before.

    Parameters
    ----------
    members, N, steps
        Batch members, grid points and time steps of the first level.
    companion
        Whether each level has its companion run (``check_resolution`` without noise or a
        stop rule).
    refine_levels
        Levels above the first (``solve``'s ``refine_levels``; 0: the first level only).

    Returns
    -------
    list of float
        ``refine_levels + 1`` estimates, seconds; their sum is the cost if every check fails.
    """
    from astrofield.simulator.resolution import companion_grid

    out = []
    for k in range(int(refine_levels) + 1):  # at most 6 levels: no hot path
        n = int(steps) * 2**k
        cost = numpy_seconds(members, N, n)
        out.append(cost + (numpy_seconds(members, *companion_grid(N, n)) if companion
                           else 0.0))
    return out


def _secs(seconds: float) -> str:
    """Whole seconds, or one significant digit under a second (``0.2``, not ``0``)."""
    return f"{seconds:.0f}" if seconds >= 1.0 else f"{seconds:.1g}"


def _cost_words(costs: list[float], companion: bool) -> str:
    """``about 16 s including its resolution check; up to about 110 s if the check halves the
    step twice`` for the notice of :func:`prefer_numpy`."""
    words = f"about {_secs(costs[0])} s" + (" including its resolution check" if companion
                                             else "")
    levels = len(costs) - 1
    if levels:
        times = {1: "once", 2: "twice"}.get(levels, f"{levels} times")
        words += f"; up to about {_secs(sum(costs))} s if the check halves the step {times}"
    return words


def numpy_policy() -> bool:
    """Whether the numpy cold-start policy applies here (:func:`cold_start` or
    ``ASTROFIELD_COLD_START=numpy``)."""
    return (os.environ.get("ASTROFIELD_COLD_START") or _POLICY.get()) == "numpy"


def _parallel(members: int) -> bool:
    import threading

    return members >= 2 and threading.current_thread() is threading.main_thread()


def cold_numpy(members: int) -> bool:
    """Whether a run of ``members`` members with ``backend=None`` is on the numpy cold-start
    path: the numpy policy applies and the loop's entry points for it are not built. A run
    that went to numpy there keeps numpy for its companion run and its step ladder
    (:func:`~astrofield.simulator.integrator.solve` pins the backend): the choice is made
    once, for the first level."""
    return numpy_policy() and not loop_cached(_parallel(members))


def _background_off() -> bool:
    return os.environ.get("ASTROFIELD_BACKGROUND_COMPILE", "").lower() in ("0", "no", "off",
                                                                          "false")


def prefer_numpy(members: int, N: int, steps: int, *, companion: bool = False,
                 refine_levels: int = 0, stacklevel: int = 2) -> bool:
    """Whether a run that ``backend=None`` would give to numba should run on numpy instead.

    True only under the numpy cold-start policy (:func:`cold_start`, or
    ``ASTROFIELD_COLD_START=numpy``), for a run whose first level (the run and, with
    ``companion``, its companion run; :func:`ladder_seconds`) is estimated at most
    :data:`COLD_NUMPY_SECONDS` on numpy, while the loop's entry points for that run are not
    built (:func:`loop_cached`). It then warns with one
    :class:`~astrofield.simulator.backends.BackendNotice` line that states the first level's
    cost and, with ``refine_levels``, the cost if the step ladder halves the step every time,
    and arranges the background compile (at the end of :func:`cold_start`, else now); inside
    :func:`cold_start` and with the numpy kernels not built either, it also turns those kernels
    off until the end of the context (their compile would cost seconds, more than the run).

    The choice uses the first level, not the ladder's worst case: a level is climbed only
    where the check fails (rarely, near a fold of the bump branch), while the worst case of
    the default ``refine_levels = 2`` is seven times the first level, so deciding on it would
    compile in the foreground (about a minute) for nearly every run the policy is for, the
    default job included. The notice states the worst case, and each level the ladder climbs
    on numpy is announced before it starts (:func:`announce_level`).

    Parameters
    ----------
    members, N, steps
        Batch members, grid points and time steps of the run.
    companion
        Whether the run has its companion run (the resolution check).
    refine_levels
        Levels the step ladder may climb (0 without a companion run or with trackers).
    stacklevel
        Of the notice (1: the caller of this function).
    """
    from astrofield.simulator import compiled
    from astrofield.simulator.backends import BackendNotice

    costs = ladder_seconds(members, N, steps, companion, refine_levels if companion else 0)
    if not numpy_policy() or costs[0] > COLD_NUMPY_SECONDS:
        return False
    if loop_cached(_parallel(members)):
        return False
    pending = _PENDING.get()
    if pending is not None and not kernels_cached():
        compiled.ENABLED = False  # restored when cold_start's context ends
    later = ("compiling it in the background for the next run" if not _background_off()
             else "`astrofield compile` builds it")
    warnings.warn(f"the compiled time loop is not built yet (a one-time compile of about a "
                  f"minute): running this job ({_cost_words(costs, companion)}) on the numpy "
                  f"backend; {later}", BackendNotice, stacklevel=stacklevel + 1)
    if pending is not None:
        pending.append(True)
    else:
        start_background_compile()
    return True


def announce_level(members: int, N: int, steps: int, dt: float, level: int, levels: int, *,
                   stacklevel: int = 2) -> bool:
    """Say, under the numpy cold-start policy, that the step ladder climbs on numpy.

    One :class:`~astrofield.simulator.backends.BackendNotice` line before a level of
    :func:`~astrofield.simulator.integrator.solve`'s step ladder that runs on the numpy
    backend starts, with its estimated cost (the run and its companion run,
    :func:`ladder_seconds`), so that its progress bar is no surprise. Nothing under the
    library's default policy.

    Parameters
    ----------
    members, N, steps
        Batch members, grid points and time steps of the level's run.
    dt
        The level's time step.
    level, levels
        The level (1 for the first halving) and ``refine_levels``.
    stacklevel
        Of the notice (1: the caller of this function).

    Returns
    -------
    bool
        Whether the notice was given.
    """
    from astrofield.simulator.backends import BackendNotice

    if not numpy_policy():
        return False
    est = ladder_seconds(members, N, steps)[0]
    warnings.warn(f"the resolution check failed: running the job again at dt = {dt:g} (step "
                  f"halved, level {level} of {levels}; about {_secs(est)} s including its "
                  f"resolution check) on the numpy backend", BackendNotice,
                  stacklevel=stacklevel + 1)
    return True


@contextlib.contextmanager
def cold_start(policy: str = "numpy") -> Iterator[None]:
    """Apply a cold-start policy to the runs inside the context (this thread's context).

    Parameters
    ----------
    policy
        ``"numpy"``: small runs with ``backend=None`` run on numpy while the compiled loop is not
        built (:func:`prefer_numpy`), and a background compile starts when the context ends
        (after the run, so that it does not compete with it). ``"compile"``: the default of the
        Python API (compile in the foreground, after a one-line notice).
        ``ASTROFIELD_COLD_START`` overrides it.
    """
    from astrofield.simulator import compiled

    if policy not in ("numpy", "compile"):
        raise ValueError(f"policy = {policy!r} is not one of ('numpy', 'compile')")
    pending: list = []
    token, ptoken, enabled = _POLICY.set(policy), _PENDING.set(pending), compiled.ENABLED
    try:
        yield
    finally:
        _POLICY.reset(token)
        _PENDING.reset(ptoken)
        compiled.ENABLED = enabled
        if pending:
            start_background_compile()


def ready(fn: Any, args: tuple) -> None:
    """Compile (or load from the cache) a dispatcher for these arguments now, after a one-line
    :class:`~astrofield.simulator.backends.BackendNotice` if that means compiling (once per
    process); call it before any progress bar.

    Parameters
    ----------
    fn
        A numba dispatcher (an entry point of :mod:`.numba_loop`).
    args
        Arguments of the coming call, or placeholders of the same numba types.
    """
    from astrofield.simulator.backends import BackendNotice

    if fn.overloads:  # loaded or compiled in this process already: every run uses one
        return        # signature per entry point, and typing 20-odd arguments costs ~0.4 ms
    sig = tuple(fn.typeof_pyval(a) for a in args)
    if not _cached(fn, sig) and "loop" not in _NOTICED:
        _NOTICED.add("loop")
        warnings.warn(f"compiling the time loop once (about a minute of CPU time; cached in "
                      f"{cache_dir()} for later runs) ...", BackendNotice, stacklevel=3)
    fn.compile(sig)


def compile_all() -> list[dict[str, Any]]:
    """Compile (or load from numba's cache) every compiled function that runs call.

    Three tiny runs through the ordinary code path, so the signatures are exactly those of real
    runs: the numpy backend (its small kernels), the compiled loop with one member (serial entry
    points) and with two (parallel ones; only when called from the main thread).

    Returns
    -------
    list of dict
        Per group: ``group``, ``functions`` (names), ``action`` (``"loaded"`` from the cache or
        ``"compiled"``) and ``seconds``.
    """
    import threading

    import numpy as np

    from astrofield.model.definition import Model
    from astrofield.simulator import compiled
    from astrofield.simulator.integrator import simulate

    if not compiled.HAVE_NUMBA:
        return []
    groups = [("kernels", KERNELS, _kernel_functions(), "numpy", Model()),
              ("serial", ENTRY_POINTS["serial"], _loop_functions(("serial",)), "numba", Model())]
    if threading.current_thread() is threading.main_thread():
        groups.append(("parallel", ENTRY_POINTS["parallel"], _loop_functions(("parallel",)),
                       "numba", Model(beta=np.array([0.05, 0.05]))))
    report = []
    for group, names, fns, backend, model in groups:
        before = all(_cached(fn) for fn in fns)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            simulate(model, T=0.2, dt=0.1, N=16, n_frames=2, progress=False, backend=backend)
        report.append(dict(group=group, functions=list(names),
                           action="loaded" if before else "compiled",
                           seconds=time.perf_counter() - t0))
    return report


def start_background_compile() -> bool:
    """Start ``astrofield compile`` as a detached, low-priority process (unless one is running).

    A lock file in the cache folder (:func:`cache_dir`; stale after :data:`LOCK_STALE_S`)
    keeps concurrent commands from starting several; the child removes it when done. The child
    imports this very package (its folder first on ``PYTHONPATH``) and inherits the environment
    (``NUMBA_CACHE_DIR`` included), so it fills the cache that this process reads.

    Returns
    -------
    bool
        Whether a process was started (not with ``ASTROFIELD_BACKGROUND_COMPILE=0``).
    """
    folder = cache_dir()
    if _background_off() or folder is None:
        return False
    lock = Path(folder) / _LOCK_NAME
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        if lock.exists() and time.time() - lock.stat().st_mtime > LOCK_STALE_S:
            lock.unlink(missing_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
    except OSError:  # FileExistsError: one is running; else an unwritable folder
        return False
    env = dict(os.environ, ASTROFIELD_COMPILE_LOCK=str(lock))
    src = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    try:
        subprocess.Popen([sys.executable, "-m", "astrofield", "compile", "-q", "--background"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    except OSError:
        lock.unlink(missing_ok=True)
        return False
    return True
