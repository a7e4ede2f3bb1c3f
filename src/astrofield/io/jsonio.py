"""The package's JSON convention (command-line ``--json`` output, manifests, NetCDF attributes).

* Always valid JSON: :func:`json.dumps` runs with ``allow_nan=False``.
* Infinity is written as the strings ``"inf"`` and ``"-inf"`` (e.g. ``"D": "inf"``);
  :func:`from_json_number` reads them back.
* NaN is never written as a number. :func:`dumps` raises on NaN by default; with
  ``nan="null"`` a NaN becomes ``null`` *and* its location is reported, so a caller can add an
  explicit flag (the command line lists such keys under ``"undefined"``).
* numpy scalars and arrays, tuples, paths and complex numbers (as ``[re, im]``) are converted.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["to_jsonable", "dumps", "json_number", "from_json_number"]


def json_number(x: Any) -> float | str | None:
    """A float in the JSON convention: finite -> float, +-inf -> ``"inf"``/``"-inf"``, NaN -> None.
    """
    v = float(x)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def from_json_number(v: Any) -> float:
    """Inverse of :func:`json_number` for numbers and the strings ``"inf"``/``"-inf"``."""
    if isinstance(v, str) and v.strip().lower() in ("inf", "+inf", "-inf"):
        return -math.inf if v.strip().startswith("-") else math.inf
    if v is None or isinstance(v, bool):
        raise ValueError(f"{v!r} is not a number in the JSON convention")
    return float(v)


def to_jsonable(obj: Any, undefined: list[str] | None = None, path: str = "") -> Any:
    """Convert ``obj`` to plain JSON types following the convention above.

    Parameters
    ----------
    obj
        Nested dicts, lists, tuples, numpy arrays/scalars, numbers, strings, paths, None.
    undefined
        If given, the locations (``"key"``, ``"key[3]"``, ``"a.b"``) of NaN values are appended.
    path
        Location prefix of ``obj`` (used in recursion).
    """
    if obj is None or isinstance(obj, (str, bool, np.bool_)):
        return bool(obj) if isinstance(obj, np.bool_) else obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = json_number(obj)
        if v is None and undefined is not None:
            undefined.append(path or "value")
        return v
    if isinstance(obj, (complex, np.complexfloating)):
        return [to_jsonable(obj.real, undefined, path + "[re]"),
                to_jsonable(obj.imag, undefined, path + "[im]")]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v, undefined, f"{path}.{k}" if path else str(k))
                for k, v in obj.items()}
    if hasattr(obj, "values") and hasattr(obj, "dims"):  # xarray DataArray / Variable
        obj = obj.values
    if isinstance(obj, np.ndarray):
        if obj.ndim == 0:
            return to_jsonable(obj[()], undefined, path)
        return [to_jsonable(v, undefined, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v, undefined, f"{path}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(f"{path or 'value'}: cannot write {type(obj).__name__} {obj!r} as JSON")


def dumps(obj: Any, *, nan: str = "error", **kw: Any) -> str:
    """Serialise ``obj`` as valid JSON (``allow_nan=False``; infinities as ``"inf"``).

    Parameters
    ----------
    obj
        Anything :func:`to_jsonable` accepts.
    nan
        ``"error"``: a NaN anywhere raises :class:`ValueError` naming its location;
        ``"null"``: NaN becomes ``null`` (see :func:`to_jsonable` to learn where).
    **kw
        Passed to :func:`json.dumps` (``indent``, ``sort_keys``, ...).
    """
    if nan not in ("error", "null"):
        raise ValueError(f"nan = {nan!r} is not one of ('error', 'null')")
    undefined: list[str] = []
    clean = to_jsonable(obj, undefined)
    if undefined and nan == "error":
        raise ValueError(f"NaN at {', '.join(undefined[:5])}"
                         f"{' ...' if len(undefined) > 5 else ''}; refusing to write it as JSON")
    return json.dumps(clean, allow_nan=False, **kw)
