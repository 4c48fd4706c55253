"""How a class builds its modules in ``__init__`` (mixed into ``ClassWriter``): a layer's constructor, a block's
class, and for a named group the form that reads best: ``nn.Sequential`` of a chain or of a comprehension,
torchvision's ``layers`` list, else a class of its own (``ClassWriter.nested_class``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from archdsl import ir
from archdsl.back.codewriter import CodeWriter
from archdsl.back.lowered import constructor_of
from archdsl.back.pyfile import Emitted
from archdsl.back.pyforms import chain, comprehended, conditional, positional, rerolled, unnamed
from archdsl.back.pynames import Names, parameter_names
from archdsl.back.pysource import Call, call_line, constructor_call, flat
from archdsl.ir.expr import literal
from archdsl.ir.layers import RUNTIME_CLASSES


class ModuleWriter:
    """Writes the constructors of a class's modules; ``ClassWriter`` gives it names, expressions and loops."""

    emitted: Emitted
    init: CodeWriter
    used: set[Any]  # the symbols the class's construction reads
    locals: Names
    lists: list[str]  # the variables collecting numbered steps (see ``listed``), by depth
    listing: int

    def py(self, value: Any, named: bool = True) -> str:
        raise NotImplementedError

    def require(self, node: ir.Require) -> None:
        raise NotImplementedError

    def nested_class(self, group: ir.Group) -> Call:
        raise NotImplementedError

    _header: Callable[[ir.Loop, set[Any], Any], str]  # a loop's `for` line (``LoopWriter``)
    _loop: Callable[[ir.Loop, set[Any], list[str], CodeWriter], None]  # a loop in ``__init__``

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
        locals_ = parameter_names([p.name for p in template.params], [g.param for g in group.given])
        parts: list[Call | str] = [self.py(group.input.channels), *(self.py(g.type.channels) for g in group.given)]
        if "in" in template.sizes:
            parts.append(f"in_size={self.py(tuple(group.input.spatial))}")
        parts += [f"{locals_[g.param + '_size']}={self.py(tuple(g.type.spatial))}" for g in group.given
                  if g.param in template.sizes]
        bound = dict(group.args)
        parts += [f"{locals_[name]}={self.py(bound[name])}" for name in group.passed]
        return Call(self.emitted.classes[id(template)], parts)

    def group(self, group: ir.Group) -> Call:
        """A named seq: ``nn.Sequential`` where its steps form a chain, else a class of its own."""
        steps = chain(group)
        if steps is None:
            if comprehended(group.children, self.used):
                return Call("nn.Sequential", [self.comprehension(node) if isinstance(node, ir.Loop) else
                                              self.construct(node, None) for node in group.children
                                              if isinstance(node, (ir.Loop, ir.Layer, ir.Group))])
            return self.listed(group) if positional(group.children) else self.nested_class(group)
        parts = [self.construct(child, previous) for child, previous in steps]
        names = [child.name for child, _ in steps]
        if all(n == str(i) for i, n in enumerate(names)):
            return Call("nn.Sequential", rerolled(parts))
        pairs: list[Call | str] = [Call("", [literal(name), part]) for name, part in zip(names, parts, strict=True)]
        return Call("nn.Sequential", [Call("OrderedDict", [Call("", pairs, brackets="[]")])])

    def comprehension(self, loop: ir.Loop) -> str:
        """A loop that makes one module a pass, as an argument: ``*[Block(96, drop=drop * i / 17) for i in ...]``."""
        (module,) = [node for node in loop.body if not isinstance(node, ir.Require)]
        assert isinstance(module, (ir.Layer, ir.Group))
        header = self._header(loop, unnamed(loop, self.used), self.py).removesuffix(":")
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

    def _append(self, nodes: Sequence[ir.Node], layers: str, previous: ir.Node | None = None) -> None:
        """Appends ``nodes`` to the list ``layers``; ``previous``: the step before them (an in-place activation
        at the start of an `if` arm needs it)."""
        for node in nodes:
            if isinstance(node, ir.Require):
                self.require(node)
            elif isinstance(node, ir.Choice):
                init, branches = self.init, []
                for branch in (node.then, node.otherwise):
                    self.init = CodeWriter()
                    self._append(branch, layers, previous)
                    branches.append(self.init.lines)
                self.init, (then, otherwise) = init, branches
                if then or otherwise:
                    conditional(self.init, self.py(node.condition), then, otherwise)
                previous = node
            elif isinstance(node, ir.Loop):
                init, self.init = self.init, CodeWriter()
                self._append(node.body, layers)
                body, self.init = self.init.lines, init
                self._loop(node, unnamed(node, self.used), body, self.init)
                previous = node
            else:
                assert isinstance(node, (ir.Layer, ir.Group))
                call_line(self.init, f"{layers}.append(", [self.construct(node, previous)], ")")
                previous = node
