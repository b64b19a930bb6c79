"""End to end: a run's stored configuration names its recipe; two recipes of one pair are two configurations."""

from __future__ import annotations

import pytest

from runner.cli import main
from runner.data.read import DataLocation, read_source
from runner.tasks.records import with_formats
from runner.tasks.registry import get_task
from store.configuration import LEGACY_RECIPE, config_id, recipe, target_config_id
from store.records import Run
from tests.fixtures.runs import stored

SMALL = ["--epochs", "1", "--max-train-examples", "64", "--max-eval-examples", "20"]


@pytest.mark.slow
def test_two_recipes_of_one_pair_are_two_configurations_in_the_store(run_args, tmp_path, capsys):
    assert main(run_args("none:pawsx", *SMALL, "--recipe", "xtreme")) == 0
    assert main(run_args("none:pawsx", *SMALL)) == 0  # the default recipe: xstilts
    runs = {recipe(run): run for run, _ in stored(tmp_path / "store")}
    assert set(runs) == {"xstilts", "xtreme"}
    a, b = runs["xstilts"], runs["xtreme"]
    assert a.run_id != b.run_id and config_id(a) != config_id(b) and target_config_id(a) != target_config_id(b)
    # every effective value is recorded: the recipe's (xtreme: full dev set, every 200 steps) and the flags'
    assert (b.hparams["select"], b.hparams["select_every"], b.hparams["dev_subset"]) == ("steps", 200, None)
    assert (a.hparams["select"], a.hparams["select_every"], a.hparams["dev_subset"], a.hparams["patience"]) == \
        ("steps", 1000, 500, 30)
    assert (a.hparams["max_length"], b.hparams["max_length"]) == (256, 128)  # jiant 256, XTREME 128
    assert a.hparams["learning_rate"] == b.hparams["learning_rate"] == 1e-3 and a.config["recipe"] == "xstilts"
    assert {r.phase for r in a.dev_scores} == {"target"}
    out = capsys.readouterr().out
    assert out.count("written") == 2


def test_a_run_recorded_before_recipes_reads_as_legacy_and_stays_apart():
    old = Run(model="m", intermediate="none", target="xnli", seed=1, hparams={"learning_rate": 1e-5, "batch_size": 32})
    new = Run(model="m", intermediate="none", target="xnli", seed=1,
              hparams={"recipe": "xstilts", "learning_rate": 1e-5, "batch_size": 32})
    assert recipe(old) == LEGACY_RECIPE and recipe(new) == "xstilts"
    assert config_id(old) != config_id(new) and old.run_id != new.run_id


def test_dry_run_prints_the_recipe_and_its_notes_for_the_pair(run_args, capsys):
    assert main(run_args("mnli:tydiqa", "--recipe", "xtreme", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "recipe  xtreme: google-research/xtreme's per-task training scripts" in out
    assert "note    XTREME has no intermediate phase: phase 1 follows the xstilts recipe" in out
    assert "note    XTREME trains on TyDiQA-GoldP's English training file" in out
    assert main(run_args("none:xnli", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "recipe  xstilts" in out and "hyperparameter table is not reachable" in out and "phase 1 trains SQuAD" not in out


def test_xcopa_input_format_follows_the_recipe(fixture_data):
    """XTREME-R (run_xcopa.py L288-312): "{premise} What was the {question}?" against each choice."""
    spec = get_task("xcopa")
    loc = DataLocation(fixture_data, None)
    src = spec.test["it"]
    colon = read_source(src, (), loc, 3)
    question = read_source(with_formats(spec, {"mc_copa": "question"}).test["it"], (), loc, 3)
    for c, q in zip(colon, question):
        premise = c["first"][0]
        kind = c["second"][0].split(":")[0]
        assert kind in ("cause", "effect")
        assert q["first"] == [f"{premise} What was the {kind}?"] * 2
        assert c["second"] == [f"{kind}: {choice}" for choice in q["second"]] and q["label"] == c["label"]
    stage = with_formats(spec, {"mc_copa": "question"}).stages
    assert stage[1].train.columns["format"] == "question" and "format" not in stage[0].train.columns  # SIQA: as is
