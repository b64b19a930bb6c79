"""The analysis of record, written once: scores, gains over the matching ``none`` baseline, task
averages over a benchmark's languages, task-first summaries with two-level bootstrap intervals.
The CLI exports, ``store claims`` and the dashboard all call these functions; none of them
recomputes a statistic on its own.

Conventions (README, "How the numbers are computed"):
    * **Configuration.** Every number is over one configuration (:mod:`store.configuration`:
      everything that defines a run except its seed); ``n_seeds`` counts distinct seeds of it.
      Several configurations of one pair are never pooled: ``config`` labels each by the keys
      that differ ('' when the pair has one). Capped (debug) runs carry ``capped``;
      ``Filters.include_capped=False`` leaves them out (paper exports and claims do).
    * **Baseline.** A gain is run minus the ``none`` run of the same source, model, setting,
      target, language, metric and split whose *target phase* has the same configuration.
    * **Benchmark language sets.** A task average is over exactly the languages the benchmark
      (``xtreme`` or ``xtreme-r``) defines for the task, and exists only when the run (and, for a
      gain, its baseline) covers every one of them; otherwise ``coverage`` says "k of n".
    * **Averaging order.** Languages within a task, then tasks (then groups of tasks), as XTREME does.
    * **Intervals.** :mod:`store.intervals`' two-level bootstrap (seeds and languages resampled), every
      group of a summary at once (:mod:`store.strata`).
    * Zero-shot and translate-train/test numbers never meet: ``Filters.settings`` (zero-shot by default).

Example:
    >>> import tempfile
    >>> from store.database import Store
    >>> with Store.open(tempfile.mkdtemp()) as st:
    ...     m = target_means(st, Filters(sources=("rembert_t16",), targets=("xnli",), models=("xlm-roberta-large",)))
    >>> m.select("intermediate", "value", "aggregation").rows()
    [('best', 80.0, 'as published (XTREME)'), ('none', 79.2, 'as published (XTREME)')]
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
import dataclasses
from dataclasses import dataclass, fields

import numpy as np
import polars as pl

from store import configuration as config_mod
from store.catalog import AVERAGE_LANGUAGE, BASELINE, load_catalog
from store.complexity import (  # noqa: F401  (re-exported: the analysis is one module to callers)
    AXES, complexity_correlation, complexity_table, human_ceiling, permutation_p, single_task, single_task_expr,
    spearman, spearman_ci,
)
from store import derived, strata
from store.intervals import LEVEL, N_BOOT

#: Benchmark ids (CLI, dashboard) -> the catalog's benchmark names.
BENCHMARKS = {"xtreme": "XTREME", "xtreme-r": "XTREME-R"}
DEFAULT_BENCHMARK = "xtreme"
#: Published averages in the bundled sources are XTREME leaderboard / paper averages.
PUBLISHED_BENCHMARK = "xtreme"

_LIST_FILTERS = {
    # filter field -> column of results_wide
    "models": "model",
    "sources": "source",
    "targets": "target",
    "intermediates": "intermediate",
    "variants": "variant",
    "metrics": "metric",
    "splits": "split",
    "settings": "setting",
    "target_types": "target_type",
    "families": "family",
    "languages": "language",
    "configs": "config_id",
}

_WHERE = " AND ".join(
    f"(len(CAST(${name} AS VARCHAR[])) = 0 OR list_contains(CAST(${name} AS VARCHAR[]), {col}))"
    for name, col in _LIST_FILTERS.items()
) + " AND (NOT $headline_only OR is_headline) AND ($include_capped OR NOT capped)"

_ROW_COLS = (
    "source, model, label, intermediate, variant, setting, target, target_type, language, family, genus, "
    "script, resource_class, split, metric, config_id, target_config_id, target_data, capped"
)
#: What identifies one cell: a run configuration on one target (its seeds are the repeats).
CELL = ["source", "model", "label", "intermediate", "variant", "setting", "target", "target_type", "metric", "split",
        "config_id"]
#: A pair within a source/model/setting: its configurations are labelled apart.
_PAIR = ["source", "model", "intermediate", "variant", "setting", "target"]
_BASE_KEY = ["source", "model", "setting", "target", "metric", "split", "target_config_id"]
#: Columns that describe a language: grouping by one of them averages no languages within a task.
LANGUAGE_KEYS = ("language", "family", "genus", "script", "resource_class")


@dataclass(frozen=True)
class Filters:
    """A slice of the store. An empty tuple means "no filter" on that column.

    Small, frozen and hashable, so the dashboard can cache frames keyed by it. ``benchmark``
    chooses the language sets of task averages; ``configs`` filters by ``config_id``;
    ``include_capped=False`` leaves out capped (debug) runs.
    """

    models: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    intermediates: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    settings: tuple[str, ...] = ("zero-shot",)
    target_types: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()
    headline_only: bool = True
    include_capped: bool = True
    benchmark: str = DEFAULT_BENCHMARK

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _LIST_FILTERS:
                if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                    raise TypeError(f"Filters.{f.name} must be a tuple of strings, got {value!r}")
                object.__setattr__(self, f.name, tuple(value))
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"Filters.benchmark must be one of {', '.join(BENCHMARKS)}, got {self.benchmark!r}")

    def params(self) -> dict[str, object]:
        """Query parameters for :data:`_WHERE` (values never reach SQL as text)."""
        out: dict[str, object] = {name: list(getattr(self, name)) for name in _LIST_FILTERS}
        out["headline_only"] = self.headline_only
        out["include_capped"] = self.include_capped
        return out


def benchmark_languages(target: str, benchmark: str) -> tuple[str, ...]:
    """The languages ``benchmark`` (``xtreme`` / ``xtreme-r``) averages over for ``target`` (() if none)."""
    cat = load_catalog()
    return cat.benchmark_languages.get((BENCHMARKS[benchmark], target), ())


# ---------------------------------------------------------------------- rows and labels
#: Filters that choose the materialised rows (:func:`_rows`); the others select among them in polars.
_COARSE = ("models", "settings", "splits")
#: Columns of the materialised rows beyond the query's: per-row functions of the row (see :func:`gain_rows`).
_DERIVED_COLS = ("_cell", "_base", "_role")
#: ``_role`` of a row: a baseline's (``none``, no variant), a single intermediate task's run, another
#: intermediate run (a mix, multitask, best), or neither (``none`` with a variant)
_BASELINE_ROW, _SINGLE_ROW, _OTHER_RUN_ROW, _NEITHER_ROW = 0, 1, 2, 3


def _query_rows(store, f: Filters) -> pl.DataFrame:
    # in a fixed order: groups are ordered by first appearance, values summed in row order, and a Spearman
    # interval resamples points in that order, so a scan's order would change them between processes
    rows = store.query(f"SELECT {_ROW_COLS}, seed, value, n_examples FROM results_wide WHERE {_WHERE} "
                       "ORDER BY run_id, split, metric, language", f.params())
    return rows.with_columns(
        pl.struct(CELL).hash().alias("_cell"),  # the cell's 64-bit hash: store.strata codes cells by it
        pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in [*_BASE_KEY, "target_data"]], separator="|")
        .alias("_base"),  # the baseline id a `none` row belongs to
        pl.when(pl.col("intermediate") == BASELINE).then(
            pl.when(pl.col("variant") == "").then(_BASELINE_ROW).otherwise(_NEITHER_ROW))
        .when(single_task_expr()).then(_SINGLE_ROW).otherwise(_OTHER_RUN_ROW).cast(pl.Int8).alias("_role"),
    )


def _rows(store, f: Filters) -> pl.DataFrame:
    """The slice's result rows (with :data:`_DERIVED_COLS`).

    The rows of one (models, settings, splits, headline_only) slice do not depend on anything else the
    user picks, so they are queried once per store state and kept in the derived cache
    (:func:`store.derived.memo_frame`, Arrow IPC read memory-mapped); every other filter is applied to
    them here, as the query's WHERE would (a null never matches a list; capped null is left out when
    capped runs are). A ``store`` without a folder (``root``) is queried with every filter.
    """
    if getattr(store, "root", None) is None:  # no folder to keep a derived cache beside: the query's WHERE
        return _query_rows(store, f)
    coarse = Filters(**{n: getattr(f, n) for n in _COARSE}, headline_only=f.headline_only)
    rows = derived.memo_frame(store, "result_rows", (*(list(getattr(f, n)) for n in _COARSE), f.headline_only),
                              lambda: _query_rows(store, coarse))
    keep = [pl.col(col).is_in(list(getattr(f, name))) for name, col in _LIST_FILTERS.items()
            if name not in _COARSE and getattr(f, name)]
    if not f.include_capped:
        keep.append(~pl.col("capped"))
    return rows.filter(*keep) if keep else rows


def config_labels(store, rows: pl.DataFrame) -> pl.DataFrame:
    """``config`` per (pair, config_id): the keys whose values differ among the pair's configurations."""
    if "_cell" in rows.columns:  # a pair and configuration is a function of the cell: one row per cell first
        rows = rows.unique("_cell", keep="any")
    pairs = rows.select(*_PAIR, "config_id").unique()
    schema = {**{c: pl.String for c in _PAIR}, "config_id": pl.String, "config": pl.String}
    multi = pairs.filter(pl.len().over(_PAIR) > 1)
    if multi.is_empty():
        return pairs.with_columns(pl.lit("").alias("config")).select(list(schema))
    flat = {
        cid: json.loads(text)
        for cid, text in store.query(
            "SELECT DISTINCT config_id, configuration FROM runs WHERE list_contains($ids, config_id)",
            {"ids": multi["config_id"].unique().to_list()},
        ).iter_rows()
    }
    out = []
    for _, g in multi.group_by(_PAIR, maintain_order=True):
        keys = config_mod.differing([flat[c] for c in g["config_id"]])
        out += [{**r, "config": config_mod.label(flat[r["config_id"]], keys)} for r in g.iter_rows(named=True)]
    labelled = pl.DataFrame(out, schema=schema)
    single = pairs.join(multi, on=[*_PAIR, "config_id"], how="anti").with_columns(pl.lit("").alias("config"))
    return pl.concat([single.select(list(schema)), labelled])


def _labelled(store, rows: pl.DataFrame) -> pl.DataFrame:
    labels = config_labels(store, rows)
    if labels["config"].eq("").all():  # one configuration per pair (the usual case): the join adds '' to every row
        keyed = pl.all_horizontal(pl.col(c).is_not_null() for c in [*_PAIR, "config_id"])
        return rows.with_columns(pl.when(keyed).then(pl.lit("")).otherwise(None).alias("config"))
    # the rows keep their order: groups are ordered by first appearance, and values summed in row order
    return rows.join(labels, on=[*_PAIR, "config_id"], how="left", maintain_order="left")


_GROUP = ["source", "model", "label", "intermediate", "variant", "setting", "target", "target_type", "language",
          "family", "genus", "script", "resource_class", "split", "metric", "config_id", "target_config_id", "config",
          "capped"]


def _seed_means(rows: pl.DataFrame, extra: Sequence[str] = ()) -> pl.DataFrame:
    return rows.group_by([*_GROUP, *extra]).agg(
        pl.col("value").mean(),
        pl.col("seed").n_unique().cast(pl.Int64).alias("n_seeds"),
        pl.col("seed").is_not_null().any().alias("seeded"),
        pl.col("value").std().alias("std"),
        pl.col("n_examples").max(),
    )


def _cell_seed_means(runs: pl.DataFrame) -> pl.DataFrame:
    """:func:`_seed_means` of gain rows (by ``_GROUP`` and ``base_id``), grouped by the cell's hash instead of its
    eleven columns and by ``language`` instead of the language's attributes (each a function of the key)."""
    keys = ["_cell", "language", "target_config_id", "config", "capped", "base_id"]
    rest = [c for c in _GROUP if c not in keys]
    out = runs.group_by(keys).agg(
        *(pl.col(c).first() for c in rest),
        pl.col("value").mean(),
        pl.col("seed").n_unique().cast(pl.Int64).alias("n_seeds"),
        pl.col("seed").is_not_null().any().alias("seeded"),
        pl.col("value").std().alias("std"),
        pl.col("n_examples").max(),
    )
    return out.select(*_GROUP, "base_id", "value", "n_seeds", "seeded", "std", "n_examples")


def scores(store, f: Filters = Filters(), per_seed: bool = False) -> pl.DataFrame:
    """Scores per language of each configuration: mean over seeds, seed count and standard deviation.

    Args:
        store: an open :class:`store.database.Store`.
        f: the slice.
        per_seed: one row per seed instead (``value`` is that seed's score).
    """
    rows = _labelled(store, _rows(store, f).drop(_DERIVED_COLS))
    if per_seed:
        return rows.select(*_GROUP, "seed", "value", pl.lit(1).alias("n_seeds"), "n_examples")
    return _seed_means(rows).sort(_GROUP, nulls_last=True)


# ---------------------------------------------------------------------- gains
@dataclass(frozen=True)
class GainRows:
    """Per-seed rows of intermediate-task runs (``runs``) and of their matched baselines (``bases``).

    ``runs`` carries ``base_id``: the baseline configuration it is matched with (same source,
    model, setting, target, metric, split and target-phase configuration; target data revisions
    equal where both record them), and ``_cell``, a 64-bit hash of the :data:`CELL` columns (rows of
    one cell share it; :mod:`store.strata` codes cells by it). ``bases`` holds each baseline's rows once.
    """

    runs: pl.DataFrame
    bases: pl.DataFrame
    benchmark: str = DEFAULT_BENCHMARK

    @functools.cached_property
    def prepared(self) -> strata.Prepared:
        """The rows as :mod:`store.strata` codes, once per GainRows: every summary of them shares the work."""
        return strata.prepare(self.runs, self.bases, CELL)

    def with_cell_columns(self, *exprs: pl.Expr) -> GainRows:
        """The same rows with more columns to group by, each a function of the :data:`CELL` columns: computed
        on each cell's first row, and shares this one's :mod:`store.strata` codes (which code groups of them
        per cell too)."""
        p = self.prepared
        extra = self.runs[p.cell_first].select(*exprs)  # one row per cell
        runs = pl.concat([self.runs, extra[p.cell]], how="horizontal")
        out = GainRows(runs, self.bases, self.benchmark)
        out.__dict__["prepared"] = dataclasses.replace(p, runs=runs, cell_columns=p.cell_columns | set(extra.columns))
        return out


def gain_rows(store, f: Filters = Filters(), single_only: bool = False) -> GainRows:
    """The rows every gain statistic is computed from (baseline side ignores the intermediate filters);
    ``single_only``: runs of one named intermediate task only (:func:`single_task`).

    Without a filter beyond the slice's (models, settings, splits, headline metric), the matched rows and
    their :mod:`store.strata` codes depend on nothing the user picks: they are computed once per store
    state and kept in the derived cache, as the slice's result rows are (:func:`_rows`).
    """
    if getattr(store, "root", None) is None or not _filters_only(f, (*_COARSE, *_PAIR_FILTERS)):
        return _gain_rows(store, f, single_only)
    if not _filters_only(f, _COARSE):
        # filters of whole pairs (source, target, its type, intermediate, variant) keep or drop a cell together
        # with every baseline it could match and every configuration of its pair: the whole slice's rows, filtered
        whole = gain_rows(store, Filters(**{n: getattr(f, n) for n in _COARSE}, headline_only=f.headline_only),
                          single_only)
        keep = {n: pl.col(_LIST_FILTERS[n]).is_in(list(getattr(f, n))) for n in _PAIR_FILTERS if getattr(f, n)}
        runs = whole.runs.filter(*keep.values())
        bases = whole.bases.filter(*(k for n, k in keep.items() if n not in _RUN_ONLY),
                                   pl.col("base_id").is_in(runs["base_id"].unique().implode()))
        return GainRows(runs, bases, f.benchmark)
    args = (*(list(getattr(f, n)) for n in _COARSE), f.headline_only, single_only)
    made: list[tuple[GainRows, dict]] = []

    def made_now() -> tuple[GainRows, dict]:
        if not made:
            g = _gain_rows(store, f, single_only)
            made.append((g, strata.to_arrays(g.prepared, CELL)))
        return made[0]

    runs = derived.memo_frame(store, "gain_runs", args, lambda: made_now()[0].runs)
    bases = derived.memo_frame(store, "gain_bases", args, lambda: made_now()[0].bases)
    codes = derived.memo_arrays(store, "gain_codes", args, lambda: made_now()[1])
    out = GainRows(runs, bases, f.benchmark)
    out.__dict__["prepared"] = strata.from_arrays(runs, codes)
    return out


#: Filters that keep or drop whole pairs (and the baselines of their cells); the last two apply to runs only.
_PAIR_FILTERS = ("sources", "targets", "target_types", "intermediates", "variants")
_RUN_ONLY = ("intermediates", "variants")


def _filters_only(f: Filters, names: Sequence[str]) -> bool:
    """True if ``f`` filters nothing but the list filters ``names`` (capped runs included)."""
    return f.include_capped and not any(getattr(f, n) for n in _LIST_FILTERS if n not in names)


def _gain_rows(store, f: Filters, single_only: bool) -> GainRows:
    """:func:`gain_rows` computed from the slice's result rows."""
    rows = _labelled(store, _rows(store, Filters(**{**f.__dict__, "intermediates": (), "variants": ()})))
    # by the row's role, an integer that comes with the rows (_rows), rather than comparing strings
    base = rows.filter(pl.col("_role") == _BASELINE_ROW)
    roles = [_SINGLE_ROW] if single_only else [_SINGLE_ROW, _OTHER_RUN_ROW]
    runs = rows.filter(pl.col("_role").is_in(roles))
    if f.intermediates:
        runs = runs.filter(pl.col("intermediate").is_in(list(f.intermediates)))
    if f.variants:
        runs = runs.filter(pl.col("variant").is_in(list(f.variants)))
    base_ids = base.select(*_BASE_KEY, "target_data", pl.col("_base").alias("base_id")).unique()
    # cells are matched once each, then their rows by a 64-bit hash of the cell's columns (joining 60,000
    # rows on eleven string columns took longer than the query); both come with the rows (_rows)
    runs = runs.select(pl.exclude(_DERIVED_COLS), "_cell")
    cells = runs.unique(["_cell", "target_config_id", "target_data"]).select(*CELL, "target_config_id", "target_data",
                                                                              "_cell")
    match = cells.join(base_ids.rename({"target_data": "base_data"}), on=_BASE_KEY, how="inner").filter(
        pl.col("target_data").is_null() | pl.col("base_data").is_null() | (pl.col("target_data") == pl.col("base_data"))
    )
    # prefer the baseline with the same recorded target data; one baseline per cell
    match = match.sort(pl.col("target_data") != pl.col("base_data"), nulls_last=True).unique("_cell", keep="first")
    base_of = pl.col("_cell").replace_strict(match["_cell"], match["base_id"], default=None, return_dtype=pl.String)
    runs = runs.with_columns(base_of.alias("base_id"))  # _cell stays: store.strata codes cells by it
    if runs["base_id"].null_count():
        runs = runs.filter(pl.col("base_id").is_not_null())
    base = base.select(pl.exclude(_DERIVED_COLS), pl.col("_base").alias("base_id"))  # its row's baseline id
    used = match["base_id"].unique()  # every matched cell has rows: the baselines the rows use
    return GainRows(runs, base.filter(pl.col("base_id").is_in(used.implode())), f.benchmark)


def gains(store, f: Filters = Filters(), per_seed: bool = False) -> pl.DataFrame:
    """Per language: each run configuration's seed mean beside its matched baseline's, and the gain.

    Returns:
        The columns of :func:`scores` plus ``baseline``, ``baseline_n_seeds`` and ``gain``; with
        ``per_seed`` one row per run seed (the baseline is still its seed mean).
    """
    return gains_of(gain_rows(store, f), per_seed)


def gains_of(g: GainRows, per_seed: bool = False) -> pl.DataFrame:
    """:func:`gains` from :func:`gain_rows` already fetched."""
    base = g.bases.group_by("base_id", "language").agg(
        pl.col("value").mean().alias("baseline"), pl.col("seed").n_unique().cast(pl.Int64).alias("baseline_n_seeds")
    )
    if per_seed:
        runs = g.runs.select(*_GROUP, "base_id", "seed", "value", pl.lit(1).alias("n_seeds"), "n_examples")
    elif "_cell" in g.runs.columns:
        runs = _cell_seed_means(g.runs)
    else:
        runs = _seed_means(g.runs, ["base_id"])
    out = runs.join(base, on=["base_id", "language"], how="inner").with_columns(
        (pl.col("value") - pl.col("baseline")).alias("gain")
    )
    return out.drop("base_id").sort([c for c in _GROUP if c in out.columns], nulls_last=True)


# ---------------------------------------------------------------------- summaries
def _summarize(rows: strata.Prepared, by: Sequence[str], benchmark: str, n_boot: int, seed: int, level: float,
               keep_replicates: bool = False, complete_only: bool = True) -> pl.DataFrame:
    """Every group of ``by`` (plus ``config``) at once: :func:`store.strata.summarize` under this module's rules."""
    per_language = any(c in by for c in LANGUAGE_KEYS) or not complete_only
    required = {t: benchmark_languages(t, benchmark) for t in rows.targets} if complete_only else None
    published = complete_only and not per_language and benchmark == PUBLISHED_BENCHMARK
    return strata.summarize(rows, list(dict.fromkeys([*by, "config"])), CELL, required, per_language, published,
                            BENCHMARKS[benchmark], n_boot, seed, level, keep_replicates)


def summarize_gains(g: GainRows | pl.DataFrame, by: Sequence[str] = ("intermediate", "target"), n_boot: int = N_BOOT,
                    seed: int = 0, level: float = LEVEL, keep_replicates: bool = False) -> pl.DataFrame:
    """Mean gain per group, tasks first, with the two-level bootstrap interval.

    Each group (``by`` plus ``config``: configurations are never pooled) averages, per target,
    its cells' gains over the benchmark's languages of that target, then the targets. A group
    whose run or baseline lacks one of those languages has no mean; ``coverage`` says which
    ("xnli: mnli and baseline cover 14 of 15 XTREME languages"); a published task average
    (language ``avg``, XTREME) is used as printed, without an interval. Grouping by a language column
    (``language``, ``family``, ...) averages no languages: each language present counts.

    A frame of per-language rows instead (``gain`` per language, a row of :func:`gains`, or a
    quantity derived from one, e.g. :mod:`store.distance`'s gap change) is summarized the same way,
    tasks first with languages resampled within each task (and its ``seed`` column if it has one),
    over the languages it holds: it has no baseline seeds to resample and no coverage rule.

    Returns:
        ``by``, ``config``, ``mean_gain``, ``ci_low``, ``ci_high``, ``n`` (run values used: seeds x
        languages), ``n_tasks``, ``n_languages``, ``n_seeds`` (fewest of a cell), ``baseline_n_seeds``,
        ``coverage`` ('' when complete); ``reps`` (the replicates) with ``keep_replicates``.
    """
    if isinstance(g, pl.DataFrame):
        rows = g.with_columns(pl.col("gain").alias("value"))
        if "seed" not in rows.columns:
            rows = rows.with_columns(pl.lit(1).alias("seed"))
        for col in (*CELL, "config"):
            if col not in rows.columns:
                rows = rows.with_columns(pl.lit("").alias(col))
        return _summarize(strata.prepare(rows, None, CELL), by, DEFAULT_BENCHMARK, n_boot, seed, level,
                          keep_replicates, complete_only=False).rename({"mean": "mean_gain"})
    return _summarize(g.prepared, by, g.benchmark, n_boot, seed, level, keep_replicates).rename({"mean": "mean_gain"})


def summarize_scores(rows: pl.DataFrame, by: Sequence[str], benchmark: str = DEFAULT_BENCHMARK,
                     n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL) -> pl.DataFrame:
    """:func:`summarize_gains` for plain scores (per-seed rows of :func:`scores`, no baseline)."""
    return _summarize(strata.prepare(rows, None, CELL), by, benchmark, n_boot, seed, level).rename({"mean": "mean_score"})


def task_gains(store, f: Filters = Filters(), n_boot: int = N_BOOT, seed: int = 0) -> pl.DataFrame:
    """One row per run configuration and target: its task-average gain over the benchmark's languages."""
    g = gain_rows(store, f)
    return summarize_gains(g, by=[c for c in CELL if c != "config_id"] + ["capped"], n_boot=n_boot, seed=seed)


def target_means(store, f: Filters = Filters()) -> pl.DataFrame:
    """One number per run configuration and target: the task average of its seed-mean scores.

    Published averages (language ``avg``) are used as printed, under the benchmark they were
    published for (XTREME); otherwise the mean over the benchmark's languages of the task, when
    every one is covered. ``aggregation`` says which, ``n_languages`` how many were covered,
    ``n_expected`` how many the benchmark has.
    """
    s = scores(store, f)
    keys = ["source", "model", "label", "intermediate", "variant", "setting", "target", "target_type", "metric",
            "split", "config_id", "target_config_id", "config", "capped"]
    published = s.filter(pl.col("language") == AVERAGE_LANGUAGE)
    if f.benchmark != PUBLISHED_BENCHMARK:
        published = published.clear()
    published = published.select(
        *keys, "value", "n_seeds", "seeded", pl.lit(None, pl.UInt32).alias("n_languages"),
        pl.lit(None, pl.UInt32).alias("n_expected"),
        pl.lit(f"as published ({BENCHMARKS[PUBLISHED_BENCHMARK]})").alias("aggregation"),
    )
    per_lang = s.filter(pl.col("language") != AVERAGE_LANGUAGE)
    sets = pl.DataFrame(
        [(t, lang) for t in per_lang["target"].unique() for lang in benchmark_languages(t, f.benchmark)],
        schema={"target": pl.String, "language": pl.String}, orient="row",
    )
    expected = sets.group_by("target").agg(pl.len().cast(pl.UInt32).alias("n_expected"))
    name = BENCHMARKS[f.benchmark]
    macro = (
        per_lang.join(sets, on=["target", "language"], how="semi")
        .group_by(keys).agg(pl.col("value").mean(), pl.col("n_seeds").min(), pl.col("seeded").any(),
                            pl.len().cast(pl.UInt32).alias("n_languages"))
    )
    missing = per_lang.select(keys).unique().join(macro.select(keys), on=keys, how="anti", nulls_equal=True).with_columns(
        pl.lit(None, pl.Float64).alias("value"), pl.lit(0, pl.Int64).alias("n_seeds"), pl.lit(False).alias("seeded"),
        pl.lit(0, pl.UInt32).alias("n_languages"))
    macro = (
        pl.concat([macro, missing.select(macro.columns)], how="vertical_relaxed")
        .join(expected, on="target", how="left")
        .with_columns(pl.col("n_expected").fill_null(0))
        .join(published.select(keys), on=keys, how="anti", nulls_equal=True)
        .with_columns(
            pl.when(pl.col("n_expected") == 0).then(pl.format("not in {}", pl.lit(name)))
            .when(pl.col("n_languages") < pl.col("n_expected"))
            .then(pl.format("{} of {} {} languages: no average", "n_languages", "n_expected", pl.lit(name)))
            .otherwise(pl.format("mean over the {} {} languages", "n_expected", pl.lit(name))).alias("aggregation"),
        )
        .with_columns(pl.when(pl.col("n_languages") == pl.col("n_expected")).then(pl.col("value")).alias("value"))
    )
    out = pl.concat([published, macro.select(published.columns)], how="vertical_relaxed")
    return out.sort(keys, nulls_last=True)


def simple_vs_complex(g: GainRows, complexity_df: pl.DataFrame, by: str = "target_type", n_boot: int = N_BOOT,
                      seed: int = 0) -> pl.DataFrame:
    """Mean gain of simple text-only tasks (format levels 1-2) beside complex ones (3-5), per group, tasks first."""
    ranks = dict(complexity_df.select("task", "format_rank").drop_nulls().iter_rows())
    rank = pl.col("intermediate").replace_strict(ranks, default=None, return_dtype=pl.Int64)
    # the rows as they are, labelled (tasks without a format level, such as CCG, are left out below)
    labelled = g.with_cell_columns(pl.when(rank <= 2).then(pl.lit("simple (1-2)")).when(rank > 2)
                              .then(pl.lit("complex (3-5)")).otherwise(None).alias("complexity"))
    out = summarize_gains(labelled, by=(by, "complexity"), n_boot=n_boot, seed=seed)
    return out.filter(pl.col("complexity").is_not_null())
