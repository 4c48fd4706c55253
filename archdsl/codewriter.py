"""A small writer for generated Python: lines, indentation, nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class CodeWriter:
    def __init__(self, indent: str = "    ") -> None:
        self.lines: list[str] = []
        self.level = 0
        self.unit = indent

    def line(self, text: str = "") -> None:
        self.lines.append(f"{self.unit * self.level}{text}" if text else "")

    def blank(self, count: int = 1) -> None:
        """Blank lines, never more than ``count`` in a row."""
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        self.lines.extend([""] * count)

    @contextmanager
    def indent(self) -> Iterator[None]:
        self.level += 1
        try:
            yield
        finally:
            self.level -= 1

    def text(self) -> str:
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines) + "\n"
