"""Run directories: created atomically, locked while a process writes them, and written without ever
following a symbolic link.

A run directory is ``<output.dir>/<output.name>`` (or ``<config name>-<time>``), with ``-1``, ``-2``
... appended while the name is taken; ``mkdir`` without ``exist_ok`` makes two runs started at the
same instant take different names. The process that writes a run holds an exclusive ``flock`` on the
directory itself (nothing is written for it), so a second ``--resume`` of the same directory is
refused instead of interleaving steps. Files are replaced by renaming a fresh temporary file over
them, and ``metrics.jsonl`` is appended to with ``O_NOFOLLOW``: a link planted in a run directory is
replaced or refused, never written through. ``--resume`` refuses a run directory holding links.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import UsageError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class RunDirError(UsageError):
    """A run directory that cannot be used as asked (missing, in use, holding links)."""


def create(base: Path, name: str) -> Path:
    """A new, empty directory ``base/name`` (or ``base/name-N``, the first free N), made atomically."""
    base.mkdir(parents=True, exist_ok=True)
    for n in range(100_000):
        path = base / (name if n == 0 else f"{name}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RunDirError(f"{base}: no free run directory name for {name!r}; choose another output.name")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the run directory ``path`` (a RunDirError if another process holds it)."""
    try:
        import fcntl
    except ImportError:  # no flock on this platform: runs are not protected from each other
        yield
        return
    fd = os.open(path, os.O_RDONLY | _CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunDirError(f"{path}: the run directory is in use by another process") from None
        yield
    finally:
        os.close(fd)


def check_resumable(path: Path) -> None:
    """Refuse ``--resume`` of a directory that is missing, not a directory, or holds a symbolic link."""
    if not path.exists():
        raise RunDirError(
            f"--resume {path}: no such run directory; give a directory that `registry run` created "
            "(its path is printed as run_dir)"
        )
    if not path.is_dir():
        raise RunDirError(f"--resume {path}: not a directory; give a run directory")
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            entry = Path(root) / name
            if entry.is_symlink():
                raise RunDirError(
                    f"{entry}: a symbolic link in a run directory; a run directory holds only files it "
                    "wrote itself: remove the link"
                )


def write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` by a new file holding ``data``: written under a fresh temporary name in the
    same directory, then renamed over it (a link at ``path`` is replaced, not followed)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~umask())  # what open() would give, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def umask() -> int:
    """The process's file creation mask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def append_text(path: Path, text: str) -> None:
    """Append ``text`` to ``path`` (created if missing); a symbolic link there is an OSError."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o644)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(text)


def read_text(path: Path) -> str:
    """The text of ``path``; a symbolic link there is an OSError."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    with os.fdopen(fd, encoding="utf-8") as f:
        return f.read()
