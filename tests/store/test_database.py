import multiprocessing as mp
import subprocess
import sys
import textwrap

import pytest

from store.database import Store, default_store_path, resolve_store_path
from store.errors import StoreError
from store.records import DevScore, Result, Run
from store.shards import list_shards


def make_run(seed=1, intermediate="mnli", target="xnli", value=70.0, model="xlm-roberta-large"):
    run = Run(model=model, intermediate=intermediate, target=target, seed=seed, hparams={"lr": 1e-5},
              dev_scores=(DevScore("intermediate", intermediate, "accuracy", 84.0, 100),) if intermediate not in ("none",) and "+" not in intermediate else ())
    return run, [Result("de", "accuracy", value, n_examples=5010), Result("en", "accuracy", value + 10, n_examples=5010)]


def counts(st):
    q = st.query("SELECT (SELECT count(*) FROM runs WHERE source='runner') AS runs, "
                 "(SELECT count(*) FROM results JOIN runs USING (run_id) WHERE source='runner') AS rows")
    return q["runs"][0], q["rows"][0]


def test_default_location_and_overrides(monkeypatch, tmp_path):
    monkeypatch.delenv("XSTILTS_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_path() == tmp_path / "xdg" / "xstilts" / "store"
    monkeypatch.setenv("XSTILTS_STORE", str(tmp_path / "env"))
    assert resolve_store_path(None) == tmp_path / "env"
    assert resolve_store_path(tmp_path / "flag") == tmp_path / "flag"


def test_same_run_twice_leaves_one_copy(store_dir):
    with Store.open(store_dir, read_only=False) as st:
        run, res = make_run()
        assert st.write_run(run, res) is True
        assert st.write_run(run, res) is False
        assert counts(st) == (1, 2)
        assert len(list_shards(st.runs_dir)) == 1


def test_conflicting_content_under_same_id_fails_and_keeps_the_first(store_dir):
    with Store.open(store_dir, read_only=False) as st:
        run, res = make_run()
        st.write_run(run, res)
        with pytest.raises(StoreError, match="already stored with different results"):
            st.write_run(run, make_run(value=71.0)[1])
        assert st.query("SELECT value FROM results_wide WHERE source='runner' AND language='de'")["value"][0] == 70.0


def test_invalid_run_writes_nothing(store_dir):
    with Store.open(store_dir, read_only=False) as st:
        run, _ = make_run()
        with pytest.raises(StoreError):
            st.write_run(run, [Result("de", "accuracy", 170.0)])
        assert list_shards(st.runs_dir) == {}


def test_read_only_store_refuses_writes(store_dir):
    Store.open(store_dir, read_only=False).close()
    with Store.open(store_dir, read_only=True) as st, pytest.raises(StoreError, match="read-only"):
        st.write_run(*make_run())


def test_store_path_that_is_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        Store.open(f)


def test_index_catches_up_with_shards_written_while_it_was_held(store_dir):
    Store.open(store_dir, read_only=False).close()
    reader = Store.open(store_dir, read_only=True)
    reader.query("SELECT 1")  # holds a read-only connection: writers cannot update the index now
    code = textwrap.dedent(f"""
        from store.database import Store
        from tests.store.test_database import make_run
        st = Store(__import__('pathlib').Path({str(store_dir)!r}), read_only=False)
        from store.shards import write_shard
        run, res = make_run(seed=7)
        write_shard(st.runs_dir, run, res)
        print(st.refresh(wait=False))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # locked: left for the next refresh
    reader.close()
    with Store.open(store_dir, read_only=True) as st:
        assert counts(st) == (1, 2)


def test_writer_killed_mid_write_leaves_no_partial_run(store_dir):
    Store.open(store_dir, read_only=False).close()
    code = textwrap.dedent(f"""
        import os, pyarrow.parquet as pq
        from store import shards
        real = pq.write_table
        def dying(table, where, **kw):
            real(table, where, **kw)
            os._exit(9)  # killed after the bytes are written, before the shard is published
        shards.pq.write_table = dying
        from store.database import Store
        from tests.store.test_database import make_run
        Store.open({str(store_dir)!r}, read_only=False).write_run(*make_run())
    """)
    rc = subprocess.run([sys.executable, "-c", code]).returncode
    assert rc == 9
    with Store.open(store_dir, read_only=False) as st:
        assert counts(st) == (0, 0)
        assert list_shards(st.runs_dir) == {}
        # and the same run can be written afterwards
        assert st.write_run(*make_run()) is True


def _writer(store_dir, worker, n):
    with Store.open(store_dir, read_only=False) as st:
        for i in range(n):
            st.write_run(*make_run(seed=worker * 1000 + i, value=float(i % 90)))


@pytest.mark.slow
def test_eight_concurrent_writers_lose_nothing(store_dir):
    Store.open(store_dir, read_only=False).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(store_dir, w, 50)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * 8
    with Store.open(store_dir, read_only=True) as st:
        assert counts(st) == (400, 800)
        dup = st.query("SELECT count(*) AS n FROM (SELECT run_id FROM runs GROUP BY run_id HAVING count(*) > 1)")
        assert dup["n"][0] == 0
    assert len(list_shards(store_dir / "runs")) == 400


def test_rebuild_gives_the_same_index(store_dir):
    with Store.open(store_dir, read_only=False) as st:
        for s in range(3):
            st.write_run(*make_run(seed=s))
        before = st.query("SELECT * FROM results_wide ORDER BY run_id, language, metric, split")
        st.rebuild()
        after = st.query("SELECT * FROM results_wide ORDER BY run_id, language, metric, split")
    assert before.equals(after)


def test_reader_opens_while_another_process_holds_the_index(store_dir, capfd):
    Store.open(store_dir, read_only=False).close()
    holder = Store.open(store_dir, read_only=True)
    holder.query("SELECT 1")
    from store.shards import write_shard

    run, res = make_run(seed=11)
    write_shard(store_dir / "runs", run, res)  # a new shard the index cannot take in yet
    with Store.open(store_dir, read_only=True) as st:  # does not fail, says why the run is missing
        assert counts(st) == (0, 0)
    assert "held by another process" in capfd.readouterr().err
    holder.close()
    with Store.open(store_dir, read_only=True) as st:
        assert counts(st) == (1, 2)


def test_a_reader_beside_a_holder_never_takes_the_writers_lock(store_dir, capfd, monkeypatch):
    with Store.open(store_dir, read_only=False) as st:
        st.write_run(*make_run(seed=3))
    holder = Store.open(store_dir, read_only=True)  # as the dashboard does, for as long as it serves
    holder.query("SELECT 1")

    def no_write(*a, **k):
        raise AssertionError("a reader with nothing new to index opened the index for writing")

    monkeypatch.setattr(Store, "refresh", no_write)
    with Store.open(store_dir, read_only=True) as st:
        assert counts(st) == (1, 2)
    assert capfd.readouterr().err == ""
    holder.close()


def test_a_read_only_open_never_creates_a_store(tmp_path):
    with pytest.raises(StoreError, match="no store at .*store build --store"):
        Store.open(tmp_path / "typo", read_only=True, create=False)
    assert not (tmp_path / "typo").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="no store at"):
        Store.open(tmp_path / "empty", read_only=True, create=False)
    assert list((tmp_path / "empty").iterdir()) == []


@pytest.mark.slow
def test_store_readers_bench_runs_and_prints_its_ratio(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "store_readers", Path(__file__).resolve().parents[2] / "bench" / "store_readers.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    r = bench.measure(bench.build(tmp_path / "store", runs=8), repeats=1)
    print(f"store info beside a dashboard / alone: {r['ratio']:.2f}x")  # a figure, not an assertion
    assert r["warnings"] == 0  # the reader neither waited for the index nor gave up on it
