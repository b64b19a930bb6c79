"""The store's contract: one frozen record per run, per result row and per English dev score.

A run is identified by a deterministic ``run_id`` derived from what defines it (source, model,
intermediate task(s), target, variant, seed, hyperparameters). Its *content* (results and dev
scores) has a hash too: writing the same run twice is a no-op, writing different content under
the same id is an error.

Example:
    >>> from store.records import Run, Result
    >>> run = Run(model="xlm-roberta-large", intermediate="mnli", target="xnli", seed=1)
    >>> run.run_id.startswith("mnli__xnli__s1__")
    True
    >>> Result(language="de", metric="accuracy", value=78.1, n_examples=5010).split
    'test'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from store.catalog import AVERAGE_LANGUAGE, BEST_PER_TARGET, Catalog, load_catalog, suggest
from store.errors import StoreError

RUNNER_SOURCE = "runner"
#: ``source`` of the synthetic runs of ``store demo`` (``store.demo``), never mixed with real ones.
DEMO_SOURCE = "demo"
#: ``test-goldonly``: BUCC mined among the gold pairs alone (the Hub's bucc18 data), not the shared
#: task's corpus; kept apart so it never sits beside published BUCC (``test``).
SPLITS = ("test", "validation", "test-goldonly")
SETTINGS = ("zero-shot", "translate-test", "translate-train", "translate-train-all")
VARIANTS = ("", "mlm", "translated")
PHASES = ("intermediate", "target")
# Values are on a 0-100 scale; this much float noise is tolerated when comparing content.
_VALUE_DECIMALS = 9
#: What the index columns hold: ``runs.seed`` is INTEGER (int32), ``n_examples`` BIGINT (int64).
SEED_MAX = 2**31 - 1
N_EXAMPLES_MAX = 2**63 - 1
#: Longest accepted text per field (characters). A name is an id, a path or a label; free text
#: (notes, citations) may be longer but must still fit comfortably in one shard and one index row.
NAME_MAX = 512
TEXT_MAX = 20_000
SOURCE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _canonical_json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Result:
    """One number: a metric on one language of the run's target, on a 0-100 scale.

    Attributes:
        language: ISO 639-1 code as the benchmark uses it (``avg`` only for published averages).
        metric: metric name declared for the target task (``accuracy``, ``f1``, ``em``, ...).
        value: points, 0-100.
        split: ``test``, ``validation`` or ``test-goldonly`` (BUCC mined among its gold pairs only).
        n_examples: evaluation examples behind the value (for size-weighted averages).
        metric_as_printed / value_as_printed / conversion: provenance of published numbers.
    """

    language: str
    metric: str
    value: float
    split: str = "test"
    n_examples: int | None = None
    metric_as_printed: str = ""
    value_as_printed: str = ""
    conversion: str = ""
    notes: str = ""

    def key(self) -> tuple[str, str, str]:
        return (self.language, self.split, self.metric)


@dataclass(frozen=True)
class DevScore:
    """An English dev score of one training phase (the intermediate one feeds complexity axis C)."""

    phase: str
    task: str
    metric: str
    value: float
    n_examples: int | None = None


@dataclass(frozen=True)
class Run:
    """What defines a run, plus what was recorded about it.

    Fields that define the run (and its ``run_id``): source, model, intermediate, target, variant,
    seed, setting, hparams, label. Everything else is a record of how it went and does not change
    its identity.
    """

    model: str
    intermediate: str
    target: str
    seed: int | None = None
    variant: str = ""
    setting: str = "zero-shot"
    source: str = RUNNER_SOURCE
    hparams: Mapping[str, object] = field(default_factory=dict)
    #: For published rows: the model as the source prints it (e.g. "XLM-R (Conneau et al., 2020a)").
    label: str = ""
    # --- record, not identity ---
    config: Mapping[str, object] = field(default_factory=dict)
    dev_scores: Sequence[DevScore] = ()
    code_version: str = ""
    hardware: str = ""
    wall_time_s: float | None = None
    gpu_hours: float | None = None
    created_at: str = ""
    #: Content hash of the run's per-example predictions file (``store.predictions``); "" for none.
    predictions: str = ""

    @property
    def run_id(self) -> str:
        ident = {
            "source": self.source,
            "model": self.model,
            "intermediate": self.intermediate,
            "target": self.target,
            "variant": self.variant,
            "seed": self.seed,
            "setting": self.setting,
            "hparams": dict(self.hparams),
            "label": self.label,
        }
        digest = hashlib.sha256(_canonical_json(ident).encode()).hexdigest()[:12]
        seed = "na" if self.seed is None else str(self.seed)
        return f"{self.intermediate}__{self.target}__s{seed}__{digest}"

    def stamped(self) -> Run:
        """This run with ``created_at`` filled in (UTC, ISO 8601) if it was empty."""
        if self.created_at:
            return self
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return Run(**{**self.__dict__, "created_at": now})

    def to_json(self) -> str:
        d = asdict(self)
        d["hparams"] = dict(self.hparams)
        d["config"] = dict(self.config)
        return _canonical_json(d)

    @classmethod
    def from_json(cls, text: str) -> Run:
        d = json.loads(text)
        d["dev_scores"] = tuple(DevScore(**s) for s in d.get("dev_scores", ()))
        return cls(**d)


def content_hash(run: Run, results: Sequence[Result]) -> str:
    """Hash of what a run *measured*: identity, results and dev scores (not timings or paths)."""
    rows = sorted(
        (r.language, r.split, r.metric, round(r.value, _VALUE_DECIMALS), r.n_examples) for r in results
    )
    dev = sorted(
        (s.phase, s.task, s.metric, round(s.value, _VALUE_DECIMALS), s.n_examples) for s in run.dev_scores
    )
    payload = _canonical_json({"run_id": run.run_id, "results": rows, "dev": dev})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _check_value(value: float, what: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise StoreError(f"{what}: value {value!r} is not a number")
    if math.isnan(value) or math.isinf(value):
        raise StoreError(f"{what}: value is {value}; only finite scores can be stored")
    if not 0.0 <= value <= 100.0:
        raise StoreError(
            f"{what}: value {value} is outside 0-100; store points (multiply fractions by 100)"
        )


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:40]) + f"... ({len(text):,} characters)"


def check_source_key(key: str) -> None:
    """Raises StoreError unless ``key`` is a short file-name-safe key (it names ``sources/<key>.json``)."""
    if not isinstance(key, str) or not SOURCE_KEY.match(key):
        raise StoreError(
            f"source key {_shown(str(key))} is not a short key: use 1-64 letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit), e.g. smith2024_table3"
        )


def check_text(value: object, what: str, limit: int = NAME_MAX, single_line: bool = True) -> None:
    """Raises StoreError unless ``value`` is a string of at most ``limit`` characters (one line if asked)."""
    if not isinstance(value, str):
        raise StoreError(f"{what} must be text, not {type(value).__name__}")
    if len(value) > limit:
        raise StoreError(f"{what} {_shown(value)} is too long: at most {limit:,} characters")
    if single_line and _CONTROL.search(value):
        raise StoreError(f"{what} {_shown(value)} holds a line break or control character; give one line of text")


def check_int(value: object, what: str, low: int, high: int) -> None:
    """Raises StoreError unless ``value`` is None or an integer in ``[low, high]`` (what the index holds)."""
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise StoreError(f"{what} {value!r} is not an integer")
    if not low <= value <= high:
        raise StoreError(f"{what} {_shown(str(value))} is out of range: give an integer from {low} to {high:,}")


def _check_sizes(run: Run, results: Sequence[Result]) -> None:
    """Every field fits the shard and index types, before anything else looks at it."""
    check_source_key(run.source)
    for name in ("model", "intermediate", "target", "variant", "setting", "label"):
        check_text(getattr(run, name), name)
    for name in ("code_version", "hardware", "created_at"):
        check_text(getattr(run, name), name, TEXT_MAX, single_line=False)
    check_int(run.seed, "seed", 0, SEED_MAX)
    for t in (run.wall_time_s, run.gpu_hours):
        if t is not None and (not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0):
            raise StoreError(f"run {run.intermediate}:{run.target}: a timing is {t!r}; give seconds/hours >= 0")
    if len(_canonical_json([dict(run.hparams), dict(run.config)])) > 50 * TEXT_MAX:
        raise StoreError("the run's hparams and config are too large to store (over 1 MB of JSON)")
    for s in run.dev_scores:
        for name in ("phase", "task", "metric"):
            check_text(getattr(s, name), f"dev score {name}")
        check_int(s.n_examples, "dev score n_examples", 0, N_EXAMPLES_MAX)
    for r in results:
        for name in ("language", "metric", "split", "metric_as_printed", "value_as_printed", "conversion"):
            check_text(getattr(r, name), name)
        check_text(r.notes, "notes", TEXT_MAX, single_line=False)
        check_int(r.n_examples, f"{run.target}/{r.language}/{r.metric}: n_examples", 0, N_EXAMPLES_MAX)


def validate(run: Run, results: Sequence[Result], catalog: Catalog | None = None) -> None:
    """Raises StoreError (one line, with a fix) if the run or any result is not storable.

    Sizes and ranges come first (every text fits, ``seed`` fits ``runs.seed``, ``n_examples``
    fits BIGINT), so nothing that the shard or the index cannot hold gets any further.
    """
    cat = catalog or load_catalog()
    published = run.source != RUNNER_SOURCE
    _check_sizes(run, results)
    if not run.model:
        raise StoreError("model is empty: give a catalog model id or a Hub id / local path")
    if not (published and run.intermediate == BEST_PER_TARGET):
        if run.intermediate != cat.canonical_intermediate(run.intermediate):
            raise StoreError(
                f"intermediate {run.intermediate!r} is not canonical: "
                f"write {cat.canonical_intermediate(run.intermediate)!r}"
            )
    target = cat.task(run.target, role=None if published else "target")
    if target.role == "intermediate":
        raise StoreError(f"{run.target!r} is an intermediate task, not a target")
    if run.variant not in VARIANTS:
        shown = ", ".join(v or "'' (none)" for v in VARIANTS)
        raise StoreError(f"variant {run.variant!r} is not one of {shown}")
    if run.setting not in SETTINGS:
        raise StoreError(f"setting {run.setting!r} is not one of {', '.join(SETTINGS)}{suggest(run.setting, SETTINGS)}")
    if not published and run.seed is None:
        raise StoreError("a runner run needs a seed")
    for s in run.dev_scores:
        what = f"run {run.run_id}: dev score {s.phase}/{s.task}/{s.metric}"
        if s.phase not in PHASES:
            raise StoreError(f"{what}: phase must be one of {PHASES}")
        task = cat.task(s.task)
        if s.metric not in task.metrics:
            raise StoreError(f"{what}: metric not declared for {s.task} ({', '.join(task.metrics)})")
        _check_value(s.value, what)
    if not results:
        raise StoreError(f"run {run.run_id} has no results: nothing to store")
    langs = set(cat.task_languages(run.target)) if target.role == "target" else set()
    seen: set[tuple[str, str, str]] = set()
    for r in results:
        what = f"{run.target}/{r.language}/{r.metric}"
        if r.language == AVERAGE_LANGUAGE:
            if not published:
                raise StoreError(f"{what}: 'avg' rows are for published averages; store each language")
        elif target.role == "aggregate":
            raise StoreError(f"{what}: an aggregate target only takes language 'avg'")
        elif r.language not in langs:
            raise StoreError(
                f"{what}: language {r.language!r} is not evaluated in {run.target}"
                f"{suggest(r.language, langs)}; it has {', '.join(sorted(langs))}"
            )
        if r.metric not in target.metrics:
            raise StoreError(
                f"{what}: metric {r.metric!r} is not declared for {run.target}"
                f"{suggest(r.metric, target.metrics)}; it has {', '.join(target.metrics)}"
            )
        if r.split not in SPLITS:
            raise StoreError(f"{what}: split {r.split!r} is not one of {', '.join(SPLITS)}")
        _check_value(r.value, what)
        if r.key() in seen:
            raise StoreError(f"{what} ({r.split}) appears twice in one run")
        seen.add(r.key())
