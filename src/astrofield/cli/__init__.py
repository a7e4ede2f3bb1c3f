"""Command-line interface: ``astrofield <command> --help``.

Each sub-command lives in its own module of this package and registers itself on :data:`main`.
"""

from __future__ import annotations

import importlib

import click

from astrofield._version import __version__

#: Modules that add sub-commands to :data:`main` (imported on start-up, in this order).
COMMAND_MODULES = ["run", "theory", "phase", "apps"]
COMMAND_MODULES.append("continuation")  # numerical bumps: spectrum, continue (contin lane)
COMMAND_MODULES.append("fit")  # fit parameters to data (fit lane)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="astrofield")
def main() -> None:
    """astrofield: astrocyte-neural field models (simulate, bump theory, phase diagrams)."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}")
