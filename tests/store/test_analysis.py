import dataclasses
import math

import numpy as np
import polars as pl
import pytest

from store.analysis import (
    Filters, complexity_correlation, complexity_table, gain_rows, gains, human_ceiling, permutation_p, scores,
    simple_vs_complex, spearman, summarize_gains, target_means, task_gains,
)
from store.catalog import load_catalog
from store.database import Store
from store.records import DevScore, Result, Run

CAT = load_catalog()
XNLI = CAT.task_languages("xnli", "XTREME")  # 15
PAWSX = CAT.task_languages("pawsx", "XTREME")  # 7
LARGE = "xlm-roberta-large"

# (intermediate, seed) -> offset over the baseline on xnli (every XTREME language; de 2 points up)
DESIGN = {("none", 1): 0.0, ("none", 2): 2.0, ("mnli", 1): 4.0, ("mnli", 2): 6.0, ("squad", 1): 10.0,
          ("sst2", 1): -1.0, ("hellaswag", 1): 6.0}


def _xnli(inter, seed, offset, langs=XNLI, model=LARGE, **hparams):
    run = Run(model=model, intermediate=inter, target="xnli", seed=seed, hparams=hparams,
              dev_scores=(DevScore("intermediate", inter, "f1" if inter == "squad" else "accuracy", 90.0),)
              if inter != "none" else ())
    return run, [Result(lang, "accuracy", 70.0 + offset + (2.0 if lang == "de" else 0.0), n_examples=100)
                 for lang in langs]


@pytest.fixture(scope="module")
def st(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    with Store.open(root, read_only=False) as s:
        for (inter, seed), off in DESIGN.items():
            s.write_run(*_xnli(inter, seed, off))
        # another model's baseline must never be matched with xlm-roberta-large runs
        s.write_run(Run(model="other", intermediate="none", target="xnli", seed=1), [Result("de", "accuracy", 10.0)])
    with Store.open(root, read_only=True) as s:
        yield s


def test_scores_average_over_seeds(st):
    s = scores(st, Filters(sources=("runner",), intermediates=("mnli",), languages=("de",)))
    assert s.select("value", "n_seeds", "config", "capped").rows() == [(77.0, 2, "", False)]
    assert s["std"][0] == pytest.approx(math.sqrt(2))


def test_gains_match_same_model_target_language_metric_split(st):
    g = gains(st, Filters(sources=("runner",), models=(LARGE,)))
    row = g.filter(pl.col("intermediate") == "mnli", pl.col("language") == "de").row(0, named=True)
    assert (row["value"], row["baseline"], row["gain"], row["n_seeds"], row["baseline_n_seeds"]) == (77.0, 73.0, 4.0, 2, 2)
    assert g.filter(pl.col("intermediate") == "squad")["gain"].unique().to_list() == [9.0]
    assert "other" not in g["model"].to_list()


def test_per_seed_gains_keep_one_row_per_seed(st):
    g = gains(st, Filters(sources=("runner",), intermediates=("mnli",), models=(LARGE,)), per_seed=True)
    assert sorted(g.filter(pl.col("language") == "de")["gain"].to_list()) == [3.0, 5.0]


def test_summary_and_interval(st):
    s = summarize_gains(gain_rows(st, Filters(sources=("runner",), models=(LARGE,))), by=("intermediate",))
    d = dict(zip(s["intermediate"], s["mean_gain"]))
    assert d == pytest.approx({"hellaswag": 5.0, "mnli": 4.0, "squad": 9.0, "sst2": -2.0})
    sq = s.filter(pl.col("intermediate") == "squad").row(0, named=True)
    # one run seed: only the baseline's two seeds (70, 72 -> +-1 around 71) vary the gain
    assert sq["ci_low"] < 9.0 < sq["ci_high"] and sq["n"] == 15 and sq["n_languages"] == 15
    assert (sq["n_seeds"], sq["baseline_n_seeds"], sq["coverage"]) == (1, 2, "")


# ------------------------------------------------------------------ configurations
@pytest.fixture(scope="module")
def two_configs(tmp_path_factory):
    """The issue's case: mnli:xnli at two configurations (one capped), two seeds each, baselines alike."""
    root = tmp_path_factory.mktemp("configs")
    with Store.open(root, read_only=False) as s:
        for seed in (1, 2):
            s.write_run(*_xnli("none", seed, 0.0 + seed, learning_rate=1e-5))
            s.write_run(*_xnli("mnli", seed, 2.0 + seed, learning_rate=1e-5))
            s.write_run(*_xnli("none", seed, 0.0 + seed, learning_rate=1e-5, max_train_examples=100))
            s.write_run(*_xnli("mnli", seed, -30.0 + seed, learning_rate=1e-5, max_train_examples=100))
    with Store.open(root, read_only=True) as s:
        yield s


def test_configurations_are_never_pooled_and_seeds_are_counted_per_configuration(two_configs):
    f = Filters(sources=("runner",))
    s = scores(two_configs, Filters(sources=("runner",), languages=("en",), intermediates=("mnli",)))
    assert sorted(s.select("config", "capped", "value", "n_seeds").rows()) == [
        ("max_train_examples=(unset)", False, 73.5, 2), ("max_train_examples=100", True, 41.5, 2)]
    t = task_gains(two_configs, f).sort("config")
    assert t.select("config", "capped", "mean_gain", "n_seeds", "baseline_n_seeds").rows() == [
        ("max_train_examples=(unset)", False, pytest.approx(2.0), 2, 2),
        ("max_train_examples=100", True, pytest.approx(-30.0), 2, 2)]  # each against its own baseline
    paper = task_gains(two_configs, Filters(sources=("runner",), include_capped=False))
    assert paper.select("config", "mean_gain", "n_seeds").rows() == [("", pytest.approx(2.0), 2)]


def test_result_rows_come_in_a_fixed_order_whatever_order_the_store_holds_them(tmp_path):
    """Group order (first appearance), the order values are summed in and the points a Spearman interval
    resamples all follow the rows: they come sorted by run, split, metric and language, not in the order
    they were written or scanned."""
    from store.analysis import _query_rows

    langs = ("zh", "de", "en", "ar")  # written in this order
    with Store.open(tmp_path, read_only=False) as s:
        for inter, seed in (("mnli", 2), ("none", 1), ("mnli", 1)):
            s.write_run(*_xnli(inter, seed, float(seed), langs=langs))
    with Store.open(tmp_path, read_only=True) as s:
        got = _query_rows(s, Filters(sources=("runner",)))
        want = s.query("SELECT language, value FROM results_wide WHERE source = 'runner' "
                       "ORDER BY run_id, split, metric, language")
        written = s.query("SELECT language FROM results_wide WHERE source = 'runner'")
    assert written["language"].to_list()[:4] == list(langs)  # the store holds them unsorted
    assert got["language"].to_list() == want["language"].to_list()
    assert got["value"].to_list() == want["value"].to_list()


def test_single_task_gain_rows_are_the_gain_rows_of_single_tasks(tmp_path):
    from store.analysis import single_task

    with Store.open(tmp_path, read_only=False) as s:
        for inter, off in (("none", 0.0), ("mnli", 2.0), ("squad", 3.0), ("mnli+squad", 4.0), ("multitask", 5.0)):
            run, results = _xnli(inter, 1, off)
            s.write_run(dataclasses.replace(run, dev_scores=()) if not single_task(inter) else run, results)
    with Store.open(tmp_path, read_only=True) as s:
        f = Filters(sources=("runner",), models=(LARGE,))
        full, single = gain_rows(s, f), gain_rows(s, f, single_only=True)
    keep = [i for i in full.runs["intermediate"].unique().to_list() if single_task(i)]
    assert sorted(keep) == ["mnli", "squad"] and full.runs["intermediate"].n_unique() == 4
    assert single.runs.equals(full.runs.filter(pl.col("intermediate").is_in(keep)))
    assert summarize_gains(single, by=("intermediate",)).equals(
        summarize_gains(type(full)(single.runs, full.bases, full.benchmark), by=("intermediate",)))


def test_a_baseline_matches_only_the_same_target_phase_configuration(tmp_path):
    with Store.open(tmp_path, read_only=False) as s:
        s.write_run(*_xnli("none", 1, 0.0, learning_rate=1e-5))
        s.write_run(*_xnli("mnli", 1, 2.0, learning_rate=2e-5))  # another target-phase learning rate
        # intermediate-only settings (multi-task sampling, per-stage epochs of mnli) do not matter
        s.write_run(*_xnli("squad", 1, 3.0, learning_rate=1e-5, mix={"temperature": 2}, epochs_per_stage={"squad": 1}))
        g = gains(s, Filters(sources=("runner",)))
    assert set(g["intermediate"]) == {"squad"}


# ------------------------------------------------------------------ benchmark languages, averaging order
def test_a_missing_language_leaves_no_task_average_but_keeps_the_rows(tmp_path):
    with Store.open(tmp_path, read_only=False) as s:
        s.write_run(*_xnli("none", 1, 0.0))
        s.write_run(*_xnli("mnli", 1, 2.0, langs=XNLI[1:]))  # one XNLI language missing
        f = Filters(sources=("runner",), benchmark="xtreme")
        summary = summarize_gains(gain_rows(s, f), by=("intermediate", "target"))
        means = target_means(s, f).filter(pl.col("intermediate") == "mnli")
        per_language = gains(s, f)
    row = summary.row(0, named=True)
    assert row["mean_gain"] is None and row["ci_low"] is None
    assert row["coverage"] == "xnli: mnli and baseline cover 14 of 15 XTREME languages"
    assert means.select("value", "aggregation").rows() == [(None, "14 of 15 XTREME languages: no average")]
    assert per_language.height == 14 and set(per_language["gain"]) == {2.0}


def test_task_averages_are_over_the_chosen_benchmark_languages(tmp_path):
    xr_only = sorted(set(CAT.task_languages("xquad", "XTREME-R")) - set(CAT.task_languages("xquad", "XTREME")))
    assert xr_only == ["ro"]
    with Store.open(tmp_path, read_only=False) as s:
        for inter, v in (("none", 70.0), ("squad", 75.0)):
            s.write_run(Run(model=LARGE, intermediate=inter, target="xquad", seed=1),
                        [Result(lang, "f1", v + (10.0 if lang == "ro" else 0.0)) for lang in CAT.task_languages("xquad")])
        x = target_means(s, Filters(sources=("runner",), benchmark="xtreme", intermediates=("squad",)))
        r = target_means(s, Filters(sources=("runner",), benchmark="xtreme-r", intermediates=("squad",)))
    assert x.select("value", "n_languages", "aggregation").rows() == [(75.0, 11, "mean over the 11 XTREME languages")]
    assert r.select("value", "n_languages").rows() == [(pytest.approx(75.0 + 10 / 12), 12)]


def test_task_first_average_differs_from_the_row_pooled_one(tmp_path):
    """PAWS-X (7 languages) gains +1, XNLI (15 languages) +4: XTREME's average is (1 + 4) / 2 = 2.5,
    pooling the 22 language rows would give (7 x 1 + 15 x 4) / 22 = 3.045."""
    with Store.open(tmp_path, read_only=False) as s:
        for target, langs, gain in (("pawsx", PAWSX, 1.0), ("xnli", XNLI, 4.0)):
            for inter, v in (("none", 80.0), ("mnli", 80.0 + gain)):
                s.write_run(Run(model=LARGE, intermediate=inter, target=target, seed=1),
                            [Result(lang, "accuracy", v) for lang in langs])
        g = gain_rows(s, Filters(sources=("runner",)))
    task_first = summarize_gains(g, by=("intermediate",))["mean_gain"][0]
    row_pooled = float(g.runs["value"].mean()) - 80.0
    assert task_first == pytest.approx(2.5) and row_pooled == pytest.approx(67 / 22)


@pytest.mark.parametrize(
    "x, y, rho",
    [([1, 2, 3, 4], [1, 2, 3, 4], 1.0), ([1, 2, 3, 4], [4, 3, 2, 1], -1.0), ([1, 2, 3], [1, 1, 1], math.nan),
     ([1, 2], [2, 1], math.nan), ([1, 2, 2, 3], [1, 2, 3, 4], 0.9486832980505138), ([10, 20, 30, 40, 50], [5, 6, 7, 8, 7], 0.8207826816681233)],
)
def test_spearman_table(x, y, rho):
    got = spearman(x, y)
    assert (math.isnan(got) and math.isnan(rho)) or got == pytest.approx(rho)


def test_complexity_axes(st):
    c = complexity_table(st).sort("task")
    row = {r["task"]: r for r in c.iter_rows(named=True)}
    assert row["squad"]["format_rank"] == 5 and row["sst2"]["format_rank"] == 1 and row["ccg"]["format_rank"] is None
    # C: one ceiling rule for every task (100), the human score only shown beside
    assert row["mnli"]["c_measured"] == pytest.approx(100 * (1 - (90 - 100 / 3) / (100 - 100 / 3)))
    assert {r["ceiling"] for r in row.values()} == {100.0} and row["mnli"]["human_ceiling"] == 92.0
    assert row["anli"]["c_measured"] is None and row["anli"]["c_flag"] == ""
    # B leaves training-set size out (the largest sets, MNLI and QQP, are not the most complex); D is it
    assert 0 <= row["sst2"]["b_composite"] < row["squad"]["b_composite"] <= 1
    assert row["mnli"]["train_size"] > row["cosmosqa"]["train_size"]
    assert row["mnli"]["b_composite"] < row["cosmosqa"]["b_composite"]


def test_c_flags_negative_headroom_against_the_human_score(tmp_path):
    with Store.open(tmp_path, read_only=False) as s:
        # qqp's published human score is below this dev score: flagged, and C still uses the one rule
        run = Run(model=LARGE, intermediate="qqp", target="xnli", seed=1,
                  dev_scores=(DevScore("intermediate", "qqp", "accuracy", 91.5),))
        s.write_run(run, [Result("de", "accuracy", 70.0)])
        row = complexity_table(s).filter(pl.col("task") == "qqp").row(0, named=True)
    assert row["human_ceiling"] < 91.5 and "negative headroom" in row["c_flag"]
    assert row["c_measured"] == pytest.approx(100 * (1 - (91.5 - 50) / 50))


def test_correlation_with_format_level(st):
    summary = summarize_gains(gain_rows(st, Filters(sources=("runner",), models=(LARGE,))), by=("target_type", "intermediate"))
    r = complexity_correlation(summary, complexity_table(st), axis="A").row(0, named=True)
    # format ranks sst2 1, mnli 2, hellaswag 3, squad 5 vs gains -2, 4, 5, 9: perfectly monotone
    assert r["target_type"] == "classification" and r["rho"] == pytest.approx(1.0) and r["n"] == 4
    # exact permutation test: 2 of the 24 orderings are as extreme (rho = +1 and -1)
    assert r["p_value"] == pytest.approx(2 / 24) and r["p_method"] == "exact, 24 orderings" and r["n_targets"] == 1


@pytest.mark.parametrize("n", [8, 9])
def test_exact_permutation_p_counted_half_against_half_equals_every_ordering(n):
    """8 and 9 points: the orderings are counted half against half (integer sums); the p-value is the one
    every ordering gives, ties included."""
    import itertools

    from store.complexity import _ranks

    rng = np.random.default_rng(n)
    for trial in range(25):
        x = rng.integers(1, 6, n).astype(float) if trial % 2 else rng.normal(size=n)
        y = -x if trial == 3 else rng.integers(1, 4, n).astype(float) if trial % 3 == 0 else rng.normal(size=n)
        ra, rb = _ranks(x) - (n + 1) / 2, _ranks(y) - (n + 1) / 2
        if not ra.any() or not rb.any():
            continue
        perms = np.array(list(itertools.permutations(range(n))), np.int8)
        sums = rb[perms] @ ra
        want = float(np.mean(np.abs(sums) >= abs(float(rb @ ra)) - 1e-9))
        assert permutation_p(x, y) == (want, f"exact, {len(perms)} orderings"), (x, y)


def test_permutation_p_with_ties_and_above_nine_points():
    from store.analysis import permutation_p

    p, how = permutation_p([1, 2, 2, 2, 3, 3, 4, 5, 5], [0.1, 0.4, -0.2, 0.3, 0.5, 0.2, 0.9, 0.6, 1.1])
    assert how == "exact, 362880 orderings" and 0 < p < 0.05
    p10, how10 = permutation_p(list(range(10)), list(range(10)), n_perm=20_000)
    assert how10 == "Monte Carlo, 20000 orderings" and p10 < 0.001


def test_simple_vs_complex(st):
    s = simple_vs_complex(gain_rows(st, Filters(sources=("runner",), models=(LARGE,))), complexity_table(st))
    d = dict(zip(s["complexity"], s["mean_gain"]))
    assert d["simple (1-2)"] == pytest.approx(1.0) and d["complex (3-5)"] == pytest.approx(7.0)


def test_target_means_prefer_published_averages(st):
    m = target_means(st, Filters(sources=("fairseq_xlmr_readme",), models=(LARGE,)))
    assert m.select("target", "value", "aggregation").rows() == [("mlqa", 70.7, "as published (XTREME)")]
    r = target_means(st, Filters(sources=("runner",), intermediates=("squad",)))
    assert r.select("value", "n_languages").rows() == [(80.0 + 2 / 15, 15)]


def test_settings_are_never_mixed(st):
    s = scores(st, Filters(sources=("fairseq_xlmr_readme",), targets=("xnli",)))
    assert s.is_empty()  # XNLI rows of that source are translate-test / translate-train-all only
    t = scores(st, Filters(sources=("fairseq_xlmr_readme",), targets=("xnli",), settings=("translate-test",)))
    assert set(t["setting"]) == {"translate-test"}


@pytest.mark.parametrize("hostile", ["'; DROP TABLE results; --", "x' OR '1'='1", "\\", "%", "ë🙂"])
def test_hostile_filter_values_are_parameters(st, hostile):
    before = st.query("SELECT count(*) AS n FROM results")["n"][0]
    assert scores(st, Filters(models=(hostile,), languages=(hostile,))).is_empty()
    assert st.query("SELECT count(*) AS n FROM results")["n"][0] == before


def test_filters_reject_a_bare_string():
    with pytest.raises(TypeError, match="tuple of strings"):
        Filters(models="xlm-roberta-large")


@pytest.mark.parametrize("cell, metric, expected", [("92.0 / 92.8 (m/mm)", "accuracy", 92.0), ("59.5 F1 / 80.4 acc", "accuracy", 80.4),
                                                    (">95", "accuracy", 95.0), ("86.8 F1", "f1", 86.8), ("", "f1", None)])
def test_human_ceiling(cell, metric, expected):
    assert human_ceiling(cell, metric) == expected


def _spearman_ci_reference(x, y, n_boot, seed):
    """The plain loop the vectorised interval must agree with."""
    a, b = np.asarray(x, float), np.asarray(y, float)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, a.size, size=(n_boot, a.size))
    rhos = [r for r in (spearman(a[k], b[k]) for k in i) if not math.isnan(r)]
    return float(np.quantile(rhos, 0.025)), float(np.quantile(rhos, 0.975))


@pytest.mark.parametrize("seed", range(8))
def test_vectorised_spearman_ci_equals_the_loop(seed):
    from store.analysis import spearman_ci

    rng = np.random.default_rng(100 + seed)
    x = rng.integers(1, 6, size=9).astype(float)  # format levels: many ties
    y = np.round(rng.normal(size=9), 1)
    lo, hi = spearman_ci(x, y, n_boot=300, seed=seed)
    ref = _spearman_ci_reference(x, y, 300, seed)
    assert (lo, hi) == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("size", [2, 7, 150])
def test_draw_counts_equal_the_indexed_resamples(size):
    """The count-matrix shortcut draws exactly the resamples of rng.integers, as indexing would."""
    from store.intervals import draw_counts

    x = np.random.default_rng(size).normal(size=size)
    idx = np.random.default_rng([5, 1]).integers(0, size, size=(400, size))
    assert draw_counts(size, 400, (5, 1)) @ x / size == pytest.approx(x[idx].mean(axis=1), abs=1e-12)


@pytest.mark.parametrize("fixture", ["st", "two_configs"])
def test_seed_means_by_cell_hash_equal_those_by_every_column(fixture, request):
    """gains_of groups gain rows by their cell hash and language: the same rows as by every column."""
    from store.analysis import _GROUP, _cell_seed_means, _seed_means

    g = gain_rows(request.getfixturevalue(fixture), Filters(sources=("runner",)))
    cols = [*_GROUP, "base_id"]
    want = _seed_means(g.runs, ["base_id"]).sort(cols, nulls_last=True)
    got = _cell_seed_means(g.runs).sort(cols, nulls_last=True)
    assert got.height > 1 and got.equals(want)


# ------------------------------------------------------------------ rows materialised per store state
class _QueryOnly:
    """The store without its folder: :func:`store.analysis._rows` queries with every filter (no derived cache)."""

    def __init__(self, store):
        self.query = store.query


def _canonical(df: pl.DataFrame) -> pl.DataFrame:
    if "coverage" in df.columns:  # notes joined in the rows' first-appearance order, which no query fixes
        df = df.with_columns(pl.col("coverage").str.split("; ").list.sort().list.join("; "))
    keys = [c for c, t in df.schema.items() if not t.is_float()]
    return df.sort([*keys, *(c for c in df.columns if c not in keys)], nulls_last=True)


SELECTIONS = [
    Filters(sources=("runner",)),
    Filters(sources=("runner",), models=(LARGE,), languages=("de", "fr", "sw")),
    Filters(sources=("runner",), include_capped=False),
    Filters(intermediates=("mnli",), families=("Indo-European",), benchmark="xtreme-r"),
    Filters(sources=("runner", "xtreme"), targets=("xnli",), headline_only=False, splits=("test",)),
    # filters of whole pairs only: the whole slice's kept gain rows, filtered
    Filters(models=(LARGE,), sources=("runner",), target_types=("classification",), intermediates=("mnli", "squad"),
            variants=("",)),
]


@pytest.mark.parametrize("fixture", ["st", "two_configs"])
@pytest.mark.parametrize("f", SELECTIONS, ids=range(len(SELECTIONS)))
def test_materialised_rows_give_the_numbers_of_the_query_with_every_filter(fixture, f, request):
    s = request.getfixturevalue(fixture)
    selections = [f]
    if fixture == "two_configs":  # filter by one configuration: its pair then has one, labelled ''
        cid = scores(s, Filters(sources=("runner",), intermediates=("mnli",))).sort("config")["config_id"][0]
        selections.append(dataclasses.replace(f, configs=(cid,)))
    for sel in selections:
        direct, kept = gain_rows(_QueryOnly(s), sel), gain_rows(s, sel)
        assert direct.runs.columns == kept.runs.columns and direct.bases.columns == kept.bases.columns
        assert _canonical(kept.runs).equals(_canonical(direct.runs))
        assert _canonical(kept.bases).equals(_canonical(direct.bases))
        assert gains(s, sel).equals(gains(_QueryOnly(s), sel))
        assert scores(s, sel).equals(scores(_QueryOnly(s), sel))
        if not direct.runs.is_empty():
            for by in (("intermediate", "target"), ("language",)):
                want = _canonical(summarize_gains(direct, by=by, n_boot=200))
                got = _canonical(summarize_gains(kept, by=by, n_boot=200))
                assert got.drop(pl.selectors.float()).equals(want.drop(pl.selectors.float()))
                for c in want.select(pl.selectors.float()).columns:  # sums in another order: equal to ~1e-16
                    a, b = got[c], want[c]
                    assert a.is_null().equals(b.is_null())
                    assert (((a - b).abs() <= 1e-12 * (1 + b.abs())) | (a.is_nan() & b.is_nan())).fill_null(True).all()
    assert selections[-1] == f or gain_rows(s, selections[-1]).runs["config"].unique().to_list() == [""]


def test_a_new_run_changes_the_materialised_rows_and_complexity(tmp_path):
    from store.derived import cache_dir

    f = Filters(sources=("runner",), models=(LARGE,))
    with Store.open(tmp_path, read_only=False) as s:
        s.write_run(*_xnli("none", 1, 0.0))
        s.write_run(*_xnli("mnli", 1, 2.0))
        before, c_before = gains(s, f), complexity_table(s, LARGE)
        kept = sorted(p.name for p in cache_dir(tmp_path).glob("result_rows-*.arrow"))
        assert kept and gains(s, f).equals(before)  # read back
        s.write_run(*_xnli("mnli", 2, 6.0))
        s.write_run(*_xnli("squad", 1, 3.0))  # squad gets an axis-C value (its English dev score)
        after, c_after = gains(s, f), complexity_table(s, LARGE)
        assert after.filter(pl.col("language") == "de", pl.col("intermediate") == "mnli")["value"].to_list() == [76.0]  # (74 + 78) / 2: both seeds
        assert before.filter(pl.col("language") == "de")["value"].to_list() == [74.0]
        assert c_after.equals(complexity_table(_QueryOnly(s), LARGE)) and not c_after.equals(c_before)
        assert not set(kept) & {p.name for p in cache_dir(tmp_path).glob("result_rows-*.arrow")}  # old state's gone


def test_gain_rows_of_a_whole_slice_are_kept_per_store_state_with_their_codes(tmp_path, monkeypatch):
    """With no filter beyond the slice's model, setting, split and headline metric, the matched rows and
    their strata codes are computed once per store state: read back, they give the same rows, codes and
    summaries as computing them (and as the store without its folder), and a new run changes them."""
    from store import analysis, strata
    from store.analysis import CELL
    from store.derived import cache_dir

    f = Filters(models=(LARGE,), settings=("zero-shot",), splits=("test",))
    with Store.open(tmp_path, read_only=False) as s:
        for (inter, seed), off in DESIGN.items():
            s.write_run(*_xnli(inter, seed, off))
        for single_only in (False, True):
            made = gain_rows(s, f, single_only)
            assert {p.suffix for p in cache_dir(tmp_path).glob("gain_*")} == {".arrow", ".arrays"}
            real = analysis._gain_rows
            monkeypatch.setattr(analysis, "_gain_rows", lambda *a: pytest.fail("kept rows were computed again"))
            kept = gain_rows(s, f, single_only)
            monkeypatch.setattr(analysis, "_gain_rows", real)
            fresh = gain_rows(_QueryOnly(s), f, single_only)
            for g in (made, kept):
                assert g.runs.equals(fresh.runs) and g.bases.equals(fresh.bases)
                got, want = strata.to_arrays(g.prepared, CELL), strata.to_arrays(fresh.prepared, CELL)
                assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in want)
                for by in (("intermediate",), ("language",), ("target_type", "intermediate")):
                    assert summarize_gains(g, by=by).equals(summarize_gains(fresh, by=by))
        n_before = summarize_gains(gain_rows(s, f), by=("intermediate",))["n"].to_list()
        s.write_run(*_xnli("mnli", 3, 5.0))
        after = summarize_gains(gain_rows(s, f), by=("intermediate",))
        assert after["n"].to_list() != n_before
        assert after.equals(summarize_gains(gain_rows(_QueryOnly(s), f), by=("intermediate",)))
