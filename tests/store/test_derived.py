"""The derived cache: computed once per store state, read back after, never stale, never pickle."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from store import derived
from store.claims import checks_frame, claims_frame, evaluate, render
from store.database import Store
from store.shards import write_shard
from tests.fixtures.sync import fill_store, make_run


class Counter:
    """A computation that counts its calls."""

    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


def test_computed_once_per_state_and_read_back_by_another_process_s_store(tmp_path):
    fill_store(tmp_path, [1])
    f = Counter({"rows": (1, 2.5, None), "frame": pl.DataFrame({"a": [1, 2]})})
    with Store.open(tmp_path) as st:
        first = derived.memo(st, "thing", ("m",), f)
        again = derived.memo(st, "thing", ("m",), f)
    with Store.open(tmp_path) as st:  # a new connection (another render, process or server)
        third = derived.memo(st, "thing", ("m",), f)
    assert f.calls == 1
    for got in (again, third):
        assert got["rows"] == (1, 2.5, None) and got["frame"].equals(first["frame"])
    assert [p.name.split("-")[0] for p in derived.cache_dir(tmp_path).glob("*.json")] == ["thing"]
    assert not (tmp_path / "cache").exists() and derived.cache_dir(tmp_path) != derived.cache_dir(tmp_path / "x")
    with Store.open(tmp_path) as st:
        derived.memo(st, "thing", ("other",), f)  # other arguments: another entry
    assert f.calls == 2


def test_a_new_run_changes_the_state_and_the_old_entry_goes(tmp_path):
    fill_store(tmp_path, [1])
    f = Counter(1)
    with Store.open(tmp_path) as st:
        before = derived.state_key(st)
        derived.memo(st, "n", (), f)
    fill_store(tmp_path, [2])
    with Store.open(tmp_path) as st:
        after = derived.state_key(st)
        derived.memo(st, "n", (), f)
    assert before != after and f.calls == 2
    entries = list(derived.cache_dir(tmp_path).glob("*.json"))
    assert len(entries) == 1 and after in entries[0].name


def test_the_state_covers_run_content_and_code(tmp_path, monkeypatch):
    """Same run ids with other numbers (a rebuilt store), or other code, are other states."""
    a, b = tmp_path / "a", tmp_path / "b"
    fill_store(a, [1], value=70.0)
    fill_store(b, [1], value=71.0)
    with Store.open(a) as sa, Store.open(b) as sb:
        assert derived.state_key(sa) != derived.state_key(sb)
        key = derived.state_key(sa)
        monkeypatch.setattr(derived, "code_fingerprint", lambda: "another release")
        assert derived.state_key(sa) != key


@pytest.mark.slow
def test_claims_round_trip_exactly(tmp_path):
    """What the Claims page keeps per state renders exactly as the claims computed afresh."""
    from tests.fixtures.claims_design import DESIGN

    for run, results in DESIGN:
        write_shard(tmp_path / "runs", run.stamped(), results)
    with Store.open(tmp_path) as st:
        fresh = evaluate(st, model="xlm-roberta-large")
        kept = derived.memo(st, "claims", ("xlm-roberta-large",), lambda: evaluate(st, model="xlm-roberta-large"))
        back = derived.memo(st, "claims", ("xlm-roberta-large",), lambda: pytest.fail("not read back"))
    assert len(back) == len(fresh) == len(kept)
    for fmt in ("text", "markdown", "json", "latex"):
        assert render(back, fmt) == render(fresh, fmt)
    assert claims_frame(back).equals(claims_frame(fresh)) and checks_frame(back).equals(checks_frame(fresh))
    assert [type(r) for r in back] == [type(r) for r in fresh]
    assert [r.checks[0].measure.detail for r in back] == [r.checks[0].measure.detail for r in fresh]


def test_encoding_round_trips_and_refuses_what_it_does_not_cover():
    value = {"a": (1, -2.5, math.inf), ("k", 1): [None, True, "x"], "__odd": 1, "n": np.int64(3), "f": np.float64(0.5)}
    back = derived.decode(json.loads(json.dumps(derived.encode(value))))
    assert back == {"a": (1, -2.5, math.inf), ("k", 1): [None, True, "x"], "__odd": 1, "n": 3, "f": 0.5}
    assert math.isnan(derived.decode(derived.encode(float("nan"))))
    with pytest.raises(TypeError):
        derived.encode(np.zeros(3))  # not kept (the value is still returned by memo)
    with pytest.raises(TypeError):
        derived.encode(object())


def test_many_dicts_with_the_same_keys_round_trip_as_records():
    """Per-run details (thousands of dicts with the same keys) are kept as one key list and value rows."""
    rows = [{"item": f"run{i}", "expected": ["a", "b"], "recorded": None if i % 2 else (i, "x"), "n": i} for i in range(20)]
    mixed = rows[:9] + [{"item": "other", "n": 1}]  # not all the same keys: kept dict by dict
    few = rows[:3]
    value = {"rows": rows, "mixed": mixed, "few": few, "odd": [{"__x": 1}] * 10}
    encoded = derived.encode(value)
    assert "__records__" in encoded["rows"] and isinstance(encoded["mixed"], list) and isinstance(encoded["few"], list)
    assert isinstance(encoded["odd"], list)
    assert derived.decode(json.loads(json.dumps(encoded))) == value


@pytest.mark.parametrize("planted", [
    {"__dataclass__": "os:system", "fields": {"command": "touch PWNED"}},
    {"__dataclass__": "subprocess:Popen", "fields": {}},
    {"__dataclass__": "store.derived:os", "fields": {}},
    "not json at all {",
])
def test_a_planted_or_damaged_entry_is_never_trusted(tmp_path, planted):
    fill_store(tmp_path, [1])
    with Store.open(tmp_path) as st:
        derived.memo(st, "x", (), lambda: 1)
        (entry,) = derived.cache_dir(tmp_path).glob("x-*.json")
        entry.write_text(planted if isinstance(planted, str) else json.dumps(planted))
        assert derived.memo(st, "x", (), lambda: 2) == 2  # recomputed, and replaced
        assert derived.memo(st, "x", (), lambda: 3) == 2
    assert not (tmp_path / "PWNED").exists()


def test_values_that_cannot_be_kept_and_unwritable_folders_still_return(tmp_path, monkeypatch):
    fill_store(tmp_path, [1])
    with Store.open(tmp_path) as st:
        arr = derived.memo(st, "arr", (), lambda: np.arange(3))
        assert list(arr) == [0, 1, 2] and not list(derived.cache_dir(tmp_path).glob("arr-*"))

        def no_space(*a, **k):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(derived.tempfile, "mkstemp", no_space)
        assert derived.memo(st, "y", (), lambda: (1, 2)) == (1, 2)


def test_docstring_example():
    import doctest

    assert doctest.testmod(derived).failed == 0


def test_the_state_query_runs_once_per_index_connection_and_again_after_a_write(tmp_path):
    """Nothing can change the index under an open connection; a write drops it, so the key is recomputed."""
    fill_store(tmp_path, [1])
    with Store.open(tmp_path, read_only=False) as st:
        first = derived.state_key(st)
        calls = []
        real = st.query
        st.query = lambda *a, **k: (calls.append(a[0]), real(*a, **k))[1]
        assert derived.state_key(st) == first and calls == []  # the same connection: not asked again
        st.query = real
        st.write_run(*make_run(2))
        assert derived.state_key(st) != first


def test_a_frame_is_kept_as_arrow_read_back_equal_and_a_damaged_one_is_recomputed(tmp_path):
    frame = pl.DataFrame({"a": ["x", None, "y"], "b": [1.5, 2.0, float("nan")], "c": [True, False, None]})
    calls = []

    def compute():
        calls.append(1)
        return frame

    with Store.open(tmp_path, read_only=False) as st:
        assert derived.memo_frame(st, "frame", (1,), compute).equals(frame)
        assert derived.memo_frame(st, "frame", (1,), compute).equals(frame) and len(calls) == 1  # read back
        (path,) = derived.cache_dir(tmp_path).glob("frame-*.arrow")
        path.write_bytes(b"not arrow")
        assert derived.memo_frame(st, "frame", (1,), compute).equals(frame) and len(calls) == 2
        assert derived.memo_frame(st, "frame", (1,), compute).equals(frame) and len(calls) == 2  # replaced


def test_arrays_are_kept_read_back_equal_and_read_only_and_a_damaged_file_is_recomputed(tmp_path):
    import io

    arrays = {"i": np.arange(7, dtype=np.int64), "f": np.array([1.5, np.nan]), "s": np.array(["xnli", "de"]),
              "b": np.array(True), "u": np.ones((3, 2), np.uint8), "empty": np.zeros(0, np.int64)}
    calls = []

    def compute():
        calls.append(1)
        return arrays

    def same(got):
        return got.keys() == arrays.keys() and all(
            got[k].dtype == a.dtype and got[k].shape == a.shape and np.array_equal(got[k], a, equal_nan=a.dtype.kind == "f")
            for k, a in arrays.items())

    with Store.open(tmp_path, read_only=False) as st:
        assert same(derived.memo_arrays(st, "codes", (1,), compute))
        kept = derived.memo_arrays(st, "codes", (1,), compute)
        assert same(kept) and len(calls) == 1  # read back
        assert not kept["i"].flags.writeable
        (path,) = derived.cache_dir(tmp_path).glob("codes-*.arrays")
        path.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{bad")
        assert same(derived.memo_arrays(st, "codes", (1,), compute)) and len(calls) == 2
        assert same(derived.memo_arrays(st, "codes", (1,), compute)) and len(calls) == 2  # replaced
        with pytest.raises(TypeError):
            derived._write_arrays(io.BytesIO(), {"o": np.array([object()])})


def test_past_the_size_limit_the_least_recently_used_entries_go(tmp_path, monkeypatch):
    import os

    frame = pl.DataFrame({"x": list(range(5_000))})  # ~40 kB as Arrow
    monkeypatch.setenv(derived.LIMIT_VAR, str(100_000 / 2**20))  # room for two
    with Store.open(tmp_path, read_only=False) as st:
        def path(i):
            return derived._entry(tmp_path, st, "slice", (i,), None, ".arrow")[1]

        def read(i):
            calls = []
            assert derived.memo_frame(st, "slice", (i,), lambda: calls.append(1) or frame).equals(frame)
            return bool(calls)  # computed (not found)

        assert read(0) and read(1)
        os.utime(path(0), (1_000, 1_000))
        os.utime(path(1), (2_000, 2_000))
        assert not read(0)  # read back: entry 0 is now the most recently used
        assert read(2)  # a third entry: past the limit, the least recently used (1) goes
        assert sorted(p.name for p in derived.cache_dir(tmp_path).glob("slice-*.arrow")) == sorted(
            [path(0).name, path(2).name])
        assert not read(0) and read(1)
