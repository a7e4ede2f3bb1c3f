"""Parameter sweeps: grid specifications and a chunked, resumable sweep engine.

The engine follows the spirit of xyzpy's ``Crop``/``Runner`` (a function evaluated over the outer
product of parameter values, results labelled with ``xarray``), specialised to *batched*
functions: the function receives a whole chunk of grid points at once as 1-D arrays, which is what
makes sweeps of the batched simulator (:func:`astrofield.simulate.solve`) fast.

Grid specifications
-------------------
One axis is written ``NAME=SPEC`` with ``SPEC`` one of

* ``start:stop:count`` - ``count`` evenly spaced values from ``start`` to ``stop`` (inclusive,
  like :func:`numpy.linspace`);
* ``start:stop:count:log`` - ``count`` geometrically spaced values (like :func:`numpy.geomspace`);
* ``v1,v2,...`` - an explicit list (``inf`` allowed where the parameter allows it);
* ``v`` - a single value (``D=inf``).

:func:`parse_axis` parses one specification, :func:`make_grid` builds a :class:`Grid` and checks
it (known names, each name once, values in range, no empty axis) *before any work is done*; errors
are :class:`ValueError` naming the parameter, the value and what is allowed.

Engine and store layout
-----------------------
:func:`run_sweep` flattens the grid in C order (last axis fastest) and cuts it into chunks of
``chunk_size`` consecutive points. Each chunk is one call ``func(**params)`` in which every swept
parameter is a 1-D array of the chunk's values and every fixed parameter a scalar; ``func`` returns
an :class:`xarray.Dataset` (or a dict of arrays) whose leading dimension ``point`` has the chunk's
length. Chunks run on any executor:

* ``None`` / ``"serial"`` - in this process, one after the other (small sweeps, tests);
* ``"local"`` - a :class:`distributed.LocalCluster` started for the sweep (one single-threaded
  worker process per core by default) and shut down afterwards;
* a :class:`distributed.Client` - an existing cluster (``--scheduler ADDRESS`` on the command line);
* any :class:`concurrent.futures.Executor` (e.g. ``ProcessPoolExecutor``).

At most ``2 x workers`` chunks are in flight at a time, so memory stays bounded by a few chunk
results whatever the grid size.

With a ``store`` path (``map.nc``) every finished chunk is written *at once* by the driving process
to ``map.nc.parts/chunk-NNNNNN.nc`` (temporary file + :func:`os.replace`, so a chunk file is
either complete or absent), next to a ``manifest.json`` that records the grid, the chunking and the
caller's configuration. When all chunks are present they are merged into ``map.nc``, again
atomically, and the parts directory is removed. An interrupted sweep (crash, Ctrl-C, killed
worker) therefore leaves only complete chunk files; ``resume=True`` checks that the manifest
matches the requested sweep and computes only the missing chunks. Starting a sweep over an
existing parts directory without ``resume`` is refused rather than silently mixing runs.

The result is an :class:`xarray.Dataset` with one dimension per swept parameter (coordinates in
the given order and values), the fixed parameters as attributes and variables with extra
dimensions (after ``point``) keeping them.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from astrofield._validate import SWEEP_RANGES, check_int, check_range, parse_axis
from astrofield._version import __version__
from astrofield.io import atomic_write, load, save
from astrofield.io.jsonio import json_number as _jfloat

__all__ = [
    "Grid",
    "parse_axis",
    "make_grid",
    "run_sweep",
    "parts_dir",
    "PARAMETER_LIMITS",
]

#: Allowed values for each sweepable model parameter: ``(lo, hi, lo_open, hi_open, allow_inf)``
#: (a reference to the one table in :mod:`astrofield._validate`).
PARAMETER_LIMITS = SWEEP_RANGES


@dataclass(frozen=True)
class Grid:
    """An outer-product parameter grid.

    Parameters
    ----------
    axes
        Swept parameters in order: name -> 1-D array of values (the grid's dimensions).
    fixed
        Parameters held fixed: name -> scalar.
    """

    axes: dict[str, np.ndarray]
    fixed: dict[str, float] = field(default_factory=dict)

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(v.size for v in self.axes.values())

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def points(self, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """Swept values of the flat points ``start:stop`` (C order) as 1-D arrays."""
        stop = self.size if stop is None else stop
        idx = np.unravel_index(np.arange(start, stop), self.shape)
        return {n: v[i] for (n, v), i in zip(self.axes.items(), idx, strict=True)}

    def chunks(self, chunk_size: int) -> list[tuple[int, int]]:
        """``(start, stop)`` of each chunk of ``chunk_size`` consecutive flat points."""
        chunk_size = check_int("chunk_size", chunk_size, 1)
        return [(s, min(s + chunk_size, self.size)) for s in range(0, self.size, chunk_size)]

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description (used to check that a resumed store matches)."""
        return {"axes": {n: [_jfloat(x) for x in v] for n, v in self.axes.items()},
                "fixed": {n: _jfloat(v) for n, v in self.fixed.items()}}


def make_grid(
    vary: Iterable[str | tuple[str, Any]],
    fixed: Mapping[str, Any] | None = None,
    *,
    limits: Mapping[str, tuple] | None = None,
    max_dims: int | None = None,
) -> Grid:
    """Build and check a :class:`Grid`.

    Parameters
    ----------
    vary
        Axis specifications (strings for :func:`parse_axis`) or ``(name, values)`` pairs.
    fixed
        Values of the other parameters. A fixed parameter that is also swept is ignored (the axis
        wins), so callers may pass complete defaults.
    limits
        Allowed names and ranges (default :data:`PARAMETER_LIMITS`).
    max_dims
        Largest number of swept axes (e.g. 2 for a phase diagram).

    Raises
    ------
    ValueError
        Before any work: see :func:`parse_axis`; also no axis, too many axes, a parameter swept
        twice, and fixed values out of range.
    """
    limits = PARAMETER_LIMITS if limits is None else limits
    axes: dict[str, np.ndarray] = {}
    for spec in vary:
        if isinstance(spec, str):
            name, values = parse_axis(spec, limits)
        else:
            name, raw = spec
            if name not in limits:
                raise ValueError(f"unknown parameter {name!r}; allowed parameters are "
                                 f"{', '.join(limits)}")
            lo, hi, lo_open, hi_open, allow_inf = limits[name]
            values = check_range(name, np.atleast_1d(np.asarray(raw, dtype=float)).ravel(),
                                 lo, hi, lo_open=lo_open, hi_open=hi_open, allow_inf=allow_inf)
        if name in axes:
            raise ValueError(f"parameter {name!r} is swept twice; each axis must be a different "
                             f"parameter (allowed: {', '.join(limits)})")
        axes[name] = np.asarray(values, dtype=float)
    if not axes:
        raise ValueError(f"no parameter is swept; give at least one axis NAME=SPEC with NAME one "
                         f"of {', '.join(limits)}")
    if max_dims is not None and len(axes) > max_dims:
        raise ValueError(f"{len(axes)} swept parameters ({', '.join(axes)}); at most {max_dims} "
                         "allowed here")
    fx: dict[str, float] = {}
    for name, v in (fixed or {}).items():
        if name in axes:
            continue
        if name in limits:
            lo, hi, lo_open, hi_open, allow_inf = limits[name]
            v = check_range(name, v, lo, hi, lo_open=lo_open, hi_open=hi_open,
                            allow_inf=allow_inf)
            if v.ndim:
                raise ValueError(f"fixed parameter {name} must be a scalar, got shape {v.shape}")
        fx[name] = float(v)
    return Grid(axes, fx)


# ------------------------------------------------------------------------------------- store
def parts_dir(store: str | os.PathLike) -> Path:
    """Directory of per-chunk files of ``store`` (``<store>.parts``)."""
    p = Path(store)
    return p.with_name(p.name + ".parts")


def _chunk_path(parts: Path, i: int) -> Path:
    return parts / f"chunk-{i:06d}.nc"


def _manifest(grid: Grid, chunk_size: int, meta: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"grid": grid.describe(), "chunk_size": int(chunk_size),
            "n_chunks": len(grid.chunks(chunk_size)),
            "meta": json.loads(json.dumps(dict(meta or {}), default=str))}


def _write_json_atomic(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=1, sort_keys=True)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _check_manifest(path: Path, want: dict[str, Any]) -> None:
    have = json.loads(path.read_text())
    for key in ("grid", "chunk_size", "meta"):
        if have.get(key) != want[key]:
            raise ValueError(
                f"cannot resume: the store's {key} differs from this sweep's "
                f"({json.dumps(have.get(key))[:200]} vs {json.dumps(want[key])[:200]}); "
                f"use the same options or delete {path.parent}")


# ------------------------------------------------------------------------------------ engine
def _call_chunk(func: Callable, params: dict[str, Any], n: int) -> xr.Dataset:
    """Run ``func`` on one chunk and normalise the result to a Dataset with dim ``point``."""
    out = func(**params)
    if isinstance(out, Mapping) and not isinstance(out, xr.Dataset):
        out = xr.Dataset({k: (("point",) + tuple(f"{k}_dim{j}" for j in range(1, np.ndim(v))),
                              np.asarray(v)) for k, v in out.items()})
    if not isinstance(out, xr.Dataset):
        raise TypeError(f"sweep function returned {type(out).__name__}; expected an "
                        "xarray.Dataset or a dict of arrays")
    if out.sizes.get("point") != n:
        raise ValueError(f"sweep function returned dimension point = {out.sizes.get('point')} "
                         f"for a chunk of {n} points")
    return out


class _Runner:
    """Uniform ``submit``/``as_completed`` over the supported executors."""

    def __init__(self, executor: Any, workers: int | None):
        self.own_client = None
        self.kind = "serial"
        self.ex = None
        self.workers = 1
        if executor is None or executor == "serial":
            return
        if isinstance(executor, str):
            if executor != "local":
                raise ValueError(f"executor = {executor!r} is not one of None, 'serial', 'local', "
                                 "a distributed.Client or a concurrent.futures.Executor")
            from distributed import Client, LocalCluster

            n = workers or os.cpu_count() or 1
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            self.own_client = Client(cluster)
            executor = self.own_client
        if isinstance(executor, cf.Executor):
            self.kind, self.ex = "futures", executor
            self.workers = getattr(executor, "_max_workers", None) or workers or 1
            return
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover
            Client = None  # noqa: N806
        if Client is not None and isinstance(executor, Client):
            self.kind, self.ex = "dask", executor
            self.workers = max(1, sum(executor.nthreads().values()))
            return
        raise TypeError(f"unsupported executor {type(executor).__name__}: use None, 'serial', "
                        "'local', a distributed.Client or a concurrent.futures.Executor")

    def submit(self, fn: Callable, *args: Any) -> Any:
        if self.kind == "dask":
            return self.ex.submit(fn, *args, pure=False)
        return self.ex.submit(fn, *args)

    def wait_first(self, futures: set) -> tuple[set, set]:
        if self.kind == "dask":
            from distributed import wait

            res = wait(list(futures), return_when="FIRST_COMPLETED")
            return set(res.done), set(res.not_done)
        done, pending = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
        return set(done), set(pending)

    def cancel(self, futures: Iterable) -> None:
        for f in futures:
            f.cancel()

    def close(self) -> None:
        if self.own_client is not None:
            cluster = self.own_client.cluster
            self.own_client.close()
            cluster.close()


def _serial(chunks: Sequence[tuple[int, tuple[int, int]]], task) -> Iterator[tuple[int, Any]]:
    for i, (a, b) in chunks:
        yield i, task(a, b)


def run_sweep(
    func: Callable[..., Any],
    grid: Grid,
    executor: Any = None,
    chunk_size: int = 128,
    store: str | os.PathLike | None = None,
    resume: bool = False,
    *,
    workers: int | None = None,
    meta: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    keep_parts: bool = False,
    on_chunk: Callable[[int, xr.Dataset], None] | None = None,
    finalize: Callable[[xr.Dataset], xr.Dataset] | None = None,
) -> xr.Dataset:
    """Evaluate a batched function over a parameter grid, chunk by chunk, on any executor.

    Parameters
    ----------
    func
        ``func(**params)`` for one chunk: swept parameters as 1-D arrays (the chunk's values),
        fixed parameters as scalars. Returns an ``xr.Dataset`` (or dict of arrays) with leading
        dimension ``point`` of the chunk's length. Must be picklable for process executors (a
        module-level function or a :func:`functools.partial` of one).
    grid
        The :class:`Grid` (see :func:`make_grid`).
    executor
        ``None``/``"serial"`` (in process), ``"local"`` (a :class:`distributed.LocalCluster`
        with ``workers`` single-threaded processes), a :class:`distributed.Client` or a
        :class:`concurrent.futures.Executor`.
    chunk_size
        Grid points per call of ``func`` (the simulator's batch size).
    store
        Output NetCDF path. Finished chunks go to ``<store>.parts/`` at once (atomic writes);
        the merged result is written to ``store`` atomically at the end.
    resume
        Reuse the finished chunks of an interrupted sweep with the same grid, ``chunk_size`` and
        ``meta`` (otherwise a ``ValueError``); if ``store`` already holds the finished sweep, it
        is loaded and returned without computing anything.
    workers
        Worker processes for ``executor="local"`` (default: all cores).
    meta
        Caller's configuration (e.g. ``T, N, dt``); stored in the manifest and checked on resume,
        and added to the result's attrs.
    progress
        tqdm bar over grid points with time left (default: shown).
    keep_parts
        Keep ``<store>.parts/`` after merging.
    on_chunk
        Callback ``on_chunk(index, dataset)`` after each chunk is stored (used by tests to
        simulate a crash between chunks).
    finalize
        ``finalize(dataset) -> dataset`` applied to the merged result before it is written
        (e.g. to add summary attributes).

    Returns
    -------
    xarray.Dataset
        Variables on the grid's dimensions (then any extra dimensions of ``func``'s output); the
        swept parameters are coordinates, the fixed ones attrs (``param_<name>``), plus
        ``astrofield_version``, ``sweep_chunk_size``, ``sweep_points``, ``sweep_wall_s`` and the
        ``meta`` entries.
    """
    t0 = time.perf_counter()
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a Grid (see make_grid), got {type(grid).__name__}")
    chunk_size = check_int("chunk_size", chunk_size, 1)
    chunks = grid.chunks(chunk_size)
    manifest = _manifest(grid, chunk_size, meta)
    parts: Path | None = None
    done: dict[int, xr.Dataset | Path] = {}
    if store is not None:
        store = Path(store)
        parts = parts_dir(store)
        if parts.exists():
            if not resume:
                raise FileExistsError(
                    f"{parts} holds chunks of an earlier, unfinished sweep; pass resume=True "
                    "(--resume) to continue it or delete the directory")
            mpath = parts / "manifest.json"
            if mpath.exists():
                _check_manifest(mpath, manifest)
            for i in range(len(chunks)):
                if _chunk_path(parts, i).exists():
                    done[i] = _chunk_path(parts, i)
        elif resume and store.exists():
            old = load(store)
            if old.attrs.get("sweep_manifest") == json.dumps(manifest, sort_keys=True):
                return old
        parts.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(parts / "manifest.json", manifest)

    todo = [(i, c) for i, c in enumerate(chunks) if i not in done]
    n_done = sum(b - a for i, (a, b) in enumerate(chunks) if i in done)
    bar = tqdm(total=grid.size, initial=n_done, unit="pt", disable=progress is False,
               desc="sweep", smoothing=0.1, dynamic_ncols=True)

    def params_of(a: int, b: int) -> dict[str, Any]:
        return {**grid.points(a, b), **grid.fixed}

    def finish(i: int, ds: xr.Dataset) -> None:
        a, b = chunks[i]
        ds = ds.assign_coords(point=np.arange(a, b))
        if parts is not None:
            save(ds, _chunk_path(parts, i))
            done[i] = _chunk_path(parts, i)
        else:
            done[i] = ds
        bar.update(b - a)
        if on_chunk is not None:
            on_chunk(i, ds)

    runner = _Runner(executor, workers)
    try:
        if runner.kind == "serial":
            for i, (a, b) in todo:
                finish(i, _call_chunk(func, params_of(a, b), b - a))
        else:
            queue = list(todo)
            limit = 2 * max(1, runner.workers)
            inflight: dict[Any, int] = {}
            try:
                while queue or inflight:
                    while queue and len(inflight) < limit:
                        i, (a, b) = queue.pop(0)
                        fut = runner.submit(_call_chunk, func, params_of(a, b), b - a)
                        inflight[fut] = i
                    finished, _ = runner.wait_first(set(inflight))
                    for fut in finished:
                        i = inflight.pop(fut)
                        finish(i, fut.result())
            except BaseException:
                runner.cancel(inflight)
                raise
    finally:
        bar.close()
        runner.close()

    result = _merge(grid, chunks, done)
    result.attrs.update({f"param_{k}": v for k, v in grid.fixed.items()})
    result.attrs.update({k: v for k, v in (meta or {}).items()
                         if isinstance(v, (int, float, str, np.number))})
    result.attrs.update({"astrofield_version": __version__, "sweep_chunk_size": chunk_size,
                         "sweep_points": grid.size, "sweep_dims": " ".join(grid.dims),
                         "sweep_executor": runner.kind,
                         "sweep_manifest": json.dumps(manifest, sort_keys=True),
                         "sweep_wall_s": time.perf_counter() - t0})
    if finalize is not None:
        result = finalize(result)
    if store is not None:
        save(result, store)
        if not keep_parts:
            shutil.rmtree(parts, ignore_errors=True)
    return result


def _merge(grid: Grid, chunks: list[tuple[int, int]], done: dict[int, Any]) -> xr.Dataset:
    """Assemble chunk results into arrays on the grid's dimensions."""
    pieces = [load(done[i]) if isinstance(done[i], Path) else done[i] for i in range(len(chunks))]
    first = pieces[0]
    shape = grid.shape
    data_vars: dict[str, Any] = {}
    for name, var in first.data_vars.items():
        extra_dims = var.dims[1:]
        extra_shape = var.shape[1:]
        values = np.concatenate([np.asarray(p[name].values) for p in pieces], axis=0)
        data_vars[name] = (grid.dims + extra_dims, values.reshape(shape + extra_shape),
                           dict(var.attrs))
    coords: dict[str, Any] = {n: v for n, v in grid.axes.items()}
    for name, c in first.coords.items():
        if name != "point" and "point" not in c.dims:
            coords[name] = c
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update(first.attrs)
    return ds
