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
