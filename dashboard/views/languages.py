"""Languages: per-language gains grouped by family, genus, script or resource class, and a
language x target view; low-resource languages (Joshi et al. classes 0-2) are outlined. Below,
beyond family: gain against URIEL+ distance to English, the transfer gap, complexity x distance
(:mod:`dashboard.views.distance`).

Families and genera come from Glottolog 5.1 and WALS Online, whose licences ask to be credited.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, data, heatmaps, sidebar, transforms
from dashboard.state import Options, Selection
from dashboard.views import View, show
from dashboard.views import distance as distance_sections

VALUES = ("gain", "score")
GROUPS = tuple(transforms.GROUP_COLUMNS)
CREDITS = (
    "Language families and genera: **Glottolog 5.1** (Hammarström, Forkel, Haspelmath & Bank 2024, "
    "*Glottolog 5.1*, Max Planck Institute for Evolutionary Anthropology; CC BY 4.0) and **WALS Online** "
    "v2020.4 (Dryer & Haspelmath (eds.) 2013, *The World Atlas of Language Structures Online*, Max Planck "
    "Institute for Evolutionary Anthropology; CC BY 4.0). Scripts: Unicode CLDR likely subtags. Resource "
    "classes: Joshi et al. 2020, *The State and Fate of Linguistic Diversity and Inclusion in the NLP World*."
)


def _run_label(df: pl.DataFrame) -> pl.DataFrame:
    inter = pl.when(pl.col("variant") == "").then(pl.col("intermediate")).otherwise(
        pl.format("{}/{}", "intermediate", "variant"))
    return df.with_columns(pl.format("{} · {}", inter, "source").alias("run"))


def _pick(value: str | None, choices: list[str], prefer: str = "") -> str | None:
    if value in choices:
        return value
    return next((c for c in choices if c.startswith(prefer)), choices[0] if choices else None)


def compute(reader, options: Options, sel: Selection, value: str = "gain", group: str = "family",
            low_only: bool = False, run: str | None = None, target: str | None = None) -> View:
    """The Languages page.

    Args:
        value: ``gain`` (mean gain over the slice's targets and intermediate tasks, with its interval)
            or ``score`` (scores of one run label, ``run``; bars for one ``target``).
        group: family, genus, script or resource class.
        low_only: keep low-resource languages only.
    """
    f = data.filters(sel, options)
    view = View()
    langs = reader.languages()
    if value == "gain":
        per_lang = transforms.per_language_rows(reader.gain_summary(f, ("language",))).rename({"mean_gain": "value"})
        grid = transforms.per_language_rows(reader.gain_means(f, ("language", "target"))).rename({"mean_gain": "value"})
        title = "mean gain over none (points)"
    else:
        scores = _run_label(transforms.per_language_rows(reader.scores(f)))
        runs = sorted(scores["run"].unique()) if not scores.is_empty() else []
        run = _pick(run, runs, prefer="none")
        grid = scores.filter(pl.col("run") == (run or "")).select("language", "target", "value")
        targets = sorted(grid["target"].unique())
        target = _pick(target, targets)
        view.text.update(runs="\n".join(runs), run=run or "", targets="\n".join(targets), target=target or "")
        per_lang = scores.filter((pl.col("run") == (run or "")) & (pl.col("target") == (target or ""))).select(
            "language", "value", pl.col("n_seeds").alias("n"))
        title = "score (points)"
    if per_lang.is_empty():
        view.notes.append(f"No per-language {'gains' if value == 'gain' else 'scores'} match this selection"
                          + (": published sources mostly print averages only, and this store has no per-language "
                             "intermediate-task runs here. Value *score* shows the per-language scores it holds."
                             if value == "gain" else "."))
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
    view.charts["language_target"] = heatmaps.language_target_chart(grid, title, signed=value == "gain")
    return view


def render() -> None:
    """Draws the page."""
    ctx = sidebar.current()
    st.title("Languages")
    c1, c2, c3 = st.columns([2, 3, 2])
    # Opens on gains when the slice has per-language gains; otherwise on the scores it does have
    # (the bundled store's published sources print averages only), rather than on an empty page.
    has_gains = not ctx.reader.gain_summary(data.filters(ctx.selection, ctx.options), ("language",)).filter(
        pl.col("language") != "avg").is_empty()
    with c1:
        value = sidebar.page_choice(st.radio, "Value", "lvalue", VALUES, "gain" if has_gains else "score",
                                    horizontal=True)
    with c2:
        group = sidebar.page_choice(st.radio, "Group by", "group", GROUPS, "family", horizontal=True)
    with c3:
        low_only = st.checkbox("Low-resource languages only (classes 0-2)", key="low_only")
    view = compute(ctx.reader, ctx.options, ctx.selection, value, group, low_only,
                   st.session_state.get("score_run"), st.session_state.get("score_target"))
    st.caption(ctx.selection.describe())
    if value == "score" and view.text.get("runs"):
        c1, c2 = st.columns(2)
        st.session_state["score_run"] = view.text["run"]
        c1.selectbox("Run (intermediate task · source)", view.text["runs"].split("\n"), key="score_run")
        if view.text.get("targets"):
            st.session_state["score_target"] = view.text["target"]
            c2.selectbox("Target (for the bars)", view.text["targets"].split("\n"), key="score_target")
    for note in view.notes:
        st.info(note)
    if "per_language" in view.charts:
        st.subheader(f"Per language, grouped by {group}")
        st.caption("Black outline and label: low-resource language (Joshi et al. class 0-2)."
                   + (" Gains: mean over targets and intermediate tasks of this selection, bootstrap 95% interval."
                      if value == "gain" else ""))
        show(view.charts["per_language"], key="language_chart")
        st.subheader("Language x target")
        show(view.charts["language_target"], key="language_target_chart", width="content")
        with st.expander("Numbers"):
            st.dataframe(view.frames["per_language"], hide_index=True)
    distance_sections.render(ctx)
    st.markdown(CREDITS)


if __name__ == "__main__":
    render()
