"""Long arithmetic over a class's arguments, computed once at the top of ``__init__`` under a name.

DenseNet's channel counts grow stage by stage (``int((int((64 + 6 * growth) * 0.5) + 12 * growth) * 0.5)``);
written out in every call and rule they make lines no one reads. torchvision keeps a running
``num_features`` instead; here each such expression becomes a local (``channels = ...``), named
bottom-up so that each reads the one before. Only what cannot raise moves to the top: sums,
products, ``int``, ``min`` and ``max`` of integer arguments and constants, division by a constant.
Anything else stays where it is, after the rules that guard it (``s >= 1`` before ``64 // s``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archdsl.back.pynames import Names
from archdsl.ir.expr import Op, Sym, python, type_of, walk

LONGEST = 40  # the characters an expression may take in the source before it is named
LOCAL = "local"  # the role of the symbols that stand for the named expressions
_SAFE = frozenset({"+", "-", "*", "neg", "pos", "int", "min", "max", "abs", "==", "!=", "<", "<=", ">", ">=",
                   "and", "or", "not", "if"})
_BY_CONSTANT = frozenset({"/", "//", "%"})


class Locals:
    """The expressions a class names, in the order they must be computed."""

    def __init__(self, names: Names, name_of: Callable[[Sym], str], given: Callable[[Sym], bool],
                 channel_counts: set[Any]):
        self.names = names
        self.name_of = name_of
        self.given = given  # whether a symbol is an argument of the constructor (known before anything runs)
        self.channel_counts = channel_counts  # expressions that are some tensor's channels: named ``channels``
        self.named: dict[Any, Sym] = {}
        self.definitions: list[tuple[str, Any]] = []  # (name, expression over earlier names)

    def shortened(self, value: Any) -> Any:
        """``value`` with each long expression it holds over the arguments replaced by a local."""
        if isinstance(value, tuple):
            return tuple(self.shortened(v) for v in value)
        if not isinstance(value, Op):
            return value
        if value in self.named:
            return self.named[value]
        shorter = Op(value.name, tuple(self.shortened(a) for a in value.args))
        if len(python(shorter, self.name_of)) <= LONGEST or not self._movable(value):
            return shorter
        local = Sym(self.names.create("channels" if value in self.channel_counts else "size"), LOCAL, int)
        self.named[value] = local
        self.definitions.append((local.name, shorter))
        return local

    def _movable(self, value: Any) -> bool:
        """An integer that can be computed before any rule is tested: it cannot raise."""
        if type_of(value) is not int:
            return False
        for part in walk(value):
            if isinstance(part, Sym):
                if part.role != LOCAL and not (part.type is int and self.given(part)):
                    return False
            elif isinstance(part, Op):
                divisor = part.args[-1]
                by_constant = part.name in _BY_CONSTANT and isinstance(divisor, (int, float)) and divisor != 0
                if part.name not in _SAFE and not by_constant:
                    return False
            elif not isinstance(part, (int, float)):
                return False
        return True
