"""Model selection as a recipe says: every N optimizer steps, per epoch or the last model; patience; resumable."""

from __future__ import annotations

import json

import pytest
import torch

from runner.config import TrainConfig
from runner.kinds import build_model
from runner.modeling.encoder import load_encoder
from runner.pipeline import dev_limit
from runner.training.device import set_seed
from runner.training.loop import TaskData, train_stage
from tests.fixtures.runs import toy


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def _train(tiny_model, tokenizer, folder, kill_at: int | None = None, **settings) -> dict:
    """2 epochs of 12 optimizer steps on a learnable toy task; ``kill_at``: raise at that optimizer step."""
    set_seed(7)
    model = build_model(load_encoder(tiny_model), {"toy": ("classification", 3)})
    task = TaskData("toy", "classification", ("x", "y", "z"), toy(96, 3), toy(32, 4))
    cfg = TrainConfig(**{"learning_rate": 1e-3, "batch_size": 8, "save_every_steps": 3, "progress": False, **settings})
    real = torch.optim.lr_scheduler.LambdaLR.step
    calls = {"n": 0}

    def step(self, *a, **k):
        calls["n"] += 1
        if kill_at is not None and calls["n"] > kill_at:  # the first call is the scheduler's own initial step
            raise Killed
        return real(self, *a, **k)

    torch.optim.lr_scheduler.LambdaLR.step = step
    try:
        train_stage(model, [task], cfg, 2, folder, torch.device("cpu"), tokenizer, seed=7)
    except Killed:
        return {}
    finally:
        torch.optim.lr_scheduler.LambdaLR.step = real
    return json.loads((folder / "done.json").read_text())


def _steps(done: dict) -> list[int]:
    return [h["step"] for h in done["history"]]


@pytest.mark.slow
def test_steps_selects_every_n_steps_and_at_the_end_and_keeps_the_best(tiny_model, tokenizer, tmp_path):
    done = _train(tiny_model, tokenizer, tmp_path, select="steps", select_every=5)
    assert _steps(done) == [5, 10, 15, 20, 24] and done["steps"] == 24
    means = {h["step"]: h["dev"]["toy"]["accuracy"] for h in done["history"]}
    assert done["best_step"] in means and means[done["best_step"]] == max(means.values())
    first_best = min(s for s, m in means.items() if m == max(means.values()))
    assert done["best_step"] == first_best  # only a strict improvement replaces the kept model
    assert done["dev"]["toy"]["accuracy"] == max(means.values()) and (tmp_path / "best" / "heads.pt").exists()
    assert done["selection"] == {"select": "steps", "select_every": 5, "dev_subset": None, "patience": None}


@pytest.mark.slow
def test_last_keeps_the_final_model_and_scores_it_once(tiny_model, tokenizer, tmp_path):
    done = _train(tiny_model, tokenizer, tmp_path, select="last")
    assert _steps(done) == [24] and done["best_step"] == 24 and not done["stopped_early"]


@pytest.mark.slow
def test_patience_stops_after_evaluations_without_improvement(tiny_model, tokenizer, tmp_path):
    # a learning rate too small to move the dev accuracy: the first evaluation is the best one
    done = _train(tiny_model, tokenizer, tmp_path, learning_rate=1e-12, select="steps", select_every=2, patience=3)
    assert _steps(done) == [2, 4, 6, 8] and done["steps"] == 8 and done["stopped_early"]
    assert done["best_step"] == 2
    epoch = _train(tiny_model, tokenizer, tmp_path / "epoch", learning_rate=1e-12, select="epoch", patience=1)
    assert _steps(epoch) == [12, 24] and epoch["best_step"] == 12  # the second epoch's evaluation did not improve
    assert not (tmp_path / "checkpoint").exists()


@pytest.mark.slow
def test_a_killed_stage_with_step_selection_and_patience_resumes_to_the_same_selection(tiny_model, tokenizer, tmp_path):
    settings = {"select": "steps", "select_every": 4, "patience": 2}
    straight = _train(tiny_model, tokenizer, tmp_path / "straight", **settings)
    assert straight["stopped_early"] and straight["steps"] < 24  # killed at 10 below: after one evaluation without gain
    assert _train(tiny_model, tokenizer, tmp_path / "resumed", kill_at=10, **settings) == {}
    assert (tmp_path / "resumed" / "checkpoint" / "state.pt").exists()
    resumed = _train(tiny_model, tokenizer, tmp_path / "resumed", **settings)
    for key in ("history", "steps", "best_step", "dev", "stopped_early"):
        assert resumed[key] == straight[key], key
    a = torch.load(tmp_path / "straight" / "best" / "heads.pt")
    b = torch.load(tmp_path / "resumed" / "best" / "heads.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_dev_subset_is_the_first_rows_within_the_debug_cap():
    assert dev_limit(TrainConfig()) is None
    assert dev_limit(TrainConfig(dev_subset=500)) == 500
    assert dev_limit(TrainConfig(dev_subset=500, max_eval_examples=20)) == 20
    assert dev_limit(TrainConfig(max_eval_examples=20)) == 20
