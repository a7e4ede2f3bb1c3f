"""Early warnings of resource collapse under a slow depletion ramp."""

import numpy as np
import pytest

from astrofield.applications.collapse import ramp_collapse
from astrofield.model.definition import Model
from astrofield.plotting import plot_collapse

FAST = dict(N=32, T_ramp=300.0, window=50.0, n_trials=4)


@pytest.fixture(scope="module")
def fast():
    return ramp_collapse(**FAST)


def test_collapse_happens_after_the_fold(fast):
    t_c = fast["t_collapse"].values
    assert np.all(np.isfinite(t_c))
    # bump lost only past the theoretical fold beta_max (delayed passage through a saddle-node)
    assert np.all(t_c > float(fast["t_fold"]))
    assert np.all(fast["beta_collapse"].values > float(fast["beta_max"]))
    assert np.all(fast["u_max"].values[:, -1] < 0.3)
    assert np.max(np.abs(fast["mass_drift"].values)) < 1e-13


def test_indicators_rise_before_the_collapse(fast):
    assert np.all(fast["variance_tau"].values > 0)
    assert np.all(fast["ac1_tau"].values > 0)
    assert np.all(fast["variance_pvalue"].values < 0.01)
    # resource minimum falls before the collapse: depletion precedes it
    assert np.all(fast["t_depletion"].values < fast["t_collapse"].values)
    assert np.all(fast["min_resource"].values < 0.3)
    lead = fast["lead_time"].values
    assert np.all(lead[np.isfinite(lead)] > 0) and np.isfinite(lead).sum() >= 2


def test_reproducible_and_plot(tmp_path):
    kw = dict(N=32, T_ramp=100.0, window=20.0, t_after=10.0, seed=7)
    a = ramp_collapse(**kw)
    b = ramp_collapse(**kw)
    assert np.array_equal(a["amplitude"].values, b["amplitude"].values)
    assert a.attrs["seed"] == 7 and a.attrs["astrofield_version"]
    from astrofield.plotting import save_figure

    save_figure(plot_collapse(a), tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_drive_ramp_option_runs():
    ds = ramp_collapse(Model(theta=0.3, D=np.inf), beta_start=0.3, beta_end=0.3,
                       drive_start=0.0, drive_end=-0.5, N=32, T_ramp=100.0, window=20.0)
    assert np.isfinite(float(ds["t_collapse"].values[0]))  # inhibition ramp kills the bump
    assert ds["drive"].values[-1] == pytest.approx(-0.5)


@pytest.mark.slow
def test_indicators_default_protocol_many_trials():
    ds = ramp_collapse(n_trials=8, seed=1)
    assert np.all(ds["variance_tau"].values > 0)
    assert float(ds["ac1_tau"].mean()) > 0.2
    assert np.all(ds["lead_time"].values > 0)
    control = ramp_collapse(n_trials=8, seed=1, beta_end=0.3)
    assert np.all(np.isnan(control["t_collapse"].values))
    assert float(control["variance_tau"].mean()) < float(ds["variance_tau"].mean())


@pytest.mark.parametrize("kw,name", [(dict(T_ramp=0.0), "T_ramp"), (dict(n_trials=0), "n_trials"),
                                     (dict(sigma=-1.0), "sigma"),
                                     (dict(model=Model(beta=np.array([0.1, 0.2]))), "unbatched")])
def test_validation(kw, name):
    with pytest.raises(ValueError, match=name):
        ramp_collapse(**kw)
