"""The three phases of a run, each leaving an artefact on disk, then one write to the store.

Layout of the work folder::

    WORK/cache/tokenized/<key>.pkl                     tokenised splits (shared by every run)
    WORK/intermediate/<model>/<tasks>[__<variant>]__s<seed>__<key>/
                                                       phase 1: best/ + done.json, shared by
                                                       every target (mnli:xnli and mnli:pawsx)
    WORK/cache/mlm/<key>.npz                           --variant mlm: the corpus's token sequences
    WORK/runs/<run_id>/target/<i>-<stage>/             phase 2: best/ + done.json per stage
    WORK/runs/<run_id>/predictions/<lang>.json         phase 3: one file per language
    WORK/runs/<run_id>/results.json, run.log           what was written to the store; the log

Targets evaluated without fine-tuning (BUCC, Tatoeba: pooled states of the phase-1 encoder) have no
phase 2. A phase whose artefact exists is skipped; a phase that was killed resumes from its checkpoint;
``--overwrite`` removes this run's artefacts (and its intermediate checkpoint) first.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoConfig

from runner import config as config_mod
from runner.config import RunConfig, TrainConfig
from runner.data.read import DataLocation, check_available, read_stage, stage_labels
from runner.errors import RunnerError
from runner.evaluation.targets import TargetEvaluator
from runner.kinds import KINDS, Kind, build_model
from runner.modeling.encoder import load_encoder, load_tokenizer
from runner.modeling.features import Encoded, tokenizer_fingerprint
from runner.tasks.qa import SQUAD_V2_STAGE
from runner.tasks.records import Stage, TaskSpec, formats_used, with_dev_sets, with_formats
from runner.tasks.registry import all_sources, get_task, intermediate_stage, registry
from runner.training import mixing, mlm, variants
from runner.training.device import hardware, pick_device, set_seed
from runner.training.loop import TaskData, epoch_plan, train_stage
from store.catalog import MULTITASK, load_catalog, suggest
from store.database import Store
from store.errors import StoreError
from store.records import DevScore, Result, Run
from store.sync import push_run

log = logging.getLogger("runner")
#: Bumped when the features of a kind change shape: older tokenised caches are then not read
#: (3: QA evaluation features keep the context sub-tokens, for answer_text).
FEATURES_VERSION = 3


@dataclass
class Pair:
    """A parsed ``INTERMEDIATE:TARGET``: canonical intermediate spelling, its tasks, the target."""

    intermediate: str
    tasks: tuple[str, ...]
    target: str


def parse_pair(text: str) -> Pair:
    """Parses and checks a pair; RunnerError (with a near match) for anything malformed or unknown."""
    if text.count(":") != 1 or not all(text.split(":")):
        raise RunnerError(f"malformed pair {text!r}: write INTERMEDIATE:TARGET, e.g. mnli:xnli, none:udpos, mnli+qqp:xnli")
    inter, target = text.split(":")
    cat = load_catalog()
    try:
        tasks = cat.parse_intermediate(inter)
        canonical = cat.canonical_intermediate(inter)
    except StoreError as e:
        raise RunnerError(str(e)) from e
    get_task(target, role="target", runnable=True)
    for t in tasks:
        try:
            get_task(t, role="intermediate", runnable=True)
        except RunnerError as e:
            if canonical != MULTITASK:
                raise
            raise RunnerError(f"multitask trains all {len(tasks)} intermediate tasks ({'+'.join(tasks)}), but {e}; "
                              "meanwhile join the runnable ones with '+'") from e
    return Pair(canonical, tasks, target)


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "--", text).strip("-")[:80]


def model_name(cfg: RunConfig) -> str:
    """The model as recorded in the store: the Hub id, or a local folder's name."""
    path = Path(cfg.model).expanduser()
    return path.name if path.is_dir() else cfg.model


def code_version() -> str:
    """``xstilts <version>`` plus the git commit when the package runs from a checkout."""
    try:
        text = f"xstilts {version('xstilts')}"
    except Exception:  # not installed (run from a checkout): the commit below identifies it
        text = "xstilts"
    try:
        sha = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{text}+g{sha}" if sha else text


@dataclass
class Layout:
    """Every path and key of one run, derived from its config (nothing is created)."""

    cfg: RunConfig
    pair: Pair
    target: TaskSpec
    loc: DataLocation
    work: Path
    run: Run
    inter_dir: Path | None
    run_dir: Path
    stage_dirs: list[tuple[Stage, Path]] = field(default_factory=list)
    #: ``--variant mlm``: the corpus; ``--variant translated``: the translated data (else None).
    variant_source: variants.DataSource | None = None

    @property
    def languages(self) -> list[str]:
        return list(self.target.test)


def stage_epochs(cfg: RunConfig, stage: Stage, phase: str = "target") -> int:
    """Epochs of a stage: ``epochs.<stage>``, else the phase's ``epochs`` (``train`` for phase 2,
    ``intermediate`` for phase 1; the recipe's unless given), else the declared default."""
    return cfg.epochs.get(stage.name) or cfg.phase(phase).train.epochs or stage.epochs


def dev_limit(tr: TrainConfig) -> int | None:
    """Dev rows read for selection: the first ``dev_subset`` (recipe), at most ``max_eval_examples``."""
    limits = [n for n in (tr.dev_subset, tr.max_eval_examples) if n is not None]
    return min(limits) if limits else None


def _stage_sources(stages: list[Stage]) -> list[tuple[str, object]]:
    return [(f"{st.name}/{part}", src) for st in stages for part, src in (("train", st.train), ("dev", st.dev))]


def _sources_record(specs: list[TaskSpec], stages: list[Stage] = ()) -> list[str]:
    """Every split read (``repo@revision:pattern``): the specs' and the given training stages'."""
    pairs = [x for s in specs for x in all_sources(s)] + _stage_sources(list(stages))
    return sorted({f"{r.repo.repo}@{r.repo.revision}:{r.pattern()}" for _, src in pairs for r in src.refs})


def _section_hparams(cfg: RunConfig, section: str, intermediate: bool) -> dict:
    """The settings of one ``RunConfig`` section as run hyperparameters (``qa.squad_version``
    only where an intermediate phase trains SQuAD)."""
    values = dataclasses.asdict(getattr(cfg, section))
    if section == "qa" and not intermediate:
        values.pop("squad_version")
    return values


@functools.lru_cache(maxsize=32)
def position_limit(model: str) -> int | None:
    """Longest input in sub-tokens that the model's position table holds; None when unknown.

    Read from the config alone (no weights, no network: a Hub model counts once it is cached).
    RoBERTa-style models (XLM-R) number positions after the padding index: 514 embeddings hold
    512 tokens.
    """
    try:
        config = AutoConfig.from_pretrained(model, local_files_only=True)
    except Exception:  # noqa: BLE001 - not loadable offline: check_model says why, later
        return None
    config = getattr(config, "text_config", None) or config
    n = getattr(config, "max_position_embeddings", None)
    if not isinstance(n, int) or n <= 0:
        return None
    if "roberta" in str(getattr(config, "model_type", "")) or getattr(config, "model_type", "") == "camembert":
        n -= (getattr(config, "pad_token_id", None) or 1) + 1
    return n


def _stages() -> dict[str, Stage]:
    """Every training stage by name (SQuAD v2.0 under ``squad`` only where asked for)."""
    return {st.name: st for spec in registry().values() for st in spec.stages}


def _check_epoch_stages(cfg: RunConfig) -> None:
    """``epochs.STAGE`` and ``dev_from.STAGE`` must name training stages: a typo would silently
    train the default."""
    known = set(_stages()) | {SQUAD_V2_STAGE.name}
    for stage in cfg.epochs:
        if stage not in known:
            raise RunnerError(f"epochs.{stage}: no training stage is called {stage!r}{suggest(stage, known)}; "
                              f"stages: {', '.join(sorted(known))}")
    stages = _stages()
    for stage, other in cfg.dev_from.items():
        for name in (stage, other):
            if name not in stages:
                raise RunnerError(f"dev_from.{stage}={other}: no training stage is called {name!r}"
                                  f"{suggest(str(name), stages)}; stages: {', '.join(sorted(stages))}")
        if (stages[stage].kind, stages[stage].labels) != (stages[other].kind, stages[other].labels):
            raise RunnerError(f"dev_from.{stage}={other}: {other}'s dev set has other labels or another head kind "
                              f"than {stage}; give a stage of the same task type")


def layout(cfg: RunConfig) -> Layout:
    """Parses the pair and derives run id, intermediate key and every artefact path."""
    if not cfg.pair:
        raise RunnerError("give --pair INTERMEDIATE:TARGET, e.g. --pair mnli:xnli")
    pair = parse_pair(cfg.pair)
    _check_epoch_stages(cfg)
    cfg = config_mod.cap_lengths(cfg, position_limit(str(Path(cfg.model).expanduser())), model_name(cfg))
    target = get_task(pair.target, role="target", runnable=True)
    inters = [get_task(t, role="intermediate", runnable=True) for t in pair.tasks]
    loc = DataLocation(Path(cfg.data_dir).expanduser() if cfg.data_dir else None,
                       Path(cfg.ccg_path).expanduser() if cfg.ccg_path else None,
                       mewslix_path=Path(cfg.mewslix_path).expanduser() if cfg.mewslix_path else None,
                       udpos_path=Path(cfg.udpos_path).expanduser() if cfg.udpos_path else None,
                       bucc_path=Path(cfg.bucc_path).expanduser() if cfg.bucc_path else None,
                       lareqa_path=Path(cfg.lareqa_path).expanduser() if cfg.lareqa_path else None)
    # what is read: the original files where a local folder of them is given (--udpos-path, --bucc-path, ...)
    local_data = target.local_fields(loc.given())
    target = with_formats(target.resolve(loc.given()), cfg.formats)
    dev_from = {st.name: cfg.dev_from[st.name] for st in target.stages if st.name in cfg.dev_from}
    target = with_dev_sets(target, {stage: _stages()[other] for stage, other in dev_from.items()})
    work = Path(cfg.work_dir).expanduser()
    hp = config_mod.hparams(cfg, intermediate=bool(pair.tasks))
    if dev_from:  # selecting on another task's dev set defines the run (the recipe's choice)
        hp["dev_from"] = dev_from
    if formats_used(target, cfg.formats):
        hp["formats"] = formats_used(target, cfg.formats)  # the input format defines the run (XCOPA)
    if local_data:  # the same pair read from the original files is another run (its data differ)
        hp["local_data"] = local_data
    inter_stages = [intermediate_stage(t, cfg.qa.squad_version) for t in pair.tasks]
    # A kind's settings section (QA windows, retrieval pooling) defines the runs of that kind only
    # (other run ids stay as they were); squad_version defines an intermediate QA phase only.
    inter_sections = {KINDS[s.kind].config_section for s in inter_stages} - {None}
    sections = (inter_sections | {KINDS[target.eval_kind].config_section}) - {None}
    for section in sorted(sections):
        hp[section] = _section_hparams(cfg, section, section in inter_sections)
    source = variants.resolve_for(cfg, pair.intermediate, pair.target, bool(pair.tasks), loc.data_dir)
    if len(pair.tasks) > 1:
        hp["mix"] = cfg.mix.hparams()  # how a multi-task phase samples its tasks defines the run
    hp.update(variants.hparams(cfg.variant, cfg.mlm, cfg.translated, source, cfg.intermediate.max_length))
    full = config_mod.as_dict(cfg)
    full["data_sources"] = _sources_record([target], inter_stages)
    # what the target phase and evaluation read: a `none` baseline must have read the same (store.configuration)
    full["target_data_sources"] = _sources_record([target])
    if source is not None:
        full["variant_source"] = {"given": source.given, "identity": source.identity()}
    # The setup as `store claims` reads it (claim 7): the phases this pair runs, and its tasks.
    full["phases"] = (["intermediate"] if inters else []) + (["target"] if target.stages else []) + ["evaluation"]
    full["intermediate_tasks"] = list(pair.tasks)
    run = Run(model=model_name(cfg), intermediate=pair.intermediate, target=pair.target, seed=cfg.seed,
              variant=cfg.variant, hparams=hp, config=full)
    inter_dir = None
    if inters:
        stages = inter_stages
        # phase 2's settings, other stages' epochs, the target's data and evaluation settings don't
        # change phase 1, nor does the recipe's name: recipes with the same phase 1 share its checkpoint
        phase2 = {"recipe", "epochs_per_stage", "formats", "dev_from", "intermediate", "local_data", *config_mod.HPARAM_FIELDS,
                  *sections}
        shared = {k: v for k, v in hp.items() if k not in phase2}
        shared.update({section: hp[section] for section in inter_sections})
        shared.update(hp["intermediate"])
        key = _hash({"model": cfg.model, "tasks": pair.tasks, "seed": cfg.seed, "train": shared,
                     "epochs": {s.name: stage_epochs(cfg, s, "intermediate") for s in stages},
                     "sources": _sources_record([], inter_stages)})
        variant = f"__{cfg.variant}" if cfg.variant else ""
        inter_dir = work / "intermediate" / _slug(model_name(cfg)) / f"{pair.intermediate}{variant}__s{cfg.seed}__{key}"
    run_dir = work / "runs" / run.run_id
    stage_dirs = [(s, run_dir / "target" / f"{i}-{s.name}") for i, s in enumerate(target.stages)]
    return Layout(cfg, pair, target, loc, work, run, inter_dir, run_dir, stage_dirs, source)


def check_inputs(lay: Layout) -> None:
    """Checks local data (no network) for every split of the run's tasks, and the variant's data."""
    stages = [intermediate_stage(t, lay.cfg.qa.squad_version) for t in lay.pair.tasks]
    check_available(_stage_sources(stages) + all_sources(lay.target), lay.loc)
    if lay.variant_source is not None:
        variants.check_data(lay.cfg, lay.variant_source, stages, lay.pair.tasks)


# ------------------------------------------------------------------------------------- status
def phase_status(lay: Layout) -> list[tuple[str, str, str, Path | None]]:
    """(phase, what, state, folder) for the dry run and the log; state is cached / partial / to run."""
    out = []
    if lay.inter_dir is None:
        out.append(("1 intermediate", "none (baseline: no intermediate phase)", "skipped", None))
    else:
        state = "cached" if (lay.inter_dir / "done.json").exists() else \
            "partial (resumes)" if lay.inter_dir.exists() else "to run"
        what = "+".join(lay.pair.tasks) + (f" ({lay.cfg.mix.describe()})" if len(lay.pair.tasks) > 1 else "")
        stages = [intermediate_stage(t, lay.cfg.qa.squad_version) for t in lay.pair.tasks]
        epochs = max(stage_epochs(lay.cfg, s, "intermediate") for s in stages)
        what += variants.describe(lay.cfg) + f" ({epochs} epochs; {lay.cfg.intermediate.describe()})"
        out.append(("1 intermediate", what, state, lay.inter_dir))
    if not lay.stage_dirs:
        out.append(("2 target", f"none ({lay.target.name}: no target fine-tuning, as XTREME)", "skipped", None))
    for stage, folder in lay.stage_dirs:
        state = "cached" if (folder / "done.json").exists() else "partial (resumes)" if folder.exists() else "to run"
        epochs = stage_epochs(lay.cfg, stage)
        other = lay.run.hparams.get("dev_from", {}).get(stage.name)
        dev = f"; dev set of {other}" if other else ""
        out.append(("2 target", f"{stage.name} ({epochs} epochs; {lay.cfg.train.describe()}{dev})", state, folder))
    done = sum((lay.run_dir / "predictions" / f"{lang}.json").exists() for lang in lay.languages)
    n = len(lay.languages)
    out.append(("3 evaluate", f"{n} languages", "cached" if done == n else f"{done}/{n} done", lay.run_dir / "predictions"))
    return out


# --------------------------------------------------------------------------------- execution
class Runner:
    """Runs the phases of one layout; loads the tokenizer and model lazily."""

    def __init__(self, lay: Layout):
        self.lay = lay
        self.cfg = lay.cfg
        self.device = pick_device(lay.cfg.device)
        self._tokenizer = None
        self.wall: dict[str, float] = {}

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.cfg.model)
        return self._tokenizer

    def _encoded(self, what: str, kind: Kind, examples_fn, labels, training: bool = False, cfg: RunConfig | None = None,
                 **options) -> Encoded:
        """Tokenised features, cached under a key of tokenizer, source and settings.

        ``cfg``: the phase's config (default: phase 2's); ``options`` are kind-specific encoder
        settings (QA windows, dual-encoder lengths)."""
        tr = (cfg or self.cfg).train
        options = {"max_length": tr.max_length, **options}
        key = _hash({"what": what, "kind": kind.name, "labels": labels, "max_length": tr.max_length,
                     "tok": tokenizer_fingerprint(self.tokenizer), "options": options, "training": training,
                     "version": FEATURES_VERSION})
        path = self.lay.work / "cache" / "tokenized" / f"{key}.pkl"
        if path.exists():
            return Encoded.load(path)
        enc = kind.encode(examples_fn(), self.tokenizer, training=training, **options)
        enc.save(path)
        return enc

    def _stage_data(self, stage: Stage, head: str, translated: bool = False, cfg: RunConfig | None = None) -> TaskData:
        """A stage's tokenised data; ``translated``: phase 1 of ``--variant translated``; ``cfg``:
        the phase's config (default: phase 2's). The dev set is the first ``dev_subset`` rows."""
        cfg = cfg or self.cfg
        tr, lay = cfg.train, self.lay
        n_dev = dev_limit(tr)
        cached = {}

        def examples(part: str):
            if not cached:
                cached["train"], cached["dev"], cached["labels"] = read_stage(stage, lay.loc, tr.max_train_examples, n_dev)
                if translated:  # the dev set stays English: selection never sees target-language data
                    cached["train"] = variants.read_translated(lay.cfg.translated, lay.variant_source, stage, head,
                                                               len(lay.pair.tasks), cached["train"], cached["labels"],
                                                               tr.max_train_examples)
            return cached[part]

        kind = KINDS[stage.kind]
        labels = stage_labels(stage, self.lay.loc)
        what = {"train": repr(stage.train), "dev": repr(stage.dev), "limits": [tr.max_train_examples, tr.max_eval_examples]}
        options = kind.options(cfg, stage)
        train_what = {**what, "translated": lay.run.hparams["translated"]} if translated else what
        train = self._encoded(json.dumps([train_what, "train"]), kind, lambda: examples("train"), labels, True, cfg, **options)
        dev_what = {**what, "limits": [tr.max_train_examples, n_dev]}
        dev = self._encoded(json.dumps([dev_what, "dev"]), kind, lambda: examples("dev"), labels, False, cfg, **options)
        return TaskData(head, stage.kind, labels, train, dev, stage.metric, kind.dev_evaluator(cfg, stage))

    def _model(self, start: str | Path, heads: dict, head_dir: Path | None = None, cfg: RunConfig | None = None):
        encoder = load_encoder(start)
        set_seed(self.cfg.seed)  # heads start the same way on every run with this seed
        model = build_model(encoder, heads, (cfg or self.cfg).train.dropout)
        if head_dir is not None:
            model.load_heads(head_dir, list(heads))
        return model

    def phase_intermediate(self) -> list[DevScore]:
        """Phase 1: fine-tunes the encoder on the intermediate task(s); returns their dev scores."""
        lay = self.lay
        if lay.inter_dir is None:
            return []
        folder = lay.inter_dir
        if not (folder / "done.json").exists():
            log.info("phase 1 intermediate (%s): training in %s", lay.pair.intermediate, folder)
            cfg = self.cfg.phase("intermediate")  # phase 1's training settings (the recipe's intermediate)
            tr = cfg.train
            stages = [intermediate_stage(t, cfg.qa.squad_version) for t in lay.pair.tasks]
            tasks = [self._stage_data(s, name, cfg.variant == "translated", cfg) for s, name in zip(stages, lay.pair.tasks)]
            heads = {t.name: (t.kind, len(t.labels)) for t in tasks}
            epochs = max(stage_epochs(cfg, s) for s in stages)  # multi-task: tasks mixed in every epoch
            extra = self._dev_sizes(tasks)
            extra["n_train"] = {t.name: len(t.train) for t in tasks}

            def plan_fn(epoch: int, base: tuple = tuple(tasks)):
                return epoch_plan(list(base), tr, cfg.seed, epoch, cfg.mix)

            if len(tasks) > 1:
                extra["mix"] = mixing.summary([len(t.train) for t in tasks], tr.batch_size, cfg.mix, [t.name for t in tasks])
                log.info("phase 1: %s sampling, batches per epoch %s", cfg.mix.describe(), extra["mix"]["batches_per_epoch"])
            if cfg.variant == "mlm":
                model, tasks, plan_fn, extra["mlm"] = mlm.attach(cfg, lay.variant_source, tasks, heads, plan_fn, epochs,
                                                                 self.tokenizer, lay.work / "cache" / "mlm")
            else:
                model = self._model(cfg.model, heads, cfg=cfg)
            set_seed(cfg.seed)
            train_stage(model, tasks, tr, epochs, folder, self.device, self.tokenizer, cfg.seed,
                        label=f"phase 1 {lay.pair.intermediate}", extra=extra, plan_fn=plan_fn)
        else:
            log.info("phase 1 intermediate (%s): cached at %s", lay.pair.intermediate, folder)
        done = json.loads((folder / "done.json").read_text())
        metric = {t: get_task(t).stages[0].metric for t in lay.pair.tasks}
        return [DevScore("intermediate", t, metric[t], done["dev"][t][metric[t]], done["n_dev"][t]) for t in lay.pair.tasks]

    @staticmethod
    def _dev_sizes(tasks) -> dict:
        """Dev-set sizes in examples (not tagging windows), recorded in done.json."""
        return {"n_dev": {t.name: len(set(t.dev.example_ids)) for t in tasks}}

    def phase_target(self) -> DevScore | None:
        """Phase 2: fine-tunes on the target's English training stage(s); returns the dev score
        (None for targets evaluated without fine-tuning: BUCC, Tatoeba)."""
        lay, tgt = self.lay, self.lay.target
        if not lay.stage_dirs:
            log.info("phase 2 target (%s): skipped, no target fine-tuning", tgt.name)
            return None
        start: Path | str = lay.inter_dir / "best" / "encoder" if lay.inter_dir else self.cfg.model
        head_dir = None
        for i, (stage, folder) in enumerate(lay.stage_dirs):
            if not (folder / "done.json").exists():
                log.info("phase 2 target stage %d (%s): training in %s", i + 1, stage.name, folder)
                task = self._stage_data(stage, tgt.name)
                model = self._model(start, {tgt.name: (task.kind, len(task.labels))}, head_dir)
                set_seed(self.cfg.seed + 1 + i)
                train_stage(model, [task], self.cfg.train, stage_epochs(self.cfg, stage), folder, self.device,
                            self.tokenizer, self.cfg.seed + 1 + i, label=f"phase 2 {stage.name}",
                            extra=self._dev_sizes([task]))
            else:
                log.info("phase 2 target stage %d (%s): cached at %s", i + 1, stage.name, folder)
            start, head_dir = folder / "best" / "encoder", folder / "best"  # the next stage continues the head
        stage, folder = lay.stage_dirs[-1]
        done = json.loads((folder / "done.json").read_text())
        headline = load_catalog().task(tgt.name).headline_metric
        value = done["dev"][tgt.name][headline if headline in done["dev"][tgt.name] else stage.metric]
        return DevScore("target", tgt.name, headline, value, done["n_dev"][tgt.name])

    def phase_evaluate(self) -> list[Result]:
        """Phase 3: zero-shot evaluation on every language's test set, one file per language.

        The target's evaluated kind says how (``runner.kinds``: ``evaluate_target``)."""
        lay, tgt = self.lay, self.lay.target
        out_dir = lay.run_dir / "predictions"
        evaluator = None
        t0 = time.perf_counter()
        results: list[Result] = []
        for lang, src in tgt.test.items():
            path = out_dir / f"{lang}.json"
            if path.exists() and self.cfg.predictions and "examples" not in json.loads(path.read_text()):
                log.info("phase 3 %s: evaluated before predictions were kept; evaluating again", lang)
                path.unlink()
            if not path.exists():
                if evaluator is None:
                    evaluator = TargetEvaluator(self, KINDS[tgt.eval_kind])
                record = evaluator(lang, src)
                _write_json(path, record)
                log.info("phase 3 %s: %s", lang, json.dumps(record["metrics"]))
            record = json.loads(path.read_text())
            split = src.columns.get("store_split", "test")  # Hub-only BUCC: its own split, never beside published
            results += [Result(lang, m, float(record["metrics"][m]), split, record["n_examples"]) for m in tgt.metrics]
        if evaluator is not None:
            self.wall["evaluate"] = time.perf_counter() - t0
        return results


def _write_json(path: Path, record: dict) -> None:
    """Writes one language's predictions atomically (a killed run never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)


def _wall_total(lay: Layout, runner: Runner) -> float:
    folders = ([lay.inter_dir] if lay.inter_dir else []) + [f for _, f in lay.stage_dirs]
    total = sum(json.loads((f / "done.json").read_text()).get("wall_time_s", 0.0) for f in folders)
    return total + sum(runner.wall.values())


def _phase1_record(lay: Layout) -> dict:
    """What phase 1 did beyond its settings: realised task sampling and MLM data (run config)."""
    if lay.inter_dir is None:
        return {}
    done = json.loads((lay.inter_dir / "done.json").read_text())
    return {f"intermediate_{k}": done[k] for k in ("mix", "mlm") if k in done}


def _example_rows(lay: Layout) -> list[dict] | None:
    """Phase 3's per-example rows of every language (None with --no-predictions or when none)."""
    if not lay.cfg.predictions:
        return None
    rows: list[dict] = []
    for lang in lay.target.test:
        record = json.loads((lay.run_dir / "predictions" / f"{lang}.json").read_text())
        rows += [{**row, "language": lang} for row in record.get("examples") or ()]
    return rows or None


def execute(lay: Layout, store_path: Path) -> tuple[Run, list[Result], bool]:
    """Runs (or skips) the three phases and writes the run to the store.

    Returns:
        (run, results, written): ``written`` is False when the identical run was already stored.
    """
    if lay.cfg.overwrite:
        for folder in (lay.inter_dir, lay.run_dir):
            if folder is not None and folder.exists():
                log.info("--overwrite: removing %s", folder)
                shutil.rmtree(folder)
    runner = Runner(lay)
    runner.tokenizer  # noqa: B018 - fails fast (exit 2) when the model does not load
    inter_scores = runner.phase_intermediate()
    target_score = runner.phase_target()
    results = runner.phase_evaluate()
    wall = _wall_total(lay, runner)
    gpu_hours = wall / 3600 * (1 if runner.device.type == "cuda" else 0)
    dev_scores = tuple(inter_scores) + ((target_score,) if target_score is not None else ())
    run = Run(**{**lay.run.__dict__, "config": {**lay.run.config, **_phase1_record(lay)},
                 "dev_scores": dev_scores,
                 "code_version": code_version(), "hardware": hardware(runner.device),
                 "wall_time_s": round(wall, 3), "gpu_hours": round(gpu_hours, 6)})
    try:
        with Store.open(store_path, read_only=False) as st:
            written = st.write_run(run, results, predictions=_example_rows(lay))
    except StoreError as e:
        raise RunnerError(f"store refused the run: {e}") from e
    (lay.run_dir / "results.json").write_text(json.dumps({"run_id": run.run_id, "results": [r.__dict__ for r in results],
                                                          "dev_scores": [s.__dict__ for s in run.dev_scores]}, indent=1))
    return run, results, written


# ------------------------------------------------------------------------------------ one run
@dataclass(frozen=True)
class RunReport:
    """What one ``run`` did.

    Attributes:
        run: the run as stored (record with dev scores, hardware, wall time).
        results: its per-language results.
        written: False when the identical run was already in the store.
        pushed: ``''`` (no ``--push``), ``pushed``, ``already on the remote`` or ``push failed: ...``.
    """

    run: Run
    results: list[Result]
    written: bool
    pushed: str = ""


@contextmanager
def run_log(run_dir: Path) -> Iterator[None]:
    """Sends the ``runner`` logger to the run's own ``run.log`` while the run executes."""
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)
        handler.close()


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a line is logged (tests swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def console_logging(verbose: bool, indent: str = "") -> None:
    """Phase log lines on stderr (``verbose``), else warnings only; every line also goes to run.log."""
    log.setLevel(logging.INFO)
    for h in [h for h in log.handlers if getattr(h, "_runner_console", False)]:
        log.removeHandler(h)
    console = _Stderr()
    console.setFormatter(logging.Formatter(f"{indent}%(message)s"))
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console._runner_console = True  # type: ignore[attr-defined]
    log.addHandler(console)
    log.propagate = False


def push_shard(store_path: Path, run_id: str, remote: str | None) -> str:
    """Uploads the run's shard to ``remote`` (``store.sync.push_run``); says what happened."""
    if not remote:
        return ""
    try:
        return "pushed" if push_run(store_path, run_id, remote) else "already on the remote"
    except StoreError as e:
        return f"push failed: {e}"


def run(lay: Layout, store_path: Path, push: str | None = None) -> RunReport:
    """One run end to end: the function that ``runner run`` and every run of ``runner grid`` call.

    Checks the run's local inputs, logs to ``WORK/runs/<run_id>/run.log``, runs (or skips) the
    three phases, writes the run to the store, and uploads its shard to ``push`` if given.

    Args:
        lay: the run's layout (``layout(cfg)``).
        store_path: the local store folder.
        push: a Hub dataset (``ORG/NAME``) or ``file:///path`` for ``store.sync.push_run``, or None.

    Raises:
        RunnerError: missing data, a model that does not load, a store that refuses the run.
    """
    check_inputs(lay)
    with run_log(lay.run_dir):
        log.info("run %s: %s:%s, model %s, seed %d; log in %s", lay.run.run_id, lay.pair.intermediate,
                 lay.pair.target, lay.cfg.model, lay.cfg.seed, lay.run_dir / "run.log")
        stored, results, written = execute(lay, store_path)
    return RunReport(stored, results, written, push_shard(store_path, stored.run_id, push))
