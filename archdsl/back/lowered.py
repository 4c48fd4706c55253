"""Which module each IR layer becomes, decided once for both back ends (no torch import).

Activations work in place, and residuals add in place, only where the tensor they
overwrite is theirs alone: nothing else reads it and autograd does not keep it.
"""

from __future__ import annotations

from archdsl import ir
from archdsl.ir.layers import LAYERS, Constructor
from archdsl.remembered import by_identity


def writes_fresh(node: ir.Node | None) -> bool:
    """Whether ``node``'s output is a new tensor that nothing else reads and autograd does not keep (a kept
    or read tensor is read by name elsewhere)."""
    if isinstance(node, ir.Group):  # a sub-module returns what its last step wrote
        return bool(node.children) and writes_fresh(node.children[-1])
    return isinstance(node, (ir.Residual, ir.Concat, ir.Elementwise, ir.Gate, ir.Dense)) or (
        isinstance(node, ir.Layer) and LAYERS[node.kind].fresh)


def adds_in_place(residual: ir.Residual) -> bool:
    """A residual may add its shortcut into the body's output, as torchvision's ``out += identity`` does."""
    return bool(residual.body) and writes_fresh(residual.body[-1])


@by_identity(kept=100_000)  # a network's layers, built again from its cached IR
def constructor_of(layer: ir.Layer, previous: ir.Node | None) -> Constructor:
    """The module for ``layer``; activations work in place when the tensor they get is theirs alone."""
    kind = LAYERS[layer.kind]
    return kind.module(dict(layer.args), layer.input, layer.output, kind.in_place and writes_fresh(previous))
