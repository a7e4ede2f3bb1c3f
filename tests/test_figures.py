"""Figures 2, 5, 6 (tiny versions) write PNG, PDF, NetCDF; published-scheme baseline check."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from astrofield.experiments.phase import drift_experiment
from astrofield.plotting.paper import make_figure
from astrofield.theory.stability import boundary_curve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

TINY = dict(resolution=3, T=100.0, N=32, dt=0.05, executor="serial", progress=False)


def _check(paths, name):
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{name}.{e}" for e in ("png", "pdf", "nc"))
    assert all(p.stat().st_size > 0 for p in paths)


def test_figure5_tiny(tmp_path):
    paths = make_figure(5, tmp_path, **TINY)
    _check(paths, "figure5")
    ds = xr.open_dataset(tmp_path / "figure5.nc", engine="h5netcdf").load()
    assert ds["drift"].dims == ("D", "beta") and ds.sizes["D"] == 3
    assert "beta_star_evans" in ds and "beta_star_fourier" in ds
    # beta*(D) rises with D (more diffusion, larger stable region)
    b = ds["beta_star_evans"].values
    ok = np.isfinite(b)
    assert ok.sum() > 3 and np.all(np.diff(b[ok]) > 0)


def test_figure6_tiny(tmp_path):
    paths = make_figure(6, tmp_path, **TINY)
    _check(paths, "figure6")
    ds = xr.open_dataset(tmp_path / "figure6.nc", engine="h5netcdf").load()
    assert ds["beta_star_evans_largeD"].shape[0] == 5
    assert "Dinf_velocity" in ds and "D1_drift" in ds
    _check_legends_readable(ds)


def _check_legends_readable(ds):
    """Figure 6's legends: every white boundary line sits on a non-white box (the third
    panel's D = 1, 2.5, 10, 50 lines used to be white on white)."""
    from matplotlib.colors import to_rgba

    from astrofield.plotting.paper import draw_figure6

    fig = draw_figure6(ds)
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert len(legends) == 2
    third = legends[-1]
    texts = [t.get_text() for t in third.get_texts()]
    assert [t for t in texts if not t.startswith("unresolved")][:4] == [
        "D = 1", "D = 2.5", "D = 10", "D = 50"]
    for leg in legends:
        face = to_rgba(leg.get_frame().get_facecolor())
        for line in leg.get_lines():
            assert np.linalg.norm(np.subtract(to_rgba(line.get_color())[:3], face[:3])) > 0.3


def test_figure2(tmp_path):
    pytest.importorskip("astrofield.theory.stability")
    _check(make_figure(2, tmp_path), "figure2")


def test_bad_figure_number(tmp_path):
    with pytest.raises(ValueError, match="figure number = 4"):
        make_figure(4, tmp_path)


def test_old_experiments_make_figure_is_a_deprecated_alias():
    import astrofield
    import astrofield.experiments.figures as figures_mod

    with pytest.warns(DeprecationWarning, match="astrofield.plotting.paper"):
        old = figures_mod.make_figure
    assert old is make_figure is astrofield.make_figure


def test_boundary_curve_nan_without_crossing():
    ds = boundary_curve("beta", theta=0.1, gamma=2.0, D=np.array([0.3]), hi=1e-5)
    assert np.isnan(ds["beta_star"]).all() and (ds["n_crossings"] == 0).all()


def test_hidden_boundary_curve_is_deprecated_and_unchanged():
    import astrofield.experiments.figures as figures_mod

    with pytest.warns(DeprecationWarning, match="theory.stability.boundary_curve"):
        old = figures_mod.boundary_curve("D", np.array([0.3, 0.6]), gamma=2.0, beta_hi=0.3)
    new = boundary_curve("beta", theta=0.1, gamma=2.0, D=np.array([0.3, 0.6]), hi=0.3,
                         n_scan=120)["beta_star"].values
    np.testing.assert_array_equal(old, new)


def test_published_scheme_matches_within_pinning_error():
    """One stable point (D 0.6, beta 0.05): the published scheme's drift approaches astrofield's
    as its grid is refined; at N = 3000 it is within its grid-pinning error (a few per cent,
    documented in benchmarks/published_scheme.py)."""
    from published_scheme import run_published

    ours = float(drift_experiment(0.1, 0.05, 2.0, 0.6, T=20, N=256, dt=0.02,
                                  early_stop=False)["drift"].values[0])
    pub = run_published(0.1, 0.05, 2.0, 0.6, N=3000, dt=0.01, T=20)
    # the independent reference is the published scheme (a separate implementation); no
    # number taken from astrofield's own output
    assert ours > 0.01  # a real displacement to compare
    assert pub["drift"] == pytest.approx(ours, rel=0.04)
    fine = run_published(0.1, 0.05, 2.0, 0.6, N=6000, dt=0.01, T=20)
    assert abs(fine["drift"] - ours) < abs(pub["drift"] - ours)
    assert abs(pub["mass_drift"]) > 1e-8  # the published scheme does not conserve exactly
