"""The pages. Each module has ``compute(...)`` (reads through a reader, reshapes, builds charts;
no Streamlit) and ``render()`` (draws it); Streamlit runs the file as ``__main__``, which calls
``render()``. The latency benchmark times ``compute`` with an uncached reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import altair as alt
import polars as pl


@dataclass
class View:
    """What a page shows: frames, charts and one-line messages, by name."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    charts: dict[str, alt.TopLevelMixin] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    text: dict[str, str] = field(default_factory=dict)
