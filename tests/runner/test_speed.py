"""Training speed measurement (runner.training.speed): the runner's loop and the Trainer on one
model, MFU against a table of GPU peaks, and the GPU benchmark's answer on a machine without CUDA."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from runner.config import TrainConfig
from runner.training import speed

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gpu_throughput.py"


def _bench():
    spec = importlib.util.spec_from_file_location("gpu_throughput", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_bench_without_cuda_measures_nothing_and_exits_0(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on this project's machines
    assert _bench().main([]) == 0
    assert capsys.readouterr().out.strip() == "no CUDA device: nothing measured (this benchmark times XLM-R Large in bf16 on a GPU)"


def test_gpu_bench_builds_the_real_xlmr_large_config():
    bench = _bench()
    config = bench.xlmr_large_config()
    assert (config.num_hidden_layers, config.hidden_size, config.intermediate_size, config.vocab_size) == (24, 1024, 4096, 250002)
    assert config._attn_implementation == "sdpa"


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H100 PCIe", 756.0), ("NVIDIA H100 NVL", 835.0), ("NVIDIA H200", 989.0),
    ("NVIDIA GH200 480GB", 989.0), ("NVIDIA A100-SXM4-80GB", 312.0), ("NVIDIA L40S", 362.0), ("NVIDIA L4", 121.0),
    ("NVIDIA A10", 125.0), ("NVIDIA A10G", None), ("Tesla V100-SXM2-32GB", None),
])
def test_peak_table_matches_whole_names(name, peak):
    assert speed.peak_of(name) == peak


def test_mfu_is_six_n_tokens_over_peak():
    assert speed.model_flops_utilisation(300_000_000, 250_000, 989.0) == pytest.approx(6 * 3e8 * 2.5e5 / 989e12)
    assert speed.model_flops_utilisation(300_000_000, 250_000, None) is None
    assert speed.peak_tflops(torch.device("cpu")) is None and speed.peak_tflops(torch.device("cpu"), 100.0) == 100.0


def test_xnli_like_examples_stay_within_the_length_and_vocab():
    ex = speed.xnli_like_examples(500, 1000, 128)
    assert len(ex.input_ids) == 500 and max(ex.lengths) <= 128 and min(ex.lengths) >= 8
    assert all(ids[0] == 0 and ids[-1] == 2 and max(ids) < 1000 for ids in ex.input_ids)
    assert 35 <= sorted(ex.lengths)[250] <= 55  # median about 45 sub-tokens, as XNLI with XLM-R


@pytest.mark.slow
def test_both_loops_measure_the_same_tiny_model_on_cpu(tiny_model, tmp_path):
    """The code path the GPU benchmark takes, on CPU: tokens counted, no MFU without a peak."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from runner.kinds import build_model
    from runner.modeling.encoder import load_encoder

    vocab = len(AutoTokenizer.from_pretrained(tiny_model))
    cfg = TrainConfig(batch_size=8, max_length=64, progress=False)
    examples = speed.xnli_like_examples(8 * 4, vocab, 64)
    cpu = torch.device("cpu")
    net = build_model(load_encoder(tiny_model), {"bench": ("pair_classification", 3)}, 0.1)
    ours = speed.measure_runner(net, examples, cfg, cpu, steps=3, warmup=1, peak=1.0)
    theirs = speed.measure_trainer(AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=3),
                                   examples, cfg, cpu, steps=3, warmup=1, out_dir=str(tmp_path))
    grouped = speed.length_grouped_batches(examples.lengths, 8, 0, cfg.megabatch)[1:4]
    assert ours.real_tokens == sum(examples.lengths[i] for b in grouped for i in b)  # exactly the timed batches
    for s in (ours, theirs):
        assert s.steps == 3 and s.seconds > 0 and 0 < s.real_tokens <= s.processed_tokens and s.peak_memory_gib == 0.0
    assert theirs.mfu is None and ours.mfu == pytest.approx(6 * speed.multiplying_params(net) * ours.tokens_per_second / 1e12)
    assert speed.multiplying_params(net) < sum(p.numel() for p in net.parameters())  # embeddings left out
    inference = speed.measure_inference(net, examples, cfg, cpu, steps=3, warmup=1)
    assert inference.real_tokens == ours.real_tokens and inference.mfu is None


@pytest.mark.slow
def test_plan_measure_throughput_uses_the_same_measurement(tiny_model, tmp_path):
    from runner.config import RunConfig
    from runner.grid import throughput

    cfg = RunConfig(model=str(tiny_model), device="cpu", train=TrainConfig(batch_size=4, max_length=32, progress=False))
    tp, record = throughput.measure(str(tiny_model), cfg, steps=2, warmup=1)
    assert round(tp.train, 1) == record["train"] > 0 and round(tp.eval, 1) == record["eval"] > 0
    assert "measured now on cpu" in tp.basis
    assert record["mfu"] is None and record["peak_memory_gib"] == 0.0  # no peak FLOP/s or GPU memory on a CPU
    throughput.save_measured(tmp_path, record)
    assert throughput.resolve(str(tiny_model), tmp_path).train == record["train"]
