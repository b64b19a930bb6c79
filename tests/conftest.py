"""Shared fixtures. Nothing here downloads anything: the Hub is unreachable in tests."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# the derived-results cache (store/derived.py) of the tests' stores, out of the user's ~/.cache
os.environ.setdefault("XSTILTS_DERIVED_CACHE", tempfile.mkdtemp(prefix="xstilts-derived-"))


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    """An empty store folder; XSTILTS_STORE points elsewhere so tests never touch the default."""
    monkeypatch.setenv("XSTILTS_STORE", str(tmp_path / "default-store-must-not-be-used"))
    return tmp_path / "store"
