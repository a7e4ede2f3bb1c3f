"""The benchmark scripts keep running (quick modes); their timings are not asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize(("script", "expect"), [
    ("bench_simulate.py", "single-run speed-up"),
    ("bench_phase_map.py", "agreement"),
    ("bench_adaptive_map.py", "cells outside the estimate"),
    ("adaptive_vs_published_resolution.py", "long runs at N"),
    ("profile_adaptive_map.py", "simulated time units per resolution"),
    ("early_stop_headroom.py", "early-stop headroom done"),
    ("bench_batch.py", "points/s"),
    pytest.param("bench_gpu_map.py", "verdicts identical", marks=pytest.mark.slow),
    ("stick_slip_convergence.py", "wall s per N"),
    ("dinf_slip_convergence.py", "wall s per run"),
    ("dinf_ladder_check.py", "ladder check done"),
    ("bench_continuation.py", "continuation benchmark done"),
    ("phase_accuracy.py", "relative drift error"),
    ("bench_startup.py", "target: astrofield run"),
    ("bench_step.py", "us per step"),
    pytest.param("bench_step_batch.py", "results identical: True", marks=pytest.mark.slow),
    ("bench_theory.py", "same crossings to 1e-12"),
    ("sigmoid_drift_points.py", "beta_eig"),
    ("bench_model_map.py", "model map benchmark done"),
    pytest.param("bench_fit_observables.py", "fit observables benchmark done",
                 marks=pytest.mark.slow),
])
def test_benchmark_quick_mode_runs(script, expect):
    res = subprocess.run([sys.executable, str(BENCH / script), "--quick"], capture_output=True,
                         text=True, timeout=300, cwd=BENCH)
    assert res.returncode == 0, res.stderr[-2000:]
    assert expect in res.stdout
