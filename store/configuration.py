"""Configuration identity: everything that defines a run except its seed.

An aggregate is always over one *configuration*; ``n_seeds`` counts the distinct seeds of it. Two
ids are derived from a run's record (never from its scores):

* ``config_id``: the hyperparameters as recorded (``hparams``: recipe and every effective
  training setting of both phases, example caps, retrieval layer, QA settings, the variant's settings and its
  data identity, multi-task sampling), the variant, and the data revisions the run read
  (``config['data_sources']``, ``repo@revision:pattern`` each).
* ``target_config_id``: the configuration of the run's *target phase* only, which is what a
  ``none`` baseline must share with the run it is subtracted from: ``hparams`` without the
  intermediate phase's own settings (``intermediate``, ``mlm``, ``translated``, ``mix``; ``qa`` unless the target
  is question answering, and ``qa.squad_version`` always; per-stage epochs of the intermediate tasks). The target data revisions
  (``config['target_data_sources']``, recorded by the runner) are compared beside it where both
  runs record them (:data:`TARGET_DATA_KEY`).

A run is *capped* when any recorded ``max_*_examples`` setting is set (debug runs): capped runs
are marked in every view and left out of paper exports and claims unless asked for.

Example:
    >>> from store.records import Run
    >>> full = Run(model="m", intermediate="mnli", target="xnli", seed=1, hparams={"learning_rate": 1e-5})
    >>> capped = Run(model="m", intermediate="mnli", target="xnli", seed=1,
    ...              hparams={"learning_rate": 1e-5, "max_train_examples": 100})
    >>> config_id(full) == config_id(capped), is_capped(full), is_capped(capped)
    (False, False, True)
    >>> differing([flatten(full), flatten(capped)])
    ['max_train_examples']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from store.catalog import BASELINE, MULTITASK, load_catalog

#: ``config`` key where the runner records the data revisions its target phase and evaluation read.
TARGET_DATA_KEY = "target_data_sources"
#: hparams keys that belong to the intermediate phase only (never to the target phase):
#: ``intermediate`` holds phase 1's training settings (runs made with a recipe record them).
_INTERMEDIATE_ONLY = ("mlm", "translated", "mix", "intermediate")
#: What ``recipe`` reads as for a run recorded before recipes existed (its hparams name none).
LEGACY_RECIPE = "(before recipes)"
_UNSET = "(unset)"


def _canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _digest(obj: object) -> str:
    return hashlib.sha256(_canonical(obj).encode()).hexdigest()[:12]


def _record(run) -> Mapping:
    return run.config if isinstance(run.config, Mapping) else {}


def configuration(run) -> dict:
    """The run's configuration as plain data: hparams, variant, data revisions (no seed)."""
    data = _record(run).get("data_sources")
    return {"hparams": dict(run.hparams), "variant": run.variant, "data": sorted(data) if data else None}


def recipe(run) -> str:
    """The recipe a run was made with; runs recorded before recipes existed read as
    :data:`LEGACY_RECIPE` (their settings were the runner's own defaults then, not a recipe's)."""
    name = dict(run.hparams).get("recipe")
    return str(name) if name else LEGACY_RECIPE


def _intermediate_tasks(intermediate: str) -> tuple[str, ...]:
    if intermediate == BASELINE:
        return ()
    if intermediate == MULTITASK:
        return tuple(load_catalog().intermediate_tasks())
    return tuple(intermediate.split("+"))


def target_configuration(run) -> dict:
    """The configuration of the target phase: what a matching ``none`` baseline shares with the run."""
    cat = load_catalog()
    target_type = cat.tasks[run.target].task_type if run.target in cat.tasks else ""
    hp = {k: v for k, v in dict(run.hparams).items() if k not in _INTERMEDIATE_ONLY}
    if target_type != "question answering":
        hp.pop("qa", None)
    elif isinstance(hp.get("qa"), Mapping):  # which SQuAD trains phase 1 is not the target phase's
        hp["qa"] = {k: v for k, v in hp["qa"].items() if k != "squad_version"}
    inters = _intermediate_tasks(run.intermediate)
    if isinstance(hp.get("epochs_per_stage"), Mapping):
        hp["epochs_per_stage"] = {
            k: v for k, v in hp["epochs_per_stage"].items() if not any(k == t or k.startswith(f"{t}_") for t in inters)
        }
    if hp.get("epochs_per_stage") == {}:
        del hp["epochs_per_stage"]  # no per-stage setting left: the same as none recorded
    return {"hparams": hp}


def target_data(run) -> str | None:
    """The target phase's data revisions as one canonical string, or None where not recorded."""
    data = _record(run).get(TARGET_DATA_KEY)
    return _canonical(sorted(data)) if data else None


def config_id(run) -> str:
    """Hash of :func:`configuration` (runs that share it differ only in their seed)."""
    return _digest(configuration(run))


def target_config_id(run) -> str:
    """Hash of :func:`target_configuration`."""
    return _digest(target_configuration(run))


def _walk(prefix: str, value: object, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for k in sorted(value):
            _walk(f"{prefix}.{k}" if prefix else str(k), value[k], out)
        if not value and prefix:
            out[prefix] = "{}"
    else:
        out[prefix] = _UNSET if value is None else value if isinstance(value, str) else _canonical(value)


def flatten(run) -> dict[str, str]:
    """The configuration as ``{dotted.key: value}`` (hparams keys without their ``hparams.`` prefix)."""
    cfg = configuration(run)
    out: dict[str, str] = {}
    _walk("", cfg["hparams"], out)
    out["variant"] = cfg["variant"] or "plain"
    out["data"] = _UNSET if cfg["data"] is None else ", ".join(cfg["data"])
    return out


def is_capped(run) -> bool:
    """True if any recorded ``max_*_examples`` cap is set (a debug run, not a paper run)."""
    return any(
        k.rsplit(".", 1)[-1].startswith("max_") and k.endswith("_examples") and v != _UNSET
        for k, v in flatten(run).items()
    )


def differing(flat: Sequence[Mapping[str, str]]) -> list[str]:
    """The keys whose values are not the same in every one of these flattened configurations."""
    keys = sorted({k for f in flat for k in f})
    return [k for k in keys if len({f.get(k, _UNSET) for f in flat}) > 1]


def label(flat: Mapping[str, str], keys: Sequence[str]) -> str:
    """``k=v, k2=v2`` over ``keys`` (the ones that differ), '' when none differ."""
    return ", ".join(f"{k}={flat.get(k, _UNSET)}" for k in keys)
