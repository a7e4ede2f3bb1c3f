"""Seed-compatible single-resource field (astrofield.applications.seed)."""

import numpy as np
import pytest
from scipy.linalg import expm

from astrofield.applications.seed import AstrocyteNeuralField, mexican_hat_ring


def test_seed_usage_example_runs_and_bump_persists():
    field = AstrocyteNeuralField(n_grid=64, dx=1.0, diffusion_coeff=0.1)
    for name in ("u", "r", "D", "tau_r", "r_production", "kernel"):
        assert hasattr(field, name)
    hist_u, hist_r = field.stimulate(position=32, amplitude=2.0, duration=20.0, dt=0.01)
    assert hist_u.shape == hist_r.shape == (2000, 64)
    # stimulus ends at t = 1; the bump is still there at t = 20, centred on the cue, localised
    final = hist_u[-1]
    assert final.max() > field.threshold + 1.0
    assert int(np.argmax(final)) == 32
    assert 0 < field.active_width(final) < 64 / 4
    # resource depleted inside the bump only, and within [0, 1] exactly
    assert hist_r.min() >= 0.0 and hist_r.max() <= 1.0
    assert hist_r[-1, 32] < 0.9 and hist_r[-1, 0] > 0.999


def test_step_returns_copies_and_advances_time():
    field = AstrocyteNeuralField()
    u, r = field.step(0.5, dt=0.1)
    u[:] = 99.0
    r[:] = -1.0
    assert np.all(field.u < 1) and np.all(field.r == 1.0)
    assert field.t == pytest.approx(0.1)
    # uniform input, no firing below threshold: u relaxes exactly as 0.5 (1 - e^{-t})
    assert np.allclose(field.u, 0.5 * (1 - np.exp(-0.1)), rtol=0, atol=1e-15)


def test_kernel_uses_ring_distances_and_translation_invariance():
    k = mexican_hat_ring(64, 1.0)
    assert np.allclose(k[1:], k[1:][::-1])  # w(j) = w(n - j): symmetric on the ring
    a = AstrocyteNeuralField()
    b = AstrocyteNeuralField()
    ua, _ = a.stimulate(5, 2.0, 5.0)
    ub, _ = b.stimulate(50, 2.0, 5.0)
    assert np.allclose(np.roll(ua[-1], 45), ub[-1], atol=1e-12)


def test_convolution_is_periodic_and_dx_scaled():
    for dx in (0.5, 1.0):
        f = AstrocyteNeuralField(n_grid=128, dx=dx)
        g = np.ones(128)
        assert np.allclose(f.convolve(g), f.kernel.sum() * dx)
        # a delta at the last point acts on its ring neighbour 0 with w(dx) dx
        d = np.zeros(128)
        d[-1] = 1.0
        assert f.convolve(d)[0] == pytest.approx(f.kernel[1] * dx)


def test_resource_stays_in_unit_interval_for_large_steps_and_strong_consumption():
    f = AstrocyteNeuralField(n_grid=64, diffusion_coeff=5.0, consumption=50.0)
    rng = np.random.default_rng(1)
    for _ in range(200):
        u, r = f.step(rng.normal(0, 3, 64), dt=0.5)
        assert r.min() >= 0.0 and r.max() <= 1.0


def test_heat_kernel_is_exact_matrix_exponential_and_conserves():
    f = AstrocyteNeuralField(n_grid=16, dx=0.7, diffusion_coeff=0.3)
    n = 16
    lap = (np.roll(np.eye(n), 1, 0) + np.roll(np.eye(n), -1, 0) - 2 * np.eye(n)) / 0.7**2
    exact = expm(0.9 * 0.3 * lap)[:, 0]
    col = f.heat_kernel(0.9)
    assert np.all(col >= 0)
    assert np.allclose(col, exact, atol=1e-14)
    # diffusion only (no firing, no recovery): total resource conserved
    g = AstrocyteNeuralField(n_grid=32, diffusion_coeff=2.0, tau_r=1e300, r_production=0.0)
    g.r = np.random.default_rng(0).uniform(0, 1, 32)
    total = g.total_resource()
    for _ in range(100):
        g.step(-1.0, dt=0.2)
    assert abs(g.total_resource() - total) < 1e-12 * total


def test_strong_consumption_starves_the_bump():
    f = AstrocyteNeuralField(consumption=1.0)
    hu, _ = f.stimulate(32, 2.0, 30.0)
    assert hu[50].max() > 0.3  # ignited during the stimulus
    assert hu[-1].max() < f.threshold  # gone after it


def test_sigmoid_option_with_documented_parameters_persists():
    f = AstrocyteNeuralField(firing="sigmoid", gain=20.0, threshold=0.5)
    hu, _ = f.stimulate(32, 2.0, 20.0)
    assert 0 < f.active_width(hu[-1]) < 16 and int(np.argmax(hu[-1])) == 32


@pytest.mark.parametrize("kw", [dict(n_grid=2), dict(dx=0.0), dict(diffusion_coeff=-1.0),
                                dict(tau_r=0.0), dict(firing="relu"), dict(gain=0.0)])
def test_validation(kw):
    with pytest.raises(ValueError):
        AstrocyteNeuralField(**kw)


def test_step_and_stimulate_validation():
    f = AstrocyteNeuralField()
    with pytest.raises(ValueError, match="dt"):
        f.step(0.0, dt=0.0)
    with pytest.raises(ValueError, match="external"):
        f.step(np.zeros(3))
    with pytest.raises(ValueError, match="position"):
        f.stimulate(64, 1.0, 2.0)


# ---------------------------------------------------------------- cue width and grid independence
RING_LENGTH = 64.0


def _run_cue(dx, **kw):
    field = AstrocyteNeuralField(n_grid=int(round(RING_LENGTH / dx)), dx=dx)
    hist_u, hist_r = field.stimulate(int(round(32 / dx)), 2.0, 20.0, dt=0.01, **kw)
    return field, hist_u[-1], hist_r[-1]


def test_cue_profile_integrates_to_amplitude_times_width_on_every_grid():
    for dx in (1.0, 0.5, 0.25, 0.3):
        field = AstrocyteNeuralField(n_grid=int(round(RING_LENGTH / dx)), dx=dx)
        for width in (1.0, 2.5, 0.1):
            cue = field.cue_profile(10, 2.0, width)
            assert cue.min() >= 0 and cue.max() <= 2.0 + 1e-12
            assert cue.sum() * dx == pytest.approx(2.0 * width, rel=1e-12)
    # at dx = 1 the default cue is the seed's point stimulus: amplitude on one cell
    cue = AstrocyteNeuralField().cue_profile(32, 2.0)
    expected = np.zeros(64)
    expected[32] = 2.0
    assert np.array_equal(cue, expected)
    # a cue at the ring's seam wraps round
    cue = AstrocyteNeuralField().cue_profile(0, 1.0, width=3.0)
    assert set(np.nonzero(cue)[0]) == {63, 0, 1}


def test_cue_width_is_validated():
    field = AstrocyteNeuralField()
    for bad in (0.0, -1.0, 65.0, np.nan):
        with pytest.raises(ValueError, match="width"):
            field.stimulate(32, 2.0, 1.0, width=bad)


def test_point_cue_of_the_seed_fails_on_fine_grids():
    # the seed's one-cell stimulus delivers amplitude * dx: at dx = 0.25 nothing ignites
    field, u, _ = _run_cue(0.25, width=0.25)
    assert u.max() < field.threshold


def test_same_cue_ignites_the_same_bump_for_any_dx():
    ref_field, u_ref, r_ref = _run_cue(0.125)  # reference on the finest grid
    errors = []
    for dx in (1.0, 0.5, 0.25):
        field, u, r = _run_cue(dx)
        centre = int(round(32 / dx))
        assert u.max() > field.threshold + 1.0  # a bump ignited and persists at t = 20
        assert int(np.argmax(u)) == centre
        assert 4.0 < field.active_width(u) < 8.0
        assert r[centre] < 0.9 and r[0] > 0.999
        # the grids are nested: compare the reference at this grid's points
        err_u = np.abs(u - np.interp(field.x, ref_field.x, u_ref, period=RING_LENGTH)).max()
        err_r = np.abs(r - np.interp(field.x, ref_field.x, r_ref, period=RING_LENGTH)).max()
        errors.append((err_u, err_r))
    (eu1, er1), (eu2, er2), (eu4, er4) = errors
    assert eu1 < 0.5 and eu4 < 0.02 and er4 < 0.01
    # the discrepancy shrinks as the grid is refined (at least 2x per halving of dx)
    assert eu2 < eu1 / 2 and eu4 < eu2 / 2
    assert er2 < er1 / 2 and er4 < er2 / 2
