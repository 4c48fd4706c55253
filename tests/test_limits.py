"""Hostile input gets a clear error: never a hang, a RecursionError, a MemoryError or a traceback.

Every case runs the real command in a subprocess; a hang ends in the subprocess timeout.
How fast inputs like these are refused is measured by benchmarks/fuzz.py (CPU time per
hostile input), never asserted here: the machine is shared.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import archdsl
from archdsl.diagnostics import render_text
from archdsl.elaboration import blocks, elaborate

ROOT = Path(__file__).resolve().parent.parent
NETWORK = "network n { input [3, 8, 8]; "


def _chain_of_blocks(depth: int) -> str:
    """``depth`` distinct blocks, each calling the next: b0 calls b1 calls b2 ..."""
    lines = [f"block b{i} {{ b{i + 1} }}" for i in range(depth)]
    return "\n".join([NETWORK + "b0 }", *lines, f"block b{depth} {{ relu }}"]) + "\n"


LIMITS = {
    "self_recursion": ("block a { relu; a }\n" + NETWORK + "a }\n",
                       "error[E107]: block `a` calls itself: a -> a"),
    "mutual_recursion": ("block a(x) { b(x) }\nblock b(x) { a(x) }\n" + NETWORK + "a(1) }\n",
                         "error[E107]: block `a` calls itself: a -> b -> a"),
    "repeat_a_billion": (NETWORK + "repeat(10**9) { relu } }\n",
                         "error[E004]: repeat(1000000000) is more than the limit of 10000"),
    "for_over_a_billion": (NETWORK + "for i in range(10**9) { relu } }\n",
                           "error[E004]: range of 1000000000 items; the limit is 10000"),
    "nested_repeats": (NETWORK + "repeat(10000) { repeat(10000) { relu } } }\n",
                       "error[E004]: this makes at least 100000000 layers; a network may have 100000"),
    "nested_repeats_by_parameter": ("network n(k=10000) { input [3, 8, 8]; repeat(k) { repeat(k) { relu } } }\n",
                                    "error[E004]: this makes at least 100000000 layers; a network may have 100000"),
    "blocks_doubling_30_levels": ("".join(f"block b{i} {{ b{i - 1}; b{i - 1} }}\n" for i in range(1, 30))
                                  + "block b0 { conv(3, 3, p=1) }\n" + NETWORK + "b29 }\n",
                                  "error[E004]: this makes at least 536870912 layers; a network may have 100000"),
    "huge_power": (NETWORK + "conv(10**10**10, 1) }\n", "error[E004]: integer is too large"),
    "parentheses_10000_deep": (NETWORK + "conv(" + "(" * 10_000 + "1" + ")" * 10_000 + ", 1) }\n",
                               "error[E004]: brackets nest more than 100 deep"),
    "braces_10000_deep": (NETWORK + "seq { " * 10_000 + "relu" + " }" * 10_000 + " }\n",
                          "error[E004]: brackets nest more than 100 deep"),
    "sum_of_1000_terms": (NETWORK + "conv(" + "+".join(["1"] * 1_000) + ", 1) }\n",
                          "error[E004]: expression nests more than 200 deep"),
    "1000_unary_minuses": (NETWORK + "conv(" + "-" * 1_000 + "1, 1) }\n",
                           "error[E004]: expression nests more than 200 deep"),
    "sum_of_100000_terms": (NETWORK + "conv(" + "+".join(["1"] * 100_000) + ", 1) }\n",
                            "error[E004]: the file is longer than 100000 tokens"),
    "block_calls_10000_deep": (_chain_of_blocks(10_000), "error[E004]: blocks nest more than 64 deep"),
    "dense_file_under_1_mb": ("network n {\n    input [3, 8, 8]\n" + "    relu\n" * 100_000 + "}\n",
                              "error[E004]: the file is longer than 100000 tokens"),
    "ten_megabytes": ("# " + "x" * 10_000_000 + "\n", "is 10.0 MB; the limit is 1.0 MB"),
}


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def _archdsl(*args: str | Path) -> Run:
    run = subprocess.run([sys.executable, "-m", "archdsl", *map(str, args)], capture_output=True, text=True,
                         timeout=120)
    return Run(run.returncode, run.stdout, run.stderr)


def _assert_no_crash(run: Run) -> None:
    output = run.stdout + run.stderr
    for crash in ("Traceback", "RecursionError", "MemoryError", "nests too deeply to process"):
        assert crash not in output, output[-3000:]


@pytest.mark.parametrize("name", list(LIMITS))
def test_a_limit_gives_a_clear_error(name: str, tmp_path: Path) -> None:
    text, message = LIMITS[name]
    spec = tmp_path / f"{name}.arch"
    spec.write_text(text)
    run = _archdsl("check", spec)
    _assert_no_crash(run)
    assert run.code == 1, run.stderr[-3000:]
    assert message in run.stderr, run.stderr[-3000:]


def test_layers_the_text_does_not_fix_are_counted_as_they_are_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block's parameter hides the count from the text: the elaborator stops at the limit, where it is crossed."""
    for counting in (elaborate, blocks):  # a layer made, and a block's body made again
        monkeypatch.setattr(counting, "MAX_LAYERS", 1_000)
    spec = "block b(k) { repeat(k) { relu } }\n" + NETWORK + "repeat(20) { b(100) } }\n"
    result = archdsl.check(source=spec)
    assert render_text(result.diagnostics, result.sources).splitlines() == [
        "<string>:1:26: error[E004]: the network has more than 1000 layers",
        "1 | block b(k) { repeat(k) { relu } }",
        "  |                          ^~~~",
        "  note: in block `b` called at <string>:2:43"]


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    spec = tmp_path / "latin1.arch"
    spec.write_bytes(b"network n { input [3, 8, 8] } # \xff\xfe\n")
    run = _archdsl("check", spec)
    _assert_no_crash(run)
    assert run.code == 1
    assert "error[E002]: cannot read" in run.stderr and "help: save the file as UTF-8" in run.stderr


@pytest.mark.parametrize(("target", "reason"), [(".", "it is a folder, not a regular file"),
                                                  ("gone.arch", "No such file or directory")])
def test_an_import_that_is_not_a_file(tmp_path: Path, target: str, reason: str) -> None:
    spec = tmp_path / "importer.arch"
    spec.write_text(f'import "{target}"\nnetwork n {{ input [3, 8, 8] }}\n')
    run = _archdsl("check", spec)
    _assert_no_crash(run)
    assert run.code == 1
    assert f"importer.arch:1:1: error[E002]: cannot read {tmp_path / target}: {reason}" in run.stderr


def test_an_import_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.arch").write_text('import "b.arch"\nnetwork n { input [3, 8, 8]; relu }\n')
    (tmp_path / "b.arch").write_text('import "a.arch"\n')
    run = _archdsl("check", tmp_path / "a.arch")
    assert run.code == 1 and "error[E003]: import cycle" in run.stderr


@pytest.mark.parametrize("text", ["", "\n\n# only a comment\n"])
def test_a_file_without_networks_is_not_an_error(tmp_path: Path, text: str) -> None:
    spec = tmp_path / "empty.arch"
    spec.write_text(text)
    run = _archdsl("check", spec)
    assert (run.code, run.stdout, run.stderr) == (0, "no networks found\n", "")


def test_check_does_not_import_torch() -> None:
    code = ("import sys, archdsl.cli; code = archdsl.cli.main(['check', 'specs/resnet50.arch', 'specs/lenet5.arch']);"
            "print(code, 'torch' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.stdout.splitlines()[-1] == "0 False", run.stderr


BANNED_CALLS = frozenset({"eval", "exec", "compile", "__import__"})
BANNED_MODULES = frozenset({"pickle", "marshal", "shelve", "dill"})


def _dangerous(tree: ast.AST) -> list[str]:
    """Calls that run code or unpickle data, and yaml loads other than safe_load."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in BANNED_CALLS:
                found.append(f"{func.id}()")
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                if func.value.id == "yaml" and func.attr != "safe_load" and "load" in func.attr:
                    found.append(f"yaml.{func.attr}()")
                if func.value.id == "builtins" and func.attr in BANNED_CALLS:
                    found.append(f"builtins.{func.attr}()")
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in BANNED_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in BANNED_MODULES:
            found.append(f"from {node.module} import")
    return found


def test_the_static_scan_finds_what_it_looks_for() -> None:
    sample = "import pickle\nfrom marshal import loads\neval(x)\nexec(y)\nyaml.load(s)\nyaml.safe_load(s)\nm.eval()\n"
    assert _dangerous(ast.parse(sample)) == ["import pickle", "from marshal import", "eval()", "exec()",
                                             "yaml.load()"]


def test_nothing_from_a_spec_reaches_eval_exec_or_unpickling() -> None:
    """The one pickle is the prelude's own tree, cached by archdsl and read by an unpickler that builds syntax
    nodes and nothing else (tests/test_prelude_cache.py plants one that would run a command)."""
    sources = sorted((ROOT / "archdsl").rglob("*.py"))
    assert sources
    found = {str(p.relative_to(ROOT)): hits for p in sources if (hits := _dangerous(ast.parse(p.read_text())))}
    assert found == {"archdsl/front/prelude_cache.py": ["import pickle"]}
