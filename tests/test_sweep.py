"""Sweep engine: grid parsing/validation, executors, chunked store and resume."""

from __future__ import annotations

import concurrent.futures as cf
import functools
import json
import os
import threading

import numpy as np
import pytest
import xarray as xr

from astrofield.experiments.sweep import Grid, make_grid, parse_axis, parts_dir, run_sweep


# --------------------------------------------------------------------------- parsing
def test_parse_range_list_and_inf():
    name, v = parse_axis("D=0.001:0.6:50")
    assert name == "D" and v.size == 50 and v[0] == 0.001 and v[-1] == 0.6
    assert parse_axis("D=0.1,0.6")[1].tolist() == [0.1, 0.6]
    assert np.isinf(parse_axis("D=inf")[1]).all()
    assert parse_axis(" beta = 0.05 ")[1].tolist() == [0.05]
    assert parse_axis("D=0.5,inf")[1].tolist() == [0.5, np.inf]
    assert parse_axis("gamma=1:1.6:1")[1].tolist() == [1.0]


@pytest.mark.parametrize("spec, words", [
    ("D=0.1:0.1:5", ["D", "empty", "0.1"]),
    ("alpha=0.1:0.2:3", ["alpha", "allowed", "beta", "D", "gamma", "theta"]),
    ("D=0.1:0.6:0", ["D", "count", "0", ">= 1"]),
    ("D=0.1:0.6:-3", ["D", "count", "-3"]),
    ("D=0.1:0.6:2.5", ["D", "count", "2.5"]),
    ("D0.1:0.6:5", ["malformed", "NAME=start:stop:count"]),
    ("D=0.1:0.6", ["D", "malformed", "start:stop:count"]),
    ("D=a,b", ["D", "'a'", "not a number"]),
    ("D=", ["D", "no values"]),
    ("theta=0.5:1.5:3", ["theta", "1.5", "(0, 1)"]),
    ("beta=-0.1,0.2", ["beta", "-0.1", "(0, inf)"]),
    ("gamma=inf", ["gamma", "inf"]),
    ("D=0.1,0.1", ["D", "repeated"]),
])
def test_parse_errors_are_clear(spec, words):
    with pytest.raises(ValueError) as exc:
        parse_axis(spec)
    for w in words:
        assert w in str(exc.value), (w, str(exc.value))


def test_make_grid_errors():
    with pytest.raises(ValueError, match="'D' is swept twice"):
        make_grid(["D=0.1,0.2", "D=0.3,0.4"])
    with pytest.raises(ValueError, match="no parameter is swept"):
        make_grid([])
    with pytest.raises(ValueError, match="at most 2"):
        make_grid(["D=0.1,0.2", "beta=0.1", "gamma=1,2"], max_dims=2)
    with pytest.raises(ValueError, match="theta = 2"):
        make_grid(["D=0.1,0.2"], {"theta": 2.0})


def test_grid_points_and_chunks():
    g = make_grid(["D=0.1,0.2,0.3", "beta=0.01,0.02"], {"gamma": 2.0, "D": 5.0})
    assert g.dims == ("D", "beta") and g.shape == (3, 2) and g.size == 6
    assert g.fixed == {"gamma": 2.0}  # a swept parameter is not also fixed
    p = g.points(1, 4)
    assert p["D"].tolist() == [0.1, 0.2, 0.2] and p["beta"].tolist() == [0.02, 0.01, 0.02]
    assert g.chunks(4) == [(0, 4), (4, 6)]
    with pytest.raises(ValueError, match="chunk_size = 0"):
        g.chunks(0)


# --------------------------------------------------------------------------- engine
CALLS: list[tuple[float, ...]] = []


def toy(D, beta, gamma=1.0, scale=1.0):
    """A cheap batched 'experiment' (module level, so it pickles)."""
    D, beta = np.asarray(D), np.asarray(beta)
    return xr.Dataset({"f": ("point", scale * (D * 10 + beta) * gamma),
                       "trace": (("point", "k"), np.outer(D, np.arange(3.0)))})


def counting_toy(D, beta, gamma=1.0, log=None):
    with open(log, "a") as fh:
        fh.write(json.dumps([float(D[0]), len(D)]) + "\n")
    return toy(D, beta, gamma)


def _grid():
    return make_grid(["D=1:4:4", "beta=0.1,0.2,0.3"], {"gamma": 2.0})


def _expected(grid):
    D, b = np.meshgrid(grid.axes["D"], grid.axes["beta"], indexing="ij")
    return (D * 10 + b) * 2.0


def test_serial_result_layout():
    g = _grid()
    ds = run_sweep(toy, g, chunk_size=5, progress=False)
    assert ds["f"].dims == ("D", "beta")
    np.testing.assert_allclose(ds["f"].values, _expected(g))
    assert ds["trace"].dims == ("D", "beta", "k")
    np.testing.assert_allclose(ds["D"].values, g.axes["D"])
    assert ds.attrs["param_gamma"] == 2.0 and "astrofield_version" in ds.attrs


def test_dict_result_and_bad_function():
    g = _grid()
    ds = run_sweep(lambda D, beta, gamma: {"s": D + beta}, g, chunk_size=7, progress=False)
    np.testing.assert_allclose(ds["s"].values, _expected(g) / 2 - 9 * g.axes["D"][:, None])
    with pytest.raises(ValueError, match="point = 2"):
        run_sweep(lambda D, beta, gamma: {"s": np.zeros(2)}, g, chunk_size=5, progress=False)


def test_concurrent_futures_executor_matches_serial():
    g = _grid()
    ref = run_sweep(toy, g, chunk_size=5, progress=False)
    with cf.ThreadPoolExecutor(2) as ex:
        got = run_sweep(toy, g, executor=ex, chunk_size=2, progress=False)
    xr.testing.assert_allclose(ref[["f", "trace"]], got[["f", "trace"]])


def test_store_written_atomically_and_parts_removed(tmp_path):
    g = _grid()
    out = tmp_path / "map.nc"
    ds = run_sweep(toy, g, chunk_size=5, store=out, progress=False)
    assert out.exists() and not parts_dir(out).exists()
    back = xr.open_dataset(out, engine="h5netcdf").load()
    np.testing.assert_allclose(back["f"].values, ds["f"].values)
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


class Crash(RuntimeError):
    pass


def test_resume_after_crash_computes_each_chunk_once(tmp_path):
    g = _grid()  # 12 points, chunk 5 -> 3 chunks
    log = tmp_path / "calls.log"
    func = functools.partial(counting_toy, log=str(log))
    out = tmp_path / "map.nc"

    def crash_after_first(i, ds):
        raise Crash(f"simulated crash after chunk {i}")

    with pytest.raises(Crash):
        run_sweep(func, g, chunk_size=5, store=out, progress=False, on_chunk=crash_after_first)
    parts = parts_dir(out)
    assert sorted(p.name for p in parts.iterdir()) == ["chunk-000000.nc", "manifest.json"]
    assert not out.exists()
    # starting over without resume is refused instead of mixing runs
    with pytest.raises(FileExistsError, match="resume"):
        run_sweep(func, g, chunk_size=5, store=out, progress=False)
    # a different sweep cannot resume this store
    with pytest.raises(ValueError, match="cannot resume"):
        run_sweep(func, g, chunk_size=4, store=out, resume=True, progress=False)
    ds = run_sweep(func, g, chunk_size=5, store=out, resume=True, progress=False)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    # 12 points, at most 5 per chunk -> 3 equal chunks of 4: D of their first points 0, 4, 8
    assert sorted(c[0] for c in calls) == [1.0, 2.0, 3.0]
    assert sum(c[1] for c in calls) == g.size  # every point computed exactly once
    ref = run_sweep(toy, g, chunk_size=5, progress=False)
    np.testing.assert_allclose(ds["f"].values, ref["f"].values)
    stored = xr.open_dataset(out, engine="h5netcdf").load()
    np.testing.assert_allclose(stored["f"].values, ref["f"].values)
    # resuming a finished store computes nothing
    again = run_sweep(func, g, chunk_size=5, store=out, resume=True, progress=False)
    assert len(log.read_text().splitlines()) == 3
    np.testing.assert_allclose(again["f"].values, ref["f"].values)


def test_keyboard_interrupt_keeps_finished_chunks(tmp_path):
    g = _grid()
    out = tmp_path / "m.nc"
    seen = []

    def interrupt(i, ds):
        seen.append(i)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(toy, g, chunk_size=5, store=out, progress=False, on_chunk=interrupt)
    names = sorted(p.name for p in parts_dir(out).iterdir())
    assert names == ["chunk-000000.nc", "chunk-000001.nc", "manifest.json"]
    ds = run_sweep(toy, g, chunk_size=5, store=out, resume=True, progress=False,
                   on_chunk=lambda i, d: seen.append(i))
    assert seen == [0, 1, 2]
    np.testing.assert_allclose(ds["f"].values, _expected(g))


def test_bad_executor():
    with pytest.raises(ValueError, match="executor = 'gpu' is not one of None, 'serial', "
                       "'threads'"):
        run_sweep(toy, _grid(), executor="gpu", progress=False)
    with pytest.raises(TypeError, match="Grid"):
        run_sweep(toy, {"D": [1]}, progress=False)
    assert isinstance(_grid(), Grid)


def test_dask_local_cluster_matches_in_process():
    """Two worker processes give exactly the in-process numbers (real drift experiment)."""
    distributed = pytest.importorskip("distributed")
    from astrofield.experiments.phase import _chunk

    g = make_grid(["D=0.05,0.6", "beta=0.01,0.05"], {"theta": 0.1, "gamma": 2.0})
    func = functools.partial(_chunk, T=100.0, N=32, dt=0.1, eps=0.05, early_stop=False)
    ref = run_sweep(func, g, chunk_size=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = run_sweep(func, g, executor=client, chunk_size=2, progress=False)
    # bit for bit on one machine: the workers run the serial compiled loop, the in-process
    # sweep the parallel one; neither carries fast-math flags, so both round every operation
    # the same (docs/reliability.md, "Identical numbers and ulp bounds")
    for k in ("drift", "velocity", "width", "evans_dprime"):
        np.testing.assert_array_equal(got[k].values, ref[k].values)
    assert (got["verdict"].values == ref["verdict"].values).all()
    assert got.attrs["sweep_executor"] == "dask"


def test_thread_executor_matches_in_process():
    """``executor="threads"``: chunks on a pool of threads give exactly the serial numbers
    (real drift experiment with error control), the simulator runs each chunk on its own
    thread with the single-thread loop, and that loop releases the GIL. With two workers the
    six points are cut into other chunks (1, 2, 1, 2 points instead of 2, 2, 2): a point's
    numbers do not depend on the batch it runs in (the initial bump position was once a
    matrix product whose rounding depended on the number of rows)."""
    from astrofield.experiments.phase import _chunk
    from astrofield.simulator.backends import numba_backend, numba_loop

    g = make_grid(["D=0.05,0.3,0.6", "beta=0.01,0.05"], {"theta": 0.1, "gamma": 2.0})
    func = functools.partial(_chunk, T=100.0, N=64, dt=0.1, eps=0.05, early_stop=True,
                             error_control=True, refine_tol=0.05)
    ref = run_sweep(func, g, chunk_size=2, progress=False)
    got = run_sweep(func, g, executor="threads", workers=2, chunk_size=2, progress=False)
    for k in ("drift", "velocity", "drift_error", "width", "t_final", "evans_dprime"):
        np.testing.assert_array_equal(got[k].values, ref[k].values)
    assert (got["verdict"].values == ref["verdict"].values).all()
    assert got.attrs["sweep_executor"] == "threads" and got.attrs["sweep_workers"] == 2
    # off the main thread a batch runs on the calling thread, with the GIL released
    seen = []
    worker = threading.Thread(target=lambda: seen.append(numba_backend._parallel(8)))
    worker.start()
    worker.join()
    assert seen == [False] and numba_backend._parallel(8)
    assert numba_loop.run_chunk_serial.targetoptions.get("nogil") is True
    assert numba_loop.observe_all_serial.targetoptions.get("nogil") is True


def test_balanced_chunks_give_every_worker_equal_work():
    g = make_grid(["D=0.1:0.6:50", "beta=0.01:0.1:50"])  # 2500 points
    for workers in (1, 2, 3, 16):
        chunks = g.balanced_chunks(125, workers)
        sizes = [b - a for a, b in chunks]
        assert len(chunks) % workers == 0 and max(sizes) <= 125
        assert max(sizes) - min(sizes) <= 1
        assert chunks[0][0] == 0 and chunks[-1][1] == 2500
        assert all(a == pb for (a, _), (_, pb) in zip(chunks[1:], chunks[:-1], strict=True))
    assert g.balanced_chunks(125, 16)[0] == (0, 78)  # 32 chunks of 78 or 79 points


class InlineExecutor(cf.Executor):
    """A minimal user-written executor: runs each task at submission."""

    def submit(self, fn, *args, **kwargs):
        fut = cf.Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


def test_any_concurrent_futures_executor_plugs_in():
    g = _grid()
    ds = run_sweep(toy, g, executor=InlineExecutor(), workers=3, chunk_size=5, progress=False)
    np.testing.assert_allclose(ds["f"].values, _expected(g))
    assert ds.attrs["sweep_executor"] == "futures"
    assert len(json.loads(ds.attrs["sweep_manifest"])["chunks"]) == 3
