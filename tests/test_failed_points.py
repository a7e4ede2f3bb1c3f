"""Non-finite states are detected, frozen and reported: never returned as a result."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from click.testing import CliRunner

import astrofield.experiments.phase as phase_mod
import astrofield.simulator.integrator as integ
from astrofield.cli import main
from astrofield.experiments.phase import drift_experiment, summarize
from astrofield.model.definition import Model
from astrofield.simulator.integrator import solve
from astrofield.simulator.step_control import NonFiniteWarning

T_BAD = 1.0


def _poison(rows, batch):
    """Zero input that turns NaN for the batch rows ``rows`` (of ``batch``) from t = T_BAD on."""
    def stim(x, t):
        out = np.zeros((batch, x.size))
        if t >= T_BAD:
            out[list(rows)] = np.nan
        return out
    return stim


def test_solve_flags_freezes_and_warns():
    model = Model(beta=np.array([0.05, 0.04]))
    kw = dict(T=3.0, dt=0.1, N=32, n_frames=31, progress=False)
    with pytest.warns(NonFiniteWarning, match="1 of 2 parameter set"):
        ds = solve(model, stimulus=_poison([1], 2), **kw)
    assert ds["failed"].values.tolist() == [False, True]
    assert ds["failed"].attrs["long_name"] and "units" in ds["t_failed"].attrs
    # the input is NaN from t = 1 on, which the step from 0.9 uses (its end-point drive): the
    # first non-finite state is at t = 1.0, the last finite one at 0.9
    assert np.isnan(ds["t_failed"].values[0]) and ds["t_failed"].values[1] == pytest.approx(1.0)
    assert ds["t_final"].values[1] == pytest.approx(0.9)
    # no result is reported for a failed member: NaN final values and NaN traces after it
    for k in ("drift", "mass_drift", "velocity_final", "width_final"):
        assert np.isnan(ds[k].values[1]) and np.isfinite(ds[k].values[0])
    pos = ds["position"].values[1]
    t = ds["time"].values
    assert np.isfinite(pos[t < 0.95]).all() and np.isnan(pos[t > 0.95]).all()
    assert np.isnan(ds["u"].values[1, -1]).all()
    # the other member is untouched: same as a run without the failing one
    alone = solve(Model(beta=0.05), **kw)
    np.testing.assert_allclose(ds["drift"].values[0], float(alone["drift"]), rtol=0, atol=1e-12)


def test_sweep_marks_failed_points_and_excludes_them(monkeypatch):
    beta = np.array([0.02, 0.05, 0.03])
    poisoned = functools.partial(solve, stimulus=_poison([1], 3))
    monkeypatch.setattr(phase_mod, "solve", poisoned)
    ds = drift_experiment(0.1, beta, 2.0, 1.0, T=100.0, N=32, dt=0.1, early_stop=False)
    assert ds["verdict"].values.tolist()[1] == "failed"
    assert ds["verdict_code"].values[1] == -2 and bool(ds["failed"].values[1])
    assert np.isnan(ds["drift"].values[1]) and np.isnan(ds["velocity"].values[1])
    assert ds["verdict"].values[0] in ("stable", "unstable")
    s = summarize(ds)
    assert s["n_failed"] == 1 and s["n_stable"] + s["n_unstable"] == 2
    evans = ds["evans_stable"].values
    ok = (ds["verdict_code"].values == 0) == evans
    assert s["agreement"] == pytest.approx(ok[[0, 2]].mean())


@pytest.mark.filterwarnings("ignore::astrofield.simulator.step_control.NonFiniteWarning")
def test_cli_run_exits_1_on_failure(monkeypatch, tmp_path):
    simulate = integ.simulate  # what `astrofield run` calls (its defaults: solve's signature)

    def poisoned(*args, **kw):  # the CLI passes its own (empty) stimulus: replace it
        return simulate(*args, **{**kw, "stimulus": _poison([0], 1)})

    monkeypatch.setattr(integ, "simulate", poisoned)
    out = tmp_path / "r.nc"
    res = CliRunner().invoke(main, ["run", "--T", "2", "--dt", "0.1", "--N", "32", "-q",
                                    "--json", "-o", str(out)])
    assert res.exit_code == 1
    assert "non-finite at t = 1 " in res.output
    assert res.stdout == "" and not out.exists()  # no summary printed, nothing written


def test_cli_refuses_coarse_step_with_usage_error():
    res = CliRunner().invoke(main, ["run", "--N", "32", "--dt", "50", "--T", "10000", "-q",
                                    "--json"])
    assert res.exit_code == 2
    assert "dt = 50 is outside the allowed range (0, 0.1]" in res.output
    # gamma 1e4: the step rule (which covers the exchange's full stiffness) allows dt <= 0.063
    ok = CliRunner().invoke(main, ["run", "--gamma", "1e4", "--N", "64", "--dt", "0.05",
                                   "--T", "5", "--json", "-q"])
    assert ok.exit_code == 0, ok.output
    summary = json.loads(ok.stdout)
    assert summary["drift"] is not None and summary["mass_drift"] is not None


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_overflowing_observable_fails_the_member(backend):
    """A finite state whose velocity overflows (absurd 1e300 input) is a failure, not a result
    with NaN in it (found by the long fuzz profile)."""
    from astrofield.model.stimulus import Pulse

    with pytest.warns(NonFiniteWarning):
        ds = solve(Model(theta=0.5, beta=0.0, D=np.inf), T=0.5, dt=0.1, N=16, eps=0.0,
                   stimulus=[Pulse(0.0, 0.3, 1e300, 0.0, 1.0)], n_frames=3, progress=False,
                   backend=backend)
    assert bool(ds["failed"]) and np.isfinite(float(ds["t_failed"]))
    assert np.isnan(float(ds["drift"])) and np.isnan(float(ds["velocity_final"]))
