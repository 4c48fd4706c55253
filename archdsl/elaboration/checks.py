"""Checks over a whole elaborated network that no single layer can make on its own.

Each check is a pure function from the network to warnings, each beside the node it is about; the block
calls that expanded those nodes are found afterwards, in one walk, where there are any. ``CHECKS`` lists the
checks in the order they run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from msgspec.structs import replace

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.diagnostics import Diagnostic
from archdsl.elaboration.receptive import fields
from archdsl.ir.field import Number
from archdsl.ir.layers import LAYERS
from archdsl.span import Frame


def _sequences(node: ir.Node) -> Iterator[tuple[ir.Node, ...]]:
    for current in ir.walk(node):
        yield from ir.paths(current)


# For every node, by ``id``, the block calls that expanded it, outermost first (as the elaborator's notes).
Traces = dict[int, tuple[Frame, ...]]


def _traces(network: ir.Network) -> Traces:
    traces: Traces = {}
    stack: list[tuple[ir.Node, tuple[Frame, ...]]] = [(network.root, ())]
    while stack:
        node, trace = stack.pop()
        traces[id(node)] = trace
        if isinstance(node, ir.Group) and node.kind == "block" and node.definition is not None:
            trace = (*trace, Frame(node.definition, node.span))
        stack.extend((child, trace) for path in ir.paths(node) for child in path)
    return traces


Found = list[tuple[ir.Node, Diagnostic]]  # a warning, and the node it is about


def bias_before_norm(network: ir.Network) -> Found:
    """A conv bias directly followed by a norm is cancelled by the norm's mean subtraction.

    Only where the norm takes each channel's own mean: batch and instance norm, and group
    norm with a group per channel (a group of several channels keeps their biases' differences).
    """
    found: Found = []
    for path in _sequences(network.root):
        for first, second in itertools.pairwise(path):
            if (isinstance(first, ir.Layer) and isinstance(second, ir.Layer) and LAYERS[first.kind].has_bias
                    and first.arg("bias") and _per_channel_mean(second)):
                channels = first.output.channels
                found.append((first, Diagnostic(
                    codes.BIAS_BEFORE_NORM,
                    f"{first.kind} `{first.name}` has a bias that the following {second.kind} cancels: "
                    f"{channels} wasted parameters",
                    first.span, "pass bias=false")))
    return found


def _per_channel_mean(layer: ir.Layer) -> bool:
    cancels = LAYERS[layer.kind].cancels_bias
    return cancels is not None and cancels(dict(layer.args), layer.input)


def misaligned_joins(network: ir.Network) -> Found:
    """Paths joined with different jumps combine features from differently spaced input positions."""
    found: Found = []
    for node, arriving in fields(network).misaligned:
        jumps = ", ".join("x".join(_number(j) for j in f.j) for f in arriving)
        found.append((node, Diagnostic(codes.MISALIGNED_JOIN,
                                       f"the paths joined here step over the input at different strides ({jumps})",
                                       node.span, "strides and up-sampling should match on every path of a join")))
    return found


def _number(value: Number) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.3g}"


CHECKS: tuple[Callable[[ir.Network], Found], ...] = (bias_before_norm, misaligned_joins)


def run_checks(network: ir.Network) -> list[Diagnostic]:
    found = [each for check in CHECKS for each in check(network)]
    traces = _traces(network) if found else {}
    return [replace(diagnostic, trace=traces[id(node)]) for node, diagnostic in found]
