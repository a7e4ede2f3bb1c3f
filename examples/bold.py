"""Neurovascular coupling: BOLD of a working-memory trial (astrofield.memory.memory_bold).

The demand of the cued region, ∫ beta q f(u) dx, drives the Balloon-Windkessel model
(friston2003 preset). Time scale: one model unit = 20 ms (seconds_per_unit = 0.02), so a delay of
600 units is 12 s. Figure: ``<outdir>/bold.png``.
"""

from _common import parse

from astrofield.applications.memory import memory_bold
from astrofield.plotting import plot_memory_bold, save_figure

args = parse(__doc__)
wm, bold = memory_bold(cue_position=0.5, seconds_per_unit=0.02,
                       delay=150.0 if args.small else 600.0, tr=1.0,
                       tail=10.0 if args.small else 20.0, N=32 if args.small else 64)
y = bold["bold"].values
t = bold["time"].values
print(f"peak BOLD {100 * y.max():.2f} % at {t[y.argmax()]:.1f} s; post-stimulus undershoot "
      f"{100 * y.min():.2f} %; {bold.sizes['tr_time']} scans at TR {bold.attrs['tr']:g} s")
save_figure(plot_memory_bold(wm, bold), args.outdir / "bold.png")
