"""Training speed on this device: real tokens per second, model FLOP utilisation and peak memory.

The one measurement behind ``runner plan --measure-throughput`` and ``bench/gpu_throughput.py``:

* :func:`measure_runner` times the runner's own training step (:func:`runner.training.loop.train_step`
  and :func:`~runner.training.loop.optimizer_step`, what ``train_stage`` runs: length-grouped
  batches padded per batch, bf16 autocast, TF32 and fused AdamW on a GPU, gradient clipping,
  linear schedule) on a given model;
* :func:`measure_trainer` times ``transformers.Trainer`` on the same model and examples as a user
  would tune it: ``group_by_length`` (``train_sampling_strategy="group_by_length"``), the same dynamic
  padding, bf16, TF32, fused AdamW;
* :func:`model_flops_utilisation` is ``6 x N x tokens/s`` over the detected GPU's peak dense bf16
  FLOP/s (:data:`PEAK_BF16_TFLOPS`), with ``N`` the parameters that multiply (every weight but the
  embedding tables, whose lookups cost no FLOPs) and only real (non-padding) tokens counted.

Timing: ``warmup`` steps untimed, then wall time from the start of the first timed step to the end
of the last (data loading between steps included), with the device synchronised at both ends.
Peak memory is the allocator's high-water mark over the whole measurement (weights, gradients,
optimizer state and activations).
"""

from __future__ import annotations

import gc
import math
import random
import re
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn

from runner.config import TrainConfig
from runner.modeling.features import Encoded, length_grouped_batches
from runner.training.device import autocast, configure_device
from runner.training.loop import TaskData, _loader, build_optimizer, linear_schedule, optimizer_step, train_step

#: Peak dense (no sparsity) bf16 tensor-core TFLOP/s by GPU name, from NVIDIA's datasheets
#: (the "with sparsity" figures halved). The first key found as a whole word in the device name
#: wins, so more specific names come first. A GPU not listed (say an A10G, whose figure NVIDIA does
#: not publish) gets no MFU unless ``peak_tflops`` is given.
PEAK_BF16_TFLOPS = {
    "GB200": 2500.0,
    "B200": 2250.0,
    "B100": 1750.0,
    "H200 NVL": 835.0,
    "H200": 989.0,
    "GH200": 989.0,
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,  # SXM
    "H800": 989.0,
    "A100": 312.0,
    "A800": 312.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "A10": 125.0,
    "RTX 6000 Ada": 364.0,
    "A6000": 155.0,
}


@dataclass(frozen=True)
class Speed:
    """One measured training loop.

    Attributes:
        loop: what was timed (``runner`` or ``Trainer (group_by_length)``).
        device: the device name.
        steps: timed optimizer steps; seconds: their wall time.
        real_tokens: non-padding tokens in the timed steps; processed_tokens: with padding.
        peak_memory_gib: allocator high-water mark (GPU only; 0 on CPU).
        mfu: model FLOP utilisation (None without a known peak).
    """

    loop: str
    device: str
    steps: int
    seconds: float
    real_tokens: int
    processed_tokens: int
    peak_memory_gib: float
    mfu: float | None

    @property
    def tokens_per_second(self) -> float:
        """Real (non-padding) tokens per second."""
        return self.real_tokens / max(self.seconds, 1e-9)

    def record(self) -> dict:
        return {**asdict(self), "tokens_per_second": round(self.tokens_per_second, 1)}


def xnli_like_lengths(n: int, max_length: int, seed: int = 0) -> list[int]:
    """Sub-token lengths of sentence pairs, roughly as XNLI / MNLI with XLM-R (log-normal, median about 45)."""
    rng = random.Random(seed)
    return [min(max_length, max(8, int(rng.lognormvariate(3.8, 0.45)))) for _ in range(n)]


def xnli_like_examples(n: int, vocab: int, max_length: int, seed: int = 0) -> Encoded:
    """``n`` random sentence pairs in the XLM-R frame (``<s> ... </s>``) with 3-way labels."""
    rng = random.Random(seed)
    ids = [[0] + [rng.randrange(5, vocab) for _ in range(length - 2)] + [2]
           for length in xnli_like_lengths(n, max_length, seed)]
    return Encoded("classification", ids, [rng.randrange(3) for _ in ids], list(range(n)))


def multiplying_params(model: nn.Module) -> int:
    """Parameters that take part in matrix products: all but the embedding tables."""
    embeddings = {id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in embeddings)


def peak_tflops(device: torch.device, override: float | None = None) -> float | None:
    """Peak dense bf16 TFLOP/s of ``device``: ``override``, else :data:`PEAK_BF16_TFLOPS`, else None."""
    if override:
        return override
    if device.type != "cuda":
        return None
    return peak_of(torch.cuda.get_device_name(device))


def peak_of(gpu_name: str) -> float | None:
    """The :data:`PEAK_BF16_TFLOPS` entry whose name appears as a whole word in ``gpu_name``.

    >>> peak_of("NVIDIA H100 80GB HBM3"), peak_of("NVIDIA H100 PCIe"), peak_of("NVIDIA A10G")
    (989.0, 756.0, None)
    """
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if re.search(rf"(?<![A-Za-z0-9]){re.escape(k)}(?![A-Za-z0-9])", gpu_name)), None)


def model_flops_utilisation(n_params: int, tokens_per_second: float, peak: float | None) -> float | None:
    """``6 N`` FLOPs per trained token (forward 2N, backward 4N) over the peak; None without a peak.

    >>> round(model_flops_utilisation(300_000_000, 100_000, 989.0), 3)
    0.182
    """
    return None if not peak else 6 * n_params * tokens_per_second / (peak * 1e12)


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gib(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0


class _Clock:
    """Wall seconds, real and processed tokens of the runner's batches after the first ``warmup``."""

    def __init__(self, warmup: int, device: torch.device):
        self.warmup, self.device = warmup, device
        self.real = self.processed = 0
        self.start = self.seconds = 0.0

    def batches(self, examples: Encoded, plan: list, pad_id: int, workers: int):
        """(index, batch on the device) for every planned batch; the clock starts at ``warmup``."""
        for i, (_, batch) in enumerate(_loader([examples], plan, pad_id, self.device, workers)):
            if i == self.warmup:
                _sync(self.device)
                self.start = time.perf_counter()
            if i >= self.warmup:
                self.real += int(batch["attention_mask"].sum())
                self.processed += batch["attention_mask"].numel()
            yield i, {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def stop(self) -> None:
        _sync(self.device)
        self.seconds = time.perf_counter() - self.start


def measure_runner(net: nn.Module, examples: Encoded, cfg: TrainConfig, device: torch.device, steps: int,
                   warmup: int = 3, pad_id: int = 1, peak: float | None = None) -> Speed:
    """Times the runner's training step on ``net`` (a ``TaskModel`` with a ``bench`` classification head).

    Args:
        examples: at least ``(warmup + steps) x batch_size`` examples.
        cfg: batch size, megabatch, precision, learning rate ... as a run uses them.
        peak: the device's peak dense bf16 TFLOP/s (:func:`peak_tflops`) for the MFU.
    """
    configure_device(device)
    _reset_memory(device)
    net.to(device).train()
    task = TaskData("bench", "pair_classification", ("e", "n", "c"), examples, None)
    plan = [(0, b) for b in length_grouped_batches(examples.lengths, cfg.batch_size, 0, cfg.megabatch)][:warmup + steps]
    if len(plan) < warmup + steps:
        raise ValueError(f"{len(plan)} batches for {warmup} + {steps} steps: give more examples")
    optimizer = build_optimizer(net, cfg, device)
    scheduler = linear_schedule(optimizer, int(cfg.warmup_ratio * len(plan)), len(plan))
    clock = _Clock(warmup, device)
    for i, batch in clock.batches(examples, plan, pad_id, cfg.workers):
        train_step(net, task, batch, cfg, device)
        if (i + 1) % cfg.grad_accum == 0:
            optimizer_step(net, optimizer, scheduler, cfg)
    clock.stop()
    tps = clock.real / max(clock.seconds, 1e-9)
    out = Speed("runner", _device_name(device), steps, clock.seconds, clock.real, clock.processed, _peak_gib(device),
                model_flops_utilisation(multiplying_params(net), tps, peak))
    del optimizer, scheduler
    net.to("cpu")
    _reset_memory(device)
    return out


def measure_inference(net: nn.Module, examples: Encoded, cfg: TrainConfig, device: torch.device, steps: int,
                      warmup: int = 3, pad_id: int = 1) -> Speed:
    """Times forward passes only (evaluation) of ``net``'s ``bench`` head on the runner's batches."""
    configure_device(device)
    _reset_memory(device)
    net.to(device).eval()
    plan = [(0, b) for b in length_grouped_batches(examples.lengths, cfg.batch_size, 0, cfg.megabatch)][:warmup + steps]
    clock = _Clock(warmup, device)
    with torch.inference_mode():
        for _, batch in clock.batches(examples, plan, pad_id, cfg.workers):
            with autocast(device, cfg.precision):
                net(batch, "bench")
    clock.stop()
    out = Speed("runner (inference)", _device_name(device), len(plan) - warmup, clock.seconds, clock.real,
                clock.processed, _peak_gib(device), None)
    net.to("cpu")
    _reset_memory(device)
    return out


class _PadCollator:
    """The runner's dynamic padding for the Trainer: pad to the batch's longest (a multiple of 8 on GPUs)."""

    def __init__(self, pad_id: int, multiple_of: int):
        self.pad_id, self.multiple_of, self.sizes = pad_id, multiple_of, []

    def __call__(self, features: list[dict]) -> dict:
        longest = max(len(f["input_ids"]) for f in features)
        width = int(math.ceil(longest / self.multiple_of) * self.multiple_of)
        ids = torch.full((len(features), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        for row, f in enumerate(features):
            ids[row, : len(f["input_ids"])] = torch.tensor(f["input_ids"])
            mask[row, : len(f["input_ids"])] = 1
        self.sizes.append((int(mask.sum()), mask.numel()))
        return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([f["labels"] for f in features])}


def measure_trainer(model: nn.Module, examples: Encoded, cfg: TrainConfig, device: torch.device, steps: int,
                    warmup: int = 3, pad_id: int = 1, peak: float | None = None, out_dir: str = "trainer-bench") -> Speed:
    """Times ``transformers.Trainer`` on ``model`` (a ``...ForSequenceClassification``) and ``examples``.

    ``group_by_length``, the runner's dynamic padding, bf16 and TF32 on a GPU, fused AdamW, the same
    batch size, learning rate, weight decay, warmup and clipping; no evaluation, saving or logging.
    """
    import datasets
    from transformers import Trainer, TrainerCallback, TrainingArguments
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    configure_device(device)
    _reset_memory(device)
    n = (warmup + steps) * cfg.batch_size
    data = datasets.Dataset.from_dict({"input_ids": examples.input_ids[:n], "labels": examples.labels[:n],
                                       "length": examples.lengths[:n]})
    cuda = device.type == "cuda"
    collator = _PadCollator(pad_id, 8 if cuda else 1)
    args = TrainingArguments(
        output_dir=out_dir, per_device_train_batch_size=cfg.batch_size, max_steps=warmup + steps,
        learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay, warmup_steps=cfg.warmup_ratio,
        max_grad_norm=cfg.max_grad_norm, lr_scheduler_type="linear", train_sampling_strategy="group_by_length",
        bf16=cuda and cfg.precision in ("auto", "bf16"), tf32=cuda or None, optim="adamw_torch_fused" if cuda else "adamw_torch",
        use_cpu=not cuda, report_to=[], disable_tqdm=True, save_strategy="no", logging_strategy="no", seed=0,
        dataloader_num_workers=cfg.workers, remove_unused_columns=False,
    )
    clock: dict[str, float] = {}

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == warmup:
                _sync(device)
                clock["start"] = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == warmup + steps:
                _sync(device)
                clock["end"] = time.perf_counter()

    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=collator, callbacks=[Clock()])
    trainer.train()
    timed = collator.sizes[warmup:warmup + steps]
    seconds = clock["end"] - clock["start"]
    real = sum(r for r, _ in timed)
    tps = real / max(seconds, 1e-9)
    out = Speed("Trainer (group_by_length)", _device_name(device), steps, seconds, real, sum(p for _, p in timed),
                _peak_gib(device), model_flops_utilisation(multiplying_params(model), tps, peak))
    del trainer
    model.to("cpu")
    _reset_memory(device)
    return out


__all__ = ["PEAK_BF16_TFLOPS", "Speed", "measure_inference", "measure_runner", "measure_trainer", "model_flops_utilisation",
           "multiplying_params", "peak_tflops", "xnli_like_examples", "xnli_like_lengths"]
