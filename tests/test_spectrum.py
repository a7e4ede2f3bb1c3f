"""Spectra of numerical bumps (astrofield.theory.spectra) against independent references:
the Evans function (Heaviside, cosine kernel) and simulated growth rates (astrofield.solve)."""

from __future__ import annotations

import numpy as np
import pytest

from astrofield import Model, solve
from astrofield.theory.evans import evans_zeros
from astrofield.theory.spectra import numerical_stability, spectrum
from astrofield.theory.steady import steady_bump


def _real_evans(beta, D):
    return [z.lam.real for z in evans_zeros(0.1, beta, 2.0, D)
            if abs(z.lam.imag) < 1e-9 and abs(z.lam) > 1e-9]


@pytest.mark.parametrize(("beta", "D"), [(0.05, 0.3), (0.1, 0.1)])
def test_heaviside_real_eigenvalues_converge_to_evans_zeros(beta, D):
    """Every real non-zero Evans zero is matched by an eigenvalue; the error shrinks with N
    (it oscillates as the edges cross cells, so compare coarse against fine grids)."""
    zeros = _real_evans(beta, D)
    assert zeros
    errs = {}
    for N in (32, 128):
        ev = spectrum(model=Model(beta=beta, D=D), N=N).eigenvalues
        errs[N] = max(np.min(np.abs(ev - z)) for z in zeros)
    assert errs[128] < 5e-5
    assert errs[128] < errs[32] / 4


@pytest.mark.slow
def test_heaviside_eigenvalue_fine_grid():
    ev = spectrum(model=Model(beta=0.05, D=0.3), N=256).eigenvalues
    assert abs(ev[0] - _real_evans(0.05, 0.3)[0]) < 2e-6


def test_heaviside_verdict_matches_evans_verdict():
    from astrofield.theory.stability import stability

    for beta, D in ((0.05, 0.3), (0.05, 2.0), (0.02, np.inf)):
        ref = bool(stability(0.1, beta, 2.0, D)["evans_stable"])
        r = numerical_stability(Model(beta=beta, D=D), 64)
        assert r["stable"] == ref, (beta, D)


def test_mass_mode_removed_and_translation_mode_identified():
    sp = spectrum(model=Model(firing="sigmoid", steepness=10.0, D=0.3, beta=0.01), N=128)
    assert abs(sp.translation_eigenvalue) < 1e-6
    assert sp.resolved
    # no second zero eigenvalue (the mass mode) is left among the reported ones
    assert np.min(np.abs(sp.eigenvalues)) > 1e-4


def test_shift_invert_agrees_with_dense():
    st = steady_bump(Model(firing="sigmoid", steepness=10.0, D=0.3, beta=0.05), 64)
    dense = spectrum(st)
    sparse = spectrum(st, k=6, dense_max=0)
    assert sparse.method.startswith(("shift-invert", "dense"))
    np.testing.assert_allclose(sparse.leading, dense.leading, atol=1e-9)


def _growth_rate(model, st, vec, N, T, t_fit):
    """Simulate bump + small eigenvector perturbation; fit the exponential rate of
    ||u(t) - U|| (or of the speed for drift modes) on the window ``t_fit``."""
    n = N
    eps = 1e-5 / np.max(np.abs(vec[:n]))
    u0 = st.u + eps * vec[:n].real
    q0 = st.q + eps * vec[n:2 * n].real
    a0 = np.broadcast_to(st.a + eps * vec[2 * n:].real, (n,))
    ds = solve(model, T=T, dt=0.05, N=N, init=(u0, q0, a0), n_frames=201, progress=False)
    t = ds.time.values
    dev = np.linalg.norm(ds.u.values - st.u, axis=-1)
    sel = (t >= t_fit[0]) & (t <= t_fit[1])
    return np.polyfit(t[sel], np.log(dev[sel]), 1)[0]


def test_growth_rate_matches_leading_eigenvalue_sigmoid_cosine():
    """Drift-unstable sigmoid bump: the simulated perturbation grows at the leading rate."""
    model = Model(firing="sigmoid", steepness=20.0, D=0.3, beta=0.05)
    st = steady_bump(model, 128)
    sp = spectrum(st)
    lam = sp.leading
    assert lam.imag == 0 and lam.real > 0.005
    rate = _growth_rate(model, st, sp.vectors[:, 0], 128, 150.0, (40.0, 150.0))
    assert rate == pytest.approx(lam.real, rel=0.03)


def test_decay_rate_matches_leading_eigenvalue_mexican_hat():
    model = Model(firing="sigmoid", steepness=10.0, D=0.3, beta=0.01, kernel="mexican_hat")
    st = steady_bump(model, 128)
    sp = spectrum(st)
    lam = sp.leading
    assert lam.imag == 0 and lam.real < -0.01
    rate = _growth_rate(model, st, sp.vectors[:, 0], 128, 60.0, (10.0, 60.0))
    assert rate == pytest.approx(lam.real, rel=0.03)


def test_dataset_labels_and_well_mixed_a_is_one_value():
    sp = spectrum(model=Model(firing="sigmoid", steepness=10.0, D=np.inf), N=64)
    ds = sp.to_dataset()
    assert ds["leading_a"].size == 1
    for v in ds.data_vars.values():
        assert "units" in v.attrs and "long_name" in v.attrs
    assert ds.attrs["N"] == 64 and "astrofield_version" in ds.attrs
    assert ds.attrs["n_unstable"] == sp.n_unstable


def test_no_bump_reported_not_raised():
    r = numerical_stability(Model(firing="sigmoid", beta=5.0), 64)
    assert r["exists"] is False and "beta" in r["message"]


@pytest.mark.parametrize("D", [0.3, np.inf])
def test_heaviside_block_reduction_matches_dense_eig(D):
    """The exact block reductions give the eigenpairs of the full deflated edge operator."""
    from astrofield.theory.spectra import _heaviside_eig, _heaviside_operator

    st = steady_bump(Model(beta=0.05, D=D), 64)
    for direction in ("shift", "expand", "contract"):
        A, rows, lmass = _heaviside_operator(st, direction)
        shift = -1.0 - 2.0 * float(np.max(np.abs(np.diag(A))))
        w_ref = np.linalg.eigvals(A + np.outer(lmass * (shift / (lmass @ lmass)), lmass))
        w, V = _heaviside_eig(A, lmass, rows)
        # every reduced eigenvalue is a dense one, and every dense eigenvalue not equal to -1
        # (the dropped modes that move no edge) is found
        assert np.min(np.abs(w[:, None] - w_ref[None, :]), axis=1).max() < 1e-8
        far = np.abs(w_ref + 1.0) > 1e-6
        assert np.min(np.abs(w_ref[far][:, None] - w[None, :]), axis=1).max() < 1e-8
        # eigenvectors of A itself, apart from the deflated mass mode (moved to ``shift``)
        mode = np.abs(w - shift) > 1e-8
        assert np.count_nonzero(~mode) == 1
        assert np.abs(A @ V[:, mode] - V[:, mode] * w[None, mode]).max() < 1e-9
        np.testing.assert_allclose(np.linalg.norm(V, axis=0), 1.0, atol=1e-12)
