"""Working-memory task (astrofield.applications.memory)."""

import numpy as np
import pytest

from astrofield.applications.memory import working_memory
from astrofield.model.definition import Model
from astrofield.model.noise import Noise
from astrofield.plotting import plot_memory
from astrofield.theory.bump import bump_branches


def test_single_cue_persists_and_reads_out_the_cue():
    ds = working_memory(Model(), 0.7, delay=20.0, N=64)
    assert bool(ds["persistent"].values.all())
    assert abs(float(ds["error"].values.ravel()[0])) < 1e-2
    assert abs(float(ds["drift"].values.ravel()[0])) < 1e-2
    assert float(ds["mass_drift"].values[0]) < 1e-12
    # the demand relaxes to beta * c0 * 2 Delta of the exact stationary bump; the delay cost lies
    # between the steady cost and that of an undepleted bump (q = 1)
    br = bump_branches(0.1, 0.05, 2.0)["wide"]
    steady = 0.05 * float(br["c0"]) * 2 * float(br["Delta"])
    assert float(ds["demand"].values.ravel()[-1]) == pytest.approx(steady, rel=2e-3)
    cost_delay = float(ds["cost_delay"].values.ravel()[0])
    assert 20.0 * steady < cost_delay < 20.0 * 0.05 * 2 * float(br["Delta"])
    assert float(ds["cost"].values.ravel()[0]) > cost_delay
    assert ds.attrs["astrofield_version"] and ds.attrs["scheme"]


def test_batched_over_cues_and_parameters():
    cues = [-2.0, 0.0, 1.5]
    model = Model(D=np.array([0.7, np.inf]), beta=np.array([0.05, 0.02]))
    ds = working_memory(model, cues, n_trials=2, delay=10.0, N=64)
    assert ds["error"].shape == (2, 3, 2)
    assert np.all(ds["persistent"].values)
    assert np.allclose(ds["decoded"].values, np.array(cues)[None, :, None], atol=1e-2)
    assert list(ds["D"].values) == [0.7, np.inf]
    # same member alone gives the same numbers (deterministic run, batching is exact)
    one = working_memory(Model(D=np.inf, beta=0.02), 1.5, delay=10.0, N=64)
    assert np.allclose(one["cost"].values.ravel()[0], ds["cost"].values[1, 2, 0], rtol=1e-12)
    # weaker depletion costs less resource
    assert ds["mean_cost"].values[1] < ds["mean_cost"].values[0]


def test_noise_is_seeded_and_trials_differ():
    kw = dict(n_trials=3, delay=10.0, N=64, noise=Noise(0.05, 0.5))
    a = working_memory(Model(), 0.0, seed=3, **kw)
    b = working_memory(Model(), 0.0, seed=3, **kw)
    c = working_memory(Model(), 0.0, seed=4, **kw)
    assert np.array_equal(a["error"].values, b["error"].values)
    assert not np.array_equal(a["error"].values, c["error"].values)
    assert np.unique(a["error"].values).size == 3
    assert a.attrs["seed"] == 3


def test_no_cue_no_memory():
    ds = working_memory(Model(), 0.0, cue_amplitude=0.0, delay=5.0, N=32)
    assert not ds["persistent"].values.any()
    assert np.isnan(ds["error"].values).all()
    assert float(ds["p_persist"].values[0]) == 0.0


def test_plot_memory(tmp_path):
    from astrofield.plotting import save_figure

    ds = working_memory(Model(), [0.0, 2.0], n_trials=2, delay=4.0, N=32,
                        noise=Noise(0.02, 0.5))
    save_figure(plot_memory(ds), tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 1000


@pytest.mark.parametrize("kw,name", [(dict(delay=-1.0), "delay"), (dict(n_trials=0), "n_trials"),
                                     (dict(cue_positions=4.0), "cue_positions"),
                                     (dict(cue_width=0.0), "cue_width"),
                                     (dict(delay=1.01), "whole")])
def test_validation(kw, name):
    with pytest.raises(ValueError, match=name):
        working_memory(Model(), **kw)
