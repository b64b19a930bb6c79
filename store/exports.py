"""Paper tables: the store's numbers as CSV, Parquet, Markdown or booktabs LaTeX.

Five tables, all built from :mod:`store.analysis` (one decimal, best value per column bold):

* ``matrix``: intermediate task x target, the task average of the headline metric over the
  benchmark's languages (``Filters.benchmark``: XTREME or XTREME-R).
* ``per-language``: one row per run configuration and target, one column per language.
* ``gains``: per target, the matching ``none`` baseline, each intermediate task and its gain (Δ)
  over the baseline of the same source, model and target-phase configuration.

* ``paired``: per language, a run against its baseline example by example (:mod:`store.pairs`):
  both scores, Δ with its paired-bootstrap 95% interval, the exact McNemar test (accuracy) or the
  paired bootstrap's p-value (F1 / EM / retrieval), and the flipped examples in each direction.
* ``distance``: Spearman's rho between each language's URIEL+ distance to English (every kind)
  and its mean gain, per source, model and target type, with the bootstrap 95% interval and n
  languages (:func:`store.distance.correlation_table`; two decimals, signed).

Configurations are never pooled: a pair with several gets one row each, labelled by the keys that
differ (``config``). A task average exists only where every language of the benchmark is covered;
``Table.notes`` says which cells are empty and why. The CLI leaves capped (debug) runs out unless
asked (``--include-capped``).

Example:
    >>> import tempfile
    >>> from store.database import Store
    >>> from store.analysis import Filters
    >>> with Store.open(tempfile.mkdtemp()) as st:
    ...     t = build_table(st, "gains", Filters(sources=("rembert_t16",)))
    >>> t.frame["row"].to_list()[:3]
    ['none', 'best', 'Δ best − none']
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import polars as pl

from store.analysis import BENCHMARKS, Filters, scores, target_means
from store.catalog import BASELINE, load_catalog
from store.demo import DEMO_MARK, DEMO_SOURCE
from store.errors import StoreError

TABLES = ("matrix", "per-language", "gains", "paired", "distance")
FORMATS = ("csv", "parquet", "markdown", "latex")
_METRIC_SHORT = {"accuracy": "acc", "f1": "F1", "em": "EM", "em_f1_avg": "EM/F1", "avg": "avg", "map@20": "mAP@20"}


@dataclass(frozen=True)
class Table:
    """A wide table: string index columns, then numeric value columns.

    ``score_rows`` marks the rows that compete for the bold best value (gain rows do not).
    ``formats`` gives value columns their own format string (Markdown and LaTeX), which also
    leaves them out of the bold best value.
    """

    frame: pl.DataFrame
    index: tuple[str, ...]
    values: tuple[str, ...]
    score_rows: tuple[bool, ...]
    caption: str
    formats: Mapping[str, str] = field(default_factory=dict)
    #: True when some rows are demonstration data (source ``demo``): they carry the mark in a column.
    demo: bool = False
    #: what has no value and why ("mnli on xnli: 14 of 15 XTREME languages: no average")
    notes: tuple[str, ...] = ()


def _column_label(target: str, metric: str) -> str:
    cat = load_catalog()
    name = cat.tasks[target].name if target in cat.tasks else target
    return f"{name} {_METRIC_SHORT.get(metric, metric)}"


def _target_order(targets) -> list[str]:
    cat = load_catalog()
    order = {t: i for i, t in enumerate(cat.tasks)}
    return sorted(set(targets), key=lambda t: order.get(t, 999))


#: A row's name: the intermediate task, its variant in brackets, its configuration when a pair has several.
_RUN_LABEL = (
    pl.when(pl.col("variant") == "")
    .then(pl.col("intermediate"))
    .otherwise(pl.format("{} ({})", "intermediate", "variant"))
    .alias("row")
)
_CONFIG_LABEL = pl.when(pl.col("config") == "").then(pl.col("row")).otherwise(pl.format("{} [{}]", "row", "config")).alias("row")


def _label_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(_RUN_LABEL).with_columns(_CONFIG_LABEL)


def _notes(m: pl.DataFrame) -> tuple[str, ...]:
    rows = m.filter(pl.col("value").is_null())
    return tuple(dict.fromkeys(f"{r['row']} on {r['target']} ({r['source']}, {r['model']}): {r['aggregation']}"
                               for r in rows.iter_rows(named=True)))


def _with_seeds(wide: pl.DataFrame, m: pl.DataFrame, index: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """Adds a ``seeds`` column after ``row`` (seeds of the row's configuration, "2" or "1-3" across
    targets) when some rows come from seeded runs; published rows leave it empty."""
    if "seeded" not in m.columns or not m["seeded"].any():
        return wide, index
    seeds = m.group_by(index).agg(
        pl.col("n_seeds").filter(pl.col("seeded")).min().alias("_lo"), pl.col("n_seeds").filter(pl.col("seeded")).max().alias("_hi"))
    seeds = seeds.with_columns(
        pl.when(pl.col("_lo").is_null()).then(pl.lit(""))
        .when(pl.col("_lo") == pl.col("_hi")).then(pl.col("_lo").cast(pl.String))
        .otherwise(pl.format("{}-{}", "_lo", "_hi")).alias("seeds")
    ).drop("_lo", "_hi")
    new_index = [*index, "seeds"]
    out = wide.join(seeds, on=index, how="left", nulls_equal=True).with_columns(pl.col("seeds").fill_null(""))
    return out.select(*new_index, *[c for c in wide.columns if c not in index]), new_index


def _caption(text: str, f: Filters) -> str:
    capped = "" if f.include_capped else "; capped (debug) runs left out"
    return f"{text}; benchmark {BENCHMARKS[f.benchmark]}{capped}"


def _column_order(frame: pl.DataFrame) -> list[str]:
    """Value-column labels in catalog order of the targets, then by metric."""
    pairs = frame.select("target", "metric").unique()
    order = []
    for t in _target_order(pairs["target"]):
        order += sorted(_column_label(t, m) for m in pairs.filter(pl.col("target") == t)["metric"])
    return order


def _wide(means: pl.DataFrame, index: list[str]) -> pl.DataFrame:
    """One column per (target, metric), in :func:`_column_order`."""
    labels = {(t, m): _column_label(t, m) for t, m in means.select("target", "metric").unique().iter_rows()}
    means = means.with_columns(
        pl.struct("target", "metric")
        .map_elements(lambda s: labels[(s["target"], s["metric"])], return_dtype=pl.String)
        .alias("column")
    )
    wide = means.pivot(on="column", index=index, values="value", aggregate_function="first")
    return wide.select(*index, *_column_order(means))


def matrix_table(store, f: Filters) -> Table:
    """Intermediate task x target of the task-average headline score."""
    m = _label_rows(target_means(store, f))
    if m.is_empty():
        raise StoreError("no results match these filters; loosen --model/--source/--target or check `store info`")
    index = ["source", "model", "setting", "split", "row"]
    wide, cols = _wide(m, index), _column_order(m)
    wide = wide.sort(["source", "model", "setting", "split", pl.col("row") != BASELINE, "row"])
    wide, index = _with_seeds(wide, m, index)
    return Table(wide, tuple(index), tuple(cols), tuple([True] * wide.height),
                 _caption("Mean score over each task's languages", f), notes=_notes(m))


def gains_table(store, f: Filters) -> Table:
    """Baseline, intermediate-task scores and Δ rows per source, model and target-phase configuration."""
    m = _label_rows(target_means(store, f))
    keys = ["source", "model", "setting", "split", "target", "metric", "target_config_id"]
    base = m.filter(pl.col("intermediate") == BASELINE).select(
        *keys, pl.col("value").alias("baseline"), pl.col("row").alias("base_row"))
    inter = m.filter(pl.col("intermediate") != BASELINE).join(base, on=keys, how="inner", nulls_equal=True)
    if inter.is_empty():
        raise StoreError(
            "no intermediate-task results with a matching 'none' baseline for these filters; "
            "run `runner run --pair none:TARGET` (with the same settings) too, or pick a source that has both"
        )
    baseline_rows = m.filter(pl.col("intermediate") == BASELINE).join(inter.select(keys).unique(), on=keys,
                                                                       nulls_equal=True)
    deltas = inter.with_columns(
        (pl.col("value") - pl.col("baseline")).alias("value"),
        pl.format("Δ {} − {}", "row", "base_row").alias("row"),
    )
    index = ["source", "model", "setting", "split", "row"]
    cols_keys = ["source", "model", "setting", "split", "target", "metric"]
    parts = []
    for kind, frame in (("0", baseline_rows), ("1", inter), ("2", deltas)):
        part = _wide(frame.select(*cols_keys, "row", "value"), index)
        parts.append(_with_seeds(part, frame, index)[0].with_columns(pl.lit(kind).alias("_kind")))
    wide = pl.concat(parts, how="diagonal_relaxed")
    if "seeds" in wide.columns:
        wide = wide.with_columns(pl.col("seeds").fill_null(""))
        index = [*index, "seeds"]
    cols = [c for c in _column_order(m) if c in wide.columns]
    wide = wide.sort(["source", "model", "setting", "split", "_kind", "row"]).select(*index, *cols, "_kind")
    score_rows = tuple(k != "2" for k in wide["_kind"])
    notes = _notes(pl.concat([baseline_rows, inter.drop("baseline", "base_row")], how="vertical_relaxed"))
    unmatched = m.filter(pl.col("intermediate") != BASELINE).join(base, on=keys, how="anti", nulls_equal=True)
    notes += tuple(dict.fromkeys(f"{r['row']} on {r['target']} ({r['source']}, {r['model']}): no none baseline with "
                                 "the same target-phase configuration" for r in unmatched.iter_rows(named=True)))
    return Table(wide.drop("_kind"), tuple(index), tuple(cols), score_rows,
                 _caption("Gain in points over the none baseline of the same target-phase configuration", f), notes=notes)


def per_language_table(store, f: Filters) -> Table:
    """One row per (source, model, intermediate, configuration, target, metric), one column per language."""
    s = _label_rows(scores(store, f))
    if s.is_empty():
        raise StoreError("no results match these filters; loosen them or check `store info`")
    index = ["source", "model", "setting", "split", "row", "target", "metric"]
    langs = sorted(set(s["language"]) - {"avg"}) + (["avg"] if "avg" in set(s["language"]) else [])
    wide = s.pivot(on="language", index=index, values="value", aggregate_function="first").sort(index)
    wide = wide.select(*index, *[lang for lang in langs if lang in wide.columns])
    return Table(wide, tuple(index), tuple(langs), tuple([True] * wide.height),
                 _caption("Score per language (mean over seeds)", f))


_PAIRED_INDEX = ("source", "model", "setting", "target", "row", "seed", "baseline_seed", "language", "metric", "test")
_PAIRED_VALUES = ("n", "gained", "lost", "baseline", "run", "delta", "ci_low", "ci_high", "p_value")


def paired_table(store, f: Filters) -> Table:
    """Per-language paired tests of each run with predictions against its matching baseline.

    CSV and Parquet also carry how the interval's resamples were drawn (``resampling``,
    :func:`store.paired.paired_bootstrap`) and both run ids; Markdown and LaTeX show the index and
    values only.
    """
    from store.pairs import paired_frame

    frame = paired_frame(store, f).with_columns(pl.col("seed", "baseline_seed").cast(pl.String))
    frame = frame.select(*_PAIRED_INDEX, *_PAIRED_VALUES, "resampling", "run_id", "baseline_id").sort(list(_PAIRED_INDEX[:8]))
    formats = {"n": "{:.0f}", "gained": "{:.0f}", "lost": "{:.0f}", "baseline": "{:.1f}", "run": "{:.1f}",
               "delta": "{:+.1f}", "ci_low": "{:+.1f}", "ci_high": "{:+.1f}", "p_value": "{:.3g}"}
    return Table(frame, _PAIRED_INDEX, _PAIRED_VALUES, tuple([False] * frame.height),
                 "Paired tests per language: run against its none baseline, example by example", formats)


def distance_table(store, f: Filters) -> Table:
    """Gain against distance to English: rho, interval and n per source, model, target type and kind."""
    from store.distance import correlation_table

    c = correlation_table(store, f)
    if c.is_empty():
        raise StoreError(
            "no per-language intermediate-task gains for these filters (a gain needs the run and its "
            "`none` baseline on the same languages); loosen the filters or check `store info`"
        )
    frame = c.select(
        "source", "model", pl.col("target_type").alias("target type"), pl.col("kind").alias("distance"),
        pl.col("n").alias("n languages"), "rho", pl.col("ci_low").alias("rho 95% low"),
        pl.col("ci_high").alias("rho 95% high"),
    )
    values = ("n languages", "rho", "rho 95% low", "rho 95% high")
    formats = {"n languages": "{:.0f}", "rho": "{:+.2f}", "rho 95% low": "{:+.2f}", "rho 95% high": "{:+.2f}"}
    return Table(frame, ("source", "model", "target type", "distance"), values, tuple([False] * frame.height),
                 "Spearman's rho of URIEL+ distance to English against mean gain (points per language)", formats)


#: The model a paper table shows when none is asked for (the study's model), if the store has it.
DEFAULT_MODEL = "xlm-roberta-large"
DEFAULT_SPLIT = "test"


def paper_defaults(store, f: Filters) -> tuple[Filters, list[str]]:
    """One model and one split when the filters leave them open, so that a table never mixes models
    or splits (nor bolds one against another): the study's model if the store has it (else the one
    with most rows), and the test split. Returns the filters and the flags that were chosen."""
    chosen = []
    if not f.models:
        counts = store.query("SELECT model, count(*) AS n FROM results_wide WHERE setting = ANY($settings) "
                             "GROUP BY model ORDER BY (model = $default) DESC, n DESC, model",
                             {"settings": list(f.settings) or ["zero-shot"], "default": DEFAULT_MODEL})
        if counts.height:
            f = replace(f, models=(counts["model"][0],))
            chosen.append(f"--model {counts['model'][0]}")
    if not f.splits:
        f = replace(f, splits=(DEFAULT_SPLIT,))
        chosen.append(f"--split {DEFAULT_SPLIT}")
    return f, chosen


def build_table(store, name: str, f: Filters) -> Table:
    """One paper table; rows of demonstration data get :data:`store.demo.DEMO_MARK` in a first column."""
    builders = {"matrix": matrix_table, "per-language": per_language_table, "gains": gains_table, "paired": paired_table,
                "distance": distance_table}
    if name not in builders:
        raise StoreError(f"unknown table {name!r}; choose one of {', '.join(TABLES)}")
    return mark_demo(builders[name](store, f))


def mark_demo(table: Table) -> Table:
    """The table with a ``data`` column marking demonstration rows (unchanged when it has none)."""
    if "source" not in table.frame.columns or DEMO_SOURCE not in set(table.frame["source"]):
        return table
    mark = pl.when(pl.col("source") == DEMO_SOURCE).then(pl.lit(DEMO_MARK)).otherwise(pl.lit("")).alias("data")
    frame = table.frame.select(mark, pl.all())
    return replace(table, frame=frame, index=("data", *table.index), caption=f"{DEMO_MARK}. {table.caption}", demo=True)


# ---------------------------------------------------------------------- formatting
#: Index columns that name a row rather than a group of comparable rows.
_ROW_NAMES = ("row", "data", "seeds")
_FIXED_NAMES = {"split": "{} split", "setting": "{}", "model": "{}", "source": "source {}", "target": "{}",
                "metric": "{}"}


def _group(table: Table, row: dict) -> tuple:
    """The comparable rows of ``row``: same values in every index column that is not a row name."""
    return tuple(row[c] for c in table.index if c not in _ROW_NAMES)


def _best(table: Table) -> dict[tuple, float | None]:
    """Best value per (group of comparable rows, column), where at least two rows compete: bold
    never compares two sources, models, splits or settings with one another, nor marks a lone value."""
    seen: dict[tuple, list[float]] = {}
    for row, score in zip(table.frame.iter_rows(named=True), table.score_rows):
        g = _group(table, row)
        for col in table.values:
            v = row[col]
            if col not in table.formats and score and v is not None and v == v:
                seen.setdefault((g, col), []).append(v)
    return {key: max(vals) for key, vals in seen.items() if len(vals) > 1}


def _is_best(best: dict, table: Table, row: dict, col: str, is_score: bool) -> bool:
    return is_score and row[col] is not None and row[col] == best.get((_group(table, row), col))


def for_paper(table: Table) -> Table:
    """The table as a paper shows it: index columns with one value for every row move into the
    caption, value columns with no value at all go, and the caption says what bold compares."""
    if table.frame.is_empty():
        return table
    fixed, index = [], []
    for c in table.index:
        values = table.frame[c].unique()
        if c not in _ROW_NAMES and values.len() == 1 and values[0] not in (None, ""):
            fixed.append(_FIXED_NAMES.get(c, c + " {}").format(values[0]))
        else:
            index.append(c)
    values = [c for c in table.values if table.frame[c].null_count() < table.frame.height]
    out = replace(table, frame=table.frame.select(*index, *values), index=tuple(index), values=tuple(values))
    groups = [c for c in index if c not in _ROW_NAMES]
    compares = f"bold: best per column among rows of the same {', '.join(groups)}" if groups else \
        "bold: best per column"
    if any(c not in out.formats for c in values) and any(out.score_rows):
        fixed.append(compares)
    caption = table.caption + (f" ({'; '.join(fixed)})" if fixed else "")
    return replace(out, caption=caption)


def _cell(v: float | None, signed: bool, fmt: str | None = None) -> str:
    if v is None or v != v:  # null, or NaN (an interval of one example)
        return "–"
    if fmt:
        return fmt.format(v)
    return f"{v:+.1f}" if signed else f"{v:.1f}"


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "Δ": r"$\Delta$", "−": "--"}


def latex_escape(text: str) -> str:
    """Escapes LaTeX special characters in a cell or header."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def to_latex(table: Table) -> str:
    """A table float: booktabs tabular (index columns left-aligned, values right-aligned, the best of
    comparable rows per column bold) and its caption."""
    best = _best(table)
    spec = "l" * len(table.index) + "r" * len(table.values)
    lines = [
        f"% {table.caption}",
        r"\begin{table}[t]",
        r"\centering",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(c) for c in (*table.index, *table.values)) + r" \\",
        r"\midrule",
    ]
    for row, is_score in zip(table.frame.iter_rows(named=True), table.score_rows):
        cells = [latex_escape(row[c] if row[c] is not None else "") for c in table.index]
        for col in table.values:
            text = latex_escape(_cell(row[col], signed=not is_score, fmt=table.formats.get(col)))
            if _is_best(best, table, row, col, is_score):
                text = rf"\textbf{{{text}}}"
            cells.append(text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{latex_escape(table.caption)}.}}", r"\end{table}"]
    lines += [f"% note: {n}" for n in table.notes]
    return "\n".join(lines) + "\n"


def markdown_escape(text: str) -> str:
    """A cell that cannot break the table: ``|`` escaped, line breaks as spaces."""
    return " ".join(str(text).replace("\\", "\\\\").replace("|", "\\|").splitlines())


#: OWASP's list: a cell starting with one of these is a formula to a spreadsheet.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells (and headers) that a spreadsheet would run as a formula get a leading ``'``.

    OWASP's CSV-injection advice: a model named ``=cmd|' /C calc'!A0`` is exported as
    ``'=cmd|' /C calc'!A0``, shown as text. Numbers are numeric columns and never touched.
    """
    text = [c for c, t in frame.schema.items() if t == pl.String]
    risky = {c: pl.any_horizontal(*(pl.col(c).str.starts_with(ch) for ch in _FORMULA_START)) for c in text}
    frame = frame.with_columns(
        pl.when(risky[c]).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c) for c in text
    )
    return frame.rename({c: _csv_header(c) for c in frame.columns if _csv_header(c) != c})


def _csv_header(name: str) -> str:
    return "'" + name if name.startswith(_FORMULA_START) else name


def to_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table, best per column in bold."""
    best = _best(table)
    header = [markdown_escape(c) for c in (*table.index, *table.values)]
    lines = [f"*{table.caption}*", ""] if table.demo else []
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(table.index) + ["---:"] * len(table.values)) + "|"]
    for row, is_score in zip(table.frame.iter_rows(named=True), table.score_rows):
        cells = [markdown_escape(row[c] or "") for c in table.index]
        for col in table.values:
            text = _cell(row[col], signed=not is_score, fmt=table.formats.get(col))
            if _is_best(best, table, row, col, is_score):
                text = f"**{text}**"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"{table.caption}."] + [f"- {n}" for n in table.notes]
    return "\n".join(lines) + "\n"


def render(table: Table, fmt: str) -> bytes:
    """The table in ``fmt`` (CSV and Parquet keep full precision; Markdown and LaTeX one decimal)."""
    if fmt == "csv":
        return csv_safe(table.frame).write_csv().encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        table.frame.write_parquet(buf)
        return buf.getvalue()
    if fmt == "markdown":
        return to_markdown(for_paper(table)).encode()
    if fmt == "latex":
        return to_latex(for_paper(table)).encode()
    raise StoreError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
