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
    d = run - base
    se = d.std(ddof=0) / math.sqrt(200)  # the bootstrap's standard error, by hand
    assert boot.delta == pytest.approx(d.mean())
    assert boot.ci_low == pytest.approx(d.mean() - 1.96 * se, abs=0.25 * se * 1.96)
    assert boot.ci_high == pytest.approx(d.mean() + 1.96 * se, abs=0.25 * se * 1.96)


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

    from store import pairs, predictions

    for module in (paired, predictions, pairs):
        assert doctest.testmod(module).failed == 0
