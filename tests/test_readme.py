"""The README is true: its set-up commands, examples, console sessions and tables are what archdsl does today."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

import archdsl
from archdsl import errorcodes
from archdsl.front.loader import PRELUDE
from archdsl.front.parser import parse
from archdsl.ir.combinators import COMBINATORS
from archdsl.ir.layers import LAYERS
from archdsl.ir.values import FUNCTIONS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SPEC_ERROR = re.compile(r'^\S+:\d+:\d+: error\[|"severity": "error"', re.MULTILINE)


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


def section(title: str) -> str:
    """The README text under a ``##`` or ``###`` heading, up to the next such heading."""
    return re.split(r"\n#{2,3} ", README.split(f"# {title}\n", 1)[1], maxsplit=1)[0]


def test_exactly_two_set_up_commands_and_ci_runs_the_second() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", section("Set up"), flags=re.DOTALL)
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert "pip install -e . && archdsl build specs/" in commands[0]
    assert "pip install -e '.[test]' && pytest" in commands[1] and commands[1].endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()
    assert len(blocks("sh")) == 2


@pytest.mark.parametrize("index", range(len(blocks("arch"))))
def test_every_arch_example_checks(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clean, or exactly the codes of an ``<!-- expect: CODE, ... -->`` line right above the block."""
    before, text = blocks("arch")[index]
    expect = re.search(r"<!-- expect: ([\w, ]+) -->\n$", before)
    expected = re.findall(r"\w+", expect.group(1)) if expect else []
    monkeypatch.chdir(ROOT / "examples")  # imports in examples are relative to examples/
    result = archdsl.check(source=text)
    codes = [d.code.id for d in result.diagnostics]
    assert codes == expected, [d.message for d in result.diagnostics]
    if not any(d.is_error for d in result.diagnostics):
        assert len(result.networks) == len(re.findall(r"^network ", text, flags=re.MULTILINE))


def test_every_example_file_is_shown_in_full() -> None:
    shown = [text for _, text in blocks("arch")]
    for path in sorted((ROOT / "examples").glob("*.arch")):
        assert path.read_text() in shown, f"{path.name} is not shown in the README as it is"


def _sessions() -> list[tuple[str, str]]:
    sessions = []
    for _, block in blocks("console"):
        for part in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = part.partition("\n")
            sessions.append((command, output))
    return sessions


@pytest.mark.parametrize(("command", "expected"), _sessions(), ids=[c for c, _ in _sessions()])
def test_every_console_session_prints_what_is_shown(command: str, expected: str, tmp_path: Path) -> None:
    """Run from a copy of the repository root; standard error is shown before standard output."""
    for folder in ("examples", "specs"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    argv = shlex.split(command)
    assert argv[0] == "archdsl"
    run = subprocess.run([sys.executable, "-m", "archdsl", *argv[1:]], cwd=tmp_path, capture_output=True,
                         text=True)
    assert run.stderr + run.stdout == expected
    assert run.returncode == (1 if SPEC_ERROR.search(expected) else 0), "the exit codes are as documented"


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


def test_every_layer_is_listed_with_every_parameter_explained() -> None:
    rows = {m.group(1): m.group(2) or "" for m in re.finditer(r"^\| `(\w+)(?:\((.*?)\))?` \|", section("Layers"),
                                                             flags=re.MULTILINE)}
    glossary = section("Layers").split("What the parameters mean:", 1)[1]
    for name, kind in LAYERS.items():
        assert name in rows, f"layer {name} is missing"
        assert [part.split("=")[0] for part in rows[name].split(", ") if part] == [p.name for p in kind.params], name
        for param in kind.params:
            assert f"| `{param.name}` |" in glossary, f"parameter {param.name} of {name} is not explained"


def test_every_prelude_block_is_listed_and_used() -> None:
    text = resources.files("archdsl.front").joinpath("prelude.arch").read_text(encoding="utf-8")
    module, _ = parse(text, PRELUDE)
    assert module is not None
    examples = "".join(block for _, block in blocks("arch"))
    for definition in module.definitions:
        assert f"| `{definition.name}(" in section("The prelude"), definition.name
        assert re.search(rf"\b{definition.name}\b", examples), f"no example uses {definition.name}"


def test_every_combinator_and_function_has_an_example() -> None:
    examples = "".join(block for _, block in blocks("arch"))
    for name in COMBINATORS:
        assert re.search(rf"\b{name}\b(\(.*?\))? {{", examples), f"no example of {name}"
    for name in FUNCTIONS:
        assert re.search(rf"\b{name}\(", section("Expressions")), f"no example of {name}()"


def test_every_error_code_is_listed() -> None:
    for code in errorcodes.ALL:
        assert f"| {code.id} | {code.title} |" in section("Error codes"), code.id


def test_every_layer_example_checks_without_diagnostics() -> None:
    reference = _reference()
    assert set(reference.EXAMPLES) == set(LAYERS)
    for layer in reference.EXAMPLES:
        result = archdsl.check(source=reference.example_spec(layer))
        assert result.diagnostics == [], (layer, [d.message for d in result.diagnostics])


def test_zoo_diagrams_are_current() -> None:
    reference = _reference()
    for name in reference.ZOO:
        assert (ROOT / "docs" / "zoo" / f"{name}.dot").read_text() == reference.zoo_dot(name), name
        assert (ROOT / "docs" / "zoo" / f"{name}.svg").exists()


def test_every_linked_file_exists() -> None:
    prose = re.sub(r"^```.*?^```", "", README, flags=re.MULTILINE | re.DOTALL)  # `self.m[i](x)` is code
    for target in re.findall(r"\]\(([^)#]+)\)", prose) + re.findall(r'src="([^"]+)"', prose):
        if not target.startswith("http"):
            assert (ROOT / target).resolve().exists(), target
