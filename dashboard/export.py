"""Files to download: charts as PNG or SVG (through vl-convert, no browser) and MIME types.

Pure: takes :class:`dashboard.charts.Chart` objects or specs, returns bytes. Paper tables are
rendered by :func:`store.exports.render`, so their numbers and formatting match ``store export``.

Example:
    >>> import polars as pl
    >>> from dashboard.charts import breakdown_chart
    >>> df = pl.DataFrame({"language": ["de"], "gain": [1.0], "family": ["Indo-European"], "genus": ["Germanic"],
    ...                    "script": ["Latn"], "resource_class": [5]})
    >>> chart_bytes(breakdown_chart(df, "gain", "gain"), "svg")[:4]
    b'<svg'
"""

from __future__ import annotations

import json
import math

from dashboard.charts import Chart

CHART_FORMATS = ("png", "svg")
MIME = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "markdown": "text/markdown",
    "latex": "application/x-latex",
    "png": "image/png",
    "svg": "image/svg+xml",
}
EXTENSION = {"csv": "csv", "parquet": "parquet", "markdown": "md", "latex": "tex", "png": "png", "svg": "svg"}


def _no_nan(obj: object) -> object:
    """NaN (an interval of one value) becomes null: JSON has no NaN and vl-convert refuses it."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _no_nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_no_nan(v) for v in obj]
    return obj


def chart_spec(chart: Chart, mark: str = "") -> str:
    """The Vega-Lite JSON of a chart, with its data inlined (what vl-convert needs).

    Args:
        mark: a line drawn above the chart in red (the demonstration-data mark), if given.
    """
    spec = chart.to_dict()
    if mark:
        spec["title"] = {"text": mark, "color": "#c62828", "fontSize": 14, "anchor": "start"}
    return json.dumps(_no_nan(spec), allow_nan=False)


def spec_bytes(spec: str, fmt: str, scale: float = 2.0) -> bytes:
    """A Vega-Lite spec rendered as PNG (``scale`` x pixels) or SVG.

    Raises:
        ValueError: ``fmt`` is not png or svg.
    """
    import vl_convert as vlc  # imported on first export only: it is a large native module

    if fmt == "png":
        return vlc.vegalite_to_png(spec, scale=scale)
    if fmt == "svg":
        return vlc.vegalite_to_svg(spec).encode()
    raise ValueError(f"unknown chart format {fmt!r}; choose one of {', '.join(CHART_FORMATS)}")


def chart_bytes(chart: Chart, fmt: str, scale: float = 2.0) -> bytes:
    """A chart rendered as PNG or SVG."""
    return spec_bytes(chart_spec(chart), fmt, scale)


def file_name(stem: str, fmt: str) -> str:
    """A download file name: ``stem`` made filesystem-safe, with the format's extension."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-") or "export"
    return f"{safe}.{EXTENSION[fmt]}"
