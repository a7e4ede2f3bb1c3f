"""Figures of a fit for every observable (:func:`astrofield.plotting.plot_fit`) and the command
line's ``--plot``.

Each figure is drawn from a small fit and checked artist by artist against the fit's dataset
(:meth:`FitResult.to_dataset`, also after a NetCDF round trip): the lines hold the dataset's
values. The boundary curve is checked against the theory itself: ``E'(0)`` evaluated
independently (64-node contour integral) vanishes along the drawn contour.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import test_fit_observables as tfo
import xarray as xr
from matplotlib.collections import PolyCollection

import astrofield as af
from astrofield.fitting import fit
from astrofield.plotting import plot_fit


def _lines(ax):
    return {ln.get_label(): ln for ln in ax.get_lines()}


def _roundtrip(res, tmp_path):
    path = tmp_path / "fit.nc"
    res.to_dataset().to_netcdf(path)
    return xr.load_dataset(path)


@functools.cache
def _trials_fit():
    return fit(tfo._conditions_data(K=2), af.Model(theta=0.1), {"beta": (0.01, 0.2)}, **tfo.FAST)


def test_trials_one_panel_per_condition(tmp_path):
    ds = _roundtrip(_trials_fit(), tmp_path)
    fig = plot_fit(ds)
    ax = fig.axes
    assert len(ax) == 2 + 1 + 1  # two conditions, residuals, cost history
    for c, g in enumerate(tfo.GAMMAS):
        assert ax[c].get_title() == f"gamma = {g:g}"
        trials = [ln for ln in ax[c].get_lines() if ln.get_linewidth() < 1]
        assert len(trials) == 2
        for k, ln in enumerate(trials):
            np.testing.assert_array_equal(ln.get_xdata(), ds["time"].values)
            np.testing.assert_array_equal(ln.get_ydata(), ds["data"].values[c, k])
        np.testing.assert_array_equal(_lines(ax[c])["fit"].get_ydata(), ds["fitted"].values[c, 0])
    # the residual panel: every trial's residuals
    dots = [ln for ln in ax[2].get_lines() if ln.get_linestyle() == "None"]
    np.testing.assert_array_equal(
        np.array([ln.get_ydata() for ln in dots]), ds["residual"].values.reshape(4, -1)
    )


def test_many_trials_as_mean_and_sd_band():
    ds = _trials_fit().to_dataset().isel(trial=[0, 1] * 6)  # 12 trials per condition
    ax = plot_fit(ds).axes
    d = ds["data"].values
    for c in range(2):
        ln = _lines(ax[c])["mean of 12 trials"]
        np.testing.assert_allclose(ln.get_ydata(), d[c].mean(axis=0), rtol=1e-12)
        band = [p for p in ax[c].collections if isinstance(p, PolyCollection)]
        assert len(band) == 1
        verts = band[0].get_paths()[0].vertices
        top = d[c].mean(axis=0) + d[c].std(axis=0, ddof=1)
        assert np.allclose(np.max(verts[:, 1]), top.max())


def _msd_data():
    """16 noisy trials of the Amari bump (beta = 0, cosine-correlated noise, sigma 0.1)."""
    from astrofield.applications.wandering import measure_wandering

    return measure_wandering(
        af.Model(theta=0.1, beta=0.0),
        sigma=0.1,
        correlation="cosine",
        n_trials=16,
        T=10,
        dt=0.05,
        N=32,
        record_every=20,
        t_fit=0,
        n_boot=10,
        seed=5,
    )


def test_msd_with_its_sampling_band(tmp_path):
    w = _msd_data()
    r = fit(
        w.isel(param=0),
        af.Model(theta=0.1, beta=0.0),
        {"noise_sigma": (0.02, 0.5)},
        observable="msd",
        n_starts=1,
        n_global=4,
        n_sim=16,
    )
    ds = _roundtrip(r, tmp_path)
    # sampling sd of a mean of n squared Gaussian displacements: sqrt(2 / n) MSD, n = 16
    np.testing.assert_allclose(ds["data_sd"].values, np.sqrt(2 / 16) * ds["fitted"].values)
    assert int(ds["n_trials"]) == 16 and ds["data_sd"].attrs["units"] == "rad^2"
    ax = plot_fit(ds).axes
    lines = _lines(ax[0])
    np.testing.assert_array_equal(lines["data (16 trials)"].get_ydata(), ds["data"].values)
    np.testing.assert_array_equal(lines["fit"].get_ydata(), ds["fitted"].values)
    np.testing.assert_array_equal(lines["fit"].get_xdata(), w.time.values[1:])
    verts = ax[0].collections[0].get_paths()[0].vertices
    hi = ds["data"].values + ds["data_sd"].values
    assert np.isclose(verts[:, 1].max(), hi.max())
    assert ax[0].get_xlabel() == "time (neural time constants)"


def test_bold_against_seconds(tmp_path):
    r = fit(
        tfo._bold_data(),
        af.Model(theta=0.1, gamma=2, D=0.7),
        {"hrf_kappa": (0.3, 1.5), "gain": (20, 500)},
        observable="bold",
        **tfo.FAST,
    )
    ds = _roundtrip(r, tmp_path)
    ax = plot_fit(ds).axes
    assert ax[0].get_xlabel() == "time (s)" and ax[1].get_xlabel() == "time (s)"
    lines = _lines(ax[0])
    np.testing.assert_array_equal(lines["data"].get_xdata(), np.arange(0.0, 20.01, 1.0))
    np.testing.assert_array_equal(lines["data"].get_ydata(), ds["data"].values)
    np.testing.assert_array_equal(lines["fit"].get_ydata(), ds["fitted"].values)


def test_boundary_points_and_the_theory_curve(tmp_path):
    from astrofield.theory.evans import evans_dprime

    r = fit(
        tfo._labels(3, n=80),
        af.Model(theta=0.1),
        {"gamma": (1, 4)},
        observable="boundary",
        n_starts=1,
    )
    ds = _roundtrip(r, tmp_path)
    assert ds["boundary_dprime"].dims == ("grid_D", "grid_beta")
    ax = plot_fit(ds).axes
    lab = ds["data"].values.astype(bool)
    lines = _lines(ax[0])
    np.testing.assert_array_equal(lines["drifting"].get_xdata(), ds["beta"].values[lab])
    np.testing.assert_array_equal(lines["drifting"].get_ydata(), ds["D"].values[lab])
    np.testing.assert_array_equal(lines["stable"].get_ydata(), ds["D"].values[~lab])
    # the drawn boundary: E'(0) at the fitted gamma vanishes along it (theory, 64 nodes)
    verts = np.vstack([p.vertices for p in ax[0].collections[0].get_paths()])
    assert len(verts) > 20
    e = evans_dprime(0.1, verts[:, 0], r.value("gamma"), verts[:, 1])
    scale = np.max(np.abs(ds["boundary_dprime"].values))
    assert np.max(np.abs(e)) < 0.02 * scale
    # ... and it separates: E'(0) of the grid changes sign
    assert (ds["boundary_dprime"] > 0).any() and (ds["boundary_dprime"] < 0).any()
    assert ax[0].get_xscale() == "log"  # the points' beta span a factor 10 or more


def test_boundary_along_one_parameter():
    from astrofield.theory.evans import evans_dprime

    rng = np.random.default_rng(4)
    b = rng.uniform(0.01, 0.2, 60)
    p = 1 / (1 + np.exp(10 * evans_dprime(0.1, b, 2.0, 0.45)))
    lab = (rng.random(60) < p).astype(int)
    data = xr.Dataset({"drifting": ("point", lab), "beta": ("point", b)})
    r = fit(data, af.Model(theta=0.1, D=0.45), {"gamma": (1, 4)}, observable="boundary", n_starts=1)
    ds = r.to_dataset()
    ax = plot_fit(ds).axes
    ln = _lines(ax[0])["fitted P(drifting)"]
    x = ln.get_xdata()
    s = r.value("sharpness")
    want = 1 / (1 + np.exp(s * evans_dprime(0.1, x, r.value("gamma"), 0.45)))
    np.testing.assert_allclose(ln.get_ydata(), want, atol=1e-6)
    assert r.identifiable.all() and ln.get_ydata()[0] < 0.5 < ln.get_ydata()[-1]  # a boundary
    np.testing.assert_array_equal(_lines(ax[0])["drifting"].get_xdata(), b[lab == 1])


# --- command line ----------------------------------------------------------------------------


def _msd_file(path):
    _msd_data().isel(param=0).to_netcdf(path)


CLI_CASES = {
    "position": (
        lambda p: tfo._conditions_data(K=2).isel(condition=0, trial=0).to_netcdf(p),
        ["--gamma", "2", "--vary", "beta=0.01:0.2"],
    ),
    "trials": (lambda p: tfo._conditions_data(K=2).to_netcdf(p), ["--vary", "beta=0.01:0.2"]),
    "msd": (
        _msd_file,
        ["--observable", "msd", "--beta", "0", "--vary", "noise_sigma=0.02:0.5", "--n-sim", "16"],
    ),
    "bold": (
        lambda p: tfo._bold_data().to_netcdf(p),
        ["--observable", "bold", "--gamma", "2", "--D", "0.7", "--vary", "gain=20:500"],
    ),
    "boundary": (
        lambda p: tfo._labels(3, n=60).to_netcdf(p),
        ["--observable", "boundary", "--vary", "gamma=1:4"],
    ),
}


@pytest.mark.parametrize("kind", list(CLI_CASES))
def test_cli_plot_for_every_observable(kind, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from astrofield.cli import main

    monkeypatch.chdir(tmp_path)
    make, args = CLI_CASES[kind]
    make("data.nc")
    res = CliRunner().invoke(
        main,
        [
            "fit",
            "--data",
            "data.nc",
            "--theta",
            "0.1",
            "--n-starts",
            "1",
            "--plot",
            "fit.png",
            "-o",
            "fit.nc",
            "--json",
            *args,
        ],
    )
    assert res.exit_code == 0, res.output
    png = (tmp_path / "fit.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    # the figure is drawn from what was saved: the same data
    ds = xr.load_dataset(tmp_path / "fit.nc")
    assert len(plot_fit(ds).axes) >= 3


def test_field_trials_profiles_at_the_last_frame():
    run = {"T": 10.0, "N": 32, "dt": 0.05, "eps": 0.3, "n_frames": 6}
    sol = af.solve(af.Model(theta=0.1, beta=0.05, gamma=2, D=0.7), progress=False, **run)
    u = sol.u.values[None] + 0.01 * np.random.default_rng(0).standard_normal((2, 6, 32))
    data = xr.Dataset(
        {"u": (("trial", "time", "x"), u)},
        coords={"time": sol.time.values, "x": sol.x.values},
        attrs={"N": 32, "dt": 0.05, "eps": 0.3},
    )
    r = fit(
        data, af.Model(theta=0.1, gamma=2, D=0.7), {"beta": (0.01, 0.2)}, observable="u", **tfo.FAST
    )
    ds = r.to_dataset()
    ax = plot_fit(ds).axes
    assert ds["data"].dims == ("condition", "trial", "time", "x")
    trials = [ln for ln in ax[0].get_lines() if ln.get_linewidth() < 1]
    for k, ln in enumerate(trials):
        np.testing.assert_array_equal(ln.get_xdata(), ds["x"].values)
        np.testing.assert_array_equal(ln.get_ydata(), u[k, -1])
    np.testing.assert_array_equal(_lines(ax[0])["fit"].get_ydata(), ds["fitted"].values[0, 0, -1])
    rms = _lines(ax[1])["rms over trials and x"].get_ydata()
    np.testing.assert_allclose(rms, np.sqrt(np.mean(r.residuals[0] ** 2, axis=(0, 2))))


def test_missing_figure_variables_are_named():
    ds = xr.Dataset(
        {"data": ("point", [0, 1]), "cost_history": ("evaluation", [1.0])},
        attrs={"observable": "boundary"},
    )
    with pytest.raises(ValueError, match="'boundary_dprime'"):
        plot_fit(ds)
    ds.attrs["observable"] = "msd"
    with pytest.raises(ValueError, match="'data_sd'"):
        plot_fit(ds)
