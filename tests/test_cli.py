"""The command line: selection, parameters, formats and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def archdsl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archdsl", *args], cwd=ROOT, capture_output=True, text=True)


def test_check_a_folder_reports_every_network() -> None:
    run = archdsl("check", "specs")
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == len(list((ROOT / "specs").glob("*.arch")))
    assert "resnet50: [3, 224, 224] -> [1000] (3 warnings)" in run.stdout


def test_network_selection_and_did_you_mean() -> None:
    run = archdsl("check", "tests/specs/kitchen_sink.arch", "-n", "signal")
    assert run.returncode == 0 and run.stdout == "signal: [1, 400] -> [4] (3 warnings)\n"
    wrong = archdsl("check", "tests/specs/kitchen_sink.arch", "-n", "signl")
    assert wrong.returncode == 2
    assert "error[E110]: no network named `signl`" in wrong.stderr and "did you mean `signal`?" in wrong.stderr


def test_set_changes_parameters_and_rejects_mistakes() -> None:
    run = archdsl("check", "specs/resnet18.arch", "--set", "classes=10")
    assert run.stdout.startswith("resnet18: [3, 224, 224] -> [10]")
    for bad, message in [("classes=", "--set classes:"), ("classes", "--set takes NAME=VALUE"),
                         ("clases=10", "did you mean `classes`?"), ("classes=1/0", "division by zero")]:
        run = archdsl("check", "specs/resnet18.arch", "--set", bad)
        assert run.returncode == 2, (bad, run.stderr)
        assert message in run.stderr, (bad, run.stderr)


def test_json_output() -> None:
    run = archdsl("check", "specs/resnet50.arch", "examples/tutorial/too_deep.arch", "--format", "json")
    assert run.returncode == 1
    data = json.loads(run.stdout)
    assert data["ok"] is False
    assert [n["name"] for n in data["networks"]] == ["resnet50"]
    assert data["networks"][0]["output"] == [1000] and data["networks"][0]["args"] == {"classes": 1000}
    error = next(d for d in data["diagnostics"] if d["severity"] == "error")
    assert (error["code"], error["line"], error["column"]) == ("E201", 16, 9)
    assert set(error) == {"file", "line", "column", "end_line", "end_column", "severity", "code", "message", "help",
                          "trace"}


def test_list_text_and_json() -> None:
    text = archdsl("list", "specs", "examples/tiny_cnn.arch")
    assert text.returncode == 0
    assert "densenet121(classes=1000, growth=32, bn_size=4)  specs/densenet121.arch:4" in text.stdout
    rows = json.loads(archdsl("list", "specs", "--format", "json").stdout)
    assert {r["name"] for r in rows} == {p.stem for p in (ROOT / "specs").glob("*.arch")}
    assert all(set(r) == {"name", "file", "line", "params"} for r in rows)


def test_usage_errors_exit_2() -> None:
    assert archdsl("check").returncode == 2
    assert archdsl("check", "nowhere.arch").returncode == 2
    assert archdsl("frobnicate").returncode == 2
    assert archdsl("report", "specs/resnet18.arch", "--input", "3,x").returncode == 2
    version = archdsl("--version")
    assert version.returncode == 0 and version.stdout.startswith("archdsl ")


def test_build_writes_everything_and_says_where(tmp_path: Path) -> None:
    run = archdsl("build", "examples/tiny_cnn.arch", "-o", str(tmp_path))
    assert run.returncode == 0, run.stderr
    for suffix in (".py", ".md", ".svg" if "svg" in run.stdout else ".dot"):
        assert (tmp_path / f"tiny_cnn{suffix}").exists()
        assert f"tiny_cnn{suffix}" in run.stdout
