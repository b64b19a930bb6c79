"""Languages: per-language gains grouped by family, genus, script or resource class, and a
language x target view; low-resource languages (Joshi et al. classes 0-2) are outlined.

Families and genera come from Glottolog 5.1 and WALS Online, whose licences ask to be credited.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, sidebar, transforms
from dashboard.state import Options, Selection
from dashboard.views import View

VALUES = ("gain", "score")
GROUPS = tuple(transforms.GROUP_COLUMNS)
CREDITS = (
    "Language families and genera: **Glottolog 5.1** (Hammarström, Forkel, Haspelmath & Bank 2024, "
    "*Glottolog 5.1*, Max Planck Institute for Evolutionary Anthropology; CC BY 4.0) and **WALS Online** "
    "v2020.4 (Dryer & Haspelmath (eds.) 2013, *The World Atlas of Language Structures Online*, Max Planck "
    "Institute for Evolutionary Anthropology; CC BY 4.0). Scripts: Unicode CLDR likely subtags. Resource "
    "classes: Joshi et al. 2020, *The State and Fate of Linguistic Diversity and Inclusion in the NLP World*."
)


def _column_label(df: pl.DataFrame) -> pl.DataFrame:
    inter = pl.when(pl.col("variant") == "").then(pl.col("intermediate")).otherwise(
        pl.format("{}/{}", "intermediate", "variant"))
    return df.with_columns(pl.format("{} · {} · {} · {}", "target", inter, "source", "metric").alias("column"))


def compute(reader, options: Options, sel: Selection, value: str = "gain", group: str = "family",
            low_only: bool = False, column: str | None = None) -> View:
    """The Languages page. ``column`` picks the score column shown per language (score mode)."""
    f = sel.filters(options)
    view = View()
    langs = reader.languages()
    if value == "gain":
        per_lang = transforms.per_language_rows(reader.gain_summary(f, ("language",)))
        per_lang = per_lang.rename({"mean_gain": "value"})
        grid = transforms.per_language_rows(reader.gain_summary(f, ("language", "target"))).rename({"mean_gain": "value"})
        title = "mean gain over none (points)"
    else:
        scores = _column_label(transforms.per_language_rows(reader.scores(f)))
        columns = sorted(scores["column"].unique()) if not scores.is_empty() else []
        view.text["columns"] = "\n".join(columns)
        column = column if column in columns else (columns[0] if columns else None)
        view.text["column"] = column or ""
        per_lang = scores.filter(pl.col("column") == (column or "")).select("language", "value", pl.col("n_seeds").alias("n"))
        grid = scores.select("language", pl.col("column").alias("target"), "value")
        title = "score (points)"
    if per_lang.is_empty():
        view.notes.append(f"No per-language {'gains' if value == 'gain' else 'scores'} match this selection"
                          + (" (published sources mostly print averages only)." if value == "gain" else "."))
        return view
    per_lang = transforms.language_frame(per_lang, langs, group)
    grid = transforms.language_frame(grid, langs, group)
    if low_only:
        per_lang = per_lang.filter(pl.col("low_resource"))
        grid = grid.filter(pl.col("low_resource"))
    view.frames.update(per_language=per_lang, language_target=grid)
    if per_lang.is_empty():
        view.notes.append("No low-resource language in this selection.")
        return view
    view.charts["per_language"] = charts.language_chart(per_lang, title, with_interval=value == "gain")
    view.charts["language_target"] = charts.language_target_chart(grid, title, signed=value == "gain")
    return view


def render() -> None:
    """Draws the page."""
    ctx = sidebar.current()
    st.title("Languages")
    c1, c2, c3 = st.columns([2, 3, 2])
    with c1:
        value = sidebar.page_choice(st.radio, "Value", "lvalue", VALUES, "gain", horizontal=True)
    with c2:
        group = sidebar.page_choice(st.radio, "Group by", "group", GROUPS, "family", horizontal=True)
    with c3:
        low_only = st.checkbox("Low-resource languages only (classes 0-2)", key="low_only")
    column = st.session_state.get("score_column")
    view = compute(ctx.reader, ctx.options, ctx.selection, value, group, low_only, column)
    st.caption(ctx.selection.describe())
    if value == "score" and view.text.get("columns"):
        options = view.text["columns"].split("\n")
        st.session_state["score_column"] = view.text["column"]
        st.selectbox("Scores of (target · intermediate · source · metric)", options, key="score_column")
    for note in view.notes:
        st.info(note)
    if "per_language" in view.charts:
        st.subheader(f"Per language, grouped by {group}")
        st.caption("Black outline and label: low-resource language (Joshi et al. class 0-2)."
                   + (" Gains: mean over targets and intermediate tasks of this selection, bootstrap 95% interval."
                      if value == "gain" else ""))
        st.altair_chart(view.charts["per_language"], key="language_chart")
        st.subheader("Language x target")
        st.altair_chart(view.charts["language_target"], key="language_target_chart")
        with st.expander("Numbers"):
            st.dataframe(view.frames["per_language"], hide_index=True)
    st.markdown(CREDITS)


if __name__ == "__main__":
    render()
