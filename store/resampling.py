"""The paired bootstrap: resamples of examples, the same for both systems, drawn the cheapest
exact way or, for large groups of continuous scores, as Poisson(1) weights from one matrix
shared by every group of a pair (:func:`paired_bootstrap` says which and why).

Used by :mod:`store.paired` (per-language tests and bucket gains). Values are points (0-100).

Example:
    >>> import numpy as np
    >>> b = paired_bootstrap(np.array([0.0, 100, 100, 0]), np.ones(4), np.array([100.0, 100, 100, 0]), np.ones(4))
    >>> b.delta, b.resampling
    (25.0, 'index')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

N_BOOT = 1000
LEVEL = 0.95


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


def distinct_rows(parts: np.ndarray, limit: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
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
        if limit is not None and values.size > limit:
            return None
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


_BLAS = None


def _one_blas_thread():
    """A context running BLAS on one thread: the products here are many and small, and two
    threads waiting on each other doubled their time on a loaded 2-CPU machine (one thread
    also keeps the float32 sums the same whatever the machine's thread count)."""
    global _BLAS
    from threadpoolctl import ThreadpoolController

    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def poisson_weight_sums(columns: list[np.ndarray], n_boot: int, seed: int,
                        extents: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """``W @ c`` (n_boot x k, float64) for each ``c`` of ``columns``, with one fresh weight matrix
    ``W`` of iid Poisson(1) draws.

    Each ``c`` (n x k) holds, per example position, the values to sum; ``W[b, i]`` comes from
    raw 16-bit random numbers of ``default_rng(seed)`` through :func:`poisson_weights`, block by
    block of :data:`_BLOCK` positions, and each block multiplies its rows of each ``c`` in float32
    (BLAS), summed across blocks in float64. One matrix serves every group at once: a group is a
    set of columns holding its i-th example's values in row i (zero below its size: every group's
    example i has weight ``W[:, i]``, so a group's resamples depend only on the seed and its own
    examples, and groups are correlated with one another, which no test uses). Matrices are
    multiplied apart so that the sums of one do not depend on what else is computed with it (BLAS
    kernels round differently with the width of the product). ``extents`` (per matrix, per
    column: rows in use, zeros below) lets a block skip the columns that end before it.
    """
    n = max(c.shape[0] for c in columns)
    extents = extents or [np.full(c.shape[1], c.shape[0]) for c in columns]
    orders = [np.argsort(-e, kind="stable") for e in extents]
    cols = [np.ascontiguousarray(c[:, o], dtype=np.float32) for c, o in zip(columns, orders)]
    ends = [np.asarray(e)[o] for e, o in zip(extents, orders)]  # descending
    rng = np.random.default_rng(seed)
    out = [np.zeros((n_boot, c.shape[1])) for c in cols]
    with _one_blas_thread():
        for start in range(0, n, _BLOCK):
            raw = rng.bit_generator.random_raw(n_boot * _BLOCK // 4).view(np.uint16)
            stop = min(n, start + _BLOCK)
            w = poisson_weights(raw).reshape(n_boot, _BLOCK)[:, : stop - start].astype(np.float32)
            for c, e, o in zip(cols, ends, out):
                k = int(np.count_nonzero(e > start))  # columns still in use at this block
                if k:
                    rows = min(stop, c.shape[0]) - start
                    o[:, :k] += w[:, :rows] @ c[start : start + rows, :k]
    return [o[:, np.argsort(order)] for o, order in zip(out, orders)]


def _resampled_sums(parts: np.ndarray, n_boot: int, rng: np.random.Generator, method: str = "auto",
                    distinct: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Column sums of ``n_boot`` resamples (with replacement) of the rows of ``parts`` (n x k).

    When the rows take few distinct values (accuracy: four kinds of example pairs), drawing how
    often each distinct row is picked from a multinomial gives exactly the distribution of
    resampling rows, at a cost of n_boot x distinct instead of n_boot x n. ``distinct``: the
    rows' :func:`distinct_rows`, if known.
    """
    n = parts.shape[0]
    if method != "index" and distinct is None:
        distinct = distinct_rows(parts, None if method == "multinomial" else _few_distinct(n))
    if distinct is not None and method != "index":
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


def _classic_method(parts: np.ndarray, method: str) -> tuple[str, tuple[np.ndarray, np.ndarray] | None]:
    """``multinomial`` (few distinct rows, or asked for) or ``index``: how a classic resample is
    drawn, with the distinct rows where they were looked for and are few."""
    if method in ("multinomial", "index"):
        return method, None
    distinct = distinct_rows(parts, _few_distinct(parts.shape[0]))
    return ("multinomial" if distinct is not None else "index"), distinct


@dataclass(frozen=True)
class Group:
    """One group of examples to bootstrap (in row order: the i-th example's Poisson weight is
    column i of the shared weight matrix)."""

    bn: np.ndarray
    bd: np.ndarray
    rn: np.ndarray
    rd: np.ndarray
    mean_type: bool  # all denominators 1: the delta is the mean of run - baseline
    #: distinct rows among a superset of the group's examples (its language), when known: a
    #: bucket of a language with many distinct rows skips looking for few in itself.
    distinct_bound: int | None = None
    #: Poisson groups of one matrix id share a product (the per-language tests: 0, buckets: 1).
    matrix: int = 0


def _score(num: float, den: float) -> float:
    return num / den if den != 0 else 0.0


def bootstrap_groups(groups: list[Group], n_boot: int, seed: int, level: float, method: str = "auto") -> list[Bootstrap]:
    """The paired bootstrap of every group, large groups from ONE shared Poisson weight matrix.

    Each group is decided on its own (see :func:`paired_bootstrap` for the rule); every group
    resampled with Poisson weights gets its columns in one matrix ``P`` (its i-th example in row
    i, zeros below its size), so all of them come out of one product ``W @ P`` (one per
    :attr:`Group.matrix`).
    """
    out: list[Bootstrap | None] = [None] * len(groups)
    poisson: list[int] = []  # groups resampled with Poisson weights
    classic: dict[str, tuple[list[int], list[np.ndarray]]] = {}  # method -> (groups, their deltas)
    scores = np.zeros((len(groups), 2))  # observed (baseline, run)
    for g_i, g in enumerate(groups):
        n = g.bn.shape[0]
        base_v, run_v = _score(float(g.bn.sum()), float(g.bd.sum())), _score(float(g.rn.sum()), float(g.rd.sum()))
        scores[g_i] = base_v, run_v
        if n < 2:
            out[g_i] = Bootstrap(base_v, run_v, run_v - base_v, float("nan"), float("nan"), float("nan"))
            continue
        how, distinct = method, None
        if how == "auto":
            if g.distinct_bound is not None and g.distinct_bound > _few_distinct(n):
                how = "index"
            else:
                how, distinct = _classic_method(group_parts(g), "auto")
            if how == "index" and n >= POISSON_MIN:
                how = "poisson"
        if how == "poisson":
            poisson.append(g_i)
            continue
        sums = _resampled_sums(group_parts(g), n_boot, np.random.default_rng(seed), how, distinct)
        if g.mean_type:
            deltas = sums[:, 0] / n
        else:
            deltas = _ratio(sums[:, 2], sums[:, 3]) - _ratio(sums[:, 0], sums[:, 1])
        done = classic.setdefault(how, ([], []))
        done[0].append(g_i)
        done[1].append(deltas)
    for how, (ids, deltas) in classic.items():
        for g_i, boot in zip(ids, _summaries(scores[ids, 0], scores[ids, 1], np.column_stack(deltas), n_boot, level, how)):
            out[g_i] = boot
    if poisson:
        # Columns of P, per matrix: mean metrics sum (run - baseline) and the weights (one column
        # of ones per group size); ratios sum the four parts.
        blocks, extents, mean_cols, ratio_cols, mean_groups, ratio_groups = [], [], [], [], [], []
        for mat in sorted({groups[g_i].matrix for g_i in poisson}):
            columns: list[np.ndarray | int] = []  # values, or a size n for ones in rows < n
            ones: dict[int, int] = {}
            offset = sum(b.shape[1] for b in blocks)
            for g_i in (g_i for g_i in poisson if groups[g_i].matrix == mat):
                g = groups[g_i]
                n = g.bn.shape[0]
                if g.mean_type:
                    d = len(columns)
                    columns.append(g.rn - g.bn)
                    if n not in ones:
                        ones[n] = len(columns)
                        columns.append(n)
                    mean_cols.append((offset + d, offset + ones[n]))
                    mean_groups.append(g_i)
                else:
                    ratio_cols.append(tuple(offset + len(columns) + k for k in range(4)))
                    columns.extend([g.bn, g.bd, g.rn, g.rd])
                    ratio_groups.append(g_i)
            cols = np.zeros((max(groups[g_i].bn.shape[0] for g_i in poisson if groups[g_i].matrix == mat), len(columns)),
                            dtype=np.float32)
            for j, c in enumerate(columns):
                if isinstance(c, int):
                    cols[:c, j] = 1.0
                else:
                    cols[: c.shape[0], j] = c
            blocks.append(cols)
            extents.append(np.array([c if isinstance(c, int) else c.shape[0] for c in columns]))
        sums = np.hstack(poisson_weight_sums(blocks, n_boot, seed, extents))
        deltas = np.empty((n_boot, len(mean_groups) + len(ratio_groups)))
        if mean_groups:
            d, w = np.array(mean_cols).T
            deltas[:, : len(mean_groups)] = _ratio(sums[:, d], sums[:, w])
        if ratio_groups:
            bn, bd, rn, rd = np.array(ratio_cols).T
            deltas[:, len(mean_groups) :] = _ratio(sums[:, rn], sums[:, rd]) - _ratio(sums[:, bn], sums[:, bd])
        order = mean_groups + ratio_groups
        for g_i, boot in zip(order, _summaries(scores[order, 0], scores[order, 1], deltas, n_boot, level, "poisson")):
            out[g_i] = boot
    return out  # type: ignore[return-value]


def group_parts(g: Group) -> np.ndarray:
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
    group = Group(base_num, base_den, run_num, run_den, mean_type)
    return bootstrap_groups([group], n_boot, seed, level, method)[0]


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
