"""A block call: the block's body elaborated for the call's arguments and the tensors it is given."""

from __future__ import annotations

from typing import Any

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.elaboration import outputs, tensors
from archdsl.elaboration.limits import MAX_BLOCK_DEPTH
from archdsl.elaboration.naming import Namespace, labels_in
from archdsl.elaboration.scope import Elaborating, Scope, Type
from archdsl.front import syntax as ast
from archdsl.ir.values import UNKNOWN
from archdsl.span import Frame


def instance(el: Elaborating, definition: ast.Definition, call: ast.Call, scope: Scope, t: Type
             ) -> tuple[ir.Group | None, Type]:
    """The block ``definition`` instantiated by ``call`` on the tensor ``t``; (None, None) after an error."""
    if call.callee in scope.stack:
        chain = " -> ".join([*scope.stack[scope.stack.index(call.callee):], call.callee])
        el.error(codes.RECURSION, f"block `{call.callee}` calls itself: {chain}", call.callee_span,
                 "blocks cannot be recursive; unroll with `repeat` or `for`", scope)
        return None, None
    if len(scope.stack) >= MAX_BLOCK_DEPTH:
        el.error(codes.LIMIT, f"blocks nest more than {MAX_BLOCK_DEPTH} deep", call.span, scope=scope)
        return None, None
    names = [p.name for p in definition.params]
    values = el.arguments(call, scope, names, [p.default is None for p in definition.params])
    if values is None:
        return None, None
    inner = Scope({}, UNKNOWN if t is None else t, Namespace(labels_in(definition.body)),
                  (*scope.trace, Frame(call.callee, call.span)), (*scope.stack, call.callee),
                  **tensors.of_definition(definition.body))
    giving = tensors.given(el, definition, values, call, inner)
    if giving is None:
        return None, None
    inner, given = giving
    bound: dict[str, Any] = {}
    for param in definition.params:
        if param.tensor:
            continue
        if param.name in values:
            bound[param.name] = values[param.name]
        else:
            bound[param.name] = el.value(param.default, inner.bind(bound))  # type: ignore[arg-type]
    inner, kept = tensors.entering(inner.bind(bound), t, call.span)
    outer = el.ending, el.outputs  # a block's `output(...)` is its own, not the network's
    el.ending, el.outputs = outputs.ending(definition.body), None
    children, t_out = el.sequence(definition.body, inner, t)
    gives, (el.ending, el.outputs) = el.outputs, outer
    steps = (*kept, *children)
    if t is None or t_out is None:
        return None, None
    tensors.dead(el, steps, gives, inner)  # the tuple the back ends read: its dead steps are found once
    node = ir.Group("block", el.name(call, scope, call.callee), steps, t, t_out, call.span,
                    definition.name, tuple(bound.items()), passed=tuple(n for n in values if n in bound),
                    positional=sum(arg.name is None for arg in call.args), given=given, gives=gives)
    return node, t_out
