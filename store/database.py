"""The store: a folder of immutable run shards plus a DuckDB index built from them.

Layout of a store folder::

    STORE/
      runs/<run_id>.parquet   one immutable shard per run (runner runs and `store import`)
      sources/<key>.json      sources of imported results (citation, locator)
      index.duckdb            derived: catalog + published results + every shard

Writers only add shards (atomic, idempotent) and then bring the index up to date if nobody
holds it; readers bring it up to date before they open it read-only. The index can always be
rebuilt from the package data and the shards (``store build``), so it is never the only copy.

Example:
    >>> import tempfile
    >>> from store.database import Store
    >>> with Store.open(tempfile.mkdtemp(), read_only=False) as st:
    ...     int(st.query("SELECT count(*) AS n FROM sources")["n"][0]) > 0
    True
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl

from store import fs
from store import predictions as predictions_mod
from store.catalog import Catalog, load_catalog
from store.errors import StoreError
from store.index_tables import insert_runs, insert_sources, load_catalog_tables
from store.published import PUBLISHED_KEYS, Source, load_published
from store.records import (
    DEMO_SOURCE,
    RUNNER_SOURCE,
    TEXT_MAX,
    Result,
    Run,
    check_source_key,
    check_text,
    content_hash,
    validate,
)
from store.shards import SHARD_SUFFIX, list_shards, read_shard, write_shard

SCHEMA_FILE = Path(__file__).parent / "schema.sql"
SCHEMA_VERSION = "2"  # 2: configuration identity columns on runs
ENV_VAR = "XSTILTS_STORE"
INDEX_NAME = "index.duckdb"
_LOCK_WAIT_S = 30.0  # a query waits this long for a writer to let go of the index file
_READER_WAIT_S = 3.0  # a reader whose index is missing or outdated waits this long, then builds a private one
_WRITER_WAIT_S = 10.0  # opening: how long a writer waits to take new shards in (it never fails over it)
_REBUILD_WAIT_S = 120.0  # a rebuild waits this long for writers updating the index
_TRANSIENT_RETRIES = 5  # opening errors that are not lock conflicts (a swap under our feet)

RUNNER_SOURCE_ROW = Source(
    RUNNER_SOURCE,
    "xstilts runner (this project's own runs)",
    "each run's config, code version and hardware are in the runs table",
    "own runs",
    "",
    "",
)


def default_store_path() -> Path:
    """``$XSTILTS_STORE``, else ``$XDG_DATA_HOME/xstilts/store`` (``~/.local/share/...``)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "xstilts" / "store"


def resolve_store_path(path: str | os.PathLike | None) -> Path:
    """An explicit path wins over the environment variable, which wins over the default."""
    return Path(path).expanduser() if path else default_store_path()


def is_store_folder(path: str | os.PathLike) -> bool:
    """True if ``path`` is an existing store folder (it holds the index or a runs/ folder)."""
    try:
        p = Path(path).expanduser()
        return p.is_dir() and ((p / INDEX_NAME).is_file() or (p / "runs").is_dir())
    except (OSError, ValueError):
        return False


def _is_lock_error(e: Exception) -> bool:
    text = str(e).lower()
    return "lock" in text or "conflicting" in text or "different configuration" in text


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass
class _IndexState:
    """What a read-only look at the index found: ``kind`` is current, outdated, missing or busy."""

    kind: str
    pending: list[Path] = field(default_factory=list)  # shard files the index has not seen


T = TypeVar("T")


class Store:
    """A store folder. Use :meth:`open`; close it (or use ``with``) when done."""

    def __init__(self, root: Path, read_only: bool):
        self.root = root
        self.read_only = read_only
        self.runs_dir = root / "runs"
        self.sources_dir = root / "sources"
        self.index_path = root / INDEX_NAME
        self._con: duckdb.DuckDBPyConnection | None = None
        self._private: Path | None = None  # a private index folder, when the store is not writable here
        self._per_connection: dict[str, tuple[duckdb.DuckDBPyConnection, object]] = {}
        self.catalog: Catalog = load_catalog()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike | None = None, read_only: bool = True, rebuild: bool = False,
             create: bool = True) -> Store:
        """Opens the store at ``path`` and brings its index up to date.

        A store this process cannot write (another user's, a read-only copy) is still readable:
        if its index lags behind its shards, a private index is built in a temporary folder.

        Args:
            path: store folder; None means ``$XSTILTS_STORE`` or the default location.
            read_only: queries only. A reader never waits for the index: when nothing is new it
                only opens it read-only (beside a dashboard that holds it); shards a writer could
                not index are added only if the index is free, otherwise it says what is not shown.
            rebuild: build the index from scratch first (``store build``, after a pull).
            create: make a new store when ``path`` holds none. The commands pass False except
                ``store build`` and ``store pull``, so a mistyped ``--store`` is an error, not a new,
                empty-looking store.
        """
        root = resolve_store_path(path)
        if root.exists() and not root.is_dir():
            raise StoreError(f"store path {root} is a file; give a folder (it will hold runs/ and {INDEX_NAME})")
        if root.suffix == ".duckdb":
            raise StoreError(f"store path {root} looks like a database file; give the folder that holds it")
        if not create and not is_store_folder(root):
            raise StoreError(
                f"no store at {root}: check the path, or create one there with `store build --store {root}`"
            )
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create store folder {root}: {e.strerror}") from e
        st = cls(root, read_only)
        if not read_only and not st.writable():
            raise StoreError(f"store {root} is not writable by this user; open it read-only or copy it")
        if rebuild:
            st.rebuild()
        elif read_only:
            st._catch_up_reader()
        elif not st.refresh(wait=True, wait_s=_WRITER_WAIT_S):
            # A writer never fails because a dashboard or another writer holds the index: its shards
            # are the record, and the index takes them in later.
            _warn(f"{st.index_path} is held by another process; new runs appear once it is free")
        if not read_only:
            fs.remove(fs.stale_files(root))  # leftovers of killed writers on this host (never a live one's)
        return st

    def _catch_up_reader(self) -> None:
        """A reader's refresh: read-only unless shards are missing from the index, and never waiting
        for anyone but a rebuild; a store it cannot write (or whose index stays locked) gets a
        private index instead."""
        state = self._index_state(keep=True)
        if state.kind == "busy" or (state.kind == "current" and not state.pending):
            return  # nothing new (the connection is kept), or a writer holds it a moment (queries wait)
        if state.kind in ("missing", "outdated"):
            if not self.refresh(wait=True, wait_s=_READER_WAIT_S):
                self._build_private()  # derived state never blocks reading the shards
            return
        if not self.refresh(wait=False):
            # A reader must not fail, nor wait, because a dashboard or writer holds the index: it
            # reads what is indexed and says which newer shards are not shown yet.
            _warn(
                f"{len(state.pending)} new run(s) in {self.runs_dir} are not in the index yet "
                f"({self.index_path} is held by another process, e.g. a dashboard); they appear once it is free"
            )

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._drop_connection()
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None
            self.index_path = self.root / INDEX_NAME

    def _drop_connection(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def writable(self) -> bool:
        """True when this process may add shards and update the index."""
        return fs.writable(self.root, self.root / INDEX_NAME, self.root / fs.LOCK_NAME, self.runs_dir)

    def _connection(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + _LOCK_WAIT_S
        transient = 0
        while self._con is None:
            try:
                self._con = duckdb.connect(str(self.index_path), read_only=True)
            except duckdb.Error as e:
                # A writer holds the file for a moment, or a rebuild swapped it in while we opened.
                transient += not _is_lock_error(e)
                if transient > _TRANSIENT_RETRIES or time.monotonic() >= deadline:
                    raise StoreError(
                        f"cannot open {self.index_path}: another process holds it or it is damaged "
                        "(close other users of the store and retry, or run `store build`)"
                    ) from e
                time.sleep(0.05)
        return self._con

    # ------------------------------------------------------------------ index
    def _index_state(self, keep: bool = False) -> _IndexState:
        """Looks at the index read-only: is it current, and which shard files has it not seen?

        Args:
            keep: when it is current and complete, keep the read-only connection for queries.
        """
        if not self.index_path.exists():
            return _IndexState("missing")
        for attempt in range(_TRANSIENT_RETRIES + 1):
            con = None
            try:
                con = duckdb.connect(str(self.index_path), read_only=True)
                meta = dict(con.sql("SELECT key, value FROM meta").fetchall())
                known = {r for (r,) in con.sql("SELECT run_id FROM runs").fetchall()}
                break
            except duckdb.Error as e:
                if con is not None:
                    con.close()
                if _is_lock_error(e):
                    return _IndexState("busy")  # a writer is changing it right now
                if attempt == _TRANSIENT_RETRIES:
                    return _IndexState("outdated")  # damaged: it is derived, so it is rebuilt
                time.sleep(0.05)
        if meta.get("schema_version") != SCHEMA_VERSION or meta.get("fingerprint") != self.catalog.fingerprint():
            con.close()
            return _IndexState("outdated")
        pending = [
            p for rid, p in sorted(list_shards(self.runs_dir).items())
            if rid not in known and meta.get(f"file:{p.name}") != _file_stamp(p)
        ]
        if keep and not pending and self._con is None:
            self._con = con
        else:
            con.close()
        return _IndexState("current", pending)

    def rebuild(self) -> None:
        """Builds the index from scratch in a temporary file, then swaps it in under the index lock.

        The swap waits for writers that are updating the index, so none of them loses the file
        under an open connection. A store this process cannot write gets a private index.
        """
        self._drop_connection()
        if not self.writable():
            self._build_private()
            return
        with fs.index_lock(self.root, _REBUILD_WAIT_S) as got:
            if not got:
                raise StoreError(f"{self.index_path} stayed locked by another process for {_REBUILD_WAIT_S:.0f} s; retry")
            self._rebuild_locked()

    def _build(self, target: Path) -> None:
        """Writes a complete index to ``target`` (which must not exist)."""
        with duckdb.connect(str(target)) as con:
            con.execute(SCHEMA_FILE.read_text())
            load_catalog_tables(con, self.catalog)
            sources, published = load_published(self.catalog)
            insert_sources(con, [RUNNER_SOURCE_ROW, *sources, *self._imported_sources()])
            for run, results in published:
                validate(run, results, self.catalog)
            insert_runs(con, [(r, res, content_hash(r, res)) for r, res in published])
            self._insert_shards(con, list_shards(self.runs_dir).values(), set())
            con.execute(
                "INSERT INTO meta VALUES ('schema_version', ?), ('fingerprint', ?)",
                [SCHEMA_VERSION, self.catalog.fingerprint()],
            )

    def _rebuild_locked(self) -> None:
        tmp = self.root / fs.temp_name("index", ".duckdb")
        try:
            self._build(tmp)
            os.chmod(tmp, fs.file_mode())
            # A WAL left by a killed writer belongs to the old file: it must not be replayed into
            # the new one. No writer is using it (we hold the index lock).
            wal = Path(f"{self.index_path}.wal")
            if wal.exists():
                wal.unlink()
            os.replace(tmp, self.index_path)
        finally:
            for leftover in (tmp, Path(f"{tmp}.wal")):
                if leftover.exists():
                    leftover.unlink()

    def _build_private(self) -> None:
        """An index of this store in a private temporary folder (the store is not writable here)."""
        self.close()
        self._private = Path(tempfile.mkdtemp(prefix="xstilts-index-"))
        self.index_path = self._private / INDEX_NAME
        self._build(self.index_path)

    def refresh(self, wait: bool = True, wait_s: float = _WRITER_WAIT_S) -> bool:
        """Adds shards that the index does not have yet (rebuilding it if it is missing or outdated).

        Args:
            wait: retry while another process holds the index (up to ``wait_s``); otherwise give
                up at once, leaving the new shards for the next refresh.
            wait_s: how long to retry.

        Returns:
            True if the index is current afterwards.
        """
        self._drop_connection()
        if self._private is not None:
            self._build_private()
            return True
        deadline = time.monotonic() + (wait_s if wait else 0.0)
        while True:
            state = self._index_state()
            if state.kind == "current" and not state.pending:
                return True
            if not self.writable():
                if state.kind == "busy":
                    return False
                self._build_private()  # never needs write access to the store
                return True
            with fs.index_lock(self.root, max(0.0, deadline - time.monotonic())) as got:
                if got and self._update_locked():
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05 + 0.1 * (os.getpid() % 7) / 7)

    def _update_locked(self) -> bool:
        """Brings the index up to date while holding the index lock; False if a reader holds the file."""
        state = self._index_state()
        if state.kind in ("missing", "outdated"):
            self._rebuild_locked()
            return True
        if state.kind == "busy":
            return False
        if not state.pending:
            return True
        try:
            with duckdb.connect(str(self.index_path)) as con:
                known = {r for (r,) in con.sql("SELECT run_id FROM runs").fetchall()}
                con.execute("BEGIN TRANSACTION")
                insert_sources(con, self._imported_sources(), skip_existing=True)
                self._insert_shards(con, state.pending, known)
                con.execute("COMMIT")
            return True
        except duckdb.Error as e:
            if _is_lock_error(e):
                return False  # a reader holds it open; the shards wait for the next refresh
            _warn(f"the index {self.index_path} could not be updated ({str(e).splitlines()[0]}); rebuilding it")
            self._rebuild_locked()
            return True

    def _insert_shards(self, con, paths, known: set[str]) -> None:
        """Indexes readable, valid shards; a bad one is skipped with a warning (and remembered,
        so it is not read again until the file changes). `store validate` lists it."""
        items, seen = [], []
        for p in sorted(paths):
            try:
                item = read_shard(p)
                validate(item[0], item[1], self.catalog)
            except StoreError as e:
                _warn(f"skipped {p.parent.name}/{p.name}: {e}")
                seen.append(p)
                continue
            if p.name != f"{item[0].run_id}{SHARD_SUFFIX}":
                seen.append(p)  # a renamed copy: indexed under its own run id at most once
            if item[0].run_id not in known:
                known.add(item[0].run_id)
                items.append(item)
        insert_runs(con, items)
        for p in seen:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [f"file:{p.name}", _file_stamp(p)])

    def _imported_sources(self) -> list[Source]:
        """Registered sources; a damaged or misnamed file is skipped with a warning."""
        sources = []
        for p in sorted(self.sources_dir.glob("*.json")) if self.sources_dir.is_dir() else ():
            try:
                sources.append(read_source(p))
            except StoreError as e:
                _warn(f"skipped {e}")
        return sources

    # ------------------------------------------------------------------ writing
    def write_run(self, run: Run, results: Sequence[Result], predictions=None) -> bool:
        """Validates and stores one run with its results, atomically and idempotently.

        Args:
            run: the run record.
            results: its result rows.
            predictions: optional per-example predictions (a frame in ``store.predictions``'
                columns). They are published before the shard, and the shard's record names
                their content hash, so a reader sees both or neither.

        Returns:
            True if written, False if the identical run was already there.

        Raises:
            StoreError: invalid run, results or predictions, or the same run id with different content.
        """
        written = self._write(run, results, predictions)
        self._refresh_after_write()
        return written

    def write_runs(self, items: Sequence[tuple[Run, Sequence[Result]]]) -> int:
        """Stores many runs (all validated before the first is written), refreshing the index once.

        Returns:
            How many were new.
        """
        for run, results in items:
            self._check_writable(run)
            validate(run, results, self.catalog)
        new = sum(self._write(run, results) for run, results in items)
        self._refresh_after_write()
        return new

    def _check_writable(self, run: Run) -> None:
        if self.read_only:
            raise StoreError("this store was opened read-only; open it with read_only=False to write")
        if run.source != RUNNER_SOURCE and not (self.sources_dir / f"{run.source}.json").exists():
            raise StoreError(f"source {run.source!r} is not registered; add it with add_source() first")

    def _write(self, run: Run, results: Sequence[Result], predictions=None) -> bool:
        self._check_writable(run)
        validate(run, results, self.catalog)
        if predictions is not None and not self.has_run(run.run_id):
            frame = predictions_mod.normalize(predictions)
            predictions_mod.check_against(frame, run, results)
            _, digest = predictions_mod.write_predictions(self.root, run.run_id, frame)
            run = replace(run, predictions=digest)
        return write_shard(self.runs_dir, run.stamped(), results)[1]

    def _refresh_after_write(self) -> None:
        """The shard is the record: an index that cannot be updated now never fails the write."""
        try:
            self.refresh(wait=False)
        except (duckdb.Error, OSError) as e:
            _warn(f"the run is stored; the index takes it in on the next command ({e})")

    def add_source(self, source: Source) -> None:
        """Registers the citation of imported results.

        Registering the same citation and locator again is a no-op (another file of the same
        source, or the same numbers re-imported); a different citation under a known key is
        refused. Concurrent registrations never share a temporary file, and exactly one wins.
        """
        if self.read_only:
            raise StoreError("this store was opened read-only; open it with read_only=False to write")
        check_source(source)
        self.sources_dir.mkdir(parents=True, exist_ok=True)
        path = self.sources_dir / f"{source.source}.json"
        if not path.exists():
            payload = json.dumps(source.__dict__, sort_keys=True, indent=1).encode()
            if fs.publish(fs.write_temp(self.sources_dir, "tmp", ".json", payload), path):
                return
        old = read_source(path)
        if (old.citation, old.locator) != (source.citation, source.locator):
            raise StoreError(
                f"source {source.source!r} is already registered with citation {old.citation!r} and locator "
                f"{old.locator!r}; repeat those to add to it, or use a new --source key"
            )

    def counts(self) -> tuple[int, int]:
        """(runs, result rows) in the index."""
        n = self.query("SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM results) AS rows")
        return int(n["runs"][0]), int(n["rows"][0])

    def has_run(self, run_id: str) -> bool:
        """True if a shard for ``run_id`` exists (whether or not the index has caught up)."""
        return (self.runs_dir / f"{run_id}.parquet").exists()

    # ------------------------------------------------------------------ reading
    def once_per_connection(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per open index connection, the same value while it stays open.

        The index cannot change under one: the connection is read-only, DuckDB locks the file
        against writers while it is open, and this class drops it before every update or rebuild.
        """
        con = self._connection()
        held = self._per_connection.get(key)
        if held is None or held[0] is not con:
            held = self._per_connection[key] = (con, compute())
        return held[1]

    def query(self, sql: str, params: Sequence | dict | None = None) -> pl.DataFrame:
        """Runs one parameterised read query on its own cursor and returns a polars frame."""
        cur = self._connection().cursor()
        try:
            return cur.sql(sql, params=params).pl()
        finally:
            cur.close()


# ---------------------------------------------------------------------- loading helpers
def _file_stamp(p: Path) -> str:
    """Size and modification time: a file seen (and skipped) is read again only once it changes."""
    st = p.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def check_source(source: Source) -> None:
    """Raises StoreError unless ``source`` can be registered: a free, well-formed key and sane texts."""
    check_source_key(source.source)
    if source.source in (RUNNER_SOURCE, DEMO_SOURCE) or source.source in PUBLISHED_KEYS:
        raise StoreError(f"source key {source.source!r} is reserved; choose another --source")
    for name in ("citation", "locator", "quality"):
        check_text(getattr(source, name), f"source {name}", TEXT_MAX)
    for name in ("file", "notes"):
        check_text(getattr(source, name), f"source {name}", TEXT_MAX, single_line=False)


def read_source(p: Path) -> Source:
    """A registered source record; raises StoreError naming the file if it is damaged or misnamed."""
    rel = f"{p.parent.name}/{p.name}"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        src = Source(**data)
    except (ValueError, TypeError, OSError) as e:
        raise StoreError(f"{rel} is not a source record ({type(e).__name__}); remove it or import again") from None
    if not all(isinstance(v, str) for v in src.__dict__.values()):
        raise StoreError(f"{rel} is not a source record (a field is not text); remove it or import again")
    if src.source != p.stem:
        raise StoreError(f"{rel} registers source {src.source!r} (a renamed file); remove it")
    return src
