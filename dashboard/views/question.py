"""Question: do complex English intermediate tasks transfer better across languages than simple ones?

Gain over the ``none`` baseline against the chosen complexity axis, one panel per target type,
with Spearman's rho and its interval; simple text-only tasks (format levels 1-2) beside complex
ones (3-5). Without intermediate-task runs the page says so, shows what the published sources
say, and prints the runner commands that fill the view.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, sidebar, transforms
from dashboard.state import Options, Selection
from dashboard.data import Filters
from dashboard.views import View, show

AXES = ("A", "B", "C", "D")


def published_filters() -> Filters:
    """X-STILTs and XLM-R rows of the three published leaderboard sources (test, zero-shot)."""
    return Filters(models=("xlm-roberta-large",), sources=transforms.PUBLISHED_XSTILTS, intermediates=("best",),
                   splits=("test",), settings=("zero-shot",))


def compute_published(reader, sel: Selection) -> View:
    """What the published sources say, and the commands that would fill the view."""
    view = View()
    pub = transforms.with_task_names(transforms.published_comparison(reader.gains(published_filters())), reader.tasks())
    view.frames["published"] = pub
    if not pub.is_empty():
        view.charts["published"] = charts.published_chart(pub)
    view.text["command"] = data.fill_script(sel.model, reader.targets_of_types(sel.target_types), sel.store,
                                           reader.study_design(), default_store=data.default_store())
    return view


def compute(reader, options: Options, sel: Selection, axis: str = "A") -> View:
    """The Question page for one selection and complexity axis."""
    f = data.filters(sel, options)
    summary = reader.gain_summary(f, ("target_type", "intermediate"), True)
    if summary.is_empty():
        view = compute_published(reader, sel)
        view.text["empty"] = "none" if reader.count_single_task_runs(sel.model, sel.setting) == 0 else "slice"
        return view
    view = View()
    complexity = reader.complexity(sel.model)
    corr = reader.correlation(f, axis)
    points = transforms.complexity_points(summary, complexity, axis, data.AXES[axis])
    points = transforms.with_panel(points, transforms.panel_titles(corr))
    view.frames.update(summary=summary, correlation=corr, points=points, complexity=complexity)
    if points.is_empty():
        view.notes.append(f"Axis {axis} has no values for these tasks"
                          + (" (axis C needs English dev scores of the intermediate phase)." if axis == "C" else "."))
    else:
        view.charts["complexity"] = charts.complexity_chart(points, transforms.AXIS_LABELS[axis], ordinal=axis == "A")
    svc = reader.simple_vs_complex(f)
    view.frames["simple_vs_complex"] = svc
    if not svc.is_empty():
        view.charts["simple_vs_complex"] = charts.simple_complex_chart(svc)
    return view


def _render_published(view: View, sel: Selection) -> None:
    if view.text["empty"] == "none":
        st.info(f"This store has no intermediate-task runs for **{sel.model}** ({sel.setting}), so it cannot "
                "answer the complexity question yet. Below: what the published sources say, and the commands "
                "that fill this view.")
    else:
        st.info("No intermediate-task runs match this selection (source, metric, split, target types or "
                "families). Loosen the sidebar, or run the commands below. Meanwhile, the published sources:")
    st.subheader("What the published sources say: X-STILTs against XLM-R")
    st.caption("XLM-R Large with the best English intermediate task per target (X-STILTs, Phang et al. 2020) "
               "minus plain XLM-R, as printed in RemBERT Tables 16 and 7 (Chung et al. 2021) and the mT5 README; "
               "test sets, zero-shot, task averages over languages. These sources do not say which intermediate "
               "task won per target, so they cannot speak to complexity.")
    pub = view.frames["published"]
    if "published" in view.charts:
        show(view.charts["published"], key="published_chart")
        st.dataframe(pub, hide_index=True)
    else:
        st.write("The store holds no published X-STILTs rows.")
    st.subheader("Fill this view")
    st.markdown("Run every intermediate task and the baseline on the targets of this selection "
                "(`runner run` writes each run into the store; then press *Reload store*):")
    st.code(view.text["command"], language="bash")


def render() -> None:
    """Draws the page."""
    ctx = sidebar.current()
    st.title("Does a more complex English intermediate task transfer better?")
    axis = sidebar.page_choice(st.radio, "Complexity axis", "axis", AXES, "A", horizontal=True,
                               format_func=lambda a: transforms.AXIS_LABELS[a])
    view = compute(ctx.reader, ctx.options, ctx.selection, axis)
    st.caption(ctx.selection.describe())
    if "empty" in view.text:
        _render_published(view, ctx.selection)
        return
    for note in view.notes:
        st.info(note)
    st.subheader("Gain over the none baseline against complexity, per target type")
    st.caption("Each point: one intermediate task; its gain averaged over each target's benchmark languages, "
               "then over the targets of that type (tasks first, as XTREME does), with the two-level bootstrap "
               "95% interval (seeds; languages within each task). Panel titles: Spearman's rho between the axis "
               "and the mean gain, its bootstrap interval over tasks, the exact permutation p-value and the "
               "number of intermediate tasks behind it: with 8-9 tied points the interval alone misleads.")
    if "complexity" in view.charts:
        show(view.charts["complexity"], key="complexity_chart")
    st.dataframe(view.frames["correlation"], hide_index=True)
    st.subheader("Simple text-only tasks (format levels 1-2) beside complex ones (3-5)")
    if "simple_vs_complex" in view.charts:
        show(view.charts["simple_vs_complex"], key="svc_chart")
        st.dataframe(view.frames["simple_vs_complex"], hide_index=True)
    with st.expander("Complexity of each intermediate task (axes A, B, C)"):
        st.dataframe(view.frames["complexity"], hide_index=True)


if __name__ == "__main__":
    render()
