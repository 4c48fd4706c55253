"""Plain functions the emitted Python calls: torch-free, so the compiler evaluates with the same code.

The Python back end copies the source of those a file uses into it.
"""

from __future__ import annotations


def require(holds: bool, message: str) -> None:
    """Refuses arguments the spec's checks refuse, in their words."""
    if not holds:
        raise ValueError(message)


def tupled(value: object) -> object:
    """An argument with its lists made tuples, as the spec's language makes them (``archdsl.build`` too)."""
    return tuple(tupled(item) for item in value) if isinstance(value, (list, tuple)) else value


def axis(value: int | tuple[int, ...], index: int) -> int:
    """A per-axis argument's value along one axis: the value itself where one is given for all."""
    return value[index] if isinstance(value, tuple) else value


def per_axis(value: int | tuple[int, ...], rank: int) -> tuple[int, ...]:
    """A per-axis argument as one value per axis."""
    return value if isinstance(value, tuple) else (value,) * rank


def past_taken(number: int, taken: tuple[int, ...]) -> int:
    """``number`` moved past each of the sorted ``taken`` numbers at or below it: names skip the spec's labels."""
    for label in taken:
        if label <= number:
            number += 1
    return number


def half(k: int | tuple[int, ...]) -> int | tuple[int, ...]:
    """k // 2, axis by axis for a tuple: the padding that keeps an odd kernel's size."""
    return tuple(v // 2 for v in k) if isinstance(k, tuple) else k // 2
