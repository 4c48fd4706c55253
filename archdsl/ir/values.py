"""The values of the language and the operations on them: a closed set that never calls ``eval``.

Values are ints, floats, bools, strings and tuples (lists are tuples). ``UNKNOWN``
stands for a value that depends on a tensor whose type an earlier error left
undetermined; it flows through arithmetic so that one error does not cascade. The
operations raise ``Problem`` (no span); ``evaluation`` puts the spans in.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any, Union

from archdsl import errorcodes as codes
from archdsl.diagnostics import Diagnostic
from archdsl.ir.tensor import TensorType
from archdsl.span import Span

MAX_INT = 2**63
MAX_SEQUENCE = 10_000


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
Value = Union[int, float, bool, str, tuple["Value", ...], TensorType, _Unknown]  # noqa: UP007  (a runtime alias)


class Problem(Exception):
    """An operation on values fails; whoever knows where it was written adds the span (``EvalError``)."""

    def __init__(self, code: codes.Code, message: str, help: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.help = help


class EvalError(Exception):
    def __init__(self, code: codes.Code, message: str, span: Span, help: str | None = None):
        super().__init__(message)
        self.diagnostic = Diagnostic(code, message, span, help)

    @classmethod
    def at(cls, problem: Problem, span: Span) -> EvalError:
        return cls(problem.code, problem.message, span, problem.help)


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


def _checked(value: Value) -> Value:
    if is_int(value) and abs(value) >= MAX_INT:  # type: ignore[arg-type]
        raise Problem(codes.LIMIT, "integer is too large", "values must stay below 2**63 in size")
    if isinstance(value, float) and not math.isfinite(value):
        raise Problem(codes.BAD_VALUE, f"arithmetic gives {value}")
    if isinstance(value, (tuple, str)) and len(value) > MAX_SEQUENCE:
        raise Problem(codes.LIMIT, f"sequence longer than {MAX_SEQUENCE}")
    return value


def _power(left: Value, right: Value) -> Value:
    too_big = (is_int(left) and is_int(right) and right >= 0 and abs(left) > 1  # type: ignore[operator, arg-type]
               and right * math.log2(abs(left)) >= 64)  # type: ignore[arg-type, operator]
    if too_big:
        raise Problem(codes.LIMIT, "integer is too large", "values must stay below 2**63 in size")
    try:
        result = left ** right  # type: ignore[operator]
    except (OverflowError, ZeroDivisionError) as error:
        raise Problem(codes.BAD_VALUE, f"cannot compute {show(left)} ** {show(right)}: {error}") from None
    if isinstance(result, complex):  # a negative number to a fractional power
        raise Problem(codes.BAD_VALUE, f"{show(left)} ** {show(right)} is not a real number")
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


def apply_binary(op: str, left: Value, right: Value) -> Value:
    """``left op right`` for known values, by the language's rules (stricter than Python's)."""
    if op in ("==", "!="):
        return _COMPARE[op](left, right)
    if op in _COMPARE:
        if not _orderable(left, right):
            raise Problem(codes.ARGUMENT_TYPE, f"cannot compare {type_name(left)} with {type_name(right)}")
        return _COMPARE[op](left, right)
    if op == "**":
        if not (is_number(left) and is_number(right)):
            raise Problem(codes.ARGUMENT_TYPE, f"`**` needs numbers, got {type_name(left)} and {type_name(right)}")
        return _checked(_power(left, right))
    numbers = is_number(left) and is_number(right)
    joins = op == "+" and type(left) is type(right) and isinstance(left, (str, tuple))
    repeats = op == "*" and isinstance(left, tuple) and is_int(right)
    if not (numbers or joins or repeats):
        hint = ("arithmetic does not work axis by axis; half(k) halves every axis of a tuple"
                if isinstance(left, tuple) and op == "//" else None)
        raise Problem(codes.ARGUMENT_TYPE, f"`{op}` cannot combine {type_name(left)} and {type_name(right)}", hint)
    if repeats and right * len(left) > MAX_SEQUENCE:  # type: ignore[arg-type, operator]
        raise Problem(codes.LIMIT, f"sequence longer than {MAX_SEQUENCE}")
    try:
        return _checked(_ARITHMETIC[op](left, right))
    except ZeroDivisionError:
        raise Problem(codes.BAD_VALUE, f"division by zero in `{show(left)} {op} {show(right)}`") from None


def apply_unary(op: str, value: Value) -> Value:
    """``not value``, ``-value`` or ``+value`` for a known value."""
    if op == "not":
        return not truth_of(value)
    if not is_number(value):
        raise Problem(codes.ARGUMENT_TYPE, f"`{'-' if op == 'neg' else '+'}` needs a number, got {type_name(value)}")
    return -value if op == "neg" else value  # type: ignore[operator]


def truth_of(value: Value) -> bool:
    if not isinstance(value, bool):
        raise Problem(codes.ARGUMENT_TYPE, f"a condition must be true or false, got {type_name(value)}")
    return value


def _range(args: tuple[Value, ...]) -> Value:
    if not 1 <= len(args) <= 3 or not all(is_int(a) for a in args):
        raise Problem(codes.ARGUMENT_TYPE, "range takes one to three integers")
    ints = [a for a in args if isinstance(a, int)]  # all of them, as checked above
    start, stop, step = (0, ints[0], 1) if len(ints) == 1 else (*ints, 1)[:3]
    if step == 0:
        raise Problem(codes.BAD_VALUE, "range step must not be zero")
    count = max(0, -((start - stop) // step))  # not len(range): it overflows past 2**63 items
    if count > MAX_SEQUENCE:
        raise Problem(codes.LIMIT, f"range of {count} items; the limit is {MAX_SEQUENCE}")
    return tuple(range(start, stop, step))


def _extreme(pick: Callable[..., Value]) -> Callable[[tuple[Value, ...]], Value]:
    def call(args: tuple[Value, ...]) -> Value:
        items = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
        if not items or not all(is_number(i) for i in items):
            raise Problem(codes.ARGUMENT_TYPE, f"{pick.__name__} needs numbers")
        return pick(items)
    return call


def _one_number(convert: Callable[[Value], Value], name: str) -> Callable[[tuple[Value, ...]], Value]:
    def call(args: tuple[Value, ...]) -> Value:
        if len(args) != 1 or not is_number(args[0]):
            raise Problem(codes.ARGUMENT_TYPE, f"{name} takes one number")
        return _checked(convert(args[0]))
    return call


def _length(args: tuple[Value, ...]) -> Value:
    if len(args) != 1 or not isinstance(args[0], (tuple, str)):
        raise Problem(codes.ARGUMENT_TYPE, "len takes one tuple or string")
    return len(args[0])


def _half(args: tuple[Value, ...]) -> Value:
    """``k // 2``, axis by axis for a tuple: the padding that keeps an odd kernel's size."""
    if len(args) != 1 or not (is_int(args[0]) or (isinstance(args[0], tuple) and all(is_int(v) for v in args[0]))):
        raise Problem(codes.ARGUMENT_TYPE, "half takes one integer or a tuple of integers")
    value = args[0]
    return tuple(v // 2 for v in value) if isinstance(value, tuple) else value // 2  # type: ignore[operator]


FUNCTIONS: dict[str, Callable[[tuple[Value, ...]], Value]] = {
    "min": _extreme(min), "max": _extreme(max), "range": _range, "len": _length,
    "abs": _one_number(abs, "abs"), "int": _one_number(lambda v: int(v), "int"),  # type: ignore[arg-type]
    "float": _one_number(float, "float"),  # type: ignore[arg-type]
    "half": _half,
}


def apply_function(name: str, args: tuple[Value, ...]) -> Value:
    return FUNCTIONS[name](args)


CONSTANTS: dict[str, Value] = {"same": "same", "causal": "causal", "project": "project", "identity": "identity"}
