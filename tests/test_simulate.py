"""Core simulator: conservation, exact bumps, batching, sub-grid quadrature, kernels, noise."""

from __future__ import annotations

import numpy as np
import pytest

from astrofield import Gaussian, Model
from astrofield.model.kernels import Kernel
from astrofield.model.stimulus import Pulse
from astrofield.simulator.integrator import Simulator, initial_state, solve

FIG7 = dict(theta=0.1, beta=0.05, gamma=2.0)


def _quiet(**kw):
    kw.setdefault("progress", False)
    return kw


@pytest.mark.parametrize(
    "model",
    [
        Model(**FIG7, D=0.7),
        Model(**FIG7, D=0.01, firing="sigmoid", steepness=40.0),
        Model(**FIG7, D=np.inf),
        Model(**FIG7, D=0.3, kernel=Gaussian(amplitude=1.5, width=0.6)),
    ],
    ids=["heaviside", "sigmoid", "D-inf", "gaussian-kernel"],
)
def test_total_resource_conserved_to_round_off(model):
    """∫(q + a) dx is invariant (shared exchange flux); 10^4 steps of a travelling-prone bump."""
    ds = solve(model, T=100.0, dt=0.01, N=128, eps=0.3, store_fields=False, n_frames=11,
               **_quiet())
    assert abs(float(ds.mass_drift)) < 1e-12
    m = ds["mass"].values
    assert np.max(np.abs(m - m[0])) / m[0] < 1e-12
    # from rest-like bump data the total is 2 pi (conservation identity)
    assert m[0] == pytest.approx(2 * np.pi, rel=1e-12)


def test_resources_stay_in_unit_interval():
    ds = solve(Model(**FIG7, D=0.01), T=50.0, dt=0.05, N=128, eps=0.3, **_quiet())
    assert float(ds.q.min()) >= 0.0 and float(ds.q.max()) <= 1.0 + 1e-12
    assert float(ds.a.min()) >= -1e-12


def test_exact_bump_is_discrete_equilibrium_off_grid():
    """The exact bump, centred 0.37 cells off a grid point, stays put (stable D = 0.7)."""
    for N in (128, 256, 1024):
        dx = 2 * np.pi / N
        ds = solve(Model(**FIG7, D=0.7), T=200.0, dt=0.05, N=N, eps=0.0, position=0.37 * dx,
                   store_fields=False, **_quiet())
        assert abs(float(ds.drift)) < 1e-3, N
        assert abs(float(ds.drift)) < 1e-5, N  # in fact far below the requirement


def test_grid_sampling_pins_and_subgrid_does_not():
    """Plain nodal Heaviside sampling fails the stationary-bump test at N = 256."""
    dx = 2 * np.pi / 256
    kw = dict(T=200.0, dt=0.05, N=256, eps=0.0, position=0.37 * dx, store_fields=False)
    grid = solve(Model(**FIG7, D=0.7), quadrature="grid", **kw, **_quiet())
    sub = solve(Model(**FIG7, D=0.7), quadrature="subgrid", **kw, **_quiet())
    assert abs(float(grid.drift)) > 1e-3
    assert abs(float(sub.drift)) < 1e-3


def test_drift_unstable_bump_travels():
    """D = 0.01 is drift-unstable: a small shift grows into a travelling bump."""
    ds = solve(Model(**FIG7, D=0.01), T=200.0, dt=0.05, N=256, eps=0.01, store_fields=False,
               **_quiet())
    v = ds["velocity"].values
    assert float(ds.drift) > 1.0
    assert abs(v[-1]) > 4 * np.min(np.abs(v[1:]))  # grows after the initial transient
    stable = solve(Model(**FIG7, D=0.7), T=200.0, dt=0.05, N=256, eps=0.01, store_fields=False,
                   **_quiet())
    assert abs(float(stable.velocity_final)) < 1e-4 < abs(float(ds.velocity_final))


def test_batched_equals_one_by_one():
    betas = np.array([0.02, 0.05, 0.08])
    Ds = np.array([0.05, 0.7, np.inf])
    batch = solve(Model(theta=0.1, beta=betas, gamma=2.0, D=Ds), T=20.0, dt=0.05, N=128,
                  eps=0.2, **_quiet())
    assert batch["u"].dims == ("batch", "time", "x")
    for i in range(3):
        one = solve(Model(theta=0.1, beta=betas[i], gamma=2.0, D=Ds[i]), T=20.0, dt=0.05, N=128,
                    eps=0.2, **_quiet())
        np.testing.assert_allclose(batch["u"].values[i], one["u"].values, rtol=0, atol=1e-12)
        np.testing.assert_allclose(batch["a"].values[i], one["a"].values, rtol=0, atol=1e-12)
        assert float(batch["drift"][i]) == pytest.approx(float(one["drift"]), abs=1e-12)
        assert float(batch["beta"][i]) == betas[i]


def test_sigmoid_approaches_heaviside():
    """Growing sigmoid steepness converges to the Heaviside result (final drift), at rate ~1/s.

    The sigmoid's transition layer (width ~ 1 / (s |U'|)) must be resolved by the grid, hence
    N = 1024 for s up to 200.
    """
    kw = dict(T=60.0, dt=0.05, N=1024, eps=0.3, store_fields=False)
    ref = float(solve(Model(**FIG7, D=0.7), **kw, **_quiet()).drift)
    errs = [abs(float(solve(Model(**FIG7, D=0.7, firing="sigmoid", steepness=s), **kw,
                            **_quiet()).drift) - ref) for s in (50.0, 100.0, 200.0)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[1] / errs[2] > 1.6  # close to first order in 1/s
    assert errs[2] < 1e-3 * abs(ref)


def test_general_kernel_path_matches_cosine_fast_path():
    """The FFT convolution (with first-moment edge correction) reproduces the exact cosine path."""

    class PlainCos(Kernel):  # a cosine that does not announce itself: takes the FFT path
        def profile(self, d):
            return np.cos(d)

    kw = dict(T=30.0, dt=0.05, N=256, eps=0.3, store_fields=False)
    fast = solve(Model(**FIG7, D=0.1), **kw, **_quiet())
    fft = solve(Model(**FIG7, D=0.1, kernel=PlainCos()), **kw, **_quiet())
    assert float(fft.drift) == pytest.approx(float(fast.drift), rel=1e-4)


def test_exact_bump_rhs_residual_is_round_off():
    """The exact bump profiles U, Q, A make every right-hand side vanish in the discrete model."""
    m = Model(**FIG7, D=0.7)
    N = 512
    sim = Simulator(m, N)
    (u, q, a), bump = initial_state(m, N, "bump", eps=0.0, position=0.123)
    st = sim.make_state(u, q, a)
    from astrofield.simulator.integrator import _split_bump_resource

    _split_bump_resource(st, bump)
    du = sim.rhs_u(st, 0.0)
    assert np.max(np.abs(du)) < 1e-9  # edge location by quartic-accurate interpolation
    c0, A0 = bump["c0"][0], bump["A0"][0]
    # q on the active part is c0 and satisfies gamma A0 (1 - c0) = beta c0
    assert np.allclose(st.q_in[st.geo.phi > 0], c0, atol=1e-6)
    assert 2.0 * A0 * (1 - c0) == pytest.approx(0.05 * c0, rel=1e-12)


def test_stimulus_from_rest_creates_persistent_bump():
    m = Model(**FIG7, D=0.7)
    ds = solve(m, T=60.0, dt=0.05, N=128, init="rest",
               stimulus=[Pulse(position=1.0, width=0.3, amplitude=1.0, t_on=0.0, t_off=5.0)],
               **_quiet())
    u_end = ds["u"].values[-1]
    assert u_end.max() > 0.1  # persists after the cue is off
    assert float(ds["position"][-1]) == pytest.approx(1.0, abs=0.05)
    # no cue: rest stays at rest exactly
    rest = solve(m, T=10.0, dt=0.05, N=64, init="rest", **_quiet())
    assert np.all(rest["u"].values == 0.0)


def test_noise_is_reproducible_and_correlated():
    from astrofield.model.noise import Noise

    m = Model(**FIG7, D=0.7)
    kw = dict(T=5.0, dt=0.05, N=128, eps=0.0, noise=Noise(0.05, 0.4, seed=3))
    a = solve(m, **kw, **_quiet())
    b = solve(m, **kw, **_quiet())
    np.testing.assert_array_equal(a["u"].values, b["u"].values)
    c = solve(m, **{**kw, "seed": 4}, **_quiet())
    assert not np.array_equal(a["u"].values, c["u"].values)
    assert a.attrs["seed"] == 3
    # sampled covariance matches the prescribed correlation c(d) = exp(-d^2 / 2 l^2)
    x = np.linspace(-np.pi, np.pi, 64, endpoint=False)
    draw = Noise(1.0, 0.4, seed=0).sampler(x, 20000)
    w = draw(1.0)
    cov = (w * w[:, :1]).mean(axis=0)
    expect = np.exp(-((x - x[0] + np.pi) % (2 * np.pi) - np.pi) ** 2 / (2 * 0.4**2))
    assert np.max(np.abs(cov - expect)) < 0.05


def test_attrs_record_reproducibility_data():
    ds = solve(Model(**FIG7, D=0.7), T=1.0, dt=0.05, N=64, **_quiet())
    for key in ("astrofield_version", "scheme", "dt", "N", "T", "seed", "param_beta"):
        assert key in ds.attrs
    assert ds.attrs["scheme"] == "etd2-subgrid-shared-flux"


def test_trackers_record_demand():
    from astrofield.simulator.trackers import DemandTracker

    m = Model(**FIG7, D=0.7)
    ds = solve(m, T=2.0, dt=0.05, N=256, eps=0.0, trackers=[DemandTracker(every=2)], **_quiet())
    d = ds["demand"].values
    assert d.shape == ds["time_demand"].shape
    # at the exact bump, consumption = beta c0 * 2 Delta
    expect = 0.05 * float(ds.bump_c0) * 2 * float(ds.bump_Delta)
    assert d[0] == pytest.approx(expect, rel=1e-6)


def test_stop_rule_drops_members_and_freezes_results():
    m = Model(theta=0.1, beta=0.05, gamma=2.0, D=np.array([0.01, 0.7]))

    seen = []

    def rule(t, drift, velocity, width, members):
        seen.append(members)
        return np.abs(drift) > 0.5

    ds = solve(m, T=200.0, dt=0.05, N=128, eps=0.05, store_fields=False, stop_rule=rule,
               stop_every=5.0, **_quiet())
    tf = ds["t_final"].values
    assert tf[0] < 200.0 and tf[1] == 200.0
    assert abs(float(ds.drift[0])) > 0.5
    assert seen[0].tolist() == [0, 1] and seen[-1].tolist() == [1]


def test_schedule_constant_equals_fixed_parameters():
    m = Model(**FIG7, D=0.3)
    kw = dict(T=10.0, dt=0.05, N=64, eps=0.3, store_fields=False)
    fixed = solve(m, **kw, **_quiet(), backend="numpy")  # schedules run on the numpy backend
    sched = solve(m, schedule={"beta": lambda t: 0.05}, **kw, **_quiet())
    assert sched.attrs["backend"] == "numpy"
    assert float(sched.drift) == float(fixed.drift)
    with pytest.raises(ValueError, match="backend = 'numba' does not support"):
        solve(m, schedule={"beta": lambda t: 0.05}, **kw, **_quiet(), backend="numba")
    assert np.all(sched["beta_t"].values == 0.05)


def test_slow_beta_ramp_tracks_the_stationary_bump():
    """Quasi-static ramp: the width follows 2 Delta(beta(t)) of the exact wide bump."""
    from astrofield.theory.bump import bump_branches

    rate = 1e-3
    m = Model(theta=0.3, beta=0.1, gamma=2.0, D=np.inf)
    ds = solve(m, T=300.0, dt=0.1, N=128, eps=0.0, store_fields=False, n_frames=7,
               schedule={"beta": lambda t: 0.1 + rate * t}, **_quiet())
    beta_t = ds["beta_t"].values
    expect = 2 * bump_branches(0.3, beta_t, 2.0)["wide"]["Delta"]
    np.testing.assert_allclose(ds["width"].values[1:], expect[1:], atol=0.02)
    assert ds["width"].values[-1] < ds["width"].values[0] - 0.2  # it really moved


def test_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match="schedule parameter 'D' is not one of"):
        solve(Model(), T=1.0, dt=0.1, N=32, schedule={"D": lambda t: 1.0}, **_quiet())
    with pytest.raises(ValueError, match=r"schedule beta\(t = 0.55\) = -0.05 is outside"):
        solve(Model(), T=2.0, dt=0.1, N=32, schedule={"beta": lambda t: 0.5 - t}, **_quiet())
