"""Predictions beside the shard: atomic publication, hashing into the run record, lazy reads,
old stores, validation, pairing in a store and `store export --table paired`."""

import os

import polars as pl
import pyarrow.parquet as pq
import pytest

from store import predictions as preds
from store.analysis import Filters
from store.cli import main
from store.database import Store
from store.errors import StoreError
from store.pairs import analyse_pair, find_pairs, pair_for
from store.records import Result, Run
from store.shards import list_shards, read_run_record, shard_path
from store.validation import validate_store

LANGS = ("de", "en")


def xnli_run(intermediate="mnli", seed=1, correct=None, hparams=None, n=20, ids=None):
    """A run with per-example predictions whose accuracy matches its result rows."""
    run = Run(model="xlm-roberta-large", intermediate=intermediate, target="xnli", seed=seed,
              hparams=hparams if hparams is not None else {"learning_rate": 1e-5})
    rows, results = [], []
    for lang in LANGS:
        ok = correct[lang] if correct else [i % 2 == 0 for i in range(n)]
        ex_ids = ids or [f"{lang}-{i:03d}" for i in range(len(ok))]
        for i, (eid, c) in enumerate(zip(ex_ids, ok)):
            rows.append({"example_id": eid, "language": lang, "text": f"premise {i} ||| hypothesis {i}",
                         "gold": "entailment", "prediction": "entailment" if c else "neutral", "correct": c,
                         "n_words": 4 + i % 7, "label_types": "entailment"})
        results.append(Result(lang, "accuracy", 100.0 * sum(ok) / len(ok), n_examples=len(ok)))
    return run, results, pl.DataFrame(rows)


def test_predictions_are_published_with_the_shard_and_hashed_into_its_record(store_dir):
    run, res, frame = xnli_run()
    with Store.open(store_dir, read_only=False) as st:
        assert st.write_run(run, res, predictions=frame)
        path = preds.predictions_path(st.root, run.run_id)
        record = read_run_record(shard_path(st.runs_dir, run.run_id))
        assert record.predictions == preds.read_hash(path) == preds.content_hash(preds.normalize(frame))
        assert st.write_run(run, res, predictions=frame) is False  # idempotent
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left
        back = preds.read_predictions(st.root, run.run_id, columns=["example_id", "correct"], languages=["de"])
        assert back.columns == ["example_id", "correct"] and back.height == 20
    assert validate_store(store_dir) == []


def test_documented_columns_and_types_are_enforced():
    frame = preds.normalize([{"example_id": "1", "language": "de", "score": 1}])
    assert frame.columns == list(preds.COLUMNS) and frame["split"][0] == "test"
    assert frame.schema["score"] == pl.Float64 and frame["correct"][0] is None
    with pytest.raises(StoreError, match="unknown column"):
        preds.normalize([{"example_id": "1", "language": "de", "confidence": 0.3}])
    with pytest.raises(StoreError, match="required column"):
        preds.normalize([{"example_id": "1"}])
    with pytest.raises(StoreError, match="repeat example id '1' in de"):
        preds.normalize([{"example_id": "1", "language": "de"}, {"example_id": "1", "language": "de"}])
    with pytest.raises(StoreError, match="wrong type"):
        preds.normalize([{"example_id": "1", "language": "de", "n_words": "many"}])


def test_predictions_for_a_language_without_results_are_refused_and_nothing_is_written(store_dir):
    run, res, frame = xnli_run()
    with Store.open(store_dir, read_only=False) as st:
        with pytest.raises(StoreError, match="fr \\(test\\) but no result"):
            st.write_run(run, res[:1] + [r for r in res if r.language == "en"][:0], predictions=frame.with_columns(
                pl.when(pl.col("language") == "en").then(pl.lit("fr")).otherwise(pl.col("language")).alias("language")))
        assert list_shards(st.runs_dir) == {} and preds.available(st.root) == set()


def test_old_runs_and_runs_without_predictions_keep_working(store_dir):
    run, res, _ = xnli_run()
    with Store.open(store_dir, read_only=False) as st:
        st.write_run(run, res)  # as an old store or --no-predictions
        assert read_run_record(shard_path(st.runs_dir, run.run_id)).predictions == ""
        assert find_pairs(st) == []
        with pytest.raises(StoreError, match="has no predictions"):
            preds.read_predictions(st.root, run.run_id)
    assert validate_store(store_dir) == []


def test_a_killed_writer_between_the_two_links_leaves_an_invisible_file_the_rerun_uses(store_dir):
    run, res, frame = xnli_run()
    with Store.open(store_dir, read_only=False) as st:
        norm = preds.normalize(frame)
        preds.write_predictions(st.root, run.run_id, norm)  # the process dies here: no shard
        assert validate_store(store_dir)[0].startswith(f"predictions/{run.run_id}.parquet: no shard")
        assert find_pairs(st) == []
        st.write_run(run, res, predictions=frame)
    assert validate_store(store_dir) == []


def test_an_orphan_with_other_content_is_replaced_but_an_altered_file_is_caught(store_dir):
    run, res, frame = xnli_run()
    with Store.open(store_dir, read_only=False) as st:
        preds.write_predictions(st.root, run.run_id, preds.normalize(frame.head(3)))  # orphan, other content
        st.write_run(run, res, predictions=frame)
        path = preds.predictions_path(st.root, run.run_id)
        assert pq.read_metadata(path).num_rows == 40
        os.unlink(path)
        pl.DataFrame({"example_id": ["x"], "language": ["de"]}).write_parquet(path)
    problems = validate_store(store_dir)
    assert len(problems) == 1 and "does not match the hash" in problems[0]


def test_reading_refuses_a_file_that_does_not_match_the_record(store_dir):
    run, res, frame = xnli_run()
    base, bres, bframe = xnli_run("none")
    with Store.open(store_dir, read_only=False) as st:
        st.write_run(run, res, predictions=frame)
        st.write_run(base, bres, predictions=bframe)
        path = preds.predictions_path(st.root, run.run_id)
        preds.normalize(frame).with_columns(pl.lit(True).alias("correct")).write_parquet(path)
        with pytest.raises(StoreError, match="do not match its record"):
            analyse_pair(st, pair_for(st, run.run_id), n_boot=50)


def test_target_configuration_ignores_what_only_phase_1_uses():
    from store.configuration import target_config_id

    hp = {"learning_rate": 1e-5, "epochs_per_stage": {"xnli_en": 2}}
    base = Run(model="m", intermediate="none", target="xnli", seed=1, hparams=hp)
    run = Run(model="m", intermediate="mnli", target="xnli", seed=1,
              hparams={**hp, "mix": {"sampling": "temperature"}, "epochs_per_stage": {"mnli": 3, "xnli_en": 2},
                       "qa": {"doc_stride": 128}, "mlm": {"every": 2}})
    assert target_config_id(run) == target_config_id(base)
    other = Run(model="m", intermediate="none", target="xnli", seed=1, hparams={**hp, "learning_rate": 2e-5})
    assert target_config_id(other) != target_config_id(base)


def test_pairs_prefer_the_same_seed_and_refuse_another_configuration(store_dir):
    with Store.open(store_dir, read_only=False) as st:
        for args in (("mnli", 1), ("mnli", 2), ("none", 1), ("none", 2)):
            st.write_run(*xnli_run(*args)[:2], predictions=xnli_run(*args)[2])
        other = xnli_run("qqp", 1, hparams={"learning_rate": 3e-5})
        st.write_run(*other[:2], predictions=other[2])
        pairs = find_pairs(st)
        assert [(p.intermediate, p.seed, p.baseline_seed) for p in pairs] == [("mnli", 1, 1), ("mnli", 2, 2)]
        with pytest.raises(StoreError, match="same target-phase configuration"):
            pair_for(st, other[0].run_id)


def test_pairs_compare_target_data_revisions_where_both_record_them(store_dir):
    from dataclasses import replace

    from store.configuration import TARGET_DATA_KEY

    def with_data(built, data):
        run, res, frame = built
        return replace(run, config={TARGET_DATA_KEY: data} if data else {}), res, frame

    with Store.open(store_dir, read_only=False) as st:
        run = with_data(xnli_run("mnli", seed=1), ["xnli@v2:test"])
        other_data = with_data(xnli_run("none", seed=1), ["xnli@v1:test"])  # same seed, other data
        same_data = with_data(xnli_run("none", seed=2), ["xnli@v2:test"])
        for r in (run, other_data, same_data):
            st.write_run(*r[:2], predictions=r[2])
        assert pair_for(st, run[0].run_id).baseline_id == same_data[0].run_id
        newer = with_data(xnli_run("mnli", seed=3), ["xnli@v3:test"])  # no baseline read v3
        st.write_run(*newer[:2], predictions=newer[2])
        with pytest.raises(StoreError, match="no none baseline"):
            pair_for(st, newer[0].run_id)
        unrecorded = with_data(xnli_run("mnli", seed=4), None)  # records nothing: any data matches
        st.write_run(*unrecorded[:2], predictions=unrecorded[2])
        assert pair_for(st, unrecorded[0].run_id).baseline_id in {other_data[0].run_id, same_data[0].run_id}


def test_analyse_pair_on_a_store(store_dir):
    flip = {"de": [True] * 10 + [False] * 10, "en": [True] * 20}
    base = {"de": [False] * 2 + [True] * 8 + [False] * 10, "en": [True] * 20}
    with Store.open(store_dir, read_only=False) as st:
        run = xnli_run("mnli", correct=flip)
        st.write_run(*run[:2], predictions=run[2])
        b = xnli_run("none", correct=base)
        st.write_run(*b[:2], predictions=b[2])
        a = analyse_pair(st, pair_for(st, run[0].run_id), n_boot=200)
    de = a.tests.filter(pl.col("language") == "de").row(0, named=True)
    assert (de["gained"], de["lost"], de["baseline"], de["run"]) == (2, 0, 40.0, 50.0)
    assert de["p_value"] == pytest.approx(0.5)  # 2 * (1/2)**2
    en = a.tests.filter(pl.col("language") == "en").row(0, named=True)
    assert en["p_value"] == 1.0 and en["delta"] == 0.0
    assert a.metric == "accuracy" and "n_words" in a.attributes
    assert set(a.bucket_gains["language"]) == {"de", "en"}
    assert a.flips["example_id"].to_list() == ["de-000", "de-001"]


def test_mismatched_example_sets_are_refused_in_a_store(store_dir):
    with Store.open(store_dir, read_only=False) as st:
        run = xnli_run("mnli", n=20)
        st.write_run(*run[:2], predictions=run[2])
        b = xnli_run("none", n=18)
        st.write_run(*b[:2], predictions=b[2])
        with pytest.raises(StoreError, match="different examples: 4 only in run"):
            analyse_pair(st, pair_for(st, run[0].run_id))


def test_store_export_paired_cli(store_dir, capsys):
    with Store.open(store_dir, read_only=False) as st:
        run = xnli_run("mnli", correct={"de": [True] * 10 + [False] * 10, "en": [True] * 20})
        st.write_run(*run[:2], predictions=run[2])
        b = xnli_run("none", correct={"de": [False] * 2 + [True] * 8 + [False] * 10, "en": [True] * 20})
        st.write_run(*b[:2], predictions=b[2])
    assert main(["export", "--store", str(store_dir), "--table", "paired", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("| mnli")]  # constant columns go to the caption
    assert len(lines) == 2
    assert "| mnli | de | 20 | 2 | 0 | 40.0 | 50.0 | +10.0 |" in lines[0]
    assert "exact McNemar" in out
    assert lines[0].rstrip(" |").split("| ")[-1].strip() == "0.5"
    assert main(["export", "--store", str(store_dir), "--table", "paired", "--format", "csv"]) == 0
    frame = pl.read_csv(capsys.readouterr().out.encode())
    assert frame["p_value"].to_list() == [0.5, 1.0] and frame["run_id"][0] == run[0].run_id
    # de: 20 examples of 3 kinds (gained, lost, same) -> the exact multinomial draw; en: all equal
    assert frame["resampling"].to_list() == ["multinomial", "multinomial"]
    assert main(["export", "--store", str(store_dir), "--table", "paired", "--target", "pawsx"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no run with predictions") and err.count("\n") == 1


def test_predictions_travel_with_their_shards_through_push_and_pull(tmp_path, monkeypatch):
    from store.remote import FolderRemote
    from store.sync import pull, push, push_run

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    a, b, remote = tmp_path / "a", tmp_path / "b", tmp_path / "remote"
    run, base = xnli_run("mnli"), xnli_run("none")
    old = xnli_run("qqp")
    with Store.open(a, read_only=False) as st:
        st.write_run(*run[:2], predictions=run[2])
        st.write_run(*base[:2], predictions=base[2])
        st.write_run(*old[:2])  # no predictions: travels as before
        preds.write_predictions(st.root, "orphan__xnli__s1__000000000000", preds.normalize(run[2]))  # never pushed
    r = push(a, remote)
    assert (r.new_runs, r.new_sources) == (3, 0)
    on_remote = sorted(p for p in FolderRemote(remote).stat() if p.startswith("predictions/"))
    assert on_remote == sorted(f"predictions/{x[0].run_id}.parquet" for x in (run, base))
    p = pull(remote, b)
    assert p.new_runs == 3
    with Store.open(b) as st:
        a_tests = analyse_pair(st, pair_for(st, run[0].run_id), n_boot=100).tests
    with Store.open(a) as st:
        assert analyse_pair(st, pair_for(st, run[0].run_id), n_boot=100).tests.equals(a_tests)
    # push_run carries the run's predictions too
    assert push_run(a, run[0].run_id, tmp_path / "remote2")
    assert sorted(FolderRemote(tmp_path / "remote2").stat()) == [f"predictions/{run[0].run_id}.parquet",
                                                                 f"runs/{run[0].run_id}.parquet"]
    # a damaged predictions file never leaves the machine
    path = preds.predictions_path(a, base[0].run_id)
    table = pq.read_table(path)  # same footer (hash), other content
    pq.write_table(table.set_column(table.schema.get_field_index("correct"), "correct",
                                    pl.Series([True] * table.num_rows).to_arrow()), path)
    with pytest.raises(StoreError, match="do not match their own content hash"):
        push(a, tmp_path / "remote3")
    assert not (tmp_path / "remote3" / "predictions").exists()
