"""Tokenisation, windows for long sentences, length-grouped batches and padding."""

from __future__ import annotations

import random

import pytest

from runner.kinds import encode
from runner.modeling.features import (IGNORE, collate, length_grouped_batches, padding_efficiency, sorted_batches,
                                      special_tokens, split_windows)
from runner.evaluation.predict import by_example


@pytest.mark.parametrize(
    ("lengths", "budget", "windows"),
    [
        ([1, 1, 1], 10, [(0, 3)]),
        ([3, 2, 4, 1], 5, [(0, 2), (2, 4)]),
        ([5, 5], 5, [(0, 1), (1, 2)]),
        ([7, 1], 5, [(0, 1), (1, 2)]),  # a word longer than the budget is a window on its own
        ([], 5, []),
        ([2, 2, 2, 2, 2], 4, [(0, 2), (2, 4), (4, 5)]),
    ],
)
def test_split_windows(lengths, budget, windows):
    assert split_windows(lengths, budget) == windows
    covered = [i for s, e in windows for i in range(s, e)]
    assert covered == list(range(len(lengths)))


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_tags_sit_on_the_first_sub_token(tokenizer):
    words = ["zorp", "kalomi", "suta"]
    enc = encode("tagging", [{"tokens": words, "tags": [3, 1, 4]}], tokenizer, 64)
    prefix, suffix = special_tokens(tokenizer)
    ids, labels = enc.input_ids[0], enc.labels[0]
    assert ids[:len(prefix)] == prefix and ids[len(ids) - len(suffix):] == suffix
    assert [y for y in labels if y != IGNORE] == [3, 1, 4]
    pieces = [len(tokenizer(w, add_special_tokens=False)["input_ids"]) for w in words]
    first = [len(prefix) + sum(pieces[:i]) for i in range(len(words))]
    assert [i for i, y in enumerate(labels) if y != IGNORE] == first


def test_long_sentences_become_windows_and_every_word_keeps_one_label(tokenizer):
    rng = random.Random(0)
    words = ["".join(rng.choice("kalomisuta") for _ in range(rng.randint(2, 9))) for _ in range(120)]
    tags = [rng.randrange(7) for _ in words]
    enc = encode("tagging", [{"tokens": words[:5], "tags": tags[:5]}, {"tokens": words, "tags": tags}], tokenizer, 32)
    assert max(len(x) for x in enc.input_ids) <= 32
    assert enc.example_ids[0] == 0 and enc.example_ids.count(1) > 3
    golds = [[y for y in enc.labels[i] if y != IGNORE] for i in range(len(enc))]
    assert by_example(enc, golds) == [tags[:5], tags]  # not truncated: every word scored once


def test_pairs_are_truncated_at_max_length(tokenizer):
    ex = [{"text_a": "kalo " * 200, "text_b": "zorp suta", "label": 1}, {"text_a": "mi", "text_b": None, "label": 0}]
    enc = encode("classification", ex, tokenizer, 24)
    assert max(enc.lengths) == 24 and enc.labels == [1, 0]


def test_multiple_choice_collates_choices_side_by_side(tokenizer):
    ex = [{"first": ["ka lo"] * 3, "second": ["yesh", "nope mi", "nope"], "label": 0},
          {"first": ["su"] * 3, "second": ["a", "b", "yesh zorp quax"], "label": 2}]
    enc = encode("multiple_choice", ex, tokenizer, 32)
    batch = collate(enc, [0, 1], tokenizer.pad_token_id)
    assert batch["input_ids"].shape[:2] == (2, 3) and batch["labels"].tolist() == [0, 2]
    assert batch["attention_mask"].sum().item() == sum(enc.real_tokens(i) for i in (0, 1))


def test_length_grouped_batches_cover_each_example_once_and_are_seeded():
    lengths = [random.Random(i).randint(5, 200) for i in range(1000)]
    a = length_grouped_batches(lengths, 32, seed=1)
    assert sorted(i for b in a for i in b) == list(range(1000))
    assert a == length_grouped_batches(lengths, 32, seed=1) != length_grouped_batches(lengths, 32, seed=2)
    assert max(lengths[i] for i in a[0]) == max(lengths)  # the longest batch first: OOM at step one


def xnli_like_lengths(n: int, seed: int = 0) -> list[int]:
    """Sub-token lengths of premise+hypothesis pairs, roughly as XNLI/MNLI with XLM-R (mean ~50)."""
    rng = random.Random(seed)
    return [min(256, max(8, int(rng.lognormvariate(3.8, 0.45)))) for _ in range(n)]


def test_padding_efficiency_on_xnli_like_lengths():
    lengths = xnli_like_lengths(20000)
    grouped = padding_efficiency(lengths, length_grouped_batches(lengths, 32, seed=0))
    random_batches = padding_efficiency(lengths, [list(range(i, min(i + 32, 20000))) for i in range(0, 20000, 32)])
    fixed = sum(lengths) / (len(lengths) * 128)  # reference scripts pad to max_seq_length 128
    assert grouped >= 0.95 > random_batches > fixed
    assert padding_efficiency(lengths, sorted_batches(lengths, 64)) > grouped


def test_tokenizer_fingerprint_ignores_per_call_truncation_state(tiny_model):
    """A call with truncation sets state on the shared backend; cache keys must not change with it."""
    from transformers import AutoTokenizer

    from runner.modeling.features import tokenizer_fingerprint

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)  # its own copy: this test changes it
    before = tokenizer_fingerprint(tokenizer)
    tokenizer("one two three " * 40, truncation=True, max_length=8)
    assert tokenizer_fingerprint(tokenizer) == before
    tokenizer.add_tokens(["zzz-new-token"])  # a real change of what it does still changes the key
    assert tokenizer_fingerprint(tokenizer) != before


def test_an_empty_sentence_is_scored_not_dropped(tokenizer):
    """A tagging sentence with no words stays an example when evaluated (one window of special
    tokens, nothing predicted), so it is counted; training leaves it out (it has no loss)."""
    from runner.evaluation.predict import score_tags

    labels = ("O", "B-PER", "I-PER")
    examples = [{"tokens": ["zorp", "kalomi"], "tags": [1, 2]}, {"tokens": [], "tags": []},
                {"tokens": ["suta"], "tags": [0]}]
    enc = encode("tagging", examples, tokenizer, 64)
    assert sorted(set(enc.example_ids)) == [0, 1, 2]
    prefix, suffix = special_tokens(tokenizer)
    assert enc.input_ids[enc.example_ids.index(1)] == prefix + suffix
    assert all(y == IGNORE for y in enc.labels[enc.example_ids.index(1)])
    assert sorted(set(encode("tagging", examples, tokenizer, 64, training=True).example_ids)) == [0, 2]
    preds = [[y for y in enc.labels[i] if y != IGNORE] for i in range(len(enc))]
    assert by_example(enc, preds) == [[1, 2], [], [0]]
    assert score_tags(labels, "f1", enc, preds)["f1"] == 100.0
    # the empty sentence is in the scored corpus: seqeval sees three sentences, as the gold has
    wrong = [[1, 2], [], [1]]
    assert score_tags(labels, "f1", enc, wrong) == {"f1": 2 / 3 * 100, "precision": 50.0, "recall": 100.0}
