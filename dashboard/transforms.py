"""Reshaping for display (pure polars: no Streamlit, no store I/O, no statistics).

Every number shown comes from the store's analysis (through :mod:`dashboard.data`); these functions
only filter, join, rename, label and pivot its frames so that the charts and tables can draw them.
They import nothing of the store: what they need of it arrives as arguments.

Example:
    >>> import polars as pl
    >>> corr = pl.DataFrame({"target_type": ["classification"], "axis": ["A"], "rho": [0.5],
    ...                      "ci_low": [-0.1], "ci_high": [0.9], "p_value": [0.19], "n": [9]})
    >>> panel_titles(corr)["classification"]
    'classification: ρ = 0.50 [-0.10, 0.90], p = 0.19, n = 9 tasks'
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

#: Published sources that carry the X-STILTs leaderboard entry beside XLM-R.
PUBLISHED_XSTILTS = ("rembert_t16", "rembert_t7", "mt5_readme")
AXIS_LABELS = {
    "A": "A: format level (1 single sentence … 5 span extraction)",
    "B": "B: data-derived composite (labels, input length; 0-1 percentile ranks)",
    "C": "C: measured headroom left on English dev (points; ceiling 100 for every task)",
    "D": "D: data size (English training examples)",
}
#: Distance between two tasks of one format level on axis A (levels are 1 apart).
ORDINAL_SPREAD = 0.09
LOW_RESOURCE_MAX = 2  # Joshi et al. classes 0-2 are "low-resource" here
GROUP_COLUMNS = {"family": "family", "genus": "genus", "script": "script", "resource class": "resource_class"}


def _fmt(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


# ---------------------------------------------------------------------- Question page
def complexity_points(summary: pl.DataFrame, complexity: pl.DataFrame, axis: str, col: str) -> pl.DataFrame:
    """Per (target type, intermediate task): mean gain and interval beside its complexity ``x``.

    Args:
        summary: mean gain per (target type, intermediate task).
        complexity: the store's complexity table.
        axis: the chosen axis (``A``, ``B`` or ``C``).
        col: its column in ``complexity`` (the store's ``AXES[axis]``).

    ``x_plot`` is where the point is drawn: ``x`` itself, except on the ordinal axis A where tasks
    of one format level are spread a little around it (so they do not hide one another).
    """
    comp = complexity.select(pl.col("task").alias("intermediate"), pl.col(col).cast(pl.Float64).alias("x"),
                             "format_level", "reasoning_type")
    out = summary.join(comp, on="intermediate", how="left").drop_nulls("x").sort("target_type", "x", "intermediate")
    if axis != "A" or out.is_empty():
        return out.with_columns(pl.col("x").alias("x_plot"))
    k = pl.int_range(pl.len()).over("target_type", "x")
    n = pl.len().over("target_type", "x")
    return out.with_columns((pl.col("x") + (k - (n - 1) / 2) * ORDINAL_SPREAD).alias("x_plot"))


def panel_titles(corr: pl.DataFrame, group: str = "target_type", unit: str = "tasks") -> dict[str, str]:
    """One title per panel with Spearman's rho, its interval and n (``unit``: what a point is)."""
    return {
        row[group]: f"{row[group]}: ρ = {_fmt(row['rho'])} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}], "
                    + (f"p = {_fmt_p(row['p_value'])}, " if "p_value" in row else "") + f"n = {row['n']} {unit}"
        for row in corr.iter_rows(named=True)
    }


def _fmt_p(p) -> str:
    """A p-value to two significant digits ('–' when undefined)."""
    return "–" if p is None or p != p else f"{p:.2g}"


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


def with_task_names(df: pl.DataFrame, tasks: pl.DataFrame, col: str = "target", out: str = "task") -> pl.DataFrame:
    """Adds ``out``: the catalog's display name of the task id in ``col`` (charts label tasks by name)."""
    if df.is_empty() or tasks.is_empty():
        return df.with_columns(pl.col(col).alias(out))
    names = dict(zip(tasks["task"], tasks["name"]))
    return df.with_columns(pl.col(col).replace_strict(names, default=pl.col(col), return_dtype=pl.String).alias(out))


# ---------------------------------------------------------------------- Transfer matrix
def coverage_notes(frame: pl.DataFrame) -> list[str]:
    """The distinct coverage notes of a store summary (what has no average, and why), in order."""
    if "coverage" not in frame.columns:
        return []
    return list(dict.fromkeys(n for n in frame["coverage"].to_list() if n))


#: Heatmap panels: target tasks, and the published averages over tasks (never on one axis).
MATRIX_PANELS = ("target tasks", "published averages over tasks")


def row_label(df: pl.DataFrame) -> pl.DataFrame:
    """Adds ``row``: the intermediate task (with its variant), its source unless it is ours, and its
    configuration label when its pair has several."""
    inter = pl.when(pl.col("variant") == "").then(pl.col("intermediate")).otherwise(
        pl.format("{} ({})", "intermediate", "variant"))
    label = pl.when(pl.col("source") == "runner").then(inter).otherwise(pl.format("{} · {}", inter, "source"))
    if "config" in df.columns:  # several configurations of a pair: never pooled, labelled by what differs
        label = pl.when(pl.col("config").fill_null("") == "").then(label).otherwise(pl.format("{} [{}]", label, "config"))
    return df.with_columns(label.alias("row"))


def matrix_cells(frame: pl.DataFrame, value_col: str, tasks: pl.DataFrame | None = None) -> pl.DataFrame:
    """Cells of the heatmap: ``row`` x ``target`` with ``cell_value`` and its text label.

    Args:
        frame: one row per (row, target).
        value_col: ``mean_gain`` (signed text) or ``value``.
        tasks: the catalog's tasks (``task``, ``name``, ``role``, in catalog order): columns are then
            labelled by name (``column``), ordered as the catalog lists them (``column_order``), and
            published averages over tasks get their own panel (``panel``).
    """
    signed = value_col == "mean_gain"
    fmt = "{:+.1f}" if signed else "{:.1f}"
    out = frame.with_columns(pl.col(value_col).alias("cell_value"))
    out = out.with_columns(
        pl.col("cell_value").map_elements(lambda v: fmt.format(v), return_dtype=pl.String).alias("cell_text")
    )
    if tasks is None or tasks.is_empty():
        return out.with_columns(pl.col("target").alias("column"), pl.lit(0).alias("column_order"),
                                pl.lit(MATRIX_PANELS[0]).alias("panel"))
    info = tasks.select(pl.col("task").alias("target"), pl.col("name").alias("column"),
                        pl.int_range(pl.len()).alias("column_order"),
                        pl.when(pl.col("role") == "aggregate").then(pl.lit(MATRIX_PANELS[1]))
                        .otherwise(pl.lit(MATRIX_PANELS[0])).alias("panel"))
    out = out.join(info, on="target", how="left")
    return out.with_columns(pl.col("column").fill_null(pl.col("target")), pl.col("column_order").fill_null(999),
                            pl.col("panel").fill_null(MATRIX_PANELS[0]))


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


def distance_points(points: pl.DataFrame, corr: pl.DataFrame, languages: pl.DataFrame) -> pl.DataFrame:
    """Per-language gain-distance points with the language's name and the panel title (rho, interval, n)."""
    named = points.join(languages.select("language", "name"), on="language", how="left")
    return with_panel(named, panel_titles(corr, unit="languages"))


def gap_rows(gaps: pl.DataFrame, dist: pl.DataFrame) -> pl.DataFrame:
    """Gap rows beside the language's distance, labelled by run group; published rows say their source.

    ``row`` = 'intermediate · source · model', ``source_kind`` = 'our runs' or 'published'.
    """
    if gaps.is_empty():
        return gaps
    inter = pl.when(pl.col("variant") == "").then(pl.col("intermediate")).otherwise(
        pl.format("{}/{}", "intermediate", "variant"))
    return (
        gaps.join(dist.select("language", "name", "distance"), on="language", how="left")
        .drop_nulls("distance")
        .with_columns(
            pl.format("{} · {} · {}", inter, "source",
                      pl.when(pl.col("label").fill_null("") == "").then(pl.col("model")).otherwise(pl.col("label"))).alias("row"),
            pl.when(pl.col("source") == "runner").then(pl.lit("our runs")).otherwise(pl.lit("published")).alias("source_kind"),
        )
        .sort("target", "row", "distance")
    )


def per_language_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Rows of a single language (drops published averages)."""
    return df.filter(pl.col("language") != "avg") if not df.is_empty() else df


# ---------------------------------------------------------------------- Examples
def pair_options(pairs: Sequence) -> dict[str, str]:
    """Label -> run id of each pair a store has (``store.pairs.Pair``), in the store's order."""
    return {p.label: p.run_id for p in pairs}


def paired_tests_rows(tests: pl.DataFrame) -> pl.DataFrame:
    """The per-language paired tests as the chart draws them (``value`` = delta, a verdict)."""
    return tests.with_columns(
        pl.col("delta").alias("value"),
        pl.when(pl.col("p_value") < 0.05).then(pl.lit("p < 0.05")).otherwise(pl.lit("p >= 0.05")).alias("significance"),
        pl.int_range(pl.len()).alias("order"),
    )


def bucket_rows(gains: pl.DataFrame) -> pl.DataFrame:
    """Bucket gains as the chart draws them (``value`` = gain, languages in order)."""
    order = {lang: i for i, lang in enumerate(sorted(gains["language"].unique()))}
    return gains.with_columns(
        pl.col("gain").alias("value"),
        pl.col("language").replace_strict(order, return_dtype=pl.Int64).alias("order"),
    )


def paired_tests_table(tests: pl.DataFrame) -> pl.DataFrame:
    """The per-language tests for reading: scores, Δ [95% interval], test, p, flips each way."""
    return tests.select(
        "language", "n", pl.col("baseline").round(2), pl.col("run").round(2),
        pl.format("{} [{}, {}]", *(pl.col(c).round(2) for c in ("delta", "ci_low", "ci_high"))).alias("Δ [95% CI]"),
        "test", pl.col("p_value").round(4).alias("p"),
        pl.col("gained").alias("baseline ✗ → run ✓"), pl.col("lost").alias("baseline ✓ → run ✗"),
        *(["resampling"] if "resampling" in tests.columns else []),
    )


def flipped_examples(flips: pl.DataFrame, example_buckets: pl.DataFrame | None, language: str | None = None,
                     bucket: str | None = None, direction: str | None = None, limit: int = 500) -> pl.DataFrame:
    """Flipped examples for the table, filtered by language, bucket and direction (None: all)."""
    out = flips
    if language:
        out = out.filter(pl.col("language") == language)
    if bucket and example_buckets is not None:
        keys = example_buckets.filter(pl.col("bucket") == bucket).select("split", "language", "example_id")
        out = out.join(keys, on=["split", "language", "example_id"], how="semi")
    if direction:
        out = out.filter(pl.col("direction") == direction)
    cols = [c for c in ("direction", "language", "example_id", "text", "gold", "prediction_base", "prediction_run",
                        "f1_base", "f1_run") if c in out.columns and (out.is_empty() or out[c].null_count() < out.height)]
    return out.select(cols).rename({"prediction_base": "baseline predicted", "prediction_run": "run predicted"},
                                   strict=False).head(limit)


# ---------------------------------------------------------------------- Claims
#: Label of the row that carries a check's own measure (the value its verdict is about).
_MEASURE_ROWS = {
    "top_k": "margin: lowest claimed − highest other",
    "variant_difference": "plain − {variant}, all pairs",
    "complex_minus_simple": "complex − simple",
    "published_gain": "measured: first estimate, range ± 0.1",
}
_NO_INTERVAL = ("at_least", "config")  # counts and recorded setups: shown unsigned, as `store claims` does


def claim_value_text(value, lo, hi, comparison: str, complete: bool) -> str:
    """A check's value and interval as ``store claims`` prints them ("+8.2 [+7.6, +8.8] (partial)").

    >>> claim_value_text(8.25, 7.6, 8.8, "within", False)
    '+8.2 [+7.6, +8.8] (partial)'
    >>> claim_value_text(None, None, None, "within", True)
    '–'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    spec = "g" if comparison in _NO_INTERVAL else "+.1f"
    out = f"{value:{spec}}"
    if lo is not None and hi is not None and not (math.isnan(lo) or math.isnan(hi)):
        out += f" [{lo:{spec}}, {hi:{spec}}]"
    return out + ("" if complete else " (partial)")


def claims_table(claims: pl.DataFrame, checks: pl.DataFrame) -> pl.DataFrame:
    """The claims table of the page: one row per claim, its first check's value beside the verdict.

    Args:
        claims: :func:`store.claims.claims_frame` rows.
        checks: :func:`store.claims.checks_frame` rows of the same claims.
    """
    cols = ["claim", "verdict", "text", "value [95% interval]", "evidence", "measure", "runs used", "runs missing"]
    if claims.is_empty():
        return pl.DataFrame(schema={c: pl.Int64 if c.startswith("runs") else pl.String for c in cols})
    first = checks_table(checks).group_by("id", maintain_order=True).first().select("id", "value [95% interval]")
    # the claim's text right after its id and verdict: a last column gets cut off on most screens
    return claims.join(first, on="id", how="left").select(
        pl.col("id").alias("claim"), "verdict", "text", "value [95% interval]", "evidence", "measure",
        pl.col("n_runs_used").alias("runs used"), pl.col("n_runs_missing").alias("runs missing"))


def checks_table(checks: pl.DataFrame) -> pl.DataFrame:
    """Checks with their value as text (:func:`claim_value_text`), and the other split's beside it."""
    if checks.is_empty():
        return checks.with_columns(pl.lit("").alias("value [95% interval]"))
    rows = list(checks.iter_rows(named=True))
    text = [claim_value_text(r["value"], r["ci_low"], r["ci_high"], r["comparison"], r["complete"]) for r in rows]
    beside = [f"{b['split']}: {claim_value_text(b['value'], b['ci_low'], b['ci_high'], r['comparison'], True)}"
              if (b := r.get("beside")) else "" for r in rows]
    return checks.with_columns(pl.Series("value [95% interval]", text, dtype=pl.String),
                               pl.Series("shown beside", beside, dtype=pl.String))


def _finite(*xs) -> list[float]:
    return [float(x) for x in xs if x is not None and math.isfinite(x)]


def claim_points(result) -> pl.DataFrame:
    """What a claim's chart draws: per check (a facet) the items behind it and its own measure.

    Each numeric check gives one row per item of its detail (intermediate task, target, published
    estimate, complexity group) with the value and interval :mod:`store.claim_checks` measured, and
    one row for the check's own measure carrying the claimed region (``band_lo``/``band_hi``,
    the check's ``claimed_region``, open ends cut at the data's extent). Config checks have no numbers.

    Args:
        result: a judged claim (the store's ``ClaimResult``).
    """
    rows: list[dict] = []
    numbered = [c for c in result.checks if c.check.comparison != "config"]
    for no, c in enumerate(numbered, 1):
        check, m = c.check, c.measure
        facet = f"{no}. {check.label} → {c.verdict}" if len(numbered) > 1 else f"{check.label} → {c.verdict}"
        items = [d for d in m.detail if d.get("value") is not None]
        if check.comparison == "top_k":
            items.sort(key=lambda d: -d["value"])
        single = len(items) == 1 and check.comparison != "top_k" and check.quantity != "positive_gain_count"
        out = []
        for d in [] if single else items:
            if check.quantity == "positive_gain_count":
                role = f"gain {d.get('state', 'undecided')}"
            elif check.quantity == "published_gain":
                role = "published estimate"
            elif check.comparison == "top_k":
                role = "claimed" if d["item"] in check.items else "other"
            else:
                role = "item"
            out.append({"row": str(d["item"]), "value": d["value"], "ci_low": d.get("ci_low"), "ci_high": d.get("ci_high"),
                        "role": role, "n": d.get("n")})
        if m.value is not None and check.quantity != "positive_gain_count":
            label = f"{items[0]['item']} (measured)" if single else _MEASURE_ROWS.get(
                check.comparison if check.comparison == "top_k" else check.quantity, "measured").format(variant=check.variant)
            out.append({"row": label, "value": m.value, "ci_low": m.ci_low, "ci_high": m.ci_high, "role": "measured",
                        "n": m.n, "measured": True})
            a, b, a_open, b_open = check.claimed_region or (None, None, False, False)
            if a is not None:
                seen = _finite(*(x for r in out for x in (r["value"], r["ci_low"], r["ci_high"])), a, b)
                pad = max(0.5, 0.1 * (max(seen) - min(seen)))
                out[-1].update(band_lo=a if math.isfinite(a) else min(seen) - pad,
                               band_hi=b if math.isfinite(b) else max(seen) + pad,
                               region=f"{'(' if a_open else '['}{a:g}, {b:g}{')' if b_open else ']'}".replace("inf", "∞"))
        for r in out:
            rows.append({"check": facet, "check_no": no, **r})
    schema = {"check": pl.String, "check_no": pl.Int64, "row": pl.String, "value": pl.Float64, "ci_low": pl.Float64,
              "ci_high": pl.Float64, "role": pl.String, "n": pl.Int64, "measured": pl.Boolean,
              "band_lo": pl.Float64, "band_hi": pl.Float64, "region": pl.String}
    df = pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)
    return df.with_columns(pl.int_range(pl.len()).alias("order"), pl.col("measured").fill_null(False))


def config_details(result) -> list[tuple[str, pl.DataFrame]]:
    """Each config check's per-run (or per-task) states: (check label, rows)."""
    out = []
    for c in result.checks:
        if c.check.comparison == "config" and c.measure.detail:
            detail = c.measure.detail
            same = all(list(d) == list(detail[0]) for d in detail)  # the usual case (one per run): by column
            out.append((c.check.label, pl.DataFrame({k: [_text(d[k]) for d in detail] for k in detail[0]}) if same
                        else pl.DataFrame([{k: _text(v) for k, v in d.items()} for d in detail])))
    return out


def _text(v) -> str | None:
    return ", ".join(map(str, v)) if isinstance(v, list) else None if v is None else str(v)
