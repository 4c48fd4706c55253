"""Which batch norms an inference build folds into the convolution before them, and the parameters that leaves.

A batch norm folds where it is the step right after a convolution in the same sequence, so it reads that
convolution's output and nothing else reads it (a label between them would be a step of its own), and where it
keeps running statistics: in eval mode it is then a per-channel affine map the convolution's weight and bias
absorb.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

from archdsl import ir

CONVOLUTIONS = frozenset({"conv", "dwconv", "pwconv", "conv_transpose"})


def folds(previous: ir.Node | None, node: ir.Node) -> bool:
    """Whether the step ``node``, coming right after ``previous``, is a batch norm an inference build folds into
    it."""
    return (isinstance(node, ir.Layer) and isinstance(previous, ir.Layer) and previous.kind in CONVOLUTIONS
            and (node.kind == "frozen_bn" or (node.kind == "bn" and bool(node.arg("track")))))


def pairs(group: ir.Group) -> Iterator[tuple[ir.Layer, ir.Layer]]:
    """Every (convolution, batch norm) pair an inference build of ``group`` folds, at any depth."""
    for nodes in _sequences(group):
        for previous, node in pairwise(nodes):
            if folds(previous, node):
                assert isinstance(previous, ir.Layer) and isinstance(node, ir.Layer)
                yield previous, node


def _sequences(group: ir.Group) -> Iterator[tuple[ir.Node, ...]]:
    """Every sequence of steps in ``group``: its children and, at every depth, the paths inside them."""
    pending: list[tuple[ir.Node, ...]] = [group.children]
    while pending:
        nodes = pending.pop()
        yield nodes
        for node in nodes:
            pending.extend(ir.paths(node))


def fused_params(params: int, folded: list[tuple[ir.Layer, ir.Layer]]) -> int:
    """The parameters of an inference build, of a network of ``params`` whose ``folded`` pairs fold: each norm's
    scale and shift gone, a bias added to each convolution that had none."""
    return params + sum((0 if conv.arg("bias") else conv.output.channels) - norm.params for conv, norm in folded)
