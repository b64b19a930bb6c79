"""Filling the index tables: catalog tables, sources and runs, as Arrow frames in one INSERT each."""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb
import pyarrow as pa

from store import catalog as catalog_mod
from store import configuration
from store.catalog import Catalog
from store.published import Source
from store.records import Result, Run


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    frame = pa.Table.from_pylist(rows)
    con.register("_incoming", frame)
    cols = ", ".join(frame.column_names)
    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")  # table: fixed names
    con.unregister("_incoming")


def insert_sources(con, sources: Sequence[Source], skip_existing: bool = False) -> None:
    if skip_existing:
        have = {s for (s,) in con.sql("SELECT source FROM sources").fetchall()}
        sources = [s for s in sources if s.source not in have]
    insert_frame(con, "sources", [dict(s.__dict__) for s in sources])


def insert_runs(con, items: Sequence[tuple[Run, Sequence[Result], str]]) -> None:
    runs, results, dev = [], [], []
    for run, res, chash in items:
        runs.append(
            {
                "run_id": run.run_id,
                "source": run.source,
                "model": run.model,
                "label": run.label,
                "intermediate": run.intermediate,
                "target": run.target,
                "variant": run.variant,
                "setting": run.setting,
                "seed": run.seed,
                "hparams": json.dumps(dict(run.hparams), sort_keys=True),
                "config": json.dumps(dict(run.config), sort_keys=True, default=str),
                "code_version": run.code_version,
                "hardware": run.hardware,
                "wall_time_s": run.wall_time_s,
                "gpu_hours": run.gpu_hours,
                "created_at": run.created_at,
                "content_hash": chash,
                "config_id": configuration.config_id(run),
                "target_config_id": configuration.target_config_id(run),
                "target_data": configuration.target_data(run),
                "configuration": json.dumps(configuration.flatten(run), sort_keys=True),
                "capped": configuration.is_capped(run),
            }
        )
        results.extend({"run_id": run.run_id, **r.__dict__} for r in res)
        dev.extend({"run_id": run.run_id, **s.__dict__} for s in run.dev_scores)
    insert_frame(con, "runs", runs)
    insert_frame(con, "results", results)
    insert_frame(con, "dev_scores", dev)


def _format_rank(level: str) -> int | None:
    return int(level) if level.isdigit() else None


def _int_or_none(cell: str) -> int | None:
    return int(cell) if cell.strip().isdigit() else None


def load_catalog_tables(con, cat: Catalog) -> None:
    insert_frame(
        con,
        "tasks",
        [
            {**t.__dict__, "benchmarks": ";".join(t.benchmarks), "metrics": ";".join(t.metrics)}
            for t in cat.tasks.values()
        ],
    )
    names = {t.name: t.task for t in cat.tasks.values()}
    complexity = []
    for r in catalog_mod._read_csv("intermediate_tasks.csv"):
        task = names.get(r["task"])
        if task is None or cat.tasks[task].role != "intermediate":
            continue  # candidates outside the nine, and the multi-task row
        complexity.append(
            {
                "task": task,
                "format_level": r["format_level"],
                "format_rank": _format_rank(r["format_level"]),
                "task_format": r["task_format"],
                "n_labels_or_choices": _int_or_none(r["n_labels_or_choices"]),
                "n_labels_source": r["n_labels_source"],
                "train_size": _int_or_none(r["train_size"]),
                "train_size_source": r["train_size_source"],
                "bytes_per_example": _int_or_none(r["hf_train_bytes_per_example"]),
                "input_structure": r["input_structure"],
                "reasoning_type": r["reasoning_type"],
                "reasoning_source": r["reasoning_source"],
                "english_model_score": r["english_model_score"],
                "english_model": r["english_model"],
                "english_model_source": r["english_model_source"],
                "human_score": r["human_score"],
                "human_source": r["human_source"],
                "notes": r["notes"],
            }
        )
    insert_frame(con, "task_complexity", complexity)
    insert_frame(
        con,
        "languages",
        [
            {
                "language": lang.code,
                "name": lang.name,
                "family": lang.family,
                "genus": lang.genus,
                "script": lang.script,
                "resource_class": lang.resource_class,
                "in_xtreme": lang.in_xtreme,
                "in_xtreme_r": lang.in_xtreme_r,
            }
            for lang in cat.languages.values()
        ],
    )
    dist = catalog_mod.load_distances()
    insert_frame(
        con,
        "language_distances",
        [
            {"language": lang, "kind": kind, "distance": value, "uriel_code": dist.uriel_codes[lang]}
            for lang, by_kind in dist.values.items()
            for kind, value in by_kind.items()
        ],
    )
    insert_frame(
        con,
        "distance_source",
        [
            {
                "package": dist.package,
                "package_version": dist.package_version,
                "citation": dist.citation,
                "base_citation": dist.base_citation,
                "reference_language": dist.reference_language,
                "configuration": json.dumps(dist.configuration, sort_keys=True),
            }
        ],
    )
    insert_frame(
        con,
        "task_languages",
        [
            {"benchmark": b, "task": t, "language": lang}
            for (b, t), langs in cat.benchmark_languages.items()
            for lang in langs
        ],
    )
    insert_frame(con, "models", [dict(m.__dict__) for m in cat.models.values()])
    stats_names = {"POS": "udpos", "NER": "panx", "BUCC": "bucc2018"}
    insert_frame(
        con,
        "dataset_statistics",
        [
            {
                "task": stats_names.get(r["target_task"]) or names.get(r["target_task"], r["target_task"]),
                "statistic": r["metric"],
                "value_as_printed": r["value"],
                "notes": r["notes"],
                "source": r["source"],
            }
            for r in catalog_mod._read_csv("xtreme_dataset_statistics_rembert_table11.csv")
        ],
    )
