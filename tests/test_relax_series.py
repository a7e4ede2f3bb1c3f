"""The compiled resource relaxation: its Taylor-series path against the closed form.

``q' = s - k q`` over a step ``h`` has the solution ``q e^{-kh} + (s / k)(1 - e^{-kh})``. The
compiled loop evaluates it as ``q (1 + z phi1(z)) + s h phi1(z)`` (``z = -kh``) with ``phi1``
summed as a series where every ``|z|`` of a row is small, and through ``expm1`` otherwise; both
are checked here against the closed form evaluated independently with ``numpy.exp`` in extended
precision (``numpy.longdouble``) where the platform has it.
"""

import numpy as np
import pytest

from astrofield.simulator.backends import numba_loop as L


def _exact(q, k, s, h):
    q, k, s = (np.asarray(v, np.longdouble) for v in (q, k, s))
    e = np.exp(-k * np.longdouble(h))
    return np.asarray(q * e + s / k * (1 - e), float)


@pytest.mark.parametrize("zmax", [1e-9, 1e-3, 0.1, 0.49, 0.7, 5.0])
def test_relax_pair_matches_closed_form(zmax):
    rng = np.random.default_rng(int(zmax * 1e3) + 1)
    n, h, bk = 64, 0.05, 0.3
    ss = rng.uniform(0.1, 1.0, n) * zmax / h  # rates s: |z| = s h up to zmax
    qi, qo = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    qi_out, qo_out = np.empty(n), np.empty(n)
    L._relax_pair(qi, qo, ss, bk, np.expm1(-bk * h), h, qi_out, qo_out)
    np.testing.assert_allclose(qo_out, _exact(qo, ss, ss, h), rtol=4e-16, atol=0)
    np.testing.assert_allclose(qi_out, _exact(qi, ss + bk, ss, h), rtol=4e-16, atol=0)


def test_series_and_expm1_paths_agree():
    """Below the switch both paths are evaluated on the same row: round-off apart."""
    rng = np.random.default_rng(7)
    n, h, bk = 128, 0.05, 0.1
    ss = rng.uniform(0.0, L.PHI1_SERIES_MAX / h * 0.99, n)
    qi, qo = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    a = [np.empty(n) for _ in range(4)]
    L._relax_pair(qi, qo, ss, bk, np.expm1(-bk * h), h, a[0], a[1])
    L._relax_pair_expm1(qi, qo, ss, bk, np.expm1(-bk * h), h, a[2], a[3])
    np.testing.assert_allclose(a[0], a[2], rtol=3e-16, atol=1e-17)
    np.testing.assert_allclose(a[1], a[3], rtol=3e-16, atol=1e-17)


def test_nan_propagates():
    """A non-finite rate or state stays non-finite (the loop's failure check relies on it)."""
    n, h = 16, 0.05
    ss = np.full(n, 1.0)
    ss[3] = np.nan
    qi, qo = np.full(n, 0.5), np.full(n, 0.5)
    qo[5] = np.inf
    out = [np.empty(n), np.empty(n)]
    L._relax_pair(qi, qo, ss, 0.1, np.expm1(-0.1 * h), h, out[0], out[1])
    assert not np.isfinite(out[0][3]) and not np.isfinite(out[1][3])
    assert not np.isfinite(out[1][5])
