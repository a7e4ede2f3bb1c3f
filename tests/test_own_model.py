"""The "Bring your own model" examples, with every verdict cross-checked by simulation.

A lateral-inhibition kernel and a threshold-linear rate with saturation, both given as plain
Python functions, go through ``steady_bump``, ``spectrum``, ``continue_bumps`` and ``solve``.
Independent checks: the decay rate of a small shift measured in a simulation equals the
leading eigenvalue of the spectrum; a bump the spectrum calls unstable starts to travel in the
simulation; the continuation's drift bifurcation lies between the two.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import astrofield as af
from astrofield.theory.continuation import continue_bumps
from astrofield.theory.spectra import spectrum
from astrofield.theory.steady import steady_bump

N = 128


def lateral(x):
    """Excitation of width 0.6 rad minus broader inhibition of width 1.5 rad."""
    return 2.5 * np.exp(-x**2 / (2 * 0.6**2)) - 1.0 * np.exp(-x**2 / (2 * 1.5**2))


def ramp(u):
    """Threshold-linear from u = 0.1, saturating at 1 about 0.2 higher (softplus corners)."""
    z = 20.0 * (u - 0.1)
    lower = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    upper = np.maximum(z - 4.0, 0.0) + np.log1p(np.exp(-np.abs(z - 4.0)))
    return (lower - upper) / 4.0


def _shifted(st, shift):
    """A perturbation of the bump: its ``u`` moved by ``shift`` rad (periodic interpolation),
    its ``q`` and ``a`` in place."""
    x = st.system.x
    u = np.interp(x - shift, np.r_[x, x[0] + 2 * np.pi], np.r_[st.u, st.u[0]], period=2 * np.pi)
    return u, st.q, st.a


def test_user_ramp_firing_decay_rate_is_the_leading_eigenvalue():
    """Stable side: a small shift of the numerical bump relaxes at the rate of the spectrum's
    leading eigenvalue (measured on the velocity, which decays as ``exp(lambda t)``)."""
    model = af.Model(firing=ramp, beta=0.01, D=0.3)
    sp = spectrum(model=model, N=N)
    assert sp.stable and sp.resolved and abs(sp.leading.imag) < 1e-12
    ds = af.solve(model, T=300, dt=0.05, N=N, init=_shifted(sp.steady, 0.02),
                  store_fields=False, progress=False, n_frames=7)
    assert ds.attrs["backend"] == "numba"  # the user's function was compiled
    v = np.abs(ds.velocity.values)
    t = ds.time.values
    rate = np.polyfit(t[2:], np.log(v[2:]), 1)[0]  # after the fast transients (t >= 100)
    assert rate == pytest.approx(sp.leading.real, rel=0.05)


def test_user_ramp_firing_unstable_bump_travels_and_continuation_brackets_it():
    unstable = af.Model(firing=ramp, beta=0.05, D=0.3)
    sp = spectrum(model=unstable, N=N)
    assert not sp.stable and sp.resolved and sp.leading.real > 0.005
    ds = af.solve(unstable, T=400, dt=0.05, N=N, init=_shifted(sp.steady, 0.02),
                  store_fields=False, progress=False, n_frames=9)
    v = np.abs(ds.velocity.values)
    assert v[-1] > 0.01 and v[-1] > 5 * v[0]  # grows from the small shift to a travelling speed
    assert abs(v[-1] - v[-2]) < 0.02 * v[-1]  # at a constant speed
    branch = continue_bumps(af.Model(firing=ramp, D=0.3), "beta", 0.01, 0.05, N=N,
                            travelling=False)
    drift = json.loads(branch.attrs["drift_bifurcations"])
    assert len(drift) == 1 and 0.01 < drift[0] < 0.05
    # the spectrum changes sign at the reported point
    below = spectrum(model=af.Model(firing=ramp, beta=drift[0] * 0.97, D=0.3), N=N)
    above = spectrum(model=af.Model(firing=ramp, beta=drift[0] * 1.03, D=0.3), N=N)
    assert below.leading.real < 0 < above.leading.real


def test_two_bump_pattern_is_reported_not_passed_off_as_a_bump():
    """The default Mexican hat's strongest Fourier mode is cos 2x: Newton from the single
    Heaviside bump lands on a two-bump pattern (only even Fourier modes), which is reported."""
    model = af.Model(kernel="mexican_hat", firing="sigmoid", steepness=10.0, beta=0.01, D=0.3)
    with pytest.warns(UserWarning, match="2 active regions, not a single bump"):
        st = steady_bump(model, N)
    modes = np.abs(np.fft.rfft(st.u)) / N
    assert st.active_regions == 2 and modes[1] < 1e-12 * modes[2]
    with pytest.warns(UserWarning):
        r = af.theory.spectra.numerical_stability(model, N=N)
    assert r["active_regions"] == 2 and "multi-bump" in r["message"]
    one = steady_bump(af.Model(kernel=lateral, firing="sigmoid", steepness=10.0, D=0.3), N)
    assert one.active_regions == 1


def test_user_lateral_kernel_bump_is_stable_in_simulation():
    """The spectrum calls the lateral-inhibition bump stable; a shifted bump returns to the
    same profile (amplitude and width to 1e-6) and the stationary branch has no drift
    bifurcation over the same range of beta."""
    model = af.Model(kernel=lateral, firing="sigmoid", steepness=10.0, beta=0.02, D=0.3)
    st = steady_bump(model, N)
    sp = spectrum(st)
    assert sp.stable and sp.resolved
    ds = af.solve(model, T=400, dt=0.05, N=N, init=_shifted(st, 0.05), store_fields=True,
                  progress=False, n_frames=5)
    u_end = ds.u.values[-1]
    assert u_end.max() == pytest.approx(st.u.max(), abs=1e-4)
    assert u_end.min() == pytest.approx(st.u.min(), abs=1e-4)
    width = float(np.count_nonzero(st.u > 0.1)) * 2 * np.pi / N
    assert float(ds.width_final) == pytest.approx(width, abs=2 * 2 * np.pi / N)
    branch = continue_bumps(model, "beta", 0.01, 0.04, N=N, travelling=False)
    assert json.loads(branch.attrs["drift_bifurcations"]) == []
    assert bool(branch.stable.all())
