"""How each kind of claim check is measured: the evidence an evaluation reads, the runs a check
needs, the quantity it asserts and the `runner` commands that would produce what is missing.

Every number comes from :mod:`store.analysis` (``gain_rows``, ``summarize_gains``: task-first
means over a benchmark's languages with the two-level bootstrap of :mod:`store.intervals`); this
module only selects rows and combines bootstrap replicates (differences and margins are computed
per replicate, so a baseline or a language set two estimates share is resampled together). The
verdict itself is :func:`store.claims.judge`'s. Capped (debug) runs are left out unless asked.

Quantities (``check.quantity``):
    * ``mean_gain_over_targets``: per intermediate task, the mean over targets of its task-average
      gain (each target counts once); ``top_k`` ranks intermediate tasks by it.
    * ``mean_gain_over_intermediates``: per target, the mean over intermediate tasks of their gains.
    * ``positive_gain_count``: on one target, how many intermediate tasks have a gain whose 95%
      interval lies above 0 (the interval of the count runs up to those still undecided).
    * ``variant_difference``: plain English run minus the ``mlm`` / ``translated`` run of the same
      intermediate task and target, seeds paired where both have the same ones.
    * ``complex_minus_simple``: for one target type, mean gain of format levels 3-5 minus 1-2.
    * ``published_gain``: best-per-target minus ``none`` on published rows (no runs needed); not
      enough evidence when the published rows do not cover every task the claim averages over.
    * ``config_model`` / ``config_phases`` / ``config_intermediates``: the runs' recorded setup.

The commands come from :func:`store.commands.runner_command`, the store's one generator of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import polars as pl

from store.analysis import BENCHMARKS, Filters, GainRows, complexity_table, gain_rows, gains, summarize_gains
from store.catalog import BASELINE, BEST_PER_TARGET, MULTITASK, load_catalog
from store.commands import runner_command
from store.intervals import LEVEL

RUNNER_INTERVAL = "two-level bootstrap 95% (seeds; languages within each task)"
PUBLISHED_INTERVAL = "range of the published estimates, ± 0.1 for print rounding"
#: Two numbers printed to one decimal: their difference is known to +-0.1.
PRINT_ROUNDING = 0.1
UNDECIDED = "not enough evidence"


@dataclass(frozen=True)
class Measure:
    """A measured quantity before it is judged.

    ``detail`` holds one record per item (intermediate task, target, estimate, run) for charts.
    Config checks decide on their own and set ``verdict`` and ``reason``; a measure that cannot
    be compared with the claim (coverage) sets ``verdict`` "not enough evidence" and says why.
    """

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    interval: str = RUNNER_INTERVAL
    detail: list[dict] = field(default_factory=list)
    verdict: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Coverage:
    """Which of the runs a check needs are in the store: ``needed`` pairs, run ids used, commands missing.

    ``other_split``: pairs whose runs exist but have no results on the check's split (the runner
    records test sets): no command would add them.
    """

    needed: int
    used: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    other_split: tuple[str, ...] = ()


class Evidence:
    """What one evaluation reads from the store for one model, setting, split and benchmark (fetched once)."""

    def __init__(self, store, model: str, setting: str = "zero-shot", split: str = "test",
                 benchmark: str = "xtreme", include_capped: bool = False):
        self.store, self.model, self.setting, self.split = store, model, setting, split
        self.benchmark, self.include_capped = benchmark, include_capped

    def filters(self) -> Filters:
        return Filters(sources=("runner",), models=(self.model,), settings=(self.setting,), splits=(self.split,),
                       benchmark=self.benchmark, include_capped=self.include_capped)

    @cached_property
    def rows(self) -> GainRows:
        """Per-seed rows of our runs and their matched baselines on each target's headline metric."""
        return gain_rows(self.store, self.filters())

    @cached_property
    def gains(self) -> pl.DataFrame:
        """Per-language gains (seed means) of our runs."""
        return gains(self.store, self.filters())

    def _seed_map(self, split: str | None) -> dict[tuple[str, str, str], dict[int, str]]:
        runs = self.store.query(
            """
            SELECT DISTINCT run_id, intermediate, target, variant, seed FROM results_wide
            WHERE source = 'runner' AND model = $model AND setting = $setting AND is_headline
              AND ($split IS NULL OR split = $split) AND ($include_capped OR NOT capped)
            ORDER BY run_id
            """,
            {"model": self.model, "setting": self.setting, "split": split, "include_capped": self.include_capped},
        )
        out: dict[tuple[str, str, str], dict[int, str]] = {}
        for r in runs.iter_rows(named=True):
            out.setdefault((r["intermediate"], r["target"], r["variant"]), {})[r["seed"]] = r["run_id"]
        return out

    @cached_property
    def seeds(self) -> dict[tuple[str, str, str], dict[int, str]]:
        """(intermediate, target, variant) -> {seed: run_id} of runs with headline results on the split."""
        return self._seed_map(self.split)

    @cached_property
    def seeds_any_split(self) -> dict[tuple[str, str, str], dict[int, str]]:
        """The same on any split (runs that exist but lack the check's split are not 'missing')."""
        return self._seed_map(None)

    @cached_property
    def configs(self) -> pl.DataFrame:
        """Every runner run of the model with its recorded config (JSON text)."""
        return self.store.query(
            "SELECT run_id, model, intermediate, target, variant, seed, config FROM runs "
            "WHERE source = 'runner' AND model = $model AND ($include_capped OR NOT capped) ORDER BY run_id",
            {"model": self.model, "include_capped": self.include_capped},
        )

    @cached_property
    def complexity(self) -> pl.DataFrame:
        return complexity_table(self.store, self.model)


# ---------------------------------------------------------------------- coverage
def _baselines(pairs) -> list[tuple[str, str, str]]:
    return list(dict.fromkeys((BASELINE, t, "") for _, t, _ in pairs))


def coverage(ev: Evidence, pairs, min_seeds: int = 1) -> Coverage:
    """Needed (intermediate, target, variant) pairs plus each target's baseline, at ``min_seeds`` seeds."""
    needed = list(dict.fromkeys([*_baselines(pairs), *pairs]))
    used, missing, other = [], [], []
    for inter, target, variant in needed:
        have = ev.seeds.get((inter, target, variant), {})
        used += have.values()
        if len(have) >= min_seeds:
            continue
        elsewhere = ev.seeds_any_split.get((inter, target, variant), {})
        if len(elsewhere) >= min_seeds:
            other.append(f"{inter}:{target}" + (f" ({variant})" if variant else ""))
            continue
        new = (s for s in range(1, 10_000) if s not in elsewhere)
        missing += [runner_command(inter, target, next(new), ev.model, variant) for _ in range(min_seeds - len(elsewhere))]
    return Coverage(len(needed), tuple(sorted(set(used))), tuple(missing), tuple(other))


def paired_coverage(ev: Evidence, pairs, variant: str) -> Coverage:
    """Plain pairs, their baselines, and the variant run of each pair at a seed the plain run has."""
    base = coverage(ev, [(i, t, "") for i, t, _ in pairs])
    used, missing = list(base.used), list(base.missing)
    for inter, target, _ in pairs:
        plain = ev.seeds.get((inter, target, ""), {})
        var = ev.seeds.get((inter, target, variant), {})
        shared = sorted(set(plain) & set(var))
        used += [var[s] for s in shared]
        if not shared:
            missing.append(runner_command(inter, target, min(plain, default=1), ev.model, variant))
    return Coverage(base.needed + len(pairs), tuple(sorted(set(used))), tuple(missing), base.other_split)


# ---------------------------------------------------------------------- estimates
def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)


def _interval(reps: np.ndarray | None) -> tuple[float | None, float | None]:
    if reps is None:
        return None, None
    alpha = (1 - LEVEL) / 2
    lo, hi = np.quantile(reps, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _select(rows: GainRows, intermediates, targets, variant: str = "") -> GainRows:
    runs = rows.runs.filter(pl.col("variant") == variant, pl.col("intermediate").is_in(list(intermediates)),
                            pl.col("target").is_in(list(targets)))
    return GainRows(runs, rows.bases, rows.benchmark)


def _ambiguous(summary: pl.DataFrame) -> str:
    """A reason when a needed pair has several configurations (never pooled, so no one number)."""
    labels = sorted(set(summary["config"]) - {""})
    if not labels:
        return ""
    return (f"several configurations of the same pairs ({' | '.join(labels)}); claims need one per pair: "
            "leave capped runs out (the default) or filter the store")


def _items(rows: GainRows, item: str, items) -> tuple[list[dict], dict[str, np.ndarray], str]:
    """Per item (intermediate task or target): task-first mean gain, interval and replicates.

    An item with several configurations gets one detail record per configuration (``item
    [config]``, each with its own ``n_seeds``), never a pooled one; the check then has no value.
    """
    s = summarize_gains(rows, by=(item,), keep_replicates=True) if not rows.runs.is_empty() else None
    found: dict[str, list[dict]] = {}
    for r in s.iter_rows(named=True) if s is not None else ():
        found.setdefault(r[item], []).append(r)
    detail, reps, notes = [], {}, []
    for it in items:
        group = found.get(it)
        if not group:
            detail.append({"item": it, "value": None, "ci_low": None, "ci_high": None, "n": 0})
            continue
        for r in group:
            if r["coverage"]:
                notes.append(r["coverage"])
            if r["reps"] is not None and len(group) == 1:
                reps[it] = np.asarray(r["reps"], dtype=float)
            detail.append({"item": it if len(group) == 1 else f"{it} [{r['config']}]", "value": r["mean_gain"],
                           "ci_low": _num(r["ci_low"]), "ci_high": _num(r["ci_high"]), "n": r["n"],
                           "n_tasks": r["n_tasks"], "n_languages": r["n_languages"], "n_seeds": r["n_seeds"],
                           "baseline_n_seeds": r["baseline_n_seeds"], "config": r["config"], "coverage": r["coverage"]})
    reason = _ambiguous(s) if s is not None else ""
    if not reason and notes:
        reason = "task averages need every benchmark language: " + "; ".join(dict.fromkeys(notes))
    return detail, reps, reason


def _single_or_rank(detail: list[dict], reps: dict[str, np.ndarray], check, reason: str) -> Measure:
    """One item: its value. Several (``top_k``): the margin of the claimed items over the rest.

    margin = min(claimed) - max(others), computed per bootstrap replicate (the items share their
    baselines and language draws), so its interval is the percentile interval of the margins.
    """
    n = sum(d["n"] for d in detail)
    verdict = UNDECIDED if reason else None
    if check.comparison != "top_k":
        d = detail[0]
        if len(detail) > 1:  # one item at several configurations: shown apart, no pooled value
            return Measure(None, n=n, detail=detail, verdict=verdict, reason=reason)
        return Measure(d["value"], d["ci_low"], d["ci_high"], d["n"], detail=detail, verdict=verdict, reason=reason)
    present = [d for d in detail if d["value"] is not None]
    for rank, d in enumerate(sorted(present, key=lambda d: -d["value"]), 1):
        d["rank"] = rank
    claimed = [d for d in present if d["item"] in check.items]
    others = [d for d in present if d["item"] not in check.items]
    if not claimed or not others:
        return Measure(None, n=n, detail=detail, verdict=verdict, reason=reason)
    value = min(d["value"] for d in claimed) - max(d["value"] for d in others)
    if any(d["item"] not in reps for d in present):
        return Measure(value, n=n, detail=detail, verdict=verdict, reason=reason)
    margin = np.min([reps[d["item"]] for d in claimed], axis=0) - np.max([reps[d["item"]] for d in others], axis=0)
    lo, hi = _interval(margin)
    return Measure(value, lo, hi, n, RUNNER_INTERVAL + "; margin per replicate", detail, verdict, reason)


def _pairs(check, targets=None) -> list[tuple[str, str, str]]:
    return [(i, t, "") for i in check.intermediates for t in (targets or check.targets)]


def mean_gain_over_targets(ev: Evidence, check) -> tuple[Measure, Coverage]:
    rows = _select(ev.rows, check.intermediates, check.targets)
    detail, reps, reason = _items(rows, "intermediate", check.intermediates)
    return _single_or_rank(detail, reps, check, reason), coverage(ev, _pairs(check))


def mean_gain_over_intermediates(ev: Evidence, check) -> tuple[Measure, Coverage]:
    rows = _select(ev.rows, check.intermediates, check.targets)
    detail, reps, reason = _items(rows, "target", check.targets)
    return _single_or_rank(detail, reps, check, reason), coverage(ev, _pairs(check))


def positive_gain_count(ev: Evidence, check) -> tuple[Measure, Coverage]:
    rows = _select(ev.rows, check.intermediates, check.targets)
    detail, _, reason = _items(rows, "intermediate", check.intermediates)
    positive = undecided = 0
    for d in detail:
        lo, hi = d["ci_low"], d["ci_high"]
        d["state"] = "positive" if lo is not None and lo > 0 else "not positive" if hi is not None and hi <= 0 else "undecided"
        positive += d["state"] == "positive"
        undecided += d["state"] == "undecided"
    cov = coverage(ev, _pairs(check))
    if rows.runs.is_empty():
        return Measure(None, n=0, detail=detail), cov
    return Measure(float(positive), float(positive), float(positive + undecided), rows.runs.height,
                   "tasks whose 95% interval lies above 0; the upper end adds the undecided", detail,
                   UNDECIDED if reason else None, reason), cov


def variant_difference(ev: Evidence, check) -> tuple[Measure, Coverage]:
    """Plain minus variant per (intermediate task, target): the variant run stands in for the baseline."""
    plain = _select(ev.rows, check.intermediates, check.targets).runs
    var = _select(ev.rows, check.intermediates, check.targets, check.variant).runs
    key = ["source", "model", "intermediate", "target", "metric", "split", "setting"]
    var = var.with_columns(pl.concat_str([pl.col(c) for c in [*key, "config_id"]], separator="|").alias("base_id"))
    plain = plain.drop("base_id").join(var.select(*key, "base_id").unique(key), on=key, how="inner")
    pairs = GainRows(plain, var.filter(pl.col("base_id").is_in(plain["base_id"].unique().implode())), ev.rows.benchmark)
    cov = paired_coverage(ev, [(i, t, "") for i in check.intermediates for t in check.targets], check.variant)
    if plain.is_empty():
        return Measure(None, n=0), cov
    overall = summarize_gains(pairs, by=())
    detail, _, reason = _items(pairs, "intermediate", check.intermediates)
    r = overall.row(0, named=True)
    reason = reason or _ambiguous(overall) or (f"task averages need every benchmark language: {r['coverage']}" if r["coverage"] else "")
    return Measure(r["mean_gain"], _num(r["ci_low"]), _num(r["ci_high"]), r["n"],
                   RUNNER_INTERVAL + " (seeds paired where plain and variant share them)", detail,
                   UNDECIDED if reason else None, reason), cov


def complex_minus_simple(ev: Evidence, check) -> tuple[Measure, Coverage]:
    cat = load_catalog()
    targets = [t for t in check.targets if cat.tasks[t].task_type == check.target_type]
    rows = _select(ev.rows, check.intermediates, targets)
    cov = coverage(ev, _pairs(check, targets))
    levels = ev.complexity.select(pl.col("task").alias("intermediate"), "format_rank").drop_nulls()
    runs = rows.runs.join(levels, on="intermediate").with_columns(
        pl.when(pl.col("format_rank") <= 2).then(pl.lit("simple (1-2)")).otherwise(pl.lit("complex (3-5)")).alias("item"))
    detail, reps, reason = _items(GainRows(runs, rows.bases, rows.benchmark), "item", ("complex (3-5)", "simple (1-2)"))
    c, sm = detail
    if c["value"] is None or sm["value"] is None:
        return Measure(None, n=rows.runs.height, detail=detail, verdict=UNDECIDED if reason else None, reason=reason), cov
    value = c["value"] - sm["value"]
    lo, hi = _interval(reps["complex (3-5)"] - reps["simple (1-2)"]) if len(reps) == 2 else (None, None)
    return Measure(value, lo, hi, rows.runs.height, RUNNER_INTERVAL + "; difference per replicate", detail,
                   UNDECIDED if reason else None, reason), cov


# ---------------------------------------------------------------------- published
def published_gain(ev: Evidence, check) -> tuple[Measure, Coverage]:
    """Estimates from every published source with both a best-per-target and a ``none`` row.

    First each printed XTREME average (``check.aggregates``, in order), then per source the mean of
    its per-task gains over ``check.targets``. The value is the first estimate.
    """
    f = Filters(models=(ev.model,), intermediates=(BEST_PER_TARGET,), targets=(*check.aggregates, *check.targets))
    g = gains(ev.store, f).filter(pl.col("source") != "runner").sort("source", "target")
    estimates = []
    for agg in check.aggregates:
        for r in g.filter(pl.col("target") == agg).iter_rows(named=True):
            estimates.append({"item": f"{r['source']} {agg}", "source": r["source"], "value": r["gain"],
                              "best": r["value"], "none": r["baseline"], "n": 1})
    per_task = g.filter(pl.col("target").is_in(check.targets))
    for (source,), rows in per_task.group_by("source", maintain_order=True):
        if rows.height >= 2:
            estimates.append({"item": f"{source} mean of {rows.height} per-task gains", "source": source,
                              "value": float(rows["gain"].mean()), "n": rows.height,
                              "targets": dict(zip(rows["target"], rows["gain"]))})
    sources = sorted({e["source"] for e in estimates})
    used = ev.store.query(
        "SELECT run_id FROM runs WHERE model = $model AND list_contains($sources, source) "
        "AND intermediate IN ('best', 'none') AND list_contains($targets, target) ORDER BY run_id",
        {"model": ev.model, "sources": sources, "targets": [*check.aggregates, *check.targets]},
    )["run_id"].to_list()
    cov = Coverage(needed=0, used=tuple(used))
    if not estimates:
        return Measure(None, interval=PUBLISHED_INTERVAL, reason=f"no published best-per-target rows for {ev.model}"), cov
    values = [e["value"] for e in estimates]
    lo, hi = min(values) - PRINT_ROUNDING, max(values) + PRINT_ROUNDING
    uncovered = [t for t in check.targets if t not in set(per_task["target"])]
    if uncovered:
        # Like with like: the claim is about the whole benchmark average; sources without some of its
        # tasks (the printed averages leave them out too) cannot confirm or refute it.
        cat = load_catalog()
        kinds = ", ".join(dict.fromkeys(cat.tasks[t].task_type for t in uncovered))
        reason = (f"{kinds} not covered: no published best-per-target rows for {', '.join(uncovered)}; the printed "
                  f"{BENCHMARKS[check.benchmark]} averages of these sources leave those tasks out, so they are not "
                  f"the average the claim quotes")
        return Measure(values[0], lo, hi, len(estimates), PUBLISHED_INTERVAL, estimates, UNDECIDED, reason), cov
    return Measure(values[0], lo, hi, len(estimates), PUBLISHED_INTERVAL, estimates), cov


# ---------------------------------------------------------------------- configuration
def _config(text: str | None) -> dict:
    return json.loads(text) if text else {}


def _as_list(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
    return [str(v) for v in value]


def _setup_coverage(ev: Evidence, check) -> Coverage:
    """The needed runs are the check's pairs; the runs used are every runner run of the model (all inspected)."""
    cov = coverage(ev, [(i, t, "") for i in check.intermediates if i != BASELINE for t in check.targets])
    return Coverage(cov.needed, tuple(ev.configs["run_id"]), cov.missing)


def config_model(ev: Evidence, check) -> tuple[Measure, Coverage]:
    """The runs evaluated (runs.model, which the runner writes from --model) start from the claim's model."""
    cov = _setup_coverage(ev, check)
    n = ev.configs.height
    if not n:
        return Measure(None, interval=""), cov
    if ev.model != check.model:
        return Measure(float(n), n=n, interval="", verdict="contradicted",
                       reason=f"the runs evaluated start from {ev.model}, the claim's setup from {check.model}"), cov
    return Measure(float(n), n=n, interval="", reason=f"{n} runner runs with runs.model = {ev.model}"), cov


def config_phases(ev: Evidence, check) -> tuple[Measure, Coverage]:
    """Each run records config[key]; expected: the claim's phases minus those the pair skips."""
    cat, detail = load_catalog(), []
    for r in ev.configs.iter_rows(named=True):
        expected = [p for p in check.expected
                    if not (p == "intermediate" and r["intermediate"] == BASELINE)
                    and not (p == "target" and cat.tasks[r["target"]].phase2 != "finetune")]
        recorded = _as_list(_config(r["config"]).get(check.config_key))
        state = "unrecorded" if recorded is None else "match" if recorded == expected else "differs"
        detail.append({"item": r["run_id"], "expected": expected, "recorded": recorded, "state": state})
    counts = {s: sum(d["state"] == s for d in detail) for s in ("match", "differs", "unrecorded")}
    if not detail:
        return Measure(None, interval=""), _setup_coverage(ev, check)
    m = Measure(float(counts["match"]), n=len(detail), interval="", detail=detail,
                reason=f"{counts['match']} of {len(detail)} runs record the expected config['{check.config_key}']")
    if counts["differs"]:
        bad = next(d for d in detail if d["state"] == "differs")
        m = Measure(m.value, n=m.n, interval="", detail=detail, verdict="contradicted",
                    reason=f"{counts['differs']} runs record other phases, e.g. {bad['item']}: {bad['recorded']} (expected {bad['expected']})")
    elif counts["unrecorded"]:
        m = Measure(m.value, n=m.n, interval="", detail=detail, verdict="not enough evidence",
                    reason=f"{counts['unrecorded']} of {len(detail)} runs do not record config['{check.config_key}']")
    return m, _setup_coverage(ev, check)


def config_intermediates(ev: Evidence, check) -> tuple[Measure, Coverage]:
    """The nine tasks all have runs; multitask runs that record their tasks list exactly the nine."""
    nine = load_catalog().intermediate_tasks()
    have = sorted(set(ev.configs["intermediate"]) & set(nine))
    if ev.configs.is_empty():
        return Measure(None, interval=""), _setup_coverage(ev, check)
    detail = [{"item": t, "has_runs": t in have} for t in nine]
    m = Measure(float(len(have)), n=ev.configs.height, interval="", detail=detail,
                reason=f"{len(have)} of the {len(nine)} intermediate tasks have runner runs")
    for r in ev.configs.filter(pl.col("intermediate") == MULTITASK).iter_rows(named=True):
        recorded = _as_list(_config(r["config"]).get(check.config_key))
        detail.append({"item": r["run_id"], "recorded": recorded})
        if recorded is not None and sorted(recorded) != nine:
            m = Measure(m.value, n=m.n, interval="", detail=detail, verdict="contradicted",
                        reason=f"multitask run {r['run_id']} records config['{check.config_key}'] = {recorded}, not the nine")
            break
    return m, _setup_coverage(ev, check)


_LABELS = {
    ("mean_gain_over_targets", "top_k"): "top {k} of {ni} intermediate tasks by mean gain over {nt} targets: {items}",
    ("mean_gain_over_intermediates", "top_k"): "top {k} of {nt} targets by mean gain over {ni} intermediate tasks: {items}",
    "mean_gain_over_targets": "{inter}: mean gain over {nt} targets {cmp}",
    "mean_gain_over_intermediates": "{target}: mean gain over {ni} intermediate tasks {cmp}",
    "positive_gain_count": "{target}: intermediate tasks (of {ni}) whose gain interval lies above 0 {cmp}",
    "variant_difference": "plain minus {variant} (seed-paired, {ni} tasks x {nt} targets) {cmp}",
    "complex_minus_simple": "{target_type}: mean gain of complex (3-5) minus simple (1-2) {cmp}",
    "published_gain": "best-per-target minus XLM-R on published XTREME averages {cmp}",
    "config_model": "runs start from {model} (runs.model)",
    "config_phases": "runs record config['{key}'] = {expected} (less the phases a pair skips)",
    "config_intermediates": "the nine intermediate tasks have runs; multitask runs list them in config['{key}']",
}


def describe(check) -> str:
    """What a check asserts, in words."""
    v, tol = f"{check.value:g}" if check.value is not None else "", f"{check.tolerance:g}"
    cmp = {"within": f"within {v} ± {tol}", "greater": f"greater than {v}", "at_most": f"at most {v} + {tol}",
           "at_least": f"at least {v}"}.get(check.comparison, "")
    template = _LABELS.get((check.quantity, check.comparison)) or _LABELS[check.quantity]
    return template.format(
        k=len(check.items), ni=len(check.intermediates), nt=len(check.targets), items=", ".join(check.items),
        inter=(check.intermediates or ("",))[0], target=(check.targets or ("",))[0], cmp=cmp, variant=check.variant,
        target_type=check.target_type, model=check.model, key=check.config_key, expected=", ".join(check.expected),
    )


MEASURES = {
    "mean_gain_over_targets": mean_gain_over_targets,
    "mean_gain_over_intermediates": mean_gain_over_intermediates,
    "positive_gain_count": positive_gain_count,
    "variant_difference": variant_difference,
    "complex_minus_simple": complex_minus_simple,
    "published_gain": published_gain,
    "config_model": config_model,
    "config_phases": config_phases,
    "config_intermediates": config_intermediates,
}
