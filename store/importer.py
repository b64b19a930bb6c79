"""`store import`: a results file in the documented long format, under a cited source.

Everything is checked before anything is written: a bad row, an unknown task or language, or a
run id already stored with other numbers leaves the store exactly as it was.
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from store.catalog import load_catalog
from store.database import Store, check_source, read_source, resolve_store_path
from store.errors import StoreError
from store.published import Source
from store.records import RUNNER_SOURCE, Result, Run, check_source_key, content_hash, validate
from store.shards import read_shard_hash, shard_path

REQUIRED = ("model", "intermediate", "target", "language", "metric", "value")
OPTIONAL = {"split": "test", "seed": "", "variant": "", "setting": "zero-shot", "n_examples": ""}


def _header(path: Path) -> list[str]:
    """The column names exactly as the file has them (polars renames duplicates silently)."""
    if path.suffix.lower() == ".parquet":
        return pq.read_schema(path).names
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        return next(csv.reader(f), [])


def _read(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise StoreError(f"{path} does not exist or is not a file")
    kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
    try:
        names = _header(path)
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise StoreError(f"{path.name} has the column(s) {', '.join(map(repr, dup))} more than once; keep one of each")
        if kind == "Parquet":
            df = pl.read_parquet(path)
            return df.with_columns(pl.all().cast(pl.String))
        return pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError, csv.Error) as e:
        reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise StoreError(f"cannot read {path} as {kind}: {reason}") from None


def _number(cell: str, what: str, fraction: bool) -> tuple[float, str]:
    try:
        d = Decimal(cell.strip())
    except (InvalidOperation, AttributeError):
        raise StoreError(f"{what}: value {cell!r} is not a number") from None
    if not d.is_finite():
        raise StoreError(f"{what}: value is {cell}; only finite scores can be stored")
    return (float(d * 100), "fraction x 100") if fraction else (float(d), "")


def _int(cell: str, what: str, column: str) -> int | None:
    if cell in ("", None):
        return None
    try:
        return int(cell.strip())
    except (ValueError, AttributeError):
        raise StoreError(f"{what}: {column} {cell!r} is not an integer") from None


def check_scales(values: dict[tuple[str, str], list[tuple[float, int]]], name: str) -> None:
    """Refuses a metric whose values in one file look like fractions (0-1), alone or beside points.

    Args:
        values: per (target, metric), every (value as read, line number).
        name: the file name, for the message.

    Raises:
        StoreError: e.g. 0.81 beside 80.2 for XNLI accuracy, or every accuracy at most 1.
    """
    for (target, metric), vals in values.items():
        small = [(v, i) for v, i in vals if 0 < v <= 1]
        big = [(v, i) for v, i in vals if v > 1]
        if not small:
            continue
        fix = ("store points (0-100); if every value is a fraction pass --fraction; if these small values really "
               "are points, pass --small-values-are-points")
        if big:
            (v, i), (b, j) = small[0], big[0]
            raise StoreError(f"{name}: {target} {metric} mixes scales: {v:g} (line {i}) beside {b:g} (line {j}); {fix}")
        if len(small) == len(vals):
            v, i = small[0]
            raise StoreError(f"{name}: every {target} {metric} value is at most 1 (e.g. {v:g}, line {i}): "
                             f"these look like fractions; {fix}")


def plan_import(path: Path, source: str, fraction: bool, small_values_are_points: bool = False
                ) -> list[tuple[Run, list[Result]]]:
    """Parses and validates a long-format file into runs (no writing)."""
    df = _read(path)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise StoreError(
            f"{path.name} lacks column(s) {', '.join(missing)}; required: {', '.join(REQUIRED)} "
            f"(optional: {', '.join(OPTIONAL)})"
        )
    if df.is_empty():
        raise StoreError(f"{path.name} has no rows")
    for col, default in OPTIONAL.items():
        if col not in df.columns:
            df = df.with_columns(pl.lit(default).alias(col))
    df = df.with_columns(pl.all().fill_null(""))
    cat = load_catalog()
    groups: dict[tuple, list[Result]] = {}
    scales: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for i, row in enumerate(df.iter_rows(named=True), start=2):
        what = f"{path.name} line {i}"
        value, conversion = _number(row["value"], what, fraction)
        scales.setdefault((row["target"], row["metric"]), []).append((value, i))
        try:
            inter = cat.canonical_intermediate(row["intermediate"])
        except StoreError as e:
            raise StoreError(f"{what}: {e}") from None
        key = (row["model"], inter, row["target"], row["variant"], row["setting"], _int(row["seed"], what, "seed"))
        groups.setdefault(key, []).append(
            Result(
                language=row["language"],
                metric=row["metric"],
                value=value,
                split=row["split"],
                n_examples=_int(row["n_examples"], what, "n_examples"),
                value_as_printed=row["value"],
                metric_as_printed=row["metric"],
                conversion=conversion,
            )
        )
    if not fraction and not small_values_are_points:
        check_scales(scales, path.name)
    planned = []
    for (model, inter, target, variant, setting, seed), results in groups.items():
        run = Run(model=model, intermediate=inter, target=target, variant=variant, setting=setting,
                  seed=seed, source=source)
        try:
            validate(run, results, cat)
        except StoreError as e:
            raise StoreError(f"{path.name}: {e}") from None
        planned.append((run, results))
    return planned


def import_file(store_path, path: Path, source: str, citation: str, locator: str,
                fraction: bool = False, notes: str = "", small_values_are_points: bool = False) -> tuple[int, int, int]:
    """Imports ``path``; returns (runs, rows, runs newly written)."""
    if source == RUNNER_SOURCE:
        raise StoreError("'runner' is reserved for the runner's own runs; choose another --source")
    check_source_key(source)
    if not citation.strip() or not locator.strip():
        raise StoreError("--citation and --locator must say where the numbers come from")
    record = Source(source, citation.strip(), locator.strip(), "imported", path.name, notes)
    check_source(record)
    planned = plan_import(path, source, fraction, small_values_are_points)
    _refuse_conflicts(resolve_store_path(store_path), record, planned)  # before anything is opened
    with Store.open(store_path, read_only=False, create=False) as st:
        st.add_source(record)
        new = st.write_runs(planned)  # one index refresh for the whole file
    return len(planned), sum(len(r) for _, r in planned), new


def _refuse_conflicts(root: Path, record: Source, planned: list[tuple[Run, list[Result]]]) -> None:
    """Raises if the source key or a run id is already taken by other content (reads files only)."""
    src = root / "sources" / f"{record.source}.json"
    if src.exists():
        old = read_source(src)
        if (old.citation, old.locator) != (record.citation, record.locator):
            raise StoreError(
                f"source {record.source!r} is already registered with citation {old.citation!r} and locator "
                f"{old.locator!r}; repeat those to add to it, or use a new --source key"
            )
    for run, results in planned:
        existing = shard_path(root / "runs", run.run_id)
        if existing.exists() and read_shard_hash(existing) != content_hash(run, results):
            raise StoreError(
                f"run {run.model} {run.intermediate}:{run.target} seed {run.seed} of source {record.source!r} "
                "is already stored with other numbers; use a new --source key"
            )
