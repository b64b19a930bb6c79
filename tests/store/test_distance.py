"""URIEL+ distances as catalog data, the transfer gap, gain against distance, complexity x distance."""

from __future__ import annotations

import json
import re
from importlib import metadata

import numpy as np
import polars as pl
import pytest

from store import distance as dist_mod
from store.analysis import Filters, complexity_table, gains, spearman, spearman_ci, summarize_gains
from store.catalog import DISTANCE_KINDS, load_catalog, load_distances
from store.cli import main
from store.database import Store
from store.records import Result, Run
from store.uriel import DISTANCES_FILE

# (intermediate, seed) -> per-language xnli accuracy (en is the source language)
DESIGN = {
    ("none", 1): {"en": 80.0, "de": 70.0, "sw": 60.0, "zh": 50.0},
    ("none", 2): {"en": 82.0, "de": 72.0, "sw": 62.0, "zh": 52.0},
    ("mnli", 1): {"en": 84.0, "de": 76.0, "sw": 61.0, "zh": 60.0},
    ("squad", 1): {"en": 81.0, "de": 74.0, "sw": 68.0, "zh": 58.0},
}


@pytest.fixture(scope="module")
def st(tmp_path_factory):
    root = tmp_path_factory.mktemp("distance")
    with Store.open(root, read_only=False) as s:
        for (inter, seed), vals in DESIGN.items():
            run = Run(model="xlm-roberta-large", intermediate=inter, target="xnli", seed=seed)
            s.write_run(run, [Result(lang, "accuracy", v, n_examples=100) for lang, v in vals.items()])
    with Store.open(root, read_only=True) as s:
        yield s


# ---------------------------------------------------------------------- the data file
def test_data_file_lists_every_catalog_language_with_version_and_citation():
    data = json.loads(DISTANCES_FILE.read_text())
    cat = load_catalog()
    assert [r["language"] for r in data["languages"]] == list(cat.languages)
    assert data["package"] == "urielplus" and re.fullmatch(r"\d+\.\d+\.\d+", data["package_version"])
    assert "URIEL+" in data["citation"] and "Littell" in data["base_citation"]
    assert tuple(data["kinds"]) == DISTANCE_KINDS
    d = load_distances()
    assert set(d.values) == set(cat.languages)
    assert all(d.distance("en", k) == 0.0 for k in DISTANCE_KINDS if d.distance("en", k) is not None)
    # real numbers: distant languages are further from English than close ones
    assert d.distance("de", "genetic") < d.distance("sw", "genetic")
    assert d.distance("de", "syntactic") < d.distance("ja", "syntactic")
    # a null is a null for every catalog language, never a made-up number
    for row in data["languages"]:
        for k in DISTANCE_KINDS:
            assert row[k] is None or 0.0 <= row[k] <= 1.0


@pytest.mark.slow
def test_urielplus_recomputes_three_languages_syntactic_and_genetic():
    """Recomputes with the package itself (integration of its databases takes a minute or two)."""
    from store.uriel import distance_or_none, load_uriel

    d = load_distances()
    assert metadata.version("urielplus") == d.package_version  # the file says which version made it
    cat = load_catalog()
    u = load_uriel()
    ref = cat.language("en").glottocode
    for lang in ("de", "sw", "ja"):
        code = cat.language(lang).glottocode
        assert d.uriel_codes[lang] == code
        for kind in ("syntactic", "genetic"):
            got = distance_or_none(u, kind, code, ref)
            assert got is not None and got == d.distance(lang, kind), (lang, kind, got)
    # English against itself: 0 where it has features of the kind, null where it has none
    for kind in DISTANCE_KINDS:
        assert distance_or_none(u, kind, ref, ref) == d.distance("en", kind), kind


def test_missing_package_is_one_line(monkeypatch, capsys):
    from importlib import metadata

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert main(["distances"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: urielplus is not installed") and err.count("\n") == 1


def test_index_holds_distances_and_their_source(st):
    df = dist_mod.distances(st)
    assert df.height == len(load_catalog().languages) * len(DISTANCE_KINDS)
    assert set(df["kind"]) == set(DISTANCE_KINDS)
    src = dist_mod.distance_source(st)
    assert src["package"] == "urielplus" and src["package_version"] == load_distances().package_version
    with pytest.raises(Exception, match="unknown distance kind 'genetik'.*did you mean 'genetic'"):
        dist_mod.distances(st, "genetik")


def test_bins_are_catalog_terciles():
    with _fresh() as s:
        b = dist_mod.distance_bins(s, "syntactic")
    assert "en" not in b["language"].to_list()
    counts = b.group_by("bin_index").len().sort("bin_index")["len"].to_list()
    assert len(counts) == 3 and max(counts) - min(counts) <= 2
    near = b.filter(pl.col("bin_index") == 0)["distance"].max()
    far = b.filter(pl.col("bin_index") == 2)["distance"].min()
    assert near <= far
    assert b["distance_bin"].str.starts_with("near").sum() == counts[0]


def _fresh():
    import tempfile

    return Store.open(tempfile.mkdtemp(), read_only=True)


# ---------------------------------------------------------------------- the transfer gap
def test_gap_is_english_minus_language_beside_the_baseline_gap(st):
    g = dist_mod.gaps(st, Filters(sources=("runner",)))
    assert "en" not in g["language"].to_list()
    base_de = g.filter((pl.col("intermediate") == "none") & (pl.col("language") == "de")).row(0, named=True)
    assert base_de["gap"] == pytest.approx(81.0 - 71.0)  # means over the two seeds
    gc = dist_mod.gap_changes(st, Filters(sources=("runner",)))
    row = gc.filter((pl.col("intermediate") == "squad") & (pl.col("language") == "sw")).row(0, named=True)
    assert row["gap"] == pytest.approx(81.0 - 68.0)
    assert row["baseline_gap"] == pytest.approx(81.0 - 61.0)
    assert row["gap_change"] == pytest.approx(-7.0) and row["gap_closed"] == pytest.approx(7.0)
    # gap change = English gain - the language's gain
    gn = gains(st, Filters(sources=("runner",), intermediates=("squad",)))
    en_gain = gn.filter(pl.col("language") == "en")["gain"][0]
    sw_gain = gn.filter(pl.col("language") == "sw")["gain"][0]
    assert row["gap_change"] == pytest.approx(en_gain - sw_gain)


def test_gap_change_summary_uses_the_store_bootstrap(st):
    gc = dist_mod.gap_changes(st, Filters(sources=("runner",)))
    s = dist_mod.summarize_gap_change(gc, by=("intermediate", "target"))
    ref = summarize_gains(gc.with_columns(pl.col("gap_change").alias("gain")), by=("intermediate", "target"))
    assert s["mean_gap_change"].to_list() == ref["mean_gain"].to_list()
    assert s["ci_low"].to_list() == ref["ci_low"].to_list()
    squad = s.filter(pl.col("intermediate") == "squad").row(0, named=True)
    # squad: de 10->7, sw 20->13, zh 30->23: every language's gap shrinks
    assert squad["mean_gap_change"] == pytest.approx(-17 / 3) and squad["verdict"] == "shrinks"


def test_gap_changes_respect_an_intermediate_filter(st):
    gc = dist_mod.gap_changes(st, Filters(sources=("runner",), intermediates=("mnli",)))
    assert set(gc["intermediate"]) == {"mnli"} and gc.height == 3


# ---------------------------------------------------------------------- gain against distance
def test_distance_correlation_is_spearman_over_languages(st):
    g = gains(st, Filters(sources=("runner",)))
    d = dist_mod.distances(st, "syntactic")
    c = dist_mod.distance_correlation(g, d, "syntactic")
    pts = dist_mod.language_points(g, d)
    assert set(pts["language"]) == {"de", "sw", "zh"}
    row = c.row(0, named=True)
    x, y = pts["distance"].to_numpy(), pts["mean_gain"].to_numpy()
    assert row["n"] == 3 and row["kind"] == "syntactic"
    assert row["rho"] == spearman(x, y)
    assert (row["ci_low"], row["ci_high"]) == spearman_ci(x, y)
    # mean gain per language over both intermediate tasks
    de = pts.filter(pl.col("language") == "de")["mean_gain"][0]
    assert de == pytest.approx(((76.0 - 71.0) + (74.0 - 71.0)) / 2)


def test_complexity_by_distance_splits_simple_and_complex_per_bin(st):
    g = gains(st, Filters(sources=("runner",)))
    bins = dist_mod.distance_bins(st, "genetic")
    out = dist_mod.complexity_by_distance(g, complexity_table(st), bins)
    assert set(out["complexity"]) == {dist_mod.SIMPLE, dist_mod.COMPLEX}  # mnli is format 2, squad 5
    for row in out.iter_rows(named=True):
        langs = bins.filter(pl.col("distance_bin") == row["distance_bin"])["language"].to_list()
        inter = "mnli" if row["complexity"] == dist_mod.SIMPLE else "squad"
        expect = g.filter(pl.col("language").is_in(langs) & (pl.col("intermediate") == inter))["gain"]
        assert row["mean_gain"] == pytest.approx(expect.mean()) and row["n"] == expect.len()


# ---------------------------------------------------------------------- export
def test_export_distance_table_every_format(capsys, tmp_path):
    from tests.dashboard import synthetic

    root = synthetic.build(tmp_path / "gen", models=("xlm-roberta-large",), seeds=(1,), targets=("xnli", "xquad"))
    rc = main(["export", "--store", str(root), "--table", "distance", "--format", "csv"])
    out = capsys.readouterr().out
    assert rc == 0
    frame = pl.read_csv(out.encode())
    assert set(frame["distance"]) == set(DISTANCE_KINDS) - _all_null_kinds()
    with Store.open(root) as s:
        ref = dist_mod.distance_correlation(gains(s, Filters(sources=("runner",))), dist_mod.distances(s, "genetic"), "genetic",
                                            by=("source", "model", "target_type"))
    got = frame.filter(pl.col("distance") == "genetic").sort("target type")
    assert got["rho"].to_list() == pytest.approx(ref.sort("target_type")["rho"].to_list())
    assert got["n languages"].to_list() == ref.sort("target_type")["n"].to_list()
    for fmt in ("markdown", "latex"):
        assert main(["export", "--store", str(root), "--table", "distance", "--format", fmt]) == 0
        text = capsys.readouterr().out
        assert "genetic" in text and ("rho" in text)
    assert main(["export", "--store", str(root), "--table", "distance", "--format", "parquet", "-o", str(tmp_path / "d.parquet")]) == 0
    assert pl.read_parquet(tmp_path / "d.parquet").height == frame.height


def _all_null_kinds() -> set[str]:
    d = load_distances()
    return {k for k in DISTANCE_KINDS if all(d.values[lang][k] is None for lang in d.values if lang != "en")}


def test_export_distance_without_gains_is_one_line(capsys, store_dir):
    assert main(["build", "--store", str(store_dir)]) == 0
    capsys.readouterr()
    rc = main(["export", "--store", str(store_dir), "--table", "distance"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: no per-language intermediate-task gains") and err.count("\n") == 1


def test_correlation_nan_cells_print_as_dash():
    from store.exports import _cell

    assert _cell(float("nan"), signed=True, fmt="{:+.2f}") == "–" and _cell(0.123, signed=True, fmt="{:+.2f}") == "+0.12"
    assert np.isnan(spearman([1, 2], [3, 4]))
