"""Paired comparison of a run with its baseline, example by example: written once, used by
`store export --table paired` and the dashboard's Examples page.

* :func:`align` joins two runs' predictions by (split, language, example id) and refuses
  mismatched example sets: a paired test on different examples would be meaningless.
* Accuracy-type metrics get the exact McNemar test (:func:`mcnemar_exact`: two-sided binomial
  test on the discordant pairs). F1 / EM and retrieval scores get a paired bootstrap
  (:func:`paired_bootstrap`): examples are resampled with replacement, the same indices for both
  systems, and the metric is recomputed from per-example parts (a mean for accuracy, EM, QA F1 and
  AP; ``2 sum tp / (sum n_pred + sum n_gold)`` for span F1), so a resample's score is the
  corpus-level metric of that resample. Every delta gets a bootstrap interval. Groups of 100+
  examples with many distinct values (F1, AP) are resampled with iid Poisson(1) weights per
  example (the Poisson bootstrap) instead of a multinomial draw of n examples: one weight matrix
  then serves every language and bucket of a pair (:mod:`store.resampling`,
  :func:`paired_bootstrap`; agreement with the classic bootstrap and coverage are tested).
* :func:`bucket_gains`: the gain within buckets of an example attribute (input length, entity
  types, answer length, question word) per language, with the same bootstrap interval
  (:func:`tests_and_gains` computes both from one weight matrix).

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
from store.resampling import (  # noqa: F401  (paired_bootstrap and friends re-exported)
    FEW_DISTINCT,
    LEVEL,
    N_BOOT,
    POISSON_MIN,
    Bootstrap,
    Group,
    bootstrap_groups,
    distinct_rows,
    group_parts,
    paired_bootstrap,
    poisson_weight_sums,
    poisson_weights,
)

KEYS = ("split", "language", "example_id")
#: Per-system columns, suffixed ``_base`` and ``_run`` after alignment.
SYSTEM_COLUMNS = ("prediction", "correct", "score", "em", "f1", "tp", "n_pred", "gold_rank")
BASE, RUN = "_base", "_run"
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
    mean_type: bool  # all denominators 1: deltas are means of run - baseline
    languages: list[tuple[str, np.ndarray]]  # (language, row indices) in sorted order


def _parts(aligned: pl.DataFrame, metric: str) -> _Parts:
    bn, bd = metric_parts(aligned, metric, BASE)
    rn, rd = metric_parts(aligned, metric, RUN)
    ok = "correct" + BASE in aligned.columns and aligned["correct" + BASE].null_count() == 0 \
        and aligned["correct" + RUN].null_count() == 0
    mean_type = bool(np.all(bd == 1.0) and np.all(rd == 1.0))
    languages = [(lang, idx) for (lang,), idx in _groups(aligned.select("language"))]
    return _Parts(bn, bd, rn, rd, aligned["correct" + BASE].to_numpy() if ok else None,
                  aligned["correct" + RUN].to_numpy() if ok else None, mean_type, languages)


def _compare_groups(p: _Parts, groups: list[np.ndarray], metric: str, n_boot: int, seed: int,
                    bounds: list[int | None] | None = None, n_tests: int | None = None) -> list[dict]:
    """The paired comparison of each group of rows, all bootstrapped together (one weight matrix).

    ``bounds``: per group, :attr:`Group.distinct_bound`; ``n_tests``: only the first ``n_tests``
    groups get the test's p-value (McNemar), the rest (buckets) the bootstrap's.
    """
    bounds = bounds or [None] * len(groups)
    n_tests = len(groups) if n_tests is None else n_tests
    boots = bootstrap_groups(
        [Group(p.bn[r], p.bd[r], p.rn[r], p.rd[r], p.mean_type, d, int(i >= n_tests))
         for i, (r, d) in enumerate(zip(groups, bounds))],
        n_boot, seed, LEVEL,
    )
    out = []
    for i, (rows, boot) in enumerate(zip(groups, boots)):
        c = {"n": int(rows.size), "baseline": boot.baseline, "run": boot.run, "delta": boot.delta,
             "ci_low": boot.ci_low, "ci_high": boot.ci_high, "gained": None, "lost": None, "resampling": boot.resampling}
        if p.base_ok is not None:
            base_ok, run_ok = p.base_ok[rows], p.run_ok[rows]
            c["gained"], c["lost"] = int((~base_ok & run_ok).sum()), int((base_ok & ~run_ok).sum())
        if is_accuracy_type(metric) and c["gained"] is not None and i < n_tests:
            c["test"], c["p_value"] = "exact McNemar", mcnemar_exact(c["gained"], c["lost"])
        else:
            c["test"], c["p_value"] = "paired bootstrap", boot.p_value
        out.append(c)
    return out


def compare(aligned: pl.DataFrame, metric: str, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """The paired comparison of one group of aligned examples (one language, or one bucket)."""
    p = _parts(aligned, metric)
    return _compare_groups(p, [np.arange(aligned.height)], metric, n_boot, seed)[0]


def _groups(keys: pl.DataFrame) -> list[tuple[tuple, np.ndarray]]:
    """(key values, row indices in row order) per distinct row of ``keys``, in sorted key order."""
    if keys.height == 0:
        return []
    code = np.zeros(keys.height, dtype=np.int64)
    for c in keys.columns:  # a mixed-radix code whose order is the keys' order
        col = keys[c]
        if col.dtype.is_integer() and col.null_count() < col.len():  # nulls sort last, as polars sorts them
            lo, hi = int(col.min()), int(col.max())
            part, size = col.fill_null(hi + 1).to_numpy().astype(np.int64) - lo, hi - lo + 2
        else:
            values = sorted(v for v in col.cast(pl.String).unique().to_list() if v is not None)
            part = col.cast(pl.String).cast(pl.Enum(values)).to_physical().fill_null(len(values)).to_numpy().astype(np.int64)
            size = len(values) + 1
        code = code * size + part
    order = np.argsort(code, kind="stable")
    ordered = code[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    bounds = [*starts.tolist(), keys.height]
    firsts = keys[order[starts].tolist()]
    return [(tuple(k), order[bounds[i] : bounds[i + 1]]) for i, k in enumerate(firsts.iter_rows())]


_TEST_SCHEMA = {
    "language": pl.String, "metric": pl.String, "n": pl.Int64, "baseline": pl.Float64, "run": pl.Float64,
    "delta": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "test": pl.String, "p_value": pl.Float64,
    "gained": pl.Int64, "lost": pl.Int64, "resampling": pl.String,
}


def language_tests(aligned: pl.DataFrame, metric: str, n_boot: int = N_BOOT, seed: int = 0) -> pl.DataFrame:
    """Per language: scores of both systems, the delta with its interval, the paired test.

    ``gained`` counts examples the baseline got wrong and the run right, ``lost`` the reverse;
    ``resampling`` says how the interval's resamples were drawn (:func:`paired_bootstrap`).
    """
    return tests_and_gains(aligned, metric, None, n_boot, seed)[0]


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

    ``bucketed``: :func:`buckets` of ``aligned`` if already computed. The intervals are the same
    numbers :func:`tests_and_gains` gives.
    """
    b = bucketed if bucketed is not None else buckets(aligned, attribute, n_bins)
    return tests_and_gains(aligned, metric, b, n_boot, seed, attribute=attribute, languages=False)[1]


def tests_and_gains(
    aligned: pl.DataFrame, metric: str, bucketed: pl.DataFrame | None, n_boot: int = N_BOOT, seed: int = 0,
    attribute: str | None = None, languages: bool = True,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`language_tests` and the :func:`bucket_gains` of ``bucketed`` (a :func:`buckets` frame,
    or None) from one bootstrap: every language and every bucket within it share one weight matrix.

    ``attribute``: the bucket attribute's name for the gains frame (default: ``bucketed``'s own is
    not recorded, so pass it); ``languages=False`` skips the per-language groups.
    """
    parts = _parts(aligned, metric)
    groups = [idx for _, idx in parts.languages] if languages else []
    keys: list[tuple] = []
    if bucketed is not None:
        row_of = bucketed["_row"].to_numpy().astype(np.int64)
        for key, idx in _groups(bucketed.select("language", "bucket_order", "bucket")):
            keys.append(key)
            groups.append(row_of[idx])
    # Distinct example rows per language (few: accuracy, EM) bound those of its buckets.
    distinct = {}
    for lang, idx in parts.languages:
        d = distinct_rows(group_parts(Group(parts.bn[idx], parts.bd[idx], parts.rn[idx], parts.rd[idx], parts.mean_type)),
                           FEW_DISTINCT)
        distinct[lang] = FEW_DISTINCT + 1 if d is None else d[0].shape[0]
    bounds = [distinct[lang] for lang, _ in parts.languages] if languages else []
    bounds += [distinct[key[0]] for key in keys]
    n_lang = len(parts.languages) if languages else 0
    results = _compare_groups(parts, groups, metric, n_boot, seed, bounds, n_lang)
    tests = pl.DataFrame(
        [{"language": lang, "metric": metric, **c} for (lang, _), c in zip(parts.languages, results[:n_lang])],
        schema=_TEST_SCHEMA,
    )
    gains = pl.DataFrame(
        [{"language": language, "attribute": attribute, "bucket": bucket, "bucket_order": order, "n": c["n"],
          "baseline": c["baseline"], "run": c["run"], "gain": c["delta"], "ci_low": c["ci_low"], "ci_high": c["ci_high"]}
         for (language, order, bucket), c in zip(keys, results[n_lang:])],
        schema=_BUCKET_SCHEMA,
    ).sort("language", "bucket_order")
    return tests, gains


def flips(aligned: pl.DataFrame) -> pl.DataFrame:
    """Examples whose correctness changed: ``gained`` (baseline wrong, run right) or ``lost``."""
    if "correct" + BASE not in aligned.columns:
        return aligned.clear().with_columns(pl.lit("").alias("direction"))
    out = aligned.filter(pl.col("correct" + BASE) != pl.col("correct" + RUN)).with_columns(
        pl.when(pl.col("correct" + RUN)).then(pl.lit("gained")).otherwise(pl.lit("lost")).alias("direction")
    )
    return out.select("direction", *[c for c in out.columns if c != "direction"])
