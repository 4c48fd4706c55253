"""The Python back end: one self-contained, readable ``.py`` file per network.

It prints templates (see ``templates``): one class per block definition (per rank),
taking that block's parameters, and the network's class, taking the network's. Every
argument is written as the expression the spec gave it; an ``if`` on constructor
arguments is a Python ``if``; a loop over them a Python ``for``. The network class
tests the rules the checker could not decide for every value of its parameters and
raises ``ValueError`` with the checker's words. The file imports only torch.
"""

from __future__ import annotations

import ast as pyast
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from importlib import resources
from typing import Any

from archdsl import __version__, ir
from archdsl.codewriter import CodeWriter
from archdsl.expr import HELPERS, INPUT, LOOP, PARAM, STATE, Op, Sym, is_symbolic, python, symbols, walk
from archdsl.layers import RUNTIME_CLASSES
from archdsl.lowered import adds_in_place, constructor_of
from archdsl.pycomment import shape_comment
from archdsl.pynames import Names, class_name, mangled
from archdsl.pysource import Call, call_line, constructor_call, flat
from archdsl.templates import REQUIRED, Template, Templates
from archdsl.values import Value


@dataclass
class Emitted:
    """What the classes of one file share: the names of the classes and what they use from the runtime."""

    calls: dict[int, Template]  # id() of a block call's ir.Group -> the class it builds
    classes: dict[int, str] = field(default_factory=dict)  # id() of a template -> its class name
    names: set[str] = field(default_factory=set)  # every class name, nested classes too
    runtime: set[str] = field(default_factory=set)
    helpers: set[str] = field(default_factory=set)
    nested: list[str] = field(default_factory=list)  # the source of classes for groups, written before their user


def parameter_names(params: Sequence[str], classes: set[str]) -> dict[str, str]:
    """The Python names of a class's parameters: each spec name, changed only where it would shadow what the
    file uses (a class, a helper, a builtin) or be no Python parameter (a keyword): ``max_``, ``lambda_``."""
    names = Names({"in_channels", "in_size", *classes})
    return {name: names.create(name) for name in params}


def _annotation(value: Value) -> str | None:
    if isinstance(value, bool | int | float | str):
        return type(value).__name__
    if isinstance(value, tuple) and value:
        items = {_annotation(v) for v in value}
        if len(items) == 1 and None not in items:
            return f"tuple[{items.pop()}, ...]"
    return None


@dataclass(frozen=True)
class Parameter:
    local: str
    symbol: Sym
    default: Any  # REQUIRED, a value, or an expression of the parameters before it
    example: Value


class ClassWriter:
    """Writes one class: the template's modules in ``__init__`` and its dataflow in ``forward``."""

    def __init__(self, name: str, kind: str, emitted: Emitted, body: ir.Group, params: Sequence[Parameter],
                 doc: str, takes_channels: bool, takes_size: bool = False):
        self.name = name
        self.kind = kind
        self.emitted = emitted
        self.body = body
        self.doc = doc
        self.locals = Names({"in_channels", "in_size", *(p.local for p in params)})
        self.params = list(params)
        self.symbol_names: dict[Sym, str] = {p.symbol: p.local for p in params}
        self.channels = "in_channels" if takes_channels else None
        self.size = "in_size" if takes_size else None
        self.attributes = Names({"training", *_static_names(body)})
        self.init = CodeWriter()
        self.forward = CodeWriter()
        self.checks: list[ir.Require] = []  # the network's rules on its parameters, tested first
        self.used = _built_from(body)
        self.stored: dict[Any, str] = {}  # values forward needs, kept as attributes

    # -- names and expressions ----------------------------------------------------

    def name_of(self, sym: Sym) -> str:
        if sym in self.symbol_names:
            return self.symbol_names[sym]
        if sym.role == INPUT and sym.name == "c" and self.channels is not None:
            return self.channels
        if sym.role == INPUT and self.size is not None:
            axes = "dhw"[-(len(self.body.input.shape) - 1):] if len(self.body.input.shape) > 2 else "l"
            return f"{self.size}[{axes.index(sym.name)}]"
        base = {STATE: "channels", LOOP: "item"}.get(sym.role, sym.name)
        self.symbol_names[sym] = self.locals.create(base)
        return self.symbol_names[sym]

    def py(self, value: Any) -> str:
        """``value`` as source in ``__init__``."""
        for part in walk(value):
            if isinstance(part, Op) and part.name in HELPERS:
                self.emitted.helpers.add(part.name)
        return python(value, self.name_of)

    def fpy(self, value: Any) -> str:
        """``value`` as source in ``forward``: what the constructor was given is kept as attributes."""
        self.py(value)  # notes the helpers it calls

        def forward_name(sym: Sym) -> str:
            if sym.role in (LOOP, STATE):
                return self.name_of(sym)
            if sym not in self.stored:
                self.stored[sym] = self.attributes.create(self.name_of(sym).split("[")[0])
            return f"self.{self.stored[sym]}"

        return python(value, forward_name)

    # -- the class ----------------------------------------------------------------

    def write(self, out: CodeWriter) -> None:
        result = self.steps(self.body.children, "x", "x", None, top=True)
        out.line(f"class {self.name}(nn.Module):")
        with out.indent():
            out.docstring(self.doc)
            out.blank()
            call_line(out, "def __init__(", self._signature(), ") -> None:")
            with out.indent():
                out.line("super().__init__()")
                for param in self.params:
                    if param.default is not REQUIRED and is_symbolic(param.default):
                        out.line(f"if {param.local} is None:")
                        with out.indent():
                            out.line(f"{param.local} = {self.py(param.default)}")
                for check in _distinct(self.checks):
                    self._require(out, check)
                for value, attribute in self.stored.items():
                    out.line(f"self.{attribute} = {self.py(value)}")
                for line in self.init.lines:
                    out.line(line)
                if self.kind == "network":
                    out.line("init_weights(self)")
            out.blank()
            out.line("def forward(self, x: torch.Tensor) -> torch.Tensor:")
            with out.indent():
                for line in self.forward.lines:
                    out.line(line)
                out.line(f"return {result}")

    def _signature(self) -> list[str]:
        parts = ["self"]
        if self.channels is not None:
            parts.append(f"{self.channels}: int")
        if self.size is not None:
            parts.append(f"{self.size}: tuple[int, ...]")
        defaulted = False
        for param in self.params:
            annotation = _annotation(param.example)
            if param.default is REQUIRED:
                if defaulted and "*" not in parts:
                    parts.append("*")  # a parameter without default after one with: keyword-only
                parts.append(f"{param.local}: {annotation}" if annotation else param.local)
                continue
            defaulted = True
            if is_symbolic(param.default):
                parts.append(f"{param.local}: {annotation} | None = None" if annotation else f"{param.local}=None")
            else:
                text = python(param.default, self.name_of)
                parts.append(f"{param.local}: {annotation} = {text}" if annotation else f"{param.local}={text}")
        return parts

    def _require(self, out: CodeWriter, check: ir.Require) -> None:
        self.emitted.helpers.add("require")
        params = sorted({s for s in symbols(check.holds) if s.role == PARAM}, key=lambda s: s.name)
        prefix = ", ".join("{" + f"{self.name_of(s)}=" + "!r}" for s in params)
        words = "".join(_fstring_part(part, self.py) for part in check.message)
        message = f'f"{prefix}: {words}"' if prefix else f'f"{words}"'
        call_line(out, "require(", [self.py(check.holds), message], ")")

    # -- steps --------------------------------------------------------------------

    def steps(self, nodes: Sequence[ir.Node], source: str, target: str, previous: ir.Node | None,
              top: bool = False) -> str:
        """Writes ``nodes`` reading ``source`` into ``target``; returns the variable holding the result."""
        current = source
        for node in nodes:
            if isinstance(node, ir.Require):
                self.require(node, top)
                continue
            current = self.step(node, current, target, previous)
            previous = node
        return current

    def require(self, node: ir.Require, top: bool) -> None:
        """The network tests its rules up front; a block only what it was written for (an assumption)."""
        if self.kind == "network" and top:
            self.checks.append(node)
        elif node.code is None or self.kind == "network":
            self._require(self.init, node)

    def step(self, node: ir.Node, source: str, target: str, previous: ir.Node | None) -> str:
        if isinstance(node, (ir.Layer, ir.Group)):
            if self.kind == "network" and isinstance(node, ir.Group):
                self.checks.extend(_unconditional_checks(node))
            self.module(node, self.construct(node, previous), source, target)
            return target
        handler = {ir.Residual: self.residual, ir.Concat: self.join, ir.Add: self.join, ir.Gate: self.gate,
                   ir.Dense: self.dense, ir.Choice: self.choice, ir.Loop: self.loop}.get(type(node))
        if handler is None:
            raise TypeError(f"the Python back end cannot write IR node {type(node).__name__}")
        return handler(node, source, target)  # type: ignore[operator]

    def comment(self, node: ir.Node) -> str:
        return "  # " + shape_comment(node.output, self.name_of)

    def module(self, node: ir.Layer | ir.Group, made: Call | str, source: str, target: str) -> None:
        name = node.name
        if plain_attribute(name):
            call_line(self.init, f"self.{name} = ", [made], "")
            self.forward.line(f"{target} = self.{name}({source}){self.comment(node)}")
            return
        text = repr(name) if isinstance(name, str) else self.py(name)
        call_line(self.init, "self.add_module(", [text, made], ")")
        forward_name = repr(name) if isinstance(name, str) else self.fpy(name)
        self.forward.line(f"{target} = getattr(self, {forward_name})({source}){self.comment(node)}")

    def construct(self, node: ir.Layer | ir.Group, previous: ir.Node | None) -> Call | str:
        if isinstance(node, ir.Layer):
            made = constructor_of(node, previous)
            if made.cls in RUNTIME_CLASSES:
                self.emitted.runtime.add(made.cls)
            return constructor_call(made, self.py)
        if node.kind == "block":
            return self.block_call(node)
        return self.group(node)

    def block_call(self, group: ir.Group) -> Call:
        template = self.emitted.calls[id(group)]
        parts: list[Call | str] = [self.py(group.input.channels)]
        if template.reads_size:
            parts.append(f"in_size={self.py(tuple(group.input.spatial))}")
        bound, locals_ = dict(group.args), parameter_names([p.name for p in template.params], self.emitted.names)
        parts += [f"{locals_[name]}={self.py(bound[name])}" for name in group.passed]
        return Call(self.emitted.classes[id(template)], parts)

    def group(self, group: ir.Group) -> Call:
        """A named seq: ``nn.Sequential`` where its steps form a chain, else a class of its own."""
        chain = _chain(group)
        if chain is None:
            return self.nested_class(group)
        parts = [self.construct(child, previous) for child, previous in chain]
        names = [child.name for child, _ in chain]
        if all(n == str(i) for i, n in enumerate(names)):
            return Call("nn.Sequential", _rerolled(parts))
        pairs: list[Call | str] = [Call("", [repr(name), part]) for name, part in zip(names, parts, strict=True)]
        return Call("nn.Sequential", [Call("OrderedDict", [Call("", pairs, brackets="[]")])])

    def nested_class(self, group: ir.Group) -> Call:
        """A class for a named group that is not a chain (a named residual, a dense layer)."""
        channels = Sym("c", INPUT, int)
        body = ir.replace_values(group, {group.input.channels: channels}) if is_symbolic(group.input.channels) \
            else group
        free = sorted((s for s in _symbols_in(body) if s != channels and s.role != INPUT or s.name == "c" and
                       s != channels), key=lambda s: s.name)
        base = "DenseLayer" if group.kind == "denselayer" else str(group.name)
        name = class_name(base, self.emitted.names)
        params = [Parameter(self.name_of(s), s, REQUIRED, None) for s in free]
        doc = ("One layer of a dense block: it sees every feature map before it, joined." if group.kind == "denselayer"
               else f"The `{group.name}` step of `{self.name}`.")
        writer = ClassWriter(name, "group", self.emitted, body, params, doc, takes_channels=True)  # type: ignore[arg-type]
        writer.symbol_names[channels] = "in_channels"
        out = CodeWriter()
        writer.write(out)
        self.emitted.nested.append(out.text())
        return Call(name, [self.py(group.input.channels), *(f"{self.name_of(s)}={self.py(s)}" for s in free)])

    def residual(self, node: ir.Residual, source: str, target: str) -> str:
        identity = self.locals.create("identity")
        self.forward.line(f"{identity} = {source}")
        body = self.steps(node.body, identity, target, None)
        shortcut = identity
        optional = _optional_module(node.shortcut or ())
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

    def _optional(self, condition: Any, module: ir.Layer | ir.Group) -> None:
        """``self.name = None``, then the module where ``condition`` holds: torchvision's downsample."""
        self.init.line(f"self.{module.name} = None")
        self.init.line(f"if {self.py(condition)}:")
        with self.init.indent():
            call_line(self.init, f"self.{module.name} = ", [self.construct(module, None)], "")

    def join(self, node: ir.Concat | ir.Add, source: str, target: str) -> str:
        outputs = [self.steps(path, source, self.locals.create("branch"), None) for path in node.branches]
        joined = f"torch.cat([{', '.join(outputs)}], dim=1)" if isinstance(node, ir.Concat) else " + ".join(outputs)
        self.forward.line(f"{target} = {joined}{self.comment(node)}")
        return target

    def gate(self, node: ir.Gate, source: str, target: str) -> str:
        weights = self.steps(node.body, source, self.locals.create("weights"), None)
        self.forward.line(f"{target} = {source} * {weights}{self.comment(node)}")
        return target

    def dense(self, node: ir.Dense, source: str, target: str) -> str:
        features = self.locals.create("features")
        layer = self.locals.create("layer")
        self.forward.line(f"{features} = [{source}]")
        if node.index is None:  # written out layer by layer
            for dense_layer in node.layers:
                self.module_init(dense_layer)
            names = ", ".join(f"self.{d.name}" for d in node.layers) + ("," if len(node.layers) == 1 else "")
            self.forward.line(f"for {layer} in ({names}):")
        else:  # a loop, as torchvision's DenseNet builds its blocks
            index = self.name_of(node.index)
            template = node.layers[0]
            self.init.line(f"for {index} in range({self.py(node.count)}):")
            with self.init.indent():
                call_line(self.init, "self.add_module(", [self.py(template.name), self.construct(template, None)], ")")
            self.forward.line(f"for {index} in range({self.fpy(node.count)}):")
            with self.forward.indent():
                self.forward.line(f"{layer} = getattr(self, {self.fpy(template.name)})")
                self.forward.line(f"{features}.append({layer}(torch.cat({features}, dim=1)))")
            self.forward.line(f"{target} = torch.cat({features}, dim=1){self.comment(node)}")
            return target
        with self.forward.indent():
            self.forward.line(f"{features}.append({layer}(torch.cat({features}, dim=1)))")
        self.forward.line(f"{target} = torch.cat({features}, dim=1){self.comment(node)}")
        return target

    def module_init(self, node: ir.Layer | ir.Group) -> None:
        call_line(self.init, f"self.{node.name} = ", [self.construct(node, None)], "")

    def choice(self, node: ir.Choice, source: str, target: str) -> str:
        optional = _optional_module((node,))
        if optional is not None:
            condition, module = optional
            self._optional(condition, module)
            self.forward.line(f"if self.{module.name} is not None:")
            with self.forward.indent():
                self.forward.line(f"{source} = self.{module.name}({source}){self.comment(module)}")
            return source
        init, forward = self.init, self.forward
        branches = []
        for nodes in (node.then, node.otherwise):
            self.init, self.forward = CodeWriter(), CodeWriter()
            result = self.steps(nodes, source, target, None)
            if result != target:
                self.forward.line(f"{target} = {result}")
            branches.append((self.init.lines, self.forward.lines))
        self.init, self.forward = init, forward
        self.init.line(f"if {self.py(node.condition)}:")
        _lines(self.init, branches[0][0] or ["pass"])
        if branches[1][0]:
            self.init.line("else:")
            _lines(self.init, branches[1][0])
        if branches[0][1] == branches[1][1]:
            for line in branches[0][1]:
                self.forward.line(line)
        else:
            self.forward.line(f"if {self.fpy(node.condition)}:")
            _lines(self.forward, branches[0][1] or [f"{target} = {source}"])
            self.forward.line("else:")
            _lines(self.forward, branches[1][1] or [f"{target} = {source}"])
        return target

    def loop(self, node: ir.Loop, source: str, target: str) -> str:
        """A loop over what the class is given; channels and sizes that change pass by pass are variables."""
        for sym, name in zip(node.targets, node.names, strict=False):
            self.symbol_names.setdefault(sym, self.locals.create(name))
        targets = ", ".join(self.name_of(s) for s in node.targets)
        index = self.name_of(node.index) if node.index in self.used else None
        header = f"for {index}, {targets} in enumerate({{}}):" if index else f"for {targets} in {{}}:"
        starts = dict(zip(node.state.shape, node.input.shape, strict=True))
        carried = [(state, after, starts[state]) for state, after in node.results
                   if state in self.used or after in self.used]
        for state, after, start in carried:
            self.symbol_names[after] = self.name_of(state)
            self.init.line(f"{self.name_of(state)} = {self.py(start)}")
        self.init.line(header.format(self.py(node.items)))
        init, forward = self.init, self.forward
        self.init, self.forward = CodeWriter(), CodeWriter()
        result = self.steps(node.body, source, target, None)
        final = _output_of(node.body, node.state)
        for state, _, _ in carried:
            value = final.shape[node.state.shape.index(state)]
            if value != state:
                self.init.line(f"{self.name_of(state)} = {self.py(value)}")
        body_init, body_forward = self.init.lines, self.forward.lines
        if result != target and body_forward:
            body_forward.append(f"{target} = {result}")
        self.init, self.forward = init, forward
        _lines(self.init, body_init or ["pass"])
        if body_forward:
            self.forward.line(header.format(self.fpy(node.items)))
            _lines(self.forward, body_forward)
            return target
        return source


def plain_attribute(name: Any) -> bool:
    """Whether ``self.<name>`` can be written as it is (else ``add_module`` and ``getattr`` are)."""
    return isinstance(name, str) and name.isidentifier() and not mangled(name)


def _lines(out: CodeWriter, lines: list[str]) -> None:
    with out.indent():
        for line in lines:
            out.line(line)


def _fstring_part(part: Any, py: Any) -> str:
    if isinstance(part, str):
        return part.replace("\\", "\\\\").replace('"', '\\"').replace("{", "{{").replace("}", "}}")
    if is_symbolic(part):
        return "{" + py(part) + "}"
    return str(part).replace("{", "{{").replace("}", "}}")


def _distinct(checks: list[ir.Require]) -> list[ir.Require]:
    seen: set[Any] = set()
    kept = []
    for check in checks:
        if check.holds not in seen:
            seen.add(check.holds)
            kept.append(check)
    return kept


def _unconditional_checks(group: ir.Group) -> list[ir.Require]:
    """The rules inside an inlined block that hold on every path, in the network's terms."""
    found: list[ir.Require] = []
    stack: list[ir.Node] = list(group.children)
    while stack:
        node = stack.pop(0)
        if isinstance(node, ir.Require):
            if node.code is not None:
                found.append(node)
        elif not isinstance(node, (ir.Choice, ir.Loop)):
            stack[0:0] = [child for path in ir.paths(node) for child in path]
    return [check for check in found if all(s.role == PARAM for s in symbols(check.holds))]


def _rerolled(parts: list[Call | str]) -> list[Call | str]:
    """Runs of the same constructor written once in a comprehension: ``*[Bottleneck(256, 64) for _ in range(5)]``."""
    out: list[Call | str] = []
    position = 0
    while position < len(parts):
        end = position
        while end + 1 < len(parts) and flat(parts[end + 1]) == flat(parts[position]):
            end += 1
        count = end - position + 1
        out.append(f"*[{flat(parts[position])} for _ in range({count})]" if count > 2 else parts[position])
        if count == 2:
            out.append(parts[position])
        position = end + 1
    return out


def _output_of(nodes: Sequence[ir.Node], start: Any) -> Any:
    for node in reversed(nodes):
        if not isinstance(node, ir.Require):
            return node.output
    return start


def _static_names(group: ir.Group) -> list[str]:
    """The attribute names a class holds directly (not inside its sub-modules)."""
    found: list[str] = []
    stack: list[ir.Node] = list(group.children)
    while stack:
        node = stack.pop(0)
        if isinstance(node, (ir.Layer, ir.Group)):
            if plain_attribute(node.name):
                found.append(node.name)
        else:
            stack[0:0] = [c for path in ir.paths(node) for c in path]
    return found


def _chain(group: ir.Group) -> list[tuple[ir.Layer | ir.Group, ir.Node | None]] | None:
    """The group's steps with the step before each, where they are a plain chain of modules."""
    steps: list[tuple[ir.Layer | ir.Group, ir.Node | None]] = []
    previous: ir.Node | None = None
    for child in group.children:
        if isinstance(child, ir.Require) and child.code is not None:
            continue
        if not isinstance(child, (ir.Layer, ir.Group)) or not isinstance(child.name, str):
            return None
        steps.append((child, previous))
        previous = child
    return steps


def _optional_module(nodes: tuple[ir.Node, ...]) -> tuple[Any, ir.Layer | ir.Group] | None:
    """``(condition, module)`` where the nodes are one module that exists only where a condition holds."""
    if len(nodes) != 1 or not isinstance(nodes[0], ir.Choice):
        return None
    choice = nodes[0]
    modules = [n for n in choice.then if not isinstance(n, ir.Require)]
    if choice.otherwise or len(modules) != 1 or not isinstance(modules[0], (ir.Layer, ir.Group)):
        return None
    if not plain_attribute(modules[0].name):
        return None
    return choice.condition, modules[0]


def _symbols_in(group: ir.Group) -> set[Sym]:
    """The symbols a group's steps read from outside it (not those its own loops bind)."""
    found: set[Sym] = set()
    bound: set[Any] = set()
    for node in ir.walk(group):
        if node is group:
            continue
        if isinstance(node, ir.Loop):
            bound |= {*node.targets, node.index, *node.state.shape}
        elif isinstance(node, ir.Dense):
            bound.add(node.index)
        for value in ir.values(node):
            found |= symbols(value)
    return found - bound


def _built_from(group: ir.Group) -> set[Sym]:
    """The symbols construction reads (arguments, names, channels, conditions, loops, rules), not shape comments."""
    found: set[Sym] = set()
    for node in ir.walk(group):
        if node is group:
            continue
        for item in fields(node):  # type: ignore[arg-type]
            value = getattr(node, item.name)
            if item.name == "input":
                found |= symbols(value.channels) | (symbols(value.spatial) if isinstance(node, ir.Group) else set())
            elif item.name not in ("output", "state", "span", "results") and not isinstance(value, tuple) or \
                    item.name in ("args", "targets"):
                found |= symbols(value)
    return found


def _runtime_source(names: set[str]) -> list[str]:
    """The source of the runtime classes and helpers in ``names``, read without importing torch."""
    text = resources.files("archdsl").joinpath("runtime.py").read_text(encoding="utf-8")
    tree = pyast.parse(text)
    return [pyast.get_source_segment(text, node) or "" for node in tree.body
            if isinstance(node, (pyast.ClassDef, pyast.FunctionDef)) and node.name in names]


def python_source(templates: Templates, network: ir.Network, spec_name: str) -> str:
    """The emitted file's text: deterministic for the same templates."""
    emitted = Emitted(templates.calls)
    for template in templates.classes:
        emitted.classes[id(template)] = class_name(template.definition, emitted.names)
    classes = CodeWriter()
    for template in templates.classes:
        name = emitted.classes[id(template)]
        locals_ = parameter_names([p.name for p in template.params], emitted.names)
        params = [Parameter(locals_[p.name], p.symbol, p.default, p.example) for p in template.params]
        writer = ClassWriter(name, template.kind, emitted, template.body, params, _doc(template, network),
                             takes_channels=template.kind == "block", takes_size=template.reads_size)
        out = CodeWriter()
        writer.write(out)
        for text in [*emitted.nested, out.text()]:
            classes.blank(2)
            for line in text.rstrip("\n").split("\n"):
                classes.line(line)
        emitted.nested.clear()
    file = CodeWriter()
    file.docstring(f"`{network.name}`, {network.input} -> {network.output}: generated by archdsl {__version__} "
                   f"from {spec_name}.\n\nEdit the spec rather than this file; `archdsl compile` writes it again.")
    file.blank()
    file.line("from __future__ import annotations")
    file.blank()
    if "OrderedDict(" in classes.text():
        file.line("from collections import OrderedDict")
        file.blank()
    file.line("import torch")
    if "ChannelLayerNorm" in emitted.runtime:
        file.line("import torch.nn.functional as F")
    file.line("from torch import nn")
    for source in _runtime_source(emitted.runtime | emitted.helpers | {"init_weights"}):
        file.blank(2)
        for line in source.splitlines():
            file.line(line)
    for line in classes.lines:
        file.line(line)
    return file.text()


def _doc(template: Template, network: ir.Network) -> str:
    if template.kind == "network":
        return f"The `{template.definition}` network: {network.input} -> {network.output}."
    words = [f"Block `{template.definition}` of the spec, on inputs with {template.rank} spatial axes."]
    if template.reads_size:
        words.append("It takes `in_size`, its input's spatial size, because what it builds depends on it.")
    if not template.general:
        values = ", ".join(f"{p.name}={p.example!r}" for p in template.params)
        words.append(f"Written for {values}: other values need the spec compiled again.")
    return "\n\n".join(words)
