"""A demonstration store (`store demo`) fills every view and is marked on every page and export."""

from __future__ import annotations

import json

import pytest

from dashboard import export
from dashboard.views import export as export_view
from store.demo import DEMO_MARK
from tests.dashboard.conftest import PAGES, make_app, no_exception


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_the_demo_mark(monkeypatch, demo_store, page):
    at = make_app(monkeypatch, demo_store, page)
    no_exception(at)
    assert any(DEMO_MARK in e.value for e in at.error), page
    if page in ("views/question.py", "views/matrix.py", "views/languages.py"):
        assert at.get("vega_lite_chart"), f"{page} draws nothing on the demo store"


def test_bundled_store_pages_carry_no_demo_mark(monkeypatch, bundled_store):
    at = make_app(monkeypatch, bundled_store)
    no_exception(at)
    assert not any(DEMO_MARK in e.value for e in at.error)


@pytest.mark.slow
def test_export_page_offers_demo_tables_only_when_asked_and_marks_charts(monkeypatch, demo_store):
    at = make_app(monkeypatch, demo_store, "views/export.py")
    no_exception(at)
    at.selectbox(key="table").set_value("gains").run()  # Export builds only what is picked
    at.selectbox(key="charts").set_value("matrix-gain").run()
    no_exception(at)
    assert any(DEMO_MARK in w.value for w in at.warning)
    table_keys = {f"dl-gains-{fmt}" for fmt in ("csv", "latex")}
    keys = {b.key for b in at.get("download_button")}
    assert keys and not keys & table_keys  # charts (marked) yes, paper tables no
    at.checkbox(key="export_demo").check().run()
    no_exception(at)
    assert table_keys <= {b.key for b in at.get("download_button")}


def test_exported_charts_carry_the_mark(demo_store):
    from dashboard.data import Reader
    from dashboard.state import default_selection
    from store.api import StoreReader

    with StoreReader.open(demo_store) as st:
        reader = Reader(st)
        options = reader.options()
        tables, view = export_view.compute(reader, options, default_selection(options, demo_store), table="gains",
                                           charts_of="matrix-gain")
    assert view.charts and tables and all(t.demo for t in tables.values() if not isinstance(t, str))
    spec = json.loads(export.chart_spec(next(iter(view.charts.values())), DEMO_MARK))
    assert spec["title"]["text"] == DEMO_MARK
    svg = export.spec_bytes(json.dumps(spec), "svg").decode()
    assert DEMO_MARK in svg
