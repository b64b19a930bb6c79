"""xstilts dashboard: how results are sliced (Streamlit app, pages, Altair charts).

Layers (see ``shared/STYLE.md`` principles 12-13):

* ``app.py`` only navigates; ``views/*.py`` only render.
* ``data.py`` is the one module that touches the store and Streamlit caching.
* ``state.py``, ``transforms.py``, ``charts.py`` and ``export.py`` are pure: no Streamlit, no store I/O.

Nothing here does work at import time, and nothing imports torch.
"""
