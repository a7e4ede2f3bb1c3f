"""Fitting observables beyond one trace: trials and conditions, MSD of noisy trials, BOLD,
labelled stability boundaries, and the estimated noise sd with its interval.

Independent checks: standard errors against a Fisher information assembled here from separate,
unbatched solves (one per condition); the chi-square coverage of the noise-sd interval; the
Amari wandering law ``D_eff = sigma^2 / (2 R^2)``; the observed information (a finite-difference
Hessian of the negative log-likelihood) against the Fisher information of the labels.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import astrofield as af
from astrofield.fitting import fit

GAMMAS = (2.0, 3.0)
RUN = {"T": 40.0, "N": 64, "dt": 0.05, "eps": 0.3, "n_frames": 21}
FAST = {"n_starts": 1, "check_resolution": False}  # the grid check once is enough (it passes)


def _conditions_data(K=3, sd=0.01, seed=0):
    m = af.Model(theta=0.1, beta=0.05, gamma=np.array(GAMMAS), D=0.7)
    sol = af.solve(m, progress=False, **RUN)
    rng = np.random.default_rng(seed)
    pos = sol.position.values[:, None, :] + sd * rng.standard_normal((len(GAMMAS), K, 21))
    return xr.Dataset(
        {"position": (("condition", "trial", "time"), pos)},
        coords={"time": sol.time.values, "gamma": ("condition", list(GAMMAS))},
        attrs={"N": 64, "dt": 0.05, "eps": 0.3},
    )


def _trace(**kw):
    base = dict(theta=0.1, beta=0.05, D=0.7, gamma=2.0)
    return af.solve(af.Model(**{**base, **kw}), progress=False, **RUN).position.values


@pytest.fixture(scope="module")
def cond_fit():
    return fit(
        _conditions_data(), af.Model(theta=0.1), {"beta": (0.01, 0.2), "D": (0.1, 3)}, **FAST
    )


def test_trials_and_conditions_recover_the_truth(cond_fit):
    r = cond_fit
    assert r.converged and r.identifiable.all() and r.data.shape == (2, 3, 21)
    for n, v in {"beta": 0.05, "D": 0.7}.items():
        j = r.names.index(n)
        assert r.ci_low[j] < v < r.ci_high[j]
    # the noise sd (0.01) lies in its chi-square interval, from n = 2 x 3 x 21 values
    assert r.sigma_ci[0] < 0.01 < r.sigma_ci[1]
    assert r.sigma_ci[0] < r.sigma < r.sigma_ci[1]
    ds = r.to_dataset()
    assert ds["data"].dims == ("condition", "trial", "time")
    np.testing.assert_array_equal(ds["gamma"].values, GAMMAS)
    # every trial of a condition gets the same fitted trace
    np.testing.assert_allclose(r.fitted[:, 0], r.fitted[:, 2], atol=0)


def test_trials_standard_errors_match_separate_solves(cond_fit):
    """Fisher information of K trials of C conditions, F = K sum_c J_c^T J_c / sigma^2, with
    J_c from unbatched solves (forward steps 1e-4 relative)."""
    r = cond_fit
    best = dict(zip(r.names, r.params, strict=True))
    F = np.zeros((2, 2))
    for g in GAMMAS:
        y0 = _trace(gamma=g, **best)
        J = np.column_stack(
            [
                (_trace(gamma=g, **{**best, n: best[n] * (1 + 1e-4)}) - y0) / (best[n] * 1e-4)
                for n in r.names
            ]
        )
        F += 3 * J.T @ J
    se = r.sigma * np.sqrt(np.diag(np.linalg.inv(F)))
    np.testing.assert_allclose(r.stderr, se, rtol=0.02)


def test_condition_errors_are_named():
    ds = _conditions_data(K=2)
    with pytest.raises(ValueError, match="gamma is fixed per condition"):
        fit(ds, af.Model(theta=0.1), {"gamma": (1, 3)})
    with pytest.raises(ValueError, match="'beta' must be 2 finite values"):
        fit(ds, af.Model(theta=0.1), {"D": (0.1, 3)}, conditions={"beta": [0.05]})
    with pytest.raises(ValueError, match="observable = 'speed'"):
        fit(ds, af.Model(theta=0.1), {"D": (0.1, 3)}, observable="speed")


# --- labelled stability boundary -----------------------------------------------------------


def _labels(seed, n=200, s=10.0, gamma=2.0, theta=0.1):
    """Points (beta, D) labelled drifting with probability 1 / (1 + exp(s E'(0)))."""
    from astrofield.theory.evans import evans_dprime

    rng = np.random.default_rng(seed)
    b = rng.uniform(0.01, 0.2, n)
    D = np.exp(rng.uniform(np.log(0.05), np.log(3), n))
    p = 1 / (1 + np.exp(s * evans_dprime(theta, b, gamma, D)))
    lab = (rng.random(n) < p).astype(int)
    return xr.Dataset({"drifting": ("point", lab), "beta": ("point", b), "D": ("point", D)})


def _nll(ds, gamma, s):
    """The labels' negative log-likelihood written out here (64-node E'(0))."""
    from astrofield.theory.evans import evans_dprime

    e = evans_dprime(0.1, ds.beta.values, gamma, ds.D.values)
    y = ds.drifting.values
    return float(np.sum(np.logaddexp(0, s * e) * y + np.logaddexp(0, -s * e) * (1 - y)))


def test_boundary_recovers_gamma_and_sharpness():
    # seed 3: of the 20 draws of the coverage test, seed 0's sharpness interval and seed 1's
    # gamma interval miss the truth (95 % coverage each); any other seed would do
    ds = _labels(3)
    r = fit(ds, af.Model(theta=0.1), {"gamma": (1, 4)}, observable="boundary", n_starts=1)
    assert r.names == ["gamma", "sharpness"] and r.identifiable.all() and r.converged
    for j, v in enumerate((2.0, 10.0)):
        assert r.ci_low[j] < v < r.ci_high[j]
    assert r.cost == pytest.approx(_nll(ds, *r.params), rel=1e-6)
    # the observed information (a finite-difference Hessian of the NLL written out here)
    # against the Fisher information of the fit
    th, h = r.params, 1e-3 * r.params
    H = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h[i], np.eye(2)[j] * h[j]
            H[i, j] = (
                _nll(ds, *(th + ei + ej))
                - _nll(ds, *(th + ei - ej))
                - _nll(ds, *(th - ei + ej))
                + _nll(ds, *(th - ei - ej))
            ) / (4 * h[i] * h[j])
    np.testing.assert_allclose(r.stderr, np.sqrt(np.diag(np.linalg.inv(H))), rtol=0.25)
    fd = r.to_dataset()
    assert fd["data"].dims == ("point",) and fd["param_units"].values[1] == "neural time constants"


def test_separable_labels_leave_the_sharpness_undetermined():
    """Labels that follow the theory exactly: the likelihood flattens out towards a perfect
    classification (cost -> 0), the Fisher information vanishes, and neither the sharpness nor
    gamma (any value that separates the labels does) is reported as known."""
    with np.errstate(over="ignore"):
        ds = _labels(1, n=60, s=1e7)
    r = fit(ds, af.Model(theta=0.1), {"gamma": (1, 4)}, observable="boundary", n_starts=1)
    assert r.cost < 1e-6 and not r.identifiable.any()
    assert all(v != v for v in r.summary()["stderr"].values())


def test_boundary_input_errors():
    ds = _labels(0, n=20)
    with pytest.raises(ValueError, match="'drifting' on a 'point'"):
        fit(ds.rename(drifting="label"), af.Model(), {"gamma": (1, 4)}, observable="boundary")
    with pytest.raises(ValueError, match="beta is given per point"):
        fit(ds, af.Model(), {"beta": (0.01, 0.2)}, observable="boundary")
    with pytest.raises(ValueError, match="0 \\(stable\\) or 1"):
        fit(
            ds.assign(drifting=ds.drifting * 2),
            af.Model(),
            {"gamma": (1, 4)},
            observable="boundary",
        )
    with pytest.raises(ValueError, match="runs no simulation: N"):
        fit(ds, af.Model(), {"gamma": (1, 4)}, observable="boundary", N=64)


@pytest.mark.slow
def test_boundary_coverage_over_label_draws():
    """20 label draws: both 95 % intervals contain the truth in 19-20 of them (measured 95 %
    for both); the standardised errors have sd within 0.7-1.4."""
    P, S = [], []
    for seed in range(20):
        r = fit(
            _labels(seed), af.Model(theta=0.1), {"gamma": (1, 4)}, observable="boundary", n_starts=1
        )
        P.append(r.params)
        S.append(r.stderr)
    z = (np.array(P) - [2.0, 10.0]) / np.array(S)
    assert np.all(np.mean(np.abs(z) < 1.96, axis=0) >= 0.85)
    assert np.all((z.std(axis=0) > 0.7) & (z.std(axis=0) < 1.4))
