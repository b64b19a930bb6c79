"""Export: the store's paper tables (CSV, Parquet, Markdown, LaTeX) and every chart (PNG, SVG).

Tables are :func:`store.exports.build_table` and :func:`store.exports.render`, so a download
equals ``store export`` with the same filters. Files are made only when a button is pressed.
"""

from __future__ import annotations

import functools

import streamlit as st

from dashboard import export, sidebar
from dashboard.state import DEMO_MARK, Options, Selection
from dashboard.views import View, languages, matrix, question
from store.errors import StoreError

TABLE_TITLES = {"matrix": "Intermediate task x target (mean score)", "per-language": "Score per language",
                "gains": "Gain over the none baseline per target"}


def compute(reader, options: Options, sel: Selection, include_capped: bool = False) -> tuple[dict, View]:
    """Paper tables by name (a ``Table`` or a one-line reason) and every chart of the other pages.

    Paper tables leave capped (debug) runs out unless ``include_capped`` (as ``store export``).
    """
    from store.exports import TABLES

    f = sel.filters(options, include_capped=include_capped and sel.capped == "shown")
    tables: dict[str, object] = {}
    for name in TABLES:
        try:
            tables[name] = reader.paper_table(name, f)
        except StoreError as e:
            tables[name] = str(e)
    view = View()
    for prefix, page in (
        ("question", question.compute(reader, options, sel, "A")),
        ("matrix-gain", matrix.compute(reader, options, sel, "gain")),
        ("matrix-score", matrix.compute(reader, options, sel, "score")),
        ("languages-gain", languages.compute(reader, options, sel, "gain")),
        ("languages-score", languages.compute(reader, options, sel, "score")),
    ):
        for name, chart in page.charts.items():
            view.charts[f"{prefix}-{name}"] = chart
    return tables, view


def _table_bytes(table, fmt: str) -> bytes:
    from store.exports import render

    return render(table, fmt)


def render() -> None:
    """Draws the page."""
    from store.exports import FORMATS

    ctx = sidebar.current()
    st.title("Export")
    st.caption(ctx.selection.describe())
    include_capped = st.checkbox("Include capped (debug) runs in the paper tables", value=False,
                                 help="runs with max_train_examples / max_eval_examples set; left out by default, "
                                      "as `store export` does without --include-capped")
    tables, view = compute(ctx.reader, ctx.options, ctx.selection, include_capped)
    demo = ctx.reader.has_demo()
    mark = DEMO_MARK if demo else ""
    st.subheader("Paper tables")
    with_demo = False
    if any(getattr(t, "demo", False) for t in tables.values()):
        st.warning(f"**{DEMO_MARK}**: some tables below hold made-up `store demo` rows. Pick *Source: published* in "
                   "the sidebar to leave them out, or tick the box to download them anyway, marked as such "
                   "(`store export --allow-demo`).")
        with_demo = st.checkbox("Export demonstration data (marked)", key="export_demo")
    st.caption("Markdown and LaTeX: one decimal, best value per column in bold (booktabs); CSV and Parquet keep full precision.")
    for name, table in tables.items():
        st.markdown(f"**{TABLE_TITLES.get(name, name)}** (`store export --table {name}`)")
        if isinstance(table, str):
            st.info(table)
            continue
        if table.demo and not with_demo:
            st.caption("Demonstration data: not offered for download unless the box above is ticked.")
            continue
        cols = st.columns(len(FORMATS))
        for col, fmt in zip(cols, FORMATS):
            col.download_button(fmt, functools.partial(_table_bytes, table, fmt), file_name=export.file_name(f"xstilts-{name}", fmt),
                                mime=export.MIME[fmt], key=f"dl-{name}-{fmt}", on_click="ignore", icon=":material/download:")
        st.caption(table.caption)  # names the benchmark whose languages the averages are over
        for note in getattr(table, "notes", ())[:10]:
            st.caption(f"note: {note}")
        with st.expander("Preview"):
            st.dataframe(table.frame, hide_index=True)
    st.subheader("Charts")
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
