"""Paired statistics against hand-computed cases; alignment refusing mismatched example sets."""

import itertools
import math

import numpy as np
import polars as pl
import pytest

from store import paired
from store.errors import StoreError


# ------------------------------------------------------------------ exact McNemar
@pytest.mark.parametrize(
    "b, c, expected",
    [
        (2, 8, 2 * (1 + 10 + 45) / 1024),  # 0.109375
        (0, 6, 2 / 64),  # the most extreme table of 6 discordant pairs
        (1, 9, 2 * (1 + 10) / 1024),
        (3, 3, 1.0),  # balanced: capped at 1
        (0, 0, 1.0),  # no discordant pair: no evidence
        (7, 2, 2 * (1 + 9 + 36) / 512),
    ],
)
def test_mcnemar_exact_matches_hand_computed_binomial_tails(b, c, expected):
    assert paired.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_log_space_agrees_with_exact_integers_above_the_switch():
    b, c = 480, 560  # n = 1040 > the exact limit: log-space path
    exact = min(1.0, 2 * sum(math.comb(b + c, i) for i in range(b + 1)) / 2 ** (b + c))
    assert paired.mcnemar_exact(b, c) == pytest.approx(exact, rel=1e-9)
    assert paired.mcnemar_exact(c, b) == paired.mcnemar_exact(b, c)


def test_mcnemar_agrees_with_scipy_binomtest_where_scipy_is_installed():
    stats = pytest.importorskip("scipy.stats")
    for b, c in [(4, 15), (30, 45), (600, 700)]:
        assert paired.mcnemar_exact(b, c) == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


# ------------------------------------------------------------------ paired bootstrap
def _span_f1_case():
    # (tp, n_pred, n_gold) per example. Baseline: F1 = 2*3 / (5 + 5) = 60; run: every span right, 100.
    base = np.array([[1, 2, 2], [0, 1, 1], [2, 2, 2]], dtype=float)
    run = np.array([[2, 2, 2], [1, 1, 1], [2, 2, 2]], dtype=float)
    return 2 * base[:, 0], base[:, 1] + base[:, 2], 2 * run[:, 0], run[:, 1] + run[:, 2]


def _exact_bootstrap_deltas(bn, bd, rn, rd):
    """All n**n equally likely resamples of a tiny case, enumerated."""
    n = len(bn)
    out = []
    for idx in itertools.product(range(n), repeat=n):
        i = list(idx)
        base = 100 * bn[i].sum() / bd[i].sum() if bd[i].sum() else 0.0
        run = 100 * rn[i].sum() / rd[i].sum() if rd[i].sum() else 0.0
        out.append(run - base)
    return np.array(out)


@pytest.mark.parametrize("method", ["index", "multinomial"])
def test_paired_bootstrap_on_a_small_span_f1_case(method):
    bn, bd, rn, rd = _span_f1_case()
    boot = paired.paired_bootstrap(100 * bn, bd, 100 * rn, rd, n_boot=20000, seed=3, method=method)
    assert boot.baseline == pytest.approx(60.0) and boot.run == pytest.approx(100.0) and boot.delta == pytest.approx(40.0)
    exact = _exact_bootstrap_deltas(bn, bd, rn, rd)
    # By hand: the run is perfect in every resample; the baseline too only when all three draws are
    # example 3 (1/27), so P(delta* <= 0) = 1/27, and delta* = 100 when all draws are example 2 (1/27).
    assert (exact <= 0).mean() == pytest.approx(1 / 27)
    assert boot.p_value == pytest.approx(2 / 27, abs=0.01)
    # 1/27 = 3.7% > 2.5% at both ends: the 95% interval is exactly [0, 100].
    assert (boot.ci_low, boot.ci_high) == (0.0, 100.0)


def test_paired_bootstrap_identical_systems_and_tiny_inputs():
    x = np.array([100.0, 0.0, 100.0, 100.0])
    ones = np.ones(4)
    same = paired.paired_bootstrap(x, ones, x, ones, n_boot=500)
    assert (same.delta, same.ci_low, same.ci_high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    one = paired.paired_bootstrap(x[:1], ones[:1], x[:1], ones[:1])
    assert math.isnan(one.ci_low) and one.delta == 0.0


def test_paired_bootstrap_mean_metric_interval_covers_the_exact_bootstrap_quantiles():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 100, 200)
    run = np.clip(base + rng.normal(3, 10, 200), 0, 100)
    boot = paired.paired_bootstrap(base, np.ones(200), run, np.ones(200), n_boot=4000, seed=1)
    assert boot.resampling == "poisson"  # 200 continuous scores: Poisson weights (>= POISSON_MIN)
    d = run - base
    se = d.std(ddof=0) / math.sqrt(200)  # the bootstrap's standard error, by hand
    assert boot.delta == pytest.approx(d.mean())
    assert boot.ci_low == pytest.approx(d.mean() - 1.96 * se, abs=0.25 * se * 1.96)
    assert boot.ci_high == pytest.approx(d.mean() + 1.96 * se, abs=0.25 * se * 1.96)


# ------------------------------------------------------------------ Poisson bootstrap
def test_poisson_weights_are_poisson_1_to_a_65536th():
    w = paired.poisson_weights(np.arange(65536, dtype=np.uint16))  # every 16-bit number once
    counts = np.bincount(w)
    pmf = np.array([math.exp(-1) / math.factorial(k) for k in range(9)])
    assert counts.sum() == 65536 and counts.size == 9
    assert np.abs(counts / 65536 - pmf).max() < 1 / 65536  # each probability to within 1/65,536
    assert w.mean() == 1.0 and w.var() == pytest.approx(1.0, abs=1e-4)


def test_poisson_weight_sums_are_one_weight_matrix_times_each_group_s_columns():
    rng = np.random.default_rng(0)
    ext = np.array([1500, 700, 1024, 3])  # rows in use per column: across the block edge, inside, on it
    cols = rng.integers(0, 50, (1500, 4)).astype(float) * (np.arange(1500)[:, None] < ext)
    gen = np.random.default_rng(9)  # the weights by hand: 16-bit numbers, block after block of 1,024 examples
    w = np.hstack([paired.poisson_weights(gen.bit_generator.random_raw(8 * 1024 // 4).view(np.uint16)).reshape(8, 1024)
                   for _ in range(2)])[:, :1500].astype(float)
    short = cols[:700, 1:2]  # a group alone: the same weights for its examples
    got, alone = paired.poisson_weight_sums([cols, short], n_boot=8, seed=9, extents=[ext, np.array([700])])
    assert got == pytest.approx(w @ cols, rel=1e-6)
    assert alone[:, 0] == pytest.approx(got[:, 1], rel=1e-6)


def _span_f1_parts(n, rng):
    """Sentences with 1 + Poisson(4) gold spans; the run finds a sixth of what the baseline misses
    and sometimes predicts one span too many. True F1: baseline 70, run 100 * 7.5 / 10.5."""
    g = 1 + rng.poisson(4, n)
    bt = rng.binomial(g, 0.7)
    rt = bt + rng.binomial(g - bt, 1 / 6)
    return 200.0 * bt, 2.0 * g, 200.0 * rt, 2.0 * g + rng.binomial(1, 0.5, n)


SPAN_F1_TRUE_DELTA = 100 * (7.5 / 10.5 - 0.7)


def _qa_f1_parts(n, rng):
    """Per-question F1: baseline 100 sqrt(U) (mean 200/3), run 0.9 baseline + 10 Bernoulli(0.8) (mean 68)."""
    b = 100 * np.sqrt(rng.random(n))
    return b, np.ones(n), 0.9 * b + 10 * rng.binomial(1, 0.8, n), np.ones(n)


QA_F1_TRUE_DELTA = 68 - 200 / 3


@pytest.mark.parametrize("make", [_span_f1_parts, _qa_f1_parts])
@pytest.mark.parametrize("n", [300, 2000])
def test_poisson_bootstrap_agrees_with_the_classic_paired_bootstrap(make, n):
    # The classic bootstrap (n indices drawn with replacement) beside the Poisson one on the same
    # data, 2,000 resamples each: interval ends within 15% of the classic half-width, widths
    # within 15% (Monte Carlo error alone is ~3% of the half-width per end at 2,000 resamples).
    for rep in range(3):
        parts = make(n, np.random.default_rng(rep))
        classic = paired.paired_bootstrap(*parts, n_boot=2000, seed=rep, method="index")
        poisson = paired.paired_bootstrap(*parts, n_boot=2000, seed=rep, method="poisson")
        assert (classic.resampling, poisson.resampling) == ("index", "poisson")
        assert poisson.delta == classic.delta
        half = (classic.ci_high - classic.ci_low) / 2
        assert abs(poisson.ci_low - classic.ci_low) <= 0.15 * half
        assert abs(poisson.ci_high - classic.ci_high) <= 0.15 * half
        assert (poisson.ci_high - poisson.ci_low) / (2 * half) == pytest.approx(1.0, abs=0.15)


def test_poisson_bootstrap_p_value_agrees_with_the_classic_near_the_null():
    rng = np.random.default_rng(7)
    b = 100 * np.sqrt(rng.random(500))
    r = np.clip(b + rng.normal(1.0, 15, 500), 0, 100)  # a small true gain: p well inside (0, 1)
    classic = paired.paired_bootstrap(b, np.ones(500), r, np.ones(500), n_boot=4000, seed=1, method="index")
    poisson = paired.paired_bootstrap(b, np.ones(500), r, np.ones(500), n_boot=4000, seed=1, method="poisson")
    assert 0.05 < classic.p_value < 0.95
    assert poisson.p_value == pytest.approx(classic.p_value, abs=0.05)


@pytest.mark.parametrize("make, true_delta", [(_span_f1_parts, SPAN_F1_TRUE_DELTA), (_qa_f1_parts, QA_F1_TRUE_DELTA)])
def test_poisson_bootstrap_95_percent_interval_covers_the_true_delta_95_percent_of_the_time(make, true_delta):
    # 400 simulated pairs of 300 examples with a known population delta; the binomial standard
    # error of the coverage is 1.1 points, the band is +-3 points.
    covered = 0
    for rep in range(400):
        boot = paired.paired_bootstrap(*make(300, np.random.default_rng(10_000 + rep)), n_boot=1000, seed=rep)
        assert boot.resampling == "poisson"
        covered += boot.ci_low <= true_delta <= boot.ci_high
    assert 0.92 <= covered / 400 <= 0.98


def _two_languages(n=400):
    rng = np.random.default_rng(5)
    frames = []
    for lang in ("de", "fr"):
        b = 100 * np.sqrt(rng.random(n))
        r = np.clip(b + rng.normal(2, 20, n), 0, 100)
        ids = [f"q{i:04d}" for i in range(n)]
        words = rng.integers(3, 30, n)
        frames.append((_preds(ids, b > 50, lang, f1=b, n_words=words), _preds(ids, r > 50, lang, f1=r, n_words=words)))
    base = pl.concat([f[0] for f in frames])
    run = pl.concat([f[1] for f in frames])
    return paired.align(base, run)


def test_one_weight_matrix_leaves_each_language_its_own_bootstrap_and_is_seed_deterministic():
    a = _two_languages()
    tests = paired.language_tests(a, "f1", n_boot=500, seed=3)
    assert tests["resampling"].to_list() == ["poisson", "poisson"]
    for row in tests.iter_rows(named=True):
        lang = a.filter(pl.col("language") == row["language"])
        alone = paired.paired_bootstrap(lang["f1_base"].to_numpy(), np.ones(lang.height), lang["f1_run"].to_numpy(),
                                        np.ones(lang.height), n_boot=500, seed=3)
        # a group's weights depend on (seed, resample, its examples' ranks) only
        assert (row["ci_low"], row["ci_high"], row["p_value"]) == (
            pytest.approx(alone.ci_low, rel=1e-6), pytest.approx(alone.ci_high, rel=1e-6), pytest.approx(alone.p_value))
    assert tests.equals(paired.language_tests(a, "f1", n_boot=500, seed=3))  # same inputs, same numbers
    assert not tests["ci_low"].equals(paired.language_tests(a, "f1", n_boot=500, seed=4)["ci_low"])
    b = paired.buckets(a, "n_words")
    together = paired.tests_and_gains(a, "f1", b, n_boot=500, seed=3, attribute="n_words")
    assert together[0].equals(tests)
    assert together[1].equals(paired.bucket_gains(a, "f1", "n_words", n_boot=500, seed=3, bucketed=b))
    assert set(together[1]["attribute"]) == {"n_words"} and together[1].height == 6
    bucket = together[1].row(0, named=True)
    rows = b.filter((pl.col("language") == bucket["language"]) & (pl.col("bucket") == bucket["bucket"]))["_row"]
    mine = a[rows.to_list()]
    assert mine.height == bucket["n"] >= paired.POISSON_MIN
    alone = paired.paired_bootstrap(mine["f1_base"].to_numpy(), np.ones(mine.height), mine["f1_run"].to_numpy(),
                                    np.ones(mine.height), n_boot=500, seed=3)
    assert (bucket["ci_low"], bucket["ci_high"]) == (pytest.approx(alone.ci_low, rel=1e-6), pytest.approx(alone.ci_high, rel=1e-6))


# ------------------------------------------------------------------ alignment
def _preds(ids, correct, lang="de", **extra):
    return pl.DataFrame({"split": "test", "language": lang, "example_id": ids, "correct": correct, **extra})


def test_alignment_joins_by_example_id_not_by_position():
    base = _preds(["a", "b", "c"], [True, False, False], text=["x a", "x b", "x c"])
    run = _preds(["c", "a", "b"], [True, True, True])
    a = paired.align(base, run)
    assert a["example_id"].to_list() == ["a", "b", "c"]
    assert a["correct_base"].to_list() == [True, False, False]
    assert a["correct_run"].to_list() == [True, True, True]


@pytest.mark.parametrize(
    "run_ids, message",
    [
        (["a", "b"], r"1 only in baseline \(de 1; e\.g\. 'c'\)"),
        (["a", "b", "c", "d"], r"1 only in run \(de 1; e\.g\. 'd'\)"),
        (["a", "b", "z"], r"1 only in run .*1 only in baseline"),
    ],
)
def test_alignment_refuses_mismatched_example_sets(run_ids, message):
    base = _preds(["a", "b", "c"], [True, False, False])
    run = _preds(run_ids, [True] * len(run_ids))
    with pytest.raises(StoreError, match=message):
        paired.align(base, run)


def test_alignment_refuses_a_language_the_other_side_lacks_and_duplicate_ids():
    base = _preds(["a"], [True])
    run = pl.concat([_preds(["a"], [True]), _preds(["a"], [False], lang="fr")])
    with pytest.raises(StoreError, match="fr 1"):
        paired.align(base, run)
    with pytest.raises(StoreError, match="repeat an example id"):
        paired.align(_preds(["a", "a"], [True, False]), _preds(["a"], [True]))


# ------------------------------------------------------------------ per-language tests, buckets, flips
def test_language_tests_count_flips_and_use_mcnemar_for_accuracy():
    # de: 2 gained, 8 lost, 5 both right, 5 both wrong.
    base = [False] * 2 + [True] * 8 + [True] * 5 + [False] * 5
    run = [True] * 2 + [False] * 8 + [True] * 5 + [False] * 5
    ids = [f"e{i:02d}" for i in range(20)]
    a = paired.align(_preds(ids, base), _preds(ids, run))
    t = paired.language_tests(a, "accuracy", n_boot=200).row(0, named=True)
    assert (t["gained"], t["lost"], t["n"]) == (2, 8, 20)
    assert t["test"] == "exact McNemar" and t["p_value"] == pytest.approx(0.109375)
    assert t["baseline"] == pytest.approx(65.0) and t["run"] == pytest.approx(35.0) and t["delta"] == pytest.approx(-30.0)
    assert t["ci_low"] < -30 < t["ci_high"] < 0 + 1e-9


def test_qa_f1_uses_the_bootstrap_and_the_mean_of_example_f1():
    ids = ["q1", "q2", "q3", "q4"]
    base = _preds(ids, [True, False, False, False], f1=[100.0, 50.0, 0.0, 20.0], em=[100.0, 0.0, 0.0, 0.0])
    run = _preds(ids, [True, True, False, False], f1=[100.0, 100.0, 40.0, 20.0], em=[100.0, 100.0, 0.0, 0.0])
    t = paired.language_tests(paired.align(base, run), "f1", n_boot=300).row(0, named=True)
    assert t["test"] == "paired bootstrap"
    assert (t["baseline"], t["run"]) == (pytest.approx(42.5), pytest.approx(65.0))
    assert t["gained"] == 1 and t["lost"] == 0


def test_numeric_buckets_are_ranges_shared_by_languages_and_label_types_explode():
    ids = [f"e{i}" for i in range(6)]
    frame = pl.concat([
        _preds(ids, [True] * 6, n_words=[1, 2, 3, 10, 11, 30], label_types=["PER", "PER,LOC", "", "LOC", "ORG", "PER"]),
        _preds(ids, [False] * 6, lang="fr", n_words=[1, 2, 3, 10, 11, 30], label_types=["PER"] * 6),
    ])
    a = paired.align(frame, frame)
    b = paired.buckets(a, "n_words")
    labels = dict(zip(b.filter(pl.col("language") == "de")["example_id"], b.filter(pl.col("language") == "de")["bucket"]))
    assert labels == {"e0": "1-3", "e1": "1-3", "e2": "1-3", "e3": "4-11", "e4": "4-11", "e5": ">= 12"}
    types = paired.buckets(a, "label_types").filter(pl.col("language") == "de")
    assert sorted(types.filter(pl.col("example_id") == "e1")["bucket"]) == ["LOC", "PER"]
    assert "e2" not in types["example_id"].to_list()  # no entity: in no type bucket


def test_bucket_gains_and_flips_by_hand():
    ids = ["s1", "s2", "l1", "l2"]
    base = _preds(ids, [False, True, False, False], n_words=[3, 3, 40, 40])
    run = _preds(ids, [True, True, False, True], n_words=[3, 3, 40, 40])
    a = paired.align(base, run)
    g = paired.bucket_gains(a, "accuracy", "n_words", n_boot=200, n_bins=2)
    assert g["bucket"].to_list() == ["3-22", ">= 23"]  # cut at the median 21.5, rounded up
    assert g["gain"].to_list() == [pytest.approx(50.0), pytest.approx(50.0)]
    assert g["n"].to_list() == [2, 2]
    f = paired.flips(a)
    assert f["example_id"].to_list() == ["l2", "s1"] and set(f["direction"]) == {"gained"}


def test_docstring_examples_run():
    import doctest

    from store import pairs, predictions, resampling

    for module in (paired, predictions, pairs, resampling):
        assert doctest.testmod(module).failed == 0
