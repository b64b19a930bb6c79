"""The sidebar shared by every page, and the URL query string that mirrors it.

On a session's first run the URL is read once: each value is validated against the store
(:func:`dashboard.state.parse_url`) and seeds its widget; refused values become one-line
messages. After every run the URL is rewritten from the widgets (only non-default values), so a
view can be shared by link. Page-level choices (the complexity axis, ...) use :func:`page_choice`
and travel in the same query string.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st

from dashboard import data
from dashboard.state import (
    BENCHMARK_CHOICES,
    BENCHMARK_LABELS,
    CAPPED_CHOICES,
    HEADLINE,
    SOURCE_CHOICES,
    SOURCE_LABELS,
    Options,
    Selection,
    default_selection,
    parse_choice,
    parse_url,
    safe_text,
    to_url,
)

_RAW = "_url_raw"          # the URL as it was when the session started: {key: [values]}
_SEEDED = "_url_seeded"    # URL keys already applied to their widget
_NOTES = "_url_notes"      # refused URL values (display-safe text)
_PAGE = "_url_page"        # this run's page-level choices: {key: (value, default)}
_CTX = "_ctx"
_WIDGETS = ("model", "source", "setting", "metric", "split", "benchmark", "capped", "types", "families", "configs")


@dataclass
class Context:
    """What the sidebar hands to the page: the reader, the store's options and the selection."""

    reader: data.CachedReader
    options: Options
    selection: Selection
    launch_store: str


def current() -> Context | None:
    """The context of this run (None when no store could be opened)."""
    return st.session_state.get(_CTX)


def _raw_url() -> dict[str, list[str]]:
    if _RAW not in st.session_state:
        st.session_state[_RAW] = {k: list(st.query_params.get_all(k)) for k in st.query_params}
        st.session_state[_SEEDED] = set()
        st.session_state[_NOTES] = []
    return st.session_state[_RAW]


def _note(messages: Sequence[str]) -> None:
    st.session_state[_NOTES].extend(m for m in messages if m not in st.session_state[_NOTES])


def _choose_store(launch: str) -> str:
    raw = _raw_url()
    if "store" not in st.session_state[_SEEDED]:
        st.session_state[_SEEDED].add("store")
        asked = [v for v in raw.get("store", []) if v]
        if asked and (data.is_store_folder(asked[-1]) or data.is_hub_store(asked[-1])):
            st.session_state["store"] = asked[-1]
        elif asked:
            _note([f"ignored URL value store={safe_text(asked[-1])}: not a store folder or hf://datasets/ORG/NAME"])
    st.session_state.setdefault("store", launch)
    path = st.sidebar.text_input("Store", key="store",
                                 help="A local store folder (it holds index.duckdb and runs/), or a Hub dataset "
                                      "hf://datasets/ORG/NAME (pulled into a local read-only cache).")
    return path.strip() or launch


def _seed(options: Options, store: str) -> Selection:
    """Applies the session's URL to the widgets once; returns the default selection."""
    default = default_selection(options, store)
    if "selection" not in st.session_state[_SEEDED]:
        st.session_state[_SEEDED].add("selection")
        sel, notes = parse_url(_raw_url(), options, store)
        _note(notes)
        for key, value in zip(_WIDGETS, (sel.model, sel.source, sel.setting, sel.metric, sel.split, sel.benchmark,
                                          sel.capped, list(sel.target_types), list(sel.families), list(sel.configs))):
            st.session_state[key] = value
    # A value from another store may not be offered by this one: fall back to the default.
    allowed = {"model": options.models, "setting": options.settings, "metric": (HEADLINE, *options.metrics),
               "split": options.splits, "source": SOURCE_CHOICES, "benchmark": BENCHMARK_CHOICES,
               "capped": CAPPED_CHOICES}
    for key, ok in allowed.items():
        if st.session_state.get(key) not in ok:
            st.session_state[key] = getattr(default, key)
    for key, ok in (("types", options.target_types), ("families", options.families), ("configs", options.configs)):
        st.session_state[key] = [v for v in st.session_state.get(key, []) if v in ok]
    return default


def render(launch: str) -> Context | None:
    """Draws the sidebar; returns the context, or None (with a message shown) if no store opens."""
    st.session_state[_PAGE] = {}
    st.session_state[_CTX] = None
    path = _choose_store(launch)
    reader, problem = data.open_reader(path)
    if reader is None and path != launch:
        st.sidebar.error(safe_text(problem, 300))
        path = launch
        reader, problem = data.open_reader(path)
    if reader is None:
        st.error(safe_text(problem, 300))
        return None
    options = reader.options()
    if reader.has_demo():
        st.error(f"**{data.DEMO_MARK}**: this store holds made-up numbers from `store demo` (source *demo*) that show "
                 "what each view does. Nothing here was measured; exports carry this mark.",
                 icon=":material/science:")
        st.sidebar.error(data.DEMO_MARK)
    default = _seed(options, path)
    sb = st.sidebar
    model = sb.selectbox("Model", options.models, key="model")
    source = sb.radio("Source", SOURCE_CHOICES, key="source", format_func=SOURCE_LABELS.get, horizontal=True,
                      help="published: numbers copied from papers and repositories; own runs: this project's runner")
    setting = sb.selectbox("Setting", options.settings, key="setting",
                           help="zero-shot and translate-train/test numbers are never mixed in one chart")
    metric = sb.selectbox("Metric", (HEADLINE, *options.metrics), key="metric",
                          help="headline: each target's own headline metric (accuracy, F1, ...)")
    split = sb.selectbox("Split", options.splits, key="split")
    benchmark = sb.radio("Benchmark languages", BENCHMARK_CHOICES, key="benchmark", format_func=BENCHMARK_LABELS.get,
                         horizontal=True, help="task averages are over exactly this benchmark's languages of each task, "
                                               "and only where the run and its baseline cover all of them")
    capped = sb.radio("Capped (debug) runs", CAPPED_CHOICES, key="capped", horizontal=True,
                      help="runs with max_train_examples / max_eval_examples set: shown as configurations of their "
                           "own, or left out (paper exports and claims leave them out)")
    configs = sb.multiselect("Configurations", options.configs, key="configs", placeholder="all (never pooled)",
                             format_func=options.config_label,
                             help="configurations of own runs (everything but the seed), labelled by the keys that "
                                  "differ; several configurations of one pair are always shown apart") \
        if len(options.configs) > 1 else []
    types = sb.multiselect("Target types", options.target_types, key="types", placeholder="all")
    families = sb.multiselect("Language families", options.families, key="families", placeholder="all",
                              help="published averages have no language, so they drop out when a family is chosen")
    if sb.button("Reload store", help="pick up runs written (or pushed to the Hub) since the store was opened"):
        data.reload_store(path)
        reader, problem = data.open_reader(path)
        if reader is None:
            st.error(safe_text(problem, 300))
            return None
        options = reader.options()
    sb.caption("Families and genera: Glottolog 5.1 and WALS Online (CC BY 4.0); see the Languages page.")
    sel = Selection(store=path, model=model, source=source, setting=setting, metric=metric, split=split,
                    target_types=tuple(types), families=tuple(families), benchmark=benchmark, capped=capped,
                    configs=tuple(configs))
    ctx = Context(reader, options, sel, launch)
    st.session_state[_CTX] = ctx
    st.session_state["_default_selection"] = default
    return ctx


def show_notes() -> None:
    """Shows the refused URL values of this session, once, as a plain warning."""
    notes = st.session_state.get(_NOTES) or []
    if notes:
        st.warning("  \n".join(notes))


def page_choice(widget: Callable, label: str, key: str, options: Sequence[str], default: str, **kwargs) -> str:
    """A page-level widget whose value also lives in the URL (validated like the sidebar's).

    Args:
        widget: ``st.radio``, ``st.selectbox`` or ``st.segmented_control``-like callable.
        label: the widget label.
        key: widget key and URL key.
        options: allowed values.
        default: value when the URL has none (left out of the URL when chosen).
    """
    raw = _raw_url()
    if key not in st.session_state[_SEEDED]:
        st.session_state[_SEEDED].add(key)
        value, notes = parse_choice(raw, key, options)
        _note(notes)
        if value is not None:
            st.session_state[key] = value
    if st.session_state.get(key) not in options:
        st.session_state[key] = default
    value = widget(label, options, key=key, **kwargs)
    st.session_state[_PAGE][key] = (value, default)
    return value


def write_url() -> None:
    """Rewrites the query string from this run's sidebar and page choices."""
    ctx = current()
    if ctx is None:
        return
    params = to_url(ctx.selection, st.session_state["_default_selection"], ctx.launch_store)
    for key, (value, default) in st.session_state.get(_PAGE, {}).items():
        if value != default:
            params[key] = value
    current_params = {k: st.query_params.get_all(k) for k in st.query_params}
    wanted = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    if current_params != wanted:
        st.query_params.from_dict(params)
