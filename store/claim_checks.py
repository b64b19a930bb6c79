"""How each kind of claim check is measured: the evidence an evaluation reads, the runs a check
needs, the quantity it asserts and the `runner` commands that would produce what is missing.

Every number comes from :mod:`store.analysis` (``gains(per_seed=True)``, ``bootstrap_ci``,
``summarize_gains``, ``simple_vs_complex``); this module only selects rows and combines the
resulting intervals. The verdict itself is :func:`store.claims.judge`'s.

Quantities (``check.quantity``):
    * ``mean_gain_over_targets``: per intermediate task, the mean over targets of its mean gain over
      languages and seeds (each target counts once); ``top_k`` ranks intermediate tasks by it.
    * ``mean_gain_over_intermediates``: per target, the same with the roles swapped.
    * ``positive_gain_count``: on one target, how many intermediate tasks have a gain whose 95%
      interval lies above 0 (the interval of the count runs up to those still undecided).
    * ``variant_difference``: plain English run minus the ``mlm`` / ``translated`` run of the same
      intermediate task, target, language and seed (each (task, target) pair counts once).
    * ``complex_minus_simple``: for one target type, mean gain of format levels 3-5 minus 1-2.
    * ``published_gain``: best-per-target minus ``none`` on published rows (no runs needed).
    * ``config_model`` / ``config_phases`` / ``config_intermediates``: the runs' recorded setup.

The commands come from :func:`store.commands.runner_command`, the store's one generator of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import polars as pl

from store.analysis import Filters, bootstrap_ci, complexity_table, gains, simple_vs_complex, summarize_gains
from store.catalog import BASELINE, BEST_PER_TARGET, MULTITASK, load_catalog
from store.commands import runner_command

RUNNER_INTERVAL = "bootstrap 95% over seeds and languages"
PUBLISHED_INTERVAL = "range of the published estimates, ± 0.1 for print rounding"
#: Two numbers printed to one decimal: their difference is known to +-0.1.
PRINT_ROUNDING = 0.1
_KEYS = ["intermediate", "target", "language", "metric", "split", "seed"]


@dataclass(frozen=True)
class Measure:
    """A measured quantity before it is judged.

    ``detail`` holds one record per item (intermediate task, target, estimate, run) for charts.
    Config checks decide on their own and set ``verdict`` and ``reason``.
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
    """Which of the runs a check needs are in the store: ``needed`` pairs, run ids used, commands missing."""

    needed: int
    used: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


class Evidence:
    """What one evaluation reads from the store for one model, setting and split (fetched once)."""

    def __init__(self, store, model: str, setting: str = "zero-shot", split: str = "test"):
        self.store, self.model, self.setting, self.split = store, model, setting, split

    @cached_property
    def gains(self) -> pl.DataFrame:
        """Our runs' per-seed gains on each target's headline metric."""
        f = Filters(sources=("runner",), models=(self.model,), settings=(self.setting,), splits=(self.split,))
        return gains(self.store, f, per_seed=True)

    @cached_property
    def seeds(self) -> dict[tuple[str, str, str], dict[int, str]]:
        """(intermediate, target, variant) -> {seed: run_id} of runs with headline results."""
        runs = self.store.query(
            """
            SELECT DISTINCT run_id, intermediate, target, variant, seed FROM results_wide
            WHERE source = 'runner' AND model = $model AND setting = $setting AND split = $split AND is_headline
            ORDER BY run_id
            """,
            {"model": self.model, "setting": self.setting, "split": self.split},
        )
        out: dict[tuple[str, str, str], dict[int, str]] = {}
        for r in runs.iter_rows(named=True):
            out.setdefault((r["intermediate"], r["target"], r["variant"]), {})[r["seed"]] = r["run_id"]
        return out

    @cached_property
    def configs(self) -> pl.DataFrame:
        """Every runner run of the model with its recorded config (JSON text)."""
        return self.store.query(
            "SELECT run_id, model, intermediate, target, variant, seed, config FROM runs "
            "WHERE source = 'runner' AND model = $model ORDER BY run_id",
            {"model": self.model},
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
    used, missing = [], []
    for inter, target, variant in needed:
        have = ev.seeds.get((inter, target, variant), {})
        used += have.values()
        new = (s for s in range(1, 10_000) if s not in have)
        missing += [runner_command(inter, target, next(new), ev.model, variant) for _ in range(min_seeds - len(have))]
    return Coverage(len(needed), tuple(sorted(set(used))), tuple(missing))


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
    return Coverage(base.needed + len(pairs), tuple(sorted(set(used))), tuple(missing))


# ---------------------------------------------------------------------- estimates
def _plain(ev: Evidence, intermediates, targets) -> pl.DataFrame:
    return ev.gains.filter(
        pl.col("variant") == "", pl.col("intermediate").is_in(list(intermediates)), pl.col("target").is_in(list(targets))
    )


def balanced_mean(rows: pl.DataFrame, by: list[str], col: str = "gain") -> dict:
    """Mean over groups of the group means of ``col`` (each group counts once), with an interval.

    The interval is :func:`store.analysis.bootstrap_ci` over the rows (languages x seeds), each
    row weighted by N / (groups x its group's size) so that the plain mean of the weighted
    values is the mean of the group means.

    >>> balanced_mean(pl.DataFrame({"t": ["a", "a", "b"], "gain": [1.0, 3.0, 8.0]}), ["t"])["value"]
    5.0
    """
    if rows.is_empty():
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    rows = rows.sort([*by, *[c for c in _KEYS if c in rows.columns and c not in by]])
    n_groups = rows.select(by).unique().height
    weighted = rows.select(pl.col(col) * pl.len() / (n_groups * pl.len().over(by)))[col].to_numpy()
    value = float(rows.group_by(by).agg(pl.col(col).mean())[col].mean())
    lo, hi = bootstrap_ci(weighted)
    return {"value": value, "ci_low": _num(lo), "ci_high": _num(hi), "n": rows.height}


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)


def _per_item(rows: pl.DataFrame, item: str, items, over: str) -> list[dict]:
    return [{"item": it, **balanced_mean(rows.filter(pl.col(item) == it), [over])} for it in items]


def _single_or_rank(detail: list[dict], check) -> Measure:
    """One item: its value. Several (``top_k``): the margin of the claimed items over the rest.

    margin = min(claimed) - max(others); its interval [min lo - max hi, min hi - max lo] lies above 0
    exactly when every claimed interval lies above every other interval.
    """
    n = sum(d["n"] for d in detail)
    if check.comparison != "top_k":
        d = detail[0]
        return Measure(d["value"], d["ci_low"], d["ci_high"], d["n"], detail=detail)
    present = [d for d in detail if d["value"] is not None]
    ranked = sorted(present, key=lambda d: -d["value"])
    for rank, d in enumerate(ranked, 1):
        d["rank"] = rank
    claimed = [d for d in present if d["item"] in check.items]
    others = [d for d in present if d["item"] not in check.items]
    if not claimed or not others:
        return Measure(None, n=n, detail=detail)
    value = min(d["value"] for d in claimed) - max(d["value"] for d in others)
    bounds = [d for d in present if d["ci_low"] is None]
    if bounds:
        return Measure(value, n=n, detail=detail)
    lo = min(d["ci_low"] for d in claimed) - max(d["ci_high"] for d in others)
    hi = min(d["ci_high"] for d in claimed) - max(d["ci_low"] for d in others)
    return Measure(value, lo, hi, n, detail=detail)


def mean_gain_over_targets(ev: Evidence, check) -> tuple[Measure, Coverage]:
    rows = _plain(ev, check.intermediates, check.targets)
    detail = _per_item(rows, "intermediate", check.intermediates, "target")
    cov = coverage(ev, [(i, t, "") for i in check.intermediates for t in check.targets])
    return _single_or_rank(detail, check), cov


def mean_gain_over_intermediates(ev: Evidence, check) -> tuple[Measure, Coverage]:
    rows = _plain(ev, check.intermediates, check.targets)
    detail = _per_item(rows, "target", check.targets, "intermediate")
    cov = coverage(ev, [(i, t, "") for i in check.intermediates for t in check.targets])
    return _single_or_rank(detail, check), cov


def positive_gain_count(ev: Evidence, check) -> tuple[Measure, Coverage]:
    rows = _plain(ev, check.intermediates, check.targets)
    summary = {r["intermediate"]: r for r in summarize_gains(rows, by=("intermediate",)).iter_rows(named=True)}
    detail, positive, undecided = [], 0, 0
    for inter in check.intermediates:
        s = summary.get(inter)
        lo, hi = (_num(s["ci_low"]), _num(s["ci_high"])) if s else (None, None)
        state = "positive" if lo is not None and lo > 0 else "not positive" if hi is not None and hi <= 0 else "undecided"
        positive += state == "positive"
        undecided += state == "undecided"
        detail.append({"item": inter, "value": s["mean_gain"] if s else None, "ci_low": lo, "ci_high": hi,
                       "n": s["n"] if s else 0, "state": state})
    cov = coverage(ev, [(i, t, "") for i in check.intermediates for t in check.targets])
    if rows.is_empty():
        return Measure(None, n=0, detail=detail), cov
    m = Measure(float(positive), float(positive), float(positive + undecided), rows.height,
                "tasks whose 95% interval lies above 0; the upper end adds the undecided", detail)
    return m, cov


def variant_difference(ev: Evidence, check) -> tuple[Measure, Coverage]:
    plain = _plain(ev, check.intermediates, check.targets).select(*_KEYS, pl.col("gain").alias("plain"))
    var = ev.gains.filter(
        pl.col("variant") == check.variant, pl.col("intermediate").is_in(check.intermediates),
        pl.col("target").is_in(check.targets),
    ).select(*_KEYS, pl.col("gain").alias("other"))
    rows = plain.join(var, on=_KEYS, how="inner").with_columns((pl.col("plain") - pl.col("other")).alias("gain"))
    est = balanced_mean(rows, ["intermediate", "target"])
    detail = [{"item": i, **balanced_mean(rows.filter(pl.col("intermediate") == i), ["target"])} for i in check.intermediates]
    cov = paired_coverage(ev, [(i, t, "") for i in check.intermediates for t in check.targets], check.variant)
    return Measure(est["value"], est["ci_low"], est["ci_high"], est["n"],
                   RUNNER_INTERVAL + " (seed-paired differences)", detail), cov


def complex_minus_simple(ev: Evidence, check) -> tuple[Measure, Coverage]:
    cat = load_catalog()
    targets = [t for t in check.targets if cat.tasks[t].task_type == check.target_type]
    rows = _plain(ev, check.intermediates, targets)
    s = simple_vs_complex(rows, ev.complexity, by="target_type") if not rows.is_empty() else pl.DataFrame()
    groups = {r["complexity"]: r for r in s.iter_rows(named=True)} if not s.is_empty() else {}
    detail = [{"item": k, "value": g["mean_gain"], "ci_low": _num(g["ci_low"]), "ci_high": _num(g["ci_high"]), "n": g["n"]}
              for k, g in sorted(groups.items())]
    cov = coverage(ev, [(i, t, "") for i in check.intermediates for t in targets])
    c, sm = groups.get("complex (3-5)"), groups.get("simple (1-2)")
    if not c or not sm:
        return Measure(None, n=rows.height, detail=detail), cov
    value = c["mean_gain"] - sm["mean_gain"]
    bounds = [_num(x) for x in (c["ci_low"], c["ci_high"], sm["ci_low"], sm["ci_high"])]
    if None in bounds:
        return Measure(value, n=rows.height, detail=detail), cov
    lo, hi = bounds[0] - bounds[3], bounds[1] - bounds[2]
    return Measure(value, lo, hi, rows.height, "difference of two bootstrap 95% intervals (conservative)", detail), cov


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
    m = Measure(values[0], min(values) - PRINT_ROUNDING, max(values) + PRINT_ROUNDING, len(estimates),
                PUBLISHED_INTERVAL, estimates)
    return m, cov


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
