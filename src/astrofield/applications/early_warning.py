r"""Early-warning indicators of resource collapse (critical slowing down).

Close to a fold (saddle-node) bifurcation -- e.g. the loss of the bump past ``beta_max`` or the
collapse of activity as resources deplete -- the dominant eigenvalue ``lambda`` of the
linearisation tends to zero, so fluctuations recover more slowly (Scheffer et al. 2009; Dakos et
al. 2012).  For a linear mode with relaxation rate ``-lambda`` sampled at interval ``dt`` the lag-1
autocorrelation is ``rho_1 = exp(lambda dt) -> 1`` and, for additive noise of intensity
``sigma^2``, the stationary variance is ``sigma^2 / (2 |lambda|) -> inf``.  Rising rolling
variance and lag-1 autocorrelation, summarised by a positive Kendall rank correlation ``tau``
with time, are therefore the classical generic early-warning signals.

Conventions
-----------
* Time is the **last axis**; any leading axes are batch axes and are processed independently.
  An ``xarray.DataArray`` with a ``time`` dimension (e.g. a simulator output) may be passed
  directly to :func:`early_warning_indicators`; its other dimensions and coordinates are kept.
* Rolling windows are **trailing**: the indicator at sample ``i`` uses samples
  ``i - w + 1 .. i``, so it only depends on the past (apart from a non-causal detrending, see
  :func:`detrend`); the first ``w - 1`` entries are NaN.
* Rolling moments are computed in O(n) operations per series, exactly in exact arithmetic: the
  series is cut into blocks of the window length, centred per block, prefix-summed, and the (at
  most two) block pieces of each window are merged with the pairwise update of Chan, Golub and
  LeVeque (1983), which avoids the cancellation of the naive ``E[x^2] - E[x]^2``.

References
----------
Scheffer M, Bascompte J, Brock WA, et al. (2009). Early-warning signals for critical transitions.
Nature 461:53-59.

Dakos V, Carpenter SR, Brock WA, et al. (2012). Methods for detecting early warnings of critical
transitions in time series illustrated using simulated ecological data. PLoS ONE 7:e41010.

Chan TF, Golub GH, LeVeque RJ (1983). Algorithms for computing the sample variance: analysis and
recommendations. Am Stat 37:242-247.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from scipy.ndimage import gaussian_filter1d
from scipy.stats import kendalltau

from astrofield._validate import as_time_series, check_int, check_range, time_last
from astrofield._version import __version__

__all__ = [
    "rolling_mean",
    "rolling_variance",
    "rolling_ac1",
    "gaussian_smooth",
    "detrend",
    "kendall_trend",
    "minimum_over_time",
    "time_to_depletion",
    "early_warning_indicators",
]

DETREND_METHODS = ("gaussian", "rolling_mean", "none")
WINDOW_UNITS = ("time", "samples", "fraction")


# --------------------------------------------------------------------------- input handling

def _as_time(t: ArrayLike, n: int) -> np.ndarray:
    tt = np.asarray(t, dtype=float)
    if tt.ndim != 1 or tt.size != n:
        raise ValueError(f"t must be 1-D with the length of the time axis ({n}), got shape "
                         f"{tt.shape}")
    if not np.all(np.isfinite(tt)) or (n > 1 and np.any(np.diff(tt) <= 0)):
        raise ValueError("t must be finite and strictly increasing")
    return tt


def _window_samples(x: np.ndarray, window: Any, minimum: int) -> int:
    n = x.shape[-1]
    return check_int("window", window, minimum, max(n, minimum))


# --------------------------------------------------------------------------- rolling moments
# Why hand-written and not pandas/xarray ``rolling``: measured by benchmarks/bench_rolling.py
# against an exact two-pass reference (8 series of 20000 samples around 1e3 with fluctuations
# ~1e-3, window 500), pandas' ``rolling().var()`` is 4-8x faster (38-77 ms against 309-328 ms on
# a loaded 2-core machine) but its relative error is 1.8e-7 against 2.0e-11 here: its add/remove
# update loses the digits that these block-centred prefix sums keep, and early-warning variances
# are exactly such small fluctuations on a large mean. Lag-1 autocorrelations agree to 1e-11
# either way. Kept for exactness (the xarray rolling path builds an (n, w) window view: O(n w)
# work and memory).

def _rolling_comoments(a: np.ndarray, b: np.ndarray, m: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Trailing-window means and co-moments of ``a`` and ``b`` (same shape, time last).

    Returns ``mean_a, mean_b, Caa, Cbb, Cab`` for the windows ending at ``m-1 .. n-1``, where
    ``Cxy = sum_window (x - mean_x)(y - mean_y)``.
    """
    n = a.shape[-1]
    nb = -(-n // m)
    pad = nb * m - n
    batch = a.shape[:-1]

    def blocks(z: np.ndarray) -> np.ndarray:
        zp = np.concatenate([z, np.zeros((*batch, pad))], axis=-1) if pad else z
        return zp.reshape(*batch, nb, m)

    ab, bb = blocks(a), blocks(b)
    ca, cb = ab[..., :1], bb[..., :1]  # per-block centre: the block's first value
    da, db = ab - ca, bb - cb
    pref = [np.cumsum(z, axis=-1).reshape(*batch, nb * m)
            for z in (da, db, da * da, db * db, da * db)]
    ca = np.repeat(ca[..., 0], m, axis=-1)
    cb = np.repeat(cb[..., 0], m, axis=-1)

    end = np.arange(m - 1, n)
    start = end - m + 1
    kb = end // m                                  # block holding the window's end
    nB = end - kb * m + 1                          # samples of the window in block kb
    nA = m - nB                                    # samples in the previous block (may be 0)
    last_prev = kb * m - 1                         # last index of block kb - 1
    has_a = nA > 0
    before = np.where(has_a, start - 1, 0)         # prefix end preceding the window in kb - 1
    a_first = np.where(has_a, (kb - 1) * m, 0)     # first index of block kb - 1
    lp = np.where(has_a, last_prev, 0)

    def piece_b(P: np.ndarray) -> np.ndarray:
        return P[..., end]

    def piece_a(P: np.ndarray) -> np.ndarray:
        sub = np.where(before >= a_first, P[..., before], 0.0)
        sub = np.where(start == a_first, 0.0, sub)
        return np.where(has_a, P[..., lp] - sub, 0.0)

    sB = [piece_b(P) for P in pref]
    sA = [piece_a(P) for P in pref]
    safe_nA = np.where(has_a, nA, 1)
    # means and co-moments of each piece (pieces centred on their own block's first value)
    mA_a = np.where(has_a, ca[..., lp] + sA[0] / safe_nA, 0.0)
    mA_b = np.where(has_a, cb[..., lp] + sA[1] / safe_nA, 0.0)
    mB_a = ca[..., end] + sB[0] / nB
    mB_b = cb[..., end] + sB[1] / nB
    CA_aa = np.where(has_a, sA[2] - sA[0] ** 2 / safe_nA, 0.0)
    CA_bb = np.where(has_a, sA[3] - sA[1] ** 2 / safe_nA, 0.0)
    CA_ab = np.where(has_a, sA[4] - sA[0] * sA[1] / safe_nA, 0.0)
    CB_aa = sB[2] - sB[0] ** 2 / nB
    CB_bb = sB[3] - sB[1] ** 2 / nB
    CB_ab = sB[4] - sB[0] * sB[1] / nB
    w = nA * nB / m
    dla, dlb = mB_a - mA_a, mB_b - mA_b
    mean_a = np.where(has_a, mA_a + dla * (nB / m), mB_a)
    mean_b = np.where(has_a, mA_b + dlb * (nB / m), mB_b)
    Caa = CA_aa + CB_aa + w * dla * dla
    Cbb = CA_bb + CB_bb + w * dlb * dlb
    Cab = CA_ab + CB_ab + w * dla * dlb
    return mean_a, mean_b, np.maximum(Caa, 0.0), np.maximum(Cbb, 0.0), Cab


def _pad_front(values: np.ndarray, n: int) -> np.ndarray:
    out = np.full((*values.shape[:-1], n), np.nan)
    out[..., n - values.shape[-1]:] = values
    return out


def rolling_mean(x: ArrayLike, window: int) -> np.ndarray:
    r"""Trailing rolling mean :math:`\bar x_i = \frac1w \sum_{j=i-w+1}^{i} x_j`.

    Parameters
    ----------
    x
        Series, shape ``(..., n)`` (time last), finite.
    window
        Window length ``w`` in samples, ``1 <= w <= n``.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., n)``; the first ``w - 1`` entries are NaN.
    """
    x = as_time_series(x)
    w = _window_samples(x, window, 1)
    mean, _, _, _, _ = _rolling_comoments(x, x, w)
    return _pad_front(mean, x.shape[-1])


def rolling_variance(x: ArrayLike, window: int, *, ddof: int = 0) -> np.ndarray:
    r"""Trailing rolling variance :math:`\frac{1}{w - \mathrm{ddof}} \sum (x_j - \bar x)^2`.

    Parameters
    ----------
    x
        Series, shape ``(..., n)`` (time last), finite.
    window
        Window length ``w`` in samples, ``2 <= w <= n``.
    ddof
        Delta degrees of freedom (0: population variance as ``numpy.var``; 1: unbiased).

    Returns
    -------
    numpy.ndarray
        Shape ``(..., n)``; the first ``w - 1`` entries are NaN.
    """
    x = as_time_series(x)
    w = _window_samples(x, window, 2)
    ddof = check_int("ddof", ddof, 0, w - 1)
    _, _, caa, _, _ = _rolling_comoments(x, x, w)
    return _pad_front(caa / (w - ddof), x.shape[-1])


def rolling_ac1(x: ArrayLike, window: int) -> np.ndarray:
    r"""Trailing rolling lag-1 autocorrelation.

    Within each window of ``w`` samples the ``w - 1`` consecutive pairs ``(x_j, x_{j+1})`` are
    formed and their Pearson correlation is returned,

    .. math:: \rho_1 = \frac{\sum (x_j - \bar x_-)(x_{j+1} - \bar x_+)}
                            {\sqrt{\sum (x_j - \bar x_-)^2 \sum (x_{j+1} - \bar x_+)^2}},

    with :math:`\bar x_\mp` the means of the first and last ``w - 1`` samples.  For an AR(1)
    process :math:`x_{n+1} = \phi x_n + \sigma \xi_n` it estimates :math:`\phi` (it is the
    least-squares AR(1) slope up to the variance ratio of the two sub-windows).

    Parameters
    ----------
    x
        Series, shape ``(..., n)`` (time last), finite.
    window
        Window length ``w`` in samples, ``3 <= w <= n``.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., n)``; the first ``w - 1`` entries are NaN, as are windows with zero
        variance.
    """
    x = as_time_series(x)
    w = _window_samples(x, window, 3)
    _, _, caa, cbb, cab = _rolling_comoments(x[..., :-1], x[..., 1:], w - 1)
    denom = np.sqrt(caa * cbb)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(denom > 0, cab / np.where(denom > 0, denom, 1.0), np.nan)
    return _pad_front(np.clip(r, -1.0, 1.0), x.shape[-1])


# --------------------------------------------------------------------------- detrending

def gaussian_smooth(x: ArrayLike, bandwidth: float) -> np.ndarray:
    r"""Gaussian kernel (Nadaraya-Watson) smoother along the last axis.

    .. math:: \hat x_i = \frac{\sum_j K(i - j) x_j}{\sum_j K(i - j)},\qquad
              K(k) = e^{-k^2 / (2 b^2)},

    truncated at ``4 b`` and renormalised at the ends of the series (so a constant is reproduced
    exactly and the ends are not pulled towards zero).  As in Dakos et al. (2012) the smoother is
    two-sided (non-causal).

    Parameters
    ----------
    x
        Series, shape ``(..., n)``.
    bandwidth
        Kernel standard deviation ``b`` in samples (> 0).
    """
    x = as_time_series(x)
    b = float(check_range("bandwidth", bandwidth, 0.0, math.inf, lo_open=True, hi_open=True))
    num = gaussian_filter1d(x, b, axis=-1, mode="constant", cval=0.0, truncate=4.0)
    den = gaussian_filter1d(np.ones(x.shape[-1]), b, mode="constant", cval=0.0, truncate=4.0)
    return num / den


def detrend(x: ArrayLike, method: str = "gaussian", bandwidth: float | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Split a series into a slow trend and the residual fluctuations.

    Parameters
    ----------
    x
        Series, shape ``(..., n)`` (time last).
    method
        ``"gaussian"``: :func:`gaussian_smooth` with standard deviation ``bandwidth`` samples
        (two-sided); ``"rolling_mean"``: trailing :func:`rolling_mean` over ``bandwidth`` samples
        (causal; the first ``bandwidth - 1`` residuals are NaN); ``"none"``: zero trend.
    bandwidth
        Samples; required unless ``method == "none"``.

    Returns
    -------
    residual, trend : numpy.ndarray
        ``residual = x - trend``, both of shape ``x.shape``.
    """
    x = as_time_series(x)
    if method not in DETREND_METHODS:
        raise ValueError(f"detrend method = {method!r} is not one of {DETREND_METHODS}")
    if method == "none":
        trend = np.zeros_like(x)
    elif bandwidth is None:
        raise ValueError(f"detrend method {method!r} needs a bandwidth (samples)")
    elif method == "gaussian":
        trend = gaussian_smooth(x, bandwidth)
    else:
        trend = rolling_mean(x, int(round(float(bandwidth))))
    return x - trend, trend


# --------------------------------------------------------------------------- trend statistics

def kendall_trend(t: ArrayLike, indicator: ArrayLike, *, start: float | None = None,
                  stop: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Kendall rank correlation ``tau`` between time and an indicator (trend statistic).

    ``tau > 0`` means the indicator tends to increase with time; values near 1 are a strong
    early-warning signal.  NaN entries (e.g. the incomplete first window) are ignored.

    Parameters
    ----------
    t
        Times, shape ``(n,)``.
    indicator
        Shape ``(..., n)``.
    start, stop
        Optional time range ``[start, stop]`` to which the statistic is restricted (e.g. up to
        the transition).

    Returns
    -------
    tau, pvalue : numpy.ndarray
        Shape ``indicator.shape[:-1]`` (``scipy.stats.kendalltau``, two-sided p-value); NaN where
        fewer than 3 valid points remain.
    """
    ind = np.asarray(indicator, dtype=float)
    if ind.ndim == 0:
        raise ValueError("indicator needs a time axis (last axis)")
    tt = _as_time(t, ind.shape[-1])
    sel = np.ones(tt.size, dtype=bool)
    if start is not None:
        sel &= tt >= float(check_range("start", start))
    if stop is not None:
        sel &= tt <= float(check_range("stop", stop))
    tau = np.full(ind.shape[:-1], np.nan)
    pval = np.full(ind.shape[:-1], np.nan)
    for idx in np.ndindex(ind.shape[:-1]):
        row = ind[idx]
        ok = sel & np.isfinite(row)
        if ok.sum() >= 3 and np.ptp(row[ok]) > 0:
            res = kendalltau(tt[ok], row[ok])
            tau[idx], pval[idx] = res.statistic, res.pvalue
    return tau, pval


def minimum_over_time(t: ArrayLike, x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Minimum of a (resource) series over time and the first time it is attained.

    Parameters
    ----------
    t
        Times, shape ``(n,)``.
    x
        Series, shape ``(..., n)``.

    Returns
    -------
    minimum, time_of_minimum : numpy.ndarray
        Shape ``x.shape[:-1]``.
    """
    x = as_time_series(x)
    tt = _as_time(t, x.shape[-1])
    i = np.argmin(x, axis=-1)
    return np.take_along_axis(x, i[..., None], -1)[..., 0], tt[i]


def time_to_depletion(t: ArrayLike, x: ArrayLike, threshold: float, *, interpolate: bool = True
                      ) -> np.ndarray:
    r"""First time a resource series falls below ``threshold``; NaN if it never does.

    With ``interpolate=True`` the crossing time is located by linear interpolation between the
    last sample at or above the threshold and the first sample below it,
    :math:`t^* = t_{i-1} + (\theta - x_{i-1}) (t_i - t_{i-1}) / (x_i - x_{i-1})`, which is exact
    for a piecewise-linear series.  A series that starts below the threshold gives ``t[0]``.

    Parameters
    ----------
    t
        Times, shape ``(n,)``, strictly increasing.
    x
        Series, shape ``(..., n)``.
    threshold
        Depletion level (finite).
    interpolate
        If False return the time of the first sample below the threshold.

    Returns
    -------
    numpy.ndarray
        Shape ``x.shape[:-1]``.
    """
    x = as_time_series(x)
    tt = _as_time(t, x.shape[-1])
    thr = float(check_range("threshold", threshold))
    below = x < thr
    hit = below.any(axis=-1)
    i = np.argmax(below, axis=-1)
    out = tt[i].astype(float)
    if interpolate:
        j = np.maximum(i - 1, 0)
        xi = np.take_along_axis(x, i[..., None], -1)[..., 0]
        xj = np.take_along_axis(x, j[..., None], -1)[..., 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(i > 0, (thr - xj) / (xi - xj), 0.0)
        out = np.where(i > 0, tt[j] + frac * (tt[i] - tt[j]), out)
    return np.where(hit, out, np.nan)


# --------------------------------------------------------------------------- all at once

def early_warning_indicators(
    t: ArrayLike,
    x: ArrayLike = None,
    window: float | None = None,
    *,
    window_unit: str = "time",
    detrend_method: str = "gaussian",
    bandwidth: float | None = None,
    start: float | None = None,
    stop: float | None = None,
    threshold: float | None = None,
) -> xr.Dataset:
    r"""Rolling variance and lag-1 autocorrelation of a series, with their Kendall trends.

    Parameters
    ----------
    t
        Times, shape ``(n,)`` -- or an ``xarray.DataArray`` with a ``time`` dimension and
        coordinate, in which case ``x`` is omitted (``early_warning_indicators(da, window=...)``)
        and the DataArray's other dimensions become the batch dimensions of the result.
    x
        Series, shape ``(..., n)`` (time last), or a DataArray with a ``time`` dimension.
    window
        Rolling-window length, in units given by ``window_unit``.
    window_unit
        ``"time"`` (same units as ``t``; requires uniform sampling), ``"samples"`` or
        ``"fraction"`` (of the series length; Dakos et al. 2012 use 0.5).
    detrend_method
        ``"gaussian"`` (default, two-sided kernel smoother), ``"rolling_mean"`` (trailing,
        causal) or ``"none"``; see :func:`detrend`.
    bandwidth
        Detrending bandwidth in ``window_unit`` (Gaussian standard deviation or rolling-mean
        length); default half the window.
    start, stop
        Time range for the Kendall statistics (e.g. ``stop`` = onset of the collapse).
    threshold
        If given, also report :func:`time_to_depletion` of ``x`` below it.

    Returns
    -------
    xarray.Dataset
        On ``(*batch, time)``: ``x``, ``trend``, ``residual``, ``variance`` (population variance
        of the residual over the trailing window), ``ac1`` (lag-1 autocorrelation of the
        residual); per batch member: ``variance_tau``, ``variance_pvalue``, ``ac1_tau``,
        ``ac1_pvalue``, ``minimum``, ``time_of_minimum`` and (with ``threshold``)
        ``time_to_depletion``.  ``attrs`` record the window and bandwidth (in samples and in
        time), the detrending and the package version.
    """
    tt, xs, dims, coords = _series_input(t, x)
    if window is None:
        raise ValueError("window is required")
    w, bw, dt = _window_in_samples(tt, window, bandwidth, window_unit)
    residual, trend = detrend(xs, detrend_method,
                              None if detrend_method == "none" else bw)
    var, ac1 = _rolling_indicators(residual, w, bw, detrend_method)
    bdims = dims if dims is not None else (
        [] if xs.ndim == 1 else ["batch"] if xs.ndim == 2
        else [f"batch_{i}" for i in range(xs.ndim - 1)])
    td = [*bdims, "time"]
    data = {
        "x": (td, xs, {"long_name": "input series"}),
        "trend": (td, trend, {"long_name": f"trend ({detrend_method})"}),
        "residual": (td, residual, {"long_name": "detrended fluctuations"}),
        "variance": (td, var, {"long_name": "rolling variance of the residual"}),
        "ac1": (td, ac1, {"long_name": "rolling lag-1 autocorrelation of the residual"}),
        **_trend_statistics(tt, xs, var, ac1, bdims, start, stop, threshold),
    }
    ds = xr.Dataset(data, coords={"time": tt, **coords})
    ds.attrs.update({
        "window_samples": w,
        "window_time": (w - 1) * dt,
        "detrend": detrend_method,
        "bandwidth_samples": float(bw) if detrend_method != "none" else 0.0,
        "kendall_start": "none" if start is None else float(start),
        "kendall_stop": "none" if stop is None else float(stop),
        "astrofield_version": __version__,
    })
    return ds


def _series_input(t: ArrayLike, x: ArrayLike) -> tuple[np.ndarray, np.ndarray, list[str] | None,
                  dict]:
    """Step 1: times and values of the series (a DataArray keeps its dims and coordinates)."""
    dims: list[str] | None = None
    coords: dict[str, Any] = {}
    if isinstance(t, xr.DataArray) and x is None:
        t, x = None, t
    if isinstance(x, xr.DataArray):
        x, dims, coords = time_last(x, "x")
        if t is None:
            if "time" not in x.coords:
                raise ValueError("x has no 'time' coordinate; pass t explicitly")
            t = x["time"].values
        x = x.values
    if x is None:
        raise ValueError("x is required (or pass a DataArray with a 'time' coordinate)")
    xs = as_time_series(x)
    n = xs.shape[-1]
    tt = _as_time(np.arange(n, dtype=float) if t is None else t, n)
    return tt, xs, dims, coords


def _window_in_samples(tt: np.ndarray, window: float, bandwidth: float | None,
                       window_unit: str) -> tuple[int, float, float]:
    """Step 2: the window and the detrending bandwidth in samples, and the mean sample step."""
    n = tt.size
    if window_unit not in WINDOW_UNITS:
        raise ValueError(f"window_unit = {window_unit!r} is not one of {WINDOW_UNITS}")
    if n < 3:
        raise ValueError(f"the series has {n} samples; at least 3 are needed")
    dt = (tt[-1] - tt[0]) / (n - 1)
    if window_unit == "time" and np.max(np.abs(np.diff(tt) - dt)) > 1e-6 * dt:
        raise ValueError("window_unit='time' needs uniformly sampled t; resample first or give "
                         "the window in samples")

    def to_samples(name: str, value: float) -> float:
        v = float(check_range(name, value, 0.0, math.inf, lo_open=True, hi_open=True))
        if window_unit == "time":
            return v / dt
        if window_unit == "fraction":
            return v * n
        return v

    w = int(round(to_samples("window", window))) + (1 if window_unit == "time" else 0)
    w = check_int("window (samples)", w, 3, n)
    bw = 0.5 * w if bandwidth is None else to_samples("bandwidth", bandwidth)
    return w, bw, dt


def _rolling_indicators(residual: np.ndarray, w: int, bw: float, detrend_method: str
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Step 3: rolling variance and lag-1 autocorrelation of the detrended residual."""
    n = residual.shape[-1]
    if detrend_method == "rolling_mean":
        # the causal trend is undefined for the first samples: shift the analysis window on
        valid = residual[..., int(round(bw)) - 1:]
        var = _pad_front(rolling_variance(valid, min(w, valid.shape[-1])), n)
        ac1 = _pad_front(rolling_ac1(valid, min(w, valid.shape[-1])), n)
        return var, ac1
    return rolling_variance(residual, w), rolling_ac1(residual, w)


def _trend_statistics(tt, xs, var, ac1, bdims, start, stop, threshold) -> dict:
    """Step 4: Kendall trends of the indicators, the minimum and the time to depletion."""
    var_tau, var_p = kendall_trend(tt, var, start=start, stop=stop)
    ac_tau, ac_p = kendall_trend(tt, ac1, start=start, stop=stop)
    xmin, tmin = minimum_over_time(tt, xs)
    data = {
        "variance_tau": (bdims, var_tau, {"long_name": "Kendall tau of variance vs time"}),
        "variance_pvalue": (bdims, var_p),
        "ac1_tau": (bdims, ac_tau, {"long_name": "Kendall tau of ac1 vs time"}),
        "ac1_pvalue": (bdims, ac_p),
        "minimum": (bdims, xmin, {"long_name": "minimum of x over time"}),
        "time_of_minimum": (bdims, tmin),
    }
    if threshold is not None:
        data["time_to_depletion"] = (bdims, time_to_depletion(tt, xs, threshold), {
            "long_name": "first time x falls below threshold (NaN: never)",
            "threshold": float(threshold)})
    return data
