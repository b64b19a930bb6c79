"""Claims about X-STILTs checked against the evidence in a store.

The claims are data (``store/data/catalog/claims.json``): id, text, origin (paper and where, or the
synthesis report with its confidence figure), the evidence they rest on (``runner``: our runs;
``published``: leaderboard rows; ``config``: the runs' recorded setup) and one or more *checks*,
each naming its runs (model, intermediate tasks, targets, variant; zero-shot, test split, each
target's headline metric), its quantity (:mod:`store.claim_checks`), comparison and tolerance.

Verdict rule, per check (a claim is contradicted if any check is, supported if all are, else not
enough evidence):

1. Minimum evidence. A check over our runs needs every pair it names (intermediate x target, and
   the variant where it compares one) with at least one seed on the check's split, plus the
   ``none`` baseline of every target with the same target-phase configuration, each covering
   every language the check's benchmark defines for the target (capped debug runs do not count
   unless asked for; a pair with several configurations is ambiguous). Until then it says "not
   enough evidence", shows the partial value, and lists the ``runner run`` commands.
2. Each comparison claims a region for the value: ``within`` c ± tol is [c - tol, c + tol];
   ``greater`` than c is (c, inf); ``at_most`` c + tol is (-inf, c + tol]; ``at_least`` k is
   [k, inf); ``top_k`` puts the margin min(claimed) - max(others), whose interval is
   [min lo - max hi, min hi - max lo], in (0, inf): every claimed item's interval above every
   other's. Supported if the 95% interval lies inside the region, contradicted if it lies wholly
   outside, otherwise (or with no interval: fewer than 2 rows) not enough evidence.
3. Config checks read ``runs.model`` and the ``config`` JSON: one run recording a different setup
   contradicts at once; otherwise supported once the needed runs exist and record it.

Published evidence (claim 5) needs no runs: each estimate is a difference of two numbers printed to
one decimal (known to ±0.1); the interval is the estimates' range widened by that; rule 2 applies
only when the published rows cover every task the claim averages over (like with like): without
the retrieval tasks an average is not the XTREME average the claim quotes.

Each check carries the split, benchmark and tasks its number refers to; ``beside_split`` is
measured too and shown beside the verdict (c1-c4 quote dev-set averages: judged on validation,
test beside).

Example:
    >>> import tempfile
    >>> from store.database import Store
    >>> with Store.open(tempfile.mkdtemp()) as st:
    ...     results = evaluate(st, ids=["c5"])
    >>> results[0].verdict, round(results[0].value, 1)
    ('not enough evidence', 2.6)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from store import claim_checks
from store.analysis import BENCHMARKS
from store.catalog import BASELINE, CATALOG_DIR, MULTITASK, TASK_TYPES, load_catalog, suggest
from store.errors import StoreError
from store.records import SPLITS, VARIANTS

CLAIMS_FILE = CATALOG_DIR / "claims.json"
SUPPORTED, CONTRADICTED, UNDECIDED = "supported", "contradicted", "not enough evidence"
VERDICTS = (SUPPORTED, CONTRADICTED, UNDECIDED)
COMPARISONS = ("top_k", "within", "greater", "at_most", "at_least", "config")
EVIDENCE = {"runner": "own runs", "published": "published rows", "config": "recorded config"}


@dataclass(frozen=True)
class Check:
    """One assertion of a claim: a quantity over some runs, a comparison and its tolerance."""

    quantity: str
    comparison: str
    model: str
    intermediates: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    variant: str = ""
    items: tuple[str, ...] = ()
    value: float | None = None
    tolerance: float = 0.0
    target_type: str = ""
    aggregates: tuple[str, ...] = ()
    config_key: str = ""
    expected: tuple[str, ...] = ()
    setting: str = "zero-shot"
    split: str = "test"
    #: whose language sets task averages are over (``xtreme`` / ``xtreme-r``)
    benchmark: str = "xtreme"
    #: another split measured and shown beside the verdict's (e.g. test beside a claim's dev numbers)
    beside_split: str = ""

    @property
    def label(self) -> str:
        """What the check asserts, in words."""
        return claim_checks.describe(self)

    @property
    def claimed_region(self) -> tuple[float, float, bool, bool] | None:
        """:func:`region` of this check; None where it asserts no numeric region (a config check)."""
        try:
            return region(self.comparison, self.value, self.tolerance)
        except (KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Claim:
    """A claim as declared in the claims file (set tokens already expanded)."""

    id: str
    text: str
    origin: str
    extracted_by: str
    confidence: str
    evidence: str
    model: str
    checks: tuple[Check, ...]
    notes: str = ""


def _expand(tokens, what: str, claim_id: str) -> tuple[str, ...]:
    """Expands @nine / @xtreme / @all and refuses unknown task names (with a near match)."""
    cat = load_catalog()
    sets = {
        "@nine": cat.intermediate_tasks(),
        "@xtreme": [t for t in cat.tasks if cat.tasks[t].role == "target" and "XTREME" in cat.tasks[t].benchmarks],
        "@xtreme-r": [t for t in cat.tasks if cat.tasks[t].role == "target" and "XTREME-R" in cat.tasks[t].benchmarks],
        "@all": [t for t in cat.tasks if cat.tasks[t].role == "target"],
    }
    out: list[str] = []
    for tok in tokens:
        if tok.startswith("@"):
            if tok not in sets:
                raise StoreError(f"claim {claim_id}: unknown set {tok!r}{suggest(tok, sets)}")
            out += sets[tok]
        elif what == "intermediate" and tok in (BASELINE, MULTITASK):
            out.append(tok)
        else:
            try:
                cat.task(tok, role=None if what == "aggregate" else what)
            except StoreError as e:
                raise StoreError(f"claim {claim_id}: {e}") from None
            out.append(tok)
    return tuple(dict.fromkeys(out))


def _check(d: dict, claim: dict) -> Check:
    cid = claim["id"]
    if d.get("quantity") not in (*claim_checks.MEASURES, "config_model"):
        raise StoreError(f"claim {cid}: unknown quantity {d.get('quantity')!r}{suggest(str(d.get('quantity')), claim_checks.MEASURES)}")
    if d.get("comparison") not in COMPARISONS:
        raise StoreError(f"claim {cid}: unknown comparison {d.get('comparison')!r}; use one of {', '.join(COMPARISONS)}")
    unknown = set(d) - (set(Check.__dataclass_fields__) - {"model"})
    if unknown:
        raise StoreError(f"claim {cid}: unknown check field(s) {', '.join(sorted(unknown))}")
    c = Check(
        quantity=d["quantity"], comparison=d["comparison"], model=claim["model"],
        intermediates=_expand(d.get("intermediates", ()), "intermediate", cid),
        targets=_expand(d.get("targets", ()), "target", cid),
        aggregates=_expand(d.get("aggregates", ()), "aggregate", cid),
        variant=d.get("variant", ""), items=tuple(d.get("items", ())), value=d.get("value"),
        tolerance=float(d.get("tolerance", 0.0)), target_type=d.get("target_type", ""),
        config_key=d.get("config_key", ""), expected=tuple(d.get("expected", ())),
        setting=d.get("setting", "zero-shot"), split=d.get("split", "test"),
        benchmark=d.get("benchmark", "xtreme"), beside_split=d.get("beside_split", ""),
    )
    if c.benchmark not in BENCHMARKS:
        raise StoreError(f"claim {cid}: benchmark must be one of {', '.join(BENCHMARKS)}")
    for split in (c.split, c.beside_split):
        if split and split not in SPLITS:
            raise StoreError(f"claim {cid}: split {split!r} is not one of {', '.join(SPLITS)}")
    if c.quantity == "variant_difference" and c.variant not in VARIANTS[1:]:
        raise StoreError(f"claim {cid}: variant must be one of {', '.join(VARIANTS[1:])}")
    if c.quantity == "complex_minus_simple" and c.target_type not in TASK_TYPES:
        raise StoreError(f"claim {cid}: target_type must be one of {', '.join(TASK_TYPES)}")
    pool = c.intermediates if c.quantity == "mean_gain_over_targets" else c.targets
    if c.comparison == "top_k" and not set(c.items) < set(pool):
        raise StoreError(f"claim {cid}: top_k items {c.items} must be a proper subset of {pool}")
    if c.comparison in ("within", "greater", "at_most", "at_least") and c.value is None:
        raise StoreError(f"claim {cid}: comparison {c.comparison!r} needs a value")
    return c


def load_claims(path: str | Path = CLAIMS_FILE) -> dict[str, Claim]:
    """Reads and validates the claims file; duplicate ids and unknown names fail loudly."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise StoreError(f"cannot read claims file {path}: {e}") from e
    out: dict[str, Claim] = {}
    for d in data["claims"]:
        if d["id"] in out:
            raise StoreError(f"duplicate claim id {d['id']!r} in {path}: each claim is declared once")
        if d["evidence"] not in EVIDENCE:
            raise StoreError(f"claim {d['id']}: evidence must be one of {', '.join(EVIDENCE)}")
        checks = tuple(_check(c, d) for c in d["checks"])
        keep = {k: d.get(k, "") for k in ("id", "text", "origin", "extracted_by", "confidence", "evidence", "model", "notes")}
        out[d["id"]] = Claim(**keep, checks=checks)
    return out


def select(claims: dict[str, Claim], ids) -> list[Claim]:
    """Claims by id, or by the id's number prefix (``c1`` or ``1``); unknown ids get a near match."""
    if not ids:
        return list(claims.values())
    out = []
    for want in ids:
        prefix = want if not want.isdigit() else f"c{want}"
        hits = [c for i, c in claims.items() if i == want or i.split("-")[0] == prefix]
        if len(hits) != 1:
            raise StoreError(f"unknown claim {want!r}{suggest(want, claims)}; known: {', '.join(claims)}")
        out += hits
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------------- verdicts
def region(comparison: str, claimed=None, tolerance: float = 0.0) -> tuple[float, float, bool, bool]:
    """The claimed region of a comparison: (low, high, low is open, high is open)."""
    inf = float("inf")
    return {
        "within": (claimed - tolerance, claimed + tolerance, False, False) if claimed is not None else None,
        "greater": (claimed, inf, True, True),
        "top_k": (0.0, inf, True, True),
        "at_most": (-inf, (claimed or 0.0) + tolerance, True, False),
        "at_least": (claimed, inf, False, True),
    }[comparison]


def judge(comparison: str, value, lo, hi, claimed=None, tolerance: float = 0.0) -> tuple[str, str]:
    """Rule 2 of the module docstring: (verdict, reason).

    >>> judge("within", 8.0, 7.6, 8.4, 8.2, 1.0)
    ('supported', 'interval [7.6, 8.4] inside [7.2, 9.2]')
    >>> judge("greater", -1.0, -1.5, -0.2, 0.0)
    ('contradicted', 'interval [-1.5, -0.2] outside (0, inf)')
    """
    if value is None or lo is None or hi is None:
        return UNDECIDED, "interval undefined (needs at least 2 seed x language rows per item)"
    a, b, a_open, b_open = region(comparison, claimed, tolerance)
    inside = (lo > a if a_open else lo >= a) and (hi < b if b_open else hi <= b)
    outside = (hi <= a if a_open else hi < a) or (lo >= b if b_open else lo > b)
    shown = f"{'(' if a_open else '['}{a:g}, {b:g}{')' if b_open else ']'}"
    what = "margin interval" if comparison == "top_k" else "interval"
    if inside:
        return SUPPORTED, f"{what} [{lo:.1f}, {hi:.1f}] inside {shown}"
    if outside:
        return CONTRADICTED, f"{what} [{lo:.1f}, {hi:.1f}] outside {shown}"
    return UNDECIDED, f"{what} [{lo:.1f}, {hi:.1f}] overlaps the edge of {shown}"


@dataclass(frozen=True)
class CheckResult:
    """A judged check: verdict, measured value and interval, runs used and runs missing."""

    check: Check
    verdict: str
    reason: str
    measure: claim_checks.Measure
    coverage: claim_checks.Coverage
    complete: bool
    #: the same quantity on ``check.beside_split`` (shown beside, never judged)
    beside: claim_checks.Measure | None = None


@dataclass(frozen=True)
class ClaimResult:
    """A judged claim; ``value`` and the interval are its first check's."""

    claim: Claim
    model: str
    verdict: str
    checks: tuple[CheckResult, ...]
    runs_used: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def value(self) -> float | None:
        return self.checks[0].measure.value

    @property
    def interval(self) -> tuple[float | None, float | None]:
        m = self.checks[0].measure
        return (m.ci_low, m.ci_high)


def evaluate_check(ev: claim_checks.Evidence, check: Check, beside: claim_checks.Evidence | None = None) -> CheckResult:
    """Measures one check on the evidence and applies the verdict rule (``beside``: measured only)."""
    m, cov = claim_checks.MEASURES[check.quantity](ev, check)
    complete = not cov.missing and not cov.other_split
    if m.verdict == CONTRADICTED or (check.comparison == "config" and m.verdict):
        verdict, reason = m.verdict, m.reason
    elif not complete:
        verdict = UNDECIDED
        parts = []
        if cov.missing:
            parts.append(f"{len(cov.missing)} of the {cov.needed} needed runs missing (baselines included)")
        if cov.other_split:
            parts.append(f"{len(cov.other_split)} pairs have runs without {check.split}-split results "
                         f"(e.g. {cov.other_split[0]}; the runner records test sets)")
        reason = "; ".join(parts)
    elif check.comparison == "config":
        verdict, reason = SUPPORTED, m.reason
    elif m.verdict == UNDECIDED or (m.value is None and m.reason):
        verdict, reason = UNDECIDED, m.reason
    else:
        verdict, reason = judge(check.comparison, m.value, m.ci_low, m.ci_high, check.value, check.tolerance)
    other = claim_checks.MEASURES[check.quantity](beside, check)[0] if beside is not None else None
    return CheckResult(check, verdict, reason, m, cov, complete, other)


def combine(verdicts) -> str:
    """A claim's verdict: contradicted if any check is, supported if all are, else not enough evidence."""
    verdicts = list(verdicts)
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    return SUPPORTED if verdicts and all(v == SUPPORTED for v in verdicts) else UNDECIDED


def evaluate(store, claims: dict[str, Claim] | None = None, ids=None, model: str | None = None,
             include_capped: bool = False) -> list[ClaimResult]:
    """Evaluates claims on an open store.

    Args:
        store: an open :class:`store.database.Store`.
        claims: the claims (default: the bundled claims file).
        ids: claim ids or number prefixes (default: all).
        model: whose runs to evaluate (default: each claim's model, xlm-roberta-large).
        include_capped: also use capped (debug) runs; each configuration is still kept apart.
    """
    claims = claims if claims is not None else load_claims()
    evidence: dict[tuple, claim_checks.Evidence] = {}

    def ev_for(m: str, check: Check, split: str) -> claim_checks.Evidence:
        key = (m, check.setting, split, check.benchmark, include_capped)
        return evidence.setdefault(key, claim_checks.Evidence(store, *key))

    out = []
    for claim in select(claims, ids):
        m = model or claim.model
        results = []
        for check in claim.checks:
            beside = ev_for(m, check, check.beside_split) if check.beside_split else None
            results.append(evaluate_check(ev_for(m, check, check.split), check, beside))
        used = tuple(sorted({r for c in results for r in c.coverage.used}))
        missing = tuple(dict.fromkeys(cmd for c in results for cmd in c.coverage.missing))
        out.append(ClaimResult(claim, m, combine(c.verdict for c in results), tuple(results), used, missing))
    return out


# ---------------------------------------------------------------------- frames and records
def scope(check: Check) -> str:
    """What a check's number refers to: split, benchmark and tasks."""
    if check.comparison == "config":
        return "recorded configuration"
    tasks = check.targets
    shown = ", ".join(tasks) if len(tasks) <= 4 else f"{len(tasks)} tasks"
    return f"{check.split}, {BENCHMARKS[check.benchmark]} languages, {shown}"


def check_record(c: CheckResult) -> dict:
    m, b = c.measure, c.beside
    return {
        "check": c.check.label, "split": c.check.split, "benchmark": c.check.benchmark, "tasks": list(c.check.targets),
        "scope": scope(c.check),
        "beside": None if b is None else {"split": c.check.beside_split, "value": b.value, "ci_low": b.ci_low,
                                          "ci_high": b.ci_high, "reason": b.reason},
        "quantity": c.check.quantity, "comparison": c.check.comparison,
        "claimed": c.check.value, "tolerance": c.check.tolerance, "verdict": c.verdict, "reason": c.reason,
        "value": m.value, "ci_low": m.ci_low, "ci_high": m.ci_high, "interval": m.interval, "n_rows": m.n,
        "complete": c.complete, "runs_used": list(c.coverage.used), "runs_missing": list(c.coverage.missing),
        "detail": m.detail,
    }


def claim_record(r: ClaimResult) -> dict:
    """One claim as a JSON-ready record (what ``--format json`` prints and the dashboard renders)."""
    c = r.claim
    return {
        "id": c.id, "text": c.text, "origin": c.origin, "extracted_by": c.extracted_by, "confidence": c.confidence,
        "evidence": EVIDENCE[c.evidence], "model": r.model, "notes": c.notes, "verdict": r.verdict,
        "value": r.value, "ci_low": r.interval[0], "ci_high": r.interval[1], "measure": r.checks[0].check.label,
        "n_runs_used": len(r.runs_used), "runs_used": list(r.runs_used),
        "n_runs_missing": len(r.missing), "runs_missing": list(r.missing),
        "checks": [check_record(ch) for ch in r.checks],
    }


def claims_frame(results: list[ClaimResult]) -> pl.DataFrame:
    """One row per claim: verdict, value, interval, runs used and the commands still to run."""
    rows = [{k: v for k, v in claim_record(r).items() if k != "checks"} for r in results]
    return pl.DataFrame(rows, schema_overrides={"value": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64})


def checks_frame(results: list[ClaimResult]) -> pl.DataFrame:
    """One row per check (claim id first); ``detail`` stays in :func:`claim_record`."""
    rows = [{"id": r.claim.id, **{k: v for k, v in check_record(c).items() if k != "detail"}}
            for r in results for c in r.checks]
    return pl.DataFrame(rows, schema_overrides={"value": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
                                                 "claimed": pl.Float64})


def missing_commands(results: list[ClaimResult]) -> list[str]:
    """Every missing run of these claims once, in claim order."""
    return list(dict.fromkeys(cmd for r in results for cmd in r.missing))


# ---------------------------------------------------------------------- rendering
FORMATS = ("text", "markdown", "json", "latex")
_SHOWN_COMMANDS = 5


def _fmt(value, lo=None, hi=None, signed: bool = True) -> str:
    if value is None:
        return "–"
    spec = "+.1f" if signed else "g"
    out = f"{value:{spec}}"
    return out + (f" [{lo:{spec}}, {hi:{spec}}]" if lo is not None and hi is not None else "")


def _value_of(c: CheckResult) -> str:
    m = c.measure
    signed = c.check.comparison not in ("at_least", "config")
    partial = "" if c.complete or m.value is None else " (partial)"
    return _fmt(m.value, m.ci_low, m.ci_high, signed) + partial


def render_text(results: list[ClaimResult]) -> str:
    """Per claim: verdict, text, origin, each check's value, interval and reason, runs used and missing."""
    out = []
    for r in results:
        c = r.claim
        conf = f", confidence {c.confidence}" if c.confidence else ""
        out += [f"{c.id}: {r.verdict.upper()}  ({EVIDENCE[c.evidence]}, {r.model})", f"  {c.text}",
                f"  origin: {c.origin} [{c.extracted_by}{conf}]"]
        if c.notes:
            out.append(f"  note: {c.notes}")
        for ch in r.checks:
            out += [f"  - {ch.verdict:<20} {ch.check.label}", f"      on {scope(ch.check)}",
                    f"      value {_value_of(ch)}"
                    + (f"  ({ch.measure.interval})" if ch.measure.interval and ch.measure.value is not None else ""),
                    f"      {ch.reason}"]
            for d in ch.measure.detail:  # configurations kept apart: one line each
                if d.get("config"):
                    out.append(f"      {d['item']}: {_fmt(d.get('value'), d.get('ci_low'), d.get('ci_high'))}"
                               f"  (n_seeds {d.get('n_seeds')}, baseline n_seeds {d.get('baseline_n_seeds')})")
            if ch.beside is not None:
                signed = ch.check.comparison not in ("at_least", "config")
                b = ch.beside
                out.append(f"      beside, on {ch.check.beside_split}: {_fmt(b.value, b.ci_low, b.ci_high, signed)}"
                           + (f" ({b.reason})" if b.reason else ""))
        out.append(f"  runs used: {len(r.runs_used)}   runs missing: {len(r.missing)}")
        out += [f"    {cmd}" for cmd in r.missing[:_SHOWN_COMMANDS]]
        if len(r.missing) > _SHOWN_COMMANDS:
            out.append(f"    ... and {len(r.missing) - _SHOWN_COMMANDS} more (--commands prints them all)")
        out.append("")
    return "\n".join(out)


def render_markdown(results: list[ClaimResult]) -> str:
    """A claims table and a checks table (GitHub-flavoured Markdown)."""
    lines = ["| claim | verdict | value [95% interval] | evidence | runs used | runs missing |", "|---|---|---:|---|---:|---:|"]
    for r in results:
        lines.append(f"| {r.claim.id} | {r.verdict} | {_value_of(r.checks[0])} | {EVIDENCE[r.claim.evidence]} "
                     f"| {len(r.runs_used)} | {len(r.missing)} |")
    lines += ["", "| claim | check | verdict | value [95% interval] | why |", "|---|---|---|---:|---|"]
    for r in results:
        for ch in r.checks:
            cells = [r.claim.id, ch.check.label, ch.verdict, _value_of(ch), ch.reason]
            lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    return "\n".join(lines) + "\n"


def render_latex(results: list[ClaimResult]) -> str:
    """A booktabs tabular: claim, verdict, value, interval, runs used and missing."""
    from store.exports import latex_escape

    lines = ["% Claims checked against the store (store claims)", r"\begin{tabular}{lllrrr}", r"\toprule",
             r"Claim & Verdict & Evidence & Value [95\% CI] & Runs used & Runs missing \\", r"\midrule"]
    for r in results:
        cells = [r.claim.id, r.verdict, EVIDENCE[r.claim.evidence], _value_of(r.checks[0]), str(len(r.runs_used)), str(len(r.missing))]
        lines.append(" & ".join(latex_escape(x).replace("–", "--") for x in cells) + r" \\")
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}", ""])


def render(results: list[ClaimResult], fmt: str) -> str:
    """The results in one of :data:`FORMATS`."""
    if fmt == "json":
        return json.dumps([claim_record(r) for r in results], indent=1, ensure_ascii=False) + "\n"
    renderers = {"text": render_text, "markdown": render_markdown, "latex": render_latex}
    if fmt not in renderers:
        raise StoreError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return renderers[fmt](results)
