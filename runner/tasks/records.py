"""The records every task declaration is made of: Hub repos, splits, sources, stages, task specs.

Data live in Hub dataset repos at a revision; a split is a set of Parquet files in the repo,
named by a glob relative to the repo root. The same relative paths are read from a local copy
of the repo (``--data-dir``), so a cluster without internet reads exactly the same files.

A stage's and a task's ``kind`` is the name of an entry of the head-kind table (``runner.kinds``),
which says what the kind's encoder input, head, loss, decoding, scorer and evaluators are.

Example:
    >>> one_split(XTREME, "PAN-X.de", "test", "tagged_tokens", tags="ner_tags").refs[0].pattern()
    'PAN-X.de/test-*.parquet'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace


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
    #: ``(DataLocation field, source)``: read that source instead when the field is set (the
    #: original files of a dataset, e.g. raw UD treebanks with ``--udpos-path``).
    local: tuple[tuple[str, Source], ...] = ()

    def resolve(self, given: frozenset[str] | set[str]) -> Source:
        """The source actually read when the DataLocation fields ``given`` are set."""
        for name, src in self.local:
            if name in given:
                return src
        return replace(self, local=()) if self.local else self


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
        without_local: DataLocation field -> what differs from the published protocol when that
            folder of original files is not given (printed by the dry run).
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
    #: DataLocation field -> how the run differs from the published protocol when that folder of
    #: original files is not given (``runner run --dry-run`` prints it).
    without_local: Mapping[str, str] = field(default_factory=dict)


    def protocol_notes(self, given: frozenset[str] | set[str]) -> list[str]:
        """How reading the Hub copies differs from the published protocol, for the folders not given."""
        return [note for name, note in self.without_local.items() if name not in given]

    def local_fields(self, given: frozenset[str] | set[str]) -> list[str]:
        """The DataLocation fields in ``given`` that replace one of this task's sources."""
        sources = [src for st in self.stages for src in (st.train, st.dev)] + [*self.test.values(), *self.extra.values()]
        return sorted({name for src in sources for name, _ in src.local if name in given})

    def resolve(self, given: frozenset[str] | set[str]) -> TaskSpec:
        """The spec with every source (stages, test languages, extra) as read when the
        DataLocation fields ``given`` are set (``Source.resolve``)."""
        stages = tuple(replace(st, train=st.train.resolve(given), dev=st.dev.resolve(given)) for st in self.stages)
        return replace(self, stages=stages, test={k: v.resolve(given) for k, v in self.test.items()},
                       extra={k: v.resolve(given) for k, v in self.extra.items()})

    @property
    def eval_kind(self) -> str:
        """The kind of what phase 3 evaluates: the last training stage's head, else the task's own
        kind (retrieval targets without fine-tuning pool the encoder's states)."""
        return self.stages[-1].kind if self.stages else self.kind


# ---------------------------------------------------------------------------------------- repos
# Revisions: a 40-hex sha where one was verified against the Hub's history; otherwise the branch
# whose layout is declared (pin it before a paper run: `runner tasks --sources` lists them).
XTREME = HubRepo("google/xtreme", "68bd9e06bf4bbe671073c975ccd61d754e1bd3d6", pinned=True)
# Script-based repos: read from the Hub's Parquet conversion branch.
CONVERTED = "{config}/{split}/*.parquet"
#: CCGbank is licensed (LDC2005T13): a user-supplied folder, not a Hub repo.
CCG_LOCAL = HubRepo("local/ccgbank", "local", "{split}.jsonl")
#: Mewsli-X is built by a script (no Hub copy): a user-supplied folder of XTREME-R's jsonl files.
MEWSLIX_LOCAL = HubRepo("local/mewsli-x", "local", "{split}.jsonl")
#: Raw UD treebanks (an extracted ``ud-treebanks-v2.x`` folder, ``--udpos-path``), read with XTREME's
#: conversion (``runner.data.conllu``); config = language code.
UD_LOCAL = HubRepo("local/ud-treebanks", "local", "**/{config}_*-ud-{split}.conllu")
#: The BUCC 2018 shared-task files as XTREME's download lays them out (``--bucc-path``): per language
#: ``{lg}-en.{split}.{lg}`` and ``{lg}-en.{split}.en`` (id TAB sentence, distractors included) and
#: ``{lg}-en.{split}.gold`` (source id TAB English id); config = language, split = dev or test.
BUCC_LOCAL = HubRepo("local/bucc2018", "local", "{config}-en.{split}.*")
#: LAReQA's own XQuAD-R files (``--lareqa-path``: the google-research-datasets/lareqa GitHub repo, as
#: XTREME-R's download lays it out): SQuAD JSON with each paragraph's ``sentence_breaks``; config = language.
LAREQA_LOCAL = HubRepo("local/lareqa", "local", "xquad-r/{config}.json")


def one_split(repo: HubRepo, config: str, split: str, adapter: str, **columns: str) -> Source:
    """The Source of one split of one config, read by ``adapter`` with its column options."""
    return Source((SplitRef(repo, config, split),), adapter, columns)


# ------------------------------------------------------------------------------- input formats
#: Input formats a recipe (or ``--set formats.ADAPTER=NAME``) chooses per data adapter; the first
#: is what runs recorded before recipes existed. ``mc_copa``: ``colon`` pairs the premise with
#: "{question}: {choice}"; ``question`` pairs "{premise} What was the {question}?" with the choice
#: (XTREME-R, ``third_party/run_xcopa.py``).
FORMATS: dict[str, tuple[str, ...]] = {"mc_copa": ("colon", "question")}


def _formatted(src: Source, formats: Mapping[str, str]) -> Source:
    if src.adapter not in formats:
        return src
    return replace(src, columns={**src.columns, "format": formats[src.adapter]})


def with_formats(spec: TaskSpec, formats: Mapping[str, str]) -> TaskSpec:
    """``spec`` with every source read by an adapter of ``formats`` reading it in that format."""
    if not any(src.adapter in formats for _, src in sources_of(spec)):
        return spec
    stages = tuple(replace(st, train=_formatted(st.train, formats), dev=_formatted(st.dev, formats)) for st in spec.stages)
    return replace(spec, stages=stages, test={k: _formatted(s, formats) for k, s in spec.test.items()},
                   extra={k: _formatted(s, formats) for k, s in spec.extra.items()})


def with_dev_sets(spec: TaskSpec, dev_from: Mapping[str, Stage]) -> TaskSpec:
    """``spec`` with each stage named in ``dev_from`` selecting on that other stage's English dev
    set (jiant selects XNLI on MNLI's, the training task's, validation rows)."""
    if not any(st.name in dev_from for st in spec.stages):
        return spec
    return replace(spec, stages=tuple(replace(st, dev=dev_from[st.name].dev) if st.name in dev_from else st
                                      for st in spec.stages))


def sources_of(spec: TaskSpec) -> list[tuple[str, Source]]:
    """(what, source) for every split a task reads: training stages, test languages, extra sources."""
    out = []
    for st in spec.stages:
        out += [(f"{st.name}/train", st.train), (f"{st.name}/dev", st.dev)]
    out += [(f"test/{lang}", src) for lang, src in spec.test.items()]
    out += [(f"extra/{name}", src) for name, src in spec.extra.items()]
    return out


def formats_used(spec: TaskSpec, formats: Mapping[str, str]) -> dict[str, str]:
    """The formats of ``formats`` that ``spec`` reads (what defines its runs)."""
    used = {src.adapter for _, src in sources_of(spec)}
    return {adapter: formats.get(adapter, FORMATS[adapter][0]) for adapter in sorted(used & set(FORMATS))}
