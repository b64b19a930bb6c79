"""Extractive QA: windows, answer offsets, labels across window borders, n-best span decoding, scoring."""

from __future__ import annotations

import doctest

import pytest

from runner.modeling import qa
from runner.modeling.qa import (answer_token_span, decode_example, encode_qa, max_context_flags, pair_template,
                       squad_v2_em_f1, window_spans)


@pytest.mark.parametrize(
    ("n", "budget", "stride", "spans"),
    [
        (10, 4, 3, [(0, 4), (3, 7), (6, 10)]),
        (3, 10, 5, [(0, 3)]),  # short context: one window
        (0, 5, 2, [(0, 0)]),  # empty context still gives one (empty) window
        (10, 4, 8, [(0, 4), (4, 8), (8, 10)]),  # stride above the budget is clamped: no token skipped
        (9, 4, 2, [(0, 4), (2, 6), (4, 8), (6, 9)]),
        (8, 4, 4, [(0, 4), (4, 8)]),  # the last window ends exactly at the end: no empty extra window
    ],
)
def test_window_spans(n, budget, stride, spans):
    assert window_spans(n, budget, stride) == spans
    assert {p for s, e in spans for p in range(s, e)} == set(range(n))


@pytest.mark.parametrize("spans", [[(0, 4), (3, 7), (6, 10)], [(0, 4), (2, 6), (4, 8), (6, 9)], [(0, 5)]])
def test_every_token_has_exactly_one_max_context_window(spans):
    flags = max_context_flags(spans)
    owners = {}
    for w, ((s, e), f) in enumerate(zip(spans, flags)):
        assert len(f) == e - s
        for p, owned in zip(range(s, e), f):
            if owned:
                assert p not in owners
                owners[p] = w
    assert set(owners) == {p for s, e in spans for p in range(s, e)}
    # the middle of a window wins over its edge: token 5 of [(0,4),(2,6),(4,8),(6,9)] is central in window 2
    if spans == [(0, 4), (2, 6), (4, 8), (6, 9)]:
        assert owners[5] == 2 and owners[0] == 0


OFFSETS = [(0, 4), (5, 9), (11, 15), (15, 17), (17, 18)]  # "kalo mine  sutari." as the tiny tokenizer cuts it


@pytest.mark.parametrize(
    ("chars", "tokens"),
    [
        ((5, 9), (1, 1)),
        ((11, 17), (2, 3)),  # a word of two sub-tokens
        ((6, 8), (1, 1)),  # inside one token
        ((9, 11), None),  # only the spaces between tokens
        ((0, 18), (0, 4)),
        ((17, 18), (4, 4)),
    ],
)
def test_answer_token_span(chars, tokens):
    assert answer_token_span(OFFSETS, *chars) == tokens


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def _example(before: int, after: int, qid: str = "q1") -> dict:
    filler = "kalo mine suta ripo vedu gasu hilo zobe".split()
    left = " ".join(filler[i % len(filler)] for i in range(before))
    right = " ".join(filler[(i + 3) % len(filler)] for i in range(after))
    answer = "yesh pove nope"
    context = f"{left} {answer} {right}".strip()
    return {"id": qid, "question": "hiri pove?", "context": context, "answers": [answer], "starts": [context.index(answer)]}


def test_pair_templates_of_xlmr_and_bert(tokenizer, tmp_path):
    from transformers import AutoTokenizer

    from tests.fixtures.mirror import build_bert_model

    xlmr = pair_template(tokenizer)
    assert (xlmr.prefix, xlmr.middle, xlmr.suffix, xlmr.types) == ([0], [2, 2], [2], None)  # <s> q </s></s> c </s>
    bert = pair_template(AutoTokenizer.from_pretrained(build_bert_model(tmp_path / "bert")))
    assert len(bert.prefix) == 1 and len(bert.middle) == 1 and len(bert.suffix) == 1 and bert.types == (0, 1)


@pytest.mark.parametrize(("before", "after"), [(0, 0), (3, 40), (40, 3), (25, 25), (60, 60)])
def test_training_labels_point_at_the_answer_in_every_window_that_holds_it(tokenizer, before, after):
    ex = _example(before, after)
    enc = encode_qa([ex], tokenizer, 40, doc_stride=12, training=True)
    assert all(len(ids) <= 40 for ids in enc.input_ids) and set(enc.example_ids) == {0}
    hits = 0
    for ids, (s, e), (ctx_at, ws, we) in zip(enc.input_ids, enc.labels, enc.extra["windows"]):
        if (s, e) == (0, 0):
            continue  # no complete answer in this window: the label is the first token
        hits += 1
        assert ctx_at <= s <= e < ctx_at + (we - ws)
        assert tokenizer.decode(ids[s:e + 1]).strip() == "yesh pove nope"
    assert hits >= 1


def test_an_answer_crossing_a_window_border_is_labelled_only_where_it_is_whole(tokenizer):
    ex = _example(30, 30)
    enc = encode_qa([ex], tokenizer, 32, doc_stride=6, training=False)
    offsets = enc.extra["offsets"][0]
    answer = answer_token_span(offsets, ex["starts"][0], ex["starts"][0] + len(ex["answers"][0]))
    crossing = [(ws, we) for _, ws, we in enc.extra["windows"] if ws <= answer[1] and answer[0] < we
                and not (ws <= answer[0] and answer[1] < we)]
    assert crossing, "the windows should cut through the answer somewhere"
    train = encode_qa([ex], tokenizer, 32, doc_stride=6, training=True)
    for (s, e), (_, ws, we) in zip(train.labels, train.extra["windows"]):
        whole = ws <= answer[0] and answer[1] < we
        assert ((s, e) != (0, 0)) == whole


def test_unrecoverable_training_answers_are_skipped_and_v2_questions_kept(tokenizer):
    good, bad, empty = _example(2, 2, "a"), _example(2, 2, "b"), _example(2, 2, "c")
    bad["starts"] = [0]  # the text is not at its answer_start
    empty["answers"], empty["starts"] = [], []  # SQuAD v2.0 unanswerable
    enc = encode_qa([good, bad, empty], tokenizer, 64, training=True)
    assert sorted(set(enc.example_ids)) == [0, 1]  # b skipped; a and c kept
    assert enc.labels[enc.example_ids.index(1)] == [0, 0]  # unanswerable -> first token
    assert "examples" not in enc.extra  # training features keep no decoding data


def test_gold_logits_decode_back_to_the_answer_text(tokenizer):
    examples = [_example(b, a, f"q{b}") for b, a in [(0, 0), (30, 5), (7, 50), (45, 45)]]
    train = encode_qa(examples, tokenizer, 36, doc_stride=10, training=True)
    evaluation = encode_qa(examples, tokenizer, 36, doc_stride=10, training=False)
    assert train.input_ids == evaluation.input_ids and len(train) > len(examples)  # several windows each
    logits = []
    for (s, e), ids in zip(train.labels, train.input_ids):
        start, end = [0.0] * len(ids), [0.0] * len(ids)
        start[s] += 5.0
        end[e] += 5.0
        logits.append((start, end))
    predictions = qa.decode(evaluation, logits, 20, 30)
    assert predictions == {ex["id"]: "yesh pove nope" for ex in examples}
    assert qa.score(predictions, evaluation) == {"em": 100.0, "f1": 100.0}


def test_bert_contexts_get_segment_id_1(tmp_path):
    from transformers import AutoTokenizer

    from tests.fixtures.mirror import build_bert_model

    tok = AutoTokenizer.from_pretrained(build_bert_model(tmp_path / "bert"))
    enc = encode_qa([_example(20, 20)], tok, 32, doc_stride=8, training=True)
    for ids, types, (ctx_at, _, _) in zip(enc.input_ids, enc.token_type_ids, enc.extra["windows"]):
        assert len(types) == len(ids) and set(types[:ctx_at]) == {0} and set(types[ctx_at:]) == {1}


# ------------------------------------------------------------------------------------- decoding
CONTEXT = "aa bb cc dd ee ff"
CTX_OFFSETS = [(0, 2), (3, 5), (6, 8), (9, 11), (12, 14), (15, 17)]


def _logits(width: int, starts: dict[int, float], ends: dict[int, float], rest: float = 0.0):
    """(start, end) logits of one feature: the given positions, ``rest`` everywhere else."""
    return ([starts.get(i, rest) for i in range(width)], [ends.get(i, rest) for i in range(width)])


# one window: positions 0 = <s>, 1 = question, 2..7 = the six context tokens, 8 = </s>
ONE = [(2, 0, 6)]


@pytest.mark.parametrize(
    ("starts", "ends", "n_best", "max_len", "answer"),
    [
        ({3: 5}, {4: 5}, 20, 30, "bb cc"),
        ({3: 5, 6: 4}, {6: 5}, 20, 30, "bb cc dd ee"),  # best sum: start 3 + end 6
        ({3: 5, 6: 4}, {6: 5}, 20, 3, "ee"),  # max answer length 3 tokens: 3..6 is too long
        ({5: 9}, {3: 9, 6: 1}, 20, 30, "dd ee"),  # end before start is never a span
        ({1: 9, 4: 2}, {5: 3}, 20, 30, "cc dd"),  # a start inside the question is never a span
        ({1: 9, 4: 2}, {5: 3}, 1, 30, ""),  # n-best 1: only the question start is tried -> no answer
        ({7: 9}, {7: 9}, 20, 30, "ff"),
    ],
)
def test_n_best_decoding(starts, ends, n_best, max_len, answer):
    got = decode_example(CONTEXT, CTX_OFFSETS, ONE, [_logits(9, starts, ends)], n_best, max_len)
    assert got == answer


def test_decoding_picks_the_best_window_and_respects_max_context():
    # two windows over the six tokens: 0-3 (positions 2..5) and 2-5 (positions 2..5)
    windows = [(2, 0, 4), (2, 2, 6)]
    assert max_context_flags([(0, 4), (2, 6)]) == [[True, True, True, False], [False, True, True, True]]
    # "dd" (token 3) sits at the edge of window 0 and in the middle of window 1: a start there only
    # counts in window 1, however high window 0 scores it
    logits = [_logits(7, {5: 50}, {5: 50}, rest=-100), _logits(7, {3: 1}, {4: 1}, rest=-100)]
    assert decode_example(CONTEXT, CTX_OFFSETS, windows, logits, 20, 30) == "dd ee"
    # when both windows own their starts, the higher score wins: "aa bb" (8) vs "ff" (12)
    logits = [_logits(7, {2: 4}, {3: 4}), _logits(7, {5: 6}, {5: 6})]
    assert decode_example(CONTEXT, CTX_OFFSETS, windows, logits, 20, 30) == "ff"


def test_squad_v2_null_answer():
    logits = [_logits(9, {0: 9, 3: 2}, {0: 9, 4: 2})]
    assert decode_example(CONTEXT, CTX_OFFSETS, ONE, logits, 20, 30, allow_empty=True) == ""
    assert decode_example(CONTEXT, CTX_OFFSETS, ONE, logits, 20, 30, allow_empty=False) == "bb cc"


@pytest.mark.parametrize(
    ("prediction", "golds", "em", "f1"),
    [
        ("", [], 100.0, 100.0),  # unanswerable, abstained
        ("the cat", [], 0.0, 0.0),  # unanswerable, answered
        ("", ["a cat"], 0.0, 0.0),
        ("black cat", ["cat", "black dog"], 0.0, 66.66666666666666),
        ("The cat!", ["cat"], 100.0, 100.0),
    ],
)
def test_squad_v2_metric(prediction, golds, em, f1):
    assert squad_v2_em_f1({"q": prediction}, {"q": golds}) == pytest.approx({"em": em, "f1": f1})


def test_docstring_examples_run():
    result = doctest.testmod(qa)
    assert result.attempted > 0 and result.failed == 0
