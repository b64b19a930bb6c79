"""The vectorised summaries equal the plain loop: :func:`store.intervals.estimates` against
:func:`store.intervals.replicates`, and :func:`store.analysis.summarize_gains` (via :mod:`store.strata`)
against the group-by-group loop of ``summary_reference.py``, on frames with the awkward cases:
missing languages and seeds, published averages, paired and unpaired seeds, unknown seeds,
shared baselines, per-language groupings and the frame path."""

import math

import numpy as np
import polars as pl
import pytest

from store.analysis import GainRows, benchmark_languages, summarize_gains
from store.intervals import BASELINE_SEEDS, RUN_SEEDS, Design, Stratum, estimates, replicates
from tests.store import summary_reference as reference

N_BOOT = 300


def _design(groups: list[list[Stratum]]) -> Design:
    """Groups of strata (explicit keys) as one flat Design (the strata's matrices as observations)."""
    obs, units, unit_of, members, s_langs, s_rows, s_keys, g_strata = [], [], {}, [], [], [], [], []

    def unit(role, key, m, draws_of=None):
        if (role, key) not in unit_of:
            unit_of[(role, key)] = len(units)
            units.append((role, key, m.shape[0], draws_of))
            for s in range(m.shape[0]):
                for lang in range(m.shape[1]):
                    if not math.isnan(m[s, lang]):
                        obs.append((unit_of[(role, key)], s, lang, m[s, lang]))
        return unit_of[(role, key)]

    for strata in groups:
        g_strata.append(len(strata))
        for st in strata:
            k = len(s_rows)
            n_lang = st.cells[0][0].shape[1]
            s_rows.append(n_lang)
            s_langs += range(n_lang)
            s_keys.append(st.lang_key)
            bases = [unit(BASELINE_SEEDS, bk, b) for bk, b in zip(st.base_keys, st.bases)]
            uses = {}
            for i, (run, j) in enumerate(st.cells):
                paired = bool(st.paired[i]) if st.paired else False
                u = unit(RUN_SEEDS, st.cell_keys[i], run, bases[j] if paired and j is not None else None)
                members.append((u, k, 1 / len(st.cells)))
                if j is not None:
                    uses[j] = uses.get(j, 0) + 1
            members += [(bases[j], k, -m / len(st.cells)) for j, m in uses.items()]
    o = np.array(obs, dtype=object)
    m = np.array(members, dtype=object)
    return Design(
        obs_unit=o[:, 0].astype(np.int64), obs_seed=o[:, 1].astype(np.int64), obs_lang=o[:, 2].astype(np.int64),
        obs_value=o[:, 3].astype(float), unit_seeds=np.array([u[2] for u in units]),
        unit_stream=tuple((u[0], u[1]) for u in units),
        unit_draws=np.array([i if u[3] is None else u[3] for i, u in enumerate(units)]),
        stratum_langs=np.array(s_langs), stratum_rows=np.array(s_rows), stratum_key=np.array(s_keys),
        member_unit=m[:, 0].astype(np.int64), member_stratum=m[:, 1].astype(np.int64),
        member_coef=m[:, 2].astype(float), group_strata=np.array(g_strata))


def _random_groups(rng) -> list[list[Stratum]]:
    """Several estimates over tasks that share baselines, runs and language sets, with gaps."""
    tasks = []
    for t in range(3):
        n_lang = int(rng.choice([1, 4, 7]))
        level = 70 + rng.normal(0, 3, n_lang)
        base = level + rng.normal(0, 1, (int(rng.integers(1, 5)), n_lang))
        cells = []
        for c in range(3):
            n_seeds = base.shape[0] if c == 0 else int(rng.integers(1, 5))
            run = level + 1 + rng.normal(0, 1, (n_seeds, n_lang))
            if c == 2 and n_seeds > 1 and n_lang > 1:
                run[0, 0] = np.nan  # a seed without a language
            cells.append((run, c == 0))
        tasks.append((t, base, cells))
    groups = []
    for pick in ([0], [1], [0, 1], [0, 1, 2], [2]):
        strata = []
        for t in [tasks[i] for i in pick]:
            k, base, cells = t
            use = [0, 1, 2] if len(pick) > 1 else [0, 2]
            strata.append(Stratum((base,), tuple((cells[c][0], 0) for c in use), tuple(cells[c][1] for c in use),
                                  lang_key=100 + k, base_keys=(200 + k,), cell_keys=tuple(300 + 10 * k + c for c in use)))
        groups.append(strata)
    return groups


@pytest.mark.parametrize("seed", range(6))
def test_estimates_equal_the_reference_replicates(seed):
    groups = _random_groups(np.random.default_rng(seed))
    est, reps = estimates(_design(groups), N_BOOT, seed=seed)
    for k, strata in enumerate(groups):
        want_est, want_reps = replicates(strata, N_BOOT, seed=seed)
        assert est[k] == pytest.approx(want_est, abs=1e-10)
        assert np.abs(reps[k] - want_reps).max() < 1e-10


def _store_rows(rng) -> GainRows:
    """Per-seed rows of two models' runs on XNLI and PAWS-X (their XTREME languages) and baselines, with gaps."""
    runs, bases = [], []
    for model in ("m1", "m2"):
        for target in ("xnli", "pawsx"):
            langs = list(benchmark_languages(target, "xtreme"))
            level = {lang: 70 + rng.normal(0, 3) for lang in langs}
            base_id = f"{model}|{target}"
            base_seeds = [1, 2, 3]
            for s in base_seeds:
                for lang in langs:
                    if not (model == "m2" and target == "pawsx" and lang == langs[-1]):  # baseline misses a language
                        bases.append({"base_id": base_id, "seed": s, "language": lang, "value": level[lang] + rng.normal()})
            for inter, seeds in (("mnli", [1, 2, 3]), ("squad", [1, 2]), ("qqp", [None]), ("anli", [4, 5, 6, 7])):
                for s in seeds:
                    for lang in langs:
                        if inter == "anli" and s == 4 and lang == langs[0]:
                            continue  # one seed without one language
                        if inter == "qqp" and target == "xnli" and lang == langs[1]:
                            continue  # a run missing a language
                        runs.append({"model": model, "intermediate": inter, "target": target, "seed": s, "language": lang,
                                     "value": level[lang] + 1 + rng.normal(), "base_id": base_id})
        # a published task average only
        runs.append({"model": model, "intermediate": "mnli", "target": "xquad", "seed": None, "language": "avg",
                     "value": 80.0, "base_id": f"{model}|xquad"})
        bases.append({"base_id": f"{model}|xquad", "seed": None, "language": "avg", "value": 78.5})
    cell = {"source": "runner", "label": "", "variant": "", "setting": "zero-shot", "metric": "accuracy", "split": "test",
            "config_id": "c", "config": ""}
    families = {lang: ("Indo-European" if i % 2 else "other") for i, lang in
                enumerate(sorted({r["language"] for r in runs}))}
    frame = pl.DataFrame(runs, schema_overrides={"seed": pl.Int64}).with_columns(
        **{k: pl.lit(v) for k, v in cell.items()},
        target_type=pl.when(pl.col("target") == "xquad").then(pl.lit("question answering")).otherwise(pl.lit("classification")),
        family=pl.col("language").replace_strict(families))
    return GainRows(frame, pl.DataFrame(bases, schema_overrides={"seed": pl.Int64}))


def _same(got: pl.DataFrame, want: list[dict], by) -> None:
    assert got.height == len(want)
    for a, b in zip(got.iter_rows(named=True), want):
        assert {k: a[k] for k in by} == {k: b[k] for k in by}
        for k in ("n", "n_tasks", "n_languages", "n_seeds", "baseline_n_seeds", "coverage"):
            assert a[k] == b[k], (k, a, b)
        for k, r in (("mean_gain", "mean"), ("ci_low", "ci_low"), ("ci_high", "ci_high")):
            assert (a[k] is None) == (b[r] is None), (k, a, b)
            assert a[k] is None or a[k] == pytest.approx(float(b[r]), abs=1e-9)
        assert (a["reps"] is None) == (b["reps"] is None)
        assert a["reps"] is None or np.abs(a["reps"] - b["reps"]).max() < 1e-9


@pytest.mark.parametrize("by", [("intermediate",), ("intermediate", "target"), ("model", "intermediate"), ("language",),
                                ("family",), ("language", "target"), ("target_type", "intermediate"), ()])
def test_summaries_equal_the_reference_loop(by):
    g = _store_rows(np.random.default_rng(11))
    got = summarize_gains(g, by=by, n_boot=N_BOOT, keep_replicates=True)
    want = reference.summarize(g.runs, g.bases, by, n_boot=N_BOOT)
    _same(got, want, by)
    assert any(r["coverage"] for r in want) or by in {("language",), ("language", "target")}  # the gaps show


def test_cells_coded_by_gain_rows_hash_give_the_same_summaries():
    """gain_rows adds ``_cell`` (a hash of the cell columns); coding cells by it changes nothing."""
    from store.analysis import CELL

    g = _store_rows(np.random.default_rng(11))
    hashed = GainRows(g.runs.with_columns(pl.struct(CELL).hash().alias("_cell")), g.bases)
    for by in (("intermediate",), ("language",), ("model", "target")):
        a = summarize_gains(g, by=by, n_boot=N_BOOT).sort(list(by))
        b = summarize_gains(hashed, by=by, n_boot=N_BOOT).sort(list(by))
        numbers = ["mean_gain", "ci_low", "ci_high"]
        assert a.drop(numbers).equals(b.drop(numbers))
        for c in numbers:  # the same sums, perhaps added in another order
            assert np.allclose(a[c].fill_null(np.nan).to_numpy(), b[c].fill_null(np.nan).to_numpy(), atol=1e-9,
                               equal_nan=True)


@pytest.mark.parametrize("by", [("intermediate",), ("family", "target")])
def test_the_frame_path_equals_the_reference_loop(by):
    """Per-language rows (a gain per language, no baseline seeds), as store.distance summarises them."""
    g = _store_rows(np.random.default_rng(5))
    rows = g.runs.filter(pl.col("language") != "avg").group_by(
        "model", "intermediate", "target", "target_type", "language", "family", maintain_order=True).agg(
        pl.col("value").mean().alias("gain"))
    got = summarize_gains(rows, by=by, n_boot=N_BOOT, keep_replicates=True)
    full = rows.with_columns(pl.col("gain").alias("value"), pl.lit(1).alias("seed"),
                             **{c: pl.lit("") for c in ("source", "label", "variant", "setting", "metric", "split",
                                                        "config_id", "config")})
    want = reference.summarize(full, None, by, n_boot=N_BOOT, complete_only=False)
    _same(got, want, by)


def test_a_runs_seed_draws_do_not_depend_on_the_languages_looked_at():
    """One run on one task: its task replicates are its per-language replicates (the same seed draws)
    combined with the task's language draw, exactly."""
    from store.intervals import LANGUAGES, _scale, draw_counts
    from store.strata import stream

    g = _store_rows(np.random.default_rng(3))
    one = GainRows(g.runs.filter((pl.col("model") == "m1") & (pl.col("intermediate") == "mnli")
                                 & (pl.col("target") == "xnli")), g.bases)
    per_lang = summarize_gains(one, by=("language",), n_boot=N_BOOT, keep_replicates=True).sort("language")
    task = summarize_gains(one, by=("target",), n_boot=N_BOOT, keep_replicates=True).row(0, named=True)
    langs = list(benchmark_languages("xnli", "xtreme"))
    by_lang = dict(zip(per_lang["language"], per_lang["reps"]))
    b = np.stack([by_lang[lang] for lang in langs], axis=1)  # n_boot x languages, in the task's order
    n = len(langs)
    counts = draw_counts(n, N_BOOT, (0, LANGUAGES, stream("xnli", *langs)))
    seed_part = b.mean(axis=1)
    expected = seed_part + _scale(n) * ((counts * b).sum(axis=1) / n - seed_part)
    assert np.abs(task["reps"] - expected).max() < 1e-10


def test_unique_without_a_sort_equals_numpys():
    from store.strata import _unique

    rng = np.random.default_rng(0)
    for _ in range(30):
        codes = rng.integers(0, 300, size=int(rng.integers(1, 2000)))
        want = np.unique(codes, return_index=True, return_inverse=True)
        for got, expected in zip(_unique(codes, 300), want):
            assert np.array_equal(got, expected)


def test_groups_coded_per_cell_equal_those_coded_per_row():
    """Keys that are a function of the cell (gain rows' cell columns and config) are coded on the cells'
    first rows: the same codes, in the same order of first appearance, as a group_by over every row."""
    from store import strata
    from store.analysis import CELL

    for seed in (5, 6):
        rows = _store_rows(np.random.default_rng(seed))
        runs = rows.runs.with_columns(pl.lit("").alias("config")).sample(fraction=1.0, shuffle=True, seed=seed)
        if seed == 6:  # cells coded by gain_rows' hash: codes in hash order, not in order of appearance
            runs = runs.with_columns(pl.struct(CELL).hash().alias("_cell"))
        g = GainRows(runs, rows.bases)
        p = g.prepared
        assert p.with_base
        for keys in (["intermediate", "config"], ["model", "target", "config"], ["config"], ["target", "model"]):
            want_codes, want_first = strata._codes(p.runs, keys)
            got_codes, got_first = strata._cell_group_codes(p, keys)
            assert want_codes.max() > 0 or keys == ["config"]
            assert np.array_equal(got_codes, want_codes) and np.array_equal(got_first, want_first)


def test_groups_coded_from_language_and_cell_codes_equal_a_group_by():
    """``language`` (with or without keys of the cell, and columns added per cell) is coded from the codes
    prepare already holds: the same codes, in the same order of first appearance, as a group_by."""
    from store import strata
    from store.analysis import CELL

    rows = _store_rows(np.random.default_rng(8))
    runs = rows.runs.sample(fraction=1.0, shuffle=True, seed=8).with_columns(pl.struct(CELL).hash().alias("_cell"))
    g = GainRows(runs, rows.bases).with_cell_columns(
        pl.when(pl.col("intermediate") == "anli").then(pl.lit("hard")).otherwise(None).alias("level"))
    p = g.prepared
    assert "level" in p.cell_columns
    for keys in (["language"], ["language", "target"], ["target", "language"], ["model", "language", "config"],
                 ["level", "target_type"], ["level", "language"], ["family"], ["family", "target"]):
        want_codes, want_first = strata._codes(p.runs, keys)
        got_codes, got_first = strata._group_codes(p, keys, CELL)
        assert np.array_equal(got_codes, want_codes), keys
        assert np.array_equal(got_first, want_first), keys


def test_cell_columns_give_the_summary_of_the_same_column_added_to_every_row():
    g = _store_rows(np.random.default_rng(9))
    level = pl.when(pl.col("intermediate").is_in(["anli", "mnli"])).then(pl.lit("nli")).otherwise(pl.lit("other"))
    per_cell = summarize_gains(g.with_cell_columns(level.alias("kind")), by=("kind", "target"), n_boot=N_BOOT)
    per_row = summarize_gains(GainRows(g.runs.with_columns(level.alias("kind")), g.bases), by=("kind", "target"),
                              n_boot=N_BOOT)
    assert per_cell.equals(per_row)


def test_summaries_sharing_their_rows_reuse_replicates_and_give_the_numbers_of_fresh_ones():
    """Every summary of one GainRows keeps its units' replicates over a language set (Prepared.memo);
    a later summary takes those of the same units, set and seeds: the same numbers as computing them."""
    groupings = [("intermediate", "target"), ("model", "intermediate"), ("target_type",), ("family",), ("intermediate",)]
    g = _store_rows(np.random.default_rng(12))
    shared = [summarize_gains(g, by=by, n_boot=N_BOOT) for by in groupings]
    assert g.prepared.memo  # kept
    kept = dict(g.prepared.memo)
    again = summarize_gains(g, by=("intermediate", "target"), n_boot=N_BOOT)
    assert g.prepared.memo.keys() == kept.keys()  # nothing new computed: every batch was there
    assert again.equals(shared[0])
    for by, got in zip(groupings, shared):
        fresh = summarize_gains(_store_rows(np.random.default_rng(12)), by=by, n_boot=N_BOOT)
        assert got.equals(fresh), by


def test_no_replicates_gives_the_same_means_and_counts_without_an_interval():
    g = _store_rows(np.random.default_rng(13))
    for by in (("intermediate", "target"), ("language",), ("target_type", "intermediate")):
        full = summarize_gains(g, by=by, n_boot=N_BOOT)
        means = summarize_gains(_store_rows(np.random.default_rng(13)), by=by, n_boot=0)
        assert means.drop("ci_low", "ci_high").equals(full.drop("ci_low", "ci_high"))
        assert means["ci_low"].null_count() == means.height == means["ci_high"].null_count()
        if by != ("target_type", "intermediate"):  # (that one: gaps, and a published average without interval)
            assert full["ci_low"].null_count() < full.height


def test_seed_positions_without_a_sort_equal_the_sorted_ones():
    from store import strata

    rng = np.random.default_rng(1)
    for _ in range(20):
        n_units = int(rng.integers(1, 40))
        unit = rng.integers(0, n_units, size=500)
        seeds = rng.choice([-1, 1, 2, 3, 7, 42], size=500)
        small = strata._seed_positions(unit, seeds, n_units)
        big = strata._seed_positions(unit, seeds + 10**9, n_units)  # a span too wide for the table: sorted
        assert np.array_equal(small[0], big[0]) and np.array_equal(small[1], big[1])
        assert [tuple(s - 10**9 for s in t) for t in big[2]] == small[2]


def test_a_row_written_twice_counts_once():
    """``n`` counts run values (cell, seed, language); a row the frame holds twice (the same seed
    written twice) is one value: the summary is the one without the copy."""
    g = _store_rows(np.random.default_rng(14))
    copy = g.runs.filter((pl.col("intermediate") == "mnli") & (pl.col("seed") == 2))
    twice = GainRows(pl.concat([g.runs, copy]), g.bases)
    for by in (("intermediate", "target"), ("language",)):
        assert summarize_gains(twice, by=by, n_boot=N_BOOT).equals(summarize_gains(g, by=by, n_boot=N_BOOT)), by


def test_codes_of_a_small_frame_equal_those_of_a_group_by():
    """Up to 5,000 rows _codes uses a dict instead of a group_by: the same codes in the same order of first
    appearance, nulls a value of their own."""
    from store import strata

    rng = np.random.default_rng(2)
    for n in (0, 1, 7, 300, 4_999):
        df = pl.DataFrame({"a": rng.choice(["x", "y", None], n).tolist(), "b": rng.choice([1, 2, None], n).tolist()},
                          schema={"a": pl.String, "b": pl.Int64})
        parts = df.with_row_index("_i").group_by(["a", "b"], maintain_order=True).agg(pl.col("_i"))
        want = np.empty(n, np.int64)
        want[parts["_i"].explode().drop_nulls().to_numpy()] = np.repeat(np.arange(parts.height),
                                                                        parts["_i"].list.len().to_numpy())
        codes, first = strata._codes(df, ["a", "b"])
        assert np.array_equal(codes, want)
        assert np.array_equal(first, parts["_i"].list.first().to_numpy().astype(np.int64) if n else np.zeros(0))
