"""How a class writes its loops and joins (mixed into ``ClassWriter``): a loop over what the class is given, with
the state it carries; DenseNet's growing feature list; and a join, which may read every tensor a label of a loop
named (``torch.cat([y[0], y[1], *ms], dim=1)``, as Ultralytics' C2f)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from archdsl import ir
from archdsl.back.codewriter import CodeWriter
from archdsl.back.pyforms import indented
from archdsl.back.pynames import Names
from archdsl.back.pysource import Call, call_line
from archdsl.elaboration.templates import carries
from archdsl.ir.expr import Op, Sym
from archdsl.ir.tensor import all_key, pass_key, pass_label


class LoopWriter:
    """Writes loops and joins; ``ClassWriter`` gives it names, expressions and the steps of a body."""

    init: CodeWriter
    forward: CodeWriter
    locals: Names
    tensors: dict[str, str]
    symbol_names: dict[Sym, str]
    used: set[Any]
    passes: int
    module_lists: list[str]  # the labels of a class's loop naming a module per pass (``self.m``)
    collected: set[str]  # labels of a class's loop read after it: every pass's tensor

    # what ``ClassWriter`` gives (annotations only, so that no stub hides its methods)
    steps: Callable[[Sequence[ir.Node], str, str, ir.Node | None], str]
    tensor: Callable[[str], str]
    py: Callable[..., str]
    fpy: Callable[[Any], str]
    name_of: Callable[[Sym], str]
    comment: Callable[[ir.Node], str]
    construct: Callable[[ir.Layer | ir.Group, ir.Node | None], Call | str]

    def join(self, node: ir.Concat | ir.Elementwise, source: str, target: str) -> str:
        outputs = [("*" if _all_passes(path) else "") + self.steps(path, source, self.locals.create("branch"), None)
                   for path in node.branches]
        listed = ", ".join(outputs)
        if isinstance(node, ir.Concat):
            joined = f"torch.cat([{listed}], dim=1)"
        elif not any(_all_passes(path) for path in node.branches):
            joined = f" {node.op} ".join(outputs)
        elif node.op == "+":  # every pass's tensor of a class's loop: summed in order, as the unrolled sum
            joined = f"sum([{listed}])"
        else:  # multiplied in order
            factors, factor = self.locals.create("factors"), self.locals.create("factor")
            self.forward.line(f"{factors} = [{listed}]")
            self.forward.line(f"{target} = {factors}[0]")
            self.forward.line(f"for {factor} in {factors}[1:]:")
            with self.forward.indent():
                self.forward.line(f"{target} = {target} * {factor}{self.comment(node)}")
            return target
        self.forward.line(f"{target} = {joined}{self.comment(node)}")
        return target

    def dense(self, node: ir.Dense, source: str, target: str) -> str:
        features = self.locals.create("features")
        layer = self.locals.create("layer")
        self.forward.line(f"{features} = [{source}]")
        if node.index is None:  # written out layer by layer
            for dense_layer in node.layers:
                call_line(self.init, f"self.{dense_layer.name} = ", [self.construct(dense_layer, None)], "")
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

    def loop(self, node: ir.Loop, source: str, target: str) -> str:
        """A loop over what the class is given; channels and sizes that change pass by pass are variables."""
        init, forward, module_lists = self.init, self.forward, self.module_lists
        self.init, self.forward, self.module_lists = CodeWriter(), CodeWriter(), []
        for label, outer in node.carried:  # a pass reads the tensor the pass before labelled, the first the outer
            self.tensors[pass_key(label)] = self.tensor(outer)
        self.passes += 1
        result = self.steps(node.body, target, target, None)  # each pass reads what the pass before wrote
        self.passes -= 1
        body_init, body_forward = self.init.lines, self.forward.lines
        self.init, self.forward, module_lists = init, forward, [*module_lists, *self.module_lists]
        self.module_lists = []
        for label in module_lists:
            self.init.line(f"self.{label} = nn.ModuleList()")
        self._loop(node, self.used, body_init, self.init)
        if not body_forward:
            return source
        if result != target:
            body_forward.append(f"{target} = {result}")
        if source != target:
            self.forward.line(f"{target} = {source}")
        for label in sorted(made_in(node) & self.collected):
            self.forward.line(f"{self.tensor(all_key(label))} = []")
        self.forward.line(self._header(node, self.used, self.fpy))
        indented(self.forward, body_forward)
        return target

    def _header(self, node: ir.Loop, read: set[Any], py: Any) -> str:
        for sym, name in zip(node.targets, node.names, strict=False):
            self.symbol_names.setdefault(sym, "_" if name == "_" else self.locals.create(name))  # `_`: repeat's
        targets = ", ".join(self.name_of(s) for s in node.targets)
        if node.index in read and counted(node) and targets in ("_", self.name_of(node.index)):
            return f"for {self.name_of(node.index)} in {py(node.items)}:"  # the pass is the item: `for i in range(n)`
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
        indented(out, [*body, *updates] or ["pass"])


def counted(node: ir.Loop) -> bool:
    """Whether a loop runs over ``range(n)``, so that its item is its pass."""
    return isinstance(node.items, Op) and node.items.name == "range" and len(node.items.args) == 1 and len(
        node.targets) == 1


def name_passes(body: ir.Group, names: dict[Sym, str], locals_: Names) -> set[Sym]:
    """Gives each loop over ``range(n)`` one variable for its item and its pass (``for k in range(n)``, not
    ``for item, k in enumerate(range(n))``); returns the passes of those whose item is unnamed (``repeat``'s),
    to be called ``i`` where read."""
    unnamed: set[Sym] = set()
    for node in ir.walk(body):
        if isinstance(node, ir.Loop) and counted(node) and node.index is not None:
            if node.names and node.names[0] != "_":
                names.setdefault(node.index, names.setdefault(node.targets[0], locals_.create(node.names[0])))
            else:
                unnamed.add(node.index)
    return unnamed


def collected_labels(body: ir.Group) -> set[str]:
    """The labels of a class's loops whose every tensor a step after the loop reads (``@m``, ``@m[-1]``)."""
    return {match[1] for node in ir.walk(body) if isinstance(node, ir.Read)
            for match in [re.match(r"(.*)\[\*\]", node.label)] if match}


def made_in(node: ir.Loop) -> set[str]:
    """The labels a pass of a class's loop names a tensor of."""
    return {label for n in ir.walk(node) if isinstance(n, ir.Keep | ir.Split | ir.Unpack)
            for label in [pass_label(n.label)] if label is not None}


def _all_passes(path: Sequence[ir.Node]) -> bool:
    """Whether a join's path reads every pass's tensor of a class's loop (``@m``): a list, starred."""
    return len(path) == 1 and isinstance(path[0], ir.Read) and path[0].count is not None
