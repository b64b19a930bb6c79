"""Task complexity on four axes (never one number pretending to be truth) and its correlation with gain.

* A, format: ``format_level`` (1-5, T) and ``format_rank`` (1-5; tagging has none).
* B, data-derived: labels or choices and bytes per example; ``b_composite`` is the mean of their
  0-1 percentile ranks among the intermediate tasks. Training-set size is not complexity.
* C, measured: from our own runs' English dev scores, 100 x (1 - (dev - chance) / (ceiling -
  chance)) with one ceiling rule for every task, stated in the catalog
  (``store/data/catalog/complexity_axes.csv``): the metric's maximum, 100. ``c_flag`` marks what
  must not be used silently (a dev score at or below chance, or above the published human score:
  negative headroom against a human ceiling).
* D, data size: training examples (``train_size``), an axis of its own.

The correlation with gain is Spearman's rho over intermediate tasks (one point each: its
task-first mean gain over the targets of a group), with a bootstrap interval over tasks and an
exact permutation p-value (all n! orderings for n <= 9): with 8-9 tied points the interval alone misleads.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Sequence

import numpy as np
import polars as pl

from store import derived
from store.catalog import BASELINE, BEST_PER_TARGET, MULTITASK

#: axis -> column of :func:`complexity_table`
AXES = {"A": "format_rank", "B": "b_composite", "C": "c_measured", "D": "train_size"}
#: The one ceiling rule of axis C (also stated in the catalog's complexity_axes.csv).
C_CEILING = 100.0
EXACT_PERMUTATION_MAX_N = 9


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
    """Bootstrap interval of Spearman's rho, resampling (x, y) pairs (tasks).

    All resamples are ranked at once; resamples where one side is constant are dropped, as
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


@functools.lru_cache(maxsize=4)
def _all_permutations(n: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(n))), dtype=np.int8)


@functools.lru_cache(maxsize=4)
def _halves(n: int) -> tuple[np.ndarray, ...]:
    """Every way to give the first n // 2 positions a set of values (and the rest the others), and the
    orderings within each half."""
    k = n // 2
    first = np.array(list(itertools.combinations(range(n), k)), np.int64)
    rest = np.array([[j for j in range(n) if j not in set(s)] for s in first.tolist()], np.int64)
    return first, rest, np.array(list(itertools.permutations(range(k))), np.int64), \
        np.array(list(itertools.permutations(range(n - k))), np.int64)


def _extreme_orderings(a2: np.ndarray, b2: np.ndarray) -> int:
    """How many orderings of ``b2`` against ``a2`` give |sum a2 * b2| at least the observed one.

    ``a2``, ``b2``: twice the centred ranks, so integers and every sum exact. An ordering is a choice of
    which values go to the first half of the positions and an order within each half: per choice, the
    first half's sums against the second half's (sorted), counted by binary search, instead of forming
    all n! orderings (362,880 x 9 for 9 tasks, ~9 ms).
    """
    first, rest, p_first, p_rest = _halves(a2.size)
    k = first.shape[1]
    left = b2[first][:, p_first] @ a2[:k]  # choices x k! sums
    right = np.sort(b2[rest][:, p_rest] @ a2[k:], axis=1)  # choices x (n-k)! sums, sorted
    t = abs(int(a2 @ b2))
    if t == 0:
        return math.factorial(a2.size)
    m = right.shape[1]
    span = 2 * int(np.abs(right).max(initial=0)) + 2 * t + 2 * int(np.abs(left).max(initial=0)) + 1
    off = np.arange(first.shape[0], dtype=np.int64)[:, None] * span  # rows apart: one sorted array
    flat = (right + off).ravel()
    ends = (np.arange(first.shape[0], dtype=np.int64)[:, None] + 1) * m
    starts = ends - m
    n_ge = ends - np.searchsorted(flat, (t - left + off).ravel(), side="left").reshape(left.shape)
    n_le = np.searchsorted(flat, (-t - left + off).ravel(), side="right").reshape(left.shape) - starts
    return int(n_ge.sum() + n_le.sum())


def permutation_p(x, y, n_perm: int = 100_000, seed: int = 0) -> tuple[float, str]:
    """Two-sided permutation p-value of Spearman's rho and how it was computed.

    Exact (every ordering of y against x, ties kept as average ranks) for n <= 9; a Monte Carlo
    estimate with ``n_perm`` orderings above that. NaN when rho is undefined.

    >>> permutation_p([1, 2, 3, 4], [1, 2, 3, 4])
    (0.08333333333333333, 'exact, 24 orderings')
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rho = spearman(a, b)
    if np.isnan(rho):
        return float("nan"), ""
    ra, rb = _ranks(a) - (a.size + 1) / 2, _ranks(b) - (b.size + 1) / 2
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    if 8 <= a.size <= EXACT_PERMUTATION_MAX_N:  # every ordering still, counted half against half
        count = _extreme_orderings(np.rint(2 * ra).astype(np.int64), np.rint(2 * rb).astype(np.int64))
        return count / math.factorial(a.size), f"exact, {math.factorial(a.size)} orderings"
    if a.size <= EXACT_PERMUTATION_MAX_N:
        perms, how = _all_permutations(a.size), "exact"
    else:
        rng = np.random.default_rng(seed)
        perms, how = rng.permuted(np.tile(np.arange(a.size), (n_perm, 1)), axis=1), "Monte Carlo"
    rhos = rb[perms] @ ra / den
    p = float(np.mean(np.abs(rhos) >= abs(rho) - 1e-12))
    return p, f"{how}, {len(perms)} orderings"


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


def _c_flag(dev: float | None, chance: float, human: float | None) -> str:
    if dev is None:
        return ""
    if dev <= chance:
        return "dev score at or below chance"
    if human is not None and dev > human:
        return f"dev score above the published human score ({human:g}): negative headroom against it"
    return ""


def complexity_table(store, model: str | None = None) -> pl.DataFrame:
    """Complexity of every intermediate task on axes A, B, C and D (module docstring).

    C is from our own runs (``model`` or all models); null without English dev scores of the
    intermediate phase. ``human_ceiling`` is shown beside it for reference, never used by it.
    Computed once per store state and model (:func:`store.derived.memo_frame`).
    """
    return derived.memo_frame(store, "complexity", (model,), lambda: _complexity_table(store, model))


def _complexity_table(store, model: str | None) -> pl.DataFrame:
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
        _percentile_ranks(base["n_labels_or_choices"].cast(pl.Float64)).alias("_r_labels"),
        _percentile_ranks(base["bytes_per_example"].cast(pl.Float64)).alias("_r_bytes"),
    ).with_columns(pl.mean_horizontal("_r_labels", "_r_bytes").alias("b_composite"))
    out = b.drop("_r_labels", "_r_bytes").join(dev, on="task", how="left")
    chance = [
        100.0 / n if (n and ttype == "classification") else 0.0
        for n, ttype in zip(out["n_labels_or_choices"], out["task_type"])
    ]
    human = [human_ceiling(h, m) for h, m in zip(out["human_score"], out["headline_metric"])]
    c = [None if d is None else 100.0 * (1 - (d - ch) / (C_CEILING - ch)) for d, ch in zip(out["dev_score"], chance)]
    flags = [_c_flag(d, ch, h) for d, ch, h in zip(out["dev_score"], chance, human)]
    return out.with_columns(
        pl.Series("chance", chance), pl.lit(C_CEILING).alias("ceiling"), pl.Series("human_ceiling", human, pl.Float64),
        pl.Series("c_measured", c, dtype=pl.Float64), pl.Series("c_flag", flags, pl.String),
    )


def single_task(intermediate: str) -> bool:
    """True for one named intermediate task (not none, multitask, best-per-target or a mix)."""
    return intermediate not in (BASELINE, MULTITASK, BEST_PER_TARGET) and "+" not in intermediate


def single_task_expr(col: str = "intermediate") -> pl.Expr:
    """:func:`single_task` as a polars expression on column ``col``."""
    return ~pl.col(col).is_in([BASELINE, MULTITASK, BEST_PER_TARGET]) & ~pl.col(col).str.contains("+", literal=True)


def complexity_correlation(
    summary: pl.DataFrame,
    complexity_df: pl.DataFrame,
    axis: str = "A",
    by: str = "target_type",
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Spearman's rho between an axis and the mean gain per intermediate task, per group.

    ``summary`` is :func:`store.analysis.summarize_gains` by (``by``, ``intermediate``): each
    point is one single intermediate task with a task-first mean (groups without one, for
    lack of language coverage, are left out). The interval resamples tasks; ``p_value`` is the
    permutation test's; ``n`` counts the tasks (points), ``n_targets`` the targets behind each.
    """
    col = AXES[axis]
    keys = [by, "config"] if "config" in summary.columns else [by]
    singles = [i for i in summary["intermediate"].unique().to_list() if i is not None and single_task(i)]
    per_task = (
        summary.filter(pl.col("intermediate").is_in(singles), pl.col("mean_gain").is_not_null())
        .join(complexity_df.select(pl.col("task").alias("intermediate"), col), on="intermediate")
        .drop_nulls(col)
        .sort([*keys, "intermediate"], nulls_last=True)  # the interval resamples points: in a fixed order
    )
    rows = []
    for key, g in per_task.group_by(keys, maintain_order=True):
        x, y = g[col].to_numpy().astype(float), g["mean_gain"].to_numpy()
        lo, hi = spearman_ci(x, y, n_boot=n_boot, seed=seed)
        p, how = permutation_p(x, y)
        n_targets = int(g["n_tasks"].max()) if "n_tasks" in g.columns else None
        rows.append({**dict(zip(keys, key)), "axis": axis, "rho": spearman(x, y), "ci_low": lo, "ci_high": hi,
                     "p_value": p, "p_method": how, "n": len(g), "n_targets": n_targets})
    schema = {**{k: pl.String for k in keys}, "axis": pl.String, "rho": pl.Float64, "ci_low": pl.Float64,
              "ci_high": pl.Float64, "p_value": pl.Float64, "p_method": pl.String, "n": pl.Int64, "n_targets": pl.Int64}
    return pl.DataFrame(rows, schema=schema).sort(keys)
