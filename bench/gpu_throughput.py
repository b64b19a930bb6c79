"""The GPU path, measured: XLM-R Large training speed, MFU and peak memory, runner against Trainer.

Builds a randomly initialised XLM-R Large from its real configuration (24 layers, hidden 1024, 16
heads, feed-forward 4096, vocabulary 250,002; no weights are downloaded), with SDPA attention,
and trains it on XNLI-like sentence pairs (log-normal lengths, median about 45 sub-tokens, at most
the recipe's maximum length) at the recipe's batch size (``TrainConfig``: 32, max length 256):

* the runner's loop (:func:`runner.training.speed.measure_runner`: length-grouped batches, bf16
  autocast, TF32, fused AdamW), the same code ``runner plan --measure-throughput`` times;
* ``transformers.Trainer`` on the same model and examples with ``group_by_length``, the same
  dynamic padding, bf16, TF32 and fused AdamW (:func:`runner.training.speed.measure_trainer`).

For each: real (non-padding) tokens per second, model FLOP utilisation (6 x N x tokens/s over the
detected GPU's peak dense bf16 FLOP/s; N = the 303M parameters that multiply, embeddings left
out) and peak GPU memory. Target: MFU >= 45% on an H100-class GPU.

Without CUDA it says so and exits 0: nothing is measured on a CPU.

Usage:
    python bench/gpu_throughput.py [--steps 30] [--warmup 5] [--batch-size 32] [--max-length 256]
                                   [--peak-tflops T] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore", message=".*pin_memory.*")

TARGET_MFU = 0.45
#: XLM-R Large as published (FacebookAI/xlm-roberta-large config.json).
XLMR_LARGE = {"vocab_size": 250002, "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
              "intermediate_size": 4096, "max_position_embeddings": 514, "type_vocab_size": 1,
              "layer_norm_eps": 1e-5, "bos_token_id": 0, "pad_token_id": 1, "eos_token_id": 2}


def xlmr_large_config(num_labels: int = 3):
    """The real XLM-R Large configuration, with SDPA attention."""
    from transformers import XLMRobertaConfig

    config = XLMRobertaConfig(**XLMR_LARGE, num_labels=num_labels)
    config._attn_implementation = "sdpa"
    return config


def build_runner_model(config):
    """The runner's ``TaskModel``: a random XLM-R Large encoder with a fresh classification head."""
    from transformers import XLMRobertaModel

    from runner.kinds import build_model

    encoder = XLMRobertaModel(config, add_pooling_layer=False)
    return build_model(encoder, {"bench": ("pair_classification", 3)}, 0.1)


def build_trainer_model(config):
    """The same random XLM-R Large with transformers' sequence-classification head."""
    from transformers import XLMRobertaForSequenceClassification

    return XLMRobertaForSequenceClassification(config)


def main(argv: list[str] | None = None) -> int:
    from runner.config import TrainConfig

    recipe = TrainConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30, help="timed optimizer steps per loop")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first (kernels, allocator, autotuning)")
    ap.add_argument("--batch-size", type=int, default=recipe.batch_size, help="examples per step (recipe: %(default)s)")
    ap.add_argument("--max-length", type=int, default=recipe.max_length, help="sub-tokens at most (recipe: %(default)s)")
    ap.add_argument("--peak-tflops", type=float, default=None, help="peak dense bf16 TFLOP/s, if the GPU is not in the table")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing measured (this benchmark times XLM-R Large in bf16 on a GPU)")
        return 0

    from runner.training import speed

    device = torch.device("cuda")
    peak = speed.peak_tflops(device, args.peak_tflops)
    cfg = TrainConfig(batch_size=args.batch_size, max_length=args.max_length, progress=False)
    config = xlmr_large_config()
    examples = speed.xnli_like_examples((args.warmup + args.steps) * args.batch_size, config.vocab_size, args.max_length)
    torch.manual_seed(0)
    net = build_runner_model(config)
    n_total = sum(p.numel() for p in net.parameters())
    n_mult = speed.multiplying_params(net)
    results = [speed.measure_runner(net, examples, cfg, device, args.steps, args.warmup, config.pad_token_id, peak)]
    del net
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        results.append(speed.measure_trainer(build_trainer_model(config), examples, cfg, device, args.steps,
                                             args.warmup, config.pad_token_id, peak, out_dir=tmp))
    name = torch.cuda.get_device_name(device)
    print(f"{name}: XLM-R Large, random weights (real config; {n_total / 1e6:.0f}M parameters, {n_mult / 1e6:.0f}M "
          f"multiplying), SDPA, bf16 autocast, TF32, fused AdamW; batch {args.batch_size}, XNLI-like lengths up to "
          f"{args.max_length}; {args.steps} timed steps after {args.warmup}")
    print(f"peak dense bf16: {f'{peak:.0f} TFLOP/s' if peak else 'unknown for this GPU (pass --peak-tflops)'}")
    print(f"{'loop':<28} {'real tokens/s':>14} {'padding eff.':>13} {'MFU':>7} {'peak memory':>12}")
    for r in results:
        mfu = f"{100 * r.mfu:.1f}%" if r.mfu is not None else "n/a"
        print(f"{r.loop:<28} {r.tokens_per_second:>14,.0f} {r.real_tokens / r.processed_tokens:>13.3f} {mfu:>7}"
              f" {r.peak_memory_gib:>9.1f} GiB")
    runner, trainer = results
    print(f"runner / Trainer: {runner.tokens_per_second / trainer.tokens_per_second:.2f}x real tokens/s")
    if runner.mfu is not None:
        print(f"MFU target >= {100 * TARGET_MFU:.0f}% on an H100-class GPU: {'met' if runner.mfu >= TARGET_MFU else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps({"gpu": name, "peak_tflops": peak, "params": n_total, "multiplying_params": n_mult,
                                         "results": [r.record() for r in results]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
