"""Command-line interface: ``astrofield <command> --help``.

Each sub-command lives in its own module of this package and registers itself on :data:`main`.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings

import click

# numba colours its error messages through colorama, whose exit handler writes "\x1b[0m" to a
# terminal's stdout after the command's result; the command line reports numba's errors as
# plain text anyway. Set before anything imports numba (a user's own setting wins).
os.environ.setdefault("NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING", "1")

from astrofield._version import __version__

#: Modules that add sub-commands to :data:`main` (imported on start-up, in this order).
COMMAND_MODULES = ["run", "theory", "phase", "apps"]
COMMAND_MODULES.append("continuation")  # numerical bumps: spectrum, continue (contin lane)
COMMAND_MODULES.append("export")  # NetCDF to MATLAB / CSV
COMMAND_MODULES.append("compile")  # build the compiled time loop once (first-run lane)
COMMAND_MODULES.append("fit")  # fit parameters to data (fit lane)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="astrofield")
def main() -> None:
    """astrofield: astrocyte-neural field models (simulate, bump theory, phase diagrams)."""


def _show_notice(message, category, filename, lineno, file=None, line=None,
                 _default=warnings.showwarning) -> None:
    """Backend notices (which backend ran, a one-time compile) as one plain line on stderr
    (shown with ``-q`` too: they explain a wait or a different backend); other warnings as
    usual."""
    from astrofield.simulator.backends import BackendNotice
    from astrofield.simulator.step_control import StepSizeWarning

    adaptive = sys.modules.get("astrofield.experiments.adaptive")  # loaded if it can warn
    plain = (StepSizeWarning,) + ((adaptive.BudgetWarning,) if adaptive is not None else ())
    if isinstance(category, type) and issubclass(category, BackendNotice):
        click.echo(f"astrofield: {message}", err=True)
    elif isinstance(category, type) and issubclass(category, plain):  # --dt-check warn, budget
        click.echo(f"astrofield: warning: {message}", err=True)
    else:
        _default(message, category, filename, lineno, file, line)


warnings.showwarning = _show_notice

for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}")
