"""The Examples page on a generated store with per-example predictions (``synthetic.PREDICTED``):
it shows the store's paired tests, bucket gains and flipped examples, filters them, and is
reached from a Transfer-matrix cell."""

from __future__ import annotations

import polars as pl
import pytest

from dashboard import charts, transforms
from store.database import Store
from store.pairs import analyse_pair, find_pairs
from tests.dashboard.conftest import make_app, no_exception

PAGE = "views/examples.py"


def _pair(store: str, inter: str, target: str):
    with Store.open(store) as st:
        return next(p for p in find_pairs(st) if p.intermediate == inter and p.target == target)


def test_examples_page_shows_the_stores_paired_tests_for_the_chosen_pair(monkeypatch, generated_store):
    at = make_app(monkeypatch, generated_store, PAGE)
    no_exception(at)
    pair = _pair(generated_store, "mnli", "xnli")
    at.selectbox(key="ex_run").set_value(pair.run_id).run()
    no_exception(at)
    with Store.open(generated_store) as st:
        expected = analyse_pair(st, pair, attribute="n_words")
    table = at.dataframe[0].value
    assert list(table["language"]) == expected.tests["language"].to_list()
    assert set(table["test"]) == {"exact McNemar"}
    assert list(table["p"]) == pytest.approx(expected.tests["p_value"].round(4).to_list())
    assert list(table["baseline ✗ → run ✓"]) == expected.tests["gained"].to_list()
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert len(specs) == 2  # tests per language, gain by bucket per language
    flips = at.dataframe[1].value
    assert len(flips) == min(500, expected.flips.height)
    assert {"text", "gold", "baseline predicted", "run predicted", "direction"} <= set(flips.columns)


def test_flipped_examples_filter_by_language_bucket_and_direction(monkeypatch, generated_store):
    pair = _pair(generated_store, "squad", "xnli")
    with Store.open(generated_store) as st:
        a = analyse_pair(st, pair, attribute="n_words")
    gained = a.flips.filter(pl.col("direction") == "gained").join(a.example_buckets, on=["split", "language", "example_id"])
    language, bucket = gained.sort("language", "bucket_order").select("language", "bucket").row(0)
    want = gained.filter((pl.col("language") == language) & (pl.col("bucket") == bucket))["example_id"]
    at = make_app(monkeypatch, generated_store, PAGE)
    at.selectbox(key="ex_run").set_value(pair.run_id).run()
    at.selectbox(key="ex_flip_language").set_value(language).run()
    in_language = at.dataframe[1].value
    assert set(in_language["language"]) == {language}
    assert len(in_language) == a.flips.filter(pl.col("language") == language).height
    at.selectbox(key="ex_flip_bucket").set_value(bucket).run()
    at.selectbox(key="ex_flip_direction").set_value("baseline ✗ → run ✓").run()
    no_exception(at)
    picked = at.dataframe[1].value
    assert sorted(picked["example_id"]) == sorted(want.to_list()) and len(picked) >= 1
    assert set(picked["direction"]) == {"gained"}


def test_arriving_from_a_transfer_matrix_cell_picks_its_pair(monkeypatch, generated_store):
    at = make_app(monkeypatch, generated_store, "views/matrix.py")
    at.selectbox(key="cell_row").set_value("squad").run()
    at.selectbox(key="cell_target").set_value("xquad").run()
    at.button(key="cell_examples").click().run()
    no_exception(at)
    assert at.title[0].value == "Examples"
    assert at.selectbox(key="ex_run").value == _pair(generated_store, "squad", "xquad").run_id
    assert set(at.dataframe[0].value["test"]) == {"paired bootstrap"}  # F1: bootstrap, not McNemar


def test_without_predictions_the_page_says_how_to_get_them(monkeypatch, bundled_store):
    at = make_app(monkeypatch, bundled_store, PAGE)
    no_exception(at)
    assert any("runner run --pair none:xnli" in i.value for i in at.info)


def test_chart_rows_and_table_transforms():
    tests = pl.DataFrame({"language": ["de", "fr"], "n": [10, 10], "baseline": [50.0, 60.0], "run": [60.0, 60.0],
                          "delta": [10.0, 0.0], "ci_low": [2.0, -5.0], "ci_high": [18.0, 5.0], "test": ["exact McNemar"] * 2,
                          "p_value": [0.01, 1.0], "gained": [3, 1], "lost": [0, 1]})
    rows = transforms.paired_tests_rows(tests)
    assert rows["significance"].to_list() == ["p < 0.05", "p >= 0.05"]
    chart = charts.paired_chart(rows, "Δ", by_bucket=False).to_dict()
    assert chart["data"]["values"][0]["value"] == 10.0
    assert transforms.paired_tests_table(tests)["Δ [95% CI]"].to_list() == ["10.0 [2.0, 18.0]", "0.0 [-5.0, 5.0]"]
