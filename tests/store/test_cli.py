"""Integration tests of the `store` CLI (in-process, plus one real subprocess)."""

import subprocess
import sys

import pytest

from store.cli import main
from store.database import Store
from store.shards import list_shards


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def snapshot(root):
    """Everything a user could lose: shard names and contents, registered sources, indexed rows."""
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != "index.duckdb"}
    with Store.open(root) as st:
        rows = st.query("SELECT * FROM results_wide ORDER BY run_id, language, split, metric")
    return files, rows


@pytest.fixture
def store_dir(store_dir):
    """A built store (only `store build`, `store pull` and `store demo` create one from the CLI)."""
    Store.open(store_dir, read_only=False).close()
    return store_dir


@pytest.mark.parametrize("argv", [["info"], ["export"], ["claims", "--claim", "c5"], ["validate"],
                                  ["import", "f.csv", "--source", "s", "--citation", "c", "--locator", "l"]])
def test_a_mistyped_store_is_an_error_and_creates_nothing(capsys, tmp_path, argv):
    (tmp_path / "f.csv").write_text("model,intermediate,target,language,metric,value\nm,none,xnli,de,accuracy,70\n")
    typo = tmp_path / "no" / "such" / "store"
    argv = [a if a != "f.csv" else str(tmp_path / "f.csv") for a in argv]
    rc, out, err = run(capsys, *argv, "--store", str(typo))
    assert rc == 2 and out == ""
    assert err.startswith(f"error: no store at {typo}") and "store build --store" in err and err.count("\n") == 1
    assert not (tmp_path / "no").exists()


def test_build_creates_a_store_where_asked(capsys, tmp_path):
    rc, out, _ = run(capsys, "build", "--store", str(tmp_path / "new"))
    assert rc == 0 and (tmp_path / "new" / "index.duckdb").is_file()
    assert run(capsys, "info", "--store", str(tmp_path / "new"))[0] == 0


def test_info_lists_every_source_with_its_row_count(capsys, store_dir):
    rc, out, _ = run(capsys, "info", "--store", str(store_dir))
    assert rc == 0
    for source, rows in [("rembert_t16", 60), ("rembert_t7", 20), ("mt5_readme", 68), ("fairseq_xlmr_readme", 66),
                         ("jiant_pr128", 40), ("xtreme_issue8", 28), ("xtreme_issue38", 12), ("runner", 0)]:
        assert any(line.split()[:3] == [source, str(rows), "rows"] for line in out.splitlines()), source
    assert "294 result rows" in out and "Glottolog" in out


def test_build_is_reproducible(capsys, store_dir):
    assert run(capsys, "build", "--store", str(store_dir))[0] == 0
    first = snapshot(store_dir)[1]
    assert run(capsys, "build", "--store", str(store_dir))[0] == 0
    assert snapshot(store_dir)[1].equals(first)


def test_export_gains_latex(capsys, store_dir):
    rc, out, _ = run(capsys, "export", "--store", str(store_dir), "--table", "gains", "--format", "latex",
                     "--model", "xlm-roberta-large", "--source", "rembert_t16")
    assert rc == 0 and out.startswith("% Gain") and r"\textbf{76.0}" in out and "+10.9" in out


def test_export_parquet_needs_output(capsys, store_dir, tmp_path):
    rc, _, err = run(capsys, "export", "--store", str(store_dir), "--format", "parquet")
    assert rc == 2 and err.startswith("error: Parquet is binary")
    rc, _, _ = run(capsys, "export", "--store", str(store_dir), "--format", "parquet", "-o", str(tmp_path / "t.parquet"))
    assert rc == 0 and (tmp_path / "t.parquet").stat().st_size > 0


IMPORT_FRACTIONS = """model,intermediate,target,language,metric,value,seed,split
xlm-roberta-base,none,xnli,de,accuracy,0.70,1,test
xlm-roberta-base,none,xnli,en,accuracy,0.80,1,test
xlm-roberta-base,mnli,xnli,de,accuracy,0.72,1,test
"""
IMPORT_OK = IMPORT_FRACTIONS.replace("0.70", "70.0").replace("0.80", "80.0").replace("0.72", "72.0")


def test_import_then_idempotent_reimport(capsys, store_dir, tmp_path):
    f = tmp_path / "lab.csv"
    f.write_text(IMPORT_FRACTIONS)
    args = ["import", str(f), "--store", str(store_dir), "--source", "lab2026", "--citation", "Our lab, 2026",
            "--locator", "results/xnli.csv", "--fraction"]
    rc, out, _ = run(capsys, *args)
    assert rc == 0 and "imported 3 rows in 2 runs" in out and "(2 new)" in out
    rc, out, _ = run(capsys, *args)
    assert rc == 0 and "(0 new)" in out
    with Store.open(store_dir) as st:
        v = st.query("SELECT value, conversion FROM results_wide WHERE source='lab2026' AND intermediate='mnli'")
        assert v.rows() == [(72.0, "fraction x 100")]


@pytest.mark.parametrize(
    "content, extra, message",
    [
        ("model,target,language,metric,value\nm,xnli,de,accuracy,70\n", [], "lacks column(s) intermediate"),
        ("model,intermediate,target,language,metric,value\nm,none,xnil,de,accuracy,70\n", [], "did you mean 'xnli'"),
        ("model,intermediate,target,language,metric,value\nm,none,xnli,ja,accuracy,70\n", [], "'ja' is not evaluated in xnli"),
        ("model,intermediate,target,language,metric,value\nm,none,xnli,de,f1,70\n", [], "metric 'f1' is not declared"),
        ("model,intermediate,target,language,metric,value\nm,none,xnli,de,accuracy,NaN\n", [], "only finite"),
        ("model,intermediate,target,language,metric,value\nm,none,xnli,de,accuracy,170\n", [], "outside 0-100"),
        ("model,intermediate,target,language,metric,value\nm,none,xnli,de,accuracy,high\n", [], "not a number"),
        # a good row followed by a bad one: nothing at all is written
        ("model,intermediate,target,language,metric,value\nm,none,xnli,de,accuracy,70\nm,none,xnli,zz,accuracy,70\n", [], "'zz'"),
        # fractions beside points, or fractions alone, without --fraction (0.81 is not 81 points)
        ("model,intermediate,target,language,metric,value\nm,none,xnli,de,accuracy,80.2\nm,none,xnli,fr,accuracy,0.81\n",
         [], "xnli accuracy mixes scales: 0.81 (line 3) beside 80.2 (line 2)"),
        (IMPORT_FRACTIONS, [], "look like fractions; store points (0-100); if every value is a fraction pass --fraction"),
        (IMPORT_OK, ["--source", "runner"], "reserved"),
        (IMPORT_OK, ["--source", "rembert_t16"], "reserved"),
    ],
)
def test_bad_import_is_one_line_exit_2_and_store_unchanged(capsys, store_dir, tmp_path, content, extra, message):
    f = tmp_path / "lab.csv"
    f.write_text(IMPORT_OK)
    run(capsys, "import", str(f), "--store", str(store_dir), "--source", "lab", "--citation", "c", "--locator", "l")
    before = snapshot(store_dir)
    f.write_text(content)
    argv = ["import", str(f), "--store", str(store_dir), "--source", "lab2", "--citation", "c", "--locator", "l", *extra]
    rc, _, err = run(capsys, *argv)
    assert rc == 2 and err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    after = snapshot(store_dir)
    assert after[0] == before[0] and after[1].equals(before[1])


def test_conflicting_reimport_under_same_source_fails(capsys, store_dir, tmp_path):
    f = tmp_path / "lab.csv"
    f.write_text(IMPORT_OK)
    base = ["--store", str(store_dir), "--source", "lab", "--citation", "c", "--locator", "l"]
    assert run(capsys, "import", str(f), *base)[0] == 0
    f.write_text(IMPORT_OK.replace("70.0", "71.0"))
    before = snapshot(store_dir)
    rc, _, err = run(capsys, "import", str(f), *base)
    assert rc == 2 and "already stored with other numbers" in err
    assert snapshot(store_dir)[0] == before[0]


def test_small_values_really_in_points_import_when_said_so(capsys, store_dir, tmp_path):
    f = tmp_path / "lab.csv"
    f.write_text("model,intermediate,target,language,metric,value\nm,none,tatoeba,de,accuracy,80.2\n"
                 "m,none,tatoeba,kk,accuracy,0.81\n")
    base = ["import", str(f), "--store", str(store_dir), "--source", "lab", "--citation", "c", "--locator", "l"]
    assert run(capsys, *base)[0] == 2
    rc, out, _ = run(capsys, *base, "--small-values-are-points")
    assert rc == 0 and "imported 2 rows" in out


def test_validate_finds_a_tampered_shard(capsys, store_dir, tmp_path):
    f = tmp_path / "lab.csv"
    f.write_text(IMPORT_OK)
    run(capsys, "import", str(f), "--store", str(store_dir), "--source", "lab", "--citation", "c", "--locator", "l")
    assert run(capsys, "validate", "--store", str(store_dir))[0] == 0
    shard = next(iter(list_shards(store_dir / "runs").values()))
    shard.rename(shard.with_name("renamed__xnli__s1__000000000000.parquet"))
    rc, out, _ = run(capsys, "validate", "--store", str(store_dir))
    assert rc == 1 and "does not match its run id" in out


def test_usage_errors_are_one_line_exit_2_without_traceback(store_dir):
    for argv in (["bogus"], ["export", "--table", "nope"], ["export", "--target", "xnil", "--store", str(store_dir)],
                 ["info", "--store", "/dev/null"]):
        p = subprocess.run([sys.executable, "-m", "store.cli", *argv], capture_output=True, text=True)
        assert p.returncode == 2, (argv, p.stderr)
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ") and "Traceback" not in p.stderr, p.stderr


@pytest.mark.parametrize("sub", ["info", "build", "import", "export", "validate"])
def test_help_everywhere(capsys, sub):
    with pytest.raises(SystemExit) as e:
        main([sub, "--help"])
    assert e.value.code == 0 and "--store" in capsys.readouterr().out


def test_default_latex_export_is_one_model_split_and_setting_and_bolds_only_comparable_rows(capsys, store_dir):
    rc, out, err = run(capsys, "export", "--store", str(store_dir), "--format", "latex")
    assert rc == 0 and "--model xlm-roberta-large --split test" in err
    caption = out.splitlines()[0]
    assert "xlm-roberta-large" in caption and "test split" in caption and "zero-shot" in caption
    assert r"\caption{" in out
    header = out.split(r"\toprule")[1].split(r"\midrule")[0].strip().rstrip(" \\").split(" & ")
    assert header[:2] == ["source", "row"]  # model, setting and split are constant: in the caption
    body = out.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    rows = [[c.strip() for c in line.rstrip(" \\").split(" & ")] for line in body]
    assert "bert-large" not in out  # the English-only MLQA 80.2 of another model is not in it
    for col in range(2, len(header)):
        assert any(r[col] != "–" for r in rows), header[col]  # no empty column
        for source in {r[0] for r in rows}:  # bold only among rows of one source, and only where two compete
            cells = [r[col] for r in rows if r[0] == source and r[col] != "–"]
            bold = [c for c in cells if c.startswith(r"\textbf")]
            assert len(bold) <= 1 and (not bold or len(cells) > 1), (source, header[col], cells)
    assert r"\textbf{76.0}" in out  # TyDiQA-GoldP: X-STILTs against XLM-R within RemBERT Table 16
