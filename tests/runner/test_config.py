"""Typed config: defaults, YAML file, --set and flags, validation with near matches."""

from __future__ import annotations

import re

import pytest

from runner.cli import _parser, _settings
from runner.config import build_config, hparams, parse_set
from runner.errors import RunnerError


def test_defaults_are_the_xstilts_recipe():
    cfg = build_config({"pair": "mnli:xnli"})
    t, i = cfg.train, cfg.intermediate
    assert cfg.recipe == "xstilts" and cfg.model == "xlm-roberta-large"
    assert (t.learning_rate, t.weight_decay, t.warmup_ratio, t.max_length) == (1e-5, 0.01, 0.1, 256)
    assert (t.batch_size, t.grad_accum, t.epochs) == (4, 8, 2)  # jiant d_write_configs.sh: XNLI
    assert (t.select, t.select_every, t.dev_subset, t.patience) == ("steps", 1000, 500, 30)
    assert (i.batch_size, i.grad_accum, i.epochs, i.max_length, i.select) == (4, 1, 3, 256, "last")


def test_recipe_then_file_then_set_and_train_applies_to_both_phases(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("recipe: xtreme\ntrain: {batch_size: 8}\nintermediate: {epochs: 1}\n")
    args = _parser().parse_args(["run", "--pair", "mnli:xnli", "--config", str(path), "--set", "train.select=epoch"])
    cfg = build_config(_settings(args))
    assert cfg.recipe == "xtreme" and cfg.train.learning_rate == 3e-5 and cfg.train.grad_accum == 16
    assert cfg.train.batch_size == cfg.intermediate.batch_size == 8  # train.X: every phase
    assert cfg.intermediate.epochs == 1 and cfg.train.epochs == 5  # intermediate.X: phase 1 only
    assert cfg.train.select == cfg.intermediate.select == "epoch"
    flag = _parser().parse_args(["run", "--pair", "mnli:xnli", "--config", str(path), "--recipe", "xstilts"])
    assert build_config(_settings(flag)).train.learning_rate == 1e-5  # the flag beats the file's recipe


def test_file_then_set_then_flags(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("seed: 3\nmodel: bert-base-multilingual-cased\ntrain:\n  learning_rate: 2.0e-5\n  batch_size: 8\n"
                    "epochs: {mnli: 1}\n")
    args = _parser().parse_args(["run", "--pair", "mnli:xnli", "--config", str(path), "--set", "train.batch_size=4",
                                 "--set", "epochs.xnli_en=3", "--lr", "3e-5", "--seed", "5"])
    cfg = build_config(_settings(args))
    assert cfg.seed == 5 and cfg.model == "bert-base-multilingual-cased"
    assert cfg.train.learning_rate == 3e-5 and cfg.train.batch_size == 4
    assert cfg.epochs == {"mnli": 1, "xnli_en": 3}
    assert hparams(cfg)["epochs_per_stage"] == {"mnli": 1, "xnli_en": 3}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"train": {"learnig_rate": 1}}, "unknown setting train.learnig_rate (did you mean 'learning_rate'?)"),
        ({"sed": 1}, "did you mean 'seed'?"),
        ({"train": {"learning_rate": -1}}, "learning_rate must be > 0"),
        ({"train": {"warmup_ratio": 1.5}}, "warmup_ratio"),
        ({"train": {"batch_size": "many"}}, "is not a valid int"),
        ({"train": {"precision": "fp8"}}, "precision"),
        ({"device": "tpu"}, "device"),
        ({"variant": "mlm"}, "--variant mlm needs a text corpus: give --mlm-corpus"),
        ({"variant": "translated"}, "--variant translated needs machine-translated intermediate data"),
        ({"variant": "mlmm"}, "unknown variant 'mlmm' (did you mean 'mlm'?)"),
        ({"mix": {"sampling": "temprature"}}, "unknown mix sampling 'temprature' (did you mean 'temperature'?)"),
        ({"mix": {"samplng": "temperature"}}, "unknown setting mix.samplng (did you mean 'sampling'?)"),
        ({"mix": {"temperature": "0"}}, "mix temperature must be a finite number > 0"),
        ({"mix": {"cap": 0}}, "mix cap must be >= 1"),
        ({"mix": "temperature"}, "mix must be a mapping of settings"),
        ({"mlm": {"every": 0}}, "mlm.every must be >= 1"),
        ({"mlm": {"probability": 1.5}}, "mlm.probability must be in (0, 1)"),
        ({"translated": {"layout": "{split}.parquet"}}, "must contain {lang}"),
        ({"epochs": {"mnli": 0}}, "epochs.mnli"),
        ({"recipe": "xtrem"}, "unknown recipe 'xtrem' (did you mean 'xtreme'?)"),
        ({"train": {"select": "best"}}, "select 'best' must be one of epoch, steps, last"),
        ({"train": {"select": "steps", "select_every": None}}, "select=steps needs select_every"),
        ({"train": {"patience": 0}}, "patience must be >= 1"),
        ({"formats": {"mc_copa": "questoin"}}, "formats.mc_copa 'questoin' is unknown (did you mean 'question'?)"),
        ({"formats": {"mc_siqa": "question"}}, "formats.mc_siqa: no input format to choose"),
    ],
)
def test_invalid_settings_are_one_line_errors(values, message):
    with pytest.raises(RunnerError, match=re.escape(message)):
        build_config(values)


def test_set_needs_key_value():
    with pytest.raises(RunnerError, match="KEY=VALUE"):
        parse_set(["train.learning_rate"])
    assert parse_set(["train.progress=false"]) == {"train": {"progress": "false"}}
    assert build_config({"train": {"progress": "false"}}).train.progress is False


def test_mix_and_variant_settings_from_flags_yaml_and_set(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("mix: {sampling: temperature, temperature: 3}\nvariant: mlm\n"
                    "mlm: {corpus: wikimedia/wikipedia, files: [20231101.de/*.parquet]}\n")
    args = _parser().parse_args(["run", "--pair", "mnli+sst2:pawsx", "--config", str(path), "--mix-temperature", "5",
                                 "--mix-cap", "1000", "--mlm-every", "4",
                                 "--set", "mlm.files=20231101.de/*.parquet,20231101.fr/*.parquet"])
    cfg = build_config(_settings(args))
    assert (cfg.mix.sampling, cfg.mix.temperature, cfg.mix.cap) == ("temperature", 5.0, 1000)
    assert cfg.variant == "mlm" and cfg.mlm.corpus == "wikimedia/wikipedia" and cfg.mlm.every == 4
    assert cfg.mlm.files == ("20231101.de/*.parquet", "20231101.fr/*.parquet")
    assert cfg.mix.hparams() == {"sampling": "temperature", "temperature": 5.0, "cap": 1000}
    args = _parser().parse_args(["run", "--pair", "mnli:xnli", "--variant", "translated", "--translated-data",
                                 "facebook/xnli", "--translated-languages", "de, fr", "--mix", "proportional",
                                 "--set", "translated.include_english=false"])
    cfg = build_config(_settings(args))
    assert cfg.translated.languages == ("de", "fr") and cfg.translated.include_english is False
    assert cfg.mix.hparams() == {"sampling": "proportional"}  # the temperature only where it is used
    assert build_config({"variant": "none"}).variant == ""
