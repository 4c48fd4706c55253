"""What elaboration passes around: a step's scope, its nodes and type; what the combinators ask of it.

The combinators (``combine.py``) are elaborated through ``Elaborating``: the elaborator's
services they call, so that they need not import the elaborator (which calls them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from msgspec import Struct, field
from msgspec.structs import replace

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.diagnostics import Sink
from archdsl.elaboration.naming import Namespace
from archdsl.front import syntax as ast
from archdsl.front.loader import Program
from archdsl.ir.expr import Sym
from archdsl.ir.tensor import Named, TensorType, pass_key, tensor_key
from archdsl.span import Frame, Span

Type = TensorType | None  # None: unknown after an earlier error
Nodes = list[ir.Node]


class Scope(Struct, frozen=True):
    values: Mapping[str, Any]
    block_input: TensorType | object | None  # what `in` means; UNKNOWN after an error
    namespace: Namespace
    trace: tuple[Frame, ...] = ()
    stack: tuple[str, ...] = ()
    tensors: Mapping[str, Named | None] = field(default_factory=dict)  # the labelled outputs seen here
    labels: Mapping[str, Span] = field(default_factory=dict)  # every label of the definition, and where
    read: frozenset[str] = frozenset()  # the labels the definition reads as tensors: their steps keep them
    looping: frozenset[str] = frozenset()  # the labels the bodies of the loops around name tensors with

    def bind(self, names: Mapping[str, Any]) -> Scope:
        return replace(self, values={**self.values, **names})

    def labelled(self, label: str, t: TensorType | None, parts: tuple[TensorType, ...] = (), key: str = ""
                 ) -> Scope:
        """This scope after a step labelled ``label`` (``key`` in the IR) made ``t`` (or, a split, ``parts``)."""
        named = None if t is None else Named(label, t, parts, "" if key == label else key)
        return replace(self, tensors={**self.tensors, label: named})

    def key(self, call: ast.Call) -> str:
        """The IR's name for the tensor ``call``'s label names here (see ``tensor_key``)."""
        assert call.label is not None
        if self.namespace.pass_symbol is not None:
            return pass_key(call.label)
        index = self.namespace.pass_index(call.label)
        if index is not None:  # one per pass of a loop: ``m[0]``, ``m[1]``, read after the loop as ``@m[i]``
            return f"{call.label}[{index}]"
        at = call.label_span or call.span
        return tensor_key(call.label, call.label in self.tensors, at.line, at.col)


Result = tuple[Nodes, Type]


class Abort(Exception):
    """Elaboration of this network (or template) cannot go on: a global limit, or nothing to assume by."""
Steps = Callable[[Scope, Type], Result]  # elaborates some steps in a scope, from an input type


class Elaborating(Protocol):
    """The elaborator as the combinators and control flow use it."""

    program: Program  # the spec's files: their blocks and texts
    symbolic: bool  # writing a template
    ending: ast.Call | None  # the network's `output(...)` line
    outputs: ir.Outputs | None  # what it gives
    sink: Sink  # where diagnostics go
    reference: dict[Sym, Any]  # each symbol's value in the compiled network
    fresh: int  # symbols made so far
    layer_count: int
    param_count: int
    max_params: int
    forms: dict[Any, Any]  # block bodies elaborated once for calls alike (``blocks.Form``)

    def arguments(self, call: ast.Call, scope: Scope, names: list[str], defaults: Sequence[str | None]
                  ) -> dict[str, Any] | None: ...

    def error(self, code: codes.Code, message: str, span: Span | None, help: str | None = None,
              scope: Scope | None = None) -> None: ...

    def value(self, expr: ast.Expr, scope: Scope) -> Any: ...

    def symbol(self, role: str, kind: Any, reference: Any = ...) -> Any: ...

    def take_pending(self) -> Nodes: ...

    def trial(self, attempt: Any) -> Any: ...

    def assume(self, value: Any, span: Span | None) -> Any: ...

    def bounded(self, t: TensorType, what: str, span: Span, scope: Scope, hint: str = ...) -> bool: ...

    def call(self, call: ast.Call, scope: Scope, t: Type) -> Result: ...

    def name(self, call: ast.Call, scope: Scope, kind: str) -> Any: ...

    def primitive(self, kind_name: str, values: Mapping[str, Any], t: TensorType, call: ast.Call, scope: Scope,
                  name: str | None = None, generated: bool = False) -> tuple[ir.Layer | None, Type]: ...

    def require(self, holds: Any, code: codes.Code | None, message: tuple[Any, ...], span: Span | None) -> None: ...

    def sequence(self, stmts: tuple[ast.Stmt, ...], scope: Scope, t: Type) -> Result: ...

    def steps(self, stmts: tuple[ast.Stmt, ...], scope: Scope, t: Type) -> tuple[Nodes, Type, Scope]: ...
