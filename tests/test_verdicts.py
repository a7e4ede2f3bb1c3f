"""The stability verdict counts real unstable zeros of E (not the sign of E'(0)).

Independent checks: the D = inf zeros are eigenvalues of a 5 x 5 matrix built without the Evans
code; the verdicts and growth rates are checked against the simulator (which knows nothing of
E); boundaries are checked by evaluating the count on both sides.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from astrofield import Model
from astrofield.simulator.integrator import solve
from astrofield.theory import stability as stab_mod
from astrofield.theory.bump import bump_branches, fold
from astrofield.theory.evans import (
    _dprime_cauchy,
    count_unstable_zeros,
    evans_limit_matrix,
    evans_zeros,
    rhp_bound,
)
from astrofield.theory.stability import beta_star, boundary, gamma_star, stability

THETA = 0.1


def _matrix_counts(beta, gamma):
    """Real / complex right-half-plane eigenvalues of the independent D = inf matrix."""
    br = bump_branches(THETA, beta, gamma)["wide"]
    w = np.linalg.eigvals(evans_limit_matrix(float(br["Delta"]), float(br["c0"]), beta, gamma))
    w = np.delete(w, np.argmin(np.abs(w)))          # the translation eigenvalue 0
    real = np.abs(w.imag) < 1e-9
    return (int(np.sum(real & (w.real > 0))), int(np.sum(~real & (w.real > 0))),
            float(np.max(w.real[real])) if np.any(real & (w.real > 0)) else np.nan)


def test_counts_match_independent_matrix_at_infinite_D():
    B, G = np.meshgrid(np.linspace(2.0, 4.58, 14), np.linspace(1.2, 2.2, 12), indexing="ij")
    r = stability(THETA, B, G, np.inf)
    checked = 0
    for i, j in zip(*np.nonzero(r["exists"]), strict=True):
        n_re, n_cx, lam = _matrix_counts(B[i, j], G[i, j])
        assert r["evans_n_real"][i, j] == n_re, (B[i, j], G[i, j])
        assert r["evans_n_complex"][i, j] == n_cx, (B[i, j], G[i, j])
        assert r["evans_stable"][i, j] == (n_re == 0)
        if n_re:
            assert r["evans_growth_rate"][i, j] == pytest.approx(lam, rel=1e-9)
        checked += 1
    assert checked > 100
    # the map contains the case the sign of E'(0) gets wrong
    assert np.any(r["exists"] & (r["evans_dprime"] > 0) & ~r["evans_stable"])


def test_counts_match_spectrum_at_finite_D():
    # D = 0.1 near the fold: one real zero and a complex pair, then three real zeros
    for beta, D, n_re, n_cx in [(4.5909, 0.1, 1, 2), (4.5910, 0.1, 3, 0), (0.05, 0.3, 1, 0),
                                (0.01, 0.6, 0, 0)]:
        r = stability(THETA, beta, 2.0, D)
        assert (r["evans_n_real"], r["evans_n_complex"]) == (n_re, n_cx), (beta, D)
        br = bump_branches(THETA, beta, 2.0)["wide"]
        R = float(rhp_bound(br["Delta"], br["c0"], beta, 2.0, D))
        zs = evans_zeros(THETA, beta, 2.0, D, region=(1e-9, 2 * R, -2 * R, 2 * R))
        assert all(abs(z.lam) <= R for z in zs)     # the bound holds (finite D: not proven)
        real = [z for z in zs if abs(z.lam.imag) < 1e-8]
        assert sum(z.multiplicity for z in real) == n_re
        assert sum(z.multiplicity for z in zs) - n_re == n_cx


def test_count_is_right_next_to_a_boundary():
    (b,) = beta_star(THETA, 2.0, 0.3)
    for f, n in ((1 - 1e-12, 0), (1 + 1e-12, 1), (1 - 1e-6, 0), (1 + 1e-6, 1)):
        assert stability(THETA, b * f, 2.0, 0.3)["evans_n_real"] == n


def test_sign_of_dprime_misses_two_real_zeros_and_simulation_agrees():
    """E'(0) > 0 but two real zeros: the simulated drift grows at the larger one and the bump
    slips by an amount that does not depend on the perturbation; at points with only complex
    right-half-plane zeros (formal) the displacement stays proportional to the perturbation
    and the bump comes to rest."""
    pts = [(3.1, 1.45), (3.0, 1.45), (3.3, 1.55)]
    r = stability(THETA, np.array([p[0] for p in pts]), np.array([p[1] for p in pts]), np.inf)
    assert np.all(r["evans_dprime"] > 0)
    assert list(r["evans_n_real"]) == [2, 0, 0] and list(r["evans_n_complex"]) == [0, 2, 2]
    assert list(r["evans_stable"]) == [False, True, True]
    m = Model(theta=THETA, beta=np.array([p[0] for p in pts]),
              gamma=np.array([p[1] for p in pts]), D=np.inf)
    runs = {eps: solve(m, T=60.0, dt=0.05, N=128, eps=eps, store_fields=False, n_frames=121,
                       progress=False, refine_levels=0) for eps in (1e-6, 1e-5)}
    # the growth rate in the linear regime (eps 1e-10; at 1e-6 the window is already weakly
    # nonlinear and the fitted rate converges in dt to 0.45 at N 128, not to the eigenvalue)
    lin = solve(m, T=20.0, dt=0.0125, N=512, eps=1e-10, store_fields=False, n_frames=81,
                progress=False, refine_levels=0)
    t = lin["time"].values
    sel = (t > 8) & (t < 18)
    rate = np.polyfit(t[sel], np.log(np.abs(lin["velocity"].values[0, sel])), 1)[0]
    assert rate == pytest.approx(float(r["evans_growth_rate"][0]), rel=0.01)
    d6, d5 = (np.abs(runs[e]["drift"].values) for e in (1e-6, 1e-5))
    assert d6[0] > 0.3 and d5[0] == pytest.approx(d6[0], rel=0.01)        # a full slip
    assert np.all(d6[1:] < 0.01) and np.all(d5[1:] / d6[1:] > 5)          # ~ proportional
    for run in runs.values():
        assert np.all(np.abs(run["velocity_final"].values) < 1e-8)        # at rest at T


def test_boundaries_are_every_change_of_the_count():
    # gamma 1.45 at D = inf: a complex pair lands on the real axis (0 -> 2 real zeros), then
    # one real zero passes through 0 (2 -> 1)
    r = beta_star(THETA, 1.45, np.inf)
    assert r.size == 2
    for x in r:
        lo, hi = stability(THETA, x * (1 - 1e-7), 1.45, np.inf), stability(
            THETA, x * (1 + 1e-7), 1.45, np.inf)
        assert lo["evans_n_real"] != hi["evans_n_real"]
    assert stability(THETA, 0.99 * r[0], 1.45, np.inf)["evans_stable"]
    g = gamma_star(THETA, 3.1, np.inf)
    assert g.size == 2 and np.all(np.diff(g) > 0)
    # tau enters by rescaling: beta*(tau) = tau * beta*(gamma / tau, D / tau)
    bt = boundary("beta", theta=THETA, gamma=2.0, D=0.3, tau=2.0)
    np.testing.assert_allclose(bt, 2.0 * boundary("beta", theta=THETA, gamma=1.0, D=0.15),
                               rtol=1e-9)


def test_boundary_range_is_validated_and_roots_are_real_crossings():
    with pytest.raises(ValueError, match="lo"):
        boundary("beta", theta=THETA, gamma=2.0, D=0.3, lo=1e-300, hi=1e300)
    with pytest.raises(ValueError, match="hi"):
        boundary("beta", theta=THETA, gamma=2.0, D=0.3, lo=0.01, hi=1e300)
    with pytest.raises(TypeError, match="positional"):  # the parameters are keyword-only
        boundary("beta", THETA, 0.3, gamma=2.0)
    # no crossing in a window without one
    assert boundary("beta", theta=THETA, gamma=2.0, D=0.3, lo=1e-4, hi=1e-2).size == 0
    bmax = float(fold(THETA, 2.0)[0])
    r = boundary("beta", theta=THETA, gamma=2.0, D=0.3, hi=bmax)
    assert r.size >= 1 and np.all((r > 0) & (r < bmax))


def test_amari_limit_beta_zero_is_answered_exactly():
    r = stability(THETA, 0.0, 2.0, 0.3)
    Delta = float(r["Delta"])
    # beta = 0: q stays 1, E = lambda (lambda + 1 - cot^2 Delta); wide bump: stable
    assert float(r["evans_dprime"]) == pytest.approx(1 - 1 / np.tan(Delta) ** 2, rel=1e-12)
    assert bool(r["evans_stable"]) and bool(r["fourier_stable"])
    assert r["evans_n_real"] == 0


def test_nonfinite_dprime_is_refused():
    br = bump_branches(THETA, 0.05, 2.0)["wide"]
    d = _dprime_cauchy(*(np.atleast_1d(np.asarray(v, float)) for v in
                         (br["Delta"], br["c0"], 0.05, 2.0, 0.3)))
    out = count_unstable_zeros(br["Delta"], br["c0"], 0.05, 2.0, 0.3, np.array([np.nan]))
    assert not out["ok"].any() and np.isnan(out["n_real"]).all()
    assert np.isfinite(d).all()
    with pytest.raises(ValueError, match="not finite"):
        stab_mod._refuse_nonfinite(np.array([np.nan]), np.array([True]), np.array([0.1]),
                                   np.array([0.05]), np.array([2.0]), np.array([0.3]))


def test_plot_helpers_take_ax_and_leave_the_backend_alone():
    src = inspect.getsource(stab_mod)
    assert "matplotlib.use(" not in src
    from matplotlib.figure import Figure

    ds = stab_mod.stability_map(theta=THETA, gamma=2.0, beta=np.linspace(0.005, 0.1, 6),
                                D=np.linspace(0.05, 0.6, 5))
    fig = Figure()
    ax = fig.add_subplot(111)
    from astrofield.plotting import plot_figure2, plot_map

    assert plot_map(ds, ax=ax) is fig
    fig2 = Figure()
    axes = fig2.subplots(1, 2)
    out, data = plot_figure2(ax=axes, n=30)
    assert out is fig2 and "wide_stable_0p03" in data
    for k in ("evans_n_real", "evans_growth_rate", "evans_stable"):
        assert ds[k].attrs["units"] and ds[k].attrs["long_name"]


def test_python_blocks_in_verdicts_page_run():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "verdicts.md").read_text()
    blocks = text.split("```python")[1:]
    assert blocks
    for block in blocks:
        exec(compile(block.split("```")[0], "docs/verdicts.md", "exec"), {})


def test_complex_pair_next_to_the_imaginary_axis_is_counted():
    """A pair with Re 4e-4 (R = 18) needs a local refinement of the contour; it used to fall
    into the fallback strip, which counts real zeros only (evans_n_complex was 0). The map and
    the single-point verdict count it, and the zero search (subdivision + Newton) finds it."""
    pts = [(2.59655, 1.41034, 20.0), (2.752406201360309, 1.45, 20.0)]
    for beta, gamma, D in pts:
        r = stability(THETA, beta, gamma, D)
        assert (r["evans_n_real"], r["evans_n_complex"], r["complex_unstable"]) == (0, 2, 2)
        zs = evans_zeros(THETA, beta, gamma, D, region=(1e-5, 1.0, -1.0, 1.0))
        assert [z.lam.real > 0 and abs(z.lam.imag) > 0.1 for z in zs] == [True, True]
        assert 3e-4 < zs[0].lam.real < 6e-3
    ds = stab_mod.stability_map(theta=THETA, beta=np.array([p[0] for p in pts]),
                                gamma=np.array([1.41034, 1.45]), D=20.0)
    assert float(ds["evans_n_complex"][0, 0]) == 2 and float(ds["evans_n_complex"][1, 1]) == 2
    assert int(ds["complex_unstable"][0, 0]) == 2


def test_near_fold_finite_slips_are_flagged():
    """D = inf near the fold: Evans-stable (a complex pair, no real zero) but a perturbation of
    1e-9 grows to a slip of a few hundredths of a radian that 1e-6 barely changes. The verdict
    says so and the nonlinear check flags the points; a point whose complex pair is far from
    the real axis (3.3, 1.55) responds linearly (ratio 1000)."""
    from astrofield.theory.stability import verdict_text

    B, G = np.array([3.393103, 3.117, 3.3]), np.array([1.558621, 1.476, 1.55])
    r = stability(THETA, B, G, np.inf, nonlinear_check=True)
    assert list(r["evans_stable"]) == [True, True, True]
    assert list(r["complex_unstable"]) == [2, 2, 2]
    assert list(r["finite_slip"]) == [True, True, False]
    assert np.all(r["nonlinear_response_ratio"][:2] < 50)
    assert r["nonlinear_response_ratio"][2] == pytest.approx(1000, rel=0.05)
    assert verdict_text(True, 2) == "stable (real zeros); complex pair with Re > 0 present"
    assert verdict_text(True, 0) == "stable" and verdict_text(False, 2) == "drift-unstable"


def test_cli_reports_complex_pairs_and_the_nonlinear_check():
    import json

    from click.testing import CliRunner

    from astrofield.cli import main

    res = CliRunner().invoke(main, ["stability", "--beta", "3.117", "--gamma", "1.476", "--D",
                                    "inf", "--nonlinear-check", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["complex_unstable"] == 2 and obj["finite_slip"] is True
    assert obj["verdict"].startswith("stable (real zeros); complex pair with Re > 0 present")
    res = CliRunner().invoke(main, ["stability-map", "--beta", "2.59655,2.6", "--gamma",
                                    "1.41034", "--D", "20", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["stable_with_complex"] == 2
