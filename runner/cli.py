"""``runner``: run INTERMEDIATE:TARGET pairs end to end, grids of them, and list the tasks.

Commands::

    runner tasks [--sources]
    runner recipes [NAME]
    runner run --pair mnli:xnli [--recipe xstilts|xtreme|xtreme-r] [--model xlm-roberta-large] [--seed 1] [--config run.yaml]
               [--set train.learning_rate=2e-5 ...] [--data-dir DIR] [--store DIR] [--dry-run] [--overwrite]
               [--mix proportional|temperature] [--mix-temperature T] [--mix-cap N]      (multi-task pairs)
               [--variant mlm --mlm-corpus HUB_ID_OR_PATH [--mlm-every K]]
               [--variant translated --translated-data HUB_ID_OR_PATH [--translated-languages de,fr]]
               [--push ORG/NAME | --push file:///path]
    runner grid --intermediate all --target all --seeds 1,2,3 [run settings as above]
                [--executor local|slurm|debug] [--partition P --gpus-per-job N --time 24:00:00 --wait]
                [--push ORG/NAME]
    runner plan --intermediate all --target all --seeds 1,2,3 [run settings]
                [--tokens-per-second N | --measure-throughput] [--from-catalog]
    runner smoke [--device auto|cpu|cuda] [--folder DIR]

User errors print ``error: <one line>`` and exit with status 2, leaving the store untouched.

The commands import the pipeline (torch, transformers, datasets: several seconds) when they run,
so that ``runner tasks`` and ``--help`` answer at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from runner.errors import RunnerError
from runner.tasks.registry import all_sources, registry
from store.catalog import load_catalog
from store.database import is_store_folder, resolve_store_path
from store.errors import StoreError
from store.hub import open_remote
from store.remote import is_remote_store, parse_repo
from store.sync import resolve_store

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


def _add_settings(p: argparse.ArgumentParser) -> None:
    """Flags that define runs and where they live: shared by run, grid and plan."""
    p.add_argument("--recipe", metavar="NAME",
                   help="training protocol whose values are the defaults: xstilts (jiant's X-STILTs settings, default), "
                        "xtreme or xtreme-r (google-research/xtreme's scripts); `runner recipes` lists every value "
                        "with its source; --config, --set and flags override single values")
    p.add_argument("--model", help="Hub id or local folder of an encoder (default xlm-roberta-large)")
    p.add_argument("--config", help="YAML file of settings (flags override it)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any setting, e.g. train.warmup_ratio=0.06 (both phases), intermediate.batch_size=8 "
                        "(phase 1 only), train.select=epoch or epochs.mnli=1 (repeatable)")
    p.add_argument("--data-dir", help="local copies of the Hub dataset repos (default $XSTILTS_DATA_DIR, else the Hub)")
    p.add_argument("--ccg-path", help="folder with CCGbank as train.jsonl / dev.jsonl (licensed, not on the Hub)")
    p.add_argument("--mewslix-path", help="folder with XTREME-R's Mewsli-X jsonl files (built by a script, not on the Hub)")
    p.add_argument("--udpos-path", help="folder of raw UD treebanks (an extracted ud-treebanks-v2.x): UD-POS tokens and "
                                        "tags as XTREME's conversion makes them, instead of the Hub's udpos rows")
    p.add_argument("--bucc-path", help="folder of the BUCC 2018 files as XTREME's download lays them out "
                                       "({lg}-en.{dev,test}.{lg,en,gold}): mining among the shared task's distractors; "
                                       "without it BUCC reads the Hub's gold pairs only (stored as split test-goldonly)")
    p.add_argument("--lareqa-path", help="folder of google-research-datasets/lareqa (xquad-r/{lang}.json): LAReQA's "
                                         "own sentence breaks, which the Hub's xquad_r copy lacks")
    p.add_argument("--work-dir", help="caches, checkpoints, predictions and logs (default $XSTILTS_WORK_DIR or var/runner)")
    p.add_argument("--store", help="store folder (default $XSTILTS_STORE)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default auto")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    p.add_argument("--no-predictions", action="store_true",
                   help="do not keep per-example predictions in the store (kept by default; see store/predictions.py)")
    for flag, name in TRAIN_FLAGS.items():
        kind = float if name == "learning_rate" else int
        p.add_argument(f"--{flag.replace('_', '-')}", dest=flag, type=kind, help=f"train.{name}")
    p.add_argument("--variant", metavar="NAME", help="mlm (continue multilingual MLM) or translated (machine-translated "
                                     "intermediate data); default: plain English intermediate training")
    for flag, ((section, name), kind, metavar, text) in SECTION_FLAGS.items():
        p.add_argument(f"--{flag.replace('_', '-')}", dest=flag, type=kind, metavar=metavar, help=f"{text} [{section}.{name}]")


def _add_selection(p: argparse.ArgumentParser) -> None:
    """Which pairs a grid or plan covers."""
    p.add_argument("--intermediate", required=True,
                   help="'all' (every runnable intermediate task) or names separated by commas, e.g. mnli,qqp,mnli+qqp")
    p.add_argument("--target", required=True, help="'all' (every runnable target) or names, e.g. xnli,pawsx")
    p.add_argument("--seeds", default="1", help="seeds separated by commas, or a range: 1,2,3 or 1-3 (default 1)")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``error:`` line (plus the hint to --help), exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="runner", description="Fine-tune and evaluate INTERMEDIATE:TARGET pairs.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("tasks", help="list tasks with their types and languages")
    t.add_argument("--sources", action="store_true", help="also list every Hub file pattern and revision")
    rc = sub.add_parser("recipes", help="list the training recipes (xstilts, xtreme, xtreme-r), every value with its source",
                        description="Lists the named recipes: the published training protocols the runner follows "
                                    "(`--recipe NAME` on run, grid and plan). Without NAME: the main values side by "
                                    "side, then every recipe in full; each value names the file and lines it comes "
                                    "from and whether it was read there (V) or inferred (I). Notes say where a "
                                    "protocol cannot be followed offline or is ambiguous.")
    rc.add_argument("name", nargs="?", help="one recipe in full (xstilts, xtreme, xtreme-r)")
    r = sub.add_parser("run", help="run one pair: intermediate fine-tune, target fine-tune, zero-shot evaluation")
    r.add_argument("--pair", help="INTERMEDIATE:TARGET, e.g. mnli:xnli, none:udpos, mnli+qqp:xnli")
    r.add_argument("--seed", type=int, help="random seed (default 1)")
    _add_settings(r)
    r.add_argument("--overwrite", action="store_true", help="redo every phase of this run")
    r.add_argument("--dry-run", action="store_true", help="print the phases, what is cached and what would be written")
    r.add_argument("--push", metavar="ORG/NAME",
                   help="after the run, upload its shard to this Hub dataset (or file:///path) with store.sync.push_run")
    g = sub.add_parser("grid", help="run every pair of a selection plus the baselines, over seeds (local or SLURM)")
    _add_selection(g)
    _add_settings(g)
    g.add_argument("--executor", default="local", choices=("local", "slurm", "debug"),
                   help="local: chains one after another here; slurm: one array task per chain (submitit); "
                        "debug: submitit's in-process executor, pdb on failure")
    g.add_argument("--partition", help="SLURM partition")
    g.add_argument("--gpus-per-job", type=int, default=1, help="GPUs per array task (a run trains on one; default 1)")
    g.add_argument("--cpus-per-job", type=int, help="CPUs per array task")
    g.add_argument("--mem-gb", type=float, help="memory per array task in GB")
    g.add_argument("--time", default="24:00:00", help="time limit per array task (sbatch format; default 24:00:00); "
                   "a chain that reaches it is requeued and resumes")
    g.add_argument("--max-parallel", type=int, help="array tasks running at once")
    g.add_argument("--max-requeue", type=int, default=3, help="requeues per chain at the time limit (default 3)")
    g.add_argument("--slurm-set", action="append", default=[], metavar="KEY=VALUE",
                   help="more sbatch options, e.g. account=mylab, qos=high (repeatable)")
    g.add_argument("--wait", action="store_true", help="slurm: follow the jobs and print each chain's outcome")
    g.add_argument("--push", metavar="ORG/NAME",
                   help="each run uploads its shard when it finishes (Hub dataset or file:///path); compute "
                        "nodes need Hub access, else `store push` from a login node afterwards")
    g.add_argument("--progress", action="store_true", help="progress bars during training (off in grids)")
    g.add_argument("-v", "--verbose", action="store_true", help="print the phases' log lines (always in each run.log)")
    pl = sub.add_parser("plan", help="print a grid's runs, shared checkpoints, what is done and estimated GPU-hours")
    _add_selection(pl)
    _add_settings(pl)
    pl.add_argument("--tokens-per-second", type=float,
                    help="training throughput, real tokens/s on one GPU (default: measured, else an assumption)")
    pl.add_argument("--eval-tokens-per-second", type=float, help="evaluation throughput (default 3x training)")
    pl.add_argument("--measure-throughput", action="store_true",
                    help="first measure the model's throughput on this machine's device and keep it in WORK/cache")
    pl.add_argument("--from-catalog", action="store_true",
                    help="estimate tokens from the catalog's split sizes even when the data are local (fast)")
    s = sub.add_parser("smoke", help="build a tiny model and fixture data here and run mnli:xnli end to end on this "
                                     "device (no download): what to run first on a new GPU node")
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default auto (cuda if available)")
    s.add_argument("--folder", help="where the model, data, work files and store go (default: a new temporary folder)")
    return p


def _settings(args: argparse.Namespace) -> dict:
    """Config file, then ``--set`` values, then explicit flags (later wins)."""
    from runner.config import load_yaml, merge, parse_set

    values: dict = load_yaml(args.config) if args.config else {}
    values = merge(values, parse_set(args.set))
    flags = {k: getattr(args, k, None) for k in ("pair", "recipe", "model", "seed", "ccg_path", "mewslix_path",
                                                 "udpos_path", "bucc_path", "lareqa_path", "work_dir", "store", "device",
                                                 "variant")}
    flags["data_dir"] = args.data_dir or values.get("data_dir") or os.environ.get("XSTILTS_DATA_DIR")
    values = merge(values, {k: v for k, v in flags.items() if v is not None})
    train = {name: getattr(args, flag) for flag, name in TRAIN_FLAGS.items() if getattr(args, flag) is not None}
    if args.no_progress:
        train["progress"] = False
    if train:
        values = merge(values, {"train": train})
    for flag, ((section, name), *_) in SECTION_FLAGS.items():
        if getattr(args, flag, None) is not None:
            values = merge(values, {section: {name: getattr(args, flag)}})
    if getattr(args, "overwrite", False):
        values["overwrite"] = True
    if getattr(args, "no_predictions", False):
        values["predictions"] = False
    return values


def cmd_tasks(args: argparse.Namespace) -> int:
    """Prints every task: role, head kind, benchmarks, languages, whether it runs here."""
    from runner.data.read import LOCAL_FLAGS

    cat = load_catalog()
    specs = sorted(registry().values(), key=lambda s: (s.role != "intermediate", s.name))
    print(f"{'task':<14} {'role':<13} {'kind':<20} {'benchmarks':<15} {'langs':>5}  {'runs':<5} languages / note")
    for s in specs:
        task = cat.task(s.name)
        langs = cat.task_languages(s.name) if s.role == "target" else ("en",)
        shown = " ".join(langs) if len(langs) <= 16 else " ".join(langs[:16]) + f" ... (+{len(langs) - 16})"
        note = f"  [{s.note}]" if s.note else ""
        print(f"{s.name:<14} {s.role:<13} {s.kind:<20} {';'.join(task.benchmarks) or '-':<15} {len(langs):>5}  "
              f"{'yes' if s.implemented else 'later':<5} {shown}{note}")
        if args.sources and s.implemented:
            for what, src in all_sources(s):
                for ref in src.refs:
                    pin = "pinned" if ref.repo.pinned else "branch"
                    print(f"    {what:<16} {ref.repo.repo}@{ref.repo.revision} [{pin}] {ref.pattern()}")
                for name, alt in src.local:  # read instead when the folder of the original files is given
                    patterns = " ".join(f"DIR/{r.pattern()}" for r in alt.refs)
                    print(f"    {what:<16} with {LOCAL_FLAGS[name]} DIR: {patterns} (original files)")
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    """Prints the recipes (or one of them) with the source of every value."""
    from runner.recipes.show import render

    print(render(args.name))
    return 0


def _recipe_lines(lay) -> list[str]:
    """The run's recipe and the notes that apply to its pair (where the protocol is not followed)."""
    from runner.recipes import get

    recipe = get(lay.cfg.recipe)
    notes = recipe.notes_for(lay.pair.target, intermediate=bool(lay.pair.tasks))
    out = [f"  recipe  {recipe.name}: {recipe.title} (`runner recipes {recipe.name}` lists every value and source)"]
    return out + [f"  note    {n}" for n in notes]


def _dry_run(lay, store_path: Path) -> int:
    from runner.pipeline import check_inputs, phase_status

    run = lay.run
    print(f"run {lay.pair.intermediate}:{lay.pair.target}  model={run.model}  seed={run.seed}  run_id={run.run_id}")
    for phase, what, state, folder in phase_status(lay):
        print(f"  phase {phase:<15} {what:<32} {state:<18} {folder or ''}")
    missing = None
    try:
        check_inputs(lay)
        if lay.loc.data_dir:
            print(f"  data    ok: every split found in the local copy in {lay.loc.data_dir}")
        else:
            print("  data    not checked: each split is fetched from the Hub when its phase loads it "
                  "(--data-dir DIR checks a local copy now)")
    except RunnerError as e:
        missing = e
        print(f"  data    MISSING: {e}")
    for note in lay.target.protocol_notes(lay.loc.given()):
        print(f"  note    {note}")
    metrics = lay.target.metrics
    n_dev = len(lay.pair.tasks) + (1 if lay.stage_dirs else 0)
    stored = (store_path / "runs" / f"{run.run_id}.parquet").exists()
    print(f"  store   {len(lay.languages) * len(metrics)} result rows ({', '.join(metrics)} x {len(lay.languages)} languages: "
          f"{' '.join(lay.languages)}{_split_note(lay)}) + {n_dev} English dev score{'s' if n_dev != 1 else ''} -> {store_path} "
          f"[{'already stored: nothing to write' if stored else 'new run'}]")
    print("\n".join(_recipe_lines(lay)))
    if missing is not None:
        print(f"error: the run cannot start: {missing}", file=sys.stderr)
        return 2
    return 0


def _split_note(lay) -> str:
    """``, split S`` when the results are stored under another split than ``test``."""
    splits = sorted({src.columns.get("store_split", "test") for src in lay.target.test.values()})
    return "" if splits == ["test"] else f", split {', '.join(splits)}"


def _check_store_path(path: Path) -> None:
    """A store path must be a store folder, or nothing yet: never a file nor some other folder."""
    if path.exists() and not path.is_dir():
        raise RunnerError(f"store path {path} is a file; give a store folder (`store build --store DIR` makes one)")
    if path.is_dir() and any(path.iterdir()) and not is_store_folder(path):
        raise RunnerError(f"{path} is a folder but not a store (no index.duckdb, no runs/); check --store")


def _local_store(spec: str | None, command: str) -> None:
    """Runs write to a local store folder: an hf:// store is refused with a pointer to --push."""
    if is_remote_store(spec):
        try:
            repo = parse_repo(spec) or "ORG/NAME"
        except StoreError:
            repo = "ORG/NAME"
        raise RunnerError(f"--store {spec} is read-only here: `runner {command}` writes to a local store folder; "
                          f"give --store DIR and add --push {repo} to upload each run's shard")


def _open_push_remote(spec: str | None) -> None:
    """Checks a --push remote before any training (malformed, offline, unauthorised: exit 2 now)."""
    if spec:
        open_remote(spec).open(create=True)


def cmd_run(args: argparse.Namespace) -> int:
    """Validates everything, then runs the phases (or prints them with ``--dry-run``)."""
    from runner.config import build_config
    from runner.modeling.encoder import check_model
    from runner.pipeline import check_inputs, console_logging, layout, run

    cfg = build_config(_settings(args))
    lay = layout(cfg)
    if args.dry_run:
        path = resolve_store(cfg.store)  # an hf:// store is pulled into a read-only cache
        _check_store_path(path)
        return _dry_run(lay, path)
    _local_store(cfg.store, "run")
    store_path = resolve_store(cfg.store)
    _check_store_path(store_path)
    check_inputs(lay)
    check_model(cfg.model)
    _open_push_remote(args.push)
    console_logging(verbose=True)
    report = run(lay, store_path, args.push)
    run_record = report.run
    langs = len({r.language for r in report.results})
    state = "written" if report.written else "already in the store (identical); nothing written"
    print(f"run {run_record.run_id}: {len(report.results)} results over {langs} languages {state} -> {store_path}")
    for s in run_record.dev_scores:
        print(f"  English dev ({s.phase}) {s.task} {s.metric}: {s.value:.2f} (n={s.n_examples})")
    if report.pushed.startswith("push failed"):
        raise StoreError(f"run {run_record.run_id} is in the local store, but pushing it failed: "
                         f"{report.pushed.removeprefix('push failed: ')}; rerun the same command (nothing is retrained) "
                         "or `store push`")
    if report.pushed:
        print(f"  {'pushed' if report.pushed == 'pushed' else 'already on'} {args.push}: runs/{run_record.run_id}.parquet")
    return 0


def _grid(args: argparse.Namespace, values: dict, store=None):
    """Selection flags -> the expanded grid (shared by grid and plan)."""
    from runner.grid.chains import parse_seeds, plan_grid, select_tasks

    seeds = parse_seeds(args.seeds)
    inters, skipped_i = select_tasks(args.intermediate, "intermediate", values.get("ccg_path"), values.get("mewslix_path"))
    targets, skipped_t = select_tasks(args.target, "target", values.get("ccg_path"), values.get("mewslix_path"))
    grid = plan_grid(values, inters, targets, seeds, skipped_i + skipped_t, store)
    n_inter = len([i for i in inters if i != "none"])
    selection = (f"{n_inter} intermediate x {len(targets)} target{'s' if len(targets) != 1 else ''} x "
                 f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} + baselines")
    return grid, selection


def _absolute_paths(values: dict) -> dict:
    """Work, data, CCG and store folders as absolute paths: jobs may start elsewhere (not part of run ids)."""
    out = dict(values)
    for key in ("work_dir", "data_dir", "ccg_path", "mewslix_path", "udpos_path", "bucc_path", "lareqa_path",
                "store"):
        if out.get(key):
            out[key] = str(Path(out[key]).expanduser().absolute())
    return out


def cmd_grid(args: argparse.Namespace) -> int:
    """Plans the grid, checks data, model and remote, then runs or submits its chains."""
    from runner.config import build_config, merge
    from runner.grid.chains import ChainTask, run_chain, summary
    from runner.grid.executors import ExecutorConfig, check_available, parse_slurm_set, submit, wait
    from runner.modeling.encoder import check_model
    from runner.pipeline import check_inputs, console_logging

    ex_cfg = ExecutorConfig(kind=args.executor, partition=args.partition, gpus_per_job=args.gpus_per_job,
                            cpus_per_job=args.cpus_per_job, mem_gb=args.mem_gb, time=args.time,
                            max_parallel=args.max_parallel, max_requeue=args.max_requeue,
                            slurm_set=parse_slurm_set(args.slurm_set), wait=args.wait)
    check_available(ex_cfg)
    values = _settings(args)
    _local_store(values.get("store"), "grid")
    values = merge(_absolute_paths(values), {"train": {"progress": bool(args.progress)}})
    if values.get("store") is None:  # jobs must write where this process looks
        values["store"] = str(resolve_store_path(None).absolute())
    grid, selection = _grid(args, values)
    for lay in grid.layouts.values():
        check_inputs(lay)
    check_model(build_config(values).model)
    _open_push_remote(args.push)
    runs = grid.runs
    todo = [c for c in grid.chains if not all(grid.stored(r.run_id) for r in c.runs)]
    inter = [c for c in grid.chains if c.inter_dir]
    print(f"grid: {selection} = {len(runs)} runs in {len(grid.chains)} chains ({len(inter)} intermediate checkpoints, "
          f"each trained once and reused by its chain); {sum(grid.stored(r.run_id) for r in runs)} already in "
          f"{grid.store}; executor {args.executor}; recipe {build_config(values).recipe}", flush=True)
    for name, why in grid.skipped:
        print(f"skipped: {name} ({why})")
    console_logging(args.verbose, indent="    ")
    started = time.perf_counter()
    tasks = [ChainTask(c, str(grid.store), len(runs), args.push, verbose=args.verbose) for c in grid.chains]
    outcomes = []
    if args.executor == "local":
        for task in tasks:
            outcomes += run_chain(task)
    else:
        for task in tasks:  # finished chains: reported (and pushed) here, not submitted
            if task.chain not in todo:
                outcomes += run_chain(task)
        pending = [t for t in tasks if t.chain in todo]
        if pending:
            folder = grid.work / "grid" / "submitit"
            jobs = submit(pending, ex_cfg, folder)
            ids = sorted({str(j.job_id).split("_")[0] for j in jobs})
            print(f"submitted {len(jobs)} chain(s) as job array {', '.join(ids)} ({ex_cfg.gpus_per_job} GPU(s), "
                  f"{ex_cfg.timeout_min} min each); logs in {folder}", flush=True)
            if ex_cfg.gpus_per_job > 1:
                print(f"note: a run trains on one GPU; {ex_cfg.gpus_per_job - 1} GPU(s) of each array task stay idle")
            if not (args.wait or args.executor == "debug"):
                print("rerun the same command to see what is done: finished runs are skipped, the rest resubmitted "
                      "(chains still running report busy)")
                return 0
            outcomes += wait(jobs, pending)
    outcomes.sort(key=lambda o: o.index)
    print(summary(outcomes, time.perf_counter() - started))
    return 1 if any(o.status in ("failed", "not attempted") for o in outcomes) else 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Prints the plan with estimated GPU-hours (an hf:// store is pulled into a read-only cache)."""
    from runner.config import build_config
    from runner.grid.plan import TokenCounter, render
    from runner.grid.throughput import measure, resolve, save_measured

    values = _settings(args)
    store = resolve_store(values.get("store"))
    _check_store_path(store)
    grid, selection = _grid(args, values, store)
    cfg = build_config(values)
    if args.measure_throughput:
        tp, record = measure(cfg.model, cfg)
        save_measured(grid.work, record)
    else:
        tp = resolve(cfg.model, grid.work, args.tokens_per_second, args.eval_tokens_per_second)
    counter = TokenCounter(cfg, grid.work, args.from_catalog)
    text = render(grid, tp, counter, selection)
    counter.save()
    print(text)
    return 0


def cmd_smoke(args: argparse.Namespace) -> int:
    """Runs ``mnli:xnli`` on fixtures built here; prints device, dtype and tokens/s; 1 if it did not learn."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local: never wait for the Hub
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from runner.pipeline import console_logging
    from runner.smoke.command import smoke

    console_logging(verbose=False)
    report = smoke(Path(args.folder) if args.folder else None, args.device)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


COMMANDS = {"tasks": cmd_tasks, "recipes": cmd_recipes, "run": cmd_run, "grid": cmd_grid, "plan": cmd_plan, "smoke": cmd_smoke}


#: The runner extra's modules (pyproject.toml), which the app environment of `make run` lacks.
RUNNER_MODULES = ("torch", "transformers", "tokenizers", "datasets", "seqeval", "yaml", "submitit")
_INSTALL = ("install them with `pip install torch==2.13.0` (or your CUDA build) first, then `pip install -e '.[runner]'`; "
            "or use `.venv/bin/runner` (`make test` sets it up)")


def missing_modules(names: tuple[str, ...] = RUNNER_MODULES) -> list[str]:
    """The modules of ``names`` that cannot be imported here (checked without importing them)."""
    import importlib.util

    missing = []
    for name in names:
        if name in sys.modules:
            if sys.modules[name] is None:  # blocked, as in a test of the app environment
                missing.append(name)
            continue
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):
            missing.append(name)
    return missing


def _needs_runner_extra(command: str) -> None:
    """`runner run`, `runner grid` (dry runs too) and `runner smoke` train models: refuse at once where they cannot."""
    missing = missing_modules()
    if missing:
        raise RunnerError(f"`runner {command}` needs the runner's dependencies, missing in this environment "
                          f"({sys.prefix}): {', '.join(missing)}; {_INSTALL}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``runner`` console script."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = _parser().parse_args(argv)
    try:
        if args.command in ("run", "grid", "smoke"):
            _needs_runner_extra(args.command)
        return COMMANDS[args.command](args)
    except (RunnerError, StoreError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:  # a runner dependency needed further in (e.g. a tokenizer for `runner plan`)
        if (e.name or "").split(".")[0] not in RUNNER_MODULES:
            raise
        print(f"error: `runner {args.command}` needs {e.name}, missing in this environment; {_INSTALL}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
