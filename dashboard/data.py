"""The one module that touches the store and Streamlit caching.

* :func:`open_store` opens a store read-only once per path (``st.cache_resource``); every query
  runs on its own cursor (``Store.query``).
* :class:`Reader` holds the reads the pages need: the analysis of :mod:`store.analysis`, the
  claim verdicts of :mod:`store.claims` and a few short catalog / provenance queries. Every user
  value is a query parameter. Within one reader the gains of a slice and the complexity table are
  computed once (a page's statistics share them).
  The latency benchmark uses a fresh reader per page render: a cold start every time.
* :class:`CachedReader` has the same methods, each result cached per (store, method, arguments)
  with ``st.cache_data``; arguments are small hashable values (a ``Filters``, a string). One is
  made per script run, so its memo never outlives a run.
"""

from __future__ import annotations

import json
import os

import polars as pl
import streamlit as st

from dashboard import transforms
from dashboard.state import RUN_SOURCES, RUNNER_SOURCE, Options
from store import analysis, configuration
from store import claims as store_claims
from store import demo as store_demo
from store import derived
from store import distance
from store.catalog import BASELINE, BEST_PER_TARGET, MULTITASK
from store import database
from store.database import INDEX_NAME, Store, resolve_store_path
from store.errors import StoreError
from store.remote import is_remote_store
from store.sync import resolve_store

RUN_LIST_LIMIT = 2000
LAUNCH_ENV = "XSTILTS_DASHBOARD_STORE"  # set by `dashboard --store`: a folder or hf://datasets/ORG/NAME


def launch_store() -> str:
    """The store the app was started on: ``$XSTILTS_DASHBOARD_STORE``, ``$XSTILTS_STORE`` or the default."""
    return os.environ.get(LAUNCH_ENV) or str(resolve_store_path(None))


def default_store() -> str:
    """The store ``runner run`` writes into without ``--store`` (``$XSTILTS_STORE`` or the default folder)."""
    return str(resolve_store_path(None))


def is_hub_store(spec: str) -> bool:
    """True for ``hf://datasets/ORG/NAME`` (pulled into a local read-only cache before opening)."""
    return is_remote_store(spec)


@st.cache_resource(show_spinner="Fetching the store from the Hub…", ttl=600, max_entries=8)
def hub_store_folder(spec: str) -> str:
    """The local cache folder of a Hub store, pulled at most every ten minutes per server."""
    return str(resolve_store(spec))


def is_store_folder(path: str) -> bool:
    """True if ``path`` is an existing store folder (the dashboard never creates one)."""
    return database.is_store_folder(path)


@st.cache_resource(show_spinner=False, max_entries=8)
def open_store(path: str) -> Store:
    """The store at ``path``, opened read-only and shared by every session."""
    store = Store.open(path, read_only=True, create=False)
    store.query("SELECT 1")  # opens the connection now, not racing in two threads later
    return store


def reload_store(spec: str) -> None:
    """Drops the cached connection and frames (and a Hub store's pull), so new runs show up next."""
    try:
        path = hub_store_folder(spec) if is_hub_store(spec) else spec
        if is_store_folder(path):
            open_store(path).close()  # the index must be free before Store.open refreshes it
    except (StoreError, OSError):
        pass  # nothing open to close; the next open reports what is wrong
    finally:
        hub_store_folder.clear()
        open_store.clear()
        st.cache_data.clear()


class Reader:
    """Uncached reads on one open store (same methods as :class:`CachedReader`)."""

    def __init__(self, store: Store):
        self.store = store
        self._memo: dict[tuple, pl.DataFrame] = {}

    def _once(self, key: tuple, compute):
        """``compute()`` the first time ``key`` is asked of this reader, the same frame afterwards."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # ------------------------------------------------------------------ options and catalog
    def options(self) -> Options:
        """What the sidebar offers: the values present in this store."""
        def col(sql: str, params: dict | None = None) -> tuple[str, ...]:
            return col_params(self.store, sql, params)

        return Options(
            models=col("SELECT DISTINCT model FROM runs ORDER BY model"),
            metrics=col("SELECT DISTINCT metric FROM results ORDER BY metric"),
            splits=col("SELECT DISTINCT split FROM results ORDER BY split DESC"),
            settings=col("SELECT DISTINCT setting FROM runs ORDER BY setting = 'zero-shot' DESC, setting"),
            target_types=col("SELECT DISTINCT task_type FROM tasks WHERE role <> 'intermediate' ORDER BY task_type"),
            families=col("SELECT DISTINCT family FROM languages WHERE family IS NOT NULL ORDER BY family"),
            published_sources=col(
                "SELECT DISTINCT source FROM sources WHERE NOT list_contains($runs, source) ORDER BY source",
                {"runs": list(RUN_SOURCES)},
            ),
            **self._configs(),
        )

    def _configs(self) -> dict[str, tuple[str, ...]]:
        """Configurations of own runs, each labelled by the keys that differ among them (and "capped")."""
        rows = self.store.query(
            "SELECT DISTINCT config_id, configuration, capped FROM runs WHERE list_contains($sources, source) "
            "ORDER BY config_id", {"sources": list(RUN_SOURCES)})
        flat = [json.loads(c) for c in rows["configuration"]]
        keys = configuration.differing(flat)
        labels = tuple(f"{cid[:6]}: {configuration.label(f, keys) or 'all runs'}" + (" (capped)" if capped else "")
                       for cid, f, capped in zip(rows["config_id"], flat, rows["capped"]))
        return {"configs": tuple(rows["config_id"]), "config_labels": labels}

    def has_demo(self) -> bool:
        """True if the store holds demonstration runs (``store demo``): every page then says so."""
        return store_demo.has_demo(self.store)

    def languages(self) -> pl.DataFrame:
        """The catalog's languages with family, genus, script and resource class."""
        return self.store.query("SELECT language, name, family, genus, script, resource_class FROM languages")

    def tasks(self) -> pl.DataFrame:
        """The catalog's tasks in catalog order: id, display name, role, task type."""
        return pl.DataFrame([{"task": t.task, "name": t.name, "role": t.role, "task_type": t.task_type}
                             for t in self.store.catalog.tasks.values()])

    def targets_of_types(self, types: tuple[str, ...]) -> tuple[str, ...]:
        """Target tasks (role target) of the given task types (all when empty), in catalog order."""
        return tuple(t.task for t in self.store.catalog.tasks.values()
                     if t.role == "target" and (not types or t.task_type in types))

    def count_single_task_runs(self, model: str, setting: str) -> int:
        """Runs of one named intermediate task (any source) for this model and setting."""
        df = self.store.query(
            """SELECT count(*) AS n FROM runs WHERE model = $model AND setting = $setting
               AND NOT list_contains($not_single, intermediate) AND NOT contains(intermediate, '+')""",
            {"model": model, "setting": setting, "not_single": [BASELINE, BEST_PER_TARGET, MULTITASK]},
        )
        return int(df["n"][0])

    # ------------------------------------------------------------------ analysis (store.analysis)
    def scores(self, f: analysis.Filters) -> pl.DataFrame:
        """:func:`store.analysis.scores`: per language, the mean over seeds."""
        return analysis.scores(self.store, f)

    def gains(self, f: analysis.Filters) -> pl.DataFrame:
        """:func:`store.analysis.gains`, computed once per slice for this reader."""
        return self._once(("gains", f), lambda: analysis.gains(self.store, f))

    def target_means(self, f: analysis.Filters) -> pl.DataFrame:
        """:func:`store.analysis.target_means`: one number per run group and target."""
        return analysis.target_means(self.store, f)

    def gain_rows(self, f: analysis.Filters) -> analysis.GainRows:
        """:func:`store.analysis.gain_rows`: per-seed rows of runs and matched baselines, once per slice."""
        return self._once(("gain_rows", f), lambda: analysis.gain_rows(self.store, f))

    def gain_summary(self, f: analysis.Filters, by: tuple[str, ...], single_only: bool = False) -> pl.DataFrame:
        """:func:`store.analysis.summarize_gains` of the slice (single tasks only if asked): task-first
        means over the benchmark's languages with the two-level bootstrap interval."""
        rows = self.gain_rows(f)
        if single_only:
            rows = analysis.GainRows(transforms.single_task_gains(rows.runs), rows.bases, rows.benchmark)
        if rows.runs.is_empty():
            return pl.DataFrame(schema={**{c: pl.String for c in by}, "config": pl.String, "mean_gain": pl.Float64,
                                        "ci_low": pl.Float64, "ci_high": pl.Float64, "n": pl.Int64,
                                        "n_tasks": pl.Int64, "n_languages": pl.Int64, "n_seeds": pl.Int64,
                                        "baseline_n_seeds": pl.Int64, "coverage": pl.String})
        return analysis.summarize_gains(rows, by=by)

    def complexity(self, model: str | None) -> pl.DataFrame:
        """:func:`store.analysis.complexity_table` (axes A, B, C, D), once per model for this reader."""
        return self._once(("complexity", model), lambda: analysis.complexity_table(self.store, model))

    def correlation(self, f: analysis.Filters, axis: str) -> pl.DataFrame:
        """Spearman's rho of the chosen axis against the task-first mean gain, per target type, with the
        number of tasks behind it and an exact permutation p-value."""
        model = f.models[0] if len(f.models) == 1 else None
        summary = self.gain_summary(f, ("target_type", "intermediate"), True)
        return analysis.complexity_correlation(summary, self.complexity(model), axis=axis)

    def simple_vs_complex(self, f: analysis.Filters) -> pl.DataFrame:
        """:func:`store.analysis.simple_vs_complex` per target type."""
        model = f.models[0] if len(f.models) == 1 else None
        return analysis.simple_vs_complex(self.gain_rows(f), self.complexity(model))

    # ------------------------------------------------------------------ distance to English (store.distance)
    def distance_source(self) -> dict:
        """Package, version, citation and configuration of the URIEL+ distances."""
        return distance.distance_source(self.store)

    def distances(self, kind: str) -> pl.DataFrame:
        """Every catalog language's distance to English of one kind (null where URIEL+ has none)."""
        return self._once(("distances", kind), lambda: distance.distances(self.store, kind))

    def language_points(self, f: analysis.Filters, kind: str) -> pl.DataFrame:
        """:func:`store.distance.language_points`: mean gain per (target type, language) beside its distance."""
        return distance.language_points(self.gains(f), self.distances(kind))

    def distance_correlation(self, f: analysis.Filters, kind: str) -> pl.DataFrame:
        """:func:`store.distance.distance_correlation` per target type."""
        return distance.distance_correlation(self.gains(f), self.distances(kind), kind)

    def complexity_by_distance(self, f: analysis.Filters, kind: str) -> pl.DataFrame:
        """:func:`store.distance.complexity_by_distance` per target type, in the kind's catalog terciles."""
        model = f.models[0] if len(f.models) == 1 else None
        bins = distance.distance_bins(self.store, kind)
        return distance.complexity_by_distance(self.gains(f), self.complexity(model), bins)

    def baseline_gaps(self, f: analysis.Filters) -> pl.DataFrame:
        """:func:`store.distance.gaps` of the ``none`` baselines (ours and published rows)."""
        g = self._once(("gaps", f), lambda: distance.gaps(self.store, f))
        return g.filter((pl.col("intermediate") == BASELINE) & (pl.col("variant") == "")) if not g.is_empty() else g

    def gap_change_summary(self, f: analysis.Filters) -> pl.DataFrame:
        """Per target and intermediate task: :func:`store.distance.summarize_gap_change`."""
        gc = distance.gap_changes(self.store, f, self._once(("gaps", f), lambda: distance.gaps(self.store, f)))
        if gc.is_empty():
            return pl.DataFrame()
        return distance.summarize_gap_change(gc, by=("target", "intermediate"))

    def paper_table(self, name: str, f: analysis.Filters):
        """One of the store's paper tables (:func:`store.exports.build_table`)."""
        from store.exports import build_table

        return build_table(self.store, name, f)

    # ------------------------------------------------------------------ claims (store.claims)
    def claims(self, model: str) -> list[store_claims.ClaimResult]:
        """:func:`store.claims.evaluate` of every claim on this store, for one model (as ``store claims --model``).

        Judged once per store state (:func:`store.derived.memo`): a new run changes the key.
        """
        return derived.memo(self.store, "claims", (model,), lambda: store_claims.evaluate(self.store, model=model),
                            state=self._state())

    def claims_runs(self, model: str) -> dict[str, pl.DataFrame]:
        """Claim id -> :meth:`runs_by_id` of the runs it used, once per store state like :meth:`claims`."""
        return derived.memo(self.store, "claims_runs", (model,),
                            lambda: {r.claim.id: self.runs_by_id(r.runs_used) for r in self.claims(model)},
                            state=self._state())

    def _state(self) -> str:
        """:func:`store.derived.state_key` of the store, once per reader (a reader lives for one render)."""
        return self._once(("state",), lambda: derived.state_key(self.store))

    # ------------------------------------------------------------------ examples (store.pairs)
    def example_pairs(self, f: analysis.Filters) -> list:
        """Runs of the slice with predictions and a matching none baseline (:func:`store.pairs.find_pairs`)."""
        from store import pairs

        return pairs.find_pairs(self.store, f)

    def pair_attributes(self, run_id: str) -> tuple[str, ...]:
        """The bucket attributes of a run's predictions."""
        from store import pairs

        return pairs.bucket_attributes(self.store, run_id)

    def pair_analysis(self, run_id: str, attribute: str | None):
        """:func:`store.pairs.analyse_pair` of a run and its baseline: tests, bucket gains, flips."""
        from store import pairs

        return pairs.analyse_pair(self.store, pairs.pair_for(self.store, run_id), attribute=attribute)

    # ------------------------------------------------------------------ provenance
    def sources(self) -> pl.DataFrame:
        """Every source with its citation, locator, quality, splits, settings and row counts."""
        return self.store.query(
            """
            WITH per_run AS (
                SELECT run_id, count(*) AS n, bool_or(split = 'test') AS test, bool_or(split = 'validation') AS val
                FROM results GROUP BY run_id
            ), per_source AS (
                SELECT u.source, count(*) AS n_runs, sum(p.n) AS n_results, bool_or(p.test) AS test,
                       bool_or(p.val) AS val, string_agg(DISTINCT u.setting, ', ' ORDER BY u.setting) AS settings
                FROM runs u JOIN per_run p ON p.run_id = u.run_id GROUP BY u.source
            )
            SELECT s.source, s.quality, s.citation, s.locator, s.file,
                   coalesce(p.n_runs, 0) AS n_runs, coalesce(p.n_results, 0) AS n_results,
                   concat_ws(', ', CASE WHEN p.test THEN 'test' END, CASE WHEN p.val THEN 'validation' END) AS splits,
                   p.settings, s.notes
            FROM sources s LEFT JOIN per_source p ON p.source = s.source
            ORDER BY s.source <> $runner, s.source
            """,
            {"runner": RUNNER_SOURCE},
        )

    def runs(self, f: analysis.Filters) -> pl.DataFrame:
        """Runs of the slice (model, sources, setting, targets, intermediates), newest first."""
        return self.store.query(
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
                       bool_or(r.split = 'validation') AS val
                FROM results r SEMI JOIN picked p ON p.run_id = r.run_id GROUP BY r.run_id
            )
            SELECT p.run_id, p.source, p.model, p.label, p.intermediate, p.target, p.variant, p.setting, p.seed,
                   concat_ws(', ', CASE WHEN c.test THEN 'test' END, CASE WHEN c.val THEN 'validation' END) AS splits,
                   coalesce(c.n_results, 0) AS n_results, s.citation, s.locator, p.created_at, p.code_version,
                   p.hardware, p.wall_time_s, p.gpu_hours
            FROM picked p JOIN sources s ON s.source = p.source LEFT JOIN counts c ON c.run_id = p.run_id
            ORDER BY p.created_at DESC NULLS LAST, p.source, p.target, p.intermediate, p.seed, p.run_id
            """,
            {"models": list(f.models), "sources": list(f.sources), "settings": list(f.settings),
             "targets": list(f.targets), "intermediates": list(f.intermediates), "limit": RUN_LIST_LIMIT},
        )

    def runs_by_id(self, run_ids: tuple[str, ...]) -> pl.DataFrame:
        """The runs with these ids (the first ``RUN_LIST_LIMIT``), with their source's citation."""
        return self.store.query(
            """
            SELECT u.run_id, u.source, u.model, u.intermediate, u.target, u.variant, u.setting, u.seed,
                   s.citation, s.locator, u.created_at
            FROM runs u JOIN sources s ON s.source = u.source
            WHERE u.run_id IN (SELECT unnest($ids))
            ORDER BY u.source, u.target, u.intermediate, u.variant, u.seed, u.run_id
            LIMIT $limit
            """,
            {"ids": list(run_ids), "limit": RUN_LIST_LIMIT},
        )

    def run_record(self, run_id: str) -> dict:
        """Everything the runs table holds about one run (empty dict if unknown)."""
        df = self.store.query(
            """SELECT u.*, s.citation, s.locator, s.quality FROM runs u JOIN sources s ON s.source = u.source
               WHERE u.run_id = $run_id""",
            {"run_id": run_id},
        )
        return df.row(0, named=True) if df.height else {}

    def run_results(self, run_id: str) -> pl.DataFrame:
        """One run's result rows."""
        return self.store.query(
            """SELECT language, split, metric, value, n_examples, value_as_printed, conversion, notes
               FROM results WHERE run_id = $run_id ORDER BY split, metric, language""",
            {"run_id": run_id},
        )


def col_params(store: Store, sql: str, params: dict | None = None) -> tuple[str, ...]:
    """One column of a parameterised query as a tuple of strings."""
    return tuple(str(v) for v in store.query(sql, params).to_series() if v is not None)


@st.cache_data(show_spinner=False, max_entries=512)
def _cached(path: str, method: str, args: tuple, _reader: Reader) -> object:
    """One reader method's result, cached by (path, method, args); ``_reader`` is not hashed."""
    return getattr(_reader, method)(*args)


class CachedReader:
    """The methods of :class:`Reader`, each cached per (store path, method, arguments)."""

    def __init__(self, path: str, reader: Reader | None = None):
        self.path = path
        self._reader = reader or Reader(open_store(path))

    def __getattr__(self, name: str):
        if name.startswith("_") or not callable(getattr(Reader, name, None)):
            raise AttributeError(name)
        return lambda *args: _cached(self.path, name, tuple(args), self._reader)


def open_reader(spec: str) -> tuple[CachedReader | None, str | None]:
    """A cached reader on the store ``spec`` (a folder or a Hub store), or a one-line reason why not."""
    path = spec
    if is_hub_store(spec):
        try:
            path = hub_store_folder(spec)
        except StoreError as e:
            return None, f"cannot open {spec}: {e}"
    if not is_store_folder(path):
        return None, f"no store at {path}: give a store folder (it holds {INDEX_NAME} or runs/)"
    try:
        open_store(path)
    except (StoreError, OSError) as e:
        return None, f"cannot open the store at {path}: {e}"
    except Exception as e:  # duckdb errors (a lock held by a writer, a damaged index) end up here
        return None, f"cannot open the store at {path}: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    return CachedReader(path), None

