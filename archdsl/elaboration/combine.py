"""Elaboration of the combinators: residual, concat, add, gate, dense and seq.

Unnamed combinators are transparent: their steps are named in the enclosing
module. A named one (``stage1: residual { }``) becomes one indexed sub-module, and
so does an unnamed ``seq`` inside an indexed group, as ``nn.Sequential`` nests.

In a template, shapes are expressions: a rule that compares them (a residual's two
sides must agree) becomes a guard, and a residual's projection exists where the
body changes the channels or strides, which is a condition on the class's arguments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.elaboration.naming import Namespace, labels_in
from archdsl.front import syntax as ast
from archdsl.ir.expr import equals, is_symbolic, op, symbols, where
from archdsl.ir.layers.formulas import conv_size
from archdsl.ir.tensor import TensorType
from archdsl.ir.values import UNKNOWN, is_int, show
from archdsl.span import Span

if TYPE_CHECKING:
    from archdsl.elaboration.elaborate import Elaborator, Nodes, Scope, Type

Result = tuple["Nodes", "Type"]


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
    return [ir.Group("seq", el.name(call, scope, "seq"), (*el._take_pending(), *nodes), t, t_out, call.span,
                     indexed=True)], t_out


def _seq(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    el._arguments(call, scope, [], [])
    return el.sequence(call.body or (), scope, t)


def flatten(el: Elaborator, stmts: tuple[ast.Stmt, ...], scope: Scope) -> Iterator[tuple[ast.Call, Scope]]:
    """Each call of ``stmts`` with its scope, ``if``, ``for`` and ``repeat`` unrolled (symbolic ones assumed).

    For the combinators whose body is made of parts (a concat's branches, a residual's shortcut).
    """
    for stmt in stmts:
        if isinstance(stmt, ast.Input):
            el._error(codes.MISPLACED, "`input` may only be the first line of a network", stmt.span)
        elif isinstance(stmt, ast.If):
            yield from flatten(el, _taken(el, stmt, scope), scope)
        elif isinstance(stmt, ast.For):
            items = el._eval(stmt.iterable, scope)
            if is_symbolic(items) and not isinstance(items, tuple):
                items = el.items(items, stmt.iterable.span)
                if is_symbolic(items):
                    items = tuple(op("index", items, i) for i in range(el.assume(op("len", items), stmt.span)))
            if items is UNKNOWN:
                continue
            if not isinstance(items, tuple):
                el._error(codes.ARGUMENT_TYPE, f"`for` needs a list, tuple or range, got {show(items)}",
                          stmt.iterable.span, scope=scope)
                continue
            for item in items:
                names = el._unpacked(stmt.targets, item, stmt.iterable.span, scope)
                if names is None:
                    break
                yield from flatten(el, stmt.body, scope.bind(names))
        elif stmt.callee == "repeat" and stmt.body is not None and stmt.label is None:
            count = el.repeat_count(stmt, scope)
            for _ in range(el.assume(count, stmt.span) if is_symbolic(count) else count):
                yield from flatten(el, stmt.body, scope)
        else:
            yield stmt, scope


def _taken(el: Elaborator, stmt: ast.If, scope: Scope) -> tuple[ast.Stmt, ...]:
    for arm in stmt.arms:
        test = el.condition(arm.cond, scope)
        if test is UNKNOWN:
            return ()
        if el.assume(test, arm.cond.span) if is_symbolic(test) else test:
            return arm.body
    return stmt.orelse


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


def _residual(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    values = el._arguments(call, scope, ["shortcut", "when"], [False, False])
    mode = (values or {}).get("shortcut", "identity")
    when = (values or {}).get("when", True)
    if is_symbolic(mode):
        mode = el.assume(mode, call.span)
    if values is not None and mode not in ("identity", "project"):
        el._error(codes.ARGUMENT_TYPE, f"residual `shortcut` must be identity or project, got {show(mode)}",
                  call.span, scope=scope)
    if not is_symbolic(when) and not isinstance(when, bool):
        el._error(codes.ARGUMENT_TYPE, f"residual `when` must be true or false, got {show(when)}", call.span,
                  scope=scope)
        return [], None
    if is_symbolic(when):
        return el.choice(when, lambda s, t: _residual_body(el, call, s, t, mode, values is not None),
                         lambda s, t: el.sequence(call.body or (), s, t), scope, t, call.span)
    if not when:
        return el.sequence(call.body or (), scope, t)
    return _residual_body(el, call, scope, t, mode, values is not None)


def _residual_body(el: Elaborator, call: ast.Call, scope: Scope, t: Type, mode: Any, ok: bool) -> Result:
    stmts = call.body or ()
    if _holds_shortcut(stmts):  # a shortcut inside an `if` or a loop: the parts are found by unrolling
        parts = list(flatten(el, stmts, scope))
        shortcut_calls = [(c, s) for c, s in parts if c.callee == "shortcut"]
        body: Nodes = []
        t_body = t
        for inner_call, inner_scope in parts:
            if inner_call.callee != "shortcut":
                made, t_body = el.call(inner_call, inner_scope, t_body)
                body.extend([*el._take_pending(), *made])
    else:
        shortcut_calls = [(s, scope) for s in stmts if isinstance(s, ast.Call) and s.callee == "shortcut"]
        body, t_body = el.sequence(tuple(s for s in stmts if not (isinstance(s, ast.Call) and s.callee == "shortcut")),
                                   scope, t)
    for extra, _ in shortcut_calls[1:]:
        el._error(codes.DUPLICATE, "a residual has one shortcut", extra.span, scope=scope)
    shortcut: Nodes | None = None
    t_short = t
    if shortcut_calls:
        (short_call, short_scope), = shortcut_calls[:1]
        shortcut, t_short = _path(el, short_call, short_scope, t)
    elif mode == "project" and t is not None and t_body is not None and _differ(t, t_body) is not False:
        shortcut, t_short = _projection(el, call, scope, t, t_body, body)
        if shortcut is None:
            return [], None
    if not ok or t is None or t_body is None or t_short is None:
        return [], None
    if not _agree(el, t_body, t_short, codes.RESIDUAL_SHAPE, call.span, lambda: (
            "residual body gives ", *shape_parts(t_body),
            f" but {'its shortcut' if shortcut is not None else 'its input'} is ", *shape_parts(t_short),
            ": they cannot be added")):
        hint = ("project the shortcut with residual(shortcut=project), or give a `shortcut { }`"
                if shortcut is None else "make the shortcut produce the body's shape")
        el._error(codes.RESIDUAL_SHAPE, f"residual body gives {t_body} but "
                  f"{'its shortcut' if shortcut is not None else 'its input'} is {t_short}: they cannot be added",
                  call.span, hint, scope)
        return [], t_body  # what the body makes flows on, so later steps are still checked
    projects = mode == "project" and not shortcut_calls
    path = None if shortcut is None else tuple(shortcut)
    return [ir.Residual(tuple(body), path, t, t_body, call.span, projects)], t_body


def _differ(a: TensorType, b: TensorType) -> Any:
    """Whether two types differ: a bool, or a condition where they are symbolic."""
    if a.rank != b.rank:
        return True
    if not is_symbolic((a.shape, b.shape)):
        return a != b
    differs: Any = False
    for x, y in zip(a.shape, b.shape, strict=True):
        differs = op("or", differs, op("!=", x, y))
    return differs


def shape_parts(t: TensorType) -> tuple[Any, ...]:
    """A type as message parts: ``[``, each size (an expression where symbolic), ``]``."""
    parts: list[Any] = ["["]
    for position, size in enumerate(t.shape):
        parts += [", "] * (position > 0) + [size]
    return (*parts, "]")


def _agree(el: Elaborator, a: TensorType, b: TensorType, code: codes.Code, span: Span,
           words: Callable[[], tuple[Any, ...]]) -> bool:
    """Whether two types are equal; where that is a condition, it is required of the class."""
    differs = _differ(a, b)
    if is_symbolic(differs):
        el.require(op("not", differs), code, words(), span)
        return True
    return not differs


def _projection(el: Elaborator, call: ast.Call, scope: Scope, t: TensorType, target: TensorType, body: Nodes
                ) -> tuple[Nodes | None, Type]:
    """The 1x1 conv + batch norm that maps the input to the body's shape, named like torchvision's.

    In a template it exists where the channels or the stride change: ``s != 1 or in_channels != out``.
    """
    if t.rank == 0:
        el._error(codes.RESIDUAL_SHAPE, f"shortcut=project maps the input with a 1x1 convolution, and the input {t} "
                  "is flat", call.span, f"give the shortcut yourself: `shortcut {{ linear({target.channels}) }}`",
                  scope)
        return None, None
    symbolic = is_symbolic((t.shape, target.shape))
    stride = path_stride(body, t.rank) if symbolic else projection_stride(t, target)
    if stride is None and symbolic:  # sizes changed otherwise than by strides: written for the compiled ones
        stride = projection_stride(*(TensorType(el.assume(x.shape, call.span)) for x in (t, target)))
    if stride is None:
        el._error(codes.RESIDUAL_SHAPE, f"no 1x1 projection maps the input {t} to the body's {target}",
                  call.span, "the spatial sizes must differ by a whole stride", scope)
        return None, None
    differs = op("or", op("!=", t.channels, target.channels), _any_stride(stride))

    def project(inner: Scope, t_in: Type) -> Result:
        # The body already warned about its own stride; the projection mirrors it.
        assert t_in is not None
        conv, t1 = el.primitive("conv", {"out": target.channels, "k": 1, "s": stride, "bias": False}, t_in, call,
                                inner, name="0", generated=True)
        norm, t2 = el.primitive("bn", {}, t1, call, inner, name="1", generated=True) if t1 is not None else (None, None)
        if conv is None or norm is None or t2 is None:
            return [], None
        for size, wanted in zip(t2.spatial, target.spatial, strict=True):
            el.require(equals(size, wanted), codes.RESIDUAL_SHAPE,
                       ("no 1x1 projection maps the input to the body's shape",), call.span)
        name = inner.namespace.claim("downsample")
        return [ir.Group("seq", name, (conv, norm), t_in, t2, call.span, indexed=True)], t2

    if not is_symbolic(differs):
        return project(scope, t)
    nodes, t_short = el.choice(differs, project, lambda s, t_in: ([], t_in), scope, t, call.span)
    return nodes, target if t_short is not None else None


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


def _branches(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> tuple[list[Nodes], list[Type], list[Span]]:
    """Each branch's nodes, output type and span."""
    el._arguments(call, scope, [], [])
    paths: list[Nodes] = []
    types: list[Type] = []
    spans: list[Span] = []
    for inner_call, inner_scope in flatten(el, call.body or (), scope):
        spans.append(inner_call.span)
        if inner_call.callee != "branch":
            el._error(codes.MISPLACED, f"only `branch {{ }}` may stand inside {call.callee}, not "
                      f"`{inner_call.callee}`", inner_call.callee_span, "wrap the steps in `branch { }`", scope)
            types.append(None)
            continue
        nodes, t_out = _path(el, inner_call, inner_scope, t)
        paths.append([*el._take_pending(), *nodes])
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
    symbolic = is_symbolic(tuple(o.shape for o in outs))
    if symbolic:
        for out, span in zip(outs[1:], spans[1:], strict=True):
            _agree(el, out.with_shape(outs[0].channels), outs[0], codes.JOIN_SHAPE, span,
                   lambda: ("concat branches differ in spatial size",))
    elif len({(o.rank, o.spatial) for o in outs}) > 1:
        shapes = ", ".join(str(o) for o in outs)
        odd = _odd_one([(o.rank, o.spatial) for o in outs])
        el._error(codes.JOIN_SHAPE, f"concat branches differ in spatial size: {shapes}", spans[odd],
                  f"branch {odd + 1} gives {outs[odd]}; every branch must keep the same spatial size: "
                  "check strides and padding", scope)
        usual = outs[1 if odd == 0 else 0]
        return [], usual.with_shape(sum(o.channels for o in outs))  # later steps are still checked
    total: Any = 0
    for out in outs:
        total = total + out.channels
    t_out = outs[0].with_shape(total)
    if not el.bounded(t_out, "concat output", call.span, scope):
        return [], None
    return [ir.Concat(tuple(tuple(p) for p in paths), t, t_out, call.span)], t_out


def _add(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    paths, types, spans = _branches(el, call, scope, t)
    if t is None or not types or any(b is None for b in types):
        return [], None
    outs: list[TensorType] = types  # type: ignore[assignment]
    if is_symbolic(tuple(o.shape for o in outs)):
        for out, span in zip(outs[1:], spans[1:], strict=True):
            _agree(el, out, outs[0], codes.JOIN_SHAPE, span, lambda: ("add branches differ in shape",))
    elif len(set(outs)) > 1:
        odd = _odd_one(outs)
        el._error(codes.JOIN_SHAPE, "add branches differ in shape: " + ", ".join(str(o) for o in outs), spans[odd],
                  f"branch {odd + 1} gives {outs[odd]}; every branch must produce the same shape", scope)
        return [], outs[1 if odd == 0 else 0]  # later steps are still checked
    return [ir.Add(tuple(tuple(p) for p in paths), t, outs[0], call.span)], outs[0]


def broadcasts(small: TensorType, big: TensorType) -> Any:
    """Whether ``small`` broadcasts over ``big``: a bool, or a condition where sizes are symbolic."""
    if small.rank != big.rank:
        return False
    fits: Any = True
    for a, b in zip(small.shape, big.shape, strict=True):
        fits = op("and", fits, op("or", equals(a, 1), equals(a, b)))
    return fits


def _gate(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    el._arguments(call, scope, [], [])
    body, t_body = el.sequence(call.body or (), scope, t)
    if t is None or t_body is None:
        return [], None
    fits = broadcasts(t_body, t)
    if is_symbolic(fits):
        el.require(fits, codes.GATE_SHAPE, ("gate body cannot be broadcast over its input",), call.span)
    elif not fits:
        el._error(codes.GATE_SHAPE, f"gate body gives {t_body}, which cannot be broadcast over its input {t}",
                  call.span, "each axis of the body's output must be 1 or equal to the input's", scope)
        return [], t  # a gate keeps its input's shape: later steps are still checked
    return [ir.Gate(tuple(body), t, t, call.span)], t


def _dense(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    values = el._arguments(call, scope, ["n"], [True])
    if values is None:
        return [], None
    n = values["n"]
    if is_symbolic(n):
        el.require(op("and", op("is_int", n), op("and", n >= 1, n <= 10_000)), codes.ARGUMENT_TYPE,
                   ("dense needs a layer count from 1 to 10000, got ", n), call.span)
    elif not is_int(n) or not 1 <= n <= 10_000:
        el._error(codes.ARGUMENT_TYPE, f"dense needs a layer count from 1 to 10000, got {show(n)}", call.span,
                  scope=scope)
        return [], None
    if el.symbolic:
        return _dense_template(el, call, scope, t, n)
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


def _dense_layer(el: Elaborator, call: ast.Call, scope: Scope, t_in: Type, names: Namespace) -> ir.Group | None:
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
        el._error(codes.JOIN_SHAPE, f"dense layer turns {t_in} into {t_new}: its output must keep the spatial "
                  "size to be concatenated", call.span, "use stride 1 and `same` padding inside dense", scope)
        return None
    return ir.Group("denselayer", names.name(None, "denselayer"), tuple(nodes), t_in, t_new, call.span)


def _dense_template(el: Elaborator, call: ast.Call, scope: Scope, t: Type, n: Any) -> Result:
    """A dense block in a template: one layer over the channels of pass ``i``, ``in + i * growth``."""
    if t is None:
        return [], None
    index = el._symbol("index", int)
    state = t.with_shape(el._symbol("state", int))
    trial = el._trial(lambda: _dense_layer(el, call, scope, state, scope.namespace.copy()))
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


def _dense_unrolled(el: Elaborator, call: ast.Call, scope: Scope, t: Type, n: int) -> Result:
    layers: list[ir.Group] = []
    t_in = t
    for _ in range(n):
        made = _dense_layer(el, call, scope, t_in, scope.namespace)
        if made is None:
            return [], None
        layers.append(made)
        t_in = made.input.with_shape(made.input.channels + made.output.channels)
    return [ir.Dense(tuple(layers), t, t_in, call.span, count=n)], t_in  # type: ignore[arg-type]


def _misplaced(el: Elaborator, call: ast.Call, scope: Scope, t: Type) -> Result:
    where_ = "a concat or add" if call.callee == "branch" else "a residual"
    el._error(codes.MISPLACED, f"`{call.callee}` can only be used inside {where_}", call.callee_span, scope=scope)
    return [], None


_HANDLERS: dict[str, Callable[[Elaborator, ast.Call, Scope, Type], Result]] = {
    "seq": _seq, "residual": _residual, "concat": _concat, "add": _add, "gate": _gate, "dense": _dense,
    "branch": _misplaced, "shortcut": _misplaced,
}

