import csv
from collections import defaultdict
from pathlib import Path

import pytest

from store import catalog as catalog_mod
from store.catalog import load_catalog
from store.errors import StoreError

REFERENCE = Path(__file__).parent / "data" / "xtreme_xtremer_task_languages.csv"
INTERMEDIATE = "anli ccg commonsenseqa cosmosqa hellaswag mnli qqp squad sst2".split()
TARGETS = "xnli pawsx udpos panx xquad mlqa tydiqa bucc2018 tatoeba xcopa mewslix lareqa".split()


def test_vocabulary_is_exactly_the_architecture_one():
    cat = load_catalog()
    assert cat.intermediate_tasks() == sorted(INTERMEDIATE)
    assert cat.target_tasks() == sorted(TARGETS)
    assert len(cat.languages) == 50


def test_every_task_language_list_matches_the_independent_reference_parse():
    """task_languages.csv agrees with a second parse of xtreme's evaluate.py (except LAReQA,
    whose list comes from the LAReQA README because evaluate.py lists none)."""
    ref: dict[tuple[str, str], list[str]] = defaultdict(list)
    with open(REFERENCE, newline="") as f:
        for row in csv.DictReader(f):
            if row["benchmark"] in ("XTREME", "XTREME-R") and row["language"] != "(none listed)":
                ref[(row["benchmark"], row["task"])].append(row["language"])
    cat = load_catalog()
    ours = {k: list(v) for k, v in cat.benchmark_languages.items() if k[1] != "lareqa"}
    assert ours == dict(ref)
    assert cat.task_languages("lareqa") == tuple("ar de el en es hi ru th tr vi zh".split())


@pytest.mark.parametrize(
    "task, benchmark, n",
    [("xnli", "XTREME", 15), ("panx", "XTREME", 40), ("panx", "XTREME-R", 48), ("udpos", "XTREME-R", 38),
     ("tatoeba", "XTREME", 36), ("tatoeba", "XTREME-R", 41), ("xcopa", "XTREME-R", 11), ("mewslix", "XTREME-R", 11),
     ("xquad", "XTREME-R", 12), ("tydiqa", "XTREME", 9), ("bucc2018", "XTREME", 4), ("pawsx", "XTREME", 7)],
)
def test_language_counts_match_target_tasks_reference(task, benchmark, n):
    assert len(load_catalog().task_languages(task, benchmark)) == n


def test_every_target_declares_its_headline_metric_and_type():
    cat = load_catalog()
    for name in cat.target_tasks():
        t = cat.task(name)
        assert t.headline_metric in t.metrics
        assert t.task_type in catalog_mod.TASK_TYPES
        assert t.benchmarks


def test_unknown_task_suggests_a_near_match():
    with pytest.raises(StoreError, match="did you mean 'xnli'"):
        load_catalog().task("xnil")
    with pytest.raises(StoreError, match="unknown intermediate task 'xnli'"):
        load_catalog().task("xnli", role="intermediate")


def test_unknown_language_suggests():
    with pytest.raises(StoreError, match="unknown language 'dee'.*'de'"):
        load_catalog().language("dee")


def test_duplicate_task_is_refused(monkeypatch):
    real = catalog_mod._read_csv

    def doubled(name):
        rows = real(name)
        return rows + rows[:1] if name == "tasks.csv" else rows

    monkeypatch.setattr(catalog_mod, "_read_csv", doubled)
    load_catalog.cache_clear()
    try:
        with pytest.raises(StoreError, match="duplicate task 'anli'"):
            load_catalog()
    finally:
        load_catalog.cache_clear()


@pytest.mark.parametrize(
    "spec, canonical",
    [("none", "none"), ("mnli", "mnli"), ("squad+mnli", "mnli+squad"), ("multitask", "multitask"),
     ("+".join(sorted(INTERMEDIATE, reverse=True)), "multitask")],
)
def test_canonical_intermediate(spec, canonical):
    assert load_catalog().canonical_intermediate(spec) == canonical


@pytest.mark.parametrize("spec, match", [("mnli+", "malformed"), ("mnli+mnli", "twice"), ("mnlii", "did you mean 'mnli'")])
def test_bad_intermediate_specs(spec, match):
    with pytest.raises(StoreError, match=match):
        load_catalog().parse_intermediate(spec)


def test_unknown_models_are_allowed_and_flagged():
    cat = load_catalog()
    assert cat.model("xlm-roberta-large").known
    assert cat.model("xlm-roberta-large").params_m == 559
    other = cat.model("my-lab/encoder")
    assert not other.known and other.modality == "unknown"
    for m in ("xlm-roberta-large", "xlm-roberta-base", "bert-base-multilingual-cased"):
        assert m in cat.models
