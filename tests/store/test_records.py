import math

import pytest

from store.errors import StoreError
from store.records import DevScore, Result, Run, content_hash, validate

RUN = Run(model="xlm-roberta-large", intermediate="mnli", target="xnli", seed=1)


def test_run_id_is_deterministic_and_ignores_record_fields():
    a = Run(model="m", intermediate="mnli", target="xnli", seed=1, hparams={"lr": 1e-5})
    b = Run(model="m", intermediate="mnli", target="xnli", seed=1, hparams={"lr": 1e-5}, wall_time_s=3.0, hardware="x")
    c = Run(model="m", intermediate="mnli", target="xnli", seed=2, hparams={"lr": 1e-5})
    assert a.run_id == b.run_id != c.run_id
    assert a.run_id.startswith("mnli__xnli__s1__")


def test_content_hash_changes_with_values_not_with_order():
    r1 = [Result("de", "accuracy", 70.0), Result("en", "accuracy", 80.0)]
    assert content_hash(RUN, r1) == content_hash(RUN, list(reversed(r1)))
    assert content_hash(RUN, r1) != content_hash(RUN, [Result("de", "accuracy", 70.1), r1[1]])


def test_json_round_trip():
    run = Run(model="m", intermediate="mnli", target="xnli", seed=3, hparams={"lr": 2e-5},
              dev_scores=(DevScore("intermediate", "mnli", "accuracy", 80.0, 10),))
    assert Run.from_json(run.to_json()) == run


@pytest.mark.parametrize(
    "run, results, match",
    [
        (Run(model="m", intermediate="mnli", target="xnil", seed=1), [Result("de", "accuracy", 1.0)], "did you mean 'xnli'"),
        (Run(model="m", intermediate="mnli", target="mnli", seed=1), [Result("de", "accuracy", 1.0)], "unknown target task"),
        (Run(model="m", intermediate="mnlx", target="xnli", seed=1), [Result("de", "accuracy", 1.0)], "unknown intermediate"),
        (Run(model="m", intermediate="squad+mnli", target="xnli", seed=1), [Result("de", "accuracy", 1.0)], "not canonical"),
        (RUN, [Result("ja", "accuracy", 1.0)], "'ja' is not evaluated in xnli"),
        (RUN, [Result("de", "f1", 1.0)], "metric 'f1' is not declared for xnli"),
        (RUN, [Result("de", "accuracy", math.nan)], "only finite"),
        (RUN, [Result("de", "accuracy", math.inf)], "only finite"),
        (RUN, [Result("de", "accuracy", 100.5)], "outside 0-100"),
        (RUN, [Result("de", "accuracy", -0.1)], "outside 0-100"),
        (RUN, [Result("de", "accuracy", 0.5, split="dev")], "split 'dev'"),
        (RUN, [Result("avg", "accuracy", 50.0)], "published averages"),
        (RUN, [Result("de", "accuracy", 1.0), Result("de", "accuracy", 2.0)], "twice"),
        (RUN, [], "no results"),
        (Run(model="m", intermediate="mnli", target="xnli"), [Result("de", "accuracy", 1.0)], "needs a seed"),
        (Run(model="m", intermediate="mnli", target="xnli", seed=1, variant="mlmx"), [Result("de", "accuracy", 1.0)], "variant"),
        (Run(model="m", intermediate="mnli", target="xnli", seed=1, setting="zeroshot"), [Result("de", "accuracy", 1.0)], "did you mean 'zero-shot'"),
        (Run(model="m", intermediate="mnli", target="xnli", seed=1, dev_scores=(DevScore("intermediate", "mnli", "f1", 1.0),)),
         [Result("de", "accuracy", 1.0)], "metric not declared for mnli"),
        (Run(model="m", intermediate="mnli", target="xnli", seed=1, dev_scores=(DevScore("phase3", "mnli", "accuracy", 1.0),)),
         [Result("de", "accuracy", 1.0)], "phase must be"),
    ],
)
def test_validation_refuses_with_a_clear_message(run, results, match):
    with pytest.raises(StoreError, match=match):
        validate(run, results)


def test_valid_run_passes():
    validate(RUN, [Result("de", "accuracy", 78.0, n_examples=5010), Result("en", "accuracy", 88.0)])
