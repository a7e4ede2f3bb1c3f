"""One figure path: every figure is built in astrofield.plotting on an unmanaged Figure.

* the computing layers (theory, experiments, applications) import no matplotlib and write no
  figure files;
* no figure function touches pyplot's global state (open figures, current figure/axes);
* colorbars are labelled; the plot defects reported by users stay fixed;
* the command line writes figures through the atomic writer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from matplotlib.figure import Figure

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend for the test process)

SRC = Path(__file__).resolve().parents[1] / "src" / "astrofield"

CHECK_IMPORTS = r"""
import importlib, sys
for m in ("theory", "theory.bump", "theory.evans", "theory.fourier", "theory.stability",
          "theory.steady", "theory.spectra", "theory.continuation", "theory.travelling",
          "experiments.figures", "experiments.phase", "applications.memory",
          "applications.wandering", "applications.collapse", "applications.field2d"):
    importlib.import_module("astrofield." + m)
import astrofield.theory.stability as s
s.stability_map(beta=[0.02, 0.05], D=[0.3, 1.0])
s.figure2_data(n=20)
bad = sorted(k for k in sys.modules if k == "matplotlib" or k.startswith("matplotlib."))
assert not bad, bad
assert not any(k.startswith("astrofield.plotting") for k in sys.modules)
print("CLEAN")
"""


def test_computing_layers_do_not_import_matplotlib_or_plotting():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC.parent),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", CHECK_IMPORTS], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CLEAN" in proc.stdout


def test_theory_source_has_no_drawing_or_file_writing():
    forbidden = ("import matplotlib", "from matplotlib", "import astrofield.plotting",
                 "from astrofield.plotting", "savefig(", "atomic_write", "to_netcdf(")
    for path in sorted((SRC / "theory").glob("*.py")):
        text = path.read_text()
        for word in forbidden:
            assert word not in text, f"{path.name} has {word!r}"
    for path in sorted((SRC / "experiments").glob("*.py")):  # (sweeps may write checkpoints)
        text = path.read_text()
        for word in ("import matplotlib", "from matplotlib", "savefig("):
            assert word not in text, f"{path.name} has {word!r}"


def test_moved_names_point_to_plotting():
    import astrofield
    import astrofield.theory.stability as stab
    from astrofield import plotting

    assert astrofield.plot_figure2 is plotting.plot_figure2
    for name in ("plot_map", "plot_figure2"):
        with pytest.raises(AttributeError, match=f"astrofield.plotting.{name}"):
            getattr(stab, name)
    import astrofield.applications.field2d as f2

    with pytest.warns(DeprecationWarning, match="astrofield.plotting.plot_field2d"):
        assert f2.plot_field2d is plotting.plot_field2d


# ----------------------------------------------------------------------------- pyplot state
@pytest.fixture
def no_pyplot(monkeypatch):
    """Fail on any use of pyplot's global figure machinery; check no figure was registered."""
    before = plt.get_fignums()

    def forbidden(*a, **k):
        raise AssertionError("library figure code used pyplot global state")

    for name in ("figure", "subplots", "gcf", "gca", "colorbar", "subplot", "sca", "close"):
        monkeypatch.setattr(plt, name, forbidden)
    yield
    assert plt.get_fignums() == before


def _colorbar_labels(fig: Figure) -> list[str]:
    labels = []
    for ax in fig.axes:
        for artist in [*ax.collections, *ax.images]:
            cb = getattr(artist, "colorbar", None)
            if cb is not None:
                labels.append(cb.ax.get_ylabel() or cb.ax.get_xlabel())
    return labels


def _run_dataset(nt: int = 12, nx: int = 16) -> xr.Dataset:
    t = np.linspace(0, 5, nt)
    x = np.linspace(-np.pi, np.pi, nx, endpoint=False)
    field = np.cos(x)[None, :] * np.ones((nt, 1))
    return xr.Dataset({"u": (("time", "x"), field), "q": (("time", "x"), 1 - 0.1 * field),
                       "a": (("time", "x"), 0.5 + 0.0 * field),
                       "position": ("time", 0.01 * t), "drift": 0.05, "theta": 0.1,
                       "beta": 0.05, "gamma": 2.0, "D": 0.3},
                      coords={"time": t, "x": x}, attrs={"N": nx, "dt": 0.1})


def _phase(xname: str, x, yname: str, y) -> xr.Dataset:
    X, Y = np.meshgrid(x, y, indexing="ij")
    code = np.where(Y < 0.09, 1, -1)  # a no-bump corner, left blank
    return xr.Dataset({"drift": ((xname, yname), 1e-3 + X * Y),
                       "velocity": ((xname, yname), 1e-4 + X * Y ** 2),
                       "verdict_code": ((xname, yname), code)},
                      coords={xname: x, yname: y}, attrs={"T": 50.0})


def _figure5_data() -> xr.Dataset:
    ds = _phase("D", np.linspace(0.001, 0.6, 4), "beta", np.linspace(0.001, 0.1, 4))
    Db = np.linspace(0.001, 0.6, 12)
    return ds.assign({"boundary_D": ("boundary_D", Db),
                      "beta_star_evans": ("boundary_D", 0.02 + 0.1 * Db),
                      "beta_star_fourier": ("boundary_D", 0.025 + 0.1 * Db)})


def _figure6_data() -> xr.Dataset:
    d1 = _phase("gamma_D1", np.linspace(1, 1.6, 4), "beta_D1", np.linspace(0.001, 0.1, 4))
    di = _phase("gamma_Dinf", np.linspace(1, 1.6, 4), "beta_Dinf", np.linspace(0.01, 4.0, 4))
    gb = np.linspace(1, 1.6, 12)
    large = np.stack([np.stack([0.1 * k + gb, np.full(gb.shape, np.nan)], axis=-1)
                      for k in range(5)])
    return xr.Dataset({**{f"D1_{k}": v for k, v in d1.data_vars.items()},
                       **{f"Dinf_{k}": v for k, v in di.data_vars.items()},
                       "beta_star_evans_D1": ("boundary_gamma", 0.05 * gb),
                       "beta_star_fourier_D1": ("boundary_gamma", 0.055 * gb),
                       "beta_max": ("boundary_gamma", 2.0 * gb),
                       "beta_star_evans_largeD": (("large_D", "boundary_gamma", "crossing"),
                                                  large)},
                      coords={"boundary_gamma": gb,
                              "large_D": np.array([1.0, 2.5, 10.0, 50.0, np.inf])},
                      attrs={"figure_T": 50.0})


def _figure7_data() -> xr.Dataset:
    x = np.linspace(-np.pi, np.pi, 16, endpoint=False)
    snap = np.array([0.7, 30.0])
    prof = 1 - 0.1 * np.cos(x)[None, :] * np.ones((2, 1))
    return xr.Dataset({"q": (("snapshot_time", "x"), prof), "a": (("snapshot_time", "x"), prof)},
                      coords={"snapshot_time": snap, "x": x})


def _branch_data() -> xr.Dataset:
    n = 6
    return xr.Dataset({"beta": ("point", np.linspace(0.01, 0.06, n)),
                       "amplitude": ("point", np.linspace(1, 0.5, n)),
                       "speed": ("point", np.r_[np.zeros(4), 0.1, 0.2]),
                       "branch": ("point", np.array(["stationary"] * 4 + ["travelling"] * 2)),
                       "stable": ("point", np.array([True, True, True, False, True, True])),
                       "point_type": ("point", np.array(["", "", "", "drift", "", "fold"]))},
                      attrs={"continuation_parameter": "beta"})


def _cases():
    from astrofield import plotting
    from astrofield.plotting import paper
    from astrofield.theory.bump import stationary_bumps
    from astrofield.theory.stability import stability_map

    smap = stability_map(theta=0.1, gamma=2.0, beta=np.linspace(0.005, 0.1, 5),
                         D=np.linspace(0.05, 0.6, 4))
    phase2d = _phase("D", np.linspace(0.1, 0.6, 4), "beta", np.linspace(0.01, 0.1, 5))
    return {
        "plot_run": (lambda: plotting.plot_run(_run_dataset()), 3),
        "plot_map": (lambda: plotting.plot_map(smap), 1),
        "plot_phase": (lambda: plotting.plot_phase(phase2d), 2),
        "plot_figure2": (lambda: plotting.plot_figure2(n=20)[0], 0),
        "plot_bumps": (lambda: plotting.plot_bumps(stationary_bumps(0.1, 0.05, 2.0)), 0),
        "plot_spectrum": (lambda: plotting.plot_spectrum([-0.5 + 0j, 0.1 + 0j]), 0),
        "plot_indicator": (lambda: plotting.plot_indicator([1, 2, 3], {"E": [1, -1, 2]}), 0),
        "plot_branch": (lambda: plotting.plot_branch(_branch_data()), 0),
        "draw_figure5": (lambda: paper.draw_figure5(_figure5_data()), 2),
        "draw_figure6": (lambda: paper.draw_figure6(_figure6_data()), 3),
        "draw_figure7": (lambda: paper.draw_figure7(_figure7_data()), 0),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_figure_functions_leave_pyplot_alone_and_label_colorbars(name, no_pyplot):
    make, n_colorbars = _cases()[name]
    fig = make()
    assert isinstance(fig, Figure)
    assert fig.canvas.manager is None  # not registered with pyplot
    labels = _colorbar_labels(fig)
    assert len(labels) == n_colorbars, labels
    assert all(lab.strip() for lab in labels), labels


def test_run_colorbars_name_the_fields():
    from astrofield.plotting import plot_run

    labels = _colorbar_labels(plot_run(_run_dataset()))
    assert [lab.split()[0] for lab in labels] == ["u", "q", "a"]


# ----------------------------------------------------------------------------- plot defects
def test_spectrum_im_axis_is_symmetric_when_imaginary_parts_are_roundoff():
    from astrofield.plotting import plot_spectrum

    fig = plot_spectrum([-0.5 + 1e-22j, -0.2 - 3e-23j, 0.1 + 0j])
    lo, hi = fig.axes[0].get_ylim()
    assert lo == pytest.approx(-hi) and hi == pytest.approx(0.3)
    fig = plot_spectrum([1e-3 + 1e-25j])
    assert fig.axes[0].get_ylim()[1] >= 5e-4
    fig = plot_spectrum([-0.5 + 0.2j, -0.5 - 0.2j])  # genuine complex zeros: autoscaled
    lo, hi = fig.axes[0].get_ylim()
    assert lo <= -0.2 and hi >= 0.2 and hi < 1.0
    fig = plot_spectrum([])  # nothing found
    assert fig.axes[0].get_ylim() == (-1.0, 1.0)


def test_figure6_third_legend_lines_visible():
    from matplotlib.colors import to_rgba

    from astrofield.plotting.paper import draw_figure6

    fig = draw_figure6(_figure6_data())
    leg = fig.axes[2].get_legend()  # the third panel (the colorbar Axes come after)
    assert leg is not None
    texts = [t.get_text() for t in leg.get_texts()]
    assert texts[:5] == ["D = 1", "D = 2.5", "D = 10", "D = 50", "D = inf"]
    face = np.array(to_rgba(leg.get_frame().get_facecolor())[:3])
    for line in leg.get_lines():
        assert np.linalg.norm(np.array(to_rgba(line.get_color())[:3]) - face) > 0.3


def test_unresolved_cells_are_crossed_out():
    """Cells the map's two-resolution check did not resolve are marked (a cross at exactly
    those cells that have a bump), and a map without the flag draws no marks."""
    from astrofield.plotting.paper import draw_figure5

    ds = _figure5_data()
    res = np.ones(ds["drift"].shape, np.int8)
    res[0, 1] = res[2, 3] = 0  # (D[0], beta[1]) has a bump; (D[2], beta[3]) has none
    ds["resolved"] = (("D", "beta"), res)
    fig = draw_figure5(ds)
    marks = [c for c in fig.axes[0].collections if c.get_label().startswith("unresolved")]
    assert len(marks) == 1
    np.testing.assert_array_equal(marks[0].get_offsets(),
                                  [[ds["D"].values[0], ds["beta"].values[1]]])
    assert "unresolved (1 cell)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plain = draw_figure5(_figure5_data())
    assert not [c for c in plain.axes[0].collections if c.get_label().startswith("unresolved")]


# ----------------------------------------------------------------------------- CLI writes
@pytest.fixture
def atomic_calls(monkeypatch):
    """Record every figure written through the atomic writer."""
    import astrofield.plotting as plotting

    calls = []
    real = plotting.atomic_write

    def spy(path, write):
        calls.append(Path(path).name)
        return real(path, write)

    monkeypatch.setattr(plotting, "atomic_write", spy)
    return calls


@pytest.mark.parametrize("args", [
    ["bump", "--plot", "{d}/b.png"],
    ["stability", "--D", "0.3", "--plot", "{d}/s.png"],
    ["stability-map", "--beta", "0.01:0.1:3", "--D", "0.1:0.6:3", "--plot", "{d}/m.png"],
    ["figure", "2", "-o", "{d}/figs"],
])
def test_cli_plots_are_written_atomically(args, tmp_path, atomic_calls, no_pyplot):
    from astrofield.cli import main

    res = CliRunner().invoke(main, [a.format(d=tmp_path) for a in args])
    assert res.exit_code == 0, res.output
    written = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    figures = [n for n in written if n.endswith((".png", ".pdf"))]
    assert figures and sorted(atomic_calls) == figures
    assert not [n for n in written if n.startswith(".") or n.endswith(".tmp")]
