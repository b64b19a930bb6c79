"""``runner``: run INTERMEDIATE:TARGET pairs end to end, and list the tasks.

Commands::

    runner tasks [--sources]
    runner run --pair mnli:xnli [--model xlm-roberta-large] [--seed 1] [--config run.yaml]
               [--set train.learning_rate=2e-5 ...] [--data-dir DIR] [--store DIR] [--dry-run] [--overwrite]
               [--mix proportional|temperature] [--mix-temperature T] [--mix-cap N]      (multi-task pairs)
               [--variant mlm --mlm-corpus HUB_ID_OR_PATH [--mlm-every K]]
               [--variant translated --translated-data HUB_ID_OR_PATH [--translated-languages de,fr]]

User errors print ``error: <one line>`` and exit with status 2, leaving the store untouched.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from runner.errors import RunnerError
from store.errors import StoreError

log = logging.getLogger("runner")

#: Flags that set training fields (flag -> TrainConfig field).
TRAIN_FLAGS = {"lr": "learning_rate", "epochs": "epochs", "batch_size": "batch_size", "grad_accum": "grad_accum",
               "max_length": "max_length", "max_train_examples": "max_train_examples",
               "max_eval_examples": "max_eval_examples", "save_every_steps": "save_every_steps"}
#: Flags that set fields of the other sections: flag -> ((section, field), type, metavar, help).
SECTION_FLAGS = {
    "mix": (("mix", "sampling"), str, "NAME",
            "multi-task sampling: proportional (p_i ~ n_i, default) or temperature (p_i ~ n_i^(1/T))"),
    "mix_temperature": (("mix", "temperature"), float, "T", "T of --mix temperature (default 2)"),
    "mix_cap": (("mix", "cap"), int, "N", "count at most N examples per task when computing the rates"),
    "mlm_corpus": (("mlm", "corpus"), str, "HUB_ID_OR_PATH",
                   "--variant mlm: a dataset with a text column (Hub id, or a local folder or file)"),
    "mlm_every": (("mlm", "every"), int, "K", "--variant mlm: one MLM batch after every K task batches (default 1)"),
    "translated_data": (("translated", "data"), str, "HUB_ID_OR_PATH",
                        "--variant translated: the task's schema per language (Hub id or local folder)"),
    "translated_languages": (("translated", "languages"), str, "LANGS", "--variant translated: e.g. de,fr,zh"),
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="runner", description="Fine-tune and evaluate INTERMEDIATE:TARGET pairs.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tasks", help="list tasks with their types and languages")
    t.add_argument("--sources", action="store_true", help="also list every Hub file pattern and revision")
    r = sub.add_parser("run", help="run one pair: intermediate fine-tune, target fine-tune, zero-shot evaluation")
    r.add_argument("--pair", help="INTERMEDIATE:TARGET, e.g. mnli:xnli, none:udpos, mnli+qqp:xnli")
    r.add_argument("--model", help="Hub id or local folder of an encoder (default xlm-roberta-large)")
    r.add_argument("--seed", type=int, help="random seed (default 1)")
    r.add_argument("--config", help="YAML file of settings (flags override it)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any setting, e.g. train.warmup_ratio=0.06 or epochs.mnli=1 (repeatable)")
    r.add_argument("--data-dir", help="local copies of the Hub dataset repos (default $XSTILTS_DATA_DIR, else the Hub)")
    r.add_argument("--ccg-path", help="folder with CCGbank as train.jsonl / dev.jsonl (licensed, not on the Hub)")
    r.add_argument("--mewslix-path", help="folder with XTREME-R's Mewsli-X jsonl files (built by a script, not on the Hub)")
    r.add_argument("--work-dir", help="caches, checkpoints, predictions and logs (default $XSTILTS_WORK_DIR or var/runner)")
    r.add_argument("--store", help="store folder (default $XSTILTS_STORE)")
    r.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default auto")
    r.add_argument("--overwrite", action="store_true", help="redo every phase of this run")
    r.add_argument("--dry-run", action="store_true", help="print the phases, what is cached and what would be written")
    r.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    for flag, name in TRAIN_FLAGS.items():
        kind = float if name == "learning_rate" else int
        r.add_argument(f"--{flag.replace('_', '-')}", dest=flag, type=kind, help=f"train.{name}")
    r.add_argument("--variant", metavar="NAME", help="mlm (continue multilingual MLM) or translated (machine-translated "
                                     "intermediate data); default: plain English intermediate training")
    for flag, ((section, name), kind, metavar, text) in SECTION_FLAGS.items():
        r.add_argument(f"--{flag.replace('_', '-')}", dest=flag, type=kind, metavar=metavar, help=f"{text} [{section}.{name}]")
    return p


def _settings(args: argparse.Namespace) -> dict:
    """Config file, then ``--set`` values, then explicit flags (later wins)."""
    from runner.config import load_yaml, merge, parse_set

    values: dict = load_yaml(args.config) if args.config else {}
    values = merge(values, parse_set(args.set))
    flags = {k: getattr(args, k) for k in ("pair", "model", "seed", "ccg_path", "mewslix_path", "work_dir", "store",
                                           "device", "variant")}
    flags["data_dir"] = args.data_dir or values.get("data_dir") or os.environ.get("XSTILTS_DATA_DIR")
    values = merge(values, {k: v for k, v in flags.items() if v is not None})
    train = {name: getattr(args, flag) for flag, name in TRAIN_FLAGS.items() if getattr(args, flag) is not None}
    if args.no_progress:
        train["progress"] = False
    if train:
        values = merge(values, {"train": train})
    for flag, ((section, name), *_) in SECTION_FLAGS.items():
        if getattr(args, flag) is not None:
            values = merge(values, {section: {name: getattr(args, flag)}})
    if args.overwrite:
        values["overwrite"] = True
    return values


def cmd_tasks(args: argparse.Namespace) -> int:
    """Prints every task: role, head kind, benchmarks, languages, whether it runs here."""
    from runner.tasks import all_sources, registry
    from store.catalog import load_catalog

    cat = load_catalog()
    specs = sorted(registry().values(), key=lambda s: (s.role != "intermediate", s.name))
    print(f"{'task':<14} {'role':<13} {'kind':<19} {'benchmarks':<15} {'langs':>5}  {'runs':<5} languages / note")
    for s in specs:
        task = cat.task(s.name)
        langs = cat.task_languages(s.name) if s.role == "target" else ("en",)
        shown = " ".join(langs) if len(langs) <= 16 else " ".join(langs[:16]) + f" ... (+{len(langs) - 16})"
        note = f"  [{s.note}]" if s.note else ""
        print(f"{s.name:<14} {s.role:<13} {s.kind:<19} {';'.join(task.benchmarks) or '-':<15} {len(langs):>5}  "
              f"{'yes' if s.implemented else 'later':<5} {shown}{note}")
        if args.sources and s.implemented:
            for what, src in all_sources(s):
                for ref in src.refs:
                    pin = "pinned" if ref.repo.pinned else "branch"
                    print(f"    {what:<16} {ref.repo.repo}@{ref.repo.revision} [{pin}] {ref.pattern()}")
    return 0


def _dry_run(lay, store_path: Path) -> int:
    from runner.pipeline import check_inputs, phase_status

    run = lay.run
    print(f"run {lay.pair.intermediate}:{lay.pair.target}  model={run.model}  seed={run.seed}  run_id={run.run_id}")
    for phase, what, state, folder in phase_status(lay):
        print(f"  phase {phase:<15} {what:<32} {state:<18} {folder or ''}")
    try:
        check_inputs(lay)
        where = f"local copy in {lay.loc.data_dir}" if lay.loc.data_dir else "the Hub (checked when loaded)"
        print(f"  data    ok: {where}")
    except RunnerError as e:
        print(f"  data    MISSING: {e}")
    metrics = lay.target.metrics
    n_dev = len(lay.pair.tasks) + (1 if lay.stage_dirs else 0)
    stored = (store_path / "runs" / f"{run.run_id}.parquet").exists()
    print(f"  store   {len(lay.languages) * len(metrics)} result rows ({', '.join(metrics)} x {len(lay.languages)} languages: "
          f"{' '.join(lay.languages)}) + {n_dev} English dev score{'s' if n_dev != 1 else ''} -> {store_path} "
          f"[{'already stored: nothing to write' if stored else 'new run'}]")
    return 0


def _setup_logging(run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    log.setLevel(logging.INFO)
    for h in list(log.handlers):
        log.removeHandler(h)
    fh = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    sh = logging.StreamHandler(sys.stderr)
    sh.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(fh)
    log.addHandler(sh)
    log.propagate = False


def cmd_run(args: argparse.Namespace) -> int:
    """Validates everything, then runs the phases (or prints them with ``--dry-run``)."""
    from runner.config import build_config
    from runner.pipeline import check_inputs, execute, layout
    from store.database import resolve_store_path

    cfg = build_config(_settings(args))
    lay = layout(cfg)
    store_path = resolve_store_path(cfg.store)
    if store_path.exists() and not store_path.is_dir():
        raise RunnerError(f"store path {store_path} is a file; give a folder")
    if args.dry_run:
        return _dry_run(lay, store_path)
    check_inputs(lay)
    from runner.models import check_model

    check_model(cfg.model)
    _setup_logging(lay.run_dir)
    log.info("run %s: %s:%s, model %s, seed %d; log in %s", lay.run.run_id, lay.pair.intermediate, lay.pair.target,
             cfg.model, cfg.seed, lay.run_dir / "run.log")
    run, results, written = execute(lay, store_path)
    langs = len({r.language for r in results})
    state = "written" if written else "already in the store (identical); nothing written"
    print(f"run {run.run_id}: {len(results)} results over {langs} languages {state} -> {store_path}")
    for s in run.dev_scores:
        print(f"  English dev ({s.phase}) {s.task} {s.metric}: {s.value:.2f} (n={s.n_examples})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``runner`` console script."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = _parser().parse_args(argv)
    try:
        return cmd_tasks(args) if args.command == "tasks" else cmd_run(args)
    except (RunnerError, StoreError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
