"""Phase maps of models other than the paper's (astrofield.experiments.model_map).

Checks against things the map code does not compute itself: the closed-form bump of the
paper's model (the perturbation), a bump left alone (stationarity), the first Fourier mode's
phase (the start's shift), the numerical spectrum computed separately
(:func:`astrofield.theory.spectra.numerical_stability`, at another grid) and long runs from a
start built here by interpolation (not by the spectral derivative of the map code).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from astrofield import Model, solve
from astrofield.cli import main
from astrofield.experiments import model_map
from astrofield.experiments.model_map import model_spec, numerical_columns, shift_perturbation
from astrofield.experiments.phase import drift_experiment, phase_diagram, summarize
from astrofield.model.kernels import Cosine
from astrofield.theory.spectra import numerical_stability
from astrofield.theory.steady import steady_bump

#: A smooth model resolved at N 64 (steepness 10: the firing layer spans 2.6 grid spacings).
SIG = {"firing": "sigmoid", "steepness": 10.0}
FAST = {"T": 150.0, "N": 64, "dt": 0.1}


# ----------------------------------------------------------------------------- the start
def test_perturbation_is_the_papers_for_the_closed_form_bump():
    """u - eps U' of the exact Heaviside/cosine bump U = 2 c0 sin(Delta) cos x is the paper's
    eps * 2 c0 sin(Delta) * sin x, to round-off."""
    st = steady_bump(Model(theta=0.1, beta=0.05, gamma=2.0, D=0.7), 128)
    amp = 2 * st.extra["c0"] * np.sin(st.Delta)
    eps = 0.05
    got = shift_perturbation(st.u[None, :], eps)[0] - st.u
    np.testing.assert_allclose(got, eps * amp * np.sin(st.x), atol=1e-12)


def test_perturbation_of_a_known_profile():
    x = -np.pi + 2 * np.pi * np.arange(32) / 32
    u = np.sin(3 * x) + 0.5 * np.cos(x)
    np.testing.assert_allclose(
        shift_perturbation(u, 0.1), u - 0.1 * (3 * np.cos(3 * x) - 0.5 * np.sin(x)), atol=1e-12
    )


def test_start_is_stationary_and_shifted_by_eps():
    """The model's Newton bump at the run's N does not move by itself (1e-8 rad in 50 time
    units), and the perturbed start sits eps rad to the right (phase of the first mode)."""
    spec = model_spec(**SIG)
    p = [np.array([v]) for v in (0.1, 0.03, 2.0, 0.3)]
    an, starts = numerical_columns(spec, *p, 1.0, 64)
    assert an["exists"][0]
    model = spec.model(theta=0.1, beta=0.03, gamma=2.0, D=0.3)
    for eps in (0.0, 0.05):
        u, q, a = starts.init(np.array([0]), 64, eps)
        ds = solve(
            model,
            T=50,
            dt=0.1,
            N=64,
            init=(u[0], q[0], a[0]),
            store_fields=False,
            progress=False,
            check_resolution=False,
        )
        if eps == 0.0:
            assert abs(float(ds["drift"])) < 1e-8
        else:
            assert abs(float(ds["position"][0]) - eps) < 2e-3


def test_other_grids_get_the_bump_solved_there():
    """The error control's runs at N / 2 and 2 N start from the bump of their own grid: a
    Heaviside (Mexican-hat) bump sampled from its edges, a sigmoid one polished by Newton,
    equal to the bump solved from scratch on that grid."""
    p = [np.array([v]) for v in (0.1, 0.02, 2.0, np.inf)]
    for shape in ({"kernel": "mexican_hat"}, SIG):
        spec = model_spec(**shape)
        _, starts = numerical_columns(spec, *p, 1.0, 64)
        model = spec.model(theta=0.1, beta=0.02, gamma=2.0, D=np.inf)
        for n in (32, 128):
            ref = steady_bump(model, n)
            u, q, a = starts.init(np.array([0]), n, 0.0)
            np.testing.assert_allclose(u[0], ref.u, atol=1e-9)
            np.testing.assert_allclose(q[0], np.clip(ref.q, 0, 1), atol=1e-9)
            np.testing.assert_allclose(a[0], np.broadcast_to(ref.a, (n,)), atol=1e-9)


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"steepness": -1.0, "firing": "sigmoid"}, "steepness"),
        ({"steepness": 0.0}, "steepness"),
        ({"steepness": [10.0, 20.0]}, "steepness"),
        ({"firing": "box"}, "firing"),
        ({"kernel": "box"}, "kernel"),
    ],
)
def test_bad_model_refused_before_any_work(kw, name, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("work started")

    monkeypatch.setattr(model_map, "numerical_columns", boom)
    with pytest.raises(ValueError, match=name):
        phase_diagram(["D=0.1,0.5"], T=100, **kw)


def test_paper_model_is_recognised():
    assert model_spec().paper
    assert model_spec("heaviside", 5.0, lambda x: np.cos(x)).paper  # cos x to round-off
    assert not model_spec(kernel=Cosine(amplitude=2.0)).paper
    assert not model_spec("sigmoid").paper
    assert not model_spec(kernel="mexican_hat").paper


def test_user_functions_are_marked_not_reproducible():
    def my_rate(u):
        return 1.0 / (1.0 + np.exp(-10.0 * (u - 0.1)))

    attrs = model_spec(firing=my_rate).attrs()
    assert attrs["model_reproducible"] == 0 and "firing" in attrs["model_reproducible_note"]
    assert "my_rate" in attrs["firing"]
    assert model_spec(**SIG).attrs()["model_reproducible"] == 1
    with pytest.raises(ValueError, match="executor"):
        phase_diagram(["D=0.1,0.5"], T=100, firing=my_rate, executor="local")


# ----------------------------------------------------------------------------- the map
def test_no_bump_is_a_cell_with_a_reason_not_an_error():
    """Where Newton finds no bump the cell is "no bump" (not simulated), with the reason."""
    ds = drift_experiment([0.1, 0.45], [0.03, 0.3], [2.0, 1.0], 0.3, **FAST, **SIG)
    assert list(ds["verdict"].values)[1] == "no bump"
    assert ds["verdict"].values[0] in ("stable", "unstable")
    assert not ds["exists"].values[1] and np.isnan(ds["t_final"].values[1])
    assert "no stationary bump" in str(ds["no_bump_reason"].values[1])
    assert ds["no_bump_reason"].values[0] == ""
    assert "evans_stable" not in ds and "fourier_stable" not in ds
    assert "absent" in ds.attrs["evans_columns"]
    assert ds.attrs["firing"] == "sigmoid" and ds.attrs["steepness"] == 10.0


def test_sigmoid_map_agrees_with_its_spectrum_away_from_the_boundary():
    """3 x 3 cells on both sides of the boundary (the spectrum's |Re lambda| > 0.005): the drift
    experiment's verdict is the numerical spectrum's, and summarize compares with it."""
    ds = phase_diagram(
        ["D=0.1,0.3,0.6", "beta=0.01,0.05,0.1"],
        T=200,
        N=64,
        dt=0.1,
        executor=None,
        progress=False,
        **SIG,
    )
    lead = ds["numerical_leading_real"].values
    stable = ds["numerical_stable"].values
    assert stable.any() and not stable.all()  # both verdicts on the map
    away = np.abs(lead) > 0.005
    assert away.sum() >= 6
    np.testing.assert_array_equal((ds["verdict_code"].values == 0)[away], stable[away])
    s = summarize(ds)
    assert s["agreement"] == np.mean((ds["verdict_code"].values == 0) == stable)
    assert np.isnan(s["fourier_agreement"])
    assert ds.attrs["theory_verdict"] == "numerical_stable"


def test_adaptive_seeds_are_the_numerical_boundary():
    """The adaptive map's first-round seeds of a sigmoid map are the cells with a bump whose
    8-neighbourhood holds the other verdict of the numerical spectrum."""
    from astrofield.experiments import adaptive
    from astrofield.experiments.sweep import make_grid

    grid = make_grid(
        ["D=0.05:0.6:5", "beta=0.005:0.1:5"], {"theta": 0.1, "beta": 0.05, "gamma": 2.0, "D": 0.7}
    )
    an = adaptive._analytic(grid, None, None, 1, 1.0, {**SIG, "kernel": "cosine", "N": 64})
    ns = an["numerical_stable"].reshape(5, 5).astype(int)
    pad = np.pad(ns, 1, mode="edge")
    other = np.zeros(ns.shape, bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            other |= pad[1 + di : 6 + di, 1 + dj : 6 + dj] != ns
    assert other.any() and not other.all()
    np.testing.assert_array_equal(adaptive._seed_cells(adaptive._State((5, 5), an)), other)


def test_adaptive_map_equals_the_full_map():
    """17 cells along D across the boundary: the adaptive map simulates fewer, gives the full
    map's verdicts, its simulated cells' drift (to Newton's round-off) and every interpolated
    drift within its estimate."""
    kw = dict(beta=0.03, T=100, N=64, dt=0.1, executor=None, progress=False, **SIG)
    full = phase_diagram(["D=0.02:0.6:17"], **kw)
    ad = phase_diagram(["D=0.02:0.6:17"], sampling="adaptive", adaptive={"start": 8}, **kw)
    np.testing.assert_array_equal(ad["verdict_code"].values, full["verdict_code"].values)
    assert 0 < (full["verdict_code"].values == 0).sum() < 17
    assert ad.attrs["adaptive_points_simulated"] < 17
    gap = np.abs(ad["drift"].values - full["drift"].values)
    assert np.all(gap <= ad["drift_interp_error"].values + 1e-9)


def test_cache_gives_the_same_columns_and_bumps():
    """A second call with the cache filled by the first solves nothing and returns the same
    columns and starting states, bit for bit."""
    spec = model_spec("sigmoid", 10.0, "cosine")
    pts = tuple(np.array(v) for v in ([0.1, 0.1, 0.1], [0.01, 0.05, 0.3], [2.0] * 3, [0.3] * 3))
    plain, s0 = numerical_columns(spec, *pts, 1.0, 64)
    cache: dict = {}
    numerical_columns(spec, *pts, 1.0, 64, cache)
    assert len(cache) == 3
    calls = []
    real = model_map._point_columns
    model_map._point_columns = lambda *a: calls.append(a) or real(*a)
    try:
        cached, s1 = numerical_columns(spec, *pts, 1.0, 64, cache)
    finally:
        model_map._point_columns = real
    assert calls == []
    for k in plain:
        np.testing.assert_array_equal(cached[k], plain[k])
    for a, b in zip(s0.init(np.arange(3), 64, 0.05), s1.init(np.arange(3), 64, 0.05),
                    strict=True):
        np.testing.assert_array_equal(a, b)


def test_adaptive_map_solves_each_cell_once(monkeypatch):
    """An adaptive map of another model in this process solves each cell's bump and spectrum
    once (for the seeds); the cells it simulates reuse them (they were solved twice)."""
    calls = []
    real = model_map._point_columns
    monkeypatch.setattr(model_map, "_point_columns", lambda *a: calls.append(a) or real(*a))
    kw = dict(beta=0.03, T=100, N=64, dt=0.1, executor="serial", progress=False, **SIG)
    ad = phase_diagram(["D=0.02:0.6:9"], sampling="adaptive", adaptive={"start": 4}, **kw)
    assert 0 < ad.attrs["adaptive_points_simulated"] and len(calls) == 9


# ----------------------------------------------------------------------------- command line
def test_cli_phase_with_a_sigmoid(tmp_path):
    out = tmp_path / "map.nc"
    res = CliRunner().invoke(
        main,
        [
            "phase",
            "--vary",
            "D=0.1,0.6",
            "--beta",
            "0.01",
            "--T",
            "100",
            "--N",
            "64",
            "--firing",
            "sigmoid",
            "--steepness",
            "10",
            "--executor",
            "serial",
            "-o",
            str(out),
            "--json",
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["firing"] == "sigmoid" and obj["theory"] == "numerical spectrum"
    ds = xr.open_dataset(out, engine="h5netcdf").load()
    assert "numerical_stable" in ds and "evans_dprime" not in ds
    assert ds.attrs["firing"] == "sigmoid" and ds.attrs["model_reproducible"] == 1


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--firing", "sigmoid", "--steepness", "-1"], "--steepness"),
        (["--kernel", "gaussian", "--kernel-param", "bogus=1"], "--kernel-param"),
        (["--kernel", "gaussian", "--kernel-param", "width"], "--kernel-param"),
        (["--firing", "box"], "--firing"),
    ],
)
def test_cli_phase_refuses_a_bad_model(args, hint):
    res = CliRunner().invoke(main, ["phase", "--vary", "D=0.1,0.6", "--T", "100", *args])
    assert res.exit_code == 2, res.output
    assert hint in res.output


# ----------------------------------------------------------------------------- slow checks
@pytest.mark.slow
def test_sigmoid_6x6_map_near_the_boundary():
    """Steepness 20 at N 128 (resolved): the 6 x 6 (D, beta) map across the boundary agrees
    with the numerical spectrum on every cell with |Re lambda| > 0.005 (34 of 36 when
    measured), and the adaptive map gives the full map's verdicts."""
    vary = ["D=0.05:0.6:6", "beta=0.005:0.1:6"]
    kw = dict(gamma=2.0, theta=0.1, T=500, N=128, firing="sigmoid", steepness=20.0, progress=False)
    full = phase_diagram(vary, **kw)
    lead = full["numerical_leading_real"].values
    away = np.abs(lead) > 0.005
    assert away.sum() >= 30
    np.testing.assert_array_equal(
        (full["verdict_code"].values == 0)[away], full["numerical_stable"].values[away]
    )
    ad = phase_diagram(vary, sampling="adaptive", **kw)
    np.testing.assert_array_equal(ad["verdict_code"].values, full["verdict_code"].values)


def _long_run_verdict(model: Model, N: int, T: float) -> bool:
    """Stable (True) or not from a long run started from the bump shifted by interpolation
    (independent of the map's spectral perturbation)."""
    st = steady_bump(model, N)
    x = st.x
    u = np.interp(x - 0.05, x, st.u, period=2 * np.pi)
    a = np.broadcast_to(np.maximum(st.a, 0.0), (N,))
    ds = solve(
        model,
        T=T,
        dt=0.05,
        N=N,
        init=(u, np.clip(st.q, 0, 1), a),
        store_fields=False,
        progress=False,
        check_resolution=False,
        n_frames=int(T) + 1,
    )
    v = np.abs(ds["velocity"].values)
    return bool(v[-1] < 0.2 * v[10] and abs(float(ds["drift"])) < 1.0)


@pytest.mark.parametrize(("D", "beta"), [(0.3, 0.05), (np.inf, 0.02)])
def test_mexican_hat_cells_agree_with_spectrum_and_long_runs(D, beta):
    """Heaviside firing with the Mexican-hat kernel: the map's verdict at N 64 is the
    verdict of the numerical spectrum at N 128 and of a run to T = 1500 at N 128."""
    ds = drift_experiment(0.1, beta, 2.0, D, T=500, N=64, dt=0.1, kernel="mexican_hat")
    model = Model(theta=0.1, beta=beta, gamma=2.0, D=D, kernel="mexican_hat")
    spec = numerical_stability(model, 128)
    stable = ds["verdict"].values[0] == "stable"
    assert bool(ds["numerical_stable"].values[0]) == spec["stable"] == stable
    assert _long_run_verdict(model, 128, 1500.0) == stable
