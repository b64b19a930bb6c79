"""The X-STILTs variants of the intermediate phase (``--variant``), their settings and their data.

* ``mlm``: the intermediate phase also continues multilingual masked-LM training on a text corpus
  (``--mlm-corpus``: a Hub dataset id such as ``wikimedia/wikipedia``, read from ``--data-dir`` when
  a local copy is there, or a local folder or file; a ``text`` column). The training itself lives
  in ``runner.training.mlm``: one MLM batch after every ``mlm.every`` task batches.
* ``translated``: the intermediate task trains on machine-translated copies of its training data
  (``--translated-data``: a Hub id or a local folder holding, per language, files in the task's own
  schema; e.g. ``facebook/xnli``, whose ``{lang}/train`` splits are MNLI translated by machine). By
  default the English data stay in (XTREME's translate-train-all); model selection always uses the
  English dev set, never target-language data.

Both are recorded on the run: ``Run.variant``, the settings in the run config, and what changes
the experiment (the data source and its settings) in the hyperparameters, so the run id and the
intermediate checkpoint differ from the plain run's and from each other's.

Example:
    >>> MlmConfig(corpus="wikimedia/wikipedia", files=("20231101.de/*.parquet",)).every
    1
"""

from __future__ import annotations

import glob
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runner.data.read import DataLocation, check_available, read_source
from runner.errors import RunnerError
from runner.tasks.records import HubRepo, Source, SplitRef
from store.catalog import suggest
from store.records import VARIANTS

#: Files that a local corpus or translated-data folder is read from.
DATA_SUFFIXES = (".parquet", ".jsonl", ".json", ".txt")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _tuple(value) -> tuple[str, ...]:
    """A tuple of strings from a list, or from one comma-separated string (``--set``, flags)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


@dataclass
class MlmConfig:
    """``--variant mlm``: the corpus and how MLM batches join the intermediate phase."""

    corpus: str = field(default="", metadata={"help": "Hub dataset id or local folder/file of texts (needed by --variant mlm)"})
    files: tuple[str, ...] = field(default=(), metadata={
        "help": "globs relative to the corpus root, one stream each, read round-robin "
                "(e.g. 20231101.de/*.parquet,20231101.fr/*.parquet); default: one stream per top-level folder"})
    revision: str = field(default="main", metadata={"help": "Hub revision of the corpus"})
    text_column: str = field(default="text", metadata={"help": "column holding the text (Parquet / JSON lines)"})
    every: int = field(default=1, metadata={"help": "one MLM batch after every N task batches"})
    probability: float = field(default=0.15, metadata={"help": "share of tokens selected for prediction"})
    mask_replace_prob: float = field(default=0.8, metadata={"help": "of those: replaced by <mask>"})
    random_replace_prob: float = field(default=0.1, metadata={"help": "of those: replaced by a random token"})
    max_length: int | None = field(default=None, metadata={"help": "sub-tokens per MLM sequence (None: train.max_length)"})
    max_sequences: int = field(default=200_000, metadata={
        "help": "distinct corpus sequences read; later MLM batches reuse them with fresh masks"})

    def __post_init__(self) -> None:
        self.files = _tuple(self.files)
        checks = [
            (self.every >= 1, "mlm.every must be >= 1"),
            (0 < self.probability < 1, "mlm.probability must be in (0, 1)"),
            (0 <= self.mask_replace_prob and 0 <= self.random_replace_prob
             and self.mask_replace_prob + self.random_replace_prob <= 1,
             "mlm.mask_replace_prob and mlm.random_replace_prob must be >= 0 and sum to <= 1"),
            (self.max_length is None or self.max_length >= 8, "mlm.max_length must be >= 8"),
            (self.max_sequences >= 1, "mlm.max_sequences must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise RunnerError(message)


@dataclass
class TranslatedConfig:
    """``--variant translated``: where the machine-translated intermediate data are."""

    data: str = field(default="", metadata={"help": "Hub dataset id or local folder (needed by --variant translated)"})
    languages: tuple[str, ...] = field(default=(), metadata={
        "help": "languages to read (comma-separated); default: every language a local copy has, except en"})
    layout: str = field(default="{lang}/{split}-*.parquet", metadata={
        "help": "glob of one language's split, with {lang}, {split} and, for several tasks, {task}"})
    revision: str = field(default="main", metadata={"help": "Hub revision of the translated data"})
    split: str = field(default="train", metadata={"help": "split holding the translated training data"})
    include_english: bool = field(default=True, metadata={
        "help": "also train on the English data (translate-train-all); false: translations only"})

    def __post_init__(self) -> None:
        self.languages = _tuple(self.languages)
        if "{lang}" not in self.layout:
            raise RunnerError(f"translated.layout {self.layout!r} must contain {{lang}}, e.g. {{lang}}/{{split}}-*.parquet")


def check_variant(variant: str, mlm: MlmConfig, translated: TranslatedConfig) -> None:
    """Config-time checks: a known variant, and the data source it needs (one line each)."""
    names = [v for v in VARIANTS if v]
    if variant and variant not in names:
        raise RunnerError(f"unknown variant {variant!r}{suggest(variant, names)}; known: {', '.join(names)} "
                          "(or none for plain English intermediate training)")
    if variant == "mlm" and not mlm.corpus:
        raise RunnerError("--variant mlm needs a text corpus: give --mlm-corpus HUB_ID_OR_PATH "
                          "(a dataset with a 'text' column, e.g. wikimedia/wikipedia with --set mlm.files=...)")
    if variant == "translated" and not translated.data:
        raise RunnerError("--variant translated needs machine-translated intermediate data: give --translated-data "
                          "HUB_ID_OR_PATH (the task's schema per language, e.g. facebook/xnli for mnli)")


def resolve_for(cfg, intermediate: str, target: str, has_intermediate: bool,
                data_dir: Path | None) -> DataSource | None:
    """The run's variant data source, resolved (None for plain runs).

    Raises:
        RunnerError: a variant on a pair without an intermediate phase, or data that cannot be found.
    """
    if not cfg.variant:
        return None
    if not has_intermediate:
        raise RunnerError(f"--variant {cfg.variant} changes the intermediate phase, and {intermediate}:{target} has none; "
                          f"give an intermediate task, e.g. mnli:{target}")
    if cfg.variant == "mlm":
        return resolve_source(cfg.mlm.corpus, cfg.mlm.revision, data_dir, "mlm corpus")
    return resolve_source(cfg.translated.data, cfg.translated.revision, data_dir, "translated data")


def check_data(cfg, source: DataSource, stages: Sequence, tasks: Sequence[str]) -> None:
    """The variant's local data are there (no network used); RunnerError naming the first gap.

    ``cfg`` is the run's ``RunConfig``."""
    if cfg.variant == "mlm":
        check_corpus(source, cfg.mlm)
    elif cfg.variant == "translated":
        check_translated(cfg.translated, source, stages, tasks)


def describe(cfg) -> str:
    """What the variant adds to phase 1, for dry runs (empty for plain runs)."""
    if cfg.variant == "mlm":
        return f" + mlm every {cfg.mlm.every} on {cfg.mlm.corpus}"
    if cfg.variant == "translated":
        return f" translated ({cfg.translated.data})"
    return ""


# ----------------------------------------------------------------------------- data sources
@dataclass(frozen=True)
class DataSource:
    """A corpus or translated dataset: a local folder or file, or a Hub repo read over the network.

    Attributes:
        given: what the user wrote (Hub id or path).
        revision: Hub revision (recorded; local copies are taken to be at it).
        root: the local folder or file, or None when read from the Hub.
        hub_id: the Hub id when ``given`` is one (read from a local copy or from the Hub).
    """

    given: str
    revision: str
    root: Path | None
    hub_id: str | None

    def identity(self) -> str:
        """What defines the data, the same on every machine: ``hub:ID@REV``, or for a folder or
        file of one's own ``local:NAME#HASH`` (a hash of its data files' relative names and sizes)."""
        if self.hub_id is not None:
            return f"hub:{self.hub_id}@{self.revision}"
        assert self.root is not None
        files = data_files(self.root)
        h = hashlib.sha256()
        for f in files:
            rel = f.relative_to(self.root).as_posix() if self.root.is_dir() else f.name
            h.update(f"{rel}\t{f.stat().st_size}\n".encode())
        return f"local:{self.root.name}#{h.hexdigest()[:12]}"


def resolve_source(given: str, revision: str, data_dir: Path | None, what: str) -> DataSource:
    """A local path if one exists; else a Hub id, read from ``data_dir/ID`` when ``--data-dir`` is set.

    Raises:
        RunnerError: neither a path nor a Hub id, or a Hub id whose local copy is missing.
    """
    path = Path(given).expanduser()
    if path.exists():
        hub = given if data_dir is not None and path.resolve() == (data_dir / given).resolve() else None
        return DataSource(given, revision, path.resolve(), hub)
    if not HUB_ID.match(given):
        raise RunnerError(f"{what} {given!r} is neither an existing file or folder nor a Hub id (owner/name)")
    if data_dir is None:
        return DataSource(given, revision, None, given)
    local = data_dir / given
    if not local.exists():
        raise RunnerError(f"missing {what}: {local} does not exist; download it with `hf download {given} "
                          f"--repo-type dataset --revision {revision} --local-dir {local}` or give a local path")
    return DataSource(given, revision, local.resolve(), given)


def data_files(root: Path, patterns: Sequence[str] = ()) -> list[Path]:
    """Data files under ``root`` (all, or those matching ``patterns``), in name order."""
    if root.is_file():
        return [root]
    found = set()
    for pattern in patterns or ("**/*",):
        found.update(Path(p) for p in glob.glob(str(root / pattern), recursive=True))
    return sorted(p for p in found if p.is_file() and p.suffix in DATA_SUFFIXES and not p.name.startswith("."))


def corpus_streams(source: DataSource, cfg: MlmConfig) -> list[tuple[str, list[Path] | str]]:
    """(name, files) per text stream; for the Hub (no local copy), (name, glob) per ``mlm.files``."""
    if source.root is None:
        if not cfg.files:
            raise RunnerError(f"mlm corpus {source.given} is read from the Hub: name its files with --set "
                              "mlm.files=GLOB[,GLOB...] (e.g. 20231101.de/*.parquet), or use --data-dir with a local copy")
        return [(pattern, pattern) for pattern in cfg.files]
    if cfg.files:
        streams = [(pattern, data_files(source.root, [pattern])) for pattern in cfg.files]
        empty = [name for name, files in streams if not files]
        if empty:
            raise RunnerError(f"mlm corpus {source.root}: no data files match {empty[0]!r} (mlm.files)")
        return streams
    files = data_files(source.root)
    if not files:
        raise RunnerError(f"mlm corpus {source.root}: no {', '.join(('.parquet', '.jsonl', '.txt'))} files")
    groups: dict[str, list[Path]] = {}
    for f in files:
        rel = f.relative_to(source.root).parts if source.root.is_dir() else (f.name,)
        groups.setdefault(rel[0] if len(rel) > 1 else ".", []).append(f)
    return sorted(groups.items())


def check_corpus(source: DataSource, cfg: MlmConfig) -> None:
    """Fails (one line) unless the corpus has data files to read; no network is used."""
    corpus_streams(source, cfg)


# ------------------------------------------------------------------------------ hyperparameters
def hparams(variant: str, mlm: MlmConfig, translated: TranslatedConfig, source: DataSource | None,
            train_max_length: int) -> dict:
    """The variant's settings that change the experiment (none for plain runs)."""
    if variant == "mlm":
        assert source is not None
        return {"mlm": {"corpus": source.identity(), "files": list(mlm.files), "text_column": mlm.text_column,
                        "every": mlm.every, "probability": mlm.probability,
                        "mask_replace_prob": mlm.mask_replace_prob, "random_replace_prob": mlm.random_replace_prob,
                        "max_length": mlm.max_length or train_max_length, "max_sequences": mlm.max_sequences}}
    if variant == "translated":
        assert source is not None
        return {"translated": {"data": source.identity(), "languages": list(translated.languages),
                               "layout": translated.layout, "split": translated.split,
                               "include_english": translated.include_english}}
    return {}


# ----------------------------------------------------------------------------- translated data
def _layout_for(layout: str, task: str, n_tasks: int) -> str:
    if "{task}" not in layout and n_tasks > 1:
        raise RunnerError(f"translated.layout {layout!r} has no {{task}}, so it cannot hold the data of "
                          f"{n_tasks} intermediate tasks; write e.g. {{task}}/{{lang}}/{{split}}-*.parquet")
    return layout.replace("{task}", task)


def translated_languages(cfg: TranslatedConfig, source: DataSource, task: str, n_tasks: int) -> tuple[str, ...]:
    """The configured languages, else those a local copy holds for ``task`` (English left out)."""
    if cfg.languages:
        return cfg.languages
    if source.root is None:
        raise RunnerError(f"give --translated-languages for {source.given} read from the Hub "
                          "(or --data-dir with a local copy, whose languages are found on disk)")
    layout = _layout_for(cfg.layout, task, n_tasks)
    pieces = re.split(r"(\{lang\}|\{split\}|\*)", layout)
    regex = "".join({"{lang}": "(?P<lang>[^/]+)", "{split}": re.escape(cfg.split), "*": "[^/]*"}.get(p, re.escape(p))
                    for p in pieces)
    found = set()
    for p in glob.glob(str(source.root / layout.format(lang="*", split=cfg.split))):
        m = re.fullmatch(regex, Path(p).relative_to(source.root).as_posix())
        if m and m["lang"] != "en":
            found.add(m["lang"])
    if not found:
        raise RunnerError(f"translated data {source.given}: no {task} files match {source.root / layout} "
                          f"(split {cfg.split!r}); set translated.layout or translated.languages")
    return tuple(sorted(found))


def translated_sources(cfg: TranslatedConfig, source: DataSource, stage, task: str, n_tasks: int):
    """(language, Source, DataLocation) of each translated language of one intermediate stage.

    The Source has the English training Source's adapter and columns: the same task schema.
    """
    layout = _layout_for(cfg.layout, task, n_tasks).replace("{lang}", "{config}")
    if source.root is not None:  # a local folder read as a mirror whose root is the folder itself
        repo = HubRepo(source.root.name, source.revision, layout)
        loc = DataLocation(source.root.parent)
    else:
        repo = HubRepo(source.hub_id or source.given, source.revision, layout)
        loc = DataLocation(None)
    out = []
    for lang in translated_languages(cfg, source, task, n_tasks):
        out.append((lang, Source((SplitRef(repo, lang, cfg.split),), stage.train.adapter, stage.train.columns), loc))
    return out


def check_translated(cfg: TranslatedConfig, source: DataSource, stages: Sequence, tasks: Sequence[str]) -> None:
    """Local files of every translated split exist (no network); RunnerError naming the first gap."""
    for stage, task in zip(stages, tasks):
        if stage.train.adapter == "ccg":
            raise RunnerError("ccg cannot use --variant translated: supertags do not survive machine translation")
        for lang, src, loc in translated_sources(cfg, source, stage, task, len(tasks)):
            if loc.data_dir is not None:
                check_available([(f"translated {task}/{lang}", src)], loc)


def read_translated(cfg: TranslatedConfig, source: DataSource, stage, task: str, n_tasks: int,
                    english: list[dict], labels: Sequence[str], limit: int | None) -> list[dict]:
    """Training examples of one intermediate stage under ``--variant translated``.

    The English examples (when ``include_english``) and each language's translated examples, each
    language capped at ``limit`` (``train.max_train_examples``) like the English data.
    """
    out = list(english) if cfg.include_english else []
    for lang, src, loc in translated_sources(cfg, source, stage, task, n_tasks):
        try:
            examples = read_source(src, labels, loc, limit)
        except KeyError as e:
            cols = ", ".join(sorted(set(stage.train.columns.values()))) or "the Hub schema of " + task
            raise RunnerError(f"translated data {source.given} ({lang}): column {e} is missing; translated data "
                              f"must have {task}'s schema ({cols})") from e
        if not examples:
            raise RunnerError(f"translated data {source.given} ({lang}): no {task} training examples were read")
        out += examples
    return out

