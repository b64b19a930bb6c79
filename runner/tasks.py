"""Task specs as data: which Hub files each task trains, selects and evaluates on, with which head.

Every catalog task has exactly one entry here (the registry refuses a catalog task without one).
A task names its kind, its label list, and its English training stages; a target also names one
evaluation source per language. Question answering and retrieval are declared in
``runner.tasks_qa`` with the same records; retrieval targets that XTREME evaluates without target
fine-tuning (BUCC, Tatoeba) have no training stage, so phase 2 is skipped for them.

Data live in Hub dataset repos at a revision; a split is a set of Parquet files in the repo,
named by a glob relative to the repo root. The same relative paths are read from a local copy
of the repo (``--data-dir``), so a cluster without internet reads exactly the same files.

Example:
    >>> from runner.tasks import get_task
    >>> spec = get_task("xnli")
    >>> spec.kind, spec.stages[0].name, spec.test["de"].refs[0].pattern()
    ('classification', 'mnli', 'de/test-*.parquet')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from runner.errors import RunnerError
from store.catalog import load_catalog, suggest

#: Task kinds (what ``runner tasks`` shows) and the head kinds of training stages.
KINDS = ("classification", "multiple_choice", "tagging", "question_answering", "retrieval")
#: Head kinds: a task's kind, or ``dual_encoder`` (XTREME-R's retrieval fine-tuning of LAReQA, Mewsli-X).
HEAD_KINDS = ("classification", "multiple_choice", "tagging", "question_answering", "dual_encoder")


@dataclass(frozen=True)
class HubRepo:
    """A Hub dataset repo at one revision, and how its Parquet files are laid out.

    Attributes:
        repo: ``owner/name``; a local copy lives at ``DATA_DIR/owner/name``.
        revision: commit sha when pinned, else the branch the layout belongs to.
        layout: glob of one split's files, with ``{config}`` and ``{split}``.
        pinned: True when ``revision`` is a commit sha (reproducible download).
    """

    repo: str
    revision: str
    layout: str = "{config}/{split}-*.parquet"
    pinned: bool = False


@dataclass(frozen=True)
class SplitRef:
    """One split of one config of a repo."""

    repo: HubRepo
    config: str
    split: str

    def pattern(self) -> str:
        """Glob of the split's files, relative to the repo root."""
        return self.repo.layout.format(config=self.config, split=self.split)


@dataclass(frozen=True)
class Source:
    """The examples of one split: files (concatenated), and the adapter that reads their schema.

    Attributes:
        refs: splits whose rows are concatenated (ANLI trains on rounds 1-3).
        adapter: name of the row reader in ``runner.data.ADAPTERS`` (one per Hub schema).
        columns: adapter options, e.g. which columns hold the texts and the label, the TyDiQA
            language to keep; and evaluation options: ``metric`` (QA scorer: ``squad``, ``mlqa``,
            ``squad_v2``), ``query_length`` / ``candidate_length`` (dual-encoder sub-tokens).
    """

    refs: tuple[SplitRef, ...]
    adapter: str
    columns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One English training stage: train and dev sources, label list, default epochs."""

    name: str
    kind: str
    train: Source
    dev: Source
    epochs: int
    labels: tuple[str, ...] = ()
    metric: str = "accuracy"


@dataclass(frozen=True)
class TaskSpec:
    """How the runner treats one catalog task.

    Attributes:
        name: catalog id (``mnli``, ``xnli``, ...).
        role: ``intermediate`` or ``target``.
        kind: task kind, one of ``KINDS`` (its stages' heads are ``HEAD_KINDS``).
        stages: English training stages, run in order (XCOPA: SIQA, then COPA).
        test: target only: language -> evaluation source (zero-shot, test split).
        labels: output labels of the task's head (classification and tagging).
        metrics: metric names written to the store for each language.
        implemented: False for a task declared but not runnable yet.
        note: how the task follows the benchmark, shown by ``runner tasks``.
        extra: more sources evaluation reads besides ``test``, by name: BUCC's per-language dev
            split (``dev/de``, tunes the mining threshold), Mewsli-X's entity pool (``entities``).
    """

    name: str
    role: str
    kind: str
    stages: tuple[Stage, ...] = ()
    test: Mapping[str, Source] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ("accuracy",)
    implemented: bool = True
    note: str = ""
    extra: Mapping[str, Source] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------- repos
# Revisions: a 40-hex sha where one was verified against the Hub's history; otherwise the branch
# whose layout is declared (pin it before a paper run: `runner tasks --sources` lists them).
XTREME = HubRepo("google/xtreme", "68bd9e06bf4bbe671073c975ccd61d754e1bd3d6", pinned=True)
GLUE = HubRepo("nyu-mll/glue", "main")
XNLI = HubRepo("facebook/xnli", "main")
PAWSX = HubRepo("google-research-datasets/paws-x", "main")
ANLI = HubRepo("facebook/anli", "main")
CSQA = HubRepo("tau/commonsense_qa", "main", layout="data/{split}-*.parquet")
# Script-based repos: read from the Hub's Parquet conversion branch.
CONVERTED = "{config}/{split}/*.parquet"
SIQA = HubRepo("allenai/social_i_qa", "9eb9490eb61bd4ffb5eaedf2ae22e260d8c4019e", CONVERTED, pinned=True)
HELLASWAG = HubRepo("Rowan/hellaswag", "refs/convert/parquet", CONVERTED)
COSMOSQA = HubRepo("allenai/cosmos_qa", "refs/convert/parquet", CONVERTED)
SUPERGLUE = HubRepo("aps/super_glue", "refs/convert/parquet", CONVERTED)
XCOPA = HubRepo("cambridgeltl/xcopa", "refs/convert/parquet", CONVERTED)
WIKIANN = HubRepo("unimelb-nlp/wikiann", "refs/convert/parquet", CONVERTED)
UD = HubRepo("universal-dependencies/universal_dependencies", "refs/convert/parquet", CONVERTED)
#: CCGbank is licensed (LDC2005T13): a user-supplied folder, not a Hub repo.
CCG_LOCAL = HubRepo("local/ccgbank", "local", "{split}.jsonl")
#: Mewsli-X is built by a script (no Hub copy): a user-supplied folder of XTREME-R's jsonl files.
MEWSLIX_LOCAL = HubRepo("local/mewsli-x", "local", "{split}.jsonl")

NLI_LABELS = ("entailment", "neutral", "contradiction")
POS_LABELS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
              "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")  # google/xtreme udpos ClassLabel order
NER_LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")


def _one(repo: HubRepo, config: str, split: str, adapter: str, **columns: str) -> Source:
    return Source((SplitRef(repo, config, split),), adapter, columns)


PAIR = dict(text_a="premise", text_b="hypothesis", label="label")

# --------------------------------------------------------------------------- training stages
MNLI = Stage("mnli", "classification", _one(GLUE, "mnli", "train", "classification", **PAIR),
             _one(GLUE, "mnli", "validation_matched", "classification", **PAIR), epochs=2, labels=NLI_LABELS)
STAGES: dict[str, Stage] = {
    "mnli": MNLI,
    "qqp": Stage(
        "qqp", "classification",
        _one(GLUE, "qqp", "train", "classification", text_a="question1", text_b="question2", label="label"),
        _one(GLUE, "qqp", "validation", "classification", text_a="question1", text_b="question2", label="label"),
        epochs=2, labels=("not_duplicate", "duplicate")),
    "sst2": Stage(
        "sst2", "classification", _one(GLUE, "sst2", "train", "classification", text_a="sentence", label="label"),
        _one(GLUE, "sst2", "validation", "classification", text_a="sentence", label="label"),
        epochs=3, labels=("negative", "positive")),
    "anli": Stage(
        "anli", "classification",
        Source(tuple(SplitRef(ANLI, "plain_text", f"train_r{r}") for r in (1, 2, 3)), "classification", PAIR),
        Source(tuple(SplitRef(ANLI, "plain_text", f"dev_r{r}") for r in (1, 2, 3)), "classification", PAIR),
        epochs=3, labels=NLI_LABELS),
    "commonsenseqa": Stage("commonsenseqa", "multiple_choice", _one(CSQA, "default", "train", "mc_commonsenseqa"),
                           _one(CSQA, "default", "validation", "mc_commonsenseqa"), epochs=3),
    "cosmosqa": Stage("cosmosqa", "multiple_choice", _one(COSMOSQA, "default", "train", "mc_cosmosqa"),
                      _one(COSMOSQA, "default", "validation", "mc_cosmosqa"), epochs=3),
    "hellaswag": Stage("hellaswag", "multiple_choice", _one(HELLASWAG, "default", "train", "mc_hellaswag"),
                       _one(HELLASWAG, "default", "validation", "mc_hellaswag"), epochs=3),
    "ccg": Stage("ccg", "tagging", _one(CCG_LOCAL, "", "train", "ccg"), _one(CCG_LOCAL, "", "dev", "ccg"),
                 epochs=3),  # labels: the supertags of the training file
    "siqa": Stage("siqa", "multiple_choice", _one(SIQA, "default", "train", "mc_siqa"),
                  _one(SIQA, "default", "validation", "mc_siqa"), epochs=2),
    "copa": Stage("copa", "multiple_choice", _one(SUPERGLUE, "copa", "train", "mc_copa"),
                  _one(SUPERGLUE, "copa", "validation", "mc_copa"), epochs=10),
    "pawsx_en": Stage(
        "pawsx_en", "classification",
        _one(PAWSX, "en", "train", "classification", text_a="sentence1", text_b="sentence2", label="label"),
        _one(PAWSX, "en", "validation", "classification", text_a="sentence1", text_b="sentence2", label="label"),
        epochs=5, labels=("different", "paraphrase")),
    # XNLI's target phase trains on MNLI and selects on XNLI's English dev set (XTREME).
    "xnli_en": Stage("xnli_en", "classification", MNLI.train,
                     _one(XNLI, "en", "validation", "classification", **PAIR), epochs=2, labels=NLI_LABELS),
    "udpos_en": Stage("udpos_en", "tagging", _one(XTREME, "udpos.English", "train", "tagging", tags="pos_tags"),
                      _one(XTREME, "udpos.English", "validation", "tagging", tags="pos_tags"),
                      epochs=10, labels=POS_LABELS, metric="f1"),
    "panx_en": Stage("panx_en", "tagging", _one(XTREME, "PAN-X.en", "train", "tagging", tags="ner_tags"),
                     _one(XTREME, "PAN-X.en", "validation", "tagging", tags="ner_tags"),
                     epochs=10, labels=NER_LABELS, metric="f1"),
}

# ---------------------------------------------------------------------- per-language test sets
UDPOS_CONFIG = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "kk": "Kazakh", "ko": "Korean", "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
    "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese",
}
#: XTREME-R languages that google/xtreme lacks: UD v2.7 test sets of every treebank of the language.
UDPOS_EXTRA = {
    "lt": ("lt_alksnis", "lt_hse"), "pl": ("pl_lfg", "pl_pdb", "pl_pud"), "uk": ("uk_iu",),
    "wo": ("wo_wtb",), "ro": ("ro_nonstandard", "ro_rrt", "ro_simonero"),
}
PANX_EXTRA = ("qu", "pl", "uk", "az", "lt", "pa", "gu", "ro")  # XTREME-R: from WikiANN directly


def _udpos_test(lang: str) -> Source:
    if lang in UDPOS_CONFIG:
        return _one(XTREME, f"udpos.{UDPOS_CONFIG[lang]}", "test", "tagging", tags="pos_tags")
    refs = tuple(SplitRef(UD, tb, "test") for tb in UDPOS_EXTRA[lang])
    return Source(refs, "tagging", {"tags": "upos"})  # tags mapped by name; UD's "_" becomes "X"


def _panx_test(lang: str) -> Source:
    if lang in PANX_EXTRA:
        return _one(WIKIANN, lang, "test", "tagging", tags="ner_tags")
    return _one(XTREME, f"PAN-X.{lang}", "test", "tagging", tags="ner_tags")


def _targets() -> dict[str, TaskSpec]:
    cat = load_catalog()
    langs = cat.task_languages
    nli = {lang: _one(XNLI, lang, "test", "classification", **PAIR) for lang in langs("xnli")}
    paws_cols = dict(text_a="sentence1", text_b="sentence2", label="label")
    paws = {lang: _one(PAWSX, lang, "test", "classification", **paws_cols) for lang in langs("pawsx")}
    tag_metrics = ("f1", "precision", "recall")
    return {
        "xnli": TaskSpec("xnli", "target", "classification", (STAGES["xnli_en"],), nli, NLI_LABELS,
                         note="trains on MNLI, selects on XNLI English dev"),
        "pawsx": TaskSpec("pawsx", "target", "classification", (STAGES["pawsx_en"],), paws,
                          STAGES["pawsx_en"].labels, note="trains on PAWS English"),
        "xcopa": TaskSpec("xcopa", "target", "multiple_choice", (STAGES["siqa"], STAGES["copa"]),
                          {lang: _one(XCOPA, lang, "test", "mc_copa") for lang in langs("xcopa")},
                          note="XTREME-R: SIQA, then COPA; selects on COPA English dev"),
        "udpos": TaskSpec("udpos", "target", "tagging", (STAGES["udpos_en"],),
                          {lang: _udpos_test(lang) for lang in langs("udpos")}, POS_LABELS, tag_metrics,
                          note="label on the first sub-token; long sentences in windows"),
        "panx": TaskSpec("panx", "target", "tagging", (STAGES["panx_en"],),
                         {lang: _panx_test(lang) for lang in langs("panx")}, NER_LABELS, tag_metrics,
                         note="label on the first sub-token; long sentences in windows"),
    }


def _intermediates() -> dict[str, TaskSpec]:
    out = {}
    for name in ("mnli", "qqp", "sst2", "anli", "commonsenseqa", "cosmosqa", "hellaswag", "ccg"):
        st = STAGES[name]
        note = "CCGbank is licensed: --ccg-path" if name == "ccg" else ""
        out[name] = TaskSpec(name, "intermediate", st.kind, (st,), labels=st.labels, note=note)
    return out


def _build_registry() -> dict[str, TaskSpec]:
    from runner import tasks_qa

    cat = load_catalog()
    specs: dict[str, TaskSpec] = {}
    for group in (_intermediates(), _targets(), tasks_qa.intermediates(), tasks_qa.targets()):
        for name, spec in group.items():
            if name in specs:
                raise RunnerError(f"task {name!r} is declared twice in runner.tasks")
            specs[name] = spec
    missing = [n for n in cat.intermediate_tasks() + cat.target_tasks() if n not in specs]
    if missing:
        raise RunnerError(f"catalog tasks without a runner declaration: {', '.join(missing)}")
    unknown = set(specs) - set(cat.tasks)
    if unknown:
        raise RunnerError(f"runner.tasks declares tasks the catalog lacks: {', '.join(sorted(unknown))}")
    return specs


_REGISTRY: dict[str, TaskSpec] | None = None


def registry() -> dict[str, TaskSpec]:
    """Every catalog intermediate and target task, by name (built once)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _build_registry()
    return _REGISTRY


def get_task(name: str, role: str | None = None, runnable: bool = False) -> TaskSpec:
    """The spec of ``name``; raises RunnerError with a near match for unknown names.

    Args:
        name: catalog task id.
        role: ``intermediate`` or ``target`` to restrict the lookup.
        runnable: also refuse tasks declared but not implemented yet.
    """
    pool = {k: s for k, s in registry().items() if role is None or s.role == role}
    if name not in pool:
        what = f"{role} task" if role else "task"
        raise RunnerError(f"unknown {what} {name!r}{suggest(name, pool)}; known: {', '.join(sorted(pool))}")
    spec = pool[name]
    if runnable and not spec.implemented:
        ready = sorted(k for k, s in registry().items() if s.implemented and s.role == spec.role)
        raise RunnerError(f"{name} ({spec.kind.replace('_', ' ')}) is not implemented in this runner yet; "
                          f"runnable {spec.role} tasks: {', '.join(ready)}")
    return spec


def all_sources(spec: TaskSpec) -> list[tuple[str, Source]]:
    """(what, source) for every split a task reads: training stages, test languages, extra sources."""
    out = []
    for st in spec.stages:
        out += [(f"{st.name}/train", st.train), (f"{st.name}/dev", st.dev)]
    out += [(f"test/{lang}", src) for lang, src in spec.test.items()]
    out += [(f"extra/{name}", src) for name, src in spec.extra.items()]
    return out


def intermediate_stage(name: str, squad_version: str = "1.1") -> Stage:
    """The training stage of an intermediate task; ``squad`` trains SQuAD v2.0 when asked for."""
    if name == "squad" and squad_version == "2.0":
        from runner.tasks_qa import SQUAD_V2_STAGE

        return SQUAD_V2_STAGE
    return get_task(name, role="intermediate").stages[0]
