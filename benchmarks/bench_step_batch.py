"""Per-step cost of the compiled time loop for a batch of bumps like a drift map's, against a
baseline version of the loop in the same process.

The batch is a ``--side`` x ``--side`` grid of ``D`` in [0.001, 0.6] and ``beta`` in
[0.001, 0.1] (Heaviside firing, cosine kernel, gamma 2, theta 0.1: the plane of the issue-23
drift map, travelling and stationary bumps alike), run by
:func:`astrofield.simulator.integrator.solve` on one worker thread (so on the serial chunk loop,
as the map's executor threads run it) with one frame per time unit and no early stop. The CPU
time of the chunk calls (``time.thread_time``) divided by steps x members is the cost of one
step of one member; the median of ``--repeat`` runs is printed for ``N`` 32, 64, 128.

The baseline is the loop of another git revision (``--base``, default ``main``): its
``numba_loop.py`` and ``compiled.py`` are written into a temporary package and swapped into the
numba backend for the baseline runs; both versions run alternately in this process, and their
results (drift, final velocity) are compared bit for bit. The "new" loop is the one on
``PYTHONPATH`` (the working tree with ``PYTHONPATH=src``). Numba's cache of ``numba_loop`` is not
invalidated by a change to ``compiled.py`` alone: after editing only that file delete the
``numba_loop*.nbi``/``.nbc`` files of ``src/astrofield/simulator/backends/__pycache__``. Usage::

    PYTHONPATH=src NUMBA_NUM_THREADS=1 python benchmarks/bench_step_batch.py
    PYTHONPATH=src python benchmarks/bench_step_batch.py --quick
"""

from __future__ import annotations

import argparse
import importlib
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from astrofield import Model
from astrofield.simulator.backends import numba_backend
from astrofield.simulator.integrator import solve

_FILES = ("src/astrofield/simulator/backends/numba_loop.py", "src/astrofield/simulator/compiled.py")


def load_base(rev: str) -> object:
    """The ``numba_loop`` module of git revision ``rev`` (with its own ``compiled``)."""
    root = pathlib.Path(__file__).resolve().parents[1]
    src = [
        subprocess.run(
            ["git", "-C", str(root), "show", f"{rev}:{f}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for f in _FILES
    ]
    tag = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", rev],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    pkg = pathlib.Path(tempfile.gettempdir()) / f"astrofield_base_{tag}"
    pkg.mkdir(exist_ok=True)
    loop = src[0].replace("from astrofield.simulator.compiled import", "from base_compiled import")
    for name, text in (("base_numba_loop.py", loop), ("base_compiled.py", src[1])):
        p = pkg / name
        if not p.exists() or p.read_text() != text:
            p.write_text(text)
    sys.path.insert(0, str(pkg))
    return importlib.import_module("base_numba_loop")


class _Timed:
    """A chunk function that adds its thread CPU time to ``spent`` (the dispatcher's other
    attributes forwarded for the backend's compile check)."""

    def __init__(self, fn, spent: list[float]) -> None:
        self.fn, self.spent = fn, spent

    def __getattr__(self, name):  # overloads, typeof_pyval, ... of the dispatcher
        return getattr(self.fn, name)

    def __call__(self, *args):
        c0 = time.thread_time()
        out = self.fn(*args)
        self.spent.append(time.thread_time() - c0)
        return out


def run_once(loop, N: int, dt: float, T: float, side: int) -> tuple[float, np.ndarray]:
    """Seconds of chunk CPU per step per member, and the ``(drift, velocity)`` results."""
    D, beta = np.meshgrid(np.linspace(0.001, 0.6, side), np.linspace(0.001, 0.1, side))
    model = Model(theta=0.1, gamma=2.0, D=D.ravel(), beta=beta.ravel())
    spent: list[float] = []
    ns = type("Loop", (), {})()
    ns.run_chunk_serial = _Timed(loop.run_chunk_serial, spent)
    ns.run_chunk = ns.run_chunk_serial
    ns.observe_all = ns.observe_all_serial = loop.observe_all_serial
    saved = numba_backend._loop
    numba_backend._loop = ns
    try:
        with ThreadPoolExecutor(1) as ex:  # off the main thread: the serial loop, as a map's
            ds = ex.submit(
                solve,
                model,
                T=T,
                dt=dt,
                N=N,
                sample_every=int(round(1 / dt)),
                store_fields=False,
                progress=False,
                backend="numba",
                dt_check="off",
                check_resolution=False,
            ).result()
    finally:
        numba_backend._loop = saved
    steps = int(round(T / dt))
    res = np.stack([ds["drift"].values, ds["velocity"].values[..., -1]])
    return sum(spent) / (steps * D.size), res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--T", type=float, default=200.0)
    ap.add_argument("--side", type=int, default=5, help="members per axis (batch side**2)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--base", default="main", help="git revision of the baseline loop")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.N, args.T, args.repeat = [32, 64], 50.0, 3
    base = load_base(args.base)
    new = importlib.import_module("astrofield.simulator.backends.numba_loop")
    print(
        f"threads {os.environ.get('NUMBA_NUM_THREADS', 'all')}, load {os.getloadavg()}, "
        f"batch {args.side**2}, T {args.T}, baseline {args.base}"
    )
    for N in args.N:
        dt = {32: 0.2, 64: 0.1}.get(N, 0.05)
        for loop in (base, new):  # compile / load the caches
            run_once(loop, N, dt, 2.0, args.side)
        times: dict[str, list[float]] = {"base": [], "new": []}
        out = {}
        for _ in range(args.repeat):  # alternate, so that load changes hit both alike
            for key, loop in (("base", base), ("new", new)):
                t, out[key] = run_once(loop, N, dt, args.T, args.side)
                times[key].append(t)
        same = np.array_equal(out["base"], out["new"], equal_nan=True)
        diff = np.nanmax(np.abs(out["base"] - out["new"]))
        mb, mn = np.median(times["base"]), np.median(times["new"])
        print(
            f"N {N:4d} dt {dt}: base {mb * 1e6:6.3f} us/step/member "
            f"({min(times['base']) * 1e6:.3f}-{max(times['base']) * 1e6:.3f}), new "
            f"{mn * 1e6:6.3f} ({min(times['new']) * 1e6:.3f}-{max(times['new']) * 1e6:.3f}), "
            f"ratio base/new {mb / mn:.3f}; results identical: {same} (max diff {diff:.3g})"
        )
    print(f"load after {os.getloadavg()}")


if __name__ == "__main__":
    main()
