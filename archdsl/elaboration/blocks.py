"""A block call: the block's body elaborated for the call's arguments and the tensors it is given.

Networks call a block again and again with the same arguments on the same input (ResNet's stages, a stack of
ten thousand units): the body is elaborated at the first such call, and the later ones copy its steps.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from msgspec import Struct

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.elaboration import outputs, tensors
from archdsl.elaboration.limits import MAX_BLOCK_DEPTH, MAX_LAYERS
from archdsl.elaboration.naming import Namespace, labels_in
from archdsl.elaboration.scope import Elaborating, Scope, Type
from archdsl.front import syntax as ast
from archdsl.ir.tensor import TensorType
from archdsl.ir.values import UNKNOWN
from archdsl.remembered import by_identity
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
    values = el.arguments(call, scope, names, _defaults(definition, el.program.sources[definition.span.file]))
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
    key = None if el.symbolic or given or t is None else _form_key(bound, t, inner.stack)
    form = None if key is None else el.forms.get(key)
    if form is not None and _counted(el, form):
        made = tuple(ir.copied(node) for node in form.steps)  # passes and checks tell nodes apart by identity
    else:
        form = _elaborated(el, definition, inner, t, kept, key)
        made = () if form is None else form.steps
    if form is None or t is None:
        return None, None
    node = ir.Group("block", el.name(call, scope, call.callee), (*kept, *made), t, form.output, call.span,
                    definition.name, tuple(bound.items()), passed=tuple(n for n in values if n in bound),
                    positional=sum(arg.name is None for arg in call.args), given=given, gives=form.gives)
    return node, form.output


class Form(Struct, frozen=True):
    """A block's body as elaborated for one set of arguments and one input type: the steps every call with them
    makes, where making them said nothing (no diagnostic, no symbol), and the layers and parameters they count."""

    steps: tuple[ir.Node, ...]
    output: TensorType
    gives: ir.Outputs | None
    layers: int
    params: int


def _counted(el: Elaborating, form: Form) -> bool:
    """Counts the layers and parameters of a body made again, where the limits allow them all (else it is made
    anew, to report the layer that passes a limit)."""
    if el.layer_count + form.layers > MAX_LAYERS or el.param_count + form.params > el.max_params:
        return False
    el.layer_count += form.layers
    el.param_count += form.params
    return True


def _form_key(bound: dict[str, Any], t: TensorType, stack: tuple[str, ...]) -> Hashable | None:
    """What a block's elaborated body depends on: the calls it is nested in, itself last (recursion and depth are
    checked against them), its arguments (``1``, ``1.0`` and ``true`` apart) and its input type."""
    key = (stack, _exactly(tuple(bound.items())), t)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _exactly(value: Any) -> Any:
    """``value`` with the type of every item beside it, so that values equal across types give different keys
    (and a float as it is written: ``0.0`` and ``-0.0`` are equal, but not alike in a layer's arguments)."""
    if isinstance(value, tuple):
        return tuple(_exactly(item) for item in value)
    return type(value), repr(value) if isinstance(value, float) else value


def _elaborated(el: Elaborating, definition: ast.Definition, inner: Scope, t: Type, kept: list[ir.Node],
                key: Hashable | None) -> Form | None:
    """The block's body elaborated from ``inner`` (after an error, only checked: None); remembered by ``key``
    for later calls where making it said nothing."""
    heard, fresh, layers, params = el.sink.heard, el.fresh, el.layer_count, el.param_count
    outer = el.ending, el.outputs  # a block's `output(...)` is its own, not the network's
    el.ending, el.outputs = outputs.ending(definition.body), None
    children, t_out = el.sequence(definition.body, inner, t)
    gives, (el.ending, el.outputs) = el.outputs, outer
    if t is None or t_out is None:
        return None
    tensors.dead(el, (*kept, *children), gives, inner)  # the tuple the back ends read: its dead steps found once
    form = Form(tuple(children), t_out, gives, el.layer_count - layers, el.param_count - params)
    if key is not None and el.sink.heard == heard and el.fresh == fresh:
        el.forms[key] = form
    return form


@by_identity(kept=256)
def _defaults(definition: ast.Definition, text: str) -> tuple[str | None, ...]:
    """Each parameter's default as the definition in ``text`` writes it (``out // 2``), None where it has none:
    the signature hints' words, read once, as every call of a block binds its arguments."""
    return tuple(None if p.default is None else p.default.span.text(text) for p in definition.params)
