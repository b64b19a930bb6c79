"""`store validate`: every shard and source readable and valid, shards intact and indexed, no leftovers."""

from __future__ import annotations

from store import fs
from store.database import Store, is_store_folder, read_source, resolve_store_path
from store.errors import StoreError
from store.predictions import check_predictions
from store.records import content_hash, validate
from store.shards import list_shards, read_shard


def validate_store(path, rebuild: bool = False, fix: bool = False) -> list[str]:
    """Returns a list of problems (empty when the store is valid).

    A damaged shard or source file is listed, never fatal: the rest of the store is still checked.

    Args:
        path: store folder.
        rebuild: rebuild the index first.
        fix: remove leftovers of killed writers (temporary files whose process is gone) instead of
            listing them.
    """
    root = resolve_store_path(path)
    if not is_store_folder(root):
        raise StoreError(f"no store at {root}: check the path, or create one there with `store build --store {root}`")
    problems: list[str] = []
    stale = fs.stale_files(root)
    if fix and stale:
        for p in fs.remove(stale):
            print(f"removed {p.relative_to(root)} (left by a killed writer)")
    else:
        problems += [f"{p.relative_to(root)}: left by a killed writer; `store validate --fix` removes it" for p in stale]
    sources_dir = root / "sources"
    for p in sorted(sources_dir.glob("*.json")) if sources_dir.is_dir() else ():
        try:
            read_source(p)
        except StoreError as e:
            problems.append(str(e))
    with Store.open(root, read_only=True, rebuild=rebuild, create=False) as st:
        shards = list_shards(st.runs_dir)
        bad: set[str] = set()
        predictions_named: dict[str, str] = {}
        for run_id, p in sorted(shards.items()):
            try:
                run, results, stored_hash = read_shard(p)
                validate(run, results, st.catalog)
            except StoreError as e:
                problems.append(f"{p.name}: {e}")
                bad.add(run_id)
                continue
            predictions_named[run_id] = run.predictions
            if run.run_id != run_id:
                problems.append(f"{p.name}: file name does not match its run id {run.run_id}")
                bad.add(run_id)
            if content_hash(run, results) != stored_hash:
                problems.append(f"{p.name}: content hash mismatch (the file was altered)")
        problems += check_predictions(st.root, predictions_named)
        indexed = st.query("SELECT run_id, source FROM runs")
        in_index = set(indexed["run_id"])
        for run_id in sorted(set(shards) - in_index - bad):
            problems.append(f"{run_id}: shard not in the index (run `store build`)")
        published = set(st.query("SELECT source FROM sources WHERE quality NOT IN ('own runs', 'imported')")["source"])
        for row in indexed.iter_rows(named=True):
            if row["source"] not in published and row["run_id"] not in shards:
                problems.append(f"{row['run_id']}: in the index but its shard is gone (run `store build`)")
        orphans = st.query("SELECT count(*) AS n FROM results WHERE run_id NOT IN (SELECT run_id FROM runs)")["n"][0]
        if orphans:
            problems.append(f"{orphans} result rows belong to no run")
    return problems
