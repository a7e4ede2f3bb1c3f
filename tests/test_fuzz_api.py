"""Property-based fuzzing of the public API: any input gives finite results or a ValueError.

Tiny problem sizes keep each example fast; the default (``fast``) hypothesis profile is
derandomized; the ``slow`` variants rerun the same properties with the ``long`` profile.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astrofield._validate import parse_axis, parse_number
from astrofield.io.jsonio import dumps, from_json_number
from astrofield.model.definition import Model
from astrofield.model.noise import Noise
from astrofield.model.stimulus import Pulse
from astrofield.simulator.integrator import solve
from astrofield.theory.stability import stability

# any float, including NaN, +-inf, zero, negatives and huge values
anyfloat = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from([0.0, -0.0, 1e-300, 1e300, -1.0, 0.5, 1.0]))
# plausible parameter values (mostly valid, sometimes not)
theta_s = st.one_of(st.floats(0.01, 0.5), anyfloat)
beta_s = st.one_of(st.floats(0.0, 0.2), anyfloat)
gamma_s = st.one_of(st.floats(0.5, 3.0), anyfloat)
D_s = st.one_of(st.floats(0.01, 2.0), st.just(math.inf), anyfloat)


def _finite_dataset(ds) -> None:
    """Every float variable of a successful result is finite (no silent NaN)."""
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "f" and not name.startswith(("t_", "D_theory")):
            assert np.all(np.isfinite(var.values)), name


#: The documented parameter ranges (the "allowed" column of docs/model.md), written out here
#: independently of the library's table: theta in (0, 1); beta, gamma >= 0; tau > 0; D >= 0 or inf.
DOCUMENTED = {
    "theta": lambda v: 0 < v < 1,
    "beta": lambda v: 0 <= v < math.inf,
    "gamma": lambda v: 0 <= v < math.inf,
    "tau": lambda v: 0 < v < math.inf,
    "D": lambda v: 0 <= v,  # inf allowed (well-mixed astrocytes); NaN compares False
}

_RANGE = re.compile(r" = (\S+) is outside the allowed range "
                    r"(?:([\[(])(\S+), (\S+?)([\])])|>= (\S+))")


def _outside(value: float, m: re.Match) -> bool:
    """Whether ``value`` indeed lies outside the range a message states."""
    if m.group(6) is not None:  # ">= lo"
        return not value >= float(m.group(6))
    lo, hi = float(m.group(3)), float(m.group(4))
    above_lo = value > lo if m.group(2) == "(" else value >= lo
    below_hi = value < hi if m.group(5) == ")" else value <= hi
    if "(or inf)" in m.string and value == math.inf:
        return False
    return not (above_lo and below_hi)


def check_message(exc: ValueError, args: dict) -> None:
    """The error names one of the arguments with the value it was given; where it states an
    allowed range, that value does lie outside it."""
    msg = str(exc)
    named = [k for k, v in args.items() if f"{k} = {v:g}" in msg]
    assert named, f"{msg!r} names none of {args}"
    m = _RANGE.search(msg)
    if m is not None:
        assert any(_outside(float(args[k]), m) for k in named
                   if f"{k} = {args[k]:g} is outside" in msg), msg


def model_property(theta, beta, gamma, D, tau):
    args = dict(theta=theta, beta=beta, gamma=gamma, D=D, tau=tau)
    valid = all(DOCUMENTED[k](v) for k, v in args.items())
    try:
        m = Model(**args)
    except ValueError as exc:
        assert not valid, f"{args} are in the documented ranges, yet refused: {exc}"
        check_message(exc, args)
        bad = [k for k, v in args.items() if not DOCUMENTED[k](v)]
        assert any(str(exc).startswith(f"{k} = ") for k in bad), (str(exc), bad)
        return
    assert valid, f"{args} accepted although outside the documented ranges"
    for name, v in args.items():  # stored as given
        assert getattr(m, name) == v, name


@given(theta_s, beta_s, gamma_s, D_s, st.one_of(st.just(1.0), anyfloat))
def test_model_fuzz(theta, beta, gamma, D, tau):
    model_property(theta, beta, gamma, D, tau)


def solve_property(theta, beta, D, N, T, dt, eps, amp):
    try:
        ds = solve(Model(theta=theta, beta=beta, D=D), T=T, dt=dt, N=N, eps=eps,
                   stimulus=[Pulse(0.0, 0.3, amp, 0.0, 1.0)], n_frames=3, progress=False)
    except ValueError as exc:
        check_message(exc, {"theta": theta, "beta": beta, "D": D, "N": N, "T": T, "dt": dt,
                            "eps": eps, "pulse amplitude": amp})
        return
    if "failed" in ds and bool(np.any(ds["failed"].values)):  # flagged, never silent
        return
    _finite_dataset(ds)
    assert abs(float(ds["mass_drift"])) < 1e-8


@given(theta_s, beta_s, D_s, st.sampled_from([16, 17, 32, 15, 0, -4]),
       st.sampled_from([0.5, 1.0, 0.0, -1.0, math.inf, math.nan, 1e300]),
       st.sampled_from([0.1, 0.25, 0.0, 2.0, math.nan, 1e-300]), st.floats(-1.5, 1.5), anyfloat)
def test_solve_fuzz(theta, beta, D, N, T, dt, eps, amp):
    solve_property(theta, beta, D, N, T, dt, eps, amp)


def stability_property(theta, beta, gamma, D):
    try:
        r = stability(theta, beta, gamma, D)
    except ValueError as exc:
        check_message(exc, {"theta": theta, "beta": beta, "gamma": gamma, "D": D})
        return
    if bool(r["exists"]):
        assert math.isfinite(float(r["evans_dprime"]))
        assert math.isfinite(float(r["Delta"]))


@given(theta_s, beta_s, gamma_s, D_s)
def test_stability_fuzz(theta, beta, gamma, D):
    stability_property(theta, beta, gamma, D)


@given(anyfloat, anyfloat, anyfloat, anyfloat, anyfloat)
def test_pulse_fuzz(position, width, amplitude, t_on, t_off):
    try:
        p = Pulse(position, width, amplitude, t_on, t_off)
    except ValueError:
        return
    prof = p.profile(np.linspace(-np.pi, np.pi, 16, endpoint=False))
    assert np.all(np.isfinite(prof)) and np.all(prof >= 0) and np.all(prof <= 1)


@given(anyfloat, st.one_of(anyfloat, st.just("cosine"), st.text(max_size=5)))
def test_noise_fuzz(sigma, correlation):
    try:
        n = Noise(sigma, correlation, 0)
    except (ValueError, TypeError):
        return
    assert n.sigma >= 0 and math.isfinite(n.sigma)


@given(st.text(max_size=30))
def test_parse_axis_fuzz(text):
    """Any text: a finite (or allowed inf) 1-D grid, or a ValueError; never another error."""
    try:
        name, values = parse_axis(text)
    except ValueError as exc:
        assert f"grid axis {text.strip()!r}" in str(exc) or f"grid axis {text!r}" in str(exc)
        m = _RANGE.search(str(exc))
        if m is not None:  # a value outside the range it states
            assert _outside(float(m.group(1)), m), str(exc)
        return
    assert values.ndim == 1 and values.size >= 1 and not np.any(np.isnan(values))
    assert name == "D" or np.all(np.isfinite(values))


@given(st.text(max_size=12))
def test_parse_number_fuzz(text):
    try:
        v = parse_number(text, "x")
    except ValueError:
        return
    assert not math.isnan(v)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), anyfloat,
              st.text(max_size=4)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=10)


def _reject_constant(name):
    raise AssertionError(f"non-standard JSON constant {name}")


@given(json_values)
def test_json_convention_fuzz(obj):
    """Output is strict JSON (no NaN/Infinity tokens); NaN is refused unless nan='null'."""
    has_nan = "nan" in repr(obj)
    try:
        text = dumps(obj)
    except ValueError:
        assert has_nan
        text = dumps(obj, nan="null")
    back = json.loads(text, parse_constant=_reject_constant)

    def same(a, b):
        if isinstance(a, float):
            if math.isnan(a):
                return b is None
            return (from_json_number(b) == a) if math.isinf(a) else b == a
        if isinstance(a, dict):
            return all(same(v, b[str(k)]) for k, v in a.items())
        if isinstance(a, list):
            return all(same(x, y) for x, y in zip(a, b, strict=True))
        return a == b

    assert same(obj, back)


# ---- the same properties with the long profile (``pytest -m slow``)
long = settings(settings.get_profile("long"))


@pytest.mark.slow
@long
@given(theta_s, beta_s, D_s, st.sampled_from([16, 17, 32, 15, 0]),
       st.sampled_from([0.5, 1.0, 0.0, math.inf]), st.sampled_from([0.1, 0.25, 0.0, 2.0]),
       st.floats(-1.5, 1.5), anyfloat)
def test_solve_fuzz_long(theta, beta, D, N, T, dt, eps, amp):
    solve_property(theta, beta, D, N, T, dt, eps, amp)


@pytest.mark.slow
@long
@given(theta_s, beta_s, gamma_s, D_s)
def test_stability_fuzz_long(theta, beta, gamma, D):
    stability_property(theta, beta, gamma, D)


@pytest.mark.slow
@long
@given(theta_s, beta_s, gamma_s, D_s, st.one_of(st.just(1.0), anyfloat))
def test_model_fuzz_long(theta, beta, gamma, D, tau):
    model_property(theta, beta, gamma, D, tau)


@settings(max_examples=25, deadline=None)
@given(amp=st.floats(-0.2, 0.2), freq=st.floats(0.1, 20.0))
def test_schedule_fuzz_checked_between_nodes(amp, freq):
    """A beta schedule is refused exactly when it is negative at a time the run uses."""
    def beta(t):
        return 0.05 + amp * np.sin(freq * t)

    times = np.concatenate([[0.0], (np.arange(20) + 0.5) * 0.1, [2.0]])
    try:
        ds = solve(Model(), T=2.0, dt=0.1, N=32, schedule={"beta": beta}, store_fields=False,
                   n_frames=2, progress=False)
    except ValueError as exc:
        assert "schedule beta(t = " in str(exc) and np.min(beta(times)) < 0
        return
    assert np.min(beta(times)) >= 0
    assert np.isfinite(float(ds["drift"])) and ds.attrs["resolved"] in (0, 1)


@settings(max_examples=20, deadline=None)
@given(N=st.sampled_from([16, 32, 64]), width=st.floats(1e-4, 1.0))
def test_resolution_fuzz_refused_or_flagged(N, width):
    """A Gaussian kernel on any grid: refused naming N, or run with a boolean resolved flag."""
    from astrofield.model.kernels import Gaussian

    try:
        ds = solve(Model(kernel=Gaussian(width=width)), T=0.2, dt=0.1, N=N, store_fields=False,
                   n_frames=2, progress=False)
    except ValueError as exc:
        assert f"N = {N} is outside the allowed range" in str(exc)
        return
    assert ds["resolved"].dtype == bool
