"""Export to MATLAB and CSV: the same numbers, names, units and metadata as the NetCDF file.

Independent check: the exported files are read back with other readers (``scipy.io.loadmat``,
``pandas.read_csv``) and compared with the dataset element by element.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.io import loadmat

import astrofield as af
from astrofield.cli import main
from astrofield.io import load, save
from astrofield.io.export import table_dims, to_table

RUN = dict(T=5.0, dt=0.05, N=32, eps=0.3, n_frames=11, progress=False)


@pytest.fixture(scope="module")
def run_ds():
    return af.solve(af.Model(), **RUN)


def test_matlab_round_trip(run_ds, tmp_path):
    path = save(run_ds, tmp_path / "run.mat")
    m = loadmat(path)
    for name in ("position", "velocity", "time", "x", "drift", "mass_drift"):
        np.testing.assert_array_equal(np.squeeze(m[name]), np.squeeze(run_ds[name].values))
    np.testing.assert_array_equal(m["u"], run_ds["u"].values)  # (time, x) as in NetCDF
    assert m["failed"].dtype == np.uint8
    assert str(m["meta"]["position"][0, 0]["units"][0, 0][0]) == "rad"
    assert str(m["attrs"]["Conventions"][0, 0][0]) == "CF-1.10"
    assert str(m["attrs"]["scheme"][0, 0][0]) == run_ds.attrs["scheme"]


def test_table_round_trip_and_header(run_ds, tmp_path):
    assert table_dims(run_ds) == ("time",)
    path = save(run_ds, tmp_path / "run.csv")
    df = pd.read_csv(path, comment="#")
    np.testing.assert_allclose(df["position"], run_ds.position.values, rtol=1e-15, atol=0)
    np.testing.assert_allclose(df["time"], run_ds.time.values, rtol=1e-15, atol=0)
    header = path.read_text().splitlines()
    assert any(line.startswith("# drift = ") for line in header)
    assert "# column position: units rad; bump position" in header
    with pytest.raises(ValueError, match="not dimensions of the dataset"):
        to_table(run_ds, tmp_path / "bad.csv", dims=("beta",))


def test_export_command_and_phase_refuses_mat(run_ds, tmp_path):
    nc = save(run_ds, tmp_path / "run.nc")
    res = CliRunner().invoke(main, ["export", str(nc), str(tmp_path / "run.mat"), "--json"])
    assert res.exit_code == 0, res.output
    back = loadmat(tmp_path / "run.mat")
    np.testing.assert_array_equal(np.squeeze(back["position"]), load(nc).position.values)
    res = CliRunner().invoke(main, ["export", str(nc), str(tmp_path / "run.xlsx")])
    assert res.exit_code == 2 and "TARGET" in res.output
    res = CliRunner().invoke(main, ["phase", "--vary", "beta=0.01:0.05:3", "--T", "100",
                                    "-o", str(tmp_path / "m.mat")])
    assert res.exit_code == 2 and "astrofield export" in res.output
    assert not (tmp_path / "m.mat").exists()


def test_batched_map_like_table(tmp_path):
    ds = af.solve(af.Model(beta=np.array([0.03, 0.05, 0.07])), store_fields=False, **RUN)
    path = save(ds, tmp_path / "batch.csv")
    df = pd.read_csv(path, comment="#")
    assert len(df) == 3 * ds.sizes["time"]
    last = df[df["time"] == ds.time.values[-1]]
    np.testing.assert_allclose(last["position"].to_numpy(), ds.position.values[:, -1],
                               rtol=1e-15, atol=0)
