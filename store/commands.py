"""The one generator of ``runner run`` command lines: the runs a store suggests to fill a gap.

``store claims`` lists the exact command of each missing run, the dashboard prints the shell
loop that fills its Question view; both are built here, from one argument list
(:func:`run_argv`), so they always say what the runner parses (a test parses every command with
the runner's own argument parser). The store never imports the runner: this module only writes
text.

Example:
    >>> runner_command("mnli", "xnli", 1, "xlm-roberta-large", "mlm")
    'runner run --pair mnli:xnli --seed 1 --model xlm-roberta-large --variant mlm --mlm-corpus CORPUS'
    >>> print(fill_script("xlm-roberta-large", ["xnli"], "/s", StudyDesign(("mnli",), (1, 2))))
    for target in xnli; do
      for inter in none mnli; do
        for seed in 1 2; do
          runner run --pair "$inter:$target" --seed "$seed" --model xlm-roberta-large --store /s
        done
      done
    done
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from store.catalog import StudyDesign
from store.remote import is_remote_store

#: The data flag each variant needs; the value is the user's to give (a Hub id or a local path), so
#: the command names it with an upper-case placeholder (``CORPUS``: a multilingual text corpus;
#: ``TRANSLATED``: the machine-translated intermediate data), which the runner refuses until replaced.
VARIANT_DATA = {"mlm": ("--mlm-corpus", "CORPUS"), "translated": ("--translated-data", "TRANSLATED")}
#: Where the runs of a read-only Hub store go before `store push` publishes them.
LOCAL_STORE_PLACEHOLDER = "PATH/TO/LOCAL/STORE"
_PAIR_VAR, _SEED_VAR = "$inter:$target", "$seed"


def run_argv(pair: str, seed: int | str, model: str, variant: str = "", store: str | None = None) -> list[str]:
    """The argument list of ``runner run`` for one run (``runner`` first, unquoted).

    Args:
        pair: ``INTERMEDIATE:TARGET`` (or a shell expression giving one, in :func:`fill_script`).
        seed: the run's seed.
        model: model id.
        variant: ``""`` (plain), ``mlm`` or ``translated`` (the latter two with their data flag).
        store: the store folder to write into (omitted: the runner's default store).
    """
    argv = ["runner", "run", "--pair", pair, "--seed", str(seed), "--model", model]
    if store is not None:
        argv += ["--store", store]
    if variant:
        argv += ["--variant", variant, *VARIANT_DATA[variant]]
    return argv


def shell_line(argv: Sequence[str], variables: Sequence[str] = ()) -> str:
    """``argv`` quoted for a POSIX shell; the tokens in ``variables`` are double-quoted so they expand."""
    return " ".join(f'"{a}"' if a in variables else shlex.quote(a) for a in argv)


def runner_command(intermediate: str, target: str, seed: int, model: str, variant: str = "",
                   store: str | None = None) -> str:
    """The exact ``runner run`` command that produces one missing run."""
    return shell_line(run_argv(f"{intermediate}:{target}", seed, model, variant, store))


def store_argument(store: str, default_store: str | None = None) -> str | None:
    """The ``--store`` value of commands whose runs belong in ``store``: None for ``default_store``
    (where ``runner run`` writes anyway); a local placeholder for a read-only Hub store."""
    if is_remote_store(store):
        return LOCAL_STORE_PLACEHOLDER
    return None if default_store is not None and store == default_store else store


def with_store(commands: str, store: str, default_store: str | None = None) -> str:
    """``commands`` (lines, e.g. the missing runs of ``store claims``) with every ``runner run`` writing into ``store``."""
    value = store_argument(store, default_store)
    if value is None:
        return commands
    return "\n".join(shell_line([*shlex.split(line), "--store", value]) if line.startswith("runner run ") else line
                     for line in commands.splitlines())


def fill_script(model: str, targets: Sequence[str], store: str, design: StudyDesign,
                default_store: str | None = None) -> str:
    """A shell loop running every intermediate task of the design and its baseline on ``targets``, per seed.

    The runs go into ``store`` (no ``--store`` when it is ``default_store``). A Hub store
    (``hf://datasets/ORG/NAME``) is read-only: the runs go into a local store that is then pushed
    with ``store push``.
    """
    hub = is_remote_store(store)
    local = store_argument(store, default_store)
    body = shell_line(run_argv(_PAIR_VAR, _SEED_VAR, model, store=local), variables=(_PAIR_VAR, _SEED_VAR))
    lines = [
        f"for target in {' '.join(map(shlex.quote, targets))}; do",
        f"  for inter in {' '.join(map(shlex.quote, (design.baseline, *design.intermediates)))}; do",
        f"    for seed in {' '.join(map(str, design.seeds))}; do",
        f"      {body}",
        "    done",
        "  done",
        "done",
    ]
    if hub:
        repo = store.removeprefix("hf://datasets/")
        lines.append(shell_line(["store", "push", "--store", LOCAL_STORE_PLACEHOLDER, "--repo", repo]))
    return "\n".join(lines)
