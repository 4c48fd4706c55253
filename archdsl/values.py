"""Evaluating spec expressions: a small, closed interpreter that never calls ``eval``.

Values are ints, floats, bools, strings and tuples (lists are tuples). ``UNKNOWN``
stands for a value that depends on a tensor whose type an earlier error left
undetermined; it flows through arithmetic so that one error does not cascade.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any, Union

from archdsl import errorcodes as codes
from archdsl import syntax as ast
from archdsl.diagnostics import Diagnostic, did_you_mean
from archdsl.span import Span
from archdsl.tensor import TensorType

MAX_INT = 2**63
MAX_SEQUENCE = 10_000


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
Value = Union[int, float, bool, str, tuple["Value", ...], TensorType, _Unknown]  # noqa: UP007  (a runtime alias)


class EvalError(Exception):
    def __init__(self, code: codes.Code, message: str, span: Span, help: str | None = None):
        super().__init__(message)
        self.diagnostic = Diagnostic(code, message, span, help)


def type_name(value: Value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, tuple):
        return "a tuple"
    if isinstance(value, TensorType):
        return "a tensor type"
    return "an unknown value"


def show(value: Value) -> str:
    """A value as it would be written in a spec."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        inner = ", ".join(show(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return str(value)


def is_int(value: Value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def contains_unknown(value: Value) -> bool:
    if value is UNKNOWN:
        return True
    return isinstance(value, tuple) and any(contains_unknown(v) for v in value)


def _checked(value: Value, span: Span) -> Value:
    if is_int(value) and abs(value) >= MAX_INT:  # type: ignore[arg-type]
        raise EvalError(codes.LIMIT, "integer is too large", span, "values must stay below 2**63 in size")
    if isinstance(value, float) and not math.isfinite(value):
        raise EvalError(codes.BAD_VALUE, f"arithmetic gives {value}", span)
    if isinstance(value, (tuple, str)) and len(value) > MAX_SEQUENCE:
        raise EvalError(codes.LIMIT, f"sequence longer than {MAX_SEQUENCE}", span)
    return value


def _power(left: Value, right: Value, span: Span) -> Value:
    too_big = (is_int(left) and is_int(right) and right >= 0 and abs(left) > 1  # type: ignore[operator, arg-type]
               and right * math.log2(abs(left)) >= 64)  # type: ignore[arg-type, operator]
    if too_big:
        raise EvalError(codes.LIMIT, "integer is too large", span, "values must stay below 2**63 in size")
    try:
        result = left ** right  # type: ignore[operator]
    except (OverflowError, ZeroDivisionError) as error:
        raise EvalError(codes.BAD_VALUE, f"cannot compute {show(left)} ** {show(right)}: {error}", span) from None
    if isinstance(result, complex):  # a negative number to a fractional power
        raise EvalError(codes.BAD_VALUE, f"{show(left)} ** {show(right)} is not a real number", span)
    return result


_ARITHMETIC: dict[str, Callable[[Value, Value], Value]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod,
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge,
}


def _orderable(left: Value, right: Value) -> bool:
    """Numbers with numbers, strings with strings, tuples item by item (Python would raise on the rest)."""
    if is_number(left) and is_number(right):
        return True
    if isinstance(left, str) and isinstance(right, str):
        return True
    return (isinstance(left, tuple) and isinstance(right, tuple)
            and all(_orderable(a, b) for a, b in zip(left, right, strict=False)))


def _binary(op: str, left: Value, right: Value, span: Span) -> Value:
    if op in ("==", "!="):
        return _COMPARE[op](left, right)
    if op in _COMPARE:
        if not _orderable(left, right):
            raise EvalError(codes.ARGUMENT_TYPE, f"cannot compare {type_name(left)} with {type_name(right)}", span)
        return _COMPARE[op](left, right)
    if op == "**":
        if not (is_number(left) and is_number(right)):
            message = f"`**` needs numbers, got {type_name(left)} and {type_name(right)}"
            raise EvalError(codes.ARGUMENT_TYPE, message, span)
        return _checked(_power(left, right, span), span)
    numbers = is_number(left) and is_number(right)
    joins = op == "+" and type(left) is type(right) and isinstance(left, (str, tuple))
    repeats = op == "*" and isinstance(left, tuple) and is_int(right)
    if not (numbers or joins or repeats):
        hint = ("arithmetic does not work axis by axis; half(k) halves every axis of a tuple"
                if isinstance(left, tuple) and op == "//" else None)
        raise EvalError(codes.ARGUMENT_TYPE, f"`{op}` cannot combine {type_name(left)} and {type_name(right)}", span,
                        hint)
    if repeats and right * len(left) > MAX_SEQUENCE:  # type: ignore[arg-type, operator]
        raise EvalError(codes.LIMIT, f"sequence longer than {MAX_SEQUENCE}", span)
    try:
        return _checked(_ARITHMETIC[op](left, right), span)
    except ZeroDivisionError:
        raise EvalError(codes.BAD_VALUE, f"division by zero in `{show(left)} {op} {show(right)}`", span) from None


def _range(args: tuple[Value, ...], span: Span) -> Value:
    if not 1 <= len(args) <= 3 or not all(is_int(a) for a in args):
        raise EvalError(codes.ARGUMENT_TYPE, "range takes one to three integers", span)
    ints = [a for a in args if isinstance(a, int)]  # all of them, as checked above
    start, stop, step = (0, ints[0], 1) if len(ints) == 1 else (*ints, 1)[:3]
    if step == 0:
        raise EvalError(codes.BAD_VALUE, "range step must not be zero", span)
    count = max(0, -((start - stop) // step))  # not len(range): it overflows past 2**63 items
    if count > MAX_SEQUENCE:
        raise EvalError(codes.LIMIT, f"range of {count} items; the limit is {MAX_SEQUENCE}", span)
    return tuple(range(start, stop, step))


def _extreme(pick: Callable[..., Value]) -> Callable[[tuple[Value, ...], Span], Value]:
    def call(args: tuple[Value, ...], span: Span) -> Value:
        items = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
        if not items or not all(is_number(i) for i in items):
            raise EvalError(codes.ARGUMENT_TYPE, f"{pick.__name__} needs numbers", span)
        return pick(items)
    return call


def _one_number(convert: Callable[[Value], Value], name: str) -> Callable[[tuple[Value, ...], Span], Value]:
    def call(args: tuple[Value, ...], span: Span) -> Value:
        if len(args) != 1 or not is_number(args[0]):
            raise EvalError(codes.ARGUMENT_TYPE, f"{name} takes one number", span)
        return _checked(convert(args[0]), span)
    return call


def _length(args: tuple[Value, ...], span: Span) -> Value:
    if len(args) != 1 or not isinstance(args[0], (tuple, str)):
        raise EvalError(codes.ARGUMENT_TYPE, "len takes one tuple or string", span)
    return len(args[0])


def _half(args: tuple[Value, ...], span: Span) -> Value:
    """``k // 2``, axis by axis for a tuple: the padding that keeps an odd kernel's size."""
    if len(args) != 1 or not (is_int(args[0]) or (isinstance(args[0], tuple) and all(is_int(v) for v in args[0]))):
        raise EvalError(codes.ARGUMENT_TYPE, "half takes one integer or a tuple of integers", span)
    value = args[0]
    return tuple(v // 2 for v in value) if isinstance(value, tuple) else value // 2  # type: ignore[operator]


FUNCTIONS: dict[str, Callable[[tuple[Value, ...], Span], Value]] = {
    "min": _extreme(min), "max": _extreme(max), "range": _range, "len": _length,
    "abs": _one_number(abs, "abs"), "int": _one_number(lambda v: int(v), "int"),  # type: ignore[arg-type]
    "float": _one_number(float, "float"),  # type: ignore[arg-type]
    "half": _half,
}
# Functions Python lacks: the emitted code defines each one it calls (see runtime.py).
RUNTIME_FUNCTIONS = frozenset({"half"})

CONSTANTS: dict[str, Value] = {"same": "same", "project": "project", "identity": "identity"}


def _tensor_attribute(tensor: TensorType, attr: str, span: Span) -> Value:
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


def truth(value: Value, span: Span) -> bool:
    if not isinstance(value, bool):
        raise EvalError(codes.ARGUMENT_TYPE, f"a condition must be true or false, got {type_name(value)}", span)
    return value


def evaluate(expr: ast.Expr, scope: Mapping[str, Value], tensor: TensorType | _Unknown | None) -> Value:
    """The value of ``expr``; ``tensor`` is what ``in`` means here (None: outside any block)."""

    def ev(e: ast.Expr) -> Value:
        match e:
            case ast.Literal(value=literal):
                return literal  # type: ignore[return-value]
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
            case ast.Attribute(value=inner, attr=attr, span=span):
                base = ev(inner)
                if base is UNKNOWN:
                    return UNKNOWN
                if not isinstance(base, TensorType):
                    raise EvalError(codes.ARGUMENT_TYPE, f"{type_name(base)} has no attribute `{attr}`", span)
                return _tensor_attribute(base, attr, span)
            case ast.Index(value=inner, index=index, span=span):
                base, key = ev(inner), ev(index)
                if base is UNKNOWN or key is UNKNOWN:
                    return UNKNOWN
                if not isinstance(base, (tuple, str)) or not is_int(key):
                    raise EvalError(codes.ARGUMENT_TYPE, f"cannot index {type_name(base)} with {type_name(key)}", span)
                if not -len(base) <= key < len(base):  # type: ignore[operator]
                    raise EvalError(codes.BAD_VALUE, f"index {key} is out of range for {len(base)} items", span)
                return base[key]  # type: ignore[index]
            case ast.Sequence(items=items):
                return tuple(ev(i) for i in items)
            case ast.Unary(op=op, operand=operand, span=span):
                inner_value = ev(operand)
                if inner_value is UNKNOWN:
                    return UNKNOWN
                if op == "not":
                    return not truth(inner_value, operand.span)
                if not is_number(inner_value):
                    raise EvalError(codes.ARGUMENT_TYPE, f"`{op}` needs a number, got {type_name(inner_value)}", span)
                return -inner_value if op == "-" else inner_value  # type: ignore[operator]
            case ast.Binary(op="and" | "or" as op, left=left, right=right):
                first = ev(left)
                if first is UNKNOWN:
                    return UNKNOWN
                if truth(first, left.span) == (op == "or"):
                    return first
                second = ev(right)
                return second if second is UNKNOWN else truth(second, right.span)
            case ast.Binary(op=op, left=left, right=right, span=span):
                a, b = ev(left), ev(right)
                if contains_unknown(a) or contains_unknown(b):
                    return UNKNOWN
                return _binary(op, a, b, span)
            case ast.Conditional(then=then, cond=cond, orelse=orelse):
                test = ev(cond)
                if test is UNKNOWN:
                    return UNKNOWN
                return ev(then) if truth(test, cond.span) else ev(orelse)
            case ast.FunctionCall(func=func, args=args, span=span):
                if func not in FUNCTIONS:
                    hint = did_you_mean(func, FUNCTIONS) or "the functions are " + ", ".join(FUNCTIONS)
                    raise EvalError(codes.UNKNOWN_NAME, f"unknown function `{func}`", span, hint)
                values = tuple(ev(a) for a in args)
                if any(contains_unknown(v) for v in values):
                    return UNKNOWN
                return FUNCTIONS[func](values, span)
        raise AssertionError(f"unhandled expression {e!r}")

    return ev(expr)
