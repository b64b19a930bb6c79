"""The Languages page's distance sections: gain against URIEL+ distance with rho, the gap view and
complexity x distance; every rho shown equals :mod:`store.distance`'s (built on store.analysis)."""

from __future__ import annotations

import polars as pl
import pytest

from dashboard.data import Reader, filters
from dashboard.state import default_selection
from store import distance
from store.analysis import gains
from store.catalog import DISTANCE_KINDS
from store.api import StoreReader
from store.database import Store
from tests.dashboard.conftest import make_app, no_exception, snapshot

PAGE = "views/languages.py"


def _frame(at, *columns: str):
    """The first table on the page with all these columns (AppTest lists tables in order)."""
    for df in at.dataframe:
        if set(columns) <= set(df.value.columns):
            return df.value
    raise AssertionError(f"no table with columns {columns}")


def _expected_correlation(path: str, kind: str) -> pl.DataFrame:
    with Store.open(path) as st:
        options = Reader(StoreReader(st)).options()
        f = filters(default_selection(options, path), options)
        return distance.distance_correlation(gains(st, f), distance.distances(st, kind), kind).sort("target_type")


@pytest.mark.slow
def test_gain_against_distance_rho_equals_the_store(monkeypatch, generated_store):
    at = make_app(monkeypatch, generated_store, PAGE)
    no_exception(at)
    assert at.selectbox(key="distance").value == "syntactic"
    assert set(at.selectbox(key="distance").options) == set(DISTANCE_KINDS)
    for kind in ("syntactic", "genetic"):
        if kind != "syntactic":
            at.selectbox(key="distance").set_value(kind).run()
            no_exception(at)
            assert at.query_params.get("distance") == kind
        shown = pl.from_pandas(_frame(at, "kind", "rho", "n")).sort("target_type")
        expected = _expected_correlation(generated_store, kind)
        assert shown["target_type"].to_list() == expected["target_type"].to_list()
        assert set(shown["target_type"]) == {"classification", "structured prediction", "question answering", "retrieval"}
        assert shown["rho"].to_list() == pytest.approx(expected["rho"].to_list(), nan_ok=True)
        assert shown["ci_low"].to_list() == pytest.approx(expected["ci_low"].to_list(), nan_ok=True)
        assert shown["n"].to_list() == expected["n"].to_list()
        # the chart's panel titles carry the same rho, interval and n
        specs = [c.proto.spec for c in at.get("vega_lite_chart")]
        assert any(f"URIEL+ {kind} distance to English" in s for s in specs)
        assert any("\"complexity\"" in s and "\"distance_bin\"" in s for s in specs)  # complexity x distance
        assert any("English score" in s for s in specs)  # the gap view
        assert any("gap change" in s for s in specs)  # does intermediate training shrink the gap?
    svc = _frame(at, "distance_bin", "complexity", "mean_gain")
    assert set(svc["complexity"]) == {"simple (1-2)", "complex (3-5)"}
    assert svc["distance_bin"].str.startswith(("near", "middle", "far")).all()


@pytest.mark.slow
def test_bundled_store_shows_published_gaps_labelled_by_source(monkeypatch, bundled_store):
    at = make_app(monkeypatch, bundled_store, PAGE, query={"distance": "genetic"})
    no_exception(at)
    assert any("No per-language intermediate-task gains" in i.value for i in at.info)
    specs = " ".join(c.proto.spec for c in at.get("vega_lite_chart"))
    assert "English score" in specs
    with Store.open(bundled_store) as st:
        options = Reader(StoreReader(st)).options()
        f = filters(default_selection(options, bundled_store), options)
        g = distance.gaps(st, f)
    assert "fairseq_xlmr_readme" in set(g["source"])  # MLQA per language, XLM-R: a published baseline gap
    mlqa_de = g.filter((pl.col("source") == "fairseq_xlmr_readme") & (pl.col("language") == "de")).row(0, named=True)
    assert mlqa_de["gap"] == pytest.approx(mlqa_de["english"] - mlqa_de["value"])
    before = snapshot(at)
    at.selectbox(key="distance").set_value("geographic").run()
    no_exception(at)
    assert snapshot(at) != before
