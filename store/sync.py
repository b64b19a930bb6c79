"""Push a store to a remote, pull it back, open ``hf://`` stores: the logic, not the transport.

* :func:`push` publishes a whole store in **one commit**: the shards and sources the remote does
  not have, then the catalog and snapshot tables and the card, built from the local shards *plus*
  those already on the remote (so the card describes everything pushed so far). A push that
  finds nothing new and an unchanged snapshot commits nothing.
* :func:`push_run` uploads one run's own shard (what ``runner run --push`` calls): jobs never
  touch each other's files.
* Both commit against the revision they listed (optimistic concurrency, see :mod:`store.remote`):
  when another job committed in between, they list again and re-check their shards, so two jobs
  pushing one run id with different results cannot overwrite each other: the second is refused.
* :func:`pull` fetches the shards and sources the local store lacks, verifies each by its
  content hash, links them in atomically, and rebuilds the index.
* :func:`resolve_store` turns ``--store hf://datasets/ORG/NAME`` into a pulled local cache
  folder (falling back to the last copy when the Hub cannot be reached).

A shard that exists on both sides with different bytes is compared by content hash: the same
measurement (say, a rerun with another ``created_at``) is skipped, different results are a
conflict and nothing is transferred. The local store is only read by a push; a push that fails
midway changes nothing locally and a retry uploads what is still missing.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from store import card, predictions
from store.database import INDEX_NAME, Store, resolve_store_path
from store.errors import StoreError
from store.hub import open_remote
from store.published import Source
from store.records import RUNNER_SOURCE, content_hash
from store.remote import (
    Remote,
    RemoteChanged,
    hub_cache_dir,
    is_remote_store,
    same_bytes,
)
from store.shards import SHARD_SUFFIX, list_shards, read_shard, shard_path

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8  # each refused commit (the remote moved) lists again and retries


@dataclass(frozen=True)
class PushReport:
    """What a push did: files added, files already there, whether it committed."""

    remote: str
    new_runs: int
    new_sources: int
    already: int
    commits: int
    snapshot_runs: int = 0


@dataclass(frozen=True)
class PullReport:
    """What a pull did, and the local store's size afterwards."""

    remote: str
    store: Path
    new_runs: int
    new_sources: int
    already: int
    runs: int
    result_rows: int


# ---------------------------------------------------------------------- files and their content
def _is_store_file(rel: str) -> bool:
    """Shards and sources directly under runs/ and sources/ (what a store owns)."""
    folder, _, name = rel.partition("/")
    if "/" in name or name.startswith("."):
        return False
    return ((folder == "runs" and name.endswith(SHARD_SUFFIX)) or (folder == "sources" and name.endswith(".json"))
            or (folder == predictions.PREDICTIONS_DIR and name.endswith(predictions.SUFFIX)))


def _order(rel: str) -> tuple[int, str]:
    # sources land before the shards citing them, predictions before the shards naming them
    return ({"sources": 0, predictions.PREDICTIONS_DIR: 1}.get(rel.partition("/")[0], 2), rel)


def local_files(root: Path) -> dict[str, Path]:
    """A store's own content: path in remote -> local file, sources first."""
    out = {}
    sources = root / "sources"
    if sources.is_dir():
        out.update({f"sources/{p.name}": p for p in sorted(sources.glob("*.json")) if not p.name.startswith(".")})
    shards = list_shards(root / "runs")
    for run_id in sorted(predictions.available(root, shards)):  # a file without its shard is a leftover
        out[f"{predictions.PREDICTIONS_DIR}/{run_id}{predictions.SUFFIX}"] = predictions.predictions_path(root, run_id)
    out.update({f"runs/{p.name}": p for _, p in sorted(shards.items())})
    return out


def content_key(rel: str, path: Path) -> str:
    """What a file says, independent of its bytes; verifies it on the way.

    Returns:
        For a shard, its content hash (checked against its results); for a source, its record.

    Raises:
        StoreError: a damaged or renamed shard, or a file that is not a source record.
    """
    if rel.startswith(f"{predictions.PREDICTIONS_DIR}/"):
        return predictions.verified_hash(path, rel[len(predictions.PREDICTIONS_DIR) + 1 : -len(predictions.SUFFIX)])
    if rel.startswith("runs/"):
        run, results, stored = read_shard(path)
        if rel != f"runs/{run.run_id}{SHARD_SUFFIX}":
            raise StoreError(f"{rel} holds run {run.run_id} (a renamed shard); remove it and rerun `store validate`")
        if content_hash(run, results) != stored:
            raise StoreError(f"{rel} does not match its own content hash (damaged); delete it and pull or rerun it")
        return stored
    try:
        src = Source(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as e:
        raise StoreError(f"{rel} is not a source record ({type(e).__name__}); remove it") from None
    if rel != f"sources/{src.source}.json":
        raise StoreError(f"{rel} registers source {src.source!r} (a renamed file); remove it")
    return json.dumps(src.__dict__, sort_keys=True)


def _conflict(rels: list[str], remote: Remote, outcome: str) -> StoreError:
    shown = ", ".join(rels[:3]) + (f" and {len(rels) - 3} more" if len(rels) > 3 else "")
    return StoreError(
        f"{len(rels)} file(s) differ in content between the local store and {remote.name} ({shown}): "
        f"the same run id was measured differently; {outcome} (keep one copy deliberately, or change seed/hparams)"
    )


def _new_files(local: Mapping[str, Path], listing: Mapping, remote: Remote, tmp: Path,
               revision: str | None = None) -> tuple[dict[str, Path], int]:
    """Local files the remote lacks (as listed at ``revision``); raises if a file on both sides
    differs in content."""
    differ = [rel for rel in local if rel in listing and not same_bytes(local[rel], listing[rel])]
    fetched = remote.download(differ, tmp / "compare", revision) if differ else {}
    conflicts = [rel for rel in differ if content_key(rel, fetched[rel]) != content_key(rel, local[rel])]
    if conflicts:
        raise _conflict(conflicts, remote, "nothing was pushed")
    new = {rel: local[rel] for rel in sorted(local, key=_order) if rel not in listing}
    return new, len(local) - len(new)


def _fetch_into(remote: Remote, listing: Mapping, wanted: list[str], root: Path,
                revision: str | None = None) -> tuple[list[str], int]:
    """Downloads ``wanted`` store files missing from ``root``, verifies them, links them in.

    Returns:
        (paths added, number of files already there with the same content).
    """
    existing = local_files(root)
    to_get = [rel for rel in wanted if rel not in existing or not same_bytes(existing[rel], listing[rel])]
    if not to_get:
        return [], len(wanted)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pull-", dir=root))
    try:
        got = remote.download(to_get, staging, revision)
        keys = {}
        for rel in to_get:
            if listing[rel].digest and not same_bytes(got[rel], listing[rel]):
                raise StoreError(f"{rel} from {remote.name} arrived damaged (digest mismatch); retry")
            keys[rel] = content_key(rel, got[rel])
        conflicts = [rel for rel in to_get if rel in existing and content_key(rel, existing[rel]) != keys[rel]]
        if conflicts:
            raise _conflict(conflicts, remote, "nothing was pulled")
        added = []
        for rel in sorted(to_get, key=_order):
            if rel in existing:
                continue  # same content under different bytes: keep ours
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(got[rel], dest)  # atomic; never replaces a file
                added.append(rel)
            except FileExistsError:  # another process put it there meanwhile
                if content_key(rel, dest) != keys[rel]:
                    raise _conflict([rel], remote, "the rest was pulled") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return added, len(wanted) - len(added)


def _read_manifest(remote: Remote, listing: Mapping, tmp: Path, revision: str | None = None) -> dict:
    if card.MANIFEST not in listing:
        return {}
    path = remote.download([card.MANIFEST], tmp / "manifest", revision)[card.MANIFEST]
    try:
        manifest = json.loads(path.read_text())
    except ValueError:
        return {}
    if int(manifest.get("layout", 0)) > card.LAYOUT_VERSION:
        raise StoreError(
            f"{remote.name} has layout {manifest['layout']} (this xstilts reads up to {card.LAYOUT_VERSION}); upgrade xstilts"
        )
    return manifest


def _backoff(attempt: int) -> None:
    time.sleep(min(8.0, 0.25 * 2**attempt) * random.uniform(0.5, 1.5))


# ---------------------------------------------------------------------- push
def _snapshot(local: Mapping[str, Path], mirror: Path, remote_only: list[str], folder: Path) -> Store:
    """A throwaway store of symlinks: the local shards plus the remote's others, indexed."""
    for sub in ("runs", "sources", predictions.PREDICTIONS_DIR):
        (folder / sub).mkdir(parents=True)
    for rel, path in local.items():
        (folder / rel).symlink_to(path.absolute())
    for rel in remote_only:
        (folder / rel).symlink_to((mirror / rel).absolute())
    st = Store(folder, read_only=False)
    st.rebuild()
    return st


def push(store_path: str | os.PathLike | None, repo: str | os.PathLike | Remote, message: str = "",
         private: bool = False) -> PushReport:
    """Publishes a store to a remote in one commit (see the module docstring).

    Args:
        store_path: local store folder (None: ``$XSTILTS_STORE`` or the default).
        repo: ``ORG/NAME``, ``hf://datasets/ORG/NAME``, ``file:///path`` or a :class:`Remote`.
        message: commit message (default: says what was added).
        private: create a missing Hub repo as private.

    Raises:
        StoreError: no such store, a damaged local file, a content conflict, or a remote error.
    """
    root = resolve_store_path(store_path)
    if not root.is_dir():
        raise StoreError(f"{root} is not a store folder; nothing to push")
    local = local_files(root)
    for rel, path in local.items():
        content_key(rel, path)  # a damaged local file never leaves the machine
    remote = open_remote(repo, private=private)
    remote.open(create=True)
    mirror = hub_cache_dir(remote)
    label = getattr(remote, "repo_id", "ORG/NAME")
    for attempt in range(MAX_ATTEMPTS):
        with tempfile.TemporaryDirectory(prefix="xstilts-push-") as tmp_name:
            tmp = Path(tmp_name)
            parent = remote.revision()  # list at this commit, and commit on top of it
            listing = remote.stat(revision=parent)
            new, already = _new_files(local, listing, remote, tmp, parent)
            remote_only = [rel for rel in listing if _is_store_file(rel) and rel not in local]
            _fetch_into(remote, listing, remote_only, mirror, parent)
            snap = _snapshot(local, mirror, remote_only, tmp / "snapshot")
            try:
                derived, manifest = card.export(snap, tmp / "derived", label)
            finally:
                snap.close()
            n_runs = sum(rel.startswith("runs/") for rel in new)
            n_sources = sum(rel.startswith("sources/") for rel in new)
            report = PushReport(remote.name, n_runs, n_sources, already, 0, manifest["snapshot"]["runs"])
            old = _read_manifest(remote, listing, tmp, parent).get("snapshot", {}).get("key")
            if not new and old == manifest["snapshot"]["key"]:
                return report
            what = f"Add {n_runs} run(s) and {n_sources} source(s)" if new else "Refresh"
            try:
                remote.commit({**new, **derived}, message or f"{what}; update catalog, tables and card (store push)",
                              parent=parent)
            except RemoteChanged:  # someone committed since we listed: list again, compare again
                _backoff(attempt)
                continue
            extra = _refresh_derived(remote, mirror, label, covered={*local, *remote_only})
            return PushReport(**{**report.__dict__, "commits": 1 + extra})
    raise StoreError(f"{remote.name} kept changing during the push ({MAX_ATTEMPTS} attempts); retry")


def _refresh_derived(remote: Remote, mirror: Path, label: str, covered: set[str]) -> int:
    """After a push, rebuilds the remote's tables and card from the remote's own shards whenever
    other pushers added shards that our snapshot did not cover (concurrent pushes): the last
    derived files written always describe every shard on the remote.

    Returns:
        How many extra commits it made.
    """
    commits = 0
    for attempt in range(MAX_ATTEMPTS):
        parent = remote.revision()
        listing = remote.stat(revision=parent)
        files = [rel for rel in listing if _is_store_file(rel)]
        if set(files) <= covered:
            return commits
        with tempfile.TemporaryDirectory(prefix="xstilts-push-") as tmp_name:
            tmp = Path(tmp_name)
            _fetch_into(remote, listing, files, mirror, parent)
            snap = _snapshot({}, mirror, files, tmp / "snapshot")
            try:
                derived, _ = card.export(snap, tmp / "derived", label)
            finally:
                snap.close()
            try:
                remote.commit(derived, "Refresh catalog, tables and card from the remote's shards (store push)",
                              parent=parent)
            except RemoteChanged:
                _backoff(attempt)
                continue
        commits += 1
        covered = set(files)
    log.warning("%s kept changing; its tables and card may lag until the next push", remote.name)
    return commits


def push_run(store_path: str | os.PathLike | None, run_id: str, repo: str | os.PathLike | Remote) -> bool:
    """Uploads one run's own shard (and its source record if imported) in one commit.

    Returns:
        True if uploaded, False if the remote already had it with the same content.

    Raises:
        StoreError: the run is not in the store, its shard differs on the remote, or a remote error.
    """
    root = resolve_store_path(store_path)
    shard = shard_path(root / "runs", run_id)
    if not shard.is_file():
        raise StoreError(f"run {run_id} is not in the store {root}; nothing to push")
    files = {f"runs/{shard.name}": shard}
    run = read_shard(shard)[0]
    if run.predictions:
        files = {f"{predictions.PREDICTIONS_DIR}/{run_id}{predictions.SUFFIX}": predictions.predictions_path(root, run_id),
                 **files}
    if run.source != RUNNER_SOURCE:
        files = {f"sources/{run.source}.json": root / "sources" / f"{run.source}.json", **files}
    for rel, path in files.items():
        content_key(rel, path)
    remote = open_remote(repo)
    remote.open(create=True)
    for attempt in range(MAX_ATTEMPTS):
        with tempfile.TemporaryDirectory(prefix="xstilts-push-") as tmp:
            parent = remote.revision()  # ask about our paths at this commit, and commit on top of it
            new, _ = _new_files(files, remote.stat(list(files), revision=parent), remote, Path(tmp), parent)
            if not any(rel.startswith("runs/") for rel in new):
                return False
            try:
                remote.commit(new, f"Add run {run_id} (runner run --push)", parent=parent)
                return True
            except RemoteChanged:  # someone committed since: the next round re-checks our shard there
                _backoff(attempt)
    raise StoreError(f"{remote.name} kept changing while pushing run {run_id}; retry")


# ---------------------------------------------------------------------- pull
def pull(repo: str | os.PathLike | Remote, store_path: str | os.PathLike | None) -> PullReport:
    """Brings a remote's shards and sources into a local store and rebuilds its index.

    Only files the store lacks are downloaded; each is verified by its content hash and linked in
    atomically. Existing local runs are never replaced.

    Raises:
        StoreError: offline, unreachable, unauthorised, missing repo, or a content conflict.
    """
    root = resolve_store_path(store_path)
    if root.exists() and not root.is_dir():
        raise StoreError(f"store path {root} is a file; give a folder")
    remote = open_remote(repo)
    remote.open(create=False)
    revision = remote.revision()  # one consistent snapshot, even while others push
    listing = remote.stat(revision=revision)
    with tempfile.TemporaryDirectory(prefix="xstilts-pull-") as tmp:
        _read_manifest(remote, listing, Path(tmp), revision)
    added, already = _fetch_into(remote, listing, [rel for rel in listing if _is_store_file(rel)], root, revision)
    with Store.open(root, rebuild=True) as st:
        runs, rows = st.counts()
    new_sources = sum(rel.startswith("sources/") for rel in added)
    new_runs = sum(rel.startswith("runs/") for rel in added)
    return PullReport(remote.name, root, new_runs, new_sources, already, runs, rows)


def resolve_store(spec: str | os.PathLike | None) -> Path:
    """The local folder to open for a ``--store`` value; what every CLI and the dashboard call.

    A path (or None) resolves as :func:`store.database.resolve_store_path` does. ``hf://datasets/
    ORG/NAME`` is pulled into ``$XDG_CACHE_HOME/xstilts/hub/ORG--NAME`` (only new shards are
    downloaded) and that folder is returned, to be opened read-only. When the Hub cannot be
    reached but an earlier copy exists, that copy is used with a warning.

    Raises:
        StoreError: the Hub cannot be reached (or refuses) and there is no cached copy.
    """
    if not is_remote_store(spec):
        return resolve_store_path(spec)
    remote = open_remote(str(spec))
    cache = hub_cache_dir(remote)
    try:
        pull(remote, cache)
    except StoreError as e:
        if not (cache / INDEX_NAME).exists():
            raise StoreError(f"{e} (no cached copy of {remote.name} yet)") from e
        log.warning("using the cached copy of %s in %s: could not refresh it (%s)", remote.name, cache, e)
    return cache


__all__ = ["PullReport", "PushReport", "local_files", "pull", "push", "push_run", "resolve_store"]
