"""``runner grid``: every pair plus the baselines, one chain per intermediate checkpoint, resumable;
the SLURM path through submitit's local executor; ``runner run --push``; user mistakes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.cli import main
from store.catalog import load_catalog
from store.shards import list_shards

from tests.fixtures.runs import FAST, SELECTION, TINY

ROOT = Path(__file__).resolve().parents[2]
#: The smallest settings of the e2e tests: a run of the tiny model takes well under a second.
PAIRS = {f"{i}:{t}" for i in ("mnli", "qqp", "none") for t in ("pawsx", "xnli")}


@pytest.fixture()
def grid_args(fixture_data, tiny_model, tmp_path, one_thread):
    """``runner grid`` / ``runner plan`` arguments on the fixtures, with a fresh work dir and store."""

    def make(command: str = "grid", *extra: str, selection=SELECTION) -> list[str]:
        return [command, *selection, "--model", str(tiny_model), "--data-dir", str(fixture_data),
                "--work-dir", str(tmp_path / "work"), "--store", str(tmp_path / "store"), *TINY, *extra]

    return make


def shards(store: Path) -> dict[str, Path]:
    return list_shards(store / "runs")


def assert_every_row(store: Path, seeds=(1, 2), pairs=PAIRS) -> None:
    """One shard per (pair, seed), each with one row per language and metric of its target."""
    from store.shards import read_shard

    cat = load_catalog()
    found = {}
    for path in shards(store).values():
        run, results, _ = read_shard(path)
        found[(f"{run.intermediate}:{run.target}", run.seed)] = results
        langs, metrics = cat.task_languages(run.target), cat.task(run.target).metrics
        assert sorted((r.language, r.metric) for r in results) == sorted((la, m) for la in langs for m in metrics)
    assert set(found) == {(p, s) for p in pairs for s in seeds}


def phase1_logs(work: Path) -> dict[str, int]:
    """Per run log: how it met its intermediate checkpoint (trained / cached)."""
    out = {"training": 0, "cached": 0}
    for log in (work / "runs").glob("*/run.log"):
        text = log.read_text()
        out["training"] += re.search(r"phase 1 intermediate \([a-z+]+\): training in ", text) is not None
        out["cached"] += re.search(r"phase 1 intermediate \([a-z+]+\): cached at ", text) is not None
    return out


@pytest.mark.slow
def test_grid_trains_each_checkpoint_once_writes_every_row_and_resumes_after_a_kill(grid_args, tmp_path, capsys):
    """2 intermediate x 2 targets x 2 seeds + baselines: killed midway (SIGKILL), then run again."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = tmp_path / "first.log"
    proc = subprocess.Popen([sys.executable, "-m", "runner.cli", *grid_args()], cwd=ROOT, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 900  # a bound on the wait, not a speed requirement (busy machines are slow)
    while time.monotonic() < deadline and proc.poll() is None and len(shards(tmp_path / "store")) < 4:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    first = shards(tmp_path / "store")
    assert 4 <= len(first) < 12, f"{len(first)} runs before the kill: " + log.read_text()[-2000:]
    assert "12 runs in 8 chains (4 intermediate checkpoints" in log.read_text()
    done_before = {p: p.stat().st_mtime_ns for p in first.values()}
    checkpoints_before = {p: p.stat().st_mtime_ns for p in (tmp_path / "work" / "intermediate").glob("*/*/done.json")}

    assert main(grid_args()) == 0
    out = capsys.readouterr().out
    progress = [line for line in out.splitlines() if line.startswith("[") and "running" not in line]
    assert len(progress) == 12  # a progress line per run
    assert sum(line.endswith(": already in the store") for line in progress) == len(first), out
    assert {p: p.stat().st_mtime_ns for p in first.values()} == done_before  # finished runs are not redone
    for path, mtime in checkpoints_before.items():
        assert path.stat().st_mtime_ns == mtime, f"finished checkpoint {path.parent.name} was trained again"
    assert f"grid: 12 runs: {12 - len(first)} written, {len(first)} already in the store" in out
    assert_every_row(tmp_path / "store")
    # 4 intermediate checkpoints, not 8: over both invocations the first run of each chain trained
    # its checkpoint and the other run of the chain reused it
    assert len(list((tmp_path / "work" / "intermediate").glob("*/*/done.json"))) == 4
    assert phase1_logs(tmp_path / "work") == {"training": 4, "cached": 4}

    before = {p: p.stat().st_mtime_ns for p in shards(tmp_path / "store").values()}
    assert main(grid_args()) == 0
    assert "grid: 12 runs: 12 already in the store; 0 intermediate checkpoint(s) trained" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in shards(tmp_path / "store").values()} == before


@pytest.mark.slow
def test_slurm_path_runs_job_arrays_through_submitits_local_executor(grid_args, tmp_path, capsys, monkeypatch):
    import runner.grid.executors as executors

    monkeypatch.setattr(executors, "SLURM_CLUSTER", "local")  # same submission code, local processes
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    args = grid_args("grid", "--executor", "slurm", "--partition", "gpu", "--gpus-per-job", "1", "--time", "10",
                     "--slurm-set", "account=lab", "--wait",
                     selection=["--intermediate", "mnli", "--target", "pawsx", "--seeds", "1"])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "submitted 2 chain(s) as job array" in out and "1 GPU(s), 10 min each" in out
    assert out.count("  job ") == 2  # each chain's outcomes come back from its job
    assert "grid: 2 runs: 2 written; 1 intermediate checkpoint(s) trained" in out
    assert_every_row(tmp_path / "store", seeds=(1,), pairs={"mnli:pawsx", "none:pawsx"})
    folder = tmp_path / "work" / "grid" / "submitit"
    assert len(list(folder.glob("*/*_result.pkl"))) == 2  # pickled outcomes: one per array task
    # a second submission finds everything done: nothing is submitted
    assert main(args) == 0
    again = capsys.readouterr().out
    assert "submitted" not in again and "2 already in the store" in again


def test_debug_executor_runs_the_submitted_jobs_in_this_process(grid_args, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    args = grid_args("grid", "--executor", "debug", selection=["--intermediate", "none", "--target", "pawsx"])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "submitted 1 chain(s)" in out and "[1/1] none:pawsx seed 1: written" in out
    assert len(shards(tmp_path / "store")) == 1


def test_slurm_script_has_the_array_partition_gpus_and_time(tmp_path, monkeypatch):
    import runner.grid.executors as executors
    from runner.grid.executors import ExecutorConfig

    monkeypatch.setattr(executors.shutil, "which", lambda name: "/usr/bin/sbatch")
    cfg = ExecutorConfig(kind="slurm", partition="gpu", gpus_per_job=2, cpus_per_job=8, time="1-00:00:00",
                         max_parallel=4, slurm_set={"account": "lab"})
    ex = executors._executor(cfg, tmp_path)
    script = ex._executor._make_submission_file_text("python -m submitit.core._submit x", "uid")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=2", "#SBATCH --time=1440",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --account=lab", "#SBATCH --job-name=xstilts-grid"):
        assert line in script, script
    assert ex._executor.parameters["array_parallelism"] == 4


def test_a_chain_held_by_another_process_is_reported_busy(grid_args, tmp_path):
    from runner.cli import _grid, _parser, _settings
    from runner.grid.chains import ChainTask, chain_lock, run_chain

    args = _parser().parse_args(grid_args())
    grid, _ = _grid(args, _settings(args))
    chain = grid.chains[0]
    with chain_lock(grid.work, chain.key) as held:
        assert held
        [busy, *_] = run_chain(ChainTask(chain, str(grid.store), 12))
    assert busy.status == "busy" and not (tmp_path / "store").exists()


def test_selection_all_skips_what_cannot_run_and_names_refuse_with_a_near_match():
    from runner.errors import RunnerError
    from runner.grid.chains import parse_seeds, select_tasks

    names, skipped = select_tasks("all", "intermediate")
    assert "mnli" in names and "squad" in names and "ccg" not in names
    assert list(dict(skipped)) == ["ccg"] and dict(skipped)["ccg"].startswith("CCGbank is licensed")
    assert "ccg" in select_tasks("all", "intermediate", ccg_path="/x")[0]
    targets, skipped_t = select_tasks("all", "target")
    assert set(targets) == set(load_catalog().target_tasks()) - {"mewslix"}
    assert "--mewslix-path" in dict(skipped_t)["mewslix"]
    assert "mewslix" in select_tasks("all", "target", mewslix_path="/x")[0]
    assert select_tasks("qqp+mnli,mnli,none", "intermediate") == (["mnli+qqp", "mnli"], [])
    assert parse_seeds("1,2,3") == [1, 2, 3] and parse_seeds("1-3,5") == [1, 2, 3, 5] and parse_seeds("2,2") == [2]
    for bad in ("1,x", "", "3-1", "-1"):
        with pytest.raises(RunnerError, match="--seeds"):
            parse_seeds(bad)


@pytest.mark.parametrize(
    ("command", "extra", "message"),
    [
        ("grid", ["--intermediate", "mnly"], "unknown intermediate task 'mnly' (did you mean 'mnli'?)"),
        ("plan", ["--target", "xnly"], "unknown target task 'xnly' (did you mean 'xnli'?)"),
        ("grid", ["--target", "mnli"], "unknown target task 'mnli'"),
        ("grid", ["--target", "mewslix"], "Mewsli-X"),
        ("grid", ["--intermediate", "ccg"], "CCGbank is licensed"),
        ("grid", ["--seeds", "1,x"], "--seeds '1,x': give whole numbers"),
        ("plan", ["--seeds", "two"], "--seeds 'two': give whole numbers"),
        ("grid", ["--store", "hf://datasets/lab/xstilts"],
         "--store hf://datasets/lab/xstilts is read-only here: `runner grid` writes to a local store folder; "
         "give --store DIR and add --push lab/xstilts"),
        ("grid", ["--time", "soon"], "--time 'soon'"),
        ("grid", ["--partition", "gpu"], "--partition and --slurm-set need --executor slurm"),
        ("grid", ["--executor", "slurm"], "--executor slurm: no sbatch on this machine"),
        ("grid", ["--executor", "debug"], "--executor debug opens pdb when a run fails"),
        ("grid", ["--push", "not a remote"], "is not a remote; give ORG/NAME"),
        ("grid", ["--intermediate", ""], "give 'all' or names separated by commas"),
    ],
)
def test_grid_and_plan_user_errors_exit_2_with_one_line(command, extra, message, grid_args, tmp_path, capsys,
                                                         monkeypatch):
    import runner.grid.executors as executors

    monkeypatch.setattr(executors.shutil, "which", lambda name: None)
    args = grid_args(command)
    for flag, value in zip(extra[::2], extra[1::2]):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err, err
    assert not (tmp_path / "store").exists() and not (tmp_path / "work" / "runs").exists()


def test_run_refuses_an_hf_store_for_writing(run_args, tmp_path, capsys, one_thread):
    args = run_args("none:pawsx")
    args[args.index("--store") + 1] = "hf://datasets/lab/xstilts"
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: --store hf://datasets/lab/xstilts is read-only here: `runner run` writes to a local store "
                   "folder; give --store DIR and add --push lab/xstilts to upload each run's shard")
    assert not (tmp_path / "work").exists()


@pytest.mark.slow
def test_run_push_uploads_exactly_that_runs_shard(run_args, tmp_path, capsys, one_thread):
    remote = tmp_path / "remote"

    def files() -> dict[str, bytes]:
        return {p.relative_to(remote).as_posix(): p.read_bytes() for p in remote.rglob("*")
                if p.is_file() and not p.name.startswith(".")}

    assert main(run_args("none:pawsx", *TINY[len(FAST):], "--push", remote.as_uri())) == 0
    out = capsys.readouterr().out
    [(run_id, shard)] = shards(tmp_path / "store").items()
    assert f"pushed {remote.as_uri()}: runs/{run_id}.parquet" in out
    predictions = tmp_path / "store" / "predictions" / f"{run_id}.parquet"
    # the run's shard and its predictions file (hashed into the shard), nothing else
    assert files() == {f"runs/{run_id}.parquet": shard.read_bytes(),
                       f"predictions/{run_id}.parquet": predictions.read_bytes()}
    first = files()

    assert main(run_args("none:xnli", *TINY[len(FAST):], "--push", remote.as_uri())) == 0
    capsys.readouterr()
    after = files()
    assert len(after) == 4 and {k: after[k] for k in first} == first  # only the new run's files were added
    assert set(after) == {f"{folder}/{r}.parquet" for r in shards(tmp_path / "store") for folder in ("runs", "predictions")}


@pytest.mark.slow
def test_grid_push_uploads_each_run(grid_args, tmp_path, capsys):
    remote = tmp_path / "remote"
    args = grid_args("grid", "--push", remote.as_uri(), selection=["--intermediate", "none", "--target", "pawsx"])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "[1/1] none:pawsx seed 1: written" in out and "; pushed" in out
    assert [p.name for p in (remote / "runs").iterdir()] == [f"{r}.parquet" for r in shards(tmp_path / "store")]
    assert main(args) == 0
    assert "already in the store; already on the remote" in capsys.readouterr().out
