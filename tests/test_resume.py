"""Resumed sweeps verify every stored chunk and recompute (with a message) what is not intact."""

from __future__ import annotations

import functools
import json
import shutil

import numpy as np
import pytest
import xarray as xr

from astrofield.experiments.sweep import checksum, make_grid, parts_dir, run_sweep
from astrofield.io import load, save


def toy(D, beta, gamma=1.0, log=None):
    """Cheap batched function; logs the first D of each call (module level: picklable)."""
    D, beta = np.asarray(D, float), np.asarray(beta, float)
    if log is not None:
        with open(log, "a") as fh:
            fh.write(json.dumps([float(D[0]), len(D)]) + "\n")
    return xr.Dataset({"f": ("point", (D * 10 + beta) * gamma),
                       "label": ("point", np.where(D > 2, "big", "small")),
                       "flag": ("point", D > 2)})


def _grid(first=1.0):
    return make_grid([f"D={first}:4:4", "beta=0.1,0.2,0.3"], {"gamma": 2.0})


def _expected(grid):
    D, b = np.meshgrid(grid.axes["D"], grid.axes["beta"], indexing="ij")
    return (D * 10 + b) * 2.0


class Stop(RuntimeError):
    pass


def _interrupted(tmp_path, grid, n_chunks=2, log=None):
    """A store with the first ``n_chunks`` of 3 chunks finished."""
    out = tmp_path / "map.nc"

    def stop(i, ds):
        if i + 1 == n_chunks:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(functools.partial(toy, log=log), grid, chunk_size=4, store=out,
                  progress=False, on_chunk=stop)
    return out


def _calls(log):
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


def _resume(out, grid, log):
    return run_sweep(functools.partial(toy, log=str(log)), grid, chunk_size=4, store=out,
                     resume=True, progress=False)


def test_checksum_survives_netcdf_round_trip(tmp_path):
    ds = toy([1.0, 3.0], [0.1, 0.2])
    save(ds, tmp_path / "c.nc")
    assert checksum(load(tmp_path / "c.nc")) == checksum(ds)
    assert checksum(ds.assign(f=ds["f"] + 1e-15)) != checksum(ds)


def test_missing_manifest_and_other_grid_never_merges_foreign_chunks(tmp_path, capsys):
    old = _grid(1.0)
    out = _interrupted(tmp_path, old)
    (parts_dir(out) / "manifest.json").unlink()
    new = _grid(5.0)  # same shape and chunking, other coordinates
    log = tmp_path / "calls.log"
    ds = _resume(out, new, log)
    np.testing.assert_allclose(ds["f"].values, _expected(new))
    assert sum(c[1] for c in _calls(log)) == new.size  # every point recomputed
    err = capsys.readouterr().err
    assert "manifest.json is missing" in err and err.count("from another sweep") == 2


def test_truncated_chunk_is_recomputed_and_later_resumes_work(tmp_path, capsys):
    g = _grid()
    out = _interrupted(tmp_path, g)
    c0 = parts_dir(out) / "chunk-000000.nc"
    c0.write_bytes(c0.read_bytes()[: c0.stat().st_size // 2])
    log = tmp_path / "calls.log"
    ds = _resume(out, g, log)
    np.testing.assert_allclose(ds["f"].values, _expected(g))
    assert sorted(c[0] for c in _calls(log)) == [1.0, 3.0]  # chunk 0 again, chunk 2 new
    err = capsys.readouterr().err
    assert "recomputing chunk 0" in err and "truncated" in err
    assert load(out)["label"].values.tolist()[0] == ["small"] * 3


def test_corrupted_or_misplaced_chunk_is_recomputed(tmp_path, capsys):
    g = _grid()
    out = _interrupted(tmp_path, g)
    parts = parts_dir(out)
    c0, c1 = parts / "chunk-000000.nc", parts / "chunk-000001.nc"
    bad = load(c0)
    bad["f"].values[0] += 1.0  # data changed after the checksum was taken
    save(bad, c0)
    shutil.copy(c1, parts / "chunk-000002.nc")  # chunk 1's data under chunk 2's name
    log = tmp_path / "calls.log"
    ds = _resume(out, g, log)
    np.testing.assert_allclose(ds["f"].values, _expected(g))
    err = capsys.readouterr().err
    assert "recomputing chunk 0" in err and "checksum mismatch" in err
    assert "recomputing chunk 2" in err and "does not hold points 8:12" in err
    assert sorted(c[0] for c in _calls(log)) == [1.0, 3.0]


def test_unreadable_manifest_and_truncated_final_store(tmp_path, capsys):
    g = _grid()
    out = _interrupted(tmp_path, g)
    (parts_dir(out) / "manifest.json").write_text("{not json")
    log = tmp_path / "calls.log"
    _resume(out, g, log)
    assert "unreadable" in capsys.readouterr().err
    assert [c[0] for c in _calls(log)] == [3.0]  # the intact chunks 0 and 1 are kept
    out.write_bytes(out.read_bytes()[:100])  # the finished store is truncated
    ds = _resume(out, g, log)
    assert "cannot read" in capsys.readouterr().err
    np.testing.assert_allclose(ds["f"].values, _expected(g))
    np.testing.assert_allclose(load(out)["f"].values, _expected(g))


def test_finished_store_of_another_sweep_is_replaced_not_returned(tmp_path, capsys):
    out = tmp_path / "map.nc"
    run_sweep(toy, _grid(1.0), chunk_size=4, store=out, progress=False)
    new = _grid(5.0)
    ds = run_sweep(toy, new, chunk_size=4, store=out, resume=True, progress=False)
    np.testing.assert_allclose(ds["f"].values, _expected(new))
    assert "holds a different sweep" in capsys.readouterr().err
