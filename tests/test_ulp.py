"""The ulp comparison helper used where two code paths compute the same numbers."""

import numpy as np
import pytest
from _ulp import assert_ulp_close, ulp_distance


def test_distance_counts_ulps_of_the_larger_magnitude():
    x = np.array([1.0, -0.0009658898563273529, 1e-300, 0.0])
    y = np.nextafter(np.nextafter(x, np.inf), np.inf)  # two ulps up
    np.testing.assert_allclose(ulp_distance(x, y), [2.0, 2.0, 2.0, 2.0], rtol=0.5)
    assert ulp_distance(0.0, -0.0) == 0.0
    assert ulp_distance(np.nan, np.nan) == 0.0 and ulp_distance(np.inf, np.inf) == 0.0
    assert ulp_distance(np.nan, 1.0) == np.inf and ulp_distance(np.inf, 1e308) == np.inf
    # a scale: ulps of the intermediate magnitude (a difference of quantities near 1)
    assert ulp_distance(1e-17, 0.0, scale=1.0) == pytest.approx(1e-17 / np.spacing(1.0))


def test_assert_reports_the_worst_element():
    a = np.array([1.0, 2.0, 3.0])
    b = a.copy()
    b[1] = np.nextafter(np.nextafter(np.nextafter(2.0, 3), 3), 3)  # three ulps
    assert_ulp_close(a, b, 3)
    with pytest.raises(AssertionError, match=r"1 of 3 elements more than 2 ulp apart; worst at "
                                             r"index \(1,\): 2.0 vs 2.0000000000000013 \(3 ulp"):
        assert_ulp_close(a, b, 2)
    with pytest.raises(AssertionError, match="NaN|nan"):
        assert_ulp_close([np.nan, 1.0], [1.0, 1.0], 100)
    assert_ulp_close([np.nan, 1.0], [np.nan, 1.0], 0)
