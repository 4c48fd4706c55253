"""A lower bound on the layers a piece of spec expands to, read from the text before elaboration.

Blocks that call another block twice double with each level: thirty such levels are a
billion layers, and elaborating them one by one only reaches the layer limit after many
seconds. Counting first, with every count the text fixes (literal `repeat` and `dense`
counts, literal `for` lists and ranges, the smaller side of an `if`), refuses such a
network at once. A network's own steps also read its parameters' values (`repeat(k)` with
`k=10000`); counts that depend on a block's parameters count as zero, so the bound never
exceeds the truth.
"""

from __future__ import annotations

from collections.abc import Mapping

from archdsl.elaboration.evaluation import evaluate
from archdsl.front import syntax as ast
from archdsl.ir.combinators import COMBINATORS
from archdsl.ir.expr import is_symbolic
from archdsl.ir.layers import LAYERS
from archdsl.ir.values import EvalError, Value


class LeastLayers:
    """Lower bounds, capped at ``cap`` so that no count grows without end.

    Repeat counts over ``max_count`` and blocks nested over ``max_depth`` count as zero:
    the elaborator refuses those with errors of their own.
    """

    def __init__(self, blocks: Mapping[str, ast.Definition], cap: int, max_count: int, max_depth: int):
        self.blocks = blocks
        self.cap = cap
        self.max_count = max_count
        self.max_depth = max_depth
        self._of_block: dict[str, int] = {}
        self._active: set[str] = set()  # blocks being counted: a recursive call counts as zero

    def of(self, stmts: tuple[ast.Stmt, ...], known: Mapping[str, Value] | None = None) -> int:
        """The bound for ``stmts``, reading the ``known`` values of the names they may use."""
        known = known or {}
        return min(self.cap, sum(self._statement(stmt, known) for stmt in stmts))

    def _statement(self, stmt: ast.Stmt, known: Mapping[str, Value]) -> int:
        if isinstance(stmt, ast.If):
            return min(self.of(body, known) for body in stmt.bodies())
        if isinstance(stmt, ast.For):
            items = _constant(stmt.iterable, known)
            inside = {name: value for name, value in known.items() if name not in stmt.targets}
            return min(self.cap, len(items) * self.of(stmt.body, inside)) if isinstance(items, tuple) else 0
        if isinstance(stmt, ast.Call):
            return self._call(stmt, known)
        return 0

    def _call(self, call: ast.Call, known: Mapping[str, Value]) -> int:
        if call.callee in ("repeat", "dense") and call.body is not None:
            count = _constant(call.args[0].value, known) if call.args else None
            if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= self.max_count:
                return 0
            return min(self.cap, count * self.of(call.body, known))
        if call.callee in COMBINATORS:
            return self.of(call.body or (), known)
        if call.callee in LAYERS:
            return 1
        if call.callee in self.blocks and call.callee not in self._active and len(self._active) < self.max_depth:
            if call.callee not in self._of_block:
                self._active.add(call.callee)
                self._of_block[call.callee] = self.of(self.blocks[call.callee].body)
                self._active.discard(call.callee)
            return self._of_block[call.callee]
        return 0


def _constant(expr: ast.Expr, known: Mapping[str, Value]) -> Value | None:
    """The value of an expression that names nothing but ``known`` values, else None."""
    try:
        value = evaluate(expr, known, None)
    except EvalError:
        return None
    return None if is_symbolic(value) else value
