"""The Graphviz back end: the checked IR drawn as a DOT graph.

One node per layer (its kind and key hyper-parameters), edges labelled with the
shape flowing along them, combinators drawn as joins (+, concat, x), block
instances as labelled clusters; below ``depth`` a block is a single node. A labelled
tensor that later steps read is drawn once: its edges fan out to every reader, named. Node ids
are handed out in dataflow order, so the same spec gives the same DOT text.
"""

from __future__ import annotations

import graphviz
from msgspec import Struct, field

from archdsl import ir
from archdsl.ir import flow
from archdsl.ir.layers import LAYERS
from archdsl.ir.tensor import TensorType, spoken
from archdsl.ir.values import show
from archdsl.reports.report import describe

# Fill colours by layer family (each layer's record names its family); the legend lists those a drawing uses.
FAMILIES: dict[str, str] = {
    "convolution": "#cfe2f3", "normalisation": "#fff2cc", "activation": "#d9ead3", "pooling": "#fce5cd",
    "fully connected": "#d9d2e9", "regularisation": "#eeeeee", "reshape": "#ffffff",
}
BLOCK_COLOUR = "#f3f3f3"
CLUSTER_COLOUR = "#999999"
GRAPH_ATTRS = {"fontname": "Helvetica", "fontsize": "11", "nodesep": "0.25", "ranksep": "0.3"}
NODE_ATTRS = {"fontname": "Helvetica", "fontsize": "10", "shape": "box", "style": "rounded,filled",
              "height": "0.3", "margin": "0.08,0.03"}
EDGE_ATTRS = {"fontname": "Helvetica", "fontsize": "8", "fontcolor": "#555555", "color": "#666666",
              "arrowsize": "0.6"}
JOIN_ATTRS = {"shape": "circle", "style": "filled", "fillcolor": "#ffffff", "width": "0.3", "height": "0.3",
              "fixedsize": "true", "fontsize": "12"}


def family(kind: str) -> str:
    return LAYERS[kind].family


def shape_label(t: TensorType) -> str:
    return "x".join(str(n) for n in t.shape)


class _Drawer(Struct):
    """Nodes go into the (sub)graph of their cluster; every edge goes into the root graph,
    since Graphviz pulls a node into any cluster that mentions it in an edge."""

    root: graphviz.Digraph
    depth: int | None
    counter: int = 0
    families: set[str] = field(default_factory=set)
    reshaping: set[str] = field(default_factory=set)  # nodes whose output shape differs from their input's
    named: dict[str, str] = field(default_factory=dict)  # node id -> the label its output is kept as
    kept: list[dict[str, tuple[str, TensorType]]] = field(default_factory=lambda: [{}])  # per module in the walk
    gave: list[tuple[str, TensorType]] = field(default_factory=list)  # the tuple the last block call gave

    def new_id(self) -> str:
        self.counter += 1
        return f"n{self.counter}"

    def point(self, graph: graphviz.Digraph, tail: str) -> str:
        """A point after ``tail`` from which one part of a split or of a block's tuple goes on."""
        part_id = self.new_id()
        graph.node(part_id, "", shape="point", width="0.06")
        self.root.edge(tail, part_id, arrowhead="none")
        return part_id

    def edge(self, tail: str, head: str, t: TensorType, **attrs: str) -> None:
        """An edge, labelled with its shape where the shape has just changed (the rest would repeat it)."""
        label = {"label": f" {shape_label(t)}"} if tail in self.reshaping else {}
        if tail in self.named:  # a labelled tensor: every edge it flows along says so
            label = {"label": f" @{spoken(self.named[tail])} {shape_label(t)}"}
        self.root.edge(tail, head, **label, **{k: v for k, v in attrs.items() if v})

    def path(self, graph: graphviz.Digraph, nodes: tuple[ir.Node, ...], entry: str, t: TensorType,
             level: int, prefix: str) -> tuple[str, TensorType]:
        for node in nodes:
            entry, t = self.node(graph, node, entry, t, level, prefix)
        return entry, t

    def node(self, graph: graphviz.Digraph, node: ir.Node, entry: str, t: TensorType, level: int,
             prefix: str) -> tuple[str, TensorType]:
        match node:
            case ir.Layer():
                node_id = self.new_id()
                self.families.add(family(node.kind))
                label = f"{node.kind} {describe(node)}".strip()
                graph.node(node_id, label, fillcolor=FAMILIES[family(node.kind)], tooltip=prefix + node.name)
                self.edge(entry, node_id, t)
                if node.output != node.input:
                    self.reshaping.add(node_id)
                return node_id, node.output
            case ir.Group():
                self.kept.append(flow.seen_inside(node, self.kept[-1]))  # its labels stay in it
                drawn = self.group(graph, node, entry, t, level + 1, prefix)
                if node.gives is not None:  # what its `output(...)` gives: drawn inside, or from the block's node
                    parts = []
                    for item in node.gives.items:
                        if item.label in self.kept[-1]:
                            parts.append(self.kept[-1][item.label])
                        else:  # the block is one node: a point per part, so that each edge says which it reads
                            many = len(node.gives.items) > 1
                            parts.append((self.point(graph, drawn[0]) if many else drawn[0], item.type))
                    self.gave, drawn = parts, parts[0]
                self.kept.pop()
                return drawn
            case ir.Keep(label=label):
                self.kept[-1][label] = (entry, t)
                self.named.setdefault(entry, label)
                return entry, t
            case ir.Split(label=label, sizes=sizes):
                node_id = self.new_id()
                graph.node(node_id, "split", **{**JOIN_ATTRS, "shape": "box", "fixedsize": "false",
                                                "style": "rounded,filled", "width": "0", "fontsize": "9"})
                self.edge(entry, node_id, t)
                for index, size in enumerate(sizes):  # a point per part, whose edges name it: @halves[1]
                    part_id = self.point(graph, node_id)
                    self.named[part_id] = f"{label}[{index}]"
                    self.kept[-1][f"{label}[{index}]"] = (part_id, t.with_shape(size))
                return entry, t
            case ir.Unpack(label=label):
                for index, part in enumerate(self.gave):
                    self.kept[-1][f"{label}[{index}]"] = part
                    self.named.setdefault(part[0], f"{label}[{index}]")
                return entry, t
            case ir.Read(label=label):
                return self.kept[-1][label]
            case ir.Residual(body=body, shortcut=shortcut):
                body_exit, body_t = self.path(graph, body, entry, t, level, prefix)
                short_exit, short_t = (entry, t) if shortcut is None else self.path(graph, shortcut, entry, t, level,
                                                                                    prefix)
                return self.join(graph, "+", [(body_exit, body_t), (short_exit, short_t)], node.output)
            case ir.Concat(branches=branches) | ir.Elementwise(branches=branches):
                exits = [self.path(graph, b, entry, t, level, prefix) for b in branches]
                if isinstance(node, ir.Concat):
                    return self.join(graph, "concat", exits, node.output, shape="box", fixedsize="false",
                                     style="rounded,filled", width="0", fontsize="9")
                return self.join(graph, "+" if node.op == "+" else "×", exits, node.output)
            case ir.Gate(body=body):
                weights = self.path(graph, body, entry, t, level, prefix)
                return self.join(graph, "×", [(entry, t), weights], node.output)
            case ir.Dense(layers=layers):
                arrivals = [(entry, t)]
                for layer in layers:
                    layer_entry = entry
                    if len(arrivals) > 1:  # each layer sees everything before it, joined
                        layer_entry = self.new_id()
                        graph.node(layer_entry, "concat", shape="box", style="rounded,filled", fillcolor="#ffffff",
                                   fontsize="9", height="0.2")
                        for tail, tail_t in arrivals:
                            self.edge(tail, layer_entry, tail_t,
                                      style="dashed" if tail != arrivals[-1][0] else "")
                        self.reshaping.add(layer_entry)
                    arrivals.append(self.group(graph, layer, layer_entry, layer.input, level + 1, prefix))
                return self.join(graph, "concat", arrivals, node.output, shape="box", fixedsize="false",
                                 style="rounded,filled", width="0", fontsize="9")
        raise TypeError(f"cannot draw IR node {type(node).__name__}")

    def join(self, graph: graphviz.Digraph, symbol: str, arrivals: list[tuple[str, TensorType]], out: TensorType,
             **attrs: str) -> tuple[str, TensorType]:
        node_id = self.new_id()
        graph.node(node_id, symbol, **{**JOIN_ATTRS, **attrs})
        for tail, t in arrivals:
            self.edge(tail, node_id, t)
        self.reshaping.add(node_id)
        return node_id, out

    def group(self, graph: graphviz.Digraph, group: ir.Group, entry: str, t: TensorType, level: int,
              prefix: str) -> tuple[str, TensorType]:
        title = _title(group)
        if self.depth is not None and level >= self.depth:
            node_id = self.new_id()
            label = f"{title}\\n{shape_label(group.input)} → {shape_label(group.output)}"
            graph.node(node_id, label, fillcolor=BLOCK_COLOUR, style="rounded,filled,bold",
                       tooltip=prefix + group.name)
            self.edge(entry, node_id, t)
            for g in group.given:  # the tensors a block is given beside its input
                self.edge(self.kept[-1][g.param][0], node_id, g.type)
            self.reshaping.add(node_id)
            return node_id, group.output
        with graph.subgraph(name=f"cluster_{self.new_id()}") as cluster:
            cluster.attr(label=title, labeljust="l", color=CLUSTER_COLOUR, style="rounded,dashed", fontsize="10")
            return self.path(cluster, group.children, entry, t, level, f"{prefix}{group.name}.")


def _title(group: ir.Group) -> str:
    """``layer1.0: bottleneck(64, s=2)``: the name, then what was called with which arguments."""
    if group.kind == "block":
        shown = _call_arguments(group)
        return f"{group.name}: {group.definition}({shown})"
    if group.kind == "seq":
        kinds = [c.definition if isinstance(c, ir.Group) and c.definition else
                 c.kind if isinstance(c, (ir.Layer, ir.Group)) else type(c).__name__.lower() for c in group.children]
        if len(set(kinds)) == 1 and len(kinds) > 1:
            return f"{group.name}: {len(kinds)} × {kinds[0]}"
        return f"{group.name}: " + ", ".join(kinds)
    return group.name


def _call_arguments(group: ir.Group) -> str:
    """The arguments the spec's call gave, with their values."""
    bound = dict(group.args)
    return ", ".join(show(bound[name]) if position < group.positional else f"{name}={show(bound[name])}"
                     for position, name in enumerate(group.passed))


def to_graph(network: ir.Network, depth: int | None = None, direction: str = "TB") -> graphviz.Digraph:
    graph = graphviz.Digraph(network.name, graph_attr={**GRAPH_ATTRS, "rankdir": direction, "ordering": "out",
                                                       "label": f"{network.name}", "labelloc": "t"},
                             node_attr=NODE_ATTRS, edge_attr=EDGE_ATTRS)
    drawer = _Drawer(graph, depth)
    graph.node("input", f"input\\n{shape_label(network.input)}", shape="box", style="filled", fillcolor="#ffffff")
    drawer.reshaping.add("input")
    exit_id, t = drawer.path(graph, network.root.children, "input", network.input, 0, "")
    if network.outputs is None:
        graph.node("output", f"output\\n{shape_label(network.output)}", shape="box", style="filled",
                   fillcolor="#ffffff")
        drawer.edge(exit_id, "output", t)
    for position, given in enumerate(() if network.outputs is None else network.outputs.items):
        name = "output" if given.key is None else f"output {given.key}"  # train-only outputs drawn dashed
        graph.node(f"output{position}", f"{name}\\n{shape_label(given.type)}", shape="box", fillcolor="#ffffff",
                   style="filled,dashed" if given.train_only else "filled")
        drawer.edge(drawer.kept[-1][given.label][0], f"output{position}", given.type)
    rows = "".join(f'<TR><TD BGCOLOR="{FAMILIES[name]}">{name}</TD></TR>' for name in FAMILIES
                   if name in drawer.families)
    if rows:  # none where every layer is inside a block drawn as one node (graphviz refuses an empty table)
        graph.node("legend", f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="2" CELLPADDING="3">{rows}</TABLE>>',
                   shape="plaintext", style="", fontsize="8")
    return graph


def to_dot(network: ir.Network, depth: int | None = None, direction: str = "TB") -> str:
    return to_graph(network, depth, direction).source
