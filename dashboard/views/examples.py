"""Examples: one run against its none baseline, example by example.

Pick a pair (or arrive from a Transfer-matrix cell): the paired test per language (exact McNemar
for accuracy, paired bootstrap for F1 / EM / retrieval), the gain by bucket of an example
attribute per language with 95% intervals, and the flipped examples with their text, filterable
by language, bucket and direction. Everything statistical comes from ``store.pairs``.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, sidebar, transforms
from dashboard.state import Options, Selection
from dashboard.views import View, show

#: Session keys a Transfer-matrix cell sets before switching here: (intermediate row, target).
FROM_MATRIX = "_examples_from_matrix"
ATTRIBUTE_TITLES = {"n_words": "input length (words)", "n_tokens": "input length (sub-tokens)",
                    "answer_words": "answer length (words)", "label_types": "label / entity types present",
                    "question_word": "question word"}
DIRECTIONS = {"both": None, "baseline ✗ → run ✓": "gained", "baseline ✓ → run ✗": "lost"}


def compute(reader, options: Options, sel: Selection, run_id: str | None = None, attribute: str | None = None,
            analyse: bool = True) -> View:
    """The pairs of the selection and, for ``run_id`` (default: the first), its comparison.

    ``analyse=False`` lists the pairs only.
    """
    view = View()
    pairs = reader.example_pairs(data.filters(sel, options))
    view.text["pairs"] = transforms.pair_options(pairs)
    if not pairs:
        view.notes.append("No run in this selection has per-example predictions and a none baseline with predictions "
                          "and the same target-phase configuration. `runner run` writes predictions by default: run "
                          "the pair and its baseline, e.g. `runner run --pair mnli:xnli` and `runner run --pair none:xnli`.")
        return view
    if not analyse:
        return view
    run_id = run_id if run_id in view.text["pairs"].values() else pairs[0].run_id
    a = reader.pair_analysis(run_id, attribute)
    view.text.update(run_id=run_id, metric=a.metric, attribute=a.attribute or "", baseline_id=a.pair.baseline_id,
                     label=a.pair.label)
    view.text["attributes"] = a.attributes
    view.frames.update(tests=a.tests, buckets=a.bucket_gains, flips=a.flips)
    if a.example_buckets is not None:
        view.frames["example_buckets"] = a.example_buckets
    view.charts["tests"] = charts.paired_chart(transforms.paired_tests_rows(a.tests), f"run − baseline, {a.metric} (points)",
                                               by_bucket=False)
    if not a.bucket_gains.is_empty():
        view.charts["buckets"] = charts.paired_chart(transforms.bucket_rows(a.bucket_gains),
                                                     f"gain, {a.metric} (points)", by_bucket=True)
    return view


def _from_matrix(pairs: dict[str, str], reader, options, sel) -> None:
    """Picks the first pair of a Transfer-matrix cell the user clicked through from (once)."""
    cell = st.session_state.pop(FROM_MATRIX, None)
    if not cell:
        return
    row, target = cell
    for p in reader.example_pairs(data.filters(sel, options)):
        variant = f"{p.intermediate} ({p.variant})" if p.variant else p.intermediate
        if p.target == target and variant == row:
            st.session_state["ex_run"] = p.run_id
            return
    st.session_state["_examples_note"] = f"No pair with predictions for {row} → {target}; showing another."


def render() -> None:
    """Draws the page."""
    ctx = sidebar.current()
    st.title("Examples")
    st.caption(ctx.selection.describe() + " (metric, split, types and families do not filter pairs)")
    first = compute(ctx.reader, ctx.options, ctx.selection, analyse=False)
    for note in first.notes:
        st.info(note)
    pairs = first.text["pairs"]
    if not pairs:
        return
    _from_matrix(pairs, ctx.reader, ctx.options, ctx.selection)
    if note := st.session_state.pop("_examples_note", None):
        st.info(note)
    labels = {run_id: label for label, run_id in pairs.items()}
    run_id = sidebar.page_choice(st.selectbox, "Pair (run vs its none baseline)", "ex_run", list(labels),
                                 next(iter(labels)), format_func=labels.get)
    attributes = list(ctx.reader.pair_attributes(run_id))
    attribute = (sidebar.page_choice(st.radio, "Bucket by", "ex_bucket", attributes, attributes[0], horizontal=True,
                                     format_func=lambda a: ATTRIBUTE_TITLES.get(a, a)) if attributes else None)
    view = compute(ctx.reader, ctx.options, ctx.selection, run_id, attribute)
    st.caption(f"Run `{view.text['run_id']}` against baseline `{view.text['baseline_id']}` on the same examples; "
               f"metric {view.text['metric']}. Intervals: paired bootstrap, 1,000 resamples, 95% percentile "
               "(column resampling: the classic bootstrap drawn exactly as a multinomial over a few kinds of example, "
               "or by index under 100 examples; else Poisson(1) weights per example, which match it to within "
               "Monte Carlo error, see the README).")

    st.subheader("Paired test per language")
    show(view.charts["tests"], key="examples_tests")
    st.dataframe(transforms.paired_tests_table(view.frames["tests"]), hide_index=True)

    if "buckets" in view.charts:
        st.subheader(f"Gain by {ATTRIBUTE_TITLES.get(attribute, attribute)}, per language")
        show(view.charts["buckets"], key="examples_buckets")

    st.subheader("Flipped examples")
    flips = view.frames["flips"]
    c1, c2, c3 = st.columns(3)
    language = c1.selectbox("Language", ["all", *sorted(flips["language"].unique())], key="ex_flip_language")
    buckets = view.frames.get("example_buckets")
    bucket_names = ["all", *(buckets.sort("bucket_order")["bucket"].unique(maintain_order=True) if buckets is not None else [])]
    bucket = c2.selectbox("Bucket", bucket_names, key="ex_flip_bucket")
    direction = c3.selectbox("Direction", list(DIRECTIONS), key="ex_flip_direction")
    table = transforms.flipped_examples(flips, buckets, None if language == "all" else language,
                                        None if bucket == "all" else bucket, DIRECTIONS[direction])
    st.caption(f"{table.height} flipped examples shown (at most 500); {flips.height} in all.")
    st.dataframe(table, hide_index=True, column_config={"text": st.column_config.TextColumn(width="large")})


if __name__ == "__main__":
    render()
