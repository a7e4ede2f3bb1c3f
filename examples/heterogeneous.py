"""A bump in a heterogeneous astrocytic medium D(x) (solve(..., D_field=...)).

D(x) varies smoothly (geometrically) from 0.05 at x = 1.5 - pi to 2 at x = 1.5. Bumps started
where D is below the drift-stability boundary begin to travel -- down the gradient, away from
the high-D region -- go round the ring and are trapped when they reach the well-coupled region;
bumps started there stay. Total resource is conserved to round-off throughout.
Figure: ``<outdir>/heterogeneous.png``.
"""

import numpy as np
from _common import parse

from astrofield.model.definition import Model
from astrofield.plotting import plt, save_figure
from astrofield.simulator.integrator import initial_state, solve

args = parse(__doc__)
N = 32 if args.small else 128
T = 100.0 if args.small else 800.0
lo, hi, centre = 0.05, 2.0, 1.5


def dfield(x):
    return lo * (hi / lo) ** ((1 + np.cos(x - centre)) / 2)


starts = np.linspace(-np.pi, np.pi, 8, endpoint=False)
init = [initial_state(Model(), N, "bump", eps=0.0, position=p)[0] for p in starts]
u, q, a = (np.concatenate([s[k] for s in init]) for k in range(3))
ds = solve(Model(theta=np.full(starts.size, 0.1)), T=T, dt=0.05, N=N, init=(u, q, a),
           D_field=dfield, store_fields=False, n_frames=201, progress=False)
print(f"max relative change of total resource: {np.abs(ds['mass_drift'].values).max():.2e}")
for p, d in zip(starts, ds["drift"].values, strict=True):
    print(f"start {p:+.2f}: final position {np.angle(np.exp(1j * (p + d))):+.2f} (drift {d:+.2f})")
fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True,
                         gridspec_kw={"width_ratios": [1, 2]})
x = ds["x"].values
axes[0].semilogx(dfield(x), x)
axes[0].set(xlabel="D(x)", ylabel="x (rad)", title="astrocytic coupling")
t = ds["time"].values
for i in range(starts.size):
    axes[1].plot(t, np.angle(np.exp(1j * ds["position"].values[i])), ".", ms=1.5)
axes[1].axhline(centre, color="k", ls=":", lw=1)
axes[1].set(xlabel="t", ylabel="bump position (rad)",
            title="bumps leave low-D regions and are trapped at high D (dotted)")
save_figure(fig, args.outdir / "heterogeneous.png")
