"""Transfer matrix: intermediate task x target, as gain over ``none`` or as absolute score.

Click a cell (or pick it below the chart) to see its per-language breakdown.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, data, heatmaps, sidebar, transforms
from dashboard.state import Options, Selection
from dashboard.views import View, show
from dashboard.views.examples import FROM_MATRIX

VALUES = ("gain", "score")
VALUE_TITLES = {"gain": "gain over none (points)", "score": "score (points)"}


def compute(reader, options: Options, sel: Selection, value: str = "gain", cell: tuple[str, str] | None = None) -> View:
    """The matrix for one selection; ``cell`` = (row, target) adds its per-language breakdown."""
    f = data.filters(sel, options)
    view = View()
    if value == "gain":
        frame = transforms.row_label(reader.gain_means(f, ("source", "intermediate", "variant", "target")))
        cells = transforms.matrix_cells(frame, "mean_gain", reader.tasks()) if not frame.is_empty() else frame
    else:
        frame = transforms.row_label(reader.target_means(f))
        cells = transforms.matrix_cells(frame, "value", reader.tasks()) if not frame.is_empty() else frame
    view.frames["cells"] = cells
    missing = transforms.coverage_notes(frame)
    if missing:  # no average where a run or its baseline lacks a benchmark language; the rows still show
        view.notes.append("No average (k of n benchmark languages): " + "; ".join(missing[:8])
                          + (f"; and {len(missing) - 8} more" if len(missing) > 8 else ""))
    if cells.is_empty():
        view.notes.append("No " + ("gains (an intermediate-task run and its none baseline)" if value == "gain" else "scores")
                          + " match this selection.")
        return view
    view.charts["matrix"] = heatmaps.matrix_chart(cells, VALUE_TITLES[value], signed=value == "gain")
    if cell is not None:
        detail = reader.gains(f) if value == "gain" else reader.scores(f)
        rows = transforms.cell_breakdown(transforms.row_label(detail), *cell)
        view.frames["breakdown"] = rows
        per_lang = transforms.per_language_rows(rows)
        if not per_lang.is_empty():
            view.charts["breakdown"] = charts.breakdown_chart(per_lang, "gain" if value == "gain" else "value",
                                                              VALUE_TITLES[value])
    return view


def _picked_cell(event, cells: pl.DataFrame) -> tuple[str, str] | None:
    """The (row, target) of a clicked cell from the chart's selection event, if any."""
    picked = (event or {}).get("selection", {}).get(charts.CELL_SELECTION) or []
    if picked and "row" in picked[0] and "target" in picked[0]:
        return picked[0]["row"], picked[0]["target"]
    return None


def render() -> None:
    """Draws the page."""
    ctx = sidebar.current()
    st.title("Transfer matrix")
    value = sidebar.page_choice(st.radio, "Value", "value", VALUES, "gain", horizontal=True,
                                format_func=VALUE_TITLES.get)
    st.caption(ctx.selection.describe())
    view = compute(ctx.reader, ctx.options, ctx.selection, value)
    for note in view.notes:
        st.info(note)
    if "matrix" not in view.charts:
        return
    cells = view.frames["cells"]
    st.caption("Rows: intermediate task (· source when published; [configuration] when a pair has several); "
               "columns: target. Gains are the mean over the benchmark's languages of the task of (score − the none "
               "baseline of the same target-phase configuration); scores are published averages or the mean over "
               "the benchmark's languages. A cell exists only where every one of them is covered.")
    event = show(view.charts["matrix"], key="matrix_chart", on_select="rerun", selection_mode=charts.CELL_SELECTION,
                 width="content")  # fixed pixels per column: stretching would squeeze out labels
    rows = sorted(cells["row"].unique())
    clicked = _picked_cell(event, cells)
    # A click picks the cell once; the selectboxes stay free to change while the click persists.
    if clicked and clicked[0] in rows and clicked != st.session_state.get("_cell_clicked"):
        st.session_state["cell_row"], st.session_state["cell_target"] = clicked
    st.session_state["_cell_clicked"] = clicked
    left, right = st.columns(2)
    row = left.selectbox("Intermediate task (row)", rows, key="cell_row")
    targets = sorted(cells.filter(pl.col("row") == row)["target"].unique())
    if st.session_state.get("cell_target") not in targets:
        st.session_state["cell_target"] = targets[0]
    target = right.selectbox("Target (column)", targets, key="cell_target")
    detail = compute(ctx.reader, ctx.options, ctx.selection, value, (row, target))
    st.subheader(f"{row} → {target}, per language")
    if st.button("Examples of this cell →", key="cell_examples",
                 help="example by example against the none baseline, with paired tests (runs that kept predictions)"):
        st.session_state[FROM_MATRIX] = (row, target)
        st.switch_page("views/examples.py")
    if "breakdown" in detail.charts:
        show(detail.charts["breakdown"], key="breakdown_chart")
    else:
        st.info("This cell has only a published average (language 'avg'), no per-language numbers.")
    st.dataframe(detail.frames["breakdown"], hide_index=True)


if __name__ == "__main__":
    render()
