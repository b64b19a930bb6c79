"""Where a grid's chains run: this process, or SLURM job arrays through submitit.

* ``local``: chains one after another in this process, on this machine's device (GPU if any).
  Several local GPUs: start one grid per GPU (``CUDA_VISIBLE_DEVICES=i runner grid ...``); the
  chain locks make them share the work.
* ``slurm``: one array task per chain (``submitit``), ``--gpus-per-job`` GPUs each. A chain is
  :class:`submitit.helpers.Checkpointable`: at the time limit SLURM requeues it (up to
  ``--max-requeue`` times) and it resumes from its runs' checkpoints.
* ``debug``: submitit's ``DebugExecutor``: the jobs exactly as submitted, run in this process;
  a failing run raises into ``pdb`` (interactive terminals only).

Example:
    >>> cfg = ExecutorConfig(kind="slurm", partition="gpu", time="2-00:00:00")
    >>> cfg.timeout_min
    2880
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from runner.errors import RunnerError
from runner.grid.chains import ChainTask, Outcome, run_chain
from runner.pipeline import console_logging

#: The submitit cluster behind ``--executor slurm``. Tests set it to ``"local"``: the same
#: submission code (parameters, job array, pickled chains, waiting) on submitit's local executor.
SLURM_CLUSTER = "slurm"
KINDS = ("local", "slurm", "debug")


def parse_time(text: str) -> int:
    """A time limit in minutes, read as sbatch reads ``--time`` (seconds round up), or ``30m`` / ``12h``.

    Example:
        >>> [parse_time(t) for t in ("90", "4:00:00", "1-12", "2-00:00:00", "30m", "12h", "10:30")]
        [90, 240, 2160, 2880, 30, 720, 11]
    """
    t = text.strip().lower()
    m = re.fullmatch(r"(\d+)([mh])", t)
    if m:
        minutes = int(m[1]) * (60 if m[2] == "h" else 1)
    else:
        days, sep, rest = t.partition("-")
        parts = rest.split(":") if sep else t.split(":")
        if not all(x.isdigit() for x in parts) or (sep and not days.isdigit()) or len(parts) > 3:
            raise RunnerError(f"--time {text!r}: give minutes (90), MM:SS, HH:MM:SS, D-HH, D-HH:MM:SS, 30m or 12h")
        n = [int(x) for x in parts]
        if sep:  # days-hours[:minutes[:seconds]]
            h, mi, s = (n + [0, 0])[:3]
            minutes = int(days) * 1440 + h * 60 + mi + (s > 0)
        elif len(n) == 1:
            minutes = n[0]
        elif len(n) == 2:  # minutes:seconds
            minutes = n[0] + (n[1] > 0)
        else:
            minutes = n[0] * 60 + n[1] + (n[2] > 0)
    if minutes < 1:
        raise RunnerError(f"--time {text!r} must be at least one minute")
    return minutes


@dataclass
class ExecutorConfig:
    """How a grid's chains are executed (validated on construction)."""

    kind: str = field(default="local", metadata={"help": "local, slurm or debug"})
    partition: str | None = field(default=None, metadata={"help": "SLURM partition (cluster default if unset)"})
    gpus_per_job: int = field(default=1, metadata={"help": "GPUs per array task (a run trains on one)"})
    cpus_per_job: int | None = field(default=None, metadata={"help": "CPUs per array task"})
    mem_gb: float | None = field(default=None, metadata={"help": "memory per array task, GB"})
    time: str = field(default="24:00:00", metadata={"help": "time limit per array task; requeued when reached"})
    max_parallel: int | None = field(default=None, metadata={"help": "array tasks running at once"})
    max_requeue: int = field(default=3, metadata={"help": "requeues of a chain that hits the time limit"})
    slurm_set: dict[str, str] = field(default_factory=dict, metadata={"help": "more sbatch options (account, qos)"})
    wait: bool = field(default=False, metadata={"help": "follow the jobs until they finish"})
    timeout_min: int = field(init=False, default=0, metadata={"help": "``time`` in minutes (derived)"})

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise RunnerError(f"--executor {self.kind!r}: choose one of {', '.join(KINDS)}")
        if self.gpus_per_job < 0 or (self.cpus_per_job is not None and self.cpus_per_job < 1):
            raise RunnerError("--gpus-per-job must be >= 0 and --cpus-per-job >= 1")
        if self.max_parallel is not None and self.max_parallel < 1:
            raise RunnerError("--max-parallel must be >= 1")
        if self.max_requeue < 0:
            raise RunnerError("--max-requeue must be >= 0")
        self.timeout_min = parse_time(self.time)
        if self.kind == "local" and (self.partition or self.slurm_set):
            raise RunnerError("--partition and --slurm-set need --executor slurm")


def parse_slurm_set(items: list[str]) -> dict[str, str]:
    """``["account=lab", "qos=high"]`` -> sbatch options (``--account=lab --qos=high``)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RunnerError(f"--slurm-set {item!r}: write KEY=VALUE, e.g. --slurm-set account=mylab")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


try:  # the chain job: Checkpointable, so SLURM requeues it at the time limit
    import submitit
    from submitit.helpers import Checkpointable as _Checkpointable
except ImportError:  # submitit is part of the runner extra; only slurm/debug need it
    submitit = None
    _Checkpointable = object  # type: ignore[assignment,misc]


class ChainJob(_Checkpointable):
    """The callable each array task runs: one chain; returns its outcomes.

    On a requeue (time limit, preemption) submitit calls it again with the same chain: stored
    runs are skipped and killed phases resume from their checkpoints.
    """

    def __call__(self, task: ChainTask) -> list[Outcome]:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        console_logging(task.verbose, indent="    ")
        return run_chain(task)


def check_available(cfg: ExecutorConfig) -> None:
    """Refuses, before anything runs, an executor this machine cannot use."""
    if cfg.kind == "local":
        return
    if submitit is None:
        raise RunnerError("--executor slurm/debug needs submitit: pip install 'xstilts[runner]'")
    if cfg.kind == "slurm" and SLURM_CLUSTER == "slurm" and shutil.which("sbatch") is None:
        raise RunnerError("--executor slurm: no sbatch on this machine; submit from a SLURM login node, "
                          "or use --executor local")
    if cfg.kind == "debug" and not sys.stdin.isatty():
        raise RunnerError("--executor debug opens pdb when a run fails: use it in an interactive terminal "
                          "(or --executor local)")


def _executor(cfg: ExecutorConfig, folder: Path):
    check_available(cfg)
    cluster = "debug" if cfg.kind == "debug" else SLURM_CLUSTER
    ex = submitit.AutoExecutor(folder=folder / "%j", cluster=cluster, slurm_max_num_timeout=cfg.max_requeue)
    ex.update_parameters(
        name="xstilts-grid", timeout_min=cfg.timeout_min, nodes=1, tasks_per_node=1,
        gpus_per_node=cfg.gpus_per_job, cpus_per_task=cfg.cpus_per_job, mem_gb=cfg.mem_gb,
        slurm_partition=cfg.partition, slurm_array_parallelism=cfg.max_parallel,
        slurm_additional_parameters=cfg.slurm_set or None,
    )
    return ex


def submit(tasks: list[ChainTask], cfg: ExecutorConfig, folder: Path) -> list:
    """Submits one array task per chain; returns submitit jobs in the order of ``tasks``."""
    tasks = [ChainTask(t.chain, t.store, t.total, t.push, raise_errors=cfg.kind == "debug", verbose=t.verbose)
             for t in tasks]
    return _executor(cfg, folder).map_array(ChainJob(), tasks)


def _failed_job(task: ChainTask, job, error: Exception) -> list[Outcome]:
    first = (str(error).strip().splitlines() or [type(error).__name__])[-1][:200]
    where = getattr(getattr(job, "paths", None), "stderr", "")
    return [Outcome(r.index, r.pair, r.seed, r.run_id, "failed", f"job {job.job_id} ended: {first} (log {where})")
            for r in task.chain.runs]


def wait(jobs: list, tasks: list[ChainTask], poll_s: float | None = None) -> list[Outcome]:
    """Follows the jobs, printing each chain's outcomes when its job ends."""
    poll = poll_s if poll_s is not None else (15.0 if SLURM_CLUSTER == "slurm" else 1.0)
    pending = dict(enumerate(jobs))
    out: list[Outcome] = []
    while pending:
        for i, job in list(pending.items()):
            if not job.done():
                continue
            del pending[i]
            try:
                outcomes = job.result()
            except Exception as e:  # the job died (killed, out of memory, time limit after every requeue)
                outcomes = _failed_job(tasks[i], job, e)
            out += outcomes
            for o in outcomes:
                print(f"  job {job.job_id}  {o.line(tasks[i].total)}", flush=True)
        if pending:
            time.sleep(poll)
    return sorted(out, key=lambda o: o.index)
