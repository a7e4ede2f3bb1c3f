"""Resolution of the firing layer of smooth rates (astrofield.theory.steady.resolution),
``N = "auto"`` and the reports of unresolved grids and Newton failures (issue 25)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from astrofield import Model
from astrofield.cli import main
from astrofield.model.firing import FiringFunction
from astrofield.theory.continuation import continue_bumps, numerical_boundary
from astrofield.theory.spectra import spectrum
from astrofield.theory.steady import LAYER_POINTS, _resample, resolution, steady_bump

EDGE = {"firing": "sigmoid", "theta": 0.1, "gamma": 2.0, "D": 0.3, "beta": 0.025}


def test_resample_is_the_trigonometric_interpolant():
    x = np.linspace(-np.pi, np.pi, 16, endpoint=False)
    xf = np.linspace(-np.pi, np.pi, 48, endpoint=False)
    f = lambda t: np.cos(3 * t) + np.sin(7 * t) - 0.5  # noqa: E731
    np.testing.assert_allclose(_resample(f(x), 48), f(xf), atol=1e-13)
    np.testing.assert_allclose(_resample(f(xf), 16), f(x), atol=1e-13)


@pytest.mark.parametrize("s", [20.0, 50.0])
def test_layer_width_is_4_over_s_times_edge_slope(s):
    """Sigmoid: f' <= s/4, so the layer is 4 / (s |u'(x_e)|) wide (|u'| here by finite
    differences of a bump on a fine grid, max over the ring = at the edge)."""
    st = steady_bump(Model(steepness=s, **EDGE), 256)
    r = resolution(st.system, st.u)
    du = np.max(np.abs(np.gradient(st.u, st.system.dx, edge_order=2)))
    assert r["layer_width"] == pytest.approx(4.0 / (s * du), rel=0.02)
    assert r["layer_points"] == pytest.approx(r["layer_width"] / (2 * np.pi / 256))
    assert r["resolved"] == (r["layer_points"] >= LAYER_POINTS)
    assert r["N_needed"] % 64 == 0 and r["N_needed"] * r["layer_width"] >= 2 * np.pi * 1.5


def test_user_rate_uses_its_maximal_slope():
    """A user-supplied rate has no steepness: the rule works from its derivative alone and
    agrees with the built-in sigmoid of the same shape."""
    f50 = FiringFunction(lambda u: 1.0 / (1.0 + np.exp(-50.0 * (u - 0.1))))
    a = steady_bump(Model(steepness=50.0, **EDGE), 128)
    b = steady_bump(Model(**{**EDGE, "firing": f50}), 128)
    ra, rb = resolution(a.system, a.u), resolution(b.system, b.u)
    assert rb["layer_width"] == pytest.approx(ra["layer_width"], rel=1e-6)
    assert rb["N_needed"] == ra["N_needed"] and not rb["resolved"]


def test_auto_N_resolves_the_layer():
    st = steady_bump(Model(steepness=50.0, **EDGE), "auto")
    r = resolution(st.system, st.u)
    assert r["resolved"] and st.system.N == r["N_needed"] == 256
    sp = spectrum(model=Model(steepness=50.0, **EDGE), N="auto", vectors=False)
    assert sp.steady.system.N == 256
    with pytest.raises(ValueError, match="auto"):
        steady_bump(Model(steepness=50.0, **EDGE), "fine")


def test_unresolved_boundary_says_so():
    """Steepness 200 at N 128 is 2 % low (0.02411 against a converged 0.02461): the result
    must say that N is too small and how large it should be."""
    m = Model(steepness=200.0, **EDGE)
    with pytest.warns(UserWarning, match="does not resolve"):
        v = numerical_boundary(m, "beta", 0.02, 0.03, N=128, n_scan=3)
    assert v == pytest.approx(0.024110, rel=1e-4)
    r = numerical_boundary(m, "beta", 0.02, 0.03, N=128, n_scan=3, details=True)
    assert not r["resolved"] and r["N_needed"] >= 512 and "N >= " in r["message"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # resolved: no warning
        numerical_boundary(Model(steepness=20.0, **EDGE), "beta", 0.02, 0.03, N=128, n_scan=3)


def test_continuation_marks_unresolved_points():
    ds = continue_bumps(Model(steepness=50.0, **EDGE), "beta", 0.02, 0.022, N=64,
                        travelling=False, spectra=False, max_points=3)
    assert not ds.resolved.values.any() and "N >= 256" in ds.attrs["message"]
    ds = continue_bumps(Model(steepness=50.0, **EDGE), "beta", 0.02, 0.022, N="auto",
                        travelling=False, spectra=False, max_points=3)
    assert ds.attrs["N"] == 256 and ds.resolved.values.all()


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_cli_boundary_reports_resolution():
    args = ["boundary", "--firing", "sigmoid", "--theta", "0.1", "--gamma", "2", "--D", "0.3",
            "--range", "0.02:0.03", "--json"]
    res = run(*args, "--steepness", "200", "--N", "128")
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["resolved"] is False and obj["N_needed"] >= 512 and "N >= " in obj["message"]
    res = run(*args, "--steepness", "20", "--N", "auto")
    obj = json.loads(res.stdout)
    assert res.exit_code == 0 and obj["resolved"] is True and obj["N"] == 128
    assert obj["beta_star"] == pytest.approx(0.027298, rel=1e-4)


def test_cli_N_auto_refused_where_unsupported_and_bad_N():
    res = run("stability-map", "--firing", "sigmoid", "--N", "auto", "--json")
    assert res.exit_code == 2 and "auto" in res.output
    res = run("boundary", "--firing", "sigmoid", "--N", "many", "--json")
    assert res.exit_code == 2 and "'auto'" in res.output


def test_cli_boundary_newton_failure_is_a_message(monkeypatch):
    """A Newton failure while refining gives exit 1 and the bracket, not a traceback."""
    import astrofield.theory.continuation as cont
    from astrofield.theory.steady import SteadyStateError

    real = cont._solve_near
    scan = np.linspace(0.02, 0.03, 16)

    def failing(system, param, p, known, tol, y0=None):
        if not np.isclose(p, scan, rtol=0, atol=1e-12).any():  # a Brent point
            raise SteadyStateError("Newton's method did not converge (test)")
        return real(system, param, p, known, tol, y0)

    monkeypatch.setattr(cont, "_solve_near", failing)
    res = run("boundary", "--firing", "sigmoid", "--steepness", "20", "--theta", "0.1",
              "--gamma", "2", "--D", "0.3", "--range", "0.02:0.03", "--json")
    assert res.exit_code == 1, res.output
    obj = json.loads(res.stdout)
    assert "Newton failed" in obj["error"] and obj["beta_star"] is None
    a, b = obj["bracket"]
    assert a < 0.027298 < b and b - a == pytest.approx(0.01 / 15)
