"""The Examples benchmark still runs: a small generated store, one pair per target, both sides."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from store.database import Store
from store.pairs import find_pairs

BENCH = Path(__file__).resolve().parents[2] / "bench" / "examples_latency.py"


@pytest.mark.slow
def test_bench_builds_its_store_and_times_one_pair_per_target(tmp_path):
    spec = importlib.util.spec_from_file_location("examples_latency", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.INTERMEDIATES = ("none", "mnli")
    runs, n_preds, built = bench.build_store(tmp_path / "store", seeds=1, examples=600)
    assert built and runs == 6 and n_preds == 3600
    assert bench.build_store(tmp_path / "store", seeds=1, examples=600)[2] is False
    with Store.open(tmp_path / "store", read_only=True) as store:
        pairs = find_pairs(store)
        assert sorted(p.target for p in pairs) == ["udpos", "xnli", "xquad"]
        for p in pairs:
            mine = bench.ours(store, p.run_id)
            theirs = bench.pandas_pair(store, p.run_id, p.baseline_id, p.target)
            assert set(mine.tests["language"]) == set(theirs["tests"])
            # both sides count the same flips and agree on McNemar's p
            assert mine.flips.height == theirs["flips"]
            for row in mine.tests.iter_rows(named=True):
                assert theirs["tests"][row["language"]][1] == pytest.approx(
                    bench.paired.mcnemar_exact(row["gained"], row["lost"]))
