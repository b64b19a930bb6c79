"""Languages beyond family: distance to English, the transfer gap, and complexity x distance.

Written once, on top of :mod:`store.analysis` (its gains, its bootstrap, its Spearman), and used by
``store export --table distance`` and the dashboard's Languages page alike.

* **Distance**: each catalog language's URIEL+ distance to English of one kind (syntactic,
  phonological, inventory, featural, morphological, genetic, geographic, script; 0-1), from the
  index table ``language_distances`` (data file ``store/data/catalog/uriel_distances.json``,
  written by ``store distances --write``). Null where URIEL+ has no shared feature.
* **Transfer gap**: per run group and language, the English score minus the language's score
  (points; larger = the language is further behind English). For an intermediate-task run it
  sits beside its ``none`` baseline's gap; ``gap_change`` = gap - baseline gap, negative when
  intermediate training shrinks the gap. (It equals the English gain minus the language's gain.)
* **Gain against distance**: one point per language (its mean gain over the slice's runs and
  targets of one group), Spearman's rho between distance and gain with the bootstrap interval
  over languages, and ``n`` languages.
* **Complexity x distance**: mean gain of simple (format 1-2) and complex (3-5) intermediate
  tasks in each distance bin (near, middle, far: terciles of the kind's distances over the catalog
  languages other than English, so bins do not move with the slice), with bootstrap intervals.

Example:
    >>> import tempfile
    >>> from store.database import Store
    >>> with Store.open(tempfile.mkdtemp()) as st:
    ...     d = distances(st, "genetic")
    >>> d.filter(pl.col("language") == "en")["distance"].to_list()
    [0.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from store.analysis import Filters, gains, scores, spearman, spearman_ci, summarize_gains
from store.catalog import AVERAGE_LANGUAGE, BASELINE, DISTANCE_KINDS
from store.errors import StoreError

ENGLISH = "en"
BINS = ("near", "middle", "far")
#: The labels of store.analysis.simple_vs_complex.
SIMPLE, COMPLEX = "simple (1-2)", "complex (3-5)"
_RUN_KEYS = ["source", "model", "label", "intermediate", "variant", "setting", "target", "target_type", "metric", "split"]
_BASE_KEYS = ["source", "model", "setting", "target", "metric", "split", "language"]


def check_kind(kind: str) -> str:
    """The kind, or StoreError naming the known kinds."""
    if kind not in DISTANCE_KINDS:
        from store.catalog import suggest

        raise StoreError(f"unknown distance kind {kind!r}{suggest(kind, DISTANCE_KINDS)}; known: {', '.join(DISTANCE_KINDS)}")
    return kind


def distances(store, kind: str | None = None) -> pl.DataFrame:
    """Catalog languages with their URIEL+ distance to English (every kind, or one).

    Returns:
        language, name, family, genus, script, resource_class, kind, distance (null: URIEL+ has none).
    """
    if kind is not None:
        check_kind(kind)
    return store.query(
        """
        SELECT l.language, l.name, l.family, l.genus, l.script, l.resource_class, d.kind, d.distance
        FROM language_distances d JOIN languages l USING (language)
        WHERE $kind IS NULL OR d.kind = $kind
        ORDER BY d.kind, l.language
        """,
        {"kind": kind},
    )


def distance_source(store) -> dict:
    """Package, version, citation and configuration of the distances (one row of the index)."""
    df = store.query("SELECT * FROM distance_source")
    return df.row(0, named=True) if df.height else {}


def distance_bins(store, kind: str, n_bins: int = 3) -> pl.DataFrame:
    """Each language's distance bin: terciles over the catalog languages other than English.

    Returns:
        language, distance, distance_bin ('near (0.12-0.35)', ...), bin_index (0 = nearest); languages
        without a distance are left out.
    """
    d = distances(store, kind).filter(pl.col("distance").is_not_null() & (pl.col("language") != ENGLISH))
    if d.height < n_bins:
        return pl.DataFrame(schema={"language": pl.String, "distance": pl.Float64, "distance_bin": pl.String, "bin_index": pl.Int64})
    x = d["distance"].to_numpy()
    edges = np.quantile(x, np.linspace(0, 1, n_bins + 1))
    idx = np.clip(np.searchsorted(edges[1:-1], x, side="right"), 0, n_bins - 1)
    names = BINS if n_bins == 3 else tuple(f"bin {i + 1}" for i in range(n_bins))
    labels = [f"{names[i]} ({edges[i]:.2f}-{edges[i + 1]:.2f})" for i in range(n_bins)]
    return d.select("language", "distance").with_columns(
        pl.Series("distance_bin", [labels[i] for i in idx], pl.String),
        pl.Series("bin_index", idx.astype(np.int64), pl.Int64),
    )


def gaps(store, f: Filters = Filters()) -> pl.DataFrame:
    """The transfer gap per run group and language: English score minus the language's score.

    Every run group with an English score of the same target, metric and split (baselines and
    published rows included) gets one row per other language. ``n_seeds`` is the language's.
    """
    s = scores(store, f).filter(pl.col("language") != AVERAGE_LANGUAGE)
    english = s.filter(pl.col("language") == ENGLISH).select(*_RUN_KEYS, pl.col("value").alias("english"))
    return (
        s.filter(pl.col("language") != ENGLISH)
        .join(english, on=_RUN_KEYS, nulls_equal=True)
        .with_columns((pl.col("english") - pl.col("value")).alias("gap"))
        .sort([*_RUN_KEYS, "language"], nulls_last=True)
    )


def gap_changes(store, f: Filters = Filters(), gaps_df: pl.DataFrame | None = None) -> pl.DataFrame:
    """Intermediate-task runs' gaps beside their ``none`` baseline's gap.

    ``gap_change`` = gap - baseline_gap (negative: the intermediate task shrinks the gap);
    ``gap_closed`` = -gap_change (points of the gap closed). Both equal a difference of gains:
    gap_change = English gain - the language's gain. ``gaps_df``: :func:`gaps` of ``f`` if already computed.
    """
    g = gaps(store, f) if gaps_df is None else gaps_df
    base_f = Filters(**{**f.__dict__, "intermediates": (BASELINE,), "variants": ("",)})
    base = gaps(store, base_f) if f.intermediates and BASELINE not in f.intermediates else g
    base = base.filter((pl.col("intermediate") == BASELINE) & (pl.col("variant") == "")).select(
        *_BASE_KEYS, pl.col("gap").alias("baseline_gap"), pl.col("english").alias("baseline_english"),
        pl.col("value").alias("baseline"),
    )
    runs = g.filter(pl.col("intermediate") != BASELINE)
    return runs.join(base, on=_BASE_KEYS, nulls_equal=True).with_columns(
        (pl.col("gap") - pl.col("baseline_gap")).alias("gap_change"),
        (pl.col("baseline_gap") - pl.col("gap")).alias("gap_closed"),
    )


def summarize_gap_change(gc: pl.DataFrame, by: Sequence[str] = ("target",), n_boot: int = 1000, seed: int = 0) -> pl.DataFrame:
    """"Does intermediate training shrink the gap?": mean gap change per group with its interval.

    Uses :func:`store.analysis.summarize_gains` (the store's one bootstrap) on ``gap_change``.
    Returns ``by`` columns, mean_gap_change, ci_low, ci_high, n and ``verdict``: 'shrinks' when
    the whole interval is below 0, 'widens' when above, else 'unclear'.
    """
    out = summarize_gains(gc.with_columns(pl.col("gap_change").alias("gain")), by=by, n_boot=n_boot, seed=seed)
    return out.rename({"mean_gain": "mean_gap_change"}).with_columns(
        pl.when(pl.col("ci_high") < 0).then(pl.lit("shrinks"))
        .when(pl.col("ci_low") > 0).then(pl.lit("widens"))
        .otherwise(pl.lit("unclear")).alias("verdict")
    )


def language_points(gains_df: pl.DataFrame, dist: pl.DataFrame, by: Sequence[str] = ("target_type",)) -> pl.DataFrame:
    """One point per (group, language): mean gain over the group's rows, and the language's distance.

    ``dist`` is :func:`distances` of one kind. Languages without a distance are dropped; English
    (distance 0 by definition) too, as it is the source language, not a transfer target.
    """
    by = list(by)
    d = dist.select("language", "distance")
    return (
        gains_df.filter((pl.col("language") != AVERAGE_LANGUAGE) & (pl.col("language") != ENGLISH))
        .group_by([*by, "language", "family"], maintain_order=True)
        .agg(pl.col("gain").mean().alias("mean_gain"), pl.len().alias("n_rows"))
        .join(d, on="language")
        .drop_nulls("distance")
        .sort([*by, "distance", "language"])
    )


def distance_correlation(
    gains_df: pl.DataFrame,
    dist: pl.DataFrame,
    kind: str,
    by: Sequence[str] = ("target_type",),
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Spearman's rho between distance to English and mean gain, one point per language, per group.

    The interval resamples languages (:func:`store.analysis.spearman_ci`); ``n`` is the number of
    languages with both a gain and a distance.
    """
    by = list(by)
    pts = language_points(gains_df, dist, by)
    rows = []
    for key, g in pts.group_by(by, maintain_order=True):
        x, y = g["distance"].to_numpy().astype(float), g["mean_gain"].to_numpy().astype(float)
        lo, hi = spearman_ci(x, y, n_boot=n_boot, seed=seed)
        rows.append({**dict(zip(by, key)), "kind": kind, "rho": spearman(x, y), "ci_low": lo, "ci_high": hi, "n": len(g)})
    schema = {**{c: pl.String for c in by}, "kind": pl.String, "rho": pl.Float64, "ci_low": pl.Float64,
              "ci_high": pl.Float64, "n": pl.Int64}
    return pl.DataFrame(rows, schema=schema).sort(by)


def complexity_by_distance(
    gains_df: pl.DataFrame, complexity_df: pl.DataFrame, bins: pl.DataFrame, by: Sequence[str] = ("target_type",)
) -> pl.DataFrame:
    """Simple (format 1-2) against complex (3-5) intermediate tasks' gains in each distance bin.

    The same split as :func:`store.analysis.simple_vs_complex` (format rank <= 2 is simple) and the
    store's one bootstrap (:func:`store.analysis.summarize_gains`), with the bin as one more group.

    Returns:
        ``by`` columns, distance_bin, bin_index, complexity, mean_gain, ci_low, ci_high, n.
    """
    by = list(by)
    levels = complexity_df.select(pl.col("task").alias("intermediate"), "format_rank").drop_nulls()
    g = (
        gains_df.join(bins.select("language", "distance_bin", "bin_index"), on="language")
        .join(levels, on="intermediate")
        .with_columns(
            pl.when(pl.col("format_rank") <= 2).then(pl.lit(SIMPLE)).otherwise(pl.lit(COMPLEX)).alias("complexity")
        )
    )
    if g.is_empty():
        schema = {**{c: pl.String for c in by}, "distance_bin": pl.String, "bin_index": pl.Int64, "complexity": pl.String,
                  "mean_gain": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "n": pl.Int64}
        return pl.DataFrame(schema=schema)
    out = summarize_gains(g, by=(*by, "distance_bin", "bin_index", "complexity"))
    return out.sort([*by, "bin_index", "complexity"], descending=[False] * len(by) + [False, True])


def correlation_table(store, f: Filters = Filters(), kinds: Sequence[str] = DISTANCE_KINDS) -> pl.DataFrame:
    """Gain-distance correlations for the export: per source, model, target type and kind."""
    g = gains(store, f)
    by = ("source", "model", "target_type")
    frames = [distance_correlation(g, distances(store, k), k, by=by) for k in kinds]
    return pl.concat(frames).sort([*by, "kind"]) if frames else pl.DataFrame()
