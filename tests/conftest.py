"""Shared test options: golden files are compared, and rewritten only with --update-goldens, never silently."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

REWRITTEN = pytest.StashKey[list[Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files with today's output")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[REWRITTEN] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Every golden file --update-goldens changed is listed, so a rewrite is always seen and reviewed."""
    rewritten = config.stash.get(REWRITTEN, [])
    if rewritten:
        terminalreporter.section("golden files rewritten: review them with git diff")
        for path in rewritten:
            terminalreporter.write_line(str(path))


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[Path, str], None]:
    """``golden(path, text)``: asserts ``text`` equals the file, or rewrites it under --update-goldens."""
    config = request.config

    def compare(path: Path, text: str) -> None:
        old = path.read_text() if path.exists() else None
        if config.getoption("--update-goldens"):
            if text != old:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
                config.stash[REWRITTEN].append(path)
            return
        assert old is not None, f"{path} is missing: run pytest --update-goldens and review the new file"
        assert text == old, f"{path} differs: run pytest --update-goldens if the change is intended"

    return compare
