"""Source positions: every AST node, IR node and diagnostic points back at the text."""

from __future__ import annotations

from msgspec import Struct


class Span(Struct, frozen=True):
    """A range of one source file; lines and columns count from 1, ``end_col`` is exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def text(self, source: str) -> str:
        """The spanned text of ``source``, lines joined by single spaces."""
        lines = source.splitlines()[self.line - 1:self.end_line]
        if not lines:
            return ""
        if len(lines) == 1:
            return lines[0][self.col - 1:self.end_col - 1]
        parts = [lines[0][self.col - 1:], *lines[1:-1], lines[-1][:self.end_col - 1]]
        return " ".join(p.strip() for p in parts)


class Frame(Struct, frozen=True):
    """One step of block expansion: ``block`` was called at ``call``."""

    block: str
    call: Span
