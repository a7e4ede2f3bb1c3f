"""The seed note's single-resource field: a cue leaves a persistent bump.

Runs the seed's usage -- ``AstrocyteNeuralField(n_grid=64, dx=1.0, diffusion_coeff=0.1)`` and
``stimulate(position=32, amplitude=2.0, duration=...)`` -- for three consumption rates and plots
kymographs of u and r. Figure: ``<outdir>/seed_field.png``.
"""

import numpy as np
from _common import parse

from astrofield.applications.seed import AstrocyteNeuralField
from astrofield.plotting import plt, save_figure

args = parse(__doc__)
duration = 10.0 if args.small else 60.0
dt = 0.02 if args.small else 0.01
fig, axes = plt.subplots(2, 3, figsize=(13, 7), constrained_layout=True)
for j, kappa in enumerate((0.05, 0.5, 1.0)):
    field = AstrocyteNeuralField(n_grid=64, dx=1.0, diffusion_coeff=0.1, consumption=kappa)
    hist_u, hist_r = field.stimulate(position=32, amplitude=2.0, duration=duration, dt=dt)
    t = dt * np.arange(1, hist_u.shape[0] + 1)
    for i, (h, name, cmap) in enumerate(((hist_u, "u", "viridis"), (hist_r, "r", "magma"))):
        im = axes[i, j].pcolormesh(field.x, t, h, shading="auto", cmap=cmap, rasterized=True)
        fig.colorbar(im, ax=axes[i, j])
        axes[i, j].axhline(1.0, color="w", ls="--", lw=0.8)
        axes[i, j].set(xlabel="x (grid units)", ylabel="t", title=f"{name}, consumption {kappa:g}")
    alive = hist_u[-1].max() > field.threshold
    print(f"consumption {kappa:g}: bump {'persists' if alive else 'dies'} "
          f"(max u {hist_u[-1].max():.3f}, min r {hist_r[-1].min():.3f}, "
          f"r in [{hist_r.min():.3f}, {hist_r.max():.3f}])")
fig.suptitle("seed model: cue on for t < 1 (dashed); resource r stays in [0, 1] by construction")
save_figure(fig, args.outdir / "seed_field.png")
