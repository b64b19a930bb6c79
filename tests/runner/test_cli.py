"""CLI: listing tasks, dry runs, and user errors (one line, exit 2, store untouched)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.cli import main

ROOT = Path(__file__).resolve().parents[2]


def snapshot(folder: Path) -> dict:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")} if folder.exists() else {}


def test_tasks_lists_every_task_with_kind_and_languages(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in ("mnli", "ccg", "xnli", "xcopa", "udpos", "panx", "squad", "xquad", "lareqa"):
        assert f"\n{name} " in out
    xnli = next(line for line in out.splitlines() if line.startswith("xnli "))
    assert "classification" in xnli and "15" in xnli and "ar bg de" in xnli and "yes" in xnli
    from store.catalog import load_catalog

    cat = load_catalog()
    listed = {line.split()[0]: line for line in out.splitlines()[1:] if line and not line.startswith(" ")}
    assert set(listed) == set(cat.intermediate_tasks()) | set(cat.target_tasks())
    assert all(line.split()[5] == "yes" for line in listed.values())  # every catalog task runs
    assert "question_answering" in listed["tydiqa"] and "English rows only" in listed["tydiqa"]
    assert "retrieval" in listed["mewslix"] and "--mewslix-path" in listed["mewslix"]


def test_tasks_sources_show_revisions(capsys):
    assert main(["tasks", "--sources"]) == 0
    out = capsys.readouterr().out
    assert "google/xtreme@68bd9e06bf4bbe671073c975ccd61d754e1bd3d6 [pinned] udpos.German/test-*.parquet" in out


def test_dry_run_prints_phases_and_what_would_be_written(run_args, tmp_path, capsys):
    assert main(run_args("mnli+qqp:udpos", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "phase 1 intermediate  mnli+qqp" in out and "to run" in out
    assert "udpos_en (2 epochs;" in out and "0/38 done" in out
    assert "114 result rows (f1, precision, recall x 38 languages" in out and "3 English dev scores" in out
    assert "data    ok" in out
    assert not (tmp_path / "store").exists() and not (tmp_path / "work").exists()


@pytest.mark.parametrize(
    ("pair", "extra", "message"),
    [
        ("mnli:xnly", [], "unknown target task 'xnly' (did you mean 'xnli'?)"),
        ("mnly:xnli", [], "unknown intermediate task 'mnly' (did you mean 'mnli'?)"),
        ("mnli-xnli", [], "malformed pair 'mnli-xnli': write INTERMEDIATE:TARGET"),
        ("mnli:xnli:pawsx", [], "malformed pair"),
        ("mnli+:xnli", [], "malformed intermediate 'mnli+'"),
        ("xnli:pawsx", [], "unknown intermediate task 'xnli'"),
        ("none:mewslix", [], "Mewsli-X is built by a script and has no Hub copy: give --mewslix-path"),
        ("squad:xquad", ["--set", "qa.squad_version=3.0"], "qa.squad_version '3.0' must be 1.1 or 2.0"),
        ("none:tatoeba", ["--set", "retrieval.layer=-1"], "retrieval.layer must be >= 0"),
        ("ccg:xnli", [], "CCGbank is licensed"),
        ("mnli:xnli", ["--set", "train.lr=1"], "unknown setting train.lr"),
        ("mnli:xnli", ["--config", "/nonexistent.yaml"], "cannot read config file"),
    ],
)
def test_user_errors_exit_2_with_one_line(pair, extra, message, run_args, tmp_path, capsys):
    (tmp_path / "store").mkdir()
    before = snapshot(tmp_path / "store")
    assert main(run_args(pair, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert snapshot(tmp_path / "store") == before


def test_missing_data_exits_2_before_anything_runs(run_args, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = run_args("mnli:xnli")
    args[args.index("--data-dir") + 1] = str(empty)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "missing data for mnli/train: no files match" in err and "hf download nyu-mll/glue" in err
    assert not (tmp_path / "store").exists() and not (tmp_path / "work").exists()


def test_a_model_that_does_not_load_exits_2_and_leaves_the_store_alone(run_args, tmp_path, capsys):
    bad = tmp_path / "not-a-model"
    bad.mkdir()
    (bad / "config.json").write_text("{}")
    args = run_args("none:pawsx")
    args[args.index("--model") + 1] = str(bad)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: model") and "does not load" in err and "\n" not in err
    assert not (tmp_path / "store").exists() and not (tmp_path / "work").exists()


@pytest.mark.parametrize("in_process", [True, False])
def test_an_uncached_hub_model_fails_fast_when_the_hub_cannot_be_reached(in_process, run_args, tmp_path, capsys):
    """Not a minute of huggingface_hub retries: one line, exit 2, nothing written.

    In this process huggingface_hub is offline (tests set HF_HUB_OFFLINE before it is imported);
    a subprocess with the Hub "online" but its endpoint refusing connections shows the probe.
    """
    args = run_args("none:pawsx")
    args[args.index("--model") + 1] = "xstilts-tests/no-such-model"
    if in_process:
        rc, err, reason = main(args), capsys.readouterr().err.strip(), "HF_HUB_OFFLINE is set"
    else:
        env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
        env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # refused: nothing listens on the discard port
        p = subprocess.run([sys.executable, "-m", "runner.cli", *args], capture_output=True, text=True, env=env,
                           cwd=Path(__file__).resolve().parents[2], timeout=120)
        rc, err, reason = p.returncode, p.stderr.strip(), "no answer from http://127.0.0.1:9"
    assert rc == 2  # the reason below is the probe's, not what a minute of retries ends with
    assert err.startswith("error: model 'xstilts-tests/no-such-model' is not in the local cache") and "\n" not in err
    assert reason in err, err
    assert not (tmp_path / "store").exists() and not (tmp_path / "work").exists()


def test_the_console_script_prints_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "runner.cli", "run", "--pair", "mnli:pawx", "--store",
                           str(tmp_path / "s")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown target task 'pawx' (did you mean 'pawsx'?); known: ")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("pair", "extra", "message"),
    [
        ("mnli+sst2:pawsx", ["--mix", "temprature"], "unknown mix sampling 'temprature' (did you mean 'temperature'?)"),
        ("mnli+sst2:pawsx", ["--mix", "temperature", "--mix-temperature", "-1"], "mix temperature must be"),
        ("mnli:xnli", ["--variant", "mlm"], "--variant mlm needs a text corpus: give --mlm-corpus"),
        ("mnli:xnli", ["--variant", "translated"], "--variant translated needs machine-translated intermediate data"),
        ("mnli:xnli", ["--variant", "mlmm"], "unknown variant 'mlmm' (did you mean 'mlm'?)"),
        ("none:xnli", ["--variant", "mlm", "--mlm-corpus", "wikimedia/wikipedia"],
         "--variant mlm changes the intermediate phase, and none:xnli has none"),
        ("mnli:xnli", ["--variant", "mlm", "--mlm-corpus", "nobody/corpus"], "missing mlm corpus: "),
        ("mnli:xnli", ["--variant", "mlm", "--mlm-corpus", "wikimedia/wikipedia", "--set", "mlm.files=20231101.xx/*.parquet"],
         "no data files match '20231101.xx/*.parquet'"),
        ("mnli:xnli", ["--variant", "translated", "--translated-data", "facebook/xnli", "--translated-languages", "de,xx"],
         "missing data for translated mnli/xx"),
    ],
)
def test_mix_and_variant_errors_exit_2_with_one_line(pair, extra, message, run_args, mlm_corpus, translated_data,
                                                      tmp_path, capsys):
    (tmp_path / "store").mkdir()
    before = snapshot(tmp_path / "store")
    assert main(run_args(pair, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert snapshot(tmp_path / "store") == before and not (tmp_path / "work").exists()


def test_multitask_runs_every_intermediate_task_or_says_which_cannot_run_yet(run_args, capsys):
    from runner.tasks.registry import get_task
    from store.catalog import load_catalog

    nine = load_catalog().intermediate_tasks()
    pending = [t for t in nine if not get_task(t).implemented]
    assert main(run_args("multitask:pawsx")) == 2
    err = capsys.readouterr().err.strip()
    if pending:  # until QA lands: squad
        assert err.startswith(f"error: multitask trains all 9 intermediate tasks ({'+'.join(nine)}), but {pending[0]} (")
        assert "join the runnable ones with '+'" in err
    else:
        assert "CCGbank is licensed" in err  # all nine run; ccg reads its licensed copy from --ccg-path


def _run_id(args, capsys) -> str:
    assert main([*args, "--dry-run"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    return first.split("run_id=")[1]


def test_sampling_and_variants_define_the_run(run_args, mlm_corpus, translated_data, capsys):
    plain = _run_id(run_args("mnli:xnli"), capsys)
    assert plain == _run_id(run_args("mnli:xnli", "--mix", "temperature"), capsys)  # one task: nothing to mix
    mlm = _run_id(run_args("mnli:xnli", "--variant", "mlm", "--mlm-corpus", "wikimedia/wikipedia"), capsys)
    mlm_k = _run_id(run_args("mnli:xnli", "--variant", "mlm", "--mlm-corpus", "wikimedia/wikipedia", "--mlm-every", "2"), capsys)
    translated = _run_id(run_args("mnli:xnli", "--variant", "translated", "--translated-data", "facebook/xnli"), capsys)
    assert len({plain, mlm, mlm_k, translated}) == 4
    proportional = _run_id(run_args("mnli+sst2:pawsx"), capsys)
    temperature = _run_id(run_args("mnli+sst2:pawsx", "--mix", "temperature"), capsys)
    assert proportional != temperature != _run_id(run_args("mnli+sst2:pawsx", "--mix", "temperature", "--mix-temperature", "5"), capsys)
    assert main(run_args("mnli+sst2:pawsx", "--mix", "temperature", "--variant", "mlm", "--mlm-corpus",
                         "wikimedia/wikipedia", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "mnli+sst2 (temperature T=2) + mlm every 1 on wikimedia/wikipedia" in out and "data    ok" in out


@pytest.mark.parametrize("extra", [[], ["--dry-run"]])
def test_run_without_the_runner_extra_names_what_to_install(monkeypatch, capsys, tmp_path, extra):
    # the app environment of `make run` has the `runner` command but no torch
    monkeypatch.setitem(sys.modules, "torch", None)
    assert main(["run", "--pair", "squad:xnli", "--store", str(tmp_path / "s"), *extra]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: `runner run` needs the runner's dependencies, missing in this environment")
    assert "torch" in err and "pip install torch==2.13.0" in err and "'.[runner]'" in err
    assert not (tmp_path / "s").exists()


def test_dry_run_with_data_missing_exits_2_and_says_so(run_args, tmp_path, capsys):
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    args = run_args("mnli:pawsx", "--dry-run")
    args[args.index("--data-dir") + 1] = str(empty)
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert "data    MISSING" in out and err.startswith("error: the run cannot start: ") and err.count("\n") == 1
    assert "hf download" in err  # the exact command that fetches what is missing


def test_dry_run_on_the_hub_says_nothing_was_checked(run_args, capsys):
    args = [a for a in run_args("mnli:pawsx", "--dry-run")]
    i = args.index("--data-dir")
    del args[i:i + 2]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "data    not checked: each split is fetched from the Hub when its phase loads it" in out
    assert "data    ok" not in out


@pytest.mark.parametrize("command", ["plan", "run"])
def test_a_store_path_that_is_no_store_is_refused(command, capsys, tmp_path):
    f = tmp_path / "passwd"
    f.write_text("root:x:0:0")
    argv = (["plan", "--intermediate", "mnli", "--target", "xnli", "--seeds", "1", "--from-catalog"]
            if command == "plan" else ["run", "--pair", "mnli:xnli", "--dry-run"])
    for store, message in ((f, "is a file"), (tmp_path, "is a folder but not a store")):
        assert main([*argv, "--store", str(store), "--work-dir", str(tmp_path / "w")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert f.read_text() == "root:x:0:0"
