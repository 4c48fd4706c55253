"""Spec expressions to values: the language's interpreter, which never calls ``eval``.

Names are looked up in a scope whose values may be symbolic (``expr.Sym`` and what is
built from them): an operation on a known value computes it, an operation on a
symbolic one builds the expression instead, so one interpreter serves both the
checked network and the classes ``archdsl compile`` writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from archdsl import errorcodes as codes
from archdsl.diagnostics import did_you_mean
from archdsl.front import syntax as ast
from archdsl.ir.expr import is_symbolic, nonzero_divisor, op
from archdsl.ir.tensor import Named, TensorType
from archdsl.ir.values import (
    CONSTANTS,
    FUNCTIONS,
    UNKNOWN,
    EvalError,
    Problem,
    Value,
    _Unknown,
    contains_unknown,
    truth_of,
    type_name,
)
from archdsl.span import Span


def _tensor_attribute(tensor: TensorType, attr: str, span: Span) -> Any:
    axes = {name[0]: i + 1 for i, name in enumerate(tensor.axis_names)} if tensor.rank <= 3 else {}
    if tensor.rank == 1:
        axes = {"l": 1}
    if attr == "c":
        return tensor.channels
    if attr == "shape":
        return tensor.shape
    if attr == "spatial":
        return tensor.spatial
    if attr == "rank":
        return tensor.rank
    if attr in axes:
        return tensor.shape[axes[attr]]
    known = ["c", "shape", "spatial", "rank", *axes]
    hint = did_you_mean(attr, known) or f"a tensor of type {tensor} has " + ", ".join(f"`{k}`" for k in known)
    raise EvalError(codes.UNKNOWN_NAME, f"`in` has no `{attr}`", span, hint)


def truth(value: Any, span: Span) -> Any:
    """``value`` as a condition: a bool, or the symbolic condition itself."""
    if is_symbolic(value):
        return value
    try:
        return truth_of(value)
    except Problem as problem:
        raise EvalError.at(problem, span) from None


def _operate(name: str, args: tuple[Any, ...], span: Span) -> Any:
    try:
        return op(name, *args)
    except Problem as problem:
        raise EvalError.at(problem, span) from None


_UNARY = {"-": "neg", "+": "pos", "not": "not"}


def evaluate(expr: ast.Expr, scope: Mapping[str, Any], tensor: TensorType | _Unknown | None,
             require: Callable[[Any, tuple[Any, ...], Span], None] | None = None,
             named: Callable[[str, Span], Any] | None = None) -> Any:
    """The value of ``expr`` (symbolic where it reads a symbol); ``tensor`` is what ``in`` means here.

    ``tensor`` is None outside any block (no ``in``), UNKNOWN after an earlier error. ``require``
    is given what must hold for a symbolic expression to compute (a divisor that is not zero), in
    the words the checker would refuse it with; ``named`` reads a labelled tensor, ``@name``.
    """

    def ev(e: ast.Expr) -> Any:
        match e:
            case ast.Literal(value=literal):
                return literal
            case ast.Name(id=name, span=span):
                if name in scope:
                    return scope[name]
                if name in CONSTANTS:
                    return CONSTANTS[name]
                hint = did_you_mean(name, [*scope, *CONSTANTS])
                raise EvalError(codes.UNKNOWN_NAME, f"unknown name `{name}`", span, hint)
            case ast.InputRef(span=span):
                if tensor is None:
                    raise EvalError(codes.MISPLACED, "`in` is only defined inside a block or network", span)
                return tensor
            case ast.TensorRef(name=name, span=span):
                if named is None:
                    raise EvalError(codes.MISPLACED, f"`@{name}` reads a tensor: only a step may", span)
                return named(name, span)
            case ast.Attribute(value=inner, attr=attr, span=span):
                base = ev(inner)
                if base is UNKNOWN:
                    return UNKNOWN
                if isinstance(base, Named) and base.several:  # a split's, a block's tuple, a loop's: which one?
                    raise EvalError(codes.ARGUMENT_TYPE, f"`@{base.label}` is {base.several}: read the size of "
                                    "one", span, f"`@{base.label}[0].{attr}` is the first's")
                if isinstance(base, Named):  # @skip.c: the labelled tensor's size
                    base = base.type
                if not isinstance(base, TensorType):
                    raise EvalError(codes.ARGUMENT_TYPE, f"{type_name(base)} has no attribute `{attr}`", span)
                return _tensor_attribute(base, attr, span)
            case ast.Index(value=inner, index=index, span=span):
                base, key = ev(inner), ev(index)
                if base is UNKNOWN or key is UNKNOWN:
                    return UNKNOWN
                if isinstance(base, Named) and base.count is not None and isinstance(key, int) and not isinstance(
                        key, bool):  # in a template, one pass's tensor of a loop of the class: `@m[-1]`
                    if require is not None:
                        require(op("<", key, base.count) if key >= 0 else op("<=", -key, base.count),
                                ("index ", key, " is out of range for ", base.count, " items"), span)
                    return base.part(key)
                if isinstance(base, Named) and not base.several:
                    raise EvalError(codes.ARGUMENT_TYPE, f"`@{base.label}` is one tensor: there is nothing to index",
                                    span, f"in a loop `@{base.label}` is the latest `{base.label}`; after the loop "
                                    f"`@{base.label}[i]` is pass i's")
                if isinstance(base, Named) and base.parts and not is_symbolic(key):  # @parts[1]: one part
                    base = base.every()
                if is_symbolic(key) or not isinstance(base, (tuple, str)):
                    if is_symbolic(base) or is_symbolic(key):
                        return _operate("index", (base, key), span)
                    raise EvalError(codes.ARGUMENT_TYPE, f"cannot index {type_name(base)} with {type_name(key)}", span)
                if not isinstance(key, int) or isinstance(key, bool):
                    raise EvalError(codes.ARGUMENT_TYPE, f"cannot index {type_name(base)} with {type_name(key)}", span)
                if not -len(base) <= key < len(base):
                    raise EvalError(codes.BAD_VALUE, f"index {key} is out of range for {len(base)} items", span)
                return base[key]
            case ast.Sequence(items=items):
                return tuple(ev(i) for i in items)
            case ast.Unary(op=name, operand=operand, span=span):
                inner_value = ev(operand)
                if inner_value is UNKNOWN:
                    return UNKNOWN
                return _operate(_UNARY[name], (inner_value,), operand.span if name == "not" else span)
            case ast.Binary(op="and" | "or" as name, left=left, right=right):
                first = ev(left)
                if first is UNKNOWN:
                    return UNKNOWN
                if is_symbolic(first):
                    second = ev(right)
                    return second if second is UNKNOWN else _operate(name, (first, truth(second, right.span)),
                                                                     left.span)
                if truth(first, left.span) == (name == "or"):
                    return first
                second = ev(right)
                return second if second is UNKNOWN else truth(second, right.span)
            case ast.Binary(op=name, left=left, right=right, span=span):
                a, b = ev(left), ev(right)
                if contains_unknown(a) or contains_unknown(b):
                    return UNKNOWN
                if name in ("/", "//", "%") and require is not None and is_symbolic(b):
                    require(*nonzero_divisor(a, name, b), span)
                return _operate(name, (a, b), span)
            case ast.Conditional(then=then, cond=cond, orelse=orelse):
                test = ev(cond)
                if test is UNKNOWN:
                    return UNKNOWN
                if is_symbolic(test):
                    return _operate("if", (test, ev(then), ev(orelse)), cond.span)
                return ev(then) if truth(test, cond.span) else ev(orelse)
            case ast.FunctionCall(func=func, args=args, span=span):
                if func not in FUNCTIONS:
                    hint = did_you_mean(func, FUNCTIONS) or "the functions are " + ", ".join(FUNCTIONS)
                    raise EvalError(codes.UNKNOWN_NAME, f"unknown function `{func}`", span, hint)
                values = tuple(ev(a) for a in args)
                if any(contains_unknown(v) for v in values):
                    return UNKNOWN
                if func == "len" and len(values) == 1 and isinstance(values[0], tuple):
                    return len(values[0])  # a tuple's length is known even where its items are not
                return _operate(func, values, span)
        raise AssertionError(f"unhandled expression {e!r}")

    return ev(expr)


def evaluate_value(expr: ast.Expr, scope: Mapping[str, Value], tensor: TensorType | _Unknown | None) -> Value:
    """``evaluate`` where nothing is symbolic: a plain value."""
    result = evaluate(expr, scope, tensor)
    assert not is_symbolic(result), "a scope of values gives a value"
    return result
