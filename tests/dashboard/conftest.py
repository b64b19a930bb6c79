"""Fixtures for the dashboard tests: a bundled store, a generated store with intermediate-task
runs, and helpers to drive the app with ``AppTest``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from store.database import Store
from tests.dashboard import synthetic

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGES = ("views/question.py", "views/matrix.py", "views/languages.py", "views/claims.py", "views/runs.py",
         "views/export.py", "views/examples.py")


@pytest.fixture(scope="session")
def bundled_store(tmp_path_factory) -> str:
    """A fresh store: the catalog and every published result, no runs of ours."""
    path = tmp_path_factory.mktemp("bundled") / "store"
    Store.open(path, read_only=True).close()
    return str(path)


@pytest.fixture(scope="session")
def generated_store(tmp_path_factory) -> str:
    """A store with synthetic intermediate-task runs of two models (see ``synthetic.py``)."""
    path = tmp_path_factory.mktemp("generated") / "store"
    synthetic.build(path)
    return str(path)


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> str:
    """`store demo`: every target, both models, three seeds (about 650 runs, a few seconds)."""
    from store.demo import build_demo

    return str(build_demo(tmp_path_factory.mktemp("demo") / "store"))


@pytest.fixture(scope="session")
def claims_store(tmp_path_factory) -> str:
    """A store built so that some claims hold and others do not: the design of
    ``tests/store/test_claims.py`` (whose verdicts the store tests check), written as shards and
    indexed once (about a second)."""
    from store.shards import write_shard
    from tests.store.test_claims import DESIGN

    path = tmp_path_factory.mktemp("claims") / "store"
    for run, results in DESIGN:
        write_shard(path / "runs", run.stamped(), results)
    Store.open(path).close()
    return str(path)


@pytest.fixture(params=["bundled", "generated"])
def any_store(request, bundled_store, generated_store) -> str:
    return bundled_store if request.param == "bundled" else generated_store


def make_app(monkeypatch, store: str, page: str | None = None, query: dict | None = None) -> AppTest:
    """An app on ``store`` that has run once, switched to ``page`` (and run) if given."""
    monkeypatch.setenv("XSTILTS_DASHBOARD_STORE", store)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(query or {})
    at.run()
    if page and page != PAGES[0]:
        at.switch_page(page).run()
    return at


def snapshot(at: AppTest) -> list:
    """What the page shows: chart specs and data, tables, and text, in order."""
    parts: list = []
    for chart in at.get("vega_lite_chart"):
        parts.append(chart.proto.spec)
        parts.append(chart.proto.data.data)
        parts.extend(d.data.data for d in chart.proto.datasets)
    parts.extend(df.value.to_csv() for df in at.dataframe)
    for kind in ("markdown", "info", "code", "caption", "subheader", "warning", "error"):
        parts.extend((kind, el.value) for el in at.get(kind))
    return parts


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def store_fingerprint(path: str) -> dict[str, str]:
    """sha256 of every file under a store folder (to prove the app wrote nothing), except the derived
    results cache (``cache/``, :mod:`store.derived`: kept beside the index, never the only copy)."""
    root = Path(path)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != "cache"}
