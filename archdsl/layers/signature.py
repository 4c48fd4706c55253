"""Parameters of layers and blocks: binding call arguments and checking their types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from archdsl.diagnostics import did_you_mean
from archdsl.values import Value, is_int, is_number, show


class ArgumentError(Exception):
    """An argument has the wrong type or value; ``param`` names it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# A checker normalises one argument given the input's spatial rank, or raises ArgumentError.
# The rank is None where an earlier error left the input unknown: then only the argument's type is checked.
Checker = Callable[[Value, int | None], Value]
REQUIRED = object()


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    check: Checker
    default: object = REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def integer(minimum: int = 0) -> Checker:
    def check(value: Value, rank: int | None) -> Value:
        if not is_int(value) or value < minimum:  # type: ignore[operator]
            raise ArgumentError(f"must be an integer of at least {minimum}, got {show(value)}")
        return value
    return check


def number(minimum: float = 0.0, below: float | None = None) -> Checker:
    def check(value: Value, rank: int | None) -> Value:
        ok = is_number(value) and value >= minimum and (below is None or value < below)  # type: ignore[operator]
        if not ok:
            bound = f" and below {below}" if below is not None else ""
            raise ArgumentError(f"must be a number of at least {minimum}{bound}, got {show(value)}")
        return float(value)  # type: ignore[arg-type]
    return check


def boolean(value: Value, rank: int | None) -> Value:
    if not isinstance(value, bool):
        raise ArgumentError(f"must be true or false, got {show(value)}")
    return value


def choice(*options: str) -> Checker:
    def check(value: Value, rank: int | None) -> Value:
        if value not in options:
            raise ArgumentError("must be one of " + ", ".join(show(o) for o in options) + f", got {show(value)}")
        return value
    return check


def per_axis(minimum: int = 1, *, allow_float: bool = False) -> Checker:
    """An int (or float) for every spatial axis, or one value for all of them."""

    def check(value: Value, rank: int | None) -> Value:
        def ok(v: Value) -> bool:
            good_type = is_number(v) if allow_float else is_int(v)
            return good_type and v >= minimum  # type: ignore[operator]

        if ok(value):
            return (value,) * (rank or 1)
        if isinstance(value, tuple) and rank in (None, len(value)) and all(ok(v) for v in value):
            return value
        what = "a number" if allow_float else "an integer"
        tuple_of = f"a tuple of {rank} of them" if rank else "a tuple of them"
        raise ArgumentError(f"must be {what} of at least {minimum}, or {tuple_of} (one per spatial axis), "
                            f"got {show(value)}")
    return check


def padding(value: Value, rank: int | None) -> Value:
    if value == "same":
        return value
    try:
        return per_axis(0)(value, rank)
    except ArgumentError as error:
        raise ArgumentError(error.message.replace("must be", "must be `same`,", 1)) from None


@dataclass(frozen=True, slots=True)
class BindError:
    kind: str  # "unknown" | "arity" | "duplicate"
    message: str
    index: int | None = None  # which argument is at fault, when one is
    hint: str | None = None


def bind(callee: str, names: Sequence[str], required: Sequence[bool],
         positional: Sequence[object], keywords: Sequence[tuple[str, object]]
         ) -> tuple[dict[str, object], list[BindError]]:
    """Match arguments to parameter names the way Python does, collecting every mistake."""
    bound: dict[str, object] = {}
    errors: list[BindError] = []
    if len(positional) > len(names):
        errors.append(BindError("arity", f"{callee} takes at most {len(names)} positional "
                                f"argument{'s' if len(names) != 1 else ''}, got {len(positional)}",
                                len(names), _signature_hint(callee, names, required)))
    for name, value in zip(names, positional, strict=False):
        bound[name] = value
    repeated: dict[str, tuple[int, int]] = {}  # name given again -> (where first repeated, how often given)
    for offset, (name, value) in enumerate(keywords):
        index = len(positional) + offset
        if name not in names:
            hint = did_you_mean(name, names) or _signature_hint(callee, names, required)
            errors.append(BindError("unknown", f"{callee} has no parameter `{name}`", index, hint))
        elif name in bound:
            first, count = repeated.get(name, (index, 1))
            repeated[name] = (first, count + 1)
        else:
            bound[name] = value
    for name, (index, count) in repeated.items():
        times = "twice" if count == 2 else f"{count} times"
        errors.append(BindError("duplicate", f"{callee} got `{name}` {times}", index))
    missing = [n for n, req in zip(names, required, strict=True) if req and n not in bound]
    if missing:
        listed = ", ".join(f"`{m}`" for m in missing)
        errors.append(BindError("arity", f"{callee} is missing {listed}", None,
                                _signature_hint(callee, names, required)))
    return bound, errors


def _signature_hint(callee: str, names: Sequence[str], required: Sequence[bool]) -> str:
    shown = ", ".join(n if req else f"{n}=…" for n, req in zip(names, required, strict=True))
    return f"the signature is {callee}({shown})"


