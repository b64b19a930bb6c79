"""Export: the store's paper tables (CSV, Parquet, Markdown, LaTeX) and the charts of every page (PNG, SVG).

Tables are :func:`store.exports.build_table` and :func:`store.exports.render`, so a download
equals ``store export`` with the same filters. Nothing is built until the user picks it: opening
the page costs no query; picking a table builds that table, picking a page builds that page's
charts, and files are made only when a button is pressed.
"""

from __future__ import annotations

import functools

import streamlit as st

from dashboard import data, export, sidebar
from dashboard.state import Options, Selection
from dashboard.views import View, distance, languages, matrix, question

NONE = "none"
TABLE_TITLES = {"matrix": "Intermediate task x target (mean score)", "per-language": "Score per language",
                "gains": "Gain over the none baseline per target",
                "paired": "Paired tests against the none baseline (per-example predictions)",
                "distance": "Gain against URIEL+ distance to English (Spearman's rho per target type and kind)"}
#: Pages whose charts can be exported: name -> (title, how to build that page's view).
CHART_SOURCES = {
    "question": ("Question (complexity axis A)", lambda r, o, s: question.compute(r, o, s, "A")),
    "matrix-gain": ("Transfer matrix: gain", lambda r, o, s: matrix.compute(r, o, s, "gain")),
    "matrix-score": ("Transfer matrix: score", lambda r, o, s: matrix.compute(r, o, s, "score")),
    "languages-gain": ("Languages: gain", lambda r, o, s: languages.compute(r, o, s, "gain")),
    "languages-score": ("Languages: score", lambda r, o, s: languages.compute(r, o, s, "score")),
    "languages-distance": ("Languages: distance to English (syntactic)",
                           lambda r, o, s: distance.compute(r, o, s, distance.DEFAULT_KIND)),
}


def table_names() -> tuple[str, ...]:
    """The paper tables on offer (``store export --table``)."""
    return tuple(data.TABLES)


def compute(reader, options: Options, sel: Selection, table: str = NONE, charts_of: str = NONE,
            include_capped: bool = False) -> tuple[dict, View]:
    """What the user picked, and only that.

    Args:
        table: a paper table name (see :func:`table_names`) or ``none``.
        charts_of: a key of :data:`CHART_SOURCES` or ``none``.
        include_capped: keep capped (debug) runs in the paper table (left out by default, as
            ``store export`` does without ``--include-capped``).

    Returns:
        ``{table: Table or a one-line reason}`` (empty without a table) and a view holding the
        charts of the picked page, named ``<page>-<chart>``.
    """
    tables: dict[str, object] = {}
    if table != NONE:
        try:
            f = data.filters(sel, options, include_capped=include_capped and sel.capped == "shown")
            tables[table] = reader.paper_table(table, f)
        except data.StoreError as e:
            tables[table] = str(e)
    view = View()
    if charts_of != NONE:
        page = CHART_SOURCES[charts_of][1](reader, options, sel)
        view.charts = {f"{charts_of}-{name}": chart for name, chart in page.charts.items()}
        view.notes = list(page.notes)
    return tables, view


def _table_bytes(table, fmt: str) -> bytes:
    return data.render_table(table, fmt)


def _render_table(name: str, table) -> None:
    with_demo = False
    if getattr(table, "demo", False):
        st.warning(f"**{data.DEMO_MARK}**: this table holds made-up `store demo` rows. Pick *Source: published* in "
                   "the sidebar to leave them out, or tick the box to download it anyway, marked as such "
                   "(`store export --allow-demo`).")
        with_demo = st.checkbox("Export demonstration data (marked)", key="export_demo")
    st.markdown(f"**{TABLE_TITLES.get(name, name)}** (`store export --table {name}`)")
    if isinstance(table, str):
        st.info(table)
        return
    if table.demo and not with_demo:
        st.caption("Demonstration data: not offered for download unless the box above is ticked.")
        return
    cols = st.columns(len(data.TABLE_FORMATS))
    for col, fmt in zip(cols, data.TABLE_FORMATS):
        col.download_button(fmt, functools.partial(_table_bytes, table, fmt), file_name=export.file_name(f"xstilts-{name}", fmt),
                            mime=export.MIME[fmt], key=f"dl-{name}-{fmt}", on_click="ignore", icon=":material/download:")
    st.caption(table.caption)  # names the benchmark whose languages the averages are over
    for note in getattr(table, "notes", ())[:10]:
        st.caption(f"note: {note}")
    with st.expander("Preview"):
        st.dataframe(table.frame, hide_index=True)


def render() -> None:
    """Draws the page."""
    ctx = sidebar.current()
    st.title("Export")
    st.caption(ctx.selection.describe())
    st.subheader("Paper tables")
    st.caption("Markdown and LaTeX: one decimal, best value per column in bold (booktabs); CSV and Parquet keep full precision.")
    names = table_names()
    table = sidebar.page_choice(st.selectbox, "Table", "table", (NONE, *names), NONE,
                                format_func=lambda n: "pick a table…" if n == NONE else TABLE_TITLES.get(n, n))
    include_capped = st.checkbox("Include capped (debug) runs in the paper table", value=False,
                                 help="runs with max_train_examples / max_eval_examples set; left out by default, "
                                      "as `store export` does without --include-capped")
    tables, _ = compute(ctx.reader, ctx.options, ctx.selection, table=table, include_capped=include_capped)
    for name, built in tables.items():
        _render_table(name, built)
    st.subheader("Charts")
    charts_of = sidebar.page_choice(st.selectbox, "Charts of", "charts", (NONE, *CHART_SOURCES), NONE,
                                    format_func=lambda n: "pick a page…" if n == NONE else CHART_SOURCES[n][0])
    if charts_of == NONE:
        return
    _, view = compute(ctx.reader, ctx.options, ctx.selection, charts_of=charts_of)
    mark = data.DEMO_MARK if ctx.reader.has_demo() else ""
    for note in view.notes:
        st.info(note)
    if not view.charts:
        st.info("No chart for this selection.")
    for name, chart in view.charts.items():
        cols = st.columns([4, 1, 1])
        cols[0].markdown(f"`{name}`")
        spec = export.chart_spec(chart, mark)
        for col, fmt in zip(cols[1:], export.CHART_FORMATS):
            col.download_button(fmt.upper(), functools.partial(export.spec_bytes, spec, fmt),
                                file_name=export.file_name(f"xstilts-{name}", fmt), mime=export.MIME[fmt],
                                key=f"dl-{name}-{fmt}", on_click="ignore", icon=":material/image:")


if __name__ == "__main__":
    render()
