"""The command-line conventions: help and examples, --config, --json, -q, output-file safety."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import click
import numpy as np
import pytest
from click.testing import CliRunner

from astrofield.cli import main
from astrofield.io import load, save
from astrofield.io.files import atomic_write, check_output_path
from astrofield.io.jsonio import dumps, from_json_number

TINY_RUN = ["run", "--N", "16", "--T", "0.5", "--dt", "0.1", "--n-frames", "3"]


def invoke(*args):
    return CliRunner().invoke(main, list(args))


# ------------------------------------------------------------------------ help and examples
@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_documents_options_and_an_example(name):
    cmd = main.commands[name]
    assert cmd.help and cmd.epilog and "Example" in cmd.epilog
    assert f"astrofield {name}" in cmd.epilog
    for p in cmd.params:
        if isinstance(p, click.Option):
            assert p.help, f"{name} {p.opts} has no help text"
    names = {o for p in cmd.params for o in getattr(p, "opts", [])}
    assert {"--config", "--json", "-q"} <= names, name
    res = invoke(name, "--help")
    assert res.exit_code == 0 and "Example:" in res.output


def test_defaults_come_from_the_api():
    """dt, N, T, D shown by `run --help` are those of solve/Model (one place)."""
    import inspect

    from astrofield import Model
    from astrofield.simulator.integrator import solve

    sig = inspect.signature(solve).parameters
    ctx = click.Context(main.commands["run"])
    defaults = {p.name: p.get_default(ctx) for p in main.commands["run"].params}
    assert defaults["dt"] == sig["dt"].default and defaults["N"] == sig["N"].default
    assert defaults["T"] == sig["T"].default and defaults["D"] == Model().D


# ------------------------------------------------------------------------ --config
def _cfg(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(textwrap.dedent(text))
    return str(p)


@pytest.mark.parametrize("text, words", [
    ("bogus = 1\n", ["bogus", "unknown"]),
    ("N = 64.5\n", ["'N'", "integer"]),
    ("N = \"64\"\n", ["'N'", "integer"]),
    ("beta = \"abc\"\n", ["'beta'", "number"]),
    ("quiet = 1\n", ["'quiet'", "true or false"]),
    ("kernel = \"box\"\n", ["'kernel'", "box"]),
    ("pulse = [\"1,2\"]\n", ["POSITION"]),
    ("theta = nan\n", ["'theta'", "nan"]),
    ("N = [\n", ["cannot read"]),
    ("output = 107\n", ["'output'", "file name"]),
])
def test_config_errors_name_the_key(tmp_path, text, words):
    res = invoke("run", "--config", _cfg(tmp_path, text), "-q")
    assert res.exit_code == 2, res.output
    for w in words:
        assert w in res.output, (w, res.output)


def test_config_keys_are_option_names_and_cli_wins(tmp_path):
    cfg = _cfg(tmp_path, """\
        N = 32
        T = 0.5
        dt = 0.1
        n-frames = 3
        kernel = "gaussian"
        kernel-param = ["width=0.6"]
        pulse = ["1,0.3,1,0,0.2"]
        D = "inf"
        beta = 0.02
        """)
    out = tmp_path / "r.nc"
    res = invoke("run", "--config", cfg, "--beta", "0.03", "-o", str(out), "--json")
    assert res.exit_code == 0, res.output
    ds = load(out)
    # N 32: the Gaussian of width 0.6 needs it (the kernel's grid rule refuses N 16)
    assert float(ds["beta"]) == 0.03 and np.isinf(float(ds["D"])) and ds.attrs["N"] == 32
    assert "width" in str(ds.attrs["kernel"])


def test_config_table_per_command_and_flags(tmp_path):
    cfg = _cfg(tmp_path, """\
        [phase]
        vary = ["beta=0.01,0.05"]
        no-early-stop = true
        """)
    res = invoke("phase", "--config", cfg, "--T", "100", "--dt", "0.1", "--N", "16",
                 "--scheduler", "serial", "--json")
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["points"] == 2 and obj["early_stop"] is False


# ------------------------------------------------------------------------ JSON and -q
def test_json_is_one_strict_object_and_quiet_keeps_the_result():
    res = invoke(*TINY_RUN, "--D", "inf", "--json", "-q")
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout, parse_constant=lambda c: pytest.fail(c))
    assert obj["wall_s"] > 0 and "drift" in obj
    res = invoke(*TINY_RUN, "-q")
    assert res.exit_code == 0 and "drift" in res.stdout  # -q hides progress, not the result
    res = invoke("stability", "--D", "inf", "--no-spectrum", "--json")
    assert json.loads(res.stdout)["D"] == "inf"


def test_undefined_values_are_null_and_listed():
    res = invoke("boundary", "--theta", "0.1", "--gamma", "2", "--D", "0.3", "--range",
                 "0.5:0.6", "--json")
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["beta_star"] is None and "beta_star" in obj["undefined"]


def test_json_convention_helpers():
    assert dumps({"D": np.inf, "x": np.float32(0.5), "a": np.arange(2)}) == \
        '{"D": "inf", "x": 0.5, "a": [0, 1]}'
    with pytest.raises(ValueError, match="NaN at v"):
        dumps({"v": [1.0, np.nan]})
    assert dumps({"v": np.nan}, nan="null") == '{"v": null}'
    assert from_json_number("-inf") == -np.inf


# ------------------------------------------------------------------------ clean errors
@pytest.mark.parametrize("args, code, words", [
    (["phase", "--vary", "D=0.1", "--scheduler", "foo"], 2, ["foo", "scheduler address"]),
    (["wander", "--correlation", "abc"], 2, ["--correlation", "cosine"]),
    (["wander", "--correlation", "-1"], 2, ["> 0"]),
    ([*TINY_RUN, "--plot", "x.xyz"], 2, ["xyz", "png"]),
    ([*TINY_RUN, "-o", "/nonexistent-dir/x.nc"], 2, ["does not exist"]),
    ([*TINY_RUN, "--theta", "nan"], 2, ["--theta", "not a number"]),
    ([*TINY_RUN, "--N", "1e9"], 2, ["--N"]),
    (["run", "--N", "100000000", "--n-frames", "1000", "-q"], 2, ["GiB", "memory"]),
    (["memory", "--cue", "inf"], 2, ["--cue"]),
    (["run", "--T", "1e300", "--dt", "1e-300", "-q"], 2, ["time steps"]),
    (["wander", "--T", "1e12", "--dt", "1e-3"], 2, ["time steps"]),
    (["stability-map", "--vary", "beta=0.01:0.1:3:log", "--vary", "D=0.1,0.2", "--plot",
      "m.bogus"], 2, ["bogus"]),
])
def test_clean_errors(args, code, words):
    res = invoke(*args)
    assert res.exit_code == code, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    for w in words:
        assert w in res.output, (w, res.output)


def test_non_finite_run_is_a_failure_not_a_result(tmp_path):
    out = tmp_path / "r.nc"
    res = invoke(*TINY_RUN, "--pulse", "0,0.5,1e308,0,1", "-o", str(out), "--json")
    assert res.exit_code == 1 and "non-finite" in res.output and res.stdout == ""
    assert not out.exists()


def test_kernel_not_finite_on_the_grid_is_refused_before_work(tmp_path):
    """A kernel that overflows on the grid (width 1e-300) is bad input: exit 2, nothing
    written, before the run starts (it used to run and fail as non-finite)."""
    out = tmp_path / "r.nc"
    res = invoke(*TINY_RUN, "--kernel", "mexican_hat", "--kernel-param", "s_e=1e-300", "-o",
                 str(out), "--json")
    assert res.exit_code == 2 and "overflows on the grid" in res.output
    assert res.stdout == "" and not out.exists()


def test_output_checked_before_work(tmp_path):
    """A bad output path is refused in milliseconds, not after the run."""
    (tmp_path / "d").mkdir()
    t0 = time.perf_counter()
    res = invoke("run", "--T", "1000", "-o", str(tmp_path / "d"), "-q")
    assert res.exit_code == 2 and "is a directory" in res.output
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if not os.access(ro, os.W_OK):  # (root can write anyway)
        res = invoke("run", "--T", "1000", "-o", str(ro / "x.nc"), "-q")
        assert res.exit_code == 2 and "not writable" in res.output
    assert time.perf_counter() - t0 < 5.0


# ------------------------------------------------------------------------ files
def test_devices_and_directories_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a regular file"):
        check_output_path("/dev/null")
    with pytest.raises(ValueError, match="is a directory"):
        check_output_path(tmp_path)
    with pytest.raises(ValueError, match="file type 'txt'"):
        check_output_path(tmp_path / "a.txt", suffixes={"png"})
    assert os.path.exists("/dev/null") and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_symlink_is_written_through_and_mode_kept(tmp_path):
    import xarray as xr

    target = tmp_path / "real.nc"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "link.nc"
    link.symlink_to(target)
    save(xr.Dataset({"v": ("x", np.arange(3.0))}), link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    np.testing.assert_array_equal(load(target)["v"].values, [0.0, 1.0, 2.0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.nc", "real.nc"]


def test_exception_leaves_no_temp_file(tmp_path):
    def boom(tmp):
        open(tmp, "w").write("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "x.nc", boom)
    assert list(tmp_path.iterdir()) == []


def test_sigterm_removes_the_temp_file(tmp_path):
    """A writer killed by SIGTERM mid-write leaves neither the target nor a temporary file."""
    code = textwrap.dedent(f"""
        import sys, time
        from astrofield.io.files import atomic_write
        def slow(tmp):
            open(tmp, "w").write("partial")
            print("writing", flush=True)
            time.sleep(30)
        atomic_write({str(tmp_path / 'out.nc')!r}, slow)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            env={**os.environ})
    assert proc.stdout.readline().strip() == b"writing"
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == -signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_api_savers_and_plots_check_their_inputs(tmp_path):
    from astrofield.plotting import plot_run

    with pytest.raises(ValueError, match="xarray.Dataset"):
        save({"v": 1}, tmp_path / "x.nc")
    with pytest.raises(ValueError, match="not a regular file"):
        save(__import__("xarray").Dataset(), "/dev/null")
    from astrofield import Model, solve

    ds = solve(Model(D=np.array([0.5, 1.0])), T=0.2, dt=0.1, N=16, n_frames=2, progress=False)
    with pytest.raises(ValueError, match=r"member = 2 is outside the allowed range \[0, 1\]"):
        plot_run(ds, member=2)


def test_config_top_level_keys_merge_with_the_command_table(tmp_path):
    """A top-level key beside a [run] table used to be ignored; now the command reads both,
    its table winning, and other commands' tables are not read."""
    cfg = _cfg(tmp_path, """\
        beta = 0.07
        gamma = 1.5
        [run]
        N = 32
        T = 0.5
        dt = 0.1
        n-frames = 3
        gamma = 2.5
        [phase]
        chunk-size = 7
        """)
    out = tmp_path / "r.nc"
    res = invoke("run", "--config", cfg, "-o", str(out), "--json")
    assert res.exit_code == 0, res.output
    ds = load(out)
    assert float(ds["beta"]) == 0.07 and float(ds["gamma"]) == 2.5 and ds.attrs["N"] == 32


def test_no_escape_codes_on_a_terminal_stdout():
    """On a terminal, stdout carries the result only: numba's colorama used to append
    "\\x1b[0m" at exit (now switched off by the command line before numba is imported)."""
    from pathlib import Path

    master, slave = os.openpty()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    env.pop("NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING", None)
    proc = subprocess.run([sys.executable, "-m", "astrofield", "run", "--N", "32", "--T", "0.5",
                           "--dt", "0.1", "--n-frames", "3", "-q", "--json"], stdout=slave,
                          stderr=subprocess.DEVNULL, env=env, timeout=300)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.returncode == 0 and b'"drift"' in out
    assert b"\x1b[" not in out, out[-80:]
