"""A class's test of an argument's type, as an IR expression, and its words.

A class is written for arguments of the types its parameters were compiled with (``Sym.type``): an integer
where the value compiled was one (never ``16.0`` or ``True``), a number where it was a float, a tuple of the
compiled length whose items are of the compiled types.
"""

from __future__ import annotations

from typing import Any

from archdsl.ir import Quoted
from archdsl.ir.expr import Sym, op

# A type: the test that holds for its values, and its words for one value and for several.
_TESTS = {int: ("is_int", "an integer", "integers"), float: ("is_number", "a number", "numbers"),
          bool: ("is_bool", "true or false", "booleans"), str: ("is_str", "a string", "strings")}
_ALIKE = {int: "is_ints"}  # the one test of a tuple's items where all are of the type


def holds(value: Any, kind: Any) -> Any:
    """What is true where ``value`` is of ``kind`` (a type, or a tuple of kinds); None where ``kind`` says
    nothing (any value may come)."""
    if isinstance(kind, tuple):
        test = op("and", op("is_tuple", value), op("==", op("len", value), len(kind)))
        alike = _ALIKE.get(kind[0]) if len(set(kind)) == 1 else None
        if alike is not None:  # one test of every item: `all(isinstance(v, int) ... for v in strides)`
            return op("and", test, op(alike, value))
        for index, item in enumerate(kind):
            inner = holds(op("index", value, index), item)
            test = test if inner is None else op("and", test, inner)
        return test
    return op(_TESTS[kind][0], value) if kind in _TESTS else None


def refusal(value: Sym) -> tuple[Any, ...]:
    """The words of a class refusing an argument for ``value`` of another type: a message's parts."""
    if isinstance(value.type, tuple):
        return ("this class is written for ", Quoted(value), f" as {words(value.type)}, got ", value)
    return ("", Quoted(value), f" must be {words(value.type)}")


def words(kind: Any) -> str:
    """``kind`` as the rules say it: "an integer", "a tuple of 4 integers"."""
    if isinstance(kind, tuple):
        alike = len(set(kind)) == 1 and kind[0] in _TESTS
        return f"a tuple of {len(kind)} {_TESTS[kind[0]][2] if alike else 'items'}"
    return _TESTS[kind][1] if kind in _TESTS else "a value"
