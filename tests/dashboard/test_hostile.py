"""Hostile values in the URL and in page widgets: the store is unchanged and the page shows a
clean message (no traceback), because every value is validated and reaches SQL only as a parameter."""

from __future__ import annotations

import duckdb

from dashboard.data import Reader
from store.api import Filters, StoreReader
from store.database import Store
from tests.dashboard.conftest import PAGES, make_app, no_exception, store_fingerprint

DROP = "'; DROP TABLE results; --"
HOSTILE = {
    "model": DROP,
    "source": "both' OR 1=1 --",
    "setting": "zero-shot'; DELETE FROM runs; --",
    "metric": "<script>alert(1)</script>",
    "split": "test\x00",
    "types": ["classification", "x'); DELETE FROM runs; --"],
    "families": ["[click](javascript:alert(1))"],
    "axis": "A; DROP TABLE runs",
    "verdict": "supported'; DELETE FROM runs; --",
    "store": DROP,
}


def _counts(path: str) -> tuple[int, int]:
    with duckdb.connect(f"{path}/index.duckdb", read_only=True) as con:
        return con.sql("SELECT (SELECT count(*) FROM results), (SELECT count(*) FROM runs)").fetchall()[0]


def test_hostile_url_values_leave_the_store_unchanged_and_show_a_clean_message(monkeypatch, tmp_path):
    path = str(tmp_path / "store")
    Store.open(path, read_only=True).close()
    before, counts = store_fingerprint(path), _counts(path)
    for page in PAGES:
        at = make_app(monkeypatch, path, page, query=dict(HOSTILE))
        no_exception(at)
        assert not at.error
        warning = " ".join(w.value for w in at.warning)
        for key in ("model", "source", "setting", "metric", "split", "types", "families", "store"):
            assert f"ignored URL value {key}=" in warning
        assert "<script>" not in warning and "](javascript" not in warning  # shown escaped, never as markup
        assert at.selectbox(key="model").value == "xlm-roberta-large"  # defaults where values were refused
        assert at.multiselect(key="types").value == ["classification"]  # the good value is kept
        assert at.text_input(key="store").value == path
    assert "ignored URL value axis=" in " ".join(w.value for w in make_app(monkeypatch, path, query=dict(HOSTILE)).warning)
    claims = make_app(monkeypatch, path, "views/claims.py", query=dict(HOSTILE))
    assert "ignored URL value verdict=" in " ".join(w.value for w in claims.warning)
    assert claims.radio(key="verdict").value == "all" and len(claims.dataframe[0].value) == 8
    assert _counts(path) == counts
    assert store_fingerprint(path) == before


def test_a_store_path_that_is_not_a_store_is_refused_and_not_created(monkeypatch, tmp_path):
    path = str(tmp_path / "store")
    Store.open(path, read_only=True).close()
    missing = tmp_path / "not-a-store"
    at = make_app(monkeypatch, path, query={"store": str(missing)})
    no_exception(at)
    assert "not a store folder" in at.warning[0].value
    at.text_input(key="store").set_value(str(tmp_path)).run()  # a folder, but not a store
    no_exception(at)
    assert "no store at" in at.sidebar.error[0].value
    assert not missing.exists()


def test_hostile_values_reach_sql_only_as_parameters(generated_store):
    before = store_fingerprint(generated_store)
    reader = Reader(StoreReader.open(generated_store))
    assert reader.run_results(DROP).is_empty()
    assert reader.run_record(DROP) == {}
    assert reader.runs(Filters(targets=(DROP,), intermediates=(DROP,))).is_empty()
    assert reader.gains(Filters(models=(DROP,), families=(DROP,))).is_empty()
    assert reader.targets_of_types((DROP,)) == ()
    assert reader.count_single_task_runs(DROP, DROP) == 0
    assert not reader.runs(Filters(models=("xlm-roberta-base",))).is_empty()
    reader.store.close()
    assert store_fingerprint(generated_store) == before


def test_an_unreachable_hub_store_gives_one_line_not_a_traceback(monkeypatch, tmp_path):
    path = str(tmp_path / "store")
    Store.open(path, read_only=True).close()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XSTILTS_HUB_CACHE", str(tmp_path / "hub-cache"))
    at = make_app(monkeypatch, path, query={"store": "hf://datasets/no-such-org/no-such-store"})
    no_exception(at)
    assert at.sidebar.error and at.sidebar.error[0].value.startswith("cannot open hf://datasets/no\\-such\\-org")
    assert at.text_input(key="store").value == "hf://datasets/no-such-org/no-such-store"
    assert at.get("vega_lite_chart")  # the launch store is shown meanwhile
