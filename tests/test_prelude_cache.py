"""The prelude's syntax tree and Lark's tables cached between processes (issue 12, item 1): read back equal, keyed
by the text, and never a way to run code or to read a file someone else could have written."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from archdsl.front import parser, prelude_cache
from archdsl.front.loader import PRELUDE
from archdsl.front.parser import parse

PRELUDE_TEXT = (Path(prelude_cache.__file__).parent / "prelude.arch").read_text(encoding="utf-8")


def _blocked(tmp_path: Path, name: str) -> Path:
    """A path under which no folder can be made: a file's."""
    blocked = tmp_path / name
    blocked.write_text("")
    return blocked


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cache folder, and no temporary folder to fall back on where it cannot be used."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", str(_blocked(tmp_path, "no temporary folder")))
    return tmp_path / "archdsl"


def _parsed(calls: list[str]) -> prelude_cache.ast.Module | None:
    calls.append("parse")
    module, errors = parse(PRELUDE_TEXT, PRELUDE)
    assert not errors
    return module


def test_the_tree_read_back_equals_the_parsed_one_and_skips_the_parse(cache_home: Path) -> None:
    calls: list[str] = []
    first = prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls))
    second = prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls))
    assert calls == ["parse"] and second == first and second is not first
    (written,) = cache_home.glob("prelude-*")
    assert oct(cache_home.stat().st_mode & 0o777) == "0o700" and oct(written.stat().st_mode & 0o777) == "0o600"


def test_another_text_has_another_file(cache_home: Path) -> None:
    calls: list[str] = []
    prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls))
    edited = PRELUDE_TEXT + "\n# edited\n"
    prelude_cache.cached(edited, lambda: _parsed(calls))
    assert calls == ["parse", "parse"] and len(list(cache_home.glob("prelude-*"))) == 2


@pytest.mark.parametrize("maker", ["to_ast.py", "grammar.lark", "parser.py", "syntax.py"])
def test_an_edited_parser_has_another_file(cache_home: Path, tmp_path: Path, maker: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Another release may build another tree from the same prelude: whatever makes the tree is in the name."""
    calls: list[str] = []
    prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls))
    edited = [tmp_path / path.name for path in prelude_cache._MAKERS]
    for copy, path in zip(edited, prelude_cache._MAKERS, strict=True):
        copy.write_bytes(path.read_bytes() + (b"\n# edited\n" if path.name == maker else b""))
    monkeypatch.setattr(prelude_cache, "_MAKERS", tuple(edited))
    prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls))
    assert calls == ["parse", "parse"] and len(list(cache_home.glob("prelude-*"))) == 2


def _plant(cache_home: Path, data: bytes) -> Path:
    calls: list[str] = []
    prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls))
    (path,) = cache_home.glob("prelude-*")
    path.write_bytes(data)
    return path


class _Runs:
    """Unpickled, it would run a command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return os.system, (f"touch {self.marker}",)


def test_a_planted_file_that_would_run_code_is_parsed_over(cache_home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    _plant(cache_home, pickle.dumps(_Runs(marker)))
    calls: list[str] = []
    module = prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls))
    assert not marker.exists() and calls == ["parse"] and module is not None


@pytest.mark.parametrize("data", [b"", b"not a pickle", pickle.dumps(("a", 1)), pickle.dumps(Path("x"))])
def test_a_broken_or_foreign_file_is_parsed_over(cache_home: Path, data: bytes) -> None:
    _plant(cache_home, data)
    calls: list[str] = []
    assert prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls)) is not None and calls == ["parse"]


@pytest.mark.parametrize("writable", ["folder", "file"])
def test_a_cache_others_may_write_is_not_read(cache_home: Path, writable: str) -> None:
    calls: list[str] = []
    prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls))
    (path,) = cache_home.glob("prelude-*")
    (cache_home if writable == "folder" else path).chmod(0o777 if writable == "folder" else 0o666)
    prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls))
    assert calls == ["parse", "parse"]


def test_without_a_home_cache_a_private_folder_in_the_temporary_one_serves(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(_blocked(tmp_path, "a file")))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    calls: list[str] = []
    prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls))
    assert prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls)) is not None and calls == ["parse"]
    own = tmp_path / f"archdsl-{os.getuid()}"
    assert oct(own.stat().st_mode & 0o777) == "0o700" and len(list(own.glob("prelude-*"))) == 1


def test_a_folder_of_that_name_others_may_write_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its name can be computed, so someone else may have made it first."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(_blocked(tmp_path, "a file")))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    planted = tmp_path / f"archdsl-{os.getuid()}"
    planted.mkdir()
    planted.chmod(0o777)
    calls: list[str] = []
    prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls))
    prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls))
    assert calls == ["parse", "parse"] and list(planted.iterdir()) == []
    assert parser._tables_file("start: \"a\"\n") is False


def test_no_cache_folder_is_no_cache_and_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(_blocked(tmp_path, "a file")))
    monkeypatch.setattr("tempfile.tempdir", str(_blocked(tmp_path, "another file")))
    calls: list[str] = []
    assert prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls)) is not None
    assert prelude_cache.cached(PRELUDE_TEXT, lambda: _parsed(calls)) is not None and calls == ["parse", "parse"]


SPEC = Path(__file__).resolve().parent.parent / "specs" / "resnet18.arch"


def _check_in_a_process(cache: Path, temporary: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "TMPDIR": str(temporary)}
    run = subprocess.run([sys.executable, "-m", "archdsl", "check", str(SPEC)], env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0 and run.stdout == "resnet18: [3, 224, 224] -> [1000]\n", run.stderr


def test_a_check_in_a_fresh_process_reads_the_cache(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    files = []
    for _ in range(2):
        _check_in_a_process(tmp_path, temporary)
        files.append(sorted((path.name, path.stat().st_ino) for path in (tmp_path / "archdsl").iterdir()))
    # written by the first, read (not written again) by the second: the prelude's tree and Lark's tables
    assert files[0] == files[1] and [name.split("-")[0] for name, _ in files[0]] == ["lark", "prelude"]
    assert list(temporary.iterdir()) == []


def test_lark_s_default_cache_in_the_shared_temporary_folder_is_never_read(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Lark's own cache is a pickle in the temporary folder under a name anyone can compute: planted there by
    another user, it would run their code in every check."""
    shared = tmp_path / "shared"
    shared.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(shared))
    monkeypatch.setattr(parser, "_tables_file", lambda grammar: True)  # Lark's default, as archdsl once asked
    parser._Parser()
    (default,) = shared.iterdir()
    marker = tmp_path / "ran"
    with default.open("rb") as handle:
        first_line = handle.readline()
    default.write_bytes(first_line + pickle.dumps(_Runs(marker)))
    _check_in_a_process(tmp_path / "cache", shared)
    assert not marker.exists()


@pytest.mark.parametrize("writable", ["folder", "file"])
def test_lark_s_tables_others_may_write_are_not_read(cache_home: Path, writable: str) -> None:
    grammar = "start: \"a\"\n"
    kept = parser._tables_file(grammar)
    assert isinstance(kept, str) and Path(kept).parent == cache_home
    Path(kept).write_bytes(b"")
    (cache_home if writable == "folder" else Path(kept)).chmod(0o777 if writable == "folder" else 0o666)
    assert parser._tables_file(grammar) is False
