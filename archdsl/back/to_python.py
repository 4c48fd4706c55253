"""The Python back end: one self-contained, readable ``.py`` file per network.

It prints templates (see ``templates``): one class per block definition (per rank),
taking that block's parameters, and the network's class, taking the network's. Every
argument is written as the expression the spec gave it; an ``if`` on constructor
arguments is a Python ``if``; a loop over them a Python ``for``. The network class
tests the rules the checker could not decide for every value of its parameters and
raises ``ValueError`` with the checker's words. The file imports only torch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from archdsl import __version__, ir
from archdsl.back.codewriter import CodeWriter
from archdsl.back.lowered import adds_in_place, constructor_of
from archdsl.back.pycomment import shape_comment
from archdsl.back.pynames import Names, class_name, mangled
from archdsl.back.pysource import Call, call_line, constructor_call, flat
from archdsl.elaboration.naming import module_attributes
from archdsl.elaboration.templates import REQUIRED, Template, Templates, carries, check_symbols, construction_symbols
from archdsl.ir.expr import HELPERS, INPUT, LOOP, PARAM, STATE, Op, Sym, is_symbolic, literal, python, symbols, walk
from archdsl.ir.layers import RUNTIME_CLASSES


@dataclass
class Emitted:
    """What the classes of one file share: the names of the classes and what they use from the runtime."""

    calls: dict[int, Template]  # id() of a block call's ir.Group -> the class it builds
    init: ir.Init  # how the network's weights start
    classes: dict[int, str] = field(default_factory=dict)  # id() of a template -> its class name
    names: set[str] = field(default_factory=set)  # every class name, nested classes too
    runtime: set[str] = field(default_factory=set)
    helpers: set[str] = field(default_factory=set)
    nested: list[str] = field(default_factory=list)  # the source of classes for groups, written before their user
    nested_names: dict[str, str] = field(default_factory=dict)  # a nested class's text, unnamed -> its name
    rebuilt: list[ir.Group] = field(default_factory=list)  # groups rewritten in a nested class's terms


def parameter_names(params: Sequence[str]) -> dict[str, str]:
    """The Python names of a class's parameters: each spec name, changed only where it would be no Python
    parameter (a keyword) or hide what the file uses (``nn``, a helper, a builtin it calls): ``lambda_``, ``nn_``.
    The classes are named around the parameters."""
    names = Names({"in_channels", "in_size"})
    return {name: names.create(name) for name in params}


def _annotation(value: Any) -> str | None:
    if isinstance(value, type) and value in (bool, int, float, str):
        return value.__name__
    if isinstance(value, tuple) and value and all(v in (bool, int, float, str) for v in value):
        return f"tuple[{value[0].__name__}, ...]" if len(set(value)) == 1 else None
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
    example: Any  # a value the parameter took, or the type its values have


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
        self.attributes = Names({*module_attributes(), *_static_names(body)})
        self.init = CodeWriter()
        self.forward = CodeWriter()
        self.used = construction_symbols(body, lambda call: emitted.calls[id(call)].reads_size)
        self.read = self.used | (check_symbols(body) if kind == "network" else set())  # and what its tests read
        self.params_of = _parameters_behind(body)
        self.guarded = 0  # inside conditions or loops that depend on arguments, whose rules the checker may not see
        self.stored: dict[Any, str] = {}  # values forward needs, kept as attributes
        self.hoists: list[tuple[CodeWriter, set[Any], set[Any]]] = []  # loops around: outside, its rules, binds
        self.mentioned: set[Any] = set()  # the symbols the code written so far reads
        self.lists: list[str] = []  # the variables collecting numbered steps (see ``listed``), by depth
        self.listing = 0

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
        self.mentioned |= symbols(value)
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
            call_line(out, "def __init__(", self._signature(), ") -> None:")
            with out.indent():
                out.line("super().__init__()")
                for param in self.params:
                    if param.default is not REQUIRED and is_symbolic(param.default):
                        out.line(f"if {param.local} is None:")
                        with out.indent():
                            out.line(f"{param.local} = {self.py(param.default)}")
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
        if check.holds is True:  # decided once values replaced symbols
            return
        self.emitted.helpers.add("require")
        params = sorted(self.params_of(symbols(check.holds)), key=lambda s: s.name)
        if not params and self.kind == "network" and not self.guarded:  # true for every argument: checked so
            return
        parts: list[Any] = []
        for number, param in enumerate(params):
            parts += [", " if number else "", f"{self.name_of(param)}=", _Shown(self.py(param), "!r")]
        parts += [": " if params else ""]
        for part in check.message:
            if isinstance(part, ir.Quoted):
                parts.append(f"`{self.py(part.value)}`")
            elif is_symbolic(part):
                parts.append(_Shown(self.py(part)))
            else:
                parts.append(str(part))
        call_line(out, "require(", [self.py(check.holds), _formatted(parts)], ")")

    # -- steps --------------------------------------------------------------------

    def steps(self, nodes: Sequence[ir.Node], source: str, target: str, previous: ir.Node | None) -> str:
        """Writes ``nodes`` reading ``source`` into ``target``; returns the variable holding the result."""
        current = source
        for node in nodes:
            if isinstance(node, ir.Require):
                self.require(node)
                continue
            current = self.step(node, current, target, previous)
            previous = node
        return current

    def require(self, node: ir.Require) -> None:
        """What a block was written for (an assumption) it tests where it builds; the network tests every rule
        before it builds anything (see ``checks``)."""
        if self.kind != "network" and node.code is None:
            self._require(self.init, node)

    def checks(self, nodes: Sequence[ir.Node], out: CodeWriter, seen: set[Any], own: bool = True) -> None:
        """What the class computes before it builds anything: the network tests the rules the checker could not
        decide for every argument value, in its terms, under the conditions and in the loops that hold them; and
        every class follows the loops inside the modules it builds whose results it reads (a block's channels).

        ``seen``: the rules already tested on the way here; each is written once. ``own``: the nodes are built
        by this class, not inside a sub-module. A sequence's rules come after its loops, whose state they read.
        """
        for node in sorted(nodes, key=lambda node: isinstance(node, ir.Require)):
            if isinstance(node, ir.Require):
                if self.kind == "network":
                    self._checked(node, out, seen)
            elif isinstance(node, ir.Choice):
                hoists, self.hoists = self.hoists, []  # a rule under a condition stays under it
                self.guarded += 1
                self._checked_choice(node, out, seen, own)
                self.guarded -= 1
                self.hoists = hoists
            elif isinstance(node, ir.Loop):
                inner = CodeWriter()
                self._loop_checks(node, node.body, out, inner, seen, own)
                results = {after for _, after in node.results}
                if inner.lines or results & self.mentioned or (not own and results & self.read):
                    self._loop(node, _unnamed(node, self.read), inner.lines, out)
            elif isinstance(node, ir.Dense) and node.index is not None:
                inner = CodeWriter()
                self._loop_checks(node, node.layers, out, inner, seen, own)
                if inner.lines:
                    out.line(f"for {self.name_of(node.index)} in range({self.py(node.count)}):")
                    _lines(out, inner.lines)
            else:
                inside = own and not isinstance(node, ir.Group)
                self.checks([child for path in ir.paths(node) for child in path], out, seen, inside)

    def _checked(self, node: ir.Require, out: CodeWriter, seen: set[Any]) -> None:
        """Tests the rule once, outside every loop that runs and whose variables it does not read."""
        reads = symbols(node.holds) | {s for part in node.message for s in symbols(getattr(part, "value", part))}
        for writer, outer_seen, bound in reversed(self.hoists):
            if reads & bound:
                break
            out, seen = writer, outer_seen
        if node.holds not in seen:
            seen.add(node.holds)
            self._require(out, node)

    def _loop_checks(self, node: ir.Loop | ir.Dense, body: Sequence[ir.Node], out: CodeWriter, inner: CodeWriter,
                     seen: set[Any], own: bool) -> None:
        runs = not is_symbolic(node.items if isinstance(node, ir.Loop) else node.count) and (
            len(node.items) > 0 if isinstance(node, ir.Loop) else node.count > 0)
        hoists = self.hoists
        if not runs:  # a rule in a loop that may not run is tested only in it
            self.hoists = []
        guarded = bool(self.params_of(symbols(node.items if isinstance(node, ir.Loop) else node.count)))
        self.guarded += guarded
        self.hoists.append((out, seen, _bound(node)))
        self.checks(body, inner, set(seen), own)
        self.hoists.pop()
        self.hoists = hoists
        self.guarded -= guarded

    def _checked_choice(self, node: ir.Choice, out: CodeWriter, seen: set[Any], own: bool) -> None:
        then, otherwise = CodeWriter(), CodeWriter()
        self.checks(node.then, then, set(seen), own)
        self.checks(node.otherwise, otherwise, set(seen), own)
        if not then.lines and not otherwise.lines:
            return
        condition = self.py(node.condition)
        if not then.lines:
            out.line(f"if not ({condition}):")
            _lines(out, otherwise.lines)
            return
        out.line(f"if {condition}:")
        _lines(out, then.lines)
        if otherwise.lines:
            out.line("else:")
            _lines(out, otherwise.lines)

    def step(self, node: ir.Node, source: str, target: str, previous: ir.Node | None) -> str:
        if isinstance(node, (ir.Layer, ir.Group)):
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
        text = literal(name) if isinstance(name, str) else self.py(name)
        call_line(self.init, "self.add_module(", [text, made], ")")
        forward_name = literal(name) if isinstance(name, str) else self.fpy(name)
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
        bound, locals_ = dict(group.args), parameter_names([p.name for p in template.params])
        parts += [f"{locals_[name]}={self.py(bound[name])}" for name in group.passed]
        return Call(self.emitted.classes[id(template)], parts)

    def group(self, group: ir.Group) -> Call:
        """A named seq: ``nn.Sequential`` where its steps form a chain, else a class of its own."""
        chain = _chain(group)
        if chain is None:
            if _comprehended(group.children, self.used):
                return Call("nn.Sequential", [self.comprehension(node) if isinstance(node, ir.Loop) else
                                              self.construct(node, None) for node in group.children
                                              if isinstance(node, (ir.Loop, ir.Layer, ir.Group))])
            return self.listed(group) if _positional(group.children) else self.nested_class(group)
        parts = [self.construct(child, previous) for child, previous in chain]
        names = [child.name for child, _ in chain]
        if all(n == str(i) for i, n in enumerate(names)):
            return Call("nn.Sequential", _rerolled(parts))
        pairs: list[Call | str] = [Call("", [literal(name), part]) for name, part in zip(names, parts, strict=True)]
        return Call("nn.Sequential", [Call("OrderedDict", [Call("", pairs, brackets="[]")])])

    def comprehension(self, loop: ir.Loop) -> str:
        """A loop that makes one module a pass, as an argument: ``*[Block(96, drop=drop * i / 17) for i in ...]``."""
        (module,) = [node for node in loop.body if not isinstance(node, ir.Require)]
        assert isinstance(module, (ir.Layer, ir.Group))
        header = self._header(loop, _unnamed(loop, self.used), self.py).removesuffix(":")
        return f"*[{flat(self.construct(module, None))} {header}]"

    def listed(self, group: ir.Group) -> Call:
        """A named seq of numbered steps, some only under a condition: torchvision's ``layers`` list."""
        if len(self.lists) == self.listing:  # one variable per depth: lists nest, and branches share names
            self.lists.append(self.locals.create("layers"))
        layers = self.lists[self.listing]
        self.init.line(f"{layers}: list[nn.Module] = []")
        self.listing += 1
        self._append(group.children, layers)
        self.listing -= 1
        return Call("nn.Sequential", [f"*{layers}"])

    def _append(self, nodes: Sequence[ir.Node], layers: str) -> None:
        previous: ir.Node | None = None
        for node in nodes:
            if isinstance(node, ir.Require):
                self.require(node)
            elif isinstance(node, ir.Choice):
                condition = self.py(node.condition)
                self.init.line(f"if {condition}:" if node.then else f"if not ({condition}):")
                with self.init.indent():
                    self._append(node.then or node.otherwise, layers)
                if node.then and node.otherwise:
                    self.init.line("else:")
                    with self.init.indent():
                        self._append(node.otherwise, layers)
                previous = node
            elif isinstance(node, ir.Loop):
                init, self.init = self.init, CodeWriter()
                self._append(node.body, layers)
                body, self.init = self.init.lines, init
                self._loop(node, _unnamed(node, self.used), body, self.init)
                previous = node
            else:
                assert isinstance(node, (ir.Layer, ir.Group))
                call_line(self.init, f"{layers}.append(", [self.construct(node, previous)], ")")
                previous = node

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
        free = sorted((s for s in _symbols_in(body) if (s != channels and s.role != INPUT) or (s.name == "c" and
                       s != channels)), key=lambda s: s.name)
        base = "DenseLayer" if group.kind == "denselayer" else str(group.name)
        if base.isdigit():  # an element of an nn.Sequential-like group
            base = f"{self.name} step {base}"
        name = class_name(base, self.emitted.names)
        params = [Parameter(self.name_of(s), s, REQUIRED, s.type) for s in free]
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
        return Call(name, [self.py(group.input.channels), *(f"{self.name_of(s)}={self.py(s)}" for s in free)])

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
        optional = _optional_module(nodes)
        if optional is None:
            return None
        name = optional[1].name
        for node in ir.walk(self.body):
            other = getattr(node, "name", None)
            if isinstance(other, Op) and other.name == "name" and name.startswith(other.args[0]) and \
                    name[len(other.args[0]):].isdigit():
                return None
        return optional

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
        optional = self._optional_module((node,))
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
        if branches[0][0] == branches[1][0]:  # the same modules either way; only the dataflow differs
            for line in branches[0][0]:
                self.init.line(line)
        else:
            self.init.line(f"if {self.py(node.condition)}:" if branches[0][0] else
                           f"if not ({self.py(node.condition)}):")
            _lines(self.init, branches[0][0] or branches[1][0])
            if branches[0][0] and branches[1][0]:
                self.init.line("else:")
                _lines(self.init, branches[1][0])
        if branches[0][1] == branches[1][1]:
            for line in branches[0][1]:
                self.forward.line(line)
        else:
            passed = [] if source == target else [f"{target} = {source}"]
            then, otherwise = branches[0][1] or passed, branches[1][1] or passed
            condition = self.fpy(node.condition)
            self.forward.line(f"if {condition}:" if then else f"if not ({condition}):")
            _lines(self.forward, then or otherwise)
            if then and otherwise:
                self.forward.line("else:")
                _lines(self.forward, otherwise)
        return target

    def loop(self, node: ir.Loop, source: str, target: str) -> str:
        """A loop over what the class is given; channels and sizes that change pass by pass are variables."""
        init, forward = self.init, self.forward
        self.init, self.forward = CodeWriter(), CodeWriter()
        result = self.steps(node.body, target, target, None)  # each pass reads what the pass before wrote
        body_init, body_forward = self.init.lines, self.forward.lines
        self.init, self.forward = init, forward
        self._loop(node, self.used, body_init, self.init)
        if not body_forward:
            return source
        if result != target:
            body_forward.append(f"{target} = {result}")
        if source != target:
            self.forward.line(f"{target} = {source}")
        self.forward.line(self._header(node, self.used, self.fpy))
        _lines(self.forward, body_forward)
        return target

    def _header(self, node: ir.Loop, read: set[Any], py: Any) -> str:
        for sym, name in zip(node.targets, node.names, strict=False):
            self.symbol_names.setdefault(sym, "_" if name == "_" else self.locals.create(name))  # `_`: repeat's
        targets = ", ".join(self.name_of(s) for s in node.targets)
        if node.index in read:
            unpacked = f"({targets})" if len(node.targets) > 1 else targets
            return f"for {self.name_of(node.index)}, {unpacked} in enumerate({py(node.items)}):"
        return f"for {targets} in {py(node.items)}:"

    def _loop(self, node: ir.Loop, read: set[Any], body: list[str], out: CodeWriter) -> None:
        """The loop in ``__init__``: the state it carries set before it and updated after each pass."""
        carried = [carry for carry in carries(node) if carry[0] in read or carry[1] in read]
        for state, after, start, _ in carried:
            self.symbol_names[after] = self.name_of(state)
            out.line(f"{self.name_of(state)} = {self.py(start)}")
        out.line(self._header(node, read, self.py))
        updates = [f"{self.name_of(state)} = {self.py(update)}" for state, _, _, update in carried if update != state]
        _lines(out, [*body, *updates] or ["pass"])

def plain_attribute(name: Any) -> bool:
    """Whether ``self.<name>`` can be written as it is (else ``add_module`` and ``getattr`` are)."""
    return isinstance(name, str) and name.isidentifier() and not mangled(name)


def _lines(out: CodeWriter, lines: list[str]) -> None:
    with out.indent():
        for line in lines:
            out.line(line)


@dataclass(frozen=True)
class _Shown:
    """An expression shown in a message, with its conversion (``!r``)."""

    source: str
    conversion: str = ""


def _formatted(parts: list[str | _Shown]) -> str:
    """Source for a message of words and expressions: an f-string, or ``str.format`` where an expression holds
    a quote or backslash (which an f-string's expressions cannot hold before Python 3.12)."""
    shown = [part for part in parts if isinstance(part, _Shown)]
    inline = not any(c in part.source for part in shown for c in "\"'\\")
    template = "".join(
        part.replace("\\", "\\\\").replace('"', '\\"').replace("{", "{{").replace("}", "}}")
        if isinstance(part, str) else "{" + (part.source if inline else "") + part.conversion + "}" for part in parts)
    if not shown:
        return f'"{template}"'
    if inline:
        return f'f"{template}"'
    return f'"{template}".format(' + ", ".join(part.source for part in shown) + ")"


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


def _positional(nodes: Sequence[ir.Node]) -> bool:
    """Whether ``nodes`` are modules numbered by position (no labels), some under conditions, nothing else."""
    for node in nodes:
        if isinstance(node, ir.Choice):
            if not _positional(node.then) or not _positional(node.otherwise):
                return False
        elif isinstance(node, ir.Loop):
            if not _positional(node.body):
                return False
        elif isinstance(node, (ir.Layer, ir.Group)):
            name = node.name
            if not ((isinstance(name, str) and name.isdigit()) or (isinstance(name, Op) and name.name == "name"
                    and name.args[0] == "")):
                return False
        elif not isinstance(node, ir.Require):
            return False
    return True


def _unnamed(loop: ir.Loop, read: set[Any]) -> set[Any]:
    """``read`` without the loop's index where only the names of its steps read it (numbered by position)."""
    values = (value for node in ir.walk(loop) if node is not loop for value in ir.values(node)
              if not isinstance(node, (ir.Layer, ir.Group)) or value is not node.name)
    return read if any(loop.index in symbols(value) for value in values) else read - {loop.index}


def _comprehended(nodes: Sequence[ir.Node], read: set[Any]) -> bool:
    """Whether ``nodes`` are numbered modules and loops that each make one, carrying nothing that is read."""
    if not _positional(nodes) or any(isinstance(node, ir.Choice) for node in nodes):
        return False
    for loop in nodes:
        if isinstance(loop, ir.Loop):
            made = [node for node in loop.body if not isinstance(node, ir.Require)]
            if len(made) != 1 or not isinstance(made[0], (ir.Layer, ir.Group)) or any(
                    {state, after} & read for state, after, _, _ in carries(loop)):
                return False
    return True


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


def _parameters_behind(body: ir.Group) -> Callable[[Collection[Any]], set[Sym]]:
    """What gives the parameters symbols depend on: a loop's variables and state stand for what made them."""
    behind: dict[Any, Collection[Any]] = {}
    for loop in ir.walk(body):
        if isinstance(loop, ir.Loop):
            items = symbols(loop.items)
            for target in (*loop.targets, loop.index):
                behind[target] = items
            for state, after, start, update in carries(loop):
                behind[state] = behind[after] = items | symbols(start) | symbols(update)
        elif isinstance(loop, ir.Dense) and loop.index is not None:
            behind[loop.index] = symbols(loop.count)

    def parameters(found: Collection[Any]) -> set[Sym]:
        seen: set[Any] = set()
        todo = list(found)
        while todo:
            sym = todo.pop()
            if sym not in seen:
                seen.add(sym)
                todo += behind.get(sym, ())
        return {sym for sym in seen if isinstance(sym, Sym) and sym.role == PARAM}

    return parameters


def _bound(node: ir.Node) -> set[Any]:
    """The symbols the loops in ``node`` bind (itself included)."""
    bound: set[Any] = set()
    for inner in ir.walk(node):
        if isinstance(inner, ir.Loop):
            bound |= {*inner.targets, inner.index, *inner.state.shape, *(after for _, after in inner.results)}
        elif isinstance(inner, ir.Dense):
            bound.add(inner.index)
    return bound


def _symbols_in(group: ir.Group) -> set[Sym]:
    """The symbols a group's steps read from outside it (not those its own loops bind)."""
    found: set[Sym] = set()
    for node in ir.walk(group):
        if node is not group:
            for value in ir.values(node):
                found |= symbols(value)
    return found - _bound(group)


def _runtime_source(names: set[str]) -> list[str]:
    """The source of the runtime classes and helpers in ``names``, read without importing torch (or parsing: a
    definition runs from its ``def`` or ``class`` line to the next line that is not indented)."""
    found = []
    for package, module in (("archdsl.ir", "helpers.py"), ("archdsl.back", "runtime.py")):
        lines = resources.files(package).joinpath(module).read_text(encoding="utf-8").splitlines()
        for start, line in enumerate(lines):
            match = re.match(r"(?:def|class) (\w+)", line)
            if match and match.group(1) in names:
                end = start + 1
                while end < len(lines) and (not lines[end] or lines[end][0] == " "):
                    end += 1
                found.append("\n".join(lines[start:end]).rstrip())
    return found


def python_source(templates: Templates, network: ir.Network, spec_name: str) -> str:
    """The emitted file's text: deterministic for the same templates."""
    emitted = Emitted(templates.calls, network.init)
    emitted.names |= {p.name for template in templates.classes for p in template.params}
    for template in templates.classes:
        emitted.classes[id(template)] = class_name(template.definition, emitted.names)
    classes = CodeWriter()
    for template in templates.classes:
        name = emitted.classes[id(template)]
        locals_ = parameter_names([p.name for p in template.params])
        params = [Parameter(locals_[p.name], p.symbol, p.default, p.example) for p in template.params]
        doc = _doc(template, network, {p.name: locals_[p.name] for p in template.params if locals_[p.name] != p.name})
        writer = ClassWriter(name, template.kind, emitted, template.body, params, doc,
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


def _doc(template: Template, network: ir.Network, renamed: dict[str, str]) -> str:
    if template.kind == "network":
        words = [f"The `{template.definition}` network: {network.input} -> {network.output}."]
    else:
        words = [f"Block `{template.definition}` of the spec, on inputs with {template.rank} spatial axes."]
    if renamed:
        pairs = ", ".join(f"`{name}` is `{local}`" for name, local in renamed.items())
        words.append(f"Parameter {pairs} here: Python reserves the spec's name or the file needs it.")
    if template.reads_size:
        words.append("It takes `in_size`, its input's spatial size, because what it builds depends on it.")
    if not template.general:
        values = ", ".join(f"{p.name}={p.example!r}" for p in template.params)
        words.append(f"Written for {values}: other values need the spec compiled again.")
    return "\n\n".join(words)
