"""The sidebar selection, its URL form and its validation (pure: no Streamlit, no store I/O).

Every value that arrives from the URL is checked against the options the store offers before
it is used; values that do not fit are dropped with a one-line, display-safe message. Values
reach SQL only as query parameters (through the store's ``Filters``, made from a selection by
:func:`dashboard.data.filters`), never as text.

Example:
    >>> opts = Options(models=("xlm-roberta-large",), metrics=("accuracy",), splits=("test",),
    ...                settings=("zero-shot",), target_types=("classification",), families=("Uralic",),
    ...                published_sources=("rembert_t16",))
    >>> sel, notes = parse_url({"model": ["'; DROP TABLE results; --"]}, opts, store="/tmp/s")
    >>> sel.model, len(notes)
    ('xlm-roberta-large', 1)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

RUNNER_SOURCE = "runner"
#: Sidebar "source" choices: published sources only, this project's own runs only, or both.
SOURCE_CHOICES = ("both", "published", "runner")
SOURCE_LABELS = {"both": "both", "published": "published", "runner": "own runs"}
HEADLINE = "headline"
DEFAULT_MODEL = "xlm-roberta-large"
DEFAULT_SETTING = "zero-shot"
DEFAULT_SPLIT = "test"
#: URL keys of the shared sidebar, in the order they appear in a link.
SIDEBAR_KEYS = ("store", "model", "source", "setting", "metric", "split", "benchmark", "capped", "types", "families",
                "configs")
MULTI_KEYS = ("types", "families", "configs")
#: Whose language sets task averages are over (the store's ``Filters.benchmark`` ids).
BENCHMARK_CHOICES = ("xtreme", "xtreme-r")
BENCHMARK_LABELS = {"xtreme": "XTREME", "xtreme-r": "XTREME-R"}
#: Capped (debug) runs: shown as configurations of their own, or left out.
CAPPED_CHOICES = ("shown", "left out")
_MAX_SHOWN = 40


@dataclass(frozen=True)
class Options:
    """What a store offers to choose from (read once per store by the data module)."""

    models: tuple[str, ...]
    metrics: tuple[str, ...]
    splits: tuple[str, ...]
    settings: tuple[str, ...]
    target_types: tuple[str, ...]
    families: tuple[str, ...]
    published_sources: tuple[str, ...]
    #: configurations of own runs (config ids) and their labels: the keys that differ, "(capped)"
    configs: tuple[str, ...] = ()
    config_labels: tuple[str, ...] = ()

    def config_label(self, config_id: str) -> str:
        """A configuration's label for the sidebar (the id itself when unknown)."""
        return dict(zip(self.configs, self.config_labels)).get(config_id, config_id)


@dataclass(frozen=True)
class Selection:
    """The shared sidebar selection: small, frozen and hashable (a cache key).

    Attributes:
        store: path of the store folder.
        model: one model id (gains are always within a model).
        source: ``both``, ``published`` or ``runner`` (own runs).
        setting: one setting; zero-shot and translate-* numbers never meet in a chart.
        metric: ``headline`` (each target's headline metric) or one metric name.
        split: ``test`` or ``validation``.
        target_types: empty means all.
        families: language families; empty means all (published averages have no family).
        benchmark: whose language sets task averages are over (``xtreme`` / ``xtreme-r``).
        capped: ``shown`` (capped debug runs as configurations of their own) or ``left out``.
        configs: configuration ids of own runs to keep; empty means all (never pooled anyway).
    """

    store: str
    model: str = DEFAULT_MODEL
    source: str = "both"
    setting: str = DEFAULT_SETTING
    metric: str = HEADLINE
    split: str = DEFAULT_SPLIT
    target_types: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    benchmark: str = BENCHMARK_CHOICES[0]
    capped: str = CAPPED_CHOICES[0]
    configs: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line naming the slice, for captions."""
        parts = [self.model, SOURCE_LABELS.get(self.source, self.source), self.setting, self.split,
                 "headline metric" if self.metric == HEADLINE else self.metric,
                 f"{BENCHMARK_LABELS.get(self.benchmark, self.benchmark)} languages"]
        if self.capped != CAPPED_CHOICES[0]:
            parts.append("capped runs left out")
        if self.configs:
            parts.append(f"{len(self.configs)} configuration(s)")
        if self.target_types:
            parts.append(", ".join(self.target_types))
        if self.families:
            parts.append(", ".join(self.families))
        return " · ".join(parts)


def safe_text(value: object, limit: int = _MAX_SHOWN) -> str:
    """A user-supplied value made safe to show inside Markdown: printable, short, escaped."""
    text = "".join(c if c.isprintable() else "?" for c in str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~$&])", r"\\\1", text)


def default_selection(options: Options, store: str) -> Selection:
    """The selection a fresh visit gets."""
    model = DEFAULT_MODEL if DEFAULT_MODEL in options.models or not options.models else options.models[0]
    setting = DEFAULT_SETTING if DEFAULT_SETTING in options.settings or not options.settings else options.settings[0]
    split = DEFAULT_SPLIT if DEFAULT_SPLIT in options.splits or not options.splits else options.splits[0]
    return Selection(store=store, model=model, setting=setting, split=split)


def choices(options: Options) -> dict[str, tuple[str, ...]]:
    """Allowed values per URL key (``store`` is checked on disk, not here)."""
    return {
        "model": options.models,
        "source": SOURCE_CHOICES,
        "setting": options.settings,
        "metric": (HEADLINE, *options.metrics),
        "split": options.splits,
        "benchmark": BENCHMARK_CHOICES,
        "capped": CAPPED_CHOICES,
        "types": options.target_types,
        "families": options.families,
        "configs": options.configs,
    }


_FIELD = {"types": "target_types", "families": "families", "configs": "configs"}


def parse_url(raw: Mapping[str, Sequence[str]], options: Options, store: str) -> tuple[Selection, list[str]]:
    """Validates URL values against the store's options.

    Args:
        raw: every URL key with all its values (unknown keys are ignored here).
        options: what the store offers.
        store: the store path already chosen (validated elsewhere).

    Returns:
        The selection (defaults where a value was missing or refused) and one display-safe
        message per refused value.
    """
    sel = default_selection(options, store)
    notes: list[str] = []
    allowed = choices(options)
    for key, ok in allowed.items():
        values = [v for v in raw.get(key, ()) if v != ""]
        if not values:
            continue
        good = [v for v in values if v in ok]
        for bad in (v for v in values if v not in ok):
            notes.append(f"ignored URL value {key}={safe_text(bad)}: not offered by this store")
        if key in MULTI_KEYS:
            sel = replace(sel, **{_FIELD[key]: tuple(dict.fromkeys(good))})
        elif good:
            sel = replace(sel, **{key: good[-1]})
    return sel, notes


def parse_choice(raw: Mapping[str, Sequence[str]], key: str, allowed: Sequence[str]) -> tuple[str | None, list[str]]:
    """One page-level URL value (e.g. the complexity axis), validated against ``allowed``."""
    values = [v for v in raw.get(key, ()) if v != ""]
    if not values:
        return None, []
    if values[-1] in allowed:
        return values[-1], []
    return None, [f"ignored URL value {key}={safe_text(values[-1])}: expected one of {', '.join(allowed)}"]


def to_url(sel: Selection, default: Selection, launch_store: str) -> dict[str, str | list[str]]:
    """The URL form of a selection: only the values that differ from the defaults."""
    out: dict[str, str | list[str]] = {}
    if sel.store != launch_store:
        out["store"] = sel.store
    for key in ("model", "source", "setting", "metric", "split", "benchmark", "capped"):
        if getattr(sel, key) != getattr(default, key):
            out[key] = getattr(sel, key)
    for key in MULTI_KEYS:
        value = getattr(sel, _FIELD[key])
        if value:
            out[key] = list(value)
    return out
