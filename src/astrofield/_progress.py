"""Progress bars of the library's long loops (tqdm on stderr), shared by the applications and
the theory.

``progress`` follows :func:`astrofield.solve`: ``False`` shows nothing, ``True`` a bar at once,
``None`` a bar only once the loop has run for about a second (short jobs show nothing). The
command line passes ``progress=False`` for ``-q``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["progress_bar"]


class _NoBar:
    """A do-nothing bar (``progress=False``; tqdm is then not imported)."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def progress_bar(total: int | None, progress: bool | None, unit: str = "it",
                 desc: str | None = None) -> Any:
    """A tqdm bar over ``total`` items, or a do-nothing bar for ``progress=False``.

    Parameters
    ----------
    total
        Number of items (``None``: unknown).
    progress
        ``True``: shown at once; ``None``: shown after about a second; ``False``: never.
    unit, desc
        tqdm's unit and description.

    Returns
    -------
    object
        An object with ``update(n)`` and ``close()``, usable as a context manager.
    """
    if progress is False:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, desc=desc, leave=False, mininterval=0.5,
                delay=1.0 if progress is None else 0.0)
