"""Heatmaps: the transfer matrix and language x target (pure: frames in, chart specs out).

Every column label is drawn (a fixed number of pixels per column, never squeezed to the page); a
gain's colour scale is symmetric around 0 (-1.4 is pale where +10.9 is dark); the text on a cell
turns white where the cell is dark; target tasks and published averages over tasks are separate
panels, each with its own axis.

Example:
    >>> import polars as pl
    >>> cells = pl.DataFrame({"row": ["mnli"], "target": ["xnli"], "cell_value": [1.2], "cell_text": ["+1.2"]})
    >>> matrix_chart(cells, "gain (points)", signed=True).to_dict()["data"]["values"][0]["cell_text"]
    '+1.2'
"""

from __future__ import annotations

import functools

import altair as alt
import polars as pl

from dashboard.charts import _BY_ORDER, _DATA, _LABEL_AXIS, CELL_SELECTION, Chart, _color_scale, _skeleton

_STEP_X, _STEP_Y = 58, 24  # pixels per heatmap column and row: every label fits, one column stays narrow
#: Share of the colour scale's half-range (gain) or range (score) past which cell text turns white.
_DARK_FROM = 0.55


def symmetric_domain(values: pl.Series) -> list[float]:
    """[-m, m] with m the largest absolute value (at least 0.5): a gain of -1 and +1 get the same depth."""
    m = max(float(values.abs().max() or 0.0), 0.5)
    return [-m, m]


def _text_on_dark(df: pl.DataFrame, col: str, signed: bool) -> pl.DataFrame:
    """Adds ``dark``: True where the cell colour is dark enough that its text must be white."""
    v = pl.col(col)
    if signed:
        m = symmetric_domain(df[col])[1]
        dark = v.abs() / m > _DARK_FROM
    else:  # viridis: dark at the low end
        lo, hi = float(df[col].min() or 0.0), float(df[col].max() or 0.0)
        dark = (v - lo) / max(hi - lo, 1e-9) < 1 - _DARK_FROM
    return df.with_columns(dark.fill_null(False).alias("dark"))


def _set_color_domain(spec: dict, domain: list[float]) -> dict:
    """A copy of ``spec`` whose colour scales take ``domain`` (the skeletons are shared, never mutated)."""
    def walk(node):
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            color = out.get("encoding", {}).get("color")
            if isinstance(color, dict) and "scale" in color:
                out["encoding"] = {**out["encoding"], "color": {**color, "scale": {**color["scale"], "domain": domain}}}
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node
    return walk(spec)


def _cell_text(x: alt.X, y: alt.Y, text: str | alt.Text, size: int) -> alt.Chart:
    return alt.Chart().mark_text(fontSize=size).encode(
        x=x, y=y, text=text, color=alt.condition("datum.dark", alt.value("white"), alt.value("black")))


@functools.lru_cache(maxsize=8)
def _matrix(value_title: str, signed: bool, panels: bool) -> dict:
    pick = alt.selection_point(name=CELL_SELECTION, fields=["row", "target"], on="click", clear="dblclick")
    x = alt.X("column:N", title=None if panels else "target task", sort=alt.EncodingSortField("column_order", op="min"),
              axis=alt.Axis(labelAngle=-35, labelOverlap=False, labelLimit=200, orient="top"))
    y = alt.Y("row:N", title="intermediate task", axis=_LABEL_AXIS)
    rect = alt.Chart().mark_rect(stroke="white").encode(
        x=x, y=y, color=alt.Color("cell_value:Q", title=value_title, scale=_color_scale(signed),
                                  legend=alt.Legend(orient="bottom", gradientLength=240)),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
        tooltip=["row:N", alt.Tooltip("column:N", title="target"), alt.Tooltip("cell_value:Q", title=value_title, format=".2f")],
    ).add_params(pick)
    layer = alt.layer(rect, _cell_text(x, y, "cell_text:N", 10), data=_DATA).properties(
        width=alt.Step(_STEP_X), height=alt.Step(_STEP_Y))
    if not panels:
        return _skeleton(layer)
    facet = alt.Facet("panel:N", title=None, sort=["target tasks", "published averages over tasks"],
                      header=alt.Header(labelFontWeight="bold", labelAnchor="start"))
    return _skeleton(layer.facet(column=facet).resolve_scale(x="independent"))


def matrix_chart(cells: pl.DataFrame, value_title: str, signed: bool) -> Chart:
    """Heatmap of intermediate task (rows) x target (columns); click a cell to select it.

    Every column label is drawn (fixed pixels per column, never squeezed to the page); a gain's
    colour scale is symmetric around 0; text turns white on dark cells; target tasks and published
    averages over tasks (``panel``) are separate panels with their own axes.
    """
    if "column" not in cells.columns:
        cells = cells.with_columns(pl.col("target").alias("column"), pl.lit(0).alias("column_order"),
                                   pl.lit("target tasks").alias("panel"))
    cells = _text_on_dark(cells, "cell_value", signed)
    panels = cells["panel"].n_unique() > 1
    spec = _matrix(value_title, signed, panels)
    if signed:
        spec = _set_color_domain(spec, symmetric_domain(cells["cell_value"]))
    return Chart(spec, cells)


@functools.lru_cache(maxsize=8)
def _language_target(value_title: str, signed: bool) -> dict:
    x = alt.X("target:N", title="target task", axis=alt.Axis(labelAngle=-35, labelOverlap=False, orient="top"))
    y = alt.Y("language_label:N", title=None, sort=_BY_ORDER, axis=_LABEL_AXIS)
    rect = alt.Chart().mark_rect().encode(
        x=x, y=y, color=alt.Color("value:Q", title=value_title, scale=_color_scale(signed)),
        tooltip=["language_label:N", "target:N", "group:N", alt.Tooltip("value:Q", format=".2f")])
    text = _cell_text(x, y, alt.Text("value:Q", format=".1f"), 9)
    return _skeleton(alt.layer(rect, text, data=_DATA).properties(width=alt.Step(_STEP_X), height=alt.Step(18)))


def language_target_chart(df: pl.DataFrame, value_title: str, signed: bool) -> Chart:
    """Heatmap of language x target, languages in the frame's order; low-resource marked in the label.

    Fixed pixels per column (one target makes one narrow column), symmetric gain scale, white
    text on dark cells.
    """
    df = _text_on_dark(df, "value", signed)
    spec = _language_target(value_title, signed)
    if signed:
        spec = _set_color_domain(spec, symmetric_domain(df["value"]))
    return Chart(spec, df)
