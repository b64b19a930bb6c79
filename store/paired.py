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
  then serves every language and bucket of a pair in one matrix product (see
  :func:`paired_bootstrap`; agreement with the classic bootstrap and coverage are tested).
* :func:`bucket_gains`: the gain within buckets of an example attribute (input length, entity
  types, answer length, question word) per language, with the same bootstrap interval; a
  bucket's resamples are its language's (:func:`tests_and_gains` computes both at once).

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
    """A paired bootstrap of ``run - baseline``: observed delta, percentile interval, two-sided p.

    ``resampling``: how the resamples were drawn (``multinomial``, ``index`` or ``poisson``; see
    :func:`paired_bootstrap`), empty when there was nothing to resample.
    """

    baseline: float
    run: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    resampling: str = ""


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (seqeval's F1 of nothing found and nothing to find)."""
    out = np.zeros_like(num, dtype=float)
    np.divide(num, den, out=out, where=den != 0)
    return out


#: At most this many distinct example rows (and one per 8 examples) make the classic bootstrap
#: cheap as a multinomial draw over them (accuracy and EM: a handful of kinds of example pair).
FEW_DISTINCT = 32


def _distinct_rows(parts: np.ndarray, limit: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(distinct rows, their counts) of ``parts``, or None when there are more than ``limit``.

    Each column is factorised on its own and the codes combined (renumbered after each column,
    so they stay below n), which is much faster than ``np.unique(axis=0)`` (a sort of structured
    rows) and stops as soon as the rows so far take more than ``limit`` distinct values.
    """
    if parts.shape[1] == 1:
        values, counts = np.unique(parts[:, 0], return_counts=True)
        return (values[:, None], counts) if limit is None or values.size <= limit else None
    codes = np.zeros(parts.shape[0], dtype=np.int64)
    for j in range(parts.shape[1]):
        values, inverse = np.unique(parts[:, j], return_inverse=True)
        _, codes = np.unique(codes * len(values) + inverse.reshape(-1), return_inverse=True)
        codes = codes.reshape(-1)
        if limit is not None and codes.max(initial=-1) + 1 > limit:
            return None
    _, first, counts = np.unique(codes, return_index=True, return_counts=True)
    return parts[first], counts


def _few_distinct(n: int) -> int:
    """The most distinct rows for which a group of n examples is drawn as a multinomial."""
    return min(FEW_DISTINCT, n // 8)


# --- Poisson weights: the bootstrap of large groups ---------------------------------------------
#: Groups of at least this many examples are resampled with Poisson(1) weights (see paired_bootstrap).
POISSON_MIN = 100
#: Weights are drawn in blocks of this many examples (x n_boot), always whole blocks, so the weight
#: of the example at position i in resample b depends on (seed, b, i) only, not on the group's size.
_BLOCK = 1024


def _poisson_thresholds() -> np.ndarray:
    """16-bit thresholds ``c_k = round(65536 P(X <= k))``, k = 0..7, X ~ Poisson(1).

    A uniform 16-bit number u gives the weight ``#{k: u >= c_k}`` (the inverse CDF at the
    resolution 1/65,536): k occurs round(65536 P(X <= k)) - round(65536 P(X < k)) times in 65,536,
    so the weights have mean exactly 1, variance 0.99997 and at most 8 (P(X > 8) = 1.1e-6 is
    folded into 8).
    """
    cdf = np.cumsum([math.exp(-1.0) / math.factorial(k) for k in range(8)])
    return np.round(cdf * 65536).astype(np.uint16)


_THRESHOLDS = _poisson_thresholds()


def poisson_weights(raw16: np.ndarray) -> np.ndarray:
    """Poisson(1) weights (uint8) from uniform 16-bit numbers, by :func:`_poisson_thresholds`."""
    w = (raw16 >= _THRESHOLDS[0]).view(np.uint8).copy()
    for c in _THRESHOLDS[1:]:
        w += (raw16 >= c).view(np.uint8)
    return w


def poisson_weight_sums(columns: list[np.ndarray], n_boot: int, seed: int) -> list[np.ndarray]:
    """``W @ c`` (n_boot x k, float64) for each ``c`` of ``columns``, with one fresh weight matrix
    ``W`` of iid Poisson(1) draws.

    Each ``c`` (n x k) holds, per example position, the values to sum; ``W[b, i]`` comes from
    raw 16-bit random numbers of ``default_rng(seed)`` through :func:`poisson_weights`, block by
    block of :data:`_BLOCK` positions, and each block multiplies its rows of each ``c`` in float32
    (BLAS), summed across blocks in float64. One matrix serves every group at once: a group is a
    set of columns that are zero outside its examples' positions. Matrices are multiplied apart
    so that the sums of one do not depend on what else is computed with it (BLAS kernels round
    differently with the width of the product).
    """
    n = max(c.shape[0] for c in columns)
    cols = [np.ascontiguousarray(c, dtype=np.float32) for c in columns]
    rng = np.random.default_rng(seed)
    out = [np.zeros((n_boot, c.shape[1])) for c in cols]
    for start in range(0, n, _BLOCK):
        raw = rng.bit_generator.random_raw(n_boot * _BLOCK // 4).view(np.uint16)
        stop = min(n, start + _BLOCK)
        w = poisson_weights(raw).reshape(n_boot, _BLOCK)[:, : stop - start].astype(np.float32)
        for c, o in zip(cols, out):
            if start < c.shape[0]:
                o += w[:, : min(stop, c.shape[0]) - start] @ c[start:stop]
    return out


def _resampled_sums(parts: np.ndarray, n_boot: int, rng: np.random.Generator, method: str = "auto") -> np.ndarray:
    """Column sums of ``n_boot`` resamples (with replacement) of the rows of ``parts`` (n x k).

    When the rows take few distinct values (accuracy: four kinds of example pairs), drawing how
    often each distinct row is picked from a multinomial gives exactly the distribution of
    resampling rows, at a cost of n_boot x distinct instead of n_boot x n.
    """
    n = parts.shape[0]
    distinct = None
    if method != "index":
        distinct = _distinct_rows(parts, None if method == "multinomial" else _few_distinct(n))
    if distinct is not None:
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


def _classic_method(parts: np.ndarray, method: str) -> str:
    """``multinomial`` (few distinct rows, or asked for) or ``index``: how a classic resample is drawn."""
    if method in ("multinomial", "index"):
        return method
    return "multinomial" if _distinct_rows(parts, _few_distinct(parts.shape[0])) is not None else "index"


@dataclass(frozen=True)
class _Group:
    """One group of examples to bootstrap: its parts, and where each example's weight column is."""

    bn: np.ndarray
    bd: np.ndarray
    rn: np.ndarray
    rd: np.ndarray
    positions: np.ndarray  # per example: its column in the shared Poisson weight matrix
    mean_type: bool  # all denominators 1: the delta is the mean of run - baseline
    #: distinct rows among a superset of the group's examples (its language), when known: a
    #: bucket of a language with many distinct rows skips looking for few in itself.
    distinct_bound: int | None = None
    #: Poisson groups of one matrix id share a product (the per-language tests: 0, buckets: 1).
    matrix: int = 0


def _score(num: float, den: float) -> float:
    return num / den if den != 0 else 0.0


def _bootstrap_groups(groups: list[_Group], n_boot: int, seed: int, level: float, method: str = "auto") -> list[Bootstrap]:
    """The paired bootstrap of every group, large groups from ONE shared Poisson weight matrix.

    Each group is decided on its own (see :func:`paired_bootstrap` for the rule); every group
    resampled with Poisson weights gets its columns in one matrix ``P`` (zero outside its
    examples' positions), so all of them come out of one product ``W @ P``.
    """
    out: list[Bootstrap | None] = [None] * len(groups)
    poisson: list[tuple[int, int]] = []  # (group index, first column in P)
    width = 0
    for g_i, g in enumerate(groups):
        n = g.bn.shape[0]
        base_v, run_v = _score(float(g.bn.sum()), float(g.bd.sum())), _score(float(g.rn.sum()), float(g.rd.sum()))
        if n < 2:
            out[g_i] = Bootstrap(base_v, run_v, run_v - base_v, float("nan"), float("nan"), float("nan"))
            continue
        how = method
        if how == "auto":
            if g.distinct_bound is not None and g.distinct_bound > _few_distinct(n):
                how = "index"
            else:
                how = _classic_method(_group_parts(g), "auto")
            if how == "index" and n >= POISSON_MIN:
                how = "poisson"
        if how == "poisson":
            if poisson and groups[poisson[-1][0]].matrix > g.matrix:
                raise ValueError("groups must come in the order of their matrix")
            poisson.append((g_i, width))
            width += 2 if g.mean_type else 4
            continue
        sums = _resampled_sums(_group_parts(g), n_boot, np.random.default_rng(seed), how)
        if g.mean_type:
            deltas = sums[:, 0] / n
        else:
            deltas = _ratio(sums[:, 2], sums[:, 3]) - _ratio(sums[:, 0], sums[:, 1])
        out[g_i] = _summaries(np.array([base_v]), np.array([run_v]), deltas[:, None], n_boot, level, how)[0]
    if poisson:
        matrices = sorted({groups[g_i].matrix for g_i, _ in poisson})
        blocks = []
        for mat in matrices:
            mine = [(g_i, c) for g_i, c in poisson if groups[g_i].matrix == mat]
            lo, hi = mine[0][1], mine[-1][1] + (2 if groups[mine[-1][0]].mean_type else 4)
            cols = np.zeros((1 + max(int(groups[g_i].positions.max()) for g_i, _ in mine), hi - lo), dtype=np.float32)
            for g_i, c in mine:
                g, c = groups[g_i], c - lo
                if g.mean_type:
                    cols[g.positions, c], cols[g.positions, c + 1] = g.rn - g.bn, 1.0
                else:
                    cols[g.positions, c : c + 4] = np.column_stack([g.bn, g.bd, g.rn, g.rd])
            blocks.append(cols)
        sums = np.hstack(poisson_weight_sums(blocks, n_boot, seed))
        first = np.array([c for _, c in poisson])
        mean = np.array([groups[g_i].mean_type for g_i, _ in poisson])
        deltas = np.empty((n_boot, len(poisson)))
        m, r = first[mean], first[~mean]
        deltas[:, mean] = _ratio(sums[:, m], sums[:, m + 1])
        deltas[:, ~mean] = _ratio(sums[:, r + 2], sums[:, r + 3]) - _ratio(sums[:, r], sums[:, r + 1])
        base_v = np.array([_score(float(groups[g_i].bn.sum()), float(groups[g_i].bd.sum())) for g_i, _ in poisson])
        run_v = np.array([_score(float(groups[g_i].rn.sum()), float(groups[g_i].rd.sum())) for g_i, _ in poisson])
        for (g_i, _), boot in zip(poisson, _summaries(base_v, run_v, deltas, n_boot, level, "poisson")):
            out[g_i] = boot
    return out  # type: ignore[return-value]


def _group_parts(g: _Group) -> np.ndarray:
    """The rows a classic resample draws: run - baseline (mean metrics) or (bn, bd, rn, rd)."""
    return (g.rn - g.bn)[:, None] if g.mean_type else np.column_stack([g.bn, g.bd, g.rn, g.rd])


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
    span F1: 2 tp and n_pred + n_gold). A resample reweights the examples, the same weights for
    both systems, and recomputes both corpus-level scores from the weighted sums. The p-value is
    two-sided, from the share of resampled deltas on either side of zero:
    ``min(1, 2 min((#{d* <= 0} + 1), (#{d* >= 0} + 1)) / (B + 1))``; the interval is percentile.

    How resamples are drawn (``method="auto"`` decides per group; ``Bootstrap.resampling`` says):

    * ``multinomial``: the classic bootstrap (n examples drawn with replacement), exactly, as a
      multinomial over the distinct example rows, when there are few (accuracy, EM: each example
      is one of a handful of kinds);
    * ``index``: the classic bootstrap by drawing n indices, for groups under :data:`POISSON_MIN`;
    * ``poisson``: the Poisson bootstrap (Hanley & MacGibbon 2006; Chamandy et al. 2012) for the
      rest: each example's weight is an independent Poisson(1) count instead of a multinomial
      one, so the resample size varies around n. For ratio statistics (means, span F1) it has
      the same first-order distribution as the classic bootstrap and is what makes one weight
      matrix shareable by all groups (see :func:`poisson_weight_sums`; agreement with the classic
      bootstrap and coverage are tested in ``tests/store/test_paired.py``).
    """
    base_num, base_den = np.asarray(base_num, float), np.asarray(base_den, float)
    run_num, run_den = np.asarray(run_num, float), np.asarray(run_den, float)
    n = base_num.shape[0]
    mean_type = n > 0 and bool(np.all(base_den == base_den[0]) and np.all(run_den == base_den[0]) and base_den[0] > 0)
    if mean_type and base_den[0] != 1.0:  # a constant denominator: a mean of num / den
        base_num, run_num = base_num / base_den[0], run_num / base_den[0]
        base_den = run_den = np.ones(n)
    group = _Group(base_num, base_den, run_num, run_den, np.arange(n), mean_type)
    return _bootstrap_groups([group], n_boot, seed, level, method)[0]


def _summaries(base_v: np.ndarray, run_v: np.ndarray, deltas: np.ndarray, n_boot: int, level: float,
               resampling: str) -> list[Bootstrap]:
    """Per column of ``deltas`` (n_boot x groups): observed scores, the percentile interval of the
    resampled deltas, the two-sided p-value."""
    alpha = (1 - level) / 2
    lo, hi = np.quantile(deltas, [alpha, 1 - alpha], axis=0)
    below, above = (deltas <= 1e-9).sum(axis=0), (deltas >= -1e-9).sum(axis=0)
    p = np.minimum(1.0, 2 * np.minimum(below + 1, above + 1) / (n_boot + 1))
    return [
        Bootstrap(float(b), float(r), float(r - b), float(l_), float(h), float(p_), resampling)
        for b, r, l_, h, p_ in zip(base_v, run_v, lo, hi, p)
    ]


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
    #: per row: its rank within its language, the column of its Poisson weight (shared by the
    #: language and every bucket within it).
    positions: np.ndarray
    languages: list[tuple[str, np.ndarray]]  # (language, row indices) in sorted order


def _parts(aligned: pl.DataFrame, metric: str) -> _Parts:
    bn, bd = metric_parts(aligned, metric, BASE)
    rn, rd = metric_parts(aligned, metric, RUN)
    ok = "correct" + BASE in aligned.columns and aligned["correct" + BASE].null_count() == 0 \
        and aligned["correct" + RUN].null_count() == 0
    mean_type = bool(np.all(bd == 1.0) and np.all(rd == 1.0))
    languages = [(lang, idx) for (lang,), idx in _groups(aligned.select("language"))]
    positions = np.empty(aligned.height, dtype=np.int64)
    for _, idx in languages:
        positions[idx] = np.arange(idx.size)
    return _Parts(bn, bd, rn, rd, aligned["correct" + BASE].to_numpy() if ok else None,
                  aligned["correct" + RUN].to_numpy() if ok else None, mean_type, positions, languages)


def _compare_groups(p: _Parts, groups: list[np.ndarray], metric: str, n_boot: int, seed: int,
                    bounds: list[int | None] | None = None, n_tests: int | None = None) -> list[dict]:
    """The paired comparison of each group of rows, all bootstrapped together (one weight matrix).

    ``bounds``: per group, :attr:`_Group.distinct_bound`; ``n_tests``: only the first ``n_tests``
    groups get the test's p-value (McNemar), the rest (buckets) the bootstrap's.
    """
    bounds = bounds or [None] * len(groups)
    n_tests = len(groups) if n_tests is None else n_tests
    boots = _bootstrap_groups(
        [_Group(p.bn[r], p.bd[r], p.rn[r], p.rd[r], p.positions[r], p.mean_type, d, int(i >= n_tests))
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
    p = _Parts(**{**p.__dict__, "positions": np.arange(aligned.height)})  # one group: positions are its rows
    return _compare_groups(p, [np.arange(aligned.height)], metric, n_boot, seed)[0]


def _groups(keys: pl.DataFrame) -> list[tuple[tuple, np.ndarray]]:
    """(key values, row indices) per distinct row of ``keys``, in sorted key order."""
    idx = keys.with_row_index("_row").group_by(keys.columns).agg(pl.col("_row")).sort(keys.columns)
    return [(tuple(r[c] for c in keys.columns), np.asarray(r["_row"], dtype=np.int64)) for r in idx.iter_rows(named=True)]


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
    numbers :func:`tests_and_gains` gives (a bucket's weights are its language's).
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
        d = _distinct_rows(_group_parts(_Group(parts.bn[idx], parts.bd[idx], parts.rn[idx], parts.rd[idx], idx, parts.mean_type)),
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
