"""Start-up: a run imports only what it needs, and the fast dataset construction changes nothing.

The import checks run in a fresh interpreter (``sys.modules`` of this test process holds whatever
other tests imported). They fail if, e.g., ``import xarray`` returns to the top of the integrator,
the dataset is built in a way that makes xarray import dask, tqdm is imported for ``-q``, or a
single-member run dispatches the ``parallel=True`` loop (which starts numba's threading layer).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import astrofield
import astrofield.simulator.integrator as integ
from astrofield.model.definition import Model
from astrofield.simulator.trackers import DemandTracker

SRC = str(Path(astrofield.__file__).resolve().parents[1])
KW = dict(T=1.0, dt=0.1, N=16, n_frames=4, progress=False, backend="numpy")


def _fresh_python(code: str) -> dict:
    """Run ``code`` in a new interpreter importing this source tree; returns its JSON line."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]))
    env.pop("TQDM_DISABLE", None)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _plain_dataset(sol: integ.Solution) -> xr.Dataset:
    """The dataset built the ordinary way: ``(dims, values, attrs)`` tuples and plain arrays
    for the coordinates (xarray's default path, which probes for dask arrays)."""
    model, run = sol.model, sol.run
    B = model.batch_size
    data_vars = {k: v for k, v in integ._data_vars(model, run, sol.bump).items()}
    coords = {"time": run.frames * run.dt, "x": run.sim.ring.x}
    for name in ("theta", "beta", "gamma", "tau", "D", "steepness"):
        coords[name] = ("batch", model.param(name, B)[:, 0])
    ds = xr.Dataset(data_vars, coords=coords)
    ref = sol.to_dataset()
    ds.attrs.update(ref.attrs)  # the attributes are not built by xarray: same dict either way
    return ds if model.is_batched else ds.isel(batch=0)


@pytest.mark.parametrize("case", ["single", "batch", "tracker"])
def test_fast_dataset_is_identical_to_the_plain_construction(case):
    model = Model(beta=np.array([0.03, 0.05])) if case == "batch" else Model()
    extra = dict(trackers=[DemandTracker(every=2)]) if case == "tracker" else {}
    sol = integ.simulate(model, **KW, **extra)
    ds, plain = sol.to_dataset(), _plain_dataset(sol)
    assert ds.identical(plain)
    assert list(ds.variables) == list(plain.variables)  # same order in files
    assert {k: type(v) for k, v in ds.xindexes.items()} == \
        {k: type(v) for k, v in plain.xindexes.items()}
    for k in ds.variables:
        assert ds[k].dtype == plain[k].dtype and ds[k].dims == plain[k].dims, k
    if case == "tracker":
        assert "time_demand" in ds.xindexes and ds["demand"].dims == ("time_demand",)


@pytest.mark.parametrize("batched", [False, True])
def test_simulate_values_and_dataset_equal_solve(batched):
    model = Model(D=np.array([0.5, 1.0])) if batched else Model(D=0.5)
    ds = integ.solve(model, **KW)
    sol = integ.simulate(model, **KW)
    values = sol.values()
    assert set(values) == set(ds.data_vars)
    for k, v in values.items():  # bit for bit: the same arithmetic, only the labels differ
        np.testing.assert_array_equal(v, ds[k].values, err_msg=k)
        assert np.shape(v) == ds[k].shape, k
    assert sol.to_dataset().drop_attrs().identical(ds.drop_attrs())
    with pytest.raises(TypeError, match="bogus"):
        integ.simulate(model, bogus=1)


@pytest.mark.parametrize("entry", ["solve", "simulate"])
def test_warnings_point_at_the_caller(entry):
    """The run's warnings name the line that called solve / simulate (not the library)."""
    from astrofield.simulator.step_control import StepSizeWarning

    with pytest.warns(StepSizeWarning) as rec:
        getattr(integ, entry)(Model(), **{**KW, "dt": 0.5, "T": 1.0, "dt_check": "warn"})
    # every warning of the run (the step-size one, and the grid's resolution warning at this
    # small N) names this file
    assert {Path(r.filename).name for r in rec} == {Path(__file__).name}


def test_solve_does_not_import_dask():
    """Building the dataset does not (later xarray operations, e.g. indexing by a labelled
    dimension, may still import dask: that is up to the caller)."""
    out = _fresh_python("""
        import json, sys
        from astrofield import Model, solve
        ds = solve(Model(), T=1.0, dt=0.1, N=16, progress=False)
        print(json.dumps({"drift": float(ds["drift"]), "pos": float(ds["position"].values[-1]),
                          "dask": sorted(m for m in sys.modules if m.split(".")[0] == "dask")}))
    """)
    assert out["dask"] == []
    assert np.isfinite(out["drift"]) and np.isfinite(out["pos"])


def test_cli_run_imports_only_what_it_needs():
    """`astrofield run` without -o/--plot: no xarray, pandas, dask, matplotlib, tqdm, none of
    scipy's optimisation or quadrature; one member uses the serial compiled loop only."""
    out = _fresh_python("""
        import json, sys
        from click.testing import CliRunner
        from astrofield.cli import main
        res = CliRunner().invoke(main, ["run", "--N", "32", "--dt", "0.1", "--T", "5", "-q",
                                        "--json"])
        assert res.exit_code == 0, res.output
        summary = json.loads(res.stdout)
        from astrofield.simulator import compiled
        info = {"summary": summary, "numba": bool(compiled.HAVE_NUMBA and compiled.ENABLED)}
        if info["numba"]:
            from numba.np.ufunc import parallel
            from astrofield.simulator.backends import numba_loop as L
            info["threading_layer_started"] = bool(parallel._is_initialized)
            info["serial_loaded"] = bool(L.run_chunk_serial.overloads)
            info["parallel_loaded"] = bool(L.run_chunk.overloads or L.observe_all.overloads)
        roots = ("xarray", "pandas", "dask", "distributed", "matplotlib", "tqdm")
        info["loaded"] = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in roots}
                                | {m for m in ("scipy.optimize", "scipy.integrate")
                                   if m in sys.modules})
        print(json.dumps(info))
    """)
    assert out["loaded"] == []
    s = out["summary"]
    assert s["N"] == 32 and np.isfinite(s["drift"]) and abs(s["mass_drift"]) < 1e-12
    if out["numba"]:
        assert out["serial_loaded"] and not out["parallel_loaded"]
        assert not out["threading_layer_started"]


def test_cli_run_summary_matches_the_saved_dataset(tmp_path):
    """The summary (from the plain arrays) and the file (from the dataset) hold the same
    numbers, bit for bit."""
    from click.testing import CliRunner

    from astrofield.cli import main
    from astrofield.io import load

    out = tmp_path / "r.nc"
    res = CliRunner().invoke(main, ["run", "--N", "32", "--dt", "0.1", "--T", "3", "-q",
                                    "--json", "-o", str(out)])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    ds = load(out)
    assert s["drift"] == float(ds["drift"]) and s["width"] == float(ds["width_final"])
    assert s["final_position"] == float(ds["position"].values[-1])
    assert s["mass_drift"] == float(ds["mass_drift"])


def test_simulate_is_exported_at_the_top_level():
    import astrofield
    from astrofield.simulator import integrator

    assert astrofield.simulate is integrator.simulate
