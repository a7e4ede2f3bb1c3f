"""Early warnings of resource collapse (astrofield.applications.collapse).

The depletion rate beta is ramped slowly through the fold beta_max of the bump branch
(theta = 0.3, gamma = 2, D = inf) with weak noise; the rolling variance and lag-1
autocorrelation of the bump amplitude rise before the activity collapses.
Figure: ``<outdir>/collapse.png``.
"""

import numpy as np
from _common import parse

from astrofield.applications.collapse import ramp_collapse
from astrofield.plotting import plot_collapse, save_figure

args = parse(__doc__)
if args.small:
    ds = ramp_collapse(N=32, T_ramp=150.0, window=30.0, n_trials=2)
else:
    ds = ramp_collapse(n_trials=8)
print(f"fold beta_max = {float(ds['beta_max']):.4f} crossed at t = {float(ds['t_fold']):.1f}")
for k in range(ds.sizes["trial"]):
    print(f"trial {k}: collapse t = {float(ds['t_collapse'][k]):.1f}, Kendall tau variance "
          f"{float(ds['variance_tau'][k]):.2f}, AC1 {float(ds['ac1_tau'][k]):.2f}, "
          f"q_min < 0.3 at t = {float(ds['t_depletion'][k]):.1f}, "
          f"lead time {float(ds['lead_time'][k]):.1f}")
print(f"median lead time {np.nanmedian(ds['lead_time'].values):.1f}")
save_figure(plot_collapse(ds), args.outdir / "collapse.png")
