"""The latency benchmark still runs: a small store (one seed), every page once, both sides."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from dashboard.data import Reader, filters
from dashboard.state import default_selection
from store.api import StoreReader
from store.database import Store

BENCH = Path(__file__).resolve().parents[2] / "bench" / "dashboard_latency.py"


@pytest.mark.slow
def test_bench_builds_its_store_and_times_every_page(tmp_path):
    spec = importlib.util.spec_from_file_location("dashboard_latency", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    runs, rows, built = bench.build_store(tmp_path / "store", seeds=1)
    assert built and runs > 1440 and rows > 100_000
    assert bench.build_store(tmp_path / "store", seeds=1)[2] is False  # reused, not inserted twice
    with Store.open(tmp_path / "store", read_only=True) as store:
        reader = Reader(StoreReader(store))
        options = reader.options()
        sel = default_selection(options, str(tmp_path / "store"))
        pair = tuple(reader.runs(filters(sel, options, targets=("xnli",), intermediates=("mnli",)))["run_id"][:2])
        work = bench.page_work(options, sel, pair)
        baseline = bench.PandasBaseline(store, options, sel, pair)
        for page in (*bench.PAGES, *bench.ON_REQUEST):
            total, data = bench.timed_cold(work[page], store, repeats=1, warmup=0)
            if page == "export":
                assert data[0] == 0  # the page as opened reads nothing: tables and charts wait for a pick
            else:
                assert 0 < data[0] <= total[0]
            if bench.BASELINE_OF[page]:
                getattr(baseline, bench.BASELINE_OF[page])()
        for _, page, change in bench.PICKED:  # another selection, filtered beyond the slice
            total, data = bench.timed_cold(bench.page_work(options, dataclasses.replace(sel, **change), pair)[page],
                                           store, repeats=1, warmup=0)
            assert 0 < data[0] <= total[0]
        from store.derived import cache_dir

        assert {p.suffix for p in cache_dir(tmp_path / "store").iterdir()} >= {".json", ".arrow", ".arrays"}
        bench.clear_derived(tmp_path / "store")
        assert not [p for p in cache_dir(tmp_path / "store").iterdir() if not p.name.startswith(".")]
