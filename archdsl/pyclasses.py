"""From IR instances to Python classes: what each class builds, and with which arguments.

A block called many times (ResNet's bottleneck) is one class. Each instance is
described as a *skeleton* (which modules, wired how) with *slots* for the values
that may differ (channels, strides). Instances with equal skeletons share a class,
and each slot is written as the first expression that reproduces its value in every
instance: the spec's own expression (``width * expansion``), an expression already
chosen, ``in_channels``, a parameter, a literal, or failing all of those a new
constructor argument. Every choice is checked against every instance, so the
emitted classes build exactly the checked network.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archdsl import ir
from archdsl import syntax as ast
from archdsl.evaluation import evaluate
from archdsl.layers import LAYERS, RUNTIME_CLASSES
from archdsl.layers.lowering import argument_source
from archdsl.layers.record import compact
from archdsl.lowered import adds_in_place, constructor_of
from archdsl.pyexpr import Untranslatable, identifier, literal, to_python
from archdsl.tensor import TensorType
from archdsl.values import EvalError, Value, is_int

MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class Ref:
    """A slot's place in a skeleton."""

    index: int


@dataclass(frozen=True, slots=True)
class ShapeRef:
    """A tensor shape's place in a skeleton, for the comments of forward."""

    index: int


@dataclass
class Scope:
    """What a spec expression inside one instance may refer to."""

    values: dict[str, Value]
    tensor: TensorType | None  # what `in` is; None where `in` means something else


@dataclass(frozen=True)
class Slot:
    """How to find a slot's expression: the spec's candidates, or the slot the value flowed from."""

    hint: str
    candidates: tuple[ast.Expr, ...] = ()
    inferred: bool = False  # not written in the spec (channels): prefer an expression over a literal
    prefer: int | None = None  # an earlier slot that holds the same quantity
    exact: bool = False  # must keep its form: an int stays an int, not a tuple
    loop: tuple[tuple[str, Value], ...] = ()  # loop variables at the call, written into expressions as values


@dataclass
class Recorder:
    """Collects one instance's slot values and shapes while its skeleton is built."""

    values: list[Value] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    shapes: list[tuple[int, ...]] = field(default_factory=list)

    def slot(self, value: Value, how: Slot) -> Ref:
        self.values.append(value)
        self.slots.append(how)
        return Ref(len(self.values) - 1)

    def shape(self, tensor: TensorType) -> ShapeRef:
        self.shapes.append(tensor.shape)
        return ShapeRef(len(self.shapes) - 1)


@dataclass
class Param:
    name: str
    default: str | None  # Python text; None: required
    computed: str | None = None  # default that depends on other parameters, computed in __init__
    keyword_only: bool = False  # a value the class could not derive, passed by name
    annotation: str | None = None  # the Python type of its value in every instance, where they agree


@dataclass
class PyClass:
    name: str
    doc: str
    params: list[Param]
    skeleton: tuple[Any, ...]
    texts: list[str]  # one per slot
    shapes: list[list[tuple[int, ...]]]  # per shape slot, one per instance
    inputs: list[tuple[int, ...]]  # input shape per instance
    takes_channels: bool
    chosen: list[tuple[str, list[Value]]] = field(default_factory=list)  # expressions and their values

    def expression_for(self, values: Sequence[Value]) -> str | None:
        """An expression of this class whose value in each instance is ``values``, if one was written."""
        candidates: list[tuple[str, list[Value]]] = list(self.chosen)
        if self.takes_channels:
            candidates.append(("in_channels", [shape[0] for shape in self.inputs]))
        return next((text for text, known in candidates if _matches(values, known, exact=True)), None)


@dataclass
class Instance:
    group: ir.Group
    scope: Scope
    key: tuple[str, ...]
    passed: dict[str, Value] = field(default_factory=dict)  # constructor arguments, once generalised
    cls: PyClass | None = None


# Names the emitted file defines besides the classes of blocks: the runtime modules and `F` (torch.nn.functional).
_RESERVED = {*RUNTIME_CLASSES, "F"}

# Generated step names that run words together, as torchvision's state_dict keys do.
_CLASS_NAMES = {"denselayer": "DenseLayer"}


def pascal(name: str) -> str:
    if name in _CLASS_NAMES:
        return _CLASS_NAMES[name]
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name) if part) or "Block"


def is_sequential(group: ir.Group) -> bool:
    """An indexed group of plain steps named 0, 1, ... is an ``nn.Sequential``."""
    return group.indexed and all(
        isinstance(c, (ir.Layer, ir.Group)) and c.name == str(i) for i, c in enumerate(group.children))


def annotation_of(values: list[Value]) -> str | None:
    """The type annotation every one of ``values`` fits (ints widen to float), or None."""
    types = {_type_of(v) for v in values if v is not MISSING}
    if types == {"int", "float"}:
        return "float"
    return types.pop() if len(types) == 1 else None


def _type_of(value: Value) -> str | None:
    if isinstance(value, bool | int | float | str):
        return type(value).__name__
    if isinstance(value, tuple):
        items = {_type_of(v) for v in value}
        if len(items) == 1 and None not in items:
            return f"tuple[{items.pop()}, ...]"
    return None


def same(a: Value, b: Value) -> bool:
    """Equal and of the same type all the way down: ``0`` is not ``False``, ``1`` is not ``1.0``."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _matches(expected: Sequence[Value], got: Sequence[Value], exact: bool = False) -> bool:
    """Whether ``got`` reproduces ``expected`` (MISSING matches anything); per-axis forms may differ unless exact."""
    shape: Callable[[Value], Value] = (lambda v: v) if exact else compact
    return all(e is MISSING or same(shape(e), shape(g)) for e, g in zip(expected, got, strict=True))


class ClassBuilder:
    """Turns every group of one network into classes, children before parents."""

    def __init__(self, network: ir.Network, params: list[ast.Param], blocks: dict[str, ast.Definition], *,
                 given: Mapping[str, Value] | None = None, fixed: Mapping[str, Value] | None = None):
        """``given``: network arguments set by the user (their values become the defaults); ``fixed``:
        network parameters the classes write out as values instead of taking as arguments."""
        self.network = network
        self.blocks = blocks
        self.given = given or {}
        self.fixed = fixed or {}
        self.network_params = [p for p in params if p.name not in self.fixed]
        self.instances: dict[tuple[str, ...], list[Instance]] = {}
        self.by_group: dict[int, Instance] = {}
        self.classes: list[PyClass] = []
        values = {name: value for name, value in network.args if name not in self.fixed}
        self._collect(network.root, Scope(values, network.input), ())

    # -- which groups become classes ------------------------------------------------

    def _collect(self, group: ir.Group, enclosing: Scope, parent: tuple[str, ...]) -> None:
        key: tuple[str, ...]
        if group.kind == "network":
            key, scope = ("network", group.name), enclosing
        elif group.kind == "block":
            key, scope = ("block", group.definition or group.name), Scope(dict(group.args), group.input)
        else:
            key, scope = (*parent, re.sub(r"\d+$", "", group.name) or group.kind), Scope(enclosing.values, None)
        if group.kind in ("network", "block") or not is_sequential(group):
            instance = Instance(group, scope, key)
            self.instances.setdefault(key, []).append(instance)
            self.by_group[id(group)] = instance
            parent = key
        for node in ir.walk(group):
            if node is not group and isinstance(node, ir.Group) and self._owner(group, node):
                self._collect(node, scope, parent)

    @staticmethod
    def _owner(group: ir.Group, node: ir.Group) -> bool:
        """Whether ``node`` sits directly in ``group``'s module (no other group between)."""
        stack: list[ir.Node] = [c for path in ir.paths(group) for c in path]
        while stack:
            current = stack.pop()
            if current is node:
                return True
            if not isinstance(current, ir.Group):
                stack.extend(c for path in ir.paths(current) for c in path)
        return False

    # -- generalisation -------------------------------------------------------------

    def build(self) -> list[PyClass]:
        self.resolve(self.network.root)
        return self.classes

    def resolve(self, group: ir.Group) -> Instance:
        instance = self.by_group[id(group)]
        if instance.cls is None:
            self._generalise(instance.key)
        return instance

    def _generalise(self, key: tuple[str, ...]) -> None:
        described = []
        for instance in self.instances[key]:
            recorder = Recorder()
            skeleton = Describer(self, recorder, instance).group_body(instance.group)
            described.append((instance, skeleton, recorder))
        partitions: dict[Any, list[tuple[Instance, Recorder]]] = {}
        for instance, skeleton, recorder in described:
            partitions.setdefault(skeleton, []).append((instance, recorder))
        taken = {c.name for c in self.classes} | _RESERVED
        for skeleton, members in partitions.items():
            name = pascal(key[-1])
            number = 1
            while name in taken:
                number += 1
                name = f"{pascal(key[-1])}{number}"
            taken.add(name)
            self.classes.append(self._make_class(name, key, skeleton, members))

    def _make_class(self, name: str, key: tuple[str, ...], skeleton: Any,
                    members: list[tuple[Instance, Recorder]]) -> PyClass:
        first = members[0][0]
        chooser = Chooser([m[0] for m in members], first.group.kind != "network", first.group.kind == "block")
        params = self._declared_params(first, chooser)
        template = members[0][1]
        texts: list[str] = []
        for index, how in enumerate(template.slots):
            preferred = None if how.prefer is None else (texts[how.prefer], [r.values[how.prefer] for _, r in members])
            texts.append(chooser.choose(how, [r.values[index] for _, r in members], preferred))
        if first.group.kind != "network":  # a block parameter its form never reads is not taken (see the docstring)
            read = {identifier(name) for name in chooser.used}
            params = [p for p in params if p.name in read]
        params += [Param(lift, None, keyword_only=True) for lift in chooser.lifted]
        shapes = [[r.shapes[i] for _, r in members] for i in range(len(members[0][1].shapes))]
        kind = first.group.kind
        doc = (f"archdsl block `{key[-1]}`.{_decided([m[0].group for m in members])}" if kind == "block" else
               f"The `{key[-1]}` network.{self._fixed_note()}" if kind == "network" else
               f"A `{key[-1]}` of `{key[-2]}`.")
        cls = PyClass(name, doc, params, skeleton, texts, shapes, [m[0].group.input.shape for m in members],
                      kind != "network", chooser.chosen)
        for index, (instance, _) in enumerate(members):
            instance.cls = cls
            spec_values = {identifier(n): v for n, v in instance.scope.values.items()}
            instance.passed = {p.name: spec_values.get(p.name, MISSING) for p in params}
            instance.passed.update({lift: chooser.lifted[lift][index] for lift in chooser.lifted})
        for param in params:
            param.annotation = annotation_of([instance.passed[param.name] for instance, _ in members])
        return cls

    def _fixed_note(self) -> str:
        if not self.fixed:
            return ""
        values = ", ".join(f"{name}={literal(value)}" for name, value in self.fixed.items())
        return (f"\n\nCompiled for {values}, written out as values where layers depend on "
                f"{'it' if len(self.fixed) == 1 else 'them'};\ncompile the spec again with `--set` for others.")

    def _declared_params(self, instance: Instance, chooser: Chooser) -> list[Param]:
        group = instance.group
        if group.kind == "network":
            definitions: list[ast.Param] = self.network_params
        elif group.kind == "block":
            definitions = list(self.blocks[group.definition or ""].params)
        else:
            return [Param(identifier(n), None) for n in instance.scope.values]
        params = []
        for param in definitions:
            default: str | None = None
            computed: str | None = None
            if group.kind == "network" and param.name in self.given:
                default = literal(instance.scope.values[param.name])
            elif param.default is not None:
                try:
                    text, _ = to_python(param.default, chooser.name_of, None)
                    plain = isinstance(param.default, ast.Literal) or (
                        isinstance(param.default, ast.Unary) and isinstance(param.default.operand, ast.Literal))
                    default, computed = (text, None) if plain else ("None", text)
                except Untranslatable:
                    default = None
            params.append(Param(identifier(param.name), default, computed))
        return params


def _decided(groups: list[ir.Group]) -> str:
    """How the block's conditions came out in every instance: the form of the block this class builds."""
    common = [d for d in groups[0].decisions if all(d in g.decisions for g in groups[1:])]
    if not common:
        return ""
    conditions = " and ".join(f"`{text}` is {'true' if outcome else 'false'}" for text, outcome in common)
    return "\n\n" + textwrap.fill(f"The form for calls where {conditions}; other calls need another class.",
                                   width=88, break_on_hyphens=False, break_long_words=False)


class Chooser:
    """Picks, for each slot, the expression that reproduces every instance's value."""

    def __init__(self, instances: list[Instance], takes_channels: bool, in_means_input: bool):
        """``takes_channels``: the class gets ``in_channels``; ``in_means_input``: the spec's ``in`` is its input."""
        self.instances = instances
        self.takes_channels = takes_channels
        self.in_means_input = in_means_input
        self.chosen: list[tuple[str, list[Value]]] = []
        self.lifted: dict[str, list[Value]] = {}
        self.used: set[str] = set()

    def name_of(self, name: str) -> str:
        if name not in self.instances[0].scope.values:
            raise Untranslatable(name)
        self.used.add(name)
        return identifier(name)

    def choose(self, how: Slot, values: list[Value], preferred: tuple[str, list[Value]] | None) -> str:
        text = self._spec_expression(values, how.candidates, how.exact, dict(how.loop))
        if text is None and preferred is not None and _matches(values, preferred[1], how.exact):
            text = preferred[0]
        present = [v for v in values if v is not MISSING]
        constant = all(same(compact(v), compact(present[0])) for v in present)
        if text is None and constant and not how.inferred:
            return literal(compact(present[0]))
        if text is None and all(is_int(compact(v)) for v in present):
            text = self._integer_expression(values, how.exact)
        if text is None:
            text = literal(compact(present[0])) if constant else self._lift(how.hint, values)
        self.chosen.append((text, values))
        return text

    def _spec_expression(self, values: list[Value], candidates: tuple[ast.Expr, ...], exact: bool,
                         loop: dict[str, Value]) -> str | None:
        """The first candidate that reproduces ``values`` in every instance, its loop variables as their values."""

        def name_of(name: str) -> str:
            if name not in loop:
                return self.name_of(name)
            text = literal(loop[name])
            return f"({text})" if text.startswith("-") else text

        for expr in candidates:
            used = set(self.used)
            try:
                text, _ = to_python(expr, name_of, "in_channels" if self.in_means_input else None)
                got = [MISSING if v is MISSING else evaluate(expr, {**i.scope.values, **loop}, i.scope.tensor)
                       for v, i in zip(values, self.instances, strict=True)]
            except (Untranslatable, EvalError):
                self.used = used
                continue
            if _matches(values, got, exact):
                return text
            self.used = used
        return None

    def _integer_expression(self, values: list[Value], exact: bool) -> str | None:
        for text, earlier in reversed(self.chosen):  # the latest: channels flow from the layer before
            if _matches(values, earlier, exact):
                return text
        if self.takes_channels and _matches(values, [i.group.input.channels for i in self.instances], exact):
            return "in_channels"
        for name in self.instances[0].scope.values:
            if _matches(values, [i.scope.values[name] for i in self.instances], exact):
                return self.name_of(name)
        return None

    def _lift(self, hint: str, values: list[Value]) -> str:
        name = identifier(re.sub(r"\W", "_", hint))
        while name in self.lifted or name in self.instances[0].scope.values:
            name += "_"
        self.lifted[name] = values
        return name


class Describer:
    """Builds the skeleton of one instance: its modules in order and the wiring of forward.

    It follows the channel count along each path (``channels``: the slot holding it),
    so an inferred value such as a norm's feature count is written with the expression
    of the layer it came from.
    """

    def __init__(self, builder: ClassBuilder, recorder: Recorder, instance: Instance):
        self.builder = builder
        self.record = recorder
        self.instance = instance
        self.init: list[Any] = []
        self.channels: Ref | None = None

    def group_body(self, group: ir.Group) -> tuple[Any, ...]:
        only = group.children[0] if len(group.children) == 1 else None
        loop = self.dense_loop(only) if isinstance(only, ir.Dense) else None
        if loop is not None:  # the whole module is one dense block: its layers are its children
            self.init.append(loop)
            plan: tuple[Any, ...] = (("dense", None, self.record.shape(group.output)),)
        else:
            plan = self.path(group.children)
        return (tuple(self.init), plan, self.record.shape(group.output))

    def dense_loop(self, dense: ir.Dense) -> tuple[Any, ...] | None:
        """A dense block's layers as one constructor call in a loop, where they differ only in input channels.

        Layer i is named ``<prefix><i + 1>`` and takes ``in + i * growth`` channels, as torchvision
        writes DenseNet; the loop's count and growth are slots like any other value.
        """
        layers = dense.layers
        prefix = layers[0].name.removesuffix("1")
        growth = layers[0].output.channels
        regular = all(layer.name == f"{prefix}{i + 1}" and layer.output.channels == growth
                      and layer.input.channels == dense.input.channels + i * growth
                      for i, layer in enumerate(layers))
        if not regular:  # also where the first name does not end in 1
            return None
        first = self.builder.resolve(layers[0])
        for layer in layers[1:]:
            other = self.builder.resolve(layer)
            if other.cls is not first.cls or not all(same(other.passed[name], value)
                                                     for name, value in first.passed.items()):
                return None
        source = dense.source
        count = self.record.slot(len(layers), Slot("num_layers", (source.args[0].value,) if source else (),
                                                   inferred=True))
        make = self.make(layers[0], None, prefix)
        self.channels = None
        return ("dense_loop", prefix, make, count, self.inferred("growth", growth, None))

    def path(self, nodes: tuple[ir.Node, ...]) -> tuple[Any, ...]:
        steps: list[Any] = []
        previous: ir.Node | None = None
        for node in nodes:
            steps.append(self.step(node, previous))
            previous = node
        return tuple(steps)

    def inferred(self, hint: str, value: Value, prefer: Ref | None) -> Ref:
        return self.record.slot(value, Slot(hint, inferred=True, prefer=None if prefer is None else prefer.index))

    def step(self, node: ir.Node, previous: ir.Node | None) -> Any:
        start = self.channels
        match node:
            case ir.Layer() | ir.Group():
                self.init.append(("attr", node.name, self.make(node, previous, node.name)))
                return ("call", node.name, self.record.shape(node.output))
            case ir.Residual(body=body, shortcut=shortcut, projects=True):
                plan = self.path(body)
                attr = shortcut[0].name if shortcut else "downsample"  # type: ignore[union-attr]
                # The projection exists exactly where the stride or the channels change, so its
                # condition is written from these slots rather than passed in.
                stride = tuple(-(-a // b) for a, b in zip(node.input.spatial, node.output.spatial, strict=True))
                refs = (self.inferred(f"{attr}_in", node.input.channels, start),
                        self.inferred(f"{attr}_out", node.output.channels, self.channels),
                        self.record.slot(compact(stride), Slot(f"{attr}_stride", inferred=True, exact=True)))
                self.init.append(("projection", attr, node.input.rank, *refs))
                return ("residual_projected", plan, attr, adds_in_place(node), self.record.shape(node.output))
            case ir.Residual(body=body, shortcut=shortcut):
                plan = self.path(body)
                end, self.channels = self.channels, start
                short = None if shortcut is None else self.path(shortcut)
                self.channels = end
                return ("residual", plan, short, adds_in_place(node), self.record.shape(node.output))
            case ir.Concat(branches=branches) | ir.Add(branches=branches):
                plans, ends = [], []
                for branch in branches:
                    self.channels = start
                    plans.append(self.path(branch))
                    ends.append(self.channels)
                self.channels = None if isinstance(node, ir.Concat) else ends[0]
                return ("concat" if isinstance(node, ir.Concat) else "add", tuple(plans),
                        self.record.shape(node.output))
            case ir.Gate(body=body):
                plan = self.path(body)
                self.channels = start
                return ("gate", plan, self.record.shape(node.output))
            case ir.Dense(layers=layers):
                for layer in layers:
                    self.init.append(("attr", layer.name, self.make(layer, None, layer.name)))
                self.channels = None
                return ("dense", tuple(layer.name for layer in layers), self.record.shape(node.output))
        raise TypeError(f"cannot describe IR node {type(node).__name__}")

    def loop_values(self, node: ir.Layer | ir.Group) -> tuple[tuple[str, Value], ...]:
        """Names bound where ``node`` is called that the class has no parameter for: loop variables."""
        known = self.instance.scope.values
        return tuple((name, value) for name, value in (node.caller or {}).items()
                     if name not in known or not same(known[name], value))

    def make(self, node: ir.Layer | ir.Group, previous: ir.Node | None, hint: str) -> Any:
        if isinstance(node, ir.Layer):
            return self.layer(node, previous, hint)
        if node.kind not in ("network", "block") and is_sequential(node):
            steps: list[Any] = []
            previous_child: ir.Node | None = None
            for child_node in node.children:
                assert isinstance(child_node, (ir.Layer, ir.Group))  # is_sequential holds
                steps.append(self.make(child_node, previous_child, f"{hint}_{child_node.name}"))
                previous_child = child_node
            return ("seq", tuple(steps))
        child = self.builder.resolve(node)
        assert child.cls is not None
        channels = self.inferred(f"{hint}_in_channels", node.input.channels, self.channels) \
            if child.cls.takes_channels else None
        given = _given_arguments(child, self.builder.blocks)
        loop = self.loop_values(node)
        call_args = []
        for param in child.cls.params:
            if param.default is not None and param.name not in given:
                continue  # the class computes the same default
            call_args.append((param.name, self.record.slot(child.passed[param.name],
                                                           Slot(f"{hint}_{param.name}", given.get(param.name, ()),
                                                                loop=loop))))
        if node.output.channels != node.input.channels:
            self.channels = None
        return ("class", child.cls.name, channels, tuple(call_args))

    def layer(self, layer: ir.Layer, previous: ir.Node | None, hint: str) -> Any:
        constructor = constructor_of(layer, previous)
        sources = _argument_sources(layer)
        refs: dict[int | str, Ref] = {}
        loop = self.loop_values(layer)
        keyed: list[tuple[int | str, Value]] = [*enumerate(constructor.args), *constructor.kwargs]
        for key, value in keyed:
            if argument_source(layer.kind, key) is None:
                refs[key] = self.inferred(f"{hint}_{key}", value, self.channels)
            else:
                refs[key] = self.record.slot(value, Slot(f"{hint}_{key}", sources(key), loop=loop))
        out = next((ref for key, ref in refs.items() if argument_source(layer.kind, key) == "out"), None)
        if out is not None:
            self.channels = out
        elif layer.output.channels != layer.input.channels:
            self.channels = None
        kwargs = tuple((k, refs[k]) for k, _ in constructor.kwargs)
        return ("ctor", constructor.cls, tuple(refs[i] for i in range(len(constructor.args))), kwargs)


def _argument_sources(layer: ir.Layer) -> Callable[[int | str], tuple[ast.Expr, ...]]:
    """For a constructor argument of ``layer``, the expression the spec's call gives its parameter."""
    if layer.source is None:
        return lambda key: ()
    given = {name: arg.value for name, arg in layer.source.by_parameter([p.name for p in LAYERS[layer.kind].params])}

    def sources(key: int | str) -> tuple[ast.Expr, ...]:
        name = argument_source(layer.kind, key)
        return (given[name],) if name in given else ()

    return sources


def _given_arguments(child: Instance, blocks: dict[str, ast.Definition]) -> dict[str, tuple[ast.Expr, ...]]:
    """The block parameters a call spells out, with the expression it gives each.

    A group that is not a block instance takes the parameters of the block around it,
    and so is given each by its own name.
    """
    group = child.group
    if group.kind != "block":
        return {identifier(name): (ast.Name(name, group.span),) for name in child.scope.values}
    if group.source is None or group.definition not in blocks:
        return {}
    names = [p.name for p in blocks[group.definition].params]
    return {identifier(name): (arg.value,) for name, arg in group.source.by_parameter(names)}

