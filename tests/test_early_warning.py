"""Tests of the early-warning indicators against independent oracles."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import astrofield
from astrofield.applications.early_warning import (
    detrend,
    early_warning_indicators,
    gaussian_smooth,
    kendall_trend,
    minimum_over_time,
    rolling_ac1,
    rolling_mean,
    rolling_variance,
    time_to_depletion,
)


def _ar1(phi: np.ndarray, sigma: float, rng: np.random.Generator, batch: int = 1) -> np.ndarray:
    """x_{n+1} = phi_n x_n + sigma xi_n, started from its stationary distribution."""
    n = phi.size
    x = np.empty((batch, n))
    x[:, 0] = rng.normal(size=batch) * sigma / np.sqrt(1 - phi[0] ** 2)
    noise = sigma * rng.normal(size=(batch, n))
    for i in range(n - 1):
        x[:, i + 1] = phi[i] * x[:, i] + noise[:, i]
    return x


# --------------------------------------------------------------------------- rolling statistics

@pytest.mark.parametrize("w", [3, 4, 17, 64, 300])
def test_rolling_statistics_equal_per_window_numpy(w):
    rng = np.random.default_rng(3)
    # random walk on a large offset: stresses cancellation in the moment formulas
    x = 50.0 + rng.normal(size=(2, 3, 300)).cumsum(axis=-1)
    var, var1 = rolling_variance(x, w), rolling_variance(x, w, ddof=1)
    ac, mean = rolling_ac1(x, w), rolling_mean(x, w)
    assert var.shape == x.shape
    assert np.all(np.isnan(var[..., : w - 1])) and np.all(np.isnan(ac[..., : w - 1]))
    for idx in np.ndindex(x.shape[:-1]):
        for i in range(w - 1, x.shape[-1]):
            win = x[idx][i - w + 1 : i + 1]
            assert mean[idx][i] == pytest.approx(win.mean(), rel=1e-12)
            assert var[idx][i] == pytest.approx(np.var(win), rel=1e-9, abs=1e-12)
            assert var1[idx][i] == pytest.approx(np.var(win, ddof=1), rel=1e-9, abs=1e-12)
            assert ac[idx][i] == pytest.approx(np.corrcoef(win[:-1], win[1:])[0, 1], abs=1e-9)


def test_white_noise_ac1_zero_and_variance_sigma2():
    rng = np.random.default_rng(11)
    sigma, w = 0.7, 2000
    x = sigma * rng.normal(size=(4, 20000))
    ac = rolling_ac1(x, w)[..., w - 1 :: w]        # non-overlapping windows
    var = rolling_variance(x, w)[..., w - 1 :: w]
    # sampling standard errors: 1/sqrt(w) for ac1, sigma^2 sqrt(2/w) for the variance
    assert np.max(np.abs(ac)) < 4.0 / np.sqrt(w)
    assert np.max(np.abs(var / sigma**2 - 1.0)) < 4.0 * np.sqrt(2.0 / w)
    assert abs(ac.mean()) < 4.0 / np.sqrt(ac.size * w)


def test_ar1_with_ramped_phi_ac1_tracks_phi_and_trend_is_positive():
    rng = np.random.default_rng(5)
    n, w = 20000, 1000
    phi = np.linspace(0.1, 0.9, n)
    x = _ar1(phi, 1.0, rng, batch=2)
    ac = rolling_ac1(x, w)
    ends = np.arange(w - 1, n, 500)
    centre = phi[ends - w // 2]
    se = np.sqrt((1.0 - centre**2) / w)
    assert np.all(np.abs(ac[:, ends] - centre) < 4.5 * se)
    t = np.arange(n) * 0.1
    tau, p = kendall_trend(t, ac)
    assert np.all(tau > 0.8) and np.all(p < 1e-10)
    # variance of a stationary AR(1) is sigma^2 / (1 - phi^2): it rises too
    vtau, _ = kendall_trend(t, rolling_variance(x, w))
    assert np.all(vtau > 0.6)


def test_indicators_dataset_from_dataarray_with_detrending():
    rng = np.random.default_rng(8)
    n, dt = 8000, 0.05
    phi = np.linspace(0.2, 0.95, n)
    t = dt * np.arange(n)
    # fluctuations around a slowly declining resource level
    x = 0.9 - 0.3 * t / t[-1] + 0.01 * _ar1(phi, 1.0, rng, batch=3)
    da = xr.DataArray(x, dims=("trial", "time"), coords={"trial": ["a", "b", "c"], "time": t})
    ds = early_warning_indicators(da, window=40.0, bandwidth=5.0, threshold=0.7, stop=350.0)
    assert ds.attrs["window_samples"] == 801 and ds.attrs["window_time"] == pytest.approx(40.0)
    assert ds.attrs["astrofield_version"] == astrofield.__version__
    assert ds["ac1"].dims == ("trial", "time") and list(ds["trial"].values) == ["a", "b", "c"]
    assert np.all(ds["ac1_tau"].values > 0.7) and np.all(ds["variance_tau"].values > 0.5)
    # the detrended residual keeps the fluctuations, not the ramp
    np.testing.assert_allclose(ds["trend"].values[:, n // 2], 0.75, atol=0.01)
    # the mean level crosses 0.7 at t = 2/3 of the record; fluctuations (sd ~ 0.015 there) reach
    # it first when the mean is a few sd above 0.7, i.e. up to ~60 time units earlier
    ttd = ds["time_to_depletion"].values
    assert np.all((ttd <= 2 / 3 * t[-1]) & (ttd > 2 / 3 * t[-1] - 80.0))
    # same numbers from plain arrays, window in samples
    ds2 = early_warning_indicators(t, x, 801, window_unit="samples", bandwidth=100,
                                   stop=350.0)
    np.testing.assert_allclose(ds2["ac1"].values, ds["ac1"].values, equal_nan=True)
    assert ds2["ac1"].dims == ("batch", "time")
    # causal detrending also works and gives the same sign of trend
    ds3 = early_warning_indicators(da, window=0.1, window_unit="fraction",
                                   detrend_method="rolling_mean", bandwidth=0.02)
    assert np.all(ds3["ac1_tau"].values > 0.5)
    assert np.isnan(ds3["ac1"].values[:, :900]).all()


# --------------------------------------------------------------------------- detrending

def test_gaussian_smoother_preserves_constants_and_lines_in_the_interior():
    x = np.full((2, 500), 2.5)
    np.testing.assert_allclose(gaussian_smooth(x, 20.0), 2.5, rtol=1e-14)
    line = 3.0 + 0.01 * np.arange(500)
    sm = gaussian_smooth(line, 10.0)
    np.testing.assert_allclose(sm[50:-50], line[50:-50], rtol=1e-12)
    res, tr = detrend(line, "none")
    np.testing.assert_array_equal(res, line)
    np.testing.assert_array_equal(tr, 0.0)


# --------------------------------------------------------------------------- resource summaries

def test_time_to_depletion_of_a_linear_ramp_is_exact():
    t = 0.7 * np.arange(200)                  # crossing falls between samples
    ramps = np.stack([1.0 - 0.01 * t, 1.0 - 0.02 * t, np.ones_like(t), 0.1 + 0 * t])
    ttd = time_to_depletion(t, ramps, 0.25)
    assert ttd[0] == pytest.approx(75.0, rel=1e-13)
    assert ttd[1] == pytest.approx(37.5, rel=1e-13)
    assert np.isnan(ttd[2])                   # never depleted
    assert ttd[3] == 0.0                      # starts below the threshold
    coarse = time_to_depletion(t, ramps, 0.25, interpolate=False)
    assert coarse[0] == t[np.argmax(ramps[0] < 0.25)]
    mn, tmin = minimum_over_time(t, ramps[:2])
    np.testing.assert_allclose(mn, ramps[:2, -1])
    np.testing.assert_allclose(tmin, t[-1])


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: rolling_variance(np.zeros(10), 1), "window"),
        (lambda: rolling_variance(np.zeros(10), 11), "window"),
        (lambda: rolling_ac1(np.zeros(10), 2), "window"),
        (lambda: rolling_variance(np.r_[0.0, np.nan, 1.0], 2), "non-finite"),
        (lambda: time_to_depletion(np.zeros(3), np.ones(3), 0.5), "increasing"),
        (lambda: time_to_depletion(np.arange(3.0), np.ones(3), np.nan), "threshold"),
        (lambda: early_warning_indicators(np.arange(10.0), np.zeros(10)), "window"),
        (lambda: early_warning_indicators(np.arange(10.0), np.zeros(10), 3.0,
                                          window_unit="hours"), "window_unit"),
        (lambda: early_warning_indicators(np.r_[0, 1, 3, 4, 5.0], np.zeros(5), 2.0),
         "uniformly"),
        (lambda: early_warning_indicators(np.arange(10.0), np.zeros(10), 3.0,
                                          detrend_method="loess"), "detrend"),
        (lambda: early_warning_indicators(xr.DataArray(np.zeros(5), dims="x"), window=3),
         "time"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
