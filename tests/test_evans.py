"""Evans function: E(0) = 0, two derivatives, D -> inf, analyticity, spectrum vs independent
finite-dimensional formulations (D = inf: 5 x 5 matrix; finite D: finite-volume discretisation)."""

import numpy as np
import pytest

from astrofield.theory.bump import stationary_bumps
from astrofield.theory.evans import (
    _evans_inf_closed,
    _shift_matrices,
    evans,
    evans_dprime,
    evans_dprime_complex_step,
    evans_from_bump,
    evans_limit_matrix,
    evans_zeros,
)
from astrofield.theory.stability import beta_star


@pytest.mark.parametrize("D", [0.001, 0.05, 0.3, 1.0, 50.0, np.inf])
@pytest.mark.parametrize("theta,beta,gamma", [(0.1, 0.05, 2.0), (0.03, 0.3, 2.0),
                                              (0.3, 0.2, 1.2)])
def test_E_zero_at_origin(theta, beta, gamma, D):
    assert abs(evans(0.0, theta, beta, gamma, D)) < 1e-13


def test_dprime_cauchy_vs_complex_step():
    beta = np.array([0.002, 0.02, 0.05, 0.1, 0.3])
    for D in (0.001, 0.1, 0.6, 3.0, np.inf):
        a = evans_dprime(0.1, beta, 2.0, D)
        b = evans_dprime_complex_step(0.1, beta, 2.0, D)
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    # and against a Richardson-extrapolated central difference on the real axis
    h = 1e-3
    f = [evans(x, 0.1, 0.05, 2.0, 0.7).real for x in (-2 * h, -h, h, 2 * h)]
    rich = (8 * (f[2] - f[1]) - (f[3] - f[0])) / (12 * h)
    assert rich == pytest.approx(float(evans_dprime(0.1, 0.05, 2.0, 0.7)), rel=1e-6)


def test_finite_D_converges_to_limit_like_1_over_D():
    d_inf = float(evans_dprime(0.1, 0.05, 2.0, np.inf))
    errs = [float(evans_dprime(0.1, 0.05, 2.0, D)) - d_inf for D in (100.0, 1000.0, 10000.0)]
    # observed: error ~ -0.198 / D
    assert errs[0] / errs[1] == pytest.approx(10.0, rel=0.02)
    assert errs[1] / errs[2] == pytest.approx(10.0, rel=0.002)
    assert abs(errs[2]) < 3e-5
    lam = np.array([0.3 + 0.2j, -0.05 + 1.0j, 2.0])
    e_inf = evans(lam, 0.1, 0.05, 2.0, np.inf)
    e_big = evans(lam, 0.1, 0.05, 2.0, 1e6)
    np.testing.assert_allclose(e_big, e_inf, rtol=1e-6)


def test_limit_matches_closed_formula_not_model_md_sign():
    b = stationary_bumps(0.1, 0.05, 2.0)[0]
    lam = np.array([0.3 + 0.2j, 1e-3, -0.05 + 1j, 5 + 3j])
    bvp = evans_from_bump(lam, b, np.inf)
    closed = _evans_inf_closed(lam, b.Delta, b.c0, b.beta, b.gamma)
    np.testing.assert_allclose(bvp, closed, rtol=1e-13)

    # a circulating form has -m (K1 +- K2) ...; the D -> inf limit of the BVP has +m (K1 +- K2).
    def model_md(lam):
        A0 = b.A0
        L = lam + b.beta + b.gamma * A0
        k = b.gamma * (1 - b.c0)
        W = np.pi * L + b.Delta * k
        m = b.mu * b.beta / L
        K1, K2 = k / W, k * b.c0 * L / ((lam + b.gamma * A0) * W)
        (P11, P12, P21, P22), (cc, sc, _, ss) = _shift_matrices(b.Delta, b.c0)
        B11, B12 = -m * (cc + (K1 + K2) * sc), -m * (sc + (K1 - K2) * ss)
        B21, B22 = -m * sc, -m * ss
        return (lam + 1 - b.mu * P11 - B11) * (lam + 1 - b.mu * P22 - B22) - (
            b.mu * P12 + B12) * (b.mu * P21 + B21)

    finite = evans_from_bump(lam, b, 1e7)
    assert np.max(np.abs(finite - closed)) < 1e-6
    assert np.max(np.abs(finite - model_md(lam))) > 1e-4


def test_large_lambda_over_D_is_finite_and_lambda_squared():
    lam = np.array([1e3, 1e5j, -3e4 + 2e4j, 1e6 + 1e6j])
    for D in (1e-3, 1e-2):
        E = evans(lam, 0.1, 0.05, 2.0, D)
        assert np.all(np.isfinite(E))
        np.testing.assert_allclose(E / lam**2, 1.0, rtol=1e-2)


def test_analytic_across_negative_axis_and_real_symmetry():
    # the principal sqrt has its cut at lambda/D < 0; E must not see it
    for x in (0.003, 0.02, 0.1):
        up = evans(-x + 1e-11j, 0.1, 0.05, 2.0, 0.01)
        dn = evans(-x - 1e-11j, 0.1, 0.05, 2.0, 0.01)
        assert abs(up - dn) < 1e-8 * max(1.0, abs(up))
    z = np.array([0.2 + 0.7j, -0.01 + 0.3j, 3 - 2j])
    np.testing.assert_allclose(evans(np.conj(z), 0.1, 0.05, 2.0, 0.3),
                               np.conj(evans(z, 0.1, 0.05, 2.0, 0.3)), rtol=1e-13)
    # Cauchy-Riemann: E is complex-differentiable off the real axis
    z0, h = 0.05 + 0.2j, 1e-6
    dx = (evans(z0 + h, 0.1, 0.05, 2.0, 0.3) - evans(z0 - h, 0.1, 0.05, 2.0, 0.3)) / (2 * h)
    dy = (evans(z0 + 1j * h, 0.1, 0.05, 2.0, 0.3)
          - evans(z0 - 1j * h, 0.1, 0.05, 2.0, 0.3)) / (2j * h)
    assert abs(dx - dy) < 1e-7 * abs(dx)


@pytest.mark.parametrize("theta,beta,gamma", [(0.1, 0.05, 2.0), (0.1, 0.3, 1.0),
                                              (0.3, 0.4, 2.0)])
def test_limit_zeros_match_independent_matrix(theta, beta, gamma):
    b = stationary_bumps(theta, beta, gamma)[0]
    eig = np.linalg.eigvals(evans_limit_matrix(b.Delta, b.c0, beta, gamma))
    region = (-1.5, 2.0, -2.0, 2.0)
    zs = evans_zeros(theta, beta, gamma, np.inf, region=region)
    inside = eig[(eig.real > region[0]) & (eig.real < region[1]) & (np.abs(eig.imag) < 2)]
    found = np.array([z.lam for z in zs for _ in range(z.multiplicity)])
    assert found.size == inside.size
    for e in inside:
        assert np.min(np.abs(found - e)) < 1e-9
    for z in zs:
        assert z.residual < 1e-12


def _fv_matrix(theta, beta, gamma, D, n_in, n_out):
    """Finite-volume discretisation of the shift linearisation (independent of the Evans BVP).

    State: (psi_c, psi_s, p+, p-, phi on the n_in inner cells, alpha on all cells). Resource deltas
    at +-Delta are spread over the two cells adjacent to each edge.
    """
    b = stationary_bumps(theta, beta, gamma)[0]
    De, c0, mu = b.Delta, b.c0, b.mu
    gA = gamma * b.A0
    c, k = beta + gA, gamma * (1 - c0)
    hi, ho = 2 * De / n_in, (2 * np.pi - 2 * De) / n_out
    yi = -De + hi * (np.arange(n_in) + 0.5)
    h = np.concatenate([np.full(n_in, hi), np.full(n_out, ho)])
    N = n_in + n_out
    ip, ial = 4, 4 + n_in
    M = np.zeros((ial + N, ial + N))
    cD, sD = np.cos(De), np.sin(De)
    P = np.array([[(1 + c0) * cD**2, (1 - c0) * sD * cD], [(1 - c0) * sD * cD, (1 + c0) * sD**2]])
    M[:2, :2] = -np.eye(2) + mu * P
    M[0, 2], M[1, 2] = cD, sD
    M[0, ip:ip + n_in], M[1, ip:ip + n_in] = hi * np.cos(yi), hi * np.sin(yi)
    M[2, :2], M[2, 2] = -beta * mu * np.array([cD, sD]), -c
    M[3, :2], M[3, 3] = -beta * mu * c0 * np.array([cD, -sD]), -gA
    j = np.arange(n_in)
    M[ip + j, ip + j], M[ip + j, ial + j] = -c, k
    i = np.arange(N)
    dp = 0.5 * (h + np.roll(h, -1))
    dm = 0.5 * (h + np.roll(h, 1))
    M[ial + i, ial + (i + 1) % N] += D / h / dp
    M[ial + i, ial + i] -= D / h * (1 / dp + 1 / dm)
    M[ial + i, ial + (i - 1) % N] += D / h / dm
    M[ial + j, ip + j] += c
    M[ial + j, ial + j] -= k
    for cell in (n_in - 1, n_in):
        M[ial + cell, 2] += 0.5 * c / h[cell]
        M[ial + cell, :2] += 0.5 * beta * mu * np.array([cD, sD]) / h[cell]
    for cell in (N - 1, 0):
        M[ial + cell, 3] += 0.5 * gA / h[cell]
        M[ial + cell, :2] += 0.5 * beta * mu * c0 * np.array([cD, -sD]) / h[cell]
    return M


@pytest.mark.parametrize("D,beta,target", [
    (0.3, 0.05, 0.0181), (1.0, 0.05, -0.0477),
    pytest.param(0.1, 0.01, 0.0156, marks=pytest.mark.slow)])
def test_finite_D_zero_matches_finite_volume(D, beta, target):
    zs = evans_zeros(0.1, beta, 2.0, D, region=(-0.1, 1.0, -1.0, 1.0))
    lam = min((z.lam for z in zs), key=lambda z: abs(z - target))
    est = []
    for n in (100, 200):
        w = np.linalg.eigvals(_fv_matrix(0.1, beta, 2.0, D, n, 2 * n))
        est.append(w[np.argmin(np.abs(w - lam))].real)
    rich = 2 * est[1] - est[0]          # the edge deltas make the scheme first order
    assert abs(est[1] - lam) < 1e-4
    assert abs(rich - lam.real) < 1e-5
    assert abs(lam.imag) < 1e-12


def test_spectrum_zeros_are_true_zeros_and_count_matches():
    zs = evans_zeros(0.1, 0.05, 2.0, 0.05)
    assert any(abs(z.lam) < 1e-12 for z in zs)                 # lambda = 0 always
    unstable = [z for z in zs if z.lam.real > 1e-9]
    assert len(unstable) == 1                                     # E'(0) < 0 at D = 0.05
    for z in zs:
        assert z.residual < 1e-10
        # Newton-polished: one more Newton step does not move it
        h = 1e-7
        d = (evans(z.lam + h, 0.1, 0.05, 2.0, 0.05) - evans(z.lam - h, 0.1, 0.05, 2.0, 0.05))
        assert abs(evans(z.lam, 0.1, 0.05, 2.0, 0.05) / (d / (2 * h))) < 1e-10


def test_double_zero_at_boundary():
    (bs,) = beta_star(0.1, 2.0, 0.3)
    assert abs(float(evans_dprime(0.1, bs, 2.0, 0.3))) < 1e-10
    zs = evans_zeros(0.1, bs, 2.0, 0.3, region=(-0.013, 0.011, -0.012, 0.0097))
    assert sum(z.multiplicity for z in zs) == 2


def test_region_validation_and_no_bump():
    with pytest.raises(ValueError, match="accumulates"):
        evans_zeros(0.1, 0.05, 2.0, 0.3, region=(-1.0, 1.0, -1.0, 1.0))
    with pytest.raises(ValueError, match="D"):
        evans(0.1, 0.1, 0.05, 2.0, -1.0)
    assert evans_zeros(0.1, 50.0, 2.0, 0.3) == []
    assert np.isnan(evans_dprime(0.1, 50.0, 2.0, 0.3))
