"""Shared helpers for the push / pull tests: tiny stores and what a user could lose."""

from __future__ import annotations

from pathlib import Path

from store.database import Store
from store.published import Source
from store.records import DevScore, Result, Run

ORDER = "ORDER BY run_id, language, split, metric"


def make_run(seed: int, target: str = "xnli", value: float = 70.0, intermediate: str = "mnli", model: str = "xlm-roberta-base"):
    """A small valid runner run with two result rows and one dev score."""
    run = Run(model=model, intermediate=intermediate, target=target, seed=seed, hparams={"lr": 2e-5},
              dev_scores=(DevScore("intermediate", intermediate, "accuracy", 84.0, 100),))
    return run, [Result("de", "accuracy", value, n_examples=5010), Result("en", "accuracy", value + 10, n_examples=5010)]


def fill_store(root: Path, seeds, value: float = 70.0, source: Source | None = None) -> list[str]:
    """Writes one run per seed (and, with ``source``, one imported run); returns the run ids."""
    ids = []
    with Store.open(root, read_only=False) as st:
        for seed in seeds:
            run, res = make_run(seed, value=value)
            st.write_run(run, res)
            ids.append(run.run_id)
        if source is not None:
            st.add_source(source)
            run = Run(model="xlm-roberta-base", intermediate="none", target="xnli", seed=1, source=source.source)
            st.write_run(run, [Result("de", "accuracy", 65.0)])
            ids.append(run.run_id)
    return ids


LAB = Source("lab2026", "Our lab, 2026, Table 2", "results/xnli.csv", "imported", "xnli.csv", "")


def files_of(root: Path) -> dict[str, bytes]:
    """Every file but the derived index, by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith("index.duckdb")
    }


def wide(root: Path):
    """The store's results_wide, ordered: what every analysis reads."""
    with Store.open(root) as st:
        return st.query(f"SELECT * FROM results_wide {ORDER}")


def table(root: Path, name: str, order: str):
    with Store.open(root) as st:
        return st.query(f"SELECT * FROM {name} ORDER BY {order}")
