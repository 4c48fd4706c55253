"""Hostile input gets a clear error quickly: never a hang, a RecursionError, a MemoryError or a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _deep_blocks(depth: int) -> str:
    lines = ["network n { input [3, 8, 8]; b0 }"]
    lines += [f"block b{i} {{ b{i + 1} }}" for i in range(depth)]
    return "\n".join([*lines, f"block b{depth} {{ relu }}"]) + "\n"


CASES = {
    "mutual_recursion": ("block a(x) { b(x) }\nblock b(x) { a(x) }\nnetwork n { input [3, 8, 8]; a(1) }\n", "E107"),
    "self_recursion": ("block a { relu; a }\nnetwork n { input [3, 8, 8]; a }\n", "E107"),
    "huge_repeat": ("network n { input [3, 8, 8]; repeat(10**9) { relu } }\n", "E004"),
    "huge_range": ("network n { input [3, 8, 8]; for i in range(10**9) { relu } }\n", "E004"),
    "huge_power": ("network n { input [3, 8, 8]; conv(10**10**10, 1) }\n", "E004"),
    "deep_parentheses": ("network n { input [3, 8, 8]; conv(" + "(" * 10_000 + "1" + ")" * 10_000 + ", 1) }\n",
                         "E004"),
    "deep_braces": ("network n { input [3, 8, 8]; " + "seq { " * 10_000 + "relu" + " }" * 10_000 + " }\n", "E004"),
    "long_chain": ("network n { input [3, 8, 8]; conv(" + "+".join(["1"] * 100_000) + ", 1) }\n", "E004"),
    "deep_unary": ("network n { input [3, 8, 8]; conv(" + "-" * 100_000 + "1, 1) }\n", "E004"),
    "deep_block_calls": (_deep_blocks(10_000), "E004"),
    "ten_megabytes": ("# " + "x" * 10_000_000 + "\n", "E004"),
}


def _check(path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "archdsl", "check", str(path)], capture_output=True, text=True,
                         timeout=60)
    return run, time.perf_counter() - start


@pytest.mark.parametrize("name", sorted(CASES))
def test_limits_give_a_clear_error_quickly(name: str, tmp_path: Path) -> None:
    text, code = CASES[name]
    path = tmp_path / f"{name}.arch"
    path.write_text(text)
    run, seconds = _check(path)
    assert run.returncode == 1, run.stderr[-2000:]
    assert f"error[{code}]" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert seconds < 10, f"{name} took {seconds:.1f} s"


def test_files_that_are_not_text_or_not_files(tmp_path: Path) -> None:
    binary = tmp_path / "latin1.arch"
    binary.write_bytes(b"network n { input [3, 8, 8] } # \xff\xfe\n")
    run, _ = _check(binary)
    assert run.returncode == 1 and "error[E002]" in run.stderr and "save the file as UTF-8" in run.stderr
    folder_import = tmp_path / "folder.arch"
    folder_import.write_text('import "."\nnetwork n { input [3, 8, 8] }\n')
    run, _ = _check(folder_import)
    assert run.returncode == 1 and "error[E002]" in run.stderr
    empty = tmp_path / "empty.arch"
    empty.write_text("")
    run, _ = _check(empty)
    assert run.returncode == 0 and run.stdout == "no networks found\n"


def test_import_cycles_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.arch").write_text('import "b.arch"\nnetwork n { input [3, 8, 8]; relu }\n')
    (tmp_path / "b.arch").write_text('import "a.arch"\n')
    run, _ = _check(tmp_path / "a.arch")
    assert run.returncode == 1 and "error[E003]: import cycle" in run.stderr


def test_check_does_not_import_torch() -> None:
    code = ("import sys, archdsl.cli; code = archdsl.cli.main(['check', 'specs/resnet50.arch', 'specs/lenet5.arch']);"
            "print(code, 'torch' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.stdout.splitlines()[-1] == "0 False"


def test_nothing_from_a_spec_reaches_eval() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "archdsl").rglob("*.py"))
    assert not re.search(r"(?<![.\w])(eval|exec)\(|yaml\.load\(|pickle|__import__", source)
