"""``astrofield phase`` (numerical drift phase diagrams) and ``astrofield figure`` (paper figures).

Command shapes::

    astrofield phase --vary D=0.001:0.6:50 --vary beta=0.001:0.1:50 --gamma 2 --theta 0.1 \\
        --T 500 -o map.nc [--summary-json] [--N 128] [--dt 0.05] [--eps 0.05] \\
        [--chunk-size 125] [--workers 2] [--scheduler local|serial|ADDRESS] [--resume] \\
        [--early-stop/--no-early-stop] [--quiet]
    astrofield figure 2|5|6|7 -o DIR [--resolution 50] [--T 500] [--N ...] [--dt ...]
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import click

from astrofield.cli import main
from astrofield.cli.run import FLOAT_INF


def _executor(scheduler: str):
    """``serial`` -> in process, ``local`` -> LocalCluster, anything else -> Client(ADDRESS)."""
    if scheduler in ("serial", "local"):
        return scheduler, None
    from distributed import Client

    try:
        client = Client(scheduler, timeout="20s")
    except OSError as exc:
        raise click.UsageError(
            f"cannot connect to the dask scheduler at {scheduler!r}: {exc}") from exc
    return client, client


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else str(v)
    return v


@main.command("phase")
@click.option("--vary", "vary", multiple=True, required=True, metavar="NAME=SPEC",
              help="Swept parameter (beta, D, gamma or theta; one or two): start:stop:count, "
                   "v1,v2,... or a single value such as D=inf.")
@click.option("--theta", type=float, default=0.1, show_default=True, help="Threshold.")
@click.option("--beta", type=float, default=0.05, show_default=True, help="Depletion rate.")
@click.option("--gamma", type=float, default=2.0, show_default=True, help="Replenishment.")
@click.option("--D", "D", type=FLOAT_INF, default=1.0, show_default=True,
              help="Astrocytic diffusion ('inf' allowed).")
@click.option("--T", "T", type=float, default=500.0, show_default=True, help="Final time.")
@click.option("--N", "N", type=int, default=128, show_default=True, help="Grid points.")
@click.option("--dt", type=float, default=0.05, show_default=True, help="Time step.")
@click.option("--eps", type=float, default=0.05, show_default=True,
              help="Shift perturbation (fraction of the bump amplitude).")
@click.option("--chunk-size", type=int, default=125, show_default=True,
              help="Grid points per batched simulator call.")
@click.option("--workers", type=int, default=None,
              help="Worker processes of the local cluster [default: all cores].")
@click.option("--scheduler", default="local", show_default=True,
              help="'local' (start a dask LocalCluster), 'serial' (in process, no dask) or the "
                   "ADDRESS of a running dask scheduler (e.g. tcp://host:8786).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted sweep from the finished chunks in OUT.parts/.")
@click.option("--early-stop/--no-early-stop", default=True, show_default=True,
              help="Decide clearly travelling / fully relaxed points before T.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="NetCDF output (chunks go to OUTPUT.parts/ while running).")
@click.option("--summary-json", is_flag=True, help="Print one JSON object with the summary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def phase_cmd(vary, theta, beta, gamma, D, T, N, dt, eps, chunk_size, workers, scheduler, resume,
              early_stop, output, summary_json, quiet):
    """Numerical phase diagram of the drift experiment over one or two parameters.

    Each point: exact wide bump + shift perturbation, integrated to T; verdict stable /
    unstable / no bump, with the Evans E'(0) and Fourier verdicts alongside. Example:

        astrofield phase --vary D=0.001:0.6:50 --vary beta=0.001:0.1:50 --gamma 2 -o map.nc
    """
    from astrofield.experiments.phase import phase_diagram, summarize
    from astrofield.experiments.sweep import make_grid

    t0 = time.perf_counter()
    if resume and not output:
        raise click.UsageError("--resume needs -o/--output (the store to resume)")
    try:
        make_grid(vary, {"theta": theta, "beta": beta, "gamma": gamma, "D": D}, max_dims=2)
        if workers is not None and workers < 1:
            raise ValueError(f"workers = {workers} is outside the allowed range >= 1")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    executor, client = _executor(scheduler)
    try:
        ds = phase_diagram(vary, theta=theta, beta=beta, gamma=gamma, D=D, T=T, N=N, dt=dt,
                           eps=eps, early_stop=early_stop, chunk_size=chunk_size,
                           executor=executor, workers=workers, store=output, resume=resume,
                           progress=False if (quiet or summary_json) else None)
    except (ValueError, FileExistsError) as exc:
        raise click.UsageError(str(exc)) from exc
    finally:
        if client is not None:
            client.close()
    wall = time.perf_counter() - t0
    s = summarize(ds)
    if summary_json:
        out = {**s, "wall_s": wall, "dims": list(ds["verdict"].dims),
               "shape": list(ds["verdict"].shape), "T": T, "N": N, "dt": dt, "eps": eps,
               "early_stop": early_stop, "chunk_size": chunk_size, "scheduler": scheduler,
               "output": str(Path(output)) if output else None}
        click.echo(json.dumps({k: _jsonable(v) for k, v in out.items()}))
    elif not quiet:
        click.echo(f"{s['points']} points: {s['n_stable']} stable, {s['n_unstable']} unstable, "
                   f"{s['n_no_bump']} no bump; agreement with Evans {s['agreement']:.3f}; "
                   f"{wall:.1f} s" + (f" -> {output}" if output else ""))


@main.command("figure")
@click.argument("number", type=click.Choice(["2", "5", "6", "7"]))
@click.option("-o", "--outdir", type=click.Path(file_okay=False), required=True,
              help="Directory for figureN.png, figureN.pdf and figureN.nc.")
@click.option("--resolution", type=int, default=50, show_default=True,
              help="Grid points per axis of the Figure 5/6 maps.")
@click.option("--T", "T", type=float, default=None,
              help="Final time [default: 500 for Figures 5/6, 200 for Figure 7].")
@click.option("--N", "N", type=int, default=None, help="Grid points of the simulations.")
@click.option("--dt", type=float, default=None, help="Time step of the simulations.")
@click.option("--early-stop/--no-early-stop", default=False, show_default=True,
              help="Early decisions in the Figure 5/6 maps (drift/velocity at T are then "
                   "extrapolated; drift_bound bounds the error).")
@click.option("--workers", type=int, default=None, help="Worker processes [default: all cores].")
@click.option("--scheduler", default="local", show_default=True,
              help="'local', 'serial' or a dask scheduler ADDRESS (Figures 5/6).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def figure_cmd(number, outdir, resolution, T, N, dt, early_stop, workers, scheduler, quiet):
    """Reproduce the paper's Figure 2, 5, 6 or 7 (PNG, PDF and the data as NetCDF)."""
    from astrofield.experiments.figures import make_figure

    executor, client = _executor(scheduler)
    try:
        paths = make_figure(int(number), outdir, resolution=resolution, T=T, N=N, dt=dt,
                            early_stop=early_stop, executor=executor, workers=workers,
                            progress=not quiet)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    finally:
        if client is not None:
            client.close()
    if not quiet:
        for p in paths:
            click.echo(str(p))
