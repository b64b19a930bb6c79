"""The plain loop that :func:`store.strata.summarize` must agree with: group by group, task by task,
cell by cell, each a seeds x languages matrix handed to :func:`store.intervals.replicates`.

It is the summary as it was written before it was vectorised (kept here, not in the store, as the
reference of the tests), with one change that the vectorised version makes too: a cell's seeds are
all its seeds in the frame, not only those of the group's rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from store.analysis import BENCHMARKS, CELL, LANGUAGE_KEYS, PUBLISHED_BENCHMARK, benchmark_languages
from store.catalog import AVERAGE_LANGUAGE
from store.intervals import Stratum, replicates
from store.strata import stream


def _matrix(rows: pl.DataFrame, langs: Sequence[str], seeds: Sequence[int]) -> np.ndarray:
    pos = {lang: i for i, lang in enumerate(langs)}
    m = np.full((len(seeds), len(langs)), np.nan)
    si = {s: i for i, s in enumerate(seeds)}
    for s, lang, v in zip(rows["seed"].fill_null(-1), rows["language"], rows["value"]):
        if lang in pos and v is not None:
            m[si[s], pos[lang]] = v
    return m


def _note(target, have, need, benchmark, what=""):
    name = BENCHMARKS[benchmark]
    return f"{target} is not in {name}" if need == 0 else f"{target}: {what}{have} of {need} {name} languages"


def _group(g, bases, cell_seeds, by, benchmark, with_base, complete_only):
    per_language = any(c in by for c in LANGUAGE_KEYS) or not complete_only
    strata, notes, n_lang, n_rows, seeds, base_seeds, published = [], [], 0, 0, [], [], False
    for (target,), t in g.group_by("target", maintain_order=True):
        required = benchmark_languages(target, benchmark) if complete_only else tuple(set(t["language"]) - {AVERAGE_LANGUAGE})
        langs = sorted(set(t["language"]) & set(required)) if per_language else list(required)
        if (complete_only and not per_language and benchmark == PUBLISHED_BENCHMARK
                and set(t["language"]) == {AVERAGE_LANGUAGE}):
            langs, published = [AVERAGE_LANGUAGE], True
        if not langs:
            if not per_language:
                notes.append(_note(target, 0, 0, benchmark) if not required
                             else f"{target}: no {BENCHMARKS[benchmark]} language")
            continue
        cells, base_list, base_index, paired, keys = [], [], {}, [], []
        complete = True
        for cell_key, c in t.group_by("_cell", maintain_order=True):
            run = _matrix(c, langs, cell_seeds[cell_key[0]])
            have = int((~np.isnan(run)).any(0).sum())
            j = None
            if with_base:
                bid = c["base_id"][0]
                if bid not in base_index:
                    base_index[bid] = len(base_list)
                    base_list.append(_matrix(bases[bid], langs, sorted(set(bases[bid]["seed"].fill_null(-1)))))
                j = base_index[bid]
                b = base_list[j]
                have_b = int(((~np.isnan(run)).any(0) & (~np.isnan(b)).any(0)).sum())
                if have_b < len(langs):
                    complete = False
                    label = c["intermediate"][0] + (f" ({c['variant'][0]})" if c["variant"][0] else "")
                    notes.append(_note(target, have_b, len(langs), benchmark, f"{label} and baseline cover "))
                all_seeds = set(cell_seeds[cell_key[0]])
                paired.append(all_seeds == set(bases[bid]["seed"].fill_null(-1)) and cell_key[0] not in _NULL_SEEDED)
                base_seeds.append(b.shape[0])
            elif have < len(langs):
                complete = False
                notes.append(_note(target, have, len(langs), benchmark, f"{c['intermediate'][0]} covers "))
            cells.append((run, j))
            n_rows += int((~np.isnan(run)).sum())
            keys.append(cell_key[0])
            seeds.append(c["seed"].fill_null(-1).n_unique())
        if complete:
            strata.append(Stratum(tuple(base_list), tuple(cells), tuple(paired), lang_key=stream(target, *langs),
                                  base_keys=tuple(stream(b) for b in base_index),
                                  cell_keys=tuple(stream(k) for k in keys)))
            n_lang += len(langs)
    if not strata and not notes:
        notes.append(f"no {BENCHMARKS[benchmark]} language of these tasks")
    return strata, notes, n_rows, n_lang, min(seeds, default=0), min(base_seeds, default=0), published


_NULL_SEEDED: set = set()


def summarize(runs: pl.DataFrame, bases: pl.DataFrame | None, by: Sequence[str], benchmark: str = "xtreme",
              n_boot: int = 1000, seed: int = 0, level: float = 0.95, complete_only: bool = True) -> pl.DataFrame:
    """The loop: one row per group (``by`` plus config), the columns of ``summarize_gains`` (``mean``) and ``reps``."""
    keys = list(dict.fromkeys([*by, "config"]))
    runs = runs.with_columns(pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in CELL], separator="|")
                             .alias("_cell"))
    cell_seeds = {k: sorted(set(v)) for k, v in runs.group_by("_cell").agg(pl.col("seed").fill_null(-1)).iter_rows()}
    _NULL_SEEDED.clear()
    _NULL_SEEDED.update(runs.filter(pl.col("seed").is_null())["_cell"].to_list())
    base_parts = bases.partition_by("base_id", as_dict=True) if bases is not None else {}
    base_parts = {k[0] if isinstance(k, tuple) else k: v for k, v in base_parts.items()}
    out = []
    for key, g in runs.group_by(keys, maintain_order=True):
        strata, notes, n_rows, n_lang, n_seeds, n_base, published = _group(
            g, base_parts, cell_seeds, by, benchmark, bases is not None, complete_only)
        row = dict(zip(keys, key))
        if notes or not strata:
            row.update(mean=None, ci_low=None, ci_high=None, reps=None)
        else:
            est, reps = replicates(strata, n_boot, seed)
            alpha = (1 - level) / 2
            lo, hi = (None, None) if published else np.quantile(reps, [alpha, 1 - alpha])
            row.update(mean=float(est), ci_low=lo, ci_high=hi, reps=None if published else reps)
        row.update(n=n_rows, n_tasks=g["target"].n_unique(), n_languages=n_lang, n_seeds=n_seeds,
                   baseline_n_seeds=n_base, coverage="; ".join(dict.fromkeys(notes)))
        out.append(row)
    return out
