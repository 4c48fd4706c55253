"""The abstract syntax tree: frozen records (``msgspec.Struct``), every node with its span.

Nothing here knows about Lark; the parser builds these nodes and nothing else
sees a parse tree.
"""

from __future__ import annotations

from collections.abc import Iterator

from msgspec import Struct

from archdsl.span import Span

# Expressions ------------------------------------------------------------------


class Literal(Struct, frozen=True):
    value: int | float | bool | str | None
    span: Span


class Name(Struct, frozen=True):
    id: str
    span: Span


class InputRef(Struct, frozen=True):
    """The keyword ``in``: the enclosing block's input tensor type."""

    span: Span


class TensorRef(Struct, frozen=True):
    """``@name``: the output of the step labelled ``name``, earlier in the definition."""

    name: str
    span: Span


class Attribute(Struct, frozen=True):
    value: Expr
    attr: str
    span: Span


class Index(Struct, frozen=True):
    value: Expr
    index: Expr
    span: Span


class Sequence(Struct, frozen=True):
    items: tuple[Expr, ...]
    span: Span


class Unary(Struct, frozen=True):
    op: str
    operand: Expr
    span: Span


class Binary(Struct, frozen=True):
    op: str
    left: Expr
    right: Expr
    span: Span


class Conditional(Struct, frozen=True):
    then: Expr
    cond: Expr
    orelse: Expr
    span: Span


class FunctionCall(Struct, frozen=True):
    func: str
    args: tuple[Expr, ...]
    span: Span


Expr = (Literal | Name | InputRef | TensorRef | Attribute | Index | Sequence | Unary | Binary | Conditional
        | FunctionCall)

# Statements -------------------------------------------------------------------


class Argument(Struct, frozen=True):
    """A call argument; ``name`` is None for a positional one."""

    name: str | None
    value: Expr
    span: Span
    quoted: bool = False  # the name was written as a string: `"0"=@p2` (only `output(...)` takes one)


class Call(Struct, frozen=True):
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


class For(Struct, frozen=True):
    targets: tuple[str, ...]
    iterable: Expr
    body: tuple[Stmt, ...]
    span: Span


class Arm(Struct, frozen=True):
    """One ``if cond { body }`` or ``else if cond { body }`` of an ``If``."""

    cond: Expr
    body: tuple[Stmt, ...]


class If(Struct, frozen=True):
    """``if``, any number of ``else if``, an optional ``else``: a flat chain, however long."""

    arms: tuple[Arm, ...]
    orelse: tuple[Stmt, ...]
    span: Span

    def bodies(self) -> tuple[tuple[Stmt, ...], ...]:
        return (*(arm.body for arm in self.arms), self.orelse)


class Input(Struct, frozen=True):
    dims: tuple[Expr, ...]
    span: Span


Stmt = Call | For | If | Input

# Definitions ------------------------------------------------------------------


class Param(Struct, frozen=True):
    name: str
    default: Expr | None
    span: Span
    tensor: bool = False  # `@skip`: a tensor given beside the block's input, read inside as `@skip`


class Definition(Struct, frozen=True):
    """A ``block`` or a ``network``; they differ only in how they are used."""

    kind: str
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


class Import(Struct, frozen=True):
    path: str
    span: Span


class Module(Struct, frozen=True):
    """One parsed file."""

    file: str
    imports: tuple[Import, ...]
    definitions: tuple[Definition, ...]
