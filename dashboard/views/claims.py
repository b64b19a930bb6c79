"""Claims: the study's published claims checked against the evidence in the store.

The same evaluation as ``store claims`` (:func:`store.claims.evaluate`, nothing recomputed here):
per claim the verdict, the measured value with its 95% interval, the runs used and the exact
``runner run`` commands of the runs still missing. Each claim opens onto the chart and the runs
behind it. Claims fix their own slice (zero-shot, test split, each target's headline metric; our
own runs, except claim 5, which the published leaderboard rows speak to); of the sidebar only the
model applies, as ``store claims --model`` does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import polars as pl
import streamlit as st

from dashboard import charts, data, sidebar, transforms
from dashboard.state import Options, Selection
from dashboard.data import CONTRADICTED, SUPPORTED, UNDECIDED, VERDICTS, render_claims
from dashboard.views import View, show

SHOW = ("all", *VERDICTS)
ICONS = {SUPPORTED: ":material/check_circle:", CONTRADICTED: ":material/cancel:", UNDECIDED: ":material/help:"}
DOWNLOADS = {"markdown": ("md", "text/markdown"), "json": ("json", "application/json"), "latex": ("tex", "text/x-tex")}


@dataclass
class ClaimsView(View):
    """A :class:`View` that also keeps the ids of the claims it shows (for the ``store claims`` downloads)."""

    shown: list[str] = field(default_factory=list)


def compute(reader, options: Options, sel: Selection, show_verdict: str = "all") -> ClaimsView:
    """The Claims page for the sidebar's model; ``show_verdict`` keeps the claims with that verdict.

    Frames: ``claims`` (the table), ``about`` (text, origin, notes per claim), and per claim id
    ``checks:ID``, ``runs:ID`` and ``config:ID:N``; charts by claim id; text ``missing:ID`` (the
    commands) and ``missing`` (every claim's, once, whatever the filter). Every claim's part is built
    once per store state (:meth:`dashboard.data.Reader.claims_page`); a render picks and draws.
    """
    page = reader.claims_page(sel.model)
    about_all = page["about"]
    shown = [cid for cid, verdict in zip(about_all["id"], about_all["verdict"]) if show_verdict in ("all", verdict)] \
        if not about_all.is_empty() else []
    view = ClaimsView(shown=shown)
    about = about_all.filter(pl.col("id").is_in(shown)) if shown else about_all.clear()
    checks = page["checks"].filter(pl.col("id").is_in(shown)) if shown else page["checks"].clear()
    view.frames["claims"] = transforms.claims_table(about, checks)
    view.frames["about"] = about.select("id", "text", "origin", "extracted_by", "confidence", "evidence", "notes", "verdict") \
        if not about.is_empty() else about
    home = data.default_store()  # the commands write where this page reads, as the Question page's do
    view.text["missing"] = data.with_store("\n".join(page["missing"]), sel.store, home)
    if not shown:
        view.notes.append(f"No claim is {show_verdict} for {sel.model} on this store.")
    for cid in shown:
        view.frames[f"checks:{cid}"] = page[f"checks:{cid}"]
        points = page[f"points:{cid}"]
        if not points.is_empty():
            view.charts[cid] = charts.claim_chart(points)
        for i, (label, detail) in enumerate(page[f"config:{cid}"]):
            view.frames[f"config:{cid}:{i}"] = detail
            view.text[f"config:{cid}:{i}"] = label
        view.frames[f"runs:{cid}"] = page[f"runs:{cid}"]
        view.text[f"missing:{cid}"] = data.with_store("\n".join(page[f"missing:{cid}"]), sel.store, home)
    return view


def _download(reader, model: str, shown: list[str], fmt: str) -> str:
    """The shown claims as ``store claims --format FMT`` renders them (built when the button is pressed)."""
    return render_claims([r for r in reader.claims(model) if r.claim.id in shown], fmt)


def _evidence_note(about: dict, runs) -> None:
    if about["evidence"] == "published rows":
        sources = ", ".join(sorted(set(runs["source"]))) if not runs.is_empty() else "none in this store"
        st.info("**Evidence: published leaderboard rows**, not runs of ours. Only this claim can be checked "
                "from published aggregates: the X-STILTs (best intermediate task per target) and XLM-R (none) "
                f"rows the published sources print ({sources}). The interval is the range of their estimates, "
                "widened by ± 0.1 for print rounding.", icon=":material/menu_book:")
    elif about["evidence"] == "recorded config":
        st.caption("Evidence: the runs' recorded configuration (runs.model and the config JSON), not their scores.")
    else:
        st.caption("Evidence: this project's own runs (source runner), gains over the matching none baseline on "
                   "each target's headline metric; bootstrap 95% interval over seeds and languages.")


def _claim(view: View, about: dict) -> None:
    cid = about["id"]
    with st.expander(f"{cid}: {about['verdict']}", icon=ICONS[about["verdict"]]):
        st.markdown(f"**{about['text']}**")
        conf = f", confidence {about['confidence']}" if about["confidence"] else ""
        st.caption(f"Origin: {about['origin']} [{about['extracted_by']}{conf}]")
        if about["notes"]:
            st.caption(f"Note: {about['notes']}")
        runs = view.frames[f"runs:{cid}"]
        _evidence_note(about, runs)
        st.dataframe(view.frames[f"checks:{cid}"], hide_index=True,
                     column_config={"check": st.column_config.TextColumn(width="large"),
                                    "reason": st.column_config.TextColumn(width="medium")})
        if cid in view.charts:
            st.caption("Per check: the items behind it and, as a diamond, the check's own measure, each with its 95% "
                       "interval; the green band is the region the claim asserts for that measure.")
            show(view.charts[cid], key=f"claim_chart_{cid}")
        i = 0
        while f"config:{cid}:{i}" in view.frames:
            st.markdown(f"*{view.text[f'config:{cid}:{i}']}*")
            st.dataframe(view.frames[f"config:{cid}:{i}"], hide_index=True)
            i += 1
        st.markdown(f"**Runs used** ({runs.height if runs.height < data.RUN_LIST_LIMIT else f'first {runs.height}'})")
        if runs.is_empty():
            st.caption("None yet.")
        else:
            st.dataframe(runs, hide_index=True, height=min(38 + 35 * runs.height, 300))
        missing = view.text[f"missing:{cid}"]
        n = len(missing.splitlines())
        st.markdown(f"**Runs missing** ({n})")
        if n:
            st.code(missing, language="bash", height=min(30 + 21 * n, 320))
        else:
            st.caption("None: every run this claim needs is in the store.")


def render() -> None:
    """Draws the page."""
    ctx = sidebar.current()
    sel = ctx.selection
    st.title("Claims")
    st.caption(f"{sel.model} · each claim's own slice (zero-shot, test split, headline metric); of the sidebar "
               "only the model applies. Same evaluation as `store claims --model " + sel.model + "`.")
    show_verdict = sidebar.page_choice(st.radio, "Show", "verdict", SHOW, "all", horizontal=True)
    view = compute(ctx.reader, ctx.options, sel, show_verdict)
    st.markdown("A claim is **supported** when the 95% interval of its measure lies inside the region it asserts, "
                "**contradicted** when it lies wholly outside, and **not enough evidence** otherwise or while any "
                "run it needs is missing (rule: `store/claims.py`). Claim 5 is judged on published aggregates; "
                "every other claim on this project's own runs.")
    for note in view.notes:
        st.info(note)
    cols = st.columns(len(DOWNLOADS) + 3)
    for col, (fmt, (ext, mime)) in zip(cols, DOWNLOADS.items()):
        col.download_button(fmt, functools.partial(_download, ctx.reader, sel.model, view.shown, fmt), file_name=f"xstilts-claims.{ext}", mime=mime, key=f"dl-claims-{fmt}",
                            on_click="ignore", icon=":material/download:")
    st.dataframe(view.frames["claims"], hide_index=True,
                 column_config={"text": st.column_config.TextColumn(width="large"),
                                "measure": st.column_config.TextColumn(width="medium")})
    for about in view.frames["about"].iter_rows(named=True):
        _claim(view, about)
    every = view.text["missing"]
    if every:
        n = len(every.splitlines())
        with st.expander(f"Every missing run, once ({n} commands)", icon=":material/terminal:"):
            st.caption("Each command writes its run into the store this page reads (the same home as the "
                       "Question page's commands); then press *Reload store*.")
            st.code(every, language="bash", height=min(30 + 21 * n, 400))


if __name__ == "__main__":
    render()
