"""Fixtures for the dashboard tests: a bundled store, a generated store with intermediate-task
runs, a demonstration store and a claims store (the helpers that drive the app with ``AppTest``
live in :mod:`tests.fixtures.app`)."""

from __future__ import annotations

import pytest

from store.database import Store
from tests.fixtures import synthetic



@pytest.fixture(scope="session")
def bundled_store(tmp_path_factory) -> str:
    """A fresh store: the catalog and every published result, no runs of ours."""
    path = tmp_path_factory.mktemp("bundled") / "store"
    Store.open(path, read_only=True).close()
    return str(path)


@pytest.fixture(scope="session")
def generated_store(tmp_path_factory) -> str:
    """A store with synthetic intermediate-task runs of two models (see ``synthetic.py``)."""
    path = tmp_path_factory.mktemp("generated") / "store"
    synthetic.build(path)
    return str(path)


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> str:
    """`store demo`: every target, both models, three seeds (about 650 runs, a few seconds)."""
    from store.demo import build_demo

    return str(build_demo(tmp_path_factory.mktemp("demo") / "store"))


@pytest.fixture(scope="session")
def claims_store(tmp_path_factory) -> str:
    """A store built so that some claims hold and others do not: the design of
    ``tests/store/test_claims.py`` (whose verdicts the store tests check), written as shards and
    indexed once (about a second)."""
    from store.shards import write_shard
    from tests.fixtures.claims_design import DESIGN

    path = tmp_path_factory.mktemp("claims") / "store"
    for run, results in DESIGN:
        write_shard(path / "runs", run.stamped(), results)
    Store.open(path).close()
    return str(path)


@pytest.fixture(params=["bundled", "generated"])
def any_store(request, bundled_store, generated_store) -> str:
    return bundled_store if request.param == "bundled" else generated_store
