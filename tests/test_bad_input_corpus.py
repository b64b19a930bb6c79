"""A corpus of bad input for the `store` and `runner` CLIs (issue 17).

Every case must exit 2 with exactly one line on stderr, starting ``error:``, no traceback, and
leave the store byte-identical (shards, sources, the index file itself). Cases run in-process
against one prepared store, which is compared after each of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from store.database import Store
from store.published import Source
from store.records import Result, Run

LAB = Source("lab", "Our lab, 2026", "results/xnli.csv", "imported", "lab.csv", "")
HEADER = "model,intermediate,target,language,metric,value,seed,n_examples"
GOOD_ROW = "m,none,xnli,de,accuracy,70,1,5010"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A store with runner and imported runs, plus files the cases point at."""
    base = tmp_path_factory.mktemp("corpus")
    store = base / "store"
    with Store.open(store, read_only=False) as st:
        st.add_source(LAB)
        for seed in (1, 2):
            st.write_run(Run(model="xlm-roberta-base", intermediate="mnli", target="xnli", seed=seed),
                         [Result("de", "accuracy", 70.0, n_examples=5010), Result("en", "accuracy", 80.0)])
        st.write_run(Run(model="m", intermediate="none", target="xnli", seed=1, source="lab"),
                     [Result("de", "accuracy", 70.0, n_examples=5010)])
    files = {
        "a_file": "just text\n",
        "bad.yaml": "train: [unclosed\n",
        "list.yaml": "- a\n- b\n",
        "garbage.csv": "\x00\x01\x02\xff\xfe binary",
        "garbage.parquet": "PAR1 not really",
        "header_only.csv": HEADER + "\n",
        "conflict.csv": HEADER + "\n" + GOOD_ROW.replace(",70,", ",71,") + "\n",
    }
    for name, text in files.items():
        (base / name).write_bytes(text.encode("latin-1"))
    (base / "folder").mkdir()
    return base, store


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def csv(base: Path, name: str, *rows: str, header: str = HEADER) -> str:
    path = base / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def imp(*extra: str, source: str = "lab2", citation: str = "c", locator: str = "l"):
    return ["import", *extra, "--source", source, "--citation", citation, "--locator", locator]


# Each case: (id, CLI, argv builder taking (base, store) and returning argv, expected text in the error).
S, R = "store", "runner"
CASES = [
    # ---- store: command line and store path
    ("unknown-command", S, lambda b, s: ["bogus"], "invalid choice"),
    ("unknown-flag", S, lambda b, s: ["info", "--bogus", "--store", s], "unrecognized arguments"),
    ("store-is-dev-null", S, lambda b, s: ["info", "--store", "/dev/null"], "is a file"),
    ("store-is-a-file", S, lambda b, s: ["info", "--store", b / "a_file"], "is a file"),
    ("store-is-a-duckdb-file", S, lambda b, s: ["info", "--store", b / "x.duckdb"], "looks like a database file"),
    ("build-on-a-file", S, lambda b, s: ["build", "--store", b / "a_file"], "is a file"),
    ("validate-missing-store", S, lambda b, s: ["validate", "--store", b / "nowhere"], "no store at"),
    ("hf-store-for-import", S, lambda b, s: ["import", b / "a_file", "--store", "hf://datasets/o/n", "--source", "x",
                                             "--citation", "c", "--locator", "l"], "needs a local store"),
    # ---- store export
    ("export-unknown-target", S, lambda b, s: ["export", "--store", s, "--target", "xnil"], "did you mean 'xnli'"),
    ("export-unknown-table", S, lambda b, s: ["export", "--store", s, "--table", "nope"], "invalid choice"),
    ("export-unknown-format", S, lambda b, s: ["export", "--store", s, "--format", "docx"], "invalid choice"),
    ("export-parquet-to-stdout", S, lambda b, s: ["export", "--store", s, "--format", "parquet"], "Parquet is binary"),
    ("export-into-missing-folder", S, lambda b, s: ["export", "--store", s, "-o", b / "missing" / "t.csv"], "does not exist"),
    ("export-onto-a-folder", S, lambda b, s: ["export", "--store", s, "-o", b / "folder"], "is a folder"),
    ("export-under-a-file", S, lambda b, s: ["export", "--store", s, "-o", b / "a_file" / "t.csv"], "does not exist"),
    ("export-two-settings", S, lambda b, s: ["export", "--store", s, "--setting", "zero-shot,translate-test"], "give one --setting"),
    ("export-no-such-model", S, lambda b, s: ["export", "--store", s, "--model", "nobody"], "no results match"),
    ("export-no-such-source", S, lambda b, s: ["export", "--store", s, "--source", "nowhere"], "no results match"),
    ("export-gains-without-baseline", S, lambda b, s: ["export", "--store", s, "--table", "gains", "--source", "runner"],
     "matching 'none' baseline"),
    # ---- store import: the file
    ("import-missing-file", S, lambda b, s: [*imp(b / "nope.csv"), "--store", s], "does not exist"),
    ("import-a-folder", S, lambda b, s: [*imp(b / "folder"), "--store", s], "not a file"),
    ("import-binary-garbage", S, lambda b, s: [*imp(b / "garbage.csv"), "--store", s], "lacks column(s)"),
    ("import-garbage-parquet", S, lambda b, s: [*imp(b / "garbage.parquet"), "--store", s], "cannot read"),
    ("import-header-only", S, lambda b, s: [*imp(b / "header_only.csv"), "--store", s], "has no rows"),
    ("import-missing-column", S, lambda b, s: [*imp(csv(b, "c1.csv", "m,xnli,de,accuracy,70",
                                                        header="model,target,language,metric,value")), "--store", s],
     "lacks column(s) intermediate"),
    ("import-duplicate-value-header", S, lambda b, s: [*imp(csv(b, "c2.csv", "m,none,xnli,de,accuracy,70,80",
                                                                header="model,intermediate,target,language,metric,value,value")),
                                                       "--store", s], "'value' more than once"),
    # ---- store import: the cells
    ("unknown-target", S, lambda b, s: [*imp(csv(b, "c3.csv", GOOD_ROW.replace("xnli", "xnil"))), "--store", s], "did you mean 'xnli'"),
    ("intermediate-as-target", S, lambda b, s: [*imp(csv(b, "c4.csv", GOOD_ROW.replace(",xnli,", ",mnli,"))), "--store", s], "mnli"),
    ("unknown-intermediate", S, lambda b, s: [*imp(csv(b, "c5.csv", GOOD_ROW.replace(",none,", ",mnlii,"))), "--store", s], "mnlii"),
    ("language-not-in-target", S, lambda b, s: [*imp(csv(b, "c6.csv", GOOD_ROW.replace(",de,", ",ja,"))), "--store", s], "'ja' is not evaluated"),
    ("metric-not-declared", S, lambda b, s: [*imp(csv(b, "c7.csv", GOOD_ROW.replace("accuracy", "f1"))), "--store", s], "metric 'f1'"),
    ("value-nan", S, lambda b, s: [*imp(csv(b, "c8.csv", GOOD_ROW.replace(",70,", ",NaN,"))), "--store", s], "only finite"),
    ("value-inf", S, lambda b, s: [*imp(csv(b, "c9.csv", GOOD_ROW.replace(",70,", ",inf,"))), "--store", s], "only finite"),
    ("value-1e309", S, lambda b, s: [*imp(csv(b, "c10.csv", GOOD_ROW.replace(",70,", ",1e309,"))), "--store", s], "finite"),
    ("value-over-100", S, lambda b, s: [*imp(csv(b, "c11.csv", GOOD_ROW.replace(",70,", ",170,"))), "--store", s], "outside 0-100"),
    ("value-negative", S, lambda b, s: [*imp(csv(b, "c12.csv", GOOD_ROW.replace(",70,", ",-3,"))), "--store", s], "outside 0-100"),
    ("value-text", S, lambda b, s: [*imp(csv(b, "c13.csv", GOOD_ROW.replace(",70,", ",high,"))), "--store", s], "not a number"),
    ("fraction-over-1", S, lambda b, s: [*imp(csv(b, "c14.csv", GOOD_ROW.replace(",70,", ",2,")), "--fraction"), "--store", s], "outside 0-100"),
    ("seed-huge", S, lambda b, s: [*imp(csv(b, "c15.csv", GOOD_ROW.replace(",1,5010", ",99999999999999999999,5010"))), "--store", s],
     "seed '99999999999999999999' is out of range"),
    ("seed-negative", S, lambda b, s: [*imp(csv(b, "c16.csv", GOOD_ROW.replace(",1,5010", ",-1,5010"))), "--store", s], "out of range"),
    ("seed-int32-overflow", S, lambda b, s: [*imp(csv(b, "c17.csv", GOOD_ROW.replace(",1,5010", ",2147483648,5010"))), "--store", s],
     "out of range"),
    ("seed-fraction", S, lambda b, s: [*imp(csv(b, "c18.csv", GOOD_ROW.replace(",1,5010", ",1.5,5010"))), "--store", s], "not an integer"),
    ("n-examples-huge", S, lambda b, s: [*imp(csv(b, "c19.csv", GOOD_ROW.replace(",5010", ",99999999999999999999999"))), "--store", s],
     "out of range"),
    ("n-examples-negative", S, lambda b, s: [*imp(csv(b, "c20.csv", GOOD_ROW.replace(",5010", ",-5"))), "--store", s], "out of range"),
    ("model-cell-1MB", S, lambda b, s: [*imp(csv(b, "c21.csv", "M" * 1_000_000 + GOOD_ROW[1:])), "--store", s], "too long"),
    ("model-cell-newline", S, lambda b, s: [*imp(csv(b, "c22.csv", '"a\nb"' + GOOD_ROW[1:])), "--store", s], "line break"),
    ("bad-split", S, lambda b, s: [*imp(csv(b, "c23.csv", "m,none,xnli,de,accuracy,70,dev",
                                            header="model,intermediate,target,language,metric,value,split")), "--store", s], "split 'dev'"),
    ("bad-setting", S, lambda b, s: [*imp(csv(b, "c24.csv", "m,none,xnli,de,accuracy,70,zero-shoot",
                                              header="model,intermediate,target,language,metric,value,setting")), "--store", s], "zero-shot"),
    ("bad-variant", S, lambda b, s: [*imp(csv(b, "c25.csv", "m,none,xnli,de,accuracy,70,mlmx",
                                              header="model,intermediate,target,language,metric,value,variant")), "--store", s], "variant 'mlmx'"),
    ("same-row-twice", S, lambda b, s: [*imp(csv(b, "c26.csv", GOOD_ROW, GOOD_ROW)), "--store", s], "appears twice"),
    ("good-then-bad-row", S, lambda b, s: [*imp(csv(b, "c27.csv", GOOD_ROW, GOOD_ROW.replace(",de,", ",zz,"))), "--store", s], "'zz'"),
    # ---- store import: the source
    ("source-runner", S, lambda b, s: [*imp(csv(b, "c28.csv", GOOD_ROW), source="runner"), "--store", s], "reserved"),
    ("source-published", S, lambda b, s: [*imp(csv(b, "c29.csv", GOOD_ROW), source="rembert_t16"), "--store", s], "reserved"),
    ("source-300-chars", S, lambda b, s: [*imp(csv(b, "c30.csv", GOOD_ROW), source="s" * 300), "--store", s], "not a short key"),
    ("source-newline", S, lambda b, s: [*imp(csv(b, "c31.csv", GOOD_ROW), source="a\nb"), "--store", s], "not a short key"),
    ("source-slash", S, lambda b, s: [*imp(csv(b, "c32.csv", GOOD_ROW), source="../evil"), "--store", s], "not a short key"),
    ("source-empty", S, lambda b, s: [*imp(csv(b, "c33.csv", GOOD_ROW), source=""), "--store", s], "not a short key"),
    ("citation-blank", S, lambda b, s: [*imp(csv(b, "c34.csv", GOOD_ROW), citation="  "), "--store", s], "must say where"),
    ("citation-30k", S, lambda b, s: [*imp(csv(b, "c35.csv", GOOD_ROW), citation="c" * 30_000), "--store", s], "too long"),
    ("citation-newline", S, lambda b, s: [*imp(csv(b, "c36.csv", GOOD_ROW), citation="a\nb"), "--store", s], "line break"),
    ("other-citation-same-key", S, lambda b, s: [*imp(csv(b, "c37.csv", GOOD_ROW), source="lab", citation="Someone else"),
                                                 "--store", s], "already registered with citation"),
    ("other-numbers-same-run", S, lambda b, s: [*imp(b / "conflict.csv", source="lab", citation=LAB.citation,
                                                     locator=LAB.locator), "--store", s], "already stored with other numbers"),
    ("import-into-a-file", S, lambda b, s: [*imp(csv(b, "c38.csv", GOOD_ROW)), "--store", b / "a_file"], "is a file"),
    # ---- store claims, push, pull
    ("claims-unknown-id", S, lambda b, s: ["claims", "--store", s, "--claim", "c99"], "c99"),
    ("claims-unknown-format", S, lambda b, s: ["claims", "--store", s, "--format", "pdf"], "invalid choice"),
    ("push-not-a-repo", S, lambda b, s: ["push", "--store", s, "--repo", "not a repo!!"], "is not a remote"),
    ("push-model-repo", S, lambda b, s: ["push", "--store", s, "--repo", "hf://models/o/n"], "only dataset repos"),
    ("push-run-not-in-store", S, lambda b, s: ["push", "--store", s, "--remote-dir", b / "remote", "--run", "nope"], "not in the store"),
    ("pull-missing-remote-folder", S, lambda b, s: ["pull", "--store", s, "--remote-dir", b / "nowhere"], "does not exist"),
    ("pull-into-a-file", S, lambda b, s: ["pull", "--store", b / "a_file", "--remote-dir", b / "folder"], "is a file"),
    # ---- runner run
    ("run-without-pair", R, lambda b, s: ["run", "--store", s], "give --pair"),
    ("run-unknown-target", R, lambda b, s: ["run", "--pair", "mnli:xnly", "--store", s], "did you mean 'xnli'"),
    ("run-pair-without-colon", R, lambda b, s: ["run", "--pair", "mnli", "--store", s], "INTERMEDIATE:TARGET"),
    ("run-seed-negative", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--seed", "-1", "--store", s], "seed -1 is out of range"),
    ("run-seed-2**70", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--seed", str(2**70), "--store", s], "out of range"),
    ("run-seed-text", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--seed", "abc", "--store", s], "invalid int value"),
    ("run-work-dir-is-a-file", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--work-dir", b / "a_file", "--store", s], "is a file"),
    ("run-work-dir-under-a-file", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--work-dir", b / "a_file" / "w", "--store", s],
     "is a file"),
    ("run-lr-inf", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--set", "train.learning_rate=inf", "--store", s], "not a finite number"),
    ("run-lr-nan", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--set", "train.learning_rate=nan", "--store", s], "not a finite number"),
    ("run-lr-flag-inf", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--lr", "inf", "--store", s], "not a finite number"),
    ("run-lr-negative", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--set", "train.learning_rate=-1", "--store", s], "learning_rate must be > 0"),
    ("run-epochs-typo", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--set", "epochs.mnl=1", "--store", s], "did you mean 'mnli'"),
    ("run-epochs-zero", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--set", "epochs.mnli=0", "--store", s], "epochs.mnli"),
    ("run-unknown-setting", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--set", "train.lerning_rate=1", "--store", s],
     "did you mean 'learning_rate'"),
    ("run-set-without-equals", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--set", "train.learning_rate", "--store", s], "KEY=VALUE"),
    ("run-missing-config", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--config", b / "none.yaml", "--store", s], "cannot read config"),
    ("run-bad-yaml", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--config", b / "bad.yaml", "--store", s], "not valid YAML"),
    ("run-yaml-not-mapping", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--config", b / "list.yaml", "--store", s], "mapping"),
    ("run-store-is-a-file", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--store", b / "a_file"], "is a file"),
    ("run-unknown-variant", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--variant", "mlmx", "--store", s], "mlmx"),
    ("run-bad-device", R, lambda b, s: ["run", "--pair", "mnli:xnli", "--device", "tpu", "--store", s], "invalid choice"),
    # ---- runner grid / plan
    ("grid-bad-seeds", R, lambda b, s: ["grid", "--intermediate", "mnli", "--target", "xnli", "--seeds", "x", "--store", s], "seed"),
    ("plan-unknown-target", R, lambda b, s: ["plan", "--intermediate", "mnli", "--target", "xnly", "--store", s], "xnly"),
    ("plan-negative-seed", R, lambda b, s: ["plan", "--intermediate", "mnli", "--target", "xnli", "--seeds", "-1", "--store", s], "seed"),
]


def _call(cli: str, argv: list[str]) -> int:
    if cli == "store":
        from store.cli import main
    else:
        from runner.cli import main
    try:
        return main(argv)
    except SystemExit as e:  # argparse usage errors
        return int(e.code or 0)


def test_the_corpus_is_large_and_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 60
    assert sum(c[1] == "runner" for c in CASES) >= 20 and sum(c[1] == "store" for c in CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_error_line_and_the_store_unchanged(case, world, capsys, monkeypatch):
    _, cli, build, expected = case
    base, store = world
    monkeypatch.setenv("XSTILTS_STORE", str(base / "default-store-must-not-be-used"))
    monkeypatch.setenv("XSTILTS_WORK_DIR", str(base / "work"))
    monkeypatch.setenv("XSTILTS_HUB_CACHE", str(base / "hub-cache"))
    before = snapshot(store)
    rc = _call(cli, [str(a) for a in build(base, store)])
    out, err = capsys.readouterr()
    assert rc == 2, (rc, out[-500:], err[-500:])
    assert err.count("\n") == 1 and err.startswith("error: "), err[-1000:]
    assert "Traceback" not in err and expected in err, err[:1000]
    assert len(err) < 2000, f"the error line is {len(err)} characters"
    assert snapshot(store) == before
    assert not (base / "default-store-must-not-be-used").exists()
    assert os.path.isdir(store)
