"""The training loop: schedule, multi-task plans, scoring, and exact resume from a checkpoint."""

from __future__ import annotations

import json

import pytest
import torch

from runner.config import TrainConfig
from runner.kinds import KINDS, build_model
from runner.modeling.encoder import load_encoder
from runner.modeling.features import Encoded
from runner.training.device import set_seed
from runner.training.loop import TaskData, epoch_plan, linear_schedule, train_stage
from tests.fixtures.runs import toy


def test_linear_warmup_then_decay():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = linear_schedule(opt, warmup=2, total=10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:3] == [0.5, 1.0, 1.0] and lrs[-1] == pytest.approx(0.125) and lrs == sorted(lrs[:2]) + sorted(lrs[2:], reverse=True)


def test_multitask_epoch_mixes_every_batch_of_every_task_once():
    cfg = TrainConfig(batch_size=8)
    tasks = [TaskData("a", "classification", ("x", "y", "z"), toy(40, 1), None),
             TaskData("b", "classification", ("x", "y", "z"), toy(16, 2), None)]
    plan = epoch_plan(tasks, cfg, seed=1, epoch=0)
    assert sorted(len([b for t, b in plan if t == k]) for k in (0, 1)) == [2, 5]
    assert plan == epoch_plan(tasks, cfg, 1, 0) != epoch_plan(tasks, cfg, 1, 1)
    assert [t for t, _ in plan] != sorted(t for t, _ in plan)  # interleaved, not task after task


@pytest.mark.parametrize(
    ("kind", "metric", "labels", "preds", "golds", "expected"),
    [
        ("classification", "accuracy", ("a", "b"), [0, 1, 1, 0], [0, 1, 0, 0], {"accuracy": 75.0}),
        ("tagging", "accuracy", ("N", "V"), [[0, 1], [1]], [[0, 1], [0]], {"accuracy": 2 / 3 * 100}),
        ("tagging", "f1", ("O", "B-PER", "I-PER"), [[1, 2, 0]], [[1, 2, 0]], {"f1": 100.0, "precision": 100.0, "recall": 100.0}),
    ],
)
def test_score(kind, metric, labels, preds, golds, expected):
    per_token = isinstance(golds[0], list)
    if per_token:
        enc = Encoded(kind, [[0] * (len(g) + 2) for g in golds], [[-100] + g + [-100] for g in golds],
                      list(range(len(golds))), token_labels=True)
    else:
        enc = Encoded(kind, [[0, 1]] * len(golds), golds, list(range(len(golds))))
    assert KINDS[kind].score(labels, metric, enc, preds) == pytest.approx(expected)


class Killed(Exception):
    pass


def _train(tiny_model, tokenizer, folder, kill_at: int | None = None):
    set_seed(7)
    model = build_model(load_encoder(tiny_model), {"toy": ("classification", 3)})
    task = TaskData("toy", "classification", ("x", "y", "z"), toy(96, 3), toy(32, 4))
    cfg = TrainConfig(learning_rate=1e-3, batch_size=8, save_every_steps=3, progress=False)
    if kill_at is not None:
        real = torch.optim.lr_scheduler.LambdaLR.step
        calls = {"n": 0}

        def step(self, *a, **k):
            calls["n"] += 1
            if calls["n"] > kill_at:  # the first call is the scheduler's own initial step
                raise Killed
            return real(self, *a, **k)

        torch.optim.lr_scheduler.LambdaLR.step = step
        try:
            with pytest.raises(Killed):
                train_stage(model, [task], cfg, 2, folder, torch.device("cpu"), tokenizer, seed=7)
        finally:
            torch.optim.lr_scheduler.LambdaLR.step = real
        return None
    return train_stage(model, [task], cfg, 2, folder, torch.device("cpu"), tokenizer, seed=7)


def test_a_killed_stage_resumes_to_exactly_the_same_model(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    straight = _train(tiny_model, tokenizer, tmp_path / "straight")
    _train(tiny_model, tokenizer, tmp_path / "resumed", kill_at=17)  # 12 steps an epoch: killed in epoch 2
    assert (tmp_path / "resumed" / "checkpoint" / "state.pt").exists()
    resumed = _train(tiny_model, tokenizer, tmp_path / "resumed")
    assert resumed == straight
    a = torch.load(tmp_path / "straight" / "best" / "heads.pt")
    b = torch.load(tmp_path / "resumed" / "best" / "heads.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    done = [json.loads((tmp_path / d / "done.json").read_text()) for d in ("straight", "resumed")]
    assert done[0]["steps"] == done[1]["steps"] == 24 and done[0]["history"] == done[1]["history"]
    assert not (tmp_path / "resumed" / "checkpoint").exists()


@pytest.mark.filterwarnings("ignore:CUDA is not available")
def test_gpu_settings_bf16_autocast_fused_adamw_and_padding_to_multiples_of_8():
    """The GPU path is chosen by device (checked here without a GPU: nothing is run on CUDA)."""
    from runner.modeling.features import collate
    from runner.training.device import autocast
    from runner.training.loop import build_optimizer

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    ctx = autocast(cuda, "auto")
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16
    assert not isinstance(autocast(cuda, "fp32"), torch.autocast)
    assert not isinstance(autocast(cpu, "auto"), torch.autocast)  # float32 on CPU
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    cfg = TrainConfig()
    assert build_optimizer(model, cfg, cuda).defaults["fused"] is True
    assert not build_optimizer(model, cfg, cpu).defaults.get("fused")
    decay, no_decay = build_optimizer(model, cfg, cpu).param_groups
    assert len(decay["params"]) == 1 and decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    batch = collate(toy(3, 0), [0, 1, 2], pad_id=1, multiple_of=8)
    assert batch["input_ids"].shape[1] % 8 == 0


def test_gradient_accumulation_counts_optimizer_steps(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    set_seed(0)
    model = build_model(load_encoder(tiny_model), {"toy": ("classification", 3)})
    task = TaskData("toy", "classification", ("x", "y", "z"), toy(100, 3), toy(16, 4))
    cfg = TrainConfig(learning_rate=1e-3, batch_size=8, grad_accum=4, progress=False)
    train_stage(model, [task], cfg, 2, tmp_path, torch.device("cpu"), AutoTokenizer.from_pretrained(tiny_model), seed=0)
    done = json.loads((tmp_path / "done.json").read_text())
    assert done["steps"] == 2 * 4  # 13 batches an epoch: 3 full accumulations and one short one at the end
