"""The steps inside a combinator's body, and the rule that two shapes a combinator joins agree.

A body's `if`s and `for`s are flattened into the calls they stand for (``flatten``); a
`branch` or `shortcut` is a path of steps (``path``). In a template, shapes are
expressions: that two agree becomes a guard the class tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from msgspec.structs import replace

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.elaboration import control, tensors
from archdsl.elaboration.naming import Namespace, labels_in
from archdsl.elaboration.scope import Elaborating, Result, Scope, Type
from archdsl.front import syntax as ast
from archdsl.ir.expr import is_symbolic, op
from archdsl.ir.tensor import TensorType
from archdsl.ir.values import UNKNOWN, show
from archdsl.span import Span


def flatten(el: Elaborating, stmts: tuple[ast.Stmt, ...], scope: Scope) -> Iterator[tuple[ast.Call, Scope]]:
    """Each call of ``stmts`` with its scope, ``if``, ``for`` and ``repeat`` unrolled (symbolic ones assumed).

    For the combinators whose body is made of parts (a concat's branches, a residual's shortcut).
    """
    for stmt in stmts:
        if isinstance(stmt, ast.Input):
            el.error(codes.MISPLACED, "`input` may only be the first line of a network", stmt.span)
        elif isinstance(stmt, ast.If):
            yield from flatten(el, _taken(el, stmt, scope), scope)
        elif isinstance(stmt, ast.For):
            items = el.value(stmt.iterable, scope)
            if is_symbolic(items) and not isinstance(items, tuple):
                items = control.loop_items(el, items, stmt.iterable.span)
                if is_symbolic(items):
                    items = tuple(op("index", items, i) for i in range(el.assume(op("len", items), stmt.span)))
            if items is UNKNOWN:
                continue
            if not isinstance(items, tuple):
                el.error(codes.ARGUMENT_TYPE, f"`for` needs a list, tuple or range, got {show(items)}",
                          stmt.iterable.span, scope=scope)
                continue
            for item in items:
                names = control.unpacked(el, stmt.targets, item, stmt.iterable.span, scope)
                if names is None:
                    break
                yield from flatten(el, stmt.body, scope.bind(names))
        elif stmt.callee == "repeat" and stmt.body is not None and stmt.label is None:
            count = control.repeat_count(el, stmt, scope)
            for _ in range(el.assume(count, stmt.span) if is_symbolic(count) else count):
                yield from flatten(el, stmt.body, scope)
        else:
            yield stmt, scope


def _taken(el: Elaborating, stmt: ast.If, scope: Scope) -> tuple[ast.Stmt, ...]:
    for arm in stmt.arms:
        test = control.condition(el, arm.cond, scope)
        if test is UNKNOWN:
            return ()
        if el.assume(test, arm.cond.span) if is_symbolic(test) else test:
            return arm.body
    return stmt.orelse


def path(el: Elaborating, call: ast.Call, scope: Scope, t: Type) -> Result:
    """A `branch` or `shortcut`: transparent, or one indexed sub-module when named; ``branch(@x) { }`` starts
    at the labelled tensor ``@x``, ahead of that module."""
    values = el.arguments(call, scope, ["start"], ["…"])
    if call.body is None:
        el.error(codes.MISPLACED, f"`{call.callee}` needs a `{{ }}` body", call.span, scope=scope)
        return [], None
    if values is None:
        return [], None
    read: list[ir.Node] = []
    if "start" in values:
        read, t = tensors.reading(el, values["start"], call.args[0].span, call, scope, t)
        if t is None:
            return [], None
    if call.label is None:
        nodes, t_out = el.sequence(call.body, scope, t)
        return [*read, *nodes], t_out
    inner = replace(scope, namespace=Namespace(labels_in(call.body, indexed=True), indexed=True))
    nodes, t_out = el.sequence(call.body, inner, t)
    if t is None or t_out is None:
        return [], None
    return [*read, ir.Group("seq", el.name(call, scope, "seq"), tuple(nodes), t, t_out, call.span,
                            indexed=True)], t_out


def differ(a: TensorType, b: TensorType) -> Any:
    """Whether two types differ: a bool, or a condition where they are symbolic."""
    if a.rank != b.rank:
        return True
    if not is_symbolic((a.shape, b.shape)):
        return a != b
    differs: Any = False
    for x, y in zip(a.shape, b.shape, strict=True):
        differs = op("or", differs, op("!=", x, y))
    return differs


def shape_parts(t: TensorType) -> tuple[Any, ...]:
    """A type as message parts: ``[``, each size (an expression where symbolic), ``]``."""
    parts: list[Any] = ["["]
    for position, size in enumerate(t.shape):
        parts += [", "] * (position > 0) + [size]
    return (*parts, "]")


def agree(el: Elaborating, a: TensorType, b: TensorType, code: codes.Code, span: Span,
           words: Callable[[], tuple[Any, ...]]) -> bool:
    """Whether two types are equal; where that is a condition, it is required of the class."""
    differs = differ(a, b)
    if is_symbolic(differs):
        el.require(op("not", differs), code, words(), span)
        return True
    return not differs
