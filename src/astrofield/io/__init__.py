"""Input/output: NetCDF files (h5netcdf engine) written atomically, safe output paths, JSON.

:func:`save` checks the output path first (:func:`check_output_path`: a regular file or a new
path with a known suffix, never a device or directory; symbolic links only where safe), writes
to a temporary file in the target's directory and renames it into place with :func:`os.replace`,
so an interrupted run never leaves a half-written output file. :mod:`astrofield.io.jsonio` holds
the package's JSON convention (``"inf"`` strings, never NaN as a number); :mod:`astrofield.io.cf`
the CF-1.10 metadata every written file gets (``Conventions``, ``history``, units, flags).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from astrofield.io.files import atomic_write, check_output_path
from astrofield.io.jsonio import dumps as json_dumps

if TYPE_CHECKING:  # xarray is imported where it is used: the command line starts faster
    import xarray as xr

__all__ = ["save", "load", "atomic_write", "check_output_path", "json_dumps",
           "NETCDF_SUFFIXES", "OUTPUT_SUFFIXES"]

#: File suffixes (lower case, no dot) written as NetCDF-4 (HDF5) by :func:`save`.
NETCDF_SUFFIXES = ("nc", "nc4", "netcdf", "h5", "hdf5", "cdf")
#: Every suffix :func:`save` accepts: NetCDF, MATLAB (``mat``) and CSV tables (``csv``).
OUTPUT_SUFFIXES = NETCDF_SUFFIXES + ("mat", "csv")


def _clean_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Make attributes NetCDF-safe (None -> "none", bool -> int, nested -> JSON)."""
    out = {}
    for k, v in attrs.items():
        if v is None:
            v = "none"
        elif isinstance(v, (bool, np.bool_)):
            v = int(v)
        elif isinstance(v, (dict, list, tuple)) and not (
            isinstance(v, (list, tuple)) and all(isinstance(e, (int, float)) for e in v)
        ):
            v = json_dumps(v, nan="null")
        out[k] = v
    return out


def save(ds: xr.Dataset, path: str | os.PathLike, *, command: str | None = None) -> Path:
    """Write ``ds`` atomically, with CF-1.10 metadata: NetCDF (h5netcdf), or by the suffix
    ``.mat`` MATLAB (:func:`astrofield.io.export.to_matlab`) or ``.csv`` a tidy table
    (:func:`astrofield.io.export.to_table`).

    Parameters
    ----------
    ds
        The dataset; attributes that NetCDF cannot hold (``None``, booleans, nested
        containers) are stored as ``"none"``, integers and JSON strings. The file gets
        ``Conventions = "CF-1.10"`` and a line appended to ``history``; the metadata rules
        are applied (:func:`astrofield.io.cf.finalize`). ``ds`` itself is not changed.
    path
        Output file; missing parent directories are created. ``.mat``: MATLAB, ``.csv``: a
        table; ``.nc``, ``.nc4``, ``.netcdf``, ``.h5``, ``.hdf5``, ``.cdf``: NetCDF
        (:data:`OUTPUT_SUFFIXES`); any other suffix is refused.
    command
        What made the dataset, for the ``history`` line; None: the running ``astrofield``
        command line with the options given, or ``"astrofield.io.save (Python)"``.

    Returns
    -------
    pathlib.Path
        The path written (a symbolic link's target).

    Raises
    ------
    ValueError
        Before writing, if ``path`` is a directory, a device, read-only, in an unwritable
        directory, a refused symbolic link (see :func:`check_output_path`) or has a suffix
        not in :data:`OUTPUT_SUFFIXES`.
    """
    import xarray as xr

    if not isinstance(ds, xr.Dataset):
        raise ValueError(f"ds must be an xarray.Dataset, got {type(ds).__name__}")
    from astrofield.io.cf import finalize

    check_output_path(path, make_parents=True, suffixes=OUTPUT_SUFFIXES)
    ds = finalize(ds, command)
    ds.attrs = _clean_attrs(ds.attrs)
    for v in ds.variables.values():
        v.attrs = _clean_attrs(v.attrs)
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix == "mat":
        from astrofield.io.export import to_matlab

        return to_matlab(ds, path)
    if suffix == "csv":
        from astrofield.io.export import to_table

        return to_table(ds, path)
    return atomic_write(path, lambda tmp: _to_netcdf(ds, tmp))


def _to_netcdf(ds: xr.Dataset, tmp: str | os.PathLike) -> None:
    """``ds.to_netcdf(tmp)`` (h5netcdf); if it fails, the half-written file is abandoned.

    A write that fails inside HDF5 (a full disk: ``ENOSPC``, a file-size limit) leaves the
    h5netcdf file object open with an invalid HDF5 handle; touching it again (its close at
    interpreter exit flushes) crashed the process with a segmentation fault after the error
    had been reported. The file is discarded anyway (:func:`atomic_write` removes it), so it
    is marked closed without a flush.
    """
    try:
        ds.to_netcdf(tmp, engine="h5netcdf")
    except BaseException:
        _abandon_open_files(tmp)
        raise


def _abandon_open_files(path: str | os.PathLike) -> None:
    """Mark every open ``h5netcdf.File`` of ``path`` closed without touching HDF5 (see
    :func:`_to_netcdf`); only attributes that h5netcdf sets in Python are read."""
    import gc

    try:
        from h5netcdf import File
    except ImportError:  # pragma: no cover - h5netcdf is a dependency
        return
    name = os.fspath(path)
    for obj in gc.get_objects():  # type(): isinstance would dereference weak proxies
        if issubclass(type(obj), File) and not getattr(obj, "_closed", True) and \
                os.fspath(getattr(obj, "_filename", "")) == name:
            obj._closed = True


def load(path: str | os.PathLike) -> xr.Dataset:
    """Read a dataset written by :func:`save` fully into memory."""
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
