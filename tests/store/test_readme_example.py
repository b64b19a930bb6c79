"""The README's worked example ("How the numbers are computed") is run and its printed output checked."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(text: str, marker: str) -> str:
    m = re.search(rf"<!-- worked-example:{marker} -->\n```\w+\n(.*?)\n```", text, re.S)
    assert m, f"README has no worked-example {marker} block"
    return m.group(1)


def test_the_worked_example_prints_what_the_readme_says(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    code, expected = _block(text, "code"), _block(text, "output")
    monkeypatch.chdir(tmp_path)  # the example writes ./example-store
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README worked example", "exec"), {"__name__": "readme_example"})
    assert out.getvalue().rstrip("\n") == expected
    # and the arithmetic the README spells out below the output
    assert "2.914" in expected and "row-pooled (not used): 3.473" in expected
    assert (1 + 0.45 - 0.5 / 7 + 4.45) / 2 == pytest.approx(2.914, abs=5e-4)
    assert (7 * (1 + 0.45 - 0.5 / 7) + 15 * 4.45) / 22 == pytest.approx(3.473, abs=5e-4)
