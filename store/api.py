"""The store's public read API: what a program that only reads a store (the dashboard) may use.

:class:`StoreReader` holds the reads, each an explicit typed method returning a polars frame, a
dataclass or a plain value: the catalog and what a store offers, the analysis of
:mod:`store.analysis`, the claim verdicts of :mod:`store.claims`, the paper tables of
:mod:`store.exports`, and provenance (sources, runs, one run's rows). Every value a caller passes
reaches SQL as a query parameter, never as text. The other names of ``__all__`` are the pure
helpers and constants that go with those results (filters, formats, verdicts, renderers, the
`runner run` commands that fill a gap).

Anything not listed in ``__all__`` is the store's own business: readers outside ``store/`` import
this module only (a test holds the dashboard to it).

Example:
    >>> import tempfile
    >>> with StoreReader.open(tempfile.mkdtemp(), create=True) as reader:
    ...     "rembert_t16" in reader.offered().published_sources
    True
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from store import analysis, configuration, derived, distance, exports, pairs
from store import claims as claim_engine
from store.analysis import (
    AXES, BENCHMARKS, DEFAULT_BENCHMARK, Filters, GainRows, complexity_correlation, simple_vs_complex, single_task,
    summarize_gains,
)
from store.catalog import BASELINE, BEST_PER_TARGET, DISTANCE_KINDS, MULTITASK, Catalog, StudyDesign, study_design
from store.claims import CONTRADICTED, SUPPORTED, UNDECIDED, VERDICTS, ClaimResult, checks_frame, claims_frame
from store.claims import missing_commands, region
from store.claims import render as render_claims
from store.commands import fill_script, runner_command, with_store
from store.database import INDEX_NAME, Store, is_store_folder, resolve_store_path
from store.demo import DEMO_MARK, DEMO_SOURCE, has_demo
from store.distance import complexity_by_distance, distance_correlation, language_points, summarize_gap_change
from store.errors import StoreError
from store.exports import FORMATS as TABLE_FORMATS
from store.exports import TABLES, Table
from store.exports import render as render_table
from store.pairs import Pair, PairAnalysis
from store.records import RUNNER_SOURCE
from store.remote import is_remote_store
from store.sync import resolve_store

__all__ = [
    # reading
    "StoreReader", "Offered", "StudyDesign", "Filters", "INDEX_NAME", "RUNNER_SOURCE", "RUN_SOURCES", "DEMO_MARK",
    "StoreError",
    "is_remote_store", "resolve_store", "resolve_store_path", "is_store_folder", "prepare_store",
    # analysis helpers on the frames the reader returns
    "AXES", "BENCHMARKS", "DEFAULT_BENCHMARK", "GainRows", "single_task", "summarize_gains", "complexity_correlation",
    "simple_vs_complex",
    # distance to English
    "DISTANCE_KINDS", "BASELINE", "language_points", "distance_correlation", "complexity_by_distance",
    "summarize_gap_change",
    # paper tables
    "TABLES", "TABLE_FORMATS", "Table", "render_table",
    # per-example pairs
    "Pair", "PairAnalysis",
    # claims
    "ClaimResult", "VERDICTS", "SUPPORTED", "CONTRADICTED", "UNDECIDED", "claims_frame", "checks_frame",
    "missing_commands", "region", "render_claims",
    # `runner run` commands
    "runner_command", "fill_script", "with_store",
]

#: Sources of runs rather than published tables: the runner's own, and the made-up ``store demo`` runs
#: (marked as demonstration data wherever they show).
RUN_SOURCES = (RUNNER_SOURCE, DEMO_SOURCE)
#: Runs listed at most by :meth:`StoreReader.runs` and :meth:`StoreReader.runs_by_id`.
RUN_LIST_LIMIT = 2000


@dataclass(frozen=True)
class Offered:
    """The values a store holds, per column a reader may filter on (sorted, no nulls)."""

    models: tuple[str, ...]
    metrics: tuple[str, ...]
    splits: tuple[str, ...]
    settings: tuple[str, ...]
    target_types: tuple[str, ...]
    families: tuple[str, ...]
    published_sources: tuple[str, ...]
    #: configurations of own runs (config ids) and their labels: the keys that differ, "(capped)"
    configs: tuple[str, ...] = ()
    config_labels: tuple[str, ...] = ()


def prepare_store(spec: str | None) -> Path:
    """The local folder of the existing store ``spec`` (a Hub store is pulled), its index brought up to date.

    Raises:
        StoreError: no store there, or a Hub store cannot be reached.
    """
    path = resolve_store(spec)
    Store.open(path, read_only=True, create=False).close()
    return path


class StoreReader:
    """Read-only queries on one open store. Use :meth:`open`; close it (or use ``with``) when done."""

    def __init__(self, store: Store):
        self._store = store

    @classmethod
    def open(cls, path: str | os.PathLike | None = None, create: bool = False) -> StoreReader:
        """The store at ``path`` (default ``$XSTILTS_STORE``), its index brought up to date, opened read-only.

        Raises:
            StoreError: no store at ``path`` (unless ``create``: then a fresh one is made there).
        """
        return cls(Store.open(path, read_only=True, create=create))

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection (a later query opens it again)."""
        self._store.close()

    @property
    def root(self) -> Path:
        """The store folder."""
        return self._store.root

    @property
    def catalog(self) -> Catalog:
        """The catalog the store was built with."""
        return self._store.catalog

    def _column(self, sql: str, params: dict | None = None) -> tuple[str, ...]:
        return tuple(str(v) for v in self._store.query(sql, params).to_series() if v is not None)

    # ------------------------------------------------------------------ catalog and what is there
    def counts(self) -> tuple[int, int]:
        """(runs, result rows) in the index."""
        return self._store.counts()

    def offered(self) -> Offered:
        """The models, metrics, splits, settings, target types, families and published sources present."""
        col = self._column
        return Offered(
            models=col("SELECT DISTINCT model FROM runs ORDER BY model"),
            metrics=col("SELECT DISTINCT metric FROM results ORDER BY metric"),
            splits=col("SELECT DISTINCT split FROM results ORDER BY split DESC"),
            settings=col("SELECT DISTINCT setting FROM runs ORDER BY setting = 'zero-shot' DESC, setting"),
            target_types=col("SELECT DISTINCT task_type FROM tasks WHERE role <> 'intermediate' ORDER BY task_type"),
            families=col("SELECT DISTINCT family FROM languages WHERE family IS NOT NULL ORDER BY family"),
            published_sources=col("SELECT DISTINCT source FROM sources WHERE NOT list_contains($runs, source) "
                                  "ORDER BY source", {"runs": list(RUN_SOURCES)}),
            **self._configs(),
        )

    def _configs(self) -> dict[str, tuple[str, ...]]:
        """Configurations of own runs, each labelled by the keys that differ among them (and "capped")."""
        rows = self._store.query(
            "SELECT DISTINCT config_id, configuration, capped FROM runs WHERE list_contains($sources, source) "
            "ORDER BY config_id", {"sources": list(RUN_SOURCES)})
        flat = [json.loads(c) for c in rows["configuration"]]
        keys = configuration.differing(flat)
        labels = tuple(f"{cid[:6]}: {configuration.label(f, keys) or 'all runs'}" + (" (capped)" if capped else "")
                       for cid, f, capped in zip(rows["config_id"], flat, rows["capped"]))
        return {"configs": tuple(rows["config_id"]), "config_labels": labels}

    def has_demo(self) -> bool:
        """True if the store holds demonstration runs (``store demo``): whatever shows them says so."""
        return has_demo(self._store)

    def languages(self) -> pl.DataFrame:
        """The catalog's languages: ``language, name, family, genus, script, resource_class``."""
        return self._store.query("SELECT language, name, family, genus, script, resource_class FROM languages")

    def tasks(self) -> pl.DataFrame:
        """The catalog's tasks in catalog order: ``task, name, role, task_type``."""
        return pl.DataFrame([{"task": t.task, "name": t.name, "role": t.role, "task_type": t.task_type}
                             for t in self.catalog.tasks.values()])

    def targets_of_types(self, types: tuple[str, ...]) -> tuple[str, ...]:
        """Target tasks (role target) of the given task types (all when empty), in catalog order."""
        return tuple(t.task for t in self.catalog.tasks.values()
                     if t.role == "target" and (not types or t.task_type in types))

    def study_design(self) -> StudyDesign:
        """The intermediate tasks and seeds of the study (:func:`store.catalog.study_design`)."""
        return study_design()

    def count_single_task_runs(self, model: str, setting: str) -> int:
        """Runs of one named intermediate task (any source) for this model and setting."""
        df = self._store.query(
            """SELECT count(*) AS n FROM runs WHERE model = $model AND setting = $setting
               AND NOT list_contains($not_single, intermediate) AND NOT contains(intermediate, '+')""",
            {"model": model, "setting": setting, "not_single": [BASELINE, BEST_PER_TARGET, MULTITASK]},
        )
        return int(df["n"][0])

    # ------------------------------------------------------------------ the analysis (store.analysis)
    def scores(self, f: Filters) -> pl.DataFrame:
        """:func:`store.analysis.scores`: per language, the mean over seeds."""
        return analysis.scores(self._store, f)

    def gain_rows(self, f: Filters, single_only: bool = False) -> GainRows:
        """:func:`store.analysis.gain_rows`: per-seed rows of runs and their matched baselines (for
        :func:`summarize_gains`, :func:`simple_vs_complex`); ``single_only``: of single intermediate tasks."""
        return analysis.gain_rows(self._store, f, single_only)

    def gains(self, f: Filters, rows: GainRows | None = None) -> pl.DataFrame:
        """:func:`store.analysis.gains`: scores minus the matching ``none`` baseline (from ``rows``, the
        slice's :meth:`gain_rows`, when already fetched)."""
        return analysis.gains(self._store, f) if rows is None else analysis.gains_of(rows)

    def target_means(self, f: Filters) -> pl.DataFrame:
        """:func:`store.analysis.target_means`: one number per run group and target."""
        return analysis.target_means(self._store, f)

    def complexity(self, model: str | None) -> pl.DataFrame:
        """:func:`store.analysis.complexity_table`: axes A, B, C and D per intermediate task."""
        return analysis.complexity_table(self._store, model)

    def paper_table(self, name: str, f: Filters) -> Table:
        """One of the paper tables (:data:`TABLES`, :func:`store.exports.build_table`)."""
        return exports.build_table(self._store, name, f)

    def state_key(self) -> str:
        """:func:`store.derived.state_key`: changes whenever anything a derived result depends on does."""
        return derived.state_key(self._store)

    def claims(self, model: str | None = None, state: str | None = None) -> list[ClaimResult]:
        """:func:`store.claims.evaluate` of every claim, for one model (as ``store claims --model``).

        Judged once per store state (:func:`store.derived.memo`; ``state``: a :meth:`state_key`
        already computed): a new run changes the key.
        """
        return derived.memo(self._store, "claims", (model,),
                            lambda: claim_engine.evaluate(self._store, model=model), state=state)

    def claims_runs(self, model: str | None = None, state: str | None = None) -> dict[str, pl.DataFrame]:
        """Claim id -> :meth:`runs_by_id` of the runs it used, once per store state like :meth:`claims`."""
        return derived.memo(self._store, "claims_runs", (model,),
                            lambda: {r.claim.id: self.runs_by_id(r.runs_used) for r in self.claims(model, state)},
                            state=state)

    def memo(self, name: str, args: tuple, compute, state: str | None = None):
        """:func:`store.derived.memo` on this store: ``compute()`` once per store state for ``(name, args)``,
        read back after. For a caller's own computation on the store: ``args`` must name everything it
        depends on beyond the store (its code included; the state covers only the store package's)."""
        return derived.memo(self._store, name, args, compute, state=state)

    # ------------------------------------------------------------------ distance to English (store.distance)
    def distance_source(self) -> dict:
        """Package, version, citation and configuration of the URIEL+ distances."""
        return distance.distance_source(self._store)

    def distances(self, kind: str) -> pl.DataFrame:
        """Every catalog language's distance to English of one kind (null where URIEL+ has none)."""
        return distance.distances(self._store, kind)

    def distance_bins(self, kind: str) -> pl.DataFrame:
        """:func:`store.distance.distance_bins`: the catalog languages in terciles of one kind."""
        return distance.distance_bins(self._store, kind)

    def gaps(self, f: Filters) -> pl.DataFrame:
        """:func:`store.distance.gaps`: the transfer gap (English minus language) of the slice."""
        return distance.gaps(self._store, f)

    def gap_changes(self, f: Filters, gaps: pl.DataFrame | None = None) -> pl.DataFrame:
        """:func:`store.distance.gap_changes`: how intermediate training changes the gap (``gaps``: :meth:`gaps` of ``f``)."""
        return distance.gap_changes(self._store, f, gaps)

    # ------------------------------------------------------------------ per-example pairs (store.pairs)
    def example_pairs(self, f: Filters) -> list[Pair]:
        """Runs of the slice with predictions and a matching none baseline (:func:`store.pairs.find_pairs`)."""
        return pairs.find_pairs(self._store, f)

    def pair_attributes(self, run_id: str) -> tuple[str, ...]:
        """The bucket attributes of a run's predictions."""
        return pairs.bucket_attributes(self._store, run_id)

    def pair_analysis(self, run_id: str, attribute: str | None) -> PairAnalysis:
        """:func:`store.pairs.analyse_pair` of a run and its baseline: tests, bucket gains, flips."""
        return pairs.analyse_pair(self._store, pairs.pair_for(self._store, run_id), attribute=attribute)

    # ------------------------------------------------------------------ provenance
    def sources(self) -> pl.DataFrame:
        """Every source: ``source, quality, citation, locator, file, n_runs, n_results, splits, settings, notes``.

        Our own runs (source ``runner``) first, then the published sources by key. Counted once per store
        state (:func:`store.derived.memo_frame`: a scan of every result).
        """
        return derived.memo_frame(self._store, "sources", (), self._count_sources)

    def _count_sources(self) -> pl.DataFrame:
        return self._store.query(
            """
            WITH per_run AS (
                SELECT run_id, count(*) AS n, bool_or(split = 'test') AS test, bool_or(split = 'validation') AS val,
                       bool_or(split = 'test-goldonly') AS gold
                FROM results GROUP BY run_id
            ), per_source AS (
                SELECT u.source, count(*) AS n_runs, coalesce(sum(p.n), 0) AS n_results, bool_or(p.test) AS test,
                       bool_or(p.val) AS val, bool_or(p.gold) AS gold, string_agg(DISTINCT u.setting, ', ' ORDER BY u.setting) AS settings
                FROM runs u LEFT JOIN per_run p ON p.run_id = u.run_id GROUP BY u.source
            )
            SELECT s.source, s.quality, s.citation, s.locator, s.file,
                   coalesce(p.n_runs, 0) AS n_runs, coalesce(p.n_results, 0) AS n_results,
                   concat_ws(', ', CASE WHEN p.test THEN 'test' END, CASE WHEN p.val THEN 'validation' END,
                             CASE WHEN p.gold THEN 'test-goldonly' END) AS splits,
                   p.settings, s.notes
            FROM sources s LEFT JOIN per_source p ON p.source = s.source
            ORDER BY s.source <> $runner, s.source
            """,
            {"runner": RUNNER_SOURCE},
        )

    def orphan_runs(self) -> int:
        """Runs whose source is not registered (``store validate`` explains them)."""
        return int(self._store.query("SELECT count(*) AS n FROM runs WHERE source NOT IN (SELECT source FROM sources)")["n"][0])

    def runs(self, f: Filters, limit: int = RUN_LIST_LIMIT) -> pl.DataFrame:
        """Runs of the slice (models, sources, settings, targets, intermediates of ``f``), newest first.

        Columns: ``run_id, source, model, label, intermediate, target, variant, setting, seed, splits,
        n_results, citation, locator, created_at, code_version, hardware, wall_time_s, gpu_hours``.
        """
        return self._store.query(
            """
            WITH picked AS (
                SELECT * FROM runs u
                WHERE (len($models) = 0 OR list_contains($models, u.model))
                  AND (len($sources) = 0 OR list_contains($sources, u.source))
                  AND (len($settings) = 0 OR list_contains($settings, u.setting))
                  AND (len($targets) = 0 OR list_contains($targets, u.target))
                  AND (len($intermediates) = 0 OR list_contains($intermediates, u.intermediate))
                ORDER BY u.created_at DESC NULLS LAST, u.source, u.target, u.intermediate, u.seed, u.run_id
                LIMIT $limit
            ), counts AS (
                SELECT r.run_id, count(*) AS n_results, bool_or(r.split = 'test') AS test,
                       bool_or(r.split = 'validation') AS val, bool_or(r.split = 'test-goldonly') AS gold
                FROM results r SEMI JOIN picked p ON p.run_id = r.run_id GROUP BY r.run_id
            )
            SELECT p.run_id, p.source, p.model, p.label, p.intermediate, p.target, p.variant, p.setting, p.seed,
                   concat_ws(', ', CASE WHEN c.test THEN 'test' END, CASE WHEN c.val THEN 'validation' END,
                             CASE WHEN c.gold THEN 'test-goldonly' END) AS splits,
                   coalesce(c.n_results, 0) AS n_results, s.citation, s.locator, p.created_at, p.code_version,
                   p.hardware, p.wall_time_s, p.gpu_hours
            FROM picked p JOIN sources s ON s.source = p.source LEFT JOIN counts c ON c.run_id = p.run_id
            ORDER BY p.created_at DESC NULLS LAST, p.source, p.target, p.intermediate, p.seed, p.run_id
            """,
            {"models": list(f.models), "sources": list(f.sources), "settings": list(f.settings),
             "targets": list(f.targets), "intermediates": list(f.intermediates), "limit": limit},
        )

    def runs_by_id(self, run_ids: tuple[str, ...], limit: int = RUN_LIST_LIMIT) -> pl.DataFrame:
        """The runs with these ids (the first ``limit``), with their source's citation."""
        return self._store.query(
            """
            SELECT u.run_id, u.source, u.model, u.intermediate, u.target, u.variant, u.setting, u.seed,
                   s.citation, s.locator, u.created_at
            FROM runs u JOIN sources s ON s.source = u.source
            WHERE u.run_id IN (SELECT unnest($ids))
            ORDER BY u.source, u.target, u.intermediate, u.variant, u.seed, u.run_id
            LIMIT $limit
            """,
            {"ids": list(run_ids), "limit": limit},
        )

    def run_record(self, run_id: str) -> dict:
        """Everything the runs table holds about one run, with its source's citation (empty dict if unknown)."""
        df = self._store.query(
            """SELECT u.*, s.citation, s.locator, s.quality FROM runs u JOIN sources s ON s.source = u.source
               WHERE u.run_id = $run_id""",
            {"run_id": run_id},
        )
        return df.row(0, named=True) if df.height else {}

    def run_results(self, run_id: str) -> pl.DataFrame:
        """One run's result rows: ``language, split, metric, value, n_examples, value_as_printed, conversion, notes``."""
        return self._store.query(
            """SELECT language, split, metric, value, n_examples, value_as_printed, conversion, notes
               FROM results WHERE run_id = $run_id ORDER BY split, metric, language""",
            {"run_id": run_id},
        )
