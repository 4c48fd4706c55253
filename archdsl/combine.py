"""Elaboration of the combinators: residual, concat, add, gate, dense and seq.

Unnamed combinators are transparent: their steps are named in the enclosing
module. A named one (``stage1: residual { }``) becomes one indexed sub-module, and
so does an unnamed ``seq`` inside an indexed group, as ``nn.Sequential`` nests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl import syntax as ast
from archdsl.layers.formulas import conv_size
from archdsl.naming import Namespace, labels_in
from archdsl.span import Span
from archdsl.tensor import TensorType
from archdsl.values import is_int, show

if TYPE_CHECKING:
    from archdsl.elaborate import Elaborator, Scope, Type

Result = tuple[list[ir.Node], "Type"]


def combine(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    if call.body is None:
        el._error(codes.MISPLACED, f"`{call.callee}` needs a `{{ }}` body", call.span, scope=scope)
        return [], None
    handler = _HANDLERS[call.callee]
    # Inside a numbered group (like nn.Sequential) an unnamed seq is one numbered element;
    # elsewhere it only groups steps.
    nested_element = call.callee == "seq" and scope.namespace.indexed
    if call.label is None and not nested_element:
        return handler(el, call, scope, t)
    inner = replace(scope, namespace=Namespace(labels_in(call.body, indexed=True), indexed=True))
    nodes, t_out = handler(el, call, inner, t)
    if t is None or t_out is None:
        return [], None
    return [ir.Group("seq", el.name(call, scope, "seq"), tuple(nodes), t, t_out, call.span, indexed=True)], t_out


def _seq(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    el._arguments(call, scope, [], [])
    return el.sequence(call.body or (), scope, t)


def _residual(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    values = el._arguments(call, scope, ["shortcut", "when"], [False, False])
    mode = (values or {}).get("shortcut", "identity")
    when = (values or {}).get("when", True)
    if values is not None and mode not in ("identity", "project"):
        el._error(codes.ARGUMENT_TYPE, f"residual `shortcut` must be identity or project, got {show(mode)}",
                  call.span, scope=scope)
    if not isinstance(when, bool):
        el._error(codes.ARGUMENT_TYPE, f"residual `when` must be true or false, got {show(when)}", call.span,
                  scope=scope)
        return [], None
    given = dict(call.by_parameter(["shortcut", "when"]))
    if "when" in given:
        scope.decide(given["when"].value, when)
    if not when:
        return el.sequence(call.body or (), scope, t)
    body_calls: list[tuple[ast.Call, Scope]] = []
    shortcut_calls: list[tuple[ast.Call, Scope]] = []
    for inner_call, inner_scope in el._expand(call.body or (), scope):
        (shortcut_calls if inner_call.callee == "shortcut" else body_calls).append((inner_call, inner_scope))
    body: list[ir.Node] = []
    t_body = t
    for inner_call, inner_scope in body_calls:
        made, t_body = el.call(inner_call, inner_scope, t_body)
        body.extend(made)
    for extra, _ in shortcut_calls[1:]:
        el._error(codes.DUPLICATE, "a residual has one shortcut", extra.span, scope=scope)
    shortcut: list[ir.Node] | None = None
    t_short = t
    if shortcut_calls:
        (short_call, short_scope), = shortcut_calls[:1]
        shortcut, t_short = _path(el, short_call, short_scope, t)
    elif mode == "project" and t is not None and t_body is not None and t_body != t:
        shortcut, t_short = _projection(el, call, scope, t, t_body)
        if shortcut is None:
            return [], None
    if values is None or t is None or t_body is None or t_short is None:
        return [], None
    if t_body != t_short:
        source = "its shortcut" if shortcut is not None else "its input"
        hint = ("project the shortcut with residual(shortcut=project), or give a `shortcut { }`"
                if shortcut is None else "make the shortcut produce the body's shape")
        el._error(codes.RESIDUAL_SHAPE, f"residual body gives {t_body} but {source} is {t_short}: they cannot "
                  "be added", call.span, hint, scope)
        return [], t_body  # what the body makes flows on, so later steps are still checked
    projects = mode == "project" and not shortcut_calls
    path = None if shortcut is None else tuple(shortcut)
    return [ir.Residual(tuple(body), path, t, t_body, call.span, projects)], t_body


def _projection(el: Elaborator, call: ast.Call, scope: Scope, t: TensorType, target: TensorType
                ) -> tuple[list[ir.Node] | None, Type]:
    """The 1x1 conv + batch norm that maps the input to the body's shape, named like torchvision's."""
    if t.rank == 0:
        el._error(codes.RESIDUAL_SHAPE, f"shortcut=project maps the input with a 1x1 convolution, and the input {t} "
                  "is flat", call.span, f"give the shortcut yourself: `shortcut {{ linear({target.channels}) }}`",
                  scope)
        return None, None
    stride = projection_stride(t, target)
    if stride is None:
        el._error(codes.RESIDUAL_SHAPE, f"no 1x1 projection maps the input {t} to the body's {target}",
                  call.span, "the spatial sizes must differ by a whole stride", scope)
        return None, None
    # The body already warned about its own stride; the projection mirrors it.
    conv, t1 = el.primitive("conv", {"out": target.channels, "k": 1, "s": stride, "bias": False}, t, call,
                            scope, name="0", generated=True)
    norm, t2 = el.primitive("bn", {}, t1, call, scope, name="1", generated=True) if t1 is not None else (None, None)
    if conv is None or norm is None or t2 is None:
        return None, None
    name = scope.namespace.claim("downsample")
    return [ir.Group("seq", name, (conv, norm), t, t2, call.span, indexed=True)], t2


def projection_stride(t_in: TensorType, t_out: TensorType) -> tuple[int, ...] | None:
    """The stride of a 1x1 conv taking ``t_in``'s spatial size to ``t_out``'s, if one exists."""
    if t_in.rank != t_out.rank:
        return None
    strides = []
    for length, target in zip(t_in.spatial, t_out.spatial, strict=True):
        stride = max(1, -(-length // target))
        if conv_size(length, 1, stride, 0, 1) != target:
            return None
        strides.append(stride)
    return tuple(strides)


def _path(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    """A `branch` or `shortcut`: transparent, or one indexed sub-module when named."""
    el._arguments(call, scope, [], [])
    if call.body is None:
        el._error(codes.MISPLACED, f"`{call.callee}` needs a `{{ }}` body", call.span, scope=scope)
        return [], None
    if call.label is None:
        return el.sequence(call.body, scope, t)
    inner = replace(scope, namespace=Namespace(labels_in(call.body, indexed=True), indexed=True))
    nodes, t_out = el.sequence(call.body, inner, t)
    if t is None or t_out is None:
        return [], None
    return [ir.Group("seq", el.name(call, scope, "seq"), tuple(nodes), t, t_out, call.span, indexed=True)], t_out


def _branches(el: Elaborator, call: ast.Call, scope: Scope, t: Type
              ) -> tuple[list[list[ir.Node]], list[Type], list[Span]]:
    """Each branch's nodes, output type and span."""
    el._arguments(call, scope, [], [])
    paths: list[list[ir.Node]] = []
    types: list[Type] = []
    spans: list[Span] = []
    for inner_call, inner_scope in el._expand(call.body or (), scope):
        spans.append(inner_call.span)
        if inner_call.callee != "branch":
            el._error(codes.MISPLACED, f"only `branch {{ }}` may stand inside {call.callee}, not "
                      f"`{inner_call.callee}`", inner_call.callee_span, "wrap the steps in `branch { }`", scope)
            types.append(None)
            continue
        nodes, t_out = _path(el, inner_call, inner_scope, t)
        paths.append(nodes)
        types.append(t_out)
    if not types:
        el._error(codes.MISPLACED, f"{call.callee} has no branches", call.span, "add `branch { }` bodies", scope)
    return paths, types, spans


def _odd_one(keys: list[Any]) -> int:
    """The index of the first branch that differs from what most branches (or, in a tie, the first) give."""
    counts = Counter(keys)
    usual = max(counts, key=lambda key: (counts[key], key == keys[0]))
    return next(i for i, key in enumerate(keys) if key != usual)


def _concat(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    paths, types, spans = _branches(el, call, scope, t)
    if t is None or not types or any(b is None for b in types):
        return [], None
    outs: list[TensorType] = types  # type: ignore[assignment]
    if len({(o.rank, o.spatial) for o in outs}) > 1:
        shapes = ", ".join(str(o) for o in outs)
        odd = _odd_one([(o.rank, o.spatial) for o in outs])
        el._error(codes.JOIN_SHAPE, f"concat branches differ in spatial size: {shapes}", spans[odd],
                  f"branch {odd + 1} gives {outs[odd]}; every branch must keep the same spatial size: "
                  "check strides and padding", scope)
        usual = outs[1 if odd == 0 else 0]
        return [], usual.with_shape(sum(o.channels for o in outs))  # later steps are still checked
    t_out = outs[0].with_shape(sum(o.channels for o in outs))
    if not el.bounded(t_out, "concat output", call.span, scope):
        return [], None
    return [ir.Concat(tuple(tuple(p) for p in paths), t, t_out, call.span)], t_out


def _add(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    paths, types, spans = _branches(el, call, scope, t)
    if t is None or not types or any(b is None for b in types):
        return [], None
    outs: list[TensorType] = types  # type: ignore[assignment]
    if len(set(outs)) > 1:
        odd = _odd_one(outs)
        el._error(codes.JOIN_SHAPE, "add branches differ in shape: " + ", ".join(str(o) for o in outs), spans[odd],
                  f"branch {odd + 1} gives {outs[odd]}; every branch must produce the same shape", scope)
        return [], outs[1 if odd == 0 else 0]  # later steps are still checked
    return [ir.Add(tuple(tuple(p) for p in paths), t, outs[0], call.span)], outs[0]


def broadcasts(small: TensorType, big: TensorType) -> bool:
    return small.rank == big.rank and all(a in (1, b) for a, b in zip(small.shape, big.shape, strict=True))


def _gate(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    el._arguments(call, scope, [], [])
    body, t_body = el.sequence(call.body or (), scope, t)
    if t is None or t_body is None:
        return [], None
    if not broadcasts(t_body, t):
        el._error(codes.GATE_SHAPE, f"gate body gives {t_body}, which cannot be broadcast over its input {t}",
                  call.span, "each axis of the body's output must be 1 or equal to the input's", scope)
        return [], t  # a gate keeps its input's shape: later steps are still checked
    return [ir.Gate(tuple(body), t, t, call.span)], t


def _dense(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    values = el._arguments(call, scope, ["n"], [True])
    if values is None:
        return [], None
    n = values["n"]
    if not is_int(n) or not 1 <= n <= 10_000:  # type: ignore[operator]
        el._error(codes.ARGUMENT_TYPE, f"dense needs a layer count from 1 to 10000, got {show(n)}", call.span,
                  scope=scope)
        return [], None
    layers: list[ir.Group] = []
    t_in = t
    for _ in range(n):  # type: ignore[arg-type]
        inner = replace(scope, namespace=Namespace(labels_in(call.body or ())))
        nodes, t_new = el.sequence(call.body or (), inner, t_in)
        if t_in is None or t_new is None:
            return [], None
        if t_new.rank != t_in.rank or t_new.spatial != t_in.spatial:
            el._error(codes.JOIN_SHAPE, f"dense layer turns {t_in} into {t_new}: its output must keep the spatial "
                      "size to be concatenated", call.span, "use stride 1 and `same` padding inside dense", scope)
            return [], None
        t_cat = t_in.with_shape(t_in.channels + t_new.channels)
        if not el.bounded(t_cat, "dense output", call.span, scope):
            return [], None
        layers.append(ir.Group("denselayer", scope.namespace.name(None, "denselayer") or "denselayer",
                               tuple(nodes), t_in, t_new, call.span))
        t_in = t_cat
    if t is None or t_in is None:
        return [], None
    return [ir.Dense(tuple(layers), t, t_in, call.span, call)], t_in


def _repeat(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    nodes: list[ir.Node] = []
    for _ in range(el.repeat_count(call, scope)):
        made, t = el.sequence(call.body or (), scope, t)
        nodes.extend(made)
    return nodes, t


def _misplaced(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    where = "a concat or add" if call.callee == "branch" else "a residual"
    el._error(codes.MISPLACED, f"`{call.callee}` can only be used inside {where}", call.callee_span, scope=scope)
    return [], None


_HANDLERS: dict[str, Callable[[Elaborator, ast.Call, Scope, Type], Result]] = {
    "seq": _seq, "residual": _residual, "concat": _concat, "add": _add, "gate": _gate, "dense": _dense,
    "branch": _misplaced, "shortcut": _misplaced, "repeat": _repeat,
}
