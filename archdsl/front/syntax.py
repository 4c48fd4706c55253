"""The abstract syntax tree: frozen dataclasses, every node with its span.

Nothing here knows about Lark; the parser builds these nodes and nothing else
sees a parse tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from archdsl.span import Span

# Expressions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    value: int | float | bool | str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class InputRef:
    """The keyword ``in``: the enclosing block's input tensor type."""

    span: Span


@dataclass(frozen=True, slots=True)
class TensorRef:
    """``@name``: the output of the step labelled ``name``, earlier in the definition."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Attribute:
    value: Expr
    attr: str
    span: Span


@dataclass(frozen=True, slots=True)
class Index:
    value: Expr
    index: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Sequence:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Conditional:
    then: Expr
    cond: Expr
    orelse: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class FunctionCall:
    func: str
    args: tuple[Expr, ...]
    span: Span


Expr = (Literal | Name | InputRef | TensorRef | Attribute | Index | Sequence | Unary | Binary | Conditional
        | FunctionCall)

# Statements -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Argument:
    """A call argument; ``name`` is None for a positional one."""

    name: str | None
    value: Expr
    span: Span
    quoted: bool = False  # the name was written as a string: `"0"=@p2` (only `output(...)` takes one)


@dataclass(frozen=True, slots=True)
class Call:
    """A layer, block or combinator; ``body`` is set for combinators such as ``residual { }``."""

    callee: str
    args: tuple[Argument, ...]
    body: tuple[Stmt, ...] | None
    span: Span
    callee_span: Span
    label: str | None = None
    label_span: Span | None = None

    def by_parameter(self, names: list[str]) -> Iterator[tuple[str, Argument]]:
        """Each argument with the parameter it is for: its keyword, or the name at its position in ``names``."""
        for position, arg in enumerate(self.args):
            name = arg.name or (names[position] if position < len(names) else None)
            if name is not None:
                yield name, arg


@dataclass(frozen=True, slots=True)
class For:
    targets: tuple[str, ...]
    iterable: Expr
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Arm:
    """One ``if cond { body }`` or ``else if cond { body }`` of an ``If``."""

    cond: Expr
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class If:
    """``if``, any number of ``else if``, an optional ``else``: a flat chain, however long."""

    arms: tuple[Arm, ...]
    orelse: tuple[Stmt, ...]
    span: Span

    def bodies(self) -> tuple[tuple[Stmt, ...], ...]:
        return (*(arm.body for arm in self.arms), self.orelse)


@dataclass(frozen=True, slots=True)
class Input:
    dims: tuple[Expr, ...]
    span: Span


Stmt = Call | For | If | Input

# Definitions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: Expr | None
    span: Span
    tensor: bool = False  # `@skip`: a tensor given beside the block's input, read inside as `@skip`


@dataclass(frozen=True, slots=True)
class Definition:
    """A ``block`` or a ``network``; they differ only in how they are used."""

    kind: str
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Import:
    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class Module:
    """One parsed file."""

    file: str
    imports: tuple[Import, ...]
    definitions: tuple[Definition, ...]
