"""CPU end-to-end runs of question-answering and retrieval pairs on the tiny model and fixture repos."""

from __future__ import annotations


import pytest

from runner.data import read as data_mod
from runner.cli import main
from tests.fixtures.runs import assert_one_row_per_language, stored

#: Short windows (the fixture contexts then span several), few examples, one epoch.
QA_FAST = ["--epochs", "1", "--max-train-examples", "80", "--max-eval-examples", "20",
           "--set", "qa.max_length=64", "--set", "qa.doc_stride=24"]


@pytest.mark.slow
def test_squad_xquad_trains_squad_twice_and_scores_every_language(run_args, tmp_path):
    assert main(run_args("squad:xquad", *QA_FAST)) == 0
    [(run, results)] = stored(tmp_path / "store")
    assert_one_row_per_language(results, "xquad")
    assert {r.metric for r in results} == {"f1", "em"}
    [inter, target] = run.dev_scores
    assert (inter.phase, inter.task, target.phase, target.task) == ("intermediate", "squad", "target", "xquad")
    assert inter.metric == target.metric == "f1" and inter.n_examples == target.n_examples == 20
    assert inter.value > 20 and target.value > 20, "English dev F1 should be clearly above zero"
    assert run.config["phases"] == ["intermediate", "target", "evaluation"]
    assert run.hparams["qa"]["max_length"] == 64 and run.hparams["qa"]["squad_version"] == "1.1"
    assert max(r.value for r in results if r.metric == "f1") > 20


@pytest.mark.slow
def test_squad_tydiqa_never_reads_non_english_training_rows(run_args, tmp_path, monkeypatch):
    from runner.tasks.qa import TYDIQA_STAGE

    seen: list[str] = []
    real = data_mod.read_source

    def recording(src, labels, loc, limit=None):
        out = real(src, labels, loc, limit)
        if src is TYDIQA_STAGE.train:
            seen.extend(ex["id"] for ex in out)
        return out

    monkeypatch.setattr(data_mod, "read_source", recording)
    assert main(run_args("squad:tydiqa", *QA_FAST)) == 0
    [(run, results)] = stored(tmp_path / "store")
    assert_one_row_per_language(results, "tydiqa")
    assert seen and all(qid.startswith("english-") for qid in seen)
    assert run.dev_scores[-1].task == "tydiqa" and run.dev_scores[-1].value > 20


def test_tydiqa_training_reads_only_the_english_rows_of_a_mixed_split(fixture_data):
    import pyarrow.parquet as pq

    from runner.data.read import DataLocation, read_stage
    from runner.tasks.qa import TYDIQA_STAGE

    [train_file] = (fixture_data / "google" / "xtreme" / "tydiqa").glob("train-*.parquet")
    ids = pq.read_table(train_file).column("id").to_pylist()
    languages = {qid.split("-")[0] for qid in ids}
    assert len(languages) == 9  # the split holds every language, like the Hub's
    train, dev, _ = read_stage(TYDIQA_STAGE, DataLocation(fixture_data))
    assert {ex["id"].split("-")[0] for ex in train + dev} == {"english"}
    # the held-out selection slice and the training rows split the English rows between them
    english = {qid for qid in ids if qid.startswith("english-")}
    train_ids, dev_ids = {ex["id"] for ex in train}, {ex["id"] for ex in dev}
    assert not train_ids & dev_ids and train_ids | dev_ids == english
    assert 0.05 < len(dev_ids) / len(english) < 0.15  # about 10% (by id hash)


@pytest.mark.slow
def test_tydiqa_phase_2_selection_never_reads_an_evaluation_split(run_args, tmp_path, monkeypatch):
    """The reader is instrumented: every split loaded while phase 2 trains and selects is recorded."""
    from runner import pipeline
    from runner.tasks.registry import get_task

    phase = {"now": ""}
    loaded: dict[str, list] = {"target": [], "evaluate": []}
    real_load, real_read = data_mod._load_split, data_mod.read_source
    dev_ids: set[str] = set()

    def load(ref, loc):
        if phase["now"]:
            loaded[phase["now"]].append(ref)
        return real_load(ref, loc)

    def read(src, labels, loc, limit=None):
        out = real_read(src, labels, loc, limit)
        if phase["now"] == "target" and src is get_task("tydiqa").stages[0].dev:
            dev_ids.update(ex["id"] for ex in out)
        return out

    def during(name, method):
        def wrapped(self):
            phase["now"] = name
            try:
                return method(self)
            finally:
                phase["now"] = ""
        return wrapped

    monkeypatch.setattr(data_mod, "_load_split", load)
    monkeypatch.setattr(data_mod, "read_source", read)
    monkeypatch.setattr(pipeline.Runner, "phase_target", during("target", pipeline.Runner.phase_target))
    monkeypatch.setattr(pipeline.Runner, "phase_evaluate", during("evaluate", pipeline.Runner.phase_evaluate))
    assert main(run_args("none:tydiqa", *QA_FAST)) == 0

    spec = get_task("tydiqa")
    evaluated = {ref for src in spec.test.values() for ref in src.refs}
    assert loaded["target"] and loaded["evaluate"], "the instrumented reader saw both phases"
    assert not set(loaded["target"]) & evaluated  # phase 2 (training and selection) never loads them
    assert {ref.split for ref in loaded["target"]} == {"train"}
    assert set(loaded["evaluate"]) <= evaluated and {ref.split for ref in loaded["evaluate"]} == {"validation"}
    assert dev_ids and all(qid.startswith("english-train") for qid in dev_ids)  # fixture ids name their split
    [(run, _)] = stored(tmp_path / "store")
    assert run.dev_scores[-1].task == "tydiqa" and run.dev_scores[-1].n_examples == len(dev_ids)


@pytest.mark.slow
def test_none_tatoeba_pools_the_pretrained_encoder_without_fine_tuning(run_args, tmp_path):
    assert main(run_args("none:tatoeba", "--max-eval-examples", "20")) == 0
    [(run, results)] = stored(tmp_path / "store")
    assert_one_row_per_language(results, "tatoeba")
    assert run.dev_scores == () and run.config["phases"] == ["evaluation"]
    assert run.hparams["retrieval"]["layer"] is None
    mean = sum(r.value for r in results) / len(results)
    assert mean > 15, f"mean accuracy {mean:.1f} is not above chance (5)"  # translations share words
    assert not (tmp_path / "work" / "intermediate").exists() and not list((tmp_path / "work" / "runs").glob("*/target"))


@pytest.mark.slow
def test_mnli_bucc2018_mines_with_the_intermediate_encoder(run_args, tmp_path):
    assert main(run_args("mnli:bucc2018", "--epochs", "1", "--max-train-examples", "160")) == 0
    [(run, results)] = stored(tmp_path / "store")
    assert_one_row_per_language(results, "bucc2018", split="test-goldonly")  # the Hub's gold pairs only
    assert [(s.phase, s.task) for s in run.dev_scores] == [("intermediate", "mnli")]
    assert run.config["phases"] == ["intermediate", "evaluation"]
    f1 = [r.value for r in results if r.metric == "f1"]
    assert len(f1) == 4 and sum(f1) / 4 > 10


@pytest.mark.slow
@pytest.mark.parametrize(("pair", "local"), [("none:lareqa", False), ("none:lareqa", True), ("none:mewslix", False)])
def test_xtreme_r_retrieval_targets_fine_tune_a_dual_encoder(pair, local, run_args, fixture_data, tmp_path):
    more = ["--lareqa-path", str(fixture_data / "lareqa")] if local else []
    args = run_args(pair, "--epochs", "1", "--max-train-examples", "64", "--max-eval-examples", "12",
                    "--mewslix-path", str(fixture_data / "mewsli-x"), *more)
    assert main(args) == 0
    [(run, results)] = stored(tmp_path / "store")
    target = pair.split(":")[1]
    assert_one_row_per_language(results, target)
    [dev] = run.dev_scores
    assert (dev.phase, dev.task, dev.metric) == ("target", target, "map@20") and dev.value > 0
    if target == "lareqa":  # LAReQA's own files are another run, and what was read says so
        assert (run.hparams.get("local_data") == ["lareqa_path"]) == local
        assert any(s.startswith("local/lareqa@local:xquad-r/") for s in run.config["data_sources"]) == local


def test_lareqa_dry_run_says_how_the_hub_copy_differs(run_args, fixture_data, capsys):
    assert main(run_args("none:lareqa", "--dry-run")) == 0
    assert "no sentence_breaks" in capsys.readouterr().out
    assert main(run_args("none:lareqa", "--lareqa-path", str(fixture_data / "lareqa"), "--dry-run")) == 0
    assert "no sentence_breaks" not in capsys.readouterr().out
    assert main(run_args("none:lareqa", "--lareqa-path", str(fixture_data), "--dry-run")) == 2  # no xquad-r/ there


def test_dry_run_of_a_retrieval_pair_shows_phase_2_skipped(run_args, tmp_path, capsys):
    assert main(run_args("mnli:bucc2018", "--dry-run")) == 0
    lines = capsys.readouterr().out.splitlines()
    phase2 = next(line for line in lines if "phase 2 target" in line)
    assert "no target fine-tuning" in phase2 and "skipped" in phase2
    assert any("phase 1 intermediate  mnli" in line for line in lines)
    store = next(line for line in lines if line.strip().startswith("store"))
    assert "12 result rows (f1, precision, recall x 4 languages: de fr ru zh, split test-goldonly) + 1 English dev score " in store
    assert not (tmp_path / "store").exists() and not (tmp_path / "work").exists()


def test_qa_and_retrieval_settings_define_their_runs_only():
    from runner.config import build_config
    from runner.pipeline import layout

    def lay(pair: str, **values):
        return layout(build_config({"pair": pair, "work_dir": "/tmp/unused", **values}))

    assert "qa" not in lay("mnli:xnli").run.hparams and "retrieval" not in lay("mnli:xnli").run.hparams
    assert lay("mnli:xnli").run.run_id == lay("mnli:xnli", qa={"doc_stride": 64}).run.run_id
    assert lay("mnli:xquad").run.run_id != lay("mnli:xquad", qa={"doc_stride": 64}).run.run_id
    # phase 1 is shared when only the target's evaluation settings differ
    assert lay("mnli:xquad").inter_dir == lay("mnli:bucc2018").inter_dir == lay("mnli:xnli").inter_dir
    assert lay("mnli:bucc2018").run.run_id != lay("mnli:bucc2018", retrieval={"layer": 1}).run.run_id
    # SQuAD v2.0 changes the squad intermediate checkpoint, and nothing for other intermediates
    assert lay("squad:xnli").inter_dir != lay("squad:xnli", qa={"squad_version": "2.0"}).inter_dir
    assert lay("mnli:xquad").run.run_id == lay("mnli:xquad", qa={"squad_version": "2.0"}).run.run_id


def test_squad_v2_is_selected_for_the_intermediate_phase_only(run_args, fixture_data, tmp_path, capsys):
    assert main(run_args("squad:xquad", "--set", "qa.squad_version=2.0", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "data    ok" in out and "phase 1 intermediate  squad" in out and "squad_en" in out
    from runner.config import build_config
    from runner.pipeline import layout

    lay = layout(build_config({"pair": "squad:xquad", "qa": {"squad_version": "2.0"}, "work_dir": str(tmp_path)}))
    sources = lay.run.config["data_sources"]
    assert any(s.startswith("rajpurkar/squad_v2@") for s in sources)  # phase 1
    assert any(s.startswith("rajpurkar/squad@main:plain_text/train") for s in sources)  # phase 2: SQuAD v1.1


def test_a_run_and_its_none_baseline_share_the_target_phase_configuration():
    """What `store` matches a gain's baseline on (store.configuration), from the runner's own records."""
    from runner.config import build_config
    from runner.pipeline import layout
    from store import configuration

    def run(pair: str, **values):
        return layout(build_config({"pair": pair, "work_dir": "/tmp/unused", **values})).run

    for pair, base in (("squad:xnli", "none:xnli"), ("mnli+sst2:pawsx", "none:pawsx"), ("squad:xquad", "none:xquad")):
        r, b = run(pair), run(base)
        assert configuration.target_config_id(r) == configuration.target_config_id(b), pair
        assert configuration.target_data(r) == configuration.target_data(b) is not None
        assert set(r.config["target_data_sources"]) <= set(r.config["data_sources"])  # plus phase 1's data
        assert configuration.config_id(r) != configuration.config_id(b)
    # a different target-phase learning rate, or a cap, is another configuration of the target phase
    capped = run("squad:xnli", train={"max_train_examples": 100})
    assert configuration.is_capped(capped) and not configuration.is_capped(run("squad:xnli"))
    assert configuration.target_config_id(capped) != configuration.target_config_id(run("none:xnli"))
