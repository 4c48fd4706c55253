"""Spec expressions and values as Python source text.

Values print with ``repr`` of plain Python types only, and names are checked to be
identifiers, so no text from a spec can reach the emitted code unquoted.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable

from archdsl import syntax as ast
from archdsl.tensor import TensorType
from archdsl.values import FUNCTIONS, Value

# Python binding strength of each operator, loosest first.
_PRECEDENCE = {"if": 1, "or": 2, "and": 3, "not": 4, "==": 5, "!=": 5, "<": 5, "<=": 5, ">": 5, ">=": 5,
               "+": 6, "-": 6, "*": 7, "/": 7, "//": 7, "%": 7, "unary": 8, "**": 9}
ATOM = 10
# Names the emitted code uses itself; a spec name equal to one of these gets a trailing underscore.
RESERVED = frozenset({"self", "nn", "torch", "F", "x", "super", "in_channels", "identity", "features", "layer",
                      "None", "True", "False", *FUNCTIONS})


class Untranslatable(Exception):
    """The expression uses something the emitted code has no name for (a loop variable, ``in.h``)."""


def identifier(name: str) -> str:
    """A spec name as a safe Python identifier."""
    if not name.isidentifier():
        raise ValueError(f"not an identifier: {name!r}")
    return f"{name}_" if keyword.iskeyword(name) or name in RESERVED else name


def literal(value: Value | None) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float, str)):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, TensorType):
        return literal(value.shape)
    raise TypeError(f"cannot write {value!r} as Python")


def to_python(expr: ast.Expr, names: Callable[[str], str], channels: str | None) -> tuple[str, int]:
    """Python text of ``expr`` and its precedence; ``names`` maps spec names, ``channels`` is ``in.c``."""

    def wrap(e: ast.Expr, minimum: int) -> str:
        text, precedence = go(e)
        return f"({text})" if precedence < minimum else text

    def go(e: ast.Expr) -> tuple[str, int]:
        match e:
            case ast.Literal(value=value):
                return literal(value), ATOM
            case ast.Name(id=name):
                return names(name), ATOM
            case ast.Attribute(value=ast.InputRef(), attr="c"):
                if channels is None:
                    raise Untranslatable("in.c")
                return channels, ATOM
            case ast.Sequence(items=items):
                return literal(()) if not items else "(" + ", ".join(wrap(i, 2) for i in items) + (
                    ",)" if len(items) == 1 else ")"), ATOM
            case ast.Unary(op="not", operand=operand):
                return f"not {wrap(operand, 4)}", 4
            case ast.Unary(op=op, operand=operand):
                return f"{op}{wrap(operand, 8)}", 8
            case ast.Binary(op="**", left=left, right=right):
                return f"{wrap(left, 10)} ** {wrap(right, 8)}", 9
            case ast.Binary(op=op, left=left, right=right):
                p = _PRECEDENCE[op]
                return f"{wrap(left, p)} {op} {wrap(right, p + 1)}", p
            case ast.Conditional(then=then, cond=cond, orelse=orelse):
                return f"{wrap(then, 2)} if {wrap(cond, 2)} else {wrap(orelse, 1)}", 1
            case ast.FunctionCall(func=func, args=args):
                return f"{func}(" + ", ".join(wrap(a, 2) for a in args) + ")", ATOM
            case ast.Index(value=value, index=index):
                return f"{wrap(value, ATOM)}[{wrap(index, 1)}]", ATOM
        raise Untranslatable(type(e).__name__)

    return go(expr)
