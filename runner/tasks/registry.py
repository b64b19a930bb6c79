"""The task registry: every catalog intermediate and target task, declared once, looked up by name.

Text tasks (classification, multiple choice, tagging) are declared in ``runner.tasks.text``,
question answering and retrieval in ``runner.tasks.qa``; this module joins them, refuses a task
declared twice, a catalog task without a declaration and a declaration the catalog lacks, and
answers lookups with a near match for unknown names.

Example:
    >>> spec = get_task("xnli")
    >>> spec.kind, spec.stages[0].name, spec.test["de"].refs[0].pattern()
    ('pair_classification', 'xnli_en', 'de/test-*.parquet')
"""

from __future__ import annotations

from runner.errors import RunnerError
from runner.tasks import qa, text
from runner.tasks.records import Source, Stage, TaskSpec, sources_of
from store.catalog import load_catalog, suggest


def _build_registry() -> dict[str, TaskSpec]:
    cat = load_catalog()
    specs: dict[str, TaskSpec] = {}
    for group in (text.intermediates(), text.targets(), qa.intermediates(), qa.targets()):
        for name, spec in group.items():
            if name in specs:
                raise RunnerError(f"task {name!r} is declared twice in runner.tasks")
            specs[name] = spec
    missing = [n for n in cat.intermediate_tasks() + cat.target_tasks() if n not in specs]
    if missing:
        raise RunnerError(f"catalog tasks without a runner declaration: {', '.join(missing)}")
    unknown = set(specs) - set(cat.tasks)
    if unknown:
        raise RunnerError(f"runner.tasks declares tasks the catalog lacks: {', '.join(sorted(unknown))}")
    return specs


_REGISTRY: dict[str, TaskSpec] | None = None


def registry() -> dict[str, TaskSpec]:
    """Every catalog intermediate and target task, by name (built once)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _build_registry()
    return _REGISTRY


def get_task(name: str, role: str | None = None, runnable: bool = False) -> TaskSpec:
    """The spec of ``name``; raises RunnerError with a near match for unknown names.

    Args:
        name: catalog task id.
        role: ``intermediate`` or ``target`` to restrict the lookup.
        runnable: also refuse tasks declared but not implemented yet.
    """
    pool = {k: s for k, s in registry().items() if role is None or s.role == role}
    if name not in pool:
        what = f"{role} task" if role else "task"
        raise RunnerError(f"unknown {what} {name!r}{suggest(name, pool)}; known: {', '.join(sorted(pool))}")
    spec = pool[name]
    if runnable and not spec.implemented:
        ready = sorted(k for k, s in registry().items() if s.implemented and s.role == spec.role)
        raise RunnerError(f"{name} ({spec.kind.replace('_', ' ')}) is not implemented in this runner yet; "
                          f"runnable {spec.role} tasks: {', '.join(ready)}")
    return spec


def all_sources(spec: TaskSpec) -> list[tuple[str, Source]]:
    """(what, source) for every split a task reads: training stages, test languages, extra sources."""
    return sources_of(spec)


def intermediate_stage(name: str, squad_version: str = "1.1") -> Stage:
    """The training stage of an intermediate task; ``squad`` trains SQuAD v2.0 when asked for."""
    if name == "squad" and squad_version == "2.0":
        return qa.SQUAD_V2_STAGE
    return get_task(name, role="intermediate").stages[0]
