"""NetCDF input/output (h5netcdf engine), written atomically.

:func:`save` writes to a temporary file in the destination directory and renames it into place with
:func:`os.replace`, so an interrupted run never leaves a half-written output file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["save", "load", "atomic_write"]


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
            v = json.dumps(v, default=str)
        out[k] = v
    return out


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp_path)`` and then rename ``tmp_path`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to NetCDF (h5netcdf) atomically; returns the path."""
    ds = ds.copy()
    ds.attrs = _clean_attrs(ds.attrs)
    for v in ds.variables.values():
        v.attrs = _clean_attrs(v.attrs)
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))


def load(path: str | os.PathLike) -> xr.Dataset:
    """Read a dataset written by :func:`save` fully into memory."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
