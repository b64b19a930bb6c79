"""One immutable Parquet shard per run: the unit of atomic writes and of Hub transfer.

A shard holds the run's result rows; the run record (identity, config, dev scores, stamps) and
its content hash travel in the file's key-value metadata. A shard is written to a temporary file
in the same folder (a unique name, see :mod:`store.fs`) and published with ``os.link``, which
fails if the name exists: two writers of the same run cannot both win, and a killed writer leaves
only a temporary file that readers never look at and ``store validate --fix`` removes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from store.errors import StoreError
from store.fs import publish, write_temp
from store.records import Result, Run, content_hash

SHARD_SUFFIX = ".parquet"
_META_RUN = b"xstilts.run"
_META_HASH = b"xstilts.content_hash"
_META_VERSION = b"xstilts.shard_version"
SHARD_VERSION = "1"

RESULT_SCHEMA = pa.schema(
    [
        ("language", pa.string()),
        ("split", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("n_examples", pa.int64()),
        ("metric_as_printed", pa.string()),
        ("value_as_printed", pa.string()),
        ("conversion", pa.string()),
        ("notes", pa.string()),
    ]
)


def shard_path(runs_dir: Path, run_id: str) -> Path:
    return runs_dir / f"{run_id}{SHARD_SUFFIX}"


def _table(run: Run, results: Sequence[Result]) -> pa.Table:
    rows = [asdict(r) for r in results]
    table = pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)
    meta = {
        _META_RUN: run.to_json().encode(),
        _META_HASH: content_hash(run, results).encode(),
        _META_VERSION: SHARD_VERSION.encode(),
    }
    return table.replace_schema_metadata(meta)


def read_shard(path: Path) -> tuple[Run, list[Result], str]:
    """Returns (run, results, content_hash) of one shard."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as e:
        reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise StoreError(f"shard {path} is unreadable ({reason}); delete it and rerun or pull again") from None
    meta = table.schema.metadata or {}
    if _META_RUN not in meta or _META_HASH not in meta:
        raise StoreError(f"{path} is not an xstilts shard (no run record in its metadata); delete it")
    try:
        run = Run.from_json(meta[_META_RUN].decode())
        results = [Result(**row) for row in table.to_pylist()]
        return run, results, meta[_META_HASH].decode()
    except (ValueError, TypeError, AttributeError) as e:
        raise StoreError(f"shard {path} holds a malformed run record ({type(e).__name__}); delete it") from None


def read_shard_hash(path: Path) -> str:
    """The content hash of a shard, read from its footer only."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return ""  # unreadable: never equal to a real hash
    return meta.get(_META_HASH, b"").decode()


def write_shard(runs_dir: Path, run: Run, results: Sequence[Result]) -> tuple[Path, bool]:
    """Writes a run's shard atomically.

    Returns:
        (path, written): ``written`` is False when an identical shard was already there.

    Raises:
        StoreError: a shard with the same run id but different content exists.
    """
    runs_dir.mkdir(parents=True, exist_ok=True)
    final = shard_path(runs_dir, run.run_id)
    table = _table(run, results)
    new_hash = table.schema.metadata[_META_HASH].decode()
    if final.exists():
        return final, _same_or_conflict(final, new_hash, run.run_id)
    tmp = write_temp(runs_dir, "tmp", SHARD_SUFFIX)  # unique name, group-readable mode
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if not publish(tmp, final):  # atomic, and refuses to replace an existing shard
        return final, _same_or_conflict(final, new_hash, run.run_id)
    return final, True


def _same_or_conflict(existing: Path, new_hash: str, run_id: str) -> bool:
    if read_shard_hash(existing) == new_hash:
        return False
    raise StoreError(
        f"run {run_id} is already stored with different results; "
        "change its seed or hyperparameters, or delete the old shard deliberately"
    )


def list_shards(runs_dir: Path) -> dict[str, Path]:
    """run_id -> shard path for every finished shard (temporary files are skipped)."""
    if not runs_dir.is_dir():
        return {}
    return {
        p.name[: -len(SHARD_SUFFIX)]: p
        for p in runs_dir.iterdir()
        if p.name.endswith(SHARD_SUFFIX) and not p.name.startswith(".")
    }



def read_run_record(path: Path) -> Run:
    """The run record of a shard, read from its footer only (no result rows)."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException) as e:
        raise StoreError(f"shard {path} is unreadable ({e}); delete it and rerun or pull again") from e
    if _META_RUN not in meta:
        raise StoreError(f"{path} is not an xstilts shard (no run record in its metadata)")
    return Run.from_json(meta[_META_RUN].decode())
