"""Shape comments of the emitted Python: each step's output type, written as expressions.

``# [width * 4, H / s, W / s]``: channels exactly as the class computes them, spatial
sizes in terms of the input's ``H`` and ``W``, a strided window's ``(H + 2p - e) // s + 1``
shortened to ``H / s`` (the size rounded as the layer rounds it). Sizes a loop changes pass by
pass, and expressions too long to read at a glance, are ``...``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archdsl.ir.expr import INPUT, STATE, Op, Sym, python
from archdsl.ir.tensor import TensorType

LONGEST = 40  # a size written longer is shown as ``...``: the comment is a guide, the code has the expression


def _shortened(value: Any) -> Any:
    """``(X + a) // s + 1`` with ``-s < a <= 0`` as ``X / s``, at every depth."""
    if not isinstance(value, Op):
        return value
    args = tuple(_shortened(a) for a in value.args)
    if value.name == "+" and args[1] == 1 and isinstance(args[0], Op) and args[0].name == "//":
        inner, stride = args[0].args
        offset = 0
        if isinstance(inner, Op) and inner.name in ("+", "-"):
            if type(inner.args[1]) is not int:  # an offset that is an expression: nothing to shorten
                return Op(value.name, args)
            offset = inner.args[1] if inner.name == "+" else -inner.args[1]
            inner = inner.args[0]
        if offset <= 0 and (type(stride) is not int or offset > -stride):
            return Op("/", (inner, stride))
    return Op(value.name, args)


def shape_comment(t: TensorType, name_of: Callable[[Sym], str], _: bool = False) -> str:
    def named(sym: Sym) -> str:
        if sym.role == INPUT and sym.name != "c":
            return sym.name.upper()
        if sym.role == STATE:  # a size a loop changes pass by pass
            return "..."
        return name_of(sym)

    texts = [python(_shortened(dim), named) for dim in t.shape]
    return "[" + ", ".join("..." if len(text) > LONGEST else text for text in texts) + "]"
