"""Recipes as data: every value with a source, complete for every target, layered under the user's settings."""

from __future__ import annotations

import dataclasses
import re

import pytest

from runner import recipes
from runner.cli import main
from runner.config import HPARAM_FIELDS, PHASE1_FIELDS, QAConfig, TrainConfig, build_config, hparams
from runner.errors import RunnerError
from runner.recipes.show import render
from runner.tasks.records import FORMATS
from runner.tasks.registry import registry

TARGETS = sorted(n for n, s in registry().items() if s.role == "target")
#: What a recipe value may set: TrainConfig fields bare, sections dotted.
SETTABLE = {f.name for f in dataclasses.fields(TrainConfig)} | {f"qa.{f.name}" for f in dataclasses.fields(QAConfig)} \
    | {"retrieval.max_length"}


def test_three_recipes_ship_with_xstilts_first():
    assert recipes.names() == ["xstilts", "xtreme", "xtreme-r"]


@pytest.mark.parametrize("name", ["xstilts", "xtreme", "xtreme-r"])
def test_every_value_names_a_file_in_a_pinned_repository(name):
    recipe = recipes.get(name)
    sections = [recipe.phase1()[0]] + [recipe.phase2(t)[0] for t in [None, *TARGETS]]
    values = [(k, v) for section in sections for k, v in section.items()]
    assert len(values) > 40
    for key, v in values:
        assert re.match(r"^(nyu-mll/jiant|google-research/xtreme)@[0-9a-f]{7,}:\S+", v.source), (key, v.source)
        assert v.status in ("V", "I")
        section, _, name = key.rpartition(".")
        assert key in SETTABLE or section in ("epochs", "dev_from") or (section == "formats" and v.value in FORMATS[name]), key


@pytest.mark.parametrize("name", ["xstilts", "xtreme", "xtreme-r"])
def test_every_target_is_declared_and_builds_a_valid_config(name):
    recipe = recipes.get(name)
    assert set(recipe.targets) == set(TARGETS)
    for target in TARGETS:
        cfg = build_config({"pair": f"mnli:{target}", "recipe": name})
        assert cfg.recipe == name and cfg.intermediate.epochs == 3


def test_values_match_their_sources():
    """The main values, re-read in the files named (jiant d_write_configs.sh, e_run_models.sh; xtreme train_*.sh)."""
    x = build_config({"pair": "mnli:xnli"})
    assert (x.train.batch_size, x.train.grad_accum, x.train.epochs, x.train.learning_rate) == (4, 8, 2, 1e-5)
    q = build_config({"pair": "mnli:xquad"})
    assert (q.train.batch_size, q.train.grad_accum, q.train.epochs, q.qa.max_length) == (4, 4, 2, 384)
    x = build_config({"pair": "mnli:xnli", "recipe": "xtreme"})
    assert (x.train.learning_rate, x.train.batch_size, x.train.grad_accum, x.train.epochs, x.train.max_length) == \
        (3e-5, 2, 16, 5, 128)
    assert (x.train.select, x.train.select_every, x.train.dev_subset) == ("steps", 100, None)
    q = build_config({"pair": "mnli:tydiqa", "recipe": "xtreme"})
    assert (q.train.warmup_steps, q.train.weight_decay, q.train.select) == (500, 1e-4, "last")
    c = build_config({"pair": "none:xcopa", "recipe": "xtreme-r"})
    assert c.epochs == {"siqa": 5, "copa": 5} and c.formats == {"mc_copa": "question"} and c.train.learning_rate == 3e-5


def test_xstilts_selects_xnli_on_mnli_matched_as_jiant_and_xtreme_on_xnli_english():
    from runner.pipeline import layout

    jiant = layout(build_config({"pair": "mnli:xnli"}))
    assert jiant.target.stages[0].dev.refs[0].split == "validation_matched" and jiant.run.hparams["dev_from"] == \
        {"xnli_en": "mnli"}
    assert any("nyu-mll/glue@main:mnli/validation_matched" in s for s in jiant.run.config["target_data_sources"])
    xtreme = layout(build_config({"pair": "mnli:xnli", "recipe": "xtreme"}))
    assert xtreme.target.stages[0].dev.refs[0].repo.repo == "facebook/xnli" and "dev_from" not in xtreme.run.hparams
    assert "dev_from" not in layout(build_config({"pair": "mnli:pawsx"})).run.hparams
    with pytest.raises(RunnerError, match=r"dev_from.xnli_en=udpos_en: udpos_en's dev set has other labels"):
        layout(build_config({"pair": "mnli:xnli", "dev_from": {"xnli_en": "udpos_en"}}))
    with pytest.raises(RunnerError, match=r"no training stage is called 'mnlii' \(did you mean 'mnli'\?\)"):
        layout(build_config({"pair": "mnli:xnli", "dev_from": {"xnli_en": "mnlii"}}))


def test_phase_1_squad_windows_are_jiants_256_unless_the_user_sets_qa_max_length():
    from runner.pipeline import layout

    cfg = build_config({"pair": "squad:xquad"})
    assert (cfg.phase("intermediate").qa.max_length, cfg.qa.max_length, cfg.phase("intermediate").qa.doc_stride) == \
        (256, 384, 128)
    lay = layout(cfg)
    assert lay.run.hparams["intermediate"]["qa_max_length"] == 256 and lay.run.hparams["qa"]["max_length"] == 384
    user = build_config({"pair": "squad:xquad", "qa": {"max_length": 64}})
    assert user.phase("intermediate").qa.max_length == user.qa.max_length == 64
    assert layout(user).inter_dir != lay.inter_dir  # phase 1's windows define its checkpoint


def test_set_overrides_single_values_and_train_epochs_beats_per_stage_epochs():
    cfg = build_config({"pair": "none:xcopa", "recipe": "xtreme-r", "train": {"epochs": 1}, "formats": {"mc_copa": "colon"}})
    assert cfg.epochs == {} and cfg.train.epochs == cfg.intermediate.epochs == 1 and cfg.formats == {"mc_copa": "colon"}
    cfg = build_config({"pair": "none:xcopa", "recipe": "xtreme-r", "epochs": {"copa": 2}})
    assert cfg.epochs == {"siqa": 5, "copa": 2}


def test_recipe_and_every_effective_value_define_the_run():
    from runner.pipeline import layout

    runs = {r: layout(build_config({"pair": "mnli:xnli", "recipe": r})).run for r in ("xstilts", "xtreme")}
    assert runs["xstilts"].hparams["recipe"] == "xstilts" and runs["xtreme"].hparams["recipe"] == "xtreme"
    assert runs["xstilts"].run_id != runs["xtreme"].run_id
    hp = runs["xtreme"].hparams
    assert set(HPARAM_FIELDS) <= set(hp) and set(PHASE1_FIELDS) == set(hp["intermediate"])
    assert hp["intermediate"]["learning_rate"] == 1e-5 and hp["learning_rate"] == 3e-5
    base = layout(build_config({"pair": "none:xnli"})).run
    assert "intermediate" not in base.hparams  # no phase 1: nothing of it recorded
    xcopa = layout(build_config({"pair": "none:xcopa"})).run.hparams
    assert xcopa["formats"] == {"mc_copa": "question"} and xcopa["epochs_per_stage"] == {"copa": 5, "siqa": 5}


def test_same_phase_1_shares_the_checkpoint_across_recipes():
    from runner.pipeline import layout

    a = layout(build_config({"pair": "mnli:xnli", "recipe": "xstilts"}))
    b = layout(build_config({"pair": "mnli:xnli", "recipe": "xtreme"}))
    c = layout(build_config({"pair": "mnli:xnli", "recipe": "xtreme", "intermediate": {"learning_rate": 2e-5}}))
    assert a.inter_dir == b.inter_dir != c.inter_dir


def test_malformed_recipe_data_are_refused(tmp_path):
    bad = {"value": 1, "source": "Z:somewhere.sh L1", "status": "V"}
    with pytest.raises(RunnerError, match="must start with a repo alias"):
        recipes._value(bad, {"X": "google-research/xtreme@838c13b"}, "t: x")
    with pytest.raises(RunnerError, match=r"give \{value, source, status\}"):
        recipes._value({"value": 1}, {"X": "r@1"}, "t: x")
    with pytest.raises(RunnerError, match="status 'maybe'"):
        recipes._value({"value": 1, "source": "X:a.sh", "status": "maybe"}, {"X": "r@1"}, "t: x")


def test_runner_recipes_prints_every_recipe_with_sources(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in ("recipe xstilts:", "recipe xtreme:", "recipe xtreme-r:"):
        assert name in out
    assert "nyu-mll/jiant@daa5a258:jiant/scripts/benchmarks/xtreme/subscripts/d_write_configs.sh L11-17" in out
    assert "every 1000 steps, first 500 dev rows, patience 30" in out
    # dual encoders show the lengths their task declares, not phase 2's default max_length
    lareqa = out.split("\nlareqa\n", 1)[1].splitlines()[0]
    assert "len query 96 / candidate 256" in lareqa, lareqa
    assert main(["recipes", "xtreme"]) == 0
    one = capsys.readouterr().out
    assert "recipe xtreme:" in one and "recipe xstilts:" not in one
    assert one.strip() == render("xtreme").strip()


def test_unknown_recipe_is_one_line_exit_2(capsys):
    assert main(["recipes", "xtrme"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown recipe 'xtrme' (did you mean 'xtreme'?)") and "\n" not in err
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "--recipe NAME" in capsys.readouterr().out


def test_run_with_an_unknown_recipe_is_refused_before_anything_runs(tmp_path, capsys):
    args = ["run", "--pair", "mnli:xnli", "--recipe", "xstils", "--work-dir", str(tmp_path / "work"),
            "--store", str(tmp_path / "store"), "--dry-run"]
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == ("error: unknown recipe 'xstils' (did you mean 'xstilts'?); known: xstilts, "
                                               "xtreme, xtreme-r (`runner recipes` lists them)")
    assert not (tmp_path / "store").exists() and not (tmp_path / "work").exists()


def test_plan_without_a_pair_builds_for_every_recipe_with_each_runs_own_values(tmp_path, capsys):
    for name in recipes.names():  # plan- and grid-level settings: selection is defined per target only
        assert build_config({"recipe": name}).recipe == name
    assert main(["plan", "--intermediate", "mnli", "--target", "xnli,pawsx", "--recipe", "xtreme", "--work-dir",
                 str(tmp_path / "w"), "--store", str(tmp_path / "s"), "--from-catalog"]) == 0
    out = capsys.readouterr().out
    assert "recipe xtreme (`runner recipes xtreme`)" in out
    assert "xnli_en 5 ep" in out and "pawsx_en 5 ep" in out  # XTREME: 5 epochs each (xstilts: 2 and 5)
