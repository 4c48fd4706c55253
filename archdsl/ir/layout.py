"""Which layers get their input with the channels last in memory, and the point-wise convolutions that therefore
run as linear layers.

A channel LayerNorm (``ln`` on a tensor with spatial axes) normalises with the channels as the last axis and
gives its result back in the channels-first shape, its memory still channels-last. Element-wise layers keep that
layout, and so does a point-wise convolution run as ``F.linear`` over the channels: torchvision's ConvNeXt runs
its block so (``nn.Linear`` between two permutes), the ``addmm`` a 1x1 convolution would reach only after
reordering the tensor.
"""

from __future__ import annotations

from msgspec.structs import replace

from archdsl import ir
from archdsl.ir.layers import LAYERS

# Layers that act on each element (or channel) alone, giving a tensor of the layout they were given.
_KEEPS_LAYOUT = frozenset({"activation", "regularisation"})


def marked(nodes: list[ir.Node]) -> list[ir.Node]:
    """The steps ``nodes`` of one sequence, each layer that a channel LayerNorm's output reaches through layers
    that keep the layout marked ``channels_last``."""
    reached = False
    for position, node in enumerate(nodes):
        if isinstance(node, (ir.Keep, ir.Require)):  # a label or a guard: the tensor goes on as it is
            continue
        if not isinstance(node, ir.Layer):
            reached = False
            continue
        if reached:
            nodes[position] = node = replace(node, channels_last=True)
        reached = (node.kind == "ln" and node.input.rank > 0) or (reached and (
            runs_as_linear(node) or LAYERS[node.kind].family in _KEEPS_LAYOUT))
    return nodes


def runs_as_linear(layer: ir.Layer) -> bool:
    """Whether ``layer`` is a point-wise convolution that runs as ``F.linear`` over its channels-last input."""
    return layer.kind == "pwconv" and layer.channels_last and layer.arg("groups") == 1
