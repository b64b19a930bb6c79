"""The analysis, written once: scores, gains over the `none` baseline, averages, bootstrap
intervals and correlations with task complexity. The CLI exports, `store claims` and the
dashboard all call these functions; none of them recomputes a statistic on its own.

Conventions:
    * Values are points (0-100). A *score* is the mean over seeds of one
      (source, model, intermediate, variant, setting, target, language, metric, split).
    * A *gain* is a score minus the matching ``none`` baseline score: same source, model, target,
      language, metric, split and setting (a variant run is compared with the plain baseline).
    * Zero-shot and translate-train/test numbers never meet: every function filters on
      ``Filters.settings`` (zero-shot by default) and groups by setting.

Example:
    >>> import tempfile
    >>> from store.database import Store
    >>> with Store.open(tempfile.mkdtemp()) as st:
    ...     g = gains(st, Filters(sources=("rembert_t16",)))
    >>> sorted(g["target"].unique())[:3]
    ['avg_qa', 'mlqa', 'panx']
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import polars as pl

from store.catalog import AVERAGE_LANGUAGE, BASELINE, BEST_PER_TARGET, MULTITASK

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
}

_WHERE = " AND ".join(
    f"(len(CAST(${name} AS VARCHAR[])) = 0 OR list_contains(CAST(${name} AS VARCHAR[]), {col}))"
    for name, col in _LIST_FILTERS.items()
) + " AND (NOT $headline_only OR is_headline)"

_GROUP_COLS = (
    "source, model, label, intermediate, variant, setting, target, target_type, "
    "language, family, genus, script, resource_class, split, metric"
)


@dataclass(frozen=True)
class Filters:
    """A slice of the store. An empty tuple means "no filter" on that column.

    Small, frozen and hashable, so the dashboard can cache frames keyed by it.
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
    headline_only: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _LIST_FILTERS:
                if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                    raise TypeError(f"Filters.{f.name} must be a tuple of strings, got {value!r}")
                object.__setattr__(self, f.name, tuple(value))

    def params(self) -> dict[str, object]:
        """Query parameters for :data:`_WHERE` (values never reach SQL as text)."""
        out: dict[str, object] = {name: list(getattr(self, name)) for name in _LIST_FILTERS}
        out["headline_only"] = self.headline_only
        return out


def scores(store, f: Filters = Filters(), per_seed: bool = False) -> pl.DataFrame:
    """Scores per language: mean over seeds, with the seed count and standard deviation.

    Args:
        store: an open :class:`store.database.Store`.
        f: the slice.
        per_seed: return one row per seed instead (``value`` is that seed's score).
    """
    if per_seed:
        sql = f"""
            SELECT {_GROUP_COLS}, seed, value, 1 AS n_seeds, NULL::DOUBLE AS std, n_examples
            FROM results_wide WHERE {_WHERE}
        """
    else:
        sql = f"""
            SELECT {_GROUP_COLS}, avg(value) AS value, count(*) AS n_seeds,
                   stddev_samp(value) AS std, max(n_examples) AS n_examples
            FROM results_wide WHERE {_WHERE}
            GROUP BY ALL
        """
    return store.query(sql, f.params())


def gains(store, f: Filters = Filters(), per_seed: bool = False) -> pl.DataFrame:
    """Scores of intermediate-task runs joined with their matching ``none`` baseline.

    The baseline is always the mean over its seeds; with ``per_seed`` each seed of the
    intermediate run keeps its own row (for intervals over seeds and languages). One query: the
    slice is scanned once and joined with itself.

    Returns:
        The columns of :func:`scores` plus ``baseline``, ``baseline_n_seeds`` and ``gain``.
    """
    # The baseline side ignores the intermediate / variant filters; the run side applies them.
    params = Filters(**{**f.__dict__, "intermediates": (), "variants": ()}).params()
    params["run_intermediates"] = list(f.intermediates)
    params["run_variants"] = list(f.variants)
    run_rows = (
        f"SELECT {_GROUP_COLS}, seed, value, 1 AS n_seeds, NULL::DOUBLE AS std, n_examples FROM sliced"
        if per_seed
        else f"SELECT {_GROUP_COLS}, avg(value) AS value, count(*) AS n_seeds, stddev_samp(value) AS std, "
        "max(n_examples) AS n_examples FROM sliced GROUP BY ALL"
    )
    sql = f"""
        WITH sliced AS (SELECT * FROM results_wide WHERE {_WHERE}),
        base AS (
            SELECT source, model, target, language, metric, split, setting,
                   avg(value) AS baseline, count(*) AS baseline_n_seeds
            FROM sliced WHERE intermediate = '{BASELINE}' AND variant = ''
            GROUP BY ALL
        ),
        runs AS ({run_rows})
        SELECT r.*, b.baseline, b.baseline_n_seeds, r.value - b.baseline AS gain
        FROM runs r JOIN base b USING (source, model, target, language, metric, split, setting)
        WHERE r.intermediate <> '{BASELINE}'
          AND (len(CAST($run_intermediates AS VARCHAR[])) = 0
               OR list_contains(CAST($run_intermediates AS VARCHAR[]), r.intermediate))
          AND (len(CAST($run_variants AS VARCHAR[])) = 0
               OR list_contains(CAST($run_variants AS VARCHAR[]), r.variant))
    """
    return store.query(sql, params)


def target_means(store, f: Filters = Filters()) -> pl.DataFrame:
    """One number per (source, model, intermediate, variant, setting, target, metric, split).

    Published averages (language ``avg``) are used as printed; otherwise the macro mean over
    languages of the seed-mean scores. ``aggregation`` says which, ``n_languages`` how many.
    """
    s = scores(store, f)
    keys = ["source", "model", "label", "intermediate", "variant", "setting", "target", "target_type", "metric", "split"]
    published = s.filter(pl.col("language") == AVERAGE_LANGUAGE).select(
        *keys, "value", pl.lit(None, pl.UInt32).alias("n_languages"), pl.lit("as published").alias("aggregation")
    )
    macro = (
        s.filter(pl.col("language") != AVERAGE_LANGUAGE)
        .group_by(keys)
        .agg(pl.col("value").mean(), pl.len().alias("n_languages"))
        .join(published.select(keys), on=keys, how="anti", nulls_equal=True)
        .with_columns(pl.format("macro mean over {} languages", "n_languages").alias("aggregation"))
    )
    return pl.concat([published, macro.select(published.columns)]).sort(keys, nulls_last=True)


def _draw_counts(size: int, n_boot: int, seed: int) -> np.ndarray:
    """How often each of ``size`` rows is drawn in each of ``n_boot`` resamples (n_boot x size).

    The draws are exactly those of ``rng.integers(0, size, (n_boot, size))`` with
    ``default_rng(seed)``, so a resample mean ``counts @ x / size`` equals the mean of ``x`` at
    those indices: the same resamples as indexing, as one matrix product.
    """
    idx = np.random.default_rng(seed).integers(0, size, size=(n_boot, size))
    flat = (idx + np.arange(n_boot)[:, None] * size).ravel()
    return np.bincount(flat, minlength=n_boot * size).reshape(n_boot, size).astype(float)


_draw_counts_cached = functools.lru_cache(maxsize=16)(_draw_counts)


def _resample_counts(size: int, n_boot: int, seed: int) -> np.ndarray:
    """:func:`_draw_counts`, cached when small (a page asks for the same sizes on every render)."""
    if size * n_boot <= 2_000_000:  # at most 16 MB per cached matrix
        return _draw_counts_cached(size, n_boot, seed)
    return _draw_counts(size, n_boot, seed)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    stat: Callable[[np.ndarray], float] = np.mean,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat`` over ``values`` (NaN, NaN for fewer than 2).

    >>> bootstrap_ci([1.0, 1.0, 1.0])
    (1.0, 1.0)
    """
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return (float("nan"), float("nan"))
    if stat is np.mean:
        boot = _resample_counts(x.size, n_boot, seed) @ x / x.size
    else:
        idx = np.random.default_rng(seed).integers(0, x.size, size=(n_boot, x.size))
        boot = np.apply_along_axis(stat, 1, x[idx])
    alpha = (1 - level) / 2
    return (float(np.quantile(boot, alpha)), float(np.quantile(boot, 1 - alpha)))


def summarize_gains(
    gains_df: pl.DataFrame, by: Sequence[str] = ("intermediate", "target"), n_boot: int = 1000, seed: int = 0
) -> pl.DataFrame:
    """Mean gain per group with a bootstrap 95% interval over the group's rows.

    Rows are languages (and seeds, if ``gains_df`` came from ``per_seed=True``). Each group's
    interval equals ``bootstrap_ci(group, n_boot, seed)``; groups of the same size share one
    resampling index matrix, which is what makes this fast on many groups.
    """
    by = list(by)
    grouped = gains_df.group_by(by, maintain_order=True).agg(pl.col("gain"))
    values = grouped["gain"].to_list()
    sizes = np.array([len(v) for v in values], dtype=np.int64)
    mean, lo, hi = (np.full(len(values), np.nan) for _ in range(3))
    for size in np.unique(sizes):
        rows = np.flatnonzero(sizes == size)
        x = np.array([values[i] for i in rows], dtype=float)  # groups x size
        mean[rows] = x.mean(axis=1)
        if size < 2:
            continue
        boot = x @ _resample_counts(int(size), n_boot, seed).T / size  # groups x n_boot resample means
        lo[rows], hi[rows] = np.quantile(boot, [0.025, 0.975], axis=1)
    return grouped.select(by).with_columns(
        pl.Series("mean_gain", mean, pl.Float64),
        pl.Series("ci_low", lo, pl.Float64),
        pl.Series("ci_high", hi, pl.Float64),
        pl.Series("n", sizes, pl.Int64),
    )


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (as Spearman's rho needs)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.arange(1, len(x) + 1)
    for v in np.unique(x):
        tie = x == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (NaN when undefined: fewer than 3 points or a constant side).

    >>> spearman([1, 2, 3, 4], [10, 20, 30, 40])
    1.0
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.size < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def _average_ranks(m: np.ndarray) -> np.ndarray:
    """Row-wise average ranks (ties share their mean rank) of a 2-D array, all rows at once."""
    less = (m[:, None, :] < m[:, :, None]).sum(-1)
    equal = (m[:, None, :] == m[:, :, None]).sum(-1)
    return less + (equal + 1) / 2.0


def spearman_ci(x, y, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval of Spearman's rho, resampling (x, y) pairs.

    All resamples are ranked at once (n is the number of intermediate tasks, so the n x n
    comparison per resample is tiny); resamples where one side is constant are dropped, as
    :func:`spearman` leaves them undefined.
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.size < 3:
        return (float("nan"), float("nan"))
    i = np.random.default_rng(seed).integers(0, a.size, size=(n_boot, a.size))
    chunk = max(1, 4_000_000 // (a.size * a.size))  # bounds the n x n comparison arrays' memory
    ra = np.concatenate([_average_ranks(a[i[k : k + chunk]]) for k in range(0, n_boot, chunk)])
    rb = np.concatenate([_average_ranks(b[i[k : k + chunk]]) for k in range(0, n_boot, chunk)])
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    defined = den > 0
    rho = (ra * rb).sum(axis=1)[defined] / den[defined]
    if rho.size < n_boot // 2:
        return (float("nan"), float("nan"))
    alpha = (1 - level) / 2
    return (float(np.quantile(rho, alpha)), float(np.quantile(rho, 1 - alpha)))


def human_ceiling(cell: str | None, metric: str) -> float | None:
    """The published human score for ``metric`` from a reference cell.

    '92.0 / 92.8 (m/mm)' -> 92.0; '59.5 F1 / 80.4 acc' with accuracy -> 80.4; '>95' -> 95.0.

    >>> human_ceiling("59.5 F1 / 80.4 acc", "accuracy")
    80.4
    """
    if not cell:
        return None
    pairs = re.findall(r"(\d+(?:\.\d+)?)\s*(acc|F1|EM)?", cell)
    if not pairs:
        return None
    wanted = {"accuracy": "acc", "f1": "F1", "em": "EM"}.get(metric)
    for number, label in pairs:
        if label and label == wanted:
            return float(number)
    return float(pairs[0][0])


def _percentile_ranks(values: pl.Series) -> pl.Series:
    """Rank within the non-null values, scaled to 0-1 (nulls stay null)."""
    n = values.drop_nulls().len()
    if n < 2:
        return pl.Series([None] * values.len(), dtype=pl.Float64)
    return (values.rank("average") - 1) / (n - 1)


def complexity_table(store, model: str | None = None) -> pl.DataFrame:
    """Complexity of every intermediate task on the three axes (never one number pretending to be truth).

    * A: ``format_level`` (1-5, T) and ``format_rank`` (1-5; tagging has none).
    * B: sourced data-derived attributes (train size, labels or choices, bytes per example) and
      ``b_composite``: the mean of their 0-1 percentile ranks among the intermediate tasks, over
      the attributes a task has (log scale does not matter for ranks).
    * C: ``c_measured`` from our own runs (``model`` or all models): 100 x (1 - (dev - chance) /
      (ceiling - chance)), the share of above-chance headroom the model leaves on the English dev
      set; the ceiling is the published human score where there is one, else 100; chance is
      100 / labels for classification and multiple choice, 0 otherwise. Null without runs.
    """
    base = store.query(
        """
        SELECT c.task, c.format_level, c.format_rank, c.task_format, c.reasoning_type,
               c.train_size, c.n_labels_or_choices, c.bytes_per_example, c.human_score,
               c.english_model_score, t.headline_metric, t.task_type
        FROM task_complexity c JOIN tasks t USING (task)
        ORDER BY c.task
        """
    )
    dev = store.query(
        """
        SELECT d.task, avg(d.value) AS dev_score, count(*) AS n_dev_runs
        FROM dev_scores d JOIN runs u USING (run_id) JOIN tasks t ON t.task = d.task
        WHERE d.phase = 'intermediate' AND d.metric = t.headline_metric
          AND ($model IS NULL OR u.model = $model)
        GROUP BY d.task
        """,
        {"model": model},
    )
    b = base.with_columns(
        _percentile_ranks(base["train_size"].cast(pl.Float64)).alias("_r_size"),
        _percentile_ranks(base["n_labels_or_choices"].cast(pl.Float64)).alias("_r_labels"),
        _percentile_ranks(base["bytes_per_example"].cast(pl.Float64)).alias("_r_bytes"),
    ).with_columns(pl.mean_horizontal("_r_size", "_r_labels", "_r_bytes").alias("b_composite"))
    out = b.drop("_r_size", "_r_labels", "_r_bytes").join(dev, on="task", how="left")
    chance = [
        100.0 / n if (n and ttype == "classification") else 0.0
        for n, ttype in zip(out["n_labels_or_choices"], out["task_type"])
    ]
    ceiling = [human_ceiling(h, m) or 100.0 for h, m in zip(out["human_score"], out["headline_metric"])]
    c = [
        None if d is None else 100.0 * (1 - (d - ch) / (ce - ch)) if ce > ch else None
        for d, ch, ce in zip(out["dev_score"], chance, ceiling)
    ]
    return out.with_columns(
        pl.Series("chance", chance), pl.Series("ceiling", ceiling), pl.Series("c_measured", c, dtype=pl.Float64)
    )


AXES = {"A": "format_rank", "B": "b_composite", "C": "c_measured"}


def single_task(intermediate: str) -> bool:
    """True for one named intermediate task (not none, multitask, best-per-target or a mix)."""
    return intermediate not in (BASELINE, MULTITASK, BEST_PER_TARGET) and "+" not in intermediate


def complexity_correlation(
    gains_df: pl.DataFrame,
    complexity_df: pl.DataFrame,
    axis: str = "A",
    by: str = "target_type",
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Spearman's rho between an axis and the mean gain per intermediate task, per group.

    Each point is one single intermediate task (its mean gain over the group's rows); the
    interval resamples tasks. ``n`` is the number of tasks.
    """
    col = AXES[axis]
    per_task = (
        gains_df.filter(pl.col("intermediate").map_elements(single_task, return_dtype=pl.Boolean))
        .group_by(by, "intermediate")
        .agg(pl.col("gain").mean().alias("mean_gain"))
        .join(complexity_df.select(pl.col("task").alias("intermediate"), col), on="intermediate")
        .drop_nulls(col)
    )
    rows = []
    for (group,), g in per_task.group_by(by, maintain_order=True):
        x, y = g[col].to_numpy().astype(float), g["mean_gain"].to_numpy()
        lo, hi = spearman_ci(x, y, n_boot=n_boot, seed=seed)
        rows.append({by: group, "axis": axis, "rho": spearman(x, y), "ci_low": lo, "ci_high": hi, "n": len(g)})
    schema = {by: pl.String, "axis": pl.String, "rho": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "n": pl.Int64}
    return pl.DataFrame(rows, schema=schema).sort(by)


def simple_vs_complex(gains_df: pl.DataFrame, complexity_df: pl.DataFrame, by: str = "target_type") -> pl.DataFrame:
    """Mean gain of simple text-only tasks (format levels 1-2) beside complex ones (3-5), per group."""
    levels = complexity_df.select(pl.col("task").alias("intermediate"), "format_rank").drop_nulls()
    g = gains_df.join(levels, on="intermediate").with_columns(
        pl.when(pl.col("format_rank") <= 2).then(pl.lit("simple (1-2)")).otherwise(pl.lit("complex (3-5)")).alias("complexity")
    )
    return summarize_gains(g, by=(by, "complexity"))
