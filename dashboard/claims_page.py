"""What the Claims page shows of every claim, built once per store state (:meth:`dashboard.data.Reader.claims_page`)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import polars as pl

from dashboard import transforms

#: The Claims page's columns of a claim's checks.
CHECK_COLUMNS = ["check", "scope", "verdict", "value [95% interval]", "shown beside", "reason", "n_rows", "interval"]


def content(results: list, runs: dict[str, pl.DataFrame], claims_frame, checks_frame, missing_commands) -> dict:
    """Every claim's part of the Claims page, from the judged claims (``store.claims.ClaimResult``) and the runs
    each used, with the store's ``claims_frame``, ``checks_frame`` and ``missing_commands`` (given: only
    :mod:`dashboard.data` imports the store): ``about`` and ``checks``, ``missing`` (every missing run's
    command, once), and per claim id ``checks:ID`` (its checks as the page shows
    them), ``points:ID`` (its chart's points), ``config:ID`` ((label, rows) of its configuration checks),
    ``runs:ID`` (the runs it used) and ``missing:ID`` (its missing runs' commands)."""
    about, checks = claims_frame(results), checks_frame(results)
    page = {"about": about, "checks": checks, "missing": missing_commands(results)}
    for r in results:
        cid = r.claim.id
        page[f"checks:{cid}"] = transforms.checks_table(checks.filter(pl.col("id") == cid)).select(CHECK_COLUMNS)
        page[f"points:{cid}"] = transforms.claim_points(r)
        page[f"config:{cid}"] = transforms.config_details(r)
        page[f"runs:{cid}"] = runs[cid]
        page[f"missing:{cid}"] = list(r.missing)
    return page


@functools.cache
def dashboard_code() -> str:
    """sha256 over the dashboard package's code (what a kept page part depends on beyond the store)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


