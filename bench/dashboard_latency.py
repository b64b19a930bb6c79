"""Dashboard latency: data query + transform + chart build per page, on 1,000,000 result rows.

Builds (or reuses) a generated store whose index holds the catalog, the published results and
14,400 synthetic runner runs with 1,000,000 result rows: 4 models x 10 seeds x 12 targets x 30
intermediate settings (none, the 9 tasks plain / mlm / translated, mnli+squad, multitask), each
run with every language and metric of its target on test and validation (70 rows per run on
average, so 1,000,000 rows take 14,400 runs rather than 10,000). The rows go into the store's own
``index.duckdb`` with bulk INSERTs (its own schema): writing 14,400 shards one by one would take
long and would not change what is timed.

For each page the benchmark times the page's own ``compute`` (``dashboard/views/*.py``) with an
uncached reader, plus the serialisation of every chart that ``st.vega_lite_chart`` does (spec to
JSON, frame to Arrow): median and p95 over repeated runs, split into the reader's share (DuckDB
queries and :mod:`store.analysis`) and the rest; and the same render when ``st.cache_data``
already holds the frames (warm). Beside it, a pandas baseline does the same work on the same
rows held in memory (filter, mean over seeds, baseline join, the same bootstrap and Spearman
functions, the same charts) and the ratio baseline / dashboard is printed (>1: the dashboard is
faster). Target: p95 <= 100 ms per page.

Cold means no Streamlit cache and a fresh reader; what depends only on the store's content is computed
once per store state and kept in a cache outside the store (:mod:`store.derived`): the judged claims, the
result rows of a (model, settings, split) slice with each row's cell hash, baseline id and role (Arrow IPC,
read memory-mapped), the slice's matched gain rows with their strata codes (when nothing beyond the slice
is filtered: these depend on no other pick), and the complexity table per model. A cold render reads these
and does everything that depends on the user's selection (the other filters and then baseline matching
and configuration labels, every summary and bootstrap); it is not a cache of the selection's answer. The
renders that compute them (the first after a new run) are timed apart ("question: first after a change",
"claims: first after a change"), and so are the gain pages with a filter beyond the slice ("... picked"
rows: own runs only on the Question page, one language family on the Languages page), which match
baselines and code strata in the render.
The Export page builds nothing until the user picks a table or a page's charts; what one pick
builds is timed apart too. As the app does once after start-up, the objects alive after the setup
(imports, store, the pandas baseline's frames) are moved to the garbage collector's permanent
generation (``dashboard.data.settle_heap``), so a full collection during a timed render walks only
what renders allocate.

Usage:
    python bench/dashboard_latency.py [--store DIR] [--repeats 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from dashboard import charts, heatmaps, transforms  # noqa: E402

MODELS = ("xlm-roberta-large", "xlm-roberta-base", "bert-base-multilingual-cased", "mdeberta-v3-base")
SINGLES = ("anli", "ccg", "commonsenseqa", "cosmosqa", "hellaswag", "mnli", "qqp", "squad", "sst2")
INTERMEDIATES = ("none", *SINGLES, "mnli+squad", "multitask")
SEEDS = 10
TARGET_ROWS = 1_000_000
PAGES = ("question", "matrix", "languages", "claims", "runs", "export")
#: What one pick on the Export page builds (not pages: the page builds nothing until a pick).
ON_REQUEST = ("export: a table", "export: a page's charts")
FIRST_CLAIMS = "claims: first after a change"
FIRST_QUESTION = "question: first after a change"
#: Renders of another selection, with a filter beyond the slice: (row name, page, Selection changes).
PICKED = (("question: own runs picked", "question", {"source": "runner"}),
          ("languages: a family picked", "languages", {"families": ("Indo-European",)}))
#: The pandas baseline's method doing the same work as each timed render (None: nothing comparable).
BASELINE_OF = {"question": "question", "matrix": "matrix", "languages": "languages", "claims": "claims", "runs": "runs",
               "export": None, ON_REQUEST[0]: "export_table", ON_REQUEST[1]: "export_charts"}


def clear_derived(path: Path) -> None:
    """Deletes the store's derived cache (judged claims, materialised rows and codes): the next render computes
    them again."""
    from store.derived import cache_dir

    for suffix in ("json", "arrow", "arrays"):
        for f in cache_dir(path).glob(f"*.{suffix}"):
            f.unlink()

_RUNS_SQL = """
INSERT INTO runs (run_id, source, model, label, intermediate, target, variant, setting, seed, hparams, config,
                  code_version, hardware, wall_time_s, gpu_hours, created_at, content_hash,
                  config_id, target_config_id, target_data, configuration, capped)
SELECT i.inter || '__' || t.task || '__s' || s.seed || '__' || substr(md5(m.model || '|' || v.variant), 1, 12),
       'runner', m.model, '', i.inter, t.task, v.variant, 'zero-shot', s.seed, '{"lr": 1e-05}', '{"synthetic": true}',
       'bench', 'synthetic', 3600.0, 1.0, '2026-11-25T00:00:00+00:00',
       substr(md5(i.inter || t.task || s.seed || m.model || v.variant), 1, 16),
       -- one configuration per variant (hparams alike): what store.configuration derives for such runs
       substr(md5('bench|' || v.variant), 1, 12), 'bench', NULL,
       '{"data": "(unset)", "lr": "1e-05", "variant": "' || CASE WHEN v.variant = '' THEN 'plain' ELSE v.variant END || '"}',
       false
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


def build_store(path: Path, seeds: int = SEEDS) -> tuple[int, int, bool]:
    """Makes sure the store at ``path`` holds the synthetic runs; returns (runs, result rows, built now).

    ``Store.open`` first: it creates the index, or rebuilds it when the catalog changed since (which
    drops rows that have no shard, such as these), so the runs are inserted again only when missing.
    """
    from store.database import INDEX_NAME, Store

    Store.open(path, read_only=False).close()
    with duckdb.connect(str(path / INDEX_NAME)) as con:
        con.execute("SET enable_progress_bar = false")
        built = con.sql("SELECT count(*) FROM runs WHERE code_version = 'bench'").fetchall()[0][0] == 0
        if built:
            params = {"models": list(MODELS), "inters": list(INTERMEDIATES), "singles": list(SINGLES), "seeds": seeds}
            con.execute(_RUNS_SQL, params)
            con.execute(_RESULTS_SQL)
            con.execute(_DEV_SQL)
            con.execute("CHECKPOINT")
        runs, rows = con.sql("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM results)").fetchall()[0]
    return runs, rows, built


def _charts_to_dict(view) -> None:
    for chart in view.charts.values():
        _serialise(chart)


def _serialise(chart) -> None:
    """What ``st.vega_lite_chart`` does with a chart: the spec to JSON, the frame to Arrow IPC."""
    json.dumps(chart.spec)
    chart.data.write_ipc(io.BytesIO())


def page_work(options, sel, pair) -> dict:
    """Page name -> one render's work given a reader: ``compute`` plus chart serialisation."""
    from dashboard import export as export_mod
    from dashboard.views import claims, export, languages, matrix, question, runs

    def export_page(reader, table=export.NONE, charts_of=export.NONE):
        _, view = export.compute(reader, options, sel, table=table, charts_of=charts_of)
        for chart in view.charts.values():
            export_mod.chart_spec(chart)  # the page serialises each chart for its PNG / SVG buttons

    return {
        "question": lambda r: _charts_to_dict(question.compute(r, options, sel, "A")),
        "matrix": lambda r: _charts_to_dict(matrix.compute(r, options, sel, "gain", ("squad", "xquad"))),
        "languages": lambda r: _charts_to_dict(languages.compute(r, options, sel, "gain", "family")),
        "claims": lambda r: _charts_to_dict(claims.compute(r, options, sel)),
        "runs": lambda r: runs.compute(r, options, sel, (), (), pair),
        "export": export_page,
        # not pages: what one pick on the Export page builds (the page itself builds nothing)
        "export: a table": lambda r: export_page(r, table="gains"),
        "export: a page's charts": lambda r: export_page(r, charts_of="languages-gain"),
    }


def _flat_ci(x, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """The old flat percentile bootstrap over rows (this baseline's own; the store's interval is two-level)."""
    if len(x) < 2:
        return (float("nan"), float("nan"))
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n_boot, len(x)))
    means = x[idx].mean(axis=1)
    return (float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)))


def timed_reader(store):
    """A fresh uncached reader that adds up the time spent in its (outermost) methods."""
    from dashboard.data import Reader
    from store.api import StoreReader

    class TimedReader(Reader):
        def __init__(self, st):
            super().__init__(st)
            self._depth, self._spent = 0, 0.0

        def __getattribute__(self, name):
            attr = super().__getattribute__(name)
            if name.startswith("_") or not callable(attr):
                return attr

            def call(*args, **kwargs):
                if self._depth:
                    return attr(*args, **kwargs)
                self._depth += 1
                t = time.perf_counter()
                try:
                    return attr(*args, **kwargs)
                finally:
                    self._depth -= 1
                    self._spent += time.perf_counter() - t

            return call

    return TimedReader(StoreReader(store))


class PandasBaseline:
    """The same pages' data work in pandas, on ``results_wide`` held in memory (loaded once, not timed).

    It filters, averages over seeds, joins the baseline and summarises with the very same numpy
    functions of :mod:`store.analysis` (bootstrap, Spearman), then builds the same charts from the
    same display transforms; only the engine that slices and aggregates the rows differs.
    """

    KEYS = ["source", "model", "label", "intermediate", "variant", "setting", "target", "target_type", "language",
            "family", "genus", "script", "resource_class", "split", "metric"]
    ON = ["source", "model", "target", "language", "metric", "split", "setting"]

    def __init__(self, store, options, sel, pair):
        from store import analysis

        self.a = analysis
        self.wide = store.query("SELECT * FROM results_wide").to_pandas()
        self.runs_df = store.query("SELECT * FROM runs").to_pandas()
        self.sources_df = store.query("SELECT * FROM sources").to_pandas()
        self.langs = store.query("SELECT language, name, family, genus, script, resource_class FROM languages")
        self.complexity = analysis.complexity_table(store, sel.model)
        self.store = store
        from dashboard.data import filters

        self.f, self.sel, self.pair = filters(sel, options), sel, pair

    # ------------------------------------------------------------------ the analysis, in pandas
    def _slice(self):
        d, f = self.wide, self.f
        m = d["model"].isin(f.models) & d["setting"].isin(f.settings) & d["split"].isin(f.splits)
        for col, values in (("source", f.sources), ("target_type", f.target_types), ("family", f.families)):
            if values:
                m &= d[col].isin(values)
        if f.headline_only:
            m &= d["is_headline"]
        return d[m]

    def _scores(self):
        return (self._slice().groupby(self.KEYS, dropna=False, sort=False)["value"]
                .agg(value="mean", n_seeds="count", std="std").reset_index())

    def _gains(self, s=None):
        s = self._scores() if s is None else s
        base = s[(s["intermediate"] == "none") & (s["variant"] == "")][[*self.ON, "value", "n_seeds"]]
        base = base.rename(columns={"value": "baseline", "n_seeds": "baseline_n_seeds"})
        g = s[s["intermediate"] != "none"].merge(base, on=self.ON, how="inner")
        return g.assign(gain=g["value"] - g["baseline"])

    def _summarize(self, g, by):
        rows = []
        for key, grp in g.groupby(list(by), sort=False, dropna=False):
            x = grp["gain"].to_numpy()
            lo, hi = _flat_ci(x)
            rows.append({**dict(zip(by, key)), "mean_gain": float(x.mean()), "ci_low": lo, "ci_high": hi, "n": len(x)})
        return pd.DataFrame(rows, columns=[*by, "mean_gain", "ci_low", "ci_high", "n"])

    def _single(self, g):
        return g[g["intermediate"].map(self.a.single_task)]

    def _correlation(self, g, axis):
        col = self.a.AXES[axis]
        per = self._single(g).groupby(["target_type", "intermediate"])["gain"].mean().reset_index()
        comp = self.complexity.select(pl.col("task").alias("intermediate"), col).to_pandas()
        per = per.merge(comp, on="intermediate").dropna(subset=[col])
        rows = []
        for (tt,), grp in per.groupby(["target_type"]):
            x, y = grp[col].to_numpy(float), grp["gain"].to_numpy()
            lo, hi = self.a.spearman_ci(x, y)
            rows.append({"target_type": tt, "axis": axis, "rho": self.a.spearman(x, y), "ci_low": lo, "ci_high": hi, "n": len(grp)})
        return pd.DataFrame(rows)

    def _simple_vs_complex(self, g):
        ranks = self.complexity.select(pl.col("task").alias("intermediate"), "format_rank").drop_nulls().to_pandas()
        j = g.merge(ranks, on="intermediate")
        j["complexity"] = j["format_rank"].map(lambda r: "simple (1-2)" if r <= 2 else "complex (3-5)")
        return self._summarize(j, ("target_type", "complexity"))

    # ------------------------------------------------------------------ the pages
    def question(self, charts_out=None):
        g = self._gains()
        summary = pl.from_pandas(self._summarize(self._single(g), ("target_type", "intermediate")))
        corr = pl.from_pandas(self._correlation(g, "A"))
        points = transforms.with_panel(transforms.complexity_points(summary, self.complexity, "A", self.a.AXES["A"]), transforms.panel_titles(corr))
        out = [charts.complexity_chart(points, transforms.AXIS_LABELS["A"]),
               charts.simple_complex_chart(pl.from_pandas(self._simple_vs_complex(g)))]
        return self._emit(out, charts_out)

    def matrix(self, charts_out=None, value="gain"):
        if value == "gain":
            g = self._gains()
            cells = transforms.matrix_cells(transforms.row_label(pl.from_pandas(
                self._summarize(g, ("source", "intermediate", "variant", "target")))), "mean_gain")
            cell = g[(g["intermediate"] == "squad") & (g["variant"] == "") & (g["source"] == "runner") & (g["target"] == "xquad")]
            out = [heatmaps.matrix_chart(cells, "gain", True), charts.breakdown_chart(pl.from_pandas(cell), "gain", "gain")]
        else:
            tm = self._target_means()
            out = [heatmaps.matrix_chart(transforms.matrix_cells(transforms.row_label(pl.from_pandas(tm)), "value"), "score", False)]
        return self._emit(out, charts_out)

    def languages(self, charts_out=None):
        g = self._gains()
        g = g[g["language"] != "avg"]
        per = pl.from_pandas(self._summarize(g, ("language",))).rename({"mean_gain": "value"})
        grid = pl.from_pandas(self._summarize(g, ("language", "target"))).rename({"mean_gain": "value"})
        out = [charts.language_chart(transforms.language_frame(per, self.langs, "family"), "gain", True),
               heatmaps.language_target_chart(transforms.language_frame(grid, self.langs, "family"), "gain", True)]
        return self._emit(out, charts_out)

    def claims(self):
        """Every claim for the model: the evidence (per-seed gains, seeds, configs) in pandas, then the
        same checks, verdict rule, tables and charts. Claim 5's few published rows stay a DuckDB query."""
        from store import claim_checks
        from store import claims as engine

        model, w = self.sel.model, self.wide
        s = w[(w["source"] == "runner") & (w["model"] == model) & (w["setting"] == "zero-shot") & (w["split"] == "test")
              & w["is_headline"]]
        base = s[(s["intermediate"] == "none") & (s["variant"] == "")].groupby(self.ON)["value"].agg(
            baseline="mean", baseline_n_seeds="count").reset_index()
        g = s[s["intermediate"] != "none"].merge(base, on=self.ON)
        ev = claim_checks.Evidence(self.store, model)
        ev.__dict__["gains"] = pl.from_pandas(g.assign(gain=g["value"] - g["baseline"]))  # fills the cached_property
        seeds: dict = {}
        for rid, inter, target, variant, seed in s[["run_id", "intermediate", "target", "variant", "seed"]] \
                .drop_duplicates().sort_values("run_id").itertuples(index=False):
            seeds.setdefault((inter, target, variant), {})[seed] = rid
        ev.__dict__["seeds"] = seeds
        r = self.runs_df
        ev.__dict__["configs"] = pl.from_pandas(r[(r["source"] == "runner") & (r["model"] == model)][
            ["run_id", "model", "intermediate", "target", "variant", "seed", "config"]].sort_values("run_id"))
        ev.__dict__["complexity"] = self.complexity
        results = []
        for claim in engine.load_claims().values():
            checks = tuple(engine.evaluate_check(ev, c) for c in claim.checks)
            used = tuple(sorted({x for c in checks for x in c.coverage.used}))
            missing = tuple(dict.fromkeys(x for c in checks for x in c.coverage.missing))
            results.append(engine.ClaimResult(claim, model, engine.combine(c.verdict for c in checks), checks, used, missing))
        transforms.claims_table(engine.claims_frame(results), engine.checks_frame(results))
        out = [charts.claim_chart(p) for p in map(transforms.claim_points, results) if not p.is_empty()]
        return self._emit(out, None)

    def runs(self):
        r, f = self.runs_df, self.f
        m = r["model"].isin(f.models) & r["setting"].isin(f.settings)
        if f.sources:
            m &= r["source"].isin(f.sources)
        picked = r[m].sort_values(["created_at", "source", "target", "intermediate", "seed"]).head(2000)
        w = self.wide
        counts = w[w["run_id"].isin(picked["run_id"])].groupby("run_id").agg(
            n_results=("value", "size"), splits=("split", lambda s: ", ".join(sorted(set(s)))))
        picked.merge(counts, left_on="run_id", right_index=True, how="left").merge(self.sources_df, on="source")
        per_source = w.groupby("source").agg(n_results=("value", "size"), n_runs=("run_id", "nunique"))
        self.sources_df.merge(per_source, left_on="source", right_index=True, how="left")
        a, b = (w[w["run_id"] == rid][["language", "split", "metric", "value"]] for rid in self.pair)
        both = a.merge(b, on=["language", "split", "metric"], how="outer", suffixes=(" A", " B"))
        return both.assign(diff=both["value B"] - both["value A"])

    def export_table(self):
        """The gains table of ``store export`` (what picking it on the Export page builds)."""
        tm = self._target_means()
        g = tm[tm["intermediate"] != "none"].merge(tm[tm["intermediate"] == "none"][["source", "model", "target", "metric", "value"]],
                                                  on=["source", "model", "target", "metric"], suffixes=("", "_base"))
        g.assign(gain=g["value"] - g["value_base"]).pivot_table(index=["source", "model", "intermediate"], columns="target", values="gain")

    def export_charts(self):
        """The Languages page's charts, serialised for their PNG / SVG buttons."""
        specs: list = []
        self.languages(specs)
        for chart in specs:
            json.dumps(chart.to_dict())

    def export_everything(self):
        """What the Export page used to build on every render: every table and every chart."""
        specs: list = []
        self.question(specs), self.matrix(specs), self.matrix(specs, "score"), self.languages(specs)
        tm = self._target_means()
        tm.pivot_table(index=["source", "model", "intermediate", "variant"], columns="target", values="value")
        s = self._scores()
        s.pivot_table(index=["source", "model", "intermediate", "variant", "target", "metric"], columns="language", values="value")
        g = tm[tm["intermediate"] != "none"].merge(tm[tm["intermediate"] == "none"][["source", "model", "target", "metric", "value"]],
                                                  on=["source", "model", "target", "metric"], suffixes=("", "_base"))
        g.assign(gain=g["value"] - g["value_base"]).pivot_table(index=["source", "model", "intermediate"], columns="target", values="gain")
        for chart in specs:
            json.dumps(chart.to_dict())

    def _target_means(self):
        s = self._scores()
        avg = s[s["language"] == "avg"]
        keys = ["source", "model", "label", "intermediate", "variant", "setting", "target", "target_type", "metric", "split"]
        macro = s[s["language"] != "avg"].groupby(keys, dropna=False)["value"].mean().reset_index()
        return pd.concat([avg[[*keys, "value"]], macro], ignore_index=True)

    @staticmethod
    def _emit(out, charts_out):
        if charts_out is None:
            for chart in out:
                chart.to_dict()
        else:
            charts_out.extend(out)


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


def timed_cold(work, store, repeats: int, warmup: int = 2) -> tuple[list[float], list[float]]:
    """Total and data-and-analysis milliseconds of cold renders (a fresh reader each time)."""
    total, data = [], []
    for i in range(warmup + repeats):
        reader = timed_reader(store)
        t = time.perf_counter()
        work(reader)
        if i >= warmup:
            total.append((time.perf_counter() - t) * 1000)
            data.append(reader._spent * 1000)
    return total, data


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[-1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=None, help="store folder to build or reuse (default: a temp dir)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    from dashboard.data import CachedReader, Reader, filters
    from dashboard.state import Selection, default_selection
    from store.api import StoreReader
    from store.database import Store

    path = args.store or Path(tempfile.mkdtemp(prefix="xstilts-bench-")) / "store"
    t0 = time.perf_counter()
    n_runs, n_rows, built = build_store(path)
    how = f"built in {time.perf_counter() - t0:.1f} s" if built else "reused"
    print(f"store {path}: {n_runs:,} runs, {n_rows:,} result rows ({how})")
    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} before timing")

    store = Store.open(path, read_only=True)
    reader = Reader(StoreReader(store))
    options = reader.options()
    sel: Selection = default_selection(options, str(path))
    pair = tuple(reader.runs(filters(sel, options, targets=("xnli",), intermediates=("mnli",)))["run_id"][:2])
    assert len(pair) == 2 and n_rows >= TARGET_ROWS, "the synthetic runs are missing from the store"
    work = page_work(options, sel, pair)
    cached = CachedReader(str(path), reader=Reader(StoreReader(store)))  # st.cache_data in bare mode: the warm case
    t0 = time.perf_counter()
    baseline = PandasBaseline(store, options, sel, pair)
    load_ms = (time.perf_counter() - t0) * 1000
    from dashboard.data import settle_heap

    settle_heap()  # as the app does once after start-up (here after the baseline's setup too: both sides gain)
    print(f"pandas baseline: results_wide loaded into memory once in {load_ms:.0f} ms (not counted below)")
    print(f"slice: {sel.describe()}; {args.repeats} timed runs per page after 2 warm-up runs")

    picked = {name: page_work(options, dataclasses.replace(sel, **change), pair)[page] for name, page, change in PICKED}
    rows = []
    for page in (*PAGES, ON_REQUEST[0], ON_REQUEST[1], *picked, FIRST_QUESTION, FIRST_CLAIMS):
        if page in picked:  # another selection: a cold render of it, no pandas counterpart
            cold, data = timed_cold(picked[page], store, args.repeats)
            warm, theirs = [float("nan")] * 2, [float("nan")] * 2
        elif page in (FIRST_QUESTION, FIRST_CLAIMS):  # nothing derived yet: the first render after a change
            n, of = min(args.repeats, 3), page.split(":")[0]
            cold, data = timed_cold(lambda r: (clear_derived(path), work[of](r)), store, n, warmup=0)
            warm, theirs = [float("nan")] * 2, timed(getattr(baseline, of), n, warmup=0)
        else:
            cold, data = timed_cold(work[page], store, args.repeats)
            warm = timed(lambda: work[page](cached), args.repeats)
            mine = BASELINE_OF[page]
            theirs = timed(getattr(baseline, mine), args.repeats) if mine else [float("nan")] * 2
        rows.append({"page": page, "median_ms": statistics.median(cold), "p95_ms": p95(cold),
                     "data_ms": statistics.median(data), "rest_ms": statistics.median(c - d for c, d in zip(cold, data)),
                     "warm_median_ms": statistics.median(warm), "warm_p95_ms": p95(warm),
                     "pandas_median_ms": statistics.median(theirs), "pandas_p95_ms": p95(theirs)})
    head = (f"{'page':<24} {'median':>7} {'p95':>7} {'data+stats':>10} {'charts':>7} {'warm med':>9} {'warm p95':>9}"
            f" {'pandas med':>11} {'pandas p95':>11} {'ratio':>6}  p95<=100ms")
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        r["ratio"] = r["pandas_median_ms"] / r["median_ms"]
        verdict = ("ok" if r["p95_ms"] <= 100 else "missed") if r["page"] in PAGES else "(not a page render)"
        print(f"{r['page']:<24} {r['median_ms']:>7.1f} {r['p95_ms']:>7.1f} {r['data_ms']:>10.1f} {r['rest_ms']:>7.1f}"
              f" {r['warm_median_ms']:>9.1f} {r['warm_p95_ms']:>9.1f} {r['pandas_median_ms']:>11.1f}"
              f" {r['pandas_p95_ms']:>11.1f} {r['ratio']:>5.2f}x  {verdict}")
    print(f"""
milliseconds. median / p95: a cold render (fresh reader, no Streamlit cache): query + store.analysis + transforms +
charts. What depends only on the store's content is read from its derived cache (store/derived.py), computed once
per store state: the judged claims, the result rows of the page's (model, settings, split) slice with their cell
hashes, baseline ids and roles, and, with no filter beyond that slice, its matched gain rows and strata codes (every
summary and bootstrap runs in each render); '{FIRST_QUESTION}' / '{FIRST_CLAIMS}' are the renders that compute them
(cache emptied first; {min(args.repeats, 3)} runs); '... picked': another selection, filtered beyond the slice, whose
baseline matching, labels and strata codes run in the render too.
data+stats: of which in the reader (DuckDB queries, store.analysis, the derived cache); charts: the rest
(transforms, chart build, spec to JSON and frame to Arrow as st.vega_lite_chart does).
export: the page as opened (nothing picked: it builds nothing); 'export: a table' / 'export: a page's charts': what
one pick builds (the gains table; the Languages page's charts with their specs for PNG / SVG).
warm: the same render when st.cache_data already holds the frames (a revisit, or a second user).
ratio: pandas median / cold median (>1: faster than a pandas in-memory version of the same work; pandas recomputes
the claims every time, so the claims ratio measures the derived cache; nan: nothing comparable).""")
    if args.json:
        args.json.write_text(json.dumps({"runs": n_runs, "rows": n_rows, "pages": rows}, indent=1))
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
