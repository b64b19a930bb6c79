"""The only module that talks to the network: a store remote on the Hugging Face Hub.

Everything goes through huggingface_hub's API (``HfApi``, its shared HTTP session), created
lazily on the first call, never at import. Three things make it safe where the Hub may be away:

* **Explicit timeouts.** huggingface_hub's shared client has no timeout, and some calls (tree
  listing, repo info) pass ``timeout=None`` explicitly, so a Hub that accepts the connection but
  never answers hangs them forever. A request hook fills every missing timeout with
  ``CONNECT_TIMEOUT_S`` / ``READ_TIMEOUT_S`` (it is added to the process's shared session: other
  huggingface_hub users in the process get the same finite timeouts).
* **A fast probe.** Before any long call, one ``HEAD`` on the endpoint with a
  ``PROBE_TIMEOUT_S`` timeout (``$XSTILTS_HUB_PROBE_TIMEOUT`` overrides it) and no retries: an
  unreachable Hub is reported in seconds instead of after huggingface_hub's retries.
* **One clear line per failure.** Offline (``HF_HUB_OFFLINE``), unreachable, unauthorised,
  missing repo, rate limited: each becomes a :class:`~store.errors.StoreError` that names the
  repo and the fix. The token is never read here except to say whether one exists, and any
  token-like text is scrubbed from messages.

The token comes from huggingface_hub's usual places (``HF_TOKEN``, the file written by
``hf auth login``); this module never passes, prints or stores it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

from store.errors import StoreError
from store.remote import FolderRemote, Remote, RemoteChanged, RemoteFile, parse_repo, progress

PROBE_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
ETAG_TIMEOUT_S = 10.0
DOWNLOAD_WORKERS = 8
_PATHS_PER_REQUEST = 50
_TIMEOUTS = {"connect": CONNECT_TIMEOUT_S, "read": READ_TIMEOUT_S, "write": READ_TIMEOUT_S, "pool": CONNECT_TIMEOUT_S}
_TOKENISH = re.compile(r"hf_[A-Za-z0-9]{6,}")
_TRUE = {"1", "ON", "YES", "TRUE"}


# ---------------------------------------------------------------------- the huggingface_hub boundary
def _fill_timeouts(request) -> None:
    """httpx request hook: gives every request finite timeouts unless the caller set them."""
    given = request.extensions.get("timeout") or {}
    request.extensions["timeout"] = {k: given.get(k) if given.get(k) is not None else v for k, v in _TIMEOUTS.items()}


def _session():
    """huggingface_hub's shared HTTP session, with the timeout hook installed (idempotent)."""
    from huggingface_hub import get_session

    session = get_session()  # recreated by huggingface_hub after a fork or a connect error
    hooks = session.event_hooks
    if _fill_timeouts not in hooks.get("request", []):
        session.event_hooks = {**hooks, "request": [*hooks.get("request", []), _fill_timeouts]}
    return session


def _new_api(endpoint: str):
    """The HfApi client (tests replace this function with a stand-in)."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint, library_name="xstilts")


def probe_timeout() -> float:
    """Seconds the reachability probe waits: ``$XSTILTS_HUB_PROBE_TIMEOUT``, else ``PROBE_TIMEOUT_S``."""
    try:
        return float(os.environ.get("XSTILTS_HUB_PROBE_TIMEOUT") or PROBE_TIMEOUT_S)
    except ValueError:
        raise StoreError("XSTILTS_HUB_PROBE_TIMEOUT must be a number of seconds") from None


def hub_endpoint() -> str:
    """``$HF_ENDPOINT`` at call time, else huggingface_hub's configured endpoint."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def is_offline() -> bool:
    """``HF_HUB_OFFLINE`` as set now (huggingface_hub reads it once, at import)."""
    env = os.environ.get("HF_HUB_OFFLINE")
    if env is not None:
        return env.strip().upper() in _TRUE
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def unreachable_reason() -> str | None:
    """Why the Hub cannot be reached right now (offline mode, or no answer to a quick probe), or None.

    The same probe :class:`HubRemote` makes before any long call; the runner asks it before a
    model download that would otherwise retry for most of a minute.
    """
    from huggingface_hub.errors import HTTPError, OfflineModeIsEnabled

    if is_offline():
        return "HF_HUB_OFFLINE is set"
    try:
        _session().head(hub_endpoint(), timeout=probe_timeout())  # any HTTP answer will do
    except OfflineModeIsEnabled:
        return "HF_HUB_OFFLINE is set"
    except (HTTPError, OSError) as e:  # transport errors are httpx errors, not OSError
        return f"no answer from {hub_endpoint()}: {type(e).__name__}"
    return None


def _has_token() -> bool:
    try:
        from huggingface_hub import get_token

        return get_token() is not None
    except Exception:  # noqa: BLE001 (only used to word a hint)
        return False


def scrub(text: str) -> str:
    """Removes anything that looks like a Hugging Face token from a message."""
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = os.environ.get(var)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return _TOKENISH.sub("hf_***", text)


def _first_line(text: str | None, limit: int = 160) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return scrub(line[:limit])


def _remote_file(f) -> RemoteFile:
    """A listed ``RepoFile`` with a digest of its *content*: the LFS sha256, or the git blob id of
    a plain file. A Xet file without LFS metadata has no such digest (its blob id hashes a
    pointer), so it is compared by downloading."""
    if f.lfs is not None:
        return RemoteFile(f.path, f.lfs.size, f"sha256:{f.lfs.sha256}")
    if getattr(f, "xet_hash", None):
        return RemoteFile(f.path, f.size, None)
    return RemoteFile(f.path, f.size, f"git-sha1:{f.blob_id}")


# ---------------------------------------------------------------------- the remote
class HubRemote(Remote):
    """A Hub dataset repo used as a store remote.

    Args:
        repo_id: ``ORG/NAME``.
        private: create the repo as private if it does not exist.
    """

    def __init__(self, repo_id: str, private: bool = False):
        self.repo_id = repo_id
        self.private = private
        self.name = f"hf://datasets/{repo_id}"
        self.cache_name = repo_id.replace("/", "--")
        self._api = None

    def _client(self):
        _session()
        if self._api is None:
            self._api = _new_api(hub_endpoint())
        return self._api

    # -------------------------------------------------------------- errors
    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Maps huggingface_hub and transport errors to one-line StoreErrors."""
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            HTTPError,
            LocalEntryNotFoundError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
        )

        try:
            yield
        except StoreError:
            raise
        except OfflineModeIsEnabled as e:
            raise StoreError(self._offline_message(action)) from e
        except GatedRepoError as e:
            raise StoreError(f"{self.name} is gated: request access on its Hub page, then retry") from e
        except RepositoryNotFoundError as e:
            raise StoreError(
                f"{self.name} does not exist on {hub_endpoint()} (or your token cannot see it): "
                "check the name, push to it first, or log in with `hf auth login` / set HF_TOKEN"
            ) from e
        except HfHubHTTPError as e:
            status = getattr(e.response, "status_code", None)
            if status in (401, 403):
                hint = "the token lacks write access to this repo" if _has_token() else "no token found"
                raise StoreError(
                    f"not authorised to {action} {self.name} ({status}, {hint}): "
                    "log in with `hf auth login` or set HF_TOKEN"
                ) from e
            if status in (409, 412):
                raise RemoteChanged(f"{self.name} changed during the push ({status})") from e
            if status == 429:
                raise StoreError(f"the Hub is rate-limiting {action} on {self.name}; wait a few minutes and retry") from e
            detail = _first_line(getattr(e, "server_message", None))
            raise StoreError(
                f"the Hub answered {status} to {action} {self.name}{': ' + detail if detail else ''}; retry later"
            ) from e
        except (HTTPError, LocalEntryNotFoundError, ConnectionError, TimeoutError) as e:
            raise StoreError(self._unreachable_message(e)) from e
        except OSError as e:
            raise StoreError(f"cannot {action} {self.name}: {scrub(e.strerror or str(e))}") from e

    def _offline_message(self, action: str) -> str:
        return (
            f"offline: HF_HUB_OFFLINE is set, so cannot {action} {self.name}; "
            "unset it to use the Hub, or work on a local store (--store PATH)"
        )

    def _unreachable_message(self, e: BaseException) -> str:
        reason = _first_line(str(e) or type(e).__name__, 80) or type(e).__name__
        return (
            f"cannot reach the Hub at {hub_endpoint()} ({type(e).__name__}: {reason}); check the network "
            "or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 and use a local store"
        )

    def _probe(self) -> None:
        """One quick request with a short timeout and no retries: is anything answering?"""
        from huggingface_hub.errors import HTTPError, OfflineModeIsEnabled

        try:
            _session().head(hub_endpoint(), timeout=probe_timeout())  # any HTTP answer will do
        except OfflineModeIsEnabled as e:
            raise StoreError(self._offline_message("reach")) from e
        except (HTTPError, OSError) as e:  # transport errors are httpx errors, not OSError
            raise StoreError(self._unreachable_message(e)) from e

    # -------------------------------------------------------------- Remote interface
    def open(self, create: bool) -> None:
        action = "push to" if create else "pull from"
        if is_offline():
            raise StoreError(self._offline_message(action))
        self._probe()
        api = self._client()
        with self._errors(action):
            if create:
                api.create_repo(self.repo_id, repo_type="dataset", exist_ok=True, private=self.private or None)
            else:
                api.repo_info(self.repo_id, repo_type="dataset")

    def revision(self) -> str | None:
        """The sha of the repo's head commit (what a push lists at and commits on top of)."""
        api = self._client()
        with self._errors("read"):
            return api.repo_info(self.repo_id, repo_type="dataset").sha

    def stat(self, paths: Sequence[str] | None = None, revision: str | None = None) -> dict[str, RemoteFile]:
        from huggingface_hub import RepoFile

        api = self._client()
        with self._errors("list"):
            if paths is None:
                items = list(api.list_repo_tree(self.repo_id, repo_type="dataset", recursive=True, revision=revision))
            else:
                items = []
                for i in range(0, len(paths), _PATHS_PER_REQUEST):
                    chunk = list(paths[i : i + _PATHS_PER_REQUEST])
                    items.extend(api.get_paths_info(self.repo_id, chunk, repo_type="dataset", revision=revision))
        out = {}
        for f in items:
            if not isinstance(f, RepoFile) or any(part.startswith(".") for part in f.path.split("/")):
                continue
            out[f.path] = _remote_file(f)
        return out

    def download(self, paths: Sequence[str], dest: Path, revision: str | None = None) -> dict[str, Path]:
        api = self._client()
        out: dict[str, Path] = {}

        def one(path: str) -> Path:
            return Path(
                api.hf_hub_download(
                    self.repo_id, path, repo_type="dataset", revision=revision, local_dir=dest,
                    etag_timeout=ETAG_TIMEOUT_S,
                )
            )

        with self._errors("download from"), ThreadPoolExecutor(DOWNLOAD_WORKERS) as pool:
            futures = {pool.submit(one, p): p for p in paths}
            for fut in progress(as_completed(futures), len(futures), f"downloading from {self.repo_id}"):
                out[futures[fut]] = fut.result()
        return out

    def commit(self, files: Mapping[str, Path], message: str, parent: str | None = None) -> None:
        """One ``create_commit`` with every file, on top of ``parent`` when given.

        With ``parent_commit`` the Hub refuses the commit (412, raised as :class:`RemoteChanged`)
        if anyone committed since the push listed the repo; without it a second job pushing the
        same run id would silently replace the first one's shard. Concurrent pushes of disjoint
        shards pay one re-listing and a retry each time they collide.
        """
        from huggingface_hub import CommitOperationAdd

        api = self._client()
        ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(f)) for p, f in files.items()]
        with self._errors("push to"):
            api.create_commit(self.repo_id, ops, commit_message=message, repo_type="dataset", parent_commit=parent)


def open_remote(spec: str | os.PathLike | Remote, private: bool = False) -> Remote:
    """A remote from what a user typed.

    Args:
        spec: ``ORG/NAME`` or ``hf://datasets/ORG/NAME`` (the Hub), ``file:///path`` (a folder),
            a :class:`Remote` (returned as is) or a ``Path`` (a folder).
        private: create a missing Hub repo as private.

    Raises:
        StoreError: the spec is none of these.
    """
    if isinstance(spec, Remote):
        return spec
    if isinstance(spec, os.PathLike):
        return FolderRemote(spec)
    if spec.startswith("file://"):
        url = urlparse(spec)
        if url.netloc not in ("", "localhost"):
            raise StoreError(f"{spec}: file:// remotes must be on this machine (file:///abs/path)")
        return FolderRemote(unquote(url.path))
    repo = parse_repo(spec)
    if repo is None:
        raise StoreError(f"{spec!r} is not a remote; give ORG/NAME, hf://datasets/ORG/NAME or file:///path/to/folder")
    return HubRemote(repo, private=private)  # huggingface_hub is imported on its first call
