"""Bump wandering under noise (astrofield.applications.wandering).

(a) Amari limit (beta = 0, cosine kernel and cosine-correlated noise): MSD against the
small-noise law sigma^2 t / R^2. (b) With resource depression: effective diffusion against the
astrocytic diffusion D and the replenishment rate gamma. Figures: ``<outdir>/wandering_theory.png``
and ``<outdir>/wandering_D_gamma.png``.
"""

import numpy as np
from _common import parse

from astrofield.applications.wandering import measure_wandering
from astrofield.model.definition import Model
from astrofield.plotting import plot_wandering, save_figure

args = parse(__doc__)
small = args.small
th = measure_wandering(Model(beta=0.0), sigma=0.1, correlation="cosine",
                       n_trials=200 if small else 2000, T=10.0 if small else 20.0,
                       N=32 if small else 64, t_fit=0.0, n_boot=200 if small else 1000)
print(f"Amari: D_eff = {float(th['D_eff'][0]):.4g} [{float(th['D_lo'][0]):.4g}, "
      f"{float(th['D_hi'][0]):.4g}] (95% bootstrap), theory sigma^2/(2R^2) = "
      f"{float(th['D_theory'][0]):.4g}")
save_figure(plot_wandering(th, ["beta = 0 (Amari)"]), args.outdir / "wandering_theory.png")

D = np.array([0.3, 1.0, 3.0, np.inf, 1.0, 1.0])
gamma = np.array([2.0, 2.0, 2.0, 2.0, 1.5, 3.0])
if small:
    D, gamma = D[[0, 3]], gamma[[0, 3]]
sweep = measure_wandering(Model(beta=0.05, D=D, gamma=gamma), sigma=0.05, correlation=0.5,
                          n_trials=20 if small else 200, T=20.0 if small else 100.0,
                          N=32 if small else 64, n_boot=200 if small else 1000)
for i in range(sweep.sizes["param"]):
    print(f"beta 0.05, D {D[i]:g}, gamma {gamma[i]:g}: D_eff {float(sweep['D_eff'][i]):.3g} "
          f"[{float(sweep['D_lo'][i]):.3g}, {float(sweep['D_hi'][i]):.3g}], MSD exponent "
          f"{float(sweep['msd_exponent'][i]):.2f}")
save_figure(plot_wandering(sweep), args.outdir / "wandering_D_gamma.png")
