import csv
import io
import re

import polars as pl
import pytest

from store.analysis import Filters
from store.database import Store
from store.errors import StoreError
from store.exports import build_table, latex_escape, render
from store.records import Result, Run


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    with Store.open(tmp_path_factory.mktemp("bundled")) as st:
        yield st


def _published(source, label_prefix):
    from store.published import PUBLISHED_DIR

    name = {"rembert_t16": "rembert_table16_xtreme_leaderboard_per_task.csv"}[source]
    with open(PUBLISHED_DIR / name, newline="") as f:
        return {r["target_task"]: r["value"] for r in csv.DictReader(f)
                if r["model"].startswith(label_prefix) and r["metric"] in ("accuracy", "f1", "avg")}


def _latex_rows(tex):
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    return [[c.strip() for c in line.rstrip(" \\").split(" & ")] for line in body.strip().splitlines()]


def test_gains_latex_numbers_equal_the_published_ones(bundled):
    t = build_table(bundled, "gains", Filters(models=("xlm-roberta-large",), sources=("rembert_t16",)))
    tex = render(t, "latex").decode()
    rows = _latex_rows(tex)
    header = tex.split(r"\toprule")[1].split(r"\midrule")[0].strip().rstrip(" \\").split(" & ")
    by_row = {dict(zip(header, r))["row"]: dict(zip(header, r)) for r in rows}
    assert "model" not in header and "xlm-roberta-large" in tex.split("\n")[0]  # one model: in the caption
    stilts, xlmr = _published("rembert_t16", "STiLTs"), _published("rembert_t16", "XLM-R")
    for col, target in [("XNLI acc", "XNLI"), ("PAWS-X acc", "PAWS-X"), ("UD-POS F1", "UD-POS"),
                        ("WikiANN-NER F1", "WikiANN-NER (PAN-X)"), ("XQuAD F1", "XQuAD"), ("MLQA F1", "MLQA"),
                        ("TyDiQA-GoldP F1", "TyDiQA-GoldP")]:
        assert re.sub(r"\\textbf\{(.*)\}", r"\1", by_row["best"][col]) == stilts[target]
        assert re.sub(r"\\textbf\{(.*)\}", r"\1", by_row["none"][col]) == xlmr[target]
        gain = float(stilts[target]) - float(xlmr[target])
        assert by_row[r"$\Delta$ best -- none"][col] == f"{gain:+.1f}"


def test_latex_is_valid_booktabs(bundled):
    tex = render(build_table(bundled, "gains", Filters(sources=("rembert_t16", "mt5_readme"))), "latex").decode()
    spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", tex).group(1)
    assert tex.index(r"\toprule") < tex.index(r"\midrule") < tex.index(r"\bottomrule") < tex.index(r"\end{tabular}")
    for line in tex.split(r"\toprule")[1].split(r"\bottomrule")[0].splitlines():
        if line.strip() and line.strip() != r"\midrule":
            assert line.endswith(r"\\") and line.count(" & ") == len(spec) - 1
    assert "_" not in tex.replace(r"\_", "")  # every underscore escaped
    # best per column bold, Δ rows never bold
    assert r"\textbf{80.4}" in tex and r"\textbf{+" not in tex


def test_markdown_bolds_the_best_per_column(bundled):
    md = render(build_table(bundled, "gains", Filters(sources=("rembert_t16",))), "markdown").decode()
    lines = md.strip().splitlines()
    assert lines[1].startswith("|---")
    assert "**87.9**" in md and "+1.5" in md


def test_csv_and_parquet_keep_full_precision(bundled, tmp_path):
    t = build_table(bundled, "matrix", Filters(sources=("jiant_pr128",)))
    frame = pl.read_csv(io.BytesIO(render(t, "csv")))
    assert frame["Tatoeba acc"][0] == pytest.approx(31.022222, abs=1e-5)
    p = tmp_path / "m.parquet"
    p.write_bytes(render(t, "parquet"))
    assert pl.read_parquet(p).equals(t.frame)


def test_per_language_table(bundled):
    t = build_table(bundled, "per-language", Filters(sources=("fairseq_xlmr_readme",), models=("xlm-roberta-large",)))
    row = t.frame.filter(pl.col("metric") == "f1").row(0, named=True)
    assert (row["de"], row["avg"], row["zh"]) == (68.5, 70.7, 68.0)


def _pawsx(st, inter, v, langs=None, seed=1, **hparams):
    from store.catalog import load_catalog

    langs = langs or load_catalog().task_languages("pawsx", "XTREME")
    st.write_run(Run(model="m", intermediate=inter, target="pawsx", seed=seed, hparams=hparams),
                 [Result(lang, "accuracy", v + (2 if lang == "fr" else 0)) for lang in langs])


def test_matrix_with_runs_averages_over_the_benchmark_languages(tmp_path):
    with Store.open(tmp_path, read_only=False) as st:
        for inter, v in (("none", 70.0), ("mnli", 74.0)):
            _pawsx(st, inter, v)  # 7 XTREME languages, fr 2 points above the other six
        t = build_table(st, "matrix", Filters(sources=("runner",)))
        assert t.frame.select("row", "PAWS-X acc").rows() == [("none", 70 + 2 / 7), ("mnli", 74 + 2 / 7)]
        assert "benchmark XTREME" in t.caption and not t.notes
        g = build_table(st, "gains", Filters(sources=("runner",)))
        assert g.frame["PAWS-X acc"].to_list() == pytest.approx([70 + 2 / 7, 74 + 2 / 7, 4.0])


def test_a_missing_language_leaves_no_average_and_says_so(tmp_path):
    with Store.open(tmp_path, read_only=False) as st:
        _pawsx(st, "none", 70.0)
        _pawsx(st, "mnli", 74.0, langs=("de", "en", "es", "fr", "ja", "ko"))  # zh missing
        t = build_table(st, "matrix", Filters(sources=("runner",)))
        assert t.frame.select("row", "PAWS-X acc").rows() == [("none", 70 + 2 / 7), ("mnli", None)]
        assert t.notes == ("mnli on pawsx (runner, m): 6 of 7 XTREME languages: no average",)
        md = render(t, "markdown").decode()
        assert "6 of 7 XTREME languages: no average" in md and "| mnli | 1 | – |" in md
        per_lang = build_table(st, "per-language", Filters(sources=("runner",)))
        assert per_lang.frame.filter(pl.col("row") == "mnli")["de"].to_list() == [74.0]  # rows still shown


def test_two_configurations_of_a_pair_are_two_rows_and_capped_ones_are_left_out(tmp_path):
    with Store.open(tmp_path, read_only=False) as st:
        for seed in (1, 2):
            _pawsx(st, "none", 70.0 + seed, seed=seed)
            _pawsx(st, "mnli", 72.0 + seed, seed=seed)
            _pawsx(st, "none", 70.0 + seed, seed=seed, max_train_examples=100)
            _pawsx(st, "mnli", 40.0 + seed, seed=seed, max_train_examples=100)
        t = build_table(st, "gains", Filters(sources=("runner",)))
        rows = dict(zip(t.frame["row"], t.frame["PAWS-X acc"]))
        assert rows["Δ mnli [max_train_examples=(unset)] − none [max_train_examples=(unset)]"] == pytest.approx(2.0)
        assert rows["Δ mnli [max_train_examples=100] − none [max_train_examples=100]"] == pytest.approx(-30.0)
        assert t.frame.height == 6 and set(t.frame["seeds"]) == {"2"}  # two rows each, n_seeds = 2 each
        paper = build_table(st, "gains", Filters(sources=("runner",), include_capped=False))
        assert paper.frame["row"].to_list() == ["none", "mnli", "Δ mnli − none"]
        assert "capped (debug) runs left out" in paper.caption


def test_empty_selection_is_a_clear_error(bundled):
    with pytest.raises(StoreError, match="no results match"):
        build_table(bundled, "matrix", Filters(models=("nobody",)))
    with pytest.raises(StoreError, match="matching 'none' baseline"):
        build_table(bundled, "gains", Filters(sources=("jiant_pr128",)))


def test_latex_escape():
    assert latex_escape("a_b & 50% #1 {x}") == r"a\_b \& 50\% \#1 \{x\}"
