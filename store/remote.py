"""Where a store is shared: a remote holds the same files as a store folder, plus derived ones.

Remote layout (a Hub dataset repo, or a plain folder with the same tree)::

    runs/<run_id>.parquet      one immutable shard per run, byte-for-byte the local shard
    sources/<key>.json         imported sources (citation, locator), immutable
    catalog/<table>.parquet    catalog tables and sources, exported from the index
    tables/<table>.parquet     snapshot of runs / results_wide / dev_scores at the last `store push`
    README.md                  dataset card (schema, sources, how to query)
    xstilts.json               layout version and what the snapshot was built from

Files under ``runs/`` and ``sources/`` are *add-only*: a remote never replaces one (a second
writer of the same name gets :class:`RemoteChanged` and decides by content hash). Everything else
is derived and replaced by each full push.

Optimistic concurrency: a push reads the remote's :meth:`Remote.revision` (the Hub's head commit),
lists the files *at that revision*, and commits with it as the parent. If anyone committed in
between, the commit is refused (:class:`RemoteChanged`) and the push lists again, so a shard that
another job pushed under the same run id meanwhile is compared by content before anything is
written: the same measurement is skipped, a different one is refused. A folder has no revisions;
there ``os.link`` refuses to replace an add-only file, which gives the same guarantee.

Two implementations share one interface: :class:`FolderRemote` here (atomic writes with
``os.link``; used by the end-to-end tests and by clusters with a shared file system) and
:class:`store.hub.HubRemote`, the only code that talks to the network; ``store.hub.open_remote``
turns what a user typed into one of them (this module never imports ``store.hub``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from store.errors import StoreError

#: Path prefixes whose files are never replaced on a remote.
IMMUTABLE_PREFIXES = ("sources/", "runs/", "predictions/")
HF_PREFIX = "hf://"
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT_LOG = ".commits.log"


def is_immutable(path_in_repo: str) -> bool:
    """True for shards, predictions and sources: files that a remote adds once and never replaces."""
    return path_in_repo.startswith(IMMUTABLE_PREFIXES)


class RemoteChanged(StoreError):
    """An add-only file appeared on the remote while we pushed: list again and re-plan."""


@dataclass(frozen=True)
class RemoteFile:
    """One file on a remote.

    Attributes:
        path: path inside the remote, with ``/`` separators.
        size: bytes.
        digest: ``sha256:<hex>`` or ``git-sha1:<hex>`` (the git blob id) when the remote knows it.
    """

    path: str
    size: int
    digest: str | None = None


def file_digest(path: Path, kind: str) -> str:
    """The digest of a local file in the form a remote reports (``sha256`` or ``git-sha1``)."""
    if kind == "sha256":
        h = hashlib.sha256()
    elif kind == "git-sha1":
        h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())  # noqa: S324 (git's object id)
    else:
        raise ValueError(f"unknown digest kind {kind!r}")
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return f"{kind}:{h.hexdigest()}"


def same_bytes(local: Path, remote: RemoteFile) -> bool:
    """True when the remote's digest proves the bytes equal; False when unknown or different."""
    if remote.digest is None or local.stat().st_size != remote.size:
        return False
    kind = remote.digest.split(":", 1)[0]
    return file_digest(local, kind) == remote.digest


def progress(items: Iterable, total: int, desc: str) -> Iterable:
    """A tqdm bar on stderr for many files (hidden when stderr is not a terminal)."""
    return tqdm(items, total=total, desc=desc, unit="file", file=sys.stderr, leave=False, disable=None if total > 1 else True)


class Remote(ABC):
    """A place a store is pushed to and pulled from.

    Attributes:
        name: how messages name it (``hf://datasets/ORG/NAME`` or ``file:///path``).
        cache_name: folder name of its read-only copy under the hub cache.
    """

    name: str
    cache_name: str

    @abstractmethod
    def open(self, create: bool) -> None:
        """Checks that the remote is reachable and exists, creating it if ``create``.

        Raises:
            StoreError: offline, unreachable, unauthorised, or missing (and not ``create``).
        """

    def revision(self) -> str | None:
        """The remote's current head commit, or None where the remote has no revisions (a folder)."""
        return None

    @abstractmethod
    def stat(self, paths: Sequence[str] | None = None, revision: str | None = None) -> dict[str, RemoteFile]:
        """Files on the remote: all of them (``paths=None``) or those of ``paths`` that exist.

        Args:
            paths: the paths to ask about (None: list everything).
            revision: list as of this commit (from :meth:`revision`); None: the head now.
        """

    @abstractmethod
    def download(self, paths: Sequence[str], dest: Path, revision: str | None = None) -> dict[str, Path]:
        """Copies ``paths`` (as of ``revision``; None: the head) to ``dest/<path>``; returns path in remote -> local file."""

    @abstractmethod
    def commit(self, files: Mapping[str, Path], message: str, parent: str | None = None) -> None:
        """Adds or replaces files in one commit (add-only paths must not exist yet).

        Args:
            files: path in remote -> local file, in the order they should land.
            message: commit message.
            parent: the revision the caller listed (from :meth:`revision`): the commit is refused
                if the remote has moved past it. None: commit on whatever the head is.

        Raises:
            RemoteChanged: the remote moved past ``parent``, or an add-only path already exists
                (someone pushed meanwhile): list again and re-plan.
        """


class FolderRemote(Remote):
    """A remote that is a folder (local disk or a cluster's shared file system).

    Behaves like the Hub repo: add-only files are published with ``os.link`` (atomic, and it
    refuses to replace an existing file), derived files with ``os.replace``; a killed push leaves
    at most hidden temporary files, which listings skip. Each commit appends one line to
    ``.commits.log``. A folder has no revisions (:meth:`revision` is None, ``parent`` is unused):
    ``os.link`` is what refuses a second shard under one run id.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().absolute()
        self.name = self.root.as_uri()
        self.cache_name = "file--" + hashlib.sha256(str(self.root).encode()).hexdigest()[:12]

    def open(self, create: bool) -> None:
        if create:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create remote folder {self.root}: {e.strerror}") from e
        elif not self.root.is_dir():
            raise StoreError(f"remote folder {self.root} does not exist; push to it first")

    def stat(self, paths: Sequence[str] | None = None, revision: str | None = None) -> dict[str, RemoteFile]:
        if paths is None:
            found = (
                p.relative_to(self.root).as_posix()
                for p in self.root.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(self.root).parts)
            )
        else:
            found = (p for p in paths if (self.root / p).is_file())
        out = {}
        for rel in sorted(found):
            f = self.root / rel
            out[rel] = RemoteFile(rel, f.stat().st_size, file_digest(f, "sha256"))
        return out

    def download(self, paths: Sequence[str], dest: Path, revision: str | None = None) -> dict[str, Path]:
        out = {}
        for rel in progress(paths, len(paths), f"downloading from {self.root.name}"):
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(self.root / rel, target)
            except FileNotFoundError:
                raise StoreError(f"{rel} vanished from {self.name} while pulling; retry") from None
            out[rel] = target
        return out

    def commit(self, files: Mapping[str, Path], message: str, parent: str | None = None) -> None:
        for rel, local in progress(files.items(), len(files), f"uploading to {self.root.name}"):
            try:
                self._put(rel, local)
            except RemoteChanged:
                raise
            except OSError as e:
                raise StoreError(
                    f"writing {rel} to {self.name} failed ({e.strerror or e}); the local store is unchanged: "
                    "run the push again to upload the rest"
                ) from e
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}\t{os.getpid()}\t{len(files)} files\t{message}\n"
        fd = os.open(self.root / _COMMIT_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def _put(self, rel: str, local: Path) -> None:
        """Writes one file atomically: link for add-only paths, replace for derived ones."""
        dest = self.root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".tmp-{uuid.uuid4().hex}-{dest.name}"
        try:
            shutil.copyfile(local, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            if is_immutable(rel):
                try:
                    os.link(tmp, dest)
                except FileExistsError:
                    raise RemoteChanged(f"{rel} appeared on {self.name} during the push") from None
            else:
                os.replace(tmp, dest)
        finally:
            if tmp.exists():
                tmp.unlink()

    def commit_log(self) -> list[str]:
        """The lines of ``.commits.log``: one per commit."""
        log = self.root / _COMMIT_LOG
        return log.read_text().splitlines() if log.exists() else []


def parse_repo(spec: str) -> str | None:
    """``ORG/NAME`` from ``ORG/NAME`` or ``hf://datasets/ORG/NAME``; None if it is neither."""
    spec = spec.strip().rstrip("/")
    if spec.startswith(HF_PREFIX):
        rest = spec[len(HF_PREFIX):]
        kind, _, repo = rest.partition("/")
        if kind != "datasets":
            raise StoreError(f"{spec}: only dataset repos hold stores; use hf://datasets/ORG/NAME")
        if not _REPO_ID.match(repo):
            raise StoreError(f"{spec}: expected hf://datasets/ORG/NAME")
        return repo
    return spec if _REPO_ID.match(spec) else None


def is_remote_store(spec: object) -> bool:
    """True when a ``--store`` value names a Hub dataset (``hf://datasets/ORG/NAME``)."""
    return isinstance(spec, str) and spec.startswith(HF_PREFIX)


def hub_cache_dir(remote: Remote) -> Path:
    """Where the read-only local copy of a remote lives.

    ``$XSTILTS_HUB_CACHE/<name>`` if set, else ``$XDG_CACHE_HOME/xstilts/hub/<name>``
    (``~/.cache/...``), where ``<name>`` is ``ORG--NAME`` for a Hub repo.
    """
    if os.environ.get("XSTILTS_HUB_CACHE"):
        base = Path(os.environ["XSTILTS_HUB_CACHE"]).expanduser()
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xstilts" / "hub"
    return base / remote.cache_name
