"""The one interval of record: a two-level bootstrap over seeds and languages, tasks first.

An estimate is a mean over *tasks* (strata, never resampled: a benchmark's task list is fixed) of
the mean over *cells* in the task (usually one cell: one intermediate task on one target) of the
mean over the task's *languages* of (run seed mean - baseline seed mean) per language.

One replicate of the bootstrap, per task:

* languages are resampled with replacement as clusters (one draw per task, shared by every cell
  and by the baseline of that task, since a language's difficulty is shared by all of them);
* the seeds of each run and of each baseline are resampled with replacement, separately, or
  *paired by seed* (one draw for both) where a run and its baseline have exactly the same seeds;
  a baseline shared by several cells of a task is drawn once per task (its error is common to them);
* each resampled mean deviates from the observed one by sqrt(n / (n - 1)) times the plain
  bootstrap deviation (n seeds, or n languages): the plain bootstrap's variance of a mean is
  (n - 1) / n times the unbiased one, which matters with 3 seeds. One seed gives no seed term.

The interval is the percentile interval of the replicates. Its coverage is tested on simulated
stores with a known true gain (``tests/store/test_intervals.py``): languages and seeds are
random effects, crossed (a seed's model is evaluated on every language).

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
    #: task's languages resample them together); defaults: positions
    lang_key: int = 0
    base_keys: tuple[int, ...] = ()
    cell_keys: tuple[int, ...] = ()


def _counts(size: int, n_boot: int, stream: tuple[int, ...]) -> np.ndarray:
    """How often each of ``size`` items is drawn in each of ``n_boot`` resamples (n_boot x size)."""
    idx = np.random.default_rng(list(stream)).integers(0, size, size=(n_boot, size))
    flat = (idx + np.arange(n_boot)[:, None] * size).ravel()
    return np.bincount(flat, minlength=n_boot * size).reshape(n_boot, size).astype(float)


_counts_cached = functools.lru_cache(maxsize=256)(_counts)


def draw_counts(size: int, n_boot: int, stream: tuple[int, ...]) -> np.ndarray:
    """:func:`_counts`, cached when small; every (task, role) gets its own stream of draws."""
    if size * n_boot <= 500_000:
        return _counts_cached(size, n_boot, stream)
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


def replicates(strata: Sequence[Stratum], n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, np.ndarray]:
    """The estimate (mean over strata) and its ``n_boot`` bootstrap replicates."""
    est, reps = 0.0, np.zeros(n_boot)
    for k, s in enumerate(strata):
        n_lang = (s.cells[0][0]).shape[1]
        base_keys = s.base_keys or tuple(range(len(s.bases)))
        cell_keys = s.cell_keys or tuple(range(len(s.cells)))
        lang_key = s.lang_key or k
        base_obs = [_seed_means(b) for b in s.bases]
        base_counts = [draw_counts(b.shape[0], n_boot, (seed, lang_key, 1, base_keys[j])) for j, b in enumerate(s.bases)]
        base_boot = [_resampled_seed_means(b, c) for b, c in zip(s.bases, base_counts)]
        obs = np.zeros(n_lang)
        boot = np.zeros((n_boot, n_lang))
        for i, (run, j) in enumerate(s.cells):
            paired = bool(s.paired[i]) if s.paired else False
            counts = base_counts[j] if (paired and j is not None) else draw_counts(run.shape[0], n_boot, (seed, lang_key, 2, cell_keys[i]))
            obs += _seed_means(run) - (base_obs[j] if j is not None else 0.0)
            boot += _resampled_seed_means(run, counts) - (base_boot[j] if j is not None else 0.0)
        obs /= len(s.cells)
        boot /= len(s.cells)
        lang_counts = draw_counts(n_lang, n_boot, (seed, lang_key, 0))
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
