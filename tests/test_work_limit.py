"""A bound on work, not only on memory (issue 24, part two, item 1).

``astrofield run --T 1 --dt 1e-9`` fits in memory and would then run for about an hour on the
fastest backend: the work (parameter sets x grid points x steps) is estimated before any of it
is done and refused above ``ASTROFIELD_MAX_WORK`` with the estimate, the parameters and how to
raise the limit. The expected counts below are computed here from the parameters, not read
from the code.
"""

from __future__ import annotations

import math
import time

import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from astrofield import _validate, phase_diagram, solve
from astrofield.cli import main
from astrofield.experiments.phase import DEFAULTS


def test_cli_run_refused_fast_with_estimate():
    t0 = time.perf_counter()
    res = CliRunner().invoke(main, ["run", "--T", "1", "--dt", "1e-9"])
    wall = time.perf_counter() - t0
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert wall < 2.0, wall
    out = " ".join(res.output.split())
    # 1 member x 256 points x 1e9 steps
    for word in (
        "N = 256",
        "T = 1",
        "dt = 1e-09",
        f"{256 * 1e9:.3g} cell-steps",
        "more than the limit of 1e+11",
        "ASTROFIELD_MAX_WORK",
    ):
        assert word in out, (word, out)


def test_api_refused_before_any_array(monkeypatch):
    """The library refuses too (not only the CLI), before building the initial state."""
    import astrofield.simulator.integrator as integ

    def boom(*a, **k):  # pragma: no cover - reached only if the check comes too late
        raise AssertionError("initial state built before the work check")

    monkeypatch.setattr(integ, "initial_state", boom)
    with pytest.raises(ValueError, match=r"cell-steps of work .* ASTROFIELD_MAX_WORK"):
        solve(T=1.0, dt=1e-9, dt_check="off")


def test_limit_is_configurable(monkeypatch):
    """A run of 256 x 400 = 102400 cell-steps: refused just below, accepted at its work."""
    monkeypatch.setenv(_validate.MAX_WORK_ENV, "102399")
    with pytest.raises(ValueError, match=r"1\.02e\+05 cell-steps"):
        solve(T=20.0, dt=0.05, N=256, n_frames=2, progress=False, backend="numpy")
    monkeypatch.setenv(_validate.MAX_WORK_ENV, "102400")
    ds = solve(T=20.0, dt=0.05, N=256, n_frames=2, progress=False, backend="numpy")
    assert math.isfinite(float(ds["drift"].values.ravel()[0]))


@pytest.mark.parametrize("text", ["abc", "0", "-5", "nan"])
def test_bad_limit_named(monkeypatch, text):
    monkeypatch.setenv(_validate.MAX_WORK_ENV, text)
    with pytest.raises(ValueError, match=rf"ASTROFIELD_MAX_WORK = '{text}' is outside"):
        _validate.max_work()


def test_inf_means_no_limit(monkeypatch):
    monkeypatch.setenv(_validate.MAX_WORK_ENV, "inf")
    assert _validate.check_work(1e300, "x") == 1e300


def test_phase_map_refused_with_its_size(monkeypatch):
    """The map's total (points x N x steps), not one chunk's, is bounded; refused in < 2 s."""
    monkeypatch.setenv(_validate.MAX_WORK_ENV, "1e6")
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"a phase map of 400 points x N = 32") as exc:
        phase_diagram(
            ["beta=0.01:0.05:20", "D=0.1:1:20"],
            T=100.0,
            N=32,
            dt=0.1,
            error_control=False,
            executor=None,
            sampling="full",  # the full map's work is bounded before any run
        )
    assert time.perf_counter() - t0 < 2.0
    assert f"{400 * 32 * 1000:.3g} cell-steps" in str(exc.value)


def test_normal_jobs_within_the_default_limit():
    """The default run, the 50 x 50 phase map and Figures 5/6 at their defaults (T 500, N 64,
    dt >= 0.05, error control adds a quarter) are far below the default limit."""
    default_run = 1 * 256 * (200 / 0.05)
    map_50 = 2500 * DEFAULTS["N"] * (DEFAULTS["T"] / 0.05) * 1.25
    assert max(default_run, map_50) < _validate.DEFAULT_MAX_WORK / 10
    _validate.check_work(map_50, "the 50 x 50 map")  # no exception


def test_refusal_names_a_lower_bound_of_time():
    """The time in the message is the work at the fastest measured cost per cell-step."""
    with pytest.raises(ValueError) as exc:
        _validate.check_work(2.56e11, "a run")
    minutes = 2.56e11 * _validate.SECONDS_PER_CELL_STEP / 60
    assert f"at least {minutes:.3g} min" in str(exc.value)


DENSE_CASES = [
    # one 24000 x 24000 Newton + eigenvalue problem: 30 * 24000^3 flops, hours
    (["spectrum", "--firing", "sigmoid", "--N", "8000"], "N = 8000"),
    (["stability", "--firing", "sigmoid", "--N", "8000"], "N = 8000"),
    (["boundary", "--firing", "sigmoid", "--N", "8000"], "N = 8000"),
    # 200 points of a 6000 x 6000 problem
    (["continue", "--firing", "sigmoid", "--N", "2000", "--stop", "0.2"], "max_points = 200"),
    # 1600 map cells of a 3000 x 3000 problem
    (
        [
            "stability-map",
            "--firing",
            "sigmoid",
            "--N",
            "1000",
            "--beta",
            "0.01:0.1:40",
            "--D",
            "0.1:1:40",
        ],
        "1600 dense",
    ),
]


@pytest.mark.parametrize(("args", "word"), DENSE_CASES, ids=lambda a: " ".join(a[:1]))
def test_dense_work_refused(args, word):
    """Newton/eigenvalue work: ``points x 30 (3 N)^3`` flops, refused before any of it."""
    t0 = time.perf_counter()
    res = CliRunner().invoke(main, args)
    wall = time.perf_counter() - t0
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert wall < 2.0, wall
    out = " ".join(res.output.split())
    assert word in out and "cell-steps of work" in out and "ASTROFIELD_MAX_WORK" in out, out


def test_dense_work_counts_flops():
    """``dense_work`` is the time of ``30 points (3 N)^3`` flops in cell-step units."""
    n = 3 * 1000
    expected = 30 * 7 * n**3 * _validate.SECONDS_PER_FLOP / _validate.SECONDS_PER_CELL_STEP
    assert _validate.dense_work(1000, 7) == pytest.approx(expected, rel=1e-12)
    # the defaults of 'continue' (N 128, 200 points) and of a 50 x 50 sigmoid map at N 64
    assert _validate.dense_work(128, 200) < _validate.DEFAULT_MAX_WORK / 100
    assert _validate.dense_work(64, 2500) < _validate.DEFAULT_MAX_WORK / 100


def test_torus_work_refused(monkeypatch):
    """The 2-D field: members x N^2 x steps (here 64^2 x 200 = 819200), refused just below."""
    from astrofield.simulator.torus import solve2d

    monkeypatch.setenv(_validate.MAX_WORK_ENV, "819199")
    with pytest.raises(ValueError, match=r"N\^2 = 64\^2 cells x 200 steps .* 8\.19e\+05"):
        solve2d(N=64, T=10.0, dt=0.05)


@settings(max_examples=100, deadline=None)
@given(
    N=st.integers(16, 10**6),
    steps=st.integers(1, 10**9),
    B=st.integers(1, 50),
    limit=st.floats(1e3, 1e15),
)
def test_run_refused_exactly_above_the_limit(N, steps, B, limit):
    """Property: a run is refused if and only if members x N x steps exceeds the limit."""
    import numpy as np

    from astrofield import Model
    from astrofield.simulator.integrator import _check_run_work

    work = float(B) * N * steps
    assume(abs(work - limit) > 1e-9 * limit)  # T / dt rounds: stay off the boundary
    model = Model(beta=np.full(B, 0.05))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(_validate.MAX_WORK_ENV, repr(limit))
        if work > limit:
            with pytest.raises(ValueError, match=f"N = {N} grid points"):
                _check_run_work(model, N, steps * 0.5, 0.5)
        else:
            _check_run_work(model, N, steps * 0.5, 0.5)
