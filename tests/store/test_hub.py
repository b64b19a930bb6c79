"""The Hub remote against a stand-in at the huggingface_hub boundary, and against dead servers.

The stand-in replaces exactly two things in ``store.hub``: ``_new_api`` (the ``HfApi`` client) and
``_session`` (huggingface_hub's shared HTTP session, used for the reachability probe). It records
repo types, commit operations and messages, and raises huggingface_hub's real exception types,
built by huggingface_hub's own ``hf_raise_for_status`` from HTTP responses.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx2
import pytest
from huggingface_hub import RepoFile, RepoFolder
from huggingface_hub.utils import hf_raise_for_status

import store.hub as hub
from store.cli import main
from store.database import Store
from store.errors import StoreError
from store.sync import pull, push, push_run, resolve_store
from tests.store.sync_helpers import LAB, fill_store, files_of, wide

REPO = "xstilts-lab/results"
FAKE_TOKEN = "hf_FAKEtokenDoNotLeak0123456789abcdef"
REPO_ROOT = Path(__file__).resolve().parents[2]


def hub_error(status: int, code: str | None = None, message: str | None = None, path: str = f"api/datasets/{REPO}"):
    """The exception huggingface_hub itself raises for such a response."""
    headers = {k: v for k, v in {"X-Error-Code": code, "X-Error-Message": message}.items() if v}
    response = httpx2.Response(status, headers=headers, request=httpx2.Request("GET", f"https://hub.test/{path}"))
    try:
        hf_raise_for_status(response)
    except Exception as e:  # noqa: BLE001
        return e
    raise AssertionError("no error raised")


class FakeHfApi:
    """Records what the Hub would be asked; keeps the repo's files in memory, per commit.

    Like the Hub, each commit gets a new sha, files can be listed and downloaded as of any commit,
    and a commit whose ``parent_commit`` is no longer the head is refused with a 412. ``gate``
    (a barrier) holds that many commits until all have arrived, to force concurrent pushes to race.
    """

    def __init__(self):
        self.repos: set[tuple[str, str]] = set()
        self.head = "0" * 40
        self.history: dict[str, dict[str, bytes]] = {self.head: {}}
        self.calls: list[tuple] = []
        self.commits: list[dict] = []
        self.fail: dict[str, Exception] = {}
        self.gate: threading.Barrier | None = None
        self.gated = 0
        self.lock = threading.Lock()

    @property
    def files(self) -> dict[str, bytes]:
        """The files at the head."""
        return self.history[self.head]

    def _at(self, revision):
        if revision is not None and revision not in self.history:
            raise hub_error(404, "RevisionNotFound")
        return self.history[revision or self.head]

    def _enter(self, name, repo_id, repo_type):
        self.calls.append((name, repo_id, repo_type))
        if name in self.fail:
            raise self.fail[name]

    def _require(self, repo_id, repo_type):
        if (repo_type, repo_id) not in self.repos:
            raise hub_error(404, "RepoNotFound")

    def create_repo(self, repo_id, *, repo_type=None, exist_ok=False, private=None, **_):
        self._enter("create_repo", repo_id, repo_type)
        assert exist_ok
        self.repos.add((repo_type, repo_id))

    def repo_info(self, repo_id, *, repo_type=None, **_):
        self._enter("repo_info", repo_id, repo_type)
        self._require(repo_id, repo_type)
        return SimpleNamespace(id=repo_id, sha=self.head)

    def _file(self, path, files):
        data = files[path]
        blob = hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()  # noqa: S324
        lfs = {"size": len(data), "oid": hashlib.sha256(data).hexdigest(), "pointerSize": 134} if path.endswith(".parquet") else None
        return RepoFile(path=path, size=len(data), oid=blob, lfs=lfs)

    def list_repo_tree(self, repo_id, *, repo_type=None, recursive=False, revision=None, **_):
        self._enter("list_repo_tree", repo_id, repo_type)
        self._require(repo_id, repo_type)
        assert recursive
        files = self._at(revision)
        folders = sorted({p.rsplit("/", 1)[0] for p in files if "/" in p})
        yield RepoFile(path=".gitattributes", size=10, oid="0" * 40)
        yield from (RepoFolder(path=f, oid="1" * 40) for f in folders)
        yield from (self._file(p, files) for p in sorted(files))

    def get_paths_info(self, repo_id, paths, *, repo_type=None, revision=None, **_):
        self._enter("get_paths_info", repo_id, repo_type)
        self._require(repo_id, repo_type)
        files = self._at(revision)
        return [self._file(p, files) for p in paths if p in files]

    def hf_hub_download(self, repo_id, filename, *, repo_type=None, revision=None, local_dir=None, etag_timeout=None, **_):
        self._enter("hf_hub_download", repo_id, repo_type)
        assert etag_timeout is not None and local_dir is not None
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self._at(revision)[filename])
        return str(target)

    def create_commit(self, repo_id, operations, *, commit_message, repo_type=None, parent_commit=None, **_):
        self._enter("create_commit", repo_id, repo_type)
        self._require(repo_id, repo_type)
        with self.lock:
            gated, self.gated = self.gate is not None and self.gated < self.gate.parties, self.gated + 1
        if gated:  # the first commits wait for each other (retries pass)
            self.gate.wait(timeout=30)
        ops = list(operations)
        with self.lock:
            if parent_commit is not None and parent_commit != self.head:
                raise hub_error(412, message="A commit has happened since. Please refresh and try again.",
                                path=f"api/datasets/{repo_id}/commit/main")
            self.commits.append({"message": commit_message, "repo_type": repo_type, "parent": parent_commit,
                                 "paths": [op.path_in_repo for op in ops]})
            files = dict(self.files)
            for op in ops:
                files[op.path_in_repo] = Path(op.path_or_fileobj).read_bytes()
            self.head = hashlib.sha1(f"{self.head}{len(self.commits)}".encode()).hexdigest()  # noqa: S324
            self.history[self.head] = files


class FakeSession:
    def __init__(self):
        self.heads: list[tuple[str, float]] = []

    def head(self, url, timeout=None):
        self.heads.append((url, timeout))


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """An online environment whose Hub is the stand-in; HF_TOKEN is a fake that must never leak."""
    api, session = FakeHfApi(), FakeSession()
    monkeypatch.setattr(hub, "_new_api", lambda endpoint: api)
    monkeypatch.setattr(hub, "_session", lambda: session)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.test")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    api.session = session
    return api


def test_push_is_one_commit_to_a_dataset_repo_with_card_and_shards(fake, tmp_path):
    ids = fill_store(tmp_path / "a", [1, 2], source=LAB)
    r = push(tmp_path / "a", REPO)
    assert (r.new_runs, r.new_sources, r.commits) == (3, 1, 1)
    assert fake.session.heads == [("https://hub.test", hub.PROBE_TIMEOUT_S)]  # probed before anything else
    assert fake.calls[0][0] == "create_repo" and {t for _, _, t in fake.calls} == {"dataset"}
    assert len(fake.commits) == 1 and fake.commits[0]["repo_type"] == "dataset"
    paths = fake.commits[0]["paths"]
    assert paths[0] == "sources/lab2026.json"  # sources before the shards that cite them
    assert set(paths) >= {f"runs/{i}.parquet" for i in ids} | {"README.md", "xstilts.json", "catalog/tasks.parquet",
                                                           "catalog/languages.parquet", "catalog/sources.parquet",
                                                           "tables/results_wide.parquet", "tables/runs.parquet"}
    card = fake.files["README.md"].decode()
    assert card.startswith("---\n") and "configs:" in card and 'path: "runs/*.parquet"' in card
    assert f'snapshot_download("{REPO}", repo_type="dataset")' in card and "Our lab, 2026, Table 2" in card
    # nothing new: no commit; one new run: one commit with only that shard plus derived files
    assert push(tmp_path / "a", REPO).commits == 0 and len(fake.commits) == 1
    new = fill_store(tmp_path / "a", [3])[0]
    push(tmp_path / "a", REPO)
    assert len(fake.commits) == 2
    assert [p for p in fake.commits[1]["paths"] if p.startswith(("runs/", "sources/"))] == [f"runs/{new}.parquet"]


def test_pull_and_hf_store_through_the_stand_in(fake, tmp_path, caplog):
    fill_store(tmp_path / "a", [1, 2], source=LAB)
    push(tmp_path / "a", f"hf://datasets/{REPO}")
    p = pull(REPO, tmp_path / "b")
    assert (p.new_runs, p.new_sources) == (3, 1)
    assert wide(tmp_path / "b").equals(wide(tmp_path / "a"))
    cache = resolve_store(f"hf://datasets/{REPO}")
    assert cache == tmp_path / "cache" / "xstilts" / "hub" / "xstilts-lab--results"
    assert wide(cache).equals(wide(tmp_path / "a"))
    downloads = len([c for c in fake.calls if c[0] == "hf_hub_download"])
    resolve_store(f"hf://datasets/{REPO}")  # up to date: lists, downloads only the manifest
    assert len([c for c in fake.calls if c[0] == "hf_hub_download"]) == downloads + 1
    fake.fail["repo_info"] = hub_error(500)
    with caplog.at_level(logging.WARNING, logger="store.sync"):
        assert resolve_store(f"hf://datasets/{REPO}") == cache  # Hub away: the last copy, with a warning
    assert "using the cached copy" in caplog.text


def test_push_run_uploads_only_its_shard(fake, tmp_path):
    ids = fill_store(tmp_path / "a", [1, 2])
    assert push_run(tmp_path / "a", ids[0], REPO) is True
    assert fake.commits == [{"message": f"Add run {ids[0]} (runner run --push)", "repo_type": "dataset",
                             "parent": "0" * 40, "paths": [f"runs/{ids[0]}.parquet"]}]
    assert push_run(tmp_path / "a", ids[0], REPO) is False and len(fake.commits) == 1
    assert "list_repo_tree" not in {c[0] for c in fake.calls}  # asks about its own path only


def _race(fake, pushes) -> list[BaseException | None]:
    """Runs the pushes in threads that all read the same parent revision before any commits."""
    fake.gate, fake.gated = threading.Barrier(len(pushes)), 0
    errors: list[BaseException | None] = [None] * len(pushes)

    def run(i):
        try:
            pushes[i]()
        except BaseException as e:  # noqa: BLE001 (reported to the test)
            errors[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(pushes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    fake.gate = None
    return errors


@pytest.mark.parametrize("how", ["push_run", "push"])
def test_two_jobs_pushing_one_run_id_with_different_results_cannot_overwrite_each_other(fake, tmp_path, capsys, how):
    """Both read the same head and commit on it: the Hub takes one, refuses the other (412); the
    loser lists again, finds the winner's shard with other numbers, and stops with one line."""
    (rid,) = fill_store(tmp_path / "a", [1], value=70.0)
    assert fill_store(tmp_path / "b", [1], value=71.0) == [rid]  # same run id, other numbers
    shard = f"runs/{rid}.parquet"
    one = push_run if how == "push_run" else lambda store, _rid, repo: push(store, repo)
    errors = _race(fake, [lambda s=s: one(tmp_path / s, rid, REPO) for s in ("a", "b")])
    assert sum(e is None for e in errors) == 1, errors
    (err,) = [e for e in errors if e is not None]
    assert isinstance(err, StoreError) and "\n" not in str(err)
    assert "differ in content" in str(err) and shard in str(err) and "nothing was pushed" in str(err)
    winner = "ab"[errors.index(None)]
    assert [p for p in fake.files if p.startswith("runs/")] == [shard]  # exactly one shard for the id
    assert fake.files[shard] == (tmp_path / winner / shard).read_bytes()  # the winner's, untouched
    assert len([c for c in fake.commits if shard in c["paths"]]) == 1
    assert all(c["parent"] is not None for c in fake.commits)  # every commit named the revision it read
    # the loser's command line: one `error:` line, exit 2, nothing committed
    n = len(fake.commits)
    loser = "ba"[errors.index(None)]
    argv = ["push", "--store", str(tmp_path / loser), "--repo", REPO] + (["--run", rid] if how == "push_run" else [])
    assert main(argv) == 2
    out = capsys.readouterr().err
    assert out.startswith("error: ") and out.count("\n") == 1 and "differ in content" in out
    assert len(fake.commits) == n


def test_concurrent_pushes_of_different_runs_both_land_after_a_refused_commit(fake, tmp_path):
    a_ids = fill_store(tmp_path / "a", [1])
    b_ids = fill_store(tmp_path / "b", [2])
    errors = _race(fake, [lambda: push_run(tmp_path / "a", a_ids[0], REPO), lambda: push_run(tmp_path / "b", b_ids[0], REPO)])
    assert errors == [None, None]
    assert sorted(p for p in fake.files if p.startswith("runs/")) == sorted(f"runs/{i}.parquet" for i in a_ids + b_ids)
    assert len(fake.commits) == 2 and fake.commits[1]["parent"] != fake.commits[0]["parent"]  # the retry re-read the head


@pytest.mark.parametrize(
    "where, error, message",
    [
        ("create_repo", hub_error(403, message="You don't have the rights"), "not authorised to push to hf://datasets/xstilts-lab/results (403"),
        ("create_repo", hub_error(401, message="Invalid credentials in Authorization header"), "log in with `hf auth login` or set HF_TOKEN"),
        ("create_commit", hub_error(404, "RepoNotFound"), "does not exist on https://hub.test"),
        ("create_commit", hub_error(429), "rate-limiting"),
        ("create_commit", hub_error(500, message=f"internal error for token {FAKE_TOKEN}"), "answered 500"),
        ("list_repo_tree", httpx2.ConnectTimeout("timed out"), "cannot reach the Hub at https://hub.test"),
    ],
)
def test_hub_errors_are_one_clear_line_and_leave_the_store_alone(fake, tmp_path, capsys, caplog, where, error, message):
    fill_store(tmp_path / "a", [1, 2], source=LAB)
    before = files_of(tmp_path / "a")
    fake.fail[where] = error
    with caplog.at_level(logging.DEBUG):
        rc = main(["push", "--store", str(tmp_path / "a"), "--repo", REPO])
    out, err = capsys.readouterr()
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert fake.commits == [] and files_of(tmp_path / "a") == before
    assert FAKE_TOKEN not in out + err + caplog.text
    del fake.fail[where]
    assert main(["push", "--store", str(tmp_path / "a"), "--repo", REPO]) == 0  # the retry completes
    assert len(fake.commits) == 1


def test_pull_of_a_missing_repo(fake, tmp_path, capsys):
    assert main(["pull", "--store", str(tmp_path / "b"), "--repo", REPO]) == 2
    err = capsys.readouterr().err
    assert "hf://datasets/xstilts-lab/results does not exist" in err and err.count("\n") == 1


def test_the_token_is_written_nowhere(fake, tmp_path, capsys, caplog):
    with caplog.at_level(logging.DEBUG):
        fill_store(tmp_path / "a", [1, 2], source=LAB)
        assert main(["push", "--store", str(tmp_path / "a"), "--repo", REPO]) == 0
        assert main(["pull", "--store", str(tmp_path / "b"), "--repo", REPO]) == 0
        assert main(["info", "--store", f"hf://datasets/{REPO}"]) == 0
        fake.fail["create_commit"] = hub_error(401, message=f"bad token {FAKE_TOKEN}")
        fill_store(tmp_path / "a", [3])
        assert main(["push", "--store", str(tmp_path / "a"), "--repo", REPO]) == 2
    out, err = capsys.readouterr()
    token = FAKE_TOKEN.encode()
    everywhere = {**{f"remote:{k}": v for k, v in fake.files.items()}}
    for root in (tmp_path / "a", tmp_path / "b", tmp_path / "cache"):
        everywhere.update({f"{root.name}:{k}": v for k, v in files_of(root).items()})
        everywhere.update({f"{root.name}:index": p.read_bytes() for p in root.rglob("index.duckdb")})
    assert "README.md" in fake.files and len(everywhere) > 30
    assert [name for name, data in everywhere.items() if token in data] == []
    assert FAKE_TOKEN not in out + err + caplog.text + repr(fake.commits)


def test_offline_is_a_clear_error_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fill_store(tmp_path / "a", [1])
    before = files_of(tmp_path / "a")
    for argv in (["push", "--store", str(tmp_path / "a"), "--repo", REPO],
                 ["pull", "--store", str(tmp_path / "b"), "--repo", REPO],
                 ["info", "--store", f"hf://datasets/{REPO}"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: offline: HF_HUB_OFFLINE is set") and err.count("\n") == 1, err
    assert "no cached copy" in err
    assert files_of(tmp_path / "a") == before and not (tmp_path / "b").exists()


def test_timeouts_are_filled_into_every_request():
    request = httpx2.Request("GET", "https://hub.test/api/x", extensions={"timeout": {"connect": None, "read": None, "write": 3.0, "pool": None}})
    hub._fill_timeouts(request)
    assert request.extensions["timeout"] == {"connect": hub.CONNECT_TIMEOUT_S, "read": hub.READ_TIMEOUT_S,
                                             "write": 3.0, "pool": hub.CONNECT_TIMEOUT_S}
    session = hub._session()
    assert hub._session() is session and session.event_hooks["request"].count(hub._fill_timeouts) == 1


# ---------------------------------------------------------------------- a real dead Hub
@pytest.fixture
def silent_server():
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    srv = socket.create_server(("127.0.0.1", 0))
    held, stop = [], threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


def refused_endpoint() -> str:
    s = socket.create_server(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connections are refused
    return f"http://127.0.0.1:{port}"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_push_with_the_hub_unreachable_exits_2_within_30s(tmp_path, silent_server, kind):
    endpoint = refused_endpoint() if kind == "refused" else silent_server
    fill_store(tmp_path / "a", [1, 2], source=LAB)
    before = files_of(tmp_path / "a"), wide(tmp_path / "a")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT=endpoint, HF_TOKEN=FAKE_TOKEN, HF_HOME=str(tmp_path / "hf"), XDG_CACHE_HOME=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    start = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "store.cli", "push", "--store", str(tmp_path / "a"), "--repo", REPO],
                       env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    elapsed = time.monotonic() - start
    assert p.returncode == 2, p.stderr
    assert elapsed < 30, elapsed
    assert p.stderr.startswith(f"error: cannot reach the Hub at {endpoint}") and p.stderr.count("\n") == 1, p.stderr
    assert FAKE_TOKEN not in p.stdout + p.stderr
    assert files_of(tmp_path / "a") == before[0] and wide(tmp_path / "a").equals(before[1])
    with Store.open(tmp_path / "a") as st:
        assert st.query("SELECT count(*) AS n FROM runs WHERE source <> 'runner'")["n"][0] > 0


@pytest.mark.slow
def test_hf_store_with_the_hub_refusing_and_no_cache_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT=refused_endpoint(), HF_HOME=str(tmp_path / "hf"), XDG_CACHE_HOME=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, "-m", "store.cli", "info", "--store", f"hf://datasets/{REPO}"],
                       env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert "cannot reach the Hub" in p.stderr and "no cached copy" in p.stderr


def test_listed_files_carry_a_content_digest_only_when_the_hub_gives_one():
    lfs = RepoFile(path="runs/a.parquet", size=134, oid="a" * 40, lfs={"size": 5000, "oid": "b" * 64, "pointerSize": 134})
    plain = RepoFile(path="sources/s.json", size=12, oid="c" * 40)
    xet = RepoFile(path="runs/b.parquet", size=5000, oid="d" * 40, xetHash="e" * 64)
    assert hub._remote_file(lfs) == hub.RemoteFile("runs/a.parquet", 5000, "sha256:" + "b" * 64)
    assert hub._remote_file(plain).digest == "git-sha1:" + "c" * 40
    assert hub._remote_file(xet).digest is None
