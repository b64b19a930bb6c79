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
    for name, frame in ((base_name, base), (run_name, run)):
        if frame.select(KEYS).is_duplicated().any():
            raise StoreError(f"predictions of {name} repeat an example id within a language")
    b_keys, r_keys = base.select(KEYS), run.select(KEYS)
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
    example_cols = [c for c in EXAMPLE_COLUMNS if c in base.columns]
    sys_base = [pl.col(c).alias(c + BASE) for c in SYSTEM_COLUMNS if c in base.columns]
    sys_run = [pl.col(c).alias(c + RUN) for c in SYSTEM_COLUMNS if c in run.columns]
    left = base.select(*KEYS, *example_cols, *sys_base)
    right = run.select(*KEYS, *sys_run)
    return left.join(right, on=list(KEYS), how="inner").sort(list(KEYS))


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
        tail = Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2**n)
        return float(min(Fraction(1), 2 * tail))
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


def _resampled_sums(parts: np.ndarray, n_boot: int, rng: np.random.Generator, method: str = "auto") -> np.ndarray:
    """Column sums of ``n_boot`` resamples (with replacement) of the rows of ``parts`` (n x k).

    When the rows take few distinct values (accuracy: four kinds of example pairs), drawing how
    often each distinct row is picked from a multinomial gives exactly the distribution of
    resampling rows, at a cost of n_boot x distinct instead of n_boot x n.
    """
    n = parts.shape[0]
    uniq, counts = np.unique(parts, axis=0, return_counts=True)
    if method == "multinomial" or (method == "auto" and uniq.shape[0] * 8 <= n):
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
    parts = np.column_stack([base_num, base_den, run_num, run_den]).astype(float)
    n = parts.shape[0]
    total = parts.sum(axis=0)
    base_v, run_v = float(_ratio(total[0:1], total[1:2])[0]), float(_ratio(total[2:3], total[3:4])[0])
    if n < 2:
        return Bootstrap(base_v, run_v, run_v - base_v, float("nan"), float("nan"), float("nan"))
    sums = _resampled_sums(parts, n_boot, np.random.default_rng(seed), method)
    deltas = _ratio(sums[:, 2], sums[:, 3]) - _ratio(sums[:, 0], sums[:, 1])
    alpha = (1 - level) / 2
    lo, hi = np.quantile(deltas, [alpha, 1 - alpha])
    below, above = int((deltas <= 0).sum()), int((deltas >= 0).sum())
    p = min(1.0, 2 * min(below + 1, above + 1) / (n_boot + 1))
    return Bootstrap(base_v, run_v, run_v - base_v, float(lo), float(hi), p)


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


def compare(aligned: pl.DataFrame, metric: str, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """The paired comparison of one group of aligned examples (one language, or one bucket)."""
    bn, bd = metric_parts(aligned, metric, BASE)
    rn, rd = metric_parts(aligned, metric, RUN)
    boot = paired_bootstrap(bn, bd, rn, rd, n_boot=n_boot, seed=seed)
    out = {"n": aligned.height, "baseline": boot.baseline, "run": boot.run, "delta": boot.delta,
           "ci_low": boot.ci_low, "ci_high": boot.ci_high}
    if "correct" + BASE in aligned.columns and aligned["correct" + BASE].null_count() == 0:
        base_ok, run_ok = aligned["correct" + BASE].to_numpy(), aligned["correct" + RUN].to_numpy()
        out["gained"], out["lost"] = int((~base_ok & run_ok).sum()), int((base_ok & ~run_ok).sum())
    else:
        out["gained"] = out["lost"] = None
    if is_accuracy_type(metric) and out["gained"] is not None:
        out["test"], out["p_value"] = "exact McNemar", mcnemar_exact(out["gained"], out["lost"])
    else:
        out["test"], out["p_value"] = "paired bootstrap", boot.p_value
    return out


_TEST_SCHEMA = {
    "language": pl.String, "metric": pl.String, "n": pl.Int64, "baseline": pl.Float64, "run": pl.Float64,
    "delta": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "test": pl.String, "p_value": pl.Float64,
    "gained": pl.Int64, "lost": pl.Int64,
}


def language_tests(aligned: pl.DataFrame, metric: str, n_boot: int = N_BOOT, seed: int = 0) -> pl.DataFrame:
    """Per language: scores of both systems, the delta with its interval, the paired test.

    ``gained`` counts examples the baseline got wrong and the run right, ``lost`` the reverse.
    """
    rows = []
    for (language,), group in aligned.group_by("language", maintain_order=True):
        rows.append({"language": language, "metric": metric, **compare(group, metric, n_boot, seed)})
    return pl.DataFrame(rows, schema=_TEST_SCHEMA).sort("language")


# ------------------------------------------------------------------------------ buckets
def bucket_attributes(aligned: pl.DataFrame) -> list[str]:
    """The bucket attributes these predictions have (non-null somewhere)."""
    return [c for c in (*NUMERIC_BUCKETS, *CATEGORY_BUCKETS) if c in aligned.columns and aligned[c].null_count() < aligned.height]


def _range_label(lo: int, hi: int | None) -> str:
    if hi is None:
        return f">= {lo}"
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def buckets(aligned: pl.DataFrame, attribute: str, n_bins: int = 3) -> pl.DataFrame:
    """(split, language, example_id, bucket, bucket_order) for one attribute.

    Numeric attributes are cut at the quantiles of all aligned examples (so every language is
    bucketed the same way): ``n_bins`` ranges labelled like ``1-12``, ``13-20``, ``>= 21``.
    ``label_types`` puts an example in one bucket per type it has (entity types present).
    """
    if attribute not in aligned.columns:
        raise StoreError(f"these predictions have no {attribute!r}; bucket by one of {', '.join(bucket_attributes(aligned)) or 'nothing'}")
    frame = aligned.select(*KEYS, pl.col(attribute).alias("value")).drop_nulls("value")
    if attribute in NUMERIC_BUCKETS:
        values = frame["value"].to_numpy()
        if values.size == 0:
            return frame.select(*KEYS, pl.lit("").alias("bucket"), pl.lit(0).alias("bucket_order")).clear()
        inner = sorted({int(math.ceil(q)) for q in np.quantile(values, np.arange(1, n_bins) / n_bins)})
        lows = [int(values.min()), *[e + 1 for e in inner if e + 1 <= values.max()]]
        highs = [*(e for e in inner if e + 1 <= values.max()), None]
        labels = [_range_label(lo, hi) for lo, hi in zip(lows, highs)]
        order = np.searchsorted(np.array(lows[1:]), values, side="right")
        return frame.select(*KEYS).with_columns(
            pl.Series("bucket", [labels[i] for i in order], pl.String), pl.Series("bucket_order", order, pl.Int64)
        )
    if attribute == "label_types":
        frame = frame.with_columns(pl.col("value").str.split(",")).explode("value").filter(pl.col("value") != "")
    ranks = frame.group_by("value").len().sort(["len", "value"], descending=[True, False]).with_row_index("bucket_order")
    return frame.join(ranks.select("value", "bucket_order"), on="value").select(
        *KEYS, pl.col("value").cast(pl.String).alias("bucket"), pl.col("bucket_order").cast(pl.Int64)
    )


_BUCKET_SCHEMA = {
    "language": pl.String, "attribute": pl.String, "bucket": pl.String, "bucket_order": pl.Int64, "n": pl.Int64,
    "baseline": pl.Float64, "run": pl.Float64, "gain": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
}


def bucket_gains(
    aligned: pl.DataFrame, metric: str, attribute: str, n_boot: int = N_BOOT, seed: int = 0, n_bins: int = 3
) -> pl.DataFrame:
    """Gain of the run over the baseline within each bucket of ``attribute``, per language."""
    b = buckets(aligned, attribute, n_bins)
    joined = aligned.join(b, on=list(KEYS))
    rows = []
    for (language, bucket, order), group in joined.group_by("language", "bucket", "bucket_order", maintain_order=True):
        c = compare(group, metric, n_boot, seed)
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
