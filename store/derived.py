"""Results derived from a store, computed once per store state and kept beside its index.

Some reads depend on nothing but the store's content and take long: judging every claim for one
model runs dozens of bootstraps (about a second at 10^6 result rows). :func:`memo` computes such a
result once per *store state* and keeps it in ``<cache>/<name>-<args>-<state>.json``, so a later
reader (another session, a restarted dashboard, another process) loads it in milliseconds.
``<cache>`` (:func:`cache_dir`) is outside the store folder: reading a store never writes into it
(the store may be read-only, shared, or a pulled Hub copy).

The state key (:func:`state_key`) covers everything a derived result can depend on: every run's
id and content hash (a new, replaced or removed run changes it), the sources, the index's schema
and catalog fingerprint, and the code of the ``store`` package with its data files (a new release
or a changed statistic changes it). A stale entry is therefore never read: it is simply not found,
and entries of other states are deleted when a new one is written. The cache is derived like the
index: deleting it loses nothing. Entries of current states for other arguments (other slices) stay;
past ``$XSTILTS_DERIVED_CACHE_MB`` per store (default 2,048 MB) the least recently used go when a
new entry is written.

Entries are JSON, never pickle: values are encoded by :func:`encode` (frozen dataclasses of the
``store`` package, tuples, lists, dicts, polars frames as zstd-compressed Arrow IPC, numbers, strings) and decoded
only into dataclasses defined under ``store.``. A frame that every render reads (:func:`memo_frame`:
the result rows of a slice, the complexity table) is kept as an uncompressed Arrow IPC file
(``.arrow``) and read back memory-mapped, zero-copy. A value that cannot be encoded is returned without
being kept; a damaged or unreadable entry is recomputed; a cache folder that cannot be written
just means the next reader computes again.

Example:
    >>> import tempfile
    >>> from store.database import Store
    >>> with Store.open(tempfile.mkdtemp()) as st:
    ...     first = memo(st, "answer", (1,), lambda: (42, "x"))
    ...     again = memo(st, "answer", (1,), lambda: None)  # read back, not computed
    >>> first, again
    ((42, 'x'), (42, 'x'))
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import importlib
import io
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.ipc  # noqa: F401  (pa.ipc)

ENV_VAR = "XSTILTS_DERIVED_CACHE"
LIMIT_VAR = "XSTILTS_DERIVED_CACHE_MB"
DEFAULT_LIMIT_MB = 2048
_SUFFIXES = (".json", ".arrow", ".arrays")
_PACKAGE = Path(__file__).resolve().parent
_CODE_SUFFIXES = {".py", ".sql", ".json", ".csv"}
T = TypeVar("T")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over the ``store`` package's code and data files (read once per process)."""
    h = hashlib.sha256()
    for p in sorted(_PACKAGE.rglob("*")):
        if p.suffix in _CODE_SUFFIXES and "__pycache__" not in p.parts:
            h.update(p.relative_to(_PACKAGE).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def cache_dir(root: str | os.PathLike) -> Path:
    """Where the derived results of the store at ``root`` are kept.

    ``$XSTILTS_DERIVED_CACHE/<id>`` if set, else ``$XDG_CACHE_HOME/xstilts/derived/<id>``
    (``~/.cache/...``), with ``<id>`` a hash of the store's absolute path.
    """
    base = os.environ.get(ENV_VAR) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xstilts" / "derived"
    key = hashlib.sha256(str(Path(root).expanduser().absolute()).encode()).hexdigest()[:16]
    return Path(base).expanduser() / key


def state_key(store) -> str:
    """What the store holds, as 16 hex digits: runs (id and content hash), sources, index and code.

    One aggregate query (a few milliseconds at 10^4 runs; once per open index connection, which
    nothing can change while it is open); order-independent.
    """
    once = getattr(store, "once_per_connection", lambda _key, compute: compute())
    row = once("derived.state_key", lambda: _state_row(store))
    text = "\n".join(map(str, (*row, code_fingerprint())))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _state_row(store) -> tuple:
    return store.query(
        """
        SELECT (SELECT count(*) FROM runs) AS n_runs,
               (SELECT coalesce(bit_xor(hash(run_id || '|' || content_hash)), 0) FROM runs) AS runs,
               (SELECT count(*) FROM sources) AS n_sources,
               (SELECT coalesce(bit_xor(hash(concat_ws('|', source, citation, locator, quality, file, notes))), 0)
                FROM sources) AS sources,
               (SELECT string_agg(key || '=' || value, ';' ORDER BY key) FROM meta) AS meta
        """
    ).row(0)


def _entry(root, store, name: str, args: tuple, state: str | None, suffix: str) -> tuple[Path, Path, str]:
    """(folder, file, prefix of the same entry's files for other states) of ``(name, args)`` now."""
    arg_key = hashlib.sha256(json.dumps([name, list(args)], default=str).encode()).hexdigest()[:12]
    folder = cache_dir(root)
    return folder, folder / f"{name}-{arg_key}-{state or state_key(store)}{suffix}", f"{name}-{arg_key}-"


def memo(store, name: str, args: tuple, compute: Callable[[], T], state: str | None = None) -> T:
    """``compute()`` once per store state for ``(name, args)``; read back from :func:`cache_dir` after.

    Args:
        store: an open :class:`store.database.Store`.
        name: names the computation (letters, digits, ``_``); the same name must always mean
            the same function of the store and ``args``.
        args: JSON-able arguments of the computation (part of the key).
        compute: computes the value from the store as it is now.
        state: :func:`state_key` of ``store`` if the caller has it already (saves a query).
    """
    def keep(folder: Path, path: Path, value: T, stale: str) -> None:
        try:
            text = json.dumps(encode(value), allow_nan=True, ensure_ascii=False)
        except TypeError:
            return  # not representable in JSON: not kept
        _write(folder, path, text, stale=stale)

    return _kept(store, name, args, state, ".json", lambda path: decode(json.loads(path.read_text(encoding="utf-8"))),
                 # damaged or from an incompatible writer: computed again and replaced
                 (OSError, ValueError, TypeError, KeyError, AttributeError), compute, keep)


def memo_frame(store, name: str, args: tuple, compute: Callable[[], pl.DataFrame],
               state: str | None = None) -> pl.DataFrame:
    """:func:`memo` for one polars frame that every render reads: kept as uncompressed Arrow IPC
    (``<name>-<args>-<state>.arrow``) and read back memory-mapped, with no decoding.

    A ``store`` without a folder (``root``) is computed every call.
    """
    def read(path: Path) -> pl.DataFrame:
        # memory-mapped and zero-copy (0.5 ms for 64,000 x 24; pl.read_ipc copies: 18 ms, zstd 23 ms)
        with pa.memory_map(str(path)) as source:
            return pl.from_arrow(pa.ipc.open_file(source).read_all())

    return _kept(store, name, args, state, ".arrow", read, (OSError, pa.ArrowException, pl.exceptions.PolarsError),
                 compute, _binary(".arrow", lambda f, frame: frame.write_ipc(f)))


def memo_arrays(store, name: str, args: tuple, compute: Callable[[], dict[str, np.ndarray]],
                state: str | None = None) -> dict[str, np.ndarray]:
    """:func:`memo` for named numpy arrays (numbers, booleans, fixed-width strings; no objects): kept as
    one file (a JSON header of names, types, shapes and offsets, then the arrays' bytes) and read back
    memory-mapped, each array a read-only view (no copy, no unpickling; an ``.npz`` took 7 ms to read).
    A ``store`` without a folder computes every call."""
    return _kept(store, name, args, state, ".arrays", _read_arrays, (OSError, ValueError, KeyError, TypeError), compute,
                 _binary(".arrays", _write_arrays))


def _kept(store, name: str, args: tuple, state: str | None, suffix: str, read: Callable[[Path], T],
          damaged: tuple[type[Exception], ...], compute: Callable[[], T],
          keep: Callable[[Path, Path, T, str], None]) -> T:
    """The entry ``(name, args)`` of the store's state read back (``read``) if kept, else ``compute()`` kept by
    ``keep(folder, path, value, stale)``; an entry ``read`` fails on with one of ``damaged`` is computed again
    and replaced. A ``store`` without a folder (``root``) computes every call."""
    root = getattr(store, "root", None)
    if root is None:
        return compute()
    folder, path, stale = _entry(root, store, name, args, state, suffix)
    try:
        value = read(path)
    except FileNotFoundError:
        pass
    except damaged:
        pass
    else:
        _used(path)
        return value
    value = compute()
    keep(folder, path, value, stale)
    return value


def _binary(suffix: str, write: Callable[[Any, Any], None]) -> Callable[[Path, Path, Any, str], None]:
    """A ``keep`` for :func:`_kept` that writes the value to a binary file with ``write(file, value)``."""
    return lambda folder, path, value, stale: _write(folder, path, lambda f: write(f, value), stale=stale,
                                                     suffix=suffix, binary=True)


_ALIGN = 64


def _write_arrays(f, arrays: dict[str, np.ndarray]) -> None:
    header, offset = {}, 0
    arrays = {k: np.asarray(a).copy(order="C") for k, a in arrays.items()}  # (ascontiguousarray makes 0-d 1-d)
    for k, a in arrays.items():
        if a.dtype.hasobject:
            raise TypeError(f"{k}: object arrays are not kept")
        header[k] = [a.dtype.str, list(a.shape), offset]
        offset += -(-a.nbytes // _ALIGN) * _ALIGN
    head = json.dumps(header).encode()
    start = -(-(8 + len(head)) // _ALIGN) * _ALIGN
    f.write(len(head).to_bytes(8, "little") + head + b"\0" * (start - 8 - len(head)))
    for k, a in arrays.items():
        data = a.tobytes()
        f.write(data + b"\0" * (-(-len(data) // _ALIGN) * _ALIGN - len(data)))


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    n = int.from_bytes(raw[:8].tobytes(), "little")
    header = json.loads(raw[8:8 + n].tobytes())
    start = -(-(8 + n) // _ALIGN) * _ALIGN
    out = {}
    for k, (dtype, shape, offset) in header.items():
        dt = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        at = start + offset
        out[k] = raw[at:at + count * dt.itemsize].view(dt).reshape(shape)
    return out


def _write(folder: Path, path: Path, text: str | Callable, stale: str, suffix: str = ".json",
           binary: bool = False) -> None:
    """Writes atomically (temporary file + rename) and deletes entries of other states; never raises.

    ``text``: the entry, or (``binary``) a function that writes it to an open binary file.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
        if binary:
            with os.fdopen(fd, "wb") as f:
                text(f)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
        os.chmod(tmp, 0o644)  # readable by whoever can read the store
        os.replace(tmp, path)
        for old in folder.glob(f"{stale}*{suffix}"):
            if old != path:
                old.unlink(missing_ok=True)
        _prune(folder, path)
    except OSError:
        pass  # a read-only store folder: the value is still returned, just not kept


def _used(path: Path) -> None:
    """Marks an entry as just used (its modification time: what :func:`_prune` keeps the newest of)."""
    try:
        os.utime(path)
    except OSError:
        pass


def _limit_bytes() -> float:
    try:
        return max(float(os.environ.get(LIMIT_VAR, DEFAULT_LIMIT_MB)), 0.0) * 2**20
    except ValueError:
        return DEFAULT_LIMIT_MB * 2**20


def _prune(folder: Path, keep: Path) -> None:
    """Deletes the least recently used entries (never ``keep``, just written) while the folder holds more
    than ``$XSTILTS_DERIVED_CACHE_MB``."""
    entries = []
    for p in folder.iterdir():
        if p.suffix in _SUFFIXES and not p.name.startswith("."):
            try:
                st = p.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, st.st_size, p))
    total, limit = sum(e[1] for e in entries), _limit_bytes()
    for _, size, p in sorted(entries, key=lambda e: e[0]):
        if total <= limit:
            break
        if p != keep:
            p.unlink(missing_ok=True)
            total -= size


# ---------------------------------------------------------------------- JSON encoding
def encode(obj: Any) -> Any:
    """A JSON-able form of ``obj`` that :func:`decode` turns back into an equal value.

    Raises:
        TypeError: ``obj`` holds something this encoding does not cover (e.g. a numpy array).
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else {"__float__": repr(float(obj))}
    if hasattr(obj, "item") and type(obj).__module__ == "numpy" and getattr(obj, "ndim", None) == 0:
        return encode(obj.item())  # a numpy scalar
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(x) for x in obj]}
    if isinstance(obj, list):
        keys = _record_keys(obj)
        if keys is not None:  # many dicts with the same string keys (per-run details): one key list, value rows
            return {"__records__": [list(keys), [[encode(v) for v in d.values()] for d in obj]]}
        return [encode(x) for x in obj]
    if isinstance(obj, dict):
        if all(type(k) is str and not k.startswith("__") for k in obj):
            return {k: encode(v) for k, v in obj.items()}  # a JSON object as it is
        return {"__dict__": [[encode(k), encode(v)] for k, v in obj.items()]}
    if isinstance(obj, pl.DataFrame):
        buf = io.BytesIO()
        obj.write_ipc(buf, compression="zstd")  # a run list repeats its citations: ~25x smaller, 4x faster to read
        return {"__frame__": base64.b64encode(buf.getvalue()).decode("ascii")}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        if not cls.__module__.startswith("store."):
            raise TypeError(f"dataclass {cls.__qualname__} is not the store package's")
        fields = {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
        if any(k.startswith("__") for k in fields):
            raise TypeError(f"dataclass {cls.__qualname__} has a field named like a marker")
        return {"__dataclass__": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    raise TypeError(f"cannot keep a {type(obj).__name__} in the derived cache")


def _record_keys(items: list) -> tuple[str, ...] | None:
    """The keys shared by every item of ``items`` when they are enough plain dicts with the same keys, else None."""
    if len(items) < 8 or type(items[0]) is not dict:
        return None
    keys = tuple(items[0])
    if not all(type(k) is str and not k.startswith("__") for k in keys):
        return None
    return keys if all(type(d) is dict and tuple(d) == keys for d in items) else None


def _dataclass(name: str) -> type:
    """A dataclass of the ``store`` package by ``module:qualname``; anything else is refused."""
    module, _, qualname = name.partition(":")
    if not module.startswith("store.") or not qualname.isidentifier():
        raise TypeError(f"refusing to decode {name!r}: not a store dataclass")
    cls = getattr(importlib.import_module(module), qualname)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"refusing to decode {name!r}: not a dataclass")
    return cls


def decode(obj: Any) -> Any:
    """The value that :func:`encode` encoded."""
    # Plain values (most of an entry: run ids, numbers) are taken as they are, without a call.
    if type(obj) is list:
        return [decode(x) if type(x) in _NESTED else x for x in obj]
    if type(obj) is not dict:
        return obj
    if "__records__" in obj:
        keys, rows = obj["__records__"]
        return [dict(zip(keys, [decode(x) if type(x) in _NESTED else x for x in row])) for row in rows]
    if "__tuple__" in obj:
        return tuple([decode(x) if type(x) in _NESTED else x for x in obj["__tuple__"]])
    if "__dataclass__" in obj:
        return _dataclass(obj["__dataclass__"])(**decode(obj["fields"]))
    if "__dict__" in obj:
        return {_hashable(decode(k)): decode(v) for k, v in obj["__dict__"]}
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__frame__" in obj:  # through pyarrow: pl.read_ipc costs about 1 ms a frame, whatever its size
        return pl.from_arrow(pa.ipc.open_file(pa.BufferReader(base64.b64decode(obj["__frame__"]))).read_all())
    if any(k.startswith("__") for k in obj):
        raise TypeError(f"unknown entry {sorted(obj)[:3]}")
    return {k: decode(v) if type(v) in _NESTED else v for k, v in obj.items()}  # string keys


_NESTED = (dict, list)


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


__all__ = ["cache_dir", "code_fingerprint", "decode", "encode", "memo", "memo_arrays", "memo_frame", "state_key"]
