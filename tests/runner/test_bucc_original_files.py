"""BUCC 2018 from the shared task's files (``--bucc-path``) against google/xtreme's gold pairs.

The fixture (``tests.fixtures.bucc``) lays the files out as XTREME's download does, with the mirror's
gold pairs among as many distractor sentences per side. Mining with the tiny XLM-R must find the gold
pairs among them, score below the same pairs mined without distractors, and the Hub's gold-only
results must land under their own split, never beside published BUCC (split ``test``).
"""

from __future__ import annotations

import json
import shutil

import pytest

from runner.cli import main
from runner.data.adapters_qa import bucc_corpus, read_bucc_files
from store.database import Store
from tests.fixtures.bucc import LANGUAGES, build_bucc
from tests.fixtures.runs import stored

#: Mean-pooled input embeddings of the random tiny model: sentences that share words are close.
LAYER = ("--set", "retrieval.layer=0")


@pytest.fixture(scope="module")
def bucc(tmp_path_factory):
    """(the shared task's files, a --data-dir holding the Hub's gold-only rows of the same pairs)."""
    data = tmp_path_factory.mktemp("bucc-hub")
    return build_bucc(tmp_path_factory.mktemp("bucc2018"), data), data


@pytest.fixture()
def bucc_folder(bucc):
    return bucc[0]


def test_the_files_hold_every_sentence_and_the_gold_pairs(bucc_folder):
    ids, texts, en_ids, en_texts, gold = bucc_corpus(read_bucc_files(bucc_folder, "de", "test"))
    assert len(gold) == 40 and len(ids) == 80 and len(en_ids) == 81  # 40 distractors a side, one repeated text
    assert {s for s, _ in gold} < set(ids) and {t for _, t in gold} < set(en_ids)
    capped = bucc_corpus(read_bucc_files(bucc_folder, "de", "test", limit=10))
    assert len(capped[0]) == len(capped[2]) == 10 and capped[4] <= gold  # the cap is per side


@pytest.mark.slow
def test_mining_among_distractors_and_gold_only_results_under_their_own_split(run_args, bucc, tmp_path):
    bucc_folder, hub_rows = bucc
    store = tmp_path / "store"
    assert main(run_args("none:bucc2018", *LAYER, "--bucc-path", str(bucc_folder), work=tmp_path / "w1", store=store)) == 0
    assert main(run_args("none:bucc2018", *LAYER, "--data-dir", str(hub_rows), work=tmp_path / "w2", store=store)) == 0
    runs = {("local_data" in run.hparams): (run, results) for run, results in stored(store)}
    (shared_task, st_results), (gold_only, go_results) = runs[True], runs[False]
    assert shared_task.hparams["local_data"] == ["bucc_path"] and shared_task.run_id != gold_only.run_id
    assert {r.split for r in st_results} == {"test"} and {r.split for r in go_results} == {"test-goldonly"}

    f1 = {lang: {} for lang in LANGUAGES}
    for name, results in (("shared", st_results), ("gold-only", go_results)):
        for r in results:
            if r.metric == "f1":
                f1[r.language][name] = r.value
    for lang in LANGUAGES:
        record = json.loads((tmp_path / "w1" / "runs" / shared_task.run_id / "predictions" / f"{lang}.json").read_text())
        gold = {tuple(line.split("\t")) for line in (bucc_folder / f"{lang}-en.test.gold").read_text().splitlines()}
        extracted = {(s, t) for s, t, _ in record["predictions"]}
        hits = extracted & gold
        # the gold pairs are found among 80 source and 81 English sentences, and most of what is
        # extracted is gold: a distractor pair is a minority
        assert len(hits) >= len(gold) / 2, (lang, len(hits), len(extracted))
        assert len(hits) > len(extracted - gold), (lang, len(hits), len(extracted))
        assert record["n_examples"] == len(gold) == 40
    mean = {k: sum(f1[lang][k] for lang in LANGUAGES) / len(LANGUAGES) for k in ("shared", "gold-only")}
    assert mean["shared"] < mean["gold-only"], (f1, mean)
    assert sum(f1[lang]["shared"] <= f1[lang]["gold-only"] for lang in LANGUAGES) >= 3, f1

    # published BUCC and the shared-task run share split test; the gold-only run never appears there
    with Store.open(store) as db:
        rows = db.query("SELECT DISTINCT r.run_id, r.split FROM results r JOIN runs u USING (run_id) "
                        "WHERE u.target = 'bucc2018'")
        published = db.query("SELECT DISTINCT r.split FROM results r JOIN runs u USING (run_id) "
                             "WHERE u.target = 'bucc2018' AND u.source <> 'runner'")["split"].to_list()
    by_split = {}
    for run_id, split in zip(rows["run_id"], rows["split"]):
        by_split.setdefault(split, set()).add(run_id)
    assert gold_only.run_id in by_split["test-goldonly"] and gold_only.run_id not in by_split.get("test", set())
    assert shared_task.run_id in by_split["test"]
    assert published and "test-goldonly" not in published  # the bundled jiant PR 128 rows (validation)


def test_dry_run_says_gold_only_and_missing_files_are_one_error_line(run_args, bucc_folder, tmp_path, capsys):
    assert main(run_args("none:bucc2018", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "split test-goldonly" in out and "note    bucc2018 reads google/xtreme's bucc18 rows" in out
    assert main(run_args("none:bucc2018", "--bucc-path", str(bucc_folder), "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "split test-goldonly" not in out and "note    bucc2018" not in out
    broken = tmp_path / "broken"
    shutil.copytree(bucc_folder, broken)
    (broken / "ru-en.test.gold").unlink()  # as XTREME's download leaves it
    assert main(run_args("none:bucc2018", "--bucc-path", str(broken))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: missing BUCC file") and "ru-en.training.gold" in err[0]
    assert not (tmp_path / "store" / "runs").exists() or not list((tmp_path / "store" / "runs").iterdir())
    assert main(run_args("none:bucc2018", "--bucc-path", str(tmp_path / "nope"), "--dry-run")) == 2
    assert "--bucc-path" in capsys.readouterr().err
