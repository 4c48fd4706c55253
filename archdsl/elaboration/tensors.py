"""Named tensors: a labelled step's output, read later in its definition as ``@name``.

A label is seen by the steps after it in its own body and in the bodies nested there: not
before it, not after the body it stands in has ended, and not inside the blocks it calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from msgspec import Struct
from msgspec.structs import astuple

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.diagnostics import closest
from archdsl.elaboration.scope import Elaborating, Result, Scope, Type
from archdsl.front import syntax as ast
from archdsl.ir import flow
from archdsl.ir.expr import equals, is_symbolic, op
from archdsl.ir.tensor import Named, TensorType
from archdsl.ir.values import UNKNOWN, EvalError, _Unknown, contains_unknown, is_int, show
from archdsl.remembered import by_identity
from archdsl.span import Span


@by_identity(kept=4096)
def of_definition(body: tuple[ast.Stmt, ...]) -> dict[str, Any]:
    """What a definition's scope knows of its tensors from the start: every label and where it stands, and the
    labels some step reads (``Scope.labels``, ``Scope.read``). Read once per body, not at each call of a block:
    reading it is a walk over every node."""
    return {"labels": MappingProxyType(labelled_steps(body)), "read": frozenset(_references(body))}


def _references(node: Any) -> Iterator[str]:
    """The labels every ``@name`` under a syntax node reads."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, tuple):
            stack.extend(current)
        elif isinstance(current, ast.TensorRef):
            yield current.name
        elif isinstance(current, Struct) and not isinstance(current, Span):
            stack.extend(astuple(current))


def labelled_steps(stmts: tuple[ast.Stmt, ...]) -> dict[str, Span]:
    """Where each label of a definition's body stands, however deep (the first, where one repeats)."""
    found: dict[str, Span] = {}
    stack = list(reversed(stmts))
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ast.For):
            stack.extend(reversed(stmt.body))
        elif isinstance(stmt, ast.If):
            stack.extend(reversed([s for body in stmt.bodies() for s in body]))
        elif isinstance(stmt, ast.Call):
            if stmt.label is not None:
                found.setdefault(stmt.label, stmt.label_span or stmt.span)
            stack.extend(reversed(stmt.body or ()))
    return found


def read(name: str, span: Span, scope: Scope, in_block: bool) -> Named | _Unknown:
    """``@name`` where ``scope`` holds the tensors this step may read and every label of the definition, and
    ``in_block`` says whether the definition is a block (which sees only what it is given)."""
    seen, labels = scope.tensors, scope.labels
    if name in seen:
        named = seen[name]
        return UNKNOWN if named is None else named
    if name in scope.looping:
        raise EvalError(codes.UNKNOWN_TENSOR, f"`@{name}` is read before this loop has labelled one: the first "
                        "pass has none", span, f"label a tensor `{name}` before the loop for the first pass to read, "
                        "as a tensor carried from pass to pass")
    if name in labels:
        at = labels[name]
        if (at.line, at.col) > (span.line, span.col):
            raise EvalError(codes.UNKNOWN_TENSOR, f"`@{name}` is made later, at line {at.line}", span,
                            "a step reads only tensors made before it")
        raise EvalError(codes.UNKNOWN_TENSOR, f"`@{name}` is not seen here: it is labelled at line {at.line}, "
                        "inside a body that has ended", span,
                        "read it inside that body, or label a step of this body")
    match = closest(name, seen)
    raise EvalError(codes.UNKNOWN_TENSOR, f"unknown tensor `@{name}`", span,
                    f"did you mean `@{match}`?" if match else
                    f"a block sees only its own labels and the tensors it is given: declare `@{name}` as a "
                    "parameter, `block name(@" + name + ", ...)`, and pass it at the call" if in_block else
                    f"label a step (`{name}: conv(...)`) to read its output as `@{name}`")


def reading(el: Elaborating, value: Any, span: Span, call: ast.Call, scope: Scope, t: Type, joined: bool = False
            ) -> Result:
    """A path that starts at the tensor ``value`` names (``@x``), where the current one is ``t``; ``joined``: in a
    join, which takes every tensor a loop of a class labelled as one path."""
    if contains_unknown(value):
        return [], None
    if not isinstance(value, Named):
        el.error(codes.ARGUMENT_TYPE, f"`{call.callee}` reads a labelled tensor, `@name`, not {show(value)}", span,
                 "label a step (`skip: conv(...)`) and pass `@skip`", scope)
        return [], None
    if value.several and not (joined and value.count is not None):
        el.error(codes.ARGUMENT_TYPE, f"`@{value.label}` is {value.several}: read one", span,
                 f"`@{value.label}[0]` is the first, `@{value.label}[-1]` the last", scope)
        return [], None
    return [ir.Read(value.ref, value.type if t is None else t, value.type, span, value.count)], value.type


def each(value: Any) -> tuple[Any, ...]:
    """The tensors a value stands for where several may be joined: a split's parts, a block's tuple, every
    tensor a label named in a loop; else the value itself."""
    return value.every() if isinstance(value, Named) and value.parts else (value,)


def from_(el: Elaborating, call: ast.Call, scope: Scope, t: Type, steps: Callable[[Type], Result]) -> Result:
    """``from(@x) { ... }``: ``steps`` on the labelled tensor ``@x`` instead of the current one."""
    values = el.arguments(call, scope, ["tensor"], [None])
    if values is None:
        return [], None
    read, t_read = reading(el, values["tensor"], call.args[0].span, call, scope, t)
    if t_read is None or call.body is None:
        return read, t_read
    nodes, t_out = steps(t_read)
    return [*read, *nodes], t_out


def unread(el: Elaborating, call: ast.Call, made: list[ir.Node], scope: Scope) -> None:
    """W305 for a label that names no module (``m3: add(@a, @b)``) on a tensor that no step reads."""
    if made and not any(isinstance(n, (ir.Layer, ir.Group)) for node in made for n in ir.walk(node)):
        el.error(codes.UNREAD_TENSOR, f"`{call.label}` labels a step that makes no module, and no step reads "
                 f"`@{call.label}`: the label does nothing", call.label_span or call.span,
                 f"drop the label, or read the tensor later as `@{call.label}`", scope)


def dead(el: Elaborating, steps: tuple[ir.Node, ...], outputs: ir.Outputs | None, scope: Scope) -> None:
    """W306 at the first of each run of steps whose tensor nothing the definition gives needs: they are built
    and never run (see ``flow.dead_steps``)."""
    skipped = flow.dead_steps(steps, outputs)
    previous = False
    for node in steps:
        made = id(node) in skipped and not isinstance(node, (ir.Keep, ir.Split, ir.Unpack, ir.Read, ir.Require))
        if made and not previous:
            el.error(codes.DEAD_STEP, "nothing reads the output of this step: it is built, and never run", node.span,
                     "label it and read it later (`@name`), or remove it", scope)
        previous = made or (previous and id(node) in skipped)


def split(el: Elaborating, call: ast.Call, scope: Scope, t: Type) -> Result:
    """``parts: split((32, 32))``: the current tensor's channels in parts of those sizes, read as ``@parts[0]``,
    ``@parts[1]`` (ShuffleNet's channel split, YOLO's C2f); the current tensor flows on unchanged."""
    values = el.arguments(call, scope, ["sizes"], [None])
    if values is None or t is None:
        return [], None
    sizes = values["sizes"]
    if call.label is None or call.body is not None:
        el.error(codes.MISPLACED, "a split names its parts by a label, and takes no `{ }` body", call.span,
                 "label it and read the parts by index: `parts: split((32, 32))`, then `@parts[0]`", scope)
        return [], None
    if not isinstance(sizes, tuple) or len(sizes) < 2:
        el.error(codes.ARGUMENT_TYPE, f"split needs two or more channel counts, got {show(sizes)}",
                 call.args[0].span, "give the size of every part: `split((32, 32))`", scope)
        return [], None
    total: Any = 0
    for size in sizes:
        if is_symbolic(size):
            el.require(op("and", op("is_int", size), size >= 1), codes.ARGUMENT_TYPE,
                       ("split sizes must be integers of at least 1, got ", size), call.span)
        elif not is_int(size) or size < 1:
            el.error(codes.ARGUMENT_TYPE, f"split sizes must be integers of at least 1, got {show(size)}",
                     call.args[0].span, scope=scope)
            return [], None
        total = op("+", total, size)
    if is_symbolic(total) or is_symbolic(t.channels):
        el.require(equals(total, t.channels), codes.ARGUMENT_TYPE,
                   ("split sizes add up to ", total, ", but the input has ", t.channels, " channels"), call.span)
    elif total != t.channels:
        el.error(codes.ARGUMENT_TYPE, f"split sizes add up to {total}, but the input {t} has {t.channels} channels",
                 call.args[0].span, "the parts must cover every channel once", scope)
        return [], None
    return [ir.Split(scope.key(call), sizes, t, t, call.span)], t


def unpacked(el: Elaborating, call: ast.Call, made: list[ir.Node], scope: Scope
             ) -> tuple[list[ir.Node], tuple[TensorType, ...]]:
    """A step's nodes, and the types of the parts its label names: a split's, or the tuple a block gives
    (``output(@a, @b)``), which an ``Unpack`` keeps as ``@m[0]``, ``@m[1]`` while the first flows on."""
    last = made[-1] if made else None
    if call.callee == "split" and isinstance(last, ir.Split):
        return made, tuple(last.input.with_shape(size) for size in last.sizes)
    if not (isinstance(last, ir.Group) and last.gives is not None and len(last.gives.items) > 1):
        return made, ()
    if call.label is None:
        el.error(codes.MISPLACED, f"`{call.callee}` gives {len(last.gives.items)} tensors: label the call to read "
                 "them", call.span, f"`parts: {call.callee}(...)`, then `@parts[0]`, `@parts[1]`", scope)
        return [], ()
    types = tuple(item.type for item in last.gives.items)
    return [*made, ir.Unpack(scope.key(call), len(types), types[0], types[0], call.span)], types


def given(el: Elaborating, definition: ast.Definition, values: Mapping[str, Any], call: ast.Call | None,
          scope: Scope) -> tuple[Scope, tuple[ir.Given, ...]] | None:
    """The block's scope where each tensor parameter reads what the call gives (``merge(@c3, 64)``: ``@skip`` is
    ``@c3``), and those tensors; None (after reporting) where a tensor parameter is given a value, or another
    parameter a tensor. ``call`` is None for a template, whose tensor parameters are symbolic already."""
    found: list[ir.Given] = []
    spans = {} if call is None else {name: arg.span for name, arg in call.by_parameter(
        [p.name for p in definition.params])}
    for param in definition.params:
        value: Any = values.get(param.name)
        if contains_unknown(value):
            return None
        span = spans.get(param.name, param.span)
        if isinstance(value, Named) and value.several:
            el.error(codes.ARGUMENT_TYPE, f"`@{value.label}` is {value.several}: pass one", span,
                     f"`@{value.label}[0]` is the first", scope)
            return None
        if param.tensor:
            if not isinstance(value, Named):
                el.error(codes.ARGUMENT_TYPE, f"`{param.name}` of `{definition.name}` is a tensor parameter: it "
                         f"takes a labelled tensor, `@name`, not {show(value)}", span,
                         f"label a step (`skip: conv(...)`) and pass `@skip`; inside, `@{param.name}` reads it",
                         scope)
                return None
            found.append(ir.Given(param.name, value.ref, value.type))
            scope = scope.labelled(param.name, value.type)
        elif isinstance(value, Named):
            el.error(codes.ARGUMENT_TYPE, f"`{param.name}` of `{definition.name}` takes a value, not the tensor "
                     f"`@{value.label}`", span, f"pass a number, or a size of the tensor: `@{value.label}.c`, "
                     f"`@{value.label}.spatial`", scope)
            return None
    return scope, tuple(found)


def entering(scope: Scope, t: Type, span: Span) -> tuple[Scope, list[ir.Node]]:
    """A definition's scope where ``@in`` reads its input, and the node keeping it where some step does."""
    if t is None:  # unknown after an error: `@in` reads nothing, and says nothing more
        return scope.labelled("in", None), []
    return scope.labelled("in", t), [ir.Keep("in", t, t, span)] if "in" in scope.read else []
