"""Pairs of a run and its baseline in a store, and their example-by-example comparison.

A run pairs with the ``none`` baseline of the same source, model, target and setting whose target
phase has the same configuration (``target_config_id``, :mod:`store.configuration`) and, where
both record them, the same target data revisions (``target_data``), preferring the baseline of
the same data record, then of the same seed (the analysis of record's matching). Only runs with predictions take part; predictions are read for the two runs of a pair
only, and only the columns needed.

Example:
    >>> import tempfile
    >>> from store.database import Store
    >>> with Store.open(tempfile.mkdtemp()) as st:
    ...     find_pairs(st)
    []
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from store import paired
from store import predictions as preds
from store.analysis import Filters
from store.catalog import BASELINE, load_catalog
from store.errors import StoreError
from store.shards import read_run_record, shard_path

_RUN_COLS = ("run_id", "source", "model", "intermediate", "variant", "setting", "target", "seed", "hparams",
             "target_config_id", "target_data")
@dataclass(frozen=True)
class Pair:
    """A run and the baseline it is compared with, example by example."""

    run_id: str
    baseline_id: str
    source: str
    model: str
    intermediate: str
    variant: str
    setting: str
    target: str
    seed: int | None
    baseline_seed: int | None

    @property
    def label(self) -> str:
        variant = f" ({self.variant})" if self.variant else ""
        return f"{self.intermediate}{variant}:{self.target} s{self.seed} vs none s{self.baseline_seed} [{self.model}]"


def runs_with_predictions(store, run_ids=None, target: str | None = None) -> pl.DataFrame:
    """Indexed runs that have a predictions file (a folder listing; no predictions are read).

    Args:
        store: an open store.
        run_ids: only these runs (default all).
        target: only runs of this target.
    """
    have = sorted(preds.available(store.root, run_ids))
    if not have:
        return pl.DataFrame(schema={c: (pl.Int64 if c == "seed" else pl.String) for c in _RUN_COLS})
    return store.query(
        f"SELECT {', '.join(_RUN_COLS)} FROM runs WHERE list_contains(CAST($ids AS VARCHAR[]), run_id) "
        "AND ($target IS NULL OR target = $target) ORDER BY run_id",
        {"ids": have, "target": target},
    )


def _matches(f: Filters, row: dict) -> bool:
    checks = {"models": "model", "sources": "source", "targets": "target", "intermediates": "intermediate",
              "variants": "variant", "settings": "setting"}
    return all(not getattr(f, name) or row[col] in getattr(f, name) for name, col in checks.items())


def find_pairs(store, f: Filters | None = None, runs: pl.DataFrame | None = None) -> list[Pair]:
    """Every run with predictions (matching ``f``) and a baseline with predictions to pair it with.

    ``runs``: the candidate runs (default: :func:`runs_with_predictions` of the whole store).
    """
    runs = runs_with_predictions(store) if runs is None else runs
    if runs.is_empty():
        return []
    rows = runs.to_dicts()
    bases = [r for r in rows if r["intermediate"] == BASELINE and r["variant"] == ""]
    out = []
    for r in rows:
        if r["intermediate"] == BASELINE or (f is not None and not _matches(f, r)):
            continue
        # Target data revisions are compared where both record them, as the analysis of record does.
        same = [
            b for b in bases
            if (b["source"], b["model"], b["target"], b["setting"], b["target_config_id"])
            == (r["source"], r["model"], r["target"], r["setting"], r["target_config_id"])
            and (b["target_data"] is None or r["target_data"] is None or b["target_data"] == r["target_data"])
        ]
        if not same:
            continue
        best = min(same, key=lambda b: (b["target_data"] != r["target_data"], b["seed"] != r["seed"],
                                        b["seed"] if b["seed"] is not None else -1))
        out.append(Pair(r["run_id"], best["run_id"], r["source"], r["model"], r["intermediate"], r["variant"],
                        r["setting"], r["target"], r["seed"], best["seed"]))
    return sorted(out, key=lambda p: (p.target, p.model, p.intermediate, p.variant, p.seed or 0, p.run_id))


def pair_for(store, run_id: str, baseline_id: str | None = None) -> Pair:
    """The pair of ``run_id`` (with its matching baseline, or ``baseline_id`` if given).

    Raises:
        StoreError: the run has no predictions, no matching baseline, or ``baseline_id`` is not one.
    """
    target = store.query("SELECT target FROM runs WHERE run_id = $id", {"id": run_id})["target"]
    candidates = runs_with_predictions(store, target=target[0]) if len(target) else None
    pairs = [p for p in find_pairs(store, runs=candidates) if p.run_id == run_id] if candidates is not None else []
    if not pairs:
        if run_id not in preds.available(store.root):
            raise StoreError(f"run {run_id} has no predictions in this store; rerun it without --no-predictions")
        raise StoreError(
            f"run {run_id} has no none baseline with predictions and the same target-phase configuration; "
            "run `runner run --pair none:TARGET` with the same settings"
        )
    pair = pairs[0]
    if baseline_id is None or baseline_id == pair.baseline_id:
        return pair
    runs = runs_with_predictions(store).filter(pl.col("run_id") == baseline_id)
    if runs.is_empty() or runs["intermediate"][0] != BASELINE or runs["target"][0] != pair.target:
        raise StoreError(f"{baseline_id} is not a none baseline with predictions for {pair.target}; the matching one is {pair.baseline_id}")
    return Pair(**{**pair.__dict__, "baseline_id": baseline_id, "baseline_seed": runs["seed"][0]})


def _columns_for(metric: str) -> list[str]:
    example = ["text", "gold", *preds.NUMERIC_BUCKETS, *preds.CATEGORY_BUCKETS, "n_gold"]
    return list(dict.fromkeys([*paired.KEYS, *example, *paired.SYSTEM_COLUMNS]))


def load_aligned(store, pair: Pair, languages: list[str] | None = None, columns: list[str] | None = None) -> pl.DataFrame:
    """The pair's predictions joined by example id (refuses mismatched example sets)."""
    cols = columns or _columns_for("")
    # The example's own columns (text, gold, buckets) are the same on both sides: read the baseline's.
    run_cols = [c for c in cols if c in paired.KEYS or c in paired.SYSTEM_COLUMNS]
    frames = []
    for run_id, wanted in ((pair.baseline_id, cols), (pair.run_id, run_cols)):
        record = read_run_record(shard_path(store.runs_dir, run_id))
        frames.append(preds.read_predictions(store.root, run_id, wanted, languages, expected_hash=record.predictions or None))
    return paired.align(frames[0], frames[1], base_name=f"baseline {pair.baseline_id}", run_name=f"run {pair.run_id}")


def bucket_attributes(store, run_id: str) -> tuple[str, ...]:
    """The bucket attributes a run's predictions have (reads those columns only)."""
    cols = [*preds.NUMERIC_BUCKETS, *preds.CATEGORY_BUCKETS]
    frame = preds.read_predictions(store.root, run_id, cols)
    return tuple(c for c in cols if frame[c].null_count() < frame.height)


def headline_metric(target: str) -> str:
    return load_catalog().task(target).headline_metric


@dataclass(frozen=True)
class PairAnalysis:
    """What the Examples page shows for one pair."""

    pair: Pair
    metric: str
    tests: pl.DataFrame
    bucket_gains: pl.DataFrame
    flips: pl.DataFrame
    attributes: tuple[str, ...]
    attribute: str | None = None
    #: (split, language, example_id, bucket, bucket_order) of every example in a bucket of ``attribute``.
    example_buckets: pl.DataFrame | None = None


def analyse_pair(
    store, pair: Pair, metric: str | None = None, attribute: str | None = None, n_boot: int = paired.N_BOOT, seed: int = 0
) -> PairAnalysis:
    """Paired test per language, gain by bucket of ``attribute`` per language, flipped examples."""
    aligned = load_aligned(store, pair)
    metric = metric or headline_metric(pair.target)
    attributes = tuple(paired.bucket_attributes(aligned))
    if attribute is None and attributes:
        attribute = attributes[0]
    elif attribute is not None and attribute not in attributes:
        raise StoreError(f"these predictions have no {attribute!r}; bucket by one of {', '.join(attributes) or 'nothing'}")
    bucketed = paired.buckets(aligned, attribute) if attribute else None
    # One bootstrap for the tests and the bucket gains: a bucket's resamples are its language's.
    tests, gains = paired.tests_and_gains(aligned, metric, bucketed, n_boot, seed, attribute=attribute)
    if bucketed is not None:
        bucketed = bucketed.drop("_row")
    else:
        gains = pl.DataFrame()
    return PairAnalysis(pair, metric, tests, gains, paired.flips(aligned), attributes, attribute, bucketed)


def paired_frame(store, f: Filters = Filters(), n_boot: int = paired.N_BOOT, seed: int = 0) -> pl.DataFrame:
    """Per-language paired tests of every pair matching ``f`` (the long table behind the export)."""
    frames = []
    for pair in find_pairs(store, f):
        metrics = [m for m in f.metrics if m in load_catalog().task(pair.target).metrics] if f.metrics else [headline_metric(pair.target)]
        aligned = load_aligned(store, pair, list(f.languages) or None)
        for metric in metrics:
            t = paired.language_tests(aligned, metric, n_boot, seed)
            frames.append(
                t.with_columns(
                    pl.lit(pair.source).alias("source"), pl.lit(pair.model).alias("model"),
                    pl.lit(pair.setting).alias("setting"), pl.lit(pair.target).alias("target"),
                    pl.lit(pair.intermediate if not pair.variant else f"{pair.intermediate} ({pair.variant})").alias("row"),
                    pl.lit(pair.seed, pl.Int64).alias("seed"), pl.lit(pair.baseline_seed, pl.Int64).alias("baseline_seed"),
                    pl.lit(pair.run_id).alias("run_id"), pl.lit(pair.baseline_id).alias("baseline_id"),
                )
            )
    if not frames:
        raise StoreError(
            "no run with predictions has a none baseline with predictions for these filters; "
            "`runner run` writes predictions by default (see `store info` for what the store holds)"
        )
    return pl.concat(frames)
