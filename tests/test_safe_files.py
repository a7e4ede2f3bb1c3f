"""Safe files (issue 24, item 5): symbolic links, config outputs, bounded config reads, output
suffixes, resume deleting only its own files, temporary files and interruptions."""

from __future__ import annotations

import functools
import json
import os
import signal
import stat
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from astrofield.cli import main
from astrofield.experiments.sweep import make_grid, parts_dir, run_sweep
from astrofield.io import load, save
from astrofield.io.files import (
    atomic_write,
    check_output_path,
    read_bounded,
    remove_stale_temps,
    temp_name,
)

TINY_RUN = ["run", "--N", "16", "--T", "0.5", "--dt", "0.1", "--n-frames", "3"]
OTHER_UID = 65534  # "nobody": the owner of the planted link
SRC = Path(__file__).resolve().parents[1] / "src" / "astrofield"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _ds():
    return xr.Dataset({"v": ("x", np.arange(3.0))})


@pytest.fixture
def sticky(tmp_path):
    """A shared sticky directory like /tmp (mode 1777) and a root-owned victim file."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    victim = tmp_path / "victim.nc"
    victim.write_bytes(b"precious")
    return shared, victim


def _plant(link: Path, target: Path, uid: int) -> Path:
    link.symlink_to(target)
    os.lchown(link, uid, -1)
    return link


# ------------------------------------------------------------------------ symbolic links
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a link another owner")
def test_other_users_link_in_sticky_dir_is_refused(sticky):
    shared, victim = sticky
    link = _plant(shared / "out.nc", victim, OTHER_UID)
    with pytest.raises(ValueError, match=r"owned by another user \(uid 65534\).*sticky"):
        check_output_path(link)
    with pytest.raises(ValueError, match="owned by another user"):
        save(_ds(), link)
    t0 = time.perf_counter()
    res = invoke(*TINY_RUN, "-o", link, "-q")
    assert res.exit_code == 2 and "owned by another user" in res.output
    assert time.perf_counter() - t0 < 5
    res = invoke(*TINY_RUN, "--plot", _plant(shared / "f.png", victim, OTHER_UID), "-q")
    assert res.exit_code == 2 and "owned by another user" in res.output
    assert victim.read_bytes() == b"precious" and link.is_symlink()
    assert sorted(p.name for p in shared.iterdir()) == ["f.png", "out.nc"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a link another owner")
def test_own_link_in_sticky_dir_and_other_users_link_elsewhere_are_followed(sticky, tmp_path):
    shared, victim = sticky
    own = shared / "own.nc"
    own.symlink_to(victim)
    save(_ds(), own)
    np.testing.assert_array_equal(load(victim)["v"].values, [0.0, 1.0, 2.0])
    assert own.is_symlink()
    victim.write_bytes(b"precious")
    plain = tmp_path / "plain"  # not sticky, not world-writable: the kernel's rule follows it
    plain.mkdir()
    link = _plant(plain / "x.nc", victim, OTHER_UID)
    assert check_output_path(link) == victim


def test_link_to_missing_file_is_refused_and_own_link_written_through(tmp_path):
    dangling = tmp_path / "d.nc"
    dangling.symlink_to(tmp_path / "nowhere" / "new.nc")
    with pytest.raises(ValueError, match="link to a missing file"):
        save(_ds(), dangling)
    assert not (tmp_path / "nowhere").exists()
    target = tmp_path / "real.nc"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "sub" / "link.nc"
    link.parent.mkdir()
    link.symlink_to(Path("..") / "real.nc")  # relative link, resolved by the kernel
    assert save(_ds(), link) == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and link.is_symlink()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["d.nc", "link.nc", "real.nc", "sub"]


def test_temporary_file_is_created_exclusively_in_the_directory(tmp_path):
    seen = []

    def write(tmp):
        seen.append(tmp)
        st = os.stat(tmp, follow_symlinks=False)
        assert stat.S_ISREG(st.st_mode) and st.st_size == 0 and stat.S_IMODE(st.st_mode) == 0o600
        assert os.path.samefile(os.path.dirname(tmp), tmp_path)
        Path(tmp).write_text("data")

    atomic_write(tmp_path / "a.nc", write)
    assert Path(seen[0]).name.startswith(".a.nc.astrofield-") and seen[0].endswith(".tmp")
    assert [p.name for p in tmp_path.iterdir()] == ["a.nc"]


# ------------------------------------------------------------------------ temporaries
def _dead_pid():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    dead = temp_name("out.nc").replace(f"-{os.getpid()}-", f"-{_dead_pid()}-")
    alive = temp_name("out.nc")  # this process: a write in progress
    foreign = f".out.nc.astrofield-zzzzzzzz-{_dead_pid()}-ab.tmp"  # another machine's
    other_user = temp_name("out.nc").replace(f"-{os.getpid()}-", f"-{_dead_pid()}-")
    unrelated = ".other.nc.astrofield-00000000-1-ab.tmp"
    for name in (dead, alive, foreign, other_user, unrelated):
        (tmp_path / name).write_text("x")
    if os.geteuid() == 0:
        os.chown(tmp_path / other_user, OTHER_UID, -1)
    save(_ds(), tmp_path / "out.nc")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert dead not in left and "out.nc" in left
    assert alive in left and unrelated in left and foreign in left
    assert (other_user in left) == (os.geteuid() == 0)
    assert remove_stale_temps(tmp_path, "out.nc") == []


def test_sigint_swallowed_by_the_writer_is_still_an_interruption(tmp_path):
    def write(tmp):
        Path(tmp).write_text("partial")
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        except KeyboardInterrupt:  # a library that catches everything
            pass

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "x.nc", write)
    assert list(tmp_path.iterdir()) == []


def test_cli_interrupt_during_final_write_exits_130(tmp_path, monkeypatch):
    import astrofield.io as io

    def interrupted_save(ds, path, **kw):
        def write(tmp):
            Path(tmp).write_text("partial")
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)

        return atomic_write(path, write)

    monkeypatch.setattr(io, "save", interrupted_save)
    res = invoke(*TINY_RUN, "-o", tmp_path / "r.nc", "-q")
    assert res.exit_code == 130 and "interrupted" in res.output, res.output
    assert "FileNotFoundError" not in res.output and "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


def test_quiet_hides_warnings_but_not_errors(tmp_path):
    import warnings

    args = [*TINY_RUN, "--pulse", "0,0.5,1e308,0,1", "--json"]
    for quiet, expect in ((False, 1), (True, 0)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = invoke(*args, *(["-q"] if quiet else []))
        assert res.exit_code == 1 and "non-finite" in res.output  # the error is never hidden
        names = [type(w.message).__name__ for w in caught]
        assert names.count("NonFiniteWarning") == expect, names


def test_figures_are_saved_only_through_the_atomic_helper():
    """``savefig`` is called in one place, :func:`astrofield.plotting.save_figure`."""
    hits = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
            if ".savefig(" in p.read_text()]
    assert hits == ["plotting/__init__.py"]


# ------------------------------------------------------------------------ output suffixes
@pytest.mark.parametrize("name", ["x.txt", "x", "x.png", "x.nc.bak"])
def test_output_suffix_checked_before_work(tmp_path, name):
    t0 = time.perf_counter()
    res = invoke("run", "--T", "1000", "-o", tmp_path / name, "-q")
    assert res.exit_code == 2 and "is not one of" in res.output
    assert "nc, nc4, netcdf" in res.output.replace("\n", " ")
    assert time.perf_counter() - t0 < 5 and list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="is not one of"):
        save(_ds(), tmp_path / name)


@pytest.mark.parametrize("suffix", ["nc", "nc4", "netcdf", "h5", "HDF5", "cdf"])
def test_netcdf_suffixes_are_accepted(tmp_path, suffix):
    path = save(_ds(), tmp_path / f"x.{suffix}")
    np.testing.assert_array_equal(load(path)["v"].values, [0.0, 1.0, 2.0])


def test_phase_refuses_export_suffixes_and_others(tmp_path):
    res = invoke("phase", "--vary", "beta=0.01,0.02", "-o", tmp_path / "m.mat")
    assert res.exit_code == 2 and "export" in res.output
    res = invoke("phase", "--vary", "beta=0.01,0.02", "-o", tmp_path / "m.zip")
    assert res.exit_code == 2 and "is not one of" in res.output
    with pytest.raises(ValueError, match="is not one of"):
        run_sweep(lambda beta: {"f": beta}, make_grid(["beta=0.1,0.2"]), store=tmp_path / "m")


# ------------------------------------------------------------------------ configs
def _config(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, key", [
    ('output = "/etc/passwd.nc"\n', "output"),
    ('[run]\nplot = "x.png"\n', "plot"),
])
def test_config_cannot_name_outputs(tmp_path, text, key):
    cfg = _config(tmp_path, text.replace("x.png", str(tmp_path / "x.png")))
    res = invoke(*TINY_RUN, "--config", cfg, "-q")
    assert res.exit_code == 2 and "--allow-config-outputs" in res.output and key in res.output
    assert not (tmp_path / "x.png").exists()


def test_config_outputs_with_opt_in_in_any_order(tmp_path):
    out = tmp_path / "r.nc"
    cfg = _config(tmp_path, f'output = "{out}"\n')
    for args in (["--config", cfg, "--allow-config-outputs"],
                 ["--allow-config-outputs", "--config", cfg]):
        out.unlink(missing_ok=True)
        res = invoke(*TINY_RUN, *args, "-q")
        assert res.exit_code == 0, res.output
        assert out.exists()
    bad = _config(tmp_path, 'output = "r.txt"\n')  # still checked: the suffix
    res = invoke(*TINY_RUN, "--config", bad, "--allow-config-outputs", "-q")
    assert res.exit_code == 2 and "is not one of" in res.output


def test_config_cannot_name_a_remote_scheduler(tmp_path):
    cfg = _config(tmp_path, '[phase]\nscheduler = "tcp://10.0.0.1:8786"\n')
    res = invoke("phase", "--vary", "beta=0.01,0.02", "--config", cfg)
    assert res.exit_code == 2 and "scheduler" in res.output
    assert "--allow-config-outputs" in res.output
    res = invoke("figure", "7", "--config", _config(tmp_path, f'outdir = "{tmp_path}"\n'))
    assert res.exit_code == 2 and "outdir" in res.output


def test_config_cannot_name_a_remote_executor(tmp_path):
    """The new option name (--executor, the API's) is guarded like the old --scheduler."""
    cfg = _config(tmp_path, '[phase]\nexecutor = "tcp://10.0.0.1:8786"\n')
    res = invoke("phase", "--vary", "beta=0.01:0.05:3", "--config", str(cfg))
    assert res.exit_code == 2 and "executor" in res.output
    assert "--allow-config-outputs" in res.output


def test_config_with_a_local_scheduler_is_allowed():
    from astrofield.cli._common import _guarded_keys

    by_key = {k: type("P", (), {"name": k})() for k in ("scheduler", "N")}
    assert _guarded_keys({"scheduler": "serial", "N": 3}, by_key) == []
    assert _guarded_keys({"scheduler": "host:1"}, by_key) == ["scheduler"]


def test_config_reads_are_bounded_and_regular_files_only(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    t0 = time.perf_counter()
    for path, words in ((fifo, "not a regular file"), ("/dev/zero", "not a regular file"),
                        (tmp_path, "")):
        res = invoke(*TINY_RUN, "--config", path, "-q")
        assert res.exit_code == 2 and words in res.output, res.output
    assert time.perf_counter() - t0 < 5
    big = _config(tmp_path, "# " + "x" * (1 << 20) + "\nN = 16\n")
    res = invoke(*TINY_RUN, "--config", big, "-q")
    assert res.exit_code == 2 and "larger than 1048576 bytes" in res.output
    assert read_bounded(big, 2 << 20).endswith(b"N = 16\n")
    with pytest.raises(ValueError, match="larger than 10 bytes"):
        read_bounded(big, 10)


# ------------------------------------------------------------------------ resume
def toy(beta, D=1.0):
    beta = np.asarray(beta, float)
    return xr.Dataset({"f": ("point", beta * D)})


class Stop(RuntimeError):
    pass


def _interrupted(out, grid):
    def stop(i, ds):
        if i == 0:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(toy, grid, chunk_size=2, store=out, progress=False, on_chunk=stop)


def test_manifest_lists_the_files_the_sweep_wrote(tmp_path):
    grid = make_grid(["beta=0.1:0.6:6"])
    out = tmp_path / "map.nc"
    _interrupted(out, grid)
    man = json.loads((parts_dir(out) / "manifest.json").read_text())
    import hashlib

    data = (parts_dir(out) / "chunk-000000.nc").read_bytes()
    assert man["files"] == {"chunk-000000.nc": hashlib.sha256(data).hexdigest()}


def test_resume_keeps_files_it_did_not_write(tmp_path, capsys):
    grid = make_grid(["beta=0.1:0.6:6"])
    out = tmp_path / "map.nc"
    _interrupted(out, grid)
    parts = parts_dir(out)
    (parts / "notes.txt").write_text("mine")
    (parts / "chunk-000099.nc").write_text("also mine")
    ds = run_sweep(toy, grid, chunk_size=2, store=out, resume=True, progress=False)
    np.testing.assert_allclose(ds["f"].values, grid.axes["beta"])
    assert sorted(p.name for p in parts.iterdir()) == ["chunk-000099.nc", "notes.txt"]
    assert (parts / "notes.txt").read_text() == "mine"
    assert "kept" in capsys.readouterr().err


def test_resume_refuses_to_delete_a_foreign_file_in_a_chunks_place(tmp_path):
    grid = make_grid(["beta=0.1:0.6:6"])
    out = tmp_path / "map.nc"
    _interrupted(out, grid)
    foreign = parts_dir(out) / "chunk-000001.nc"
    foreign.write_text("user data")
    with pytest.raises(ValueError, match="not written by a sweep"):
        run_sweep(toy, grid, chunk_size=2, store=out, resume=True, progress=False)
    assert foreign.read_text() == "user data"


def test_resume_still_deletes_its_own_damaged_chunk(tmp_path):
    grid = make_grid(["beta=0.1:0.6:6"])
    out = tmp_path / "map.nc"
    _interrupted(out, grid)
    c0 = parts_dir(out) / "chunk-000000.nc"
    c0.write_bytes(c0.read_bytes()[:50])  # listed in the manifest: ours, so recomputed
    calls = []
    ds = run_sweep(functools.partial(_logged, calls), grid, chunk_size=2, store=out,
                   resume=True, progress=False)
    np.testing.assert_allclose(ds["f"].values, grid.axes["beta"])
    assert len(calls) == 3 and not parts_dir(out).exists()


def _logged(calls, beta):
    calls.append(len(beta))
    return toy(beta)
