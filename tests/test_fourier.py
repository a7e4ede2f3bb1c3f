"""Fourier truncation: matrix entries, the translation zero, the shift filter."""

import numpy as np
import pytest

from astrofield.theory.bump import stationary_bumps
from astrofield.theory.fourier import (
    fourier_dprime,
    fourier_matrix,
    fourier_spectrum,
    fourier_stability,
)


def test_matrix_entries_match_model_md():
    theta, beta, gamma, D = 0.1, 0.05, 2.0, 0.7
    b = stationary_bumps(theta, beta, gamma)[0]
    cD, sD, mu, c0 = np.cos(b.Delta), np.sin(b.Delta), b.mu, b.c0
    f1, f2, f3 = mu * (1 + c0) * cD**2, mu * (1 - c0) * sD * cD, mu * (1 + c0) * sD**2
    f4, f5, f6 = mu * beta * cD**2, mu * beta * sD * cD, mu * beta * sD**2
    r, k = gamma * b.A0 + beta, gamma * (1 - c0)
    A = np.array([[f1 - 1, f2, 1, 0, 0, 0], [f2, f3 - 1, 0, 1, 0, 0],
                  [-f4, -f5, -r, 0, k, 0], [-f5, -f6, 0, -r, 0, k],
                  [0, 0, 0, 0, -D, 0], [0, 0, 0, 0, 0, -D]])
    I2, O2 = np.eye(2), np.zeros((2, 2))
    M = np.block([[I2, O2, O2], [O2, I2, O2], [O2, -I2, I2]])
    np.testing.assert_allclose(fourier_matrix(theta, beta, gamma, D), M @ A, rtol=1e-14)


@pytest.mark.parametrize("D", [0.01, 0.3, 1.0, np.inf])
def test_translation_zero_is_kept(D):
    w, kept = fourier_spectrum(0.1, 0.05, 2.0, D)
    i = np.argmin(np.abs(w))
    assert abs(w[i]) < 1e-12
    assert kept[i]
    Z = fourier_matrix(0.1, 0.05, 2.0, D)
    assert abs(np.linalg.det(Z)) < 1e-12 * np.prod(np.abs(w[np.abs(w) > 1e-9]))


def test_dprime_is_product_of_nonzero_eigenvalues():
    for D in (0.05, 0.6, np.inf):
        w, _ = fourier_spectrum(0.1, 0.05, 2.0, D)
        nz = np.delete(w, np.argmin(np.abs(w)))
        assert float(fourier_dprime(0.1, 0.05, 2.0, D)) == pytest.approx(
            np.prod(-nz).real, rel=1e-9)


def test_infinite_D_is_limit_of_large_D():
    w_inf, _ = fourier_spectrum(0.1, 0.05, 2.0, np.inf)
    w_big, _ = fourier_spectrum(0.1, 0.05, 2.0, 1e7)
    w_big = w_big[np.abs(w_big) < 1e3]
    np.testing.assert_allclose(np.sort_complex(w_big), np.sort_complex(w_inf), atol=1e-6)


def test_filter_and_verdict():
    # at D = 0.3, beta = 0.05 the truncation has a kept real positive eigenvalue
    r = fourier_stability(0.1, 0.05, 2.0, 0.3)
    w, kept = r["eigenvalues"], r["kept"]
    assert not r["stable"]
    pos = w[kept & (w.real > 1e-6)]
    assert pos.size == 1 and abs(pos[0].imag) < 1e-12
    # its eigenvector moves the two edges in opposite directions
    Z = fourier_matrix(0.1, 0.05, 2.0, 0.3)
    vals, vecs = np.linalg.eig(Z)
    v = vecs[:, np.argmin(np.abs(vals - pos[0]))].real
    D = stationary_bumps(0.1, 0.05, 2.0)[0].Delta
    assert (v[0] * np.cos(D) + v[1] * np.sin(D)) * (v[0] * np.cos(D) - v[1] * np.sin(D)) < 0
    assert fourier_stability(0.1, 0.005, 2.0, 1.0)["stable"]


def test_vectorised_and_no_bump():
    r = fourier_stability(0.1, np.array([0.01, 0.05, 100.0]), 2.0, 0.3)
    assert r["stable"].shape == (3,)
    assert not r["stable"][2] and np.isnan(r["max_real"][2])
    with pytest.raises(ValueError, match="D"):
        fourier_stability(0.1, 0.05, 2.0, 0.0)
