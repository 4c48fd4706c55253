"""Control flow: `if`, `for` and `repeat`, unrolled where their values are known.

In a template (a class's elaboration over symbols) an `if` on the class's arguments keeps
both branches (``ir.Choice``), and a loop over them stays a loop (``ir.Loop``): its body
elaborated once over symbols for the item and for the state a pass changes. A branch the
checker refuses becomes a rule that the condition sends values the other way.
"""

from __future__ import annotations

import functools
from typing import Any

from msgspec.structs import replace

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.diagnostics import Diagnostic, Sink
from archdsl.elaboration.limits import MAX_REPEAT, MAX_SYMBOLIC_ARMS
from archdsl.elaboration.naming import labels_in
from archdsl.elaboration.scope import Abort, Elaborating, Nodes, Scope, Type
from archdsl.errorcodes import Severity
from archdsl.front import syntax as ast
from archdsl.ir.expr import LOOP, STATE, Op, Sym, is_symbolic, op, substitute, symbols, type_of, where
from archdsl.ir.tensor import Named, TensorType, all_key, pass_key
from archdsl.ir.values import UNKNOWN, is_int, show, type_name
from archdsl.span import Span


def if_(el: Elaborating, stmt: ast.If, arms: tuple[ast.Arm, ...], scope: Scope, t: Type) -> tuple[Nodes, Type]:
    """The first arm whose condition holds; a ``Choice`` where a condition is symbolic."""
    for position, arm in enumerate(arms):
        test = condition(el, arm.cond, scope)
        if test is UNKNOWN:
            return [], t
        if is_symbolic(test):
            if len(arms) - position > MAX_SYMBOLIC_ARMS:
                el.error(codes.LIMIT, f"this `if` has {len(arms) - position} arms whose conditions depend on "
                         f"parameters; a compiled class can nest {MAX_SYMBOLIC_ARMS}", arm.cond.span,
                         "pick the value with an index, `values[k]`, or split the cases among blocks", scope)
                return [], None
            then = functools.partial(el.sequence, arm.body)
            otherwise = functools.partial(if_, el, stmt, arms[position + 1:])
            return choice(el, test, then, otherwise, scope, t, arm.cond.span)
        if test:
            return el.sequence(arm.body, scope, t)
    return el.sequence(stmt.orelse, scope, t)


def condition(el: Elaborating, expr: ast.Expr, scope: Scope) -> Any:
    """A condition's value: true, false, UNKNOWN after an error, or symbolic; reported where it is no bool."""
    test = el.value(expr, scope)
    if test is UNKNOWN or is_symbolic(test):
        if is_symbolic(test) and type_of(test) is not bool:
            el.require(op("is_bool", test), codes.ARGUMENT_TYPE, ("a condition must be true or false, got ",
                                                                      test), expr.span)
        return test
    if not isinstance(test, bool):
        el.error(codes.ARGUMENT_TYPE, f"a condition must be true or false, got {type_name(test)}", expr.span,
                    scope=scope)
        return UNKNOWN
    return test


def choice(el: Elaborating, test: Any, then: Any, otherwise: Any, scope: Scope, t: Type, span: Span
           ) -> tuple[Nodes, Type]:
    """Both branches of a symbolic condition, each from the same names and input; the output merged.

    A branch the checker refuses becomes a rule: the condition must send values the other way.
    """
    names = scope.namespace
    first, second = names.copy(), names.copy()
    then_nodes, t_then, then_error = _branch(el, then, replace(scope, namespace=first), t)
    else_nodes, t_else, else_error = _branch(el, otherwise, replace(scope, namespace=second), t)
    if then_error and else_error:
        el.sink.add(then_error)
        return [], None
    if then_error or else_error:
        refused, kept, kept_names, kept_type, holds = (
            (then_error, else_nodes, second, t_else, op("not", test)) if then_error else
            (else_error, then_nodes, first, t_then, test))
        assert refused is not None
        if substitute(holds, el.reference) is not True:
            raise Abort  # refused where the network was compiled: not a rule on other values
        names.adopt(kept_names)
        el.require(holds, refused.code, (refused.message,), refused.span or span)
        return [*el.take_pending(), *kept], kept_type
    names.merge(test, first, second)
    if t is None or t_then is None or t_else is None:
        return [], None
    if t_then.rank != t_else.rank:
        t_out = t_then if el.assume(test, span) else t_else
    else:
        t_out = TensorType(tuple(where(test, a, b) for a, b in zip(t_then.shape, t_else.shape, strict=True)))
    return [ir.Choice(test, tuple(then_nodes), tuple(else_nodes), t, t_out, span)], t_out


def _branch(el: Elaborating, elaborate: Any, scope: Scope, t: Type) -> tuple[Nodes, Type, Diagnostic | None]:
    """One branch of a choice: its nodes and type, or the first error the checker gives on it."""
    if not el.symbolic:
        nodes, t_out = elaborate(scope, t)
        return [*el.take_pending(), *nodes], t_out, None
    outer, el.sink = el.sink, Sink()
    try:
        nodes, t_out = elaborate(scope, t)
    finally:
        branch_sink, el.sink = el.sink, outer
    nodes = [*el.take_pending(), *nodes]
    if branch_sink.raised:
        errors = [d for d in branch_sink.items if d.code.severity is Severity.ERROR]
        return nodes, None, errors[0] if errors else Diagnostic(codes.LIMIT, "refused", None)
    return nodes, t_out, None


def for_(el: Elaborating, stmt: ast.For, scope: Scope, t: Type) -> tuple[Nodes, Type, Scope]:
    """A ``for``, and the scope after it: what its passes labelled (see ``_passes``)."""
    items = el.value(stmt.iterable, scope)
    if items is UNKNOWN:
        return [], t, scope
    labelled = bool(labels_in(stmt.body))
    if is_symbolic(items) and not isinstance(items, tuple):
        items = loop_items(el, items, stmt.iterable.span)
        if not isinstance(items, tuple):  # as many items as a parameter says: a loop of the class
            return loop(el, stmt.targets, items, stmt.body, scope, t, stmt.span, labelled)
    if not isinstance(items, tuple):
        el.error(codes.ARGUMENT_TYPE, f"`for` needs a list, tuple or range, got {show(items)}",
                    stmt.iterable.span, scope=scope)
        return [], t, scope
    if _kept_as_loop(el, len(items), stmt.body, scope):
        if isinstance(stmt.iterable, ast.FunctionCall) and stmt.iterable.func == "range":  # printed as written
            items = Op("range", tuple(el.value(arg, scope) for arg in stmt.iterable.args))
        return loop(el, stmt.targets, items, stmt.body, scope, t, stmt.span, False)
    return _passes(el, stmt.targets, items, stmt.body, scope, t, stmt.iterable.span)


def unpacked(el: Elaborating, targets: tuple[str, ...], item: Any, span: Span, scope: Scope) -> dict[str, Any] | None:
    if len(targets) == 1:
        return {targets[0]: item}
    if is_symbolic(item) and not isinstance(item, tuple):
        item = tuple(op("index", item, i) for i in range(len(targets)))
    if isinstance(item, tuple) and len(item) == len(targets):
        return dict(zip(targets, item, strict=True))
    el.error(codes.ARGUMENT_TYPE, f"cannot unpack {show(item)} into {len(targets)} names", span, scope=scope)
    return None


def repeat(el: Elaborating, stmt: ast.Call, scope: Scope, t: Type) -> tuple[Nodes, Type, Scope]:
    """A ``repeat``, and the scope after it: what its passes labelled (see ``_passes``)."""
    count = repeat_count(el, stmt, scope)
    body = stmt.body or ()
    if is_symbolic(count) or _kept_as_loop(el, count, body, scope):
        return loop(el, ("_",), Op("range", (count,)), body, scope, t, stmt.span, bool(labels_in(body)))
    return _passes(el, ("_",), tuple(range(count)), body, scope, t, stmt.span)


def _passes(el: Elaborating, targets: tuple[str, ...], items: Any, body: tuple[ast.Stmt, ...], scope: Scope,
            t: Type, span: Span) -> tuple[Nodes, Type, Scope]:
    """A loop unrolled, ``items`` a tuple or (in a template) an expression whose length the class assumes.

    A label in the body names one tensor per pass, and one module per pass where it labels one (``m.0``,
    ``m.1``). A pass reads the labels of the passes before it: ``@m`` is the latest ``m``, so a tensor is
    carried from pass to pass. After the loop ``@m`` is every ``m`` made, ``@m[i]`` one of them.
    """
    count = len(items) if isinstance(items, tuple) else el.assume(_count(items), span)
    made = labels_in(body)
    for label in sorted(made):
        owner = scope.namespace.loops.setdefault(label, span)
        if owner != span:
            el.error(codes.DUPLICATE, f"`{label}` already names the tensors of the loop at line {owner.line}", span,
                     f"a label names the passes of one loop: label this loop's steps otherwise than `{label}`",
                     scope)
            return [], None, scope
    if made and count == 0:
        el.error(codes.ARGUMENT_TYPE, "a loop that labels its steps must run at least once, not 0 times", span,
                 "give it at least one item, or take the labels off", scope)
        for label in made:  # unknown after the error: their reads say nothing more
            scope = scope.labelled(label, None)
        return [], t, scope
    nodes: Nodes = []
    inner = replace(scope, looping=scope.looping | made)
    scope.namespace.looping += 1
    try:
        for position in range(count):
            names = unpacked(el, targets, _item(items, position), span, scope)
            if names is None:
                break
            passed, t, inner = el.steps(body, replace(inner, values=scope.values).bind(names), t)
            nodes.extend(passed)
    finally:
        scope.namespace.looping -= 1
    return nodes, t, _after_passes(scope, inner, made)


def _count(items: Any) -> Any:
    """How many passes a loop over symbolic items makes: ``n`` for ``repeat(n)`` (never negative: a rule)."""
    ranged = isinstance(items, Op) and items.name == "range" and len(items.args) == 1
    return items.args[0] if ranged else op("len", items)


def _item(items: Any, position: int) -> Any:
    """The item of pass ``position``; of ``range(...)`` over symbols, ``start + position * step``."""
    if isinstance(items, tuple):
        return items[position]
    if isinstance(items, Op) and items.name == "range":
        start, step = (0, 1) if len(items.args) == 1 else (items.args[0], items.args[2] if len(items.args) > 2 else 1)
        return op("+", start, op("*", position, step))
    return op("index", items, position)


def _after_passes(scope: Scope, inner: Scope, made: frozenset[str]) -> Scope:
    """The scope after an unrolled loop: each label it made is every tensor that label named in loops, where
    each is one tensor (a pass that named several, a split's, is read inside the loop)."""
    tensors = dict(scope.tensors)
    for label in made:
        last, types = inner.tensors.get(label), inner.namespace.passes.get(label, [])
        if last is not None and not last.parts and types and None not in types:
            tensors[label] = Named(label, last.type, tuple(types))
    return replace(scope, tensors=tensors)


def _kept_as_loop(el: Elaborating, count: int, body: tuple[ast.Stmt, ...], scope: Scope) -> bool:
    """Whether a template keeps a loop over known items as a loop: in a numbered group (``nn.Sequential``),
    where the emitted code appends a pass's modules as torchvision's ``_make_layer`` does."""
    return el.symbolic and scope.namespace.indexed and count > 1 and not labels_in(body)


def repeat_count(el: Elaborating, stmt: ast.Call, scope: Scope) -> Any:
    values = el.arguments(stmt, scope, ["n"], [None])
    if values is None:
        return 0
    n, count_span = values["n"], stmt.args[0].span
    if is_symbolic(n):
        el.require(op("and", op("is_int", n), op("and", n >= 0, n <= MAX_REPEAT)), codes.ARGUMENT_TYPE,
                     ("repeat count must be a non-negative integer, got ", n), count_span)
        return n
    if not is_int(n) or n < 0:
        el.error(codes.ARGUMENT_TYPE, f"repeat count must be a non-negative integer, got {show(n)}",
                    count_span, scope=scope)
        return 0
    if n > MAX_REPEAT:
        el.error(codes.LIMIT, f"repeat({n}) is more than the limit of {MAX_REPEAT}", count_span, scope=scope)
        return 0
    return n


def loop(el: Elaborating, targets: tuple[str, ...], items: Any, stmts: tuple[ast.Stmt, ...], scope: Scope, t: Type,
         span: Span, labelled: bool) -> tuple[Nodes, Type, Scope]:
    """A loop over symbolic items: the body once, over symbols for the item and the state it starts from.

    A pass first runs on trial to learn what one pass adds to the names. Channels and
    sizes that a pass changes are state the emitted loop keeps in variables; after the
    loop they are those variables (``Loop.results``). A label in the body names one module
    and one tensor per pass (``self.m[i]``, a list ``ms``); where a pass cannot be written
    once for every pass, the class is written for the compiled number of passes, unrolled.
    """
    if t is None:
        return [], None, scope
    kept = _kept_general(el, targets, items, stmts, scope, t, span, labels_in(stmts) if labelled else frozenset())
    if kept is None:
        return _passes(el, targets, items, stmts, scope, t, span)
    return kept


def _kept_general(el: Elaborating, targets: tuple[str, ...], items: Any, stmts: tuple[ast.Stmt, ...], scope: Scope,
                  t: TensorType, span: Span, labels: frozenset[str]) -> tuple[Nodes, Type, Scope] | None:
    """The loop as an ``ir.Loop``, and the scope after it; None where a pass cannot be written once for every
    pass (it is unrolled)."""
    names_before = scope.namespace
    if labels and (names_before.pass_symbol is not None or names_before.looping or any(
            label in names_before.maybe or label in names_before.passes for label in labels)):
        return None  # nested, or the label named tensors in a loop before: numbered as the unrolled loop numbers it
    index = el.symbol("index", int, 0)
    first = substitute(op("index", items, 0), el.reference) if _runs(el, items) else UNKNOWN
    if len(targets) == 1:
        kind = int if isinstance(items, Op) and items.name == "range" else type_of(first)
        item_syms: tuple[Sym, ...] = (el.symbol("item", kind, first),)
    elif isinstance(first, tuple) and len(first) == len(targets):
        item_syms = tuple(el.symbol("item", type_of(part), part) for part in first)
    else:
        return None
    names = dict(zip(targets, item_syms, strict=True))
    state = TensorType(tuple(el.symbol("state", int, substitute(dim, el.reference)) for dim in t.shape))

    def body(namespace: Any) -> tuple[Nodes, Type, Scope]:
        namespace.pass_symbol = index if labels else None
        try:
            return el.steps(stmts, replace(scope, namespace=namespace, looping=scope.looping | labels).bind(names),
                            state)
        finally:
            namespace.pass_symbol = None

    trial_names = names_before.copy()
    trial = el.trial(lambda: body(trial_names))
    if trial is None or trial[1] is None:
        return None
    steps = names_before.increments(trial_names)
    moving = set(state.shape) | set(item_syms) | {index}
    if any(symbols(step) & moving for step in steps.values()):
        return None
    kept = _unchanged(state, trial[1], t, moving)
    collected = _collected(scope, trial[2], labels, kept, t)
    if collected is None:
        return None
    pass_names = names_before.at_pass(index, steps)
    nodes, t_body, _ = body(pass_names)
    if t_body is None:
        return [], None, scope
    names_before.after_passes(op("len", items), steps)
    names_before.used |= pass_names.used
    if labels:
        el.require(op(">=", _count(items), 1), codes.ARGUMENT_TYPE,
                   ("a loop that labels its steps must run at least once, not ", _count(items), " times"), span)
    after = _after(el, items, item_syms, index, state, t_body, t)
    body_nodes = tuple(ir.replace_values(node, kept) for node in nodes)  # what no pass changes is the input's
    t_out = TensorType(tuple(kept.get(sym, result) for sym, result in zip(state.shape, after, strict=True)))
    results = tuple((sym, result) for sym, result in zip(state.shape, after, strict=True) if sym not in kept)
    carried = tuple((label, scope.tensors[label].ref) for label in sorted(collected)  # type: ignore[union-attr]
                    if scope.tensors.get(label) is not None)
    tensors = {**scope.tensors, **{label: Named(label, type_, key=all_key(label), count=_count(items))
                                    for label, type_ in collected.items()}}
    return ([ir.Loop(item_syms, items, body_nodes, state, t, t_out, span, index, targets, results, carried)], t_out,
            replace(scope, tensors=tensors))


def _unchanged(state: TensorType, t_body: TensorType, t: TensorType, moving: set[Any]) -> dict[Any, Any]:
    """The state no pass changes, each symbol with the input's value."""
    return {sym: before for sym, out, before in zip(state.shape, t_body.shape, t.shape, strict=True)
            if out == sym or (out == before and not symbols(out) & moving)}


def _collected(scope: Scope, inner: Scope, labels: frozenset[str], kept: dict[Any, Any], t_in: TensorType
               ) -> dict[str, TensorType] | None:
    """The type of the tensor each label names on every pass, where every pass names one of one type; None
    where one cannot be written once (a type that changes pass by pass, or a carried tensor whose type does)."""
    found: dict[str, TensorType] = {}
    known = symbols(tuple(named.type.shape for named in scope.tensors.values() if named is not None)) | symbols(
        t_in.shape)  # loop state before the loop: not the state of a pass, nor a loop's inside it
    for label in labels:
        named = inner.tensors.get(label)
        if named is None or named.ref != pass_key(label):
            continue  # a label of a body nested in the pass: it ended there
        outer = scope.tensors.get(label)
        if named.parts:
            if outer is not None:
                return None
            continue  # read inside the pass only, as `@u[1]`
        t = TensorType(tuple(substitute(dim, kept) for dim in named.type.shape))
        local = {sym for sym in symbols(t.shape) if sym.role in (STATE, LOOP)} - known
        if local or (outer is not None and (outer.parts or outer.type != t)):
            return None
        found[label] = t
    return found


def _after(el: Elaborating, items: Any, item_syms: tuple[Sym, ...], index: Sym, state: TensorType, t_body: TensorType,
           t: TensorType) -> tuple[Sym, ...]:
    """Symbols for the state after the loop, each with its value after the compiled number of passes."""
    now = [substitute(dim, el.reference) for dim in t.shape]
    count = substitute(op("len", items), el.reference)
    for position in range(count if isinstance(count, int) else 0):
        item = substitute(op("index", items, position), el.reference)
        parts = item if len(item_syms) > 1 else (item,)
        mapping = {**el.reference, **dict(zip(state.shape, now, strict=True)),
                   **dict(zip(item_syms, parts, strict=False)), index: position}
        now = [substitute(dim, mapping) for dim in t_body.shape]
    return tuple(el.symbol("state", int, value) for value in now)


def _runs(el: Elaborating, items: Any) -> bool:
    length = substitute(op("len", items), el.reference)
    return not is_symbolic(length) and length > 0


def loop_items(el: Elaborating, items: Any, span: Span) -> Any:
    """A symbolic iterable as a loop can take it: left symbolic where a loop can run over it, else assumed."""
    if isinstance(type_of(items), tuple) and not isinstance(items, tuple):
        return tuple(op("index", items, i) for i in range(len(type_of(items))))
    return items
