"""Training and evaluation throughput for ``runner plan``: configured, measured, or an assumption.

Throughput is in real (non-padding) sub-tokens per second on one device; the runner's
length-grouped batches pad very little, so real and processed tokens are nearly the same.

In order of precedence:

1. ``--tokens-per-second`` (and ``--eval-tokens-per-second``): what you measured or know.
2. The latest measurement of the model in ``WORK/cache/throughput.json``, written by
   ``runner plan --measure-throughput``: :mod:`runner.training.speed` times the runner's own
   training step and inference on the real model on this machine's device, at the configured
   batch size and maximum length, on token sequences with XNLI-like lengths (the measurement
   ``bench/gpu_throughput.py`` makes, which also reports MFU and peak memory). Run it once on a
   GPU node; later plans anywhere use it.
3. An **assumption** (never measured here: this project's machines have no GPU): training costs
   about ``6 N`` FLOPs per token and inference ``2 N`` (N = non-embedding parameters; Kaplan et
   al. 2020, "Scaling Laws for Neural Language Models", sec. 2.1), on one A100-class GPU
   sustaining ``ASSUMED_EFFECTIVE_TFLOPS`` in bf16 (16% of the A100's 312 TFLOPS dense bf16 peak,
   typical of short-sequence fine-tuning). For XLM-R large (N = 302M) that is 27,600 tokens/s for
   training and 82,800 for evaluation.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from runner.errors import RunnerError
from runner.kinds import build_model
from runner.modeling.encoder import load_encoder, load_tokenizer
from runner.training import speed
from runner.training.device import hardware, pick_device, set_seed

ASSUMED_EFFECTIVE_TFLOPS = 50.0
TRAIN_FLOPS_PER_PARAM = 6.0
EVAL_FLOPS_PER_PARAM = 2.0
#: (layers, hidden, feed-forward) of the catalog's models, from their config.json on the Hub.
KNOWN_SHAPES = {
    "xlm-roberta-large": (24, 1024, 4096),
    "xlm-roberta-base": (12, 768, 3072),
    "bert-base-multilingual-cased": (12, 768, 3072),
    "mdeberta-v3-base": (12, 768, 3072),
}


@dataclass(frozen=True)
class Throughput:
    """Real tokens per second for training and for evaluation (forward only), and where they come from."""

    train: float
    eval: float
    basis: str


def _shape(model: str) -> tuple[int, int, int] | None:
    """(layers, hidden, feed-forward) from a local config.json, else the table of known models."""
    config = Path(model).expanduser() / "config.json"
    if config.is_file():
        c = json.loads(config.read_text())
        c = c.get("text_config", c)  # vision-language models: the text tower
        try:
            return int(c["num_hidden_layers"]), int(c["hidden_size"]), int(c["intermediate_size"])
        except (KeyError, TypeError, ValueError):
            return None
    name = model.rstrip("/").split("/")[-1]
    return KNOWN_SHAPES.get(name)


def non_embedding_params(model: str) -> int | None:
    """Attention (4 h^2) plus feed-forward (2 h f) weights per layer; None when the shape is unknown.

    Example:
        >>> non_embedding_params("xlm-roberta-large")
        301989888
    """
    shape = _shape(model)
    if shape is None:
        return None
    layers, hidden, ffn = shape
    return layers * (4 * hidden * hidden + 2 * hidden * ffn)


def assumed(model: str) -> Throughput:
    """The FLOP-based assumption of the module docstring; RunnerError when the model's size is unknown."""
    n = non_embedding_params(model)
    if n is None:
        raise RunnerError(f"no throughput for model {model!r} (its size is unknown here): pass --tokens-per-second N, "
                          "or --measure-throughput on a machine with the model")
    flops = ASSUMED_EFFECTIVE_TFLOPS * 1e12
    basis = (f"assumption, not measured: {ASSUMED_EFFECTIVE_TFLOPS:.0f} effective TFLOP/s on one A100-class GPU, "
             f"{TRAIN_FLOPS_PER_PARAM:.0f}N FLOPs per training token and {EVAL_FLOPS_PER_PARAM:.0f}N per evaluation "
             f"token, N = {n / 1e6:.0f}M non-embedding parameters; measure with --measure-throughput on a GPU node "
             "or set --tokens-per-second")
    return Throughput(flops / (TRAIN_FLOPS_PER_PARAM * n), flops / (EVAL_FLOPS_PER_PARAM * n), basis)


# ------------------------------------------------------------------------------- measurements
def _cache(work: Path) -> Path:
    return work / "cache" / "throughput.json"


def load_measured(work: Path, model: str) -> Throughput | None:
    """The latest measurement of ``model`` saved under ``work``, if any."""
    path = _cache(work)
    if not path.exists():
        return None
    records = [r for r in json.loads(path.read_text()) if r["model"] == model]
    if not records:
        return None
    r = max(records, key=lambda r: r["measured_at"])
    return Throughput(r["train"], r["eval"], f"measured on {r['hardware']} at {r['measured_at']} "
                      f"(batch {r['batch_size']}, max length {r['max_length']}; --measure-throughput)")


def save_measured(work: Path, record: dict) -> None:
    """Appends a measurement to ``WORK/cache/throughput.json`` (atomic rewrite)."""
    path = _cache(work)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = json.loads(path.read_text()) if path.exists() else []
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(records + [record], indent=1))
    os.replace(tmp, path)


def resolve(model: str, work: Path, tokens_per_second: float | None = None,
            eval_tokens_per_second: float | None = None) -> Throughput:
    """Configured, else measured, else assumed (see the module docstring)."""
    if tokens_per_second is not None:
        if tokens_per_second <= 0 or (eval_tokens_per_second is not None and eval_tokens_per_second <= 0):
            raise RunnerError("--tokens-per-second and --eval-tokens-per-second must be > 0")
        ev = eval_tokens_per_second or 3 * tokens_per_second
        note = "" if eval_tokens_per_second else f"; evaluation {TRAIN_FLOPS_PER_PARAM / EVAL_FLOPS_PER_PARAM:.0f}x training (assumption: forward only)"
        return Throughput(tokens_per_second, ev, f"configured (--tokens-per-second){note}")
    measured = load_measured(work, model)
    return measured if measured is not None else assumed(model)


def measure(model: str, cfg, steps: int = 20, warmup: int = 3) -> tuple[Throughput, dict]:
    """Times ``steps`` training steps of the runner's loop and as many inference batches on this device.

    The measurement is :mod:`runner.training.speed`'s (the same as ``bench/gpu_throughput.py``):
    the runner's own training step on the real model, at the configured batch size and maximum
    length, on token sequences with XNLI-like lengths.

    Args:
        model: Hub id or local folder.
        cfg: the run's ``RunConfig`` (device, batch size, max length, precision).
        steps: timed batches of each kind (after ``warmup`` untimed ones).

    Returns:
        (throughput, the record saved by :func:`save_measured`: also MFU and peak memory).
    """
    tr = cfg.train
    device = pick_device(cfg.device)
    set_seed(0)
    tokenizer = load_tokenizer(model)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    examples = speed.xnli_like_examples(tr.batch_size * (steps + warmup), len(tokenizer), tr.max_length)
    net = build_model(load_encoder(model), {"bench": ("pair_classification", 3)}, tr.dropout)
    peak = speed.peak_tflops(device)
    train = speed.measure_runner(net, examples, tr, device, steps, warmup, pad, peak)
    evaluation = speed.measure_inference(net, examples, tr, device, steps, warmup, pad)
    record = {"model": model, "hardware": hardware(device), "batch_size": tr.batch_size, "max_length": tr.max_length,
              "precision": tr.precision, "train": round(train.tokens_per_second, 1),
              "eval": round(evaluation.tokens_per_second, 1),
              "mfu": round(train.mfu, 4) if train.mfu is not None else None,
              "peak_memory_gib": round(train.peak_memory_gib, 2), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    mfu = f", MFU {100 * train.mfu:.1f}%" if train.mfu is not None else ""
    basis = (f"measured now on {record['hardware']} (batch {tr.batch_size}, max length {tr.max_length}, "
             f"{steps} steps{mfu}; --measure-throughput)")
    return Throughput(train.tokens_per_second, evaluation.tokens_per_second, basis), record


__all__ = ["Throughput", "assumed", "load_measured", "measure", "non_embedding_params", "resolve", "save_measured"]
