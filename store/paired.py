"""Paired comparison of a run with its baseline, example by example: written once, used by
`store export --table paired` and the dashboard's Examples page.

* :func:`align` joins two runs' predictions by (split, language, example id) and refuses
  mismatched example sets: a paired test on different examples would be meaningless.
* Accuracy-type metrics get the exact McNemar test (:func:`mcnemar_exact`: two-sided binomial
  test on the discordant pairs). F1 / EM and retrieval scores get a paired bootstrap
  (:func:`paired_bootstrap`): examples are resampled with replacement, the same indices for both
  systems, and the metric is recomputed from per-example parts (a mean for accuracy, EM, QA F1 and
  AP; ``2 sum tp / (sum n_pred + sum n_gold)`` for span F1), so a resample's score is the
  corpus-level metric of that resample. Every delta gets a bootstrap interval.
* :func:`bucket_gains`: the gain within buckets of an example attribute (input length, entity
  types, answer length, question word) per language, with the same bootstrap interval.

Values are points (0-100). Functions here are pure (frames in, frames out); :mod:`store.pairs`
finds the pairs in a store.

Example:
    >>> mcnemar_exact(2, 8)  # 2 * (C(10,0) + C(10,1) + C(10,2)) / 2**10
    0.109375
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import polars as pl

from store.errors import StoreError
from store.predictions import CATEGORY_BUCKETS, EXAMPLE_COLUMNS, NUMERIC_BUCKETS

KEYS = ("split", "language", "example_id")
#: Per-system columns, suffixed ``_base`` and ``_run`` after alignment.
SYSTEM_COLUMNS = ("prediction", "correct", "score", "em", "f1", "tp", "n_pred", "gold_rank")
BASE, RUN = "_base", "_run"
N_BOOT = 1000
LEVEL = 0.95
#: Exact integer arithmetic up to this many discordant pairs; log space above (same to ~1e-12).
_EXACT_MAX = 1000


# ------------------------------------------------------------------------------ alignment
def align(base: pl.DataFrame, run: pl.DataFrame, base_name: str = "baseline", run_name: str = "run") -> pl.DataFrame:
    """One row per example present in both: the example's columns, then each system's columns.

    Raises:
        StoreError: the two sets of (split, language, example id) differ.
    """
    b_keys, r_keys = base.select(KEYS), run.select(KEYS)
    example_cols = [c for c in EXAMPLE_COLUMNS if c in base.columns]
    sys_base = [pl.col(c).alias(c + BASE) for c in SYSTEM_COLUMNS if c in base.columns]
    sys_run = [pl.col(c).alias(c + RUN) for c in SYSTEM_COLUMNS if c in run.columns]
    if b_keys.equals(r_keys) and _sorted_unique(b_keys):
        # Stored predictions are sorted by their keys: the same examples line up row by row.
        return pl.concat([base.select(*KEYS, *example_cols, *sys_base), run.select(*sys_run)], how="horizontal")
    for name, frame in ((base_name, base), (run_name, run)):
        if frame.select(KEYS).is_duplicated().any():
            raise StoreError(f"predictions of {name} repeat an example id within a language")
    only_base = b_keys.join(r_keys, on=list(KEYS), how="anti")
    only_run = r_keys.join(b_keys, on=list(KEYS), how="anti")
    if only_base.height or only_run.height:
        parts = []
        for name, frame in ((run_name, only_run), (base_name, only_base)):
            if frame.height:
                per = frame.group_by("language").len().sort("language")
                langs = ", ".join(f"{lang} {n}" for lang, n in per.iter_rows())
                parts.append(f"{frame.height} only in {name} ({langs}; e.g. {frame['example_id'][0]!r})")
        raise StoreError(
            f"{run_name} and {baseline_label(base_name)} were evaluated on different examples: {'; '.join(parts)}; "
            "pair runs evaluated with the same data and --set max_eval_examples"
        )
    left = base.select(*KEYS, *example_cols, *sys_base)
    right = run.select(*KEYS, *sys_run)
    return left.join(right, on=list(KEYS), how="inner").sort(list(KEYS))


def _sorted_unique(keys: pl.DataFrame) -> bool:
    """True when the key rows are strictly increasing (sorted, hence without duplicates)."""
    if keys.height < 2:
        return True
    cur, prev = keys.slice(1), keys.slice(0, keys.height - 1)
    greater = pl.Series([False] * (keys.height - 1))
    equal = pl.Series([True] * (keys.height - 1))
    for c in keys.columns:
        a, b = cur[c], prev[c]
        greater = greater | (equal & (a > b))
        equal = equal & (a == b)
    return bool(greater.all())


def baseline_label(name: str) -> str:
    return name if name.startswith("baseline") else f"baseline {name}"


# ------------------------------------------------------------------------------ tests
def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``.

    Under the null each discordant pair goes either way with probability 1/2, so
    ``p = min(1, 2 * P(X <= min(b, c)))`` with ``X ~ Binomial(b + c, 1/2)``.

    >>> mcnemar_exact(0, 6)
    0.03125
    >>> mcnemar_exact(5, 5)
    1.0
    """
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    if n <= _EXACT_MAX:
        term, total = 1, 1  # C(n, 0); then C(n, i + 1) = C(n, i) (n - i) / (i + 1), exact integers
        for i in range(k):
            term = term * (n - i) // (i + 1)
            total += term
        return float(min(Fraction(1), Fraction(2 * total, 2**n)))
    i = np.arange(1, k + 1, dtype=float)
    log_comb = np.concatenate([[0.0], np.cumsum(np.log(n - i + 1) - np.log(i))])  # log C(n, 0..k)
    log_terms = log_comb - n * math.log(2.0)
    top = log_terms.max()
    log_tail = top + math.log(np.exp(log_terms - top).sum())
    return float(min(1.0, 2.0 * math.exp(log_tail)))


@dataclass(frozen=True)
class Bootstrap:
    """A paired bootstrap of ``run - baseline``: observed delta, percentile interval, two-sided p."""

    baseline: float
    run: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (seqeval's F1 of nothing found and nothing to find)."""
    out = np.zeros_like(num, dtype=float)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _distinct_rows(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(distinct rows, their counts) of ``parts``, or None when there are too many to be worth it.

    Each column is factorised on its own and the codes combined, which is much faster than
    ``np.unique(axis=0)`` (a sort of structured rows).
    """
    n = parts.shape[0]
    if parts.shape[1] == 1:
        values, counts = np.unique(parts[:, 0], return_counts=True)
        return values[:, None], counts
    codes = np.zeros(n, dtype=np.int64)
    radix = 1
    for j in range(parts.shape[1]):
        values, inverse = np.unique(parts[:, j], return_inverse=True)
        codes += inverse.reshape(-1) * radix
        radix *= len(values)
        if radix > n * n or radix > 2**40:
            return None
    _, first, counts = np.unique(codes, return_index=True, return_counts=True)
    return parts[first], counts


def _resampled_sums(parts: np.ndarray, n_boot: int, rng: np.random.Generator, method: str = "auto") -> np.ndarray:
    """Column sums of ``n_boot`` resamples (with replacement) of the rows of ``parts`` (n x k).

    When the rows take few distinct values (accuracy: four kinds of example pairs), drawing how
    often each distinct row is picked from a multinomial gives exactly the distribution of
    resampling rows, at a cost of n_boot x distinct instead of n_boot x n.
    """
    n = parts.shape[0]
    distinct = _distinct_rows(parts) if method != "index" else None
    if method == "multinomial" and distinct is None:
        uniq, counts = np.unique(parts, axis=0, return_counts=True)
        distinct = (uniq, counts)
    if distinct is not None and (method == "multinomial" or distinct[0].shape[0] * 8 <= n):
        uniq, counts = distinct
        draws = rng.multinomial(n, counts / n, size=n_boot)
        return draws @ uniq
    out = np.empty((n_boot, parts.shape[1]))
    chunk = max(1, 1_000_000 // n)  # bounds the index matrix to ~8 MB
    for s in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - s), n))
        for j in range(parts.shape[1]):
            out[s : s + idx.shape[0], j] = parts[:, j][idx].sum(axis=1)
    return out


def paired_bootstrap(
    base_num: np.ndarray,
    base_den: np.ndarray,
    run_num: np.ndarray,
    run_den: np.ndarray,
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = LEVEL,
    method: str = "auto",
) -> Bootstrap:
    """Paired bootstrap of ``sum(run_num)/sum(run_den) - sum(base_num)/sum(base_den)``.

    Each example contributes a numerator and a denominator per system (mean metrics: score and 1;
    span F1: 2 tp and n_pred + n_gold). The p-value is two-sided, from the share of resampled
    deltas on either side of zero: ``min(1, 2 min((#{d* <= 0} + 1), (#{d* >= 0} + 1)) / (B + 1))``.
    """
    base_num, base_den = np.asarray(base_num, float), np.asarray(base_den, float)
    run_num, run_den = np.asarray(run_num, float), np.asarray(run_den, float)
    n = base_num.shape[0]
    base_v = float(_ratio(np.array([base_num.sum()]), np.array([base_den.sum()]))[0])
    run_v = float(_ratio(np.array([run_num.sum()]), np.array([run_den.sum()]))[0])
    if n < 2:
        return Bootstrap(base_v, run_v, run_v - base_v, float("nan"), float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    if np.all(base_den == base_den[0]) and np.all(run_den == base_den[0]) and base_den[0] > 0:
        # A mean metric: the delta of a resample is the mean of the per-example differences.
        sums = _resampled_sums((run_num - base_num)[:, None], n_boot, rng, method)
        deltas = sums[:, 0] / (n * base_den[0])
    else:
        sums = _resampled_sums(np.column_stack([base_num, base_den, run_num, run_den]), n_boot, rng, method)
        deltas = _ratio(sums[:, 2], sums[:, 3]) - _ratio(sums[:, 0], sums[:, 1])
    return _summary(base_v, run_v, deltas, n_boot, level)


def _summary(base_v: float, run_v: float, deltas: np.ndarray, n_boot: int, level: float) -> Bootstrap:
    """Observed scores, the percentile interval of the resampled deltas, the two-sided p-value."""
    alpha = (1 - level) / 2
    lo, hi = np.quantile(deltas, [alpha, 1 - alpha])
    below, above = int((deltas <= 1e-9).sum()), int((deltas >= -1e-9).sum())
    p = min(1.0, 2 * min(below + 1, above + 1) / (n_boot + 1))
    return Bootstrap(base_v, run_v, run_v - base_v, float(lo), float(hi), p)


def _mean_bootstrap(base: np.ndarray, run: np.ndarray, diff: np.ndarray, n_boot: int, seed: int) -> Bootstrap:
    """:func:`paired_bootstrap` for a mean metric (denominators all 1), from precomputed differences."""
    n = diff.size
    if n < 2:
        return Bootstrap(float(base.mean()), float(run.mean()), float(diff.mean()), float("nan"), float("nan"), float("nan"))
    deltas = _resampled_sums(diff[:, None], n_boot, np.random.default_rng(seed))[:, 0] / n
    return _summary(float(base.mean()), float(run.mean()), deltas, n_boot, LEVEL)


# ------------------------------------------------------------------------------ metrics
def is_accuracy_type(metric: str) -> bool:
    """Metrics decided example by example as right or wrong: the exact McNemar test applies."""
    return metric == "accuracy"


def metric_parts(aligned: pl.DataFrame, metric: str, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-example (numerator, denominator) of ``metric`` for one side (``_base`` or ``_run``).

    Raises:
        StoreError: the predictions lack what the metric needs.
    """

    def col(name: str) -> pl.Series | None:
        c = name + side if name + side in aligned.columns else name
        if c not in aligned.columns or aligned[c].null_count() == aligned.height:
            return None
        if aligned[c].null_count():
            raise StoreError(f"predictions have nulls in {name!r} for some examples; {metric} needs it for all")
        return aligned[c]

    ones = np.ones(aligned.height)
    if metric == "accuracy" and (c := col("correct")) is not None:
        return c.cast(pl.Float64).to_numpy() * 100.0, ones
    if metric == "f1" and (tp := col("tp")) is not None:
        n_pred, n_gold = col("n_pred"), col("n_gold")
        if n_pred is None or n_gold is None:
            raise StoreError("span F1 needs tp, n_pred and n_gold in the predictions")
        return 200.0 * tp.cast(pl.Float64).to_numpy(), (n_pred + n_gold).cast(pl.Float64).to_numpy()
    if metric in ("em", "f1") and (c := col(metric)) is not None:
        return c.cast(pl.Float64).to_numpy(), ones
    if (c := col("score")) is not None:
        return c.cast(pl.Float64).to_numpy(), ones
    raise StoreError(f"the predictions hold nothing to compute {metric} from (no per-example column for it)")


@dataclass(frozen=True)
class _Parts:
    """Per-example arrays of one aligned frame, computed once and indexed by group."""

    bn: np.ndarray
    bd: np.ndarray
    rn: np.ndarray
    rd: np.ndarray
    base_ok: np.ndarray | None
    run_ok: np.ndarray | None
    diff: np.ndarray | None  # run - baseline per example, for mean metrics (all denominators 1)


def _parts(aligned: pl.DataFrame, metric: str) -> _Parts:
    bn, bd = metric_parts(aligned, metric, BASE)
    rn, rd = metric_parts(aligned, metric, RUN)
    ok = "correct" + BASE in aligned.columns and aligned["correct" + BASE].null_count() == 0 \
        and aligned["correct" + RUN].null_count() == 0
    mean_type = bool(np.all(bd == 1.0) and np.all(rd == 1.0))
    return _Parts(bn, bd, rn, rd, aligned["correct" + BASE].to_numpy() if ok else None,
                  aligned["correct" + RUN].to_numpy() if ok else None, rn - bn if mean_type else None)


def _compare_rows(p: _Parts, rows: np.ndarray, metric: str, n_boot: int, seed: int) -> dict:
    if p.diff is not None:
        boot = _mean_bootstrap(p.bn[rows], p.rn[rows], p.diff[rows], n_boot, seed)
    else:
        boot = paired_bootstrap(p.bn[rows], p.bd[rows], p.rn[rows], p.rd[rows], n_boot=n_boot, seed=seed)
    out = {"n": int(rows.size), "baseline": boot.baseline, "run": boot.run, "delta": boot.delta,
           "ci_low": boot.ci_low, "ci_high": boot.ci_high, "gained": None, "lost": None}
    if p.base_ok is not None:
        base_ok, run_ok = p.base_ok[rows], p.run_ok[rows]
        out["gained"], out["lost"] = int((~base_ok & run_ok).sum()), int((base_ok & ~run_ok).sum())
    if is_accuracy_type(metric) and out["gained"] is not None:
        out["test"], out["p_value"] = "exact McNemar", mcnemar_exact(out["gained"], out["lost"])
    else:
        out["test"], out["p_value"] = "paired bootstrap", boot.p_value
    return out


def compare(aligned: pl.DataFrame, metric: str, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """The paired comparison of one group of aligned examples (one language, or one bucket)."""
    return _compare_rows(_parts(aligned, metric), np.arange(aligned.height), metric, n_boot, seed)


def _groups(keys: pl.DataFrame) -> list[tuple[tuple, np.ndarray]]:
    """(key values, row indices) per distinct row of ``keys``, in sorted key order."""
    idx = keys.with_row_index("_row").group_by(keys.columns).agg(pl.col("_row")).sort(keys.columns)
    return [(tuple(r[c] for c in keys.columns), np.asarray(r["_row"], dtype=np.int64)) for r in idx.iter_rows(named=True)]


_TEST_SCHEMA = {
    "language": pl.String, "metric": pl.String, "n": pl.Int64, "baseline": pl.Float64, "run": pl.Float64,
    "delta": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "test": pl.String, "p_value": pl.Float64,
    "gained": pl.Int64, "lost": pl.Int64,
}


def language_tests(aligned: pl.DataFrame, metric: str, n_boot: int = N_BOOT, seed: int = 0) -> pl.DataFrame:
    """Per language: scores of both systems, the delta with its interval, the paired test.

    ``gained`` counts examples the baseline got wrong and the run right, ``lost`` the reverse.
    """
    parts = _parts(aligned, metric)
    rows = [
        {"language": lang, "metric": metric, **_compare_rows(parts, idx, metric, n_boot, seed)}
        for (lang,), idx in _groups(aligned.select("language"))
    ]
    return pl.DataFrame(rows, schema=_TEST_SCHEMA)


# ------------------------------------------------------------------------------ buckets
def bucket_attributes(aligned: pl.DataFrame) -> list[str]:
    """The bucket attributes these predictions have (non-null somewhere)."""
    return [c for c in (*NUMERIC_BUCKETS, *CATEGORY_BUCKETS) if c in aligned.columns and aligned[c].null_count() < aligned.height]


def _range_label(lo: int, hi: int | None) -> str:
    if hi is None:
        return f">= {lo}"
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def buckets(aligned: pl.DataFrame, attribute: str, n_bins: int = 3) -> pl.DataFrame:
    """(split, language, example_id, bucket, bucket_order, _row) for one attribute.

    ``_row`` is the example's row in ``aligned``.

    Numeric attributes are cut at the quantiles of all aligned examples (so every language is
    bucketed the same way): ``n_bins`` ranges labelled like ``1-12``, ``13-20``, ``>= 21``.
    ``label_types`` puts an example in one bucket per type it has (entity types present).
    """
    if attribute not in aligned.columns:
        raise StoreError(f"these predictions have no {attribute!r}; bucket by one of {', '.join(bucket_attributes(aligned)) or 'nothing'}")
    frame = aligned.select(*KEYS, pl.col(attribute).alias("value")).with_row_index("_row").drop_nulls("value")
    if attribute in NUMERIC_BUCKETS:
        values = frame["value"].to_numpy()
        if values.size == 0:
            return frame.select(*KEYS, pl.lit("").alias("bucket"), pl.lit(0).alias("bucket_order"), "_row").clear()
        inner = sorted({int(math.ceil(q)) for q in np.quantile(values, np.arange(1, n_bins) / n_bins)})
        lows = [int(values.min()), *[e + 1 for e in inner if e + 1 <= values.max()]]
        highs = [*(e for e in inner if e + 1 <= values.max()), None]
        labels = [_range_label(lo, hi) for lo, hi in zip(lows, highs)]
        order = np.searchsorted(np.array(lows[1:]), values, side="right")
        return frame.select(*KEYS).with_columns(
            pl.Series("bucket", np.array(labels, dtype=object)[order], pl.String), pl.Series("bucket_order", order, pl.Int64),
            frame["_row"],
        )
    if attribute == "label_types":
        frame = frame.with_columns(pl.col("value").str.split(",")).explode("value").filter(pl.col("value") != "")
    ranks = frame.group_by("value").len().sort(["len", "value"], descending=[True, False]).with_row_index("bucket_order")
    return frame.join(ranks.select("value", "bucket_order"), on="value").select(
        *KEYS, pl.col("value").cast(pl.String).alias("bucket"), pl.col("bucket_order").cast(pl.Int64), "_row"
    )


_BUCKET_SCHEMA = {
    "language": pl.String, "attribute": pl.String, "bucket": pl.String, "bucket_order": pl.Int64, "n": pl.Int64,
    "baseline": pl.Float64, "run": pl.Float64, "gain": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
}


def bucket_gains(
    aligned: pl.DataFrame, metric: str, attribute: str, n_boot: int = N_BOOT, seed: int = 0, n_bins: int = 3,
    bucketed: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Gain of the run over the baseline within each bucket of ``attribute``, per language.

    ``bucketed``: :func:`buckets` of ``aligned`` if already computed.
    """
    b = bucketed if bucketed is not None else buckets(aligned, attribute, n_bins)
    parts = _parts(aligned, metric)
    row_of = b["_row"].to_numpy().astype(np.int64)
    rows = []
    for (language, order, bucket), idx in _groups(b.select("language", "bucket_order", "bucket")):
        c = _compare_rows(parts, row_of[idx], metric, n_boot, seed)
        rows.append({"language": language, "attribute": attribute, "bucket": bucket, "bucket_order": order, "n": c["n"],
                     "baseline": c["baseline"], "run": c["run"], "gain": c["delta"], "ci_low": c["ci_low"],
                     "ci_high": c["ci_high"]})
    return pl.DataFrame(rows, schema=_BUCKET_SCHEMA).sort("language", "bucket_order")


def flips(aligned: pl.DataFrame) -> pl.DataFrame:
    """Examples whose correctness changed: ``gained`` (baseline wrong, run right) or ``lost``."""
    if "correct" + BASE not in aligned.columns:
        return aligned.clear().with_columns(pl.lit("").alias("direction"))
    out = aligned.filter(pl.col("correct" + BASE) != pl.col("correct" + RUN)).with_columns(
        pl.when(pl.col("correct" + RUN)).then(pl.lit("gained")).otherwise(pl.lit("lost")).alias("direction")
    )
    return out.select("direction", *[c for c in out.columns if c != "direction"])
