"""Test hygiene read from the test sources: test modules share fixtures through ``conftest.py`` or
the :mod:`tests.fixtures` package, never by importing one another; no test asserts on wall-clock time."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CLOCKS = {"runner/test_cli.py", "runner/test_e2e.py"}
CLOCKS = {"time", "perf_counter", "monotonic", "perf_counter_ns", "monotonic_ns", "time_ns"}


def _test_modules():
    return sorted(p for p in ROOT.rglob("*.py") if p.name.startswith("test_") or p.name == "conftest.py")


def _imported(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def _test_module_of(name: str) -> str | None:
    """The test module (``tests....test_x`` or a ``conftest``) that the dotted ``name`` lies in, if any."""
    parts = name.split(".")
    if parts[0] != "tests":
        return None
    for i, part in enumerate(parts[1:], 2):
        if part.startswith("test_") or part == "conftest":
            return ".".join(parts[:i])
    return None


def test_test_modules_do_not_import_one_another():
    found = {(str(p.relative_to(ROOT)), _test_module_of(m)) for p in _test_modules()
             for m in _imported(ast.parse(p.read_text())) if _test_module_of(m)}
    assert found == set(), sorted(found)


def test_no_assert_reads_the_clock():
    bad = []
    for p in _test_modules():
        tree = ast.parse(p.read_text())
        timed = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 and any(isinstance(c, ast.Call) and getattr(c.func, "attr", None) in CLOCKS for c in ast.walk(n.value))
                 for t in n.targets if isinstance(t, ast.Name)}
        for n in ast.walk(tree):
            if isinstance(n, ast.Assert):
                names = {x.id for x in ast.walk(n.test) if isinstance(x, ast.Name)}
                calls = {getattr(x.func, "attr", None) for x in ast.walk(n.test) if isinstance(x, ast.Call)}
                if names & timed or calls & CLOCKS:
                    bad.append(f"{p.relative_to(ROOT)}:{n.lineno}")
    assert bad == []


def test_the_checks_see_what_they_look_for():
    tree = ast.parse("import time\nfrom tests.store.test_claims import DESIGN\nt = time.monotonic()\nassert t < 3\n")
    assert {_test_module_of(m) for m in _imported(tree)} >= {"tests.store.test_claims"}
    assert _test_module_of("tests.fixtures.sync") is None and _test_module_of("tests.dashboard.conftest.make_app")
