"""The one command-line dialect: shared option types, ``--config``, ``--json``, output checks.

Every command is declared with :func:`command`, which adds

* ``--config FILE.toml`` - defaults from a TOML file whose keys are exactly the option names
  (``kernel-param``, ``pulse``, ``N``, ...), optionally inside a table named after the command;
  unknown keys, wrong types and non-integer counts are usage errors naming the key, and options
  given on the command line win;
* ``--json`` - one JSON object on stdout (see :mod:`astrofield.io.jsonio`); messages and progress
  go to stderr;
* a worked example in the help text (the command's epilog).

Errors: bad input is a usage error (exit status 2) raised before any work; a failure while
computing or writing is exit status 1 with a one-line message; never a traceback.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import importlib.util
import inspect
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import click
import numpy as np

from astrofield._validate import SWEEP_RANGES, parse_number, parse_values

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["FLOAT_INF", "FINITE", "DT", "DT_CHECK", "dt_options", "RENAMED", "step_size",
           "cli_words", "command",
           "api_default", "emit", "guard", "check_plot_path", "output_option", "plot_option",
           "json_option", "quiet_option", "grid_from", "vary_option", "Timer", "progress_for",
           "KERNELS", "firing_kernel_options", "kernel_from_options"]


# ------------------------------------------------------------------------------ types
class Number(click.ParamType):
    """A number parsed by :func:`~astrofield._validate.parse_number`: never NaN, and ``inf`` only
    where ``allow_inf`` (e.g. the diffusion limit ``D = inf``; click's FLOAT accepts both)."""

    def __init__(self, allow_inf: bool) -> None:
        self.allow_inf = allow_inf
        self.name = "float|inf" if allow_inf else "float"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        try:
            return parse_number(value, _pname(param), allow_inf=self.allow_inf)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


FINITE = Number(allow_inf=False)
FLOAT_INF = Number(allow_inf=True)


class TimeStep(click.ParamType):
    """``--dt``: a finite positive number or ``auto`` (the largest step of the step-size rule,
    as ``solve(dt="auto")``)."""

    name = "float|auto"

    def convert(self, value: Any, param: Any, ctx: Any) -> float | str:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        try:
            dt = parse_number(value, _pname(param), allow_inf=False)
        except ValueError as exc:
            self.fail(f"{exc} (or 'auto')", param, ctx)
        if not dt > 0:
            self.fail(f"dt = {dt:g} is outside the allowed range (0, inf) (or 'auto')", param,
                      ctx)
        return dt


DT = TimeStep()
#: Choices of ``--dt-check`` (``solve``'s ``dt_check``).
DT_CHECK = click.Choice(["error", "warn", "off"])
#: The help of ``--dt`` and ``--dt-check``, the same on every command that simulates.
DT_HELP = ("Time step, or 'auto': the largest step of the step-size rule that divides T (and "
           "the command's other time intervals).")
DT_CHECK_HELP = ("A step above the step-size rule: refuse it (error), run it flagged (warn) or "
                 "do not check (off).")


def dt_options(default: Any, help_suffix: str = "") -> Callable:
    """``--dt`` (a step or ``auto``) and ``--dt-check`` (error/warn/off): one definition, the
    same names and help on every command that simulates (``default``: the command's API
    default of ``dt``, e.g. an :class:`api_default`; ``--dt-check`` defaults to ``error``, as
    ``dt_check`` in the API)."""

    def deco(f: Callable) -> Callable:
        f = option("--dt-check", type=DT_CHECK, default="error", help=DT_CHECK_HELP)(f)
        return option("--dt", type=DT, default=default, help=DT_HELP + help_suffix)(f)

    return deco


def _pname(param: Any) -> str:
    if param is None:
        return "value"
    opts = getattr(param, "opts", None) or [param.name]
    return max(opts, key=len)


# ------------------------------------------------------------------------------ defaults
class api_default:  # noqa: N801 - used like a function in option declarations
    """A default read from the signature of a library function (one source for API and CLI).

    ``api_default("astrofield.simulator.integrator:solve", "dt")`` is called by click when the
    default is needed, so the library module is imported only when a command runs (or when
    ``--help`` shows the value).
    """

    def __init__(self, target: str, name: str) -> None:
        self.target, self.name = target, name

    def __call__(self) -> Any:
        mod, _, attr = self.target.partition(":")
        if mod not in sys.modules:  # a literal in the source: no import (start-up time)
            found, value = static_default(mod, attr, self.name)
            if found:
                return value
        obj = getattr(importlib.import_module(mod), attr)
        if isinstance(obj, Mapping):  # a table of defaults
            return obj[self.name]
        if inspect.isclass(obj) and hasattr(obj, "__dataclass_fields__"):
            return obj.__dataclass_fields__[self.name].default
        return inspect.signature(obj).parameters[self.name].default

    def shown(self) -> Any:
        """The value as help texts and the reference page show it (``inf`` as the CLI
        writes it)."""
        value = self()
        return "inf" if isinstance(value, float) and math.isinf(value) else value


@functools.cache
def _module_ast(mod: str) -> ast.Module | None:
    spec = importlib.util.find_spec(mod)  # imports the parent packages (lazy: cheap)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    with open(spec.origin, encoding="utf-8") as fh:
        return ast.parse(fh.read())


def _named(item: ast.Assign | ast.AnnAssign, attr: str) -> bool:
    targets = item.targets if isinstance(item, ast.Assign) else [item.target]
    return any(isinstance(t, ast.Name) and t.id == attr for t in targets)


def _dict_entry(value: ast.expr | None, name: str) -> ast.expr | None:
    """The node of key ``name`` in a ``{...}`` or ``dict(...)`` literal (None otherwise)."""
    if isinstance(value, ast.Dict):
        return next((v for k, v in zip(value.keys, value.values, strict=True)
                     if isinstance(k, ast.Constant) and k.value == name), None)
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and value.func.id == "dict" and not value.args):
        return next((kw.value for kw in value.keywords if kw.arg == name), None)
    return None


def static_default(mod: str, attr: str, name: str) -> tuple[bool, Any]:
    """``(True, value)`` if the default of ``name`` in ``mod:attr`` is a literal in the source
    (a function's parameter, a dataclass field, a key of a module-level dict), else
    ``(False, None)``: then :class:`api_default` imports the module. Reading the source keeps
    ``--help`` and the up-front checks (e.g. a refused ``--dt``) from importing the whole
    application; ``tests/test_cli_dt.py`` checks that every such value equals the imported
    one."""
    tree = _module_ast(mod)
    node = None
    for item in tree.body if tree is not None else ():
        if isinstance(item, ast.FunctionDef) and item.name == attr:
            a = item.args
            pos = a.posonlyargs + a.args
            pairs = list(zip(pos[len(pos) - len(a.defaults):], a.defaults, strict=True))
            pairs += [(k, d) for k, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)
                      if d is not None]
            node = next((d for k, d in pairs if k.arg == name), None)
        elif isinstance(item, ast.ClassDef) and item.name == attr:
            node = next((f.value for f in item.body if isinstance(f, ast.AnnAssign)
                         and isinstance(f.target, ast.Name) and f.target.id == name), None)
        elif isinstance(item, (ast.Assign, ast.AnnAssign)) and _named(item, attr):
            node = _dict_entry(item.value, name)
        if node is not None:
            break
    if node is None:
        return False, None
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, inner = -1.0, node.operand
    else:
        inner = node
    if (isinstance(inner, ast.Attribute) and inner.attr == "inf"
            and isinstance(inner.value, ast.Name) and inner.value.id in ("np", "numpy", "math")):
        return True, sign * math.inf  # np.inf / math.inf (e.g. D = inf)
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


class Option(click.Option):
    """click Option whose help shows the value of an :class:`api_default`."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        if isinstance(self.default, api_default):
            saved = self.default
            self.default = saved.shown()
            try:
                return super().get_help_record(ctx)
            finally:
                self.default = saved
        return super().get_help_record(ctx)


def option(*decls: str, **kw: Any) -> Callable:
    """``click.option`` with :class:`Option` (api defaults shown in help) and show_default."""
    kw.setdefault("cls", Option)
    if "default" in kw and not kw.get("is_flag"):
        kw.setdefault("show_default", True)
    return click.option(*decls, **kw)


# ------------------------------------------------------------------------------ config files
def _config_value(key: str, value: Any, param: click.Parameter) -> Any:
    """Check one config entry against its option's type; returns the value for default_map."""
    def bad(msg: str) -> click.BadParameter:
        return click.BadParameter(f"config key {key!r}: {msg}", param_hint="--config")

    if getattr(param, "multiple", False):
        if isinstance(value, Mapping):  # e.g. kernel-param = {width = 0.6}
            value = [f"{k}={v}" for k, v in value.items()]
        if not isinstance(value, list):
            value = [value]
        return [_config_scalar(key, v, param, bad) for v in value]
    return _config_scalar(key, value, param, bad)


def _config_scalar(key: str, value: Any, param: click.Parameter, bad: Callable) -> Any:
    ptype = param.type
    if getattr(param, "is_flag", False) or isinstance(ptype, click.types.BoolParamType):
        if not isinstance(value, bool):
            raise bad(f"expected true or false, got {value!r}")
        return value
    if isinstance(value, (dict, list, bool)) or value is None:
        raise bad(f"expected a single {ptype.name}, got {value!r}")
    if isinstance(ptype, click.types.IntParamType):
        if not isinstance(value, int):
            raise bad(f"expected an integer, got {value!r}")
    elif isinstance(ptype, (click.types.FloatParamType, Number)):
        if isinstance(value, str) and not getattr(ptype, "allow_inf", False):
            raise bad(f"expected a number, got the string {value!r}")
    elif isinstance(ptype, click.Path) and not isinstance(value, str):
        raise bad(f"expected a file name (a string), got {value!r}")
    elif isinstance(value, float):
        value = "inf" if math.isinf(value) else repr(value)
    elif isinstance(value, int):
        value = str(value)
    try:
        return ptype.convert(value, param, None)
    except click.BadParameter as exc:
        raise bad(exc.message) from None


#: Largest config file read (bytes); a bigger file, a FIFO or a device is refused unread.
CONFIG_LIMIT = 1 << 20
#: Options a config file may set only with ``--allow-config-outputs``: they name files to
#: write or a dask scheduler to connect to (which unpickles what it sends back).
CONFIG_GUARDED = ("output", "plot", "outdir", "executor", "scheduler")
#: ``--scheduler`` values that run in this process or start a local cluster (always allowed;
#: the names of :data:`astrofield.experiments.sweep.EXECUTORS`, not imported: startup time).
_LOCAL_SCHEDULERS = ("threads", "local", "serial")


def _read_config(ctx: click.Context, param: click.Parameter, value: str) -> dict[str, Any]:
    """The TOML table of ``value``: a regular file of at most :data:`CONFIG_LIMIT` bytes."""
    from astrofield.io.files import read_bounded

    try:
        text = read_bounded(value, CONFIG_LIMIT, "config file").decode("utf-8")
        return tomllib.loads(text)
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # TOMLDecodeError: a ValueError
        msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise click.BadParameter(f"cannot read {value!r}: {msg}", ctx, param) from None


def _guarded_keys(cfg: Mapping[str, Any], by_key: Mapping[str, click.Parameter]) -> list[str]:
    """Keys of ``cfg`` that name an output file or a remote scheduler."""
    return sorted(k for k, v in cfg.items() if by_key[k].name in CONFIG_GUARDED
                  and not (by_key[k].name in ("executor", "scheduler")
                           and v in _LOCAL_SCHEDULERS))


def _check_config_outputs(ctx: click.Context) -> None:
    """Refuse config keys in :data:`CONFIG_GUARDED` unless ``--allow-config-outputs``.

    Both eager callbacks (``--config`` and ``--allow-config-outputs``) call this; the check is
    made by whichever runs second, so the options may come in any order.
    """
    meta = ctx.meta
    if "astrofield.allow_config_outputs" not in meta or "astrofield.config_keys" not in meta:
        return
    keys, source = meta["astrofield.config_keys"]
    if keys and not meta["astrofield.allow_config_outputs"]:
        raise click.BadParameter(
            f"{source!r} sets key(s) {', '.join(map(repr, keys))}: a config file may name output "
            "files or a dask scheduler only with --allow-config-outputs (give them on the "
            "command line instead)", ctx, param_hint="--config")


def _allow_config_outputs(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    ctx.meta["astrofield.allow_config_outputs"] = bool(value)
    _check_config_outputs(ctx)
    return value


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Eager callback of ``--config``: TOML file -> ``ctx.default_map`` (checked key by key)."""
    if not value:
        ctx.meta["astrofield.config_keys"] = ([], value)
        return value
    cfg = _read_config(ctx, param, value)
    name = ctx.command.name or ""
    # top-level keys are shared by every command reading the file; the command's own table
    # ([run], [phase], ...) adds to them and wins; other commands' tables are not ours
    table = cfg.get(name) if isinstance(cfg.get(name), dict) else {}
    cfg = {**{k: v for k, v in cfg.items() if not isinstance(v, dict)}, **table}
    if isinstance(ctx.command, Command):
        cfg = ctx.command.renamed_config(cfg)
    by_key: dict[str, click.Parameter] = {}
    for p in ctx.command.params:
        if isinstance(p, click.Option) and p.name not in ("config", "allow_config_outputs"):
            for opt in p.opts + p.secondary_opts:
                by_key[opt.lstrip("-")] = p
    unknown = sorted(k for k in cfg if k not in by_key)
    if unknown:
        raise click.BadParameter(
            f"{value!r}: unknown key(s) {', '.join(map(repr, unknown))}; allowed keys are the "
            f"option names: {', '.join(sorted(_long_keys(by_key)))}", ctx, param)
    ctx.meta["astrofield.config_keys"] = (_guarded_keys(cfg, by_key), value)
    _check_config_outputs(ctx)
    defaults = dict(ctx.default_map or {})
    for key, v in cfg.items():
        p = by_key[key]
        if f"--{key}" in p.secondary_opts and isinstance(v, bool):  # e.g. no-early-stop = true
            v = not v
        defaults[p.name] = _config_value(key, v, p)
    ctx.default_map = defaults
    return value


def _long_keys(by_key: Mapping[str, click.Parameter]) -> list[str]:
    """The config keys of long options (``N``, ``D`` and ``T`` included; not ``-o``, ``-q``)."""
    return [k for k, p in by_key.items() if f"--{k}" in p.opts + p.secondary_opts]


def config_option(f: Callable) -> Callable:
    f = click.option("--allow-config-outputs", is_flag=True, is_eager=True, expose_value=False,
                     callback=_allow_config_outputs,
                     help="Let the --config file set output files (output, plot, outdir) and "
                          "a remote --scheduler address (refused otherwise).")(f)
    return click.option("--config", type=click.Path(dir_okay=False), callback=_load_config,
                        is_eager=True, expose_value=False, metavar="FILE.toml",
                        help="TOML file of option values (a regular file, at most 1 MiB); "
                             "keys are the option names (e.g. kernel-param, N); command-line "
                             "options win.")(f)


# ------------------------------------------------------------------------------ outputs
def _check_output(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from astrofield.io import OUTPUT_SUFFIXES
    from astrofield.io.files import check_output_path

    if value is None:
        return value
    try:
        check_output_path(value, _pname(param), suffixes=OUTPUT_SUFFIXES)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    return value


def check_plot_path(value: str, what: str = "--plot") -> None:
    """Raise ValueError unless ``value`` is a writable path with a matplotlib file format."""
    from matplotlib.backend_bases import FigureCanvasBase

    from astrofield.io.files import check_output_path

    check_output_path(value, what, suffixes=FigureCanvasBase.get_supported_filetypes())


def _check_plot(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return value
    try:
        check_plot_path(value, _pname(param))
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    return value


def output_option(help: str = "Output file (written atomically): NetCDF (.nc, .nc4, .netcdf, "
                                ".h5, .hdf5, .cdf), MATLAB (.mat) or a CSV table (.csv)."
                  ) -> Callable:
    return click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                        callback=_check_output, help=help)


def plot_option(help: str = "Figure file; format from the suffix (png, pdf, svg, ...)."
                ) -> Callable:
    return click.option("--plot", type=click.Path(dir_okay=False), default=None,
                        callback=_check_plot, help=help)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "--summary-json", "as_json", is_flag=True,
                        help="Print the result as one JSON object on stdout (inf as \"inf\"; "
                             "null values listed under \"undefined\").")(f)


def quiet_option(f: Callable) -> Callable:
    return click.option("-q", "--quiet", is_flag=True,
                        help="Hide progress bars and messages on stderr (never the result).")(f)


# ------------------------------------------------------------------------------ model shape
#: Built-in kernels of ``--kernel``.
KERNELS = ["cosine", "gaussian", "mexican_hat", "wizard_hat"]


def firing_kernel_options(f: Callable) -> Callable:
    """``--firing --steepness --kernel --kernel-param``: the model's firing rate and kernel,
    defined once for every command that takes them (``run``, ``phase``, the theory commands);
    :func:`kernel_from_options` turns the last two into a kernel."""
    from astrofield.model.firing import firing_names

    opts = [
        option("--firing", type=click.Choice(firing_names()), default="heaviside",
               help="Firing-rate function (a built-in; your own function: the Python API)."),
        option("--steepness", type=FINITE,
               default=api_default("astrofield.model.definition:Model", "steepness"),
               help="Steepness of the smooth firing rates (sigmoid, threshold_tanh, ...)."),
        option("--kernel", type=click.Choice(KERNELS), default="cosine",
               help="Synaptic connectivity kernel."),
        option("--kernel-param", "kernel_params", multiple=True, metavar="NAME=VALUE",
               help="Kernel parameter, e.g. width=0.6 (gaussian), w_e/s_e/w_i/s_i "
                    "(mexican_hat), amplitude, scale (wizard_hat); repeatable."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def kernel_from_options(kernel: str, kernel_params: tuple[str, ...]) -> Any:
    """The :class:`~astrofield.model.kernels.Kernel` of ``--kernel`` and ``--kernel-param``;
    bad parameters are a usage error (exit 2) naming ``--kernel-param``."""
    from astrofield.cli.run import parse_kernel_params
    from astrofield.model.kernels import make_kernel

    try:
        return make_kernel(kernel, **parse_kernel_params(kernel_params))
    except (TypeError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--kernel-param") from None


# ------------------------------------------------------------------------------ grids
def vary_option(help_names: str = "theta, beta, gamma or D") -> Callable:
    return click.option("--vary", "vary", multiple=True, metavar="NAME=SPEC",
                        help=f"Swept parameter ({help_names}); SPEC is start:stop:count, "
                             "start:stop:count:log, v1,v2,... or one value (inf allowed for D); "
                             "repeatable.")


def grid_from(options: Mapping[str, str], vary: tuple[str, ...], table: Mapping | None = None
              ) -> dict[str, np.ndarray]:
    """Values of each parameter from its option (a SPEC) and ``--vary NAME=SPEC`` (which wins).

    ``table`` defaults to :data:`~astrofield._validate.SWEEP_RANGES`; raises ValueError.
    """
    from astrofield._validate import parse_axis

    table = SWEEP_RANGES if table is None else table
    vals = {k: parse_values(k, v, table) for k, v in options.items()}
    seen: set[str] = set()
    for spec in vary:
        name, values = parse_axis(spec, {k: table[k] for k in options})
        if name in seen:
            raise ValueError(f"parameter {name!r} is swept twice (--vary {spec!r})")
        seen.add(name)
        vals[name] = values
    return vals


def outer(vals: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """All combinations (C order) of the multi-valued entries; single values stay scalars."""
    names = [k for k, v in vals.items() if v.size > 1]
    out: dict[str, Any] = {k: float(v[0]) for k, v in vals.items() if v.size == 1}
    if names:
        from astrofield._validate import check_grid_points

        check_grid_points(math.prod(float(vals[k].size) for k in names), "a parameter grid",
                          per_point=8.0 * len(names) + 200.0)
        mesh = np.meshgrid(*[vals[k] for k in names], indexing="ij")
        out.update({k: m.ravel() for k, m in zip(names, mesh, strict=True)})
    return out


# ------------------------------------------------------------------------------ running
@contextlib.contextmanager
def guard(runtime: bool = False) -> Iterator[None]:
    """Turn library errors into clean exits (no traceback).

    ValueError is bad input -> usage error (exit 2), unless ``runtime`` (after the work has
    started, e.g. while plotting) -> exit 1; OSError, RuntimeError, MemoryError and
    ArithmeticError (overflow) -> exit 1 with the message.
    """
    try:
        yield
    except click.ClickException:
        raise
    except (ValueError, FileExistsError) as exc:  # FileExistsError: e.g. refusing to overwrite
        if runtime:
            raise click.ClickException(cli_words(str(exc))) from None
        raise click.UsageError(cli_words(str(exc))) from None
    except (OSError, RuntimeError, MemoryError, ArithmeticError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


class Timer:
    """Wall-clock time since creation (``wall_s`` in every JSON result)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    @property
    def wall_s(self) -> float:
        return time.perf_counter() - self.t0


def emit(obj: Mapping[str, Any], as_json: bool, lines: list[str] | str) -> None:
    """Print the result: one JSON object (``as_json``) or human-readable lines, on stdout.

    In JSON, infinities are ``"inf"``/``"-inf"`` and NaN values (quantities that are undefined
    for this input, e.g. no boundary crossing) are ``null`` with their keys listed under
    ``"undefined"``.
    """
    from astrofield.io.jsonio import dumps, to_jsonable

    if as_json:
        undefined: list[str] = []
        clean = to_jsonable(dict(obj), undefined)
        if undefined:
            clean["undefined"] = undefined
        click.echo(dumps(clean))
    else:
        click.echo(lines if isinstance(lines, str) else "\n".join(lines))


def say(msg: str, quiet: bool = False) -> None:
    """A message for humans (stderr; hidden by ``-q``)."""
    if not quiet:
        click.echo(msg, err=True)


def save_outputs(ds: Any, output: str | None, plot: str | None,
                 figure: Callable[[], Any] | None) -> None:
    """Write the dataset and the figure (both paths were checked up front)."""
    from astrofield.io import save

    if output:
        save(ds, output)
    if plot and figure is not None:
        from astrofield.plotting import save_figure

        save_figure(figure(), plot)  # an unmanaged Figure: nothing to close in pyplot


class Interrupted(click.ClickException):
    """SIGINT (Ctrl-C) while a command ran: exit status 130, no traceback."""

    exit_code = 130

    def __init__(self) -> None:
        super().__init__("interrupted (no partial or temporary output file is left)")


def _interruptible(f: Callable) -> Callable:
    """A command body that reports Ctrl-C as :class:`Interrupted` and, under ``-q``, hides
    Python warnings on stderr (the result and errors are still printed)."""

    @functools.wraps(f)
    def body(*args: Any, **kw: Any) -> Any:
        with warnings.catch_warnings():
            if kw.get("quiet"):
                from astrofield.simulator.backends import BackendNotice

                warnings.simplefilter("ignore")
                # a run moved to numpy, a minute-long compile: explained even under -q
                warnings.simplefilter("always", BackendNotice)
            try:
                return f(*args, **kw)
            except KeyboardInterrupt:
                raise Interrupted() from None

    return body


# ------------------------------------------------------------------------------ renamed options
#: Old option names that still work (hidden; a one-line deprecation notice on stderr): old ->
#: new, the new name being the API's parameter name in kebab-case. A command accepts an old
#: name only if it has the new option. ``--range LO:HI`` (boundary) becomes ``--lo LO --hi HI``.
RENAMED: dict[str, str] = {
    "--noise-sigma": "--sigma",
    "--noise-correlation": "--correlation",
    "--trials": "--n-trials",
    "--scheduler": "--executor",
    "--range": "--lo/--hi",
}


def _deprecated(old: str, new: str, where: str) -> None:
    click.echo(f"astrofield: {old} is deprecated{where}; use {new}", err=True)


class Command(click.Command):
    """A command that accepts the old option names of :data:`RENAMED` (and old config keys)."""

    def renamed(self) -> dict[str, str]:
        """The old names this command accepts: old -> new."""
        have = {o for p in self.params for o in getattr(p, "opts", [])}
        return {old: new for old, new in RENAMED.items()
                if old not in have and all(n in have for n in new.split("/"))}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        table = self.renamed()
        out: list[str] = []
        it = iter(args)
        for arg in it:
            if arg == "--":
                out += [arg, *it]
                break
            name, eq, value = arg.partition("=")
            if name not in table:
                out.append(arg)
                continue
            _deprecated(name, table[name], "")
            if not eq:
                value = next(it, None)
                if value is None:
                    raise click.UsageError(f"Option '{name}' requires an argument.", ctx)
            if name == "--range":
                out += _split_range(value, ctx)
            else:
                out += [table[name], value]
        return super().parse_args(ctx, out)

    def renamed_config(self, cfg: Mapping[str, Any]) -> dict[str, Any]:
        """Config-file keys with their old names replaced (a notice for each)."""
        table = {k.lstrip("-"): v.lstrip("-") for k, v in self.renamed().items()}
        out: dict[str, Any] = {}
        for key, v in cfg.items():
            if key == "range" and "range" in table:
                _deprecated("config key 'range'", "keys lo and hi", "")
                lo, hi = _split_range(str(v), None)[1::2]
                out.update({"lo": _maybe_float(lo), "hi": _maybe_float(hi)})
            elif key in table:
                _deprecated(f"config key {key!r}", f"{table[key]!r}", "")
                out[table[key]] = v
            else:
                out[key] = v
        return out


def _maybe_float(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # reported by the option's type, naming the key


def _split_range(value: str, ctx: click.Context | None) -> list[str]:
    parts = str(value).split(":")
    if len(parts) != 2:
        raise click.BadParameter(f"{value!r}: use LO:HI (or --lo LO --hi HI)", ctx,
                                 param_hint="--range")
    return ["--lo", parts[0], "--hi", parts[1]]


def command(name: str, example: str, **kw: Any) -> Callable:
    """Register ``astrofield NAME`` with ``--config`` and a worked example as the epilog."""
    from astrofield.cli import main

    def deco(f: Callable) -> Callable:
        f = config_option(_interruptible(f))
        epilog = "\b\nExample:\n  " + example.strip().replace("\n", "\n  ")
        kw.setdefault("cls", Command)
        return main.command(name, epilog=epilog, **kw)(f)

    return deco


def step_size(dt: float | str, T: float, model: Any, dt_check: str = "error") -> float:
    """The step-size rule of the simulator, up front: ``dt`` (``"auto"`` resolved) or a
    ValueError in the CLI's words (``--dt auto``, ``--dt-check warn``) for a step above it
    (``dt_check="error"``); ``"warn"``/``"off"`` never raise here (the run warns)."""
    from astrofield.simulator.step_control import resolve_dt

    try:
        return resolve_dt(dt, T, model, "error" if dt_check == "error" else "off")[0]
    except ValueError as exc:
        raise ValueError(cli_words(str(exc))) from None


def cli_words(msg: str) -> str:
    """A library message in the command line's words (``dt='auto'`` -> ``--dt auto``,
    ``dt_check='warn'`` -> ``--dt-check warn``)."""
    return msg.replace("dt='auto'", "--dt auto").replace("dt_check='warn'", "--dt-check warn")


def progress_for(quiet: bool) -> bool | None:
    """The ``progress`` argument of the library for ``-q``: ``False`` (nothing on stderr) or
    ``None`` (a bar on stderr only once a job has run for about a second)."""
    return False if quiet else None


def env_workers() -> int:
    """Cores available to this process (for messages)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1
