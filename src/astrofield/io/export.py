"""Export datasets to MATLAB (``.mat``) and to tidy tables (``.csv``), written atomically.

``.mat`` (:func:`to_matlab`, through :func:`scipy.io.savemat`, MATLAB 5 format, compressed):
every data variable and coordinate becomes a MATLAB variable of the same name (characters
other than letters, digits and ``_`` replaced by ``_``), with its dimensions in the NetCDF
order; 1-D arrays are columns; booleans become ``uint8`` 0/1; text arrays become cell arrays.
Two structs carry the metadata: ``attrs`` (the dataset's attributes: parameters, scheme,
version, ``history``) and ``meta`` (per variable: ``dims``, ``units``, ``long_name``).
In MATLAB::

    s = load('run.mat');  plot(s.time, s.position);  s.meta.position.units

``.csv`` (:func:`to_table`): one row per point of the table's dimensions (e.g. ``time`` for a
run's traces, the swept parameters for a phase map), one column per coordinate and per
variable on exactly those dimensions; lines starting with ``#`` above the header give the
package version, the scalar results (e.g. ``drift``) and each column's units and long name.
In pandas: ``pd.read_csv("run.csv", comment="#")``; in MATLAB:
``readtable('run.csv', 'CommentStyle', '#')``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from astrofield.io.files import atomic_write

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["to_matlab", "to_table", "table_dims", "EXPORT_SUFFIXES"]

#: Suffixes (lower case, no dot) with an exporter, and the format each writes.
EXPORT_SUFFIXES = {"mat": "MATLAB 5 (.mat)", "csv": "CSV table"}


def _name(key: str) -> str:
    """A valid MATLAB identifier for ``key`` (letters first, at most 63 characters)."""
    out = re.sub(r"\W", "_", str(key))
    if not out or not out[0].isalpha():
        out = "v_" + out
    return out[:63]


def _matlab_value(values: np.ndarray) -> Any:
    arr = np.asarray(values)
    if arr.dtype.kind == "b":
        return arr.astype(np.uint8)
    if arr.dtype.kind in "OUS":
        cells = np.empty(arr.shape, dtype=object)
        for idx in np.ndindex(arr.shape):
            cells[idx] = str(arr[idx])
        return cells
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[s]").astype(str).astype(object)
    return arr


def _attr_value(v: Any) -> Any:
    if isinstance(v, (str, bytes)):
        return str(v)
    arr = np.asarray(v)
    return str(v) if arr.dtype.kind == "O" else arr


def to_matlab(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` as a MATLAB ``.mat`` file (see the module docstring for the layout).

    Parameters
    ----------
    ds
        Any dataset (a run, a phase map, a branch, ...).
    path
        Output file (written atomically: a temporary file renamed into place).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from scipy.io import savemat

    mdict: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for key, var in ds.variables.items():
        name = _name(key)
        mdict[name] = _matlab_value(var.values)
        meta[name] = {"dims": np.array([str(d) for d in var.dims], dtype=object),
                      "units": str(var.attrs.get("units", "")),
                      "long_name": str(var.attrs.get("long_name", ""))}
    mdict["attrs"] = {_name(k): _attr_value(v) for k, v in ds.attrs.items()}
    mdict["meta"] = meta

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            savemat(fh, mdict, do_compression=True, long_field_names=True, oned_as="column")

    return atomic_write(path, write)


def table_dims(ds: xr.Dataset) -> tuple[str, ...]:
    """The dimensions of the table :func:`to_table` writes by default: those of the variables
    without an ``x`` (or ``y``) axis that have the most dimensions (fields on the grid are left
    out: a run's traces, a map's points)."""
    candidates = [v.dims for v in ds.data_vars.values()
                  if not set(v.dims) & {"x", "y"} and v.dims]
    if not candidates:
        raise ValueError("the dataset has no variable for a table (every one is on the grid "
                         "or a scalar)")
    best = max(len(d) for d in candidates)
    choices = [d for d in candidates if len(d) == best]
    return max(set(choices), key=choices.count)


def to_table(ds: xr.Dataset, path: str | os.PathLike, dims: tuple[str, ...] | None = None
             ) -> Path:
    """Write the variables of ``ds`` on ``dims`` as a tidy CSV table.

    Parameters
    ----------
    ds
        Any dataset.
    path
        Output file (``.csv``; written atomically).
    dims
        The table's dimensions (default :func:`table_dims`); variables on exactly these
        dimensions become columns, scalar variables become ``#`` header lines.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        If ``dims`` are not dimensions of ``ds`` or no variable lies on them.
    """
    dims = table_dims(ds) if dims is None else tuple(dims)
    missing = [d for d in dims if d not in ds.dims]
    if missing:
        raise ValueError(f"dims = {dims!r}: {missing} are not dimensions of the dataset "
                         f"{tuple(ds.dims)}")
    cols = [k for k, v in ds.data_vars.items() if set(v.dims) == set(dims)]
    if not cols:
        raise ValueError(f"no variable lies on exactly the dimensions {dims!r}")
    frame = ds[cols].transpose(*dims).to_dataframe()
    frame = frame[[c for c in frame.columns if c in cols or c in ds.coords]]
    header = _table_header(ds, list(frame.reset_index().columns))

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(header)
            frame.to_csv(fh)

    return atomic_write(path, write)


def _table_header(ds: xr.Dataset, columns: list[str]) -> str:
    from astrofield._version import __version__

    lines = [f"# astrofield {__version__} table; read with comment='#'"]
    for k in ("Conventions", "scheme", "firing", "kernel"):
        if k in ds.attrs:
            lines.append(f"# {k}: {ds.attrs[k]}")
    for k, v in ds.data_vars.items():
        if v.ndim == 0:
            units = v.attrs.get("units", "")
            lines.append(f"# {k} = {v.values.item()!r} ({units})")
    for c in columns:
        if c in ds.variables:
            a = ds[c].attrs
            lines.append(f"# column {c}: units {a.get('units', '?')}; "
                         f"{a.get('long_name', '')}")
    return "\n".join(lines) + "\n"
