"""Shape comments of the emitted Python: each step's output type, written as expressions.

``# [width * 4, H / s, W / s]``: channels exactly as the class computes them, spatial
sizes in terms of the input's ``H`` and ``W``, a strided window's ``(H + 2p - e) // s + 1``
shortened to ``H / s`` (the size rounded as the layer rounds it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archdsl.expr import INPUT, STATE, Op, Sym, python
from archdsl.tensor import TensorType


def _shortened(value: Any) -> Any:
    """``(X + a) // s + 1`` with ``-s < a <= 0`` as ``X / s``, at every depth."""
    if not isinstance(value, Op):
        return value
    args = tuple(_shortened(a) for a in value.args)
    if value.name == "+" and args[1] == 1 and isinstance(args[0], Op) and args[0].name == "//":
        inner, stride = args[0].args
        offset = 0
        if isinstance(inner, Op) and inner.name in ("+", "-") and type(inner.args[1]) is int:
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

    return "[" + ", ".join(python(_shortened(dim), named) for dim in t.shape) + "]"
