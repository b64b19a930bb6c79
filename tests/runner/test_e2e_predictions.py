"""CPU end to end: phase 3 keeps every evaluated example beside the run, in the store's documented
columns, and the rows give back the stored per-language metrics; a run killed during phase 3
leaves neither a shard nor a predictions file, and its rerun writes both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from runner.cli import main
from store import predictions as store_predictions
from store.shards import list_shards, read_run_record
from tests.fixtures.runs import stored

ROOT = Path(__file__).resolve().parents[2]
QA_FAST = ["--epochs", "1", "--max-train-examples", "80", "--max-eval-examples", "20",
           "--set", "qa.max_length=64", "--set", "qa.doc_stride=24"]


def _kept(store: Path, run) -> pl.DataFrame:
    record = read_run_record(store / "runs" / f"{run.run_id}.parquet")
    assert record.predictions == store_predictions.read_hash(store_predictions.predictions_path(store, run.run_id))
    return store_predictions.read_predictions(store, run.run_id, expected_hash=record.predictions)


def _metric_from_rows(frame: pl.DataFrame, metric: str, span_f1: bool) -> dict[str, float]:
    """Per language, the metric recomputed from the rows' parts (what store.paired resamples)."""
    out = {}
    for (lang,), g in frame.group_by("language"):
        if metric == "accuracy":
            out[lang] = 100.0 * g["correct"].cast(pl.Float64).mean()
        elif span_f1:
            den = g["n_pred"].sum() + g["n_gold"].sum()
            out[lang] = 200.0 * g["tp"].sum() / den if den else 0.0
        else:
            out[lang] = g[metric].mean()
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pair", "extra", "metrics", "filled"),
    [
        ("none:xnli", [], ("accuracy",), ("text", "gold", "prediction", "correct", "score", "n_words", "n_tokens",
                                          "label_types")),
        ("none:udpos", [], ("f1",), ("text", "gold", "prediction", "correct", "tp", "n_pred", "n_gold", "n_words",
                                     "n_tokens", "label_types")),
        ("none:xquad", QA_FAST, ("f1", "em"), ("text", "gold", "prediction", "correct", "em", "f1", "score", "n_words",
                                               "n_tokens", "answer_words", "question_word")),
    ],
)
def test_runner_run_keeps_predictions_that_give_back_the_stored_metrics(pair, extra, metrics, filled, run_args,
                                                                        tmp_path):
    assert main(run_args(pair, *extra)) == 0
    [(run, results)] = stored(tmp_path / "store")
    frame = _kept(tmp_path / "store", run)
    assert frame.columns == list(store_predictions.COLUMNS)
    for col in filled:  # the documented columns this kind has are filled for every example
        assert frame[col].null_count() == 0, col
    assert set(frame["language"]) == {r.language for r in results}
    for metric in metrics:
        again = _metric_from_rows(frame, metric, span_f1=pair.endswith("udpos"))
        for r in (r for r in results if r.metric == metric):
            assert again[r.language] == pytest.approx(r.value, abs=1e-6), (r.language, metric)
            assert frame.filter(pl.col("language") == r.language).height == r.n_examples


@pytest.mark.slow
def test_no_predictions_keeps_none_and_the_run_is_the_same(run_args, tmp_path):
    assert main(run_args("none:pawsx", "--no-predictions")) == 0
    [(run, _)] = stored(tmp_path / "store")
    assert run.predictions == "" and store_predictions.available(tmp_path / "store") == set()
    # the run id does not depend on the flag: a later run with predictions is the same run
    assert main(run_args("none:pawsx", "--dry-run")) == 0


def _cli(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "runner.cli", *args], cwd=ROOT, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_killed_during_phase_3_leaves_nothing_in_the_store_and_the_rerun_writes_both(run_args, tmp_path):
    args = run_args("none:xnli", "--epochs", "1", "--max-train-examples", "80")
    proc = _cli(args, tmp_path / "first.log")
    deadline = time.monotonic() + 900  # a generous bound on a busy machine (not a speed check)
    first = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((tmp_path / "work" / "runs").glob("*/predictions/*.json"))
        if found:
            first = found[0]
            break
        time.sleep(0.01)
    assert first is not None, "phase 3 never started: " + (tmp_path / "first.log").read_text()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    done = sorted(p.name for p in first.parent.glob("*.json"))
    assert len(done) < 15, "phase 3 had finished before the kill"
    store = tmp_path / "store"
    assert not list_shards(store / "runs"), "a run killed in phase 3 wrote a shard"
    assert not (store / store_predictions.PREDICTIONS_DIR).exists() or not any(
        (store / store_predictions.PREDICTIONS_DIR).iterdir()), "a run killed in phase 3 wrote predictions"

    second = _cli(args, tmp_path / "second.log")
    assert second.wait(900) == 0, (tmp_path / "second.log").read_text()[-3000:]
    [(run, results)] = stored(store)
    frame = _kept(store, run)
    assert set(frame["language"]) == {r.language for r in results} and len(results) == 15
    again = _metric_from_rows(frame, "accuracy", span_f1=False)
    assert all(again[r.language] == pytest.approx(r.value) for r in results)
    assert sorted(p.name for p in (store / store_predictions.PREDICTIONS_DIR).iterdir()) == [f"{run.run_id}.parquet"]
