"""The Claims page shows what ``store claims`` computes: on the bundled store claims 1-4 and 6 need
runs (and list them), claim 5 is judged from the published rows; on a store built so that some claims
hold, the verdicts shown are the engine's and change with the model and the verdict filter."""

from __future__ import annotations

import pytest

from store.claims import CONTRADICTED, SUPPORTED, UNDECIDED, evaluate
from store.api import StoreReader
from store.database import Store
from tests.fixtures.app import make_app, no_exception

PAGE = "views/claims.py"
LARGE, BASE = "xlm-roberta-large", "xlm-roberta-base"


def _engine(store: str, model: str) -> list:
    with Store.open(store, read_only=True) as st:
        return evaluate(st, model=model)


def _table(at):
    return at.dataframe[0].value


def _expander(at, claim_id: str):
    hits = [e for e in at.expander if e.label.startswith(f"{claim_id}:")]
    assert len(hits) == 1, [e.label for e in at.expander]
    return hits[0]


def _shown(at) -> dict[str, tuple]:
    return {r["claim"]: (r["verdict"], r["runs used"], r["runs missing"]) for r in _table(at).to_dict("records")}


def _expected(results) -> dict[str, tuple]:
    return {r.claim.id: (r.verdict, len(r.runs_used), len(r.missing)) for r in results}


@pytest.fixture(scope="module")
def engine(claims_store) -> dict[str, list]:
    """``store claims`` on the claims store, per model (what the page must show)."""
    return {model: _engine(claims_store, model) for model in (LARGE, BASE)}


@pytest.fixture(scope="module")
def bundled_page(bundled_store):
    with pytest.MonkeyPatch.context() as mp:
        at = make_app(mp, bundled_store, PAGE)
    no_exception(at)
    return at


def test_bundled_store_needs_runs_for_claims_1_to_4_and_6_and_lists_them(bundled_page, bundled_store):
    at = bundled_page
    shown = _shown(at)
    assert shown == _expected(_engine(bundled_store, LARGE))
    for cid in ("c1-top-intermediates", "c2-multitask-best", "c3-retrieval-gains-most", "c4-tydiqa-not-xnli",
                "c6-plain-english-best"):
        verdict, used, missing = shown[cid]
        assert verdict == UNDECIDED and used == 0 and missing > 0, cid
        box = _expander(at, cid)
        assert box.label == f"{cid}: not enough evidence"
        commands = box.code[0].value.splitlines()
        assert len(commands) == missing and all(c.startswith("runner run --pair ") for c in commands)
        # they write where the page reads (this test store is not the default one), as the Question page's do
        assert all(c.endswith(f" --store {bundled_store}") for c in commands)
    c1 = [c.removesuffix(f" --store {bundled_store}") for c in _expander(at, "c1-top-intermediates").code[0].value.splitlines()]
    assert "runner run --pair none:xnli --seed 1 --model xlm-roberta-large" in c1
    assert "runner run --pair squad:tydiqa --seed 1 --model xlm-roberta-large" in c1
    assert f"runner run --pair mnli:xnli --seed 1 --model xlm-roberta-large --variant mlm --mlm-corpus CORPUS --store {bundled_store}" \
        in _expander(at, "c6-plain-english-best").code[0].value.splitlines()
    assert [b.proto.label for b in at.get("download_button")] == ["markdown", "json", "latex"]  # as `store claims --format`
    every = at.expander[-1]
    assert every.label.startswith("Every missing run, once (") and "Question page" in every.caption[0].value


def test_bundled_store_judges_claim_5_from_published_rows_labelled_as_such(bundled_page):
    at = bundled_page
    row = _table(at).set_index("claim").loc["c5-best-per-target"]
    # like with like: the published rows leave out retrieval, so they cannot judge the XTREME average
    assert (row["verdict"], row["value [95% interval]"], row["evidence"]) == (UNDECIDED, "+2.6 [+2.0, +2.7]", "published rows")
    assert row["runs missing"] == 0 and row["runs used"] > 0
    box = _expander(at, "c5-best-per-target")
    assert "published leaderboard rows" in box.info[0].value and "rembert_t16" in box.info[0].value
    assert set(_table(at).set_index("claim").drop("c5-best-per-target")["evidence"]) == {"own runs", "recorded config"}
    charts = box.get("vega_lite_chart")
    assert len(charts) == 1  # the only claim with numbers on a store without runs of ours
    checks = box.dataframe[0].value
    assert checks["reason"][0].startswith("retrieval not covered: no published best-per-target rows for bucc2018, tatoeba")
    runs = box.dataframe[1].value
    assert set(runs["source"]) == {"rembert_t16", "rembert_t7", "mt5_readme"} and len(runs) == row["runs used"]
    assert not box.code  # nothing missing
    assert len(at.get("vega_lite_chart")) == 1


def test_verdicts_follow_the_data_and_the_model(monkeypatch, claims_store, engine):
    at = make_app(monkeypatch, claims_store, PAGE)
    no_exception(at)
    large = engine[LARGE]
    assert _shown(at) == _expected(large)
    verdicts = {v for v, _, _ in _shown(at).values()}
    assert {SUPPORTED, CONTRADICTED} <= verdicts  # the store is built so that some claims hold and others do not
    values = dict(zip(_table(at)["claim"], _table(at)["value [95% interval]"]))
    assert values["c6-plain-english-best"].startswith("+1.0 [")  # plain minus mlm, seed-paired
    box = _expander(at, "c1-top-intermediates")
    assert box.label == "c1-top-intermediates: supported" and not box.code
    chart = box.get("vega_lite_chart")[0]
    assert chart.proto.spec and "band_lo" in chart.proto.spec  # the claimed region is drawn
    assert len(at.get("vega_lite_chart")) == sum(1 for r in large if r.claim.evidence != "config")

    at.selectbox(key="model").set_value(BASE).run()
    no_exception(at)
    base = engine[BASE]
    assert _shown(at) == _expected(base) != _expected(large)
    assert _shown(at)["c1-top-intermediates"] == (UNDECIDED, 2, 88)
    assert _shown(at)["c7-setup"][0] == CONTRADICTED  # the runs start from another model
    assert "--model xlm-roberta-base" in _expander(at, "c1-top-intermediates").code[0].value


def test_verdict_filter_keeps_the_matching_claims_and_goes_to_the_url(monkeypatch, claims_store, engine):
    at = make_app(monkeypatch, claims_store, PAGE)
    at.radio(key="verdict").set_value(SUPPORTED).run()
    no_exception(at)
    supported = {r.claim.id for r in engine[LARGE] if r.verdict == SUPPORTED}
    assert set(_table(at)["claim"]) == supported and len(at.expander) == len(supported)
    assert at.query_params["verdict"] == SUPPORTED
    again = make_app(monkeypatch, claims_store, PAGE, query={"verdict": CONTRADICTED})
    no_exception(again)
    assert set(_table(again)["verdict"]) == {CONTRADICTED}


def test_claim_points_draw_items_measure_and_claimed_region(engine):
    import doctest
    import json

    from dashboard import charts, transforms

    assert doctest.testmod(transforms).failed == 0
    res = {r.claim.id: r for r in engine[LARGE]}
    pts = transforms.claim_points(res["c1-top-intermediates"])
    top = pts.filter(pts["check_no"] == 1)
    items = top.filter(~top["measured"])
    assert items["row"].to_list()[:3] == ["squad", "mnli", "hellaswag"]  # ranked by mean gain
    assert set(items.filter(items["role"] == "claimed")["row"]) == {"squad", "mnli", "hellaswag"} and len(items) == 9
    margin = top.filter(top["measured"]).row(0, named=True)
    assert margin["value"] == pytest.approx(res["c1-top-intermediates"].value)
    assert margin["band_lo"] == 0 and margin["band_hi"] > max(items["ci_high"]) and margin["region"] == "(0, ∞)"
    squad = pts.filter(pts["check_no"] == 2)  # one item: only its measure, over the claimed 8.2 ± 1
    assert squad.height == 1 and (squad["band_lo"][0], squad["band_hi"][0]) == pytest.approx((7.2, 9.2))
    assert transforms.claim_points(res["c7-setup"]).is_empty()  # config checks have no numbers
    assert [label for label, _ in transforms.config_details(res["c7-setup"])][0].startswith("runs record config['phases']")
    spec = charts.claim_chart(pts).to_dict()
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    json.dumps(spec)


@pytest.mark.slow
def test_a_new_run_changes_the_claims_page(tmp_path, claims_store):
    """The judged claims are kept per store state: after a new run the page shows the new
    evidence (not the kept judgement of the old state), and equals ``store claims`` again."""
    import dataclasses
    import shutil

    from dashboard.data import Reader
    from dashboard.state import default_selection
    from dashboard.views import claims as claims_view
    from store import derived
    from tests.fixtures.claims_design import DESIGN

    path = tmp_path / "store"
    shutil.copytree(claims_store, path, ignore=shutil.ignore_patterns("index.duckdb*"))

    def page():
        with Store.open(path, read_only=True) as st:
            reader = Reader(StoreReader(st))
            options = reader.options()
            view = claims_view.compute(reader, options, default_selection(options, str(path)))
            return view.frames["claims"], {k: v.height for k, v in view.frames.items() if k.startswith("runs:")}

    before, runs_before = page()
    import functools

    import dashboard.claims_page as data_mod

    real_code = data_mod.dashboard_code

    real = data_mod.content
    data_mod.content = lambda *a: pytest.fail("the kept page was built again")
    try:
        assert page()[0].equals(before)  # read back from the derived cache: same page
    finally:
        data_mod.content = real
    assert len(list(derived.cache_dir(path).glob("claims-*.json"))) == 1
    assert len(list(derived.cache_dir(path).glob("claims_page-*.json"))) == 1
    run, results = next((r, res) for r, res in DESIGN if (r.model, r.intermediate, r.target) == (LARGE, "mnli", "xnli"))
    with Store.open(path, read_only=False) as st:  # another seed of mnli:xnli, as `runner run` would write it
        assert st.write_run(dataclasses.replace(run, seed=7), [dataclasses.replace(x, value=x.value - 5) for x in results])
    after, runs_after = page()
    assert not after.equals(before) and runs_after != runs_before
    assert _shown_frame(after) == _expected(_engine(str(path), LARGE))
    assert len(list(derived.cache_dir(path).glob("claims-*.json"))) == 1  # the old state's entry is gone
    assert len(list(derived.cache_dir(path).glob("claims_page-*.json"))) == 1
    data_mod.dashboard_code.cache_clear()
    try:  # the dashboard's code is part of the key: other code builds the page again
        data_mod.dashboard_code = functools.cache(lambda: "other code")
        data_mod.content = lambda *a: pytest.fail("built again")
        with pytest.raises(pytest.fail.Exception):
            page()
    finally:
        data_mod.content, data_mod.dashboard_code = real, real_code


def _shown_frame(frame) -> dict[str, tuple]:
    return {r["claim"]: (r["verdict"], r["runs used"], r["runs missing"]) for r in frame.to_pandas().to_dict("records")}
