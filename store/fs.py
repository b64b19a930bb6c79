"""File-system discipline of a store folder: temporary names, file modes, the index lock, leftovers.

* Every temporary file is named ``.<kind>-<host>-<pid>-<random><suffix>``: unique across
  processes and machines sharing a folder, and it says who made it, so a leftover of a killed
  writer is recognised (its process is gone) and removed without touching a live writer's file.
* Published files (shards, sources, the index) get the mode a normal file would get under the
  current umask (0644 by default, 0664 under ``umask 002``): a group-shared store stays readable
  by the group. ``mkstemp`` alone would leave 0600.
* The index lock (``.index.lock``, an advisory ``flock``) is held by whoever changes
  ``index.duckdb``: a writer adding shards, a rebuild swapping a new file in. A rebuild therefore
  never replaces the file under an open writer. Readers never take it and need no write access.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".index.lock"
#: Temporary files of other machines (whose processes we cannot check) are stale after this long.
STALE_AFTER_S = 3600.0
_TEMP = re.compile(r"^\.(tmp|index|pull)-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[0-9a-f]+")
_LEGACY_TEMP = re.compile(r"^\.(tmp-|index-|pull-)")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:32] or "host"


def temp_name(kind: str, suffix: str = "") -> str:
    """A unique hidden name that records this host and process, e.g. ``.tmp-node1-4242-3f9a...parquet``."""
    return f".{kind}-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:12]}{suffix}"


def file_mode() -> int:
    """The mode a new regular file gets under the current umask (0644 for umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_temp(folder: Path, kind: str, suffix: str, data: bytes | None = None) -> Path:
    """Creates a new, uniquely named temporary file in ``folder`` with :func:`file_mode`.

    Args:
        folder: where (the same file system as the final name, so ``os.link`` is atomic).
        kind: ``tmp`` or ``index``; part of the name.
        suffix: e.g. ``.parquet``.
        data: written and fsynced when given; otherwise the file is left empty for the caller.
    """
    path = folder / temp_name(kind, suffix)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, file_mode())
        if data is not None:
            os.write(fd, data)
            os.fsync(fd)
    finally:
        os.close(fd)
    return path


def publish(tmp: Path, final: Path) -> bool:
    """Links ``tmp`` to ``final`` (atomic, never replaces) and removes ``tmp``.

    Returns:
        True if published, False if ``final`` already existed (``tmp`` is removed either way).
    """
    try:
        os.link(tmp, final)
        return True
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def writable(root: Path, *files: Path) -> bool:
    """True when this process may create files in ``root`` and change each existing ``files``."""
    if not os.access(root, os.W_OK | os.X_OK):
        return False
    return all(os.access(f, os.W_OK) for f in files if f.exists())


@contextlib.contextmanager
def index_lock(root: Path, wait_s: float) -> Iterator[bool]:
    """Holds the store's index lock; yields False if it could not be had within ``wait_s``."""
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, file_mode())
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.02 + 0.03 * (os.getpid() % 5) / 5)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def is_stale(path: Path, now: float | None = None) -> bool:
    """True for a temporary file (or staging folder) whose writer is gone.

    On this host that is decided by the process id in its name; otherwise (another machine on a
    shared file system, or a name from an older version) by age: :data:`STALE_AFTER_S`.
    """
    m = _TEMP.match(path.name)
    if m and m["host"] == _host():
        return _process_gone(int(m["pid"]))
    if not _LEGACY_TEMP.match(path.name):
        return False
    try:
        age = (now or time.time()) - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    return age > STALE_AFTER_S


def stale_files(root: Path) -> list[Path]:
    """Leftovers of killed writers: temporary shards, sources, index files and pull folders."""
    found = []
    for folder in (root, root / "runs", root / "sources", root / "predictions"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name.startswith(".") and _LEGACY_TEMP.match(p.name) and is_stale(p):
                found.append(p)
    return sorted(found)


def remove(paths: list[Path]) -> list[Path]:
    """Deletes files and folders; returns those actually removed."""
    removed = []
    for p in paths:
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except FileNotFoundError:
            continue
    return removed


def mkdtemp(root: Path, kind: str) -> Path:
    """A uniquely named hidden staging folder in ``root`` (see :func:`temp_name`)."""
    path = root / temp_name(kind)
    path.mkdir()
    return path


__all__ = [
    "LOCK_NAME", "file_mode", "index_lock", "is_stale", "mkdtemp", "publish", "remove", "stale_files",
    "temp_name", "writable", "write_temp",
]
