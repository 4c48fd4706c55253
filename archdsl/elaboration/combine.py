"""Elaboration of the combinators, by a table: seq, concat, add, mul, gate, dense here, residual in ``residual.py``.

Unnamed combinators are transparent: their steps are named in the enclosing
module. A named one (``stage1: residual { }``) becomes one indexed sub-module, and
so does an unnamed ``seq`` inside an indexed group, as ``nn.Sequential`` nests.

In a template, shapes are expressions: a rule that compares them (a residual's two
sides must agree) becomes a guard, and a residual's projection exists where the
body changes the channels or strides, which is a condition on the class's arguments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.elaboration import control, tensors
from archdsl.elaboration.bodies import agree, flatten, path
from archdsl.elaboration.naming import Namespace, labels_in
from archdsl.elaboration.residual import residual
from archdsl.elaboration.scope import Elaborating, Nodes, Result, Scope, Type
from archdsl.front import syntax as ast
from archdsl.ir.expr import equals, is_symbolic, op, symbols
from archdsl.ir.tensor import TensorType, spoken
from archdsl.ir.values import is_int, show
from archdsl.span import Span


def combine(el: Elaborating, call: ast.Call, scope: Scope, t: Type) -> Result:
    if call.callee == "from":  # labelled, its steps are one module the tensor flows into: p5 = self.p5(c5)
        return tensors.from_(el, call, scope, t, lambda t_in: _labelled(
            el, call, scope, t_in, lambda inner: el.sequence(call.body or (), inner, t_in))
            if call.label is not None else el.sequence(call.body or (), scope, t_in))
    if call.body is None and not (call.callee in ("concat", "add", "mul") and call.args):
        el.error(codes.MISPLACED, f"`{call.callee}` needs a `{{ }}` body", call.span, scope=scope)
        return [], None
    handler = _HANDLERS[call.callee]
    # Inside a numbered group (like nn.Sequential) an unnamed seq is one numbered element;
    # elsewhere it only groups steps.
    nested_element = call.callee == "seq" and scope.namespace.indexed
    if call.label is None and not nested_element:
        return handler(el, call, scope, t)
    return _labelled(el, call, scope, t, lambda inner: handler(el, call, inner, t))


def _labelled(el: Elaborating, call: ast.Call, scope: Scope, t: Type, steps: Callable[[Scope], Result]) -> Result:
    """``steps`` as one indexed sub-module named by the call's label (or numbered, in an indexed group); steps
    that make no module (``m3: add(@a, @b)``) stay as they are, the label naming their output only."""
    inner = replace(scope, namespace=Namespace(labels_in(call.body or (), indexed=True), indexed=True))
    nodes, t_out = steps(inner)
    if t is None or t_out is None:
        return [], None
    if not any(isinstance(n, (ir.Layer, ir.Group)) for node in nodes for n in ir.walk(node)):
        return [*el.take_pending(), *nodes], t_out
    return [ir.Group("seq", el.name(call, scope, "seq"), (*el.take_pending(), *nodes), t, t_out, call.span,
                     indexed=True)], t_out


def _seq(el: Elaborating, call: ast.Call, scope: Scope, t: Type) -> Result:
    el.arguments(call, scope, [], [])
    return el.sequence(call.body or (), scope, t)


def _branches(el: Elaborating, call: ast.Call, scope: Scope, t: Type
              ) -> tuple[list[Nodes], list[Type], list[Span], list[str]]:
    """Each branch's nodes, output type, span and name in messages: the tensors given (``add(@a, @b)``), then
    the ``branch { }`` bodies."""
    paths: list[Nodes] = []
    types: list[Type] = []
    spans: list[Span] = []
    names: list[str] = []
    for arg in call.args:
        if arg.name is not None:
            el.error(codes.UNKNOWN_PARAMETER, f"`{call.callee}` takes no parameter `{arg.name}`", arg.span,
                     "give the tensors to join by position: `add(@a, @b)`", scope)
            continue
        value = el.value(arg.value, scope)
        for one in tensors.each(value):  # a label of several tensors joins them all: `concat(@y, @m)`
            nodes, t_read = tensors.reading(el, one, arg.span, call, scope, t, joined=True)
            paths.append(nodes)
            types.append(t_read)
            spans.append(arg.span)
            names.append(f"`@{spoken(nodes[0].label)}`" if nodes else "?")  # type: ignore[union-attr]
    for inner_call, inner_scope in flatten(el, call.body or (), scope):
        spans.append(inner_call.span)
        names.append(f"branch {len(names) + 1}")
        if inner_call.callee != "branch":
            el.error(codes.MISPLACED, f"only `branch {{ }}` may stand inside {call.callee}, not "
                      f"`{inner_call.callee}`", inner_call.callee_span, "wrap the steps in `branch { }`", scope)
            types.append(None)
            continue
        nodes, t_out = path(el, inner_call, inner_scope, t)
        paths.append([*el.take_pending(), *nodes])
        types.append(t_out)
    if not types:
        el.error(codes.MISPLACED, f"{call.callee} has no branches", call.span, "add `branch { }` bodies", scope)
    return paths, types, spans, names


def _shapes(call: ast.Call, outs: list[TensorType], names: list[str]) -> str:
    """The branches' shapes for a message, each after its tensor's name where the join was given tensors."""
    if not call.args:
        return ", ".join(str(o) for o in outs)
    return ", ".join(f"{name} {o}" for name, o in zip(names, outs, strict=True))


def _odd_one(keys: list[Any]) -> int:
    """The index of the first branch that differs from what most branches (or, in a tie, the first) give."""
    counts = Counter(keys)
    usual = max(counts, key=lambda key: (counts[key], key == keys[0]))
    return next(i for i, key in enumerate(keys) if key != usual)


def _concat(el: Elaborating, call: ast.Call, scope: Scope, t: Type) -> Result:
    paths, types, spans, names = _branches(el, call, scope, t)
    if t is None or not types or any(b is None for b in types):
        return [], None
    outs: list[TensorType] = types  # type: ignore[assignment]
    symbolic = is_symbolic(tuple(o.shape for o in outs))
    if symbolic:
        for out, span in zip(outs[1:], spans[1:], strict=True):
            agree(el, out.with_shape(outs[0].channels), outs[0], codes.JOIN_SHAPE, span,
                   lambda: ("concat branches differ in spatial size",))
    elif len({(o.rank, o.spatial) for o in outs}) > 1:
        odd = _odd_one([(o.rank, o.spatial) for o in outs])
        el.error(codes.JOIN_SHAPE, f"concat branches differ in spatial size: {_shapes(call, outs, names)}",
                  spans[odd], f"{names[odd]} gives {outs[odd]}; every branch must keep the same spatial size: "
                  "check strides and padding", scope)
        usual = outs[1 if odd == 0 else 0]
        return [], usual.with_shape(sum(o.channels for o in outs))  # later steps are still checked
    total: Any = 0
    for out, branch_path in zip(outs, paths, strict=True):  # every tensor a loop of the class labelled: as many times
        total = total + out.channels * _tensors_in(branch_path)
    t_out = outs[0].with_shape(total)
    if not el.bounded(t_out, "concat output", call.span, scope):
        return [], None
    return [ir.Concat(tuple(tuple(p) for p in paths), t, t_out, call.span)], t_out


def _tensors_in(path: Nodes) -> Any:
    """How many tensors a join's path gives: one, or in a template every tensor a loop labelled (``@m``)."""
    first = path[0] if len(path) == 1 else None
    return first.count if isinstance(first, ir.Read) and first.count is not None else 1


def _elementwise(el: Elaborating, call: ast.Call, scope: Scope, t: Type) -> Result:
    """``add`` or ``mul``: branches of one shape, summed or multiplied element by element."""
    kind = call.callee
    paths, types, spans, names = _branches(el, call, scope, t)
    if t is None or not types or any(b is None for b in types):
        return [], None
    outs: list[TensorType] = types  # type: ignore[assignment]
    if is_symbolic(tuple(o.shape for o in outs)):
        for out, span in zip(outs[1:], spans[1:], strict=True):
            agree(el, out, outs[0], codes.JOIN_SHAPE, span, lambda: (f"{kind} branches differ in shape",))
    elif len(set(outs)) > 1:
        odd = _odd_one(outs)
        el.error(codes.JOIN_SHAPE, f"{kind} branches differ in shape: {_shapes(call, outs, names)}", spans[odd],
                  f"{names[odd]} gives {outs[odd]}; every branch must produce the same shape", scope)
        return [], outs[1 if odd == 0 else 0]  # later steps are still checked
    operator = "+" if kind == "add" else "*"
    return [ir.Elementwise(operator, tuple(tuple(p) for p in paths), t, outs[0], call.span)], outs[0]


def broadcasts(small: TensorType, big: TensorType) -> Any:
    """Whether ``small`` broadcasts over ``big``: a bool, or a condition where sizes are symbolic."""
    if small.rank != big.rank:
        return False
    fits: Any = True
    for a, b in zip(small.shape, big.shape, strict=True):
        fits = op("and", fits, op("or", equals(a, 1), equals(a, b)))
    return fits


def _gate(el: Elaborating, call: ast.Call, scope: Scope, t: Type) -> Result:
    el.arguments(call, scope, [], [])
    body, t_body = el.sequence(call.body or (), scope, t)
    if t is None or t_body is None:
        return [], None
    fits = broadcasts(t_body, t)
    if is_symbolic(fits):
        el.require(fits, codes.GATE_SHAPE, ("gate body cannot be broadcast over its input",), call.span)
    elif not fits:
        el.error(codes.GATE_SHAPE, f"gate body gives {t_body}, which cannot be broadcast over its input {t}",
                  call.span, "each axis of the body's output must be 1 or equal to the input's", scope)
        return [], t  # a gate keeps its input's shape: later steps are still checked
    return [ir.Gate(tuple(body), t, t, call.span)], t


def _dense(el: Elaborating, call: ast.Call, scope: Scope, t: Type) -> Result:
    values = el.arguments(call, scope, ["n"], [None])
    if values is None:
        return [], None
    n = values["n"]
    if is_symbolic(n):
        el.require(op("and", op("is_int", n), op("and", n >= 1, n <= 10_000)), codes.ARGUMENT_TYPE,
                   ("dense needs a layer count from 1 to 10000, got ", n), call.span)
    elif not is_int(n) or not 1 <= n <= 10_000:
        el.error(codes.ARGUMENT_TYPE, f"dense needs a layer count from 1 to 10000, got {show(n)}", call.span,
                  scope=scope)
        return [], None
    if el.symbolic:
        return _dense_template(el, call, scope, t, n)
    return _dense_unrolled(el, call, scope, t, n)


def _dense_layer(el: Elaborating, call: ast.Call, scope: Scope, t_in: Type, names: Namespace) -> ir.Group | None:
    """One layer of a dense block on ``t_in``: its own module, whose output keeps the spatial size."""
    inner = replace(scope, namespace=Namespace(labels_in(call.body or ())))
    nodes, t_new = el.sequence(call.body or (), inner, t_in)
    if t_in is None or t_new is None:
        return None
    keeps = op("and", t_new.rank == t_in.rank, equals(t_new.spatial, t_in.spatial)) if is_symbolic(
        (t_new.shape, t_in.shape)) else (t_new.rank == t_in.rank and t_new.spatial == t_in.spatial)
    if is_symbolic(keeps):
        el.require(keeps, codes.JOIN_SHAPE, ("a dense layer must keep the spatial size",), call.span)
    elif not keeps:
        el.error(codes.JOIN_SHAPE, f"dense layer turns {t_in} into {t_new}: its output must keep the spatial "
                  "size to be concatenated", call.span, "use stride 1 and `same` padding inside dense", scope)
        return None
    return ir.Group("denselayer", names.name(None, "denselayer"), tuple(nodes), t_in, t_new, call.span)


def _dense_template(el: Elaborating, call: ast.Call, scope: Scope, t: Type, n: Any) -> Result:
    """A dense block in a template: one layer over the channels of pass ``i``, ``in + i * growth``."""
    if t is None:
        return [], None
    index = el.symbol("index", int)
    state = t.with_shape(el.symbol("state", int))
    trial = el.trial(lambda: _dense_layer(el, call, scope, state, scope.namespace.copy()))
    if trial is None or (is_symbolic(trial.output.channels) and state.channels in symbols(trial.output.channels)):
        return _dense_unrolled(el, call, scope, t, el.assume(n, call.span) if is_symbolic(n) else n)
    growth = trial.output.channels
    one = scope.namespace.copy()
    one.name(None, "denselayer")
    steps = scope.namespace.increments(one)
    names = scope.namespace.at_pass(index, steps)
    layer = _dense_layer(el, call, scope, t.with_shape(t.channels + index * growth), names)
    if layer is None:
        return [], None
    scope.namespace.after_passes(n, steps)
    t_out = t.with_shape(t.channels + n * growth)
    return [ir.Dense((layer,), t, t_out, call.span, count=n, index=index)], t_out


def _dense_unrolled(el: Elaborating, call: ast.Call, scope: Scope, t: Type, n: int) -> Result:
    """``n`` dense layers written out, each seeing the input and every layer before it."""
    layers: list[ir.Group] = []
    t_in = t
    for _ in range(n):
        made = _dense_layer(el, call, scope, t_in, scope.namespace)
        if made is None:
            return [], None
        layers.append(made)
        t_in = made.input.with_shape(made.input.channels + made.output.channels)
        if not el.bounded(t_in, "dense output", call.span, scope):
            return [], None
    if t is None or t_in is None:
        return [], None
    return [ir.Dense(tuple(layers), t, t_in, call.span, count=n)], t_in


def _repeat(el: Elaborating, call: ast.Call, scope: Scope, t: Type) -> Result:
    """A labelled ``repeat``: its passes are one sub-module, whose labels end with it."""
    nodes, t_out, _ = control.repeat(el, call, scope, t)
    return nodes, t_out


def _misplaced(el: Elaborating, call: ast.Call, scope: Scope, t: Type) -> Result:
    where_ = "a concat, add or mul" if call.callee == "branch" else "a residual"
    el.error(codes.MISPLACED, f"`{call.callee}` can only be used inside {where_}", call.callee_span, scope=scope)
    return [], None


_HANDLERS: dict[str, Callable[[Elaborating, ast.Call, Scope, Type], Result]] = {
    "seq": _seq, "residual": residual, "concat": _concat, "add": _elementwise, "mul": _elementwise, "gate": _gate,
    "dense": _dense, "repeat": _repeat,  # an unlabelled repeat is elaborated as a statement
    "branch": _misplaced, "shortcut": _misplaced,
}

