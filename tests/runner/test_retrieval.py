"""Retrieval scoring: layer choice, pooling, blocked top-k search, LASER margin mining, BUCC ids,
sentence splitting and Mewsli-X text preparation."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

from runner.evaluation import retrieval
from runner.data.adapters_qa import answer_sentence, entity_text, mention_query, split_sentences
from runner.evaluation.retrieval import (bucc_candidates, mean_pool, mine_bitext, reference_layer, top_k, unique_sentences)


@pytest.mark.parametrize(
    ("n_layers", "layer", "expected"),
    [(24, None, 14), (12, None, 7), (2, None, 1), (1, None, 1), (36, None, 21), (24, 3, 3), (24, 0, 0)],
)
def test_reference_layer(n_layers, layer, expected):
    assert reference_layer(n_layers, layer) == expected


def test_a_layer_beyond_the_encoder_is_refused():
    with pytest.raises(ValueError, match="does not exist"):
        reference_layer(2, 5)


def test_mean_pool_ignores_padding():
    states = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert mean_pool(states, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 3.0]]


def test_mean_pooled_reads_the_chosen_hidden_layer(tiny_model):
    from transformers import AutoModel, AutoTokenizer

    tok, enc = AutoTokenizer.from_pretrained(tiny_model), AutoModel.from_pretrained(tiny_model)
    texts = ["kalo mine suta", "ripo", "vedu gasu hilo zobe kalo"]
    got = retrieval.mean_pooled(enc, tok, texts, 1, 512, batch_size=2, device=torch.device("cpu"))
    for i, text in enumerate(texts):  # one at a time, no padding: the plain mean of layer 1
        batch = tok([text], return_tensors="pt")
        hidden = enc(**batch, output_hidden_states=True).hidden_states[1][0]
        assert torch.allclose(got[i], hidden.mean(0), atol=1e-5)


@pytest.mark.parametrize(("n_q", "n_k", "k", "block"), [(7, 11, 3, 2), (5, 5, 5, 3), (4, 2, 4, 1), (9, 30, 1, 4096)])
def test_blocked_top_k_equals_brute_force(n_q, n_k, k, block):
    g = torch.Generator().manual_seed(n_q * 100 + n_k)
    q, keys = torch.randn(n_q, 6, generator=g), torch.randn(n_k, 6, generator=g)
    scores, index = top_k(q, keys, k, block_size=block)
    sims = torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(keys, dim=-1).T
    want = sims.topk(min(k, n_k), dim=1)
    assert torch.equal(index, want.indices) and torch.allclose(scores, want.values, atol=1e-6)


def test_top_k_ties_keep_the_lower_index():
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    _, index = top_k(torch.tensor([[1.0, 0.0]]), keys, 3, block_size=1)
    assert index.tolist() == [[0, 2, 3]]


def _laser_reference(x: np.ndarray, y: np.ndarray, k: int) -> list[tuple[int, int, float]]:
    """LASER / xtreme ``mine_bitext`` (mine, max, ratio margin) written out with dense matrices."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    sim = x @ y.T
    kx, ky = min(k, y.shape[0]), min(k, x.shape[0])
    fwd_mean = np.sort(sim, axis=1)[:, ::-1][:, :kx].mean(1)
    bwd_mean = np.sort(sim.T, axis=1)[:, ::-1][:, :ky].mean(1)
    fwd_ind = np.argsort(-sim, axis=1, kind="stable")[:, :kx]
    bwd_ind = np.argsort(-sim.T, axis=1, kind="stable")[:, :ky]
    margin = sim / ((fwd_mean[:, None] + bwd_mean[None, :]) / 2)
    fwd_scores = np.take_along_axis(margin, fwd_ind, 1)
    bwd_scores = np.take_along_axis(margin.T, bwd_ind, 1)
    fwd_best = fwd_ind[np.arange(x.shape[0]), fwd_scores.argmax(1)]
    bwd_best = bwd_ind[np.arange(y.shape[0]), bwd_scores.argmax(1)]
    pairs = list(zip(np.concatenate([np.arange(x.shape[0]), bwd_best]), np.concatenate([fwd_best, np.arange(y.shape[0])])))
    scores = np.concatenate([fwd_scores.max(1), bwd_scores.max(1)])
    seen_s, seen_t, out = set(), set(), []
    for i in np.argsort(-scores, kind="stable"):
        s, t = pairs[i]
        if s in seen_s or t in seen_t:
            continue
        seen_s.add(s)
        seen_t.add(t)
        if scores[i] > 0:
            out.append((int(s), int(t), float(scores[i])))
    return out


@pytest.mark.parametrize(("n_x", "n_y", "k", "block"), [(12, 15, 4, 5), (6, 6, 4, 2), (3, 8, 4, 4096), (10, 3, 2, 3)])
def test_mining_matches_the_laser_reference(n_x, n_y, k, block):
    g = torch.Generator().manual_seed(n_x + 7 * n_y)
    x, y = torch.randn(n_x, 8, generator=g) + 1.0, torch.randn(n_y, 8, generator=g) + 1.0  # positive cosines
    got = mine_bitext(x, y, k, block_size=block)
    want = _laser_reference(x.numpy().astype(np.float64), y.numpy().astype(np.float64), k)
    assert [(s, t) for s, t, _ in got] == [(s, t) for s, t, _ in want]
    assert np.allclose([v for *_, v in got], [v for *_, v in want], atol=1e-5)


def test_mining_recovers_noisy_translations():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20, 16, generator=g)
    perm = torch.randperm(20, generator=g)
    y = x[perm] + 0.05 * torch.randn(20, 16, generator=g)
    mined = {(s, t) for s, t, _ in mine_bitext(x, y, 4, block_size=7)}
    assert mined == {(int(perm[t]), t) for t in range(20)}


def test_repeated_sentences_map_to_no_id_as_xtreme_reads_bucc():
    unique, ids = unique_sentences(["d1", "d2", "d3", "d4"], ["Hallo.", "Welt ", "Hallo.", "Welt"])
    assert unique == ["Hallo.", "Welt"]
    assert ids == {}  # both appear under two ids
    unique, ids = unique_sentences(["d1", "d1", "d2"], ["a", "a", "b"])
    assert unique == ["a", "b"] and ids == {"a": "d1", "b": "d2"}


def test_bucc_candidates_carry_sentence_ids_and_feed_the_threshold():
    from runner.evaluation.metrics_retrieval import bucc_f1, bucc_optimal_threshold

    vectors = {"eins": [1, 0, 0], "zwei": [0, 1, 0], "drei": [0, 0, 1], "one": [1, 0.1, 0], "two": [0, 1, 0.1],
               "three": [0.1, 0, 1]}

    def embed(texts):
        return torch.tensor([vectors[t] for t in texts], dtype=torch.float)

    cands = bucc_candidates(["de-1", "de-2", "de-3"], ["eins", "zwei", "drei"], ["en-7", "en-8", "en-9"],
                            ["one", "two", "three"], embed, k=2)
    assert set(cands) == {("de-1", "en-7"), ("de-2", "en-8"), ("de-3", "en-9")}
    gold = {("de-1", "en-7"), ("de-2", "en-8"), ("de-3", "en-9")}
    threshold = bucc_optimal_threshold(cands, gold)
    assert bucc_f1(cands, gold, threshold)["f1"] == 100.0


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("It rained. Then it stopped!", ["It rained.", "Then it stopped!"]),
        ("One sentence only", ["One sentence only"]),
        ("Version 2.0 is out. Yes.", ["Version 2.0 is out.", "Yes."]),  # no break inside a number
        ('He said "go." She went.', ['He said "go."', "She went."]),
        ("北京很大。上海也很大。", ["北京很大。", "上海也很大。"]),  # full-width stops need no space
        ("Was ist das? Ein Haus.  ", ["Was ist das?", "Ein Haus."]),
        ("नमस्ते। आप कैसे हैं?", ["नमस्ते।", "आप कैसे हैं?"]),
        ("", []),
    ],
)
def test_split_sentences(text, sentences):
    assert [text[s:e] for s, e in split_sentences(text)] == sentences


def test_answer_sentence_maps_an_answer_start_to_its_sentence():
    context = "Alpha beta. Gamma delta epsilon. Zeta."
    assert answer_sentence(context, context.index("delta")) == (1, "Gamma delta epsilon.")
    assert answer_sentence(context, context.index(" Gamma")) is None  # the space between sentences


def test_mention_query_marks_the_mention_in_its_sentence():
    text = "First one. The verdict {came} back for Smith, who left.\nThird."
    context = {"text": text, "sentence_spans": [{"start": 0, "end": 10}, {"start": 11, "end": 55},
                                                {"start": 56, "end": 62}]}
    start = text.index("Smith")
    mention = {"mention_span": {"start": start, "end": start + 5, "text": "Smith"}}
    # the reference joins f"{left} {{ {mention} }} {right}", so a space precedes the comma
    assert mention_query(context, mention) == "Smith: The verdict (came) back for { Smith } , who left."
    no_spans = {"text": "A Smith\nB", "sentence_spans": []}
    assert mention_query(no_spans, {"mention_span": {"start": 2, "end": 7, "text": "Smith"}}) == "Smith: A { Smith } B"


def test_entity_text_joins_its_sentences():
    entity = {"description": "Paris is a city.\nIt is big.  Extra", "sentence_spans": [{"start": 0, "end": 16},
                                                                                       {"start": 17, "end": 27}]}
    assert entity_text(entity) == "Paris is a city. It is big."


def test_docstring_examples_run():
    from runner.data import adapters_qa

    for module in (retrieval, adapters_qa):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0
