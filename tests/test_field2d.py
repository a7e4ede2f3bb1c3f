"""Two-dimensional astrocyte-neural field on the torus (astrofield.simulator.torus, re-exported
by astrofield.applications.field2d)."""

import numpy as np
import pytest

from astrofield.applications.field2d import DoG2D, Gaussian2D, Torus, solve2d
from astrofield.model.definition import Model
from astrofield.model.kernels import Kernel
from astrofield.model.noise import Noise
from astrofield.plotting import plot_field2d
from astrofield.simulator.integrator import solve

SIG = dict(theta=0.3, steepness=10.0, firing="sigmoid", gamma=10.0)


def test_bump_persists_for_stable_parameters():
    ds = solve2d(N=32, T=100.0, dt=0.1, position=(1.0, -2.0), blob_amplitude=1.0,
                 store_fields=False)
    assert float(ds["u_max"][-1]) > 0.3 + 1.0
    area = ds["area"].values
    assert 3.0 < area[-1] < 0.25 * (2 * np.pi) ** 2  # localised, not the whole torus
    assert abs(area[-1] - area[-3]) < 0.2  # settled
    assert abs(float(ds["x_c"][-1]) - 1.0) < 0.1 and abs(float(ds["y_c"][-1]) + 2.0) < 0.1
    assert abs(float(ds["mass_drift"])) < 1e-13
    assert ds.attrs["astrofield_version"] and ds.attrs["scheme"]


def test_conservation_over_many_steps_batched():
    model = Model(**{**SIG, "D": np.array([0.05, 0.7, np.inf]),
                     "beta": np.array([0.3, 0.05, 0.1])})
    ds = solve2d(model, N=24, T=200.0, dt=0.1, store_fields=False, blob_amplitude=1.5)
    assert np.max(np.abs(ds["mass_drift"].values)) < 1e-12
    m = ds["mass"].values
    assert np.max(np.abs(m - m[:, :1])) / m[0, 0] < 1e-12
    assert np.all(ds["q_min"].values[:, -1] < 1.0)  # resource was actually exchanged


def test_batched_equals_one_by_one():
    D = np.array([0.2, 1.0, np.inf])
    beta = np.array([0.05, 0.1, 0.02])
    ds = solve2d(Model(**{**SIG, "D": D, "beta": beta}), N=16, T=10.0, dt=0.1, n_frames=3)
    for i in range(3):
        one = solve2d(Model(**{**SIG, "D": D[i], "beta": beta[i]}), N=16, T=10.0, dt=0.1,
                      n_frames=3)
        for k in "uqa":
            assert np.allclose(ds[k].values[i], one[k].values, rtol=0, atol=1e-13)


class _Marginal(Kernel):
    """1-D kernel equal to the y-sum of a 2-D radial kernel on the same periodic grid."""

    def __init__(self, k2d, torus):
        object.__setattr__(self, "k2d", k2d)
        object.__setattr__(self, "torus", torus)

    def profile(self, d):
        yy = self.torus.wrap(self.torus.x - self.torus.x[0])
        r = np.hypot(np.asarray(d)[..., None], yy)
        return self.k2d.profile(r).sum(axis=-1) * self.torus.dx


@pytest.mark.parametrize("beta,gamma,T", [(0.05, 10.0, 20.0), (50.0, 500.0, 8.0)])
def test_x_only_initial_condition_reproduces_the_ring_model(beta, gamma, T):
    """A y-invariant state stays y-invariant and follows the ring model with the marginal kernel
    (also with a stiff exchange, ``dt (gamma a + beta f) / tau`` up to 5: both take the same
    step, safeguards included). The stiff run stops at T = 8: at this large ``dt`` the ring's
    own trajectory amplifies round-off after t = 10 (a perturbation of 1e-12 grows to 1e-4 by
    t = 18, not at dt / 4), so later the two spaces would differ by more than round-off."""
    N = 32
    torus = Torus(N)
    k2d = DoG2D()
    sig = {**SIG, "gamma": gamma}
    model = Model(**sig, beta=beta, D=0.5)
    x = torus.x
    u1 = 1.2 * np.exp(-(x**2) / (2 * 0.6**2))
    q1 = 1.0 - 0.2 * np.exp(-(x**2) / 2)
    a1 = 0.1 + 0.05 * np.cos(x)
    init2 = tuple(np.broadcast_to(v, (N, N)) for v in (u1, q1, a1))
    ds2 = solve2d(model, k2d, N=N, T=T, dt=0.05, init=init2, n_frames=5, dt_check="off")
    ds1 = solve(Model(**sig, beta=beta, D=0.5, kernel=_Marginal(k2d, torus)), T=T, dt=0.05,
                N=N, init=(u1, q1, a1), n_frames=5, progress=False, backend="numpy",
                dt_check="off")
    for k in "uqa":
        f2 = ds2[k].values
        assert np.max(np.abs(f2 - f2[:, :1, :])) < 1e-12  # still y-invariant
        assert np.allclose(f2[:, 0, :], ds1[k].values, rtol=0, atol=1e-10)


def test_stiff_exchange_stays_finite_non_negative_and_conservative():
    """``dt (gamma max(q + a) + beta) / tau = 0.1 (500 + 50) = 55 >> 1``. Without the
    stiff-exchange safeguards (the torus's own step before it shared the ring's), ``a`` went to
    -0.19 in the first step, ``q`` to -10.5 by t = 0.4 and the state was NaN at t = 0.5."""
    model = Model(**{**SIG, "gamma": 500.0, "beta": 50.0, "D": np.array([0.7, np.inf])})
    ds = solve2d(model, N=32, T=5.0, dt=0.1, n_frames=51, dt_check="off")  # far above the rule
    q, a, m = ds["q"].values, ds["a"].values, ds["mass"].values
    assert np.all(np.isfinite(q)) and np.all(np.isfinite(a))
    assert q.min() >= 0.0 and q.max() <= 1.0 and a.min() >= 0.0
    assert np.max(np.abs(m - m[:, :1])) / m[0, 0] < 1e-13
    assert np.max(np.abs(ds["mass_drift"].values)) < 1e-13
    assert np.all(q.min(axis=(-2, -1))[:, -1] < 0.9)  # resource was actually exchanged


def test_noise_is_refused():
    with pytest.raises(ValueError, match="noise is not implemented on the torus"):
        solve2d(N=8, T=0.1, dt=0.1, noise=Noise(sigma=0.1))


def test_old_import_path_is_the_simulator_torus():
    import astrofield
    import astrofield.applications.field2d as old
    import astrofield.simulator.torus as new

    assert old.solve2d is new.solve2d is astrofield.solve2d
    assert old.Torus is new.Torus and old.DoG2D is new.DoG2D


def test_heaviside_option_and_gaussian_kernel_run_and_conserve():
    model = Model(theta=0.3, firing="heaviside", gamma=10.0)
    ds = solve2d(model, Gaussian2D(1.0, 0.5), N=16, T=5.0, dt=0.1, store_fields=False)
    assert abs(float(ds["mass_drift"])) < 1e-13


def test_plot(tmp_path):
    from astrofield.plotting import save_figure

    ds = solve2d(N=16, T=2.0, dt=0.1, n_frames=3)
    save_figure(plot_field2d(ds), tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000


@pytest.mark.parametrize("kw,name", [(dict(N=4), "N"), (dict(dt=0.0), "dt"),
                                     (dict(T=1.05, dt=0.1), "whole"), (dict(init="x"), "init"),
                                     (dict(kernel="dog"), "Kernel2D")])
def test_validation(kw, name):
    with pytest.raises(ValueError, match=name):
        solve2d(**kw)


def test_the_ring_step_rule_applies_on_the_torus():
    """The scheme's rates are local, so the ring's rule bounds the torus step too: a step above
    it is refused before any work, 'warn' runs it flagged, 'auto' takes the rule's step."""
    from astrofield.simulator.step_control import StepSizeWarning, max_step

    model = Model(**{**SIG, "gamma": 500.0, "beta": 50.0})
    dt_max = max_step(model)
    assert dt_max < 0.05
    with pytest.raises(ValueError, match=r"dt = 0\.1 is outside the allowed range \(0, "):
        solve2d(model, N=8, T=1.0, dt=0.1)
    with pytest.warns(StepSizeWarning):
        ds = solve2d(model, N=8, T=0.2, dt=0.1, dt_check="warn")
    assert ds.attrs["dt_rule_ok"] == 0
    ds = solve2d(model, N=8, T=0.2, dt="auto")
    n = round(0.2 / ds.attrs["dt"])
    assert ds.attrs["dt"] <= dt_max and abs(n * ds.attrs["dt"] - 0.2) < 1e-12
    assert 0.2 / (n - 1) > dt_max and ds.attrs["dt_rule_ok"] == 1
