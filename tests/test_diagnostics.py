"""Every diagnostic code has a bad example in examples/errors/ whose full output is a golden file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from archdsl import errorcodes

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "errors").glob("*.arch"))
# Codes no spec can produce, and why.
UNREACHABLE = {"E401": "raised by report --verify when archdsl and fvcore disagree, which the zoo tests rule out"}
LOCATION = re.compile(r"^(\S+):(\d+):(\d+): (error|warning)\[([EW]\d{3})\]: .+$")


def _args(path: Path) -> list[str]:
    first = path.read_text().splitlines()[0]
    return first.removeprefix("# args:").split() if first.startswith("# args:") else []


def run_check(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    relative = str(path.relative_to(ROOT))
    return subprocess.run([sys.executable, "-m", "archdsl", "check", relative, *_args(path), *extra], cwd=ROOT,
                          capture_output=True, text=True)


def test_every_code_has_an_example() -> None:
    shown = {p.name[:4] for p in EXAMPLES if re.match(r"[EW]\d{3}_", p.name)}
    assert shown | set(UNREACHABLE) == {code.id for code in errorcodes.ALL}
    assert not shown & set(UNREACHABLE)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_output_equals_the_golden_file(path: Path, golden: Callable[[Path, str], None]) -> None:
    run = run_check(path)
    text = run.stderr + run.stdout + f"exit: {run.returncode}\n"
    golden(path.with_suffix(".expected"), text)
    assert "Traceback" not in text
    code = path.name[:4]
    if code[0] in "EW":
        severity = "error" if code[0] == "E" else "warning"
        assert f"{severity}[{code}]" in text
        assert run.returncode == (0 if severity == "warning" else 2 if code == "E110" else 1)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_each_located_diagnostic_shows_the_line_and_a_caret(path: Path) -> None:
    lines = run_check(path).stderr.splitlines()
    for index, line in enumerate(lines):
        match = LOCATION.match(line)
        if not match:
            continue
        line_number, column = int(match.group(2)), int(match.group(3))
        source = lines[index + 1]
        caret = lines[index + 2]
        assert source.startswith(f"{line_number} | ")
        gutter = len(str(line_number)) + 3
        assert caret[gutter + column - 1] == "^", (line, caret)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_json_carries_the_same_diagnostics(path: Path) -> None:
    text = run_check(path).stderr
    shown = [(m.group(5), int(m.group(2)), int(m.group(3))) for m in map(LOCATION.match, text.splitlines()) if m]
    data = json.loads(run_check(path, "--format", "json").stdout)
    listed = [(d["code"], d["line"], d["column"]) for d in data["diagnostics"] if d["line"] is not None]
    assert listed == shown


def test_one_run_reports_every_error_of_a_file() -> None:
    run = run_check(ROOT / "examples" / "errors" / "many_errors.arch")
    codes = re.findall(r"error\[(E\d+)\]", run.stderr)
    assert codes == ["E202", "E101", "E103", "E206"]
    assert "4 errors" in run.stderr
