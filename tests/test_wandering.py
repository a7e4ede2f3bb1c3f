"""Bump wandering under noise (astrofield.applications.wandering) against the small-noise theory."""

import numpy as np
import pytest

from astrofield.applications.wandering import (
    amari_wandering_theory,
    fit_diffusion,
    measure_wandering,
    msd_chi2_interval,
)
from astrofield.model.definition import Model
from astrofield.plotting import plot_wandering
from astrofield.theory.bump import bump_branches


def test_theory_amplitude_matches_the_amari_bump():
    theta = np.array([0.05, 0.1, 0.3])
    th = amari_wandering_theory(theta, 0.1)
    wide = bump_branches(theta, 0.0, 1.0)["wide"]
    assert np.allclose(th["R"], wide["amplitude"], rtol=1e-10)
    assert np.allclose(th["R"] ** 2, 2 + 2 * np.sqrt(1 - theta**2))
    assert np.allclose(th["D_eff"], 0.01 / (2 * th["R"] ** 2))
    assert np.all((th["radial_rate"] > 0) & (th["radial_rate"] <= 1))


def test_fit_diffusion_recovers_a_known_brownian_motion():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 10, 101)
    D = 0.02
    steps = rng.normal(0, np.sqrt(2 * D * 0.1), (400, 100))
    X = np.concatenate([np.zeros((400, 1)), np.cumsum(steps, axis=1)], axis=1)
    fit = fit_diffusion(t, X, n_boot=500)
    assert fit["D_lo"] < D < fit["D_hi"]
    lo, hi = msd_chi2_interval((X[:, -1] ** 2).mean(), 400)
    assert lo < 2 * D * 10 < hi


def _check_against_theory(ds, level_sd=3.5):
    """Theory inside the chi-square interval of MSD(T) and the bootstrap interval of D_eff."""
    from astrofield.applications.wandering import msd_chi2_interval as ci_fun

    n = ds.sizes["trial"]
    T = float(ds["time"].values[-1])
    pred = 2 * float(ds["D_theory"].values[0]) * T
    lo, hi = ci_fun(ds["msd"].values[0, -1], n, ci=0.999)
    assert lo < pred < hi
    D, se = float(ds["D_eff"].values[0]), float(ds["D_se"].values[0])
    assert abs(D - float(ds["D_theory"].values[0])) < level_sd * se
    # grid error plus the O(sigma^2) noise-induced mean shift of |z|
    R = float(ds["R_theory"].values[0])
    sigma = ds.attrs["sigma"]
    assert float(ds["amplitude"].values[0]) == pytest.approx(R, rel=5e-3 + sigma**2 / R**2)


def test_wandering_matches_small_noise_theory_fast():
    ds = measure_wandering(Model(beta=0.0), sigma=0.1, correlation="cosine", n_trials=300,
                           T=10.0, N=32, record_every=5, t_fit=0.0, n_boot=300)
    assert float(ds["mass_drift"].values[0]) < 1e-12
    assert float(ds["p_persist"].values[0]) == 1.0
    _check_against_theory(ds)


@pytest.mark.slow
def test_wandering_matches_small_noise_theory_many_trials():
    for sigma in (0.1, 0.2):
        ds = measure_wandering(Model(beta=0.0), sigma=sigma, correlation="cosine",
                               n_trials=4000, T=20.0, N=64, record_every=10, t_fit=0.0,
                               n_boot=300)
        _check_against_theory(ds)
        # 4000 trials: the measured coefficient is within 6 % of sigma^2 / (2 R^2)
        assert float(ds["D_eff"].values[0]) == pytest.approx(float(ds["D_theory"].values[0]),
                                                             rel=0.06)


def test_seeded_and_batched_over_diffusion(tmp_path):
    model = Model(D=np.array([0.5, np.inf]))
    a = measure_wandering(model, sigma=0.05, n_trials=20, T=10.0, N=32, n_boot=100, seed=1)
    b = measure_wandering(model, sigma=0.05, n_trials=20, T=10.0, N=32, n_boot=100, seed=1)
    assert np.array_equal(a["displacement"].values, b["displacement"].values)
    assert a["D_eff"].shape == (2,) and np.all(np.isfinite(a["D_eff"].values))
    assert np.all(a["D_lo"].values <= a["D_eff"].values)
    assert np.all(a["D_eff"].values <= a["D_hi"].values)
    assert "D_theory" not in a  # Gaussian noise: no closed form
    from astrofield.plotting import save_figure

    save_figure(plot_wandering(a), tmp_path / "w.png")


def test_depression_and_weak_diffusion_increase_wandering():
    """beta > 0 with small D wanders much faster than the Amari bump (same noise)."""
    model = Model(beta=np.array([0.0, 0.05]), D=np.array([1.0, 0.3]))
    ds = measure_wandering(model, sigma=0.05, n_trials=60, T=40.0, N=32, n_boot=200)
    assert ds["D_lo"].values[1] > ds["D_hi"].values[0]


def test_validation():
    with pytest.raises(ValueError, match="sigma"):
        measure_wandering(sigma=-1.0)
    with pytest.raises(ValueError, match="n_trials"):
        measure_wandering(n_trials=1)
    with pytest.raises(ValueError, match="theta"):
        amari_wandering_theory(1.5, 0.1)
