"""Push and pull end to end through a local-folder remote (no network, no stand-ins)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import threading
from pathlib import Path

import duckdb
import polars as pl
import pytest

from store.card import DUCKDB_QUERIES, MANIFEST
from store.cli import main
from store.database import Store
from store.errors import StoreError
from store.hub import open_remote
from store.remote import FolderRemote, RemoteFile, file_digest, same_bytes
from store.sync import pull, push, push_run
from tests.store.sync_helpers import LAB, fill_store, files_of, make_run, table, wide


REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def remote_runs(remote_dir):
    return sorted(p.name for p in (remote_dir / "runs").iterdir())


def test_push_then_pull_gives_identical_query_results(tmp_path):
    a, b, remote = tmp_path / "a", tmp_path / "b", tmp_path / "remote"
    ids = fill_store(a, [1, 2, 3], source=LAB)
    r = push(a, remote)
    assert (r.new_runs, r.new_sources, r.commits) == (4, 1, 1)
    assert remote_runs(remote) == sorted(f"{i}.parquet" for i in ids)
    assert {"README.md", MANIFEST, "catalog/tasks.parquet", "catalog/sources.parquet", "tables/results_wide.parquet",
            "sources/lab2026.json"} <= set(FolderRemote(remote).stat())
    p = pull(remote, b)
    assert (p.new_runs, p.new_sources, p.already) == (4, 1, 0)
    assert wide(b).equals(wide(a))
    for name, order in [("runs", "run_id"), ("dev_scores", "run_id, task"), ("sources", "source")]:
        assert table(b, name, order).equals(table(a, name, order)), name
    # shards travel byte for byte
    assert all(files_of(b)[f"runs/{i}.parquet"] == files_of(a)[f"runs/{i}.parquet"] for i in ids)


def test_second_push_commits_nothing_and_pull_is_incremental(tmp_path):
    a, b, remote = tmp_path / "a", tmp_path / "b", tmp_path / "remote"
    fill_store(a, [1, 2])
    push(a, remote)
    pull(remote, b)
    assert push(a, remote).commits == 0
    assert len(FolderRemote(remote).commit_log()) == 1
    fill_store(a, [3])
    r = push(a, remote)
    assert (r.new_runs, r.already, r.commits) == (1, 2, 1)
    p = pull(remote, b)
    assert (p.new_runs, p.already) == (1, 2)
    assert wide(b).equals(wide(a))


def test_snapshot_and_card_cover_runs_other_stores_pushed(tmp_path):
    remote = tmp_path / "remote"
    fill_store(tmp_path / "a", [1])
    fill_store(tmp_path / "b", [2])
    push(tmp_path / "a", remote)
    push(tmp_path / "b", remote)
    snap = duckdb.sql(f"SELECT DISTINCT run_id FROM read_parquet('{remote}/tables/runs.parquet') WHERE source='runner'").fetchall()
    assert len(snap) == 2
    assert "| runner | 2 | 4 |" in (remote / "README.md").read_text()


def test_card_queries_run_as_written(tmp_path):
    remote = tmp_path / "remote"
    ids = fill_store(tmp_path / "a", [1, 2])
    push(tmp_path / "a", remote)
    card = (remote / "README.md").read_text()
    for sql in DUCKDB_QUERIES.values():
        assert sql in card
    shards = duckdb.sql(DUCKDB_QUERIES["shards"].format(root=remote)).pl()
    assert sorted(set(shards["run_id"])) == sorted(ids) and shards.height == 4
    records = duckdb.sql(DUCKDB_QUERIES["run_records"].format(root=remote)).pl()
    assert sorted(records["run_id"]) == sorted(ids)
    assert duckdb.sql(DUCKDB_QUERIES["results"].format(root=remote)).pl().height == 10


@pytest.mark.slow
def test_datasets_finds_the_configs_in_the_card(tmp_path):
    datasets = pytest.importorskip("datasets")
    remote = tmp_path / "remote"
    fill_store(tmp_path / "a", [1, 2])
    push(tmp_path / "a", remote)
    shards = datasets.load_dataset(str(remote), "shards", split="train", cache_dir=str(tmp_path / "hf"))
    assert shards.num_rows == 4 and "value" in shards.column_names
    results = datasets.load_dataset(str(remote), split="train", cache_dir=str(tmp_path / "hf"))  # default config
    assert "run_id" in results.column_names and results.num_rows == wide(tmp_path / "a").height


def test_same_run_measured_differently_is_a_conflict_and_nothing_moves(tmp_path):
    a, b, remote = tmp_path / "a", tmp_path / "b", tmp_path / "remote"
    fill_store(a, [1, 2], value=70.0)
    fill_store(b, [1], value=71.0)  # same run id as a's seed 1, other numbers
    push(a, remote)
    before_remote, before_b = files_of(remote), files_of(b)
    with pytest.raises(StoreError, match="differ in content.*nothing was pushed"):
        push(b, remote)
    assert files_of(remote) == before_remote
    with pytest.raises(StoreError, match="differ in content.*nothing was pulled"):
        pull(remote, b)
    assert files_of(b) == before_b


def test_same_measurement_with_other_bytes_is_not_a_conflict(tmp_path):
    a, b, remote = tmp_path / "a", tmp_path / "b", tmp_path / "remote"
    fill_store(a, [1])
    with Store.open(b, read_only=False) as st:  # same run, same numbers, another created_at
        run, res = make_run(1)
        st.write_run(type(run)(**{**run.__dict__, "created_at": "2020-01-01T00:00:00+00:00"}), res)
    push(a, remote)
    assert files_of(a) != files_of(b)
    r = push(b, remote)
    assert (r.new_runs, r.already) == (0, 1)
    p = pull(remote, b)
    assert (p.new_runs, p.already) == (0, 1)


def test_push_failing_midway_leaves_local_intact_and_retry_completes(tmp_path, monkeypatch):
    a, b, remote = tmp_path / "a", tmp_path / "b", tmp_path / "remote"
    ids = fill_store(a, range(1, 7), source=LAB)
    before = files_of(a), wide(a)
    real_put, written = FolderRemote._put, []

    def put_then_fail(self, rel, local):
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        real_put(self, rel, local)
        written.append(rel)

    monkeypatch.setattr(FolderRemote, "_put", put_then_fail)
    with pytest.raises(StoreError, match="No space left.*local store is unchanged") as e:
        push(a, remote)
    assert "\n" not in str(e.value)
    assert files_of(a) == before[0] and wide(a).equals(before[1])
    assert len(list((remote / "runs").glob("*.parquet"))) == 2  # sources/lab2026.json + 2 shards landed
    assert not [p for p in remote.rglob(".tmp-*")]
    monkeypatch.setattr(FolderRemote, "_put", real_put)
    r = push(a, remote)
    assert (r.new_runs, r.already, r.commits) == (5, 3, 1)
    assert remote_runs(remote) == sorted(f"{i}.parquet" for i in ids)
    assert len(FolderRemote(remote).commit_log()) == 1  # the failed attempt committed nothing
    pull(remote, b)
    assert wide(b).equals(wide(a))


def test_push_run_uploads_only_that_shard(tmp_path):
    a, remote = tmp_path / "a", tmp_path / "remote"
    ids = fill_store(a, [1, 2], source=LAB)
    assert push_run(a, ids[0], remote) is True
    assert push_run(a, ids[0], remote) is False
    assert sorted(FolderRemote(remote).stat()) == [f"runs/{ids[0]}.parquet"]
    assert push_run(a, ids[2], f"file://{remote}") is True  # imported: its source travels with it
    assert sorted(FolderRemote(remote).stat()) == sorted(
        [f"runs/{ids[0]}.parquet", f"runs/{ids[2]}.parquet", "sources/lab2026.json"])
    with pytest.raises(StoreError, match="not in the store"):
        push_run(a, "mnli__xnli__s9__000000000000", remote)


def test_two_jobs_pushing_one_run_id_to_a_folder_cannot_overwrite_each_other(tmp_path, monkeypatch):
    """Both list an empty remote, then commit at once: os.link lets one shard in and refuses the
    other, whose retry finds the winner's shard with other numbers and stops with one line."""
    remote = tmp_path / "remote"
    (rid,) = fill_store(tmp_path / "a", [1], value=70.0)
    fill_store(tmp_path / "b", [1], value=71.0)  # same run id, other numbers
    gate, real_commit, calls = threading.Barrier(2), FolderRemote.commit, []

    def commit_together(self, files, message, parent=None):
        calls.append(message)
        if len(calls) <= 2:
            gate.wait(timeout=30)  # both have listed the remote without the shard
        return real_commit(self, files, message, parent)

    monkeypatch.setattr(FolderRemote, "commit", commit_together)
    errors: dict[str, BaseException | None] = {}

    def job(name):
        try:
            push_run(tmp_path / name, rid, remote)
            errors[name] = None
        except BaseException as e:  # noqa: BLE001 (reported to the test)
            errors[name] = e

    threads = [threading.Thread(target=job, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(errors) == ["a", "b"] and sum(e is None for e in errors.values()) == 1, errors
    winner = next(n for n, e in errors.items() if e is None)
    err = next(e for e in errors.values() if e is not None)
    assert isinstance(err, StoreError) and "\n" not in str(err) and "differ in content" in str(err)
    assert remote_runs(remote) == [f"{rid}.parquet"]
    assert (remote / "runs" / f"{rid}.parquet").read_bytes() == (tmp_path / winner / "runs" / f"{rid}.parquet").read_bytes()
    assert not list(remote.rglob(".tmp-*"))


def test_pull_missing_remote_and_pushing_a_missing_store_are_clear_errors(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        pull(tmp_path / "nowhere", tmp_path / "b")
    with pytest.raises(StoreError, match="not a store folder"):
        push(tmp_path / "no-store", tmp_path / "remote")
    assert not (tmp_path / "remote").exists()


def test_damaged_local_shard_is_never_pushed(tmp_path):
    a, remote = tmp_path / "a", tmp_path / "remote"
    ids = fill_store(a, [1, 2])
    (a / "runs" / f"{ids[0]}.parquet").rename(a / "runs" / "mnli__xnli__s1__ffffffffffff.parquet")
    with pytest.raises(StoreError, match="renamed shard"):
        push(a, remote)
    assert not remote.exists()


def test_remote_specs():
    assert isinstance(open_remote("file:///tmp/x"), FolderRemote)
    assert open_remote("hf://datasets/org/name").name == "hf://datasets/org/name"
    assert open_remote("org/name").cache_name == "org--name"
    for bad, msg in [("hf://models/org/name", "only dataset repos"), ("hf://datasets/org", "expected"),
                     ("not a repo", "is not a remote"), ("file://host/x", "on this machine")]:
        with pytest.raises(StoreError, match=msg):
            open_remote(bad)


def test_digests_match_what_remotes_report(tmp_path):
    f = tmp_path / "hello.txt"
    f.write_bytes(b"hello\n")
    assert file_digest(f, "git-sha1") == "git-sha1:ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object`
    assert same_bytes(f, RemoteFile("hello.txt", 6, file_digest(f, "sha256")))
    assert not same_bytes(f, RemoteFile("hello.txt", 6, None))


# ---------------------------------------------------------------------- eight writers at once
def _writer(i: int, base: str, remote: str, barrier, queue) -> None:
    """One GPU job: writes its own runs into its own store, then pushes at the same moment as the others."""
    from pathlib import Path

    from store.sync import push, push_run
    from tests.store.sync_helpers import fill_store

    root = Path(base) / f"job{i}"
    ids = fill_store(root, [100 * i + k for k in range(3)])
    barrier.wait(timeout=60)
    try:
        if i % 2:
            for run_id in ids:
                push_run(root, run_id, Path(remote))
        else:
            push(root, Path(remote))
        queue.put((i, ids, None))
    except Exception as e:  # noqa: BLE001 (reported to the parent)
        queue.put((i, ids, repr(e)))


@pytest.mark.slow
def test_eight_processes_pushing_at_once_lose_nothing(tmp_path, monkeypatch):
    remote, n = tmp_path / "remote", 8
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    procs = [ctx.Process(target=_writer, args=(i, str(tmp_path), str(remote), barrier, queue)) for i in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in range(n)]
    for p in procs:
        p.join(timeout=60)
    assert [err for _, _, err in results if err] == []
    expected = sorted(f"{rid}.parquet" for _, ids, _ in results for rid in ids)
    assert remote_runs(remote) == expected and len(expected) == 3 * n
    for i, ids, _ in results:  # every shard is byte-for-byte the job's own
        for rid in ids:
            assert (remote / "runs" / f"{rid}.parquet").read_bytes() == (tmp_path / f"job{i}" / "runs" / f"{rid}.parquet").read_bytes()
    assert not [p for p in remote.rglob(".tmp-*")]
    assert (remote / "README.md").exists()
    # the remote's tables and card describe every full pusher's runs, not only the last pusher's
    # (the run-only pushes of the odd jobs appear from the next full push on)
    tables = set(pl.read_parquet(remote / "tables" / "runs.parquet")["run_id"])
    assert {rid for i, ids, _ in results if i % 2 == 0 for rid in ids} <= tables
    snapshot = json.loads((remote / "xstilts.json").read_text())["snapshot"]
    assert snapshot["runs"] == len(tables)
    pulled = tmp_path / "pulled"
    assert pull(remote, pulled).new_runs == 3 * n
    with Store.open(pulled) as st:
        assert st.query("SELECT count(*) AS n FROM results_wide WHERE source='runner'")["n"][0] == 2 * 3 * n


# ---------------------------------------------------------------------- CLI
def test_cli_push_and_pull_with_a_remote_dir(capsys, tmp_path):
    a, b, remote = tmp_path / "a", tmp_path / "b", tmp_path / "remote"
    fill_store(a, [1, 2])
    assert main(["push", "--store", str(a), "--remote-dir", str(remote)]) == 0
    assert "pushed 2 new runs and 0 sources" in capsys.readouterr().out
    assert main(["push", "--store", str(a), "--repo", remote.as_uri()]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["pull", "--store", str(b), "--remote-dir", str(remote)]) == 0
    out = capsys.readouterr().out
    assert "pulled 2 new runs" in out and "index rebuilt" in out
    assert wide(b).equals(wide(a))


def test_cli_push_one_run(capsys, tmp_path):
    a, remote = tmp_path / "a", tmp_path / "remote"
    ids = fill_store(a, [1, 2])
    assert main(["push", "--store", str(a), "--remote-dir", str(remote), "--run", ids[1]]) == 0
    assert capsys.readouterr().out == f"pushed run {ids[1]}\n"
    assert remote_runs(remote) == [f"{ids[1]}.parquet"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["push", "--store", "{a}"], "one of the arguments --repo --remote-dir is required"),
        (["push", "--store", "{a}", "--repo", "x", "--remote-dir", "y"], "not allowed with argument"),
        (["pull", "--store", "{a}", "--repo", "hf://models/a/b"], "only dataset repos"),
        (["push", "--store", "{tmp}/missing", "--remote-dir", "{tmp}/r"], "not a store folder"),
        (["import", "f.csv", "--store", "hf://datasets/org/name", "--source", "s", "--citation", "c",
          "--locator", "l"], "needs a local store"),
    ],
)
def test_cli_mistakes_are_one_line_exit_2(capsys, tmp_path, argv, message):
    a = tmp_path / "a"
    fill_store(a, [1])
    argv = [x.format(a=a, tmp=tmp_path) for x in argv]
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize("sub", ["push", "pull"])
def test_help(capsys, sub):
    with pytest.raises(SystemExit) as e:
        main([sub, "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "--repo" in out and "--remote-dir" in out and "--store" in out
