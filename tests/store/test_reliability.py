"""Reliability of the store (issue 17): concurrent rebuilds, values that used to break a store,
readers without write access, leftovers of killed writers, damaged files, safe exports."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from store import fs
from store.cli import main
from store.database import Store
from store.errors import StoreError
from store.published import Source
from store.records import SEED_MAX, Result, Run
from store.shards import list_shards, write_shard
from store.validation import validate_store
from tests.store.test_database import counts, make_run

REPO = Path(__file__).resolve().parents[2]
HEADER = "model,intermediate,target,language,metric,value,seed,n_examples\n"


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def store_files(root: Path) -> dict[str, bytes]:
    """Every file a user could lose (the derived index and its lock aside), by relative path."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(("index.duckdb", fs.LOCK_NAME))
    }


def one_error_line(rc: int, err: str) -> bool:
    return rc == 2 and err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err


# ---------------------------------------------------------------------- concurrency
def _writer(store_dir, worker, n, queue):
    try:
        with Store.open(store_dir, read_only=False) as st:  # a fresh store: every writer rebuilds at once
            for i in range(n):
                st.write_run(*make_run(seed=worker * 1000 + i, value=float(i % 90)))
        queue.put((worker, ""))
    except BaseException as e:  # noqa: BLE001 - reported to the test, which fails on it
        queue.put((worker, f"{type(e).__name__}: {e}"))


def _rebuilder(store_dir, stop, queue):
    rebuilt = 0
    try:
        while not stop.is_set():
            with Store.open(store_dir, read_only=False) as st:
                st.rebuild()
            rebuilt += 1
        queue.put(("rebuilder", rebuilt))
    except BaseException as e:  # noqa: BLE001
        queue.put(("rebuilder", f"{type(e).__name__}: {e}"))


@pytest.mark.slow
def test_rebuild_loop_beside_eight_writers_no_writer_fails_and_counts_are_exact(store_dir):
    ctx = mp.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    writers = [ctx.Process(target=_writer, args=(store_dir, w, 25, queue)) for w in range(8)]
    rebuilder = ctx.Process(target=_rebuilder, args=(store_dir, stop, queue))
    for p in (*writers, rebuilder):
        p.start()
    reports = dict(queue.get(timeout=600) for _ in writers)
    stop.set()
    rebuilt = queue.get(timeout=300)[1]
    for p in (*writers, rebuilder):
        p.join(timeout=60)
    assert reports == {w: "" for w in range(8)}
    assert isinstance(rebuilt, int) and rebuilt >= 1, rebuilt
    assert [p.exitcode for p in (*writers, rebuilder)] == [0] * 9
    with Store.open(store_dir, read_only=True) as st:
        assert counts(st) == (200, 400)
    assert len(list_shards(store_dir / "runs")) == 200
    assert validate_store(store_dir) == []


def test_writer_open_does_not_give_up_while_a_reader_holds_the_index(store_dir, monkeypatch, capfd):
    Store.open(store_dir, read_only=False).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time, duckdb
            con = duckdb.connect({str(store_dir / 'index.duckdb')!r}, read_only=True)
            print('holding', flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        monkeypatch.setattr("store.database._WRITER_WAIT_S", 0.3)
        write_shard(store_dir / "runs", *make_run(seed=4))  # a shard the index cannot take in now
        with Store.open(store_dir, read_only=False) as st:  # waits briefly, then goes on
            assert st.write_run(*make_run(seed=5)) is True
        assert "held by another process" in capfd.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    with Store.open(store_dir) as st:
        assert counts(st) == (2, 4)


def test_a_damaged_index_is_rebuilt_and_the_writer_carries_on(store_dir):
    with Store.open(store_dir, read_only=False) as st:
        st.write_run(*make_run(seed=1))
    (store_dir / "index.duckdb").write_bytes(b"not a database" * 100)
    Path(f"{store_dir / 'index.duckdb'}.wal").write_bytes(b"a WAL of another file")
    with Store.open(store_dir, read_only=False) as st:
        assert st.write_run(*make_run(seed=2)) is True
        assert counts(st) == (2, 4)


def _register(store_dir, worker, keys, same, queue):
    out = {}
    with Store.open(store_dir, read_only=False) as st:
        for k in keys:
            citation = "Lab, 2026" if same else f"Lab, 2026 (worker {worker})"
            try:
                st.add_source(Source(k, citation, "t.csv", "imported", "t.csv", ""))
                out[k] = citation
            except StoreError as e:
                out[k] = f"refused: {e}"
    queue.put((worker, out))


@pytest.mark.slow
def test_add_source_race_never_crashes_or_replaces_a_citation(store_dir):
    Store.open(store_dir, read_only=False).close()
    ctx = mp.get_context("spawn")
    for same in (True, False):
        queue = ctx.Queue()
        keys = [f"k{'s' if same else 'd'}{i}" for i in range(40)]
        procs = [ctx.Process(target=_register, args=(store_dir, w, keys, same, queue)) for w in range(6)]
        for p in procs:
            p.start()
        outs = dict(queue.get(timeout=300) for _ in procs)
        for p in procs:
            p.join(timeout=60)
        assert [p.exitcode for p in procs] == [0] * 6
        for k in keys:
            on_disk = json.loads((store_dir / "sources" / f"{k}.json").read_text())["citation"]
            winners = [out[k] for out in outs.values() if not out[k].startswith("refused")]
            if same:
                assert winners == ["Lab, 2026"] * 6
            else:  # exactly one citation is registered, and whoever was told "ok" is the one on disk
                assert winners == [on_disk], (k, winners, on_disk)
    assert not [p for p in (store_dir / "sources").iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------------- values that broke a store
@pytest.mark.parametrize(
    "row, message",
    [
        ("m,none,xnli,de,accuracy,70,99999999999999999999,", "seed '99999999999999999999' is out of range"),
        ("m,none,xnli,de,accuracy,70,-1,", "seed '-1' is out of range"),
        ("m,none,xnli,de,accuracy,70,1,99999999999999999999999", "n_examples '99999999999999999999999' is out of range"),
        ("m,none,xnli,de,accuracy,70,1,-5", "n_examples '-5' is out of range"),
        ("M" * 2_000_000 + ",none,xnli,de,accuracy,70,1,", "model 'MMMMMMMM"),
        ("m,none,xnli,de" + "e" * 600 + ",accuracy,70,1,", "too long"),
    ],
    ids=["huge-seed", "negative-seed", "huge-n_examples", "negative-n_examples", "2MB-model-name", "long-language"],
)
def test_values_the_index_cannot_hold_are_refused_before_anything_is_written(capsys, store_dir, tmp_path, row, message):
    Store.open(store_dir, read_only=False).close()
    ok = tmp_path / "ok.csv"
    ok.write_text(HEADER + "m,none,xnli,de,accuracy,70,1,5010\n")
    assert cli(capsys, "import", ok, "--store", store_dir, "--source", "lab", "--citation", "c", "--locator", "l")[0] == 0
    before = store_files(store_dir)
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + row + "\n")
    rc, _, err = cli(capsys, "import", bad, "--store", store_dir, "--source", "lab2", "--citation", "c", "--locator", "l")
    assert one_error_line(rc, err) and message in err, err
    assert len(err) < 400
    assert store_files(store_dir) == before
    for command in (["info"], ["validate"], ["build"], ["export", "--table", "per-language"]):
        assert cli(capsys, *command, "--store", store_dir)[0] == 0, command


def test_huge_seed_into_a_fresh_store_leaves_no_store_at_all(capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "m,none,xnli,de,accuracy,70,99999999999999999999,\n")
    root = tmp_path / "fresh"
    rc, _, err = cli(capsys, "import", bad, "--store", root, "--source", "lab", "--citation", "c", "--locator", "l")
    assert one_error_line(rc, err) and not root.exists()


def test_runner_seed_range_matches_the_index_column(store_dir):
    with Store.open(store_dir, read_only=False) as st:
        assert st.write_run(*make_run(seed=SEED_MAX))
        with pytest.raises(StoreError, match="out of range"):
            st.write_run(*make_run(seed=SEED_MAX + 1))
        assert counts(st) == (1, 2)


def test_identical_reimport_from_a_differently_named_file_is_a_no_op(capsys, store_dir, tmp_path):
    Store.open(store_dir, read_only=False).close()
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(HEADER + "m,none,xnli,de,accuracy,70,1,5010\n")
    b.write_bytes(a.read_bytes())
    args = ["--store", store_dir, "--source", "lab", "--citation", "c", "--locator", "l"]
    assert cli(capsys, "import", a, *args)[0] == 0
    rc, out, err = cli(capsys, "import", b, *args)
    assert rc == 0 and "(0 new)" in out, err
    rc, _, err = cli(capsys, "import", b, "--store", store_dir, "--source", "lab", "--citation", "other", "--locator", "l")
    assert one_error_line(rc, err) and "already registered with citation 'c'" in err


def test_bulk_import_refreshes_the_index_once(capsys, store_dir, tmp_path, monkeypatch):
    Store.open(store_dir, read_only=False).close()
    rows = "".join(f"m,none,xnli,de,accuracy,70,{seed},5010\n" for seed in range(60))
    f = tmp_path / "many.csv"
    f.write_text(HEADER + rows)
    calls = []
    real = Store.refresh
    monkeypatch.setattr(Store, "refresh", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    rc, out, _ = cli(capsys, "import", f, "--store", store_dir, "--source", "lab", "--citation", "c", "--locator", "l")
    assert rc == 0 and "(60 new)" in out
    assert len(calls) == 2  # once on opening, once after all 60 shards
    with Store.open(store_dir) as st:
        assert st.query("SELECT count(*) AS n FROM runs WHERE source = 'lab'")["n"][0] == 60


# ---------------------------------------------------------------------- readers without write access
_NO_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner,-chown",
                "--inh-caps=-dac_override,-dac_read_search,-fowner,-chown"]


def _without_override() -> list[str]:
    """A command prefix under which file modes apply (root keeps its uid but loses the bypass)."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.fail("running as root without setpriv: cannot drop the permission bypass to test this")
    return _NO_OVERRIDE


def _as_other_user(root: Path) -> list[str]:
    """A command prefix that runs as a user who cannot write ``root`` (and the files are not theirs)."""
    if os.geteuid() == 0:
        prefix = _without_override()
        for p in [root, *root.rglob("*")]:
            os.chown(p, 65534, 65534, follow_symlinks=False)
        # uid 0 without the capabilities that bypass file permissions: files owned by nobody
        # (mode 0644, folders 0755) are readable and not writable, as for any other user
        return prefix
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return []


@pytest.mark.parametrize("stale_index", [False, True], ids=["index-current", "index-behind-shards"])
def test_a_store_others_own_answers_info_and_export(store_dir, tmp_path, stale_index):
    with Store.open(store_dir, read_only=False) as st:
        for seed in (1, 2):
            st.write_run(*make_run(seed=seed))
    if stale_index:  # a shard the index has not seen: the reader builds a private index
        write_shard(store_dir / "runs", *make_run(seed=3))
    os.umask(0o022)
    prefix = _as_other_user(store_dir)
    before = store_files(store_dir)
    before_index = (store_dir / "index.duckdb").read_bytes()
    env = {**os.environ, "PYTHONPATH": str(REPO), "XSTILTS_STORE": str(tmp_path / "unused")}
    try:
        for argv in (["info"], ["export", "--table", "per-language", "--source", "runner", "--format", "csv"],
                     ["validate"], ["claims", "--claim", "c5"]):
            p = subprocess.run([*prefix, sys.executable, "-m", "store.cli", *argv, "--store", str(store_dir)],
                               capture_output=True, text=True, env=env, timeout=120)
            assert p.returncode == 0, (argv, p.stderr)
            assert "Traceback" not in p.stderr and "Permission" not in p.stderr, p.stderr
            if argv[0] == "info":
                runner_line = next(line for line in p.stdout.splitlines() if line.split()[:1] == ["runner"])
                assert runner_line.split()[1] == str(6 if stale_index else 4), p.stdout
            if argv[0] == "export":
                assert p.stdout.startswith("source,model") and "xlm-roberta-large" in p.stdout
        assert store_files(store_dir) == before
        assert (store_dir / "index.duckdb").read_bytes() == before_index
    finally:
        if os.geteuid() == 0:
            for p in [store_dir, *store_dir.rglob("*")]:
                os.chown(p, 0, 0, follow_symlinks=False)
        for p in [store_dir, *store_dir.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_shards_sources_and_index_are_group_readable(store_dir):
    old = os.umask(0o002)  # a group-shared store
    try:
        with Store.open(store_dir, read_only=False) as st:
            st.add_source(Source("lab", "c", "l", "imported", "f.csv", ""))
            st.write_run(*make_run(seed=1))
            st.write_run(Run(model="m", intermediate="none", target="xnli", seed=1, source="lab"),
                         [Result("de", "accuracy", 60.0)])
        files = [*list_shards(store_dir / "runs").values(), store_dir / "sources" / "lab.json", store_dir / "index.duckdb"]
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) == 0o664, p
    finally:
        os.umask(old)


# ---------------------------------------------------------------------- leftovers and damaged files
def test_stale_temporary_files_are_listed_and_removed_by_validate_fix(capsys, store_dir):
    Store.open(store_dir, read_only=False).close()
    code = textwrap.dedent(f"""
        import os, pyarrow.parquet as pq
        from store import shards
        real = pq.write_table
        def dying(table, where, **kw):
            real(table, where, **kw)
            os._exit(9)  # SIGKILL-like: after the bytes, before the shard is published
        shards.pq.write_table = dying
        from store.database import Store
        from tests.store.test_database import make_run
        Store.open({str(store_dir)!r}, read_only=False).write_run(*make_run())
    """)
    assert subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)}).returncode == 9
    # a killed rebuild's files, and a live writer's temporary file (this process): never removed
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    index_tmp = store_dir / fs.temp_name("index", ".duckdb").replace(f"-{os.getpid()}-", f"-{pid}-")
    index_tmp.write_bytes(b"x")
    Path(f"{index_tmp}.wal").write_bytes(b"x")
    live = store_dir / "runs" / fs.temp_name("tmp", ".parquet")
    live.write_bytes(b"being written")
    old_style = store_dir / "runs" / ".tmp-abcd1234.parquet"  # an older version's name: judged by age
    old_style.write_bytes(b"x")
    os.utime(old_style, (time.time() - 2 * fs.STALE_AFTER_S,) * 2)
    leftovers = {p.name for p in fs.stale_files(store_dir)}
    assert len(leftovers) == 4 and live.name not in leftovers
    rc, out, _ = cli(capsys, "validate", "--store", store_dir)
    assert rc == 1 and out.count("left by a killed writer") == 4
    rc, out, _ = cli(capsys, "validate", "--store", store_dir, "--fix")
    assert rc == 0 and out.count("removed") == 4
    assert fs.stale_files(store_dir) == [] and live.exists()


def test_writer_open_cleans_leftovers_of_dead_writers(store_dir):
    Store.open(store_dir, read_only=False).close()
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout)
    left = store_dir / "runs" / fs.temp_name("tmp", ".parquet").replace(f"-{os.getpid()}-", f"-{dead}-")
    left.parent.mkdir(exist_ok=True)
    left.write_bytes(b"x")
    Store.open(store_dir).close()  # a reader never deletes anything
    assert left.exists()
    Store.open(store_dir, read_only=False).close()
    assert not left.exists()


@pytest.mark.parametrize("kind", ["garbage-shard", "garbage-source", "misnamed-source", "bad-json-fields"])
def test_damaged_files_are_listed_by_validate_and_skipped_by_build(capsys, store_dir, kind):
    with Store.open(store_dir, read_only=False) as st:
        st.write_run(*make_run(seed=1))
    (store_dir / "sources").mkdir(exist_ok=True)
    bad = {
        "garbage-shard": (store_dir / "runs" / "mnli__xnli__s9__000000000000.parquet", b"PAR1 garbage"),
        "garbage-source": (store_dir / "sources" / "lab.json", b"{not json"),
        "misnamed-source": (store_dir / "sources" / "lab.json", b'{"source": "other", "citation": "c", "locator": "l", '
                                                                 b'"quality": "imported", "file": "f", "notes": ""}'),
        "bad-json-fields": (store_dir / "sources" / "lab.json", b'{"source": "lab", "oops": 1}'),
    }[kind]
    bad[0].write_bytes(bad[1])
    rc, out, _ = cli(capsys, "validate", "--store", store_dir)
    assert rc == 1 and bad[0].name in out and "Traceback" not in out
    rc, out, err = cli(capsys, "build", "--store", store_dir)
    assert rc == 0 and f"skipped {bad[0].parent.name}/{bad[0].name}" in err
    for argv in (["info"], ["export", "--table", "per-language", "--source", "runner"]):
        rc, out, _ = cli(capsys, *argv, "--store", store_dir)
        assert rc == 0, argv
    with Store.open(store_dir, read_only=False) as st:  # writers carry on beside it
        assert st.write_run(*make_run(seed=2))
        assert counts(st) == (2, 4)


# ---------------------------------------------------------------------- exports
def test_export_output_errors_are_one_line(capsys, store_dir, tmp_path):
    Store.open(store_dir).close()
    locked = tmp_path / "locked.csv"
    locked.write_text("keep")
    locked.chmod(0o444)
    for out in (tmp_path / "missing" / "t.csv", tmp_path):
        rc, _, err = cli(capsys, "export", "--store", store_dir, "--format", "csv", "-o", out)
        assert one_error_line(rc, err), (out, err)
    p = subprocess.run([*_without_override(), sys.executable, "-m", "store.cli", "export", "--store", str(store_dir),
                        "--format", "csv", "-o", str(locked)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert one_error_line(p.returncode, p.stderr) and "not writable" in p.stderr, p.stderr
    assert locked.read_text() == "keep"


def test_csv_export_neutralises_formulas_and_markdown_escapes_pipes(capsys, store_dir):
    evil = "=cmd|' /C calc'!A0"
    with Store.open(store_dir, read_only=False) as st:
        for model in (evil, "+1", "@SUM(A1)", "-2", "a|b"):
            st.write_run(Run(model=model, intermediate="none", target="pawsx", seed=1), [Result("de", "accuracy", 60.0)])
    picks = [f"--model={m}" for m in (evil, "+1", "@SUM(A1)", "-2", "a|b")]
    rc, out, _ = cli(capsys, "export", "--store", store_dir, "--source", "runner", "--format", "csv", "--table",
                     "per-language", *picks)
    assert rc == 0
    models = pl.read_csv(out.encode())["model"].to_list()
    assert sorted(models) == sorted(["'" + evil, "'+1", "'@SUM(A1)", "'-2", "a|b"])
    assert not any(line.startswith(("=", "+", "-", "@")) for line in out.splitlines())
    rc, out, _ = cli(capsys, "export", "--store", store_dir, "--source", "runner", "--table", "per-language", *picks)
    assert rc == 0 and r"=cmd\|' /C calc'!A0" in out and r"a\|b" in out
    header_cells = out.splitlines()[0].count(" | ")
    rows = [line for line in out.splitlines()[2:] if line.startswith("|")]
    assert len(rows) == 5 and all(line.replace(r"\|", "").count(" | ") == header_cells for line in rows)


def test_duplicate_value_header_is_refused(capsys, store_dir, tmp_path):
    Store.open(store_dir, read_only=False).close()
    f = tmp_path / "dup.csv"
    f.write_text("model,intermediate,target,language,metric,value,value\nm,none,xnli,de,accuracy,70,80\n")
    rc, _, err = cli(capsys, "import", f, "--store", store_dir, "--source", "lab", "--citation", "c", "--locator", "l")
    assert one_error_line(rc, err) and "'value' more than once" in err
