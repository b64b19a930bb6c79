"""Typed run configuration: a recipe, then a YAML file, then command-line flags; validated on build.

Defaults are the named recipe's (``--recipe``, default ``xstilts``: jiant's X-STILTs settings,
``runner.recipes``): phase 1 (``intermediate``) at lr 1e-5, batch 4, 3 epochs, max length 256, the
last model; phase 2 (``train``) per target as jiant's XTREME scripts set it (e.g. XNLI 4 x 8 for 2
epochs), selecting every 1,000 steps on the first 500 English dev rows with patience 30. The
field defaults of ``TrainConfig`` are only the base a recipe overrides. A ``train.X`` given in the
YAML file, by ``--set`` or a flag applies to both phases; ``intermediate.X`` to phase 1 only.

YAML example::

    recipe: xtreme
    model: xlm-roberta-large
    seed: 2
    train:
      learning_rate: 2.0e-5
      batch_size: 8
      grad_accum: 4
    intermediate: {epochs: 2}
    epochs: {mnli: 1, udpos_en: 5}
    mix: {sampling: temperature, temperature: 2.0}     # multi-task intermediate (runner.training.mixing)
    variant: mlm                                       # or translated (runner.training.variants)
    mlm: {corpus: wikimedia/wikipedia, files: [20231101.de/*.parquet, 20231101.fr/*.parquet]}

Example:
    >>> cfg = build_config({"pair": "mnli:xnli", "train": {"learning_rate": 3e-5}})
    >>> cfg.recipe, cfg.train.learning_rate, cfg.train.batch_size * cfg.train.grad_accum, cfg.intermediate.batch_size
    ('xstilts', 3e-05, 32, 4)
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from runner import recipes
from runner.errors import RunnerError
from runner.modeling.answer_text import MODES as ANSWER_TEXT_MODES
from runner.tasks.records import FORMATS
from runner.training.mixing import MixConfig
from runner.training.variants import MlmConfig, TranslatedConfig, check_variant
from store.catalog import suggest
from store.records import SEED_MAX


#: Model selection modes (``TrainConfig.select``).
SELECT = ("epoch", "steps", "last")


@dataclass
class TrainConfig:
    """How every training stage is run (the fields in ``HPARAM_FIELDS`` define the run)."""

    learning_rate: float = field(default=1e-5, metadata={"help": "AdamW peak learning rate"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay (not on biases and norms)"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "share of steps with linear warmup"})
    warmup_steps: int | None = field(default=None, metadata={"help": "warmup steps (instead of warmup_ratio when set)"})
    batch_size: int = field(default=32, metadata={"help": "examples per forward pass"})
    grad_accum: int = field(default=1, metadata={"help": "forward passes per optimizer step"})
    epochs: int | None = field(default=None, metadata={"help": "epochs of every stage (None: per-task default)"})
    max_length: int = field(default=256, metadata={"help": "sub-tokens per sequence (tagging: per window)"})
    qa_max_length: int | None = field(default=None, metadata={
        "help": "QA windows in this phase (None: qa.max_length); the xstilts recipe's phase 1: 256, as jiant"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm"})
    dropout: float = field(default=0.1, metadata={"help": "dropout inside the heads"})
    max_train_examples: int | None = field(default=None, metadata={"help": "cap per training stage (debugging)"})
    max_eval_examples: int | None = field(default=None, metadata={"help": "cap per dev/test set (debugging)"})
    select: str = field(default="epoch", metadata={
        "help": "model selection on English dev data: epoch (after each), steps (every select_every optimizer "
                "steps and at the end) or last (the final model)"})
    select_every: int | None = field(default=None, metadata={"help": "select=steps: optimizer steps between evaluations"})
    dev_subset: int | None = field(default=None, metadata={"help": "select on the first N English dev rows (None: all)"})
    patience: int | None = field(default=None, metadata={"help": "stop after N evaluations without improvement (None: never)"})
    eval_batch_size: int = field(default=64, metadata={"help": "examples per evaluation pass"})
    megabatch: int = field(default=100, metadata={"help": "length grouping: batches sorted together"})
    save_every_steps: int = field(default=500, metadata={"help": "checkpoint for resume every N optimizer steps"})
    precision: str = field(default="auto", metadata={"help": "auto (bf16 on GPU, fp32 on CPU), bf16 or fp32"})
    workers: int = field(default=0, metadata={"help": "DataLoader worker processes"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})

    def __post_init__(self) -> None:
        floats = ("learning_rate", "weight_decay", "warmup_ratio", "max_grad_norm", "dropout")
        for name in floats:
            if not math.isfinite(getattr(self, name)):
                raise RunnerError(f"train config: {name} {getattr(self, name)!r} is not a finite number")
        checks = [
            (self.learning_rate > 0, "learning_rate must be > 0"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
            (0 <= self.warmup_ratio < 1, "warmup_ratio must be in [0, 1)"),
            (self.batch_size >= 1 and self.grad_accum >= 1, "batch_size and grad_accum must be >= 1"),
            (self.epochs is None or self.epochs >= 1, "epochs must be >= 1"),
            (self.max_length >= 8, "max_length must be >= 8"),
            (self.qa_max_length is None or self.qa_max_length >= 16, "qa_max_length must be >= 16"),
            (self.precision in ("auto", "bf16", "fp32"), "precision must be auto, bf16 or fp32"),
            (self.save_every_steps >= 1 and self.eval_batch_size >= 1, "save_every_steps and eval_batch_size must be >= 1"),
            (self.max_train_examples is None or self.max_train_examples >= 1, "max_train_examples must be >= 1"),
            (self.max_eval_examples is None or self.max_eval_examples >= 1, "max_eval_examples must be >= 1"),
            (self.warmup_steps is None or self.warmup_steps >= 0, "warmup_steps must be >= 0"),
            (self.select in SELECT, f"select {self.select!r} must be one of {', '.join(SELECT)}"),
            (self.select != "steps" or self.select_every is not None, "select=steps needs select_every (optimizer steps)"),
            (self.select_every is None or self.select_every >= 1, "select_every must be >= 1"),
            (self.dev_subset is None or self.dev_subset >= 1, "dev_subset must be >= 1"),
            (self.patience is None or self.patience >= 1, "patience must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise RunnerError(f"train config: {message}")

    def describe(self) -> str:
        """``lr 1e-05, 4x8, len 256, every 1000 steps on 500 dev rows, patience 30``: the settings a dry run shows."""
        select = {"epoch": "every epoch", "steps": f"every {self.select_every} steps", "last": "last model"}[self.select]
        if self.select != "last":
            select += f" on {self.dev_subset} dev rows" if self.dev_subset else " on the full dev set"
            select += f", patience {self.patience}" if self.patience else ""
        return f"lr {self.learning_rate:g}, {self.batch_size}x{self.grad_accum}, len {self.max_length}, {select}"


@dataclass
class QAConfig:
    """Extractive QA features and span decoding (XTREME ``run_squad.py`` settings)."""

    max_length: int = field(default=384, metadata={"help": "sub-tokens per window (question + context)"})
    doc_stride: int = field(default=128, metadata={"help": "context sub-tokens between window starts"})
    max_query_length: int = field(default=64, metadata={"help": "question sub-tokens kept"})
    n_best: int = field(default=20, metadata={"help": "start and end candidates per window"})
    max_answer_length: int = field(default=30, metadata={"help": "longest answer in sub-tokens"})
    squad_version: str = field(default="1.1", metadata={"help": "intermediate SQuAD: 1.1 or 2.0"})
    answer_text: str = field(default="xtreme", metadata={
        "help": "span to text: xtreme (whitespace words + get_final_text), jiant (the same, but zh answers "
                "are the sub-tokens' text) or offsets (context characters between sub-token offsets)"})

    def __post_init__(self) -> None:
        if self.answer_text not in ANSWER_TEXT_MODES:
            raise RunnerError(f"qa.answer_text {self.answer_text!r} must be one of {', '.join(ANSWER_TEXT_MODES)}")
        if self.squad_version not in ("1.1", "2.0"):
            raise RunnerError(f"qa.squad_version {self.squad_version!r} must be 1.1 or 2.0")
        if self.max_query_length < 1 or self.max_length < 16:
            raise RunnerError("qa.max_length must be >= 16 and qa.max_query_length >= 1")
        if self.doc_stride < 1 or self.n_best < 1 or self.max_answer_length < 1:
            raise RunnerError("qa.doc_stride, qa.n_best and qa.max_answer_length must be >= 1")


@dataclass
class RetrievalConfig:
    """Sentence embeddings for BUCC and Tatoeba, and batched similarity search."""

    layer: int | None = field(default=None, metadata={
        "help": "hidden layer to mean-pool (1 = first transformer layer); None: 14/24 of the depth, "
                "XTREME's choice for XLM-R Large"})
    max_length: int = field(default=512, metadata={"help": "sub-tokens per sentence (XTREME: 512)"})
    neighbourhood: int = field(default=4, metadata={"help": "BUCC margin scoring: k nearest neighbours"})
    block_size: int = field(default=4096, metadata={"help": "queries and keys compared per block (memory bound)"})

    def __post_init__(self) -> None:
        if self.layer is not None and self.layer < 0:
            raise RunnerError("retrieval.layer must be >= 0 (0 = embeddings)")
        if self.max_length < 8 or self.neighbourhood < 1 or self.block_size < 1:
            raise RunnerError("retrieval.max_length must be >= 8, neighbourhood and block_size >= 1")


#: TrainConfig fields that change what is measured (and so the run id and checkpoint keys).
HPARAM_FIELDS = ("learning_rate", "weight_decay", "warmup_ratio", "warmup_steps", "batch_size", "grad_accum", "epochs",
                 "max_length", "max_grad_norm", "dropout", "max_train_examples", "max_eval_examples",
                 "select", "select_every", "dev_subset", "patience")
#: Phase 1's fields (recorded under ``hparams.intermediate``): phase 2's, and phase 1's own QA windows.
PHASE1_FIELDS = (*HPARAM_FIELDS, "qa_max_length")


@dataclass
class RunConfig:
    """One ``runner run``: what to run, where data and artefacts live, how to train."""

    pair: str = field(default="", metadata={"help": "INTERMEDIATE:TARGET, e.g. mnli:xnli, none:udpos"})
    recipe: str = field(default="xstilts", metadata={"help": "named training protocol (runner.recipes): xstilts, xtreme, xtreme-r"})
    model: str = field(default="xlm-roberta-large", metadata={"help": "Hub id or local folder of an encoder"})
    seed: int = field(default=1, metadata={"help": "random seed (data order, heads, dropout)"})
    variant: str = field(default="", metadata={"help": "'' (plain), mlm or translated (runner.training.variants)"})
    data_dir: str | None = field(default=None, metadata={"help": "local copies of the Hub dataset repos"})
    ccg_path: str | None = field(default=None, metadata={"help": "folder with CCGbank train.jsonl/dev.jsonl"})
    mewslix_path: str | None = field(default=None, metadata={"help": "folder with XTREME-R's Mewsli-X jsonl files"})
    udpos_path: str | None = field(default=None, metadata={
        "help": "folder of raw UD treebanks (ud-treebanks-v2.x): UD-POS converted as XTREME's download does"})
    bucc_path: str | None = field(default=None, metadata={
        "help": "folder of the BUCC 2018 files as XTREME's download lays them out ({lg}-en.{dev,test}.{lg,en,gold})"})
    lareqa_path: str | None = field(default=None, metadata={
        "help": "folder of LAReQA's repo (xquad-r/{lang}.json with sentence breaks): LAReQA's own sentences"})
    work_dir: str = field(default="", metadata={"help": "artefacts: caches, checkpoints, predictions, logs"})
    store: str | None = field(default=None, metadata={"help": "store folder (default: $XSTILTS_STORE)"})
    device: str = field(default="auto", metadata={"help": "auto, cpu or cuda"})
    overwrite: bool = field(default=False, metadata={"help": "redo every phase even when its artefact exists"})
    predictions: bool = field(default=True, metadata={
        "help": "keep every evaluated example's prediction beside the run in the store (store.predictions)"})
    train: TrainConfig = field(default_factory=TrainConfig, metadata={"help": "phase 2 (and, given by the user, every phase)"})
    intermediate: TrainConfig = field(default_factory=TrainConfig, metadata={"help": "phase 1 (intermediate training)"})
    epochs: dict[str, int] = field(default_factory=dict, metadata={"help": "epochs per stage name"})
    dev_from: dict[str, str] = field(default_factory=dict, metadata={
        "help": "select a stage on another stage's English dev set, e.g. xnli_en: mnli (jiant's XNLI)"})
    formats: dict[str, str] = field(default_factory=dict, metadata={
        "help": "input format per data adapter, e.g. mc_copa: question (runner.tasks.records.FORMATS)"})
    qa: QAConfig = field(default_factory=QAConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    mix: MixConfig = field(default_factory=MixConfig, metadata={"help": "multi-task sampling (runner.training.mixing)"})
    mlm: MlmConfig = field(default_factory=MlmConfig, metadata={"help": "--variant mlm settings"})
    translated: TranslatedConfig = field(default_factory=TranslatedConfig, metadata={"help": "--variant translated settings"})

    def __post_init__(self) -> None:
        for name, cls in SECTIONS.items():
            value = getattr(self, name)
            if isinstance(value, Mapping):
                setattr(self, name, _from_mapping(cls, value, name))
            elif not isinstance(value, cls):
                raise RunnerError(f"{name} must be a mapping of settings (e.g. {name}.FIELD=VALUE), got {value!r}")
        if not self.work_dir:
            self.work_dir = os.environ.get("XSTILTS_WORK_DIR") or str(Path("var") / "runner")
        _check_folder(self.work_dir, "--work-dir")
        for name, flag in (("udpos_path", "--udpos-path"), ("bucc_path", "--bucc-path"), ("lareqa_path", "--lareqa-path")):
            value = getattr(self, name)
            if value is not None and not Path(value).expanduser().is_dir():
                raise RunnerError(f"{flag} {value}: no such folder; give the folder that holds the files")
        if self.device not in ("auto", "cpu", "cuda"):
            raise RunnerError(f"device {self.device!r} must be auto, cpu or cuda")
        if self.variant == "none":
            self.variant = ""
        check_variant(self.variant, self.mlm, self.translated)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed <= SEED_MAX:
            raise RunnerError(
                f"seed {self.seed!r} is out of range: give a whole number from 0 to {SEED_MAX:,} "
                "(what the store's seed column holds)"
            )
        for stage, n in self.epochs.items():
            if not isinstance(n, int) or n < 1:
                raise RunnerError(f"epochs.{stage} must be a whole number >= 1, got {n!r}")
        for adapter, name in self.formats.items():
            known = FORMATS.get(adapter)
            if known is None:
                raise RunnerError(f"formats.{adapter}: no input format to choose for {adapter!r}{suggest(adapter, FORMATS)}; "
                                  f"formats exist for {', '.join(FORMATS)}")
            if name not in known:
                raise RunnerError(f"formats.{adapter} {name!r} is unknown{suggest(str(name), known)}; give one of "
                                  f"{', '.join(known)}")

    def phase(self, name: str) -> RunConfig:
        """This config as phase ``name`` runs it: ``intermediate`` trains with its own settings
        (and its own QA window length where ``intermediate.qa_max_length`` is set)."""
        if name != "intermediate":
            return self
        n = self.intermediate.qa_max_length
        qa = dataclasses.replace(self.qa, max_length=n, doc_stride=min(self.qa.doc_stride, max(1, n // 2))) if n else self.qa
        return dataclasses.replace(self, train=self.intermediate, qa=qa)


def _check_folder(path: str, flag: str) -> None:
    """A folder that exists or can be created: neither it nor a parent may be a file."""
    p = Path(path).expanduser()
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                raise RunnerError(f"{flag} {path}: {q} is a file, not a folder; give a folder")
            return


#: Nested sections of RunConfig (YAML mappings, ``--set SECTION.FIELD=VALUE``).
SECTIONS = {"train": TrainConfig, "intermediate": TrainConfig, "qa": QAConfig, "retrieval": RetrievalConfig, "mix": MixConfig,
            "mlm": MlmConfig, "translated": TranslatedConfig}


def _from_mapping(cls, values: Mapping, where: str):
    names = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in names:
            raise RunnerError(f"unknown setting {where}.{key}{suggest(key, names)}; known: {', '.join(sorted(names))}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in values:
            kwargs[f.name] = _coerce(values[f.name], f, where)
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise RunnerError(f"{where}: {e}") from e


def _coerce(value, f: dataclasses.Field, where: str):
    """Turns YAML / CLI strings into the field's type (int, float, bool, optional)."""
    typ = str(f.type)
    if value is None or isinstance(value, (dict, *SECTIONS.values())):
        return value
    if typ == "str" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # YAML reads `squad_version: 2.0` as a number
    try:
        if typ.startswith("bool"):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if typ.startswith("int"):
            if isinstance(value, str) and value.lower() == "none" and "None" in typ:
                return None
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if typ.startswith("float"):
            number = float(value)
            if not math.isfinite(number):
                raise RunnerError(f"{where}.{f.name}: {value!r} is not a finite number; give e.g. {f.default!r}")
            return number
    except (TypeError, ValueError) as e:
        raise RunnerError(f"{where}.{f.name}: {value!r} is not a valid {typ}") from e
    return value


def build_config(values: Mapping) -> RunConfig:
    """A validated RunConfig from a nested mapping (YAML file merged with flags) over its recipe."""
    return _from_mapping(RunConfig, merge(recipes.defaults(values), {k: v for k, v in values.items() if k != "recipe"}),
                         "config")


def load_yaml(path: str | Path) -> dict:
    """Reads a YAML config file into a mapping; RunnerError when it is missing or malformed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except OSError as e:
        raise RunnerError(f"cannot read config file {path}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise RunnerError(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}") from e
    if not isinstance(data, dict):
        raise RunnerError(f"config file {path} must hold a mapping of settings")
    return data


def merge(base: Mapping, override: Mapping) -> dict:
    """Nested merge: values in ``override`` win; nested mappings merge key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_set(assignments: list[str]) -> dict:
    """``["train.learning_rate=3e-5", "epochs.mnli=1"]`` -> nested mapping (values as strings)."""
    out: dict = {}
    for item in assignments:
        if "=" not in item:
            raise RunnerError(f"--set {item!r}: write KEY=VALUE, e.g. train.learning_rate=3e-5")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value.strip()
    for stage, value in out.get("epochs", {}).items():
        try:
            out["epochs"][stage] = int(value)
        except ValueError as e:
            raise RunnerError(f"--set epochs.{stage}={value}: give a whole number of epochs") from e
    return out


#: (section, field) of every length in sub-tokens that must fit the model's position table.
_LENGTHS = (("train", "max_length"), ("intermediate", "max_length"), ("intermediate", "qa_max_length"),
            ("qa", "max_length"), ("retrieval", "max_length"))
_NOTED: set[tuple] = set()


def cap_lengths(cfg: RunConfig, limit: int | None, model: str = "the model") -> RunConfig:
    """``cfg`` with every sequence length capped at the model's position limit (a note says so).

    A length over the limit would index past the position table at evaluation time; the capped
    value is what is run, so it is what the run records (and its run id reflects).
    """
    if not limit:
        return cfg
    changes = {}
    for section, name in _LENGTHS:
        value = getattr(getattr(cfg, section), name)
        if value is not None and value > limit:
            changes.setdefault(section, {})[name] = limit
            if cfg.qa is getattr(cfg, section) and cfg.qa.doc_stride > limit // 3:
                changes[section]["doc_stride"] = max(1, limit // 3)  # windows still overlap
            key = (model, section, name, value, limit)
            if key not in _NOTED:
                _NOTED.add(key)
                print(f"note: {section}.{name} {value} is more than {model}'s {limit} positions; using {limit}",
                      file=sys.stderr)
    if not changes:
        return cfg
    return dataclasses.replace(
        cfg, **{section: dataclasses.replace(getattr(cfg, section), **values) for section, values in changes.items()}
    )


def as_dict(cfg: RunConfig) -> dict:
    """The full config as plain data (recorded with the run)."""
    return dataclasses.asdict(cfg)


def hparams(cfg: RunConfig, intermediate: bool = False) -> dict:
    """What defines the run besides model, pair, seed and variant: the recipe, phase 2's training
    settings (flat, as runs before recipes recorded them), per-stage epochs and, for a pair with
    an intermediate phase, phase 1's settings under ``intermediate``."""
    d = {"recipe": cfg.recipe, **{k: getattr(cfg.train, k) for k in HPARAM_FIELDS}}
    d["epochs_per_stage"] = dict(sorted(cfg.epochs.items()))
    if intermediate:
        d["intermediate"] = {k: getattr(cfg.intermediate, k) for k in PHASE1_FIELDS}
    return d
