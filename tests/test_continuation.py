"""Continuation of numerical bumps (astrofield.theory.continuation) and its CLI, against
independent references: closed-form folds, the Evans boundary, spectra and simulated speeds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from astrofield import Model, solve
from astrofield.cli import main
from astrofield.theory.bump import fold
from astrofield.theory.continuation import continue_bumps, numerical_boundary
from astrofield.theory.stability import beta_star

SIG20 = {"firing": "sigmoid", "steepness": 20.0, "D": 0.3}


@pytest.fixture(scope="module")
def sigmoid_branch():
    return continue_bumps(Model(**SIG20), "beta", 0.01, 0.07, N=128)


def test_drift_point_agrees_with_spectrum_and_boundary(sigmoid_branch):
    ds = sigmoid_branch
    drift = json.loads(ds.attrs["drift_bifurcations"])
    assert len(drift) == 1
    # the spectrum (independent of the determinant test) changes stability there
    st = ds.where(ds.branch == "stationary", drop=True)
    b, lead = st.beta.values, st.leading_real.values
    below, above = b < drift[0] - 1e-6, b > drift[0] + 1e-6
    assert np.all(lead[below] < 0) and np.all(lead[above] > 0)
    # natural-parameter scan + Brent on the same determinant, a different path
    assert numerical_boundary(Model(**SIG20), "beta", 0.01, 0.07, N=128) == pytest.approx(
        drift[0], rel=1e-5)


def test_travelling_speed_equals_simulated_speed(sigmoid_branch):
    ds = sigmoid_branch
    tr = ds.where(ds.branch == "travelling", drop=True)
    assert tr.sizes["point"] > 3 and np.all(np.diff(tr.speed.values) > 0)
    beta = 0.05
    c = float(np.interp(beta, tr.beta.values, tr.speed.values))
    sim = solve(Model(beta=beta, **SIG20), T=600.0, dt=0.1, N=128, eps=0.3, n_frames=2,
                store_fields=False, progress=False)
    assert abs(float(sim.velocity_final[0] if sim.velocity_final.ndim else sim.velocity_final))\
        == pytest.approx(c, rel=0.01)


def test_branch_dataset_is_labelled(sigmoid_branch):
    ds = sigmoid_branch
    for v in ds.data_vars.values():  # text labels (point_type, branch) have no units
        assert ("units" in v.attrs or v.dtype.kind in "OUS") and "long_name" in v.attrs
    for key in ("param_beta", "N", "tol", "astrofield_version", "continuation_parameter"):
        assert key in ds.attrs
    assert set(ds.point_type.values) >= {"start", "drift", "end"}


def test_heaviside_fold_and_drift_match_closed_form_and_evans():
    ds = continue_bumps(Model(D=0.3, beta=0.01), "beta", 0.005, 5.0, N=64, max_points=30)
    bmax, _ = fold(0.1, 2.0)
    assert json.loads(ds.attrs["folds"])[0] == pytest.approx(float(bmax), rel=1e-8)
    assert json.loads(ds.attrs["drift_bifurcations"])[0] == pytest.approx(
        float(beta_star(0.1, 2.0, 0.3)[0]), rel=5e-4)
    assert "fold" in ds.attrs["message"]


def test_sigmoid_fold_in_theta_has_a_zero_eigenvalue():
    ds = continue_bumps(Model(firing="sigmoid", steepness=20.0, D=np.inf, beta=0.05), "theta",
                        0.5, 0.99, N=64, max_points=12, travelling=False)
    folds = ds.where(ds.point_type == "fold", drop=True)
    assert folds.sizes["point"] == 1
    assert abs(float(folds.leading_real[0])) < 1e-6
    th = ds.theta.values
    assert float(folds.theta[0]) == pytest.approx(th.max(), abs=1e-9)
    # stable before the fold, one unstable eigenvalue just after it
    i = int(np.flatnonzero(ds.point_type.values == "fold")[0])
    assert ds.n_unstable.values[i - 1] == 0 and ds.n_unstable.values[i + 1] == 1


def test_sigmoid_boundary_approaches_evans_boundary_as_steepness_grows():
    ref = float(beta_star(0.1, 2.0, 0.3)[0])
    errs = [abs(numerical_boundary(Model(firing="sigmoid", steepness=s, D=0.3), "beta", 0.01,
                                   0.06, N=n, n_scan=4) - ref) for s, n in ((10, 128), (20, 128))]
    assert errs[1] < 0.6 * errs[0]


@pytest.mark.slow
def test_sigmoid_boundary_order_table():
    """About first order in 1/steepness (docs/continuation.md)."""
    ref = float(beta_star(0.1, 2.0, 0.3)[0])
    errs = [abs(numerical_boundary(Model(firing="sigmoid", steepness=s, D=0.3), "beta", 0.01,
                                   0.06, N=n, n_scan=4) - ref)
            for s, n in ((10, 128), (20, 256), (40, 256))]
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(orders > 0.8)


def test_failures_return_partial_branches_with_messages():
    ds = continue_bumps(Model(firing="sigmoid", beta=5.0, steepness=10.0), "beta", 5.0, 6.0,
                        N=64)
    assert ds.sizes["point"] == 0 and "no bump to continue from" in ds.attrs["message"]
    with pytest.raises(ValueError, match="stop"):
        continue_bumps(Model(firing="sigmoid"), "theta", 0.1, 1.5, N=64)
    with pytest.raises(ValueError, match="param"):
        continue_bumps(Model(firing="sigmoid"), "kappa", 0.1, 0.2, N=64)


# ------------------------------------------------------------------------------------- CLI

def _run(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_cli_spectrum_json():
    r = _run(["spectrum", "--firing", "sigmoid", "--steepness", "10", "--D", "inf", "--N", "64",
              "--json"])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    for key in ("eigenvalues", "n_unstable", "stable", "translation_eigenvalue", "residual"):
        assert key in obj
    assert obj["model"]["D"] == "inf"
    assert len(obj["eigenvalues"]["real"]) == len(obj["eigenvalues"]["imag"])


def test_cli_continue_outputs(tmp_path):
    out, png = tmp_path / "branch.nc", tmp_path / "branch.png"
    r = _run(["continue", "--firing", "sigmoid", "--steepness", "10", "--D", "0.3", "--N", "64",
              "--param", "beta", "--start", "0.01", "--stop", "0.05", "--max-points", "20",
              "-o", str(out), "--plot", str(png), "--json"])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout.splitlines()[0])
    assert {"points", "folds", "drift_bifurcations", "wall_s"} <= set(obj)
    assert out.exists() and png.exists()


@pytest.mark.parametrize("args", [
    ["spectrum", "--N", "63"],
    ["spectrum", "--D", "-1"],
    ["spectrum", "--kernel-param", "width"],
    ["continue", "--param", "beta", "--stop", "-1"],
    ["stability", "--firing", "sigmoid", "--theta", "2"],
])
def test_cli_bad_input_is_a_usage_error(args):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output


def test_cli_no_bump_exits_1_without_traceback():
    r = CliRunner().invoke(main, ["spectrum", "--firing", "sigmoid", "--beta", "5", "--N", "64"])
    assert r.exit_code == 1 and "no bump" in r.output.lower() and "lower beta" in r.output
    assert "Traceback" not in r.output


def test_cli_theory_commands_use_numerical_spectrum():
    r = _run(["stability", "--firing", "sigmoid", "--steepness", "10", "--D", "0.3", "--N", "64",
              "--json"])
    obj = json.loads(r.stdout)
    assert obj["method"] == "numerical spectrum" and "n_unstable" in obj
    r = _run(["boundary", "--firing", "sigmoid", "--steepness", "10", "--D", "0.3", "--N", "64",
              "--range", "0.01:0.06", "--json"])
    assert json.loads(r.stdout)["beta_star"] > 0.0243


# --------------------------------------------------------------------------------------------
# drift points at resolved N (issue 25): located where the leading eigenvalue changes sign
# --------------------------------------------------------------------------------------------

EDGE = {"firing": "sigmoid", "theta": 0.1, "gamma": 2.0, "D": 0.3}


def _leading(steepness: float, beta: float, N: int) -> float:
    """Leading non-translation eigenvalue of a bump solved from scratch (independent of the
    continuation's determinant test)."""
    from astrofield.theory.spectra import spectrum

    return spectrum(model=Model(beta=beta, steepness=steepness, **EDGE), N=N,
                    vectors=False).leading.real


def _check_drift(steepness: float, N: int, lo: float, hi: float, rel: float = 1e-3) -> float:
    ds = continue_bumps(Model(beta=lo, steepness=steepness, **EDGE), "beta", lo, hi, N=N,
                        travelling=False, spectra=False)
    drift = json.loads(ds.attrs["drift_bifurcations"])
    assert len(drift) == 1
    p = drift[0]
    # independent: the leading eigenvalue is negative just below and positive just above
    assert _leading(steepness, p * (1 - rel), N) < 0 < _leading(steepness, p * (1 + rel), N)
    # and the natural-parameter scan + Brent of `boundary` gives the same point
    b = numerical_boundary(Model(steepness=steepness, **EDGE), "beta", lo, hi, N=N, n_scan=4)
    assert p == pytest.approx(b, rel=1e-5)
    return p


def test_drift_point_at_N256_is_the_eigenvalue_crossing():
    """Was 0.0246066 (leading eigenvalue -1.8e-3 there) against the crossing at 0.027306:
    regula falsi on a determinant spanning ~1e11 over the step stopped after 40 iterations."""
    p = _check_drift(20.0, 256, 0.01, 0.04)
    assert p == pytest.approx(0.027304, rel=2e-4)


@pytest.mark.slow
def test_drift_point_steepness50_N512():
    """Was 0.0241950 against 0.0254813 (5 % low)."""
    assert _check_drift(50.0, 512, 0.01, 0.04, rel=5e-4) == pytest.approx(0.025481, rel=2e-4)


@pytest.mark.slow
def test_drift_point_steepness200_auto_N():
    """Steepness 200: the resolution rule picks N; the drift point is within 0.2 % of the
    converged boundary 0.02461 (N = 1024) and is bracketed by the leading eigenvalue."""
    ds = continue_bumps(Model(beta=0.022, steepness=200.0, **EDGE), "beta", 0.022, 0.027,
                        N="auto", travelling=False)
    N = int(ds.attrs["N"])
    assert N >= 768 and bool(ds.resolved.all())
    p = json.loads(ds.attrs["drift_bifurcations"])[0]
    assert p == pytest.approx(0.02461, rel=2e-3)
    assert _leading(200.0, p * (1 - 1e-3), N) < 0 < _leading(200.0, p * (1 + 1e-3), N)
    lo, hi, l0, l1 = json.loads(ds.attrs["drift_brackets"])[0]
    assert lo < p < hi and l0 < 0 < l1
