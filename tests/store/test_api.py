"""The store's public read API (:mod:`store.api`): typed reads on the bundled store and on a store
with runs of ours, values reaching SQL as parameters only."""

from __future__ import annotations

import polars as pl
import pytest

from store.api import Filters, Offered, StoreError, StoreReader, is_store_folder, prepare_store
from store.database import Store
from store.records import Result, Run

HOSTILE = "x' OR '1'='1"


def _run(seed: int, intermediate: str = "mnli") -> tuple[Run, list[Result]]:
    run = Run(model="xlm-roberta-large", intermediate=intermediate, target="xnli", seed=seed)
    return run, [Result(language=lang, metric="accuracy", value=70.0 + seed, n_examples=5010) for lang in ("de", "fr")]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "store"
    with Store.open(path, read_only=False) as st:
        for seed in (1, 2):
            st.write_run(*_run(seed))
        st.write_run(*_run(1, "none"))
    return path


@pytest.fixture
def reader(store_path):
    with StoreReader.open(store_path) as r:
        yield r


def test_offered_lists_what_the_store_holds(reader):
    offered = reader.offered()
    assert isinstance(offered, Offered)
    assert "xlm-roberta-large" in offered.models and "accuracy" in offered.metrics
    assert offered.settings[0] == "zero-shot" and "runner" not in offered.published_sources
    assert "rembert_t16" in offered.published_sources and "Indo-European" in offered.families


def test_sources_count_runs_and_rows_like_store_info(reader):
    src = reader.sources()
    assert src["source"][0] == "runner"  # ours first
    ours = src.row(0, named=True)
    assert (ours["n_runs"], ours["n_results"], ours["splits"], ours["settings"]) == (3, 6, "test", "zero-shot")
    t16 = src.filter(pl.col("source") == "rembert_t16").row(0, named=True)
    assert t16["n_results"] > 0 and t16["citation"]
    assert reader.orphan_runs() == 0


def test_source_counts_are_kept_per_store_state_and_follow_a_new_run(tmp_path):
    from store.derived import cache_dir

    with Store.open(tmp_path, read_only=False) as st:
        st.write_run(*_run(1))
        reader = StoreReader(st)
        assert reader.sources().row(0, named=True)["n_runs"] == 1
        assert reader.sources().row(0, named=True)["n_runs"] == 1 and list(cache_dir(tmp_path).glob("sources-*.arrow"))
        st.write_run(*_run(2))
        ours = reader.sources().row(0, named=True)
        assert (ours["source"], ours["n_runs"], ours["n_results"]) == ("runner", 2, 4)
        assert len(list(cache_dir(tmp_path).glob("sources-*.arrow"))) == 1  # the old state's entry is gone


def test_runs_and_one_run(reader):
    runs = reader.runs(Filters(sources=("runner",), intermediates=("mnli",)))
    assert runs.height == 2 and set(runs["seed"]) == {1, 2} and set(runs["n_results"]) == {2}
    one = runs["run_id"][0]
    assert reader.run_record(one)["run_id"] == one and reader.run_record(HOSTILE) == {}
    assert reader.run_results(one)["language"].to_list() == ["de", "fr"]
    assert reader.runs_by_id((one, HOSTILE))["run_id"].to_list() == [one]
    assert reader.runs(Filters(sources=("runner",)), limit=1).height == 1


def test_analysis_through_the_reader(reader):
    g = reader.gains(Filters(sources=("runner",)))
    assert set(g["intermediate"]) == {"mnli"} and g["gain"].to_list() == pytest.approx([0.5, 0.5])
    assert reader.count_single_task_runs("xlm-roberta-large", "zero-shot") == 2
    assert reader.count_single_task_runs(HOSTILE, "zero-shot") == 0
    assert reader.targets_of_types(("question answering",))[:2] == ("xquad", "mlqa")
    assert reader.study_design().seeds == (1, 2, 3)
    assert reader.paper_table("gains", Filters(sources=("runner",))).frame.height > 0


def test_hostile_values_are_parameters(reader):
    assert reader.runs(Filters(models=(HOSTILE,), targets=(HOSTILE,))).is_empty()
    assert reader.gains(Filters(families=(HOSTILE,))).is_empty()


def test_a_reader_never_creates_a_store(tmp_path, store_path):
    assert not is_store_folder(tmp_path / "nothing")
    with pytest.raises(StoreError, match="no store at"):
        StoreReader.open(tmp_path / "nothing")
    with pytest.raises(StoreError, match="store build"):
        prepare_store(str(tmp_path / "nothing"))
    assert not (tmp_path / "nothing").exists()
    assert prepare_store(str(store_path)) == store_path and is_store_folder(store_path)
