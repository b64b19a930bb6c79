"""Dashboard latency: data query + transform + chart build per page, on 1,000,000 result rows.

Builds (or reuses) a generated store whose index holds the catalog, the published results and
about 14,000 synthetic runner runs with 1,000,000 result rows (every target's languages and
metrics, test and validation splits, 4 models x 12 intermediate settings x 3 variants x 10
seeds). The rows go into the store's own ``index.duckdb`` with bulk INSERTs (its own schema),
because writing 14,000 shards one by one would take long and would not change what is timed.

For each page the benchmark times the page's own ``compute`` (``dashboard/views/*.py``) with an
uncached reader, plus ``chart.to_dict()`` of every chart (what ``st.altair_chart`` serialises):
median and p95 over repeated runs. Beside it, a pandas baseline does the same work on the same
rows held in memory (filter, mean over seeds, baseline join, the same bootstrap and Spearman
functions, the same charts) and the ratio baseline / dashboard is printed (>1: the dashboard is
faster). Target: p95 <= 100 ms per page.

Usage:
    python bench/dashboard_latency.py [--store DIR] [--repeats 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODELS = ("xlm-roberta-large", "xlm-roberta-base", "bert-base-multilingual-cased", "mdeberta-v3-base")
SINGLES = ("anli", "ccg", "commonsenseqa", "cosmosqa", "hellaswag", "mnli", "qqp", "squad", "sst2")
INTERMEDIATES = ("none", *SINGLES, "mnli+squad", "multitask")
SEEDS = 10
TARGET_ROWS = 1_000_000
PAGES = ("question", "matrix", "languages", "runs", "export")

_RUNS_SQL = """
INSERT INTO runs (run_id, source, model, label, intermediate, target, variant, setting, seed, hparams, config,
                  code_version, hardware, wall_time_s, gpu_hours, created_at, content_hash)
SELECT i.inter || '__' || t.task || '__s' || s.seed || '__' || substr(md5(m.model || '|' || v.variant), 1, 12),
       'runner', m.model, '', i.inter, t.task, v.variant, 'zero-shot', s.seed, '{"lr": 1e-05}', '{"synthetic": true}',
       'bench', 'synthetic', 3600.0, 1.0, '2026-11-25T00:00:00+00:00',
       substr(md5(i.inter || t.task || s.seed || m.model || v.variant), 1, 16)
FROM unnest($models) m(model), unnest($inters) i(inter), (VALUES (''), ('mlm'), ('translated')) v(variant),
     (SELECT task FROM tasks WHERE role = 'target') t, range(1, $seeds + 1) s(seed)
WHERE v.variant = '' OR list_contains($singles, i.inter)
"""

# value = target base - lower-resource penalty + gain (slope per target type x format rank) + noise
_RESULTS_SQL = """
INSERT INTO results (run_id, language, split, metric, value, n_examples, metric_as_printed, value_as_printed,
                     conversion, notes)
SELECT r.run_id, tl.language, sp.split, mt.metric,
       greatest(0, least(100,
         55 + (hash(r.target) % 30) - (5 - coalesce(l.resource_class, 3)) * 2
         + CASE WHEN r.intermediate = 'none' THEN 0 ELSE
             (CASE t.task_type WHEN 'classification' THEN -0.3 WHEN 'question answering' THEN 0.8 ELSE 0.3 END)
             * coalesce(c.format_rank, 3) END
         + ((hash(r.run_id || tl.language || mt.metric || sp.split) % 1000) / 1000.0 - 0.5) * 2)),
       1000, '', '', '', ''
FROM runs r
JOIN tasks t ON t.task = r.target
JOIN (SELECT DISTINCT task, language FROM task_languages) tl ON tl.task = r.target
JOIN (SELECT task, unnest(string_split(metrics, ';')) AS metric FROM tasks) mt ON mt.task = r.target
CROSS JOIN (VALUES ('test'), ('validation')) sp(split)
LEFT JOIN languages l ON l.language = tl.language
LEFT JOIN task_complexity c ON c.task = split_part(r.intermediate, '+', 1)
WHERE r.code_version = 'bench'
"""

_DEV_SQL = """
INSERT INTO dev_scores (run_id, phase, task, metric, value, n_examples)
SELECT r.run_id, 'intermediate', r.intermediate, t.headline_metric,
       70 + 3 * coalesce(c.format_rank, 3) + (hash(r.run_id) % 100) / 100.0, 1000
FROM runs r JOIN tasks t ON t.task = r.intermediate LEFT JOIN task_complexity c ON c.task = r.intermediate
WHERE r.code_version = 'bench'
"""


def build_store(path: Path, seeds: int = SEEDS) -> tuple[int, int]:
    """Creates the store at ``path`` and bulk-inserts the synthetic runs; returns (runs, result rows)."""
    from store.database import INDEX_NAME, Store

    Store.open(path, read_only=False).close()
    with duckdb.connect(str(path / INDEX_NAME)) as con:
        params = {"models": list(MODELS), "inters": list(INTERMEDIATES), "singles": list(SINGLES), "seeds": seeds}
        con.execute(_RUNS_SQL, params)
        con.execute(_RESULTS_SQL)
        con.execute(_DEV_SQL)
        con.execute("CHECKPOINT")
        runs, rows = con.sql("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM results)").fetchall()[0]
    return runs, rows


def _charts_to_dict(view) -> None:
    for chart in view.charts.values():
        chart.to_dict()


def dashboard_pages(reader, options, sel, pair):
    """Page name -> the work that page does on one render (compute + chart serialisation)."""
    from dashboard import export as export_mod
    from dashboard.views import export, languages, matrix, question, runs

    def export_page():
        tables, view = export.compute(reader, options, sel)
        for chart in view.charts.values():
            export_mod.chart_spec(chart)  # what the page does per chart before offering PNG / SVG

    return {
        "question": lambda: _charts_to_dict(question.compute(reader, options, sel, "A")),
        "matrix": lambda: _charts_to_dict(matrix.compute(reader, options, sel, "gain", ("squad", "xquad"))),
        "languages": lambda: _charts_to_dict(languages.compute(reader, options, sel, "gain", "family")),
        "runs": lambda: runs.compute(reader, options, sel, (), (), pair),
        "export": export_page,
    }


def timed(fn, repeats: int, warmup: int = 2) -> list[float]:
    """Wall times in milliseconds of ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[-1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=None, help="store folder to build or reuse (default: a temp dir)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    from bench.dashboard_pandas import PandasBaseline
    from dashboard.data import Reader
    from dashboard.state import Selection, default_selection
    from store.database import INDEX_NAME, Store

    path = args.store or Path(tempfile.mkdtemp(prefix="xstilts-bench-")) / "store"
    t0 = time.perf_counter()
    if (path / INDEX_NAME).exists():
        with duckdb.connect(str(path / INDEX_NAME), read_only=True) as con:
            n_runs, n_rows = con.sql("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM results)").fetchall()[0]
        built = "reused"
    else:
        n_runs, n_rows = build_store(path)
        built = f"built in {time.perf_counter() - t0:.1f} s"
    print(f"store {path}: {n_runs:,} runs, {n_rows:,} result rows ({built})")

    store = Store.open(path, read_only=True)
    reader = Reader(store)
    options = reader.options()
    sel: Selection = default_selection(options, str(path))
    pair = tuple(reader.runs(sel.filters(options, targets=("xnli",), intermediates=("mnli",)))["run_id"][:2])
    ours = dashboard_pages(reader, options, sel, pair)
    t0 = time.perf_counter()
    baseline = PandasBaseline(store, sel, pair)
    load_ms = (time.perf_counter() - t0) * 1000
    print(f"pandas baseline: results_wide loaded into memory once in {load_ms:.0f} ms (not counted below)")

    rows = []
    for page in PAGES:
        mine = timed(ours[page], args.repeats)
        theirs = timed(getattr(baseline, page), args.repeats)
        rows.append({"page": page, "median_ms": statistics.median(mine), "p95_ms": p95(mine),
                     "pandas_median_ms": statistics.median(theirs), "pandas_p95_ms": p95(theirs)})
    print(f"\n{'page':<10} {'median ms':>10} {'p95 ms':>8} {'pandas median':>14} {'pandas p95':>11} {'ratio':>7}  target p95<=100ms")
    for r in rows:
        r["ratio"] = r["pandas_median_ms"] / r["median_ms"]
        verdict = "ok" if r["p95_ms"] <= 100 else "MISSED"
        print(f"{r['page']:<10} {r['median_ms']:>10.1f} {r['p95_ms']:>8.1f} {r['pandas_median_ms']:>14.1f} "
              f"{r['pandas_p95_ms']:>11.1f} {r['ratio']:>6.2f}x  {verdict}")
    print("\nratio = pandas median / dashboard median (>1: the dashboard is faster); "
          f"{args.repeats} runs per page after 2 warm-up runs, one process, no Streamlit cache.")
    if args.json:
        args.json.write_text(json.dumps({"runs": n_runs, "rows": n_rows, "pages": rows}, indent=1))
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
