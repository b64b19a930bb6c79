"""``runner plan``: a grid's runs and chains, what is done, and estimated GPU-hours per phase.

Estimated seconds of a phase = training tokens / training throughput + evaluation tokens /
evaluation throughput, where

* training tokens = the stage's training split x its epochs (multi-task intermediate phases: every
  task's split, for the largest epoch count, as the training loop mixes them);
* evaluation tokens = the English dev split x epochs (scored after every epoch), and for phase 3
  every language's test split;
* a split's tokens are **counted**: its examples read from the local data (``--data-dir``),
  encoded exactly as the runner encodes them with the model's tokenizer (truncation, windows,
  one sequence per answer choice), real tokens summed, and cached in
  ``WORK/cache/token_counts.json``; or, when the data are not local (or ``--from-catalog``),
  **estimated** from the catalog: the split's size (``intermediate_tasks.csv`` train sizes, the
  XTREME dataset statistics of RemBERT Table 11; a range's midpoint) times a mean number of tokens
  per example (the catalog's bytes per example / ``BYTES_PER_TOKEN``, else the kind table's
  ``assumed_tokens``);
* throughput comes from ``runner.grid.throughput`` (configured, measured, or a labelled assumption).

Not included: loading and saving models, tokenising, job queueing. Phase 1 is counted once per
intermediate checkpoint, however many targets reuse it; phases and runs already done cost nothing
in the "to run" column.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from runner.data.read import DataLocation, local_files, read_source, read_stage
from runner.errors import RunnerError
from runner.grid.chains import Grid
from runner.grid.throughput import Throughput
from runner.kinds import KINDS
from runner.modeling.encoder import load_tokenizer
from runner.modeling.features import tokenizer_fingerprint
from runner.pipeline import phase_status, stage_epochs
from runner.tasks.records import CCG_LOCAL, Source, Stage
from runner.tasks.registry import get_task
from store.catalog import _read_csv  # the catalog's own CSV reader

#: Bytes of UTF-8 text per XLM-R sub-token on English (assumption: about 4.2 characters per token).
BYTES_PER_TOKEN = 4.0
#: Where the catalog states each split's size: (stage or target, split) -> (file, row).
#: "intermediate" is intermediate_tasks.csv (train sizes, bytes per example); "xtreme" is
#: xtreme_dataset_statistics_rembert_table11.csv (train / dev / test size per language).
CATALOG_ROWS = {
    ("mnli", "train"): ("intermediate", "MNLI"), ("qqp", "train"): ("intermediate", "QQP"),
    ("sst2", "train"): ("intermediate", "SST-2"), ("anli", "train"): ("intermediate", "ANLI+"),
    ("commonsenseqa", "train"): ("intermediate", "CommonsenseQA"),
    ("cosmosqa", "train"): ("intermediate", "Cosmos QA"), ("hellaswag", "train"): ("intermediate", "HellaSwag"),
    ("siqa", "train"): ("intermediate", "SocialIQA"), ("xnli_en", "train"): ("intermediate", "XNLI-en"),
    ("xnli_en", "dev"): ("xtreme", "XNLI"), ("xnli", "test"): ("xtreme", "XNLI"),
    ("pawsx_en", "train"): ("xtreme", "PAWS-X"), ("pawsx_en", "dev"): ("xtreme", "PAWS-X"),
    ("pawsx", "test"): ("xtreme", "PAWS-X"),
    ("udpos_en", "train"): ("xtreme", "POS"), ("udpos_en", "dev"): ("xtreme", "POS"), ("udpos", "test"): ("xtreme", "POS"),
    ("panx_en", "train"): ("xtreme", "NER"), ("panx_en", "dev"): ("xtreme", "NER"), ("panx", "test"): ("xtreme", "NER"),
}


@dataclass(frozen=True)
class SplitTokens:
    """Examples and real tokens of one split; ``basis`` is ``counted``, ``catalog`` or ``unknown``."""

    examples: int
    tokens: int
    basis: str


def _number(text: str) -> int | None:
    """'392,702' -> 392702; '47-20,436' -> the midpoint; anything else -> None."""
    parts = [p.strip().replace(",", "") for p in text.split("-")]
    if not all(p.isdigit() for p in parts) or not parts:
        return None
    return round(sum(int(p) for p in parts) / len(parts))


def _catalog_rows() -> dict[tuple[str, str], dict]:
    rows = {("intermediate", r["task"]): r for r in _read_csv("intermediate_tasks.csv")}
    for r in _read_csv("xtreme_dataset_statistics_rembert_table11.csv"):
        rows.setdefault(("xtreme", r["target_task"]), {})[r["metric"]] = r["value"]
    return rows


class TokenCounter:
    """Tokens per split: counted on local data with the model's tokenizer, else from the catalog."""

    def __init__(self, cfg, work: Path, from_catalog: bool = False):
        self.cfg = cfg
        self.loc = DataLocation(Path(cfg.data_dir).expanduser() if cfg.data_dir else None,
                                Path(cfg.ccg_path).expanduser() if cfg.ccg_path else None)
        self.from_catalog = from_catalog
        self.cache_path = work / "cache" / "token_counts.json"
        self.cache: dict = json.loads(self.cache_path.read_text()) if self.cache_path.exists() else {}
        self._dirty = False
        self._tokenizer = None
        self._fingerprint = ""
        self.tokenizer_error = ""
        self.rows = _catalog_rows()
        #: (stage or target, split) with no size in the catalog: their tokens count as 0 (a lower bound)
        self.unknown: set[tuple[str, str]] = set()

    # -------------------------------------------------------------- sources
    def _local(self, src: Source) -> bool:
        if self.from_catalog:
            return False
        for ref in src.refs:
            if ref.repo is CCG_LOCAL:
                if self.loc.ccg_path is None or not local_files(ref, self.loc):
                    return False
            elif self.loc.data_dir is None or not local_files(ref, self.loc):
                return False
        return True

    @property
    def tokenizer(self):
        if self._tokenizer is None and not self.tokenizer_error:
            try:
                self._tokenizer = load_tokenizer(self.cfg.model)
                self._fingerprint = tokenizer_fingerprint(self._tokenizer)
            except RunnerError as e:
                self.tokenizer_error = str(e)
        return self._tokenizer

    def _key(self, what: str, limit: int | None, max_length: int | None = None) -> str:
        return hashlib.sha256(json.dumps([what, limit, max_length or self.cfg.train.max_length,
                                          self._fingerprint]).encode()).hexdigest()[:16]

    def _counted(self, kind: str, examples, max_length: int | None = None) -> SplitTokens:
        enc = KINDS[kind].encode(examples, self.tokenizer, max_length=max_length or self.cfg.train.max_length)
        return SplitTokens(len(examples), sum(enc.real_tokens(i) for i in range(len(enc))), "counted")

    def _remember(self, key: str, value: SplitTokens) -> SplitTokens:
        self.cache[key] = [value.examples, value.tokens]
        self._dirty = True
        return value

    def save(self) -> None:
        """Writes new counts to the cache file (atomic rewrite)."""
        if self._dirty:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(self.cache, indent=0, sort_keys=True))
            os.replace(tmp, self.cache_path)

    # -------------------------------------------------------------- catalog estimates
    def _estimate(self, name: str, split: str, kind: str, limit: int | None) -> SplitTokens:
        where = CATALOG_ROWS.get((name, split))
        row = self.rows.get(where, {}) if where else {}
        if where and where[0] == "intermediate":
            n = _number(row.get("train_size", ""))
            size_bytes = _number(row.get("hf_train_bytes_per_example", ""))
        else:
            n = _number(row.get(f"{split}_size", "")) if row else None
            size_bytes = None
        per_example = size_bytes / BYTES_PER_TOKEN if size_bytes else KINDS[kind].assumed_tokens
        if n is None or per_example is None:
            self.unknown.add((name, split))
            return SplitTokens(0, 0, "unknown")
        n = min(n, limit) if limit else n
        return SplitTokens(n, round(n * per_example), "catalog")

    # -------------------------------------------------------------- public
    def stage(self, stage: Stage, cfg=None) -> tuple[SplitTokens, SplitTokens]:
        """(train, dev) tokens of an English training stage, within the run's example caps, at the
        maximum length of ``cfg`` (the run's config of the stage's phase; default the plan's)."""
        tr = (cfg or self.cfg).train
        if not (self._local(stage.train) and self._local(stage.dev)) or self.tokenizer is None:
            return (self._estimate(stage.name, "train", stage.kind, tr.max_train_examples),
                    self._estimate(stage.name, "dev", stage.kind, tr.max_eval_examples))
        keys = [self._key(repr(("stage", stage.name, split, src)), lim, tr.max_length) for split, src, lim in
                (("train", stage.train, tr.max_train_examples), ("dev", stage.dev, tr.max_eval_examples))]
        if all(k in self.cache for k in keys):
            return tuple(SplitTokens(*self.cache[k], "counted") for k in keys)  # type: ignore[return-value]
        train, dev, _ = read_stage(stage, self.loc, tr.max_train_examples, tr.max_eval_examples)
        return (self._remember(keys[0], self._counted(stage.kind, train, tr.max_length)),
                self._remember(keys[1], self._counted(stage.kind, dev, tr.max_length)))

    def test(self, target: str, lang: str) -> SplitTokens:
        """Tokens of one language's test split of a target."""
        spec = get_task(target)
        src, kind, limit = spec.test[lang], spec.eval_kind, self.cfg.train.max_eval_examples
        if not self._local(src) or self.tokenizer is None or KINDS[kind].encode is None:
            return self._estimate(target, "test", kind, limit)
        key = self._key(repr(("test", target, lang, src)), limit)
        if key in self.cache:
            return SplitTokens(*self.cache[key], "counted")
        return self._remember(key, self._counted(kind, read_source(src, spec.labels, self.loc, limit)))


# ------------------------------------------------------------------------------- costs
@dataclass
class Cost:
    """Tokens of one phase: trained, and evaluated (forward only), with their bases."""

    train_tokens: int = 0
    eval_tokens: int = 0
    bases: set[str] = field(default_factory=set)
    what: str = ""

    def hours(self, tp: Throughput) -> float:
        return (self.train_tokens / tp.train + self.eval_tokens / tp.eval) / 3600


def phase_costs(lay, counter: TokenCounter) -> dict[str, Cost]:
    """Tokens of each phase of one run's layout (``intermediate`` is absent for baselines)."""
    out: dict[str, Cost] = {}
    if lay.pair.tasks:
        stages = [get_task(t).stages[0] for t in lay.pair.tasks]
        epochs = max(stage_epochs(lay.cfg, s, "intermediate") for s in stages)
        c = Cost(what=f"{lay.pair.intermediate} {epochs} ep")
        for s in stages:
            train, dev = counter.stage(s, lay.cfg.phase("intermediate"))
            c.train_tokens += train.tokens * epochs
            c.eval_tokens += dev.tokens * epochs
            c.bases |= {train.basis, dev.basis}
        out["intermediate"] = c
    c = Cost(what=" + ".join(f"{s.name} {stage_epochs(lay.cfg, s)} ep" for s, _ in lay.stage_dirs) or "none")
    for s, _ in lay.stage_dirs:
        train, dev = counter.stage(s, lay.cfg)
        epochs = stage_epochs(lay.cfg, s)
        c.train_tokens += train.tokens * epochs
        c.eval_tokens += dev.tokens * epochs
        c.bases |= {train.basis, dev.basis}
    out["target"] = c
    c = Cost(what=f"{len(lay.languages)} languages")
    for lang in lay.languages:
        t = counter.test(lay.pair.target, lang)
        c.eval_tokens += t.tokens
        c.bases.add(t.basis)
    out["evaluation"] = c
    return out


def remaining(lay, phase: str, stored: bool) -> float:
    """Share of a phase still to run (0 when its artefacts or the run's shard exist)."""
    if stored:
        return 0.0
    status = phase_status(lay)
    if phase == "intermediate":
        return 0.0 if status[0][2] == "cached" else 1.0
    if phase == "target":
        stages = [s for s in status if s[0].startswith("2")]
        return sum(s[2] != "cached" for s in stages) / len(stages) if stages else 0.0
    done = sum((lay.run_dir / "predictions" / f"{lang}.json").exists() for lang in lay.languages)
    return 1 - done / len(lay.languages) if lay.languages else 0.0


# ------------------------------------------------------------------------------- report
def _h(hours: float) -> str:
    if hours == 0:
        return "-"
    if hours < 1e-4:
        return "<0.0001"
    return f"{hours:.2g}" if hours < 1 else f"{hours:.1f}" if hours < 100 else f"{hours:,.0f}"


def _hours(hours: float, cost: Cost | None = None, lower: bool = False) -> str:
    """GPU-hours for a table cell: ``?`` where nothing of a phase is known, ``≥x`` where part is not."""
    unknown = lower or (cost is not None and "unknown" in cost.bases)
    if unknown:
        return "?" if hours == 0 else f"≥{_h(hours)}"
    return _h(hours)


def _basis_line(bases: set[str], counter: TokenCounter) -> str:
    parts = []
    if "counted" in bases:
        parts.append(f"counted with the model's tokenizer on the local data in {counter.loc.data_dir} "
                     f"(cached in {counter.cache_path})")
    if "catalog" in bases:
        why = ("--from-catalog" if counter.from_catalog else counter.tokenizer_error or
               "the data are not in --data-dir" if counter.loc.data_dir else "no --data-dir")
        parts.append(f"estimated from the catalog's split sizes x mean tokens per example ({why}; "
                     f"bytes per example / {BYTES_PER_TOKEN:g}, else per head kind: { {k.name: k.assumed_tokens for k in KINDS.values() if k.assumed_tokens} }: assumptions)")
    if "unknown" in bases:
        parts.append("some splits have no size in the catalog: shown as ? (or ≥ where part of a phase is known), "
                     "counted as 0 in the totals, which are therefore lower bounds (listed below)")
    return "; ".join(parts)


def render(grid: Grid, tp: Throughput, counter: TokenCounter, selection: str) -> str:
    """The plan as text: chains, runs with their phases, totals per phase (whole grid and to run)."""
    lines = []
    runs = grid.runs
    stored = {r.run_id for r in runs if grid.stored(r.run_id)}
    first = next(iter(grid.layouts.values()), None)
    model = first.run.model if first else ""
    inter_chains = [c for c in grid.chains if c.inter_dir]
    recipe = f"; recipe {first.cfg.recipe} (`runner recipes {first.cfg.recipe}`)" if first else ""
    lines.append(f"plan: {selection} = {len(runs)} runs in {len(grid.chains)} chains; model {model}{recipe}")
    lines.append(f"store: {grid.store} ({len(stored)} of {len(runs)} runs already there)")
    for name, why in grid.skipped:
        lines.append(f"skipped: {name} ({why})")
    totals = {p: [0.0, 0.0] for p in ("intermediate", "target", "evaluation")}
    bases: set[str] = set()
    costs = {r.run_id: phase_costs(grid.layouts[r.run_id], counter) for r in runs}
    for c in costs.values():
        for cost in c.values():
            bases |= cost.bases
    lines.append(f"tokens: {_basis_line(bases, counter)}")
    lines.append(f"throughput: training {tp.train:,.0f} tokens/s, evaluation {tp.eval:,.0f} tokens/s ({tp.basis})")
    lines.append("")
    lines.append(f"intermediate checkpoints (phase 1): {len(inter_chains)}, each trained once by the first run of "
                 "its chain and reused by the others")
    lines.append(f"  {'checkpoint':<16} {'seed':>4} {'train tokens':>13} {'GPU-h':>8}  {'state':<18} shared by")
    for chain in inter_chains:
        first = grid.layouts[chain.runs[0].run_id]
        cost = costs[chain.runs[0].run_id]["intermediate"]
        done = all(r.run_id in stored for r in chain.runs)
        left = 0.0 if done else remaining(first, "intermediate", False)
        state = "cached" if left == 0 else "partial (resumes)" if first.inter_dir.exists() else "to train"
        hours = cost.hours(tp)
        totals["intermediate"][0] += hours
        totals["intermediate"][1] += hours * left
        shared = ", ".join(r.pair.split(":")[1] for r in chain.runs)
        tokens = "?" if "unknown" in cost.bases and not cost.train_tokens else f"{cost.train_tokens:,}"
        lines.append(f"  {chain.label.rsplit(' ', 1)[0]:<16} {chain.runs[0].seed:>4} {tokens:>13} "
                     f"{_hours(hours, cost):>8}  {state:<18} {len(chain.runs)} runs: {shared}")
    lines.append("")
    lines.append("runs (phase 1 intermediate | phase 2 target fine-tuning | phase 3 zero-shot evaluation; GPU-h)")
    rows = [["#", "pair", "seed", "phase 1", "phase 2", "phase 3", "state"]]
    for chain in grid.chains:
        for i, r in enumerate(chain.runs):
            lay, c = grid.layouts[r.run_id], costs[r.run_id]
            is_stored = r.run_id in stored
            p1 = "none" if chain.inter_dir is None else f"{'trains' if i == 0 else 'reuses'} {chain.label}"
            cells = []
            for phase in ("target", "evaluation"):
                hours = c[phase].hours(tp)
                totals[phase][0] += hours
                totals[phase][1] += hours * remaining(lay, phase, is_stored)
                skipped = phase == "target" and not lay.stage_dirs  # no target fine-tuning (BUCC, Tatoeba)
                cells.append(f"{c[phase].what} {_h(hours) if skipped else _hours(hours, c[phase])}")
            state = "stored" if is_stored else "partial (resumes)" if lay.run_dir.exists() else "to run"
            rows.append([str(r.index), r.pair, str(r.seed), p1, *cells, state])
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    for row in [rows[0]] + sorted(rows[1:], key=lambda row: int(row[0])):
        right = {0, 2}
        lines.append("  " + " ".join(cell.rjust(widths[k]) if k in right else cell.ljust(widths[k])
                                     for k, cell in enumerate(row)).rstrip())
    lines.append("")
    lower = {p: any("unknown" in c[p].bases for c in costs.values() if p in c) for p in totals}
    lines.append(f"  {'GPU-hours':<14} {'whole grid':>12} {'to run':>12}")
    for phase, (whole, left) in totals.items():
        lines.append(f"  {phase:<14} {_hours(whole, lower=lower[phase]):>12} {_hours(left, lower=lower[phase]):>12}")
    whole, left = sum(t[0] for t in totals.values()), sum(t[1] for t in totals.values())
    if any(lower.values()):
        lines.append(f"  {'total':<14} {_hours(whole, lower=True):>12} {_hours(left, lower=True):>12}  (lower bound)")
        missing = ", ".join(f"{name} {split}" for name, split in sorted(counter.unknown))
        lines.append(f"lower bound: {len(counter.unknown)} splits have no size in the catalog and count as 0 tokens: "
                     f"{missing}; with the data local (--data-dir DIR, without --from-catalog) every split is counted "
                     "with the model's tokenizer")
    else:
        lines.append(f"  {'total':<14} {_h(whole):>12} {_h(left):>12}")
    n_left = len(runs) - len(stored)
    lines.append(f"to run: {n_left} of {len(runs)} runs; `runner grid` with the same flags runs them "
                 "(excluded: model loading and saving, tokenising, queueing)")
    return "\n".join(lines)
