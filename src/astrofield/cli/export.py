"""``astrofield export``: convert an astrofield NetCDF file to MATLAB or a CSV table."""

from __future__ import annotations

import click

from astrofield.cli._common import command, emit, guard, json_option, quiet_option

__all__ = ["export_cmd"]


@command("export", """
astrofield run -o run.nc && astrofield export run.nc run.mat
astrofield export map.nc map.csv          # one row per map point""")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--dims", default=None, metavar="DIM[,DIM...]",
              help="CSV only: the table's dimensions (default: those of the variables off the "
                   "grid with the most dimensions, e.g. time for a run).")
@json_option
@quiet_option
def export_cmd(source: str, target: str, dims: str | None, as_json: bool, quiet: bool) -> None:
    """Convert SOURCE (a NetCDF file written by astrofield) to TARGET, by its suffix: .mat
    (MATLAB: one variable per data variable and coordinate, structs attrs and meta) or .csv
    (a tidy table with units in '#' header lines)."""
    from pathlib import Path

    from astrofield.io.export import EXPORT_SUFFIXES
    from astrofield.io.files import check_output_path

    with guard():
        check_output_path(target, "TARGET", suffixes=EXPORT_SUFFIXES)
        if dims is not None and Path(target).suffix.lower() != ".csv":
            raise click.BadParameter("--dims applies to .csv targets only", param_hint="--dims")
    with guard(runtime=True):
        from astrofield.io import load
        from astrofield.io.export import to_matlab, to_table

        ds = load(source)
        if Path(target).suffix.lower() == ".mat":
            out = to_matlab(ds, target)
        else:
            out = to_table(ds, target, tuple(dims.split(",")) if dims else None)
    emit({"source": source, "target": str(out),
          "format": EXPORT_SUFFIXES[Path(target).suffix.lower().lstrip(".")]}, as_json,
         f"{source} -> {out}")
