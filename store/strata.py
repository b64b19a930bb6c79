"""Task-first summaries of many groups at once: from per-seed rows to :func:`store.intervals.estimates`.

:func:`store.analysis.summarize_gains` decides what a summary means (which languages a task
average is over, what counts as a published average); this module computes it for every group
of a frame in one pass over integer codes, instead of a loop over groups, tasks and cells (a
per-language summary has thousands of them). Per group (``keys``) and task (``target``), a
*stratum*:

* its languages: the benchmark's languages of the task (``required``), or, ``per_language``, those
  of them the group's rows hold (without ``required``: every language the rows hold but ``avg``);
  a task the group holds only as a published average (``avg`` rows, when ``published``) counts as
  one language, ``avg``;
* its cells (one run configuration each, ``CELL`` columns) and their baselines (``base_id``): a
  cell or baseline without a value in one of the languages makes the task incomplete, with a note,
  and the group gets no mean;
* a cell's and a baseline's seeds are all its seeds in the frame (a seed is one model, evaluated
  on every language), so its draws are the same whichever languages a group looks at.

:func:`prepare` does what does not depend on the grouping (codes, seeds, baselines) once per frame;
:func:`summarize` does the rest per grouping. Tested against the plain loop
(``tests/store/summary_reference.py``).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from store.catalog import AVERAGE_LANGUAGE
from store.intervals import BASELINE_SEEDS, RUN_SEEDS, Design, estimates
from store.intervals import first_rows
from store.intervals import unique_codes as _unique


def stream(*parts: object) -> int:
    """A stable integer for an identity: the same run, baseline or language set gets the same draws."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def _codes(df: pl.DataFrame, cols: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the index of its ``cols`` values in order of first appearance; and each index's first row."""
    if not cols:
        return np.zeros(df.height, np.int64), np.zeros(min(df.height, 1), np.int64)
    if df.height <= 5_000:  # a few hundred rows (cells): a dict, without a group_by's fixed cost
        seen: dict[tuple, int] = {}
        codes = np.array([seen.setdefault(row, len(seen)) for row in df.select(cols).iter_rows()], np.int64)
        return codes, first_rows(codes, len(seen))
    parts = df.select(cols).with_row_index("_i").group_by(cols, maintain_order=True).agg(pl.col("_i"))
    rows = parts["_i"]
    codes = np.empty(df.height, np.int64)
    codes[rows.explode().to_numpy()] = np.repeat(np.arange(parts.height), rows.list.len().to_numpy())
    return codes, rows.list.first().to_numpy().astype(np.int64)


def _cell_group_codes(p: Prepared, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_codes` of ``p.runs`` by ``keys`` that are a function of the cell (cell columns, and
    ``config``, one per pair and configuration): coded on each cell's first row, a few hundred rows."""
    order = np.argsort(p.cell_first, kind="stable")  # cells in order of first appearance
    codes, first = _codes(p.runs[p.cell_first[order]], keys)
    of_cell = np.empty(order.size, np.int64)
    of_cell[order] = codes
    return of_cell[p.cell], p.cell_first[order][first]


def _group_codes(p: Prepared, keys: Sequence[str], cell: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_codes` of ``p.runs`` by ``keys``, from the codes ``p`` already holds where the keys allow:
    keys that are a function of the cell (gain rows: cell columns and ``config``), and ``language``."""
    cellish = [k for k in keys if k in {*cell, "config", *p.cell_columns}] if p.with_base else []
    if not set(keys) <= {*cellish, "language"}:
        return _codes(p.runs, keys)
    if "language" not in keys:
        return _cell_group_codes(p, keys)
    n_l = len(p.langs)
    of_cell, first = _cell_group_codes(p, cellish) if cellish else (np.zeros(p.cell.size, np.int64), np.zeros(1, np.int64))
    _, first, index = _unique(of_cell * n_l + p.lang, first.size * n_l)
    order = np.argsort(first, kind="stable")  # groups in order of first appearance, as group_by keeps them
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size)
    return rank[index], first[order]


def _codes_in(s: pl.Series, names: list[str]) -> np.ndarray:
    """Each value's index in ``names`` (distinct, holding every value): the physical codes of an Enum of them."""
    return s.cast(pl.Enum(names)).to_physical().to_numpy().astype(np.int64)


def _valid(s: pl.Series) -> np.ndarray:
    """Not null, per value (without an expression when there is no null: the common case)."""
    return np.ones(s.len(), bool) if s.null_count() == 0 else s.is_not_null().to_numpy()


def _array(s: pl.Series, fill: float, dtype: type) -> np.ndarray:
    """The values as ``dtype``, nulls as ``fill``."""
    return (s if s.null_count() == 0 else s.fill_null(fill)).to_numpy().astype(dtype)


def _unique_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_index=True, return_inverse=True)`` without sorting every row: the
    distinct keys (a hash set, a few hundred) are sorted and each row found among them."""
    uniq = np.sort(pl.Series(keys).unique().to_numpy())
    inv = np.searchsorted(uniq, keys)
    return first_rows(inv, uniq.size), inv


def _seed_positions(unit: np.ndarray, seeds: np.ndarray, n_units: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Each row's seed position within its unit (seeds sorted), each unit's number of seeds, and its seeds."""
    low = seeds.min(initial=0)
    span = int(seeds.max(initial=low) - low) + 1  # seeds are small numbers: (unit, seed) keys below n_units x span
    if n_units * span <= 50_000_000:
        uniq, _, inv = _unique(unit * span + (seeds - low), n_units * span)
    else:
        span = 1 << 32
        uniq, inv = np.unique(unit * span + (seeds - low), return_inverse=True)
    owner = uniq // span
    first = np.searchsorted(owner, np.arange(n_units + 1))
    values = (uniq % span + low).tolist()
    sets = [tuple(values[first[u]:first[u + 1]]) for u in range(n_units)]
    return np.arange(uniq.size)[inv] - first[unit], np.diff(first), sets


def _distinct(row: np.ndarray, value: np.ndarray, n_rows: int, n_values: int) -> np.ndarray:
    """Per ``row`` index (< n_rows): how many distinct ``value`` codes (< n_values) it has."""
    if n_rows * n_values <= 50_000_000:  # a table of marks: no sort
        seen = np.zeros(n_rows * n_values, bool)
        seen[row * n_values + value] = True
        return seen.reshape(n_rows, n_values).sum(1)
    uniq, idx = np.unique(row * n_values + value, return_index=True)
    return np.bincount(row[idx], minlength=n_rows)


@dataclass
class Prepared:
    """A frame's rows as integer codes, and its cells and baselines (what every grouping shares)."""

    runs: pl.DataFrame
    cell: np.ndarray  # per row: its cell
    target: np.ndarray
    lang: np.ndarray
    seed_pos: np.ndarray  # the seed's position among its cell's seeds
    seed_raw: np.ndarray  # the seed (null as -1): distinct seeds of a group's rows are counted
    valid: np.ndarray  # the value is not null
    value: np.ndarray
    targets: list[str]
    langs: list[str]  # sorted, so a code's order is the name's
    cell_first: np.ndarray  # first row of each cell
    cell_seeds: np.ndarray
    with_base: bool = False
    base: np.ndarray | None = None  # per row: its baseline
    base_has: np.ndarray | None = None  # per row: its baseline has a value in the row's language
    base_ids: list[str] = field(default_factory=list)
    base_seeds: np.ndarray | None = None
    base_obs: tuple[np.ndarray, ...] = ()  # (baseline, seed position, language, value) of valued rows
    cell_draws_base: np.ndarray | None = None  # per cell: its baseline where paired by seed, else -1
    _keys: np.ndarray | None = None
    #: columns besides the cell's that are a function of it (:meth:`store.analysis.GainRows.with_cell_columns`)
    cell_columns: frozenset[str] = frozenset()
    #: replicates of units over language sets, kept for every summary of these rows (``Design.memo``)
    memo: dict = field(default_factory=dict)

    def cell_keys(self, cols: Sequence[str]) -> np.ndarray:
        """Each cell's stream identity: its ``cols`` values joined by ``|`` (the cell's name)."""
        if self._keys is None:
            names = self.runs[self.cell_first].select(
                pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in cols], separator="|"))
            self._keys = np.array([stream(n) for n in names.to_series().to_list()], np.int64)
        return self._keys


_PER_ROW = ("cell", "target", "lang", "seed_pos", "seed_raw", "valid", "value", "cell_first", "cell_seeds")
_PER_BASE = ("base", "base_has", "base_seeds", "cell_draws_base")


def to_arrays(p: Prepared, cell: Sequence[str]) -> dict[str, np.ndarray]:
    """``p``'s codes as named arrays (with the cells' stream keys), for :func:`from_arrays`."""
    out = {k: getattr(p, k) for k in _PER_ROW}
    out.update(targets=np.array(p.targets, dtype=str), langs=np.array(p.langs, dtype=str),
               cell_keys=p.cell_keys(cell), with_base=np.array(p.with_base))
    if p.with_base:
        out.update({k: getattr(p, k) for k in _PER_BASE})
        out.update(base_ids=np.array(p.base_ids, dtype=str), **{f"base_obs{i}": a for i, a in enumerate(p.base_obs)})
    return out


def from_arrays(runs: pl.DataFrame, a: dict[str, np.ndarray]) -> Prepared:
    """The :class:`Prepared` that :func:`to_arrays` gave, for ``runs`` (the same rows, in the same order)."""
    p = Prepared(runs=runs, targets=a["targets"].tolist(), langs=a["langs"].tolist(), **{k: a[k] for k in _PER_ROW})
    p._keys = a["cell_keys"]
    if bool(a["with_base"]):
        p.with_base, p.base_ids = True, a["base_ids"].tolist()
        p.base, p.base_has, p.base_seeds, p.cell_draws_base = (a[k] for k in _PER_BASE)
        p.base_obs = tuple(a[f"base_obs{i}"] for i in range(4))
    return p


def prepare(runs: pl.DataFrame, bases: pl.DataFrame | None, cell: Sequence[str]) -> Prepared:
    """Codes for the rows of ``runs`` (per-seed: ``cell`` columns, target, language, seed, value,
    ``base_id`` when ``bases`` is given) and for the baselines' rows."""
    if "_cell" in runs.columns:  # gain_rows' hash of the cell columns: one sort instead of a group_by on them
        cell_first, cell_code = _unique_keys(runs["_cell"].to_numpy())
    else:
        cell_code, cell_first = _codes(runs, cell)
    n_cells = cell_first.size
    langs = sorted(set(runs["language"].unique().to_list()) | (set(bases["language"].unique().to_list())
                                                               if bases is not None else set()))
    # a cell has one target and one baseline (gain_rows matches baselines cell by cell): coded per cell
    first_rows = runs[cell_first]
    targets = first_rows["target"].unique(maintain_order=True).to_list()
    cell_target = _codes_in(first_rows["target"], targets)
    seeds = _array(runs["seed"], -1, np.int64)
    seed_pos, cell_seeds, cell_sets = _seed_positions(cell_code, seeds, n_cells)
    value = runs["value"]
    p = Prepared(runs=runs, cell=cell_code, target=cell_target[cell_code],
                 lang=_codes_in(runs["language"], langs), seed_pos=seed_pos, seed_raw=seeds,
                 valid=_valid(value), value=_array(value, np.nan, float),
                 targets=targets, langs=langs, cell_first=cell_first, cell_seeds=cell_seeds)
    if bases is None:
        return p
    base_ids = bases["base_id"].unique(maintain_order=True).to_list()
    b_code = _codes_in(bases["base_id"], base_ids)
    b_seed = _array(bases["seed"], -1, np.int64)
    b_pos, b_n, base_sets = _seed_positions(b_code, b_seed, len(base_ids))
    b_lang = _codes_in(bases["language"], langs)
    b_valid = _valid(bases["value"])
    n_lang = len(langs)
    have = np.zeros(len(base_ids) * n_lang, bool)
    have[(b_code * n_lang + b_lang)[b_valid]] = True
    cell_base = _codes_in(first_rows["base_id"], base_ids)
    row_base = cell_base[cell_code]
    # a cell is paired with its baseline when their seed sets are equal and no seed is unknown
    unknown = np.zeros(n_cells, bool)
    unknown[cell_code[~_valid(runs["seed"])]] = True
    paired = np.array([b if not unknown[c] and cell_sets[c] == base_sets[b] else -1 for c, b in enumerate(cell_base)],
                      np.int64)
    p.with_base, p.base, p.base_has, p.base_ids, p.base_seeds = True, row_base, have[row_base * n_lang + p.lang], \
        base_ids, b_n
    p.base_obs = (b_code[b_valid], b_pos[b_valid], b_lang[b_valid], bases["value"].to_numpy()[b_valid].astype(float))
    p.cell_draws_base = paired
    return p


def _note(target: str, have: int, need: int, name: str, what: str = "") -> str:
    if need == 0:
        return f"{target} is not in {name}"
    return f"{target}: {what}{have} of {need} {name} languages"


def summarize(p: Prepared, keys: Sequence[str], cell: Sequence[str], required: dict[str, tuple[str, ...]] | None,
              per_language: bool, published: bool, name: str, n_boot: int, seed: int, level: float,
              keep_replicates: bool) -> pl.DataFrame:
    """One row per group of ``keys`` (first-appearance order): mean, interval, counts, coverage.

    Args:
        required: target -> its benchmark languages in benchmark order; None: the languages held.
        per_language: a task's languages are those of them the group holds.
        published: a task held only as ``avg`` rows is a published average (no interval).
        name: the benchmark's name, for the notes.
    """
    keys = list(keys)
    runs = p.runs
    schema = {**{k: runs.schema[k] for k in keys}, "mean": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
              "reps": pl.Object, "n": pl.Int64, "n_tasks": pl.Int64, "n_languages": pl.Int64, "n_seeds": pl.Int64,
              "baseline_n_seeds": pl.Int64, "coverage": pl.String}
    if runs.is_empty():
        out = pl.DataFrame(schema=schema)
        return out if keep_replicates else out.drop("reps")
    n_t, n_l = len(p.targets), len(p.langs)
    avg = p.langs.index(AVERAGE_LANGUAGE) if AVERAGE_LANGUAGE in p.langs else -1
    grp, grp_first = _group_codes(p, keys, cell)
    n_g = grp_first.size
    # strata: (group, target), ordered by group, then first appearance
    skey = grp * n_t + p.target
    uniq, s_first, s_inv = _unique(skey, n_g * n_t)
    order = np.lexsort((s_first, uniq // n_t))
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size)
    stratum = rank[s_inv]
    n_s = order.size
    s_group, s_target, s_first = (uniq // n_t)[order], (uniq % n_t)[order], s_first[order]
    # each row's position in its task's language list (-1: not one of the task's languages)
    if required is not None:
        table = np.full((n_t, n_l), -1, np.int64)
        for t, target in enumerate(p.targets):
            for i, lang in enumerate(required.get(target, ())):
                if lang in p.langs:
                    table[t, p.langs.index(lang)] = i
        pos = table[p.target, p.lang]
    else:
        pos = np.where(p.lang != avg, 0, -1)
    s_pub = np.zeros(n_s, bool)
    if published:
        s_pub = np.bincount(stratum, weights=(p.lang != avg), minlength=n_s) == 0
        pos = np.where(s_pub[stratum], 0, pos)
    inside = pos >= 0
    s_present = _distinct(stratum[inside], p.lang[inside], n_s, n_l)
    if required is not None and not per_language:
        s_need = np.array([len(required.get(p.targets[t], ())) for t in s_target], np.int64)
    else:
        s_need = s_present
    s_need = np.where(s_pub, 1, s_need)
    # cells within strata, in order of first appearance
    n_c = p.cell_first.size
    ckey = stratum * n_c + p.cell
    c_uniq, c_first, c_inv = _unique(ckey, n_s * n_c)
    k_stratum, k_cell, n_k = c_uniq // n_c, c_uniq % n_c, c_uniq.size
    k_seeds = _distinct(c_inv, p.seed_pos, n_k, int(p.seed_pos.max()) + 1)  # positions: one per seed of a cell
    got = inside & p.valid & (p.base_has if p.with_base else True)
    k_have = _distinct(c_inv[got], p.lang[got], n_k, n_l)
    k_gap = (k_have < s_need[k_stratum]) & (s_need[k_stratum] > 0)
    s_complete = (s_need > 0) & (np.bincount(k_stratum[k_gap], minlength=n_s) == 0)
    # the notes, in the order a loop over tasks and cells would write them
    found = []
    if not per_language:
        for s in np.flatnonzero(s_need == 0):
            t = p.targets[s_target[s]]
            found.append((s_group[s], s, -1, _note(t, 0, 0, name) if not required.get(t) else f"{t}: no {name} language"))
    for k in np.flatnonzero(k_gap):
        s, row = k_stratum[k], runs.row(int(c_first[k]), named=True)
        label = row["intermediate"] + (f" ({row['variant']})" if row["variant"] and p.with_base else "")
        what = f"{label} and baseline cover " if p.with_base else f"{label} covers "
        found.append((s_group[s], s, c_first[k], _note(p.targets[s_target[s]], int(k_have[k]), int(s_need[s]), name, what)))
    notes: dict[int, list[str]] = {}
    for g, _, _, text in sorted(found, key=lambda n: n[:3]):
        notes.setdefault(int(g), []).append(text)
    # counts per group
    used = s_need[k_stratum] > 0
    k_group = s_group[k_stratum]
    counted = inside & p.valid
    # distinct (cell, seed, language) values per group (a cell's rows of one seed and language are one group's)
    n_pos = int(p.seed_pos.max()) + 1
    cell_seed = p.cell * n_pos + p.seed_pos
    key = cell_seed[counted] * n_l + p.lang[counted]
    seen = np.zeros(n_c * n_pos * n_l, bool)
    seen[key] = True
    if np.count_nonzero(seen) == key.size:  # every row its own value (the usual case): count the rows
        n_rows = np.bincount(grp[counted], minlength=n_g)
    else:
        _, idx, _ = _unique(key, n_c * n_pos * n_l)
        n_rows = np.bincount(grp[counted][idx], minlength=n_g)
    big = np.iinfo(np.int64).max
    n_seeds, n_base = np.full(n_g, big), np.full(n_g, big)
    np.minimum.at(n_seeds, k_group[used], k_seeds[used])
    if p.with_base:
        np.minimum.at(n_base, k_group[used], p.base_seeds[p.base[c_first[used]]])
    n_seeds, n_base = np.where(n_seeds == big, 0, n_seeds), np.where(n_base == big, 0, n_base)
    n_tasks = np.bincount(s_group, minlength=n_g)
    n_languages = np.bincount(s_group, weights=np.where(s_complete, s_need, 0), minlength=n_g).astype(np.int64)
    any_complete = np.bincount(s_group, weights=s_complete, minlength=n_g) > 0
    g_pub = np.bincount(s_group, weights=s_pub, minlength=n_g) > 0
    coverage = []
    for g in range(n_g):
        if not notes.get(g) and not any_complete[g]:
            notes[g] = [f"no {name} language of these tasks"]
        coverage.append("; ".join(dict.fromkeys(notes.get(g, []))))
    ok = np.array([not notes.get(g) for g in range(n_g)], bool)
    mean, lo, hi, reps = np.full(n_g, np.nan), np.full(n_g, np.nan), np.full(n_g, np.nan), [None] * n_g
    if ok.any():
        s_ok = ok[s_group] & (s_need > 0)
        est, rep = estimates(_design(p, cell, required, per_language, stratum, pos, s_ok, s_need, s_target, s_group,
                                     k_stratum, k_cell), n_boot, seed)
        alpha = (1 - level) / 2
        q = np.quantile(rep, [alpha, 1 - alpha], axis=1) if n_boot else None  # n_boot 0: means only
        for k, g in enumerate(np.flatnonzero(ok)):
            mean[g] = est[k]
            if not g_pub[g] and n_boot:
                lo[g], hi[g] = q[0, k], q[1, k]
                reps[g] = rep[k] if keep_replicates else None
    stats = {"mean": mean, "ci_low": lo, "ci_high": hi}
    if keep_replicates:
        stats["reps"] = pl.Series("reps", reps, dtype=pl.Object)
    stats.update(n=n_rows, n_tasks=n_tasks, n_languages=n_languages, n_seeds=n_seeds, baseline_n_seeds=n_base)
    numbers = pl.DataFrame(stats).with_columns(pl.col("mean", "ci_low", "ci_high").fill_nan(None),
                                               pl.col("n", "n_tasks", "n_languages", "n_seeds", "baseline_n_seeds")
                                               .cast(pl.Int64), pl.Series("coverage", coverage, pl.String))
    return pl.concat([runs.select(keys)[grp_first], numbers], how="horizontal")


def _design(p: Prepared, cell: Sequence[str], required, per_language: bool, stratum: np.ndarray, pos: np.ndarray,
            s_ok: np.ndarray, s_need: np.ndarray, s_target: np.ndarray, s_group: np.ndarray, k_stratum: np.ndarray,
            k_cell: np.ndarray) -> Design:
    """The complete strata ``s_ok`` (every group of them complete) as a :class:`store.intervals.Design`."""
    n_l, n_c = len(p.langs), p.cell_first.size
    ok_ids = np.flatnonzero(s_ok)  # in group order already
    new_id = np.full(s_ok.size, -1, np.int64)
    new_id[ok_ids] = np.arange(ok_ids.size)
    s_rows = s_need[ok_ids]
    row0 = np.concatenate([[0], np.cumsum(s_rows)[:-1]])
    keep = s_ok[stratum] & (pos >= 0) & p.valid
    st, lang = new_id[stratum[keep]], p.lang[keep]
    # a language's position in its task's list: benchmark order, or sorted when the task's languages are those held
    held = _unique(st * n_l + lang, ok_ids.size * n_l)[0]  # each task's languages, sorted (codes are in name order)
    held_first = np.searchsorted(held // n_l, np.arange(ok_ids.size + 1))
    if per_language:
        lpos = np.searchsorted(held, st * n_l + lang) - held_first[st]
    else:
        lpos = pos[keep]
    row = row0[st] + lpos
    s_langs = np.zeros(int(s_rows.sum()), np.int64)
    s_langs[row] = lang
    # members: each cell in its task (1 / cells), each baseline (-(cells using it) / cells)
    k_ok = s_ok[k_stratum]
    k_st, k_c = new_id[k_stratum[k_ok]], k_cell[k_ok]
    n_cells = np.bincount(k_st, minlength=ok_ids.size)
    m_unit, m_st, m_coef = k_c, k_st, 1.0 / n_cells[k_st]
    units = p.cell[keep]
    o_unit, o_seed, o_lang, o_val = units, p.seed_pos[keep], lang, p.value[keep]
    unit_seeds, draws = p.cell_seeds, np.arange(n_c)
    streams = [(RUN_SEEDS, int(k)) for k in p.cell_keys(cell)]
    if p.with_base:
        n_b = len(p.base_ids)
        sb, m = np.unique(k_st * n_b + p.base[p.cell_first[k_c]], return_counts=True)
        m_unit = np.concatenate([m_unit, n_c + sb % n_b])
        m_st = np.concatenate([m_st, sb // n_b])
        m_coef = np.concatenate([m_coef, -m / n_cells[sb // n_b]])
        b, b_pos, b_lang, b_val = p.base_obs
        keep_b = np.isin(b, sb % n_b)
        o_unit = np.concatenate([o_unit, n_c + b[keep_b]])
        o_seed = np.concatenate([o_seed, b_pos[keep_b]])
        o_lang = np.concatenate([o_lang, b_lang[keep_b]])
        o_val = np.concatenate([o_val, b_val[keep_b]])
        unit_seeds = np.concatenate([unit_seeds, p.base_seeds])
        draws = np.concatenate([np.where(p.cell_draws_base >= 0, n_c + p.cell_draws_base, draws), n_c + np.arange(n_b)])
        streams += [(BASELINE_SEEDS, stream(b)) for b in p.base_ids]
    # the language sets of tasks with several languages: their identity keys their draws
    keys = np.zeros(ok_ids.size, np.int64)
    for s in np.flatnonzero(s_rows > 1):
        target = p.targets[s_target[ok_ids[s]]]
        langs = [p.langs[c] for c in held[held_first[s]:held_first[s + 1]] % n_l] if per_language else required[target]
        keys[s] = stream(target, *langs)
    return Design(
        obs_unit=o_unit, obs_seed=o_seed, obs_lang=o_lang, obs_value=o_val, unit_seeds=unit_seeds,
        unit_stream=tuple(streams), unit_draws=draws, stratum_langs=s_langs, stratum_rows=s_rows, stratum_key=keys,
        member_unit=m_unit, member_stratum=m_st, member_coef=m_coef,
        group_strata=np.unique(s_group[ok_ids], return_counts=True)[1], memo=p.memo)
