"""--variant mlm: masking, MLM batches, the interleaved plan, the corpus stream, the model, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from runner.config import TrainConfig
from runner.modeling.features import IGNORE
from runner.training.mlm import MlmData, build_model, chunk_texts, interleave, mask_tokens, read_texts
from runner.training.variants import MlmConfig, resolve_source


def test_masking_follows_the_bert_recipe_and_never_touches_special_tokens():
    ids = torch.randint(10, 900, (256, 128), generator=torch.Generator().manual_seed(0))
    maskable = torch.ones_like(ids, dtype=torch.bool)
    maskable[:, 0] = maskable[:, -1] = False  # <s> ... </s>
    maskable[:, 100:] = False  # padding
    cfg = MlmConfig()
    inputs, labels = mask_tokens(ids, maskable, mask_id=4, vocab_size=1000, cfg=cfg, generator=torch.Generator().manual_seed(1))
    chosen = labels != IGNORE
    assert not chosen[~maskable].any() and torch.equal(inputs[~maskable], ids[~maskable])
    assert torch.equal(labels[chosen], ids[chosen])
    assert chosen.sum() / maskable.sum() == pytest.approx(0.15, abs=0.01)
    masked = (inputs == 4) & chosen
    kept = (inputs == ids) & chosen
    assert masked.sum() / chosen.sum() == pytest.approx(0.8, abs=0.03)
    assert kept.sum() / chosen.sum() == pytest.approx(0.1 + 0.1 / 1000, abs=0.03)  # kept, or replaced by itself
    again = mask_tokens(ids, maskable, 4, 1000, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(again[0], inputs) and torch.equal(again[1], labels)
    rare = MlmConfig(probability=1e-4)
    _, labels = mask_tokens(ids[:, :10], maskable[:, :10], 4, 1000, rare, torch.Generator().manual_seed(2))
    assert ((labels != IGNORE).sum(1) >= 1).all()  # every sequence predicts something


def _data(n=10, width=12, seed=0):
    lengths = np.array([width - (i % 4) for i in range(n)], dtype=np.int32)
    ids = np.full((n, width), 1, dtype=np.int32)
    for i, length in enumerate(lengths):
        ids[i, :length] = [0] + [10 + i] * (length - 2) + [2]
    return MlmData(ids, lengths, special_ids=[0, 1, 2, 3], mask_id=4, vocab_size=50, cfg=MlmConfig(probability=0.3), seed=seed)


def test_mlm_batches_are_deterministic_and_cycle_through_the_corpus_with_fresh_masks():
    data = _data()
    a, b = data.collate([0, 1, 2, 3], pad_id=1), _data().collate([0, 1, 2, 3], pad_id=1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert set(a) == {"input_ids", "attention_mask", "labels"}
    pad = a["attention_mask"] == 0
    assert (a["labels"][pad] == IGNORE).all() and (a["input_ids"][pad] == 1).all()
    specials = torch.isin(a["input_ids"], torch.tensor([0, 2])) & (a["labels"] == IGNORE)
    assert specials.sum() == 8  # <s> and </s> of each row, never selected
    rows = lambda vs: sorted(data._rows(vs))  # noqa: E731
    assert rows(range(0, 10)) == rows(range(10, 20)) == list(range(10))  # each round uses every sequence once
    assert data._rows(range(0, 10)) != data._rows(range(10, 20))  # in a new order
    first, again = data.collate([0, 1], 1), data.collate([10, 11], 1)
    assert not torch.equal(first["labels"], again["labels"]) or not torch.equal(first["input_ids"], again["input_ids"])
    assert data.collate([0, 1], 1, multiple_of=8)["input_ids"].shape[1] == 16


def test_interleave_puts_one_mlm_batch_after_every_k_task_batches():
    base = lambda e: [(0, [e, i]) for i in range(10)]  # noqa: E731
    plan_fn, n = interleave(base, mlm_index=1, every=3, batch_size=4, epochs=2)
    assert n == 6
    p0, p1 = plan_fn(0), plan_fn(1)
    assert [t for t, _ in p0] == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0]
    mlm = [b for t, b in p0 + p1 if t == 1]
    assert mlm == [list(range(i * 4, i * 4 + 4)) for i in range(6)]  # virtual indices continue across epochs
    assert plan_fn(1) == p1


def test_the_corpus_is_read_round_robin_over_languages(mlm_corpus, fixture_data, tiny_model):
    from transformers import AutoTokenizer

    source = resolve_source("wikimedia/wikipedia", "main", fixture_data, "mlm corpus")
    assert source.root == mlm_corpus.resolve() and source.identity() == "hub:wikimedia/wikipedia@main"
    texts = read_texts(source, MlmConfig(corpus="wikimedia/wikipedia"))
    first = [next(texts) for _ in range(8)]
    assert len(set(first)) == 8
    assert len(list(texts)) == 4 * 30 - 8  # every document of every language, once
    only = MlmConfig(corpus="x/y", files=("20231101.de/*.parquet",))
    assert len(list(read_texts(source, only))) == 30
    tok = AutoTokenizer.from_pretrained(tiny_model)
    ids, lengths = chunk_texts(read_texts(source, MlmConfig()), tok, max_length=32, limit=50)
    assert ids.shape == (50, 32) and lengths.max() == 32 and lengths.min() >= 3
    assert (ids[:, 0] == tok.bos_token_id).all()
    assert all(ids[i, lengths[i] - 1] == tok.eos_token_id for i in range(50))


def test_the_model_keeps_its_encoder_and_ties_the_mlm_head_to_the_embeddings(tiny_model):
    model = build_model(tiny_model, {"mnli": ("classification", 3)}, 0.1, seed=1)
    emb = model.encoder.get_input_embeddings().weight
    assert any(p is emb for p in model.lm_head.parameters())
    assert "lm_head" not in dict(model.heads.named_children())
    batch = {"input_ids": torch.tensor([[0, 50, 60, 4, 2]]), "attention_mask": torch.ones(1, 5, dtype=torch.long),
             "labels": torch.tensor([[IGNORE, IGNORE, IGNORE, 70, IGNORE]])}
    assert model(batch, "mlm").shape == (1, emb.shape[0])
    assert model(batch, "mnli").shape == (1, 3)


class Killed(Exception):
    pass


def _train_with_mlm(tiny_model, tokenizer, folder, kill_at=None):
    from runner.training.device import set_seed
    from runner.training.loop import TaskData, epoch_plan, train_stage
    from tests.fixtures.runs import toy

    cfg = TrainConfig(learning_rate=1e-3, batch_size=8, save_every_steps=2, progress=False)
    task = TaskData("toy", "classification", ("x", "y", "z"), toy(32, 3), toy(8, 4))
    plan_fn, n = interleave(lambda e: epoch_plan([task], cfg, 7, e), 1, 2, cfg.batch_size, 2)
    corpus = _data(n=20, width=16, seed=7)
    model = build_model(tiny_model, {"toy": ("classification", 3)}, 0.1, seed=7)
    tasks = [task, TaskData("mlm", MlmData.kind, (), corpus, None)]
    set_seed(7)
    if kill_at is None:
        return train_stage(model, tasks, cfg, 2, folder, torch.device("cpu"), tokenizer, 7, plan_fn=plan_fn), model
    real = torch.optim.lr_scheduler.LambdaLR.step
    calls = {"n": 0}

    def step(self, *a, **k):
        calls["n"] += 1
        if calls["n"] > kill_at:
            raise Killed
        return real(self, *a, **k)

    torch.optim.lr_scheduler.LambdaLR.step = step
    try:
        with pytest.raises(Killed):
            train_stage(model, tasks, cfg, 2, folder, torch.device("cpu"), tokenizer, 7, plan_fn=plan_fn)
    finally:
        torch.optim.lr_scheduler.LambdaLR.step = real
    return None, None


def test_a_killed_mlm_phase_resumes_to_exactly_the_same_model(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    straight, model_a = _train_with_mlm(tiny_model, tokenizer, tmp_path / "straight")
    _train_with_mlm(tiny_model, tokenizer, tmp_path / "resumed", kill_at=8)  # 6 passes an epoch: killed in epoch 2
    assert (tmp_path / "resumed" / "checkpoint" / "state.pt").exists()
    resumed, model_b = _train_with_mlm(tiny_model, tokenizer, tmp_path / "resumed")
    assert resumed == straight and set(straight) == {"toy"}  # MLM is trained, never scored
    a, b = model_a.state_dict(), model_b.state_dict()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    done = json.loads((tmp_path / "resumed" / "done.json").read_text())
    assert done["steps"] == 2 * 6  # 4 task batches + 2 MLM batches an epoch
