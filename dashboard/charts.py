"""Charts (pure: frames in, chart specs out; no Streamlit, no store I/O).

Every chart is written in Altair, but built once per set of static options (titles, colour
scale) on a placeholder dataset and kept as its validated Vega-Lite dict (a skeleton): building
Altair objects and validating them costs tens of milliseconds per chart, which a page would
otherwise pay on every render. A :class:`Chart` is that skeleton plus the render's frame and
its data-dependent sizes; the app draws it with ``st.vega_lite_chart`` and the Export page
renders it to PNG or SVG unchanged.

The heatmaps (transfer matrix, language x target) are in :mod:`dashboard.heatmaps`.

Example:
    >>> import polars as pl
    >>> df = pl.DataFrame({"target_type": ["classification"], "complexity": ["simple (1-2)"], "mean_gain": [0.4],
    ...                    "ci_low": [0.1], "ci_high": [0.7], "n": [3]})
    >>> simple_complex_chart(df).to_dict()["data"]["values"][0]["mean_gain"]
    0.4
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import altair as alt
import polars as pl

GAIN_SCHEME = "blueorange"
SCORE_SCHEME = "viridis"
#: Name of the heatmap's point selection (the app reads it back from the chart event).
CELL_SELECTION = "cell"
_PANEL_W, _PANEL_H = 300, 220
_DATA = alt.Data(name="table")  # placeholder; each Chart carries its own frame


@dataclass(frozen=True, eq=False)
class Chart:
    """A Vega-Lite spec without data (shared, never mutated) and the frame it draws."""

    spec: dict
    data: pl.DataFrame

    def to_dict(self) -> dict:
        """The complete spec with the data inlined (for export and for tests)."""
        return {**self.spec, "data": {"values": self.data.to_dicts()}}


def _skeleton(chart: alt.TopLevelMixin) -> dict:
    """The validated spec of a chart built on the placeholder data, without data and theme config."""
    spec = chart.to_dict()
    spec.pop("data", None)
    spec.pop("config", None)
    return spec


def _sized(skeleton: dict, data: pl.DataFrame, **size: int) -> Chart:
    return Chart({**skeleton, **size}, data)


_FIT_WIDTH = alt.AutoSizeParams(type="fit-x", contains="padding")  # width follows the container, height as set
_LABEL_AXIS = alt.Axis(labelOverlap=False, labelLimit=260)
_BY_ORDER = alt.EncodingSortField(field="order", op="min")  # rows in the frame's order (``order`` column)


def _zero_rule(axis: str = "y") -> alt.Chart:
    return alt.Chart().mark_rule(color="#888", strokeDash=[4, 3]).encode(**{axis: alt.datum(0)})


def _color_scale(signed: bool) -> alt.Scale:
    return alt.Scale(scheme=GAIN_SCHEME, domainMid=0) if signed else alt.Scale(scheme=SCORE_SCHEME)


# ---------------------------------------------------------------------- Question page
@functools.lru_cache(maxsize=8)
def _complexity(axis_title: str, ordinal: bool) -> dict:
    # Axis A is ordinal: ticks on the five levels only (no 1.5 or 2.5); tasks of one level are drawn
    # slightly apart (``x_plot``). Tasks are told apart by colour and legend, not by text beside the
    # points, which overlapped wherever two tasks had close values.
    axis = alt.Axis(values=[1, 2, 3, 4, 5], format="d") if ordinal else alt.Axis()
    scale = alt.Scale(domain=[0.5, 5.5], nice=False) if ordinal else alt.Scale(zero=False, nice=True)
    x = alt.X("x_plot:Q", title=axis_title, scale=scale, axis=axis)
    color = alt.Color("intermediate:N", title="intermediate task", scale=alt.Scale(scheme="tableau10"))
    tooltip = ["intermediate:N", alt.Tooltip("x:Q", title="complexity"), alt.Tooltip("mean_gain:Q", format="+.2f"),
               alt.Tooltip("ci_low:Q", format="+.2f"), alt.Tooltip("ci_high:Q", format="+.2f"), "n:Q"]
    bars = alt.Chart().mark_rule(strokeWidth=1.5).encode(x=x, y="ci_low:Q", y2="ci_high:Q", color=color)
    dots = alt.Chart().mark_circle(size=80, opacity=1).encode(
        x=x, y=alt.Y("mean_gain:Q", title="gain over none (points)"), color=color, tooltip=tooltip)
    layer = alt.layer(_zero_rule(), bars, dots, data=_DATA).properties(width=_PANEL_W, height=_PANEL_H)
    return _skeleton(layer.facet(facet=alt.Facet("panel:N", title=None), columns=2).resolve_scale(y="independent"))


def complexity_chart(points: pl.DataFrame, axis_title: str, ordinal: bool = False) -> Chart:
    """Mean gain (with its 95% interval) against a complexity axis, one panel per target type.

    Args:
        points: rows with ``panel``, ``intermediate``, ``x``, ``x_plot``, ``mean_gain``, ``ci_low``,
            ``ci_high``, ``n`` (:func:`dashboard.transforms.complexity_points`).
        axis_title: the x axis title (which complexity axis).
        ordinal: the axis is A (format levels 1-5): integer ticks only.
    """
    if "x_plot" not in points.columns:
        points = points.with_columns(pl.col("x").alias("x_plot"))
    return Chart(_complexity(axis_title, ordinal), points)


@functools.lru_cache(maxsize=1)
def _simple_complex() -> dict:
    order = ["simple (1-2)", "complex (3-5)"]
    color = alt.Color("complexity:N", title=None, sort=order, scale=alt.Scale(range=["#9ecae9", "#e45756"]))
    x = alt.X("target_type:N", title=None, axis=alt.Axis(labelAngle=0))
    off = alt.XOffset("complexity:N", sort=order)
    bars = alt.Chart().mark_bar().encode(
        x=x, xOffset=off, y=alt.Y("mean_gain:Q", title="mean gain (points)"), color=color,
        tooltip=["target_type:N", "complexity:N", alt.Tooltip("mean_gain:Q", format="+.2f"),
                 alt.Tooltip("ci_low:Q", format="+.2f"), alt.Tooltip("ci_high:Q", format="+.2f"), "n:Q"])
    err = alt.Chart().mark_rule(color="black").encode(x=x, xOffset=off, y="ci_low:Q", y2="ci_high:Q")
    return _skeleton(alt.layer(bars, err, _zero_rule(), data=_DATA).properties(width=560, height=240, autosize=_FIT_WIDTH))


def simple_complex_chart(df: pl.DataFrame) -> Chart:
    """Mean gain of simple (format levels 1-2) beside complex (3-5) intermediate tasks, per target type."""
    return Chart(_simple_complex(), df)


@functools.lru_cache(maxsize=1)
def _published() -> dict:
    y = alt.Y("task:N", title=None, sort=None, axis=_LABEL_AXIS)
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("gain:Q", title="X-STILTs − XLM-R (points)"), y=y, yOffset="source:N",
        color=alt.Color("source:N", title="source"),
        tooltip=["source:N", "task:N", "metric:N", alt.Tooltip("value:Q", title="X-STILTs"),
                 alt.Tooltip("baseline:Q", title="XLM-R"), alt.Tooltip("gain:Q", format="+.1f")])
    text = alt.Chart().mark_text(align="left", dx=3, fontSize=10).encode(
        x="gain:Q", y=y, yOffset="source:N", text=alt.Text("gain:Q", format="+.1f"))
    layer = alt.layer(bars, text, _zero_rule("x"), data=_DATA).properties(width=360, height=alt.Step(11))
    return _skeleton(layer.facet(row=alt.Row("level:N", title=None, sort="descending")).resolve_scale(y="independent"))


def published_chart(df: pl.DataFrame) -> Chart:
    """X-STILTs minus XLM-R as printed by each published source, per target and per category
    (``task``: the target's display name; the id when absent)."""
    if "task" not in df.columns:
        df = df.with_columns(pl.col("target").alias("task"))
    return Chart(_published(), df)


# ---------------------------------------------------------------------- Transfer matrix
@functools.lru_cache(maxsize=8)
def _breakdown(value_col: str, title: str) -> dict:
    return _skeleton(alt.Chart(_DATA).mark_bar().encode(
        x=alt.X("language:N", sort="-y", title="language"),
        y=alt.Y(f"{value_col}:Q", title=title),
        color=alt.Color("family:N", title="family"),
        tooltip=["language:N", "family:N", "genus:N", "script:N", "resource_class:Q",
                 alt.Tooltip(f"{value_col}:Q", format=".2f")],
    ).properties(width=560, height=220, autosize=_FIT_WIDTH))


def breakdown_chart(df: pl.DataFrame, value_col: str, title: str) -> Chart:
    """One matrix cell broken down by language (bars, sorted)."""
    return Chart(_breakdown(value_col, title), df)


# ---------------------------------------------------------------------- Languages
@functools.lru_cache(maxsize=8)
def _languages(value_title: str, with_interval: bool) -> dict:
    y = alt.Y("language_label:N", title=None, sort=_BY_ORDER, axis=_LABEL_AXIS)
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("value:Q", title=value_title), y=y,
        color=alt.Color("group:N", title="group", scale=alt.Scale(scheme="tableau20")),
        stroke=alt.condition("datum.low_resource", alt.value("black"), alt.value(None)),
        strokeWidth=alt.condition("datum.low_resource", alt.value(2), alt.value(0)),
        tooltip=["language_label:N", "group:N", "resource_class:Q", "low_resource:N",
                 alt.Tooltip("value:Q", format=".2f"), "n:Q"])
    layers = [bars, _zero_rule("x")]
    if with_interval:
        layers.append(alt.Chart().mark_rule(color="black").encode(x="ci_low:Q", x2="ci_high:Q", y=y))
    return _skeleton(alt.layer(*layers, data=_DATA).properties(width=520, height=300, autosize=_FIT_WIDTH))


def language_chart(df: pl.DataFrame, value_title: str, with_interval: bool) -> Chart:
    """Per-language value in the frame's order (by group); low-resource languages outlined in black.

    Args:
        df: :func:`dashboard.transforms.language_frame` rows (``language_label``, ``order``, ``group``,
            ``value``, ``low_resource``; ``ci_low`` / ``ci_high`` when ``with_interval``).
        value_title: x axis title.
        with_interval: draw the 95% interval.
    """
    return _sized(_languages(value_title, with_interval), df, height=max(18 * df["language"].n_unique(), 120))


# ---------------------------------------------------------------------- Languages: distance to English
def _family_color() -> alt.Color:
    return alt.Color("family:N", title="family", scale=alt.Scale(scheme="tableau20"))


@functools.lru_cache(maxsize=16)
def _distance(kind: str) -> dict:
    x = alt.X("distance:Q", title=f"URIEL+ {kind} distance to English", scale=alt.Scale(zero=False, nice=True))
    y = alt.Y("mean_gain:Q", title="mean gain over none (points)")
    dots = alt.Chart().mark_circle(size=70, opacity=0.9).encode(
        x=x, y=y, color=_family_color(),
        tooltip=["language:N", "name:N", "family:N", alt.Tooltip("distance:Q", format=".3f"),
                 alt.Tooltip("mean_gain:Q", format="+.2f"), alt.Tooltip("n_rows:Q", title="rows")])
    labels = alt.Chart().mark_text(dx=5, align="left", fontSize=9).encode(x=x, y=y, text="language:N")
    layer = alt.layer(_zero_rule(), dots, labels, data=_DATA).properties(width=_PANEL_W, height=_PANEL_H)
    return _skeleton(layer.facet(facet=alt.Facet("panel:N", title=None), columns=2).resolve_scale(y="independent"))


def distance_chart(points: pl.DataFrame, kind: str) -> Chart:
    """Mean gain per language against its distance to English, one panel per target type, families as colour.

    Args:
        points: :func:`store.distance.language_points` rows with ``panel`` (rho, interval, n) and ``name``.
        kind: the distance kind (x axis title).
    """
    return Chart(_distance(kind), points)


@functools.lru_cache(maxsize=16)
def _gap(kind: str) -> dict:
    x = alt.X("distance:Q", title=f"URIEL+ {kind} distance to English", scale=alt.Scale(zero=False, nice=True))
    y = alt.Y("gap:Q", title="English score − language score (points)")
    color = alt.Color("row:N", title="baseline: intermediate · source · model", scale=alt.Scale(scheme="tableau10"),
                      legend=alt.Legend(labelLimit=420, titleLimit=420, orient="bottom", columns=1))
    tooltip = ["row:N", "language:N", "name:N", "family:N", "target:N", "metric:N",
               alt.Tooltip("english:Q", format=".1f"), alt.Tooltip("value:Q", title="language score", format=".1f"),
               alt.Tooltip("gap:Q", format=".2f"), alt.Tooltip("distance:Q", format=".3f")]
    dots = alt.Chart().mark_point(filled=True, size=55, opacity=0.85).encode(
        x=x, y=y, color=color, shape=alt.Shape("source_kind:N", title="source"), tooltip=tooltip)
    layer = alt.layer(_zero_rule(), dots, data=_DATA).properties(width=_PANEL_W, height=_PANEL_H)
    return _skeleton(layer.facet(facet=alt.Facet("target:N", title=None), columns=2).resolve_scale(y="independent"))


def gap_chart(df: pl.DataFrame, kind: str) -> Chart:
    """The transfer gap (English minus language) against distance, one panel per target; one colour per run
    group (baselines of our runs and published rows, labelled by source), filled shapes by kind of source."""
    return Chart(_gap(kind), df)


@functools.lru_cache(maxsize=1)
def _gap_change() -> dict:
    y = alt.Y("intermediate:N", title=None, axis=_LABEL_AXIS)
    x = alt.X("mean_gap_change:Q", title="gap change: run's gap − baseline's gap (points; < 0 shrinks)")
    color = alt.Color("verdict:N", title=None, scale=alt.Scale(domain=["shrinks", "unclear", "widens"],
                                                               range=["#54a24b", "#bab0ac", "#e45756"]))
    tooltip = ["target:N", "intermediate:N", alt.Tooltip("mean_gap_change:Q", format="+.2f"),
               alt.Tooltip("ci_low:Q", format="+.2f"), alt.Tooltip("ci_high:Q", format="+.2f"), "n:Q", "verdict:N"]
    dots = alt.Chart().mark_point(filled=True, size=60).encode(x=x, y=y, color=color, tooltip=tooltip)
    rule = alt.Chart().mark_rule(strokeWidth=2).encode(x="ci_low:Q", x2="ci_high:Q", y=y, color=color)
    layer = alt.layer(_zero_rule("x"), rule, dots, data=_DATA).properties(width=420, height=alt.Step(18))
    return _skeleton(layer.facet(row=alt.Row("target:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")))
                     .resolve_scale(y="independent"))


def gap_change_chart(df: pl.DataFrame) -> Chart:
    """Per target and intermediate task: mean change of the gap against the baseline, with its 95% interval."""
    return Chart(_gap_change(), df)


@functools.lru_cache(maxsize=1)
def _complexity_distance() -> dict:
    order = ["simple (1-2)", "complex (3-5)"]
    color = alt.Color("complexity:N", title=None, sort=order, scale=alt.Scale(range=["#9ecae9", "#e45756"]))
    x = alt.X("distance_bin:N", title="distance to English (terciles of the catalog languages)",
              sort=alt.EncodingSortField("bin_index", op="min"), axis=alt.Axis(labelAngle=0))
    off = alt.XOffset("complexity:N", sort=order)
    y = alt.Y("mean_gain:Q", title="mean gain (points)")
    tooltip = ["target_type:N", "distance_bin:N", "complexity:N", alt.Tooltip("mean_gain:Q", format="+.2f"),
               alt.Tooltip("ci_low:Q", format="+.2f"), alt.Tooltip("ci_high:Q", format="+.2f"), "n:Q"]
    bars = alt.Chart().mark_bar().encode(x=x, xOffset=off, y=y, color=color, tooltip=tooltip)
    err = alt.Chart().mark_rule(color="black").encode(x=x, xOffset=off, y="ci_low:Q", y2="ci_high:Q")
    layer = alt.layer(bars, err, _zero_rule(), data=_DATA).properties(width=_PANEL_W, height=_PANEL_H)
    return _skeleton(layer.facet(facet=alt.Facet("target_type:N", title=None), columns=2).resolve_scale(y="independent"))


def complexity_distance_chart(df: pl.DataFrame) -> Chart:
    """Simple beside complex intermediate tasks' mean gain in each distance bin, one panel per target type."""
    return Chart(_complexity_distance(), df)


# ---------------------------------------------------------------------- Examples
@functools.lru_cache(maxsize=8)
def _paired(value_title: str, by_bucket: bool) -> dict:
    y = alt.Y("language:N", title=None, sort=_BY_ORDER, axis=_LABEL_AXIS)
    offset = {"yOffset": alt.YOffset("bucket:N", sort=alt.EncodingSortField("bucket_order", op="min"))} if by_bucket else {}
    color = (alt.Color("bucket:N", title="bucket", sort=alt.EncodingSortField("bucket_order", op="min"),
                       scale=alt.Scale(scheme="tableau10"))
             if by_bucket else alt.Color("significance:N", title=None,
                                         scale=alt.Scale(domain=["p < 0.05", "p >= 0.05"], range=["#e45756", "#4c78a8"])))
    tooltip = ["language:N", *(["bucket:N"] if by_bucket else ["test:N", alt.Tooltip("p_value:Q", format=".3g")]),
               alt.Tooltip("value:Q", title=value_title, format="+.2f"), alt.Tooltip("ci_low:Q", format="+.2f"),
               alt.Tooltip("ci_high:Q", format="+.2f"), "n:Q"]
    rule = alt.Chart().mark_rule(strokeWidth=2).encode(x="ci_low:Q", x2="ci_high:Q", y=y, color=color, **offset)
    dots = alt.Chart().mark_circle(size=55, opacity=1).encode(
        x=alt.X("value:Q", title=value_title), y=y, color=color, tooltip=tooltip, **offset)
    return _skeleton(alt.layer(_zero_rule("x"), rule, dots, data=_DATA).properties(width=520, autosize=_FIT_WIDTH))


def paired_chart(df: pl.DataFrame, value_title: str, by_bucket: bool) -> Chart:
    """Per language, run minus baseline with its 95% interval: one dot per language (coloured by the
    paired test's verdict) or, ``by_bucket``, one per bucket of the language.

    Args:
        df: rows with ``language``, ``order``, ``value``, ``ci_low``, ``ci_high``, ``n`` and either
            ``bucket`` / ``bucket_order`` or ``test`` / ``p_value`` / ``significance``.
        value_title: x axis title.
        by_bucket: one dot per bucket.
    """
    per_language = df["bucket"].n_unique() if by_bucket else 1
    return _sized(_paired(value_title, by_bucket), df, height=max(14 * per_language * df["language"].n_unique(), 120))


# ---------------------------------------------------------------------- Claims
#: Colour of each kind of row in a claim's chart (the legend lists the kinds a chart has).
CLAIM_ROLES = {"measured": "#000000", "claimed": "#e45756", "other": "#4c78a8", "item": "#4c78a8",
               "published estimate": "#b279a2", "gain positive": "#54a24b", "gain not positive": "#9d755d",
               "gain undecided": "#bab0ac"}


@functools.lru_cache(maxsize=16)
def _claim(roles: tuple[str, ...]) -> dict:
    y = alt.Y("row:N", title=None, sort=_BY_ORDER, axis=_LABEL_AXIS)
    x = alt.X("value:Q", title="gain or difference (points)", scale=alt.Scale(zero=False, nice=True))
    color = alt.Color("role:N", title=None, legend=alt.Legend(values=list(roles)),
                      scale=alt.Scale(domain=list(CLAIM_ROLES), range=list(CLAIM_ROLES.values())))
    band = alt.Chart().mark_bar(color="#54a24b", opacity=0.22, height={"band": 0.9}).encode(
        x=alt.X("band_lo:Q", title="gain or difference (points)"), x2="band_hi:Q", y=y,
        tooltip=[alt.Tooltip("region:N", title="claimed region")])
    rule = alt.Chart().mark_rule(strokeWidth=2).encode(x="ci_low:Q", x2="ci_high:Q", y=y, color=color)
    dots = alt.Chart().mark_point(filled=True, size=70, opacity=1).encode(
        x=x, y=y, color=color, shape=alt.condition("datum.measured", alt.value("diamond"), alt.value("circle")),
        tooltip=["row:N", "role:N", alt.Tooltip("value:Q", format="+.2f"), alt.Tooltip("ci_low:Q", format="+.2f"),
                 alt.Tooltip("ci_high:Q", format="+.2f"), "n:Q", alt.Tooltip("region:N", title="claimed region")])
    layer = alt.layer(band, _zero_rule("x"), rule, dots, data=_DATA).properties(width=520, height=alt.Step(20))
    header = alt.Header(labelAngle=0, labelAlign="left", labelAnchor="start", labelOrient="top", labelLimit=900,
                        labelFontSize=12, labelFontWeight="bold")
    return _skeleton(layer.facet(row=alt.Row("check:N", title=None, header=header,
                                             sort=alt.EncodingSortField("check_no", op="min")))
                     .resolve_scale(x="independent", y="independent"))


def claim_chart(points: pl.DataFrame) -> Chart:
    """One claim's evidence: per check a panel of its items and its measure (diamond), each with its
    95% interval, over the region the claim asserts (green band).

    Args:
        points: :func:`dashboard.transforms.claim_points` rows.
    """
    roles = tuple(r for r in CLAIM_ROLES if r in set(points["role"]))
    return Chart(_claim(roles), points)

