"""Parameter sweeps: grid specifications and a chunked, resumable sweep engine.

The engine follows the spirit of xyzpy's ``Crop``/``Runner`` (a function evaluated over the outer
product of parameter values, results labelled with ``xarray``), specialised to *batched*
functions: the function receives a whole chunk of grid points at once as 1-D arrays, which is what
makes sweeps of the batched simulator (:func:`astrofield.simulator.integrator.solve`) fast.

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
consecutive points: at most ``chunk_size`` points each, all of the same size to within one point,
and a multiple of the number of workers of them, so that every worker gets the same amount of
work (:meth:`Grid.balanced_chunks`). Each chunk is one call ``func(**params)`` in which every
swept parameter is a 1-D array of the chunk's values and every fixed parameter a scalar; ``func``
returns an :class:`xarray.Dataset` (or a dict of arrays) whose leading dimension ``point`` has the
chunk's length. Chunks run through one ``concurrent.futures`` interface:

* ``None`` / ``"serial"`` - in this process, one after the other (small sweeps, tests);
* ``"threads"`` - in this process, one chunk per thread of a thread pool (one thread per core
  by default). The compiled time loop releases the GIL, so the threads run on all cores; off
  the main thread the simulator uses the thread it is called on (no nested thread teams). This
  is the fastest choice on one machine: nothing to start, no data to copy between processes;
* ``"local"`` - a :class:`distributed.LocalCluster` started for the sweep (one single-threaded
  worker process per core by default) and shut down afterwards;
* a :class:`distributed.Client` - an existing cluster (``--scheduler ADDRESS`` on the command
  line), used through :meth:`distributed.Client.get_executor`;
* any :class:`concurrent.futures.Executor` (e.g. ``ProcessPoolExecutor`` or one of your own).

At most ``2 x workers`` chunks are in flight at a time, so memory stays bounded by a few chunk
results whatever the grid size.

With a ``store`` path (``map.nc``) every finished chunk is written *at once* by the driving process
to ``map.nc.parts/chunk-NNNNNN.nc`` (temporary file + :func:`os.replace`), next to a
``manifest.json`` that records the grid, the chunk bounds and the caller's configuration. Every
chunk file carries the sweep's *fingerprint* (a SHA-256 of grid, chunk size and configuration),
its point range and a SHA-256 :func:`checksum` of its own values. ``resume=True`` refuses a
manifest of a different sweep, then verifies every chunk file and recomputes, with a message on
stderr, any that is missing, unreadable (e.g. truncated), from another sweep (also when the
manifest is missing or unreadable), holds other points or fails its checksum: foreign or damaged
data is never merged, and a bad chunk never stops the sweep. When all chunks are present they are
merged into ``map.nc``, again atomically, and the files the sweep wrote are removed (the manifest
lists them, with a SHA-256 of each; a damaged chunk is deleted only if it is listed or is a
readable sweep chunk, any other file in its place stops the resume, and the parts directory is
removed only if nothing else is left in it); a finished store of
the same fingerprint is returned as is. Starting a sweep over an existing parts directory without
``resume`` is refused rather than silently mixing runs.

The result is an :class:`xarray.Dataset` with one dimension per swept parameter (coordinates in
the given order and values), the fixed parameters as attributes and variables with extra
dimensions (after ``point``) keeping them.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from astrofield._validate import SWEEP_RANGES, check_int, check_range, parse_axis
from astrofield._version import __version__
from astrofield.io import atomic_write, load, save
from astrofield.io.jsonio import json_number as _jfloat

if TYPE_CHECKING:  # annotations only: dask is imported where it is used
    from distributed import Client
    from numpy.typing import ArrayLike

__all__ = [
    "Grid",
    "parse_axis",
    "make_grid",
    "run_sweep",
    "parts_dir",
    "checksum",
    "PARAMETER_LIMITS",
    "EXECUTORS",
]

#: The executors named by a string: in this process one chunk after the other, in this
#: process on a pool of threads, or on a dask ``LocalCluster`` of worker processes.
EXECUTORS = ("serial", "threads", "local")

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
        """Swept values of the flat points ``start:stop`` (C order) as 1-D arrays.

        Parameters
        ----------
        start, stop
            Range of flat point indices (``stop`` default: all points).

        Returns
        -------
        dict of numpy.ndarray
            Axis name -> its value at each point, in the axis's own units.
        """
        stop = self.size if stop is None else stop
        idx = np.unravel_index(np.arange(start, stop), self.shape)
        return {n: v[i] for (n, v), i in zip(self.axes.items(), idx, strict=True)}

    def chunks(self, chunk_size: int) -> list[tuple[int, int]]:
        """``(start, stop)`` of each chunk of ``chunk_size`` consecutive flat points."""
        chunk_size = check_int("chunk_size", chunk_size, 1)
        return [(s, min(s + chunk_size, self.size)) for s in range(0, self.size, chunk_size)]

    def balanced_chunks(self, chunk_size: int, workers: int = 1) -> list[tuple[int, int]]:
        """Chunks of at most ``chunk_size`` consecutive points, as equal as possible.

        Parameters
        ----------
        chunk_size
            Largest number of points in a chunk (>= 1).
        workers
            Number of workers (>= 1); the number of chunks is a multiple of it, so every worker
            gets the same number of chunks and every chunk the same number of points, to within
            one.

        Returns
        -------
        list of tuple of int
            ``(start, stop)`` flat point indices of each chunk, in order.
        """
        chunk_size = check_int("chunk_size", chunk_size, 1)
        workers = check_int("workers", workers, 1)
        per = math.ceil(self.size / (workers * chunk_size))
        n = max(1, min(self.size, workers * per))
        edges = [self.size * k // n for k in range(n + 1)]
        return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description (used to check that a resumed store matches)."""
        return {"axes": {n: [_jfloat(x) for x in v] for n, v in self.axes.items()},
                "fixed": {n: _jfloat(v) for n, v in self.fixed.items()}}


def make_grid(
    vary: Iterable[str | tuple[str, ArrayLike]],
    fixed: Mapping[str, float] | None = None,
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
    from astrofield._validate import check_grid_points

    check_grid_points(math.prod(float(v.size) for v in axes.values()), "a parameter grid",
                      per_point=8.0 * len(axes) + 16.0)
    return Grid(axes, fx)


# ------------------------------------------------------------------------------------- store
def parts_dir(store: str | os.PathLike) -> Path:
    """Directory of per-chunk files of ``store`` (``<store>.parts``)."""
    p = Path(store)
    return p.with_name(p.name + ".parts")


def _chunk_path(parts: Path, i: int) -> Path:
    return parts / f"chunk-{i:06d}.nc"


def _manifest(grid: Grid, chunk_size: int, meta: Mapping[str, Any] | None,
              chunks: list[tuple[int, int]]) -> dict[str, Any]:
    man = {"grid": grid.describe(), "chunk_size": int(chunk_size),
           "meta": json.loads(json.dumps(dict(meta or {}), default=str))}
    man["fingerprint"] = _fingerprint(man)
    man["chunks"] = [[int(a), int(b)] for a, b in chunks]
    man["n_chunks"] = len(chunks)
    return man


def _fingerprint(man: Mapping[str, Any]) -> str:
    """SHA-256 of the grid, chunk size and caller's settings (what a chunk must belong to)."""
    key = json.dumps({k: man[k] for k in ("grid", "chunk_size", "meta")}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()


def _write_json_atomic(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=1, sort_keys=True)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _note(message: str) -> None:
    """A message for the user on stderr (resume decisions)."""
    print(f"astrofield sweep: {message}", file=sys.stderr, flush=True)


def checksum(ds: xr.Dataset) -> str:
    """SHA-256 of the values of every variable and coordinate of ``ds`` (not its attrs).

    Values are hashed in a canonical form (booleans and integers as int64, floats as float64,
    strings as UTF-8), so the checksum survives a NetCDF round trip.
    """
    h = hashlib.sha256()
    for name in sorted(map(str, ds.variables)):
        var = ds.variables[name]
        arr = np.asarray(var.values)
        h.update(f"{name}|{','.join(map(str, var.dims))}|{arr.shape}|".encode())
        if arr.dtype.kind in "OUS":
            h.update("\x1f".join(map(str, arr.ravel().tolist())).encode())
        elif arr.dtype.kind in "biu":
            h.update(np.ascontiguousarray(arr, dtype=np.int64).tobytes())
        else:
            h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
    return h.hexdigest()


def _save_chunk(ds: xr.Dataset, path: Path, fingerprint: str, i: int, a: int, b: int) -> None:
    ds = ds.copy()
    ds.attrs.update({"sweep_fingerprint": fingerprint, "chunk_index": i, "chunk_start": a,
                     "chunk_stop": b, "chunk_checksum": checksum(ds)})
    save(ds, path)


def _file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (the manifest's record of the files a sweep wrote)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _is_sweep_chunk(path: Path) -> bool:
    """Whether ``path`` is a readable chunk file of some astrofield sweep (it has the
    attributes :func:`_save_chunk` writes), i.e. a file a sweep wrote."""
    try:
        at = load(path).attrs
    except Exception:
        return False
    return all(k in at for k in ("sweep_fingerprint", "chunk_start", "chunk_checksum"))


def _verify_chunk(path: Path, fingerprint: str, a: int, b: int) -> str | None:
    """``None`` if ``path`` is an intact chunk of points ``a:b`` of this sweep, else why not."""
    try:
        ds = load(path)
    except Exception as exc:  # truncated or not a NetCDF file: h5py/OSError/ValueError
        return f"unreadable ({type(exc).__name__}), e.g. truncated"
    at = ds.attrs
    if at.get("sweep_fingerprint") != fingerprint:
        return "from another sweep (grid, chunking or settings differ)"
    if (int(at.get("chunk_start", -1)), int(at.get("chunk_stop", -1))) != (a, b) or \
            ds.sizes.get("point") != b - a:
        return f"does not hold points {a}:{b}"
    if at.get("chunk_checksum") != checksum(ds):
        return "checksum mismatch (corrupted data)"
    return None


def _check_manifest(have: Mapping[str, Any], want: Mapping[str, Any], path: Path) -> None:
    for key in ("grid", "chunk_size", "meta"):
        if have.get(key) != want[key]:
            raise ValueError(
                f"cannot resume: the store's {key} differs from this sweep's "
                f"({json.dumps(have.get(key))[:200]} vs {json.dumps(want[key])[:200]}); "
                f"use the same options or delete {path.parent}")


def _stored_chunks(have: Mapping[str, Any], grid: Grid) -> list[tuple[int, int]] | None:
    """The chunk bounds of a stored manifest, if they tile the grid."""
    chunks = have.get("chunks")
    try:
        chunks = [(int(a), int(b)) for a, b in chunks]
    except (TypeError, ValueError):
        return None
    edges = [a for a, _ in chunks] + [chunks[-1][1]] if chunks else []
    tiles = (edges and edges[0] == 0 and edges[-1] == grid.size
             and all(b > a and a == pb for (a, b), (_, pb) in
                     zip(chunks[1:], chunks[:-1], strict=True)))
    return chunks if tiles else None


@dataclass
class _Store:
    """Where a sweep keeps its chunks, and which of them are finished and verified.

    ``files`` (name -> SHA-256 of the bytes) lists every file of ``parts`` that a sweep wrote;
    it is kept in ``manifest.json``, and only these files are ever deleted.
    """

    path: Path
    parts: Path
    chunks: list[tuple[int, int]]
    fingerprint: str
    manifest: dict[str, Any] = field(default_factory=dict)
    done: dict[int, Path] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def record(self, path: Path) -> None:
        """Add a file just written to the manifest (rewritten atomically)."""
        self.files[path.name] = _file_digest(path)
        _write_json_atomic(self.parts / "manifest.json", {**self.manifest, "files": self.files})

    def remove(self) -> None:
        """Delete the files the sweep wrote, then ``parts`` if nothing else is left in it."""
        from astrofield.io.files import remove_stale_temps

        for name in [*self.files, "manifest.json"]:
            (self.parts / name).unlink(missing_ok=True)
            remove_stale_temps(self.parts, name)
        try:
            self.parts.rmdir()
        except OSError:
            left = sorted(p.name for p in self.parts.iterdir()) if self.parts.is_dir() else []
            if left:
                _note(f"kept {self.parts}: it holds files the sweep did not write "
                      f"({', '.join(left[:5])}{', ...' if len(left) > 5 else ''})")


def _stored_files(man: Mapping[str, Any]) -> dict[str, str]:
    """The ``files`` a stored manifest lists as written by the sweep (plain names only)."""
    files = man.get("files")
    if not isinstance(files, Mapping):
        return {}
    return {str(k): str(v) for k, v in files.items()
            if isinstance(k, str) and k == Path(k).name and k not in ("", ".", "..")}


def _read_manifest(parts: Path, manifest: dict[str, Any], grid: Grid) -> dict[str, Any]:
    """The manifest to continue with: the stored one (its chunk bounds and the list of files
    it wrote) if it matches."""
    mpath = parts / "manifest.json"
    try:
        have = json.loads(mpath.read_text())
    except FileNotFoundError:
        _note(f"{mpath} is missing; every chunk is checked against this sweep")
        return manifest
    except (OSError, ValueError) as exc:
        _note(f"{mpath} is unreadable ({type(exc).__name__}); every chunk is checked against "
              "this sweep")
        return manifest
    _check_manifest(have, manifest, mpath)
    chunks = _stored_chunks(have, grid)
    manifest = {**manifest, "files": _stored_files(have)}
    return manifest if chunks is None else {**manifest, "chunks": [list(c) for c in chunks],
                                            "n_chunks": len(chunks)}


def _open_store(store: str | os.PathLike, resume: bool, manifest: dict[str, Any],
                grid: Grid) -> _Store | xr.Dataset:
    """Prepare ``<store>.parts``; with ``resume`` keep only verified chunks of this sweep.

    Returns the finished dataset instead when ``resume`` finds ``store`` complete.
    """
    from astrofield.io import NETCDF_SUFFIXES
    from astrofield.io.files import check_output_path

    path = Path(store)
    check_output_path(path, "store", suffixes=NETCDF_SUFFIXES, make_parents=True)
    parts = parts_dir(path)
    if parts.exists():
        if not resume:
            raise FileExistsError(
                f"{parts} holds chunks of an earlier, unfinished sweep; pass resume=True "
                "(--resume) to continue it or delete the directory")
        manifest = _read_manifest(parts, manifest, grid)
    elif resume and path.exists():
        try:
            old = load(path)
        except Exception as exc:
            _note(f"cannot read {path} ({type(exc).__name__}); computing the sweep again")
        else:
            if old.attrs.get("sweep_fingerprint") == manifest["fingerprint"]:
                return old
            _note(f"{path} holds a different sweep; it will be replaced")
    written = dict(manifest.pop("files", {}))
    st = _Store(path, parts, [tuple(c) for c in manifest["chunks"]], manifest["fingerprint"],
                manifest)
    parts.mkdir(parents=True, exist_ok=True)
    st.files = {k: v for k, v in written.items() if (parts / k).is_file()}
    for i, (a, b) in enumerate(st.chunks):
        _check_chunk_file(st, i, a, b)
    _write_json_atomic(parts / "manifest.json", {**manifest, "files": st.files})
    return st


def _check_chunk_file(st: _Store, i: int, a: int, b: int) -> None:
    """Use chunk ``i``'s file if it is intact; delete it if a sweep wrote it, else refuse."""
    cp = _chunk_path(st.parts, i)
    if not (cp.exists() or cp.is_symlink()):
        return
    why = _verify_chunk(cp, st.fingerprint, a, b) if cp.is_file() and not cp.is_symlink() \
        else "not a regular file"
    if why is None:
        st.done[i] = cp
        st.files[cp.name] = _file_digest(cp)  # this sweep's data: adopted if the list lost it
        return
    if cp.name not in st.files and not (cp.is_file() and _is_sweep_chunk(cp)):
        raise ValueError(
            f"cannot resume: {cp} is {why} and was not written by a sweep (it is not in "
            f"{st.parts / 'manifest.json'}); astrofield deletes only files it wrote: move it "
            "out of the way and resume again")
    _note(f"recomputing chunk {i} ({cp.name}, points {a}:{b}): {why}")
    cp.unlink(missing_ok=True)
    st.files.pop(cp.name, None)


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


def _is_client(executor: Any) -> bool:
    """Whether ``executor`` is a ``distributed.Client``: never one if ``distributed`` has not
    been imported (importing it just to ask takes a third of a second)."""
    mod = sys.modules.get("distributed")
    return mod is not None and isinstance(executor, mod.Client)


def _executor_kind(executor: Any, workers: int | None) -> tuple[str, int]:
    """``(kind, number of workers)`` of an executor argument, without starting anything."""
    if executor is None or executor == "serial":
        return "serial", 1
    if isinstance(executor, str):
        if executor not in EXECUTORS:
            raise ValueError(f"executor = {executor!r} is not one of None, 'serial', 'threads', "
                             "'local', a distributed.Client or a concurrent.futures.Executor")
        kind = "threads" if executor == "threads" else "dask"
        return kind, workers or os.cpu_count() or 1
    if _is_client(executor):
        return "dask", max(1, sum(executor.nthreads().values()))
    if isinstance(executor, cf.Executor):
        return "futures", workers or getattr(executor, "_max_workers", None) or 1
    raise TypeError(f"unsupported executor {type(executor).__name__}: use None, 'serial', "
                    "'threads', 'local', a distributed.Client or a concurrent.futures.Executor")


class _Runner:
    """One ``concurrent.futures`` interface over every executor: a dask ``Client`` is used
    through :meth:`distributed.Client.get_executor`, ``"local"`` starts a ``LocalCluster``,
    ``"threads"`` a :class:`~concurrent.futures.ThreadPoolExecutor`."""

    def __init__(self, executor: Any, workers: int):
        self.own_client = None
        self.own_pool = None
        if executor == "threads":
            self.own_pool = executor = cf.ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="astrofield-sweep")
        elif executor == "local":
            from distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            self.own_client = executor = Client(cluster)
        self.ex = executor.get_executor(pure=False) if _is_client(executor) else executor

    def run(self, todo: list[tuple[int, tuple[int, int]]], task: Callable, limit: int,
            finish: Callable[[int, xr.Dataset], None]) -> None:
        """Submit ``task(a, b)`` for each chunk, at most ``limit`` in flight; ``finish`` each
        result as it arrives (in the driving process)."""
        queue = list(todo)
        inflight: dict[cf.Future, int] = {}
        try:
            while queue or inflight:
                while queue and len(inflight) < limit:
                    i, (a, b) = queue.pop(0)
                    inflight[self.ex.submit(*task(a, b))] = i
                done, _ = cf.wait(set(inflight), return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    finish(inflight.pop(fut), fut.result())
        except BaseException:
            for fut in inflight:
                fut.cancel()
            raise

    def close(self) -> None:
        if self.own_pool is not None:  # after an error: drop the queued chunks, finish the rest
            self.own_pool.shutdown(wait=True, cancel_futures=True)
        if self.own_client is not None:
            cluster = self.own_client.cluster
            self.own_client.close()
            cluster.close()


def run_sweep(
    func: Callable[..., xr.Dataset | Mapping[str, ArrayLike]],
    grid: Grid,
    executor: str | cf.Executor | Client | None = None,
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
        ``None``/``"serial"`` (in process), ``"threads"`` (in process, a pool of ``workers``
        threads, one chunk each), ``"local"`` (a :class:`distributed.LocalCluster` with
        ``workers`` single-threaded processes), a :class:`distributed.Client` (used through its
        ``concurrent.futures`` executor) or any :class:`concurrent.futures.Executor`.
    chunk_size
        Largest number of grid points per call of ``func`` (the simulator's batch size). The
        grid is cut into a multiple of the number of workers of chunks of equal size (to within
        one point), see :meth:`Grid.balanced_chunks`.
    store
        Output NetCDF path. Finished chunks go to ``<store>.parts/`` at once (atomic writes),
        each carrying the sweep's fingerprint, its point range and a checksum of its data; the
        merged result is written to ``store`` atomically at the end.
    resume
        Continue an interrupted sweep: a stored manifest must match the grid, ``chunk_size`` and
        ``meta`` (otherwise a ``ValueError``); every chunk file is verified and recomputed, with
        a message on stderr, if it is unreadable (truncated), from another sweep, covers other
        points or fails its checksum. If ``store`` already holds this finished sweep, it is
        loaded and returned without computing anything.
    workers
        Threads or worker processes for ``executor="threads"`` or ``"local"`` (default: all
        cores); for other executors the
        number used to balance the chunks (default: the executor's own).
    meta
        Caller's configuration (e.g. ``T, N, dt``); part of the fingerprint checked on resume,
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
        ``astrofield_version``, ``sweep_chunk_size``, ``sweep_points``, ``sweep_executor``
        (``"serial"``, ``"threads"``, ``"dask"`` or ``"futures"``), ``sweep_workers``,
        ``sweep_wall_s``,
        ``sweep_fingerprint`` and the ``meta`` entries.
    """
    t0 = time.perf_counter()
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a Grid (see make_grid), got {type(grid).__name__}")
    chunk_size = check_int("chunk_size", chunk_size, 1)
    kind, n_workers = _executor_kind(executor, workers)
    manifest = _manifest(grid, chunk_size, meta, grid.balanced_chunks(chunk_size, n_workers))
    st = None if store is None else _open_store(store, resume, manifest, grid)
    if isinstance(st, xr.Dataset):
        return st
    chunks = manifest["chunks"] if st is None else st.chunks
    chunks = [tuple(c) for c in chunks]
    done: dict[int, Any] = {} if st is None else dict(st.done)
    _compute(func, grid, chunks, done, st, executor, kind, n_workers, progress, on_chunk)
    result = _merge(grid, chunks, done)
    _annotate(result, grid, meta, manifest, chunk_size, kind, n_workers,
              time.perf_counter() - t0)
    if finalize is not None:
        result = finalize(result)
    if st is not None:
        result.attrs["sweep_fingerprint"] = st.fingerprint
        save(result, st.path)
        if not keep_parts:
            st.remove()
    return result


def _compute(func: Callable, grid: Grid, chunks: list[tuple[int, int]], done: dict[int, Any],
             st: _Store | None, executor: Any, kind: str, n_workers: int,
             progress: bool | None, on_chunk: Callable | None) -> None:
    """Run every chunk not in ``done`` and record it there (and in the store, at once)."""
    todo = [(i, c) for i, c in enumerate(chunks) if i not in done]
    n_done = sum(b - a for i, (a, b) in enumerate(chunks) if i in done)
    from tqdm.auto import tqdm  # imported when a sweep runs: it is slow to import

    bar = tqdm(total=grid.size, initial=n_done, unit="pt", disable=progress is False,
               desc="sweep", smoothing=0.1, dynamic_ncols=True)

    def task(a: int, b: int) -> tuple[Any, ...]:
        return (_call_chunk, func, {**grid.points(a, b), **grid.fixed}, b - a)

    def finish(i: int, ds: xr.Dataset) -> None:
        a, b = chunks[i]
        ds = ds.assign_coords(point=np.arange(a, b))
        if st is not None:
            _save_chunk(ds, _chunk_path(st.parts, i), st.fingerprint, i, a, b)
            st.record(_chunk_path(st.parts, i))
            done[i] = _chunk_path(st.parts, i)
        else:
            done[i] = ds
        bar.update(b - a)
        if on_chunk is not None:
            on_chunk(i, ds)

    try:
        if kind == "serial" or not todo:
            for i, (a, b) in todo:
                fn, *args = task(a, b)
                finish(i, fn(*args))
            return
        runner = _Runner(executor, n_workers)
        try:
            runner.run(todo, task, 2 * n_workers, finish)
        finally:
            runner.close()
    finally:
        bar.close()


def _annotate(result: xr.Dataset, grid: Grid, meta: Mapping[str, Any] | None,
              manifest: dict[str, Any], chunk_size: int, kind: str, workers: int,
              wall: float) -> None:
    result.attrs.update({f"param_{k}": v for k, v in grid.fixed.items()})
    # NetCDF has no boolean attributes: store flags as 0/1 so ``ds.to_netcdf`` works as is
    result.attrs.update({k: (int(v) if isinstance(v, (bool, np.bool_)) else v)
                         for k, v in (meta or {}).items()
                         if isinstance(v, (int, float, str, np.number, np.bool_))})
    result.attrs.update({"astrofield_version": __version__, "sweep_chunk_size": chunk_size,
                         "sweep_points": grid.size, "sweep_dims": " ".join(grid.dims),
                         "sweep_executor": kind, "sweep_workers": workers,
                         "sweep_fingerprint": manifest["fingerprint"],
                         "sweep_manifest": json.dumps(manifest, sort_keys=True),
                         "sweep_wall_s": wall})


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
    ds.attrs.update({k: v for k, v in first.attrs.items()  # a part's history is not the map's
                     if not k.startswith(("chunk_", "sweep_fingerprint", "history"))})
    return ds
