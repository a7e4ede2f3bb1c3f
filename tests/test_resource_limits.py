"""Estimate before allocating, and every accepted option used (issue 24, items 2 and 3).

Each audit case is refused in under 2 s with exit status 2 and a message that names the
estimate and the limit. ``ASTROFIELD_MEMORY_FRACTION`` is set small where the case depends on
the machine's memory, so the tests do not.
"""

from __future__ import annotations

import math
import time

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from astrofield import _validate
from astrofield.cli import main

LIMIT_WORDS = ("needs about", "estimate", "more than the limit of")


def _refused(args: list[str], *words: str, env: dict | None = None) -> str:
    t0 = time.perf_counter()
    res = CliRunner().invoke(main, args, env=env)
    wall = time.perf_counter() - t0
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert "Traceback" not in res.output
    assert wall < 2.0, wall
    for w in words:
        assert w in res.output, (w, res.output)
    return res.output


MEMORY_CASES = [
    ["spectrum", "--firing", "sigmoid", "--N", "100000"],
    ["continue", "--N", "100000", "--stop", "0.2"],
    ["continue", "--max-points", "1000000000", "--stop", "0.2"],
    ["stability-map", "--firing", "sigmoid", "--N", "20000"],
    ["memory", "--vary", "beta=0:1:100000", "--vary", "D=0:1:100000"],
    ["wander", "--vary", "beta=0:1:100000", "--vary", "D=0:1:100000"],
    ["phase", "--vary", "beta=0.001:1:100000", "--vary", "D=0.01:1:100000"],
    ["bold", "--seconds-per-unit", "1e-12"],
    ["bold", "--seconds-per-unit", "0.01", "--tail", "1e9"],
]


@pytest.mark.parametrize("args", MEMORY_CASES, ids=lambda a: " ".join(a[:3]))
def test_memory_blowups_refused(args):
    _refused(args, *LIMIT_WORDS)


def test_frame_index_counted(monkeypatch):
    """``run --T 1 --dt 1e-9``: the 7.45 GiB frame index is in the estimate."""
    out = _refused(["run", "--T", "1", "--dt", "1e-9"], *LIMIT_WORDS, "1e+09 steps",
                   env={"ASTROFIELD_MEMORY_FRACTION": "0.01"})
    assert "7.45 GiB" in out


def test_run_estimate_is_honest():
    """``run --N 10^7`` peaked at 5.1 GB: the estimate includes the working arrays."""
    need = _validate.estimate_run_bytes(10**7, 2, n_steps=4000)
    assert need >= 5.1e9
    out = _refused(["run", "--N", "10000000", "--n-frames", "2"], *LIMIT_WORDS,
                   env={"ASTROFIELD_MEMORY_FRACTION": "0.01"})
    assert "N = 10000000" in out


def test_solve_api_refuses(monkeypatch):
    import astrofield as af

    monkeypatch.setenv("ASTROFIELD_MEMORY_FRACTION", "0.001")
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="more than the limit of"):
        af.solve(af.Model(), T=1.0, dt=1e-8, N=64, progress=False)
    assert time.perf_counter() - t0 < 2.0


def test_dense_jacobian_api_refuses():
    from astrofield.model.definition import Model
    from astrofield.theory.steady import RingSystem

    with pytest.raises(ValueError, match="dense Jacobian of N = 100000"):
        RingSystem(Model(), 100000)


def test_small_grid_large_chunk_accepted(tmp_path):
    """``phase --vary beta=0.01,0.02 --chunk-size 10^7``: a 2-point grid is not 95 GiB."""
    from astrofield.cli.phase import _estimate_bytes

    assert _estimate_bytes(64, 10**7, 1, 2) < 2**20
    res = CliRunner().invoke(main, ["phase", "--vary", "beta=0.01,0.02", "--chunk-size",
                                    "10000000", "--T", "100", "-q", "-o",
                                    str(tmp_path / "m.nc")])
    assert res.exit_code == 0, res.output


def test_bold_steps_bounded():
    _refused(["bold", "--delay", "20", "--seconds-per-unit", "1e6"], "Runge-Kutta steps",
             "more than the allowed")


def test_memory_fraction_env(monkeypatch):
    monkeypatch.setenv("ASTROFIELD_MEMORY_FRACTION", "0.25")
    assert _validate.memory_fraction() == 0.25
    monkeypatch.setenv("ASTROFIELD_MEMORY_FRACTION", "2")
    with pytest.raises(ValueError, match="ASTROFIELD_MEMORY_FRACTION"):
        _validate.memory_fraction()
    monkeypatch.delenv("ASTROFIELD_MEMORY_FRACTION")
    assert _validate.memory_fraction() == 0.8


# ------------------------------------------------------------------ options used or refused
@pytest.mark.parametrize("cmd", ["stability", "boundary", "stability-map"])
def test_plot_refused_on_numerical_route(cmd, tmp_path):
    png = tmp_path / "x.png"
    _refused([cmd, "--firing", "sigmoid", "--plot", str(png)], "--plot", "numerical route")
    assert not png.exists()


OPTION_CASES = [
    (["boundary", "--beta", "0.05"], "--beta"),
    (["figure", "2", "--T", "100", "--N", "64", "--dt", "0.01", "-o", "FIGDIR"],
     "figure 2 is analytic"),
    (["bold", "--seconds-per-unit", "0.01", "--region", "1,1"], "lo < hi"),
    (["collapse", "--beta-start", "0.6", "--beta-end", "0.3"], "beta_end = 0.3"),
    (["collapse", "--T-ramp", "100", "--window", "500"], "T_ramp = 100"),
]


@pytest.mark.parametrize("args,word", OPTION_CASES, ids=lambda a: str(a)[:40])
def test_unused_options_refused(args, word, tmp_path):
    args = [str(tmp_path / "fig") if a == "FIGDIR" else a for a in args]
    _refused(args, word)


# --------------------------------------------------------------------------- hypothesis
@settings(max_examples=200, deadline=None)
@given(N=st.integers(16, 10**6), chunk=st.integers(1, 10**9), points=st.integers(1, 10**8),
       workers=st.integers(1, 64))
def test_sweep_estimate_never_inflated(N, chunk, points, workers):
    """The estimate counts only the points that can be alive at once: never more than a small
    factor above the honest ``min(chunk, points)`` points per running chunk."""
    est = _validate.estimate_sweep_bytes(N, chunk, points, workers)
    alive = min(chunk, points)
    running = min(workers, math.ceil(points / alive))
    honest = 8.0 * 40 * N * alive * running
    assert est <= 1.01 * honest
    assert est >= honest / 1.01
    # at most twice the whole grid (the last of the running chunks may be partly filled)
    assert est <= 2.02 * 8.0 * 40 * N * points
