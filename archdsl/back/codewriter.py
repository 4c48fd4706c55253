"""A small writer for generated Python: lines, indentation and docstrings, nothing else.

Text that may come from a spec (condition texts, parameter values, file names) enters
the emitted file only through ``docstring``, which escapes it so that it stays inside
the string literal whatever it holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


def docstring_body(text: str) -> str:
    """``text`` escaped to stand between triple double quotes and read back unchanged.

    Backslashes, every double quote that could join a run of three or end the literal,
    and characters that are not printable (line breaks other than ``\\n`` and NUL
    among them) are escaped.
    """
    out: list[str] = []
    for position, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif char == '"' and (position == len(text) - 1 or text[position + 1] == '"' or (out and out[-1] == '"')):
            out.append('\\"')
        elif char == "\n" or char.isprintable():
            out.append(char)
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    return "".join(out)


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

    def docstring(self, text: str) -> None:
        """A docstring at the current level: one line, or a summary line and a body."""
        first, *rest = docstring_body(text).split("\n")
        if not rest:
            self.line(f'"""{first}"""')
            return
        self.line(f'"""{first}')
        for line in rest:
            self.line(line)
        self.line('"""')

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
