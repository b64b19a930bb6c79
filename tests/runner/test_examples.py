"""Per-example rows of phase 3: their parts give back the official metric of the whole set."""

import doctest

import polars as pl
import pytest

from runner.evaluation import examples
from runner.evaluation.metrics import accuracy, seqeval_f1
from runner.evaluation.metrics_qa import mlqa_em_f1, squad_em_f1
from runner.evaluation.metrics_retrieval import map_at_k
from store import predictions as store_predictions


def _check_columns(rows):
    frame = store_predictions.normalize([{**r, "language": "de"} for r in rows])
    assert frame.height == len(rows)


def test_label_rows_mean_of_correct_is_accuracy():
    exs = [{"text_a": f"a {i}", "text_b": "b c", "label": i % 3} for i in range(7)]
    preds = [0, 1, 1, 0, 1, 2, 0]
    rows = examples.label_rows(exs, preds, ("entailment", "neutral", "contradiction"), [5] * 7)
    assert 100 * sum(r["correct"] for r in rows) / 7 == pytest.approx(accuracy(preds, [e["label"] for e in exs]))
    assert rows[2]["gold"] == "contradiction" and rows[2]["prediction"] == "neutral" and rows[2]["n_words"] == 4
    mc = examples.label_rows([{"first": ["p", "p"], "second": ["x y", "z"], "label": 1}], [1], (), [9])
    assert mc[0]["text"] == "p ||| x y | z" and mc[0]["gold"] == "1" and mc[0]["correct"]
    _check_columns(rows)
    _check_columns(mc)


def test_tag_rows_span_counts_give_seqeval_f1():
    labels = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
    exs = [{"tokens": ["Ann", "Lee", "in", "Rome"], "tags": [1, 2, 0, 3]},
           {"tokens": ["Bob", "went", "to", "New", "York"], "tags": [1, 0, 0, 3, 4]},
           {"tokens": ["nothing", "here"], "tags": [0, 0]}]
    preds = [[1, 2, 0, 0], [1, 0, 0, 3, 0], [0, 3]]
    rows = examples.tag_rows(exs, preds, labels, [6, 7, 3])
    tp, n_pred, n_gold = (sum(r[k] for r in rows) for k in ("tp", "n_pred", "n_gold"))
    official = seqeval_f1([[labels[t] for t in p] for p in preds], [[labels[t] for t in e["tags"]] for e in exs])["f1"]
    assert 200 * tp / (n_pred + n_gold) == pytest.approx(official)
    assert [r["label_types"] for r in rows] == ["LOC,PER", "LOC,PER", ""]
    assert [r["correct"] for r in rows] == [False, False, False]
    _check_columns(rows)


def test_tag_rows_reproduce_seqeval_across_sentence_boundaries():
    # seqeval reads the corpus as one sequence: a sentence opening with UPOS "X" (one letter, type
    # "_") after the separator does not start a chunk of its own, which per-sentence spans would miss.
    labels = ("X", "NOUN", "VERB")
    exs = [{"tokens": list("abc"), "tags": [0, 1, 1]}, {"tokens": list("def"), "tags": [0, 1, 2]}]
    preds = [[0, 1, 2], [0, 2, 2]]
    rows = examples.tag_rows(exs, preds, labels, [3, 3])
    official = seqeval_f1([[labels[t] for t in p] for p in preds], [[labels[t] for t in e["tags"]] for e in exs])["f1"]
    tp, n_pred, n_gold = (sum(r[k] for r in rows) for k in ("tp", "n_pred", "n_gold"))
    assert official == pytest.approx(20.0)  # sentence by sentence it would be 40.0
    assert 200 * tp / (n_pred + n_gold) == pytest.approx(official)


def test_tag_rows_pos_tags_without_prefixes_match_seqeval():
    labels = ("NOUN", "VERB", "DET")
    exs = [{"tokens": ["the", "dog", "runs"], "tags": [2, 0, 1]}, {"tokens": ["dogs", "run"], "tags": [0, 1]}]
    preds = [[2, 0, 0], [0, 1]]
    rows = examples.tag_rows(exs, preds, labels, [3, 2])
    official = seqeval_f1([[labels[t] for t in p] for p in preds], [[labels[t] for t in e["tags"]] for e in exs])["f1"]
    tp, n_pred, n_gold = (sum(r[k] for r in rows) for k in ("tp", "n_pred", "n_gold"))
    assert 200 * tp / (n_pred + n_gold) == pytest.approx(official)
    assert rows[1]["correct"] and not rows[0]["correct"]


@pytest.mark.parametrize("metric, lang", [("squad", "en"), ("mlqa", "de")])
def test_qa_rows_means_are_the_scripts_em_and_f1(metric, lang):
    exs = [{"id": "q1", "question": "Who wrote it?", "context": "It was written by Ann Lee in 1900.", "answers": ["Ann Lee"]},
           {"id": "q2", "question": "When was it written?", "context": "It was written by Ann Lee in 1900.", "answers": ["1900", "in 1900"]},
           {"id": "q3", "question": "Wo liegt es?", "context": "Es liegt in der Stadt Rom.", "answers": ["in der Stadt Rom"]},
           {"id": "q4", "question": "Unanswerable?", "context": "x", "answers": []}]
    preds = {"q1": "Ann", "q2": "in 1900", "q3": "Rom"}
    rows = examples.qa_rows(exs, preds, metric, lang)
    assert [r["example_id"] for r in rows] == ["q1", "q2", "q3"]  # v1.1 scripts skip unanswerable questions
    refs = {e["id"]: e["answers"] for e in exs if e["answers"]}
    official = squad_em_f1(preds, refs) if metric == "squad" else mlqa_em_f1(preds, refs, lang)
    assert sum(r["em"] for r in rows) / 3 == pytest.approx(official["em"])
    assert sum(r["f1"] for r in rows) / 3 == pytest.approx(official["f1"])
    assert [r["question_word"] for r in rows] == ["who", "when", "other"]
    assert rows[1]["correct"] and rows[1]["answer_words"] == 1
    _check_columns(rows)


def test_ranking_rows_mean_score_is_map_at_20():
    queries = [("a", "query a"), ("b", "query b"), ("c", "query c")]
    ranked = [["x", "r1", "r2"], ["r3", "y"], ["z"] * 25 + ["r4"]]
    relevant = [{"r1", "r2"}, {"r3"}, {"r4"}]
    rows = examples.ranking_rows(queries, ranked, relevant)
    assert sum(r["score"] for r in rows) / 3 == pytest.approx(map_at_k(ranked, relevant, 20))
    assert [r["gold_rank"] for r in rows] == [2, 1, None]
    assert [r["correct"] for r in rows] == [False, True, False]
    _check_columns(rows)
    assert pl.DataFrame(rows)["gold_rank"].null_count() == 1


def test_docstring_examples_run():
    assert doctest.testmod(examples).failed == 0
