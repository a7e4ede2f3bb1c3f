"""Application plot helpers draw into a supplied figure and leave the matplotlib backend alone."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")

SCRIPT = r"""
import matplotlib
import numpy as np
from matplotlib.figure import Figure

import astrofield as af
from astrofield.applications.collapse import ramp_collapse
from astrofield.applications.field2d import solve2d
from astrofield.applications.memory import memory_bold, working_memory
from astrofield.applications.wandering import measure_wandering
from astrofield.plotting import (plot_collapse, plot_field2d, plot_memory, plot_memory_bold,
                                 plot_wandering)

wm = working_memory(cue_positions=[0.0, 1.0], N=32, delay=2.0, dt=0.1)
wm_b, bold = memory_bold(seconds_per_unit=0.1, delay=40.0, tr=1.0, N=32, dt=0.1)
wa = measure_wandering(af.Model(beta=0.0), n_trials=4, T=2.0, N=32, n_boot=20)
co = ramp_collapse(n_trials=1, N=16, t_hold=5.0, T_ramp=40.0, t_after=5.0, window=10.0,
                   beta_start=0.3, beta_end=1.2)
f2 = solve2d(N=8, T=0.5, dt=0.05, n_frames=3)
calls = [(plot_memory, (wm,), 3), (plot_memory_bold, (wm_b, bold), 2),
         (plot_wandering, (wa,), 2), (plot_collapse, (co,), 5), (plot_field2d, (f2,), 8)]
import matplotlib.pyplot as plt

for helper, args, min_axes in calls:
    fig = Figure()
    out = helper(*args, fig=fig)
    assert out is fig, helper.__name__
    assert len(fig.axes) >= min_axes, (helper.__name__, len(fig.axes))
    own = helper(*args)  # a new Figure of its own, not registered with pyplot
    assert isinstance(own, Figure) and own.canvas.manager is None, helper.__name__
assert plt.get_fignums() == [], plt.get_fignums()
bars = [im.colorbar for ax in own.axes for im in ax.images if im.colorbar is not None]
assert len(bars) == 6 and all(cb.ax.get_ylabel() for cb in bars), "plot_field2d colorbars"
print("BACKEND", matplotlib.get_backend())
"""


@pytest.mark.parametrize("backend", ["pdf"])
def test_plot_helpers_use_the_given_figure_and_keep_the_backend(backend):
    env = dict(os.environ, MPLBACKEND=backend, TQDM_DISABLE="1",
               PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"BACKEND {backend}" in proc.stdout
