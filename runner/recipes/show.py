"""``runner recipes``: the recipes as readable tables, every value with its source.

``overview`` puts the main values of every recipe side by side (phase 1, then each target);
``listing`` prints one recipe in full: phase 1, phase-2 defaults, then per target what it sets
beyond the defaults (``same_as`` targets with the other recipe's values and sources), and the notes.
"""

from __future__ import annotations

from runner.recipes import Recipe, Value, get, names

STATUS = ("status: V = read in the source file, I = inferred from code or second-hand; * = value re-checked in the file "
          "for this release (line numbers are those of the pinned commit)")


def _fmt(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _select(values: dict[str, Value]) -> str:
    """``steps 1000 on 500 rows, patience 30``-style words for the selection values."""
    get_ = {k: v.value for k, v in values.items()}
    mode = get_.get("select", "epoch")
    if mode == "last":
        return "last model"
    text = f"every {get_.get('select_every')} steps" if mode == "steps" else "every epoch"
    subset = get_.get("dev_subset")
    text += f", first {subset} dev rows" if subset else ", full dev set"
    if get_.get("patience"):
        text += f", patience {get_['patience']}"
    return text


def brief(values: dict[str, Value], trains: bool = True, length: str | None = None) -> str:
    """lr, batch x accumulation, epochs, max length, warmup, weight decay, selection in one cell.

    ``length``: the target's own declared lengths (dual encoders), shown instead of ``max_length``.
    """
    if not trains:
        return "no training"
    v = {k: x.value for k, x in values.items()}
    epochs = v.get("epochs")
    if epochs is None:
        stages = {k.split(".", 1)[1]: x for k, x in v.items() if k.startswith("epochs.")}
        epochs = " + ".join(f"{n} {s}" for s, n in stages.items()) or "task default"
    length = length or v.get("qa.max_length") or v.get("max_length")
    warm = f"warmup {v['warmup_steps']} steps" if v.get("warmup_steps") is not None else \
        f"warmup {_fmt(v.get('warmup_ratio'))}"
    return (f"lr {_fmt(v.get('learning_rate'))}, {v.get('batch_size')}x{v.get('grad_accum')}, {epochs} ep, "
            f"len {length}, {warm}, wd {_fmt(v.get('weight_decay'))}; {_select(values)}")


def _targets() -> list[str]:
    from runner.tasks.registry import registry

    return [n for n, s in registry().items() if s.role == "target"]


def _trains(target: str) -> bool:
    from runner.tasks.registry import registry

    return bool(registry()[target].stages)


def _declared_length(target: str) -> str | None:
    """``query 96 / candidate 256`` where the target's training data declare their own lengths."""
    from runner.tasks.registry import registry

    for stage in registry()[target].stages:
        cols = stage.train.columns
        if "query_length" in cols and "candidate_length" in cols:
            return f"query {cols['query_length']} / candidate {cols['candidate_length']}"
    return None


def overview(markdown: bool = False) -> list[str]:
    """The main values of every recipe side by side: phase 1, then phase 2 per target."""
    recipes = [get(n) for n in names()]
    rows = [("phase 1 (intermediate)", [brief(r.phase1()[0]) for r in recipes])]
    rows += [(t, [brief(r.phase2(t)[0], _trains(t), _declared_length(t)) for r in recipes]) for t in _targets()]
    if markdown:
        out = ["| phase / target | " + " | ".join(f"`{r.name}`" for r in recipes) + " |",
               "|---|" + "---|" * len(recipes)]
        return out + [f"| {what} | " + " | ".join(cells) + " |" for what, cells in rows]
    out = []
    for what, cells in rows:
        out.append(what)
        out += [f"  {r.name:<9} {cell}" for r, cell in zip(recipes, cells)]
    return out


def _value_lines(values: dict[str, Value], indent: str = "    ") -> list[str]:
    return [f"{indent}{key:<22} {_fmt(v.value):<10} {v.status}{'*' if v.checked else ' '} {v.source}"
            for key, v in values.items()]


def listing(recipe: Recipe) -> list[str]:
    """One recipe in full, every value with its source and status, then its notes."""
    out = [f"recipe {recipe.name}: {recipe.title}", f"  values for {recipe.model}"]
    phase1, notes1 = recipe.phase1()
    same = recipe.intermediate.get("same_as")
    out.append(f"  phase 1, every intermediate task{f' (as {same})' if same else ''}:")
    out += _value_lines(phase1)
    defaults = recipe.phase2(None)[0]
    out.append("  phase 2, every target unless listed below:")
    out += _value_lines(defaults)
    for target in _targets():
        values, _ = recipe.phase2(target)
        if not _trains(target):
            values = {k: v for k, v in values.items() if "." in k and not k.startswith("epochs.")}
        own = {k: v for k, v in values.items() if defaults.get(k) != v}
        same = recipe.targets.get(target, {}).get("same_as")
        head = f"  phase 2, {target}{f' (as {same})' if same else ''}"
        head += "" if _trains(target) else " (no training: evaluated with the phase-1 encoder)"
        out.append(head + (":" if own else ": the defaults"))
        out += _value_lines(own)
    notes = list(recipe.notes) + notes1
    out.append("  notes (where the published protocol cannot be followed or is ambiguous):")
    out += [f"    - {n}" for n in notes]
    for target in _targets():
        out += [f"    - {target}: {n}" for n in recipe.phase2(target)[1]]
    return out


def render(name: str | None = None) -> str:
    """``runner recipes [NAME]``: the overview and every recipe in full, or one recipe."""
    if name:
        return "\n".join([*listing(get(name)), STATUS])
    lines = ["recipes: " + ", ".join(names()) + f" (default {names()[0]}; choose with --recipe NAME)", ""]
    lines += ["main values (phase 2: per target; sources in the listings below)", *overview(), ""]
    for n in names():
        lines += [*listing(get(n)), ""]
    return "\n".join([*lines, STATUS])
