"""Checks over a whole elaborated network that no single layer can make on its own.

Each check is a pure function from the network to warnings; ``CHECKS`` lists them
in the order they run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.diagnostics import Diagnostic
from archdsl.layers import LAYERS

_CONVOLUTIONS = frozenset({"conv", "dwconv", "pwconv", "conv_transpose"})


def _sequences(node: ir.Node) -> Iterator[tuple[ir.Node, ...]]:
    for current in ir.walk(node):
        yield from ir.paths(current)


def bias_before_norm(network: ir.Network) -> list[Diagnostic]:
    """A conv bias directly followed by a norm is cancelled by the norm's mean subtraction."""
    found = []
    for path in _sequences(network.root):
        for first, second in itertools.pairwise(path):
            if (isinstance(first, ir.Layer) and isinstance(second, ir.Layer) and first.kind in _CONVOLUTIONS
                    and first.arg("bias") and LAYERS[second.kind].is_norm and second.kind != "ln"):
                channels = first.output.channels
                found.append(Diagnostic(
                    codes.BIAS_BEFORE_NORM,
                    f"{first.kind} `{first.name}` has a bias that the following {second.kind} cancels: "
                    f"{channels} wasted parameters",
                    first.span, "pass bias=false"))
    return found


CHECKS: tuple[Callable[[ir.Network], list[Diagnostic]], ...] = (bias_before_norm,)


def run_checks(network: ir.Network) -> list[Diagnostic]:
    return [d for check in CHECKS for d in check(network)]
