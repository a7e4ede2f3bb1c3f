"""``astrofield compile``: build (or load) the compiled time loop once, and say so."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from astrofield.cli._common import Timer, command, emit, json_option, quiet_option, say

__all__ = ["compile_cmd"]


@command("compile", example="""
astrofield compile            # once after installing: later runs start in about a second
NUMBA_CACHE_DIR=/shared/cache astrofield compile --json""")
@json_option
@quiet_option
@click.option("--background", is_flag=True, hidden=True,
              help="Run at low priority and remove the lock file of the process that started it.")
def compile_cmd(**p: Any) -> None:
    """Compile every numba function that run and phase call, into numba's on-disk cache.

    The first run on a machine does this by itself (about a minute of CPU time); run it ahead,
    e.g. after installing or in a container build. Functions already in the cache are loaded
    (well under a second each). Prints what it did, how long it took, and the cache folder.
    """
    from astrofield.simulator.backends import warm

    timer = Timer()
    if p["background"] and hasattr(os, "nice"):
        os.nice(10)
    try:
        if not p["background"]:
            say(f"compiling the time loop if numba's cache does not hold it (cache: "
                f"{warm.cache_dir()}) ...", p["quiet"])
        report = warm.compile_all()
    finally:
        lock = os.environ.get("ASTROFIELD_COMPILE_LOCK") if p["background"] else None
        if lock and Path(lock).name == "astrofield-compile.lock":
            Path(lock).unlink(missing_ok=True)
    s = {"groups": report, "cache_dir": warm.cache_dir(), "cached": warm.loop_cached(),
         "wall_s": timer.wall_s}
    lines = [f"{g['group']}: {g['action']} in {g['seconds']:.1f} s ({', '.join(g['functions'])})"
             for g in report] or ["numba is not available: nothing to compile"]
    lines.append(f"cache: {s['cache_dir']}; total {s['wall_s']:.1f} s")
    emit(s, p["as_json"], lines)
