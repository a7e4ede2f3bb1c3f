"""``astrofield phase`` (numerical drift phase diagrams) and ``astrofield figure`` (paper figures).

Command shapes::

    astrofield phase --vary D=0.001:0.6:50 --vary beta=0.001:0.1:50 --gamma 2 --theta 0.1 \\
        --T 500 -o map.nc --plot map.png [--json] [--N 64] [--dt 0.1|auto] \\
        [--dt-check error|warn|off] [--eps 0.05] \\
        [--chunk-size 125] [--workers 2] [--executor threads|local|serial|ADDRESS] [--resume] \\
        [--early-stop/--no-early-stop] [--error-control auto|on|off] [--refine-tol 0.05] \\
        [--refine-levels 1] [--sampling auto|full|adaptive | --adaptive] [--atol 0.05] \\
        [--rtol 0.05] [--boundary-tol 0] [--max-points M] [--max-time S] \\
        [--firing sigmoid --steepness 20] [--kernel mexican_hat --kernel-param w_i=0.5] [--quiet]
    astrofield figure 2|5|6|7 -o DIR [--resolution 50] [--T 500] [--N ...] [--dt ...|auto] \\
        [--dt-check error|warn|off] [--refine-levels L]
"""

from __future__ import annotations

import math
import re
from typing import Any

import click
import numpy as np

from astrofield.cli._common import (
    FINITE,
    FLOAT_INF,
    Timer,
    api_default,
    command,
    dt_options,
    emit,
    firing_kernel_options,
    guard,
    json_option,
    kernel_from_options,
    option,
    output_option,
    plot_option,
    progress_for,
    quiet_option,
    vary_option,
)
from astrofield.simulator.backends import names as backend_names

_PHASE = "astrofield.experiments.phase:phase_diagram"
_ADAPTIVE = "astrofield.experiments.adaptive:AdaptiveSettings"
_CONTROL = {"auto": None, "on": True, "off": False}
#: A dask scheduler address: ``scheme://host[:port]`` or ``host:port``.
_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx|inproc)://[^\s/]+|[\w.\-]+:\d+)$")


def _check_scheduler(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from astrofield.experiments.sweep import EXECUTORS

    if value in EXECUTORS or _ADDRESS.match(value or ""):
        return value
    raise click.BadParameter(f"{value!r} is not 'threads', 'local', 'serial' or a dask "
                             "scheduler address such as tcp://host:8786", ctx, param)


def _grid_step(dt: float | str, grid: Any, T: float, dt_check: str,
               every_point: bool = False) -> float:
    """The step-size rule over the points of ``grid`` that are simulated (those with a bump;
    ``every_point``: all, for a model whose bumps Newton finds only when the map runs),
    checked before the sweep starts (:func:`astrofield.experiments.phase.map_step`; ``warn``
    and ``off`` never raise here: the map warns once when it starts)."""
    from astrofield.experiments.phase import map_step

    return map_step(dt, grid, T, "error" if dt_check == "error" else "off",
                    every_point=every_point)[0]


def _executor(scheduler: str):
    """``serial`` -> in process, ``threads`` -> a pool of threads in process, ``local`` ->
    LocalCluster, anything else -> Client(ADDRESS)."""
    from astrofield.experiments.sweep import EXECUTORS

    if scheduler in EXECUTORS:
        return scheduler, None
    from distributed import Client

    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, ValueError, TypeError) as exc:
        raise click.ClickException(
            f"cannot connect to the dask scheduler at {scheduler!r}: {exc}") from None
    return client, client


def _estimate_bytes(N: int, chunk_size: int, workers: int | None,
                    n_points: float = math.inf) -> float:
    """Peak memory of the sweep: about 40 arrays of N values per point in each running chunk
    (at most ``min(chunk_size, n_points)`` points per chunk)."""
    from astrofield._validate import estimate_sweep_bytes
    from astrofield.cli._common import env_workers

    return estimate_sweep_bytes(N, chunk_size, n_points, workers or env_workers())


def _boundaries(ds, fixed: dict[str, float]) -> dict[str, Any]:
    """Analytic stability boundaries to draw on the map (empty where none applies)."""
    from astrofield.theory.stability import boundary, boundary_curve

    dims = list(ds["drift"].dims)
    if dims in (["beta"], ["gamma"]):  # critical values along the swept axis: vertical lines
        kw = {"gamma": fixed["gamma"]} if dims == ["beta"] else {"beta": fixed["beta"]}
        return {name: boundary(dims[0], theta=fixed["theta"], D=fixed["D"], method=method, **kw)
                for method, name in (("evans", "Evans E'(0) = 0"),
                                     ("fourier", "Fourier truncation"))}
    other = [d for d in dims if d != "beta"]
    if len(dims) != 2 or "beta" not in dims or other[0] not in ("D", "gamma"):
        return {}
    x = np.asarray(ds[other[0]].values, float)
    x = np.linspace(x.min(), x.max(), max(24, 2 * x.size))
    kw = {"gamma": fixed["gamma"]} if other[0] == "D" else {"D": fixed["D"]}
    hi = float(ds["beta"].max()) * 3
    kw[other[0]] = x
    return {name: (x, boundary_curve("beta", theta=fixed["theta"], method=m, hi=hi, n_scan=120,
                                     **kw)["beta_star"].values)
            for m, name in (("evans", "Evans E'(0) = 0"), ("fourier", "Fourier truncation"))}


def _phase_figure(ds, fixed: dict[str, float], paper: bool = True):
    """The map's figure; the analytic boundaries only for the paper's model (they are the
    Evans and Fourier theory of Heaviside firing with the cosine kernel)."""
    from astrofield.plotting.maps import plot_phase

    return plot_phase(ds, _boundaries(ds, fixed) if paper else {})


@command("phase", example="""
astrofield phase --vary D=0.001:0.6:50 --vary beta=0.001:0.1:50 --gamma 2 \\
    -o map.nc --plot map.png --json
astrofield phase --vary beta=1e-3:0.1:20:log --D inf --executor serial""")
@vary_option("beta, D, gamma or theta; one or two; required")
@option("--theta", type=FINITE, default=api_default(_PHASE, "theta"), help="Threshold.")
@option("--beta", type=FINITE, default=api_default(_PHASE, "beta"), help="Depletion rate.")
@option("--gamma", type=FINITE, default=api_default(_PHASE, "gamma"), help="Replenishment.")
@option("--D", "D", type=FLOAT_INF, default=api_default(_PHASE, "D"),
        help="Astrocytic diffusion ('inf' allowed).")
@option("--T", "T", type=FINITE, default=api_default(_PHASE, "T"), help="Final time.")
@option("--N", "N", type=click.IntRange(min=16), default=api_default(_PHASE, "N"),
        help="Grid points.")
@dt_options(api_default(_PHASE, "dt"), " A map's 'auto' divides 0.5 and T (frames every "
            "time unit, coarse runs at 2 dt).")
@option("--eps", type=FINITE, default=api_default(_PHASE, "eps"),
        help="Shift perturbation (fraction of the bump amplitude).")
@option("--chunk-size", type=click.IntRange(min=1), default=api_default(_PHASE, "chunk_size"),
        help="Grid points per batched simulator call.")
@option("--workers", type=click.IntRange(min=1), default=None,
        help="Threads or worker processes [default: all cores].")
@option("--executor", default=api_default(_PHASE, "executor"), callback=_check_scheduler,
        help="'threads' (in process, one chunk per core), 'local' (start a dask "
             "LocalCluster of worker processes), 'serial' (in process, one chunk at a time) "
             "or the ADDRESS of a running dask scheduler (e.g. tcp://host:8786); was "
             "--scheduler.")
@option("--resume", is_flag=True,
        help="Continue an interrupted sweep from the finished chunks in OUT.parts/.")
@option("--early-stop/--no-early-stop", default=True,
        help="Decide clearly travelling / fully relaxed points before T.")
@option("--error-control", type=click.Choice(["auto", "on", "off"]), default="auto",
        help="Rerun every simulated point at (N/2, 2 dt) and extrapolate its drift from the "
             "two resolutions; rerun at (2N, dt/2) the points whose two runs disagree on the "
             "verdict or sit at a verdict threshold, and travelling points whose estimated "
             "error exceeds --refine-tol (auto: where N and dt allow it).")
@option("--refine-tol", type=click.FloatRange(min=0, min_open=True),
        default=api_default(_PHASE, "refine_tol"),
        help="Estimated relative drift error above which error control refines a "
             "travelling point.")
@option("--refine-levels", type=int, default=api_default(_PHASE, "refine_levels"),
        help="Most refinements of a point by error control (1-5). 1: one rerun at "
             "(2N, dt/2); L > 1: unresolved points are rerun too, and points whose last two "
             "levels still disagree are rerun again, up to (2^L N, dt/2^L).")
@option("--sampling", type=click.Choice(["auto", "full", "adaptive"]),
        default=api_default(_PHASE, "sampling"),
        help="full: simulate every cell; adaptive: simulate a coarse sub-grid and the cells "
             "next to the Evans boundary, then refine where the verdict changes or the drift's "
             "estimated interpolation error exceeds --atol + --rtol |drift|, and interpolate "
             "the other cells (variables 'sampled' and 'drift_interp_error' say which and how "
             "well); auto: adaptive for the paper's model (Heaviside, cosine kernel) with two "
             "swept parameters of at least 20 cells each, or with --max-points or --max-time, "
             "full otherwise (--resume keeps the sampling the map was started with).")
@option("--adaptive", is_flag=True, help="The same as --sampling adaptive.")
@option("--atol", type=click.FloatRange(min=0), default=api_default(_ADAPTIVE, "atol"),
        help="Adaptive sampling: absolute tolerance on the interpolated drift at T (rad).")
@option("--rtol", type=click.FloatRange(min=0), default=api_default(_ADAPTIVE, "rtol"),
        help="Adaptive sampling: relative tolerance on the interpolated drift at T.")
@option("--boundary-tol", type=click.FloatRange(min=0, max=1),
        default=api_default(_ADAPTIVE, "boundary_tol"),
        help="Adaptive sampling: tolerance on the boundary's position, as a fraction of each "
             "axis's range (0: to the grid's cells).")
@option("--max-points", type=click.IntRange(min=1), default=None,
        help="Adaptive sampling: simulate at most this many cells [default: no limit].")
@option("--max-time", type=click.FloatRange(min=0, min_open=True), default=None,
        help="Adaptive sampling: start no refinement round after this many seconds [default: "
             "no limit].")
@option("--backend", type=click.Choice(["auto", *backend_names()]), default="auto",
        help="Time-integration backend: any registered one (jax: pip install "
             "'astrofield[jax]'; plug-ins: entry-point group astrofield.backends).")
@firing_kernel_options
@output_option("NetCDF output (chunks go to OUTPUT.parts/ while running).")
@plot_option("Figure of |drift| and |velocity| with the analytic boundaries (png, pdf, ...).")
@json_option
@quiet_option
def phase_cmd(**p: Any) -> None:
    """Numerical phase diagram of the drift experiment over one or two parameters.

    Each point: exact wide bump + shift perturbation, integrated to T; verdict stable /
    unstable / no bump, with the Evans E'(0) and Fourier verdicts alongside. With --firing
    other than heaviside or --kernel other than cosine: the model's own numerical bump,
    with the verdict of its numerical spectrum at N alongside (numerical_stable).
    """
    from astrofield._validate import check_memory, check_steps
    from astrofield.experiments.phase import phase_diagram, summarize
    from astrofield.experiments.sweep import make_grid

    timer = Timer()
    with guard():
        if not p["vary"]:
            raise ValueError("--vary NAME=SPEC is required (e.g. --vary D=0.001:0.6:50)")
        if p["resume"] and not p["output"]:
            raise ValueError("--resume needs -o/--output (the store to resume)")
        if p["output"] and p["output"].lower().endswith((".mat", ".csv")):
            raise click.BadParameter(
                f"{p['output']!r}: a phase map is stored as NetCDF (resumable); write -o "
                "map.nc, then convert with 'astrofield export map.nc map.mat' (or .csv)",
                param_hint="-o/--output")
        fixed = {k: p[k] for k in ("theta", "beta", "gamma", "D")}
        grid = make_grid(p["vary"], fixed, max_dims=2)
        shape = _model_shape(p)
        p["dt"] = _grid_step(p["dt"], grid, p["T"], p["dt_check"], not shape.paper)
        check_steps(p["T"], p["dt"])
        n_points = min(p["chunk_size"], grid.size)
        check_memory(_estimate_bytes(p["N"], p["chunk_size"], p["workers"], grid.size),
                     f"a sweep with N = {p['N']} and {n_points} points per chunk")
    executor, client = _executor(p["executor"])
    try:
        with guard():  # bad settings are found before the sweep starts: exit 2
            ds = phase_diagram(p["vary"], **fixed, T=p["T"], N=p["N"], dt=p["dt"],
                               eps=p["eps"], early_stop=p["early_stop"],
                               chunk_size=p["chunk_size"], executor=executor,
                               workers=p["workers"], store=p["output"], resume=p["resume"],
                               progress=progress_for(p["quiet"]),
                               backend=None if p["backend"] == "auto" else p["backend"],
                               error_control=_CONTROL[p["error_control"]],
                               refine_tol=p["refine_tol"],
                               refine_levels=p["refine_levels"],
                               sampling=_sampling(p),
                               adaptive=_adaptive_settings(p), dt_check=p["dt_check"],
                               **shape.options())
    finally:
        if client is not None:
            client.close()
    if p["plot"]:
        from astrofield.cli._common import save_outputs

        with guard(runtime=True):
            save_outputs(ds, None, p["plot"], lambda: _phase_figure(ds, fixed, shape.paper))
    s = summarize(ds)
    out = {**s, "resolved": bool(s["resolved"]), "wall_s": timer.wall_s,
           "dims": list(ds["verdict"].dims),
           "shape": list(ds["verdict"].shape), "T": p["T"], "N": p["N"], "dt": p["dt"],
           "dt_check": p["dt_check"], "dt_rule_ok": int(ds.attrs.get("dt_rule_ok", 1)),
           "eps": p["eps"], "early_stop": p["early_stop"], "chunk_size": p["chunk_size"],
           "error_control": ds.attrs.get("error_control"), "refine_tol": p["refine_tol"],
           "refine_levels": p["refine_levels"],
           "executor": p["executor"], "scheduler": p["executor"],  # scheduler: old key
           "output": p["output"], "plot": p["plot"],
           "sampling": ds.attrs.get("sampling", "full"),
           "firing": ds.attrs.get("firing", "heaviside"),
           "steepness": ds.attrs.get("steepness") if not shape.paper else None,
           "kernel": ds.attrs.get("kernel", "cosine"),
           "theory": "Evans" if shape.paper else "numerical spectrum"}
    extra = ""
    if out["sampling"] == "adaptive":
        out.update({k: ds.attrs[f"adaptive_{k}"] for k in (
            "points_simulated", "rounds", "max_drift_interp_error")})
        out["cells_unestimated"] = int(ds.attrs.get("adaptive_cells_unestimated", 0))
        extra = (f"; {out['points_simulated']} simulated, largest estimated interpolation "
                 f"error {out['max_drift_interp_error']:.3g} rad"
                 + (f" ({out['cells_unestimated']} cells without an estimate: the budget "
                    "ended the refinement)" if out["cells_unestimated"] else ""))
    emit(out, p["as_json"],
         f"{s['points']} points: {s['n_stable']} stable, {s['n_unstable']} unstable, "
         f"{s['n_no_bump']} no bump; agreement with {out['theory']} {s['agreement']:.3f}{extra}"
         + (f"; {s['n_unresolved']} unresolved (variable 'resolved')" if s["n_unresolved"]
            else "") + "; "
         f"{out['wall_s']:.1f} s" + (f" -> {p['output']}" if p["output"] else ""))


def _model_shape(p: dict[str, Any]) -> Any:
    """The validated firing rate, steepness and kernel of the options
    (:func:`astrofield.experiments.model_map.model_spec`; bad ones: exit 2)."""
    from astrofield.experiments.model_map import model_spec

    kernel = kernel_from_options(p["kernel"], p["kernel_params"])
    try:
        return model_spec(p["firing"], p["steepness"], kernel)
    except ValueError as exc:
        name = str(exc).split(" ")[0]
        raise click.BadParameter(str(exc), param_hint=f"--{name}") from None


def _sampling(p: dict[str, Any]) -> str:
    """``--sampling``, with ``--adaptive`` as its shorthand (a contradiction: exit 2)."""
    if p["adaptive"] and p["sampling"] == "full":
        raise click.BadParameter("--adaptive contradicts --sampling full", param_hint="--adaptive")
    return "adaptive" if p["adaptive"] else p["sampling"]


def _adaptive_settings(p: dict[str, Any]) -> dict[str, Any] | None:
    """The :class:`~astrofield.experiments.adaptive.AdaptiveSettings` fields of the options
    (used where the map is adaptive, by ``--sampling`` or by ``auto``'s choice)."""
    if _sampling(p) == "full":
        return None
    return {k: p[k] for k in ("atol", "rtol", "boundary_tol", "max_points", "max_time")}


@command("figure", example="""
astrofield figure 7 -o figures/
astrofield figure 5 -o figures/ --resolution 20 --T 200 --executor serial""")
@click.argument("number", type=click.Choice(["2", "5", "6", "7"]))
@option("-o", "--outdir", type=click.Path(file_okay=False), required=True,
        help="Directory for figureN.png, figureN.pdf and figureN.nc.")
@option("--resolution", type=click.IntRange(min=2), default=50,
        help="Grid points per axis of the Figure 5/6 maps.")
@option("--T", "T", type=FINITE, default=None,
        help="Final time [default: 500 for Figures 5/6, 200 for Figure 7].")
@option("--N", "N", type=click.IntRange(min=16), default=None,
        help="Grid points of the simulations.")
@dt_options(None, " Figures: the rule at the figure's largest beta [default: 0.1 for "
            "Figures 5/6 where the rule allows it, else auto; 0.02 for Figure 7].")
@option("--early-stop/--no-early-stop", default=False,
        help="Early decisions in the Figure 5/6 maps (drift/velocity at T are then "
             "extrapolated; drift_bound bounds the error).")
@option("--refine-levels", type=int, default=None,
        help="Most refinements of a point by the maps' error control (1-5; see 'astrofield "
             "phase --help') [default: 1 for Figure 5, 4 for Figure 6].")
@option("--workers", type=click.IntRange(min=1), default=None,
        help="Threads or worker processes [default: all cores].")
@option("--executor", default=api_default(_PHASE, "executor"), callback=_check_scheduler,
        help="'threads', 'local', 'serial' or a dask scheduler ADDRESS (Figures 5/6; was "
             "--scheduler).")
@json_option
@quiet_option
def figure_cmd(**p: Any) -> None:
    """Reproduce the paper's Figure 2, 5, 6 or 7 (PNG, PDF and the data as NetCDF)."""
    from astrofield.io.files import check_output_path

    timer = Timer()
    with guard():
        check_output_path(f"{p['outdir'].rstrip('/')}/figure{p['number']}.png", "--outdir",
                          make_parents=True)
        unused = [f"--{k}" for k in ("T", "N", "dt") if p[k] is not None]
        if p["refine_levels"] is not None:
            if p["number"] in ("2", "7"):
                raise click.UsageError(f"--refine-levels: figure {p['number']} has no phase "
                                       "map and does not use it; drop it")
            from astrofield.experiments.phase import check_refine_levels

            check_refine_levels(p["refine_levels"])
        if p["dt_check"] != "error":
            unused.append("--dt-check")
        if p["number"] == "2" and unused:  # the analytic figure simulates nothing
            raise click.UsageError(f"{', '.join(unused)}: figure 2 is analytic (no simulation) "
                                   "and does not use them; drop them")
        if p["number"] != "2":  # the step-size rule for every map, before the first one runs
            from astrofield._validate import check_steps
            from astrofield.experiments.figures import figure_step

            try:
                p["dt"] = figure_step(int(p["number"]), p["dt"], p["T"],
                                      "error" if p["dt_check"] == "error" else "off")
            except ValueError as exc:
                raise ValueError(str(exc).replace("dt='auto'", "--dt auto")) from None
            check_steps(p["T"] or 500.0, p["dt"])
    from astrofield.plotting.paper import make_figure

    executor, client = _executor(p["executor"])
    try:
        with guard():
            paths = make_figure(int(p["number"]), p["outdir"], resolution=p["resolution"],
                                T=p["T"], N=p["N"], dt=p["dt"], dt_check=p["dt_check"],
                                early_stop=p["early_stop"],
                                refine_levels=p["refine_levels"], executor=executor,
                                workers=p["workers"],
                                progress=not p["quiet"])
    finally:
        if client is not None:
            client.close()
    emit({"figure": int(p["number"]), "files": [str(x) for x in paths],
          "wall_s": timer.wall_s}, p["as_json"], [str(x) for x in paths])
