"""Reshaping for display (pure polars: no Streamlit, no store I/O, no statistics).

Every number shown comes from :mod:`store.analysis`; these functions only filter, join, rename,
label and pivot its frames so that the charts and tables can draw them.

Example:
    >>> import polars as pl
    >>> corr = pl.DataFrame({"target_type": ["classification"], "axis": ["A"], "rho": [0.5],
    ...                      "ci_low": [-0.1], "ci_high": [0.9], "n": [9]})
    >>> panel_titles(corr)["classification"]
    'classification: ρ = 0.50 [-0.10, 0.90], n = 9 tasks'
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence

import polars as pl

from store.analysis import AXES, single_task

#: Published sources that carry the X-STILTs leaderboard entry beside XLM-R.
PUBLISHED_XSTILTS = ("rembert_t16", "rembert_t7", "mt5_readme")
AXIS_LABELS = {
    "A": "A: format level (1 single sentence … 5 span extraction)",
    "B": "B: data-derived composite (0-1 percentile ranks)",
    "C": "C: measured headroom left on English dev (points)",
}
LOW_RESOURCE_MAX = 2  # Joshi et al. classes 0-2 are "low-resource" here
GROUP_COLUMNS = {"family": "family", "genus": "genus", "script": "script", "resource class": "resource_class"}
INTERMEDIATES = ("anli", "ccg", "commonsenseqa", "cosmosqa", "hellaswag", "mnli", "qqp", "squad", "sst2")
SEEDS = (1, 2, 3)  # gains are means over seeds; three is the usual minimum


def _fmt(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


# ---------------------------------------------------------------------- Question page
def single_task_gains(gains_df: pl.DataFrame) -> pl.DataFrame:
    """Gain rows of one named intermediate task each (no baseline, mix, multitask or 'best')."""
    if gains_df.is_empty():
        return gains_df
    keep = [i for i in gains_df["intermediate"].unique() if single_task(i)]
    return gains_df.filter(pl.col("intermediate").is_in(keep))


def complexity_points(summary: pl.DataFrame, complexity: pl.DataFrame, axis: str) -> pl.DataFrame:
    """Per (target type, intermediate task): mean gain and interval beside its complexity ``x``."""
    col = AXES[axis]
    comp = complexity.select(pl.col("task").alias("intermediate"), pl.col(col).cast(pl.Float64).alias("x"),
                             "format_level", "reasoning_type")
    return summary.join(comp, on="intermediate", how="left").drop_nulls("x").sort("target_type", "x")


def panel_titles(corr: pl.DataFrame, group: str = "target_type") -> dict[str, str]:
    """One title per panel with Spearman's rho and its interval."""
    return {
        row[group]: f"{row[group]}: ρ = {_fmt(row['rho'])} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}], n = {row['n']} tasks"
        for row in corr.iter_rows(named=True)
    }


def with_panel(df: pl.DataFrame, titles: dict[str, str], group: str = "target_type") -> pl.DataFrame:
    """Adds the ``panel`` column (the facet header) from :func:`panel_titles`."""
    return df.with_columns(
        pl.col(group).replace_strict(titles, default=pl.col(group), return_dtype=pl.String).alias("panel")
    )


def published_comparison(gains_df: pl.DataFrame) -> pl.DataFrame:
    """X-STILTs (best intermediate per target) against XLM-R, as the published sources print them.

    Args:
        gains_df: :func:`store.analysis.gains` rows of intermediate ``best`` from the published sources.

    Returns:
        One row per (source, target, metric): X-STILTs value, XLM-R baseline, gain, and ``level``
        ``per target`` or ``per category`` (the category and benchmark averages of Table 7/16).
    """
    cols = ["source", "level", "target", "target_type", "metric", "value", "baseline", "gain"]
    if gains_df.is_empty():
        return pl.DataFrame(schema={c: pl.Float64 if c in ("value", "baseline", "gain") else pl.String for c in cols})
    return (
        gains_df.filter(pl.col("intermediate") == "best")
        .with_columns(
            pl.when(pl.col("target_type") == "aggregate").then(pl.lit("per category")).otherwise(pl.lit("per target")).alias("level")
        )
        .select(cols)
        .sort("level", "target", "source", descending=[True, False, False])
    )


def runner_commands(model: str, targets: Sequence[str], store: str,
                    intermediates: Sequence[str] = INTERMEDIATES, seeds: Sequence[int] = SEEDS) -> str:
    """The shell commands that fill the Question view: every intermediate task and the baseline.

    A Hub store (``hf://datasets/ORG/NAME``) is read-only here: the runs go into a local store
    that is then pushed.
    """
    hub = store.startswith("hf://")
    local = "PATH/TO/LOCAL/STORE" if hub else store
    lines = [
        f"for target in {' '.join(targets)}; do",
        f"  for inter in {' '.join(('none', *intermediates))}; do",
        f"    for seed in {' '.join(map(str, seeds))}; do",
        f'      runner run --pair "$inter:$target" --model {shlex.quote(model)} --seed "$seed" --store {shlex.quote(local)}',
        "    done",
        "  done",
        "done",
    ]
    if hub:
        lines.append(f"store push --store {local} --repo {shlex.quote(store.removeprefix('hf://datasets/'))}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- Transfer matrix
def row_label(df: pl.DataFrame) -> pl.DataFrame:
    """Adds ``row``: the intermediate task (with its variant), and its source unless it is ours."""
    inter = pl.when(pl.col("variant") == "").then(pl.col("intermediate")).otherwise(
        pl.format("{} ({})", "intermediate", "variant"))
    label = pl.when(pl.col("source") == "runner").then(inter).otherwise(pl.format("{} · {}", inter, "source"))
    return df.with_columns(label.alias("row"))


def matrix_cells(frame: pl.DataFrame, value_col: str) -> pl.DataFrame:
    """Cells of the heatmap: ``row`` x ``target`` with ``cell_value`` and its text label."""
    signed = value_col == "mean_gain"
    fmt = "{:+.1f}" if signed else "{:.1f}"
    out = frame.with_columns(pl.col(value_col).alias("cell_value"))
    return out.with_columns(
        pl.col("cell_value").map_elements(lambda v: fmt.format(v), return_dtype=pl.String).alias("cell_text")
    )


def cell_breakdown(frame: pl.DataFrame, row: str, target: str) -> pl.DataFrame:
    """Per-language rows of one matrix cell, sorted by value."""
    sub = frame.filter((pl.col("row") == row) & (pl.col("target") == target))
    col = "gain" if "gain" in sub.columns else "value"
    return sub.sort(col, descending=True)


# ---------------------------------------------------------------------- Languages
def language_frame(summary: pl.DataFrame, languages: pl.DataFrame, group: str) -> pl.DataFrame:
    """Per-language rows with the catalog's ``group`` column, a low-resource flag and a label,
    sorted by group then value; ``order`` is the row's position (the charts keep this order)."""
    col = GROUP_COLUMNS[group]
    out = summary.join(languages, on="language", how="left")
    return out.with_columns(
        pl.col(col).cast(pl.String).fill_null("unknown").alias("group"),
        (pl.col("resource_class") <= LOW_RESOURCE_MAX).fill_null(False).alias("low_resource"),
    ).with_columns(
        pl.when(pl.col("low_resource")).then(pl.format("{} ({}) ◆ low-resource", "language", "name"))
        .otherwise(pl.format("{} ({})", "language", "name")).alias("language_label"),
    ).sort("group", "value", descending=[False, True]).with_columns(pl.int_range(pl.len()).alias("order"))


def per_language_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Rows of a single language (drops published averages)."""
    return df.filter(pl.col("language") != "avg") if not df.is_empty() else df


# ---------------------------------------------------------------------- Runs & sources
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
