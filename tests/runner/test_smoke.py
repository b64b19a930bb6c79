"""``runner smoke``: the tiny model and fixture repos built locally, mnli:xnli end to end, its figures printed."""

from __future__ import annotations

import re

import pytest

from runner.cli import main
from runner.smoke.command import FLOOR, SmokeReport
from tests.fixtures.runs import assert_one_row_per_language, stored


@pytest.mark.slow
def test_smoke_runs_one_pair_on_this_device_and_prints_its_figures(tmp_path, capsys):
    assert main(["smoke", "--device", "cpu", "--folder", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "smoke: mnli:xnli on cpu (" in out and "float32" in out
    rates = re.findall(r"([\d,]+) tokens in ([\d.]+) s = ([\d,]+) tokens/s; English dev accuracy ([\d.]+)", out)
    assert len(rates) == 2  # phase 1 (MNLI) and phase 2 (XNLI's English training data)
    for tokens, _, per_s, dev in rates:
        assert int(tokens.replace(",", "")) > 0 and int(per_s.replace(",", "")) > 0 and float(dev) > FLOOR
    assert "phase 3 evaluation     15 languages" in out and out.rstrip().splitlines()[-1].startswith("smoke: ok")
    [(run, results)] = stored(tmp_path / "store")  # one run in the smoke's own store, as `runner run` writes it
    assert_one_row_per_language(results, "xnli")
    assert run.hardware.startswith("cpu") and {s.phase for s in run.dev_scores} == {"intermediate", "target"}
    # only the two tasks' repos were built, in their Hub layout, and the model is the locally built one
    assert sorted(p.name for p in (tmp_path / "data").glob("*/*")) == ["glue", "xnli"]
    assert (tmp_path / "model" / "tiny-xlmr" / "config.json").exists()


def test_smoke_fails_when_a_phase_does_not_learn():
    phase = {"phase": "phase 1 mnli", "epochs": 2, "tokens": 10, "seconds": 1.0, "tokens_per_s": 10.0}
    assert SmokeReport("cpu", "float32", [{**phase, "dev": FLOOR + 30}], None, 1.0, None).ok
    assert not SmokeReport("cpu", "float32", [{**phase, "dev": FLOOR + 30}, {**phase, "dev": 33.3}], None, 1.0, None).ok
