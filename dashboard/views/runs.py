"""Runs & sources: browse runs and published sources with their provenance, filter, and compare
two runs side by side.
"""

from __future__ import annotations

import streamlit as st

from dashboard import compare, data, sidebar
from dashboard.state import Options, Selection
from dashboard.views import View

_RUN_FIELDS = ("run_id", "source", "model", "label", "intermediate", "target", "variant", "setting", "seed",
               "hparams", "config", "code_version", "hardware", "wall_time_s", "gpu_hours", "created_at",
               "citation", "locator", "quality")


def compute(reader, options: Options, sel: Selection, targets: tuple[str, ...] = (),
            intermediates: tuple[str, ...] = (), pair: tuple[str, str] | None = None) -> View:
    """Sources, the runs of the selection (plus page filters), and optionally two runs compared."""
    view = View()
    view.frames["sources"] = reader.sources()
    f = data.filters(sel, options, targets=targets, intermediates=intermediates)
    view.frames["runs"] = reader.runs(f)
    if pair is not None:
        a, b = (reader.run_record(r) for r in pair)
        if a and b:
            view.frames["fields"] = compare.run_fields({k: a.get(k) for k in _RUN_FIELDS},
                                                          {k: b.get(k) for k in _RUN_FIELDS})
            view.frames["compare"] = compare.run_comparison(reader.run_results(pair[0]), reader.run_results(pair[1]))
    return view


def render() -> None:
    """Draws the page."""
    ctx = sidebar.current()
    st.title("Runs & sources")
    st.caption(ctx.selection.describe() + " (metric, split, types and families do not filter runs)")
    st.subheader("Sources")
    base = compute(ctx.reader, ctx.options, ctx.selection)
    sources = base.frames["sources"]
    st.dataframe(sources.drop("notes"), hide_index=True,
                 column_config={"citation": st.column_config.TextColumn(width="large")})
    with st.expander("Source notes (as shipped with each data file)"):
        pick = st.selectbox("Source", sources["source"].to_list(), key="source_notes")
        notes = sources.filter(sources["source"] == pick)["notes"].to_list()
        st.text(notes[0] if notes and notes[0] else "(no notes)")

    st.subheader("Runs")
    every = ctx.reader.runs(data.filters(ctx.selection, ctx.options))
    c1, c2 = st.columns(2)
    targets = c1.multiselect("Targets", sorted(every["target"].unique()), key="run_targets", placeholder="all")
    inters = c2.multiselect("Intermediate tasks", sorted(every["intermediate"].unique()), key="run_inters",
                            placeholder="all")
    view = compute(ctx.reader, ctx.options, ctx.selection, tuple(targets), tuple(inters))
    runs = view.frames["runs"]
    if runs.height >= data.RUN_LIST_LIMIT:
        st.caption(f"Showing the first {data.RUN_LIST_LIMIT} runs; narrow the filters to see others.")
    st.dataframe(runs, hide_index=True)
    if runs.height < 2:
        st.info("Compare needs at least two runs in this list.")
        return
    st.subheader("Compare two runs")
    ids = runs["run_id"].to_list()
    c1, c2 = st.columns(2)
    first, second = compare.default_pair(runs)  # a run beside its own baseline, not an MLQA run beside a BUCC one
    a = c1.selectbox("Run A", ids, index=first, key="run_a")
    b = c2.selectbox("Run B", ids, index=second, key="run_b")
    pair = compute(ctx.reader, ctx.options, ctx.selection, tuple(targets), tuple(inters), (a, b))
    if "compare" in pair.frames:
        st.dataframe(pair.frames["fields"], hide_index=True)
        st.dataframe(pair.frames["compare"], hide_index=True)


if __name__ == "__main__":
    render()
