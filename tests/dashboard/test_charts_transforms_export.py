"""Transforms, charts and image export on the generated store (pure functions, no Streamlit)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from dashboard import charts, compare, export, heatmaps, transforms
from dashboard.data import Reader
from dashboard.state import Selection
from dashboard.views import languages, matrix, question, runs
from dashboard.views import export as export_view
from store.api import TABLES, StoreReader, render_table


@pytest.fixture(scope="module")
def reader(generated_store):
    r = Reader(StoreReader.open(generated_store))
    yield r
    r.store.close()


def _sel(store, **kw):
    return Selection(store=store, **kw)


def test_every_page_computes_charts_that_serialise(reader, generated_store):
    opts = reader.options()
    sel = _sel(generated_store)
    views = [question.compute(reader, opts, sel, axis) for axis in "ABC"]
    views += [matrix.compute(reader, opts, sel, v, ("squad", "xquad")) for v in ("gain", "score")]
    views += [languages.compute(reader, opts, sel, v, g) for v in ("gain", "score") for g in languages.GROUPS]
    names = set()
    for view in views:
        for name, chart in view.charts.items():
            spec = chart.to_dict()
            assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
            names.add(name)
    assert names == {"complexity", "simple_vs_complex", "matrix", "breakdown", "per_language", "language_target"}
    picked = runs.compute(reader, opts, sel, ("xnli",), ("mnli",))
    assert picked.frames["runs"].height == 2 and picked.frames["sources"].height >= 8


def test_heatmaps_show_the_summaries_means_without_computing_their_intervals(generated_store):
    """The matrix and the language x target grid draw means only (no interval anywhere on them): they take
    ``gain_means``, the summary without bootstrap replicates, whose means equal the full summary's."""
    from dashboard.data import filters

    reader = Reader(StoreReader.open(generated_store))
    try:
        opts = reader.options()
        sel = _sel(generated_store)
        f = filters(sel, opts)
        cells = matrix.compute(reader, opts, sel, "gain").frames["cells"]
        grid = languages.compute(reader, opts, sel, "gain", "family").frames["language_target"]
        assert cells.height > 0 and grid.height > 0
        assert cells["ci_low"].null_count() == cells.height and grid["ci_high"].null_count() == grid.height
        fresh = Reader(StoreReader.open(generated_store))  # nothing computed yet: the full summaries from scratch
        full = fresh.gain_summary(f, ("source", "intermediate", "variant", "target"))
        got = dict(zip(zip(cells["source"], cells["intermediate"], cells["variant"], cells["target"]), cells["mean_gain"]))
        want = dict(zip(zip(full["source"], full["intermediate"], full["variant"], full["target"]), full["mean_gain"]))
        assert got == {k: v for k, v in want.items() if k in got} and len(got) > 10
        assert fresh.gain_means(f, ("language", "target")).drop("ci_low", "ci_high").equals(
            fresh.gain_summary(f, ("language", "target")).drop("ci_low", "ci_high"))
        fresh.store.close()
    finally:
        reader.store.close()


def test_question_points_join_the_axis_and_title_panels_with_rho(reader, generated_store):
    view = question.compute(reader, reader.options(), _sel(generated_store), "A")
    points = view.frames["points"]
    assert set(points["target_type"]) == {"classification", "structured prediction", "question answering", "retrieval"}
    squad = points.filter((pl.col("intermediate") == "squad") & (pl.col("target_type") == "question answering"))
    assert squad["x"].to_list() == [5.0]
    assert all("ρ = " in p and "n = " in p for p in points["panel"])
    # the synthetic store makes gains grow with format level on QA
    qa = view.frames["correlation"].filter(pl.col("target_type") == "question answering")
    assert qa["rho"][0] > 0.8


def test_published_comparison_and_runner_commands(reader, bundled_store):
    view = question.compute_published(reader, _sel(bundled_store, target_types=("classification",)))
    pub = view.frames["published"]
    t7 = pub.filter(pl.col("source") == "rembert_t7")
    assert set(t7["level"]) == {"per category"} and (t7["target_type"] == "aggregate").all()
    assert "for target in xnli pawsx xcopa; do" in view.text["command"]
    assert "runner run --pair" in view.text["command"]
    assert f"--store {bundled_store}" in view.text["command"]  # the store the page shows, the catalog's design:
    assert "for inter in none anli ccg commonsenseqa cosmosqa hellaswag mnli qqp squad sst2; do" in view.text["command"]
    assert "for seed in 1 2 3; do" in view.text["command"]


def test_run_comparison_aligns_languages():
    a = pl.DataFrame({"language": ["de", "fr"], "split": ["test"] * 2, "metric": ["accuracy"] * 2, "value": [70.0, 60.0]})
    b = pl.DataFrame({"language": ["de", "ru"], "split": ["test"] * 2, "metric": ["accuracy"] * 2, "value": [72.0, 50.0]})
    out = compare.run_comparison(a, b)
    assert out["language"].to_list() == ["de", "fr", "ru"]
    assert out["B − A"].to_list()[0] == pytest.approx(2.0)
    assert out["B − A"].null_count() == 2


def test_matrix_cells_label_gains_with_a_sign():
    df = pl.DataFrame({"row": ["mnli"], "target": ["xnli"], "mean_gain": [1.234]})
    cells = transforms.matrix_cells(df, "mean_gain")
    assert cells["cell_text"].to_list() == ["+1.2"]
    spec = heatmaps.matrix_chart(cells, "gain", signed=True).to_dict()
    assert spec["params"][0]["name"] == charts.CELL_SELECTION


def _color_scales(spec) -> list[dict]:
    found = []
    def walk(node):
        if isinstance(node, dict):
            color = node.get("encoding", {}).get("color")
            if isinstance(color, dict) and "scale" in color:
                found.append(color["scale"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(spec)
    return found


def test_gain_heatmap_scale_is_symmetric_and_text_turns_white_on_dark_cells():
    # the lopsided case from the bundled store: -1.4 must not look as strong as +10.9
    tasks = pl.DataFrame({"task": ["xnli", "tydiqa", "avg_tasks"], "name": ["XNLI", "TyDiQA-GoldP", "XTREME Avg"],
                          "role": ["target", "target", "aggregate"], "task_type": ["classification"] * 3})
    df = pl.DataFrame({"row": ["best"] * 3, "target": ["xnli", "tydiqa", "avg_tasks"], "mean_gain": [-1.4, 10.9, 2.6]})
    cells = transforms.matrix_cells(df, "mean_gain", tasks)
    chart = heatmaps.matrix_chart(cells, "gain", signed=True)
    scales = _color_scales(chart.spec)
    assert scales and all(s["domain"] == [-10.9, 10.9] for s in scales)
    assert dict(zip(chart.data["target"], chart.data["dark"])) == {"xnli": False, "tydiqa": True, "avg_tasks": False}
    # task columns and averages over tasks are separate panels, labelled by name, each with its own x axis
    assert chart.spec["facet"]["column"]["field"] == "panel" and chart.spec["resolve"]["scale"]["x"] == "independent"
    assert set(zip(chart.data["column"], chart.data["panel"])) == {
        ("XNLI", "target tasks"), ("TyDiQA-GoldP", "target tasks"), ("XTREME Avg", "published averages over tasks")}
    # the skeleton is shared: another chart's domain does not leak into it
    other = heatmaps.matrix_chart(transforms.matrix_cells(df.with_columns(pl.col("mean_gain") / 10), "mean_gain", tasks),
                                "gain", signed=True)
    assert _color_scales(other.spec)[0]["domain"] == [-1.09, 1.09] and _color_scales(chart.spec)[0]["domain"] == [-10.9, 10.9]


def test_heatmaps_keep_a_fixed_step_per_column_and_draw_every_label():
    df = pl.DataFrame({"row": ["mnli"], "target": ["xnli"], "mean_gain": [0.3]})
    spec = heatmaps.matrix_chart(transforms.matrix_cells(df, "mean_gain"), "gain", signed=True).to_dict()
    assert spec["width"] == {"step": 58} and "autosize" not in spec
    axis = spec["layer"][0]["encoding"]["x"]["axis"]
    assert axis["labelOverlap"] is False
    lt = heatmaps.language_target_chart(pl.DataFrame({"language_label": ["de"], "order": [0], "target": ["xnli"],
                                                    "group": ["g"], "value": [-0.4]}), "gain", signed=True)
    assert lt.spec["width"] == {"step": 58} and _color_scales(lt.spec)[0]["domain"] == [-0.5, 0.5]


@pytest.mark.slow
@pytest.mark.parametrize("fmt,magic", [("png", b"\x89PNG"), ("svg", b"<svg")])
def test_charts_export_as_images(reader, generated_store, fmt, magic):
    built = {}
    for page in export_view.CHART_SOURCES:
        _, view = export_view.compute(reader, reader.options(), _sel(generated_store), charts_of=page)
        built.update(view.charts)
    assert len(built) >= 8 and all("-" in name for name in built)
    for chart in built.values():
        assert export.chart_bytes(chart, fmt, scale=1.0).startswith(magic)


def test_paper_tables_come_from_the_store(reader, bundled_store):
    assert export_view.compute(reader, reader.options(), _sel(bundled_store)) == ({}, export_view.View())  # nothing picked
    assert export_view.table_names() == TABLES and {"matrix", "per-language", "gains", "paired"} <= set(TABLES)
    tables, view = export_view.compute(reader, reader.options(), _sel(bundled_store), table="gains")
    assert list(tables) == ["gains"] and not view.charts
    latex = render_table(tables["gains"], "latex").decode()
    assert r"\toprule" in latex and "80.0" in latex  # X-STILTs XNLI as printed in RemBERT Table 16


def test_file_names_and_mime():
    assert export.file_name("xstilts-matrix/gain?", "latex") == "xstilts-matrix-gain.tex"
    assert json.loads(export.chart_spec(charts.simple_complex_chart(pl.DataFrame(
        {"target_type": ["qa"], "complexity": ["simple (1-2)"], "mean_gain": [1.0], "ci_low": [0.5], "ci_high": [1.5], "n": [3]}))))
    assert export.MIME["parquet"] == "application/vnd.apache.parquet"


@pytest.mark.parametrize("model,setting", [("xlm-roberta-large", "zero-shot"), ("xlm-roberta-large", "translate-train-all"),
                                           ("roberta-large-mnli", "translate-test")])
def test_settings_never_meet_in_one_chart(bundled_store, model, setting):
    with StoreReader.open(bundled_store) as st:
        reader = Reader(st)
        opts = reader.options()
        sel = _sel(bundled_store, model=model, setting=setting)
        views = [matrix.compute(reader, opts, sel, "score"), languages.compute(reader, opts, sel, "score")]
        frames = [c.data for v in views for c in v.charts.values()]
        frames += [matrix.compute(reader, opts, sel, "score", (r, t)).frames["breakdown"]
                   for r, t in views[0].frames["cells"].select("row", "target").rows()[:3]]
    assert "setting" in frames[0].columns
    assert all(set(f["setting"]) == {setting} for f in frames if "setting" in f.columns)


def test_config_details_same_rows_whether_built_by_column_or_by_row():
    from types import SimpleNamespace as NS

    def result(detail):
        check = NS(check=NS(comparison="config", label="runs record x"), measure=NS(detail=detail))
        return NS(checks=(check,))

    same = [{"item": f"r{i}", "expected": ["a", 1], "recorded": None if i % 2 else 3} for i in range(5)]
    mixed = same[:2] + [{"item": "t", "has_runs": True}]
    for detail in (same, mixed):
        rows = [{k: ", ".join(map(str, v)) if isinstance(v, list) else None if v is None else str(v)
                 for k, v in d.items()} for d in detail]  # the per-row construction
        [(label, got)] = transforms.config_details(result(detail))
        assert label == "runs record x" and got.equals(pl.DataFrame(rows))
