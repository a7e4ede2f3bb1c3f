"""Property-based fuzzing of the command line (in process, click's CliRunner).

For any generated arguments or TOML config the outcome is a result (exit 0; with ``--json`` one
strict-JSON object on stdout whose numbers are finite) or a clean error: exit 2 for bad input,
exit 1 for a failure while computing; never a traceback.
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from hypothesis import event, given, settings
from hypothesis import strategies as st

from astrofield.cli import main

NUMBERS = ["0", "1", "-1", "0.05", "0.1", "2", "0.7", "inf", "-inf", "nan", "1e400", "abc", "",
           "1e-300", "0.5", "3"]
num = st.one_of(st.sampled_from(NUMBERS), st.floats(-3, 3).map(repr), st.text(max_size=4))


def val(lo, hi):
    """Mostly a number in [lo, hi] (as text), sometimes anything."""
    good = st.floats(lo, hi).map(lambda x: f"{x:.6g}")
    return st.tuples(st.integers(0, 9), good, num).map(lambda t: t[1] if t[0] < 8 else t[2])


def _mostly(good, bad):
    """Mostly one of the values ``good``, sometimes a draw of ``bad`` (as :func:`val`)."""
    return st.tuples(st.integers(0, 9), st.sampled_from(good), bad).map(
        lambda t: t[1] if t[0] < 8 else t[2])


theta_t, beta_t, gamma_t = val(0.02, 0.45), val(1e-4, 0.2), val(0.5, 3.0)
D_t = st.one_of(val(0.01, 2.0), st.just("inf"))
SPEC_TOKENS = ["0.01", "0.05", "0.1", "1", "2", "inf", "0", "-1", "nan", "x", "3", "2.5", "log",
               "lin", "", "0.02", "0.3", "2", "3"]
spec = st.one_of(
    st.lists(st.sampled_from(SPEC_TOKENS), min_size=1, max_size=4).map(":".join),
    st.lists(st.sampled_from(SPEC_TOKENS), min_size=1, max_size=3).map(",".join),
    st.text(max_size=8))


def _reject(name):
    raise AssertionError(f"non-standard JSON constant {name} in output")


def _walk_numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _walk_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk_numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


def check_outcome(args, allow_undefined=()):
    runner = CliRunner()
    with runner.isolated_filesystem():  # generated output names land in a temporary directory
        res = runner.invoke(main, args)
    exc = res.exception
    assert exc is None or isinstance(exc, SystemExit), (args, repr(exc), res.output)
    assert "Traceback" not in res.output, (args, res.output)
    assert res.exit_code in (0, 1, 2), (args, res.exit_code, res.output)
    event(f"exit {res.exit_code}")  # shown by --hypothesis-show-statistics
    if res.exit_code:
        assert "Error" in res.output, (args, res.output)  # a message, not silence
    elif "--json" in args:
        obj = json.loads(res.stdout, parse_constant=_reject)
        assert all(math.isfinite(v) for v in _walk_numbers(obj)), obj
        for key in obj.get("undefined", []):
            assert key.split("[")[0].split(".")[0] in allow_undefined, (args, obj)
    return res


@given(theta_t, beta_t, gamma_t)
def test_bump_fuzz(theta, beta, gamma):
    check_outcome(["bump", "--theta", theta, "--beta", beta, "--gamma", gamma, "--json"])


@given(theta_t, beta_t, gamma_t, D_t, st.one_of(st.just("1"), val(0.2, 5.0)))
def test_stability_fuzz(theta, beta, gamma, D, tau):
    check_outcome(["stability", "--theta", theta, "--beta", beta, "--gamma", gamma, "--D", D,
                   "--tau", tau, "--no-spectrum", "--json"],
                  # the growth rate of the leading real unstable zero: undefined when stable
                  allow_undefined=("evans_growth_rate",))


#: N, T, dt, beta, D, pulses, kernel parameters, kernel of ``astrofield run`` (fast and long runs)
RUN_ARGS = (
    st.sampled_from(["16", "24", "32", "16", "15", "0", "x", "16.5"]),
    st.sampled_from(["0.5", "1", "0.5", "1", "0", "-1", "nan", "inf", "0.33", "1e300"]),
    st.sampled_from(["0.1", "0.25", "0.1", "0.25", "0", "2", "inf", "nan", "1e-300"]), beta_t,
    D_t,
    st.lists(st.one_of(st.text(max_size=12), st.sampled_from(
        ["1,0.3,1,0,0.5", "0,0.3,-1,0,1", "1,0,1,0,1", "1,0.3,nan,0,1"])), max_size=1),
    st.lists(st.sampled_from(["width=0.6", "w_e=3", "foo=1", "width=nan", "=", "width",
                              "w_e=1e300", "s_e=1e-300", "width=1e-300"]), max_size=1),
    st.sampled_from(["cosine", "gaussian", "mexican_hat"]),
)


@settings(max_examples=15)
@given(*RUN_ARGS)
def test_run_fuzz(N, T, dt, beta, D, pulses, kparams, kernel):
    args = ["run", "--N", N, "--T", T, "--dt", dt, "--beta", beta, "--D", D, "--kernel",
            kernel, "--n-frames", "3", "--json", "-q"]
    for p in pulses:
        args += ["--pulse", p]
    for k in kparams:
        args += ["--kernel-param", k]
    check_outcome(args)


@settings(max_examples=12)
@given(st.sampled_from(["0", "1", "2", "5", "6", "-1", "x", "1.5", "nan"]),
       st.sampled_from(["0.1", "0.5", "auto", "0.01"]), st.sampled_from(["0.7", "inf"]))
def test_run_refine_levels_fuzz(levels, dt, D):
    """``run --refine-levels`` (the step ladder) with steps the rule accepts or refuses."""
    check_outcome(["run", "--N", "32", "--T", "2", "--dt", dt, "--D", D, "--refine-levels",
                   levels, "--n-frames", "3", "--json", "-q"])


@settings(max_examples=20)
@given(spec, spec, st.sampled_from(["2", "1,2", "1:2:2", "0", "-1"]), st.sampled_from(
    ["0.1", "0.1,0.2", "0.6"]))
def test_stability_map_fuzz(beta, D, gamma, theta):
    check_outcome(["stability-map", "--beta", beta, "--D", D, "--gamma", gamma, "--theta", theta,
                   "--json"])


#: Summary entries of ``astrofield phase`` that are undefined (NaN, listed under "undefined")
#: for some maps: agreements where no cell has a bump (Fourier: other models too), the largest
#: relative drift error where no drift error was estimated, the largest interpolation error of
#: an adaptive map that interpolated nothing.
PHASE_UNDEFINED = ("agreement", "fourier_agreement", "max_relative_drift_error",
                   "max_drift_interp_error")


@settings(max_examples=10, deadline=None)
@given(st.lists(spec.map(lambda s: "D=" + s) | spec.map(lambda s: "beta=" + s) | spec,
                min_size=0, max_size=2))
def test_phase_fuzz(vary):
    """Bad grids fail in milliseconds; small good ones run (the shortest T the verdict serves,
    and the step rule's largest step: with T 11 and dt 0.5 every grid was refused)."""
    args = ["phase", "--T", "100", "--dt", "0.1", "--N", "32", "--scheduler", "serial", "--json",
            "-q", "--chunk-size", "4"]
    for v in vary:
        args += ["--vary", v]
    from astrofield._validate import parse_axis

    try:
        sizes = [parse_axis(v)[1].size for v in vary]
    except ValueError:
        sizes = []
    if sizes and math.prod(sizes) > 6:
        return  # keep examples fast: big valid grids are not what this test is about
    check_outcome(args, PHASE_UNDEFINED)


@settings(max_examples=10, deadline=None)
@given(_mostly(["1", "2"], st.one_of(st.sampled_from(["5", "0", "6", "-1", "1.5", "x"]), num)),
       _mostly(["auto", "full", "adaptive"], st.sampled_from(["half", ""])),
       _mostly(["heaviside", "sigmoid"], st.sampled_from(["tanh", ""])),
       val(5.0, 30.0),
       _mostly(["cosine", "mexican_hat"], st.sampled_from(["box", ""])))
def test_phase_model_and_refinement_fuzz(levels, sampling, firing, steepness, kernel):
    """The options a map of the user's model and the refinement ladder add: a one-point map
    (the shortest T the verdict serves) or a clean refusal."""
    args = ["phase", "--vary", "beta=0.05", "--T", "100", "--dt", "0.1", "--N", "32",
            "--executor", "serial", "--json", "-q", "--refine-levels", levels, "--sampling",
            sampling, "--firing", firing, "--steepness", steepness, "--kernel", kernel]
    check_outcome(args, PHASE_UNDEFINED)


@settings(max_examples=12)
@given(st.sampled_from(["memory", "wander"]), st.one_of(D_t, spec), st.one_of(beta_t, spec),
       st.one_of(st.just("0.05"), num),
       st.sampled_from(["0.5", "cosine", "abc", "0", "-1", "inf"]))
def test_apps_fuzz(cmd, D, beta, sigma, corr):
    """memory and wander on tiny batches: grids, noise amplitudes and correlations."""
    from astrofield._validate import PARAMETER_RANGES, parse_values

    try:
        n = parse_values("D", D, PARAMETER_RANGES).size * parse_values("beta", beta).size
    except ValueError:
        n = 1
    if n > 4:
        return  # keep examples fast
    args = [cmd, "--D", D, "--beta", beta, "--N", "16", "--dt", "0.1", "--json", "-q"]
    if cmd == "memory":
        args += ["--trials", "1", "--delay", "1", "--noise-sigma", sigma]
    else:
        args += ["--trials", "2", "--T", "1", "--sigma", sigma, "--correlation", corr]
    check_outcome(args, allow_undefined=("D_theory", "rms_error", "mean_abs_drift", "D_eff",
                                         "D_lo", "D_hi", "msd_exponent"))


# --------------------------------------------------------------------------- TOML configs
def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else
                                            "-inf" if v == -math.inf else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    return "[" + ", ".join(_toml_value(x) for x in v) + "]"


KEYS = ["theta", "beta", "D", "N", "dt", "T", "pulse", "kernel-param", "kernel", "seed",
        "n-frames", "json", "quiet", "bogus", "output", "plot", "summary-json", "firing"]
toml_scalar = st.one_of(st.booleans(), st.integers(-5, 300), st.floats(allow_nan=True),
                        st.sampled_from(["inf", "0.1", "abc", "1,0.3,1,0,5", "width=0.6",
                                         "gaussian", "x.xyz", "/dev/null", "."]))


@settings(max_examples=25)
@given(st.dictionaries(st.sampled_from(KEYS), st.one_of(toml_scalar,
                                                        st.lists(toml_scalar, max_size=2)),
                       max_size=4))
def test_config_fuzz(tmp_path_factory, cfg):
    """Any config: a result or a usage error naming the key; overrides keep the run tiny."""
    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_text("".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in cfg.items()))
    res = check_outcome(["run", "--config", str(path), "--N", "16", "--T", "0.5", "--dt",
                         "0.1", "--n-frames", "3", "-q", "--json"])
    if res.exit_code == 2 and "config" in res.output and "key" in res.output:
        assert any(repr(k) in res.output or k in res.output for k in cfg), res.output


# --------------------------------------------------------------------------- long profile
long = settings(settings.get_profile("long"))


@pytest.mark.slow
@long
@given(theta_t, beta_t, gamma_t, D_t, st.one_of(st.just("1"), val(0.2, 5.0)))
def test_stability_fuzz_long(theta, beta, gamma, D, tau):
    test_stability_fuzz.hypothesis.inner_test(theta, beta, gamma, D, tau)


@pytest.mark.slow
@settings(settings.get_profile("long"), max_examples=150)
@given(st.dictionaries(st.sampled_from(KEYS), st.one_of(toml_scalar,
                                                        st.lists(toml_scalar, max_size=2)),
                       max_size=5))
def test_config_fuzz_long(tmp_path_factory, cfg):
    test_config_fuzz.hypothesis.inner_test(tmp_path_factory, cfg)


@pytest.mark.slow
@settings(settings.get_profile("long"), max_examples=150)
@given(*RUN_ARGS)
def test_run_fuzz_long(N, T, dt, beta, D, pulses, kparams, kernel):
    test_run_fuzz.hypothesis.inner_test(N, T, dt, beta, D, pulses, kparams, kernel)


# --------------------------------------------------------------------------- hostile files
GUARDED = {"output": "o.nc", "plot": "p.png", "scheduler": "tcp://127.0.0.1:1"}
SUFFIXES = ["nc", "nc4", "netcdf", "h5", "hdf5", "cdf", "mat", "csv", "txt", "png", "", "nc.x",
            "NC", "py"]


@settings(max_examples=15, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(GUARDED) + ["N", "beta"]), st.just(0), max_size=3),
       st.booleans())
def test_config_outputs_need_the_opt_in(tmp_path_factory, keys, allow):
    """A config naming an output or a remote scheduler is refused unless the user opts in."""
    d = tmp_path_factory.mktemp("cfg")
    values = {"N": 16, "beta": 0.05, "output": str(d / "o.nc"), "plot": str(d / "p.png"),
              "scheduler": GUARDED["scheduler"]}
    cfg = d / "c.toml"
    cfg.write_text("[phase]\n" + "".join(f"{k} = {_toml_value(values[k])}\n" for k in keys))
    args = ["phase", "--config", str(cfg), "--vary", "beta=0.1,x", "-q"]  # bad grid: no work
    res = check_outcome(args + (["--allow-config-outputs"] if allow else []))
    assert res.exit_code == 2
    guarded = set(keys) & set(GUARDED)
    assert ("--allow-config-outputs" in res.output) == (bool(guarded) and not allow), res.output


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(SUFFIXES), st.sampled_from(["-o", "--plot"]))
def test_output_suffix_fuzz(suffix, opt):
    """Only the formats a command writes are accepted, before any work (--T 1e9 never runs)."""
    name = "out." + suffix if suffix else "out"
    res = check_outcome(["run", "--T", "1e9", "--dt", "1", opt, name, "-q", "--N", "16"])
    ok = {"-o": {"nc", "nc4", "netcdf", "h5", "hdf5", "cdf", "mat", "csv"},
          "--plot": {"png", "pdf", "svg", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp",
                     "raw", "rgba", "pgf", "svgz"}}[opt]
    if suffix.lower() not in ok:
        assert res.exit_code == 2 and "is not one of" in res.output, res.output
    else:
        assert "is not one of" not in res.output
