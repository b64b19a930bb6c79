"""The catalog: tasks, languages, task languages and models, declared once as data.

The CSV files under ``store/data/catalog/`` are the single source of truth; this module only
loads them into frozen records and refuses what they do not declare.

Example:
    >>> from store.catalog import load_catalog
    >>> cat = load_catalog()
    >>> cat.task("xnli").headline_metric
    'accuracy'
    >>> sorted(cat.task_languages("pawsx"))[:3]
    ['de', 'en', 'es']
"""

from __future__ import annotations

import csv
import difflib
import functools
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from store.errors import StoreError

DATA_DIR = Path(__file__).parent / "data"
CATALOG_DIR = DATA_DIR / "catalog"

#: Intermediate-task spellings that are not a single task.
BASELINE = "none"
MULTITASK = "multitask"
#: Published-only: "best English intermediate task per target" (the X-STILTs leaderboard entry).
BEST_PER_TARGET = "best"
#: Language code of a published average over a task's languages.
AVERAGE_LANGUAGE = "avg"

ROLES = ("intermediate", "target", "aggregate")
#: The kinds of URIEL+ distance to English in ``uriel_distances.json`` (see store/uriel.py).
DISTANCE_KINDS = (
    "syntactic", "phonological", "inventory", "featural", "morphological", "genetic", "geographic", "script",
)
DISTANCES_FILE_NAME = "uriel_distances.json"
TASK_TYPES = ("classification", "structured prediction", "question answering", "retrieval")


@dataclass(frozen=True)
class Task:
    """One task: an English intermediate task, a target task, or a published aggregate."""

    task: str
    role: str
    name: str
    benchmarks: tuple[str, ...]
    task_type: str
    task_subtype: str
    format_level: str
    metrics: tuple[str, ...]
    headline_metric: str
    higher_is_better: bool
    english_training: str
    hf_dataset: str
    hf_config_pattern: str
    phase2: str
    notes: str


@dataclass(frozen=True)
class Language:
    """One XTREME / XTREME-R language (ISO 639-1 code as the benchmarks use it)."""

    code: str
    name: str
    family: str
    genus: str
    script: str
    resource_class: int | None
    in_xtreme: bool
    in_xtreme_r: bool
    glottocode: str = ""


@dataclass(frozen=True)
class Model:
    """An encoder that runs can use; unknown models are allowed and flagged as such."""

    model: str
    name: str
    family: str
    modality: str
    params_m: float | None
    hf_id: str
    known: bool = True


def _read_csv(name: str) -> list[dict[str, str]]:
    with open(CATALOG_DIR / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def suggest(name: str, choices: Iterable[str]) -> str:
    """Returns ' (did you mean X?)' for the closest of ``choices``, or ''."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _unique(records: Iterable, key: str, what: str) -> dict:
    out: dict = {}
    for rec in records:
        k = getattr(rec, key)
        if k in out:
            raise StoreError(f"duplicate {what} {k!r} in the catalog: each is declared once")
        out[k] = rec
    return out


@dataclass(frozen=True)
class Catalog:
    """Every task, language, task-language pair and model the store knows."""

    tasks: dict[str, Task]
    languages: dict[str, Language]
    models: dict[str, Model]
    # (benchmark, task) -> languages, in the order of the reference file
    benchmark_languages: dict[tuple[str, str], tuple[str, ...]]

    def task(self, name: str, role: str | None = None) -> Task:
        """Returns the task called ``name``; raises StoreError with a near match otherwise."""
        pool = {k: t for k, t in self.tasks.items() if role is None or t.role == role}
        if name not in pool:
            what = f"{role} task" if role else "task"
            raise StoreError(
                f"unknown {what} {name!r}{suggest(name, pool)}; "
                f"known: {', '.join(sorted(pool))}"
            )
        return pool[name]

    def intermediate_tasks(self) -> list[str]:
        return sorted(k for k, t in self.tasks.items() if t.role == "intermediate")

    def target_tasks(self) -> list[str]:
        return sorted(k for k, t in self.tasks.items() if t.role == "target")

    def task_languages(self, task: str, benchmark: str | None = None) -> tuple[str, ...]:
        """Languages a target is evaluated on: one benchmark's list, or the union (XTREME-R last)."""
        self.task(task)
        if benchmark is not None:
            return self.benchmark_languages.get((benchmark, task), ())
        seen: dict[str, None] = {}
        for (_, t), langs in sorted(self.benchmark_languages.items()):
            if t == task:
                seen.update(dict.fromkeys(langs))
        return tuple(seen)

    def language(self, code: str) -> Language:
        if code not in self.languages:
            raise StoreError(f"unknown language {code!r}{suggest(code, self.languages)}")
        return self.languages[code]

    def model(self, model: str) -> Model:
        """Returns the catalog entry, or an entry flagged ``known=False`` for other models."""
        if model in self.models:
            return self.models[model]
        return Model(model, model, "unknown", "unknown", None, model, known=False)

    def parse_intermediate(self, spec: str) -> tuple[str, ...]:
        """Splits an intermediate spec into its tasks: 'none' -> (), 'mnli+squad' -> ('mnli', 'squad').

        ``multitask`` expands to all nine intermediate tasks. Member order is canonicalised
        (sorted) so that ``squad+mnli`` and ``mnli+squad`` are the same experiment.
        """
        if spec == BASELINE:
            return ()
        if spec == MULTITASK:
            return tuple(self.intermediate_tasks())
        parts = spec.split("+")
        if any(not p for p in parts):
            raise StoreError(f"malformed intermediate {spec!r}: join task names with '+', e.g. mnli+squad")
        for p in parts:
            self.task(p, role="intermediate")
        if len(set(parts)) != len(parts):
            raise StoreError(f"intermediate {spec!r} names a task twice")
        return tuple(sorted(parts))

    def canonical_intermediate(self, spec: str) -> str:
        """The stored spelling: 'none', 'multitask', or the sorted '+'-join of the tasks."""
        if spec in (BASELINE, MULTITASK, BEST_PER_TARGET):
            return spec
        tasks = self.parse_intermediate(spec)
        if tuple(tasks) == tuple(self.intermediate_tasks()):
            return MULTITASK
        return "+".join(tasks)

    def fingerprint(self) -> str:
        """A hash of every catalog and published data file: the index is rebuilt when it changes."""
        h = hashlib.sha256()
        for path in sorted(DATA_DIR.rglob("*")):
            if path.is_file():
                h.update(path.relative_to(DATA_DIR).as_posix().encode())
                h.update(path.read_bytes())
        return h.hexdigest()[:16]


def _tasks() -> list[Task]:
    out = []
    for r in _read_csv("tasks.csv"):
        if r["role"] not in ROLES:
            raise StoreError(f"task {r['task']!r}: role {r['role']!r} is not one of {ROLES}")
        metrics = tuple(m for m in r["metrics"].split(";") if m)
        if r["headline_metric"] not in metrics:
            raise StoreError(f"task {r['task']!r}: headline metric is not among its metrics")
        out.append(
            Task(
                task=r["task"],
                role=r["role"],
                name=r["name"],
                benchmarks=tuple(b for b in r["benchmarks"].split(";") if b),
                task_type=r["task_type"],
                task_subtype=r["task_subtype"],
                format_level=r["format_level"],
                metrics=metrics,
                headline_metric=r["headline_metric"],
                higher_is_better=r["higher_is_better"] == "true",
                english_training=r["english_training"],
                hf_dataset=r["hf_dataset"],
                hf_config_pattern=r["hf_config_pattern"],
                phase2=r["phase2"],
                notes=r["notes"],
            )
        )
    return out


def _languages() -> list[Language]:
    return [
        Language(
            code=r["iso639_1"],
            name=r["name_en"],
            family=r["family"],
            genus=r["genus"],
            script=r["script"],
            resource_class=int(r["joshi_class"]) if r["joshi_class"] else None,
            in_xtreme=r["in_xtreme"] == "true",
            in_xtreme_r=r["in_xtreme_r"] == "true",
            glottocode=r["glottocode"],
        )
        for r in _read_csv("languages.csv")
    ]


def _models() -> list[Model]:
    return [
        Model(
            model=r["model"],
            name=r["name"],
            family=r["family"],
            modality=r["modality"],
            params_m=float(r["params_m"]) if r["params_m"] else None,
            hf_id=r["hf_id"],
        )
        for r in _read_csv("models.csv")
    ]


@functools.cache
def load_catalog() -> Catalog:
    """Loads and cross-checks the catalog files (cached: they ship with the package)."""
    tasks = _unique(_tasks(), "task", "task")
    languages = _unique(_languages(), "code", "language")
    models = _unique(_models(), "model", "model")
    bench: dict[tuple[str, str], list[str]] = {}
    for r in _read_csv("task_languages.csv"):
        key = (r["benchmark"], r["task_id"])
        if r["task_id"] not in tasks:
            raise StoreError(f"task_languages.csv names unknown task {r['task_id']!r}")
        if r["language"] not in languages:
            raise StoreError(f"task_languages.csv names unknown language {r['language']!r}")
        langs = bench.setdefault(key, [])
        if r["language"] in langs:
            raise StoreError(f"task_languages.csv lists {key} / {r['language']} twice")
        langs.append(r["language"])
    return Catalog(tasks, languages, models, {k: tuple(v) for k, v in bench.items()})


@dataclass(frozen=True)
class Distances:
    """URIEL+ distances to English per catalog language and kind (None where URIEL+ has none).

    Written by ``store distances --write`` (store/uriel.py); read here, never from the package.
    """

    package: str
    package_version: str
    citation: str
    base_citation: str
    reference_language: str
    configuration: dict
    kinds: dict[str, str]
    # language -> kind -> distance (0-1) or None
    values: dict[str, dict[str, float | None]]
    uriel_codes: dict[str, str | None]

    def distance(self, language: str, kind: str) -> float | None:
        if kind not in self.kinds:
            raise StoreError(f"unknown distance kind {kind!r}{suggest(kind, self.kinds)}; known: {', '.join(self.kinds)}")
        return self.values.get(language, {}).get(kind)


@functools.cache
def load_distances() -> Distances:
    """Loads and checks ``uriel_distances.json``: every catalog language, every kind, values in [0, 1]."""
    path = CATALOG_DIR / DISTANCES_FILE_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    cat = load_catalog()
    kinds = dict(data["kinds"])
    if tuple(kinds) != DISTANCE_KINDS:
        raise StoreError(f"{path.name}: kinds {list(kinds)} are not {list(DISTANCE_KINDS)}; rerun `store distances --write`")
    values: dict[str, dict[str, float | None]] = {}
    codes: dict[str, str | None] = {}
    for row in data["languages"]:
        lang = row["language"]
        cat.language(lang)
        if lang in values:
            raise StoreError(f"{path.name} lists language {lang!r} twice")
        for k in kinds:
            v = row[k]
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and 0.0 <= v <= 1.0):
                raise StoreError(f"{path.name}: {lang} {k} distance {v!r} is not in [0, 1] or null")
        values[lang] = {k: (None if row[k] is None else float(row[k])) for k in kinds}
        codes[lang] = row["uriel_code"]
    missing = set(cat.languages) - set(values)
    if missing:
        raise StoreError(f"{path.name} lacks catalog languages {sorted(missing)}; rerun `store distances --write`")
    return Distances(
        package=data["package"],
        package_version=data["package_version"],
        citation=data["citation"],
        base_citation=data["base_citation"],
        reference_language=data["reference_language"],
        configuration=dict(data["configuration"]),
        kinds=kinds,
        values=values,
        uriel_codes=codes,
    )


@dataclass(frozen=True)
class StudyDesign:
    """The runs that answer the study's question: every intermediate task and the baseline, per seed."""

    intermediates: tuple[str, ...]
    seeds: tuple[int, ...]
    baseline: str = BASELINE


@functools.cache
def study_design() -> StudyDesign:
    """The study design of ``data/catalog/study.json`` (intermediate tasks from ``tasks.csv``)."""
    raw = json.loads((CATALOG_DIR / "study.json").read_text())
    seeds = tuple(raw["seeds"])
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise StoreError(f"study.json: seeds must be a non-empty list of integers, got {raw['seeds']!r}")
    return StudyDesign(intermediates=tuple(load_catalog().intermediate_tasks()), seeds=seeds)
