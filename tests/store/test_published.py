"""Every imported published value equals its source cell; every row traces to a source."""

import csv
from decimal import Decimal

import pytest

from store.catalog import load_catalog
from store.database import Store
from store.published import PUBLISHED_DIR, _FILES, load_published


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    with Store.open(tmp_path_factory.mktemp("bundled"), read_only=True) as st:
        yield st


def test_every_imported_value_equals_its_source_cell(bundled):
    rows = bundled.query(
        "SELECT u.source, u.label, u.target, r.language, r.metric_as_printed, r.value_as_printed, r.value, r.conversion "
        "FROM results r JOIN runs u USING (run_id)"
    )
    stored = {}
    for r in rows.iter_rows(named=True):
        stored.setdefault((r["label"], r["value_as_printed"], r["metric_as_printed"], r["language"] if r["language"] != "avg" else "avg"), []).append(r)
    n_cells = 0
    for spec in _FILES:
        with open(PUBLISHED_DIR / spec.name, newline="") as f:
            for cell in csv.DictReader(f):
                n_cells += 1
                matches = stored.get((cell["model"], cell["value"], cell["metric"], cell["language"]))
                assert matches, f"{spec.name}: {cell['model']} {cell['target_task']} {cell['language']} missing"
                expected = Decimal(cell["value"]) * (100 if "fraction" in cell["metric"] else 1)
                assert any(Decimal(repr(m["value"])) == expected for m in matches), (cell, matches)
                if "fraction" in cell["metric"]:
                    assert all(m["conversion"] == "fraction x 100" for m in matches)
    assert n_cells == len(rows) == 294


def test_every_result_row_traces_to_a_source(bundled):
    orphans = bundled.query("SELECT count(*) AS n FROM runs WHERE source NOT IN (SELECT source FROM sources)")
    assert orphans["n"][0] == 0
    sources = bundled.query("SELECT source, citation, locator FROM sources")
    assert set(sources["source"]) == {
        "runner", "rembert_t16", "rembert_t7", "mt5_readme", "fairseq_xlmr_readme", "jiant_pr128",
        "xtreme_issue8", "xtreme_issue38",
    }
    assert all(c and loc for c, loc in zip(sources["citation"], sources["locator"]))


def test_disagreeing_sources_are_both_kept_and_labelled(bundled):
    x = bundled.query(
        "SELECT source, label, value FROM results_wide WHERE target = 'xnli' AND intermediate = 'best' ORDER BY source"
    )
    assert x.rows() == [("mt5_readme", "X-STILTs", 80.4), ("rembert_t16", "STiLTs (Phang et al., 2020)", 80.0)]


def test_translate_settings_are_not_zero_shot(bundled):
    s = bundled.query("SELECT DISTINCT label, setting FROM runs WHERE source = 'fairseq_xlmr_readme' AND target = 'xnli'")
    assert set(s["setting"]) == {"translate-test", "translate-train-all"}


def test_second_hand_and_validation_rows_are_marked(bundled):
    q = bundled.query("SELECT DISTINCT source, quality FROM sources WHERE source LIKE 'xtreme_issue%'")
    assert set(q["quality"]) == {"second-hand"}
    v = bundled.query("SELECT DISTINCT split FROM results_wide WHERE source = 'jiant_pr128'")
    assert v["split"].to_list() == ["validation"]


def test_published_runs_validate_against_the_catalog():
    from store.records import validate

    sources, runs = load_published(load_catalog())
    assert len(sources) == 7
    for run, results in runs:
        validate(run, results)
