"""The shell commands the pages print (pure: text in, text out).

Every page's commands write their runs where the page reads: into the store the dashboard
serves, with no ``--store`` when that is the default store (where ``runner run`` writes anyway).

Example:
    >>> with_store("runner run --pair none:xnli --seed 1", "/data/store", default_store="/home/u/store")
    'runner run --pair none:xnli --seed 1 --store /data/store'
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

INTERMEDIATES = ("anli", "ccg", "commonsenseqa", "cosmosqa", "hellaswag", "mnli", "qqp", "squad", "sst2")
SEEDS = (1, 2, 3)  # gains are means over seeds; three is the usual minimum


def store_flag(store: str, default_store: str | None = None) -> str:
    """`` --store PATH`` for commands that write into ``store``; empty when it is the default store
    (where ``runner run`` writes anyway). A Hub store is read-only: runs go into a local store."""
    if store.startswith("hf://"):
        return " --store PATH/TO/LOCAL/STORE"
    if default_store is not None and store == default_store:
        return ""
    return f" --store {shlex.quote(store)}"


def with_store(commands: str, store: str, default_store: str | None = None) -> str:
    """``runner run`` command lines writing into ``store`` (one home for every page's commands)."""
    flag = store_flag(store, default_store)
    return "\n".join(line + flag if line.startswith("runner run") else line for line in commands.splitlines())


def runner_commands(model: str, targets: Sequence[str], store: str,
                    intermediates: Sequence[str] = INTERMEDIATES, seeds: Sequence[int] = SEEDS,
                    default_store: str | None = None) -> str:
    """The shell commands that fill the Question view: every intermediate task and the baseline.

    The runs go into ``store`` (no ``--store`` when it is the default store). A Hub store
    (``hf://datasets/ORG/NAME``) is read-only here: the runs go into a local store that is then pushed.
    """
    hub = store.startswith("hf://")
    lines = [
        f"for target in {' '.join(targets)}; do",
        f"  for inter in {' '.join(('none', *intermediates))}; do",
        f"    for seed in {' '.join(map(str, seeds))}; do",
        f'      runner run --pair "$inter:$target" --model {shlex.quote(model)} --seed "$seed"'
        + store_flag(store, default_store),
        "    done",
        "  done",
        "done",
    ]
    if hub:
        lines.append(f"store push --store PATH/TO/LOCAL/STORE --repo {shlex.quote(store.removeprefix('hf://datasets/'))}")
    return "\n".join(lines)
