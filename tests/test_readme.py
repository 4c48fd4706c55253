"""The README is true: its set-up commands, examples, console sessions and tables are what archdsl does today."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import archdsl

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference", ROOT / "docs" / "reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def blocks(language: str) -> list[tuple[str, str]]:
    """(text before the block, block) for every fenced block of ``language``."""
    found = []
    for match in re.finditer(rf"```{language}\n(.*?)```", README, flags=re.DOTALL):
        found.append((README[: match.start()], match.group(1)))
    return found


def test_exactly_two_set_up_commands_and_ci_runs_the_second() -> None:
    set_up = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", set_up, flags=re.DOTALL)
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert "archdsl build specs/" in commands[0] and commands[1].endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()
    assert len(blocks("sh")) == 2


@pytest.mark.parametrize("index", range(len(blocks("arch"))))
def test_every_arch_example_checks(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    before, text = blocks("arch")[index]
    expected = re.findall(r"<!-- expect: (\w+) -->\n$", before)
    monkeypatch.chdir(ROOT / "examples")  # imports in examples are relative to examples/
    result = archdsl.check(source=text)
    codes = [d.code.id for d in result.diagnostics]
    assert codes == expected, [d.message for d in result.diagnostics]


def test_the_tutorial_shows_the_shipped_example() -> None:
    assert blocks("arch")[0][1] == (ROOT / "examples" / "tiny_cnn.arch").read_text()


def _sessions() -> list[tuple[str, str]]:
    sessions = []
    for _, block in blocks("console"):
        for part in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = part.partition("\n")
            sessions.append((command, output))
    return sessions


@pytest.mark.parametrize(("command", "expected"), _sessions(), ids=[c for c, _ in _sessions()])
def test_every_console_session_prints_what_is_shown(command: str, expected: str, tmp_path: Path) -> None:
    for folder in ("examples", "specs"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    argv = shlex.split(command)
    assert argv[0] == "archdsl"
    run = subprocess.run([sys.executable, "-m", "archdsl", *argv[1:]], cwd=tmp_path, capture_output=True,
                         text=True)
    assert run.stderr + run.stdout == expected


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_every_python_example_runs_and_prints_what_its_comments_say(index: int, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    code = blocks("python")[index][1]
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    promised = re.findall(r"print\(.*\)  # (.*)$", code, flags=re.MULTILINE)
    assert run.stdout.splitlines() == promised


@pytest.mark.parametrize("name", ["layers", "prelude", "errors", "zoo"])
def test_generated_tables_are_current(name: str) -> None:
    assert _reference().section(name) in README, f"run python docs/reference.py: the {name} table is stale"


def test_every_layer_example_checks_without_diagnostics() -> None:
    reference = _reference()
    assert set(reference.EXAMPLES) == set(archdsl.layers.LAYERS)
    for layer in reference.EXAMPLES:
        result = archdsl.check(source=reference.example_spec(layer))
        assert result.diagnostics == [], (layer, [d.message for d in result.diagnostics])


def test_zoo_diagrams_are_current() -> None:
    reference = _reference()
    for name in reference.ZOO:
        assert (ROOT / "docs" / "zoo" / f"{name}.dot").read_text() == reference.zoo_dot(name), name
        assert (ROOT / "docs" / "zoo" / f"{name}.svg").exists()


def test_every_linked_file_exists() -> None:
    for target in re.findall(r"\]\(([^)#]+)\)", README) + re.findall(r'src="([^"]+)"', README):
        if not target.startswith("http"):
            assert (ROOT / target).resolve().exists(), target
