"""The pages. Each module has ``compute(...)`` (reads through a reader, reshapes, builds charts;
no Streamlit) and ``render()`` (draws it); Streamlit runs the file as ``__main__``, which calls
``render()``. The latency benchmark times ``compute`` with an uncached reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
import streamlit as st

from dashboard.charts import Chart


@dataclass
class View:
    """What a page shows: frames, charts and one-line messages, by name."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    charts: dict[str, Chart] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    text: dict[str, str] = field(default_factory=dict)


def show(chart: Chart, key: str, **kwargs):
    """Draws a chart (its frame travels as Arrow); ``kwargs`` go to ``st.vega_lite_chart``."""
    return st.vega_lite_chart(chart.data, chart.spec, key=key, **kwargs)
