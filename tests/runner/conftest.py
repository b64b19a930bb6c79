"""Session fixtures of the runner tests: a tiny model and a local copy of every Hub split, built offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.smoke.fixtures import build_model
from tests.fixtures.mirror import build_corpus, build_full_mirror, build_translated
from tests.fixtures.runs import FAST

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="session", autouse=True)
def offline_env(tmp_path_factory):
    """No network, and a private datasets cache, for the whole session."""
    saved = {k: os.environ.get(k) for k in (*OFFLINE, "HF_HOME", "XSTILTS_STORE", "XSTILTS_DATA_DIR", "XSTILTS_WORK_DIR")}
    os.environ.update(OFFLINE)
    os.environ["HF_HOME"] = str(tmp_path_factory.mktemp("hf_home"))
    for k in ("XSTILTS_STORE", "XSTILTS_DATA_DIR", "XSTILTS_WORK_DIR"):
        os.environ.pop(k, None)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def fixture_data(tmp_path_factory) -> Path:
    """``--data-dir``: every declared split in its Hub schema and path, plus ``ccgbank/``."""
    return build_full_mirror(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A random 2-layer, hidden-64 XLM-R with a locally trained tokenizer."""
    return build_model(tmp_path_factory.mktemp("model") / "tiny-xlmr")


@pytest.fixture()
def run_args(fixture_data, tiny_model, tmp_path):
    """Builds ``runner run`` arguments on the fixtures with a fresh work dir and store."""

    def make(pair: str, *extra: str, work: Path | None = None, store: Path | None = None) -> list[str]:
        return ["run", "--pair", pair, "--model", str(tiny_model), "--data-dir", str(fixture_data),
                "--work-dir", str(work or tmp_path / "work"), "--store", str(store or tmp_path / "store"),
                *FAST, *extra]

    return make


@pytest.fixture(scope="session")
def mlm_corpus(fixture_data) -> Path:
    """``wikimedia/wikipedia`` in the data mirror: ``20231101.{en,de,fr,zh}/train-*.parquet``."""
    return build_corpus(fixture_data)


@pytest.fixture(scope="session")
def translated_data(fixture_data) -> Path:
    """MNLI machine-translated into de, fr and zh, in the layout of ``facebook/xnli``'s train splits."""
    return build_translated(fixture_data)


@pytest.fixture()
def one_thread(monkeypatch):
    """One torch thread here and in child processes (jobs, the killed grid).

    On 2 cores shared with other work, the tiny model with two threads spends most of its time
    waiting for the other thread: the 12-run grid takes about 50 s instead of 7 s.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield
    torch.set_num_threads(before)
