"""Multi-task sampling: rates, per-epoch counts, plans (proportions, flattening, determinism, coverage)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from runner.errors import RunnerError
from runner.training.mixing import MixConfig, epoch_counts, epoch_plan, largest_remainder, rates, summary

SIZES = [8000, 1500, 400, 100]  # examples per task: a large, a medium and two small tasks


def lengths(sizes, seed=0):
    rng = random.Random(seed)
    return [[rng.randint(5, 60) for _ in range(n)] for n in sizes]


def shares(plan, n_tasks):
    counts = Counter(t for t, _ in plan)
    return [counts[t] / len(plan) for t in range(n_tasks)]


@pytest.mark.parametrize(
    ("mix", "expected"),
    [
        (MixConfig(), [0.8, 0.15, 0.04, 0.01]),  # p_i = n_i / sum n
        (MixConfig("temperature", temperature=1.0), [0.8, 0.15, 0.04, 0.01]),  # T = 1 is proportional
        (MixConfig("temperature", temperature=2.0),  # p_i ~ sqrt(n_i): 89.4 : 38.7 : 20 : 10
         [89.4427 / 158.1725, 38.7298 / 158.1725, 20 / 158.1725, 10 / 158.1725]),
        (MixConfig(cap=2000), [2000 / 4000, 1500 / 4000, 400 / 4000, 100 / 4000]),  # capped before the rates
    ],
)
def test_rates_follow_the_documented_formulas(mix, expected):
    assert rates(SIZES, mix) == pytest.approx(expected, rel=1e-4)


def test_temperature_flattens_towards_uniform():
    spread = [max(p) / min(p) for p in (rates(SIZES, MixConfig("temperature", temperature=t)) for t in (1, 2, 5, 50))]
    assert spread == sorted(spread, reverse=True) and spread[0] == pytest.approx(80) and spread[-1] < 1.1
    uniform = rates(SIZES, MixConfig("temperature", temperature=1e6))
    assert uniform == pytest.approx([0.25] * 4, abs=1e-4)


def test_epoch_counts_keep_the_epoch_length_and_reach_every_task():
    batches = [250, 47, 13, 4]  # ceil(n / 32)
    assert epoch_counts(SIZES, 32, MixConfig()) == batches  # proportional: every batch exactly once
    for mix in (MixConfig("temperature", temperature=3.0), MixConfig(cap=500), MixConfig("temperature", cap=50)):
        counts = epoch_counts(SIZES, 32, mix)
        assert sum(counts) == sum(batches)
        assert counts == pytest.approx([sum(batches) * p for p in rates(SIZES, mix)], abs=1.0)
    # a task whose rate rounds to no batch at all still gets one per epoch
    tiny = epoch_counts([1_000_000, 3], 32, MixConfig(cap=1_000_000))
    assert tiny[1] == 1 and sum(tiny) == 31250 + 1


def test_largest_remainder_is_exact_and_fair():
    assert largest_remainder([2.5, 2.5, 5.0], 10) == [3, 2, 5]
    assert largest_remainder([0.2, 0.3, 0.5], 1) == [0, 0, 1]


@pytest.mark.parametrize("mix", [MixConfig(), MixConfig("temperature", temperature=2.0),
                                 MixConfig("temperature", temperature=4.0, cap=3000)])
def test_plans_sample_tasks_at_their_rates_over_many_draws(mix):
    lens = lengths(SIZES)
    draws = [t for epoch in range(6) for t, _ in epoch_plan(lens, 16, 100, mix, seed=3, epoch=epoch)]
    realised = shares([(t, None) for t in draws], len(SIZES))
    assert realised == pytest.approx(rates(SIZES, mix), abs=0.01)
    # the order is random, so any long stretch (here the first quarter of an epoch) follows the rates too
    plan = epoch_plan(lens, 16, 100, mix, seed=3, epoch=0)
    assert shares(plan[: len(plan) // 4], len(SIZES)) == pytest.approx(rates(SIZES, mix), abs=0.04)


def test_plans_are_deterministic_under_a_seed():
    lens, mix = lengths(SIZES), MixConfig("temperature", temperature=2.0)
    plan = epoch_plan(lens, 16, 100, mix, seed=1, epoch=0)
    assert plan == epoch_plan(lens, 16, 100, mix, seed=1, epoch=0)
    assert plan != epoch_plan(lens, 16, 100, mix, seed=2, epoch=0)
    assert plan != epoch_plan(lens, 16, 100, mix, seed=1, epoch=1)


def test_upsampled_tasks_cycle_through_all_their_examples_and_downsampled_ones_vary_by_epoch():
    lens, mix = lengths(SIZES), MixConfig("temperature", temperature=5.0)
    plan = epoch_plan(lens, 16, 100, mix, seed=0, epoch=0)
    smallest = [i for t, b in plan if t == 3 for i in b]
    assert len(smallest) > 3 * SIZES[3] and set(smallest) == set(range(SIZES[3]))  # several full passes
    largest = [{i for t, b in epoch_plan(lens, 16, 100, mix, seed=0, epoch=e) if t == 0 for i in b} for e in (0, 1)]
    assert len(largest[0]) < SIZES[0] and largest[0] != largest[1]  # a different subset each epoch
    assert all(len(b) <= 16 for _, b in plan)


def test_proportional_plan_visits_every_example_of_every_task_once_per_epoch():
    lens = lengths(SIZES)
    plan = epoch_plan(lens, 16, 100, MixConfig(), seed=5, epoch=2)
    for t, n in enumerate(SIZES):
        seen = sorted(i for task, b in plan if task == t for i in b)
        assert seen == list(range(n))


def test_tasks_without_training_data_are_left_out():
    plan = epoch_plan([[5] * 40, None], 8, 100, MixConfig("temperature"), seed=0, epoch=0)
    assert {t for t, _ in plan} == {0} and len(plan) == 5


def test_summary_records_rates_and_batches():
    s = summary([300, 100], 10, MixConfig("temperature", temperature=2.0), ["mnli", "sst2"])
    assert s["sampling"] == {"sampling": "temperature", "temperature": 2.0}
    assert s["examples"] == {"mnli": 300, "sst2": 100} and sum(s["batches_per_epoch"].values()) == 40
    assert s["rates"]["mnli"] == pytest.approx(3 ** 0.5 / (3 ** 0.5 + 1), abs=1e-6)


def test_a_bad_sampling_name_suggests_the_near_match():
    with pytest.raises(RunnerError, match=r"unknown mix sampling 'proportinal' \(did you mean 'proportional'\?\)"):
        MixConfig("proportinal")
