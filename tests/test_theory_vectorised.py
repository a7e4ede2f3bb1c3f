"""Vectorised boundaries: arrays equal the scalar calls elementwise, broadcasting, D = inf, NaN
where there is no crossing, and the independent checks of the scalar tests (E'(0) flips sign
across beta*, the verdict flips within +-1 %)."""

import warnings

import numpy as np
import pytest

import astrofield as af
from astrofield.theory.evans import evans_dprime
from astrofield.theory.stability import beta_star, boundary, boundary_curve, gamma_star, stability

DS = np.array([0.05, 0.3, 1.0, np.inf])


def _close(a, b, rtol=1e-12):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=rtol, atol=0)


def test_beta_star_array_equals_scalar_calls():
    arr = beta_star(0.1, 2.0, DS)
    assert arr.shape == DS.shape
    _close(arr, [beta_star(0.1, 2.0, d)[0] for d in DS])
    full = boundary("beta", theta=0.1, gamma=2.0, D=DS)          # every crossing, NaN-padded
    for row, d in zip(full, DS, strict=True):
        r = boundary("beta", theta=0.1, gamma=2.0, D=d)
        _close(row[:r.size], r)
        assert np.isnan(row[r.size:]).all()


def test_gamma_star_and_tau_arrays_equal_scalar_calls():
    arr = gamma_star(0.1, 0.05, np.array([0.6, 1.0, np.inf]))
    _close(arr, [gamma_star(0.1, 0.05, d)[0] for d in (0.6, 1.0, np.inf)])
    taus = np.array([0.5, 1.0, 2.0])
    _close(beta_star(0.1, 2.0, 0.3, tau=taus), [beta_star(0.1, 2.0, 0.3, tau=t)[0] for t in taus])
    fo = beta_star(0.1, 2.0, DS[:3], method="fourier")
    _close(fo, [beta_star(0.1, 2.0, d, method="fourier")[0] for d in DS[:3]])


def test_broadcasting_shapes_and_no_crossing():
    b = beta_star(np.array([0.1, 0.3])[:, None], 2.0, np.array([0.3, 1.0, np.inf]))
    assert b.shape == (2, 3)
    assert boundary("beta", theta=0.1, gamma=np.array([1.5, 2.0]), D=[[0.3], [1.0]]).ndim == 3
    none = beta_star(0.1, 2.0, [0.3, 0.6], hi=1e-5)                # stable up to hi: NaN
    assert none.shape == (2,) and np.isnan(none).all()
    assert beta_star(0.1, 2.0, 0.3, hi=1e-5).size == 0            # scalar: still an empty array
    assert isinstance(beta_star(0.1, 2.0, 0.3), np.ndarray)       # scalar: every crossing


def test_independent_checks_on_array_results():
    D = np.array([0.1, 0.3, 0.6, 1.0])
    b = beta_star(0.1, 2.0, D)
    assert np.all(evans_dprime(0.1, 0.99 * b, 2.0, D) > 0)
    assert np.all(evans_dprime(0.1, 1.01 * b, 2.0, D) < 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert stability(0.1, 0.99 * b, 2.0, D)["evans_stable"].all()
        assert not stability(0.1, 1.01 * b, 2.0, D)["evans_stable"].any()
    # D = inf: the crossing is a complex pair landing on the real axis (count 0 -> 2)
    (bi,) = beta_star(0.1, 2.0, [np.inf])
    assert stability(0.1, 0.999 * bi, 2.0, np.inf)["evans_n_real"] == 0
    assert stability(0.1, 1.001 * bi, 2.0, np.inf)["evans_n_real"] == 2


def test_stability_takes_tau_arrays():
    taus = np.array([0.5, 2.0])
    r = stability(0.1, 0.05, 2.0, 0.3, tau=taus)
    for i, t in enumerate(taus):
        s = stability(0.1, 0.05, 2.0, 0.3, tau=t)
        _close(r["evans_dprime"][i], s["evans_dprime"])
        assert r["beta_max"][i] == pytest.approx(float(s["beta_max"]), rel=1e-12)


def test_boundary_curve_dataset():
    ds = af.boundary_curve("beta", theta=0.1, gamma=2.0, D=np.array([0.3, 1.0, np.inf]))
    assert ds["beta_star"].dims == ("D",) and ds["beta_crossings"].dims == ("D", "crossing")
    assert ds["beta_star"].attrs["units"] == "1 / time" and ds["D"].attrs["units"] == "rad^2 / time"
    assert ds.attrs["gamma"] == 2.0 and ds.attrs["vary"] == "beta"
    _close(ds["beta_star"].values, beta_star(0.1, 2.0, np.array([0.3, 1.0, np.inf])))
    g = boundary_curve("gamma", theta=0.1, beta=0.05, D=np.array([1.0, np.inf]))
    assert g["gamma_star"].dims == ("D",) and (g["n_crossings"] >= 1).all()
    with pytest.raises(ValueError, match="1-D"):
        boundary_curve("beta", theta=0.1, gamma=2.0, D=np.ones((2, 2)))
