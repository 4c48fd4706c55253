"""The residual combinator: its body, its shortcut (identity, a projection, or written out) and `when=`.

A projection is torchvision's ``downsample``: a 1x1 conv and a batch norm that map the
input to the body's shape; in a template it exists where the body changes the channels
or the stride, a condition on the class's arguments (``s != 1 or in_channels != out``).
"""

from __future__ import annotations

from typing import Any

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.elaboration import control
from archdsl.elaboration.bodies import agree, differ, flatten, path, shape_parts
from archdsl.elaboration.scope import Elaborating, Nodes, Result, Scope, Type
from archdsl.front import syntax as ast
from archdsl.ir.expr import Sym, equals, is_symbolic, op, substitute, where
from archdsl.ir.layers.formulas import conv_size
from archdsl.ir.tensor import TensorType
from archdsl.ir.values import show


def _holds_shortcut(stmts: tuple[ast.Stmt, ...]) -> bool:
    """Whether a `shortcut` stands inside an `if`, `for` or `repeat` of these statements."""
    stack: list[ast.Stmt] = []
    for stmt in stmts:
        if isinstance(stmt, ast.If):
            stack.extend(s for body in stmt.bodies() for s in body)
        elif isinstance(stmt, ast.For) or (isinstance(stmt, ast.Call) and stmt.callee == "repeat" and stmt.body):
            stack.extend(stmt.body or ())
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call) and current.callee == "shortcut":
            return True
        if isinstance(current, ast.If):
            stack.extend(s for body in current.bodies() for s in body)
        elif isinstance(current, ast.For) or (isinstance(current, ast.Call) and current.callee == "repeat"):
            stack.extend(current.body or ())
    return False


def residual(el: Elaborating, call: ast.Call, scope: Scope, t: Type) -> Result:
    values = el.arguments(call, scope, ["shortcut", "when"], ["identity", "true"])
    mode = (values or {}).get("shortcut", "identity")
    when = (values or {}).get("when", True)
    if is_symbolic(mode):
        mode = el.assume(mode, call.span)
    if values is not None and mode not in ("identity", "project"):
        el.error(codes.ARGUMENT_TYPE, f"residual `shortcut` must be identity or project, got {show(mode)}",
                  call.span, scope=scope)
    if not is_symbolic(when) and not isinstance(when, bool):
        el.error(codes.ARGUMENT_TYPE, f"residual `when` must be true or false, got {show(when)}", call.span,
                  scope=scope)
        return [], None
    if is_symbolic(when):
        return control.choice(el, when, lambda s, t: _residual_body(el, call, s, t, mode, values is not None),
                         lambda s, t: el.sequence(call.body or (), s, t), scope, t, call.span)
    if not when:
        return el.sequence(call.body or (), scope, t)
    return _residual_body(el, call, scope, t, mode, values is not None)


def _residual_body(el: Elaborating, call: ast.Call, scope: Scope, t: Type, mode: Any, ok: bool) -> Result:
    stmts = call.body or ()
    if _holds_shortcut(stmts):  # a shortcut inside an `if` or a loop: the parts are found by unrolling
        parts = list(flatten(el, stmts, scope))
        shortcut_calls = [(c, s) for c, s in parts if c.callee == "shortcut"]
        body: Nodes = []
        t_body = t
        for inner_call, inner_scope in parts:
            if inner_call.callee != "shortcut":
                made, t_body = el.call(inner_call, inner_scope, t_body)
                body.extend([*el.take_pending(), *made])
    else:
        shortcut_calls = [(s, scope) for s in stmts if isinstance(s, ast.Call) and s.callee == "shortcut"]
        body, t_body = el.sequence(tuple(s for s in stmts if not (isinstance(s, ast.Call) and s.callee == "shortcut")),
                                   scope, t)
    for extra, _ in shortcut_calls[1:]:
        el.error(codes.DUPLICATE, "a residual has one shortcut", extra.span, scope=scope)
    shortcut: Nodes | None = None
    t_short = t
    if shortcut_calls:
        (short_call, short_scope), = shortcut_calls[:1]
        shortcut, t_short = path(el, short_call, short_scope, t)
    elif mode == "project" and t is not None and t_body is not None and differ(t, t_body) is not False:
        shortcut, t_short = _projection(el, call, scope, t, t_body, body)
        if shortcut is None:
            return [], None
    if not ok or t is None or t_body is None or t_short is None:
        return [], None
    if not agree(el, t_body, t_short, codes.RESIDUAL_SHAPE, call.span, lambda: (
            "residual body gives ", *shape_parts(t_body),
            f" but {'its shortcut' if shortcut is not None else 'its input'} is ", *shape_parts(t_short),
            ": they cannot be added")):
        hint = ("project the shortcut with residual(shortcut=project), or give a `shortcut { }`"
                if shortcut is None else "make the shortcut produce the body's shape")
        el.error(codes.RESIDUAL_SHAPE, f"residual body gives {t_body} but "
                  f"{'its shortcut' if shortcut is not None else 'its input'} is {t_short}: they cannot be added",
                  call.span, hint, scope)
        return [], t_body  # what the body makes flows on, so later steps are still checked
    projects = mode == "project" and not shortcut_calls
    steps = tuple(shortcut) if shortcut else None  # an empty shortcut is the identity
    return [ir.Residual(tuple(body), steps, t, t_body, call.span, projects)], t_body


def _projection(el: Elaborating, call: ast.Call, scope: Scope, t: TensorType, target: TensorType, body: Nodes
                ) -> tuple[Nodes | None, Type]:
    """The 1x1 conv + batch norm that maps the input to the body's shape, named like torchvision's.

    In a template it exists where the channels or the stride change: ``s != 1 or in_channels != out``.
    """
    if t.rank == 0:
        el.error(codes.RESIDUAL_SHAPE, f"shortcut=project maps the input with a 1x1 convolution, and the input {t} "
                  "is flat", call.span, f"give the shortcut yourself: `shortcut {{ linear({target.channels}) }}`",
                  scope)
        return None, None
    symbolic = is_symbolic((t.spatial, target.spatial))  # symbolic channels leave the stride to the numbers
    stride = path_stride(body, t.rank) if symbolic else projection_stride(t, target)
    if stride is None and symbolic:  # sizes changed otherwise than by strides: the stride their ratio gives
        stride = tuple(_ratio_stride(length, size) for length, size in zip(t.spatial, target.spatial, strict=True))
    if stride is None:
        el.error(codes.RESIDUAL_SHAPE, f"no 1x1 projection maps the input {t} to the body's {target}",
                  call.span, "the spatial sizes must differ by a whole stride", scope)
        return None, None
    differs = op("or", op("!=", t.channels, target.channels), _any_stride(stride))

    def reaches(t_from: TensorType, known: dict[Sym, Any]) -> None:
        """Where the sizes are symbolic, the rule that the shortcut's spatial size is the body's."""
        for size, wanted in zip(t_from.spatial, target.spatial, strict=True):
            holds = equals(substitute(size, known), substitute(wanted, known))
            el.require(holds, codes.RESIDUAL_SHAPE, ("no 1x1 projection maps the input ", *shape_parts(t),
                                                     " to the body's ", *shape_parts(target)), call.span)

    def keep(inner: Scope, t_in: Type) -> Result:
        assert isinstance(t_in, TensorType)
        reaches(t_in, {s: 1 for s in stride if isinstance(s, Sym)})  # no projection: every stride is 1
        return [], t_in

    def project(inner: Scope, t_in: Type) -> Result:
        # The body already warned about its own stride; the projection mirrors it.
        assert t_in is not None
        conv, t1 = el.primitive("conv", {"out": target.channels, "k": 1, "s": stride, "bias": False}, t_in, call,
                                inner, name="0", generated=True)
        norm, t2 = el.primitive("bn", {}, t1, call, inner, name="1", generated=True) if t1 is not None else (None, None)
        if conv is None or norm is None or t2 is None:
            return [], None
        reaches(t2, {})
        name = inner.namespace.claim("downsample")
        return [ir.Group("seq", name, (conv, norm), t_in, t2, call.span, indexed=True)], t2

    if not is_symbolic(differs):  # decided once the sizes were assumed: the input may need no projection
        return project(scope, t) if differs else keep(scope, t)
    nodes, t_short = control.choice(el, differs, project, keep, scope, t, call.span)
    return nodes, target if t_short is not None else None


def _ratio_stride(length: Any, target: Any) -> Any:
    """``projection_stride`` along one axis as an expression: ``max(1, ceil(length / target))``."""
    return op("max", 1, op("neg", op("//", op("neg", length), target)))


def _any_stride(stride: tuple[Any, ...]) -> Any:
    found: Any = False
    for s in stride:
        found = op("or", found, op("!=", s, 1))
    return found


def path_stride(nodes: tuple[ir.Node, ...] | list[ir.Node], rank: int) -> tuple[Any, ...] | None:
    """The stride of a path as an expression: the product of its windows' strides along it.

    None where the path changes sizes in another way (up-sampling, adaptive pooling).
    """
    total: tuple[Any, ...] = (1,) * rank
    steps = [node for node in nodes if not isinstance(node, ir.Require)]
    if steps and steps[0].input.spatial == steps[-1].output.spatial:  # whatever happens between (pad, then crop)
        return total
    for node in nodes:
        step = _stride(node, rank)
        if step is None:
            return None
        total = tuple(a * b for a, b in zip(total, step, strict=True))
    return total


def _stride(node: ir.Node, rank: int) -> tuple[Any, ...] | None:
    if not isinstance(node, ir.Require) and node.input.spatial == node.output.spatial:
        return (1,) * rank
    if isinstance(node, ir.Layer):
        args = dict(node.args)
        if "k" in args and "s" in args and node.kind != "conv_transpose":
            stride = args["s"] if args["s"] is not None else args["k"]
            assert isinstance(stride, tuple)  # per axis: the layer's signature made it so
            return stride
        return None
    if isinstance(node, ir.Choice):
        then, otherwise = path_stride(node.then, rank), path_stride(node.otherwise, rank)
        if then is None or otherwise is None:
            return None
        return tuple(where(node.condition, a, b) for a, b in zip(then, otherwise, strict=True))
    if isinstance(node, (ir.Require, ir.Dense)):
        return (1,) * rank
    if isinstance(node, ir.Loop):
        inner = path_stride(node.body, rank)
        return inner if inner == (1,) * rank else None
    paths = ir.paths(node)
    return path_stride(paths[0], rank) if paths else (1,) * rank


def projection_stride(t_in: TensorType, t_out: TensorType) -> tuple[int, ...] | None:
    """The stride of a 1x1 conv taking ``t_in``'s spatial size to ``t_out``'s, if one exists."""
    if t_in.rank != t_out.rank:
        return None
    strides = []
    for length, target in zip(t_in.spatial, t_out.spatial, strict=True):
        stride = _ratio_stride(length, target)
        if conv_size(length, 1, stride, 0, 1) != target:
            return None
        strides.append(stride)
    return tuple(strides)
