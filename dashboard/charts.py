"""Charts (pure: frames in, chart specs out; no Streamlit, no store I/O).

Every chart is written in Altair, but built once per set of static options (titles, colour
scale) on a placeholder dataset and kept as its validated Vega-Lite dict (a skeleton): building
Altair objects and validating them costs tens of milliseconds per chart, which a page would
otherwise pay on every render. A :class:`Chart` is that skeleton plus the render's frame and
its data-dependent sizes; the app draws it with ``st.vega_lite_chart`` and the Export page
renders it to PNG or SVG unchanged.

Example:
    >>> import polars as pl
    >>> cells = pl.DataFrame({"row": ["mnli"], "target": ["xnli"], "cell_value": [1.2], "cell_text": ["+1.2"]})
    >>> matrix_chart(cells, "gain (points)", signed=True).to_dict()["data"]["values"][0]["cell_text"]
    '+1.2'
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
def _complexity(axis_title: str) -> dict:
    x = alt.X("x:Q", title=axis_title, scale=alt.Scale(zero=False, nice=True))
    tooltip = ["intermediate:N", alt.Tooltip("x:Q", title="complexity"), alt.Tooltip("mean_gain:Q", format="+.2f"),
               alt.Tooltip("ci_low:Q", format="+.2f"), alt.Tooltip("ci_high:Q", format="+.2f"), "n:Q"]
    bars = alt.Chart().mark_rule(strokeWidth=1.5, color="#4c78a8").encode(x=x, y="ci_low:Q", y2="ci_high:Q")
    dots = alt.Chart().mark_circle(size=70, color="#4c78a8").encode(
        x=x, y=alt.Y("mean_gain:Q", title="gain over none (points)"), tooltip=tooltip)
    labels = alt.Chart().mark_text(dx=6, align="left", fontSize=10).encode(x=x, y="mean_gain:Q", text="intermediate:N")
    layer = alt.layer(_zero_rule(), bars, dots, labels, data=_DATA).properties(width=_PANEL_W, height=_PANEL_H)
    return _skeleton(layer.facet(facet=alt.Facet("panel:N", title=None), columns=2).resolve_scale(y="independent"))


def complexity_chart(points: pl.DataFrame, axis_title: str) -> Chart:
    """Mean gain (with its 95% interval) against a complexity axis, one panel per target type.

    Args:
        points: rows with ``panel``, ``intermediate``, ``x``, ``mean_gain``, ``ci_low``, ``ci_high``, ``n``.
        axis_title: the x axis title (which complexity axis).
    """
    return Chart(_complexity(axis_title), points)


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
    y = alt.Y("target:N", title=None, sort=None)
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("gain:Q", title="X-STILTs − XLM-R (points)"), y=y, yOffset="source:N",
        color=alt.Color("source:N", title="source"),
        tooltip=["source:N", "target:N", "metric:N", alt.Tooltip("value:Q", title="X-STILTs"),
                 alt.Tooltip("baseline:Q", title="XLM-R"), alt.Tooltip("gain:Q", format="+.1f")])
    text = alt.Chart().mark_text(align="left", dx=3, fontSize=10).encode(
        x="gain:Q", y=y, yOffset="source:N", text=alt.Text("gain:Q", format="+.1f"))
    layer = alt.layer(bars, text, _zero_rule("x"), data=_DATA).properties(width=360, height=alt.Step(11))
    return _skeleton(layer.facet(row=alt.Row("level:N", title=None, sort="descending")).resolve_scale(y="independent"))


def published_chart(df: pl.DataFrame) -> Chart:
    """X-STILTs minus XLM-R as printed by each published source, per target and per category."""
    return Chart(_published(), df)


# ---------------------------------------------------------------------- Transfer matrix
@functools.lru_cache(maxsize=8)
def _matrix(value_title: str, signed: bool) -> dict:
    pick = alt.selection_point(name=CELL_SELECTION, fields=["row", "target"], on="click", clear="dblclick")
    x = alt.X("target:N", title="target task", axis=alt.Axis(labelAngle=-30))
    y = alt.Y("row:N", title="intermediate task", axis=_LABEL_AXIS)
    rect = alt.Chart().mark_rect(stroke="white").encode(
        x=x, y=y, color=alt.Color("cell_value:Q", title=value_title, scale=_color_scale(signed)),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
        tooltip=["row:N", "target:N", alt.Tooltip("cell_value:Q", title=value_title, format=".2f")],
    ).add_params(pick)
    text = alt.Chart().mark_text(fontSize=10).encode(x=x, y=y, text="cell_text:N")
    return _skeleton(alt.layer(rect, text, data=_DATA).properties(width=400, height=300, autosize=_FIT_WIDTH))


def matrix_chart(cells: pl.DataFrame, value_title: str, signed: bool) -> Chart:
    """Heatmap of intermediate task (rows) x target (columns); click a cell to select it."""
    return _sized(_matrix(value_title, signed), cells, width=max(60 * cells["target"].n_unique(), 240),
                  height=max(22 * cells["row"].n_unique(), 120))


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


@functools.lru_cache(maxsize=8)
def _language_target(value_title: str, signed: bool) -> dict:
    x = alt.X("target:N", title="target task")
    y = alt.Y("language_label:N", title=None, sort=_BY_ORDER, axis=_LABEL_AXIS)
    rect = alt.Chart().mark_rect().encode(
        x=x, y=y, color=alt.Color("value:Q", title=value_title, scale=_color_scale(signed)),
        tooltip=["language_label:N", "target:N", "group:N", alt.Tooltip("value:Q", format=".2f")])
    text = alt.Chart().mark_text(fontSize=9).encode(x=x, y=y, text=alt.Text("value:Q", format=".1f"))
    return _skeleton(alt.layer(rect, text, data=_DATA).properties(width=400, height=300, autosize=_FIT_WIDTH))


def language_target_chart(df: pl.DataFrame, value_title: str, signed: bool) -> Chart:
    """Heatmap of language x target, languages in the frame's order; low-resource marked in the label."""
    return _sized(_language_target(value_title, signed), df, width=max(70 * df["target"].n_unique(), 200),
                  height=max(18 * df["language"].n_unique(), 120))


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
