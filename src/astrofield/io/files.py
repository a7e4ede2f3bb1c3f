"""Safe output files: validated up front, written atomically, cleaned up on interruption.

* :func:`check_output_path` is the one up-front check of an output path (used by every
  command-line command and by the API savers): the target must be a regular file or a new path;
  devices, directories, sockets and pipes are refused; a symbolic link is followed to its target;
  the nearest existing parent directory must be writable; the file suffix may be restricted.
* :func:`atomic_write` writes to a temporary file next to the *target* (same directory, so the
  final :func:`os.replace` is atomic), keeps an existing file's permission bits, and removes the
  temporary file on any exception and on SIGINT/SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["check_output_path", "atomic_write"]

_LIVE_TEMPS: set[str] = set()


def _nearest_existing_dir(path: Path, what: str, make_parents: bool) -> Path:
    """The closest ancestor of ``path`` that exists; it must be a writable directory."""
    parent = path.parent
    if not make_parents and not parent.exists():
        raise ValueError(f"{what} {str(path)!r}: directory {str(parent)!r} does not exist")
    while not parent.exists():
        if parent == parent.parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{what} {str(path)!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {str(path)!r}: directory {str(parent)!r} is not writable")
    return parent


def check_output_path(path: str | os.PathLike, what: str = "output", *,
                      suffixes: Iterable[str] | None = None, make_parents: bool = False) -> Path:
    """Check that ``path`` can be written as an output file, before any work is done.

    Parameters
    ----------
    path
        Output file name. A symbolic link is resolved: the file is written at its target.
    what
        Name used in messages (e.g. ``"--plot"``).
    suffixes
        Allowed lower-case suffixes without the dot (e.g. ``{"png", "pdf"}``); None: any.
    make_parents
        Accept a missing parent directory (it will be created) if its nearest existing
        ancestor is a writable directory; by default the parent directory must exist.

    Returns
    -------
    pathlib.Path
        The path that will be written (the link target for a symbolic link).

    Raises
    ------
    ValueError
        Empty name, an existing directory/device/pipe/socket, a read-only existing file, a
        missing (unless ``make_parents``), unwritable or non-directory parent, or a suffix not
        in ``suffixes``.
    """
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{what}: {path!r} is not a file name")
    p = Path(text).expanduser()
    target = Path(os.path.realpath(p)) if p.is_symlink() else p
    if target.exists():
        mode = os.stat(target).st_mode
        if stat.S_ISDIR(mode):
            raise ValueError(f"{what} {text!r} is a directory; give a file name")
        if not stat.S_ISREG(mode):
            raise ValueError(f"{what} {text!r} is not a regular file (a device, pipe or socket); "
                             "astrofield writes only regular files")
        if not os.access(target, os.W_OK):
            raise ValueError(f"{what} {text!r} exists and is read-only")
    _nearest_existing_dir(target, what, make_parents)
    if suffixes is not None:
        allowed = sorted({s.lower().lstrip(".") for s in suffixes})
        suf = target.suffix.lower().lstrip(".")
        if suf not in allowed:
            raise ValueError(f"{what} {text!r}: file type {suf or '(none)'!r} is not one of "
                             f"{', '.join(allowed)}")
    return target


def _remove_live_temps() -> None:
    for tmp in list(_LIVE_TEMPS):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        _LIVE_TEMPS.discard(tmp)


@contextlib.contextmanager
def _signal_cleanup() -> Iterator[None]:
    """While active, SIGINT/SIGTERM first remove the live temporary files, then act as before."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        _remove_live_temps()
        prev = previous.get(signum)
        if callable(prev):
            prev(signum, frame)
        elif prev != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # pragma: no cover - unusual embedding
            pass
    try:
        yield
    finally:
        for sig, prev in previous.items():
            signal.signal(sig, prev)


def _target_mode(target: Path) -> int:
    """Permission bits to give the new file: the existing file's, else 0666 less the umask."""
    if target.exists():
        return stat.S_IMODE(os.stat(target).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike, write: Callable[[str], Any]) -> Path:
    """Call ``write(tmp_path)`` and then rename ``tmp_path`` onto ``path`` atomically.

    Parameters
    ----------
    path
        Output file, checked with :func:`check_output_path` first; missing parent directories
        are created.
    write
        Called once with the path of a temporary file in the target's directory, which it must
        write; its return value is ignored. If it raises, the temporary file is removed and
        ``path`` is left untouched.

    Returns
    -------
    pathlib.Path
        The path written (a symbolic link's target).
    """
    target = check_output_path(path, make_parents=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _target_mode(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    _LIVE_TEMPS.add(tmp)
    try:
        with _signal_cleanup():
            write(tmp)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        _LIVE_TEMPS.discard(tmp)
    return target
