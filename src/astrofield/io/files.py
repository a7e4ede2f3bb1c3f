"""Safe files: outputs validated up front and written atomically, bounded reads of inputs.

* :func:`check_output_path` is the one up-front check of an output path (used by every
  command-line command and by the API savers): the target must be a regular file or a new path;
  devices, directories, sockets and pipes are refused; the nearest existing parent directory
  must be writable; the file suffix may be restricted. A symbolic link at the output path is
  followed only where that is safe (see below).
* :func:`atomic_write` opens the output's directory once and works relative to that directory
  descriptor: the temporary file is created there with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and
  renamed onto the output's name in the same directory (:func:`os.replace` with ``dir_fd``), so
  no symbolic link is resolved in user space and a rename never follows a link. It keeps an
  existing file's permission bits and removes the temporary file on any exception, on SIGINT
  (reported as :class:`KeyboardInterrupt`, also when a library swallowed the signal) and on
  SIGTERM. Temporary files are named ``.NAME.astrofield-HOST-PID-RANDOM.tmp``; one left by a
  killed process (SIGKILL cannot be caught) is removed by the next write of ``NAME`` (see
  :func:`remove_stale_temps`).
* :func:`read_bounded` reads an input file (a config) only if it is a regular file, and at most
  a given number of bytes: a FIFO or ``/dev/zero`` is refused before anything is read.

Symbolic links at the output path
---------------------------------
A link owned by another user in a shared sticky directory (world-writable with ``+t``, like
``/tmp``) is refused, whatever the kernel's ``fs.protected_symlinks`` setting: it is the classic
way to make a privileged user overwrite a file of the attacker's choice. The kernel's rule is
applied: such a link is followed only if it is owned by the caller or by the directory's owner.
Any other link (e.g. the user's own) is followed by the kernel (so its symlink protections
apply) to an *existing* regular file, which is then replaced atomically in its own directory
(the link stays); a link to a missing file is refused.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import signal
import socket
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["check_output_path", "atomic_write", "read_bounded", "remove_stale_temps",
           "temp_name"]

#: Live temporary files: (directory descriptor, name) pairs removed by the signal handler.
_LIVE_TEMPS: set[tuple[int, str]] = set()
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


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


def _shared_sticky(st: os.stat_result) -> bool:
    """A directory anyone may write to but only owners may rename in (like ``/tmp``)."""
    return bool(st.st_mode & stat.S_ISVTX and st.st_mode & stat.S_IWOTH)


def _fd_path(fd: int, link: Path) -> Path:
    """The path the kernel opened as ``fd`` (Linux: ``/proc/self/fd``), checked by inode."""
    st = os.fstat(fd)
    proc = f"/proc/self/fd/{fd}"
    real = os.readlink(proc) if os.path.islink(proc) else os.path.realpath(link)
    try:
        again = os.stat(real, follow_symlinks=False)
    except OSError:
        again = None
    if again is None or (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino):
        raise ValueError(f"symbolic link {str(link)!r} changed while it was checked")
    return Path(real)


def _follow_link(link: Path, text: str, what: str) -> Path:
    """Where a symbolic link at the output path leads, if it may be followed (see module)."""
    lst = os.lstat(link)
    dst = os.stat(link.parent)
    if _shared_sticky(dst) and lst.st_uid not in (os.geteuid(), dst.st_uid):
        raise ValueError(
            f"{what} {text!r} is a symbolic link owned by another user (uid {lst.st_uid}) in "
            f"the shared sticky directory {str(link.parent)!r}; astrofield does not follow "
            "it: remove the link or choose another file name")
    flags = getattr(os, "O_PATH", os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)) | _CLOEXEC
    try:
        fd = os.open(link, flags)
    except FileNotFoundError:
        raise ValueError(f"{what} {text!r} is a symbolic link to a missing file; astrofield "
                         "follows links only to existing regular files") from None
    except OSError as exc:
        why = ("the system refuses to follow it (fs.protected_symlinks)"
               if exc.errno == errno.EACCES else exc.strerror)
        raise ValueError(f"{what} {text!r} is a symbolic link that cannot be followed: "
                         f"{why}") from None
    try:
        return _fd_path(fd, link)
    finally:
        os.close(fd)


def check_output_path(path: str | os.PathLike, what: str = "output", *,
                      suffixes: Iterable[str] | None = None, make_parents: bool = False) -> Path:
    """Check that ``path`` can be written as an output file, before any work is done.

    Parameters
    ----------
    path
        Output file name. A symbolic link is followed only where safe (see the module's
        docstring): never one owned by another user in a shared sticky directory, never one
        to a missing file.
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
        The path that will be written (the link's target for a symbolic link).

    Raises
    ------
    ValueError
        Empty name, an existing directory/device/pipe/socket, a read-only existing file, a
        refused symbolic link, a missing (unless ``make_parents``), unwritable or
        non-directory parent, or a suffix not in ``suffixes``.
    """
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{what}: {path!r} is not a file name")
    p = Path(text).expanduser()
    target = _follow_link(p, text, what) if p.is_symlink() else p
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
    if suffixes is not None:  # the name the user gave decides the format
        allowed = sorted({s.lower().lstrip(".") for s in suffixes})
        suf = p.suffix.lower().lstrip(".")
        if suf not in allowed:
            raise ValueError(f"{what} {text!r}: file type {suf or '(none)'!r} is not one of "
                             f"{', '.join(allowed)}")
    return target


# ------------------------------------------------------------------------------ reading
def read_bounded(path: str | os.PathLike, limit: int = 1 << 20, what: str = "file") -> bytes:
    """Read a regular file of at most ``limit`` bytes.

    The file is opened without blocking and checked on its descriptor before anything is read,
    so a FIFO, a device (``/dev/zero``) or a directory is refused at once, and at most
    ``limit + 1`` bytes are ever read.

    Parameters
    ----------
    path
        The file.
    limit
        Largest accepted size in bytes (default 1 MiB).
    what
        Name used in messages.

    Returns
    -------
    bytes
        The file's contents.

    Raises
    ------
    ValueError
        Not a regular file, or larger than ``limit``.
    OSError
        The file cannot be opened or read.
    """
    text = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | _CLOEXEC
    if os.path.exists(text) and not stat.S_ISREG(os.stat(text).st_mode):
        raise ValueError(f"{what} {text!r} is not a regular file")  # e.g. a FIFO: never opened
    fd = os.open(text, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced after the check
            raise ValueError(f"{what} {text!r} is not a regular file")
        chunks, size = [], 0
        while size <= limit:
            block = os.read(fd, min(1 << 16, limit + 1 - size))
            if not block:
                break
            chunks.append(block)
            size += len(block)
    finally:
        os.close(fd)
    if size > limit:
        raise ValueError(f"{what} {text!r} is larger than {limit} bytes")
    return b"".join(chunks)


# ------------------------------------------------------------------------------ temporaries
def temp_name(name: str) -> str:
    """A new temporary name for an output called ``name``.

    ``.NAME.astrofield-HOST-PID-RANDOM.tmp`` (``NAME`` shortened to stay within file-name
    limits): hidden, obviously temporary, and naming the machine and process that own it.
    """
    return f".{name[:150]}.astrofield-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}.tmp"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists
        return True
    return True


def remove_stale_temps(directory: str | os.PathLike | int, name: str) -> list[str]:
    """Remove temporary files of ``name`` left in ``directory`` by killed writers.

    A file is removed only if it matches :func:`temp_name`'s pattern for ``name``, was made on
    this machine by a process that no longer exists, is a regular file (not a link) and is
    owned by the caller.

    Parameters
    ----------
    directory
        The directory, or an open descriptor of it.
    name
        The output's file name (no directory).

    Returns
    -------
    list of str
        The names removed.
    """
    pattern = re.compile(re.escape(f".{name[:150]}.astrofield-{_HOST}-") + r"(\d+)-[0-9a-f]+\.tmp")
    kw = {"dir_fd": directory} if isinstance(directory, int) else {}
    base = "" if kw else os.fspath(directory) + os.sep
    removed = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return removed
    for entry in entries:
        m = pattern.fullmatch(entry)
        if not m or _pid_alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            st = os.stat(base + entry, follow_symlinks=False, **kw)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
                os.unlink(base + entry, **kw)
                removed.append(entry)
    return removed


def _remove_live_temps() -> None:
    for dfd, name in list(_LIVE_TEMPS):
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dfd)
        _LIVE_TEMPS.discard((dfd, name))


class _Signals:
    """While active, SIGINT/SIGTERM are recorded; SIGTERM (and SIGINT without a Python handler)
    removes the live temporary files and then acts as before, SIGINT raises
    :class:`KeyboardInterrupt` through the previous handler."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.previous: dict[int, Any] = {}

    def handler(self, signum: int, frame: Any) -> None:
        self.received = signum
        prev = self.previous.get(signum)
        if callable(prev):
            prev(signum, frame)  # SIGINT: raises KeyboardInterrupt; atomic_write cleans up
            return
        _remove_live_temps()
        if prev != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    @contextlib.contextmanager
    def active(self) -> Iterator[_Signals]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError):  # pragma: no cover - embedding
                self.previous[sig] = signal.signal(sig, self.handler)
        try:
            yield self
        finally:
            for sig, prev in self.previous.items():
                signal.signal(sig, prev)


def _target_mode(dfd: int, name: str) -> int:
    """Permission bits to give the new file: the existing file's, else 0666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(name, dir_fd=dfd).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _dir_path(dfd: int, directory: Path) -> str:
    """A path that reaches the opened directory itself (Linux: through ``/proc/self/fd``)."""
    proc = f"/proc/self/fd/{dfd}"
    return proc if os.path.isdir(proc) else os.fspath(directory)


def _open_dir(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    return os.open(directory, os.O_RDONLY | _DIRECTORY | _CLOEXEC)


def atomic_write(path: str | os.PathLike, write: Callable[[str], Any]) -> Path:
    """Call ``write(tmp_path)`` and then rename ``tmp_path`` onto ``path`` atomically.

    Parameters
    ----------
    path
        Output file, checked with :func:`check_output_path` first; missing parent directories
        are created.
    write
        Called once with the path of a new, empty temporary file in the target's directory,
        which it must write; its return value is ignored. If it raises (or the process is
        interrupted), the temporary file is removed and ``path`` is left untouched.

    Returns
    -------
    pathlib.Path
        The path written (a symbolic link's target).

    Raises
    ------
    KeyboardInterrupt
        SIGINT arrived while writing (also if ``write`` swallowed it).
    """
    target = check_output_path(path, make_parents=True)
    dfd = _open_dir(target.parent)
    name = target.name
    try:
        remove_stale_temps(dfd, name)
        mode = _target_mode(dfd, name)
        tmp = temp_name(name)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC,
                         0o600, dir_fd=dfd))
        _LIVE_TEMPS.add((dfd, tmp))
        try:
            with _Signals().active() as sig:
                write(os.path.join(_dir_path(dfd, target.parent), tmp))
                if sig.received is not None:  # the writer swallowed a KeyboardInterrupt
                    raise KeyboardInterrupt
                fd = os.open(tmp, os.O_RDONLY | _NOFOLLOW | _CLOEXEC, dir_fd=dfd)
                try:
                    os.fchmod(fd, mode)
                finally:
                    os.close(fd)
                os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            raise
        finally:
            _LIVE_TEMPS.discard((dfd, tmp))
    finally:
        os.close(dfd)
    return target
