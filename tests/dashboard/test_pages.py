"""An AppTest per page, on the bundled store and on a generated store: each changes a filter and
checks what the page then shows (the rows, values and messages the new selection must give), with
no exception."""

from __future__ import annotations

import pytest

from tests.fixtures.app import PAGES, make_app, no_exception, snapshot


def _set(at, kind: str, key: str, value) -> None:
    getattr(at, kind)(key=key).set_value(value)
    at.run()


def _frame(at, *columns: str):
    """The first table shown with all these columns."""
    return next(df.value for df in at.dataframe if set(columns) <= set(df.value.columns))


def _texts(at, kind: str) -> str:
    return "\n".join(el.value for el in at.get(kind))


QA_AND_RETRIEVAL = {"udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba", "lareqa", "mewslix"}
MBERT = "bert-base-multilingual-cased"


def _question_classification(at):
    first = at.code[0].value.splitlines()[0]  # the commands fill the classification targets only
    assert first == "for target in xnli pawsx xcopa; do" and not set(first.split()) & QA_AND_RETRIEVAL
    assert "xnli" in set(_frame(at, "source", "target")["target"])  # beside what the published sources say


def _question_base(at):
    assert at.caption[0].value.startswith("xlm-roberta-base ·")
    corr = _frame(at, "target_type", "rho")
    assert len(corr) == 4 and corr["rho"].notna().all() and len(at.get("vega_lite_chart")) == 2


def _matrix_own_runs(at):
    assert "No gains (an intermediate-task run and its none baseline) match this selection." in _texts(at, "info")
    assert not at.get("vega_lite_chart")


def _matrix_base(at):
    assert set(_frame(at, "model", "language")["model"]) == {"xlm-roberta-base"} and len(at.get("vega_lite_chart")) == 2


def _languages_validation(at):
    assert "· validation ·" in at.caption[0].value
    assert set(_frame(at, "language", "value")["language"]) == {"de", "fr", "ru", "zh"}  # jiant PR 128: BUCC


def _languages_indo_european(at):
    assert set(_frame(at, "language", "value", "family")["family"]) == {"Indo-European"}


def _claims_of(model):
    def check(at):
        assert len(_frame(at, "claim", "verdict")) == 8
        assert f"--model {model}" in at.code[0].value  # the missing runs are the chosen model's

    return check


def _claims_base(at):
    _claims_of("xlm-roberta-base")(at)
    assert set(_frame(at, "run_id", "model")["model"]) == {"xlm-roberta-base"} and at.get("vega_lite_chart")


def _runs_of(model, n=None):
    def check(at):
        runs = _frame(at, "run_id", "model", "splits")
        assert set(runs["model"]) == {model} and (n is None or len(runs) == n)

    return check


def _export_gains_mbert(at):
    assert "no intermediate-task results with a matching 'none' baseline" in _texts(at, "info")


def _export_charts_base(at):
    assert "`matrix-gain-matrix`" in _texts(at, "markdown")
    assert {b.proto.label for b in at.get("download_button")} >= {"PNG", "SVG"}


def _examples_none(at):
    assert "No run in this selection has per-example predictions" in _texts(at, "info")


def _examples_buckets(at):
    assert "Gain by label / entity types present, per language" in _texts(at, "subheader")
    assert len(at.get("vega_lite_chart")) == 2


# (page, store) -> ([(widget kind, key, new value), ...] with a page choice first where the page needs
# it, what the page must show after the last change)
CHANGES = {
    ("views/question.py", "bundled"): ([("multiselect", "types", ["classification"])], _question_classification),
    ("views/question.py", "generated"): ([("selectbox", "model", "xlm-roberta-base")], _question_base),
    ("views/matrix.py", "bundled"): ([("radio", "source", "runner")], _matrix_own_runs),
    ("views/matrix.py", "generated"): ([("selectbox", "model", "xlm-roberta-base")], _matrix_base),
    ("views/languages.py", "bundled"): ([("radio", "lvalue", "score"), ("selectbox", "split", "validation")],
                                        _languages_validation),
    ("views/languages.py", "generated"): ([("multiselect", "families", ["Indo-European"])], _languages_indo_european),
    ("views/claims.py", "bundled"): ([("selectbox", "model", MBERT)], _claims_of(MBERT)),
    ("views/claims.py", "generated"): ([("selectbox", "model", "xlm-roberta-base")], _claims_base),
    ("views/runs.py", "bundled"): ([("selectbox", "model", MBERT)], _runs_of(MBERT, 9)),
    ("views/runs.py", "generated"): ([("selectbox", "model", "xlm-roberta-base")], _runs_of("xlm-roberta-base")),
    ("views/export.py", "bundled"): ([("selectbox", "table", "gains"), ("selectbox", "model", MBERT)],
                                     _export_gains_mbert),
    ("views/export.py", "generated"): ([("selectbox", "charts", "matrix-gain"), ("selectbox", "model", "xlm-roberta-base")],
                                       _export_charts_base),
    ("views/examples.py", "bundled"): ([("selectbox", "model", MBERT)], _examples_none),
    ("views/examples.py", "generated"): ([("radio", "ex_bucket", "label_types")], _examples_buckets),
}


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("kind", ["bundled", "generated"])
def test_page_follows_a_filter(monkeypatch, page, kind, bundled_store, generated_store):
    store = bundled_store if kind == "bundled" else generated_store
    at = make_app(monkeypatch, store, page)
    no_exception(at)
    steps, expect = CHANGES[(page, kind)]
    for widget, key, value in steps[:-1]:
        _set(at, widget, key, value)
        no_exception(at)
    before = snapshot(at)
    widget, key, value = steps[-1]
    _set(at, widget, key, value)
    no_exception(at)
    assert snapshot(at) != before
    expect(at)  # and it shows what the new selection must show, not merely something else


def test_question_without_runs_says_so_and_prints_the_command(monkeypatch, bundled_store):
    at = make_app(monkeypatch, bundled_store)
    no_exception(at)
    assert any("no intermediate-task runs" in i.value for i in at.info)
    code = at.code[0].value
    assert f'runner run --pair "$inter:$target" --seed "$seed" --model xlm-roberta-large --store {bundled_store}' in code
    table = at.dataframe[0].value
    assert set(table["source"]) == {"rembert_t16", "rembert_t7", "mt5_readme"}
    assert {"per target", "per category"} == set(table["level"])
    xnli = table[(table["source"] == "rembert_t16") & (table["target"] == "xnli")].iloc[0]
    assert (xnli["value"], xnli["baseline"]) == (80.0, 79.2)  # RemBERT Table 16 as printed
    assert len(at.get("vega_lite_chart")) == 1


def test_question_with_runs_shows_one_panel_per_target_type_with_rho(monkeypatch, generated_store):
    at = make_app(monkeypatch, generated_store)
    no_exception(at)
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2  # complexity panels, simple vs complex
    corr = at.dataframe[0].value
    assert set(corr["target_type"]) == {"classification", "structured prediction", "question answering", "retrieval"}
    assert corr["rho"].notna().all()
    before = snapshot(at)
    at.radio(key="axis").set_value("C").run()  # axis C: measured, from the dev scores
    no_exception(at)
    assert snapshot(at) != before
    corr = at.dataframe[0].value
    assert set(corr["axis"]) == {"C"} and len(corr) == 4 and len(at.get("vega_lite_chart")) == 2
    assert at.query_params.get("axis") == "C"


def test_matrix_cell_breakdown_follows_the_picked_cell(monkeypatch, generated_store):
    at = make_app(monkeypatch, generated_store, "views/matrix.py")
    at.selectbox(key="cell_row").set_value("squad").run()
    at.selectbox(key="cell_target").set_value("xquad").run()
    no_exception(at)
    breakdown = at.dataframe[0].value
    assert set(breakdown["intermediate"]) == {"squad"} and set(breakdown["target"]) == {"xquad"}
    assert len(breakdown) == 12  # XQuAD languages
    assert len(at.get("vega_lite_chart")) == 2


def test_languages_credits_glottolog_and_wals(monkeypatch, bundled_store):
    at = make_app(monkeypatch, bundled_store, "views/languages.py")
    text = " ".join(m.value for m in at.markdown)
    assert "Glottolog 5.1" in text and "WALS Online" in text and "CC BY 4.0" in text


def test_runs_compare_two_runs_side_by_side(monkeypatch, generated_store):
    at = make_app(monkeypatch, generated_store, "views/runs.py")
    at.multiselect(key="run_targets").set_value(["xnli"]).run()
    at.multiselect(key="run_inters").set_value(["mnli"]).run()
    no_exception(at)
    ids = at.selectbox(key="run_a").options
    assert len(ids) == 2 and all(i.startswith("mnli__xnli__") for i in ids)
    fields, compare = at.dataframe[-2].value, at.dataframe[-1].value
    assert set(fields[fields["differs"]]["field"]) >= {"run_id", "seed"}
    assert len(compare) == 2 * 15 and "B − A" in compare.columns  # test and dev sets of the 15 XNLI languages


def test_export_builds_only_what_is_picked_and_offers_every_table_and_chart(monkeypatch, generated_store):
    at = make_app(monkeypatch, generated_store, "views/export.py")
    no_exception(at)
    assert at.get("download_button") == [] and not at.dataframe  # nothing built before a pick
    for name in ("matrix", "per-language", "gains", "distance"):
        at.selectbox(key="table").set_value(name).run()
        no_exception(at)
        labels = [b.proto.label for b in at.get("download_button")]
        assert labels == ["csv", "parquet", "markdown", "latex"], (name, labels)
        assert at.query_params["table"] == name
    at.selectbox(key="table").set_value("none").run()
    n_charts = 0
    for page in ("question", "matrix-gain", "matrix-score", "languages-gain", "languages-score", "languages-distance"):
        at.selectbox(key="charts").set_value(page).run()
        no_exception(at)
        labels = [b.proto.label for b in at.get("download_button")]
        assert labels and set(labels) == {"PNG", "SVG"} and labels.count("PNG") == labels.count("SVG"), (page, labels)
        n_charts += labels.count("PNG")
    assert n_charts >= 8


def test_selection_goes_to_the_url_and_comes_back(monkeypatch, generated_store):
    at = make_app(monkeypatch, generated_store)
    at.selectbox(key="model").set_value("xlm-roberta-base").run()
    at.multiselect(key="types").set_value(["classification", "retrieval"]).run()
    assert at.query_params["model"] == "xlm-roberta-base"
    assert at.query_params["types"] == ["classification", "retrieval"]
    shared = dict(at.query_params)
    again = make_app(monkeypatch, generated_store, query=shared)
    no_exception(again)
    assert again.selectbox(key="model").value == "xlm-roberta-base"
    assert again.multiselect(key="types").value == ["classification", "retrieval"]
    assert not again.warning


def test_default_views_show_something(monkeypatch, bundled_store, generated_store):
    # Languages on the bundled store (no per-language gains) opens on the scores it has, with charts
    at = make_app(monkeypatch, bundled_store, "views/languages.py")
    no_exception(at)
    assert at.radio(key="lvalue").value == "score" and at.get("vega_lite_chart")
    assert "lvalue" not in at.query_params  # the store's default, not a choice to share
    # with per-language gains it opens on gains
    at = make_app(monkeypatch, generated_store, "views/languages.py")
    assert at.radio(key="lvalue").value == "gain"
    # Runs' comparison opens on an intermediate-task run beside its own none baseline
    at = make_app(monkeypatch, generated_store, "views/runs.py")
    no_exception(at)
    runs = at.dataframe[1].value.set_index("run_id")
    a, b = runs.loc[at.selectbox(key="run_a").value], runs.loc[at.selectbox(key="run_b").value]
    assert a["intermediate"] != "none" and b["intermediate"] == "none"
    assert (a["target"], a["model"], a["source"], a["seed"]) == (b["target"], b["model"], b["source"], b["seed"])
