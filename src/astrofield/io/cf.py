"""CF-1.10 metadata of the package's NetCDF outputs (one place for the conventions).

The rules every written dataset follows (applied by :func:`astrofield.io.save`, see
:func:`finalize`; the builders give the specific metadata of their variables):

* every data variable and coordinate has ``units`` (a UDUNITS-2 string) and a short
  ``long_name`` (at most :data:`MAX_LONG_NAME` characters, a label for a plot axis or colour
  bar); a longer explanation goes to ``description``;
* **time is dimensionless**, measured in neural time constants (the model's ``u_t = -u + ...``
  has unit time constant). Its units are therefore ``"1"`` (:data:`TIME_UNITS`) and its
  ``long_name`` says ``"time (neural time constants)"``; a rate per unit of this time has the
  units of the quantity itself (a velocity on the ring is in ``"rad"``, :data:`RATE_UNITS`,
  with a ``description`` saying "per neural time constant"). Positions and widths on the ring
  are in ``"rad"``, the diffusion coefficient ``D`` in ``"rad2"``, every other model parameter
  and field is ``"1"``;
* flags are CF flags: ``flag_values`` a numeric array of the variable's (stored) dtype and
  ``flag_meanings`` as many space-separated words. Booleans are stored by xarray as ``int8``
  (with ``dtype = "bool"`` so that xarray reads them back as booleans); they get
  ``flag_values = [0, 1]`` (``int8``) and ``flag_meanings`` (``"false true"`` unless the builder
  gives better words);
* the dataset has ``Conventions = "CF-1.10"`` and a ``history`` attribute: one line per save,
  ``ISO-8601 UTC timestamp: command (astrofield VERSION)``, appended to the lines already there
  when a loaded file is saved again;
* the ``seed`` attribute is an integer: the seed of the noise generator, or :data:`NO_SEED`
  (``-1``) when nothing random was drawn (a deterministic run or map) or the noise was unseeded;
  ``seed_description`` says which (:func:`seed_attrs`).
"""

from __future__ import annotations

import datetime as _dt
import re
import shlex
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from astrofield._version import __version__

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["CONVENTIONS", "TIME_UNITS", "RATE_UNITS", "NO_SEED", "MAX_LONG_NAME", "COMMON",
           "LEGACY_UNITS",
           "time_attrs", "rate_attrs", "flag_attrs", "seed_attrs", "finalize", "history_line",
           "annotate", "problems", "udunits_ok", "index_attrs"]

#: The ``Conventions`` attribute of every written file.
CONVENTIONS = "CF-1.10"
#: Units of time: dimensionless, in neural time constants.
TIME_UNITS = "1"
#: Units of a velocity on the ring: radians per (dimensionless) time unit.
RATE_UNITS = "rad"
#: The ``seed`` of a dataset when nothing random was drawn or the noise was unseeded.
NO_SEED = -1
#: The longest ``long_name`` (longer explanations go to ``description``).
MAX_LONG_NAME = 40

_PER_TIME = "per neural time constant (time is dimensionless)"

#: ``name -> attrs`` for the names shared by several datasets (coordinates, parameters); used by
#: :func:`finalize` for variables that have no ``units`` or ``long_name`` of their own.
COMMON: dict[str, dict[str, str]] = {
    "time": {"units": TIME_UNITS, "long_name": "time (neural time constants)"},
    "x": {"units": "rad", "long_name": "position on the ring"},
    "batch": {"units": "1", "long_name": "batch member"},
    "point": {"units": "1", "long_name": "point index"},
    "theta": {"units": "1", "long_name": "firing threshold theta"},
    "beta": {"units": "1", "long_name": "depletion rate beta",
             "description": "depletion rate per unit firing, " + _PER_TIME},
    "gamma": {"units": "1", "long_name": "replenishment rate gamma",
              "description": "replenishment rate by the astrocytes, " + _PER_TIME},
    "tau": {"units": "1", "long_name": "resource time scale tau",
            "description": "time scale of the resource equations, in neural time constants"},
    "D": {"units": "rad2", "long_name": "astrocytic diffusion D",
          "description": "diffusion coefficient of the astrocytic resource, rad2 " + _PER_TIME},
    "steepness": {"units": "1", "long_name": "sigmoid steepness"},
    "bump_Delta": {"units": "rad", "long_name": "bump half-width Delta",
                   "description": "half-width of the initial (theory) bump's active region"},
    "bump_c0": {"units": "1", "long_name": "bump resource level c0",
                "description": "resource level of the initial (theory) bump"},
    "bump_A0": {"units": "1", "long_name": "bump amplitude A0",
                "description": "amplitude of the initial (theory) bump"},
}
for _k in ("theta", "beta", "gamma", "D"):  # the per-point parameters of a phase map
    COMMON[f"{_k}_p"] = dict(COMMON[_k])


#: Unit strings of older outputs (and of builders not yet converted) that UDUNITS-2 cannot parse
#: or that hide the dimensionless time: ``old -> new``; :func:`finalize` replaces them and keeps
#: the old text in ``description``.
LEGACY_UNITS: dict[str, str] = {
    "rad per unit time": RATE_UNITS, "rad/time": RATE_UNITS, "rad / time": RATE_UNITS,
    "1/time": "1", "1 / time": "1", "neural time constants": TIME_UNITS,
    "model time units": TIME_UNITS, "resource per model time unit": "1",
    "rad^2": "rad2", "rad^2 per time unit": "rad2", "1/s": "s-1", "1/s^2": "s-2",
    "1 (fraction of baseline; x100 for per cent)": "1",
}


def time_attrs(long_name: str = "time (neural time constants)", **extra: str) -> dict[str, str]:
    """Attributes of a (dimensionless) time variable.

    Parameters
    ----------
    long_name
        Short label (at most :data:`MAX_LONG_NAME` characters).
    **extra
        Further attributes (``description``).

    Returns
    -------
    dict
        ``units`` :data:`TIME_UNITS`, ``long_name`` and ``extra``.
    """
    return {"units": TIME_UNITS, "long_name": long_name, **extra}


def rate_attrs(long_name: str, description: str = "") -> dict[str, str]:
    """Attributes of a velocity on the ring (radians per neural time constant).

    Parameters
    ----------
    long_name
        Short label.
    description
        Longer explanation; "rad per neural time constant" is added.

    Returns
    -------
    dict
        ``units`` :data:`RATE_UNITS`, ``long_name``, ``description``.
    """
    what = "rad " + _PER_TIME
    return {"units": RATE_UNITS, "long_name": long_name,
            "description": f"{description}; {what}" if description else what}


def flag_attrs(long_name: str, values: Any, meanings: str | list[str], dtype: Any = np.int8,
               **extra: str) -> dict[str, Any]:
    """CF flag attributes: numeric ``flag_values`` and space-separated ``flag_meanings``.

    Parameters
    ----------
    long_name
        Short label.
    values
        The flag values.
    meanings
        One word per value (a list, or a space-separated string).
    dtype
        The variable's stored dtype (``int8`` for booleans, which NetCDF stores as ``int8``).
    **extra
        Further attributes (``description``).

    Returns
    -------
    dict
        ``units`` ``"1"``, ``long_name``, ``flag_values``, ``flag_meanings`` and ``extra``.

    Raises
    ------
    ValueError
        If the number of meanings differs from the number of values.
    """
    vals = np.asarray(values, dtype=dtype)
    words = meanings.split() if isinstance(meanings, str) else list(meanings)
    if len(words) != vals.size:
        raise ValueError(f"{vals.size} flag values but {len(words)} meanings")
    return {"units": "1", "long_name": long_name, "flag_values": vals,
            "flag_meanings": " ".join(words), **extra}


def seed_attrs(seed: int | None, noisy: bool) -> dict[str, Any]:
    """The ``seed`` and ``seed_description`` attributes (one convention for runs and maps).

    Parameters
    ----------
    seed
        The noise generator's seed (None: unseeded).
    noisy
        Whether any noise was drawn.

    Returns
    -------
    dict
        ``seed`` (an int, :data:`NO_SEED` when not reproducible from a seed or nothing random
        was drawn) and ``seed_description``.
    """
    if not noisy:
        return {"seed": NO_SEED, "seed_description": "deterministic: no noise, no seed used"}
    if seed is None:
        return {"seed": NO_SEED,
                "seed_description": "unseeded noise (operating-system entropy; not reproducible)"}
    return {"seed": int(seed), "seed_description": "seed of numpy.random.default_rng (noise)"}


def _command() -> str:
    """The command that is writing: the running ``astrofield`` command line, else the API."""
    click = sys.modules.get("click")
    ctx = click.get_current_context(silent=True) if click is not None else None
    if ctx is None:
        return "astrofield.io.save (Python)"
    words = ["astrofield", *ctx.command_path.split()[1:]]  # the program name may differ
    source = getattr(click.core, "ParameterSource", None)
    for p in ctx.command.params:
        if not p.name or not getattr(p, "opts", None) or p.name not in ctx.params:
            continue
        if source is not None and ctx.get_parameter_source(p.name) in (source.DEFAULT, None):
            continue
        val = ctx.params[p.name]
        if val is None or val == () or val is False:
            continue
        if getattr(p, "is_flag", False):
            words.append(p.opts[0] if val else (p.secondary_opts or p.opts)[0])
            continue
        for v in (val if isinstance(val, (list, tuple)) and getattr(p, "multiple", False)
                  else [val]):
            if isinstance(p, click.Argument):
                words.append(str(v))
            else:
                words += [p.opts[-1], str(v)]
    return shlex.join(words)


def history_line(command: str | None = None) -> str:
    """One ``history`` line: ``ISO-8601 UTC timestamp: command (astrofield VERSION)``.

    Parameters
    ----------
    command
        What made the file; None: the running ``astrofield`` command with the options given
        (or ``"astrofield.io.save (Python)"`` outside the command line).

    Returns
    -------
    str
        The line (no newline).
    """
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    now = now.replace("+00:00", "Z")
    return f"{now}: {command or _command()} (astrofield {__version__})"


def finalize(ds: xr.Dataset, command: str | None = None) -> xr.Dataset:
    """Give a dataset about to be written its CF-1.10 metadata (on a shallow copy).

    Adds ``Conventions``, appends a :func:`history_line`, fills ``units``/``long_name`` of the
    shared names from :data:`COMMON` (and of a tracker's ``time_NAME``) where missing, replaces
    the :data:`LEGACY_UNITS`, moves a
    ``long_name`` longer than :data:`MAX_LONG_NAME` characters to ``description`` (the name is
    then used as label), gives booleans CF flag attributes, and converts a string
    ``flag_values`` to numbers.

    Parameters
    ----------
    ds
        The dataset.
    command
        For the history line (see :func:`history_line`).

    Returns
    -------
    xarray.Dataset
        A shallow copy with the metadata.
    """
    ds = ds.copy()
    ds.attrs = dict(ds.attrs)
    ds.attrs["Conventions"] = CONVENTIONS
    line = history_line(command)
    old = ds.attrs.get("history")
    ds.attrs["history"] = f"{old}\n{line}" if isinstance(old, str) and old.strip() else line
    for name, var in ds.variables.items():
        attrs = dict(var.attrs)
        shared = COMMON.get(str(name))
        if shared is None and str(name).startswith("time_"):  # a tracker's sample times
            shared = time_attrs(f"time of the {str(name)[5:]} samples"[:MAX_LONG_NAME])
        for k, v in (shared or {}).items():
            attrs.setdefault(k, v)
        old_units = attrs.get("units")
        if isinstance(old_units, str) and old_units in LEGACY_UNITS:
            attrs["units"] = LEGACY_UNITS[old_units]
            note = f"units: {old_units}" + (" (time is dimensionless, in neural time "
                                            "constants)" if "time" in old_units else "")
            attrs["description"] = (f"{attrs['description']}; {note}" if attrs.get("description")
                                    else note)
        long = attrs.get("long_name")
        if isinstance(long, str) and len(long) > MAX_LONG_NAME:
            attrs.setdefault("description", long)
            attrs["long_name"] = str(name).replace("_", " ")
        if var.dtype == bool:
            attrs.setdefault("units", "1")
            attrs.setdefault("flag_values", np.array([0, 1], np.int8))
            attrs.setdefault("flag_meanings", "false true")
        fv = attrs.get("flag_values")
        if isinstance(fv, str):
            store = np.int8 if var.dtype == bool else var.dtype
            attrs["flag_values"] = np.array([int(s) for s in fv.replace(",", " ").split()],
                                            dtype=store)
        var.attrs = attrs
        if name in ds.dims:  # CF: coordinate variables have no missing values
            var.encoding = {**var.encoding, "_FillValue": None}
    return ds


#: Unit symbols the package writes (UDUNITS-2 names): dimensionless, radian, second, metre.
_SYMBOLS = ("1", "rad", "s", "m")
_FACTOR = re.compile(r"^(1|rad|s|m)(\^?-?[1-9]\d*)?$")


def udunits_ok(units: str) -> bool:
    """Whether ``units`` is in the subset of the UDUNITS-2 grammar the package writes.

    A product of the symbols ``1``, ``rad``, ``s``, ``m`` with optional integer exponents
    (``rad2``, ``s-1``, ``s^-2``), factors separated by a space or ``.``, and at most one
    ``/`` (``rad/s``). Every string accepted here is valid UDUNITS-2 (a subset, not the whole
    grammar: a checker for the package's own outputs).
    """
    if not isinstance(units, str) or not units.strip():
        return False
    parts = units.split("/")
    if len(parts) > 2:
        return False
    return all(f and all(_FACTOR.match(x) for x in re.split(r"[ .]", f.strip()))
               for f in parts)


def index_attrs(long_name: str, **extra: str) -> dict[str, str]:
    """Attributes of an index coordinate (trial, parameter set, point): units ``"1"``."""
    return {"units": "1", "long_name": long_name, **extra}


def annotate(ds: xr.Dataset, attrs: dict[str, dict[str, Any]] | None = None,
             **dataset_attrs: Any) -> xr.Dataset:
    """Give a dataset its CF-1.10 metadata where it is built (in place; returns ``ds``).

    Per variable: the builder's ``attrs[name]`` (they win), then :data:`COMMON` for the shared
    names (coordinates, parameters) where missing; booleans get CF flags (``flag_values``
    ``[0, 1]`` as ``int8``, ``flag_meanings`` ``"false true"``) unless the builder gave
    better words. The dataset gets ``Conventions`` and ``dataset_attrs``. Nothing is guessed
    or rewritten: :func:`problems` lists what is still missing (the tests require none);
    :func:`finalize` (at save time) adds the ``history`` line.

    Parameters
    ----------
    ds
        The dataset.
    attrs
        ``name -> attrs`` of its variables and coordinates.
    **dataset_attrs
        Dataset attributes (parameters, ``seed`` from :func:`seed_attrs`, ...).

    Returns
    -------
    xarray.Dataset
        ``ds``.
    """
    attrs = attrs or {}
    for name, var in ds.variables.items():
        a = {**COMMON.get(str(name), {}), **dict(var.attrs), **attrs.get(str(name), {})}
        if var.dtype == bool:
            a.setdefault("units", "1")
            a.setdefault("flag_values", np.array([0, 1], np.int8))
            a.setdefault("flag_meanings", "false true")
        var.attrs = a
    ds.attrs.update(dataset_attrs)
    ds.attrs["Conventions"] = CONVENTIONS
    return ds


def problems(ds: xr.Dataset) -> list[str]:
    """The package's CF rules checked on an in-memory dataset; returns what breaks them.

    Every variable and coordinate (but text labels' units): ``units`` that :func:`udunits_ok`
    accepts, a ``long_name`` of 1 to :data:`MAX_LONG_NAME` characters; flags: numeric
    ``flag_values`` (``int8`` for booleans, else the variable's dtype), as many distinct values
    as ``flag_meanings`` words; booleans flagged. Dataset: ``Conventions``, an integer
    ``seed`` with ``seed_description``, ``scheme`` and ``astrofield_version``.
    """
    out = []
    for name, var in ds.variables.items():
        a = var.attrs
        if var.dtype.kind not in "OUS" and not udunits_ok(a.get("units", "")):
            out.append(f"{name}: units {a.get('units')!r}")
        ln = a.get("long_name")
        if not isinstance(ln, str) or not 0 < len(ln) <= MAX_LONG_NAME:
            out.append(f"{name}: long_name {ln!r}")
        if var.dtype == bool and "flag_values" not in a:
            out.append(f"{name}: a boolean without flag_values")
        if "flag_values" in a or "flag_meanings" in a:
            fv = np.asarray(a.get("flag_values"))
            store = np.dtype(np.int8) if var.dtype == bool else var.dtype
            words = str(a.get("flag_meanings", "")).split()
            if fv.dtype.kind not in "iu" or fv.dtype != store or len(words) != fv.size \
                    or len(set(fv.tolist())) != fv.size:
                out.append(f"{name}: flags {a.get('flag_values')!r} / {a.get('flag_meanings')!r}")
    g = ds.attrs
    if g.get("Conventions") != CONVENTIONS:
        out.append(f"Conventions {g.get('Conventions')!r}")
    if not isinstance(g.get("seed"), (int, np.integer)) or not g.get("seed_description"):
        out.append(f"seed {g.get('seed')!r} / {g.get('seed_description')!r}")
    out += [f"no {k}" for k in ("scheme", "astrofield_version") if not g.get(k)]
    return out
