"""``runner grid``: every INTERMEDIATE:TARGET pair of a selection, plus the baselines, over seeds.

The design is data: a selection (intermediate tasks, targets, seeds, shared settings) expands
into runs, each with the run id and intermediate-checkpoint folder that ``runner run`` derives
(:func:`runner.pipeline.layout`; nothing here re-derives them). Runs that share an intermediate
checkpoint form a **chain**: the first run of a chain trains the checkpoint, the others reuse it,
so ``mnli`` with seed 1 is trained once for every target. A baseline (``none:TARGET``) is a chain
of its own.

A chain is the unit of work: one after another in this process (``--executor local``), or one
SLURM array task each (``runner.grid.executors``). Inside a chain, a run whose shard is already in the
store is skipped, and a killed run resumes from its phases' artefacts, so rerunning the same
command after a crash finishes what is missing and redoes nothing. A chain holds a lock file in
the work folder while it runs: two grids started at once (one per local GPU, or a resubmission
while jobs still run) never run the same chain twice; the second reports it as busy.

Example:
    >>> grid = plan_grid({"model": "m"}, intermediates=["mnli"], targets=["xnli"], seeds=[1])  # doctest: +SKIP
    >>> [(c.label, [r.pair for r in c.runs]) for c in grid.chains]  # doctest: +SKIP
    [('mnli s1', ['mnli:xnli']), ('none:xnli s1', ['none:xnli'])]
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runner.config import build_config, merge
from runner.errors import RunnerError
from runner.pipeline import layout, phase_status, push_shard, run, run_log
from runner.tasks.records import CCG_LOCAL, MEWSLIX_LOCAL
from runner.tasks.registry import all_sources, get_task, registry
from store.catalog import BASELINE, load_catalog
from store.database import resolve_store_path
from store.errors import StoreError
from store.shards import shard_path

log = logging.getLogger("runner")


# ------------------------------------------------------------------------------- selection
#: Tasks whose data are not on the Hub: the flag that points at a local copy, and why.
_LOCAL_DATA = {
    CCG_LOCAL: ("ccg_path", "CCGbank is licensed: give --ccg-path to include it"),
    MEWSLIX_LOCAL: ("mewslix_path", "Mewsli-X is built by a script, not on the Hub: give --mewslix-path to include it"),
}


def _local_data_missing(name: str, paths: dict[str, str | None]) -> str | None:
    """Why ``all`` must leave a task out (its local data folder was not given), or None."""
    for _, src in all_sources(get_task(name)):
        for ref in src.refs:
            if ref.repo in _LOCAL_DATA and not paths.get(_LOCAL_DATA[ref.repo][0]):
                return _LOCAL_DATA[ref.repo][1]
    return None


def select_tasks(spec: str, role: str, ccg_path: str | None = None,
                 mewslix_path: str | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """Expands ``--intermediate`` / ``--target`` into task names.

    Args:
        spec: ``all``, or names separated by commas (intermediates may be ``mnli+qqp`` or ``multitask``).
        role: ``intermediate`` or ``target``.
        ccg_path: the licensed CCGbank folder, if any (``all`` includes ``ccg`` only with it).
        mewslix_path: the Mewsli-X folder, if any (``all`` includes ``mewslix`` only with it).

    Returns:
        (names, skipped): ``skipped`` lists (task, reason) for tasks ``all`` leaves out.

    Raises:
        RunnerError: an unknown name (with a near match), or one the runner cannot run yet.
    """
    flag = f"--{role}"
    if spec.strip() == "all":
        names, skipped = [], []
        for name, task in sorted(registry().items()):
            if task.role != role:
                continue
            if not task.implemented:
                skipped.append((name, f"{task.kind.replace('_', ' ')}: not implemented in this runner yet"))
            elif reason := _local_data_missing(name, {"ccg_path": ccg_path, "mewslix_path": mewslix_path}):
                skipped.append((name, reason))
            else:
                names.append(name)
        return names, skipped
    items = [x.strip() for x in spec.split(",")]
    if not spec.strip() or any(not x for x in items):
        raise RunnerError(f"{flag} {spec!r}: give 'all' or names separated by commas, e.g. {flag} "
                          f"{'mnli,qqp' if role == 'intermediate' else 'xnli,pawsx'}")
    cat = load_catalog()
    out: list[str] = []
    for item in items:
        if role == "intermediate" and item == BASELINE:
            continue  # the baselines are always part of the grid
        if role == "intermediate":
            try:
                members = cat.parse_intermediate(item)
                item = cat.canonical_intermediate(item)
            except StoreError as e:
                raise RunnerError(str(e)) from e
            for m in members:
                get_task(m, role="intermediate", runnable=True)
        else:
            get_task(item, role="target", runnable=True)
        if item not in out:
            out.append(item)
    return out, []


def parse_seeds(text: str) -> list[int]:
    """``"1,2,3"`` or ``"1-3"`` -> ``[1, 2, 3]``; RunnerError for anything else."""
    hint = "give whole numbers >= 0 separated by commas, e.g. --seeds 1,2,3 (or a range, 1-3)"
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            first, last = int(lo), int(hi) if sep else int(lo)
            if first < 0 or last < first:
                raise ValueError(part)
            seeds += [s for s in range(first, last + 1) if s not in seeds]
    except ValueError:
        raise RunnerError(f"--seeds {text!r}: {hint}") from None
    return seeds


# ------------------------------------------------------------------------------- planning
@dataclass(frozen=True)
class GridRun:
    """One run of the grid, as plain data (it travels to SLURM jobs).

    Attributes:
        index: 1-based position in the grid (progress lines say ``[index/total]``).
        pair: canonical ``INTERMEDIATE:TARGET``.
        seed: random seed.
        run_id: the store's run id, as ``runner run`` derives it.
        values: the settings ``runner.config.build_config`` turns into the run's config.
    """

    index: int
    pair: str
    seed: int
    run_id: str
    values: dict


@dataclass
class Chain:
    """Runs that share one intermediate checkpoint (or a single baseline run)."""

    key: str
    label: str
    inter_dir: str | None
    runs: list[GridRun] = field(default_factory=list)


@dataclass
class Grid:
    """The expanded grid: chains in execution order, and what ``all`` left out."""

    chains: list[Chain]
    skipped: list[tuple[str, str]]
    store: Path
    work: Path
    layouts: dict  # run id -> runner.pipeline.Layout (not sent to jobs)

    @property
    def runs(self) -> list[GridRun]:
        return sorted((r for c in self.chains for r in c.runs), key=lambda r: r.index)

    def stored(self, run_id: str) -> bool:
        """True when the store already has the run's shard."""
        return shard_path(self.store / "runs", run_id).exists()


def plan_grid(base: dict, intermediates: list[str], targets: list[str], seeds: list[int],
              skipped: list[tuple[str, str]] | None = None, store: Path | None = None) -> Grid:
    """Expands a selection into chains of runs (nothing is created).

    Args:
        base: settings shared by every run (model, data dir, training flags...), as for ``runner run``.
        intermediates: intermediate specs (``none`` is added: the baselines).
        targets: target tasks.
        seeds: seeds.
        skipped: tasks ``all`` left out, reported with the plan.
        store: the local store folder that says what is done.
    """
    if not targets:
        raise RunnerError("--target selects no runnable task")
    inters = [BASELINE] + [i for i in intermediates if i != BASELINE]
    chains: dict[str, Chain] = {}
    layouts = {}
    work = None
    for inter in inters:
        for seed in seeds:
            for target in targets:
                values = merge(base, {"pair": f"{inter}:{target}", "seed": seed})
                lay = layout(build_config(values))
                work = lay.work
                run_id = lay.run.run_id
                if run_id in layouts:
                    continue  # the same run named twice (e.g. mnli+qqp and qqp+mnli)
                layouts[run_id] = lay
                pair = f"{lay.pair.intermediate}:{lay.pair.target}"
                if lay.inter_dir is None:
                    key, label = f"{BASELINE}:{run_id}", f"{pair} s{seed}"
                else:
                    key, label = str(lay.inter_dir), f"{lay.pair.intermediate} s{seed}"
                chain = chains.setdefault(key, Chain(key, label, str(lay.inter_dir) if lay.inter_dir else None))
                chain.runs.append(GridRun(0, pair, seed, run_id, values))
    ordered = sorted(chains.values(), key=lambda c: (c.inter_dir is None, c.runs[0].seed, c.label))
    index = 0
    for chain in ordered:
        numbered = []
        for run in chain.runs:
            index += 1
            numbered.append(GridRun(index, run.pair, run.seed, run.run_id, run.values))
        chain.runs = numbered
    root = store if store is not None else resolve_store_path(base.get("store"))
    return Grid(ordered, list(skipped or []), root, work or Path(base.get("work_dir") or "."), layouts)


# ------------------------------------------------------------------------------- execution
@dataclass(frozen=True)
class Outcome:
    """What happened to one run of a chain.

    Attributes:
        status: ``written``, ``stored`` (already in the store), ``failed``, ``not attempted``
            (an earlier run of its chain failed) or ``busy`` (another process holds the chain).
        detail: the phases (trained / reused) or the error's first line.
        pushed: ``''`` (no ``--push``), ``pushed``, ``already on the remote`` or ``push failed: ...``.
    """

    index: int
    pair: str
    seed: int
    run_id: str
    status: str
    detail: str = ""
    seconds: float = 0.0
    trained_checkpoint: bool = False
    pushed: str = ""

    def line(self, total: int) -> str:
        width = len(str(total))
        push = f"; {self.pushed}" if self.pushed else ""
        took = f" ({self.seconds:.1f} s)" if self.seconds >= 0.05 else ""
        shown = {"stored": "already in the store"}.get(self.status, self.status)
        return (f"[{self.index:>{width}}/{total}] {self.pair} seed {self.seed}: {shown}"
                f"{': ' + self.detail if self.detail else ''}{push}{took}")


@dataclass(frozen=True)
class ChainTask:
    """Everything a job needs to run one chain (picklable plain data).

    Attributes:
        chain: the runs.
        store: local store folder.
        total: number of runs in the grid (for progress lines).
        push: remote for ``store.sync.push_run`` after each run, or None.
        raise_errors: let a failing run raise (``--executor debug``: pdb at the failure).
        verbose: show the phases' log lines on the console.
    """

    chain: Chain
    store: str
    total: int
    push: str | None = None
    raise_errors: bool = False
    verbose: bool = False


def _lock_path(work: Path, key: str) -> Path:
    return work / "grid" / "locks" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock"


@contextlib.contextmanager
def chain_lock(work: Path, key: str) -> Iterator[bool]:
    """Holds an exclusive lock on a chain; yields False when another process holds it.

    The kernel releases the lock when the holder dies (SIGKILL, node crash on a local disk). On a
    file system without ``flock`` the chain runs unlocked.
    """
    path = _lock_path(work, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        except OSError as e:  # no flock support (some cluster file systems)
            log.warning("cannot lock %s (%s): running the chain unlocked", path, e.strerror)
            yield True
            return
        try:
            f.truncate(0)
            f.write(f"{os.getpid()} {key}\n")
            f.flush()
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_PHASE1 = {"cached": "reused", "to run": "trained", "partial (resumes)": "resumed"}


def _phases_before(lay) -> tuple[str, bool]:
    """A short account of what the run will train or reuse, from the phases' artefacts."""
    status = phase_status(lay)
    inter = status[0]
    if inter[2] == "skipped":
        first, trains = "no intermediate phase", False
    else:
        word = _PHASE1.get(inter[2], inter[2])
        first, trains = f"checkpoint {lay.pair.intermediate} s{lay.cfg.seed} {word}", word != "reused"
    states = {s[2] for s in status if s[0].startswith("2")}
    word = "reused" if states == {"cached"} else "resumed" if states - {"to run"} else "trained"
    second = f"target {word}" if states else "no target phase"
    return f"{first}, {second}", trains


def _run_one(grid_run: GridRun, task: ChainTask) -> Outcome:
    """One run of a chain through ``runner.pipeline.run``, as ``runner run`` would do it."""
    store = Path(task.store)
    started = time.perf_counter()
    if shard_path(store / "runs", grid_run.run_id).exists():
        return Outcome(grid_run.index, grid_run.pair, grid_run.seed, grid_run.run_id, "stored",
                       pushed=push_shard(store, grid_run.run_id, task.push))
    lay = layout(build_config(grid_run.values))
    if lay.run.run_id != grid_run.run_id:
        raise RunnerError(f"{grid_run.pair} seed {grid_run.seed}: run id {lay.run.run_id} differs from the planned "
                          f"{grid_run.run_id} (code or catalog changed since the grid was planned); start the grid again")
    print(f"[{grid_run.index:>{len(str(task.total))}}/{task.total}] {grid_run.pair} seed {grid_run.seed}: running "
          f"(log {lay.run_dir / 'run.log'})", flush=True)
    detail, trains = _phases_before(lay)
    report = run(lay, store, task.push)
    langs = len({r.language for r in report.results})
    what = (f"{len(report.results)} rows, {langs} languages; {detail}" if report.written
            else "identical results; nothing written")
    return Outcome(grid_run.index, grid_run.pair, grid_run.seed, grid_run.run_id,
                   "written" if report.written else "stored", what, time.perf_counter() - started, trains, report.pushed)


def run_chain(task: ChainTask) -> list[Outcome]:
    """Runs a chain's runs in order, skipping stored ones; stops the chain at the first failure.

    Prints one progress line per run. Exceptions become ``failed`` outcomes (with the traceback in
    the run's log), unless ``task.raise_errors``.
    """
    chain = task.chain
    work = Path(build_config(chain.runs[0].values).work_dir).expanduser()
    out: list[Outcome] = []
    with chain_lock(work, chain.key) as held:
        if not held:
            out = [Outcome(r.index, r.pair, r.seed, r.run_id, "busy", f"chain {chain.label} is held by another process")
                   for r in chain.runs]
            for o in out:
                print(o.line(task.total), flush=True)
            return out
        for grid_run in chain.runs:
            if out and out[-1].status in ("failed", "not attempted"):
                out.append(Outcome(grid_run.index, grid_run.pair, grid_run.seed, grid_run.run_id, "not attempted",
                                   f"an earlier run of chain {chain.label} failed"))
                print(out[-1].line(task.total), flush=True)
                continue
            started = time.perf_counter()
            try:
                outcome = _run_one(grid_run, task)
            except KeyboardInterrupt:
                raise
            except Exception as e:
                if task.raise_errors:
                    raise
                first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
                with contextlib.suppress(Exception), run_log(layout(build_config(grid_run.values)).run_dir):
                    log.exception("grid run %s failed", grid_run.run_id)
                outcome = Outcome(grid_run.index, grid_run.pair, grid_run.seed, grid_run.run_id, "failed",
                                  f"{type(e).__name__}: {first}", time.perf_counter() - started)
            out.append(outcome)
            print(outcome.line(task.total), flush=True)
    return out


def summary(outcomes: list[Outcome], seconds: float) -> str:
    """One line: how many runs were written, skipped, failed; how many checkpoints were trained."""
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    order = ("written", "stored", "failed", "not attempted", "busy")
    parts = [f"{counts[s]} {'already in the store' if s == 'stored' else s}" for s in order if counts.get(s)]
    trained = sum(o.trained_checkpoint for o in outcomes)
    pushes = [o.pushed for o in outcomes if o.pushed]
    push = ""
    if pushes:
        failed = sum(p.startswith("push failed") for p in pushes)
        push = f"; pushed {sum(p == 'pushed' for p in pushes)}" + (f", {failed} push(es) failed" if failed else "")
    return (f"grid: {len(outcomes)} runs: {', '.join(parts) or 'nothing to do'}; "
            f"{trained} intermediate checkpoint(s) trained{push}; {seconds:.1f} s")
