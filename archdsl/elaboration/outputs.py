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
    """Where a network's or a block's ``output(...)`` may stand: its body's last line."""
    last = body[-1] if body else None
    return last if isinstance(last, ast.Call) and last.callee == "output" else None


def statement(el: Elaborating, call: ast.Call, scope: Scope) -> Type:
    """An ``output(...)`` line: what the network or block it ends gives, else an error."""
    if call is not el.ending:
        el.error(codes.MISPLACED, "`output(...)` may only be the last line of a network or a block", call.span,
                 "move it to the end of its network or block (a seq gives its last step's tensor: make it a block "
                 "to give several)", scope)
        return None
    el.outputs, t = declare(el, call, scope)
    if el.outputs is not None and scope.stack and el.outputs.form not in ("tensor", "tuple"):
        el.error(codes.ARGUMENT_TYPE, "a block gives one tensor or a tuple, `output(@a, @b)`", call.span,
                 "read its parts at the call by index: `m: two(...)`, then `@m[0]`, `@m[1]`", scope)
        el.outputs = None
        return None
    return t


def declare(el: Elaborating, call: ast.Call, scope: Scope) -> tuple[ir.Outputs | None, Type]:
    """The outputs ``call`` names, and the type of the first one ``eval()`` gives (the network's main output)."""
    if call.body is not None:
        el.error(codes.MISPLACED, "`output(...)` takes no `{ }` body", call.span, scope=scope)
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
        if not isinstance(tensor, Named) or tensor.several:
            el.error(codes.ARGUMENT_TYPE, f"`output(...)` gives labelled tensors, `@name`, not {show(tensor)}",
                     value.span, "label the step (`logits: linear(10)`) and give `@logits`", scope)
            return None, None
        if arg.name is not None and any(item.key == arg.name for item in items):
            el.error(codes.DUPLICATE, f"two outputs are named `{arg.name}`", arg.span, scope=scope)
            return None, None
        items.append(ir.Output(arg.name, tensor.ref, tensor.type, train_only))
    main = [item for item in items if not item.train_only]
    if not main:
        el.error(codes.ARGUMENT_TYPE, "every output is training-only: `eval()` would give nothing", call.span,
                 "give the main output without `train(...)`", scope)
        return None, None
    form = "train" if len(main) < len(items) else "dict" if any(named) else "tuple" if len(items) > 1 else "tensor"
    unfit = [(item.key, arg) for item, arg in zip(items, call.args, strict=True) if not _field(str(item.key))]
    if form == "train" and unfit:
        el.error(codes.BAD_LABEL, f"`{unfit[0][0]}` cannot name an output of a namedtuple", unfit[0][1].span,
                 "a field is an identifier, not a Python keyword, not starting with `_`: choose another", scope)
        return None, None
    if call.label is not None and (form != "train" or not _field(call.label)):
        el.error(codes.BAD_LABEL, f"`{call.label}` cannot name what `output(...)` gives", call.label_span or call.span,
                 "a label names the namedtuple `train()` gives where some outputs are training-only "
                 "(`GoogLeNetOutputs: output(logits=@x, aux=train(@aux))`), as a Python class name", scope)
        return None, None
    return ir.Outputs(form, tuple(items), call.span, call.label), main[0].type


def _field(name: str) -> bool:
    """Whether ``name`` can name a namedtuple or one of its fields."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")
