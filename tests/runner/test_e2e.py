"""CPU end-to-end runs of the whole pipeline on the tiny model and the fixture repos."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.cli import main
from store.catalog import load_catalog
from store.shards import list_shards
from tests.fixtures.runs import assert_one_row_per_language, stored

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pair", "phases", "floor"),
    [
        ("mnli:xnli", {"intermediate": 50.0, "target": 50.0}, "accuracy"),  # chance 33.3
        ("none:udpos", {"target": 40.0}, "f1"),  # chance: about 6 (17 tags)
        ("hellaswag:xcopa", {"intermediate": 50.0, "target": 70.0}, "accuracy"),  # chance 25 and 50
    ],
)
def test_pair_end_to_end(pair, phases, floor, run_args, tmp_path, capsys):
    assert main(run_args(pair)) == 0
    [(run, results)] = stored(tmp_path / "store")
    target = pair.split(":")[1]
    assert_one_row_per_language(results, target)
    dev = {s.phase: s for s in run.dev_scores}
    assert set(dev) == set(phases)
    for phase, minimum in phases.items():
        assert dev[phase].value > minimum, f"{phase} English dev {dev[phase].value:.1f} is not above chance"
        assert dev[phase].metric == floor and dev[phase].n_examples == 120
    assert run.model == "tiny-xlmr" and run.seed == 1 and run.code_version.startswith("xstilts")
    expected_phases = (["intermediate"] if "intermediate" in phases else []) + ["target", "evaluation"]
    assert run.config["phases"] == expected_phases  # what `store claims` checks for claim 7
    assert run.config["intermediate_tasks"] == ([pair.split(":")[0]] if "intermediate" in phases else [])
    assert run.hardware.startswith("cpu") and run.wall_time_s > 0 and run.gpu_hours == 0
    assert run.config["pair"] == pair and run.hparams["learning_rate"] == 1e-3
    out = capsys.readouterr().out
    assert "written" in out and run.run_id in out
    assert (tmp_path / "work" / "runs" / run.run_id / "run.log").read_text().count("phase 3") == len(results) // len(
        load_catalog().task(target).metrics)


@pytest.mark.slow
def test_rerun_skips_every_phase_and_shares_the_intermediate_checkpoint(run_args, tmp_path, capsys):
    assert main(run_args("mnli:xnli")) == 0
    capsys.readouterr()
    assert main(run_args("mnli:xnli")) == 0
    err = capsys.readouterr()
    assert "phase 1 intermediate (mnli): cached" in err.err and "stage 1 (xnli_en): cached" in err.err
    assert "already in the store" in err.out
    assert main(run_args("mnli:pawsx", "--dry-run")) == 0
    plan = capsys.readouterr().out
    assert "1 intermediate  mnli" in plan and "cached" in plan.splitlines()[1]
    assert "7 result rows" in plan and "new run" in plan
    assert len(stored(tmp_path / "store")) == 1
    # --overwrite redoes every phase; a CPU run is reproducible, so the store sees identical content
    assert main(run_args("mnli:xnli", "--overwrite")) == 0
    again = capsys.readouterr()
    assert "phase 1 intermediate (mnli): training" in again.err and "already in the store (identical)" in again.out
    assert len(stored(tmp_path / "store")) == 1


@pytest.mark.slow
def test_ccg_intermediate_reads_the_licensed_copy_from_ccg_path(run_args, fixture_data, tmp_path):
    assert main(run_args("ccg:pawsx", "--ccg-path", str(fixture_data / "ccgbank"), "--max-train-examples", "120")) == 0
    [(run, results)] = stored(tmp_path / "store")
    [inter, _] = run.dev_scores
    assert (inter.task, inter.metric) == ("ccg", "accuracy") and inter.value > 20  # token accuracy; chance ~6
    assert_one_row_per_language(results, "pawsx")


@pytest.mark.slow
def test_multitask_intermediate_records_a_dev_score_per_task(run_args, tmp_path):
    assert main(run_args("qqp+mnli:pawsx", "--max-train-examples", "200")) == 0
    [(run, results)] = stored(tmp_path / "store")
    assert run.intermediate == "mnli+qqp"
    assert [(s.phase, s.task) for s in run.dev_scores] == [("intermediate", "mnli"), ("intermediate", "qqp"),
                                                           ("target", "pawsx")]
    assert_one_row_per_language(results, "pawsx")


def _cli(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "runner.cli", *args], cwd=ROOT, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_killed_during_phase_2_resumes_without_repeating_phase_1(run_args, tmp_path):
    args = run_args("mnli:xnli", "--save-every-steps", "2", "--set", "epochs.xnli_en=4")
    proc = _cli(args, tmp_path / "first.log")
    deadline = time.monotonic() + 150
    ckpt = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((tmp_path / "work" / "runs").glob("*/target/0-xnli_en/checkpoint/state.pt"))
        if found:
            ckpt = found[0]
            break
        time.sleep(0.02)
    assert ckpt is not None, "phase 2 never checkpointed: " + (tmp_path / "first.log").read_text()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert not list_shards(tmp_path / "store" / "runs"), "a killed run wrote to the store"
    [inter_done] = list((tmp_path / "work" / "intermediate").glob("*/*/done.json"))
    phase1 = inter_done.stat().st_mtime_ns

    second = _cli(args, tmp_path / "second.log")
    assert second.wait(170) == 0, (tmp_path / "second.log").read_text()[-3000:]
    log = (tmp_path / "second.log").read_text()
    assert "phase 1 intermediate (mnli): cached" in log
    assert "phase 1 mnli: epoch" not in log
    assert "phase 2 xnli_en: resuming from checkpoint at step" in log
    assert inter_done.stat().st_mtime_ns == phase1
    [(run, results)] = stored(tmp_path / "store")
    assert_one_row_per_language(results, "xnli")
    done = json.loads((ckpt.parents[1] / "done.json").read_text())
    assert done["steps"] == 4 * 25  # 400 examples / 16 per batch, four epochs: no step lost or repeated

    third = _cli(args, tmp_path / "third.log")
    assert third.wait(120) == 0
    assert "nothing written" in (tmp_path / "third.log").read_text()
    assert len(stored(tmp_path / "store")) == 1


@pytest.mark.slow
@pytest.mark.parametrize(("family", "pair"), [("bert", "none:udpos"), ("bert", "none:xcopa"), ("clip", "none:pawsx")])
def test_other_encoder_families_run_end_to_end(family, pair, run_args, tiny_model, tmp_path):
    """mBERT-style (WordPiece, token type ids) and a vision-language model's text tower."""
    from tests.fixtures.mirror import build_bert_model, build_vision_language_model

    if family == "bert":
        model = build_bert_model(tmp_path / "tiny-mbert")
    else:
        model = build_vision_language_model(tmp_path / "tiny-clip", tiny_model)
    args = run_args(pair, "--max-train-examples", "80", "--max-eval-examples", "20")
    args[args.index("--model") + 1] = str(model)
    assert main(args) == 0
    [(run, results)] = stored(tmp_path / "store")
    assert run.model == model.name
    assert_one_row_per_language(results, pair.split(":")[1])
