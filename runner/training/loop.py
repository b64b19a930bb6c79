"""The training loop, evaluation and scoring.

One loop trains one stage of one or more tasks (several for multi-task intermediate training:
``runner.training.mixing`` decides how often each task's length-grouped batches come up; ``runner.training.mlm``
inserts masked-LM batches for ``--variant mlm``). AdamW with linear warmup and decay; on a GPU bf16 autocast, TF32 matmuls and the
fused AdamW kernel; on CPU plain float32.

Model selection (``TrainConfig.select``, set by the recipe) uses the English dev sets only (never
target-language data; the pipeline reads their first ``dev_subset`` rows): ``epoch`` scores the
model after each epoch, ``steps`` every ``select_every`` optimizer steps and at the end of
training, and each keeps the model when the mean dev score improves; ``last`` scores and keeps
the final model. With ``patience`` P, training stops after P evaluations without improvement.

A stage folder holds ``checkpoint/state.pt`` (rewritten every ``save_every_steps`` optimizer steps
and at each epoch end: weights, optimizer, scheduler, RNG states, position in the epoch),
``best/`` (the selected model) and finally ``done.json`` (dev scores per epoch, wall time, real tokens
trained and seconds spent in the training loop: the tokens/s `runner smoke` prints). A killed stage resumes from its
checkpoint at the same batch with the same data order.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from runner.config import TrainConfig
from runner.kinds import KINDS
from runner.modeling.features import Encoded
from runner.training import mixing
from runner.training.device import autocast
from runner.training.mixing import MixConfig

log = logging.getLogger(__name__)


@dataclass
class TaskData:
    """One task inside a stage: tokenised train and dev features and how to score them.

    Attributes:
        name: head name (the task id).
        kind: head kind.
        labels: label names (empty for multiple choice).
        train: training features (None when only evaluated).
        dev: English dev features.
        metric: headline dev metric: ``accuracy``, ``f1`` or ``map@20``.
        evaluate: dev scorer ``(model, task, cfg, device, pad_id) -> {metric: points}`` for kinds
            whose score needs more than per-feature labels (QA span decoding, retrieval ranking).
    """

    name: str
    kind: str
    labels: tuple[str, ...]
    train: Encoded | None
    dev: Encoded | None
    metric: str = "accuracy"
    evaluate: Callable | None = None


# ---------------------------------------------------------------------------------- optimiser
def build_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases and normalisation weights; fused kernel on GPUs."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    extra = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, **extra)


def linear_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over ``warmup`` steps, then linear decay to 0 at ``total``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def epoch_plan(tasks: list[TaskData], cfg: TrainConfig, seed: int, epoch: int,
               mix: MixConfig | None = None) -> list[tuple[int, list[int]]]:
    """(task index, example indices) for every batch of one epoch, in training order.

    Several tasks are mixed as ``runner.training.mixing`` describes (default: proportional, every batch once).
    """
    lengths = [t.train.lengths if t.train is not None else None for t in tasks]
    return mixing.epoch_plan(lengths, cfg.batch_size, cfg.megabatch, mix or MixConfig(), seed, epoch)


class _Batches(torch.utils.data.Dataset):
    """Collates planned batches (lets a DataLoader do it in worker processes)."""

    def __init__(self, encs: list, plan: list[tuple[int, list[int]]], pad_id: int, multiple_of: int):
        self.encs, self.plan, self.pad_id, self.multiple_of = encs, plan, pad_id, multiple_of

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, i: int) -> tuple[int, dict]:
        t, indices = self.plan[i]
        # Encoded features pad their batch; continued MLM (runner.training.mlm.MlmData) also masks it.
        return t, self.encs[t].collate(indices, self.pad_id, self.multiple_of)


def _loader(encs, plan, pad_id, device, workers):
    data = _Batches(encs, plan, pad_id, 8 if device.type == "cuda" else 1)
    # Own generator: creating a loader must not draw from the global RNG (resume would shift dropout).
    return torch.utils.data.DataLoader(data, batch_size=None, shuffle=False, num_workers=workers,
                                       pin_memory=device.type == "cuda", generator=torch.Generator())


# ------------------------------------------------------------------------------------ a step
def train_step(model, task: TaskData, batch: dict, cfg: TrainConfig, device: torch.device) -> torch.Tensor:
    """Forward (bf16 autocast on a GPU) and backward of one batch already on ``device``.

    Returns:
        The loss, divided by ``cfg.grad_accum`` (gradients accumulate until :func:`optimizer_step`).
    """
    with autocast(device, cfg.precision):
        logits = model(batch, task.name)
    loss = KINDS[task.kind].loss(logits, batch["labels"]) / cfg.grad_accum
    loss.backward()
    return loss


def optimizer_step(model, optimizer: torch.optim.Optimizer, scheduler, cfg: TrainConfig) -> None:
    """Clips the gradient norm, steps the optimizer and the schedule, and clears the gradients."""
    nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


# ------------------------------------------------------------------------------- checkpoints
def _atomic_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _rng_state() -> dict:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_best(model, folder: Path, tokenizer) -> None:
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(tmp, tokenizer)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


# ---------------------------------------------------------------------------------- training
def train_stage(model, tasks: list[TaskData], cfg: TrainConfig, epochs: int, out_dir: Path, device: torch.device,
                tokenizer, seed: int, label: str = "", extra: dict | None = None,
                plan_fn=None) -> dict[str, dict[str, float]]:
    """Trains ``model`` on ``tasks`` for ``epochs``, resuming from ``out_dir/checkpoint`` if present.

    Args:
        model: a ``TaskModel`` with a head for each task.
        tasks: the stage's tasks (one, or several for multi-task training).
        cfg: training settings.
        epochs: number of epochs.
        out_dir: the stage folder (checkpoint, best model, done marker).
        device: where to train.
        tokenizer: saved next to the best encoder.
        seed: data order seed.
        label: name shown on the progress bar.
        extra: more entries for ``done.json``.
        plan_fn: epoch -> plan (``epoch_plan`` of the tasks by default); tasks without dev data
            (continued MLM) are trained but not scored.

    Returns:
        Dev scores of the selected (best) epoch: task -> metric -> points.
    """
    model.to(device)
    encs = [t.train for t in tasks]
    plan_fn = plan_fn or (lambda e: epoch_plan(tasks, cfg, seed, e))
    plans_len = [len(plan_fn(e)) for e in range(epochs)]
    total_steps = sum(math.ceil(n / cfg.grad_accum) for n in plans_len)
    optimizer = build_optimizer(model, cfg, device)
    warmup = cfg.warmup_steps if cfg.warmup_steps is not None else int(cfg.warmup_ratio * total_steps)
    scheduler = linear_schedule(optimizer, min(warmup, total_steps), total_steps)
    state = {"epoch": 0, "batch": 0, "step": 0, "best": -math.inf, "best_scores": {}, "history": [], "wall": 0.0,
             "train_tokens": 0, "train_seconds": 0.0, "evaluated_step": -1, "bad_evals": 0, "stopped": False}
    ckpt = out_dir / "checkpoint" / "state.pt"
    if ckpt.exists():
        saved = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        _set_rng_state(saved["rng"])
        state = saved["state"]
        log.info("%s: resuming from checkpoint at step %d (epoch %d, batch %d)", label, state["step"], state["epoch"] + 1, state["batch"])

    attempt_start = time.perf_counter()
    wall_before = state.get("wall", 0.0)

    def checkpoint() -> None:
        state["wall"] = wall_before + time.perf_counter() - attempt_start
        _atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                      "scheduler": scheduler.state_dict(), "rng": _rng_state(), "state": state}, ckpt)

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def select(epoch: int, final: bool = False) -> None:
        """Scores the model on the English dev sets; keeps it when the mean improves (or, with
        ``select=last``, at the end); counts evaluations without improvement for ``patience``."""
        scores = evaluate_dev(model, tasks, cfg, device, pad_id)
        mean = _mean_dev(tasks, scores)
        state["history"].append({"epoch": epoch + 1, "step": state["step"], "dev": scores})
        state["evaluated_step"] = state["step"]
        log.info("%s: epoch %d step %d dev %s", label, epoch + 1, state["step"], json.dumps(scores))
        if (cfg.select == "last" and final) or (cfg.select != "last" and mean > state["best"]):
            state["best"], state["best_scores"], state["best_epoch"] = mean, scores, epoch + 1
            state["best_step"], state["bad_evals"] = state["step"], 0
            _save_best(model, out_dir / "best", tokenizer)
        else:
            state["bad_evals"] = state.get("bad_evals", 0) + 1
            if cfg.patience is not None and state["bad_evals"] >= cfg.patience:
                state["stopped"] = True
                log.info("%s: no dev improvement in %d evaluations: stopping at step %d", label, cfg.patience,
                         state["step"])
        model.train()

    bar = tqdm(total=total_steps, initial=state["step"], desc=label or "train", unit="step",
               disable=not cfg.progress, dynamic_ncols=True, mininterval=1.0)
    seen, started = 0, time.perf_counter()
    for epoch in range(state["epoch"], epochs):
        if state.get("stopped"):
            break
        plan = plan_fn(epoch)
        model.train()
        optimizer.zero_grad(set_to_none=True)
        start = state["batch"]
        loop_started = time.perf_counter()
        for i, (t, batch) in enumerate(_loader(encs, plan[start:], pad_id, device, cfg.workers), start=start):
            state["train_tokens"] = state.get("train_tokens", 0) + int(batch["attention_mask"].sum())  # real tokens
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            loss = train_step(model, tasks[t], batch, cfg, device)
            seen += batch["labels"].shape[0]
            if (i + 1) % cfg.grad_accum == 0 or i + 1 == len(plan):
                optimizer_step(model, optimizer, scheduler, cfg)
                state["step"] += 1
                state["batch"] = i + 1
                bar.update(1)
                if cfg.progress:  # loss.item() waits for the GPU: only when a bar shows it
                    rate = seen / max(1e-9, time.perf_counter() - started)
                    bar.set_postfix(loss=f"{loss.item() * cfg.grad_accum:.3f}", ex_s=f"{rate:.0f}", epoch=epoch + 1,
                                    refresh=False)
                if (cfg.select == "steps" and state["step"] % cfg.select_every == 0
                        and state["step"] < total_steps):  # the final step is scored below
                    select(epoch)
                    if state.get("stopped"):
                        checkpoint()
                        break
                if state["step"] % cfg.save_every_steps == 0 and state["batch"] < len(plan):
                    checkpoint()
        if device.type == "cuda":
            torch.cuda.synchronize()
        state["train_seconds"] = state.get("train_seconds", 0.0) + time.perf_counter() - loop_started
        if state.get("stopped"):
            break
        final = epoch + 1 == epochs
        if cfg.select == "epoch" or (final and state.get("evaluated_step", -1) != state["step"]):
            select(epoch, final)
        state["epoch"], state["batch"] = epoch + 1, 0
        checkpoint()
    bar.close()
    done = {"dev": state["best_scores"], "best_epoch": state.get("best_epoch"), "best_step": state.get("best_step"),
            "steps": state["step"], "selection": {k: getattr(cfg, k) for k in ("select", "select_every", "dev_subset",
                                                                                "patience")},
            "stopped_early": bool(state.get("stopped")),
            "history": state["history"], "wall_time_s": state["wall"], "train_tokens": state.get("train_tokens", 0),
            "train_seconds": round(state.get("train_seconds", 0.0), 3), **(extra or {})}
    (out_dir / "done.json").write_text(json.dumps(done, indent=1))
    shutil.rmtree(out_dir / "checkpoint", ignore_errors=True)  # the selected model is in best/
    return state["best_scores"]


# -------------------------------------------------------------------------------- evaluation
def _mean_dev(tasks: list[TaskData], scores: dict) -> float:
    """The selection score: the mean headline dev metric over the tasks with dev data."""
    return sum(scores[t.name][t.metric] for t in tasks if t.dev is not None) / max(1, len(scores))


def evaluate_dev(model, tasks: list[TaskData], cfg: TrainConfig, device: torch.device, pad_id: int) -> dict:
    """Dev scores of every task with dev data: task -> metric -> points.

    A task scores with its own ``evaluate`` (set from the kind table by the pipeline), else with
    its kind's default dev evaluator (the label kinds need no settings for it).
    """
    out = {}
    for task in (t for t in tasks if t.dev is not None):
        evaluate = task.evaluate or KINDS[task.kind].dev_evaluator(None, None)
        out[task.name] = evaluate(model, task, cfg, device, pad_id)
    return out
