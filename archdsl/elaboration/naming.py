"""Names of steps: labels from the spec, generated names for the rest.

Names become attribute names and ``state_dict`` keys of the emitted module, so they
must be unique in their module, legal Python identifiers and stable: an unnamed
step is called after its kind with a per-kind counter (``conv1``, ``bn1``, ``conv2``),
which is how torchvision names its layers; inside an indexed group (a named ``seq``,
like ``nn.Sequential``) unnamed steps are numbered from 0.
"""

from __future__ import annotations

import functools
import keyword
from pathlib import Path
from typing import Any

from archdsl.front import syntax as ast
from archdsl.ir.expr import is_symbolic, op, where
from archdsl.ir.helpers import past_taken

TRANSPARENT = frozenset({"residual", "shortcut", "concat", "add", "mul", "branch", "gate", "seq", "repeat", "from"})


@functools.cache
def module_attributes() -> frozenset[str]:
    """Attributes of torch's nn.Module that a submodule name would shadow, read from data (no torch import)."""
    text = Path(__file__).with_name("module_attributes.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def label_problem(label: str) -> str | None:
    """Why ``label`` cannot name a submodule, or None when it can."""
    if keyword.iskeyword(label):
        return f"`{label}` is a Python keyword"
    if label in module_attributes():
        return f"`{label}` is an attribute of torch's nn.Module"
    if label.startswith("_"):
        return "names starting with `_` are reserved for the emitted code"
    return None


def labels_in(stmts: tuple[ast.Stmt, ...], indexed: bool = False) -> frozenset[str]:
    """Labels that will land in the namespace these statements are elaborated in.

    In an ``indexed`` namespace an unnamed ``seq`` is a sub-module of its own.
    """
    found: set[str] = set()
    stack = list(stmts)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ast.For):
            stack.extend(stmt.body)
        elif isinstance(stmt, ast.If):
            stack.extend(s for body in stmt.bodies() for s in body)
        elif isinstance(stmt, ast.Call):
            if stmt.label is not None:
                found.add(stmt.label)
            elif stmt.callee in TRANSPARENT and stmt.body and not (indexed and stmt.callee == "seq"):
                stack.extend(stmt.body)
    return frozenset(found)


class Namespace:
    """The attribute names of one module, handed out in dataflow order.

    In a template the count of a kind may not be known (after an ``if`` or a loop on a
    parameter): a counter is then an expression, and so is the name it gives
    (``Op("name", prefix, number)``, ``f"conv{n + 1}"`` in the emitted code).
    """

    def __init__(self, reserved: frozenset[str] = frozenset(), indexed: bool = False):
        self.reserved = reserved
        self.indexed = indexed
        self.used: set[str] = set()
        self.maybe: dict[str, Any] = {}  # names taken in one branch of a choice only: the condition they are under
        self.counters: dict[str, Any] = {}
        self.looping = 0  # the depth of the unrolled loops being elaborated here
        self.pass_symbol: Any = None  # in a template, the pass counter of the loop of the class being elaborated
        self.loops: dict[str, Any] = {}  # per label named in a loop, where that loop stands
        self.passes: dict[str, list[Any]] = {}  # per label, the types of the tensors it has named in loops

    def copy(self) -> Namespace:
        other = Namespace(self.reserved, self.indexed)
        other.adopt(self)
        return other

    def adopt(self, other: Namespace) -> None:
        """The names as ``other`` left them: the one branch of a choice the class keeps."""
        self.used, self.maybe, self.counters = set(other.used), dict(other.maybe), dict(other.counters)
        self.looping, self.passes = other.looping, {label: list(types) for label, types in other.passes.items()}
        self.pass_symbol, self.loops = other.pass_symbol, dict(other.loops)

    def merge(self, condition: Any, then: Namespace, otherwise: Namespace) -> None:
        """The names after a choice: each count as its branch left it; a name one branch took is taken under
        that branch's condition."""
        self.used = then.used & otherwise.used
        self.maybe = {}
        for name in (then.used | otherwise.used | then.maybe.keys() | otherwise.maybe.keys()) - self.used:
            in_then = name in then.used or then.maybe.get(name, False)
            in_otherwise = name in otherwise.used or otherwise.maybe.get(name, False)
            self.maybe[name] = op("or", op("and", condition, in_then), op("and", op("not", condition), in_otherwise))
        for kind in then.counters.keys() | otherwise.counters.keys():
            self.counters[kind] = where(condition, then.counters.get(kind, 0), otherwise.counters.get(kind, 0))

    def taken(self, prefix: str) -> tuple[int, ...]:
        """The numbers of the labels here that look like names generated with ``prefix`` (``conv2``), sorted."""
        return tuple(sorted(int(name[len(prefix):]) for name in self.reserved
                            if name.startswith(prefix) and name[len(prefix):].isdigit()
                            and name == f"{prefix}{int(name[len(prefix):])}"))

    def increments(self, after: Namespace) -> dict[str, Any]:
        """How much each count grew from this namespace to ``after`` (one pass of a loop)."""
        return {kind: count - self.counters.get(kind, 0) for kind, count in after.counters.items()
                if count != self.counters.get(kind, 0)}

    def at_pass(self, index: Any, increments: dict[str, Any]) -> Namespace:
        """The names at the start of pass ``index`` of a loop that adds ``increments`` per pass."""
        other = self.copy()
        for kind, step in increments.items():
            other.counters[kind] = self.counters.get(kind, 0) + index * step
        return other

    def after_passes(self, count: Any, increments: dict[str, Any]) -> None:
        for kind, step in increments.items():
            self.counters[kind] = self.counters.get(kind, 0) + count * step

    def name(self, label: str | None, kind: str) -> Any:
        """``label`` if given and free (None if already used), else the next generated name. Inside a loop a
        label names a list, one module per pass: ``m.0``, ``m.1`` (``nn.ModuleList``, as Ultralytics' C2f)."""
        if label is not None and self.pass_symbol is not None:  # the class's loop: `self.m[i]`
            if label in self.used or label in self.maybe:
                return None
            self.used.add(label)
            return op("name", f"{label}.", self.pass_symbol)
        if label is not None:
            listed = label in self.passes
            if label in self.maybe or (label in self.used and listed != bool(self.looping)):
                return None
            self.used.add(label)
            return f"{label}.{len(self.passes.get(label, ()))}" if self.looping else label
        if self.indexed:
            return self._next("", "index")
        return self._next(kind, kind)

    def claim(self, preferred: str) -> Any:
        """``preferred`` itself when free, else ``preferred`` with the next free counter."""
        if preferred in self.used or preferred in self.reserved:  # a label anywhere in the definition reserves it
            return self._next(preferred, preferred)
        if preferred in self.maybe:  # taken where a choice went one way: numbered there, itself otherwise
            taken = self.maybe.pop(preferred)
            before = self.counters.get(preferred, 0)
            numbered = self._next(preferred, preferred)
            self.counters[preferred] = where(taken, self.counters[preferred], before)
            if isinstance(numbered, str):
                self.used.discard(numbered)
                self.maybe[numbered] = taken
            self.used.add(preferred)
            return where(taken, numbered, preferred)
        self.used.add(preferred)
        return preferred

    def pass_index(self, label: str) -> int | None:
        """Which of ``label``'s tensors made in loops the current one is; None outside loops."""
        return len(self.passes.get(label, ())) if self.looping else None

    def made_in_pass(self, label: str, t: Any) -> None:
        """Notes a tensor of type ``t`` that ``label`` named in a loop (after its step has its module name)."""
        if self.looping:
            self.passes.setdefault(label, []).append(t)

    def _next(self, prefix: str, counter: str) -> Any:
        """The next generated name: counters count the names handed out; numbering skips labels."""
        while True:
            count = self.counters.get(counter, 0)
            self.counters[counter] = count + 1
            number = count + (0 if self.indexed and not prefix else 1)
            taken = self.taken(prefix) if prefix else ()
            if is_symbolic(number):  # a template's name: skipping the labels is left to the emitted code
                return op("name", prefix, op("past_taken", number, taken) if taken else number)
            candidate = f"{prefix}{past_taken(number, taken)}"
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate

