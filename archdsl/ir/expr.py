"""Symbolic values: what a value is made of when it is not known yet.

A block is a function of its parameters and of its input; a network of its
parameters. To write a class that stays right for every argument, the elaborator
runs on symbols (``Sym``: a parameter, ``in.c``, a loop variable) as well as on
values, and every operation on a symbol builds an ``Op`` instead of a value. Where
all operands are known the operation is computed at once, with the same rules as
``values`` (so a fully known expression is just its value), which keeps the
concrete elaboration, the one ``check`` and ``build`` run, exactly as fast as before.

An expression is a value (int, float, bool, str, tuple) or an ``Expr``. The set of
operators is closed and small; ``python`` prints any expression as Python source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Union

from msgspec import Struct

from archdsl.ir.helpers import axis, past_taken, per_axis
from archdsl.ir.values import UNKNOWN, Value, apply_binary, apply_function, apply_unary, is_int, truth_of

# Roles of symbols: what the emitted code holds the value in.
PARAM, INPUT, LOOP, STATE = "param", "in", "loop", "state"
GIVEN = "given"  # a block's tensor parameter's channels and sizes: ``skip.c``, ``skip.h``


class Expr:
    """A value not known yet: a symbol, or an operator applied to expressions."""

    __slots__ = ()

    def __add__(self, other: Any) -> Any:
        return op("+", self, other)

    def __radd__(self, other: Any) -> Any:
        return op("+", other, self)

    def __sub__(self, other: Any) -> Any:
        return op("-", self, other)

    def __rsub__(self, other: Any) -> Any:
        return op("-", other, self)

    def __mul__(self, other: Any) -> Any:
        return op("*", self, other)

    def __rmul__(self, other: Any) -> Any:
        return op("*", other, self)

    def __floordiv__(self, other: Any) -> Any:
        return op("//", self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        return op("//", other, self)

    def __truediv__(self, other: Any) -> Any:
        return op("/", self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return op("/", other, self)

    def __mod__(self, other: Any) -> Any:
        return op("%", self, other)

    def __rmod__(self, other: Any) -> Any:
        return op("%", other, self)

    def __neg__(self) -> Any:
        return op("neg", self)

    # Order comparisons build conditions; == and != stay structural equality of expressions.
    def __lt__(self, other: Any) -> Any:
        return op("<", self, other)

    def __le__(self, other: Any) -> Any:
        return op("<=", self, other)

    def __gt__(self, other: Any) -> Any:
        return op(">", self, other)

    def __ge__(self, other: Any) -> Any:
        return op(">=", self, other)

    def __bool__(self) -> bool:
        raise TypeError("a symbolic value has no truth value yet; use a guard")


class Sym(Expr, Struct, frozen=True):  # Expr first: its operators build expressions
    """A named unknown: a parameter, a part of ``in``, a loop variable or state the emitted code keeps.

    ``type`` is what its values are: ``int``, ``float``, ``bool``, ``str``, a tuple of such
    types (a tuple of that length), or None where any value may come.
    """

    name: str
    role: str = PARAM
    type: Any = None

    def __repr__(self) -> str:
        return self.name


class Op(Expr, Struct, frozen=True):
    """``name`` applied to ``args``: an arithmetic or logic operator, ``if``, ``index``, ``tuple`` or a function."""

    name: str
    args: tuple[Any, ...]

    def __repr__(self) -> str:
        return python(self, lambda s: s.name)


Term = Union[Value, Expr]  # noqa: UP007  (a runtime alias)

BINARY = frozenset({"+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", "<=", ">", ">="})
UNARY = frozenset({"neg", "pos", "not"})


def is_symbolic(value: object) -> bool:
    """Whether ``value`` (or a part of a tuple) is not known yet."""
    if isinstance(value, Expr):
        return True
    if isinstance(value, tuple):
        for item in value:  # a loop, not any(): this runs for every argument of every layer
            if isinstance(item, Expr) or (isinstance(item, tuple) and is_symbolic(item)):
                return True
    return False


def op(name: str, *args: Any) -> Any:
    """``name`` applied to ``args``: computed where every argument is known, else a folded ``Op``.

    Evaluation errors of known arguments propagate as ``values.EvalError`` without a span
    (``Problem``); the caller that knows the span re-raises them.
    """
    if not any(is_symbolic(a) for a in args):
        return _compute(name, args)
    return _fold(name, args)


def _compute(name: str, args: tuple[Any, ...]) -> Any:
    if name in BINARY:
        return apply_binary(name, args[0], args[1])
    if name in UNARY:
        return apply_unary(name, args[0])
    if name == "and":
        return truth_of(args[0]) and truth_of(args[1])
    if name == "or":
        return truth_of(args[0]) or truth_of(args[1])
    if name == "if":
        return args[1] if truth_of(args[0]) else args[2]
    if name == "index":
        return args[0][args[1]]
    if name == "tuple":
        return tuple(args)
    if name == "axis":  # the value of a per-axis argument along one axis
        return axis(args[0], args[1])
    if name == "per_axis":  # one value for every axis, or a tuple already
        return per_axis(args[0], args[1])
    if name.startswith("is_"):
        return PREDICATES[name](args[0])
    if name == "name":  # a generated step name: prefix and number
        return f"{args[0]}{args[1]}"
    if name == "past_taken":
        return past_taken(args[0], args[1])
    return apply_function(name, args)


def _fold(name: str, args: tuple[Any, ...]) -> Any:
    """Simplifications that keep the meaning for every value the symbols may take."""
    a = args[0]
    b: Any = args[1] if len(args) > 1 else None
    if name == "+" and _is(b, 0) and not isinstance(a, tuple):
        return a
    if name == "+" and _is(a, 0) and not isinstance(b, tuple):
        return b
    if name == "-" and _is(b, 0):
        return a
    if name == "-" and a == b:
        return 0
    if name in ("+", "-") and (linear := _linear(Op(name, args))) is not None and (
            len(linear[0]) + (linear[1] != 0) < _summands(Op(name, args))):
        return _from_linear(*linear)  # 2 + 2 * n - 4 is 2 * n - 2; (x + 2) - x is 2
    if name == "*" and _is(b, 1) and not isinstance(a, tuple):
        return a
    if name == "*" and _is(a, 1) and not isinstance(b, tuple):
        return b
    if name in ("//", "/") and _is(b, 1) and name == "//":
        return a
    if name == "if" and not is_symbolic(a):
        return args[1] if truth_of(a) else args[2]
    if name == "if" and args[1] == args[2]:
        return args[1]
    if name == "neg" and isinstance(a, Op) and a.name == "neg":
        return a.args[0]
    if name in ("==", "!=", "<", "<=", ">", ">=") and a != b and (difference := _linear(op("-", a, b))) is not None \
            and not difference[0]:
        return apply_binary(name, difference[1], 0)  # x - 1 >= x + 1 is false for every x
    if name in (">=", ">", "!=") and type(b) is int and isinstance(a, Op) and a.name == "max" and any(
            type(c) is int and apply_binary(">" if name == "!=" else name, c, b) for c in a.args):
        return True  # max(1, x) >= 1 and max(1, x) != 0 for every x
    if name in ("==", "<=", ">=") and a == b:
        return True
    if name in ("!=", "<", ">") and a == b:
        return False
    if name in ("and", "or") and a == b:
        return a
    if name == "%" and _is(b, 1):
        return 0
    if (name == "and" and b is True) or (name == "or" and b is False):
        return a
    if name == "or" and b is True:
        return True
    if name == "and" and b is False:
        return False
    if name == "not" and isinstance(a, Op) and a.name == "not":
        return a.args[0]
    if name == "and" and not is_symbolic(a):
        return b if truth_of(a) else a
    if name == "or" and not is_symbolic(a):
        return a if truth_of(a) else b
    if name == "index" and isinstance(a, tuple) and not is_symbolic(b):
        return a[b]
    if name == "len" and isinstance(a, tuple):
        return len(a)
    if name == "index" and isinstance(a, Op) and a.name == "tuple" and is_int(b):
        return a.args[b]
    if name == "axis" and not isinstance(a, Expr):
        return a[b] if isinstance(a, tuple) else a
    if name == "per_axis" and isinstance(a, tuple):
        return a
    return Op(name, args)


def _linear(value: Any) -> tuple[dict[Any, int], int] | None:
    """An integer expression as whole multiples of its terms plus a constant: ``2 + 2 * n - 4`` is
    ``({n: 2}, -2)``; None where ``value`` is not an integer."""
    if type(value) is not int and type_of(value) is not int:
        return None
    terms: dict[Any, int] = {}
    constant = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:  # every part of an integer sum, product or negation is an integer too
        part, factor = stack.pop()
        if type(part) is int:
            constant += factor * part
        elif isinstance(part, Op) and part.name in ("+", "-"):
            stack += [(part.args[1], factor if part.name == "+" else -factor), (part.args[0], factor)]
        elif isinstance(part, Op) and part.name == "neg":
            stack.append((part.args[0], -factor))
        elif isinstance(part, Op) and part.name == "*" and type(part.args[0]) is int:
            stack.append((part.args[1], factor * part.args[0]))
        elif isinstance(part, Op) and part.name == "*" and type(part.args[1]) is int:
            stack.append((part.args[0], factor * part.args[1]))
        else:
            terms[part] = terms.get(part, 0) + factor
    return {term: k for term, k in terms.items() if k}, constant


def _summands(value: Any) -> int:
    """How many terms a sum is written with."""
    if isinstance(value, Op) and value.name in ("+", "-"):
        return _summands(value.args[0]) + _summands(value.args[1])
    return 1


def _from_linear(terms: dict[Any, int], constant: int) -> Any:
    """The shortest sum of ``terms`` and ``constant``, terms in the order they came."""
    total: Any = None
    for term, k in terms.items():
        magnitude = term if abs(k) == 1 else Op("*", (abs(k), term))
        if total is None:
            total = magnitude if k > 0 else Op("neg", (magnitude,))
        else:
            total = Op("+" if k > 0 else "-", (total, magnitude))
    if total is None:
        return constant
    return Op("+" if constant > 0 else "-", (total, abs(constant))) if constant else total


def _is(value: object, number: int) -> bool:
    return type(value) is int and value == number


def is_int_value(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


PREDICATES: dict[str, Callable[[Any], bool]] = {
    "is_int": is_int_value,
    "is_number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "is_bool": lambda v: isinstance(v, bool),
    "is_str": lambda v: isinstance(v, str),
    "is_tuple": lambda v: isinstance(v, tuple),
    "is_ints": lambda v: isinstance(v, tuple) and all(map(is_int_value, v)),
}


def nonzero_divisor(dividend: Any, operator: str, divisor: Any) -> tuple[Any, tuple[Any, ...]]:
    """What must hold for ``dividend operator divisor`` to compute, and the checker's words where it does not."""
    return op("!=", divisor, 0), ("division by zero in `", dividend, f" {operator} ", divisor, "`")


def equals(a: Any, b: Any) -> Any:
    """``a == b`` as a condition: a bool where both are known (``==`` on expressions compares their form)."""
    return op("==", a, b) if isinstance(a, Expr) or isinstance(b, Expr) else a == b


def where(condition: Any, then: Any, otherwise: Any) -> Any:
    """``then if condition else otherwise``, as an expression where the condition is not known."""
    if isinstance(condition, Expr):
        return op("if", condition, then, otherwise)
    return then if condition else otherwise


def tuple_of(items: tuple[Any, ...]) -> Any:
    """A tuple of expressions: a tuple value where every item is known."""
    return op("tuple", *items) if any(is_symbolic(i) for i in items) else items


# -- types ----------------------------------------------------------------------------

_NUMERIC = {"+", "-", "*", "//", "%", "**"}
_BOOLEAN = {"==", "!=", "<", "<=", ">", ">=", "and", "or", "not"}


def type_of(value: Any) -> Any:
    """What ``value``'s values are (see ``Sym.type``); None where it cannot be told without running it."""
    if isinstance(value, Sym):
        return value.type
    if isinstance(value, tuple):
        return tuple(type_of(v) for v in value)
    if not isinstance(value, Op):
        return type(value) if value is not UNKNOWN else None
    name, args = value.name, value.args
    if name in _BOOLEAN or name.startswith("is_"):
        return bool
    types = [type_of(a) for a in args]
    if name in _NUMERIC and types[0] in (int, float) and types[1] in (int, float):
        return float if float in types else int
    if name == "/":
        return float
    if name in ("neg", "pos", "abs", "half"):
        return types[0]
    if name == "if":
        return types[1] if types[1] == types[2] else None
    if name == "tuple":
        return tuple(types)
    if name in ("index", "axis") and isinstance(types[0], tuple) and types[0]:
        known = args[1] if not is_symbolic(args[1]) else None
        if isinstance(known, int) and -len(types[0]) <= known < len(types[0]):
            return types[0][known]
        return types[0][0] if len(set(types[0])) == 1 else None
    if name == "axis":
        return types[0]
    if name == "per_axis":
        return types[0] if isinstance(types[0], tuple) else (types[0],) * args[1]
    if name in ("min", "max"):
        items = types[0] if len(types) == 1 and isinstance(types[0], tuple) else types
        if items and all(t in (int, float) for t in items):
            return float if float in items else int
        return None
    return {"len": int, "int": int, "float": float}.get(name)


# -- inspecting and rewriting ----------------------------------------------------------


def symbols(value: Any) -> frozenset[Sym]:
    """The symbols ``value`` is made of."""
    found: set[Sym] = set()
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, Sym):
            found.add(current)
        elif isinstance(current, Op):
            stack.extend(current.args)
        elif isinstance(current, tuple):
            stack.extend(current)
    return frozenset(found)


def substitute(value: Any, mapping: Mapping[Sym, Any]) -> Any:
    """``value`` with each symbol in ``mapping`` replaced, folded again."""
    if isinstance(value, Sym):
        return mapping.get(value, value)
    if isinstance(value, Op):
        if value.name in ("and", "or", "if"):  # short-circuit: the rest may not even compute (len of an int)
            first = substitute(value.args[0], mapping)
            if not is_symbolic(first):
                if value.name == "if":
                    return substitute(value.args[1 if truth_of(first) else 2], mapping)
                if truth_of(first) == (value.name == "or"):
                    return truth_of(first)
                return op("and", True, substitute(value.args[1], mapping))  # the second's truth, checked
            return op(value.name, first, *(substitute(a, mapping) for a in value.args[1:]))
        return op(value.name, *(substitute(a, mapping) for a in value.args))
    if isinstance(value, tuple):
        return tuple(substitute(v, mapping) for v in value)
    return value


def evaluate(value: Any, mapping: Mapping[Sym, Value]) -> Value:
    """The value of ``value`` with every symbol given; UNKNOWN where one is missing."""
    result = substitute(value, mapping)
    return UNKNOWN if is_symbolic(result) else result


def walk(value: Any) -> Iterator[Any]:
    """``value`` and every expression inside it."""
    stack = [value]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, Op):
            stack.extend(current.args)
        elif isinstance(current, tuple):
            stack.extend(current)


# -- printing as Python -----------------------------------------------------------------

# Python binding strength of each operator, loosest first.
_PRECEDENCE = {"if": 1, "or": 2, "and": 3, "not": 4, "==": 5, "!=": 5, "<": 5, "<=": 5, ">": 5, ">=": 5,
               "+": 6, "-": 6, "*": 7, "/": 7, "//": 7, "%": 7, "neg": 8, "pos": 8, "**": 9}
ATOM = 10
# How a predicate reads in Python.
_PREDICATE_SOURCE = {
    "is_int": "isinstance({0}, int) and not isinstance({0}, bool)",
    "is_number": "isinstance({0}, (int, float)) and not isinstance({0}, bool)",
    "is_bool": "isinstance({0}, bool)",
    "is_str": "isinstance({0}, str)",
    "is_tuple": "isinstance({0}, tuple)",
    "is_ints": "all(isinstance(v, int) and not isinstance(v, bool) for v in {0})",
}
# Functions the emitted file defines itself (Python has none of the name).
HELPERS = frozenset({"half", "axis", "per_axis", "past_taken"})


def literal(value: Value) -> str:
    """A known value as Python source: ``repr`` of plain types only, strings in double quotes where they can be."""
    if isinstance(value, str) and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise TypeError(f"cannot write {value!r} as Python")


def python(value: Any, name_of: Callable[[Sym], str]) -> str:
    """``value`` as Python source; ``name_of`` gives each symbol's name in the emitted code."""
    return _python(value, name_of)[0]


def _python(value: Any, name_of: Callable[[Sym], str]) -> tuple[str, int]:
    def wrap(v: Any, minimum: int) -> str:
        text, precedence = _python(v, name_of)
        return f"({text})" if precedence < minimum else text

    if isinstance(value, Sym):
        return name_of(value), ATOM
    if isinstance(value, tuple):
        return "(" + ", ".join(wrap(v, 2) for v in value) + ("," if len(value) == 1 else "") + ")", ATOM
    if not isinstance(value, Op):
        text = literal(value)
        return text, (8 if text.startswith("-") else ATOM)
    name, args = value.name, value.args
    if name in ("neg", "pos"):
        return ("-" if name == "neg" else "+") + wrap(args[0], 8), 8
    if name == "not":
        return f"not {wrap(args[0], 4)}", 4
    if name == "**":
        return f"{wrap(args[0], ATOM)} ** {wrap(args[1], 8)}", 9
    if name in _PRECEDENCE and name != "if":
        p = _PRECEDENCE[name]
        left = p + 1 if p == _PRECEDENCE["=="] else p  # comparisons chain in Python: (a < b) == c keeps its brackets
        return f"{wrap(args[0], left)} {name} {wrap(args[1], p + 1)}", p
    if name == "if":
        return f"{wrap(args[1], 2)} if {wrap(args[0], 2)} else {wrap(args[2], 1)}", 1
    if name == "index":
        return f"{wrap(args[0], ATOM)}[{wrap(args[1], 1)}]", ATOM
    if name == "tuple":
        return python(tuple(args), name_of), ATOM
    if name == "name":  # an f-string, unless the number's source holds a quote (not in one before Python 3.12)
        number = python(args[1], name_of)
        if any(c in number for c in "\"'\\"):
            return f'"{args[0]}" + str({number})', 6
        return 'f"' + args[0] + "{" + number + '}"', ATOM
    if name in _PREDICATE_SOURCE:
        return _PREDICATE_SOURCE[name].format(wrap(args[0], ATOM)), 3
    return f"{name}(" + ", ".join(wrap(a, 2) for a in args) + ")", ATOM
