"""Runs & sources: two runs side by side (pure polars: no Streamlit, no store I/O).

Example:
    >>> import polars as pl
    >>> runs = pl.DataFrame({"source": ["runner"] * 3, "model": ["m"] * 3, "intermediate": ["mnli", "none", "none"],
    ...                      "target": ["mlqa", "bucc2018", "mlqa"], "setting": ["zero-shot"] * 3, "seed": [1, 1, 1]})
    >>> default_pair(runs)
    (0, 2)
"""

from __future__ import annotations

import polars as pl


def default_pair(runs: pl.DataFrame) -> tuple[int, int]:
    """Row positions of the two runs the comparison opens on: the first intermediate-task run and its
    own ``none`` baseline (same source, model, target, setting; the same seed when there is one),
    else the first two runs of one target, else the first two."""
    rows = runs.select("source", "model", "intermediate", "target", "setting", "seed").to_dicts()
    same = ("source", "model", "target", "setting")
    for i, r in enumerate(rows):
        if r["intermediate"] == "none":
            continue
        bases = [j for j, b in enumerate(rows) if b["intermediate"] == "none" and all(b[k] == r[k] for k in same)]
        if bases:
            return i, next((j for j in bases if rows[j]["seed"] == r["seed"]), bases[0])
    for i, r in enumerate(rows):
        j = next((j for j, b in enumerate(rows) if j != i and b["target"] == r["target"]), None)
        if j is not None:
            return i, j
    return 0, min(1, len(rows) - 1)


def run_comparison(a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
    """Two runs' results side by side on (language, split, metric), with B - A."""
    keys = ["language", "split", "metric"]
    left = a.select(*keys, pl.col("value").alias("run A"))
    right = b.select(*keys, pl.col("value").alias("run B"))
    both = left.join(right, on=keys, how="full", coalesce=True)
    return both.with_columns((pl.col("run B") - pl.col("run A")).alias("B − A")).sort(keys)


def run_fields(a: dict, b: dict) -> pl.DataFrame:
    """Two runs' descriptions field by field, flagging the fields that differ."""
    keys = [k for k in a if k in b]
    return pl.DataFrame({
        "field": keys,
        "run A": [str(a[k]) for k in keys],
        "run B": [str(b[k]) for k in keys],
        "differs": [a[k] != b[k] for k in keys],
    })
