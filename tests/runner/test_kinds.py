"""The head-kind table: one entry per kind, every task's kinds in it, and no branch on a kind's name elsewhere."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from runner.config import build_config
from runner.errors import RunnerError
from runner.kinds import KINDS, Kind, get_kind
from runner.tasks.registry import registry

RUNNER = Path(__file__).resolve().parents[2] / "runner"
TABLE = RUNNER / "kinds.py"


def kind_strings(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    """(line, text) of every comparison with a kind's name: ``x == "tagging"``, ``x != "tagging"``,
    ``x in ("tagging", ...)`` and ``match x: case "tagging"`` all branch on a kind."""
    def named(node) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in names
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(named(e) for e in node.elts)
        return False

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(named(x) for x in [node.left, *node.comparators]):
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.match_case) and isinstance(node.pattern, ast.MatchValue) and named(node.pattern.value):
            found.append((node.pattern.lineno, f"case {ast.unparse(node.pattern)}"))
    return found


def test_no_string_comparison_on_a_head_kind_outside_the_table():
    names = set(KINDS)
    offenders = []
    for path in sorted(RUNNER.rglob("*.py")):
        if path == TABLE:
            continue
        for line, text in kind_strings(ast.parse(path.read_text(encoding="utf-8")), names):
            offenders.append(f"{path.relative_to(RUNNER.parent)}:{line}: {text}")
    assert offenders == [], "branches on a kind's name outside runner/kinds.py:\n" + "\n".join(offenders)


@pytest.mark.parametrize("code", [
    'if kind == "tagging": pass',
    'ok = task.kind in ("question_answering", "retrieval")',
    'ok = "dual_encoder" != stage.kind',
    'match kind:\n    case "multiple_choice": pass',
])
def test_the_check_finds_each_form_of_kind_branch(code):
    assert kind_strings(ast.parse(code), set(KINDS))


def test_the_check_leaves_other_strings_alone():
    code = 'if variant == "mlm" or adapter == "ccg" or section == "qa": x = Stage("mnli", "pair_classification")'
    assert kind_strings(ast.parse(code), set(KINDS)) == []


def test_one_entry_per_kind_of_the_issue_and_every_declared_kind_is_in_it():
    assert {"classification", "pair_classification", "multiple_choice", "tagging", "question_answering", "retrieval",
            "dual_encoder"} <= set(KINDS)
    assert all(isinstance(k, Kind) and k.name == name for name, k in KINDS.items())
    used = {spec.kind for spec in registry().values()} | {st.kind for spec in registry().values() for st in spec.stages}
    assert used <= set(KINDS)
    cfg = build_config({"pair": "mnli:xnli"})
    for spec in registry().values():
        assert KINDS[spec.eval_kind].evaluate_target is not None, spec.name  # phase 3 knows how
        for stage in spec.stages:  # everything a training stage needs
            kind = KINDS[stage.kind]
            assert kind.encode and kind.head and kind.loss, (spec.name, stage.kind)
            assert callable(kind.dev_evaluator(cfg, stage)) and isinstance(kind.options(cfg, stage), dict)


def test_unknown_kind_is_refused_with_a_near_match():
    with pytest.raises(RunnerError, match="did you mean 'tagging'"):
        get_kind("taging")
