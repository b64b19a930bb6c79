"""Languages beyond family: the distance sections of the Languages page (not a page of its own).

Gain against a chosen URIEL+ distance to English (one point per language, one panel per target
type, Spearman's rho with interval and n), the transfer gap (English minus language, our
baselines and published rows labelled by source, and whether intermediate training shrinks it),
and complexity x distance (simple against complex intermediate tasks in near, middle and far
languages). Every statistic comes from :mod:`store.distance`; families stay as colour.
"""

from __future__ import annotations

import json

import polars as pl
import streamlit as st

from dashboard import charts, data, sidebar, transforms
from dashboard.state import Options, Selection
from dashboard.data import DISTANCE_KINDS
from dashboard.views import View, show

DEFAULT_KIND = "syntactic"


def compute(reader, options: Options, sel: Selection, kind: str = DEFAULT_KIND) -> View:
    """The distance sections for one selection and distance kind."""
    f = data.filters(sel, options)
    view = View()
    source = reader.distance_source()
    view.text["source"] = (
        f"Distances: URIEL+ ({source.get('package')} {source.get('package_version')}), {kind} distance to English "
        f"(angular, 0-1). {source.get('citation')} Built on URIEL: {source.get('base_citation')}"
    )
    view.text["configuration"] = json.dumps(json.loads(source.get("configuration") or "{}"), indent=1)
    dist = reader.distances(kind)
    view.frames["distances"] = dist
    missing = dist.filter(pl.col("distance").is_null())["language"].to_list()
    if missing:
        view.notes.append(f"URIEL+ has no {kind} distance for: {', '.join(missing)} (null, left out of the charts).")
    corr = reader.distance_correlation(f, kind)
    if corr.is_empty():
        view.text["no_gains"] = "1"
    else:
        points = transforms.distance_points(reader.language_points(f, kind), corr, reader.languages())
        view.frames.update(correlation=corr, points=points)
        view.charts["distance"] = charts.distance_chart(points, kind)
        cxd = reader.complexity_by_distance(f, kind)
        view.frames["complexity_distance"] = cxd
        if not cxd.is_empty():
            view.charts["complexity_distance"] = charts.complexity_distance_chart(cxd)
    gap_rows = transforms.gap_rows(reader.baseline_gaps(f), dist)
    view.frames["gaps"] = gap_rows
    if not gap_rows.is_empty():
        view.charts["gaps"] = charts.gap_chart(gap_rows, kind)
    change = reader.gap_change_summary(f)
    view.frames["gap_change"] = change
    if not change.is_empty():
        view.charts["gap_change"] = charts.gap_change_chart(change)
    return view


def render(ctx) -> None:
    """Draws the distance sections (called by the Languages page)."""
    st.header("Beyond family: distance to English")
    kind = sidebar.page_choice(st.selectbox, "Distance (URIEL+, to English)", "distance", DISTANCE_KINDS, DEFAULT_KIND)
    view = compute(ctx.reader, ctx.options, ctx.selection, kind)
    st.caption(view.text["source"])
    for note in view.notes:
        st.info(note)
    st.subheader(f"Gain against {kind} distance, per target type")
    if "no_gains" in view.text:
        st.info("No per-language intermediate-task gains in this selection (a gain needs a run and its `none` "
                "baseline on the same languages; the published per-language rows are baselines only).")
    else:
        st.caption("Each point: one language, its mean gain over the selection's intermediate-task runs and targets "
                   "of that type; colour: family. Panel titles: Spearman's rho between distance and gain with its "
                   "bootstrap 95% interval over languages, and n languages.")
        show(view.charts["distance"], key="distance_chart")
        st.dataframe(view.frames["correlation"], hide_index=True, key="distance_correlation")
    st.subheader("The transfer gap: English minus language")
    st.caption("Baselines (no intermediate task): our `none` runs and published per-language rows, labelled by "
               "source. A rising line: distant languages trail English further.")
    if "gaps" in view.charts:
        show(view.charts["gaps"], key="gap_chart")
    else:
        st.info("No run group here has an English score beside other languages' scores.")
    st.markdown("**Does intermediate training shrink the gap?** Per target and intermediate task: the run's gap "
                "minus its baseline's gap, mean over languages with a bootstrap 95% interval (below 0: shrinks).")
    if "gap_change" in view.charts:
        show(view.charts["gap_change"], key="gap_change_chart")
        st.dataframe(view.frames["gap_change"], hide_index=True, key="gap_change_table")
    else:
        st.info("No intermediate-task run with an English score and a matching baseline in this selection.")
    st.subheader(f"Complexity x {kind} distance")
    if "complexity_distance" in view.charts:
        st.caption("Mean gain of simple (format 1-2) and complex (3-5) intermediate tasks for near, middle and far "
                   "languages (terciles of the catalog's distances), bootstrap 95% intervals. Complex tasks helping "
                   "distant languages more shows as the red bar growing, relative to the blue one, from left to right.")
        show(view.charts["complexity_distance"], key="complexity_distance_chart")
        st.dataframe(view.frames["complexity_distance"], hide_index=True, key="complexity_distance_table")
    else:
        st.info("No single-task intermediate runs with format levels in this selection.")
    with st.expander(f"Every language's {kind} distance, and the URIEL+ configuration"):
        st.dataframe(view.frames["distances"].select("language", "name", "family", "kind", "distance"),
                     hide_index=True, key="distance_table")
        st.code(view.text["configuration"], language="json")
