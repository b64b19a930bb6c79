"""Named recipes: published training protocols as data, every value with the file it comes from.

``xstilts`` (jiant's X-STILTs settings), ``xtreme`` (google-research/xtreme's per-task scripts)
and ``xtreme-r`` live in ``runner/recipes/<name>.yaml``. A recipe gives the settings of phase 1
(``intermediate``), defaults for phase 2 (``target``) and per-target values (``targets``); a
target or phase may say ``same_as: OTHER`` to take another recipe's values (XTREME has no
intermediate phase, jiant no XCOPA). Each value is ``{value, source, status}``: ``source`` is
``ALIAS:path Lnn`` with the alias's ``owner/repo@commit`` in ``repos``; ``status`` is ``V`` (read
in that file) or ``I`` (inferred). Where the published protocol cannot be followed offline or is
ambiguous, ``notes`` say so; ``runner run --dry-run`` prints the notes of the pair being run.

Keys of a phase: ``TrainConfig`` fields (``learning_rate``, ``batch_size``, ``select_every`` ...);
of a target also ``qa.FIELD``, ``retrieval.FIELD``, ``epochs.STAGE`` and ``formats.ADAPTER``.

Layering (``defaults``, used by ``runner.config.build_config``): recipe < YAML file < ``--set`` and flags. A ``train.X`` the user gives
applies to both phases; ``intermediate.X`` to phase 1 only.

Example:
    >>> r = get("xstilts")
    >>> r.resolve("xnli")["train"]["batch_size"].value, r.resolve("xnli")["intermediate"]["batch_size"].value
    (4, 4)
    >>> r.resolve("xnli")["train"]["grad_accum"].source
    'nyu-mll/jiant@daa5a258:jiant/scripts/benchmarks/xtreme/subscripts/d_write_configs.sh L11-17'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from runner.errors import RunnerError
from store.catalog import suggest

#: The recipe a run gets when none is named.
DEFAULT = "xstilts"
FOLDER = Path(__file__).parent
#: Phase-2 selection settings, which only a target defines completely.
SELECTION = ("select", "select_every", "dev_subset", "patience")
_SOURCE = re.compile(r"^(?P<alias>[A-Za-z][\w-]*):\S")


@dataclass(frozen=True)
class Value:
    """One recipe value: what it is, the file (and lines) it comes from, V(erified) or I(nferred)."""

    value: object
    source: str
    status: str
    checked: bool = False


@dataclass(frozen=True)
class Recipe:
    """One recipe as read from its YAML file (``same_as`` references kept, resolved on use)."""

    name: str
    title: str
    model: str
    notes: tuple[str, ...]
    intermediate: Mapping
    target: Mapping
    targets: Mapping[str, Mapping]

    def phase1(self) -> tuple[dict[str, Value], list[str]]:
        """Phase 1 values and the notes that go with them."""
        section = self.intermediate
        if "same_as" in section:
            values, notes = get(section["same_as"]).phase1()
            return values, notes + list(section.get("notes", ()))
        return _values(section), list(section.get("notes", ()))

    def phase2(self, target: str | None) -> tuple[dict[str, Value], list[str]]:
        """Phase 2 values for ``target`` (defaults only when None) and their notes."""
        entry = self.targets.get(target, {}) if target else {}
        if "same_as" in entry:
            values, notes = get(entry["same_as"]).phase2(target)
            return {**values, **_values(entry)}, notes + list(entry.get("notes", ()))
        return {**_values(self.target), **_values(entry)}, list(entry.get("notes", ()))

    def resolve(self, target: str | None) -> dict[str, dict[str, Value]]:
        """``{"intermediate": {field: Value}, "train": {...}, "qa": {...}, "epochs": {...}, ...}``."""
        out: dict[str, dict[str, Value]] = {"intermediate": self.phase1()[0], "train": {}}
        for key, value in self.phase2(target)[0].items():
            section, _, name = key.rpartition(".")
            out.setdefault(section or "train", {})[name] = value
        return out

    def notes_for(self, target: str | None, intermediate: bool = True) -> list[str]:
        """The notes that apply to a pair: the recipe's, phase 1's (if any), the target's."""
        return list(self.notes) + (self.phase1()[1] if intermediate else []) + self.phase2(target)[1]


def _values(section: Mapping) -> dict[str, Value]:
    return {k: v for k, v in section.items() if isinstance(v, Value)}


def names() -> list[str]:
    """The recipes shipped with the runner, ``xstilts`` first."""
    found = sorted(p.stem for p in FOLDER.glob("*.yaml"))
    return sorted(found, key=lambda n: n != DEFAULT)


@functools.lru_cache(maxsize=None)
def get(name: str) -> Recipe:
    """The recipe called ``name``; RunnerError with a near match for an unknown name."""
    known = names()
    if name not in known:
        raise RunnerError(f"unknown recipe {name!r}{suggest(name, known)}; known: {', '.join(known)} "
                          "(`runner recipes` lists them)")
    return _load(FOLDER / f"{name}.yaml")


def _load(path: Path) -> Recipe:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    name = data.get("name")
    if name != path.stem:
        raise RunnerError(f"recipe file {path.name}: name {name!r} must be {path.stem!r}")
    repos = data.get("repos") or {}

    def section(raw: Mapping, where: str) -> dict:
        out: dict = {}
        for key, item in (raw or {}).items():
            if key in ("same_as", "notes"):
                out[key] = item if key == "same_as" else tuple(_expand(n, repos) for n in item)
            else:
                out[key] = _value(item, repos, f"{name}: {where}.{key}")
        return out

    return Recipe(name=name, title=str(data.get("title", "")), model=str(data.get("model", "")),
                  notes=tuple(_expand(n, repos) for n in data.get("notes") or ()),
                  intermediate=section(data.get("intermediate"), "intermediate"),
                  target=section(data.get("target"), "target"),
                  targets={t: section(entry, f"targets.{t}") for t, entry in (data.get("targets") or {}).items()})


def _value(item: object, repos: Mapping[str, str], where: str) -> Value:
    """A ``{value, source, status}`` mapping as a Value with the source's alias expanded."""
    if not isinstance(item, Mapping) or not {"value", "source", "status"} <= set(item):
        raise RunnerError(f"recipe {where}: give {{value, source, status}}, got {item!r}")
    source, status = str(item["source"]).strip(), str(item["status"])
    match = _SOURCE.match(source)
    if not match or match["alias"] not in repos:
        raise RunnerError(f"recipe {where}: source {source!r} must start with a repo alias of `repos` "
                          f"({', '.join(repos) or 'none defined'}) and name a file")
    if status not in ("V", "I"):
        raise RunnerError(f"recipe {where}: status {status!r} must be V (verified in the file) or I (inferred)")
    return Value(item["value"], _expand(source, repos), status, bool(item.get("checked", False)))


def _expand(text: str, repos: Mapping[str, str]) -> str:
    """Every ``ALIAS:path`` in ``text`` as ``owner/repo@commit:path``."""
    for alias, repo in repos.items():
        text = re.sub(rf"(?<![\w/@.-]){re.escape(alias)}:(?=\S)", f"{repo}:", text)
    return text


# ------------------------------------------------------------------------------------ layering
def _target_of(pair: object) -> str | None:
    if isinstance(pair, str) and pair.count(":") == 1:
        return pair.split(":")[1] or None
    return None


def _trains(target: str | None) -> bool:
    """Whether ``target`` has a phase 2 (BUCC and Tatoeba do not: their phase-2 values define nothing)."""
    from runner.tasks.registry import registry

    spec = registry().get(target) if target else None
    return spec is None or bool(spec.stages)


def defaults(values: Mapping) -> dict:
    """The named recipe's settings for the run ``values`` describe (YAML merged with ``--set`` and
    flags), to be layered *under* ``values`` (``runner.config.build_config``).

    They name the recipe (``recipe``), phase 1's settings (``intermediate``), phase 2's
    (``train``), and the target's QA, retrieval, per-stage epoch and input-format settings. A
    ``train.X`` in ``values`` is copied into phase 1's too (it applies to every phase), a
    ``train.epochs`` drops the recipe's per-stage epochs (it sets every stage), and a
    ``qa.max_length`` drops the recipe's phase-1 QA window length.
    """
    name = values.get("recipe") or DEFAULT
    if not isinstance(name, str):
        raise RunnerError(f"recipe must be a name ({', '.join(names())}), got {name!r}")
    recipe = get(name)
    target = _target_of(values.get("pair"))
    resolved = recipe.resolve(target if target in recipe.targets else None)
    base: dict = {key: {k: v.value for k, v in section.items()} for key, section in resolved.items()}
    if not _trains(target):
        base["train"] = {}
        base.pop("epochs", None)
    elif target is None:  # no pair (plan, grid, throughput): phase 2's selection is per target
        base["train"] = {k: v for k, v in base["train"].items() if k not in SELECTION}
    user_train = values.get("train")
    if isinstance(user_train, Mapping):
        base["intermediate"] = {**base["intermediate"], **user_train}
        if "epochs" in user_train:
            base.pop("epochs", None)
    user_qa = values.get("qa")
    if isinstance(user_qa, Mapping) and "max_length" in user_qa:
        base["intermediate"].pop("qa_max_length", None)  # the user's QA windows: every phase
    base["recipe"] = name
    return base
