"""The dashboard reaches the store through one module and the store's public API only (read from
the source: every import statement of every dashboard module, at any depth)."""

from __future__ import annotations

import ast
from pathlib import Path

import store.api

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "dashboard" / "data.py"


def store_imports(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """(module, imported names) of every import of ``store`` or a ``store.*`` module in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, ()) for a in node.names if a.name == "store" or a.name.startswith("store.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "store" or node.module.startswith("store."):
                out.append((node.module, tuple(a.name for a in node.names)))
    return out


def test_only_dashboard_data_imports_the_store():
    offenders = {str(p.relative_to(ROOT)): store_imports(p) for p in sorted((ROOT / "dashboard").rglob("*.py"))
                 if p != DATA and store_imports(p)}
    assert offenders == {}, "import the store's names from dashboard.data instead"


def test_dashboard_data_imports_only_the_public_read_api():
    imports = store_imports(DATA)
    assert imports, "dashboard/data.py is the dashboard's way to the store"
    assert {module for module, _ in imports} == {"store.api"}
    names = {n for _, ns in imports for n in ns}
    assert names <= set(store.api.__all__), sorted(names - set(store.api.__all__))


def test_the_public_api_names_exist():
    missing = [n for n in store.api.__all__ if not hasattr(store.api, n)]
    assert missing == []


def test_the_check_catches_a_stray_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from store.database import Store\n    import store.claims as c\n")
    assert store_imports(bad) == [("store.database", ("Store",)), ("store.claims", ())]


def test_every_read_of_the_dashboard_reader_is_cached():
    from dashboard.data import CachedReader, Reader

    public = [n for n, v in vars(Reader).items() if not n.startswith("_") and callable(v)]
    assert len(public) > 20 and all(hasattr(getattr(Reader, n), "__wrapped__") for n in public)  # each through _read
    assert issubclass(CachedReader, Reader)
