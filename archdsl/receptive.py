"""Receptive field and jump (effective stride) of every node, per spatial axis.

``r`` is how many input pixels one output value sees; ``j`` is how many input pixels
lie between neighbouring outputs. Starting from ``r = 1, j = 1``, a window of
effective size ``e`` and stride ``s`` gives ``r + (e - 1) * j`` and ``j * s``. At a join
``r`` is the widest path's; paths arriving with different ``j`` are reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from archdsl import ir
from archdsl.layers.formulas import effective_kernel

Number = int | Fraction  # an int wherever the strides are whole: Fraction arithmetic is slow


def ratio(numerator: Number, denominator: Number) -> Number:
    """``numerator / denominator``, an int where it is whole."""
    quotient = Fraction(numerator) / denominator
    return quotient.numerator if quotient.denominator == 1 else quotient


@dataclass(frozen=True, slots=True)
class Field:
    """Receptive field and jump along each spatial axis of the network input."""

    r: tuple[Number, ...]
    j: tuple[Number, ...]

    @classmethod
    def start(cls, rank: int) -> Field:
        return cls((1,) * rank, (1,) * rank)

    def window(self, kernel: tuple[int, ...], stride: tuple[Number, ...]) -> Field:
        r = tuple(r + (k - 1) * j for r, k, j in zip(self.r, kernel, self.j, strict=True))
        return Field(r, tuple(j * s for j, s in zip(self.j, stride, strict=True)))

    def widest(self, other: Field) -> Field:
        return Field(tuple(max(a, b) for a, b in zip(self.r, other.r, strict=True)), self.j)


# (node, fields of the paths that disagree) for each misaligned join.
OnJoin = Callable[[ir.Node, list[Field]], None]


def _layer(layer: ir.Layer, f: Field) -> Field:
    a: dict[str, Any] = dict(layer.args)
    kind, spatial_in = layer.kind, layer.input.spatial
    if layer.input.rank == 0 or layer.output.rank == 0:
        return f
    ones = (1,) * layer.input.rank
    if kind in ("conv", "dwconv", "maxpool", "avgpool"):
        k, d = a["k"], a.get("d", ones)
        stride = a["s"] if a["s"] is not None else k
        return f.window(tuple(effective_kernel(ki, di) for ki, di in zip(k, d, strict=True)), stride)
    if kind == "conv_transpose":
        step = tuple(ratio(j, s) for j, s in zip(f.j, a["s"], strict=True))
        grown = Field(f.r, step).window(tuple(effective_kernel(k, d) for k, d in zip(a["k"], a["d"], strict=True)),
                                        (1,) * len(step))
        return grown
    if kind in ("gap", "gmp", "adaptive_avgpool", "adaptive_maxpool"):
        out = layer.output.spatial
        kernel = tuple(-(-n // o) for n, o in zip(spatial_in, out, strict=True))
        return f.window(kernel, tuple(ratio(n, o) for n, o in zip(spatial_in, out, strict=True)))
    if kind == "upsample":
        return Field(f.r, tuple(ratio(j, Fraction(s).limit_denominator()) for j, s in zip(f.j, a["scale"],
                                                                                         strict=True)))
    return f


def fields(network: ir.Network, on_join: OnJoin | None = None) -> dict[int, Field]:
    """The output field of every node, keyed by ``id(node)``."""
    result: dict[int, Field] = {}

    def path(nodes: tuple[ir.Node, ...], f: Field) -> Field:
        for node in nodes:
            f = visit(node, f)
        return f

    def join(node: ir.Node, arriving: list[Field], sizes: list[tuple[int, ...]]) -> Field:
        wide = arriving[0]
        for other in arriving[1:]:
            wide = wide.widest(other)
        if on_join is not None and all(len(size) == len(wide.j) for size in sizes):  # flat tensors have no axes
            # Axes where a path is broadcast (size 1) carry no alignment to compare.
            for axis in range(len(wide.j)):
                jumps = {f.j[axis] for f, size in zip(arriving, sizes, strict=True) if size[axis] > 1}
                if len(jumps) > 1:
                    on_join(node, arriving)
                    break
        return wide

    def visit(node: ir.Node, f: Field) -> Field:
        match node:
            case ir.Layer():
                out = _layer(node, f)
            case ir.Group(children=children):
                out = path(children, f)
            case ir.Residual(body=body, shortcut=shortcut):
                short = f if shortcut is None else path(shortcut, f)
                out = join(node, [path(body, f), short], [node.output.spatial] * 2)
            case ir.Concat(branches=branches) | ir.Add(branches=branches):
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
    return result
