"""Working-memory task on the ring model (astrofield.applications.memory).

Cues at four positions, noisy delay, read-out; batched over trials and over the astrocytic
diffusion D. Figure: ``<outdir>/working_memory.png`` (delay traces, error histogram, demand) and
``<outdir>/working_memory_D.png`` (read-out error, drift and cost against D).
"""

import numpy as np
from _common import parse

from astrofield.applications.memory import working_memory
from astrofield.model.definition import Model
from astrofield.model.noise import Noise
from astrofield.plotting import plot_memory, plt, save_figure

args = parse(__doc__)
Ds = np.array([0.3, 1.0, np.inf]) if args.small else np.array([0.2, 0.3, 0.5, 1.0, 3.0, np.inf])
ds = working_memory(Model(D=Ds), cue_positions=[-2.0, -0.5, 1.0, 2.5],
                    n_trials=2 if args.small else 16, delay=10.0 if args.small else 40.0,
                    noise=Noise(0.05, 0.5), N=32 if args.small else 64, seed=0)
for i in range(ds.sizes["param"]):
    print(f"D = {float(ds['D'][i]):g}: persist {float(ds['p_persist'][i]):.2f}, rms error "
          f"{float(ds['rms_error'][i]):.3f} rad, mean |drift| "
          f"{float(ds['mean_abs_drift'][i]):.3f} rad, cost {float(ds['mean_cost'][i]):.3f}")
save_figure(plot_memory(ds, param=ds.sizes["param"] - 1), args.outdir / "working_memory.png")
fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), constrained_layout=True)
labels = [f"{d:g}" for d in ds["D"].values]
for ax, key, lab in zip(axes, ("rms_error", "mean_abs_drift", "mean_cost"),
                        ("rms read-out error (rad)", "mean |delay drift| (rad)",
                         "resource cost per trial"), strict=True):
    ax.plot(range(len(labels)), ds[key].values, "o-")
    ax.set_xticks(range(len(labels)), labels)
    ax.set(xlabel="astrocytic diffusion D", ylabel=lab)
fig.suptitle(f"working memory, noise sigma 0.05, {ds.sizes['trial'] * ds.sizes['cue']} "
             "trials per D")
save_figure(fig, args.outdir / "working_memory_D.png")
