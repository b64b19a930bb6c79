"""BUCC, Tatoeba, LAReQA and Mewsli-X metrics (runner/metrics_retrieval.py).

Expected values are worked out by hand from xtreme's utils_retrieve.py, evaluate.py,
utils_lareqa.py and utils_mewslix.py.
"""

import numpy as np
import pytest

from runner.evaluation.metrics_retrieval import (
    bucc_f1,
    bucc_optimal_threshold,
    map_at_k,
    mewslix_map_at_20,
    tatoeba_accuracy,
)

# --- BUCC threshold selection -----------------------------------------------------------------------

# Prefix F1 over 4 gold pairs: .4, .667, .571, .75 (best, after ("d", "4")), .667.
RANKED = {("a", "1"): 0.9, ("b", "2"): 0.8, ("c", "3"): 0.7, ("d", "4"): 0.6, ("e", "5"): 0.5}
RANKED_GOLD = {("a", "1"), ("b", "2"), ("d", "4"), ("f", "6")}

THRESHOLD_CASES = [
    # id, candidates, gold, expected threshold
    ("midpoint-after-best-prefix", RANKED, RANKED_GOLD, 0.55),
    ("insertion-order-irrelevant", dict(reversed(list(RANKED.items()))), RANKED_GOLD, 0.55),
    ("no-correct-candidate-keeps-0", RANKED, {("z", "9")}, 0.0),
    # F1 2/3 after 1 of 1 and again after 2 of 4 extracted: only a strictly better F1 moves it.
    ("equal-f1-later-ignored", {("a", "1"): 1.0, ("x", "2"): 0.9, ("y", "3"): 0.8, ("b", "4"): 0.7,
                                ("z", "5"): 0.6}, {("a", "1"), ("b", "4")}, 0.95),
    ("first-is-best", {("a", "1"): 1.2, ("b", "2"): 1.1, ("c", "3"): 1.0}, {("a", "1")}, 1.15),
    # Best prefix is the whole list: the script would raise IndexError; we keep every candidate.
    ("best-is-last", {("a", "1"): 1.2, ("b", "2"): 1.1, ("c", "3"): 1.0}, {("a", "1"), ("c", "3")}, 1.0),
    # Best prefix ends inside a tie: the midpoint is the tied score itself.
    ("tie-midpoint", {("a", "1"): 1.0, ("n", "2"): 1.0, ("b", "3"): 0.5}, {("a", "1")}, 1.0),
    # Triples, repeated pair keeps its highest score (read_candidate2score).
    ("triples-max-of-repeats", [("a", "1", 1.2), ("b", "2", 1.1), ("a", "1", 0.5)], {("a", "1")}, 1.15),
    ("gold-as-lists", RANKED, [["a", "1"], ["b", "2"], ["d", "4"], ["f", "6"]], 0.55),
]


@pytest.mark.parametrize("candidates, gold, expected", [c[1:] for c in THRESHOLD_CASES],
                         ids=[c[0] for c in THRESHOLD_CASES])
def test_bucc_optimal_threshold(candidates, gold, expected):
    threshold = bucc_optimal_threshold(candidates, gold)
    assert type(threshold) is float
    assert threshold == pytest.approx(expected, rel=1e-12)


BUCC_F1_CASES = [
    # id, candidates, gold, threshold, (f1, precision, recall)
    ("at-tuned-threshold", RANKED, RANKED_GOLD, 0.55, (75.0, 75.0, 75.0)),
    ("threshold-inclusive", RANKED, RANKED_GOLD, 0.6, (75.0, 75.0, 75.0)),
    ("strict-threshold", RANKED, RANKED_GOLD, 0.85, (40.0, 100.0, 25.0)),
    ("nothing-extracted", RANKED, RANKED_GOLD, 2.0, (0.0, 0.0, 0.0)),
    ("nothing-correct", RANKED, {("z", "9")}, 0.0, (0.0, 0.0, 0.0)),
    # The tie quirk: the tuned threshold 1.0 takes the tied wrong pair as well.
    ("tie-takes-whole-block", {("a", "1"): 1.0, ("n", "2"): 1.0, ("b", "3"): 0.5}, {("a", "1")}, 1.0,
     (200 / 3, 50.0, 100.0)),
    ("triples", [("a", "1", 1.2), ("b", "2", 1.1)], {("a", "1"), ("b", "2")}, 1.15, (200 / 3, 100.0, 50.0)),
]


@pytest.mark.parametrize("candidates, gold, threshold, expected", [c[1:] for c in BUCC_F1_CASES],
                         ids=[c[0] for c in BUCC_F1_CASES])
def test_bucc_f1(candidates, gold, threshold, expected):
    result = bucc_f1(candidates, gold, threshold)
    assert list(result) == ["f1", "precision", "recall"]
    assert tuple(result.values()) == pytest.approx(expected, rel=1e-12)


def test_bucc_threshold_tuned_on_dev_then_applied_to_test():
    dev_threshold = bucc_optimal_threshold(RANKED, RANKED_GOLD)  # 0.55
    test_candidates = {("p", "1"): 0.95, ("q", "2"): 0.56, ("r", "3"): 0.54, ("s", "4"): 0.3}
    test_gold = {("p", "1"), ("r", "3")}
    # Extracts p and q (>= 0.55): 1 correct of 2 extracted, 1 of 2 gold.
    assert bucc_f1(test_candidates, test_gold, dev_threshold) == pytest.approx(
        {"f1": 50.0, "precision": 50.0, "recall": 50.0})
    # Tuning on test instead would pick 0.3 < t <= 0.54 and score higher: the split matters.
    assert bucc_optimal_threshold(test_candidates, test_gold) == pytest.approx(0.42)


# --- Tatoeba ----------------------------------------------------------------------------------------

TATOEBA_CASES = [
    # id, predicted, gold, expected
    ("three-of-four", [0, 1, 5, 3], [0, 1, 2, 3], 75.0),
    ("all", np.arange(7), np.arange(7), 100.0),
    ("faiss-column", np.array([[0], [0], [2]]), [0, 1, 2], 200 / 3),
    ("none", [1, 0], [0, 1], 0.0),
]


@pytest.mark.parametrize("predicted, gold, expected", [c[1:] for c in TATOEBA_CASES],
                         ids=[c[0] for c in TATOEBA_CASES])
def test_tatoeba_accuracy(predicted, gold, expected):
    result = tatoeba_accuracy(predicted, gold)
    assert type(result) is float
    assert result == pytest.approx(expected, rel=1e-12)


# --- LAReQA mAP@k -----------------------------------------------------------------------------------

MAP_CASES = [
    # id, rankings, relevant sets, k, expected points
    ("single-relevant-rank-3", [["x", "y", "r"]], [{"r"}], 20, 100 / 3),
    ("two-relevant", [["r1", "x", "r2"]], [{"r1", "r2"}], 20, (1 + 2 / 3) / 2 * 100),
    # Fewer than k candidates: the divisor stays min(#relevant, k) = 3, not the ranking length.
    ("fewer-than-k-candidates", [["x", "r1"]], [{"r1", "r2", "r3"}], 20, (1 / 2) / 3 * 100),
    ("empty-ranking", [[]], [{"r"}], 20, 0.0),
    ("relevant-beyond-k", [["a", "b", "r"]], [{"r"}], 2, 0.0),
    ("rank-21-cut-at-20", [[f"x{i}" for i in range(20)] + ["r"]], [{"r"}], 20, 0.0),
    ("more-relevant-than-k", [["a", "b", "c"]], [{"a", "b", "c"}], 2, 100.0),
    ("duplicates-count-once", [["r", "r", "s"]], [{"r", "s"}], 20, (1 + 2 / 3) / 2 * 100),
    ("mean-over-questions", [["r"], ["x", "r"]], [{"r"}, {"r"}], 20, 75.0),
    ("k-none-whole-ranking", [[f"x{i}" for i in range(21)] + ["r"]], [{"r"}], None, 100 / 22),
    ("integer-ids", [[3, 1, 2]], [{1, 2}], 20, (1 / 2 + 2 / 3) / 2 * 100),
]


@pytest.mark.parametrize("rankings, relevant, k, expected", [c[1:] for c in MAP_CASES],
                         ids=[c[0] for c in MAP_CASES])
def test_map_at_k(rankings, relevant, k, expected):
    result = map_at_k(rankings, relevant, k=k)
    assert type(result) is float
    assert result == pytest.approx(expected, rel=1e-12)


# --- Mewsli-X ---------------------------------------------------------------------------------------

MEWSLIX_CASES = [
    # id, predictions, gold, expected points
    ("rank-2", {"m": ["Q2", "Q1"]}, {"m": ["Q1"]}, 50.0),
    ("missing-prediction-scores-0", {"m1": ["Q1"]}, {"m1": ["Q1"], "m2": ["Q2"]}, 50.0),
    ("extra-prediction-ignored", {"m1": ["Q1"], "zz": ["Q9"]}, {"m1": ["Q1"]}, 100.0),
    ("beyond-top-20", {"m": [f"X{i}" for i in range(20)] + ["Q1"]}, {"m": ["Q1"]}, 0.0),
    ("rank-20", {"m": [f"X{i}" for i in range(19)] + ["Q1"]}, {"m": ["Q1"]}, 5.0),
    ("gold-stripped", {"m": ["Q1"]}, {"m": [" Q1\n"]}, 100.0),
    ("only-first-gold-used", {"m": ["Q2"]}, {"m": ["Q1", "Q2"]}, 0.0),
    ("gold-as-string", {"m": ["Q3", "Q2", "Q1"]}, {"m": "Q1"}, 100 / 3),
    ("empty-prediction-list", {"m": []}, {"m": ["Q1"]}, 0.0),
]


@pytest.mark.parametrize("predictions, gold, expected", [c[1:] for c in MEWSLIX_CASES],
                         ids=[c[0] for c in MEWSLIX_CASES])
def test_mewslix_map_at_20(predictions, gold, expected):
    result = mewslix_map_at_20(predictions, gold)
    assert type(result) is float
    assert result == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("predictions, gold", [c[1:3] for c in MEWSLIX_CASES[:5]],
                         ids=[c[0] for c in MEWSLIX_CASES[:5]])
def test_mewslix_map_equals_map_at_20_with_one_relevant_entity(predictions, gold):
    # What XTREME-R calls mAP@20 for Mewsli-X is MRR@20: with one gold entity they coincide.
    rankings = [predictions.get(m, []) for m in gold]
    relevant = [{labels[0]} for labels in gold.values()]
    assert mewslix_map_at_20(predictions, gold) == pytest.approx(map_at_k(rankings, relevant, k=20))


# --- bad input --------------------------------------------------------------------------------------

RETRIEVAL_ERRORS = [
    # id, call, message fragment
    ("bucc-f1-empty-gold", lambda: bucc_f1(RANKED, set(), 0.5), "gold_pairs is empty"),
    ("bucc-threshold-empty-gold", lambda: bucc_optimal_threshold(RANKED, []), "gold_pairs is empty"),
    ("tatoeba-lengths", lambda: tatoeba_accuracy([0, 1, 2], [0, 1]), "3 entries but gold_indices has 2"),
    ("tatoeba-empty", lambda: tatoeba_accuracy([], []), "empty"),
    ("tatoeba-matrix", lambda: tatoeba_accuracy(np.zeros((2, 2)), [0, 1]), r"shape \(2, 2\)"),
    ("map-lengths", lambda: map_at_k([["a"]], [{"a"}, {"b"}]), "1 questions but relevant_ids has 2"),
    ("map-empty", lambda: map_at_k([], []), "at least one question"),
    ("map-no-relevant", lambda: map_at_k([["a"]], [set()]), "question 0 has no relevant"),
    ("map-bad-k", lambda: map_at_k([["a"]], [{"a"}], k=0), "k must be"),
    ("mewslix-empty-gold", lambda: mewslix_map_at_20({"m": ["Q1"]}, {}), "gold is empty"),
    ("mewslix-empty-label", lambda: mewslix_map_at_20({"m": ["Q1"]}, {"m": []}), "no entity id"),
]


@pytest.mark.parametrize("call, message", [c[1:] for c in RETRIEVAL_ERRORS],
                         ids=[c[0] for c in RETRIEVAL_ERRORS])
def test_retrieval_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
