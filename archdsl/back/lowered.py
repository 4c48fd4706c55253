"""Which module each IR layer becomes, decided once for both back ends (no torch import).

Activations work in place, and residuals add in place, only where the tensor they
overwrite is theirs alone: nothing else reads it and autograd does not keep it.
"""

from __future__ import annotations

from msgspec.structs import replace

from archdsl import ir
from archdsl.ir import layout
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
    """A residual may add its shortcut into the body's output, as torchvision's ``out += identity`` does; a
    drop-path or dropout at the end gives that output or a new tensor, so the step before it decides."""
    body = list(residual.body)
    while len(body) > 1 and _gives_input(body[-1]):
        body.pop()
    return bool(body) and writes_fresh(body[-1])


def _gives_input(node: ir.Node) -> bool:
    return isinstance(node, ir.Layer) and LAYERS[node.kind].gives_input


@by_identity(kept=100_000)  # a network's layers, built again from its cached IR
def constructor_of(layer: ir.Layer, previous: ir.Node | None) -> Constructor:
    """The module for ``layer``; activations work in place when the tensor they get is theirs alone, point-wise
    convolutions given channels-last tensors run as linear layers (``ir.layout``)."""
    kind = LAYERS[layer.kind]
    made = kind.module(dict(layer.args), layer.input, layer.output, kind.in_place and writes_fresh(previous))
    return replace(made, cls=made.cls.replace("nn.", "Pointwise")) if layout.runs_as_linear(layer) else made
