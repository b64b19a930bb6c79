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
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from store import catalog as catalog_mod
from store import configuration
from store import predictions as predictions_mod
from store.catalog import Catalog, load_catalog
from store.demo import DEMO_SOURCE
from store.errors import StoreError
from store.published import PUBLISHED_KEYS, Source, load_published
from store.records import RUNNER_SOURCE, Result, Run, content_hash, validate
from store.shards import list_shards, read_shard, write_shard

SCHEMA_FILE = Path(__file__).parent / "schema.sql"
SCHEMA_VERSION = "2"  # 2: configuration identity columns on runs
ENV_VAR = "XSTILTS_STORE"
INDEX_NAME = "index.duckdb"
_LOCK_WAIT_S = 30.0

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


class Store:
    """A store folder. Use :meth:`open`; close it (or use ``with``) when done."""

    def __init__(self, root: Path, read_only: bool):
        self.root = root
        self.read_only = read_only
        self.runs_dir = root / "runs"
        self.sources_dir = root / "sources"
        self.index_path = root / INDEX_NAME
        self._con: duckdb.DuckDBPyConnection | None = None
        self.catalog: Catalog = load_catalog()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike | None = None, read_only: bool = True, rebuild: bool = False,
             create: bool = True) -> Store:
        """Opens the store at ``path`` and brings its index up to date.

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
        if rebuild:
            st.rebuild()
        if read_only:
            st._catch_up_reader()
        else:
            st.refresh(wait=True, wait_s=_LOCK_WAIT_S)
        return st

    def _catch_up_reader(self) -> None:
        """A reader's refresh: read-only unless shards are missing from the index, and never waiting."""
        if not self._index_current():
            self.rebuild()  # a new file swapped in atomically: takes no lock from anyone
            return
        try:
            con = duckdb.connect(str(self.index_path), read_only=True)
        except duckdb.Error as e:
            if _is_lock_error(e):
                return  # a writer holds it for a moment; queries wait for it (_connection)
            raise
        known = {r for (r,) in con.sql("SELECT run_id FROM runs").fetchall()}
        missing = [rid for rid in list_shards(self.runs_dir) if rid not in known]
        if not missing:
            self._con = con  # nothing new: keep this read-only connection for the queries
            return
        con.close()
        if not self.refresh(wait=False):
            # A reader must not fail, nor wait, because a dashboard or writer holds the index: it
            # reads what is indexed and says which newer shards are not shown yet.
            print(
                f"warning: {len(missing)} new run(s) in {self.runs_dir} are not in the index yet "
                f"({self.index_path} is held by another process, e.g. a dashboard); they appear once it is free",
                file=sys.stderr,
            )

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _connection(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + _LOCK_WAIT_S
        while self._con is None:
            try:
                self._con = duckdb.connect(str(self.index_path), read_only=True)
            except duckdb.Error as e:  # a writer holds the file for a moment
                if not _is_lock_error(e) or time.monotonic() >= deadline:
                    raise StoreError(
                        f"cannot open {self.index_path}: another process holds it; close it and retry"
                    ) from e
                time.sleep(0.05)
        return self._con

    # ------------------------------------------------------------------ index
    def _index_current(self) -> bool:
        """True when the index exists and matches this package's schema and data files."""
        if not self.index_path.exists():
            return False
        try:
            with duckdb.connect(str(self.index_path), read_only=True) as con:
                meta = dict(con.sql("SELECT key, value FROM meta").fetchall())
        except duckdb.Error as e:
            if _is_lock_error(e):
                return True  # someone is writing it: it exists and is being kept current
            return False
        return meta.get("schema_version") == SCHEMA_VERSION and meta.get("fingerprint") == self.catalog.fingerprint()

    def rebuild(self) -> None:
        """Builds the index from scratch in a temporary file, then swaps it in atomically."""
        self.close()
        fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".duckdb", dir=self.root)
        os.close(fd)
        os.unlink(tmp)  # DuckDB wants to create the file itself
        try:
            with duckdb.connect(tmp) as con:
                con.execute(SCHEMA_FILE.read_text())
                _load_catalog_tables(con, self.catalog)
                sources, published = load_published(self.catalog)
                _insert_sources(con, [RUNNER_SOURCE_ROW, *sources, *self._imported_sources()])
                for run, results in published:
                    validate(run, results, self.catalog)
                _insert_runs(con, [(r, res, content_hash(r, res)) for r, res in published])
                _insert_runs(con, _unique_shards(list_shards(self.runs_dir).values(), set()))
                con.execute(
                    "INSERT INTO meta VALUES ('schema_version', ?), ('fingerprint', ?)",
                    [SCHEMA_VERSION, self.catalog.fingerprint()],
                )
            os.replace(tmp, self.index_path)
        finally:
            for leftover in (tmp, tmp + ".wal"):
                if os.path.exists(leftover):
                    os.unlink(leftover)

    def refresh(self, wait: bool = True, wait_s: float = _LOCK_WAIT_S) -> bool:
        """Adds shards that the index does not have yet.

        Args:
            wait: retry while another process holds the index (up to ``wait_s``); otherwise give
                up at once, leaving the new shards for the next refresh.
            wait_s: how long to retry.

        Returns:
            True if the index is current afterwards.
        """
        if not self._index_current():
            self.rebuild()
            return True
        deadline = time.monotonic() + (wait_s if wait else 0.0)
        self.close()
        while True:
            try:
                with duckdb.connect(str(self.index_path)) as con:
                    known = {r for (r,) in con.sql("SELECT run_id FROM runs").fetchall()}
                    missing = [p for rid, p in list_shards(self.runs_dir).items() if rid not in known]
                    if missing:
                        con.execute("BEGIN TRANSACTION")
                        _insert_sources(con, self._imported_sources(), skip_existing=True)
                        _insert_runs(con, _unique_shards(missing, known))
                        con.execute("COMMIT")
                return True
            except duckdb.Error as e:
                if not _is_lock_error(e):
                    raise
                if time.monotonic() >= deadline:
                    if wait and not self.read_only:
                        raise StoreError(
                            f"the store index {self.index_path} is held by another process; "
                            "close it (a dashboard or a writer) and retry"
                        ) from e
                    return False
                time.sleep(0.05 + 0.1 * (os.getpid() % 7) / 7)

    def _imported_sources(self) -> list[Source]:
        if not self.sources_dir.is_dir():
            return []
        return [Source(**json.loads(p.read_text())) for p in sorted(self.sources_dir.glob("*.json"))]

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
        if self.read_only:
            raise StoreError("this store was opened read-only; open it with read_only=False to write")
        if run.source != RUNNER_SOURCE and not (self.sources_dir / f"{run.source}.json").exists():
            raise StoreError(f"source {run.source!r} is not registered; add it with add_source() first")
        validate(run, results, self.catalog)
        if predictions is not None and not self.has_run(run.run_id):
            frame = predictions_mod.normalize(predictions)
            predictions_mod.check_against(frame, run, results)
            _, digest = predictions_mod.write_predictions(self.root, run.run_id, frame)
            run = replace(run, predictions=digest)
        _, written = write_shard(self.runs_dir, run.stamped(), results)
        self.refresh(wait=False)
        return written

    def add_source(self, source: Source) -> None:
        """Registers the citation of imported results (refuses to change an existing one)."""
        if self.read_only:
            raise StoreError("this store was opened read-only; open it with read_only=False to write")
        if source.source in (RUNNER_SOURCE, DEMO_SOURCE) or source.source in PUBLISHED_KEYS:
            raise StoreError(f"source key {source.source!r} is reserved; choose another --source")
        self.sources_dir.mkdir(parents=True, exist_ok=True)
        path = self.sources_dir / f"{source.source}.json"
        payload = json.dumps(source.__dict__, sort_keys=True, indent=1)
        if path.exists():
            if path.read_text() != payload:
                raise StoreError(
                    f"source {source.source!r} is already registered with another citation or locator; "
                    "use a new source key"
                )
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_text(payload)
        os.replace(tmp, path)

    def counts(self) -> tuple[int, int]:
        """(runs, result rows) in the index."""
        n = self.query("SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM results) AS rows")
        return int(n["runs"][0]), int(n["rows"][0])

    def has_run(self, run_id: str) -> bool:
        """True if a shard for ``run_id`` exists (whether or not the index has caught up)."""
        return (self.runs_dir / f"{run_id}.parquet").exists()

    # ------------------------------------------------------------------ reading
    def query(self, sql: str, params: Sequence | dict | None = None) -> pl.DataFrame:
        """Runs one parameterised read query on its own cursor and returns a polars frame."""
        cur = self._connection().cursor()
        try:
            return cur.sql(sql, params=params).pl()
        finally:
            cur.close()


def _unique_shards(paths, known: set[str]) -> list[tuple[Run, list[Result], str]]:
    """Reads shards, skipping run ids already indexed (a renamed copy is `store validate`'s to report)."""
    out = []
    for p in sorted(paths):
        item = read_shard(p)
        if item[0].run_id not in known:
            known.add(item[0].run_id)
            out.append(item)
    return out


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    frame = pa.Table.from_pylist(rows)
    con.register("_incoming", frame)
    cols = ", ".join(frame.column_names)
    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")  # table: fixed names
    con.unregister("_incoming")


def _insert_sources(con, sources: Sequence[Source], skip_existing: bool = False) -> None:
    if skip_existing:
        have = {s for (s,) in con.sql("SELECT source FROM sources").fetchall()}
        sources = [s for s in sources if s.source not in have]
    _insert_frame(con, "sources", [dict(s.__dict__) for s in sources])


def _insert_runs(con, items: Sequence[tuple[Run, Sequence[Result], str]]) -> None:
    runs, results, dev = [], [], []
    for run, res, chash in items:
        runs.append(
            {
                "run_id": run.run_id,
                "source": run.source,
                "model": run.model,
                "label": run.label,
                "intermediate": run.intermediate,
                "target": run.target,
                "variant": run.variant,
                "setting": run.setting,
                "seed": run.seed,
                "hparams": json.dumps(dict(run.hparams), sort_keys=True),
                "config": json.dumps(dict(run.config), sort_keys=True, default=str),
                "code_version": run.code_version,
                "hardware": run.hardware,
                "wall_time_s": run.wall_time_s,
                "gpu_hours": run.gpu_hours,
                "created_at": run.created_at,
                "content_hash": chash,
                "config_id": configuration.config_id(run),
                "target_config_id": configuration.target_config_id(run),
                "target_data": configuration.target_data(run),
                "configuration": json.dumps(configuration.flatten(run), sort_keys=True),
                "capped": configuration.is_capped(run),
            }
        )
        results.extend({"run_id": run.run_id, **r.__dict__} for r in res)
        dev.extend({"run_id": run.run_id, **s.__dict__} for s in run.dev_scores)
    _insert_frame(con, "runs", runs)
    _insert_frame(con, "results", results)
    _insert_frame(con, "dev_scores", dev)


def _format_rank(level: str) -> int | None:
    return int(level) if level.isdigit() else None


def _int_or_none(cell: str) -> int | None:
    return int(cell) if cell.strip().isdigit() else None


def _load_catalog_tables(con, cat: Catalog) -> None:
    _insert_frame(
        con,
        "tasks",
        [
            {**t.__dict__, "benchmarks": ";".join(t.benchmarks), "metrics": ";".join(t.metrics)}
            for t in cat.tasks.values()
        ],
    )
    names = {t.name: t.task for t in cat.tasks.values()}
    complexity = []
    for r in catalog_mod._read_csv("intermediate_tasks.csv"):
        task = names.get(r["task"])
        if task is None or cat.tasks[task].role != "intermediate":
            continue  # candidates outside the nine, and the multi-task row
        complexity.append(
            {
                "task": task,
                "format_level": r["format_level"],
                "format_rank": _format_rank(r["format_level"]),
                "task_format": r["task_format"],
                "n_labels_or_choices": _int_or_none(r["n_labels_or_choices"]),
                "n_labels_source": r["n_labels_source"],
                "train_size": _int_or_none(r["train_size"]),
                "train_size_source": r["train_size_source"],
                "bytes_per_example": _int_or_none(r["hf_train_bytes_per_example"]),
                "input_structure": r["input_structure"],
                "reasoning_type": r["reasoning_type"],
                "reasoning_source": r["reasoning_source"],
                "english_model_score": r["english_model_score"],
                "english_model": r["english_model"],
                "english_model_source": r["english_model_source"],
                "human_score": r["human_score"],
                "human_source": r["human_source"],
                "notes": r["notes"],
            }
        )
    _insert_frame(con, "task_complexity", complexity)
    _insert_frame(
        con,
        "languages",
        [
            {
                "language": lang.code,
                "name": lang.name,
                "family": lang.family,
                "genus": lang.genus,
                "script": lang.script,
                "resource_class": lang.resource_class,
                "in_xtreme": lang.in_xtreme,
                "in_xtreme_r": lang.in_xtreme_r,
            }
            for lang in cat.languages.values()
        ],
    )
    dist = catalog_mod.load_distances()
    _insert_frame(
        con,
        "language_distances",
        [
            {"language": lang, "kind": kind, "distance": value, "uriel_code": dist.uriel_codes[lang]}
            for lang, by_kind in dist.values.items()
            for kind, value in by_kind.items()
        ],
    )
    _insert_frame(
        con,
        "distance_source",
        [
            {
                "package": dist.package,
                "package_version": dist.package_version,
                "citation": dist.citation,
                "base_citation": dist.base_citation,
                "reference_language": dist.reference_language,
                "configuration": json.dumps(dist.configuration, sort_keys=True),
            }
        ],
    )
    _insert_frame(
        con,
        "task_languages",
        [
            {"benchmark": b, "task": t, "language": lang}
            for (b, t), langs in cat.benchmark_languages.items()
            for lang in langs
        ],
    )
    _insert_frame(con, "models", [dict(m.__dict__) for m in cat.models.values()])
    stats_names = {"POS": "udpos", "NER": "panx", "BUCC": "bucc2018"}
    _insert_frame(
        con,
        "dataset_statistics",
        [
            {
                "task": stats_names.get(r["target_task"]) or names.get(r["target_task"], r["target_task"]),
                "statistic": r["metric"],
                "value_as_printed": r["value"],
                "notes": r["notes"],
                "source": r["source"],
            }
            for r in catalog_mod._read_csv("xtreme_dataset_statistics_rembert_table11.csv")
        ],
    )
