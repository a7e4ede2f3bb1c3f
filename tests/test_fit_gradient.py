"""Jacobians by automatic differentiation through the JAX backend (astrofield.fitting.gradient).

Independent check: central finite differences on the compiled (numba) backend, a different
integrator implementation and a different way of differentiating, whose error must fall as the
square of the step (second order) towards the automatic derivative; the fitted optimum must be
the one the finite-difference fit finds.
"""

from __future__ import annotations

import numpy as np
import pytest

import astrofield as af
from astrofield.fitting import fit, read_observation
from astrofield.fitting.problem import Problem

SMOOTH = dict(theta=0.1, gamma=2.0, firing="sigmoid", steepness=20.0)


def _data(firing="sigmoid", sd=0.01, T=40.0, n_frames=21):
    kw = {**SMOOTH, "firing": firing}
    ds = af.solve(
        af.Model(beta=0.05, D=0.7, **kw),
        T=T,
        N=64,
        dt=0.05,
        eps=0.3,
        n_frames=n_frames,
        progress=False,
    )
    ds["position"] = ds.position + sd * np.random.default_rng(0).standard_normal(n_frames)
    return ds


def test_heaviside_is_refused_before_any_simulation():
    """No solve is run (the trace is all zeros, never simulated): the message says why."""
    import xarray as xr

    data = xr.Dataset({"position": ("time", np.zeros(5))}, coords={"time": np.linspace(0, 4, 5)})
    with pytest.raises(ValueError, match="smooth firing rate.*sub-grid edge"):
        fit(data, af.Model(theta=0.1, gamma=2), {"beta": (0.01, 0.2)}, gradient="jax")
    with pytest.raises(ValueError, match="gradient = 'ad'"):
        fit(data, af.Model(**SMOOTH), {"beta": (0.01, 0.2)}, gradient="ad")


@pytest.mark.slow
def test_ad_jacobian_is_the_limit_of_finite_differences():
    """beta, gamma (both move the initial bump) and tau, D (the astrocytic propagators): the
    finite-difference Jacobian converges to the automatic one at second order."""
    from astrofield.fitting.gradient import JaxJacobian

    vary = {"beta": (0.01, 0.2), "gamma": (1, 3), "tau": (0.5, 2), "D": (0.1, 3)}
    prob = Problem(read_observation(_data(sd=0.0)), af.Model(**SMOOTH), vary)
    th = np.array([0.05, 2.0, 1.0, 0.7])
    y, J = JaxJacobian(prob)(th)
    z = prob.to_unit(th)
    np.testing.assert_allclose(y, prob.simulate(th[None])[0], atol=1e-12)
    err = [
        np.abs(prob.jacobian(z, h=h) / prob.dphys_dunit(z) - J).max() / np.abs(J).max()
        for h in (1e-3, 1e-4)
    ]
    assert err[1] < 1e-5 and 30 < err[0] / err[1] < 300  # second order: ratio 100


@pytest.mark.slow
def test_fit_with_ad_reaches_the_finite_difference_optimum():
    data = _data()
    a = fit(data, af.Model(**SMOOTH), {"beta": (0.01, 0.2), "D": (0.1, 3)}, n_starts=1)
    b = fit(
        data, af.Model(**SMOOTH), {"beta": (0.01, 0.2), "D": (0.1, 3)}, n_starts=1, gradient="jax"
    )
    assert b.converged and b.cost == pytest.approx(a.cost, rel=1e-9)
    np.testing.assert_allclose(b.params, a.params, atol=1e-4 * a.stderr.min())
