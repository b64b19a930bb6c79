"""What a full push publishes besides shards: catalog and snapshot tables, the card, the manifest.

Everything here is derived from one store index (a snapshot of the local store plus the shards
already on the remote) and written to a folder, ready to commit:

* ``catalog/<table>.parquet``: tasks, complexity attributes, languages, task languages, models,
  dataset statistics and sources (citations);
* ``tables/<table>.parquet``: runs, results_wide and dev_scores as of this push;
* ``README.md``: the dataset card (YAML ``configs:`` for ``datasets``, schema, sources, queries);
* ``xstilts.json``: layout version and the snapshot's key (a push with nothing new is skipped).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

from store.database import SCHEMA_FILE, SCHEMA_VERSION, Store
from store.shards import RESULT_SCHEMA

LAYOUT_VERSION = 1
MANIFEST = "xstilts.json"
SHARD_PATTERN = "runs/<run_id>.parquet"
CARD = "README.md"
CATALOG_TABLES = ("tasks", "task_complexity", "languages", "task_languages", "models", "dataset_statistics", "sources")
SNAPSHOT_TABLES = ("results_wide", "runs", "dev_scores")
_ORDER = {"results_wide": "run_id, language, split, metric", "runs": "run_id", "dev_scores": "run_id, phase, task, metric"}
_TABLE_HELP = {
    "<run_id>": "one run's result rows (the `shards` config); the run record is in the key-value metadata",
    "results_wide": "every result row with its run and catalog context (what the dashboard reads)",
    "runs": "one row per run: identity, hyperparameters, config, code version, hardware, timings",
    "dev_scores": "English dev scores of each training phase (complexity axis C)",
    "tasks": "intermediate and target tasks: type, benchmarks, metrics, headline metric",
    "task_complexity": "complexity attributes of the nine intermediate tasks, with their sources",
    "languages": "languages with family, genus, script and resource class",
    "task_languages": "which languages each benchmark evaluates for each task",
    "models": "known encoders",
    "dataset_statistics": "dataset statistics as printed in the cited table",
    "sources": "where every result row comes from: citation and locator",
}

#: The DuckDB queries the card shows; ``{root}`` is the downloaded folder. Tests run them verbatim.
DUCKDB_QUERIES = {
    "results": "SELECT * FROM read_parquet('{root}/tables/results_wide.parquet') WHERE is_headline LIMIT 10",
    "shards": (
        "SELECT regexp_extract(filename, '([^/]+)\\.parquet$', 1) AS run_id, * "
        "FROM read_parquet('{root}/runs/*.parquet', filename = true)"
    ),
    "run_records": (
        "SELECT regexp_extract(file_name, '([^/]+)\\.parquet$', 1) AS run_id, "
        "decode(value)::JSON AS run FROM parquet_kv_metadata('{root}/runs/*.parquet') "
        "WHERE decode(key) = 'xstilts.run'"
    ),
}


def column_comments() -> dict[str, str]:
    """Column -> comment, from the trailing ``--`` comments in ``schema.sql`` (first one wins)."""
    out: dict[str, str] = {}
    for line in SCHEMA_FILE.read_text().splitlines():
        m = re.match(r"^\s+(\w+)\s+[A-Z]+[^-]*--\s*(.+)$", line)
        if m:
            out.setdefault(m.group(1), m.group(2).strip())
    return out


def snapshot_key(st: Store) -> str:
    """Identifies what a snapshot holds: its runs' content hashes, its sources, the catalog, and
    this module's code (a new card layout refreshes the card on the next push)."""
    runs = st.query("SELECT run_id, content_hash FROM runs ORDER BY run_id").rows()
    sources = st.query("SELECT * FROM sources ORDER BY source").rows()
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    payload = json.dumps(
        [LAYOUT_VERSION, SCHEMA_VERSION, st.catalog.fingerprint(), code, runs, sources], default=str, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def export(st: Store, out_dir: Path, repo_label: str) -> tuple[dict[str, Path], dict]:
    """Writes catalog and snapshot tables, the card and the manifest under ``out_dir``.

    Args:
        st: the snapshot store, open.
        out_dir: an empty folder.
        repo_label: how the card names the repo (``ORG/NAME`` or a folder).

    Returns:
        (files, manifest): path in remote -> local file, in commit order; the manifest written.
    """
    files: dict[str, Path] = {}
    schemas: dict[str, list[tuple[str, str]]] = {SHARD_PATTERN: [(f.name, str(f.type)) for f in RESULT_SCHEMA]}
    for folder, tables in (("catalog", CATALOG_TABLES), ("tables", SNAPSHOT_TABLES)):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
        for table in tables:
            rel = f"{folder}/{table}.parquet"
            order = _ORDER.get(table, "ALL")
            st.query(f"SELECT * FROM {table} ORDER BY {order}").write_parquet(out_dir / rel)  # fixed names
            files[rel] = out_dir / rel
            schemas[rel] = [(r[0], r[1]) for r in st.query(f"DESCRIBE {table}").rows()]
    counts = st.query(
        "SELECT source, count(DISTINCT run_id) AS runs, count(*) AS rows FROM results_wide GROUP BY source ORDER BY source"
    ).rows()
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    manifest = {
        "layout": LAYOUT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "catalog_fingerprint": st.catalog.fingerprint(),
        "snapshot": {
            "key": snapshot_key(st),
            "created_at": now,
            "runs": int(st.query("SELECT count(*) AS n FROM runs")["n"][0]),
            "result_rows": int(st.query("SELECT count(*) AS n FROM results")["n"][0]),
        },
    }
    sources = st.query("SELECT source, citation, locator, quality FROM sources ORDER BY source").rows()
    (out_dir / CARD).write_text(render_card(repo_label, schemas, sources, counts, manifest), encoding="utf-8")
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    files[CARD] = out_dir / CARD
    files[MANIFEST] = out_dir / MANIFEST
    return files, manifest


def _yaml_header(repo_label: str, schemas: dict) -> str:
    lines = [
        "---",
        f'pretty_name: "xstilts results: {repo_label}"',
        "tags: [xtreme, xtreme-r, cross-lingual-transfer, zero-shot, intermediate-task-training, x-stilts]",
        "configs:",
    ]
    configs = [("results", "tables/results_wide.parquet"), ("shards", "runs/*.parquet")]
    configs += [(Path(rel).stem, rel) for rel in schemas if rel not in ("tables/results_wide.parquet", SHARD_PATTERN)]
    for i, (name, path) in enumerate(configs):
        lines += [f"- config_name: {name}"]
        if i == 0:
            lines += ["  default: true"]
        lines += ["  data_files:", "  - split: train", f'    path: "{path}"']
    return "\n".join(lines + ["---", ""])


def _md(cell: object) -> str:
    return str(cell if cell is not None else "").replace("|", "\\|").replace("\n", " ")


def render_card(repo_label: str, schemas: dict, sources: list, counts: list, manifest: dict) -> str:
    """The dataset card: YAML configs, what is here, how to query it, schema, sources."""
    snap = manifest["snapshot"]
    q = DUCKDB_QUERIES
    out = [_yaml_header(repo_label, schemas)]
    out += [
        f"# xstilts results: {repo_label}",
        "",
        "Zero-shot cross-lingual transfer results on XTREME / XTREME-R after English intermediate-task "
        "training (X-STILTs), with the published numbers they are compared to. Written by "
        "xstilts `store push`; every row names its source.",
        "",
        "## Layout",
        "",
        "| path | what |",
        "|---|---|",
        "| `runs/<run_id>.parquet` | one immutable shard per run: its result rows; the run record and content hash "
        "are in the file's key-value metadata (`xstilts.run`, `xstilts.content_hash`). Always complete: every job adds its own. |",
        "| `sources/<key>.json` | citation and locator of imported results |",
        "| `catalog/*.parquet` | tasks, complexity attributes, languages, models, sources |",
        f"| `tables/*.parquet` | snapshot of the whole store as of the last `store push` ({snap['created_at']}: "
        f"{snap['runs']} runs, {snap['result_rows']} result rows, published results included) |",
        "| `xstilts.json` | layout version and what the snapshot was built from |",
        "",
        "Shards pushed by jobs after the snapshot are in `runs/` only; `store pull` always rebuilds from `runs/`.",
        "",
        "Runs in the snapshot by source:",
        "",
        "| source | runs | result rows |",
        "|---|---:|---:|",
        *[f"| {_md(s)} | {r} | {n} |" for s, r, n in counts],
        "",
        "## Query it",
        "",
        "With DuckDB (download first: DuckDB's `hf://` support needs an extension that is not always installable):",
        "",
        "```python",
        "import duckdb",
        "from huggingface_hub import snapshot_download",
        "",
        f'root = snapshot_download("{repo_label}", repo_type="dataset")',
        f'duckdb.sql(rf"{q["results"]}")',
        "# every shard, including runs pushed after the snapshot; the run id is the file name",
        f'duckdb.sql(rf"{q["shards"]}")',
        "# the run records (model, pair, seed, hyperparameters, config) from the shards' metadata",
        f'duckdb.sql(rf"{q["run_records"]}")',
        "```",
        "",
        "With `datasets` (configs: `results` is the default; `shards`, `runs`, `dev_scores` and each catalog table):",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'results = load_dataset("{repo_label}", "results", split="train")',
        f'tasks = load_dataset("{repo_label}", "tasks", split="train")',
        "```",
        "",
        "With xstilts: `store pull --repo ORG/NAME --store PATH`, or pass `--store hf://datasets/ORG/NAME` "
        "to any `store` command or the dashboard (pulled into a local cache, opened read-only).",
        "",
        "## Schema",
        "",
        "Values are points on a 0-100 scale; `n_examples` allows macro and size-weighted averages.",
        "",
    ]
    comments = column_comments()
    for rel, cols in schemas.items():
        out += [f"### `{rel}`", "", _TABLE_HELP.get(Path(rel).stem, ""), "", "| column | type | notes |", "|---|---|---|"]
        out += [f"| `{c}` | {t} | {_md(comments.get(c, ''))} |" for c, t in cols]
        out += [""]
    out += ["## Sources", "", "| source | citation | locator | kind |", "|---|---|---|---|"]
    out += [f"| `{_md(s)}` | {_md(c)} | {_md(loc)} | {_md(k)} |" for s, c, loc, k in sources]
    out += [
        "",
        "Published numbers are as printed in the cited source (converted to points where noted in "
        "`conversion`); cite the original source when you use them.",
        "",
    ]
    return "\n".join(out)
