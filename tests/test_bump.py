"""Stationary bumps: independent checks of the stationary equations and of the existence curve."""

import numpy as np
import pytest
from _ulp import assert_ulp_close
from scipy.integrate import quad
from scipy.optimize import minimize_scalar

from astrofield.theory.bump import (
    bump_branches,
    existence_curve,
    fold,
    stationary_bumps,
)

CASES = [(0.1, 0.05, 2.0), (0.03, 0.3, 2.0), (0.3, 0.2, 1.0), (0.1, 1.0, 1.5), (0.2, 0.001, 2.0)]


@pytest.mark.parametrize("theta,beta,gamma", CASES)
def test_bumps_satisfy_stationary_equations(theta, beta, gamma):
    bumps = stationary_bumps(theta, beta, gamma)
    assert [b.branch for b in bumps] == ["wide", "narrow"]
    for b in bumps:
        # active set taken from U itself, integral by adaptive quadrature (not the closed form)
        def active(y, b=b):
            return float(b.U(y) > theta)

        for x in (-2.5, -0.7, 0.0, 0.3, 1.9, np.pi):
            integral, _ = quad(lambda y, x=x, b=b: np.cos(x - y) * b.Q(y) * active(y),
                               -np.pi, np.pi, points=[-b.Delta, b.Delta], limit=200,
                               epsabs=1e-13, epsrel=1e-13)
            assert abs(-b.U(x) + integral) < 1e-10
        # threshold at the edges
        assert b.U(b.Delta) == pytest.approx(theta, abs=1e-13)
        assert b.U(-b.Delta) == pytest.approx(theta, abs=1e-13)
        # q and a balance: exchange flux J = beta q f - gamma a (1 - q) vanishes everywhere
        y = np.linspace(-np.pi, np.pi, 2001)
        f = (b.U(y) > theta).astype(float)
        J = beta * b.Q(y) * f - gamma * b.A(y) * (1 - b.Q(y))
        assert np.max(np.abs(J)) < 1e-13
        # conservation of total resource from rest: ∫ (Q + A) = 2 pi
        total, _ = quad(lambda y, b=b: b.Q(y) + b.A0, -np.pi, np.pi,
                        points=[-b.Delta, b.Delta], epsabs=1e-13)
        assert total == pytest.approx(2 * np.pi, rel=1e-12)
        assert b.mu == pytest.approx(1 / (2 * b.c0 * np.sin(b.Delta) ** 2), rel=1e-14)
        assert b.amplitude == pytest.approx(2 * b.c0 * np.sin(b.Delta), rel=1e-14)


def test_c0_closed_form_matches_threshold():
    b = stationary_bumps(0.1, 0.05, 2.0)[0]
    kappa = b.Delta / np.pi
    c0 = (b.beta + 2 * b.gamma * kappa - np.sqrt(b.beta**2 + 4 * b.beta * b.gamma * kappa)) / (
        2 * b.gamma * kappa)
    assert c0 == pytest.approx(b.c0, rel=1e-13)
    assert b.c0 * np.sin(2 * b.Delta) == pytest.approx(0.1, rel=1e-12)


def test_amari_limit():
    for theta in (0.03, 0.1, 0.3):
        for beta in (0.0, 1e-12):
            wide, narrow = stationary_bumps(theta, beta, 2.0)
            for b in (wide, narrow):
                assert b.c0 == pytest.approx(1.0, abs=1e-4)   # 1 - c0 ~ sqrt(beta)
                assert np.sin(2 * b.Delta) == pytest.approx(theta, rel=1e-4)
                assert b.amplitude == pytest.approx(2 * np.sin(b.Delta), rel=1e-4)
            assert wide.Delta == pytest.approx(np.pi / 2 - 0.5 * np.arcsin(theta), rel=1e-4)


def test_fold_scaling_and_maximum():
    for theta in (0.03, 0.1, 0.3):
        b1, d1 = fold(theta, 1.0)
        b2, d2 = fold(theta, 1.7)
        assert float(b2) == pytest.approx(1.7 * float(b1), rel=1e-13)   # beta_max ∝ gamma
        assert float(d2) == pytest.approx(float(d1), abs=1e-14)         # Delta_fold(theta)
        # independent maximisation of the existence curve
        lo, hi = 0.5 * np.arcsin(theta), np.pi / 2 - 0.5 * np.arcsin(theta)

        def negbeta(d, theta=theta):
            c0 = theta / np.sin(2 * d)
            return -d * (1 - c0) ** 2 / (np.pi * c0)

        res = minimize_scalar(negbeta, bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-12})
        assert -res.fun == pytest.approx(float(b1), rel=1e-10)
        assert res.x == pytest.approx(float(d1), abs=1e-5)


def test_branches_meet_at_fold_and_vanish_past_it():
    theta, gamma = 0.1, 2.0
    bmax, dfold = fold(theta, gamma)
    br = bump_branches(theta, float(bmax) * (1 - 1e-10), gamma)
    assert abs(br["wide"]["Delta"] - dfold) < 1e-4
    assert abs(br["narrow"]["Delta"] - dfold) < 1e-4
    assert br["wide"]["Delta"] > dfold > br["narrow"]["Delta"]
    past = bump_branches(theta, float(bmax) * 1.001, gamma)
    assert not past["wide"]["exists"] and np.isnan(past["wide"]["Delta"])
    assert np.isnan(past["narrow"]["c0"])
    assert stationary_bumps(theta, float(bmax) * 1.001, gamma) == []


def test_existence_curve_agrees_with_solver():
    theta, gamma = 0.1, 2.0
    cur = existence_curve(theta, gamma, 101)
    inner = slice(1, -1)
    br = bump_branches(theta, cur["beta"][inner], gamma)
    for name in ("wide", "narrow"):
        sel = cur["branch"][inner] == name
        np.testing.assert_allclose(br[name]["Delta"][sel], cur["Delta"][inner][sel], rtol=1e-9)
        np.testing.assert_allclose(br[name]["c0"][sel], cur["c0"][inner][sel], rtol=1e-9)
    # the curve's maximum is the fold
    assert np.max(cur["beta"]) <= float(fold(theta, gamma)[0]) * (1 + 1e-14)


def test_vectorised_shapes_and_nan():
    beta = np.array([[0.01], [0.1], [100.0]])
    gamma = np.array([1.0, 2.0])
    br = bump_branches(0.1, beta, gamma)
    assert br["wide"]["Delta"].shape == (3, 2)
    assert np.all(np.isnan(br["wide"]["Delta"][2]))
    assert not br["narrow"]["exists"][2].any()
    single = bump_branches(0.1, 0.1, 1.0)
    # not bit for bit: numpy may evaluate sin/arcsin of a broadcast (strided) array and of a
    # scalar by different loops (vectorised and scalar C library), an ulp apart. The root of
    # the wide branch moves by that rounding of beta(Delta) over its slope (about -5.5 here,
    # with a cancellation s - theta of 0.06 against sin 0.16): well below one ulp of Delta,
    # plus the bisection's last step; 4 ulp.
    assert_ulp_close(br["wide"]["Delta"][1, 0], single["wide"]["Delta"], 4)


def test_profiles_centred():
    b = stationary_bumps(0.1, 0.05, 2.0)[0]
    x = np.linspace(-np.pi, np.pi, 9)
    np.testing.assert_allclose(b.U(x, centre=1.0), b.U(x - 1.0))
    assert b.Q(np.array([1.0 + 0.99 * b.Delta]), centre=1.0)[0] == b.c0
    assert b.Q(np.array([np.pi]), centre=-np.pi + 0.01)[0] == b.c0   # wraps around the ring
    assert np.all(b.A(x) == b.A0)


@pytest.mark.parametrize("kw,msg", [({"theta": 1.5}, "theta"), ({"beta": -1}, "beta"),
                                    ({"gamma": 0}, "gamma")])
def test_bad_input(kw, msg):
    args = {"theta": 0.1, "beta": 0.05, "gamma": 2.0, **kw}
    with pytest.raises(ValueError, match=msg):
        stationary_bumps(**args)
    with pytest.raises(ValueError, match=msg):
        bump_branches(**args)
