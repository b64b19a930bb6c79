"""Training throughput of the runner's loop against ``transformers.Trainer``, and padding efficiency.

The runner and two ``transformers.Trainer`` configurations fine-tune the same tiny random XLM-R
(2 layers, hidden 64, built offline by ``runner.smoke.fixtures.build_model``) for one epoch on the same
tokenised sentence pairs, whose lengths follow an XNLI-like distribution (log-normal, median about
45 sub-tokens), with the same batch size. Throughput counts real (non-padding) tokens per second of
training. The Trainer runs (1) with its defaults (random batches padded per batch by
``DataCollatorWithPadding``) and (2) as a user would tune it: ``group_by_length=True``
(``train_sampling_strategy="group_by_length"`` in transformers 5: ``LengthGroupedSampler``,
mega-batches of 50 batches sorted by length) with the same dynamic padding. Both ratios are
printed; the target (>= 1.3x) is judged against the stronger Trainer.

Padding efficiency is real tokens over tokens processed (every batch padded to its longest
member) for the runner's length-grouped batches, the Trainer's ``group_by_length`` batches, random
batches with dynamic padding, and the fixed-length padding (128) of the reference XTREME scripts.

Run: ``python bench/runner_throughput.py`` (about 1-2 minutes on 2 CPU cores); ``--strict`` exits 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import warnings
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TARGET_RATIO, TARGET_PADDING = 1.3, 0.95
warnings.filterwarnings("ignore", message=".*pin_memory.*")  # the Trainer's default on a CPU-only machine


def xnli_like_lengths(n: int, seed: int = 0) -> list[int]:
    """Sub-token lengths of premise + hypothesis pairs, roughly as XNLI / MNLI with XLM-R."""
    rng = random.Random(seed)
    return [min(256, max(8, int(rng.lognormvariate(3.8, 0.45)))) for _ in range(n)]


def make_features(n: int, vocab: int, seed: int = 0):
    """Token ids with the XLM-R frame (<s> ... </s>) and 3-way labels."""
    from runner.modeling.features import Encoded

    rng = random.Random(seed)
    ids, labels = [], []
    for length in xnli_like_lengths(n, seed):
        ids.append([0] + [rng.randrange(5, vocab) for _ in range(length - 2)] + [2])
        labels.append(rng.randrange(3))
    return Encoded("classification", ids, labels, list(range(n)))


def run_runner(model_dir: Path, train, dev, batch: int, out: Path) -> float:
    """Seconds for one epoch of ``runner.training.loop.train_stage`` (dev scoring and saving included)."""
    import torch
    from transformers import AutoTokenizer

    from runner.config import TrainConfig
    from runner.kinds import build_model
    from runner.modeling.encoder import load_encoder
    from runner.training.device import set_seed
    from runner.training.loop import TaskData, train_stage

    set_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = build_model(load_encoder(model_dir), {"nli": ("pair_classification", 3)})
    task = TaskData("nli", "pair_classification", ("e", "n", "c"), train, dev)
    cfg = TrainConfig(batch_size=batch, progress=False, save_every_steps=10**9)
    start = time.perf_counter()
    train_stage(model, [task], cfg, 1, out, torch.device("cpu"), tokenizer, seed=0)
    return time.perf_counter() - start


TRAINER_CONFIGS = {"defaults": "random", "group_by_length": "group_by_length"}


def run_trainer(model_dir: Path, train, batch: int, out: Path, sampling: str = "random") -> float:
    """Seconds for one epoch of ``transformers.Trainer`` (same model, data, batch; dynamic padding).

    Args:
        sampling: ``random`` (the default) or ``group_by_length`` (``group_by_length=True``).
    """
    import datasets
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=3)
    data = datasets.Dataset.from_dict({"input_ids": train.input_ids, "labels": train.labels})
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=batch, num_train_epochs=1,
                             report_to=[], disable_tqdm=True, seed=0, train_sampling_strategy=sampling)
    trainer = Trainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)  # keeps the report readable; logging cost is unchanged
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start


def padding_report(batch: int) -> dict[str, float]:
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    from runner.modeling.features import length_grouped_batches, padding_efficiency

    lengths = xnli_like_lengths(20000, seed=1)
    order = list(range(len(lengths)))
    random.Random(0).shuffle(order)
    random_batches = [order[i:i + batch] for i in range(0, len(order), batch)]
    grouped = get_length_grouped_indices(lengths, batch, generator=torch.Generator().manual_seed(0))
    trainer_grouped = [grouped[i:i + batch] for i in range(0, len(grouped), batch)]
    return {
        "runner: length-grouped, padded per batch": padding_efficiency(lengths, length_grouped_batches(lengths, batch, 0)),
        "Trainer group_by_length, padded per batch": padding_efficiency(lengths, trainer_grouped),
        "random batches, padded per batch (Trainer default)": padding_efficiency(lengths, random_batches),
        "fixed length 128 (reference XTREME scripts)": sum(lengths) / (len(lengths) * 128),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=4000, help="training pairs per epoch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=2, help="timed epochs per trainer (best is reported)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)

    import torch
    from datasets import disable_progress_bars

    from runner.smoke.fixtures import build_model

    disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = build_model(tmp / "tiny-xlmr")
        from transformers import AutoTokenizer

        vocab = len(AutoTokenizer.from_pretrained(model_dir))
        train = make_features(args.examples, vocab, seed=0)
        dev = make_features(64, vocab, seed=1)
        real = sum(train.lengths)
        # one short warm-up of each (imports, allocator), then alternate timed epochs
        warm = make_features(256, vocab, seed=2)
        run_runner(model_dir, warm, dev, args.batch_size, tmp / "warm-runner")
        for sampling in TRAINER_CONFIGS.values():
            run_trainer(model_dir, warm, args.batch_size, tmp / f"warm-{sampling}", sampling)
        times: dict[str, list[float]] = {"runner": [], **{name: [] for name in TRAINER_CONFIGS}}
        for r in range(args.repeats):  # interleaved, so that a load change hits every contender alike
            times["runner"].append(run_runner(model_dir, train, dev, args.batch_size, tmp / f"runner{r}"))
            for name, sampling in TRAINER_CONFIGS.items():
                times[name].append(run_trainer(model_dir, train, args.batch_size, tmp / f"{name}{r}", sampling))
    tps = {name: real / min(t) for name, t in times.items()}
    ratios = {name: tps["runner"] / tps[name] for name in TRAINER_CONFIGS}
    strongest = min(ratios, key=ratios.get)
    ratio = ratios[strongest]
    pad = padding_report(args.batch_size)
    grouped = next(iter(pad.values()))
    print(f"runner throughput (CPU, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}; tiny XLM-R: "
          f"2 layers, hidden 64; {args.examples} XNLI-like pairs, {real} real tokens, batch {args.batch_size}, 1 epoch, "
          f"best of {args.repeats})")
    print(f"  runner loop                              {tps['runner']:>10,.0f} real tokens/s   ({min(times['runner']):.1f} s)")
    labels = {"defaults": "transformers.Trainer, defaults", "group_by_length": "transformers.Trainer, group_by_length"}
    for name in TRAINER_CONFIGS:
        print(f"  {labels[name]:<40} {tps[name]:>10,.0f} real tokens/s   ({min(times[name]):.1f} s)   "
              f"runner / this: {ratios[name]:.2f}x")
    print(f"  against the stronger Trainer ({strongest}): {ratio:.2f}x  "
          f"(target >= {TARGET_RATIO}x: {'met' if ratio >= TARGET_RATIO else 'MISSED'})")
    print(f"padding efficiency (real / processed tokens; 20000 XNLI-like pairs, batch {args.batch_size})")
    for name, value in pad.items():
        print(f"  {name:<52} {value:.3f}")
    print(f"  target for the runner >= {TARGET_PADDING}: {'met' if grouped >= TARGET_PADDING else 'MISSED'}")
    missed = ratio < TARGET_RATIO or grouped < TARGET_PADDING
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
