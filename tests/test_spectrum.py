"""Spectra of numerical bumps (astrofield.theory.spectra) against independent references:
the Evans function (Heaviside, cosine kernel) and simulated growth rates (astrofield.solve)."""

from __future__ import annotations

import warnings

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
    """The default Mexican hat favours two bumps (its strongest Fourier mode is cos 2x): the
    steady state is a two-bump pattern (reported), whose decay rate is checked here."""
    model = Model(firing="sigmoid", steepness=10.0, D=0.3, beta=0.01, kernel="mexican_hat")
    with pytest.warns(UserWarning, match="2 active regions"):
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


# --------------------------------------------------------------------------------------------
# sparse path: certified count of unstable eigenvalues
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("D", "beta", "n_uns"),
                         [(0.3, 0.05, 1), (0.3, 0.01, 0), (np.inf, 0.05, 0)])
def test_sparse_path_certifies_the_dense_count(D, beta, n_uns):
    """Forced sparse path (dense_max = 0, N = 256): same count, leading eigenvalue and
    translation eigenvalue as the dense decomposition, and the count is certified."""
    st = steady_bump(Model(firing="sigmoid", steepness=20.0, D=D, beta=beta), 256)
    dense = spectrum(st)
    sparse = spectrum(st, dense_max=0, dense_fallback=0)
    assert dense.n_unstable == n_uns
    assert sparse.certified and sparse.method.startswith("shift-invert + half-plane")
    assert sparse.n_unstable == dense.n_unstable and sparse.stable == dense.stable
    assert abs(sparse.leading - dense.leading) < 1e-9
    assert abs(sparse.translation_eigenvalue - dense.translation_eigenvalue) < 1e-9
    # every sparse eigenvalue is a dense one
    assert np.min(np.abs(sparse.eigenvalues[:, None] - dense.eigenvalues[None, :]),
                  axis=1).max() < 1e-8


@pytest.mark.parametrize(("D", "kernel"), [(np.inf, "cosine"), (0.3, "mexican_hat")])
def test_sparse_certificate_past_degenerate_clusters(D, kernel):
    """beta = 0.001: the resting-resource rate is tiny, so a huge cluster of stable eigenvalues
    sits at -0.03 next to the axis (and another at -1); ARPACK stalls there, yet the count
    is certified and equals the dense one (for the Mexican hat, of its two-bump pattern)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Newton converged to a pattern", UserWarning)
        st = steady_bump(Model(firing="sigmoid", steepness=10.0, D=D, beta=0.001,
                               kernel=kernel), 200)
    dense = spectrum(st)
    sparse = spectrum(st, dense_max=0, dense_fallback=0)
    assert sparse.certified and sparse.method.startswith("shift-invert + half-plane")
    assert sparse.n_unstable == dense.n_unstable
    assert abs(sparse.leading - dense.leading) < 1e-9


def _known_spectrum_matrix(lam: np.ndarray, seed: int = 1) -> np.ndarray:
    """Real matrix with eigenvalues ``lam`` (conjugate pairs adjacent) and a non-normal basis."""
    rng = np.random.default_rng(seed)
    n = lam.size
    T = np.zeros((n, n))
    j = 0
    while j < n:
        if abs(lam[j].imag) > 0:
            a, b = lam[j].real, abs(lam[j].imag)
            T[j:j + 2, j:j + 2] = [[a, b], [-b, a]]
            j += 2
        else:
            T[j, j] = lam[j].real
            j += 1
    Q = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    return Q @ T @ np.linalg.inv(Q)


@pytest.mark.parametrize("unstable", [[], [0.3], [0.478, 0.036], [0.2 + 1.5j, 0.2 - 1.5j, 0.01]])
def test_half_plane_filter_finds_every_unstable_eigenvalue(unstable):
    """A matrix with a known spectrum: stiff stable eigenvalues (to -5000), a 150-fold
    degenerate cluster, stable eigenvalues near the axis and 0-3 unstable ones far from the
    shift. The certificate returns exactly the unstable ones."""
    from astrofield.theory.spectra import _certify

    stable = np.concatenate([-np.geomspace(0.01, 5000, 200), np.full(150, -0.2),
                             [-0.05 + 2j, -0.05 - 2j]])
    lam = np.concatenate([np.array(unstable, complex), stable])
    A = _known_spectrum_matrix(lam)
    R = 1.2 * max(abs(complex(z)) for z in unstable) if unstable else 1.0
    cert, _ = _certify(A, R, 0.2)
    assert cert.certified
    found = np.sort_complex(cert.eigenvalues[cert.eigenvalues.real > 1e-7])
    np.testing.assert_allclose(found, np.sort_complex(np.array(unstable, complex)), atol=1e-8)


def test_right_half_plane_radius_bounds_the_unstable_eigenvalues():
    """|lambda| <= R for every eigenvalue with Re lambda >= 0 (dense check)."""
    from astrofield.theory.spectra import _operator, _rhp_radius

    for D, beta in ((0.3, 0.05), (np.inf, 0.05)):
        st = steady_bump(Model(firing="sigmoid", steepness=20.0, D=D, beta=beta), 128)
        A, lA, _ = _operator(st)
        P = np.outer(lA * (-50.0 / (lA @ lA)), lA)
        w = np.linalg.eigvals(A + P)
        R = _rhp_radius(st, A + P, P)
        assert np.abs(w[w.real >= -1e-9]).max() <= R


def test_uncertified_sparse_count_is_flagged_not_stable(monkeypatch):
    """When ARPACK cannot reach the threshold (here: k capped at 2) and no dense fallback is
    allowed, the verdict is not claimed: certified, stable and resolved are False."""
    import astrofield.theory.spectra as spectra

    monkeypatch.setattr(spectra, "_K_LADDER", (2,))
    st = steady_bump(Model(firing="sigmoid", steepness=20.0, D=0.3, beta=0.01), 128)
    sp = spectrum(st, dense_max=0, dense_fallback=0)
    assert not sp.certified and not sp.stable and not sp.resolved
    assert sp.to_dataset().attrs["certified"] == 0
    fallback = spectrum(st, dense_max=0)  # within dense_fallback: solved densely instead
    assert fallback.certified and fallback.method.startswith("dense")
    assert fallback.n_unstable == spectrum(st).n_unstable == 0


def test_large_N_sparse_spectrum_is_certified_and_fast():
    """N = 768 (2304 unknowns, beyond dense_max): certified, in seconds, and the leading
    eigenvalue agrees with the N = 256 dense one (grid convergence)."""
    import time

    model = Model(firing="sigmoid", steepness=20.0, D=0.3, beta=0.05)
    t0 = time.process_time()
    sp = spectrum(model=model, N=768)
    cpu = time.process_time() - t0
    assert sp.method.startswith("shift-invert") and sp.certified and sp.n_unstable == 1
    assert abs(sp.leading - spectrum(model=model, N=256).leading) < 1e-5
    assert cpu < 30.0


def test_heaviside_large_N_two_unstable_real_eigenvalues():
    """Heaviside spectra are always complete (exact block reduction): at N = 1024 the case
    theta 0.1, beta 3.1, gamma 1.45, D = inf has the two real Evans zeros 0.4776 and 0.0359."""
    sp = spectrum(model=Model(theta=0.1, beta=3.1, gamma=1.45, D=np.inf), N=1024)
    z = sorted(zz.lam.real for zz in evans_zeros(0.1, 3.1, 1.45, np.inf)
               if abs(zz.lam.imag) < 1e-9 and zz.lam.real > 1e-6)
    assert sp.n_unstable == 2 and sp.certified
    np.testing.assert_allclose(np.sort(sp.eigenvalues[:2].real), z, atol=1e-3)


def test_warm_started_grid_equals_independent_cold_verdicts():
    """numerical_stability_grid (warm Newton along a snake, no eigenvector matrix) gives the
    verdicts and leading eigenvalues of independent cold numerical_stability calls."""
    from astrofield.cli.continuation import _snake
    from astrofield.theory.spectra import numerical_stability_grid

    betas, Ds = np.linspace(0.005, 0.1, 4), np.linspace(0.05, 0.6, 4)
    order = _snake((4, 4))
    assert all(sum(abs(a - b) for a, b in zip(p, q, strict=True)) == 1
               for p, q in zip(order, order[1:], strict=False))
    models = [Model(firing="sigmoid", steepness=10.0, beta=betas[i], D=Ds[j]) for i, j in order]
    warm = numerical_stability_grid(models, 128)  # resolved: N >= 10 steepness
    for m, r in zip(models, warm, strict=True):
        ref = numerical_stability(m, 128)
        assert (r["exists"], r["stable"], r["n_unstable"]) == (
            ref["exists"], ref["stable"], ref["n_unstable"])
        assert abs(r["leading_real"] - ref["leading_real"]) < 1e-9
    assert len({r["stable"] for r in warm}) == 2  # both verdicts occur on this grid


def test_grid_with_two_worker_processes_equals_serial():
    from astrofield.theory.spectra import numerical_stability_grid

    models = [Model(firing="sigmoid", steepness=10.0, beta=b, D=0.3)
              for b in np.linspace(0.005, 0.1, 6)]
    serial = numerical_stability_grid(models, 64)
    parallel = numerical_stability_grid(models, 64, workers=2)
    assert [r["stable"] for r in parallel] == [r["stable"] for r in serial]
    np.testing.assert_allclose([r["leading_real"] for r in parallel],
                               [r["leading_real"] for r in serial], atol=1e-9)
    with pytest.raises(ValueError, match="workers = 0"):
        numerical_stability_grid(models, 64, workers=0)


def test_certificate_finds_unstable_eigenvalues_planted_in_a_bump_operator():
    """The deflated operator of a real sigmoid bump with two of its stable eigenvalues moved
    into the right half-plane (A + V diag(delta) V^-1 changes only those two): a stiff
    diffusive one to +3.0 (far from any shift) and one near the axis to +0.02. The certified
    set has every right half-plane eigenvalue of a dense decomposition of the modified matrix
    (these two, the bump's own drift eigenvalue and the small translation eigenvalue)."""
    from astrofield.theory.spectra import _cayley_shift, _certify, _operator, _rhp_radius

    st = steady_bump(Model(firing="sigmoid", steepness=10.0, D=0.3, beta=0.05), 96)
    A, lA, _ = _operator(st)
    shift = -1.0 - 2.0 * float(np.max(np.abs(np.diag(A))))
    P = np.outer(lA * (shift / (lA @ lA)), lA)
    w, V = np.linalg.eig(A + P)
    real = np.flatnonzero(np.abs(w.imag) < 1e-12)
    j_stiff = real[np.argmin(np.abs(w[real] + 50.0))]
    j_near = real[np.argmin(np.abs(w[real] + 0.2))]
    delta = np.zeros(w.size, complex)
    delta[j_stiff], delta[j_near] = 3.0 - w[j_stiff], 0.02 - w[j_near]
    Ap = np.real(A + P + (V * delta) @ np.linalg.inv(V))
    cert, _ = _certify(Ap, _rhp_radius(st, Ap, P), _cayley_shift(st))
    assert cert.certified
    ref = np.linalg.eigvals(Ap)
    ref = np.sort_complex(ref[ref.real > 1e-9])
    assert ref.size == 4 and np.min(np.abs(ref - 3.0)) < 1e-8 and np.min(np.abs(ref - 0.02)) < 1e-8
    found = np.sort_complex(cert.eigenvalues[cert.eigenvalues.real > 1e-9])
    np.testing.assert_allclose(found, ref, atol=1e-8)
