"""Parameters of layers and blocks: binding call arguments and checking their types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from msgspec import Struct

from archdsl.diagnostics import did_you_mean
from archdsl.ir.expr import is_symbolic, op, type_of
from archdsl.ir.values import is_int, is_number, show


class ArgumentError(Exception):
    """An argument has the wrong type or value; ``param`` names it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# A checker normalises one argument given the input's spatial rank, or raises ArgumentError.
# The rank is None where an earlier error left the input unknown: then only the argument's type is checked.
# A symbolic argument (an Expr, in a class written for every value) cannot be checked yet: the checker
# hands ``guard`` the condition it must meet and the words of the error, and returns it normalised.
Guarding = Callable[[Any, tuple[Any, ...]], None]
Checker = Callable[[Any, int | None, Guarding], Any]
REQUIRED = object()


class Param(Struct, frozen=True):
    name: str
    check: Checker
    default: object = REQUIRED
    doc: str = ""
    shown: str = ""  # how a default of None reads in signatures, where another argument decides it ("k")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def default_shown(self) -> str | None:
        """The default as a signature shows it (``1``, ``…`` where it has none of its own); None if required."""
        return None if self.required else self.shown or show(self.default)  # type: ignore[arg-type]


def _typed(value: Any, wanted: tuple[type, ...]) -> bool | None:
    """Whether a symbolic value's type is one of ``wanted``; None where its type is unknown."""
    known = type_of(value)
    if known is None:
        return None
    return known in wanted and not (known is bool and bool not in wanted)


def integer(minimum: int = 0) -> Checker:
    def check(value: Any, rank: int | None, guard: Guarding) -> Any:
        if is_symbolic(value):
            typed = _typed(value, (int,))
            if typed is False:
                raise ArgumentError(f"must be an integer of at least {minimum}, got {type_name_of(value)}")
            holds = op(">=", value, minimum)
            guard(holds if typed else op("and", op("is_int", value), holds),
                  ("must be an integer of at least ", minimum, ", got ", value))
            return value
        if not is_int(value) or value < minimum:
            raise ArgumentError(f"must be an integer of at least {minimum}, got {show(value)}")
        return value
    return check


def number(minimum: float = 0.0, below: float | None = None) -> Checker:
    bound = f" and below {below}" if below is not None else ""

    def check(value: Any, rank: int | None, guard: Guarding) -> Any:
        if is_symbolic(value):
            typed = _typed(value, (int, float))
            if typed is False:
                raise ArgumentError(f"must be a number of at least {minimum}{bound}, got {type_name_of(value)}")
            holds = op(">=", value, minimum)
            if below is not None:
                holds = op("and", holds, op("<", value, below))
            guard(holds if typed else op("and", op("is_number", value), holds),
                  (f"must be a number of at least {minimum}{bound}, got ", value))
            return op("float", value)
        ok = is_number(value) and value >= minimum and (below is None or value < below)
        if not ok:
            raise ArgumentError(f"must be a number of at least {minimum}{bound}, got {show(value)}")
        return float(value)
    return check


def boolean(value: Any, rank: int | None, guard: Guarding) -> Any:
    if is_symbolic(value):
        typed = _typed(value, (bool,))
        if typed is False:
            raise ArgumentError(f"must be true or false, got {type_name_of(value)}")
        if not typed:
            guard(op("is_bool", value), ("must be true or false, got ", value))
        return value
    if not isinstance(value, bool):
        raise ArgumentError(f"must be true or false, got {show(value)}")
    return value


def choice(*options: str) -> Checker:
    listed = ", ".join(show(o) for o in options)

    def check(value: Any, rank: int | None, guard: Guarding) -> Any:
        if is_symbolic(value):
            holds: Any = False
            for option in options:
                holds = op("or", holds, op("==", value, option))
            guard(holds, (f"must be one of {listed}, got ", value))
            return value
        if value not in options:
            raise ArgumentError(f"must be one of {listed}, got {show(value)}")
        return value
    return check


def per_axis(minimum: int = 1, *, allow_float: bool = False) -> Checker:
    """An int (or float) for every spatial axis, or one value for all of them."""
    what = "a number" if allow_float else "an integer"
    types: tuple[type, ...] = (int, float) if allow_float else (int,)

    def problem(rank: int | None, got: str) -> ArgumentError:
        tuple_of = f"a tuple of {rank} of them" if rank else "a tuple of them"
        return ArgumentError(f"must be {what} of at least {minimum}, or {tuple_of} (one per spatial axis), got {got}")

    def check(value: Any, rank: int | None, guard: Guarding) -> Any:
        if is_symbolic(value):
            return _symbolic_axes(value, rank, guard, minimum, types, problem)

        def ok(v: Any) -> bool:
            good_type = is_number(v) if allow_float else is_int(v)
            return good_type and v >= minimum

        if ok(value):
            return (value,) * (rank or 1)
        if isinstance(value, tuple) and rank in (None, len(value)) and all(ok(v) for v in value):
            return value
        raise problem(rank, show(value))
    return check


def _symbolic_axes(value: Any, rank: int | None, guard: Guarding, minimum: int, types: tuple[type, ...],
                   problem: Callable[[int | None, str], ArgumentError]) -> Any:
    """A per-axis argument not known yet: one value per axis, each guarded, where its type tells the axes."""
    known = type_of(value)
    if known in types:
        guard(op(">=", value, minimum), (f"must be at least {minimum}, got ", value))
        return (value,) * (rank or 1)
    if isinstance(known, tuple) and all(t in types for t in known):
        if rank is not None and len(known) != rank:
            raise problem(rank, f"a tuple of {len(known)}")
        items = tuple(op("index", value, i) for i in range(len(known)))
        for item in items:
            guard(op(">=", item, minimum), (f"must be at least {minimum} on every axis, got ", value))
        return items
    raise problem(rank, type_name_of(value))


def padding(value: Any, rank: int | None, guard: Guarding) -> Any:
    if is_symbolic(value) and type_of(value) is str:
        guard(op("==", value, "same"), ("must be `same` or numbers, got ", value))
        return "same"
    if value == "same":
        return value
    try:
        return per_axis(0)(value, rank, guard)
    except ArgumentError as error:
        raise ArgumentError(error.message.replace("must be", "must be `same`,", 1)) from None


def sides(value: Any, rank: int | None, guard: Guarding) -> Any:
    """Amounts before and after each spatial axis, as ``((before, after), ...)``: one integer for every side,
    one per axis for both its sides, or a (before, after) pair per axis; in 1-D a bare pair (as Keras writes)."""
    axes = rank or 1
    here = f"{axes} axes here" if axes > 1 else "1 axis here; a bare (before, after) pair too"
    wanted = ("must be integers of at least 0: one for every side, a tuple of one per axis or a tuple of "
              f"(before, after) pairs, one per axis ({here})")

    def side(item: Any) -> Any:
        if is_symbolic(item):
            typed = _typed(item, (int,))
            if typed is False:
                raise ArgumentError(f"{wanted}, got {_shown(value)}")
            holds = op(">=", item, 0)
            guard(holds if typed else op("and", op("is_int", item), holds),
                  ("must be at least 0 on every side, got ", value))
            return item
        if not is_int(item) or item < 0:
            raise ArgumentError(f"{wanted}, got {_shown(value)}")
        return item

    items = _items(value)
    if items is None:
        return ((side(value), side(value)),) * axes
    if axes == 1 and len(items) == 2 and all(_items(item) is None for item in items):
        return ((side(items[0]), side(items[1])),)
    if rank is not None and len(items) != rank:
        raise ArgumentError(f"{wanted}, got {_shown(value)}")
    found = []
    for item in items:
        pair = _items(item)
        if pair is not None and len(pair) != 2:
            raise ArgumentError(f"{wanted}, got {_shown(value)}")
        found.append((side(item), side(item)) if pair is None else (side(pair[0]), side(pair[1])))
    return tuple(found)


def _items(value: Any) -> tuple[Any, ...] | None:
    """The items of a tuple, known or symbolic; None where ``value`` is not a tuple."""
    if isinstance(value, tuple):
        return value
    known = type_of(value) if is_symbolic(value) else None
    return tuple(op("index", value, i) for i in range(len(known))) if isinstance(known, tuple) else None


def _shown(value: Any) -> str:
    return type_name_of(value) if is_symbolic(value) and not isinstance(value, tuple) else show(value)


def padding_or_sides(value: Any, rank: int | None, guard: Guarding) -> Any:
    """A convolution's padding: ``same``, ``causal``, equal sides per axis (as pooling takes), or the sides
    of each axis apart (``((before, after), ...)``, see ``sides``; where every pair is equal, per axis)."""
    if is_symbolic(value) and type_of(value) is str:
        raise ArgumentError("must be `same`, `causal` or numbers, known where the class is written")
    if value in ("same", "causal"):
        return value
    try:
        return padding(value, rank, guard)
    except ArgumentError:
        try:
            pairs = sides(value, rank, guard)
        except ArgumentError as error:
            raise ArgumentError(error.message.replace("must be", "must be `same`, `causal`,", 1)) from None
        return tuple(b for b, _ in pairs) if all(b == a for b, a in pairs) else pairs


class BindError(Struct, frozen=True):
    kind: str  # "unknown" | "arity" | "duplicate"
    message: str
    index: int | None = None  # which argument is at fault, when one is
    hint: str | None = None


def bind(callee: str, names: Sequence[str], defaults: Sequence[str | None],
         positional: Sequence[object], keywords: Sequence[tuple[str, object]]
         ) -> tuple[dict[str, object], list[BindError]]:
    """Match arguments to parameter names the way Python does, collecting every mistake.

    ``defaults`` has each parameter's default as the hints show it, None where it is required.
    """
    bound: dict[str, object] = {}
    errors: list[BindError] = []
    if len(positional) > len(names):
        errors.append(BindError("arity", f"{callee} takes at most {len(names)} positional "
                                f"argument{'s' if len(names) != 1 else ''}, got {len(positional)}",
                                len(names), _signature_hint(callee, names, defaults)))
    for name, value in zip(names, positional, strict=False):
        bound[name] = value
    repeated: dict[str, tuple[int, int]] = {}  # name given again -> (where first repeated, how often given)
    for offset, (name, value) in enumerate(keywords):
        index = len(positional) + offset
        if name not in names:
            hint = did_you_mean(name, names) or _signature_hint(callee, names, defaults)
            errors.append(BindError("unknown", f"{callee} has no parameter `{name}`", index, hint))
        elif name in bound:
            first, count = repeated.get(name, (index, 1))
            repeated[name] = (first, count + 1)
        else:
            bound[name] = value
    for name, (index, count) in repeated.items():
        times = "twice" if count == 2 else f"{count} times"
        errors.append(BindError("duplicate", f"{callee} got `{name}` {times}", index))
    missing = [n for n, default in zip(names, defaults, strict=True) if default is None and n not in bound]
    if missing:
        listed = ", ".join(f"`{m}`" for m in missing)
        errors.append(BindError("arity", f"{callee} is missing {listed}", None,
                                _signature_hint(callee, names, defaults)))
    return bound, errors


def _signature_hint(callee: str, names: Sequence[str], defaults: Sequence[str | None]) -> str:
    shown = ", ".join(n if d is None else f"{n}={d}" for n, d in zip(names, defaults, strict=True))
    return f"the signature is {callee}({shown})"




def type_name_of(value: Any) -> str:
    """What kind of value a symbolic one is, in the words of the diagnostics."""
    known = type_of(value)
    names = {int: "an integer", float: "a float", bool: "a boolean", str: "a string"}
    return "a tuple" if isinstance(known, tuple) else names.get(known, "a value of any type")
