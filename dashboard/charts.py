"""Altair charts (pure: frames in, chart objects out; no Streamlit, no store I/O).

Each builder takes the display frame that :mod:`dashboard.transforms` shapes and returns an
``alt.Chart`` (or layered / faceted chart) with fixed sizes, so the same object renders in the
app and exports to PNG or SVG unchanged.

Example:
    >>> import polars as pl
    >>> df = pl.DataFrame({"row": ["mnli"], "target": ["xnli"], "cell_value": [1.2], "cell_text": ["+1.2"]})
    >>> matrix_chart(df, "gain (points)", signed=True).to_dict()["mark"]  # doctest: +SKIP
"""

from __future__ import annotations

import altair as alt
import polars as pl

GAIN_SCHEME = "blueorange"
SCORE_SCHEME = "viridis"
#: Name of the heatmap's point selection (the app reads it back from the chart event).
CELL_SELECTION = "cell"
_PANEL_W, _PANEL_H = 300, 220
_LABEL_AXIS = alt.Axis(labelOverlap=False, labelLimit=260)


def _fit_width(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Width follows the container in the app; height stays as set (labels never squeezed)."""
    return chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


def _zero_rule(axis: str = "y") -> alt.Chart:
    return alt.Chart().mark_rule(color="#888", strokeDash=[4, 3]).encode(**{axis: alt.datum(0)})


def complexity_chart(points: pl.DataFrame, axis_title: str) -> alt.FacetChart:
    """Mean gain (with its 95% interval) against a complexity axis, one panel per target type.

    Args:
        points: rows with ``panel``, ``intermediate``, ``x``, ``mean_gain``, ``ci_low``, ``ci_high``, ``n``.
        axis_title: the x axis title (which complexity axis).
    """
    x = alt.X("x:Q", title=axis_title, scale=alt.Scale(zero=False, nice=True))
    tooltip = ["intermediate:N", alt.Tooltip("x:Q", title="complexity"), alt.Tooltip("mean_gain:Q", format="+.2f"),
               alt.Tooltip("ci_low:Q", format="+.2f"), alt.Tooltip("ci_high:Q", format="+.2f"), "n:Q"]
    bars = alt.Chart().mark_rule(strokeWidth=1.5).encode(x=x, y="ci_low:Q", y2="ci_high:Q", color=alt.value("#4c78a8"))
    dots = alt.Chart().mark_circle(size=70).encode(
        x=x, y=alt.Y("mean_gain:Q", title="gain over none (points)"), tooltip=tooltip, color=alt.value("#4c78a8"))
    labels = alt.Chart().mark_text(dx=6, align="left", fontSize=10).encode(x=x, y="mean_gain:Q", text="intermediate:N")
    layer = alt.layer(_zero_rule(), bars, dots, labels, data=points).properties(width=_PANEL_W, height=_PANEL_H)
    return layer.facet(facet=alt.Facet("panel:N", title=None), columns=2).resolve_scale(y="independent")


def simple_complex_chart(df: pl.DataFrame) -> alt.LayerChart:
    """Mean gain of simple (format levels 1-2) beside complex (3-5) intermediate tasks, per target type."""
    color = alt.Color("complexity:N", title=None, sort=["simple (1-2)", "complex (3-5)"],
                      scale=alt.Scale(range=["#9ecae9", "#e45756"]))
    x = alt.X("target_type:N", title=None, axis=alt.Axis(labelAngle=0))
    off = alt.XOffset("complexity:N", sort=["simple (1-2)", "complex (3-5)"])
    bars = alt.Chart().mark_bar().encode(
        x=x, xOffset=off, y=alt.Y("mean_gain:Q", title="mean gain (points)"), color=color,
        tooltip=["target_type:N", "complexity:N", alt.Tooltip("mean_gain:Q", format="+.2f"),
                 alt.Tooltip("ci_low:Q", format="+.2f"), alt.Tooltip("ci_high:Q", format="+.2f"), "n:Q"])
    err = alt.Chart().mark_rule(color="black").encode(x=x, xOffset=off, y="ci_low:Q", y2="ci_high:Q")
    return _fit_width(alt.layer(bars, err, _zero_rule(), data=df).properties(width=560, height=240))


def published_chart(df: pl.DataFrame) -> alt.FacetChart:
    """X-STILTs minus XLM-R as printed by each published source, per target and per category."""
    y = alt.Y("target:N", title=None, sort=None)
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("gain:Q", title="X-STILTs − XLM-R (points)"), y=y, yOffset="source:N",
        color=alt.Color("source:N", title="source"),
        tooltip=["source:N", "target:N", "metric:N", alt.Tooltip("value:Q", title="X-STILTs"),
                 alt.Tooltip("baseline:Q", title="XLM-R"), alt.Tooltip("gain:Q", format="+.1f")])
    text = alt.Chart().mark_text(align="left", dx=3, fontSize=10).encode(
        x="gain:Q", y=y, yOffset="source:N", text=alt.Text("gain:Q", format="+.1f"))
    layer = alt.layer(bars, text, _zero_rule("x"), data=df).properties(width=360, height=alt.Step(11))
    return layer.facet(row=alt.Row("level:N", title=None, sort="descending")).resolve_scale(y="independent")


def matrix_chart(cells: pl.DataFrame, value_title: str, signed: bool) -> alt.LayerChart:
    """Heatmap of intermediate task (rows) x target (columns); click a cell to select it."""
    pick = alt.selection_point(name=CELL_SELECTION, fields=["row", "target"], on="click", clear="dblclick")
    scale = alt.Scale(scheme=GAIN_SCHEME, domainMid=0) if signed else alt.Scale(scheme=SCORE_SCHEME)
    base = alt.Chart(cells).encode(x=alt.X("target:N", title="target task", axis=alt.Axis(labelAngle=-30)),
                                   y=alt.Y("row:N", title="intermediate task", axis=_LABEL_AXIS))
    rect = base.mark_rect(stroke="white").encode(
        color=alt.Color("cell_value:Q", title=value_title, scale=scale),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
        tooltip=["row:N", "target:N", alt.Tooltip("cell_value:Q", title=value_title, format=".2f")],
    ).add_params(pick)
    text = base.mark_text(fontSize=10).encode(text="cell_text:N")
    n_rows = max(cells["row"].n_unique(), 1)
    return _fit_width(alt.layer(rect, text).properties(width=max(60 * cells["target"].n_unique(), 240),
                                                       height=max(22 * n_rows, 120)))


def breakdown_chart(df: pl.DataFrame, value_col: str, title: str) -> alt.Chart:
    """One matrix cell broken down by language (bars, sorted)."""
    return _fit_width(alt.Chart(df).mark_bar().encode(
        x=alt.X("language:N", sort="-y", title="language"),
        y=alt.Y(f"{value_col}:Q", title=title),
        color=alt.Color("family:N", title="family"),
        tooltip=["language:N", "family:N", "genus:N", "script:N", "resource_class:Q", alt.Tooltip(f"{value_col}:Q", format=".2f")],
    ).properties(width=560, height=220))


def language_chart(df: pl.DataFrame, value_title: str, with_interval: bool) -> alt.LayerChart:
    """Per-language value, languages in the frame's order (by group); low-resource ones outlined in black.

    Args:
        df: :func:`dashboard.transforms.language_frame` rows (``language_label``, ``group``, ``value``,
            ``low_resource``; ``ci_low`` / ``ci_high`` when ``with_interval``).
        value_title: x axis title.
        with_interval: draw the 95% interval.
    """
    y = alt.Y("language_label:N", title=None, sort=df["language_label"].to_list(), axis=_LABEL_AXIS)
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("value:Q", title=value_title), y=y, color=alt.Color("group:N", title="group", scale=alt.Scale(scheme="tableau20")),
        stroke=alt.condition("datum.low_resource", alt.value("black"), alt.value(None)),
        strokeWidth=alt.condition("datum.low_resource", alt.value(2), alt.value(0)),
        tooltip=["language_label:N", "group:N", "resource_class:Q", "low_resource:N", alt.Tooltip("value:Q", format=".2f"), "n:Q"])
    layers = [bars, _zero_rule("x")]
    if with_interval:
        layers.append(alt.Chart().mark_rule(color="black").encode(x="ci_low:Q", x2="ci_high:Q", y=y))
    n = max(df["language"].n_unique(), 1) if not df.is_empty() else 1
    return _fit_width(alt.layer(*layers, data=df).properties(width=520, height=max(18 * n, 120)))


def language_target_chart(df: pl.DataFrame, value_title: str, signed: bool) -> alt.LayerChart:
    """Heatmap of language x target; low-resource languages marked in the row label."""
    scale = alt.Scale(scheme=GAIN_SCHEME, domainMid=0) if signed else alt.Scale(scheme=SCORE_SCHEME)
    base = alt.Chart(df).encode(x=alt.X("target:N", title="target task"),
                                y=alt.Y("language_label:N", title=None, axis=_LABEL_AXIS,
                                        sort=df["language_label"].unique(maintain_order=True).to_list()))
    rect = base.mark_rect().encode(color=alt.Color("value:Q", title=value_title, scale=scale),
                                   tooltip=["language_label:N", "target:N", "group:N", alt.Tooltip("value:Q", format=".2f")])
    text = base.mark_text(fontSize=9).encode(text=alt.Text("value:Q", format=".1f"))
    n = max(df["language"].n_unique(), 1) if not df.is_empty() else 1
    return _fit_width(alt.layer(rect, text).properties(width=max(70 * df["target"].n_unique(), 200), height=max(18 * n, 120)))
