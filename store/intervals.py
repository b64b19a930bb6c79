"""The one interval of record: a two-level bootstrap over seeds and languages, tasks first.

An estimate is a mean over *tasks* (strata, never resampled: a benchmark's task list is fixed) of
the mean over *cells* in the task (usually one cell: one intermediate task on one target) of the
mean over the task's *languages* of (run seed mean - baseline seed mean) per language.

One replicate of the bootstrap, per task:

* languages are resampled with replacement as clusters (one draw per task, shared by every cell
  and by the baseline of that task, since a language's difficulty is shared by all of them);
* the seeds of each run and of each baseline are resampled with replacement, separately, or
  *paired by seed* (one draw for both) where a run and its baseline have exactly the same seeds;
  a baseline shared by several cells of a task is drawn once (its error is common to them);
* each resampled mean deviates from the observed one by sqrt(n / (n - 1)) times the plain
  bootstrap deviation (n seeds, or n languages): the plain bootstrap's variance of a mean is
  (n - 1) / n times the unbiased one, which matters with 3 seeds. One seed gives no seed term.

Draws are common random numbers keyed by identity: a run's (or a baseline's) seed draws depend on
the run's identity only, never on the language set an estimate looks at, since seeds are crossed
with languages (a seed's model is evaluated on every language). So the per-language estimates of
one run resample its seeds exactly as its task average does, and differences between two
estimates that share a baseline, a run or a task's language set resample it together. A language
set's draws are keyed by the set's identity.

The interval is the percentile interval of the replicates. Its coverage is tested on simulated
stores with a known true gain (``tests/store/test_intervals.py``): languages and seeds are
random effects, crossed (a seed's model is evaluated on every language).

:func:`replicates` is the reference, one task at a time; :func:`estimates` computes many
estimates at once from flat arrays (what :mod:`store.analysis` uses): each run's and baseline's
resampled seed means for all its languages in one matrix product over its draw counts, scattered
into the task-language rows of the estimates that use them. Both give the same replicates
(tested).

Example:
    >>> rng = np.random.default_rng(0)
    >>> base = 70 + rng.normal(size=(3, 15))
    >>> run = base + 2.0 + rng.normal(scale=0.5, size=(3, 15))
    >>> est, lo, hi = two_level([Stratum(bases=(base,), cells=((run, 0),))])
    >>> lo < est < hi
    True
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
N_BOOT = 1000
#: Roles in a draw's stream: (seed, role, identity).
LANGUAGES, BASELINE_SEEDS, RUN_SEEDS = 0, 1, 2


@dataclass(frozen=True)
class Stratum:
    """One task: its baselines and cells, each a seeds x languages matrix over the same languages.

    ``cells`` are (run matrix, index into ``bases`` or None for plain scores). NaN marks a
    language a seed lacks (means are over the seeds that have it).
    """

    bases: tuple[np.ndarray, ...]
    cells: tuple[tuple[np.ndarray, int | None], ...]
    #: per cell: True when its seeds are exactly its baseline's seeds (drawn together)
    paired: tuple[bool, ...] = ()
    #: identities of the language set, the baselines and the cells: the same identity gets the same
    #: draws in every estimate (so differences between two estimates that share a baseline or a
    #: task's languages resample them together); defaults: distinct per stratum and position
    lang_key: int = 0
    base_keys: tuple[int, ...] = ()
    cell_keys: tuple[int, ...] = ()


def _counts(size: int, n_boot: int, stream: tuple[int, ...]) -> np.ndarray:
    """How often each of ``size`` items is drawn in each of ``n_boot`` resamples (n_boot x size)."""
    idx = np.random.default_rng(list(stream)).integers(0, size, size=(n_boot, size))
    flat = (idx + np.arange(n_boot)[:, None] * size).ravel()
    return np.bincount(flat, minlength=n_boot * size).reshape(n_boot, size).astype(float)


@functools.lru_cache(maxsize=4096)
def _counts_small(size: int, n_boot: int, stream: tuple[int, ...]) -> np.ndarray:
    counts = _counts(size, n_boot, stream).astype(np.uint8)  # a count is at most size < 256
    counts.flags.writeable = False
    return counts


def draw_counts(size: int, n_boot: int, stream: tuple[int, ...]) -> np.ndarray:
    """:func:`_counts` (float); every identity gets its own stream of draws.

    Draws depend on nothing but (size, n_boot, stream), not on any data: small ones are kept for
    the process (as 8-bit counts, 10 kB for 10 seeds x 1,000 draws), so a run's seed draws are made
    once however many estimates and renders use them.
    """
    if size < 256 and size * n_boot <= 256_000:
        return _counts_small(size, n_boot, stream).astype(float)
    return _counts(size, n_boot, stream)


def _raw_counts(size: int, n_boot: int, stream: tuple[int, ...]) -> np.ndarray:
    """:func:`draw_counts` as kept (8-bit when small, read-only): stack these, convert once."""
    if size < 256 and size * n_boot <= 256_000:
        return _counts_small(size, n_boot, stream)
    return _counts(size, n_boot, stream)


def _scale(n: int) -> float:
    """sqrt(n / (n - 1)): the deviation factor that makes a resampled mean's variance unbiased."""
    return float(np.sqrt(n / (n - 1))) if n > 1 else 0.0


def _seed_means(x: np.ndarray) -> np.ndarray:
    """Per-language mean over the seeds that have the language."""
    ok = ~np.isnan(x)
    return np.where(ok, x, 0.0).sum(0) / np.maximum(ok.sum(0), 1)


def _resampled_seed_means(x: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """n_boot x languages: observed seed means plus the rescaled bootstrap deviation."""
    ok = ~np.isnan(x)
    observed = _seed_means(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (counts @ np.where(ok, x, 0.0)) / (counts @ ok)
    boot = np.where(np.isnan(boot), observed, boot)  # a draw without the language: no information
    return observed + _scale(x.shape[0]) * (boot - observed)


def _default_key(k: int, j: int) -> int:
    """A key distinct per stratum ``k`` and position ``j`` (when a :class:`Stratum` names none)."""
    return (k + 1) * 1_000_003 + j


def replicates(strata: Sequence[Stratum], n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, np.ndarray]:
    """The estimate (mean over strata) and its ``n_boot`` bootstrap replicates (the reference loop)."""
    est, reps = 0.0, np.zeros(n_boot)
    for k, s in enumerate(strata):
        n_lang = (s.cells[0][0]).shape[1]
        base_keys = s.base_keys or tuple(_default_key(k, j) for j in range(len(s.bases)))
        cell_keys = s.cell_keys or tuple(_default_key(k, 500_000 + i) for i in range(len(s.cells)))
        lang_key = s.lang_key or k
        base_obs = [_seed_means(b) for b in s.bases]
        base_counts = [draw_counts(b.shape[0], n_boot, (seed, BASELINE_SEEDS, base_keys[j])) for j, b in enumerate(s.bases)]
        base_boot = [_resampled_seed_means(b, c) for b, c in zip(s.bases, base_counts)]
        obs = np.zeros(n_lang)
        boot = np.zeros((n_boot, n_lang))
        for i, (run, j) in enumerate(s.cells):
            paired = bool(s.paired[i]) if s.paired else False
            counts = base_counts[j] if (paired and j is not None) else draw_counts(run.shape[0], n_boot, (seed, RUN_SEEDS, cell_keys[i]))
            obs += _seed_means(run) - (base_obs[j] if j is not None else 0.0)
            boot += _resampled_seed_means(run, counts) - (base_boot[j] if j is not None else 0.0)
        obs /= len(s.cells)
        boot /= len(s.cells)
        lang_counts = draw_counts(n_lang, n_boot, (seed, LANGUAGES, lang_key))
        seed_part = boot.mean(axis=1)
        lang_part = (boot * lang_counts).sum(axis=1) / n_lang - seed_part
        est += obs.mean()
        reps += seed_part + _scale(n_lang) * lang_part
    return est / len(strata), reps / len(strata)


def two_level(strata: Sequence[Stratum], n_boot: int = N_BOOT, seed: int = 0,
              level: float = LEVEL) -> tuple[float, float, float]:
    """(estimate, low, high): the two-level bootstrap percentile interval of a task-first mean."""
    est, reps = replicates(strata, n_boot, seed)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(reps, [alpha, 1 - alpha])
    return float(est), float(lo), float(hi)


# ---------------------------------------------------------------------- many estimates at once
@dataclass(frozen=True)
class Design:
    """Many task-first estimates as flat arrays: units and their observations, strata, groups.

    A *unit* is a run cell or a baseline (a seeds x languages matrix, given as observations). A
    *stratum* is one task of one estimate, with its languages; strata are in group (estimate)
    order. A *member* puts a unit into a stratum with a coefficient, in every language of it: +1/k
    for each of a task's k cells, -(cells using it)/k for their baseline.
    """

    obs_unit: np.ndarray
    obs_seed: np.ndarray  # the seed's position in its unit, 0 .. unit_seeds - 1
    obs_lang: np.ndarray  # a language code (any non-negative coding shared with the strata)
    obs_value: np.ndarray
    unit_seeds: np.ndarray  # seeds per unit (rows of its matrix)
    unit_stream: tuple[tuple[int, int], ...]  # (role, identity) of each unit's seed draws
    unit_draws: np.ndarray  # the unit whose draws it uses: itself, or its baseline where paired
    stratum_langs: np.ndarray  # every stratum's languages, stratum after stratum
    stratum_rows: np.ndarray  # languages per stratum (>= 1)
    stratum_key: np.ndarray  # identity of each stratum's language set (keys its language draws)
    member_unit: np.ndarray
    member_stratum: np.ndarray
    member_coef: np.ndarray
    group_strata: np.ndarray  # strata per group (>= 1)
    #: where a unit's replicates over a language set are kept between designs of the same units and
    #: observations (several summaries of one frame): (set, seeds, units) -> what :func:`_language_set_members`
    #: computed for them; None: nothing kept
    memo: dict | None = None


def _language_draws(n: int, n_boot: int, stream: tuple[int, ...]) -> np.ndarray | None:
    """n x n_boot: how often each of a task's n languages is drawn per replicate (None for one language)."""
    return draw_counts(n, n_boot, stream).T if n > 1 else None


_BLAS = None


def _one_blas_thread():
    """A context running BLAS on one thread: the products here are small (tens x 1,000), and with
    threads they took up to 15 times longer on the shared 2-CPU machine (as in store.resampling)."""
    global _BLAS
    from threadpoolctl import ThreadpoolController

    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def estimates(d: Design, n_boot: int = N_BOOT, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the estimate and its ``n_boot`` replicates (groups x n_boot), what :func:`replicates`
    gives for each group's strata (:func:`_estimates`), with BLAS on one thread."""
    with _one_blas_thread():
        return _estimates(d, n_boot, seed)


def _estimates(d: Design, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`estimates`, unit by unit.

    Each replicate is linear in a unit's resampled means, and a unit enters every language of a
    stratum with one coefficient, so per unit: its resampled means in the languages it is used in
    (one product of its values with its draw counts), then, per language set, the set's weighted
    sum (one vector of replicates), added to each stratum with that set.
    """
    n_s = d.stratum_rows.size
    n_lang = int(max(d.obs_lang.max(initial=0), d.stratum_langs.max(initial=0))) + 1
    # one row per (unit, language) observed, sorted: the seeds' values side by side
    n_units = max(d.unit_seeds.size, int(d.obs_unit.max(initial=0)) + 1)
    ul, _, inv = unique_codes(d.obs_unit.astype(np.int64) * n_lang + d.obs_lang, n_units * n_lang)
    width = int(d.unit_seeds.max(initial=1))
    values, ok = np.zeros((ul.size, width)), np.zeros((ul.size, width), bool)
    values[inv, d.obs_seed], ok[inv, d.obs_seed] = d.obs_value, True
    observed = values.sum(1) / np.maximum(ok.sum(1), 1)
    start = np.concatenate([[0], np.cumsum(d.stratum_rows)[:-1]])
    langs = [d.stratum_langs[a:a + m] for a, m in zip(start, d.stratum_rows)]
    # strata with the same language set share its draws and weights
    sig_of: dict[tuple, int] = {}
    sig = np.array([sig_of.setdefault((int(d.stratum_key[s]), *langs[s].tolist()), len(sig_of)) for s in range(n_s)])
    # each set's languages sorted (as a unit's are), with their draw counts (rows follow the task's order)
    sig_langs, lang_draws = {}, {}
    for key, i in sig_of.items():
        order = np.argsort(key[1:], kind="stable")
        sig_langs[i] = np.array(key[1:], np.int64)[order]
        draws = _language_draws(len(key) - 1, n_boot, (seed, LANGUAGES, key[0]))
        lang_draws[i] = draws[order] if draws is not None else None
    # per unit: its resampled means where it is used; per stratum: the seed part (mean over the task's
    # languages) plus the scaled deviation of the language draw, as :func:`replicates` adds them
    est_s, reps_s = np.zeros(n_s), np.zeros((n_s, n_boot))
    fast = _one_language_members(d, ul, values, ok, observed, start, n_lang, n_boot, seed, est_s, reps_s)
    sig_keys = list(sig_of)
    fast |= _language_set_members(d, ul, values, ok, observed, n_lang, n_boot, seed, sig, sig_langs, lang_draws,
                                  est_s, reps_s, sig_keys)
    order = np.argsort(d.member_unit, kind="stable")
    order = order[~fast[order]]
    cuts = np.flatnonzero(np.diff(d.member_unit[order])) + 1
    for part in np.split(order, cuts) if order.size else []:
        u = int(d.member_unit[part[0]])
        strata, coef = d.member_stratum[part], d.member_coef[part]
        needed = np.unique(np.concatenate([langs[s] for s in strata]))
        idx = _find(ul, u * n_lang + needed)
        means = _resampled(values[idx], ok[idx], observed[idx], int(d.unit_seeds[u]), n_boot,
                           (seed, *d.unit_stream[int(d.unit_draws[u])]))
        single = d.stratum_rows[strata] == 1
        if single.any():  # one language: the replicate is that language's resampled mean
            s1, at = strata[single], np.searchsorted(needed, d.stratum_langs[start[strata[single]]])
            est_s[s1] += coef[single] * observed[idx[at]]
            reps_s[s1] += coef[single, None] * means[at]
        for k in np.unique(sig[strata[~single]]) if not single.all() else ():
            use = ~single & (sig[strata] == k)
            at = np.searchsorted(needed, sig_langs[k])
            m = means if at.size == needed.size else means[at]  # both sorted: the same languages
            seed_part = m.mean(0)
            q = seed_part + _scale(at.size) * (np.einsum("lb,lb->b", lang_draws[k], m) / at.size - seed_part)
            est_s[strata[use]] += coef[use] * observed[idx[at]].mean()
            reps_s[strata[use]] += coef[use, None] * q
    gstarts = np.concatenate([[0], np.cumsum(d.group_strata)[:-1]])
    reps = np.add.reduceat(reps_s, gstarts, axis=0) / d.group_strata[:, None]
    est = np.add.reduceat(est_s, gstarts) / d.group_strata
    return est, reps


def _one_language_members(d: Design, ul: np.ndarray, values: np.ndarray, ok: np.ndarray, observed: np.ndarray,
                          start: np.ndarray, n_lang: int, n_boot: int, seed: int, est_s: np.ndarray,
                          reps_s: np.ndarray) -> np.ndarray:
    """Adds the members in one-language strata whose unit has every seed there; returns which members it did.

    Such a replicate is the unit's observed mean plus its scaled deviations times its draw counts,
    linear in the counts: the units used in the same strata (a target's runs, in a per-language
    summary) are done together, one product of their side-by-side deviations with their stacked counts.
    """
    single = d.stratum_rows[d.member_stratum] == 1
    pos = np.zeros(d.member_unit.size, np.int64)
    pos[single] = _find(ul, d.member_unit[single].astype(np.int64) * n_lang + d.stratum_langs[start[d.member_stratum[single]]])
    n_of = d.unit_seeds[d.member_unit]
    fast = single & (ok[pos].sum(1) == n_of)
    coef, strata = d.member_coef, d.member_stratum
    part = np.bincount(strata[fast], weights=coef[fast] * observed[pos[fast]], minlength=est_s.size)
    est_s += part
    reps_s += part[:, None]
    if n_boot == 0:
        return fast
    batches: dict[tuple, list[int]] = {}
    moving = np.flatnonzero(fast & (n_of > 1))  # one seed: no deviation
    by_unit = moving[np.lexsort((strata[moving], d.member_unit[moving]))]
    for members in np.split(by_unit, np.flatnonzero(np.diff(d.member_unit[by_unit])) + 1) if by_unit.size else []:
        batches.setdefault(tuple(strata[members].tolist()), []).append(members)
    for key, units in batches.items():
        rows = np.array(key)
        m = np.stack(units)  # units x strata: each unit's members, in the strata's order
        unit = d.member_unit[m[:, 0]]
        sizes = d.unit_seeds[unit]
        first_col = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        weights = np.zeros((rows.size, int(sizes.sum())))
        for n in np.unique(sizes).tolist():  # the units' scaled deviations side by side, a seed count at a time
            k = np.flatnonzero(sizes == n)
            p = pos[m[k]]  # units x strata
            w = (coef[m[k]] * _scale(n) / n)[:, :, None] * (values[p, :n] - observed[p][:, :, None])
            weights[:, (first_col[k][:, None] + np.arange(n)).ravel()] = w.transpose(1, 0, 2).reshape(rows.size, -1)
        draws = [_raw_counts(int(n), n_boot, (seed, *d.unit_stream[int(d.unit_draws[u])])) for u, n in zip(unit, sizes)]
        reps_s[rows] += weights @ np.concatenate(draws, axis=1).T.astype(float)
    return fast


def _language_set_members(d: Design, ul: np.ndarray, values: np.ndarray, ok: np.ndarray, observed: np.ndarray,
                          n_lang: int, n_boot: int, seed: int, sig: np.ndarray, sig_langs: dict, lang_draws: dict,
                          est_s: np.ndarray, reps_s: np.ndarray, sig_keys: list[tuple]) -> np.ndarray:
    """Adds the members in strata of several languages whose unit has every seed in all of them; returns
    which members it did. Per (unit, language set) one replicate vector, computed for all units of a
    set and seed count at once (a batched product), added to each stratum that uses it. With ``d.memo``,
    a batch of the same units, set and seeds that an earlier design computed is taken from there (the
    same numbers: the same product of the same arrays)."""
    multi = np.flatnonzero(d.stratum_rows[d.member_stratum] > 1)
    done = np.zeros(d.member_unit.size, bool)
    if multi.size == 0:
        return done
    n_sig = int(sig.max()) + 1
    pair = d.member_unit[multi].astype(np.int64) * n_sig + sig[d.member_stratum[multi]]
    pairs, inv = np.unique(pair, return_inverse=True)
    p_unit, p_sig = pairs // n_sig, pairs % n_sig
    p_seeds = d.unit_seeds[p_unit]
    for k in np.unique(p_sig):
        langs = sig_langs[k]
        for n in np.unique(p_seeds[p_sig == k]):
            which = np.flatnonzero((p_sig == k) & (p_seeds == n))
            key = (sig_keys[k], int(n), n_boot, seed, p_unit[which].tobytes())
            kept = d.memo.get(key) if d.memo is not None else None
            if kept is None:
                kept = _set_replicates(d, ul, values, ok, observed, n_lang, n_boot, seed, langs, lang_draws[k],
                                       p_unit[which], int(n))
                if d.memo is not None:
                    d.memo[key] = kept
            complete, q, o_mean = kept
            which = which[complete]
            if which.size == 0:
                continue
            # every member of these pairs: its stratum gets coef x the pair's vector
            member = multi[np.isin(inv, which)]
            at = np.searchsorted(which, inv[np.isin(inv, which)])
            strata, coef = d.member_stratum[member], d.member_coef[member]
            est_s += np.bincount(strata, weights=coef * o_mean[at], minlength=est_s.size)
            by_stratum = np.argsort(strata, kind="stable")
            firsts = np.flatnonzero(np.r_[True, np.diff(strata[by_stratum]) != 0])
            summed = np.add.reduceat(coef[by_stratum, None] * q[at[by_stratum]], firsts, axis=0)
            reps_s[strata[by_stratum][firsts]] += summed
            done[member] = True
    return done


def first_rows(code: np.ndarray, size: int) -> np.ndarray:
    """Per code below ``size``, the first row holding it (``code.size`` for a code no row holds)."""
    first = np.full(size, code.size, np.int64)
    first[code[::-1]] = np.arange(code.size - 1, -1, -1)  # the last assignment wins: the first row
    return first


def unique_codes(code: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(code, return_index=True, return_inverse=True)`` for codes below ``size``, without a
    sort when ``size`` is small: the sorted distinct codes, each one's first row, each row's index."""
    if size > 50_000_000:
        uniq, first, inv = np.unique(code, return_index=True, return_inverse=True)
        return uniq, first, inv
    first = first_rows(code, size)
    uniq = np.flatnonzero(first < code.size)
    index = np.zeros(size, np.int64)
    index[uniq] = np.arange(uniq.size)
    return uniq, first[uniq], index[code]


def _set_replicates(d: Design, ul: np.ndarray, values: np.ndarray, ok: np.ndarray, observed: np.ndarray, n_lang: int,
                    n_boot: int, seed: int, langs: np.ndarray, lang_draws: np.ndarray | None, units: np.ndarray,
                    n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For units of ``n`` seeds over one language set: which have every seed in every language, and for
    those their replicates (units x n_boot) and observed means over the set."""
    m_l = langs.size
    pos = _find(ul, units[:, None] * n_lang + langs[None, :])  # units x languages
    complete = ok[pos, :n].all(axis=(1, 2)) if n > 1 else np.ones(units.size, bool)
    units, pos = units[complete], pos[complete]
    if units.size == 0:
        return complete, np.zeros((0, n_boot)), np.zeros(0)
    o = observed[pos]  # units x languages
    # replicate = seed part (mean over languages) + scaled language deviation, from the observed
    # means plus the deviations (values - mean) x scale / n times the draw counts, without
    # forming the units x languages x replicates means
    seed_part = np.repeat(o.mean(1)[:, None], n_boot, axis=1)
    lang_sum = o @ lang_draws  # units x n_boot
    if n > 1:
        draws = np.stack([_raw_counts(n, n_boot, (seed, *d.unit_stream[int(d.unit_draws[u])])).T
                          for u in units]).astype(float)  # units x n x n_boot
        dev = (values[pos, :n] - o[:, :, None]) * (_scale(n) / n)  # units x languages x n
        seed_part += np.matmul(dev.mean(1)[:, None, :], draws)[:, 0]
        lang_sum += (np.matmul(dev.transpose(0, 2, 1), lang_draws) * draws).sum(1)
    q = seed_part + _scale(m_l) * (lang_sum / m_l - seed_part)
    return complete, q, o.mean(1)


def _find(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Positions of ``keys`` in ``sorted_keys`` (every key must be there)."""
    pos = np.searchsorted(sorted_keys, keys)
    if keys.size and (pos.max() >= sorted_keys.size or (sorted_keys[pos] != keys).any()):
        raise ValueError("a stratum uses a language its unit has no observation in")
    return pos


def _resampled(values: np.ndarray, ok: np.ndarray, observed: np.ndarray, n: int, n_boot: int,
               stream: tuple[int, ...]) -> np.ndarray:
    """languages x n_boot: a unit's observed seed means plus the rescaled bootstrap deviation."""
    if n <= 1:  # one seed: no seed term
        return np.repeat(observed[:, None], n_boot, axis=1)
    draws = draw_counts(n, n_boot, stream).T  # n x n_boot
    sc, v, k = _scale(n), values[:, :n], ok[:, :n]
    if k.all():  # every seed has every language: the resampled deviation is ((values - mean) @ draws) / n
        return observed[:, None] + ((v - observed[:, None]) * (sc / n)) @ draws
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (v @ draws) / (k @ draws)
    o = observed[:, None]
    mean = np.where(np.isnan(mean), o, mean)  # a draw without the language: no information
    return o + sc * (mean - o)
