"""Figure creation shared by the application plot helpers.

The helpers draw into a figure the caller passes (``fig=``) or into a new pyplot figure. They
never select a matplotlib backend: that is the user's (or the command line's) choice.
"""

from __future__ import annotations

__all__ = ["new_figure"]


def new_figure(fig=None, figsize: tuple[float, float] = (8.0, 6.0)):
    """Return ``fig`` if given, else a new constrained-layout pyplot figure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure, optional
        A figure supplied by the caller; returned unchanged.
    figsize : tuple of float
        Width and height of a new figure, in inches.

    Returns
    -------
    matplotlib.figure.Figure
        The figure to draw into.
    """
    if fig is not None:
        return fig
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize, layout="constrained")
