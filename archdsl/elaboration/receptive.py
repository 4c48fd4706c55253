"""Receptive field and jump (effective stride) of every node, per spatial axis (see ``field``).

Each layer's rule is its record's; at a join ``r`` is the widest path's, and paths
arriving with different ``j`` are reported. A path that starts at a labelled tensor starts
from that tensor's field, so a field is taken along every path of a graph.
"""

from __future__ import annotations

from msgspec import Struct

from archdsl import ir
from archdsl.ir import flow
from archdsl.ir.field import Field
from archdsl.ir.layers import LAYERS
from archdsl.ir.layers.record import keeps_field
from archdsl.remembered import by_identity


class Fields(Struct, frozen=True):
    """The output field of every node of a network, and the joins whose paths arrive at different jumps."""

    of: dict[int, Field]  # keyed by ``id(node)``
    misaligned: list[tuple[ir.Node, list[Field]]]  # (join, the fields of its paths)


def _layer(layer: ir.Layer, f: Field) -> Field:
    rule = LAYERS[layer.kind].receptive
    if rule is keeps_field or layer.input.rank == 0 or layer.output.rank == 0:  # element-wise, or a flat tensor:
        return f  # every value sees what the one before saw, or everything
    return rule(dict(layer.args), layer.input, layer.output, f)


@by_identity(kept=4)
def fields(network: ir.Network) -> Fields:
    """The fields of ``network``, taken once for its checks and its report."""
    result: dict[int, Field] = {}
    misaligned: list[tuple[ir.Node, list[Field]]] = []
    kept: list[dict[str, Field]] = [{}]  # the fields of the labelled tensors each module in the walk sees
    gave: list[Field] = []  # the fields of the tuple the last block call gave, for the Unpack after it

    def path(nodes: tuple[ir.Node, ...], f: Field) -> Field:
        for node in nodes:
            f = visit(node, f)
        return f

    def join(node: ir.Node, arriving: list[Field], sizes: list[tuple[int, ...]]) -> Field:
        wide = arriving[0]
        for other in arriving[1:]:
            wide = wide.widest(other)
        if all(len(size) == len(wide.j) for size in sizes):  # flat tensors have no axes
            # Axes where a path is broadcast (size 1) carry no alignment to compare.
            for axis in range(len(wide.j)):
                jumps = {f.j[axis] for f, size in zip(arriving, sizes, strict=True) if size[axis] > 1}
                if len(jumps) > 1:
                    misaligned.append((node, arriving))
                    break
        return wide

    def visit(node: ir.Node, f: Field) -> Field:
        match node:
            case ir.Layer():
                out = _layer(node, f)
            case ir.Group(children=children):
                kept.append(flow.seen_inside(node, kept[-1]))  # its labels stay in it
                out = path(children, f)
                if node.gives is not None:  # what its `output(...)` gives, not its last step
                    gave[:] = [kept[-1][item.label] for item in node.gives.items]
                    out = gave[0]
                kept.pop()
            case ir.Keep(label=label):
                out = kept[-1][label] = f
            case ir.Split(label=label, sizes=sizes):
                kept[-1].update({f"{label}[{index}]": f for index in range(len(sizes))})
                out = f
            case ir.Unpack(label=label):
                kept[-1].update({f"{label}[{index}]": part for index, part in enumerate(gave)})
                out = f
            case ir.Read(label=label):
                out = kept[-1][label]
            case ir.Residual(body=body, shortcut=shortcut):
                short = f if shortcut is None else path(shortcut, f)
                out = join(node, [path(body, f), short], [node.output.spatial] * 2)
            case ir.Concat(branches=branches) | ir.Elementwise(branches=branches):
                out = join(node, [path(b, f) for b in branches], [node.output.spatial] * len(branches))
            case ir.Gate(body=body):
                gate_out = body[-1].output.spatial if body else node.input.spatial
                out = join(node, [f, path(body, f)], [node.input.spatial, gate_out])
            case ir.Dense(layers=layers):
                out = f
                for layer in layers:
                    out = out.widest(visit(layer, out))
            case _:
                raise TypeError(f"not an IR node: {node!r}")
        result[id(node)] = out
        return out

    visit(network.root, Field.start(network.input.rank))
    return Fields(result, misaligned)
