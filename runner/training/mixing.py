"""Multi-task intermediate training: how often each task's batches come up in an epoch.

A multi-task stage (``mnli+squad+hellaswag:TARGET``, ``multitask:TARGET``) trains one shared
encoder with one head per task. Each training batch holds examples of a single task; which task
comes next is decided here. With ``n_i`` training examples (features) of task ``i``,
``b_i = ceil(n_i / batch_size)`` batches, and ``B = sum(b_i)``, the sampling rate ``p_i`` is

* ``proportional`` (default): ``p_i = n_i / sum_j n_j`` (examples-proportional mixing);
* ``temperature``: ``p_i = n_i^(1/T) / sum_j n_j^(1/T)``; ``T = 1`` is proportional, a larger ``T``
  flattens the rates towards uniform (small tasks are upsampled, large ones downsampled);

where ``n_i`` is first capped at ``cap`` examples when a cap is set (T5's "examples-proportional
mixing with limit K", which also applies before the temperature).

An epoch always has ``B`` batches (one pass over all data), so the number of optimizer steps does
not depend on the sampling. Task ``i`` gets ``c_i`` of them: ``B * p_i`` rounded by largest
remainder, and at least one, so every task is reached in every epoch. Proportional sampling without
a cap uses ``c_i = b_i``: every batch of every task exactly once per epoch. The epoch is the
multiset of those batches in a seeded random order, i.e. sampling without replacement from the
epoch's quota: shares are exact over the epoch and follow ``p_i`` over any stretch of it, and the
plan is a pure function of (seed, epoch), so a stage resumed from a checkpoint sees the same order.

A task's batches are its length-grouped batches (``runner.modeling.features.length_grouped_batches``), a
new shuffle per pass: a task with ``c_i > b_i`` starts further passes (upsampling); one with
``c_i < b_i`` uses the first ``c_i`` batches of that epoch's shuffle (a different subset each epoch).

Example:
    >>> rates([9000, 1000], MixConfig())
    [0.9, 0.1]
    >>> [round(p, 3) for p in rates([9000, 1000], MixConfig("temperature", temperature=2.0))]
    [0.75, 0.25]
    >>> epoch_counts([9000, 1000], 100, MixConfig("temperature", temperature=2.0))
    [75, 25]
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from runner.errors import RunnerError
from runner.modeling.features import length_grouped_batches
from store.catalog import suggest

#: Sampling schemes, by name (the ``--mix`` values).
SAMPLINGS = ("proportional", "temperature")
Plan = list[tuple[int, list[int]]]


@dataclass
class MixConfig:
    """How a multi-task stage samples its tasks (ignored when the stage has one task)."""

    sampling: str = field(default="proportional", metadata={
        "help": "proportional (p_i proportional to n_i) or temperature (p_i proportional to n_i^(1/T))"})
    temperature: float = field(default=2.0, metadata={
        "help": "T of temperature sampling: 1 is proportional, larger flattens towards uniform"})
    cap: int | None = field(default=None, metadata={
        "help": "count at most this many examples of each task when computing the rates (None: no cap)"})

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLINGS:
            raise RunnerError(f"unknown mix sampling {self.sampling!r}{suggest(self.sampling, SAMPLINGS)}; "
                              f"known: {', '.join(SAMPLINGS)}")
        if not self.temperature > 0 or math.isinf(self.temperature):
            raise RunnerError(f"mix temperature must be a finite number > 0, got {self.temperature!r}")
        if self.cap is not None and self.cap < 1:
            raise RunnerError(f"mix cap must be >= 1 examples, got {self.cap!r}")

    def hparams(self) -> dict:
        """What defines a multi-task run's sampling (the temperature only where it is used)."""
        out: dict = {"sampling": self.sampling}
        if self.sampling == "temperature":
            out["temperature"] = self.temperature
        if self.cap is not None:
            out["cap"] = self.cap
        return out

    def describe(self) -> str:
        """One line for logs and dry runs, e.g. ``temperature T=2``."""
        text = f"temperature T={self.temperature:g}" if self.sampling == "temperature" else self.sampling
        return f"{text}, cap {self.cap}" if self.cap is not None else text


def rates(sizes: Sequence[int], mix: MixConfig) -> list[float]:
    """Sampling rate of each task from its number of training examples (0 for an empty task)."""
    capped = [min(n, mix.cap) if mix.cap is not None else n for n in sizes]
    power = 1.0 if mix.sampling == "proportional" else 1.0 / mix.temperature
    weights = [float(n) ** power if n > 0 else 0.0 for n in capped]
    total = sum(weights)
    if total == 0:
        raise RunnerError("multi-task stage: no task has training examples")
    return [w / total for w in weights]


def largest_remainder(quotas: Sequence[float], total: int) -> list[int]:
    """Whole counts summing to ``total`` that round ``quotas`` (which sum to ``total``) fairly."""
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def epoch_counts(sizes: Sequence[int], batch_size: int, mix: MixConfig) -> list[int]:
    """Batches of each task in one epoch (see the module docstring)."""
    batches = [math.ceil(n / batch_size) for n in sizes]
    if len([n for n in sizes if n > 0]) <= 1 or (mix.sampling == "proportional" and mix.cap is None):
        return batches
    total = sum(batches)
    p = rates(sizes, mix)
    counts = largest_remainder([total * x for x in p], total)
    # Every task with data is reached: a task rounded to 0 takes one batch from the largest count.
    for i, n in enumerate(sizes):
        if n > 0 and counts[i] == 0:
            counts[max(range(len(counts)), key=lambda j: counts[j])] -= 1
            counts[i] = 1
    return counts


def task_batches(lengths: Sequence[int], count: int, batch_size: int, megabatch: int, seed: int) -> list[list[int]]:
    """``count`` length-grouped batches of one task: consecutive passes, a new shuffle each."""
    out: list[list[int]] = []
    rank = 0
    while len(out) < count:
        # The first pass uses the seed alone: proportional plans equal the single-pass plans.
        out += length_grouped_batches(lengths, batch_size, seed + 7919 * rank, megabatch)
        rank += 1
    return out[:count]


def epoch_plan(lengths: Sequence[Sequence[int] | None], batch_size: int, megabatch: int, mix: MixConfig,
               seed: int, epoch: int) -> Plan:
    """(task index, example indices) of every batch of one epoch, in training order.

    Args:
        lengths: per task, the lengths of its training features (None for a task not trained).
        batch_size: examples per batch.
        megabatch: length grouping (see ``length_grouped_batches``).
        mix: the sampling scheme.
        seed: data order seed of the stage.
        epoch: epoch number (0-based).
    """
    sizes = [len(x) if x is not None else 0 for x in lengths]
    counts = epoch_counts(sizes, batch_size, mix)
    plan: Plan = []
    for t, (lens, count) in enumerate(zip(lengths, counts)):
        if lens is not None and count:
            plan += [(t, b) for b in task_batches(lens, count, batch_size, megabatch, seed * 1000 + epoch * 31 + t)]
    if len(lengths) > 1:
        random.Random(seed * 7919 + epoch).shuffle(plan)
    return plan


def summary(sizes: Sequence[int], batch_size: int, mix: MixConfig, names: Sequence[str]) -> dict:
    """What the sampling does to a stage, for ``done.json`` and the run config."""
    return {"sampling": mix.hparams(), "examples": dict(zip(names, sizes)),
            "rates": {n: round(p, 6) for n, p in zip(names, rates(sizes, mix))},
            "batches_per_epoch": dict(zip(names, epoch_counts(sizes, batch_size, mix)))}
