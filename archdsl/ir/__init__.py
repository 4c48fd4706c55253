"""The checked intermediate representation: what every back end reads.

A small closed set of frozen node kinds. Every node knows its input and output
tensor types and its source span; layers also know their parameter counts, so no
back end re-derives a shape or a count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from msgspec import Struct
from msgspec.structs import replace

from archdsl.errorcodes import Code
from archdsl.ir.tensor import TensorType
from archdsl.ir.values import Value
from archdsl.span import Span

Args = tuple[tuple[str, Value], ...]


class Layer(Struct, frozen=True):
    """One primitive layer, its arguments normalised (per-axis values are tuples)."""

    kind: str
    name: str
    args: Args
    input: TensorType
    output: TensorType
    params: int
    buffers: int
    span: Span
    channels_last: bool = False  # its input comes with the channels last in memory (``ir.layout``)

    def arg(self, name: str) -> Value:
        return dict(self.args)[name]


class Given(Struct, frozen=True):
    """A tensor a block is given beside its input: the block's parameter for it (``@skip`` inside) and the label
    the caller read (``@c3`` at the call)."""

    param: str
    label: str
    type: TensorType


class Group(Struct, frozen=True):
    """A named sub-module: a network, a block instance, a labelled group or one layer of a dense block.

    ``indexed`` groups number their unnamed children from 0, as ``nn.Sequential`` does.
    """

    kind: str  # "network" | "block" | "seq" | "denselayer"
    name: str
    children: tuple[Node, ...]
    input: TensorType
    output: TensorType
    span: Span
    definition: str | None = None
    args: Args = ()
    indexed: bool = False
    passed: tuple[str, ...] = ()  # a block call's arguments given at the call (the rest took their defaults)
    positional: int = 0  # how many of them were given by position
    given: tuple[Given, ...] = ()  # a block's tensor parameters, in its definition's order
    gives: Outputs | None = None  # a block's `output(...)`: the tensor or the tuple it gives, not its last step's


class Residual(Struct, frozen=True):
    """``body(x) + shortcut(x)``; ``shortcut`` is None for the identity."""

    body: tuple[Node, ...]
    shortcut: tuple[Node, ...] | None
    input: TensorType
    output: TensorType
    span: Span
    projects: bool = False  # shortcut=project: a 1x1 projection exactly where the shapes differ


class Concat(Struct, frozen=True):
    """Parallel branches on the same input, joined along the channels."""

    branches: tuple[tuple[Node, ...], ...]
    input: TensorType
    output: TensorType
    span: Span


class Elementwise(Struct, frozen=True):
    """Parallel branches on the same input, summed (``op`` "+", ``add``) or multiplied ("*", ``mul``)."""

    op: str
    branches: tuple[tuple[Node, ...], ...]
    input: TensorType
    output: TensorType
    span: Span


class Gate(Struct, frozen=True):
    """``x * body(x)``, the body's output broadcast over ``x`` (squeeze-excitation, spatial attention)."""

    body: tuple[Node, ...]
    input: TensorType
    output: TensorType
    span: Span


class Dense(Struct, frozen=True):
    """A dense block: layer i sees the concat of the input and every earlier layer's output."""

    layers: tuple[Group, ...]
    input: TensorType
    output: TensorType
    span: Span
    count: Any = None  # the number of layers; in a template it may be symbolic, with one layer over `index`
    index: Any = None


class Choice(Struct, frozen=True):
    """Steps that depend on a condition a class is given but the checker did not decide (symbolic IR only).

    An ``if`` or ``when=`` on a block's parameters: the class written for every argument
    value holds both branches, as torchvision's ``if stride != 1: downsample = ...``.
    """

    condition: Any
    then: tuple[Node, ...]
    otherwise: tuple[Node, ...]
    input: TensorType
    output: TensorType
    span: Span


class Loop(Struct, frozen=True):
    """A ``for``, ``repeat`` or ``dense`` over items a class is given (symbolic IR only).

    The body is elaborated once, over ``targets`` (the loop variables, symbols) and
    ``state``: the channels and sizes it starts from, which change from one pass to the next.
    """

    targets: tuple[Any, ...]
    items: Any
    body: tuple[Node, ...]
    state: TensorType
    input: TensorType
    output: TensorType
    span: Span
    index: Any = None  # the symbol counting the passes, where names or values need it
    names: tuple[str, ...] = ()  # the loop variables' names in the spec
    results: tuple[tuple[Any, Any], ...] = ()  # (state symbol, symbol of its value after the loop)
    carried: tuple[tuple[str, str], ...] = ()  # (label, the tensor before the loop its first pass reads as `@label`)


class Keep(Struct, frozen=True):
    """The current tensor, kept as ``label`` for the steps after it that read ``@label``."""

    label: str
    input: TensorType
    output: TensorType
    span: Span


class Split(Struct, frozen=True):
    """The current tensor split along the channels into parts of ``sizes``, each kept as ``label[i]``; the
    current tensor flows on unchanged."""

    label: str
    sizes: tuple[Any, ...]
    input: TensorType
    output: TensorType
    span: Span


class Unpack(Struct, frozen=True):
    """The tuple the block call before it gave, each part kept as ``label[i]``; the first part flows on."""

    label: str
    count: int
    input: TensorType
    output: TensorType
    span: Span


class Read(Struct, frozen=True):
    """The tensor kept as ``label`` earlier in the definition: the path goes on from there."""

    label: str
    input: TensorType
    output: TensorType
    span: Span
    count: Any = None  # in a template, a join's read of every tensor a loop of the class labelled: how many


class Quoted(Struct, frozen=True):
    """A message part that shows an expression's text, not its value."""

    value: Any


class Require(Struct, frozen=True):
    """A rule the checker could not decide for every argument value: the class tests it (symbolic IR only)."""

    holds: Any
    code: Code | None  # None: what the class was written for (an assumption), not a rule of the checker
    message: tuple[Any, ...]  # words, values (shown as they are when tested) and Quoted expressions
    input: TensorType
    output: TensorType
    span: Span | None


Node = (Layer | Group | Residual | Concat | Elementwise | Gate | Dense | Choice | Loop | Require | Keep | Split | Unpack
        | Read)


class Init(Struct, frozen=True):
    """How a network's weights start: the spec's ``init(...)``, torchvision's VGG and MobileNet by default.

    The arguments of ``runtime.init_weights``: a scheme each for convs and linears
    (``INIT_SCHEMES``), the ``std`` of the normal ones, and whether biases start at zero.
    """

    conv: str = "kaiming_fan_out"
    linear: str = "normal"
    std: float = 0.01
    bias: str = "zeros"

    def changed(self) -> dict[str, str | float]:
        """The arguments that differ from the default scheme."""
        default = Init()
        return {name: getattr(self, name) for name in self.__struct_fields__
                if getattr(self, name) != getattr(default, name)}


INIT_SCHEMES = ("kaiming_fan_out", "kaiming_fan_in", "normal", "trunc_normal", "default")
INIT_BIASES = ("zeros", "default")


class Output(Struct, frozen=True):
    """One tensor a network gives: the label it was kept under, its key (None in a tuple) and whether only
    ``train()`` gives it (an auxiliary head)."""

    key: str | None
    label: str
    type: TensorType
    train_only: bool = False


class Outputs(Struct, frozen=True):
    """What a network's ``output(...)`` gives: one tensor, a tuple, or named tensors (a dict; a namedtuple in
    ``train()`` where some are training-only, the others alone in ``eval()``)."""

    form: str  # "tensor" | "tuple" | "dict" | "train"
    items: tuple[Output, ...]
    span: Span
    name: str | None = None  # the namedtuple's, where the spec names it (``GoogLeNetOutputs: output(...)``)

    def given(self, training: bool) -> tuple[Output, ...]:
        return self.items if training else tuple(o for o in self.items if not o.train_only)

    def structure(self, training: bool) -> str:
        """What ``forward`` returns in that mode: "namedtuple", "tuple", "tensor" or "dict"."""
        if self.form == "train" and training:
            return "namedtuple"
        if self.form == "tuple":
            return "tuple"
        return "tensor" if len(self.given(training)) == 1 and self.form != "dict" else "dict"


class Network(Struct, frozen=True):
    name: str
    file: str
    args: Args
    root: Group
    init: Init = Init()
    outputs: Outputs | None = None  # None: the last step's tensor

    def shown_output(self) -> str:
        """The output type, or each output's: ``(p2=[32, 16, 16], aux=[10] in train)``."""
        if self.outputs is None or self.outputs.form == "tensor":
            return str(self.output)
        return "(" + ", ".join(("" if o.key is None else f"{o.key}=") + str(o.type) + (" in train" if o.train_only
                                                                                        else "")
                               for o in self.outputs.items) + ")"

    @property
    def input(self) -> TensorType:
        return self.root.input

    @property
    def output(self) -> TensorType:
        return self.root.output


def paths(node: Node) -> tuple[tuple[Node, ...], ...]:
    """The sequences of nodes directly inside ``node``, one per data path."""
    match node:
        case Layer():
            return ()
        case Group(children=children) | Gate(body=children):
            return (children,)
        case Residual(body=body, shortcut=shortcut):
            return (body,) if shortcut is None else (body, shortcut)
        case Concat(branches=branches) | Elementwise(branches=branches):
            return branches
        case Dense(layers=layers):
            return tuple((layer,) for layer in layers)
        case Choice(then=then, otherwise=otherwise):
            return (then, otherwise)
        case Loop(body=body):
            return (body,)
        case Require() | Keep() | Split() | Unpack() | Read():
            return ()
    raise TypeError(f"not an IR node: {node!r}")


def walk(node: Node) -> Iterator[Node]:
    """Every node below and including ``node``, in dataflow order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for path in reversed(paths(current)):
            stack.extend(reversed(path))


def layers_in(node: Node) -> Iterator[Layer]:
    """Every layer in ``node``, in dataflow order."""
    return (n for n in walk(node) if isinstance(n, Layer))


def count_params(node: Node) -> int:
    return sum(layer.params for layer in layers_in(node))


def count_buffers(node: Node) -> int:
    return sum(layer.buffers for layer in layers_in(node))


def values(node: Node) -> Iterator[object]:
    """Every value a node holds itself (arguments, types, names, conditions), not its children's."""
    for name in node.__struct_fields__:
        if name not in _CHILDREN and name != "span":
            yield getattr(node, name)


_CHILDREN = frozenset({"children", "body", "shortcut", "branches", "layers", "then", "otherwise"})


def replace_values(node: Node, mapping: dict[object, object]) -> Node:
    """``node`` with every value equal to a key of ``mapping`` replaced, at any depth of its values and children."""
    from archdsl.ir.expr import Op, op
    from archdsl.ir.values import Problem

    def swap(value: object) -> object:
        if value in mapping:
            return mapping[value]
        if isinstance(value, Op):
            args = tuple(swap(a) for a in value.args)
            try:
                return op(value.name, *args)  # folded again
            except Problem:  # known arguments that fail (x // 0) on a path the class never takes
                return Op(value.name, args)
        if isinstance(value, TensorType):
            return TensorType(tuple(swap(v) for v in value.shape))
        if isinstance(value, tuple):
            return tuple(swap(v) for v in value)
        return value

    def rebuild(current: Node) -> Node:
        changes: dict[str, Any] = {}
        for name in current.__struct_fields__:
            value = getattr(current, name)
            if name == "span":
                continue
            if name in _CHILDREN:
                changes[name] = _rebuilt(value, rebuild)
            else:
                changes[name] = swap(value)
        return replace(current, **changes)

    return rebuild(node)


def copied(node: Node) -> Node:
    """``node`` made again, and every node in it: an equal tree that shares no node with ``node``."""
    return replace(node, **{name: _rebuilt(getattr(node, name), copied)
                            for name in node.__struct_fields__ if name in _CHILDREN})


def _rebuilt(value: Any, rebuild: Callable[[Node], Node]) -> Any:
    if value is None:
        return None
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return tuple(tuple(rebuild(n) for n in path) for path in value)
    return tuple(rebuild(n) for n in value)
