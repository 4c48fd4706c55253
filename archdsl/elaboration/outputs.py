"""``output(...)``, a network's last line: which labelled tensors it gives, and in what structure.

``output(@x)`` gives one tensor, ``output(@a, @b)`` a tuple, ``output(p2=@p2, p3=@p3)`` a dict in
spec order; ``aux=train(@aux)`` marks an output only ``train()`` gives: then the network gives a
namedtuple in training and the other outputs alone in ``eval()`` (torchvision's GoogLeNet).
"""

from __future__ import annotations

import keyword

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.elaboration.scope import Elaborating, Scope, Type
from archdsl.front import syntax as ast
from archdsl.ir.tensor import Named
from archdsl.ir.values import contains_unknown, show


def ending(body: tuple[ast.Stmt, ...]) -> ast.Call | None:
    """Where a network's ``output(...)`` may stand: its body's last line."""
    last = body[-1] if body else None
    return last if isinstance(last, ast.Call) and last.callee == "output" else None


def statement(el: Elaborating, call: ast.Call, scope: Scope) -> Type:
    """An ``output(...)`` line: the network's outputs where it ends the network, else an error."""
    if call is not el.ending:
        el.error(codes.MISPLACED, "`output(...)` may only be the last line of a network", call.span,
                 "a block gives its last step's tensor", scope)
        return None
    el.outputs, t = declare(el, call, scope)
    return t


def declare(el: Elaborating, call: ast.Call, scope: Scope) -> tuple[ir.Outputs | None, Type]:
    """The outputs ``call`` names, and the type of the first one ``eval()`` gives (the network's main output)."""
    if call.body is not None or call.label is not None:
        el.error(codes.MISPLACED, "`output(...)` takes no label and no `{ }` body", call.span, scope=scope)
        return None, None
    if not call.args:
        el.error(codes.ARITY, "`output(...)` needs the tensors the network gives", call.span,
                 "name them: `output(@p2)`, `output(@p2, @p3)` or `output(p2=@p2, p3=@p3)`", scope)
        return None, None
    named = [arg.name is not None for arg in call.args]
    if any(named) and not all(named):
        el.error(codes.ARGUMENT_TYPE, "`output(...)` gives a tuple or named tensors, not both", call.span,
                 "name every output, or none", scope)
        return None, None
    items: list[ir.Output] = []
    for arg in call.args:
        value, train_only = arg.value, False
        if isinstance(value, ast.FunctionCall) and value.func == "train" and len(value.args) == 1:
            value, train_only = value.args[0], True
            if arg.name is None:
                el.error(codes.ARGUMENT_TYPE, "a training-only output needs a name", arg.span,
                         "name it: `aux=train(@aux)`", scope)
                return None, None
        tensor = el.value(value, scope)
        if contains_unknown(tensor):
            return None, None
        if not isinstance(tensor, Named) or tensor.parts:
            el.error(codes.ARGUMENT_TYPE, f"`output(...)` gives labelled tensors, `@name`, not {show(tensor)}",
                     value.span, "label the step (`logits: linear(10)`) and give `@logits`", scope)
            return None, None
        if arg.name is not None and any(item.key == arg.name for item in items):
            el.error(codes.DUPLICATE, f"two outputs are named `{arg.name}`", arg.span, scope=scope)
            return None, None
        items.append(ir.Output(arg.name, tensor.label, tensor.type, train_only))
    main = [item for item in items if not item.train_only]
    if not main:
        el.error(codes.ARGUMENT_TYPE, "every output is training-only: `eval()` would give nothing", call.span,
                 "give the main output without `train(...)`", scope)
        return None, None
    form = "train" if len(main) < len(items) else "dict" if any(named) else "tuple" if len(items) > 1 else "tensor"
    for item, arg in zip(items, call.args, strict=True):
        if form == "train" and (keyword.iskeyword(str(item.key)) or str(item.key).startswith("_")):
            el.error(codes.BAD_LABEL, f"`{item.key}` cannot name an output of a namedtuple", arg.span,
                     "a Python keyword or a name starting with `_` cannot be a field: choose another", scope)
            return None, None
    return ir.Outputs(form, tuple(items), call.span), main[0].type
