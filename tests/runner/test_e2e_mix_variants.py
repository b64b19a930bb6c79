"""CPU end-to-end runs of multi-task intermediate training and the mlm / translated variants."""

from __future__ import annotations

import json

import pytest

from runner.cli import main
from runner.tasks.registry import get_task
from store.catalog import load_catalog
from tests.fixtures.runs import assert_one_row_per_language, stored


def sliced(store, variant: str):
    """The store's per-language scores of one variant (as the dashboard and exports slice them)."""
    from store.analysis import Filters, scores
    from store.database import Store

    with Store.open(store) as st:
        return scores(st, Filters(sources=("runner",), variants=(variant,)))


def dry_run_id(args: list[str], capsys) -> str:
    assert main([*args, "--dry-run"]) == 0
    return capsys.readouterr().out.splitlines()[0].split("run_id=")[1]


@pytest.mark.slow
def test_mnli_sst2_pawsx_records_a_dev_score_per_task_and_the_sampling(run_args, tmp_path):
    assert main(run_args("sst2+mnli:pawsx", "--mix", "temperature", "--mix-temperature", "3",
                         "--max-train-examples", "200")) == 0
    [(run, results)] = stored(tmp_path / "store")
    assert_one_row_per_language(results, "pawsx")
    assert run.intermediate == "mnli+sst2" and run.variant == ""
    dev = {(s.phase, s.task): s for s in run.dev_scores}
    assert list(dev) == [("intermediate", "mnli"), ("intermediate", "sst2"), ("target", "pawsx")]
    assert dev["intermediate", "sst2"].value > 55  # chance 50 (MNLI needs more than 2 x 13 batches here)
    assert run.config["mix"] == {"sampling": "temperature", "temperature": 3.0, "cap": None}
    assert run.hparams["mix"] == {"sampling": "temperature", "temperature": 3.0}
    mix = run.config["intermediate_mix"]  # what the phase did: equal sizes, so equal rates
    assert mix["examples"] == {"mnli": 200, "sst2": 200} and mix["rates"] == {"mnli": 0.5, "sst2": 0.5}
    assert mix["batches_per_epoch"] == {"mnli": 13, "sst2": 13}
    assert run.config["intermediate_tasks"] == ["mnli", "sst2"]


@pytest.mark.slow
def test_every_runnable_intermediate_task_trains_together(run_args, fixture_data, tmp_path):
    """``multitask`` once all nine run (QA adds squad); until then every implemented task, joined with '+'."""
    nine = load_catalog().intermediate_tasks()
    runnable = [t for t in nine if get_task(t).implemented]
    pair = "multitask:pawsx" if runnable == nine else "+".join(runnable) + ":pawsx"
    assert main(run_args(pair, "--ccg-path", str(fixture_data / "ccgbank"), "--epochs", "1",
                         "--max-train-examples", "32", "--max-eval-examples", "32")) == 0
    [(run, results)] = stored(tmp_path / "store")
    assert_one_row_per_language(results, "pawsx")
    assert [s.task for s in run.dev_scores] == [*runnable, "pawsx"]
    assert run.config["intermediate_tasks"] == runnable and run.hparams["mix"] == {"sampling": "proportional"}
    assert set(run.config["intermediate_mix"]["batches_per_epoch"]) == set(runnable)


@pytest.mark.slow
def test_mnli_xnli_with_continued_mlm(run_args, mlm_corpus, tmp_path, capsys):
    plain = dry_run_id(run_args("mnli:xnli"), capsys)
    assert main(run_args("mnli:xnli", "--variant", "mlm", "--mlm-corpus", "wikimedia/wikipedia", "--mlm-every", "2",
                         "--set", "mlm.max_length=64")) == 0
    [(run, results)] = stored(tmp_path / "store")
    assert run.variant == "mlm" and run.run_id != plain and run.intermediate == "mnli"
    assert_one_row_per_language(results, "xnli")
    assert run.hparams["mlm"]["corpus"] == "hub:wikimedia/wikipedia@main" and run.hparams["mlm"]["every"] == 2
    assert run.config["mlm"]["corpus"] == "wikimedia/wikipedia"
    assert run.config["variant_source"] == {"given": "wikimedia/wikipedia", "identity": "hub:wikimedia/wikipedia@main"}
    record = run.config["intermediate_mlm"]
    assert record["batches"] == 2 * (25 // 2) and record["sequences"] > 100  # 25 MNLI batches an epoch, two epochs
    [inter, target] = run.dev_scores
    assert (inter.task, target.task) == ("mnli", "xnli") and inter.value > 45
    [folder] = (tmp_path / "work" / "intermediate").glob("*/*")
    assert folder.name.startswith("mnli__mlm__s1__")
    log = (tmp_path / "work" / "runs" / run.run_id / "run.log").read_text()
    assert "mlm corpus wikimedia/wikipedia:" in log
    assert sliced(tmp_path / "store", "mlm").height == 15 and sliced(tmp_path / "store", "").height == 0


@pytest.mark.slow
def test_mnli_xnli_with_translated_intermediate_data(run_args, translated_data, tmp_path, capsys):
    plain = dry_run_id(run_args("mnli:xnli", "--max-train-examples", "120"), capsys)
    assert main(run_args("mnli:xnli", "--variant", "translated", "--translated-data", "facebook/xnli",
                         "--translated-languages", "de,fr", "--max-train-examples", "120")) == 0
    [(run, results)] = stored(tmp_path / "store")
    assert run.variant == "translated" and run.run_id != plain
    assert_one_row_per_language(results, "xnli")
    assert run.hparams["translated"] == {"data": "hub:facebook/xnli@main", "languages": ["de", "fr"],
                                         "layout": "{lang}/{split}-*.parquet", "split": "train", "include_english": True}
    [inter, _] = run.dev_scores
    assert inter.task == "mnli" and inter.n_examples == 120 and inter.value > 40  # English dev
    [done] = (tmp_path / "work" / "intermediate").glob("*/mnli__translated__s1__*/done.json")
    assert json.loads(done.read_text())["n_train"] == {"mnli": 120 * 3}  # English, de and fr, 120 each
    assert sliced(tmp_path / "store", "translated")["language"].n_unique() == 15


@pytest.mark.slow
def test_squad_xnli_with_continued_mlm(run_args, mlm_corpus, tmp_path):
    """On the issue's must-show list; runs for real once squad is implemented."""
    assert main(run_args("squad:xnli", "--variant", "mlm", "--mlm-corpus", "wikimedia/wikipedia",
                         "--max-train-examples", "120", "--set", "mlm.max_length=64")) == 0
    [(run, results)] = stored(tmp_path / "store")
    assert run.variant == "mlm" and run.intermediate == "squad"
    assert_one_row_per_language(results, "xnli")
    assert [s.task for s in run.dev_scores] == ["squad", "xnli"]
