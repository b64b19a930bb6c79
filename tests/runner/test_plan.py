"""``runner plan``: runs, shared checkpoints, what is done, and GPU-hours from counted tokens."""

from __future__ import annotations

import json
import re

import pytest

from runner.cli import main
from tests.fixtures.runs import FAST, SELECTION, TINY


@pytest.fixture()
def plan_args(fixture_data, tiny_model, tmp_path, one_thread):
    def make(*extra: str, selection=SELECTION) -> list[str]:
        return ["plan", *selection, "--model", str(tiny_model), "--data-dir", str(fixture_data),
                "--work-dir", str(tmp_path / "work"), "--store", str(tmp_path / "store"), *TINY, *extra]

    return make


def mnli_train_tokens(fixture_data, tiny_model) -> int:
    """Real tokens of the first 80 MNLI training pairs, encoded as the runner encodes them."""
    from runner.data.read import DataLocation, read_stage
    from runner.kinds import encode
    from runner.modeling.encoder import load_tokenizer
    from runner.tasks.text import STAGES

    train, _, _ = read_stage(STAGES["mnli"], DataLocation(fixture_data), 80, 20)
    enc = encode("pair_classification", train, load_tokenizer(str(tiny_model)), 256)
    return sum(enc.real_tokens(i) for i in range(len(enc)))


def table(out: str, first: str, skip: int = 2) -> list[list[str]]:
    """Rows of the indented table ``skip`` lines after the line starting with ``first``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first)) + skip
    rows = []
    for line in lines[start:]:
        if not line.startswith("  ") or not line.strip():
            break
        rows.append(line.split())
    return rows


def test_plan_counts_tokens_shows_shared_checkpoints_and_gpu_hours(plan_args, fixture_data, tiny_model, tmp_path,
                                                                    capsys):
    assert main(plan_args("--tokens-per-second", "1000", "--eval-tokens-per-second", "4000")) == 0
    out = capsys.readouterr().out
    assert out.startswith("plan: 2 intermediate x 2 targets x 2 seeds + baselines = 12 runs in 8 chains; model tiny-xlmr")
    assert "(0 of 12 runs already there)" in out
    assert f"tokens: counted with the model's tokenizer on the local data in {fixture_data}" in out
    assert "throughput: training 1,000 tokens/s, evaluation 4,000 tokens/s (configured" in out
    checkpoints = table(out, "intermediate checkpoints (phase 1): 4")
    assert [(r[0], r[1]) for r in checkpoints] == [("mnli", "1"), ("qqp", "1"), ("mnli", "2"), ("qqp", "2")]
    assert all(r[4:7] == ["to", "train", "2"] and r[-2:] == ["pawsx,", "xnli"] for r in checkpoints)
    train_tokens = int(checkpoints[0][2].replace(",", ""))
    assert train_tokens == mnli_train_tokens(fixture_data, tiny_model)  # one epoch (--epochs 1)
    assert float(checkpoints[0][3]) > train_tokens / 1000 / 3600  # plus English dev scoring
    runs = table(out, "runs (phase 1 intermediate")
    assert len(runs) == 12 and all(r[-2:] == ["to", "run"] for r in runs)
    assert [" ".join(r[3:6]) for r in runs[:2]] == ["trains mnli s1", "reuses mnli s1"]
    assert runs[8][3] == "none" and runs[8][1] == "none:pawsx"
    assert re.search(r"pawsx_en 1 ep \S+ +7 languages \S+", out) and re.search(r"xnli_en 1 ep \S+ +15 languages", out)
    totals = {r[0]: r[1:] for r in table(out, "  GPU-hours", 1)}
    assert set(totals) == {"intermediate", "target", "evaluation", "total"} and totals["total"][0] == totals["total"][1]
    assert "to run: 12 of 12 runs" in out
    counts = json.loads((tmp_path / "work" / "cache" / "token_counts.json").read_text())
    assert len(counts) == 2 * 4 + 7 + 15  # train + dev of mnli, qqp, pawsx_en, xnli_en; each test language
    assert not (tmp_path / "store").exists()


@pytest.mark.slow
def test_plan_shows_what_is_done_and_prices_only_what_is_left(plan_args, run_args, tmp_path, capsys):
    assert main(run_args("mnli:pawsx", *TINY[len(FAST):])) == 0
    capsys.readouterr()
    assert main(plan_args("--tokens-per-second", "1000")) == 0
    out = capsys.readouterr().out
    assert "(1 of 12 runs already there)" in out
    checkpoints = table(out, "intermediate checkpoints (phase 1)")
    assert checkpoints[0][0] == "mnli" and "cached" in checkpoints[0]
    runs = {r[0]: r for r in table(out, "runs (phase 1 intermediate")}
    assert runs["1"][-1] == "stored" and runs["2"][-2:] == ["to", "run"]
    totals = {r[0]: r[1:] for r in table(out, "  GPU-hours", 1)}
    assert float(totals["total"][1]) < float(totals["total"][0])
    assert "to run: 11 of 12 runs" in out


def test_plan_from_the_catalog_without_local_data(plan_args, capsys):
    args = plan_args("--tokens-per-second", "1000", "--from-catalog")
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "tokens: estimated from the catalog's split sizes x mean tokens per example (--from-catalog;" in out
    checkpoints = table(out, "intermediate checkpoints (phase 1)")
    # the catalog's MNLI row: 191 bytes per example / 4 bytes per token, 80 examples (the cap), one epoch
    assert checkpoints[0][2] == f"{round(80 * 191 / 4):,}"


def test_plan_default_throughput_is_a_labelled_assumption(capsys, tmp_path):
    assert main(["plan", "--intermediate", "mnli", "--target", "xnli", "--work-dir", str(tmp_path / "w"),
                 "--store", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "throughput: training 27,595 tokens/s, evaluation 82,784 tokens/s (assumption, not measured:" in out
    assert "N = 302M non-embedding parameters" in out and "no --data-dir" in out
    checkpoints = table(out, "intermediate checkpoints (phase 1)")
    assert checkpoints[0][2] == f"{round(392702 * 191 / 4) * 3:,}"  # all of MNLI, 3 epochs (the xstilts recipe)


def test_measured_throughput_is_kept_and_used_by_later_plans(plan_args, tmp_path, capsys):
    assert main(plan_args("--measure-throughput", selection=["--intermediate", "mnli", "--target", "pawsx"])) == 0
    out = capsys.readouterr().out
    assert re.search(r"throughput: training [\d,]+ tokens/s, evaluation [\d,]+ tokens/s \(measured now on cpu", out)
    [record] = json.loads((tmp_path / "work" / "cache" / "throughput.json").read_text())
    assert record["train"] > 0 and record["eval"] > record["train"] and record["hardware"].startswith("cpu")
    assert main(plan_args(selection=["--intermediate", "mnli", "--target", "pawsx"])) == 0
    assert f"training {record['train']:,.0f} tokens/s" in capsys.readouterr().out


@pytest.mark.slow
def test_plan_reads_an_hf_store_through_its_local_copy(plan_args, run_args, tmp_path, capsys, monkeypatch):
    """``--store hf://datasets/ORG/NAME`` is pulled into a read-only cache (offline here: the last copy)."""
    import shutil

    assert main(run_args("none:pawsx", *TINY[len(FAST):])) == 0
    cache = tmp_path / "hub-cache"
    shutil.copytree(tmp_path / "store", cache / "lab--xstilts")
    monkeypatch.setenv("XSTILTS_HUB_CACHE", str(cache))
    capsys.readouterr()
    args = plan_args("--tokens-per-second", "1000")
    args[args.index("--store") + 1] = "hf://datasets/lab/xstilts"
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"store: {cache / 'lab--xstilts'} (1 of 12 runs already there)" in out
    assert {(r[1], r[2]): r[-1] for r in table(out, "runs (phase 1 intermediate")}[("none:pawsx", "1")] == "stored"


def test_catalog_plan_labels_its_total_a_lower_bound_and_names_the_missing_splits(tmp_path, capsys):
    from runner.cli import main

    assert main(["plan", "--intermediate", "squad,mnli", "--target", "xquad,tatoeba,xnli", "--seeds", "1",
                 "--from-catalog", "--work-dir", str(tmp_path / "w"), "--tokens-per-second", "1000"]) == 0
    out = capsys.readouterr().out
    squad = next(line for line in out.splitlines() if line.lstrip().startswith("squad "))
    assert squad.split()[2:4] == ["?", "?"]  # not "0" tokens and "-" hours
    total = next(line for line in out.splitlines() if line.lstrip().startswith("total"))
    assert "(lower bound)" in total and "≥" in total
    lower = next(line for line in out.splitlines() if line.startswith("lower bound:"))
    for split in ("squad train", "xquad test", "tatoeba test"):
        assert split in lower
    assert "xnli test" not in lower  # known from the catalog (RemBERT Table 11)
