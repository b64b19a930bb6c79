"""The one dashboard module that touches the store and Streamlit caching.

Everything of the store the dashboard uses comes through here, from the store's public read API
(:mod:`store.api`); the other dashboard modules import this module (or nothing of the store).

* :func:`open_store` opens a store read-only once per path (``st.cache_resource``); every query
  runs on its own cursor.
* :class:`Reader` holds the reads the pages need, each a typed method over
  :class:`store.api.StoreReader` (the analysis, the claim verdicts, catalog and provenance
  queries). Every user value is a query parameter. Within one reader the gains of a slice and the
  complexity table are computed once (a page's statistics share them).
  The latency benchmark uses a fresh reader per page render: a cold start every time.
* :class:`CachedReader` has the same methods, each result cached per (store, method, arguments)
  with ``st.cache_data``; arguments are small hashable values (a ``Filters``, a string). One is
  made per script run, so its memo never outlives a run.
* :func:`filters` turns the sidebar selection into the store's ``Filters``.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import os

import polars as pl
import streamlit as st

from dashboard import claims_page as page_parts
from dashboard.state import HEADLINE, RUNNER_SOURCE, Options, Selection
from store.api import (  # noqa: F401 (some are re-exported: the pages take the store's names from here)
    AXES, BASELINE, CONTRADICTED, DEMO_MARK, DISTANCE_KINDS, INDEX_NAME, RUN_SOURCES, SUPPORTED, TABLE_FORMATS,
    TABLES, UNDECIDED, VERDICTS, ClaimResult, Pair, PairAnalysis, Filters, GainRows, StoreError, StoreReader,
    StudyDesign, Table, checks_frame, claims_frame, complexity_by_distance, complexity_correlation,
    distance_correlation, fill_script, with_store, is_remote_store, is_store_folder, language_points,
    missing_commands, prepare_store, render_claims, render_table, resolve_store, resolve_store_path,
    simple_vs_complex, single_task, summarize_gains, summarize_gap_change,
)

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


@st.cache_resource(show_spinner=False, max_entries=8)
def open_store(path: str) -> StoreReader:
    """The store at ``path``, opened read-only and shared by every session."""
    reader = StoreReader.open(path)
    reader.counts()  # opens the connection now, not racing in two threads later
    return reader


@st.cache_resource(show_spinner=False)
def settle_heap() -> bool:
    """Once per server process, after start-up (imports, the store opened): every object alive now goes to
    the garbage collector's permanent generation (``gc.freeze``), so a full collection during a page render
    walks only what renders allocate, not the ~145,000 objects of the imported libraries (about 100 ms on
    a 2-CPU machine, triggered every other Claims render by its decoded claims)."""
    gc.collect()
    gc.freeze()
    return True


def reload_store(spec: str) -> None:
    """Drops the cached connection and frames (and a Hub store's pull), so new runs show up next."""
    try:
        path = hub_store_folder(spec) if is_hub_store(spec) else spec
        if is_store_folder(path):
            open_store(path).close()  # the index must be free before the store is opened again
    except (StoreError, OSError):
        pass  # nothing open to close; the next open reports what is wrong
    finally:
        hub_store_folder.clear()
        open_store.clear()
        st.cache_data.clear()


def filters(sel: Selection, options: Options, **overrides: object) -> Filters:
    """The store's :class:`~store.api.Filters` of a sidebar selection (``overrides`` win).

    Source *own runs* means the runner's runs and any ``store demo`` runs (marked wherever they show).
    """
    if sel.source == "published":
        sources = options.published_sources or ("(none)",)
    elif sel.source == RUNNER_SOURCE:
        sources = RUN_SOURCES
    else:
        sources = ()
    headline = sel.metric == HEADLINE
    fields = {
        "models": (sel.model,),
        "sources": sources,
        "metrics": () if headline else (sel.metric,),
        "splits": (sel.split,),
        "settings": (sel.setting,),
        "target_types": sel.target_types,
        "families": sel.families,
        "headline_only": headline,
        "benchmark": sel.benchmark,
        "include_capped": sel.capped == "shown",
        "configs": sel.configs,
    }
    return Filters(**{**fields, **overrides})


def _empty_summary(by: tuple[str, ...]) -> pl.DataFrame:
    ints = ("n", "n_tasks", "n_languages", "n_seeds", "baseline_n_seeds")
    return pl.DataFrame(schema={**{c: pl.String for c in (*by, "config", "coverage")}, **{c: pl.Int64 for c in ints},
                                **{c: pl.Float64 for c in ("mean_gain", "ci_low", "ci_high")}})


def _read(method):
    """A reader method: Streamlit caches its result per (store path, method, arguments) when the reader
    has a path (:class:`CachedReader`); an uncached reader just calls it."""
    @functools.wraps(method)
    def read(self, *args):
        return method(self, *args) if self.path is None else _cached(self.path, method.__name__, args, self)

    return read


@st.cache_data(show_spinner=False, max_entries=512)
def _cached(path: str, method: str, args: tuple, _reader: Reader) -> object:
    """One reader method's result, cached by (path, method, args); ``_reader`` is not hashed."""
    return getattr(Reader, method).__wrapped__(_reader, *args)


class Reader:
    """Reads on one open store, each a typed method (cached in a :class:`CachedReader`)."""

    def __init__(self, store: StoreReader, path: str | None = None):
        self.store = store
        self.path = path
        self._memo: dict[tuple, object] = {}

    def _once(self, key: tuple, compute):
        """``compute()`` the first time ``key`` is asked of this reader, the same result afterwards."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # ------------------------------------------------------------------ options and catalog
    @_read
    def options(self) -> Options:
        """What the sidebar offers: the values present in this store."""
        return Options(**dataclasses.asdict(self.store.offered()))

    @_read
    def has_demo(self) -> bool:
        """True if the store holds demonstration runs (``store demo``): every page then says so."""
        return self.store.has_demo()

    @_read
    def languages(self) -> pl.DataFrame:
        """The catalog's languages with family, genus, script and resource class."""
        return self.store.languages()

    @_read
    def tasks(self) -> pl.DataFrame:
        """The catalog's tasks in catalog order: id, display name, role, task type."""
        return self.store.tasks()

    @_read
    def targets_of_types(self, types: tuple[str, ...]) -> tuple[str, ...]:
        """Target tasks (role target) of the given task types (all when empty), in catalog order."""
        return self.store.targets_of_types(types)

    @_read
    def study_design(self) -> StudyDesign:
        """The intermediate tasks and seeds of the study, as the catalog declares them."""
        return self.store.study_design()

    @_read
    def count_single_task_runs(self, model: str, setting: str) -> int:
        """Runs of one named intermediate task (any source) for this model and setting."""
        return self.store.count_single_task_runs(model, setting)

    # ------------------------------------------------------------------ analysis (store.analysis)
    @_read
    def scores(self, f: Filters) -> pl.DataFrame:
        """Per language, the mean over seeds."""
        return self.store.scores(f)

    @_read
    def gains(self, f: Filters) -> pl.DataFrame:
        """Gains over the matching baseline, computed once per slice for this reader."""
        return self._once(("gains", f), lambda: self.store.gains(f, self._gain_rows(f)))

    @_read
    def target_means(self, f: Filters) -> pl.DataFrame:
        """One number per run group and target."""
        return self.store.target_means(f)

    def _gain_rows(self, f: Filters, single_only: bool = False) -> GainRows:
        """Per-seed rows of the slice's runs and matched baselines, once per slice for this reader."""
        if single_only:  # one object: its summaries share its preparation
            return self._once(("single_gain_rows", f), lambda: self.store.gain_rows(f, single_only=True))
        return self._once(("gain_rows", f), lambda: self.store.gain_rows(f))

    @_read
    def gain_summary(self, f: Filters, by: tuple[str, ...], single_only: bool = False) -> pl.DataFrame:
        """The store's task-first ``summarize_gains`` of the slice (single intermediate tasks only if asked),
        once per (slice, grouping) for this reader (the Question page's correlation uses the same summary)."""
        def compute() -> pl.DataFrame:
            rows = self._gain_rows(f, single_only)
            return _empty_summary(by) if rows.runs.is_empty() else summarize_gains(rows, by=by)

        return self._once(("gain_summary", f, tuple(by), single_only), compute)

    @_read
    def gain_means(self, f: Filters, by: tuple[str, ...]) -> pl.DataFrame:
        """:meth:`gain_summary` without its interval (``ci_low`` and ``ci_high`` null): the same means, counts
        and coverage, for a view that shows means only (a heatmap), without the bootstrap's replicates."""
        def compute() -> pl.DataFrame:
            full = self._memo.get(("gain_summary", f, tuple(by), False))
            if full is not None:  # the interval is already there: its means are these
                return full.with_columns(pl.lit(None, pl.Float64).alias("ci_low"), pl.lit(None, pl.Float64).alias("ci_high"))
            rows = self._gain_rows(f)
            return _empty_summary(by) if rows.runs.is_empty() else summarize_gains(rows, by=by, n_boot=0)

        return self._once(("gain_means", f, tuple(by)), compute)

    @_read
    def complexity(self, model: str | None) -> pl.DataFrame:
        """The complexity table (axes A, B, C, D), once per model for this reader."""
        return self._once(("complexity", model), lambda: self.store.complexity(model))

    @_read
    def correlation(self, f: Filters, axis: str) -> pl.DataFrame:
        """Spearman's rho of the chosen axis against the task-first mean gain, per target type, with the
        number of tasks behind it and the exact permutation p-value."""
        model = f.models[0] if len(f.models) == 1 else None
        summary = Reader.gain_summary.__wrapped__(self, f, ("target_type", "intermediate"), True)
        return complexity_correlation(summary, self.complexity(model), axis=axis)

    @_read
    def simple_vs_complex(self, f: Filters) -> pl.DataFrame:
        """Simple (format levels 1-2) against complex (3-5) intermediate tasks, per target type."""
        model = f.models[0] if len(f.models) == 1 else None
        return simple_vs_complex(self._gain_rows(f, True), self.complexity(model))  # single tasks: the same rows

    # ------------------------------------------------------------------ distance to English
    @_read
    def distance_source(self) -> dict:
        """Package, version, citation and configuration of the URIEL+ distances."""
        return self.store.distance_source()

    @_read
    def distances(self, kind: str) -> pl.DataFrame:
        """Every catalog language's distance to English of one kind (null where URIEL+ has none)."""
        return self._once(("distances", kind), lambda: self.store.distances(kind))

    @_read
    def language_points(self, f: Filters, kind: str) -> pl.DataFrame:
        """Mean gain per (target type, language) beside its distance."""
        return language_points(self.gains(f), self.distances(kind))

    @_read
    def distance_correlation(self, f: Filters, kind: str) -> pl.DataFrame:
        """Spearman's rho of distance against gain, per target type."""
        return distance_correlation(self.gains(f), self.distances(kind), kind)

    @_read
    def complexity_by_distance(self, f: Filters, kind: str) -> pl.DataFrame:
        """Simple against complex intermediate tasks per target type, in the kind's catalog terciles."""
        model = f.models[0] if len(f.models) == 1 else None
        return complexity_by_distance(self.gains(f), self.complexity(model), self.store.distance_bins(kind))

    def _gaps(self, f: Filters) -> pl.DataFrame:
        return self._once(("gaps", f), lambda: self.store.gaps(f))

    @_read
    def baseline_gaps(self, f: Filters) -> pl.DataFrame:
        """The transfer gaps of the ``none`` baselines (ours and published rows)."""
        g = self._gaps(f)
        return g.filter((pl.col("intermediate") == BASELINE) & (pl.col("variant") == "")) if not g.is_empty() else g

    @_read
    def gap_change_summary(self, f: Filters) -> pl.DataFrame:
        """Per target and intermediate task: how intermediate training changes the gap, with its interval."""
        gc = self.store.gap_changes(f, self._gaps(f))
        if gc.is_empty():
            return pl.DataFrame()
        return summarize_gap_change(gc, by=("target", "intermediate"))

    @_read
    def paper_table(self, name: str, f: Filters) -> Table:
        """One of the store's paper tables (``store export --table NAME``)."""
        return self.store.paper_table(name, f)

    # ------------------------------------------------------------------ claims
    @_read
    def claims(self, model: str) -> list[ClaimResult]:
        """Every claim judged on this store for one model (as ``store claims --model``), once per store state."""
        return self.store.claims(model, state=self._state())

    @_read
    def claims_runs(self, model: str) -> dict[str, pl.DataFrame]:
        """Claim id -> the runs it used (as :meth:`runs_by_id`), once per store state like :meth:`claims`."""
        return self.store.claims_runs(model, state=self._state())

    @_read
    def claims_page(self, model: str) -> dict:
        """What the Claims page shows of each claim (:func:`dashboard.claims_page.content`), built once per store
        state and dashboard code, like :meth:`claims`: a render only picks the claims of the verdict shown."""
        return self.store.memo("claims_page", (model, page_parts.dashboard_code()), lambda: page_parts.content(
            self.claims(model), self.claims_runs(model), claims_frame, checks_frame, missing_commands), self._state())

    def _state(self) -> str:
        """The store's state key, once per reader (a reader lives for one render)."""
        return self._once(("state",), self.store.state_key)

    # ------------------------------------------------------------------ per-example pairs
    @_read
    def example_pairs(self, f: Filters) -> list[Pair]:
        """Runs of the slice with predictions and a matching none baseline."""
        return self.store.example_pairs(f)

    @_read
    def pair_attributes(self, run_id: str) -> tuple[str, ...]:
        """The bucket attributes of a run's predictions."""
        return self.store.pair_attributes(run_id)

    @_read
    def pair_analysis(self, run_id: str, attribute: str | None) -> PairAnalysis:
        """A run against its baseline example by example: tests, bucket gains, flips."""
        return self.store.pair_analysis(run_id, attribute)

    # ------------------------------------------------------------------ provenance
    @_read
    def sources(self) -> pl.DataFrame:
        """Every source with its citation, locator, quality, splits, settings and row counts."""
        return self.store.sources()

    @_read
    def runs(self, f: Filters) -> pl.DataFrame:
        """Runs of the slice (model, sources, setting, targets, intermediates), newest first."""
        return self.store.runs(f, limit=RUN_LIST_LIMIT)

    @_read
    def runs_by_id(self, run_ids: tuple[str, ...]) -> pl.DataFrame:
        """The runs with these ids (the first ``RUN_LIST_LIMIT``), with their source's citation."""
        return self.store.runs_by_id(run_ids, limit=RUN_LIST_LIMIT)

    @_read
    def run_record(self, run_id: str) -> dict:
        """Everything the runs table holds about one run (empty dict if unknown)."""
        return self.store.run_record(run_id)

    @_read
    def run_results(self, run_id: str) -> pl.DataFrame:
        """One run's result rows."""
        return self.store.run_results(run_id)


class CachedReader(Reader):
    """A :class:`Reader` whose every read is cached per (store path, method, arguments) with ``st.cache_data``."""

    def __init__(self, path: str, reader: Reader | None = None):
        super().__init__(reader.store if reader is not None else open_store(path), path=path)


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
