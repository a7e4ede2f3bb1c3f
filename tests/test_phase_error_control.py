"""Error control of the drift experiment: Richardson extrapolation from (N, dt) and (N/2, 2 dt),
refinement at (2N, dt/2), checked against converged runs and against the runs it combines."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from astrofield.cli import main
from astrofield.experiments.phase import (
    DEFAULTS,
    VerdictRule,
    drift_experiment,
    error_control_plan,
    phase_diagram,
    richardson,
)

# far from the Evans boundary (fast traveller), nearer to it (slow traveller), stable
D = np.array([0.087, 0.45, 0.5])
BETA = np.array([0.0546, 0.0841, 0.03])


def test_richardson_cancels_the_second_order_term():
    """f(h) = a + b h^2 + c h^4: the extrapolation of f(h), f(2h) is a - 4 c h^4 exactly."""
    a, b, c, h = 1.5, -3.0, 7.0, 0.1
    f = lambda h: a + b * h**2 + c * h**4  # noqa: E731
    assert richardson(f(h), f(2 * h)) == pytest.approx(a - 4 * c * h**4, rel=1e-13)


@pytest.fixture(scope="module")
def converged():
    """Independent reference: N 256, dt 0.0125 (16x finer in time, 4x in space), run to T."""
    return drift_experiment(0.1, BETA, 2.0, D, N=256, dt=0.0125, early_stop=False,
                            error_control=False)


def test_error_control_against_a_converged_run(converged):
    ctl = drift_experiment(0.1, BETA, 2.0, D)  # the defaults: N 64, dt 0.1, error control
    fine = drift_experiment(0.1, BETA, 2.0, D, error_control=False)
    finer = drift_experiment(0.1, BETA, 2.0, D, N=128, dt=0.05, error_control=False)
    assert ctl.attrs["error_control"] == "on"
    assert list(ctl["verdict"].values) == list(converged["verdict"].values) == \
        ["unstable", "unstable", "stable"]
    ref = converged["drift"].values
    err_ctl = np.abs(ctl["drift"].values - ref) / np.abs(ref)
    # a refined point's estimate is that of its finer run (the slow traveller: its growth
    # statistic is close to the threshold 2)
    assert list(ctl["refined"].values) == [False, True, False]
    err_fine = np.abs(np.where(ctl["refined"].values, finer["drift"].values,
                               fine["drift"].values) - ref)
    # travellers: the extrapolated drift is within 0.5 % of the converged one, several times
    # closer than the single run, whose error drift_error predicts to a factor 2
    assert np.all(err_ctl[:2] < 5e-3)
    assert np.all(err_ctl[:2] * np.abs(ref[:2]) < 0.3 * err_fine[:2])
    est = ctl["drift_error"].values
    assert np.all((est[:2] > 0.5 * err_fine[:2]) & (est[:2] < 2.0 * err_fine[:2]))
    # the stable point's relaxation offset too: within 1 %, at least twice closer
    assert err_ctl[2] < 1e-2 and err_ctl[2] * abs(ref[2]) < 0.5 * err_fine[2]
    assert 0.3 * err_fine[2] < est[2] < 3.0 * err_fine[2]
    assert np.all(np.isfinite(ctl["t_companion"].values))


def test_refined_points_extrapolate_the_finer_pair():
    """refine_tol -> 0: every traveller is rerun at (2N, dt/2); its verdict and statistics come
    from that run and its drift is the extrapolation of the (2N, dt/2) and (N, dt) runs."""
    kw = dict(T=150.0, early_stop=True)
    ctl = drift_experiment(0.1, BETA, 2.0, D, N=64, dt=0.1, refine_tol=1e-12, **kw)
    n64 = drift_experiment(0.1, BETA, 2.0, D, N=64, dt=0.1, error_control=False, **kw)
    n128 = drift_experiment(0.1, BETA, 2.0, D, N=128, dt=0.05, error_control=False, **kw)
    trav = n64["verdict"].values == "unstable"
    assert trav.any()
    np.testing.assert_array_equal(ctl["refined"].values, trav)
    np.testing.assert_array_equal(ctl["verdict"].values, np.where(
        trav, n128["verdict"].values, n64["verdict"].values))
    moving = trav & (n128["verdict"].values == "unstable")
    d_f, d_c = n128["drift"].values[moving], n64["drift"].values[moving]
    np.testing.assert_allclose(ctl["drift"].values[moving], d_f + (d_f - d_c) / 3, rtol=1e-12)
    np.testing.assert_allclose(ctl["drift_error"].values[moving], np.abs(d_f - d_c) / 3,
                               rtol=1e-12)
    for k in ("t_final", "width", "growth"):
        np.testing.assert_array_equal(ctl[k].values[trav], n128[k].values[trav])


def test_unrefined_points_move_by_their_error_estimate():
    ctl = drift_experiment(0.1, BETA, 2.0, D, T=150.0, refine_tol=1e9)
    fine = drift_experiment(0.1, BETA, 2.0, D, T=150.0, error_control=False)
    kept = ~ctl["refined"].values
    assert kept.all()  # no verdict differs between the two resolutions here
    np.testing.assert_allclose(np.abs(ctl["drift"].values - fine["drift"].values),
                               ctl["drift_error"].values, rtol=1e-9)


@pytest.mark.parametrize("kw, why", [
    (dict(N=32), "N = 32"),
    (dict(N=66), None),
    (dict(N=63), "N = 63"),
    (dict(dt=0.5, T=150.5), "T = 150.5"),
    (dict(dt=0.4), "frame_dt = 1"),
])
def test_plan_names_what_is_missing(kw, why):
    args = {"T": 500.0, "N": 64, "dt": 0.1, "frame_dt": 1.0, "rule": VerdictRule(), **kw}
    on, reason = error_control_plan(None, **args)
    assert on is (why is None)
    if why is None:
        assert error_control_plan(True, **args) == (True, "on")
        return
    assert reason.startswith("off: ") and why in reason
    with pytest.raises(ValueError, match=why.split(" = ")[0]):
        error_control_plan(True, **args)
    assert error_control_plan(False, **args) == (False, "off")


def test_bad_refine_tol_is_refused_before_work():
    with pytest.raises(ValueError, match="refine_tol"):
        drift_experiment(0.1, 0.05, 2.0, 0.3, refine_tol=0.0)


def test_cli_error_control(tmp_path):
    run = CliRunner().invoke
    base = ["phase", "--vary", "D=0.087,0.5", "--beta", "0.0546", "--T", "100",
            "--scheduler", "serial", "--json", "-q"]
    res = run(main, [*base, "--N", "32", "--error-control", "on"])
    assert res.exit_code == 2 and "N = 32" in res.output
    res = run(main, [*base, "--N", "64", "--refine-tol", "0"])
    assert res.exit_code == 2 and "--refine-tol" in res.output
    res = run(main, [*base, "--error-control", "off"])
    assert res.exit_code == 0, res.output
    assert '"error_control": "off"' in res.output
    assert DEFAULTS["N"] == 64 and DEFAULTS["dt"] == 0.1


def test_borderline_verdicts_are_refined():
    """Next to the boundary (D 0.4411, beta 0.0576: Evans E'(0) = -0.003) the persist
    statistic at N 64 lies just below its threshold (stable) and moves with the resolution; the
    point is rerun at (2N, dt/2), whose verdict it takes (the converged run, N 256 and
    dt 0.0125, travels too)."""
    kw = dict(theta=0.1, beta=0.0576, gamma=2.0, D=0.4411)
    ctl = drift_experiment(**kw)
    fine = drift_experiment(**kw, error_control=False)
    finer = drift_experiment(**kw, N=128, dt=0.05, error_control=False)
    rule = VerdictRule()
    assert abs(float(fine["persist"][0]) - rule.persist) < 0.05  # the premise: borderline
    assert bool(ctl["refined"][0])
    assert ctl["verdict"].values[0] == finer["verdict"].values[0] == "unstable"
    assert fine["verdict"].values[0] == "stable"


@settings(max_examples=40, deadline=None)
@given(tol=st.one_of(st.floats(max_value=0.0), st.just(float("nan"))),
       control=st.sampled_from([None, True, False]))
def test_bad_refine_tol_fuzzed(tol, control):
    """Any refine_tol <= 0 or NaN is refused, naming the parameter, before the sweep starts."""
    with pytest.raises(ValueError, match="refine_tol"):
        phase_diagram(["D=0.1,0.2"], T=100.0, refine_tol=tol, error_control=control,
                      executor="serial", progress=False)
