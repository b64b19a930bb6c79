"""The selection, its URL form and validation (pure functions)."""

from __future__ import annotations

from dashboard.data import filters
from dashboard.state import Options, Selection, default_selection, parse_choice, parse_url, safe_text, to_url

OPTS = Options(models=("mbert", "xlm-roberta-large"), metrics=("accuracy", "f1"), splits=("test", "validation"),
               settings=("zero-shot", "translate-test"), target_types=("classification", "retrieval"),
               families=("Indo-European", "Uralic"), published_sources=("rembert_t16", "mt5_readme"))


def test_defaults_prefer_xlmr_zero_shot_test():
    sel = default_selection(OPTS, "/s")
    assert (sel.model, sel.setting, sel.split, sel.source, sel.metric) == ("xlm-roberta-large", "zero-shot", "test", "both", "headline")
    other = Options(("mbert",), (), ("validation",), ("translate-test",), (), (), ())
    assert default_selection(other, "/s").model == "mbert"
    assert default_selection(other, "/s").split == "validation"


def test_parse_url_keeps_good_values_and_names_refused_ones():
    raw = {"model": ["mbert"], "types": ["retrieval", "bogus", "retrieval"], "split": ["nope"], "unknown": ["x"]}
    sel, notes = parse_url(raw, OPTS, "/s")
    assert sel.model == "mbert" and sel.target_types == ("retrieval",) and sel.split == "test"
    assert len(notes) == 2 and all(n.startswith("ignored URL value") for n in notes)


def test_url_round_trip_writes_only_non_defaults():
    default = default_selection(OPTS, "/s")
    sel = Selection(store="/s", model="mbert", families=("Uralic",), metric="f1")
    url = to_url(sel, default, launch_store="/s")
    assert url == {"model": "mbert", "metric": "f1", "families": ["Uralic"]}
    back, notes = parse_url({k: v if isinstance(v, list) else [v] for k, v in url.items()}, OPTS, "/s")
    assert back == sel and notes == []
    assert to_url(default, default, "/s") == {}
    assert to_url(Selection(store="/other"), default, "/s")["store"] == "/other"


def test_filters_map_source_metric_and_lists():
    f = filters(Selection(store="/s", source="published", metric="f1", target_types=("retrieval",)), OPTS)
    assert f.sources == ("rembert_t16", "mt5_readme") and f.metrics == ("f1",) and not f.headline_only
    assert f.models == ("xlm-roberta-large",) and f.settings == ("zero-shot",) and f.target_types == ("retrieval",)
    f = filters(Selection(store="/s", source="runner"), OPTS, targets=("xnli",))
    assert f.sources == ("runner", "demo") and f.headline_only and f.targets == ("xnli",)  # own runs: runner and demo
    assert filters(Selection(store="/s"), OPTS).sources == ()
    assert hash(f) == hash(filters(Selection(store="/s", source="runner"), OPTS, targets=("xnli",)))


def test_parse_choice():
    assert parse_choice({"axis": ["B"]}, "axis", ("A", "B")) == ("B", [])
    value, notes = parse_choice({"axis": ["Z"]}, "axis", ("A", "B"))
    assert value is None and "expected one of A, B" in notes[0]
    assert parse_choice({}, "axis", ("A",)) == (None, [])


def test_safe_text_escapes_markdown_and_truncates():
    assert safe_text("[x](javascript:1)") == r"\[x\]\(javascript:1\)"
    assert safe_text("a\x00b") == "a?b"
    assert len(safe_text("x" * 100)) == 40
    assert "`" not in safe_text("`code`").replace("\\`", "")
