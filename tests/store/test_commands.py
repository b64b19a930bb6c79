"""The store's one generator of `runner run` commands: every command it emits parses with the
runner's own argument parser and names a pair the catalog knows (tests sit outside the layering
rule, so this one may import the runner)."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from runner.cli import _parser as runner_parser
from store.api import StoreReader, missing_commands
from store.catalog import StudyDesign, load_catalog, study_design
from store.commands import VARIANT_DATA, fill_script, run_argv, runner_command, with_store

CAT = load_catalog()


def parse_run(argv: list[str]):
    """``runner run`` arguments as the runner parses them; the pair and seed checked against the catalog."""
    assert argv[:2] == ["runner", "run"], argv
    args = runner_parser().parse_args(argv[1:])  # exits (SystemExit) on anything the runner would refuse
    assert args.command == "run"
    inter, target = args.pair.split(":")
    if inter != "none":
        CAT.parse_intermediate(inter)
    CAT.task(target, role="target")
    assert isinstance(args.seed, int)
    return args


def shell_commands(script: str) -> list[list[str]]:
    """Runs ``script`` in bash with ``runner`` and ``store`` as functions that print their argv."""
    prelude = ("runner() { printf '%s\\0' runner \"$@\"; printf '\\n\\0'; }\n"
               "store() { printf '%s\\0' store \"$@\"; printf '\\n\\0'; }\n")
    out = subprocess.run(["bash", "-c", prelude + script], capture_output=True, check=True, timeout=60).stdout
    tokens = out.decode().split("\0")[:-1]
    commands, cur = [], []
    for t in tokens:
        if t == "\n":
            commands.append(cur)
            cur = []
        else:
            cur.append(t)
    return commands


def test_study_design_comes_from_the_catalog():
    design = study_design()
    assert design.intermediates == tuple(CAT.intermediate_tasks()) and len(design.intermediates) == 9
    assert design.seeds == (1, 2, 3) and design.baseline == "none"


@pytest.mark.parametrize("variant", ["", *VARIANT_DATA])
def test_one_run_command_parses_with_the_runner(variant):
    cmd = runner_command("mnli+squad", "xnli", 2, "xlm-roberta-large", variant, store="/a b/store")
    args = parse_run(shlex.split(cmd))
    assert (args.pair, args.seed, args.model, args.store) == ("mnli+squad:xnli", 2, "xlm-roberta-large", "/a b/store")
    assert args.variant == (variant or None)
    if variant == "mlm":
        assert args.mlm_corpus == "CORPUS"
    if variant == "translated":
        assert args.translated_data == "TRANSLATED"


def test_every_missing_claims_command_parses_with_the_runner(tmp_path):
    with StoreReader.open(tmp_path / "store", create=True) as reader:  # published rows only: nearly every run is missing
        commands = missing_commands(reader.claims())
    assert len(commands) > 100 and any("--variant" in c for c in commands)
    for cmd in commands:
        parse_run(shlex.split(cmd))


@pytest.mark.parametrize("store", ["/data/my store", "hf://datasets/org/name"])
def test_every_command_of_the_fill_script_parses_with_the_runner(store):
    design = study_design()
    targets = ("xnli", "tydiqa")
    script = fill_script("xlm-roberta-large", targets, store, design)
    commands = shell_commands(script)
    runs = [c for c in commands if c[0] == "runner"]
    parsed = [parse_run(c) for c in runs]
    want = {(f"{i}:{t}", s) for t in targets for i in ("none", *design.intermediates) for s in design.seeds}
    assert {(a.pair, a.seed) for a in parsed} == want and len(parsed) == len(want)
    local = store if not store.startswith("hf://") else "PATH/TO/LOCAL/STORE"
    assert {a.store for a in parsed} == {local} and {a.model for a in parsed} == {"xlm-roberta-large"}
    pushes = [c for c in commands if c[0] == "store"]
    assert pushes == ([["store", "push", "--store", local, "--repo", "org/name"]] if store.startswith("hf://") else [])


def test_fill_script_quotes_what_the_user_typed():
    script = fill_script("m; rm -rf ~", ("xnli",), "/tmp/$(touch x)", StudyDesign(("mnli",), (7,)))
    [cmd] = [c for c in shell_commands(script) if c[0] == "runner"][:1]
    assert run_argv("none:xnli", 7, "m; rm -rf ~", store="/tmp/$(touch x)") == cmd


def test_no_store_flag_for_the_default_store():
    script = fill_script("m", ("xnli",), "/home/u/s", study_design(), default_store="/home/u/s")
    runs = [c for c in shell_commands(script) if c[0] == "runner"]
    assert runs and all(parse_run(c).store is None for c in runs)  # the runner's default store: where the page reads


def test_claims_commands_rewritten_to_write_into_the_store_parse():
    lines = "\n".join([runner_command("mnli", "xnli", 1, "m", "mlm"), "# a comment"])
    out = with_store(lines, "/data/my store", default_store="/home/u/s").splitlines()
    assert out[1] == "# a comment"
    args = parse_run(shlex.split(out[0]))
    assert (args.store, args.variant, args.mlm_corpus) == ("/data/my store", "mlm", "CORPUS")
    assert with_store(lines, "/home/u/s", default_store="/home/u/s") == lines
    assert parse_run(shlex.split(with_store(lines, "hf://datasets/o/n").splitlines()[0])).store == "PATH/TO/LOCAL/STORE"
