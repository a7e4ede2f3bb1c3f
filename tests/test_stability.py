"""Stability verdicts, boundaries and maps: Evans vs Fourier truncation vs spectrum."""

import os
import time

import numpy as np
import pytest
import xarray as xr

import astrofield
from astrofield.theory.evans import evans_dprime, evans_zeros
from astrofield.theory.stability import (
    beta_star,
    boundary,
    figure2_data,
    gamma_star,
    stability,
    stability_map,
)


def test_sign_convention_against_spectrum_and_fourier():
    """E'(0) > 0 <=> stable, checked with the zeros of E and the (independent) truncation."""
    for beta, D in [(0.05, 0.05), (0.05, 0.3), (0.05, 1.0), (0.01, 0.6), (0.3, 0.6),
                    (0.05, np.inf)]:
        r = stability(0.1, beta, 2.0, D)
        zs = evans_zeros(0.1, beta, 2.0, D)
        growing = [z for z in zs if z.lam.real > 1e-9]
        if r["evans_dprime"] < 0:
            assert len(growing) >= 1 and abs(growing[-1].lam.imag) < 1e-9
        else:
            assert growing == []
        assert bool(r["evans_stable"]) == bool(r["fourier_stable"])   # away from the boundary


def test_qualitative_picture_theta_01_gamma_2():
    beta = np.linspace(0.001, 0.1, 30)
    r = stability(0.1, beta, 2.0, 0.001)
    assert not r["evans_stable"].any() and not r["fourier_stable"].any()
    bs = [beta_star(0.1, 2.0, D)[0] for D in (0.05, 0.1, 0.3, 0.6, 1.0)]
    assert np.all(np.diff(bs) > 0)                              # beta*(D) rises with D
    gs = [gamma_star(0.1, 0.05, D)[0] for D in (0.3, 0.6, 1.0, np.inf)]
    assert np.all(np.diff(gs) < 0)                              # more D: less gamma needed
    # stable below beta*, unstable above it
    b = bs[2]
    assert evans_dprime(0.1, 0.9 * b, 2.0, 0.3) > 0 > evans_dprime(0.1, 1.1 * b, 2.0, 0.3)


def test_boundary_is_double_root():
    for D in (0.1, 0.3, 1.0):
        b = beta_star(0.1, 2.0, D)[0]       # D = 0.1 has a second crossing near the fold
        assert abs(float(evans_dprime(0.1, b, 2.0, D))) < 1e-10
    (g,) = gamma_star(0.1, 0.05, 1.0)
    assert abs(float(evans_dprime(0.1, 0.05, g, 1.0))) < 1e-10


def test_evans_and_fourier_boundaries_agree():
    # observed relative differences of beta*: 9.8% (D=0.1), 11.3% (0.3), 14.5% (0.6), 21% (1)
    for D, tol in [(0.1, 0.11), (0.3, 0.12), (0.6, 0.16), (1.0, 0.22)]:
        e, f = beta_star(0.1, 2.0, D)[0], beta_star(0.1, 2.0, D, method="fourier")[0]
        assert abs(f - e) / e < tol
        assert f < e                                             # the truncation is conservative
        # the truncation's verdict flips at its own boundary (largest kept eigenvalue crosses 0)
        assert stability(0.1, 0.99 * f, 2.0, D)["fourier_stable"]
        assert not stability(0.1, 1.01 * f, 2.0, D)["fourier_stable"]
    # gamma*: 1.8% at D = 1; identical in the D -> inf limit
    e, f = gamma_star(0.1, 0.05, 1.0)[0], gamma_star(0.1, 0.05, 1.0, method="fourier")[0]
    assert abs(f - e) / e < 0.02
    e, f = (gamma_star(0.1, 0.05, np.inf)[0],
            gamma_star(0.1, 0.05, np.inf, method="fourier")[0])
    assert abs(f - e) / e < 1e-9


def test_boundary_validation():
    with pytest.raises(ValueError, match="vary"):
        boundary("tau", theta=0.1, D=0.3, gamma=2.0)
    with pytest.raises(ValueError, match="needs"):
        boundary("gamma", theta=0.1, D=0.3)
    with pytest.raises(ValueError, match="method"):
        beta_star(0.1, 2.0, 0.3, method="guess")
    # D = inf, gamma 2: E'(0) > 0 up to the fold, yet two real zeros appear just below it
    (b,) = beta_star(0.1, 2.0, np.inf)
    assert 4.57 < b < 4.58
    assert stability(0.1, 0.999 * b, 2.0, np.inf)["evans_n_real"] == 0
    assert stability(0.1, 1.001 * b, 2.0, np.inf)["evans_n_real"] == 2
    assert stability(0.1, 1.001 * b, 2.0, np.inf)["evans_dprime"] > 0


def test_stability_map_dataset_and_speed():
    t0 = time.perf_counter()
    ds = stability_map(theta=0.1, gamma=2.0, beta=np.linspace(0.001, 0.1, 50),
                       D=np.linspace(0.001, 0.6, 50))
    assert time.perf_counter() - t0 < 10.0
    assert ds["evans_dprime"].dims == ("beta", "D")
    for v in ("evans_dprime", "evans_stable", "fourier_stable", "exists", "Delta", "c0",
              "disagree"):
        assert v in ds
    assert ds.attrs["theta"] == 0.1 and ds.attrs["astrofield_version"] == astrofield.__version__
    assert ds["exists"].all()
    assert 0 < float(ds["disagree"].mean()) < 0.06               # a thin sliver only
    # D = inf mixed into an array, gamma sweep
    ds2 = stability_map(theta=0.1, beta=np.linspace(0.001, 0.1, 5), gamma=np.linspace(1, 1.6, 4),
                        D=np.array([1.0, np.inf]))
    assert ds2["evans_dprime"].dims == ("beta", "gamma", "D")
    assert np.isfinite(ds2["evans_dprime"]).all()


def test_map_without_bumps_is_nan_not_crash():
    ds = stability_map(theta=0.3, gamma=1.0, beta=np.array([0.1, 5.0, 50.0]),
                       D=np.array([0.3, np.inf]))
    assert ds["exists"].values.tolist() == [[True, True], [False, False], [False, False]]
    assert np.isnan(ds["evans_dprime"].values[1:]).all()
    assert not ds["evans_stable"].values[1:].any() and not ds["disagree"].values[1:].any()


def test_write_netcdf_is_a_deprecated_alias_of_io_save(tmp_path):
    import astrofield.theory.stability as stab_mod
    from astrofield.io import save

    ds = stability_map(beta=np.linspace(0.01, 0.1, 3), D=np.array([0.3, 1.0]))
    path = tmp_path / "map.nc"
    with pytest.warns(DeprecationWarning, match="astrofield.io.save"):
        write_netcdf = stab_mod.write_netcdf
    assert write_netcdf is save
    write_netcdf(ds, path)
    assert sorted(os.listdir(tmp_path)) == ["map.nc"]
    back = xr.load_dataset(path, engine="h5netcdf")
    np.testing.assert_allclose(back["evans_dprime"], ds["evans_dprime"])
    assert back.attrs["astrofield_version"] == astrofield.__version__


def test_figure2_data_and_drawing(tmp_path):
    from astrofield.plotting import plot_figure2

    ds = figure2_data()
    fig, ds2 = plot_figure2()
    assert len(fig.axes) == 2 and not os.listdir(tmp_path)
    xr.testing.assert_identical(ds, ds2)
    with pytest.warns(DeprecationWarning, match="save_figure"):
        plot_figure2(tmp_path, n=30)
    assert sorted(os.listdir(tmp_path)) == ["figure2.nc", "figure2.png"]
    # panel (a) profile is the theta=0.03, beta=0.3, gamma=2 bump: U crosses theta at the jump of Q
    jump = np.nonzero(np.diff(ds["Q"].values))[0]
    assert np.all(np.abs(ds["U"].values[jump] - 0.03) < 0.02)
    # panel (b): at D = 0.3 the theta=0.3 wide branch is stable for small beta only
    st = ds["wide_stable_0p3"].values
    assert st[0] and not st[-2]
