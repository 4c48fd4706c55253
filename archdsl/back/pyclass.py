"""One class of the emitted file: a template's modules in ``__init__``, its dataflow in ``forward``. Arguments are
the spec's expressions, an ``if`` on them a Python ``if``, a loop a ``for``; groups take a form of ``pyforms``."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from archdsl import ir
from archdsl.back.codewriter import CodeWriter
from archdsl.back.lowered import adds_in_place
from archdsl.back.pycomment import shape_comment
from archdsl.back.pyfile import Emitted, Parameter, returned_annotation, write_returns
from archdsl.back.pyforms import (
    conditional,
    indented,
    listed_name,
    optional_module,
    parameters_behind,
    plain_attribute,
    static_names,
    symbols_in,
)
from archdsl.back.pylocals import LOCAL, Locals
from archdsl.back.pyloops import LoopWriter, collected_labels, name_passes
from archdsl.back.pymodules import ModuleWriter
from archdsl.back.pynames import Names, class_name, variable
from archdsl.back.pyrules import RuleWriter
from archdsl.back.pysource import Call, annotation, call_line
from archdsl.elaboration.naming import module_attributes
from archdsl.elaboration.templates import REQUIRED, check_symbols, construction_symbols
from archdsl.ir import flow, folding
from archdsl.ir.expr import GIVEN, HELPERS, INPUT, LOOP, STATE, Op, Sym, is_symbolic, literal, python, symbols, walk
from archdsl.ir.tensor import TensorType, all_key, pass_label


class ClassWriter(ModuleWriter, RuleWriter, LoopWriter):
    """Writes one class: the template's modules in ``__init__`` and its dataflow in ``forward``."""

    def __init__(self, name: str, kind: str, emitted: Emitted, body: ir.Group, params: Sequence[Parameter],
                 doc: str, takes_channels: bool, sizes: frozenset[str] = frozenset(),
                 given_names: Mapping[str, str] | None = None):
        """``sizes``: the tensors whose spatial size the class is given ("in", a tensor parameter's name);
        ``given_names``: a block's parameter names for its tensor parameters' channels and sizes, as
        ``parameter_names`` gives them (``skip_channels``, ``skip_size``)."""
        self.name = name
        self.kind = kind
        self.emitted = emitted
        self.helpers = emitted.helpers
        self.body = body
        self.doc = doc
        given_names = given_names or {}
        self.locals = Names({"in_channels", "in_size", "x", *(p.local for p in params), *given_names.values()})
        gives = emitted.outputs if kind == "network" else body.gives
        self.training_only = flow.training_only(body.children, gives)
        self.dead = flow.dead_steps(body.children, gives)  # built in `__init__`, never run in `forward`
        tensor_params = [g.param for g in body.given] if kind == "block" else []
        # labelled tensors -> the forward's variables for them: those given beside `x` first, then those kept
        reads = tensor_params if kind == "block" else flow.outer_reads(body)
        self.tensors = {label: self.locals.create(variable(label)) for label in reads}
        self.given = list(self.tensors.values())
        self.params = list(params)
        self.symbol_names: dict[Sym, str] = {p.symbol: p.local for p in params}
        self.passes_named_i = name_passes(body, self.symbol_names, self.locals)
        self.channels = "in_channels" if takes_channels else None
        self.size = "in_size" if "in" in sizes else None
        self.given_channels = {param: given_names[f"{param}_channels"] for param in tensor_params}
        self.given_sizes = {param: given_names[f"{param}_size"] for param in tensor_params if param in sizes}
        self.attributes = Names({*module_attributes(), *static_names(body)})
        self.init = CodeWriter()
        self.forward = CodeWriter()
        self.used = construction_symbols(body, lambda call: emitted.calls[id(call)].sizes)
        self.read = self.used | (check_symbols(body) if kind == "network" else set())  # and what its tests read
        self.params_of = parameters_behind(body)
        self.conditions: list[Any] = []
        self.guarded = 0  # inside conditions or loops that depend on arguments, whose rules the checker may not see
        self.stored: dict[Any, str] = {}  # values forward needs, kept as attributes
        self.kept: dict[tuple[Sym, CodeWriter], str] = {}  # loop state forward reads, kept where __init__ has it
        self.passes = 0  # depth of the loops being written: their state changes pass by pass
        self.hoists: list[tuple[CodeWriter, set[Any], set[Any]]] = []  # loops around: outside, its rules, binds
        self.mentioned: set[Any] = set()  # the symbols the code written so far reads
        self.module_lists: list[str] = []  # the labels of a class's loop naming a module per pass (``self.m``)
        self.collected = collected_labels(body)  # labels of a class's loop read after it: every pass's tensor
        self.lists: list[str] = []  # the variables collecting numbered steps (see ``listed``), by depth
        self.listing = 0
        self.paths: dict[int, str] = {}  # id() of a step written as a module of its own -> its attribute path
        self.folds: list[tuple[str, str]] = []  # an inference file's: the norms ``for_inference`` folds (``FOLDS``)
        self.choosing = 0  # inside the arms of an `if`, whose modules may share names: nothing there folds
        counts = {t.channels for node in ir.walk(body) for t in (node.input, node.output) if t is not None and t.shape}
        given = {p.symbol for p in params}
        self.long = Locals(self.locals, self.name_of, lambda s: s in given or s.role == GIVEN or (
            s.role == INPUT and s.name == "c" and self.channels is not None), counts)

    def name_of(self, sym: Sym) -> str:
        if sym.role == LOCAL:
            return sym.name
        if sym in self.symbol_names:
            return self.symbol_names[sym]
        if sym.role == INPUT and sym.name == "c" and self.channels is not None:
            return self.channels
        if sym.role == INPUT and self.size is not None:
            return f"{self.size}[{_axis_index(sym.name, self.body.input)}]"
        if sym.role == GIVEN:
            tensor, axis = sym.name.split(".")
            if axis == "c":
                return self.given_channels[tensor]
            if tensor in self.given_sizes:
                (t,) = [g.type for g in self.body.given if g.param == tensor]
                return f"{self.given_sizes[tensor]}[{_axis_index(axis, t)}]"
        base = "i" if sym in self.passes_named_i else {STATE: "channels", LOOP: "item"}.get(sym.role, sym.name)
        self.symbol_names[sym] = self.locals.create(base)
        return self.symbol_names[sym]

    def py(self, value: Any, named: bool = True) -> str:
        """``value`` as source in ``__init__``; ``named``: long arithmetic as the locals ``pylocals`` names."""
        for part in walk(value):
            if isinstance(part, Op) and part.name in HELPERS:
                self.emitted.helpers.add(part.name)
        self.mentioned |= symbols(value)
        return python(self.long.shortened(value) if named else value, self.name_of)

    def fpy(self, value: Any) -> str:
        """``value`` as source in ``forward``: what the constructor was given is kept as attributes."""
        self.py(value)  # notes the helpers it calls

        def forward_name(sym: Sym) -> str:
            if sym.role == LOOP or (sym.role == STATE and self.passes):
                return self.name_of(sym)
            if sym.role == STATE:
                return f"self.{self._kept(sym)}"
            if sym not in self.stored:  # an axis of the input's size is kept by its name: ``self.height``
                axis = {"d": "depth", "h": "height", "w": "width", "l": "length"}.get(sym.name)
                self.stored[sym] = self.attributes.create(axis if sym.role == INPUT and axis else self.name_of(sym))
            return f"self.{self.stored[sym]}"

        return python(value, forward_name)

    def _kept(self, sym: Sym) -> str:
        """The attribute holding a loop's state as ``__init__`` has it here, for ``forward``: ``self.channels``."""
        key = (sym, self.init)
        if key not in self.kept:
            self.kept[key] = self.attributes.create(self.name_of(sym))
            self.init.line(f"self.{self.kept[key]} = {self.name_of(sym)}")
        return self.kept[key]

    def write(self, out: CodeWriter) -> None:
        while True:  # until every loop whose results the tests read is written
            prelude, mentioned = CodeWriter(), set(self.mentioned)
            self.checks(self.body.children, prelude, set())
            if self.mentioned <= mentioned:
                break
        result = self.steps(self.body.children, "x", "x", None)
        out.line(f"class {self.name}(nn.Module):")
        with out.indent():
            out.docstring(self.doc)
            out.blank()
            if self.folds:
                pairs = [f"({literal(conv)}, {literal(norm)})" for conv, norm in self.folds]
                call_line(out, "FOLDS = (", pairs, ",)" if len(pairs) == 1 else ")")
                out.blank()
            call_line(out, "def __init__(", self._signature(), ") -> None:")
            with out.indent():
                out.line("super().__init__()")
                for param in self.params:
                    if param.default is not REQUIRED and is_symbolic(param.default):
                        out.line(f"if {param.local} is None:")
                        with out.indent():
                            out.line(f"{param.local} = {self.py(param.default, named=False)}")
                self.typed([param.symbol for param in self.params], out)
                for local, value in self.long.definitions:
                    out.line(f"{local} = {self.py(value, named=False)}")
                for line in prelude.lines:
                    out.line(line)
                for value, attribute in self.stored.items():
                    out.line(f"self.{attribute} = {self.py(value)}")
                for line in self.init.lines:
                    out.line(line)
                if self.kind == "network":
                    changed = self.emitted.init.changed()
                    out.line("init_weights(self" + "".join(f", {k}={literal(v)}" for k, v in changed.items()) + ")")
            out.blank()
            outputs = self.emitted.outputs if self.kind == "network" else self.body.gives
            call_line(out, "def forward(", ["self", *(f"{name}: torch.Tensor" for name in ["x", *self.given])],
                      f") -> {returned_annotation(outputs, self.emitted.outputs_class)}:")
            with out.indent():
                for line in self.forward.lines:
                    out.line(line)
                if outputs is None:
                    out.line(f"return {result}")
                else:
                    write_returns(out, outputs, self.emitted.outputs_class, self.tensor)

    def _signature(self) -> list[str]:
        parts = ["self"]
        if self.channels is not None:
            parts.append(f"{self.channels}: int")
        parts += [f"{name}: int" for name in self.given_channels.values()]
        if self.size is not None:
            parts.append(f"{self.size}: tuple[int, ...]")
        parts += [f"{name}: tuple[int, ...]" for name in self.given_sizes.values()]
        defaulted = False
        for param in self.params:
            written = annotation(param.example)
            if param.default is REQUIRED:
                if defaulted and "*" not in parts:
                    parts.append("*")  # a parameter without default after one with: keyword-only
                parts.append(f"{param.local}: {written}" if written else param.local)
                continue
            defaulted = True
            if is_symbolic(param.default):
                parts.append(f"{param.local}: {written} | None = None" if written else f"{param.local}=None")
            else:
                text = python(param.default, self.name_of)
                parts.append(f"{param.local}: {written} = {text}" if written else f"{param.local}={text}")
        return parts


    def steps(self, nodes: Sequence[ir.Node], source: str, target: str, previous: ir.Node | None) -> str:
        """Writes ``nodes`` reading ``source`` into ``target``; returns the variable holding the result."""
        current = source
        for position, node in enumerate(nodes):
            if isinstance(node, ir.Require):
                self.require(node)
                continue
            if id(node) in self.dead:  # its modules are built, as the spec has them; nothing reads its tensor
                if not isinstance(node, (ir.Keep, ir.Split, ir.Unpack, ir.Read)):
                    forward, self.forward = self.forward, CodeWriter()
                    self.step(node, current, target, previous)
                    self.forward = forward
                continue
            if id(node) in self.training_only:  # only training-only outputs need it: `if self.training:`
                if position and id(nodes[position - 1]) in self.training_only:
                    continue  # written with the steps before it
                run = list(itertools.takewhile(lambda n: id(n) in self.training_only, nodes[position:]))
                (forward, self.forward), (skipped, self.training_only) = (self.forward, CodeWriter()), (
                    self.training_only, frozenset())
                current = self.steps(run, current, target, previous)
                (lines, self.forward), self.training_only = (self.forward.lines, forward), skipped
                if lines:
                    self.forward.line("if self.training:")
                    indented(self.forward, lines)
                previous = run[-1]
                continue
            if isinstance(node, ir.Keep):
                current = self.keep(node, current)
            elif isinstance(node, ir.Split):
                self.split(node, current)
            elif isinstance(node, ir.Unpack):  # the tuple is its label's: `m = self.m(x)`, then `m[0]` flows on
                self.tensors.update({f"{node.label}[{i}]": f"{current}[{i}]" for i in range(node.count)})
                current = f"{current}[0]"
            else:  # a step whose output is kept writes it under its label: `c3 = self.layer2(c2)`
                following = nodes[position + 1] if position + 1 < len(nodes) else None
                current = self.step(node, current, self.tensor(following.label) if isinstance(
                    following, (ir.Keep, ir.Unpack)) else target, previous)
                self.note_fold(node, previous)
            previous = node
        return current

    def tensor(self, label: str) -> str:
        """The forward's variable for a labelled tensor; one pass's of a class's loop from the list of them all:
        ``ms[-1]``."""
        if label not in self.tensors:
            one = re.fullmatch(r"(.*\[\*\])\[(-?\d+)\]", label)
            self.tensors[label] = (f"{self.tensor(one[1])}[{one[2]}]" if one else
                                   self.locals.create(variable(label)))
        return self.tensors[label]

    def keep(self, node: ir.Keep, current: str) -> str:
        kept = self.tensor(node.label)
        if current != kept:
            self.forward.line(f"{kept} = {current}")
        label = pass_label(node.label)
        if label in self.collected:  # a pass of the class's loop: `ms.append(m)`
            self.forward.line(f"{self.tensor(all_key(label))}.append({kept})")
        return kept

    def split(self, node: ir.Split, current: str) -> None:
        """``parts = torch.split(x, [32, 32], dim=1)``; a part is read as ``parts[1]``."""
        parts = self.tensor(node.label)
        sizes = ", ".join(self.fpy(size) for size in node.sizes)
        self.forward.line(f"{parts} = torch.split({current}, [{sizes}], dim=1)")
        for index in range(len(node.sizes)):
            self.tensors[f"{node.label}[{index}]"] = f"{parts}[{index}]"

    def require(self, node: ir.Require) -> None:
        """What a block was written for (an assumption) it tests where it builds; the network tests every rule
        before it builds anything (see ``checks``)."""
        if self.kind != "network" and node.code is None:
            self._require(self.init, node)


    def step(self, node: ir.Node, source: str, target: str, previous: ir.Node | None) -> str:
        if isinstance(node, (ir.Layer, ir.Group)):
            self.module(node, self.construct(node, previous), source, target)
            return target
        if isinstance(node, ir.Read):
            return self.tensor(node.label)
        if isinstance(node, ir.Choice):
            return self.choice(node, source, target, previous)
        handler = {ir.Residual: self.residual, ir.Concat: self.join, ir.Elementwise: self.join, ir.Gate: self.gate,
                   ir.Dense: self.dense, ir.Loop: self.loop}.get(type(node))
        if handler is None:
            raise TypeError(f"the Python back end cannot write IR node {type(node).__name__}")
        return handler(node, source, target)  # type: ignore[operator]

    def note_fold(self, node: ir.Node, previous: ir.Node | None) -> None:
        """In a file for inference, notes a batch norm that ``for_inference`` folds into the convolution before it
        (``FOLDS``): one the forward calls after it; those in an ``nn.Sequential`` it finds itself."""
        conv, norm = self.paths.get(id(previous)), self.paths.get(id(node))
        if self.emitted.inference and not self.choosing and conv and norm and folding.folds(previous, node):
            self.folds.append((conv, norm))

    def comment(self, node: ir.Node) -> str:
        return "  # " + shape_comment(node.output, self.name_of)

    def module(self, node: ir.Layer | ir.Group, made: Call | str, source: str, target: str) -> None:
        name = node.name
        if isinstance(node, ir.Group):  # a sub-module that reads labelled tensors is given them
            source = ", ".join([source, *(self.tensor(label) for _, label in flow.given_tensors(node))])
        listed = listed_name(name)
        if listed is not None:  # one pass's module of a labelled step in a loop: `self.m.append(...)`, `self.m[1]`
            label, index = listed
            if index == 0:
                self.init.line(f"self.{label} = nn.ModuleList()")
            elif not isinstance(index, int):  # the class's loop: the list is made before it
                self.module_lists.append(label)
            call_line(self.init, f"self.{label}.append(", [made], ")")
            self.forward.line(f"{target} = self.{label}[{self.fpy(index)}]({source}){self.comment(node)}")
            if isinstance(index, int):
                self.paths[id(node)] = f"{label}.{index}"
            return
        if isinstance(name, str):
            self.paths[id(node)] = name
        if plain_attribute(name):
            call_line(self.init, f"self.{name} = ", [made], "")
            self.forward.line(f"{target} = self.{name}({source}){self.comment(node)}")
            return
        text = literal(name) if isinstance(name, str) else self.py(name)
        call_line(self.init, "self.add_module(", [text, made], ")")
        forward_name = literal(name) if isinstance(name, str) else self.fpy(name)
        self.forward.line(f"{target} = getattr(self, {forward_name})({source}){self.comment(node)}")

    def nested_class(self, group: ir.Group) -> Call:
        """A class for a named group that is not a chain (a named residual, a dense layer)."""
        channels = Sym("c", INPUT, int)
        body = group
        if is_symbolic(group.input.channels):
            rebuilt = ir.replace_values(group, {group.input.channels: channels})
            assert isinstance(rebuilt, ir.Group)
            body = rebuilt
            self.emitted.rebuilt.append(body)  # alive while the file is written: its ids key the calls
            for before, after in zip(ir.walk(group), ir.walk(body), strict=True):
                if id(before) in self.emitted.calls:
                    self.emitted.calls[id(after)] = self.emitted.calls[id(before)]
        needed = symbols_in(body) & construction_symbols(body, lambda call: self.emitted.calls[id(call)].sizes)
        free = sorted((s for s in needed if s != channels), key=lambda s: (s.name, s.role))  # input sizes too
        base = "DenseLayer" if group.kind == "denselayer" else str(group.name)
        if base.isdigit():  # an element of an nn.Sequential-like group
            base = f"{self.name} step {base}"
        name = class_name(base, self.emitted.names)
        params = [Parameter(_parameter(self.name_of(s)), s, REQUIRED, s.type) for s in free]
        doc = ("One layer of a dense block: it sees every feature map before it, joined." if group.kind == "denselayer"
               else f"The `{group.name}` step of `{self.name}`.")
        writer = ClassWriter(name, "group", self.emitted, body, params, doc, takes_channels=True)
        writer.symbol_names[channels] = "in_channels"
        out = CodeWriter()
        writer.write(out)
        unnamed = out.text().replace(f"class {name}(", "class (", 1)
        if unnamed in self.emitted.nested_names:  # a twin of a class already written: use that one
            self.emitted.names.discard(name)
            name = self.emitted.nested_names[unnamed]
        else:
            self.emitted.nested_names[unnamed] = name
            self.emitted.nested.append(out.text())
        return Call(name, [self.py(group.input.channels), *(f"{p.local}={self.py(p.symbol)}" for p in params)])

    def residual(self, node: ir.Residual, source: str, target: str) -> str:
        identity = self.locals.create("identity")
        self.forward.line(f"{identity} = {source}")
        body = self.steps(node.body, identity, target, None)
        shortcut = identity
        optional = self._optional_module(node.shortcut or ())
        if optional is not None:
            condition, module = optional
            self._optional(condition, module)
            self.forward.line(f"if self.{module.name} is not None:")
            with self.forward.indent():
                self.forward.line(f"{identity} = self.{module.name}({identity})")
        elif node.shortcut is not None:
            shortcut = self.steps(node.shortcut, identity, self.locals.create("shortcut"), None)
        if adds_in_place(node) and body == target:
            self.forward.line(f"{target} += {shortcut}{self.comment(node)}")
        else:
            self.forward.line(f"{target} = {body} + {shortcut}{self.comment(node)}")
        return target

    def _optional_module(self, nodes: tuple[ir.Node, ...]) -> tuple[Any, ir.Layer | ir.Group] | None:
        """``(condition, module)`` where the nodes are one module that exists only where a condition holds, under
        a name no other step of the class may take (``self.downsample = None`` would clash with it)."""
        optional = optional_module(nodes)
        if optional is None or (isinstance(optional[1], ir.Group) and flow.given_tensors(optional[1])):
            return None  # (a module given labelled tensors is called where they are at hand)
        name = optional[1].name
        for node in ir.walk(self.body):
            other = getattr(node, "name", None)
            if isinstance(other, Op) and other.name == "name" and name.startswith(other.args[0]) and \
                    name[len(other.args[0]):].isdigit():
                return None
            if isinstance(other, Op) and name in walk(other):  # a name chosen where it runs: it may be this one
                return None
        return optional

    def _optional(self, condition: Any, module: ir.Layer | ir.Group) -> None:
        """``self.name = None``, then the module where ``condition`` holds: torchvision's downsample."""
        self.init.line(f"self.{module.name} = None")
        self.init.line(f"if {self.py(condition)}:")
        with self.init.indent():
            call_line(self.init, f"self.{module.name} = ", [self.construct(module, None)], "")

    def gate(self, node: ir.Gate, source: str, target: str) -> str:
        weights = self.steps(node.body, source, self.locals.create("weights"), None)
        self.forward.line(f"{target} = {source} * {weights}{self.comment(node)}")
        return target

    def choice(self, node: ir.Choice, source: str, target: str, previous: ir.Node | None) -> str:
        optional = self._optional_module((node,))
        if optional is not None:
            condition, module = optional
            self._optional(condition, module)
            if source in self.tensors.values():  # a labelled tensor stays what its label names
                self.forward.line(f"{target} = {source}")
                source = target
            self.forward.line(f"if self.{module.name} is not None:")
            with self.forward.indent():
                self.forward.line(f"{source} = self.{module.name}({source}){self.comment(module)}")
            return source
        init, forward = self.init, self.forward
        branches = []
        self.choosing += 1
        for nodes in (node.then, node.otherwise):
            self.init, self.forward = CodeWriter(), CodeWriter()
            result = self.steps(nodes, source, target, previous)
            if result != target:
                self.forward.line(f"{target} = {result}")
            branches.append((self.init.lines, self.forward.lines))
        self.init, self.forward = init, forward
        self.choosing -= 1
        if branches[0][0] == branches[1][0]:  # the same modules either way; only the dataflow differs
            for line in branches[0][0]:
                self.init.line(line)
        else:
            conditional(self.init, self.py(node.condition), branches[0][0], branches[1][0])
        if branches[0][1] == branches[1][1]:
            for line in branches[0][1]:
                self.forward.line(line)
        else:
            passed = [] if source == target else [f"{target} = {source}"]
            conditional(self.forward, self.fpy(node.condition), branches[0][1] or passed, branches[1][1] or passed)
        return target

def _axis_index(axis: str, t: TensorType) -> int:
    """The position of a spatial axis (``h``) in a size tuple of a tensor of type ``t``."""
    axes = "dhw"[-(len(t.shape) - 1):] if len(t.shape) > 2 else "l"
    return axes.index(axis)


def _parameter(source: str) -> str:
    """A parameter name for a value the outer class writes as ``source``: ``skip_size[0]`` becomes ``skip_size_0``."""
    return source if source.isidentifier() else re.sub(r"\W+", "_", source).strip("_")
