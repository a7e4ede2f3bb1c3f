"""Early decisions replayed on full traces: they must not change a verdict, and the drift at T
they extrapolate must stay within 0.3 % (travellers) or within ``drift_bound`` (relaxed).

The traces come from runs to T without early decisions (independent of the rule); the rule
(:class:`EarlyStop`, called every ``t_ref`` as ``solve`` does) is replayed on them, and the
verdict of the replayed run is read, as the phase map reads it, from the trace extended by the
extrapolation (:func:`_extend_trace`).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import cumulative_trapezoid

from astrofield.experiments.phase import (
    EarlyStop,
    VerdictRule,
    _extend_trace,
    drift_experiment,
    extrapolate_to_T,
)
from astrofield.theory.stability import beta_star

T, N, DT = 300.0, 64, 0.1


def _points():
    """Travellers (one settling through slow oscillations), relaxing points, the strongly
    unstable small-D corner (travels, then slows down) and pairs straddling the boundary
    E'(0) = 0 at D 0.3 and 0.5 (slow growth or slow decay)."""
    D = [0.1, 0.05, 0.025, 0.6, 1.0, 0.001, 0.01]
    beta = [0.02, 0.09, 0.04, 0.02, 0.05, 0.003, 0.013]
    for d in (0.3, 0.5):
        b = float(beta_star(0.1, 2.0, d)[0])
        D += [d, d, d, d]
        beta += [0.9 * b, 0.97 * b, 1.03 * b, 1.1 * b]
    return np.array(D), np.array(beta)


@pytest.fixture(scope="module")
def full():
    D, beta = _points()
    return drift_experiment(0.1, beta, 2.0, D, T=T, N=N, dt=DT, early_stop=False,
                            traces=True, frame_dt=1.0)


def _replay(full):
    t = full["time"].values
    v = full["velocity_trace"].values
    d_T = full["drift"].values
    cum = cumulative_trapezoid(v, t, axis=1, initial=0.0)
    drift_t = d_T[:, None] - (cum[:, -1:] - cum)  # p(t) - p(0), integrated back from T
    rule = VerdictRule()
    stop = EarlyStop(T, N, rule)
    members = np.arange(v.shape[0])
    for t_call in np.arange(rule.t_ref, T, rule.t_ref):
        i = int(np.searchsorted(t, t_call - 1e-9))
        done = stop(t_call, drift_t[members, i], v[members, i], None, members)
        members = members[~done]
    kind = stop.decided
    m = kind >= 0
    at_T = extrapolate_to_T(T, stop.t_decided[m], stop.drift_decided[m],
                            stop.velocity_decided[m], kind[m], stop.speed[m], stop.rate[m])
    truncated = np.where(t[None, :] <= np.where(m, stop.t_decided, T)[:, None] + 1e-9, v,
                         np.nan)
    extended = _extend_trace(t, truncated, kind, stop.t_decided, stop.velocity_decided,
                             stop.speed, stop.rate)
    return stop, at_T, rule.classify(t, extended)["unstable"]


def test_replayed_early_decisions_keep_every_verdict_and_the_drift_at_T(full):
    stop, at_T, unstable = _replay(full)
    verdict = full["verdict_code"].values
    assert set(verdict.tolist()) == {0, 1}  # both verdicts are present
    np.testing.assert_array_equal(unstable.astype(int), verdict)
    kind = stop.decided
    assert (kind == 1).sum() >= 3 and (kind == 0).sum() >= 2  # both kinds are exercised
    # next to the boundary, travellers that never double their speed are decided on the
    # persist criterion
    assert np.any((kind == 1) & (stop.peak < stop.travel))
    m = kind >= 0
    err = np.abs(at_T["drift"] - full["drift"].values[m])
    bound = stop.drift_bound[m]
    travel = kind[m] == 1
    assert np.all(err[travel] <= 3e-3 * np.abs(full["drift"].values[m][travel]))
    assert np.all(err <= bound)
    assert np.all(stop.t_decided[m] < T)


def test_early_stop_parameters_are_validated():
    with pytest.raises(ValueError, match="travel = 1.5"):
        EarlyStop(500, 128, travel=1.5)  # below the rule's growth: could change a verdict
    with pytest.raises(ValueError, match="relax = 0.5"):
        EarlyStop(500, 128, relax=0.5)  # above the rule's persist
    with pytest.raises(ValueError, match="accuracy = 0"):
        EarlyStop(500, 128, accuracy=0.0)
    with pytest.raises(ValueError, match="travel_window = 2"):
        EarlyStop(500, 128, travel_window=2)
    with pytest.raises(ValueError, match="safety = 2"):
        EarlyStop(500, 128, safety=2.0)
    with pytest.raises(ValueError, match="persist_margin = 0.9"):
        EarlyStop(500, 128, persist_margin=0.9)  # would decide below the persist threshold
    with pytest.raises(ValueError, match="rate_spread = 0"):
        EarlyStop(500, 128, rate_spread=0.0)
    with pytest.raises(ValueError, match="window = 2"):
        EarlyStop(500, 128, window=2)


def test_runs_to_T_record_how_the_early_decisions_would_have_gone(full):
    """Without early decisions every run goes to T, and ``settled_kind`` records what the
    early-decision rule would have decided (read from the traces after the run): the same as
    ``decided_early`` of the same points with early decisions, whose runs are the same up to
    their decision; the runs to T themselves are untouched (``decided_early`` -1, ``t_final``
    T)."""
    D, beta = _points()
    early = drift_experiment(0.1, beta, 2.0, D, T=T, N=N, dt=DT, frame_dt=1.0)
    kind = full["settled_kind"].values
    np.testing.assert_array_equal(kind, early["decided_early"].values)
    assert {-1, 0, 1} <= set(kind.tolist())  # -1: not settled by T (never decided at T)
    assert np.all(full["decided_early"].values == -1) and np.all(full["t_final"].values == T)
    assert "settled_kind" not in early
    assert full["settled_kind"].attrs["flag_meanings"] == "not_settled relaxing travelling"
