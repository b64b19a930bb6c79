"""The task registry: every catalog task declared once, languages and sources checked against the catalog."""

from __future__ import annotations

import re

import pytest

from runner.tasks import registry as tasks_mod
from runner.data.read import ADAPTERS
from runner.errors import RunnerError
from runner.kinds import KINDS
from runner.tasks.registry import all_sources, get_task, intermediate_stage, registry
from store.catalog import load_catalog

_KIND_OF_TYPE = {"question answering": "question_answering", "retrieval": "retrieval"}


def test_every_catalog_task_is_declared_once_with_its_role():
    cat = load_catalog()
    reg = registry()
    assert set(reg) == set(cat.intermediate_tasks()) | set(cat.target_tasks())
    for name, spec in reg.items():
        assert spec.name == name and spec.role == cat.task(name).role


def test_the_runner_covers_exactly_the_catalog_tasks_and_runs_them_all():
    cat = load_catalog()
    runnable = {n for n, s in registry().items() if s.implemented}
    assert runnable == set(cat.intermediate_tasks()) | set(cat.target_tasks())
    for name, spec in registry().items():
        assert get_task(name, runnable=True) is spec
        assert spec.kind in KINDS and all(KINDS[st.kind].head is not None for st in spec.stages), name
        task_type = cat.task(name).task_type
        if task_type in _KIND_OF_TYPE:
            assert spec.kind == _KIND_OF_TYPE[task_type], name


def test_a_catalog_task_without_a_declaration_is_refused(monkeypatch):
    from runner.tasks import qa as tasks_qa

    monkeypatch.setattr(tasks_qa, "targets", lambda: {})
    with pytest.raises(RunnerError, match="catalog tasks without a runner declaration: .*xquad"):
        tasks_mod._build_registry()


@pytest.mark.parametrize("target", load_catalog().target_tasks())
def test_target_languages_match_the_catalog(target):
    cat = load_catalog()
    spec = get_task(target)
    assert list(spec.test) == list(cat.task_languages(target))
    assert spec.metrics == cat.task(target).metrics


def test_every_source_names_a_known_adapter_and_a_revision():
    for spec in registry().values():
        for what, src in all_sources(spec):
            assert src.adapter in ADAPTERS, (spec.name, what)
            for ref in src.refs:
                assert ref.repo.revision, ref
                if ref.repo.pinned:
                    assert re.fullmatch(r"[0-9a-f]{40}", ref.repo.revision), ref.repo
                assert "{" not in ref.pattern()


def test_benchmark_recipes():
    assert [s.name for s in get_task("xcopa").stages] == ["siqa", "copa"]  # XTREME-R: SIQA, then COPA
    xnli = get_task("xnli").stages[0]
    assert xnli.train == get_task("mnli").stages[0].train  # XNLI trains on MNLI
    assert xnli.dev.refs[0].repo.repo == "facebook/xnli" and xnli.dev.refs[0].config == "en"
    assert {get_task(t).stages[0].epochs for t in ("udpos", "panx")} == {10}  # jiant XTREME recipe
    assert get_task("xnli").stages[0].epochs == 2 and get_task("pawsx").stages[0].epochs == 5
    assert len(get_task("anli").stages[0].train.refs) == 5  # ANLI+: rounds 1-3, MNLI, SNLI


@pytest.mark.parametrize(
    ("name", "role", "message"),
    [
        ("xnly", None, "unknown task 'xnly' (did you mean 'xnli'?)"),
        ("mnli", "target", "unknown target task 'mnli'"),
        ("hellaswg", "intermediate", "did you mean 'hellaswag'?"),
    ],
)
def test_unknown_names_suggest_a_near_match(name, role, message):
    with pytest.raises(RunnerError, match=re.escape(message)):
        get_task(name, role=role)


def test_qa_recipes():
    squad = get_task("squad").stages[0]
    assert (squad.train.refs[0].repo.repo, squad.train.refs[0].config) == ("rajpurkar/squad", "plain_text")
    assert intermediate_stage("squad", "2.0").train.refs[0].repo.repo == "rajpurkar/squad_v2"
    assert intermediate_stage("squad", "1.1") is squad and intermediate_stage("mnli", "2.0") is get_task("mnli").stages[0]
    for target in ("xquad", "mlqa"):  # XTREME: phase 2 trains on SQuAD v1.1 (so squad:xquad trains it twice)
        [stage] = get_task(target).stages
        assert stage.train == squad.train and stage.dev == squad.dev and stage.name == "squad_en"
    assert {src.columns.get("metric") for src in get_task("mlqa").test.values()} == {"mlqa"}
    assert {src.columns.get("metric") for src in get_task("xquad").test.values()} == {None}  # SQuAD v1.1 script
    [tydi] = get_task("tydiqa").stages
    assert tydi.train.columns["language"] == tydi.dev.columns["language"] == "english"  # zero-shot: English only
    assert {src.columns["language"] for src in get_task("tydiqa").test.values()} >= {"arabic", "telugu", "english"}
    # selection on a held-out slice of the English *training* questions, never on the evaluated split
    assert {r.split for r in tydi.train.refs + tydi.dev.refs} == {"train"}
    assert (tydi.train.columns["holdout"], tydi.dev.columns["holdout"]) == ("exclude", "only")
    assert {r.split for src in get_task("tydiqa").test.values() for r in src.refs} == {"validation"}


def test_no_target_selects_or_trains_on_a_split_it_evaluates():
    """Every target: the splits its training stages read (train and dev) are none of the splits
    phase 3 evaluates (test languages and extra evaluation sources)."""
    for name, spec in registry().items():
        evaluated = {ref for src in [*spec.test.values(), *spec.extra.values()] for ref in src.refs}
        for stage in spec.stages:
            for part, src in (("train", stage.train), ("dev", stage.dev)):
                shared = evaluated & set(src.refs)
                assert not shared, f"{name}: stage {stage.name} {part} reads evaluated split(s) {shared}"


def test_retrieval_recipes():
    for target in ("bucc2018", "tatoeba"):  # XTREME: no target fine-tuning
        assert get_task(target).stages == ()
    assert set(get_task("bucc2018").extra) == {f"dev/{lang}" for lang in ("de", "fr", "ru", "zh")}
    assert {get_task(t).stages[0].kind for t in ("lareqa", "mewslix")} == {"dual_encoder"}
    assert get_task("lareqa").stages[0].train.refs[0].repo.repo == "rajpurkar/squad"
    assert "entities" in get_task("mewslix").extra


def test_a_duplicate_declaration_is_refused(monkeypatch):
    from runner.tasks import text

    monkeypatch.setattr(text, "targets", lambda: {"mnli": registry()["mnli"]})
    with pytest.raises(RunnerError, match="declared twice"):
        tasks_mod._build_registry()


def test_anli_is_anli_plus_as_the_x_stilts_paper_trains_it(fixture_data):
    """ANLI R1-R3 + MNLI + SNLI, one NLI head; its catalog size is the sum of the parts' labelled rows."""
    import pyarrow.parquet as pq

    from runner.data.read import DataLocation, read_stage

    [stage] = get_task("anli").stages
    parts = [(r.repo.repo, r.config, r.split) for r in stage.train.refs]
    assert parts == [("facebook/anli", "plain_text", "train_r1"), ("facebook/anli", "plain_text", "train_r2"),
                     ("facebook/anli", "plain_text", "train_r3"), ("nyu-mll/glue", "mnli", "train"),
                     ("stanfordnlp/snli", "plain_text", "train")]
    assert stage.train.refs[3] == get_task("mnli").stages[0].train.refs[0]  # the same MNLI rows as mnli
    assert {r.split for r in stage.dev.refs} == {"dev_r1", "dev_r2", "dev_r3"}  # selects on ANLI's dev rounds
    [row] = [r for r in load_catalog_rows() if r["task"] == "ANLI+"]
    assert int(row["train_size"]) == 16_946 + 45_460 + 100_459 + 392_702 + (550_152 - 785) == 1_104_934
    # on the fixture mirror: every part is read, SNLI's rows without a gold label (-1) are dropped
    train, _, labels = read_stage(stage, DataLocation(fixture_data))
    labelled = 0
    for ref in stage.train.refs:
        [path] = (fixture_data / ref.repo.repo / ref.config).glob(f"{ref.split}-*.parquet")
        column = pq.read_table(path).column("label").to_pylist()
        labelled += sum(1 for y in column if y >= 0)
        assert ref.repo.repo != "stanfordnlp/snli" or -1 in column
    assert len(train) == labelled and labels == ("entailment", "neutral", "contradiction")


def load_catalog_rows():
    from store.catalog import _read_csv

    return _read_csv("intermediate_tasks.csv")
