"""Per-example predictions of a run: one Parquet file beside its shard, read only when asked for.

Layout::

    STORE/predictions/<run_id>.parquet   every evaluated example of the run (optional)

A run's record names the content hash of its predictions (``Run.predictions``); the file carries
the same hash in its footer. Publication order makes the pair atomic for readers: the predictions
file is linked in first, the shard second, and a predictions file counts only when its shard
exists and names its hash. A writer killed between the two links leaves an invisible file that
the rerun accepts (same content) or replaces (no shard refers to it). Stores without predictions,
and runs written with ``--no-predictions``, work as before: their record's hash is empty.

Columns (``COLUMNS``; only ``example_id`` and ``language`` are required, the rest may be null
where a task has no such thing):

=============== ======= ==========================================================================
example_id      string  the example's id in the test set, unique within a language
language        string  ISO 639-1 code as the benchmark uses it
split           string  ``test`` (default) or ``validation``
text            string  the input as a reader sees it (premise ||| hypothesis, sentence, question)
gold            string  gold label, tags (space-separated, one per word), answer(s) (`` || ``), id
prediction      string  the prediction in the same form as ``gold``
correct         bool    the whole example is right: label; every tag; exact match; gold ranked 1st
score           float64 per-example score in points (0-100) whose mean is the metric
                        (accuracy: 0/100; QA: F1; retrieval: average precision at k)
em, f1          float64 QA: exact match and token F1 of the best gold answer, points
tp              int32   span-F1 tasks (tagging, BUCC): true positives of the example
n_pred, n_gold  int32   predicted and gold spans (F1 = 2 sum tp / (sum n_pred + sum n_gold))
gold_rank       int32   retrieval: 1-based rank of the first relevant candidate, null if not in top k
n_words         int32   bucket: input length in whitespace words
n_tokens        int32   bucket: input length in model sub-tokens
label_types     string  bucket: gold labels / entity types present, comma-separated, sorted
answer_words    int32   bucket: words of the (first) gold answer
question_word   string  bucket: the question's wh-word (what, who, when, ...), ``other`` if none
=============== ======= ==========================================================================

Example:
    >>> import polars as pl, tempfile
    >>> from pathlib import Path
    >>> frame = pl.DataFrame({"example_id": ["1", "2"], "language": ["de", "de"], "correct": [True, False]})
    >>> root = Path(tempfile.mkdtemp())
    >>> path, digest = write_predictions(root, "r1", frame)
    >>> read_predictions(root, "r1", columns=["example_id", "correct"])["correct"].to_list()
    [True, False]
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from store.errors import StoreError
from store.fs import write_temp

PREDICTIONS_DIR = "predictions"
SUFFIX = ".parquet"
_META_HASH = b"xstilts.predictions_hash"
_META_RUN = b"xstilts.run_id"

#: Every column a predictions file may hold, with its type (documented in the module docstring).
COLUMNS: dict[str, pl.DataType] = {
    "example_id": pl.String,
    "language": pl.String,
    "split": pl.String,
    "text": pl.String,
    "gold": pl.String,
    "prediction": pl.String,
    "correct": pl.Boolean,
    "score": pl.Float64,
    "em": pl.Float64,
    "f1": pl.Float64,
    "tp": pl.Int32,
    "n_pred": pl.Int32,
    "n_gold": pl.Int32,
    "gold_rank": pl.Int32,
    "n_words": pl.Int32,
    "n_tokens": pl.Int32,
    "label_types": pl.String,
    "answer_words": pl.Int32,
    "question_word": pl.String,
}
REQUIRED = ("example_id", "language")
#: Columns that describe the input, not the system: identical for a run and its baseline.
EXAMPLE_COLUMNS = ("text", "gold", "n_words", "n_tokens", "label_types", "answer_words", "question_word", "n_gold")
#: Bucket attributes: numeric ones are cut into ranges, the others are categories.
NUMERIC_BUCKETS = ("n_words", "n_tokens", "answer_words")
CATEGORY_BUCKETS = ("label_types", "question_word")


def predictions_dir(root: Path) -> Path:
    return Path(root) / PREDICTIONS_DIR


def predictions_path(root: Path, run_id: str) -> Path:
    return predictions_dir(root) / f"{run_id}{SUFFIX}"


def normalize(frame: pl.DataFrame | pa.Table | Sequence[dict]) -> pl.DataFrame:
    """The frame in the documented column order and types, missing optional columns as nulls.

    Raises:
        StoreError: unknown or missing required columns, null or duplicate example ids.
    """
    if isinstance(frame, pa.Table):
        frame = pl.from_arrow(frame)
    elif not isinstance(frame, pl.DataFrame):
        frame = pl.DataFrame(list(frame), infer_schema_length=None)
    unknown = sorted(set(frame.columns) - set(COLUMNS))
    if unknown:
        raise StoreError(f"predictions have unknown column(s) {', '.join(unknown)}; known: {', '.join(COLUMNS)}")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise StoreError(f"predictions lack the required column(s) {', '.join(missing)}")
    if frame.height == 0:
        raise StoreError("predictions are empty: write the run without them (--no-predictions) instead")
    try:
        frame = frame.select(
            [
                (pl.col(c) if c in frame.columns else pl.lit(None)).cast(dtype, strict=True).alias(c)
                for c, dtype in COLUMNS.items()
            ]
        ).with_columns(pl.col("split").fill_null("test"))
    except pl.exceptions.PolarsError as e:
        raise StoreError(f"predictions have a column of the wrong type ({str(e).splitlines()[0]})") from e
    if frame["example_id"].null_count() or frame["language"].null_count():
        raise StoreError("predictions have rows without example_id or language")
    dup = frame.select("split", "language", "example_id").is_duplicated()
    if dup.any():
        row = frame.filter(dup).row(0, named=True)
        raise StoreError(
            f"predictions repeat example id {row['example_id']!r} in {row['language']} ({row['split']}); "
            "ids must be unique within a language"
        )
    return frame.sort("split", "language", "example_id")


def check_against(frame: pl.DataFrame, run, results) -> None:
    """Refuses predictions for a (language, split) that the run has no result for."""
    have = {(r.language, r.split) for r in results}
    extra = sorted(set(frame.select("language", "split").unique().iter_rows()) - have)
    if extra:
        shown = ", ".join(f"{lang} ({split})" for lang, split in extra)
        raise StoreError(f"run {run.run_id} has predictions for {shown} but no result there; store both or neither")


def content_hash(frame: pl.DataFrame) -> str:
    """Hash of a normalised frame's content: its schema and its rows as NDJSON text.

    Values only, never memory layout: Arrow IPC bytes differ between a frame built in memory and
    the same frame read back from Parquet (chunking, validity buffers), so they cannot serve here.
    """
    text = f"{frame.schema}\n{frame.write_ndjson()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_predictions(root: Path, run_id: str, frame: pl.DataFrame, digest: str | None = None) -> tuple[Path, str]:
    """Publishes a run's predictions atomically (call before the run's shard is published).

    Args:
        root: the store folder.
        run_id: whose predictions.
        frame: normalised (see :func:`normalize`) predictions.
        digest: :func:`content_hash` of ``frame`` if already computed.

    Returns:
        (path, content hash). An existing file with the same content is kept as is; one with other
        content is replaced only while no shard refers to it (a writer died between the links).
    """
    digest = digest or content_hash(frame)
    folder = predictions_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    final = predictions_path(root, run_id)
    if final.exists() and read_hash(final) == digest:
        return final, digest
    table = frame.to_arrow().replace_schema_metadata({_META_HASH: digest.encode(), _META_RUN: run_id.encode()})
    tmp = str(write_temp(folder, "tmp", SUFFIX))  # unique, group-readable (store.fs)
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        try:
            os.link(tmp, final)
        except FileExistsError:
            if read_hash(final) != digest:
                os.replace(tmp, final)  # an orphan left by a killed writer: no shard names it yet
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return final, digest


def read_hash(path: Path) -> str:
    """The content hash in a predictions file's footer ("" if it has none)."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return ""
    return meta.get(_META_HASH, b"").decode()


def available(root: Path, run_ids: Iterable[str] | None = None) -> set[str]:
    """Run ids with a predictions file (a listing only: nothing is read)."""
    folder = predictions_dir(root)
    if not folder.is_dir():
        return set()
    have = {name[: -len(SUFFIX)] for name in os.listdir(folder) if name.endswith(SUFFIX) and not name.startswith(".")}
    return have if run_ids is None else have & set(run_ids)


def read_predictions(
    root: Path,
    run_id: str,
    columns: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    expected_hash: str | None = None,
) -> pl.DataFrame:
    """Reads one run's predictions lazily: only ``columns`` and ``languages`` are materialised.

    Args:
        root: the store folder.
        run_id: whose predictions.
        columns: subset of :data:`COLUMNS` (default all).
        languages: only these languages (default all).
        expected_hash: the hash the run record names; a file with another hash is refused.

    Raises:
        StoreError: no predictions for this run, unreadable file, or a hash mismatch.
    """
    path = predictions_path(root, run_id)
    if not path.exists():
        raise StoreError(
            f"run {run_id} has no predictions in this store; rerun it without --no-predictions "
            "(runs written before predictions existed have none)"
        )
    if expected_hash is not None and read_hash(path) != expected_hash:
        raise StoreError(f"predictions of run {run_id} do not match its record (hash); rerun it or delete {path}")
    cols = list(columns) if columns is not None else list(COLUMNS)
    unknown = [c for c in cols if c not in COLUMNS]
    if unknown:
        raise StoreError(f"unknown predictions column(s) {', '.join(unknown)}")
    try:
        lf = pl.scan_parquet(path)
        if languages is not None:
            lf = lf.filter(pl.col("language").is_in(list(languages)))
        return lf.select(cols).collect()
    except (OSError, pl.exceptions.PolarsError) as e:
        raise StoreError(f"predictions of run {run_id} are unreadable ({e}); delete {path} and rerun") from e


def verified_hash(path: Path, run_id: str) -> str:
    """The content hash of a predictions file after checking it (Hub transfer: damaged or renamed files).

    Raises:
        StoreError: unreadable, another run's file, or content that does not match its footer.
    """
    try:
        meta = pq.read_schema(path).metadata or {}
        frame = normalize(pl.read_parquet(path))
    except (OSError, pa.ArrowException, pl.exceptions.PolarsError) as e:
        raise StoreError(f"predictions of run {run_id} are unreadable ({str(e).splitlines()[0]}); delete them and pull or rerun") from e
    if meta.get(_META_RUN, b"").decode() != run_id:
        raise StoreError(f"predictions/{run_id}{SUFFIX} holds another run's predictions (a renamed file); remove it")
    digest = content_hash(frame)
    if meta.get(_META_HASH, b"").decode() != digest:
        raise StoreError(f"predictions/{run_id}{SUFFIX} do not match their own content hash (damaged); delete and pull or rerun")
    return digest


def check_predictions(root: Path, run_hashes: dict[str, str]) -> list[str]:
    """Problems with the store's predictions files, given each shard's recorded hash (run id -> hash).

    A file with no shard is an orphan of a killed writer (harmless; the rerun uses or replaces it).
    """
    problems = []
    have = available(root)
    for run_id in sorted(have):
        path = predictions_path(root, run_id)
        if run_id not in run_hashes:
            problems.append(f"predictions/{path.name}: no shard for this run (a killed writer's leftover; rerun the run or delete the file)")
            continue
        try:
            stored = content_hash(normalize(pl.read_parquet(path)))
        except (OSError, pl.exceptions.PolarsError, StoreError) as e:
            problems.append(f"predictions/{path.name}: unreadable or invalid ({str(e).splitlines()[0]})")
            continue
        if run_hashes[run_id] and stored != run_hashes[run_id]:
            problems.append(f"predictions/{path.name}: content does not match the hash in its run record (altered)")
        elif not run_hashes[run_id]:
            problems.append(f"predictions/{path.name}: its run record names no predictions")
    for run_id, digest in sorted(run_hashes.items()):
        if digest and run_id not in have:
            problems.append(f"{run_id}: its record names predictions but predictions/{run_id}{SUFFIX} is missing (pull or rerun)")
    return problems
