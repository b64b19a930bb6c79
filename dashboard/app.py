"""The app: page setup, the shared sidebar and navigation. It only navigates.

Run it with ``dashboard [--store PATH] [--port N]`` (or ``streamlit run dashboard/app.py``
with ``XSTILTS_STORE`` set). Streamlit executes this file as ``__main__``; importing it does
nothing.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import data, sidebar

VIEWS = Path(__file__).parent / "views"
#: (file, title, url path, icon); the first page is the default.
PAGES = (
    ("question.py", "Question", "question", ":material/help:"),
    ("matrix.py", "Transfer matrix", "matrix", ":material/grid_on:"),
    ("languages.py", "Languages", "languages", ":material/translate:"),
    ("examples.py", "Examples", "examples", ":material/compare_arrows:"),
    ("claims.py", "Claims", "claims", ":material/fact_check:"),
    ("runs.py", "Runs & sources", "runs", ":material/table_rows:"),
    ("export.py", "Export", "export", ":material/download:"),
)


def main() -> None:
    """One run of the app: sidebar, then the chosen page, then the URL."""
    st.set_page_config(page_title="xstilts", page_icon=":material/translate:", layout="wide")
    pages = [
        st.Page(VIEWS / file, title=title, url_path="home" if i == 0 else url, icon=icon, default=i == 0)
        for i, (file, title, url, icon) in enumerate(PAGES)
    ]
    # The default page is served at "/"; a link or bookmark to "/question" reaches it too, not "Page not found".
    file, title, url, icon = PAGES[0]
    pages.append(st.Page(VIEWS / file, title=title, url_path=url, icon=icon, visibility="hidden"))
    page = st.navigation(pages)
    notes = st.container()  # above the page; filled after it, when page-level URL values are checked too
    ctx = sidebar.render(data.launch_store())
    data.settle_heap()  # once per process, after start-up
    if ctx is not None:
        page.run()
        sidebar.write_url()
    with notes:
        sidebar.show_notes()


if __name__ == "__main__":
    main()
