"""The task registry: every catalog task declared once, languages and sources checked against the catalog."""

from __future__ import annotations

import re

import pytest

from runner import tasks as tasks_mod
from runner.data import ADAPTERS
from runner.errors import RunnerError
from runner.tasks import KINDS, LATER_KINDS, all_sources, get_task, registry
from store.catalog import load_catalog

THIS_ISSUE = {"mnli", "qqp", "sst2", "anli", "commonsenseqa", "cosmosqa", "hellaswag", "ccg",
              "xnli", "pawsx", "xcopa", "udpos", "panx"}


def test_every_catalog_task_is_declared_once_with_its_role():
    cat = load_catalog()
    reg = registry()
    assert set(reg) == set(cat.intermediate_tasks()) | set(cat.target_tasks())
    for name, spec in reg.items():
        assert spec.name == name and spec.role == cat.task(name).role


def test_this_issue_implements_exactly_its_tasks():
    assert {n for n, s in registry().items() if s.implemented} == THIS_ISSUE
    for name, spec in registry().items():
        assert spec.kind in (KINDS if spec.implemented else LATER_KINDS), name


@pytest.mark.parametrize("target", ["xnli", "pawsx", "xcopa", "udpos", "panx"])
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
    assert len(get_task("anli").stages[0].train.refs) == 3  # rounds 1-3


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


@pytest.mark.parametrize("name", ["squad", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba", "mewslix", "lareqa"])
def test_later_tasks_are_listed_but_refused(name):
    assert not get_task(name).implemented
    with pytest.raises(RunnerError, match="not implemented in this runner yet"):
        get_task(name, runnable=True)


def test_a_duplicate_declaration_is_refused(monkeypatch):
    monkeypatch.setattr(tasks_mod, "_targets", lambda: {"mnli": registry()["mnli"]})
    with pytest.raises(RunnerError, match="declared twice"):
        tasks_mod._build_registry()
