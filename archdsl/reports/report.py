"""The report: parameters, FLOPs, activations and receptive field per layer and per block.

Everything is read off the checked IR (no torch): counts and FLOPs from each layer's
record, whose FLOP rule sits beside the module the layer lowers to, so they equal
fvcore's count of that module.
"""

from __future__ import annotations

from collections import Counter

from msgspec import Struct, field

from archdsl import ir
from archdsl.elaboration.receptive import fields
from archdsl.ir import flow, folding, layout
from archdsl.ir.field import Field, Number
from archdsl.ir.layers import LAYERS


class Row(Struct, frozen=True):
    """One layer or one group (block instance, named seq, dense layer) of the network."""

    name: str  # module path, as in the built module's named_modules()
    kind: str
    detail: str
    depth: int
    is_layer: bool
    output: tuple[int, ...]
    params: int
    buffers: int
    flops: int
    all_ops: int
    activations: int
    receptive_field: tuple[float, ...]
    jump: tuple[float, ...]


class Report(Struct):
    network: str
    input: tuple[int, ...]
    output: tuple[int, ...]
    rows: list[Row]
    params: int
    buffers: int
    flops: int
    all_ops: int
    activations: int
    flops_by_operator: dict[str, int] = field(default_factory=dict)
    outputs: str = ""  # every output where the network gives several: ``(p3=[64, 80, 80], p4=[128, 40, 40])``
    each_output: tuple[tuple[str | None, tuple[int, ...], bool], ...] = ()  # (name, shape, training only)
    fused_params: int = 0  # the parameters of the inference build (batch norms folded into convolutions)
    folded_norms: int = 0

    @property
    def activation_bytes(self) -> int:
        """Memory of every layer output for one sample in float32."""
        return 4 * self.activations

    def at_depth(self, depth: int | None) -> list[Row]:
        return [r for r in self.rows if depth is None or r.depth <= depth]


def describe(layer: ir.Layer) -> str:
    """Key hyper-parameters in the notation of papers: ``7x7 /2, 64``."""
    return LAYERS[layer.kind].describe(dict(layer.args), layer.output)


def _number(value: Number) -> float:
    return int(value) if value.denominator == 1 else round(float(value), 3)


class _Collector:
    def __init__(self, network: ir.Network):
        self.fields = fields(network).of
        self.rows: list[Row] = []
        self.by_operator: Counter[str] = Counter()
        self.outputs = network.outputs
        self.skipped = set(flow.training_only(network.root.children, network.outputs))  # and the dead steps
        self.runs = True  # False inside a step eval() skips: its parameters count, its operations do not
        self.counted: dict[ir.Layer, _Counts] = {}  # equal layers (a block's, at each call alike) count alike

    def field_of(self, node: ir.Node) -> Field:
        return self.fields[id(node)]

    def group(self, group: ir.Group, prefix: str, depth: int) -> tuple[int, int, int, int, int]:
        """Adds rows for ``group`` and everything in it; returns its params, buffers, flops, all ops, activations."""
        index = len(self.rows)
        self.skipped |= flow.dead_steps(group.children, self.outputs if group.kind == "network" else group.gives)
        totals = self.nodes(group.children, f"{prefix}.", depth + 1) if prefix else self.nodes(
            group.children, "", depth + 1)
        if prefix:
            kind = group.definition or group.kind
            f = self.field_of(group)
            self.rows.insert(index, Row(prefix, kind, "", depth, False, group.output.shape, *totals,
                                        tuple(map(_number, f.r)), tuple(map(_number, f.j))))
        return totals

    def nodes(self, nodes: tuple[ir.Node, ...], prefix: str, depth: int) -> tuple[int, int, int, int, int]:
        sums = [0, 0, 0, 0, 0]
        for node in nodes:
            runs, self.runs = self.runs, self.runs and id(node) not in self.skipped
            for i, value in enumerate(self.node(node, prefix, depth)):
                sums[i] += value
            self.runs = runs
        return sums[0], sums[1], sums[2], sums[3], sums[4]

    def node(self, node: ir.Node, prefix: str, depth: int) -> tuple[int, int, int, int, int]:
        if isinstance(node, ir.Layer):
            return self.layer(node, prefix, depth)
        if isinstance(node, ir.Group):
            return self.group(node, prefix + node.name, depth)
        sums = [0, 0, 0, 0, 0]
        for path in ir.paths(node):
            for i, value in enumerate(self.nodes(path, prefix, depth)):
                sums[i] += value
        if isinstance(node, (ir.Residual, ir.Elementwise, ir.Gate)) and self.runs:
            sums[3] += node.output.numel * max(1, len(ir.paths(node)) - 1)  # the adds or the multiply
        return sums[0], sums[1], sums[2], sums[3], sums[4]

    def layer(self, layer: ir.Layer, prefix: str, depth: int) -> tuple[int, int, int, int, int]:
        counts = self.counted.get(layer)
        if counts is None:
            counts = self.counted[layer] = _Counts.of(layer)
        flops, all_ops, activations = (counts.flops, counts.all_ops, layer.output.numel) if self.runs else (0, 0, 0)
        if counts.operator is not None and self.runs:
            self.by_operator[counts.operator] += flops
        f = self.field_of(layer)
        row = Row(prefix + layer.name, layer.kind, counts.detail, depth, True, layer.output.shape, layer.params,
                  layer.buffers, flops, all_ops, activations, tuple(map(_number, f.r)), tuple(map(_number, f.j)))
        self.rows.append(row)
        return layer.params, layer.buffers, flops, all_ops, activations


class _Counts(Struct, frozen=True):
    """What a layer counts wherever it stands: counted once for the equal layers of every call of a block."""

    operator: str | None  # the operator fvcore counts its FLOPs under; None: it has none
    flops: int
    all_ops: int
    detail: str

    @classmethod
    def of(cls, layer: ir.Layer) -> _Counts:
        args, kind = dict(layer.args), LAYERS[layer.kind]
        counted = kind.flops(args, layer.input, layer.output)
        operator, flops = counted if counted else (None, 0)
        if counted and layout.runs_as_linear(layer):  # what fvcore calls the operator it runs
            operator = "linear"
        return cls(operator, flops, flops + kind.extra_ops(args, layer.input, layer.output), describe(layer))


def build_report(network: ir.Network) -> Report:
    collector = _Collector(network)
    params, buffers, flops, all_ops, activations = collector.group(network.root, "", 0)
    several = network.outputs is not None and network.outputs.form != "tensor"
    each = ((None, network.output.shape, False),) if network.outputs is None else tuple(
        (o.key, o.type.shape, o.train_only) for o in network.outputs.items)
    folded = list(folding.pairs(network.root))
    return Report(network.name, network.input.shape, network.output.shape, collector.rows, params, buffers,
                  flops, all_ops, activations, dict(sorted(collector.by_operator.items())),
                  network.shown_output() if several else "", each, folding.fused_params(params, folded), len(folded))
