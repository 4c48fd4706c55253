"""The command line: what to check, selection, parameters, formats and exit codes (0 clean, 1 errors, 2 usage)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.arch"))
KITCHEN_SINK = "tests/specs/kitchen_sink.arch"


def archdsl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archdsl", *args], cwd=ROOT, capture_output=True, text=True)


def test_check_one_file() -> None:
    run = archdsl("check", "specs/lenet5.arch")
    assert (run.returncode, run.stdout, run.stderr) == (0, "lenet5: [1, 32, 32] -> [10]\n", "")


def test_check_several_files_in_the_order_given() -> None:
    run = archdsl("check", "examples/warnings.arch", "specs/lenet5.arch")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "warnings: [3, 32, 32] -> [16, 10, 10] (4 warnings)\nlenet5: [1, 32, 32] -> [10]\n"
    assert run.stderr.count("warning[W301]") == 1


def test_check_a_folder_reports_every_network() -> None:
    run = archdsl("check", "specs")
    assert run.returncode == 0, run.stderr
    assert [line.split(":")[0] for line in run.stdout.splitlines()] == [p.stem for p in SPECS]
    assert "resnet152: [3, 224, 224] -> [1000]\n" in run.stdout
    assert run.stderr == "", "the zoo's stride-2 stems drop only padding: no W301"


def test_network_selection() -> None:
    run = archdsl("check", KITCHEN_SINK, "-n", "signal")
    assert (run.returncode, run.stdout) == (0, "signal: [1, 400] -> [4] (1 warning)\n")


def test_an_unknown_network_is_a_usage_error_with_a_suggestion() -> None:
    run = archdsl("check", "specs", "--network", "resnet5")
    assert (run.returncode, run.stdout) == (2, "")
    assert "error[E110]: no network named `resnet5`" in run.stderr and "did you mean `resnet50`?" in run.stderr


def test_set_changes_a_parameter() -> None:
    run = archdsl("check", "specs/resnet18.arch", "--set", "classes=10")
    assert run.returncode == 0
    assert run.stdout == "resnet18: [3, 224, 224] -> [10]\n"
    data = json.loads(archdsl("check", "specs/resnet18.arch", "--set", "classes=2*5", "--format", "json").stdout)
    assert data["networks"][0]["output"] == [10] and data["networks"][0]["args"] == {"classes": 10}


@pytest.mark.parametrize(("setting", "message"), [
    ("classes=", "--set classes:"),
    ("classes=(1,", "--set classes:"),
    ("classes", "--set takes NAME=VALUE"),
    ("classes=1/0", "division by zero"),
    ("clases=10", "did you mean `classes`?"),
    ("depth=3", "has no parameter `depth`"),
    ("classes=ten", "unknown name `ten`; a string is written in quotes: --set classes='\"ten\"'"),
])
def test_a_bad_set_is_a_usage_error(setting: str, message: str) -> None:
    run = archdsl("check", "specs/resnet18.arch", "--set", setting)
    assert (run.returncode, run.stdout) == (2, ""), run.stderr
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_json_output() -> None:
    run = archdsl("check", "specs/lenet5.arch", "specs/resnet50.arch", "examples/tutorial/too_deep.arch",
                  "examples/warnings.arch", "--format", "json")
    assert run.returncode == 1 and run.stderr == ""
    data = json.loads(run.stdout)
    assert set(data) == {"ok", "networks", "diagnostics"} and data["ok"] is False
    assert data["networks"][:2] == [
        {"name": "lenet5", "file": "specs/lenet5.arch", "input": [1, 32, 32], "output": [10], "args": {"classes": 10}},
        {"name": "resnet50", "file": "specs/resnet50.arch", "input": [3, 224, 224], "output": [1000],
         "args": {"classes": 1000}},
    ]
    assert all(n["file"] != "examples/tutorial/too_deep.arch" for n in data["networks"])
    severities = {d["severity"] for d in data["diagnostics"]}
    assert severities == {"error", "warning"}
    error = next(d for d in data["diagnostics"] if d["severity"] == "error")
    assert (error["file"], error["code"], error["line"], error["column"]) == \
        ("examples/tutorial/too_deep.arch", "E201", 16, 9)
    assert set(error) == {"file", "line", "column", "end_line", "end_column", "severity", "code", "message", "help",
                          "trace", "count"}


def test_exit_codes() -> None:
    assert archdsl("check", "specs/lenet5.arch").returncode == 0
    assert archdsl("check", "examples/warnings.arch").returncode == 0  # warnings only
    assert archdsl("check", "examples/tutorial/too_deep.arch").returncode == 1
    assert archdsl("check", "nowhere.arch").returncode == 2


@pytest.mark.parametrize("args", [
    ["check"],
    ["check", "specs", "--format", "xml"],
    ["check", "specs", "--bogus"],
    ["frobnicate"],
    [],
])
def test_argparse_usage_errors_exit_2(args: list[str]) -> None:
    run = archdsl(*args)
    assert run.returncode == 2 and "usage: archdsl" in run.stderr


def test_version() -> None:
    run = archdsl("--version")
    assert run.returncode == 0 and run.stdout.startswith("archdsl ")


def test_list_text() -> None:
    run = archdsl("list", "specs", KITCHEN_SINK)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == len(SPECS) + 3
    assert "densenet121(classes=1000, growth=32, bn_size=4)  specs/densenet121.arch:4" in lines
    assert lines[-3:] == [f"kitchen_sink(classes=10)  {KITCHEN_SINK}:7", f"signal(classes=4)  {KITCHEN_SINK}:37",
                          f"volume(classes=3)  {KITCHEN_SINK}:46"]


def test_list_json() -> None:
    rows = json.loads(archdsl("list", "specs", "--format", "json").stdout)
    assert [r["name"] for r in rows] == [p.stem for p in SPECS]
    assert all(set(r) == {"name", "file", "line", "params"} for r in rows)
    assert rows[0] == {"name": "alexnet", "file": "specs/alexnet.arch", "line": 4,
                       "params": {"classes": "1000", "dropout": "0.5"}}


def test_list_of_a_broken_file_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.arch"
    broken.write_text("network n( {\n")
    run = archdsl("list", str(broken))
    assert run.returncode == 1 and "error[E001]" in run.stderr


def test_a_closed_pipe_ends_quietly() -> None:
    """``archdsl check specs | head -1``: the reader is gone before anything is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        run = subprocess.run([sys.executable, "-m", "archdsl", "check", "specs", "--format", "json"], cwd=ROOT,
                             stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert run.stderr == "" and run.returncode == 141


def test_build_writes_everything_and_says_where(tmp_path: Path) -> None:
    run = archdsl("build", "examples/tiny_cnn.arch", "-o", str(tmp_path))
    assert run.returncode == 0, run.stderr
    for suffix in (".py", ".md", ".svg" if "svg" in run.stdout else ".dot"):
        assert (tmp_path / f"tiny_cnn{suffix}").exists()
        assert f"tiny_cnn{suffix}" in run.stdout


def test_every_command_makes_missing_folders_and_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    for command, target in [("compile", "a/b/model.py"), ("report", "c/report.md"), ("render", "d/e/net.dot"),
                            ("build", "f/g")]:
        run = archdsl(command, "specs/lenet5.arch", "-o", str(tmp_path / target))
        assert run.returncode == 0, run.stderr
    assert (tmp_path / "f" / "g" / "lenet5.py").is_file()
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    for command, target in [("build", blocker), ("compile", blocker / "model.py")]:
        run = archdsl(command, "specs/lenet5.arch", "-o", str(target))
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
        assert run.stderr.startswith("archdsl: error: ") and "blocker" in run.stderr
    assert blocker.read_text() == "not a folder"


def test_a_folder_without_specs_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("network n { input [3] }\n")
    run = archdsl("check", str(tmp_path))
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == f"archdsl: error: no .arch files in the folder {tmp_path}\n"


def test_report_to_a_file_says_what_it_wrote(tmp_path: Path) -> None:
    run = archdsl("report", "specs/lenet5.arch", "-o", str(tmp_path / "r.json"))
    assert run.returncode == 0 and run.stdout == f"lenet5: json report written to {tmp_path / 'r.json'}\n"
    assert json.loads((tmp_path / "r.json").read_text())["network"] == "lenet5"


@pytest.mark.parametrize("command", ["compile", "report", "render"])
def test_an_output_named_as_a_folder_is_refused_and_nothing_is_made(tmp_path: Path, command: str) -> None:
    """`-o out/` once wrote a file named `out` (render refuses it for its suffix)."""
    run = archdsl(command, "specs/lenet5.arch", "-o", f"{tmp_path / 'new'}/")
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("archdsl: error: ") and ("names a folder" in run.stderr or command == "render")
    assert list(tmp_path.iterdir()) == []


def test_networks_of_the_same_name_in_several_files_are_told_apart(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "t.arch").write_text("network t { input [3, 8, 8]; conv(4, 3, s=2) }\n")
    (tmp_path / "b" / "t.arch").write_text("network t { input [3, 16, 16]; relu }\n")
    run = archdsl("check", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"t in {tmp_path / 'a' / 't.arch'}: [3, 8, 8] -> [4, 3, 3] (1 warning)",
                                       f"t in {tmp_path / 'b' / 't.arch'}: [3, 16, 16] -> [3, 16, 16]"]


def test_allow_deny_and_max_params_on_every_command_that_checks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for command in (["check"], ["compile", "-o", str(out / "w.py")], ["report"], ["build", "-o", str(out)],
                    ["render", "-o", str(out / "w.dot")]):
        denied = archdsl(*command[:1], "examples/warnings.arch", *command[1:], "--deny", "warnings")
        assert denied.returncode == 1 and "error[W301]" in denied.stderr, command
        assert not out.exists(), "nothing is written on errors"
        allowed = archdsl(*command[:1], "examples/warnings.arch", *command[1:], "--allow", "W301", "--allow", "W302",
                          "--allow", "W303", "--allow", "W304")
        assert allowed.returncode == 0 and "warning" not in allowed.stderr, command
        small = archdsl(*command[:1], "specs/lenet5.arch", *command[1:], "--max-params", "50_000")
        assert small.returncode == 1 and "more than 50,000 parameters" in small.stderr, command
        shutil.rmtree(out, ignore_errors=True)
    wrong = archdsl("check", "specs/lenet5.arch", "--allow", "E201")
    assert wrong.returncode == 2 and "--allow takes warning codes" in wrong.stderr


def test_explain_prints_the_meaning_and_a_wrong_and_a_fixed_example() -> None:
    run = archdsl("explain", "e201")
    assert run.returncode == 0 and run.stdout.startswith("E201: an output size is below 1\n")
    assert "Wrong:" in run.stdout and "Fixed:" in run.stdout
    unknown = archdsl("explain", "E999")
    assert unknown.returncode == 2 and "no diagnostic code E999" in unknown.stderr


def test_layers_lists_everything_callable_and_describes_one() -> None:
    run = archdsl("layers")
    assert run.returncode == 0
    assert "conv(out, k, s=1, p=0, d=1, groups=1, bias=true)" in run.stdout
    assert "conv_bn_relu(out, k, s=1, p=half(k), groups=1, eps=1e-5)" in run.stdout and "residual {" in run.stdout
    one = archdsl("layers", "maxpool")
    assert one.returncode == 0 and "ceil  round the output size up (PyTorch's ceil_mode)" in one.stdout
    block = archdsl("layers", "bottleneck")
    assert "definition (in the prelude):" in block.stdout and "residual(shortcut=project) {" in block.stdout
    typo = archdsl("layers", "maxpol")
    assert typo.returncode == 2 and "did you mean `maxpool`?" in typo.stderr
