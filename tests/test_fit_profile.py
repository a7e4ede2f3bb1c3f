"""Profile likelihood of a fit (astrofield.fitting.profile, ``FitResult.profile``, ``--profile``).

Independent checks: a straight-line model, whose profile is exactly the Fisher parabola (closed
form); an exponential decay, whose profile is computed here point by point with scipy's scalar
minimiser (a second method); for the astrofield model, costs from separate unbatched solves,
the Fisher interval (near-linear case) and the truth; a bump at rest for the flat profile.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from test_fit import _cli  # the `astrofield fit` runner

import astrofield as af
from astrofield.fitting import fit
from astrofield.fitting.profile import CHI2_95, PROFILE_TOL, profile_problem


def _data(sd=0.01, seed=0, eps=0.3, T=60.0, N=64, n_frames=31):
    """The position trace of docs/fitting.md plus Gaussian noise of sd ``sd``."""
    ds = af.solve(
        af.Model(theta=0.1, beta=0.05, gamma=2, D=0.7),
        T=T,
        N=N,
        dt=0.05,
        eps=eps,
        n_frames=n_frames,
        progress=False,
    )
    rng = np.random.default_rng(seed)
    ds["position"] = ds.position + sd * rng.standard_normal(ds.position.size)
    return ds


class _Curve:
    """A least-squares problem with the interface of fitting.problem.Problem: parameters on
    linear unit-cube coordinates, residuals ``f(t; a, b) - y`` evaluated for a batch."""

    def __init__(self, f, t, y, lo, hi):
        self.f, self.t, self.y = f, t, y
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)
        self.names, self.p, self.phase, self.n_members = ["a", "b"], 2, "", 0

    def to_phys(self, z):
        return self.lo + np.asarray(z) * (self.hi - self.lo)

    def to_unit(self, th):
        return (np.asarray(th) - self.lo) / (self.hi - self.lo)

    def residuals(self, z):
        th = self.to_phys(np.atleast_2d(z))
        self.n_members += th.shape[0]
        return self.f(self.t[None], th[:, :1], th[:, 1:]) - self.y[None]


def test_linear_model_profile_is_the_fisher_parabola():
    """y = a + b t: the profile of b is ((b - b_hat) / se)^2 exactly, its interval
    b_hat ± 1.96 se (sigma given)."""
    rng = np.random.default_rng(3)
    t = np.linspace(0, 1, 15)
    y = 0.3 + 1.2 * t + 0.05 * rng.standard_normal(t.size)
    X = np.column_stack([np.ones_like(t), t])
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    sigma = 0.05
    cov = sigma**2 * np.linalg.inv(X.T @ X)
    r = X @ best - y
    prob = _Curve(lambda t, a, b: a + b * t, t, y, [-2, -2], [3, 3])
    pr = profile_problem(prob, prob.to_unit(best), 0.5 * r @ r, sigma, cov, 1, n=11)
    se = np.sqrt(cov[1, 1])
    np.testing.assert_allclose(pr.dchi2, ((pr.values - best[1]) / se) ** 2, atol=1e-6)
    np.testing.assert_allclose(
        [pr.ci_low, pr.ci_high], best[1] + np.array([-1, 1]) * 1.959964 * se, rtol=1e-6
    )
    # the re-optimised intercept is the closed-form conditional optimum
    a_cond = np.array([np.mean(y - b * t) for b in pr.values])
    np.testing.assert_allclose(pr.path[:, 0], a_cond, atol=1e-6)
    assert pr.identifiable and pr.agrees and pr.deviation < 1e-5 and not pr.flat


def test_nonlinear_profile_matches_pointwise_minimisation():
    """y = a exp(-b t), few noisy points: an asymmetric profile; each point against scipy's
    bounded scalar minimisation over a (an independent optimiser, unbatched)."""
    rng = np.random.default_rng(7)
    t = np.linspace(0, 4, 8)
    f = lambda t, a, b: a * np.exp(-b * t)  # noqa: E731
    y = f(t, 1.0, 0.8) + 0.08 * rng.standard_normal(t.size)
    prob = _Curve(f, t, y, [0.1, 0.05], [3.0, 4.0])
    from scipy.optimize import least_squares

    ls = least_squares(lambda th: f(t, *th) - y, [1, 1])
    J = ls.jac
    sigma = 0.08
    cov = sigma**2 * np.linalg.inv(J.T @ J)
    pr = profile_problem(prob, prob.to_unit(ls.x), ls.cost, sigma, cov, 1, n=15, span=4)

    def prof(b):
        return minimize_scalar(
            lambda a: 0.5 * np.sum((f(t, a, b) - y) ** 2),
            bounds=(0.1, 3),
            method="bounded",
            options={"xatol": 1e-10},
        ).fun

    ref = np.array([2 * (prof(b) - ls.cost) / sigma**2 for b in pr.values])
    np.testing.assert_allclose(pr.dchi2, ref, atol=2e-6 * max(1, ref.max()))
    # the ends by root finding on the independent profile
    from scipy.optimize import brentq

    g = lambda b: 2 * (prof(b) - ls.cost) / sigma**2 - CHI2_95  # noqa: E731
    lo, hi = brentq(g, 0.05 + 1e-9, ls.x[1]), brentq(g, ls.x[1], 4.0)
    assert pr.ci_low == pytest.approx(lo, abs=0.01 * (hi - lo))
    assert pr.ci_high == pytest.approx(hi, abs=0.01 * (hi - lo))
    assert hi - ls.x[1] > ls.x[1] - lo  # skewed: the data bound a fast decay better
    # ... which the symmetric Fisher interval misses: reported as a disagreement (measured:
    # the ends differ by 0.15 of the Fisher half-width)
    se = np.sqrt(cov[1, 1])
    dev = max(abs(lo - (ls.x[1] - 1.959964 * se)), abs(hi - (ls.x[1] + 1.959964 * se)))
    assert pr.deviation == pytest.approx(dev / (1.959964 * se), abs=0.02)
    assert pr.deviation > PROFILE_TOL and not pr.agrees


@pytest.fixture(scope="module")
def small_fit():
    return fit(
        _data(), af.Model(theta=0.1, gamma=2), vary={"beta": (0.01, 0.2), "D": (0.1, 3)}, n_starts=1
    )


def test_profile_of_the_model_contains_the_truth_and_agrees_with_fisher(small_fit):
    """The near-linear case of docs/fitting.md (beta and D from a noisy trace): the profile
    interval of D contains the truth and its ends lie within 10 % of the Fisher half-width."""
    pr = small_fit.profile("D", n=9)
    assert pr.ci_low < 0.7 < pr.ci_high
    assert pr.identifiable and not pr.flat and not pr.lower_cost
    assert pr.deviation < PROFILE_TOL and pr.agrees
    # near the optimum the profile is the Fisher parabola, independently of the interval logic
    k = np.argsort(np.abs(pr.values - pr.best))[1:3]
    np.testing.assert_allclose(pr.dchi2[k], ((pr.values[k] - pr.best) / pr.stderr) ** 2, rtol=0.1)
    # along the profile, beta follows the line the Fisher covariance predicts (correlated)
    c = small_fit.cov
    pred = small_fit.params[0] + c[0, 1] / c[1, 1] * (pr.values - pr.best)
    np.testing.assert_allclose(pr.path[:, 0], pred, rtol=0.05)
    ds = small_fit.to_dataset()
    assert {"profile_value", "profile_dchi2", "profile_path", "profile_ci_low"} <= set(ds)
    for name in ds.data_vars:
        assert ds[name].attrs.get("units") and ds[name].attrs.get("long_name"), name
    assert int(ds["profile_identifiable"].sel(param="D")) == 1


def test_one_parameter_profile_against_separate_solves():
    """p = 1: no re-optimisation, the profile is the cost curve; two of its points against
    costs from separate (unbatched) solves."""
    data = _data()
    r = fit(data, af.Model(theta=0.1, gamma=2, beta=0.05), vary={"D": (0.1, 3)}, n_starts=1)
    pr = r.profile("D", n=5)
    for k in (0, pr.values.size - 1):
        sol = af.solve(
            af.Model(theta=0.1, gamma=2, beta=0.05, D=pr.values[k]),
            T=60,
            N=64,
            dt=0.05,
            eps=0.3,
            n_frames=31,
            progress=False,
        )
        res = sol.position.values - data.position.values
        assert pr.dchi2[k] == pytest.approx((res @ res - 2 * r.cost) / r.sigma**2, rel=1e-6)


def test_bump_at_rest_profile_is_flat_and_reported():
    """eps = 0: the trace does not move, beta leaves no mark: a flat profile over the whole
    range, reported as not identifiable (also by fit(intervals="profile"))."""
    data = _data(eps=0.0, T=40, n_frames=21)
    r = fit(
        data,
        af.Model(theta=0.1, gamma=2, D=0.7),
        vary={"beta": (0.01, 0.2)},
        n_starts=1,
        n_global=8,
        intervals="profile",
    )
    pr = r.profiles["beta"]
    assert pr.flat and not pr.identifiable and pr.open_low and pr.open_high
    assert pr.values.min() == pytest.approx(0.01) and pr.values.max() == pytest.approx(0.2)
    assert np.nanmax(pr.dchi2) < 1e-3
    assert not r.identifiable[0] and r.intervals == "profile"
    assert r.summary()["profile"]["beta"]["flat"] is True


def test_profile_bad_input(small_fit):
    with pytest.raises(ValueError, match="not a fitted parameter"):
        small_fit.profile("tau")
    with pytest.raises(ValueError, match="n = 2"):
        small_fit.profile("D", n=2)
    with pytest.raises(ValueError, match="span"):
        small_fit.profile("D", span=-1)
    with pytest.raises(ValueError, match="positive noise sd"):
        profile_problem(small_fit.problem, np.full(2, 0.5), 0.0, 0.0, small_fit.cov, 0)
    with pytest.raises(ValueError, match="intervals"):
        fit(_data(), vary={"D": (0.1, 3)}, intervals="bootstrap")


@pytest.mark.slow
def test_cli_profile(tmp_path):
    _data().to_netcdf(tmp_path / "obs.nc")
    p = _cli(
        "--data",
        "obs.nc",
        "--theta",
        "0.1",
        "--gamma",
        "2",
        "--vary",
        "beta=0.01:0.2",
        "--vary",
        "D=0.1:3",
        "--profile",
        "--json",
        "-o",
        "fit.nc",
        "--plot",
        "fit.png",
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["intervals"] == "profile"
    for n, v in {"beta": 0.05, "D": 0.7}.items():
        assert s["profile"][n]["identifiable"] and s["profile"][n]["agrees_with_fisher"]
        lo, hi = s["ci95"][n]
        assert lo < v < hi
    back = af.io.load(tmp_path / "fit.nc")
    _data(eps=0.0, T=40, n_frames=21).to_netcdf(tmp_path / "rest.nc")
    rest = _cli(
        "--data", "rest.nc", "--vary", "beta=0.01:0.2", "--n-starts", "1", "--profile", cwd=tmp_path
    )
    assert rest.returncode == 0 and "profile: FLAT" in rest.stdout, rest.stdout + rest.stderr
    assert back["profile_dchi2"].shape[0] == 2 and (tmp_path / "fit.png").exists()


def test_profile_and_corner_plots(small_fit, tmp_path):
    """The figures draw from the saved dataset; the drawn 3.84 Laplace ellipse spans exactly the
    Fisher interval best ± 1.96 se in each parameter (its geometry, checked in closed form)."""
    from astrofield.plotting import plot_corner, plot_fit, plot_profiles
    from astrofield.plotting.fit import CHI2_1, _ellipse

    small_fit.profile("D", n=5)
    af.io.save(small_fit.to_dataset(), tmp_path / "fit.nc")
    back = af.io.load(tmp_path / "fit.nc")
    with pytest.raises(ValueError, match="no profile"):
        plot_profiles(back.drop_vars([v for v in back.data_vars if v.startswith("profile_")]))
    fig = plot_corner(back)
    assert sum(ax.get_visible() for ax in fig.axes) == 3  # 2 diagonal + 1 pair panel
    assert len(plot_profiles(back).axes) == 1  # only D was profiled
    assert len(plot_fit(back).get_axes()) >= 3
    e = _ellipse(back, 0, 1, CHI2_1)
    se = np.sqrt(np.diag(small_fit.cov))
    np.testing.assert_allclose(
        [e[0].min(), e[0].max()],
        small_fit.params[0] + np.array([-1, 1]) * 1.959964 * se[0],
        rtol=1e-4,
    )
    np.testing.assert_allclose(
        [e[1].min(), e[1].max()],
        small_fit.params[1] + np.array([-1, 1]) * 1.959964 * se[1],
        rtol=1e-4,
    )
