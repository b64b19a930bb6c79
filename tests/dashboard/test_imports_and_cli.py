"""Importing the dashboard does no work and pulls in no torch; the CLI starts Streamlit right."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import cli

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for p in (ROOT / "dashboard").rglob("*.py")
    if p.name != "__init__.py"
) + ["dashboard", "dashboard.views"]


@pytest.mark.slow
def test_every_module_imports_without_torch_and_without_work():
    # None in sys.modules makes `import torch` fail as if torch were not installed (the `make run`
    # environment), whether or not it is installed here; optional-dependency probes see it absent.
    code = (
        "import importlib, sys\n"
        "blocked = ('torch', 'transformers', 'datasets', 'accelerate')\n"
        "for name in blocked: sys.modules[name] = None\n"
        f"for m in {MODULES!r}: importlib.import_module(m)\n"
        "assert all(sys.modules[name] is None for name in blocked)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in blocked and sys.modules[m] is not None]\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), XSTILTS_STORE="/nonexistent/must-not-be-created")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not Path("/nonexistent/must-not-be-created").exists()


def test_modules_stay_well_under_500_lines():
    for p in (ROOT / "dashboard").rglob("*.py"):
        assert len(p.read_text().splitlines()) < 400, p


def test_cli_parses_and_builds_the_streamlit_command():
    args = cli.build_parser().parse_args(["--store", "/tmp/x", "--port", "8765"])
    assert (args.store, args.port) == ("/tmp/x", 8765)
    cmd = cli.streamlit_command(8765, "localhost")
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("dashboard/app.py")
    assert cmd[cmd.index("--server.port") + 1] == "8765" and "--server.headless" in cmd


def test_cli_refuses_a_file_as_store(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert cli.main(["--store", str(f)]) == 2
    assert "error:" in capsys.readouterr().err


def test_cli_help():
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
