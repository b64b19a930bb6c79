"""Published reference results, imported as source-tagged runs.

Each CSV under ``store/data/published/`` is copied verbatim from the project's reference folder
and keeps its own README (the ``.md`` beside it). This module maps each source's vocabulary onto
the store's (model ids, task ids, splits, settings, metric names) and converts fractions to
points, recording every conversion. Nothing is interpolated or recomputed.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import Decimal

from store.catalog import AVERAGE_LANGUAGE, BASELINE, BEST_PER_TARGET, DATA_DIR
from store.errors import StoreError
from store.records import Result, Run

PUBLISHED_DIR = DATA_DIR / "published"


@dataclass(frozen=True)
class Source:
    """A published source: the paper table or repository file the numbers come from."""

    source: str
    citation: str
    locator: str
    quality: str
    file: str
    notes: str


@dataclass(frozen=True)
class _File:
    name: str
    quality: str
    # source key per distinct value of the CSV's ``source`` column
    keys: dict[str, str]


_FILES = (
    _File("rembert_table16_xtreme_leaderboard_per_task.csv", "paper table", {"Table 16": "rembert_t16"}),
    _File("rembert_table7_xtreme_leaderboard_categories.csv", "paper table", {"Table 7": "rembert_t7"}),
    _File("mt5_readme_xtreme_zeroshot_task_avgs.csv", "repository", {"multilingual-t5": "mt5_readme"}),
    _File("fairseq_xlmr_readme_xnli_mlqa_per_language.csv", "repository", {"fairseq": "fairseq_xlmr_readme"}),
    _File("jiant_dev_pr128_xlmr_large_bucc_tatoeba_val.csv", "pull request", {"pull request #128": "jiant_pr128"}),
    _File(
        "community_reported_per_language_xquad_mlqa.csv",
        "second-hand",
        {"issue #8": "xtreme_issue8", "issue #38": "xtreme_issue38"},
    ),
)

#: Source keys of the published results: reserved, `store import` cannot take them.
PUBLISHED_KEYS = frozenset(k for spec in _FILES for k in spec.keys.values())

# The model as printed -> catalog model id. Matched on the start of the label.
_MODELS = (
    ("STiLTs (Phang", "xlm-roberta-large"),
    ("X-STILTs", "xlm-roberta-large"),
    ("XLM-R", "xlm-roberta-large"),
    ("xlmr.large", "xlm-roberta-large"),
    ("xlm-roberta-large", "xlm-roberta-large"),
    ("mBERT", "bert-base-multilingual-cased"),
    ("FILTER", "filter"),
    ("VECO", "veco"),
    ("RemBERT", "rembert"),
    ("InfoXLM", "infoxlm"),
    ("XLM", "xlm"),
    ("mT5-Small", "mt5-small"),
    ("mT5-Base", "mt5-base"),
    ("mT5-Large", "mt5-large"),
    ("mT5-XXL", "mt5-xxl"),
    ("mT5-XL", "mt5-xl"),
    ("roberta.large.mnli", "roberta-large-mnli"),
    ("BERT-large", "bert-large"),
)

_TARGETS = {
    "XNLI": "xnli",
    "PAWS-X": "pawsx",
    "UD-POS": "udpos",
    "WikiANN-NER (PAN-X)": "panx",
    "WikiAnn-NER": "panx",
    "XQuAD": "xquad",
    "MLQA": "mlqa",
    "TyDiQA-GoldP": "tydiqa",
    "BUCC2018": "bucc2018",
    "Tatoeba": "tatoeba",
    "sentence-pair classification (XNLI, PAWS-X)": "avg_sentence_pair",
    "structured prediction (POS, NER)": "avg_structured",
    "question answering (XQuAD, MLQA, TyDiQA-GoldP)": "avg_qa",
    "XTREME avg over 7 tasks (Avg_task)": "xtreme_avg_task",
    "XTREME avg over task categories (Avg)": "xtreme_avg_category",
    "XTREME avg over task categories (excl. retrieval)": "xtreme_avg_category",
}


def _model(label: str) -> str:
    for prefix, model in _MODELS:
        if label.startswith(prefix):
            return model
    raise StoreError(f"published model label {label!r} has no catalog mapping in store/published.py")


def _intermediate(cell: str) -> str:
    if cell == "none":
        return BASELINE
    if cell.startswith("best-per-target"):
        return BEST_PER_TARGET
    raise StoreError(f"published intermediate {cell!r} has no mapping")


def _split(cell: str) -> str:
    if cell.startswith("test"):
        return "test"
    if cell.startswith("val"):
        return "validation"
    raise StoreError(f"published split {cell!r} has no mapping")


def _setting(notes: str) -> str:
    m = re.search(r"setting=(TRANSLATE-[A-Z-]+)", notes)
    return m.group(1).lower() if m else "zero-shot"


def _metric(printed: str, target: str, headline: str) -> str:
    """The store's metric name for a metric as printed."""
    base = printed.split(" (")[0].strip().lower()
    if base in ("accuracy", "f1", "em"):
        return base
    if base == "avg":
        return "avg" if target.startswith("xtreme_avg") else headline
    if base.startswith("avg of em and f1"):
        return "em_f1_avg"
    if base.startswith("score as printed"):
        return headline  # the mT5 README prints each task's headline metric (F1 for QA)
    raise StoreError(f"published metric {printed!r} has no mapping")


def _value(printed: str, metric_printed: str) -> tuple[float, str]:
    """Points on a 0-100 scale, and the conversion applied (exact, through Decimal)."""
    d = Decimal(printed)
    if "fraction" in metric_printed:
        return float(d * 100), "fraction x 100"
    return float(d), ""


def load_published(catalog) -> tuple[list[Source], list[tuple[Run, list[Result]]]]:
    """Reads every published CSV into sources and (run, results) pairs, one run per
    (source, model as printed, intermediate, target, setting)."""
    sources: dict[str, Source] = {}
    groups: dict[tuple, list[Result]] = {}
    runs: dict[tuple, Run] = {}
    for spec in _FILES:
        path = PUBLISHED_DIR / spec.name
        readme = path.with_suffix(".md").read_text(encoding="utf-8")
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                key = next((k for frag, k in spec.keys.items() if frag in row["source"]), None)
                if key is None:
                    raise StoreError(f"{spec.name}: source {row['source']!r} has no key")
                sources.setdefault(
                    key,
                    Source(key, row["source"], row["source_locator"], spec.quality, spec.name, readme.strip()),
                )
                target = _TARGETS.get(row["target_task"])
                if target is None:
                    raise StoreError(f"{spec.name}: target {row['target_task']!r} has no mapping")
                task = catalog.task(target)
                setting = _setting(row["notes"])
                run = Run(
                    model=_model(row["model"]),
                    intermediate=_intermediate(row["intermediate_task"]),
                    target=target,
                    setting=setting,
                    source=key,
                    label=row["model"],
                )
                gkey = (key, row["model"], run.intermediate, target, setting)
                runs.setdefault(gkey, run)
                value, conversion = _value(row["value"], row["metric"])
                language = row["language"]
                groups.setdefault(gkey, []).append(
                    Result(
                        language=AVERAGE_LANGUAGE if language == "avg" else language,
                        metric=_metric(row["metric"], target, task.headline_metric),
                        value=value,
                        split=_split(row["split"]),
                        metric_as_printed=row["metric"],
                        value_as_printed=row["value"],
                        conversion=conversion,
                        notes=row["notes"],
                    )
                )
    return list(sources.values()), [(runs[k], groups[k]) for k in runs]

