"""Settings the runner must refuse or adapt before any training (issue 17)."""

from __future__ import annotations

import pytest

from runner.cli import main
from runner.config import build_config, cap_lengths
from runner.errors import RunnerError
from runner.pipeline import layout, position_limit
from store.records import SEED_MAX
from store.shards import list_shards, read_shard
from tests.fixtures.runs import FAST


def test_position_limit_reads_the_config_and_counts_the_roberta_offset(tiny_model, tmp_path):
    from tests.fixtures.mirror import build_bert_model

    assert position_limit(str(tiny_model)) == 512  # XLM-R: 514 embeddings, positions start after padding
    assert position_limit(str(build_bert_model(tmp_path / "bert"))) == 512
    assert position_limit(str(tmp_path / "no-such-model")) is None


def test_lengths_are_capped_with_a_note_and_the_run_records_the_cap(capsys):
    cfg = build_config({"pair": "mnli:xnli"})
    capped = cap_lengths(cfg, 128, "tiny")
    assert (capped.train.max_length, capped.qa.max_length, capped.retrieval.max_length) == (128, 128, 128)
    assert capped.qa.doc_stride == 42 and cfg.train.max_length == 256  # the original is untouched
    err = capsys.readouterr().err
    assert "note: train.max_length 256 is more than tiny's 128 positions; using 128" in err
    assert cap_lengths(cfg, 1024, "big") is cfg and cap_lengths(cfg, None) is cfg


@pytest.mark.parametrize(
    "values, message",
    [
        ({"seed": -1}, "seed -1 is out of range"),
        ({"seed": 2**70}, "seed 1180591620717411303424 is out of range"),
        ({"seed": SEED_MAX + 1}, "out of range"),
        ({"train": {"learning_rate": "inf"}}, "train.learning_rate: 'inf' is not a finite number"),
        ({"train": {"max_grad_norm": "nan"}}, "not a finite number"),
        ({"train": {"dropout": float("-inf")}}, "not a finite number"),
    ],
)
def test_out_of_range_settings_are_refused(values, message):
    with pytest.raises(RunnerError, match=message.replace("(", r"\(")):
        build_config({"pair": "mnli:xnli", **values})


def test_epochs_of_an_unknown_stage_is_refused_with_a_near_match():
    with pytest.raises(RunnerError, match="epochs.mnl: no training stage is called 'mnl' \\(did you mean 'mnli'"):
        layout(build_config({"pair": "mnli:xnli", "epochs": {"mnl": 1}}))
    layout(build_config({"pair": "mnli:xnli", "epochs": {"mnli": 1, "pawsx_en": 2}}))  # unused but real: fine


def test_work_dir_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    for wd in (f, f / "sub"):
        with pytest.raises(RunnerError, match="is a file, not a folder"):
            build_config({"pair": "mnli:xnli", "work_dir": str(wd)})


@pytest.mark.slow
def test_tiny_model_with_130_positions_runs_mnli_xnli_end_to_end_at_default_settings(
    fixture_data, tmp_path, capsys
):
    from runner.smoke.fixtures import build_model

    model = build_model(tmp_path / "tiny-130", positions=130)
    assert position_limit(str(model)) == 128
    store = tmp_path / "store"
    # default sequence lengths (train 256, evaluation as the task says); the fast training flags
    # of the other end-to-end tests only shorten training
    argv = ["run", "--pair", "mnli:xnli", "--model", str(model), "--data-dir", str(fixture_data),
            "--work-dir", str(tmp_path / "work"), "--store", str(store), *FAST]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "train.max_length 256 is more than tiny-130's 128 positions; using 128" in err
    [(run, results)] = [read_shard(p)[:2] for p in list_shards(store / "runs").values()]
    assert run.hparams["max_length"] == 128 and len(results) == 15
    assert main(argv) == 0  # the rerun finds every phase done
    assert len(list_shards(store / "runs")) == 1
