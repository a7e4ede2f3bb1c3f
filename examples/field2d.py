"""A persistent bump on the 2-D torus (astrofield.applications.field2d).

Sigmoid firing, difference-of-Gaussians kernel, fast replenishment (gamma = 10): a blob
relaxes to a stationary bump; a batch with gamma = 2 shows the drift instability (a travelling
spot). Figure: ``<outdir>/field2d.png``.
"""

import numpy as np
from _common import parse

from astrofield.applications.field2d import solve2d
from astrofield.model.definition import Model
from astrofield.plotting import plot_field2d, save_figure

args = parse(__doc__)
model = Model(theta=0.3, steepness=10.0, firing="sigmoid", beta=0.05,
              gamma=np.array([10.0, 2.0]), D=0.7)
ds = solve2d(model, N=24 if args.small else 64, T=20.0 if args.small else 300.0,
             dt=0.1 if args.small else 0.05, position=(1.0, -2.0), blob_amplitude=1.0,
             n_frames=7)
for i, g in enumerate(model.gamma):
    d = ds.isel(batch=i)
    shift = np.hypot(float(d["x_c"][-1]) - 1.0, float(d["y_c"][-1]) + 2.0)
    print(f"gamma {g:g}: max u {float(d['u_max'][-1]):.3f}, area {float(d['area'][-1]):.2f}, "
          f"centre moved {shift:.3f}, resource drift {float(d['mass_drift']):.1e}")
save_figure(plot_field2d(ds, member=0), args.outdir / "field2d.png")
save_figure(plot_field2d(ds, member=1), args.outdir / "field2d_travelling.png")
