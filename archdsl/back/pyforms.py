"""Which Python form a piece of IR takes: a chain, a ``layers`` list, a comprehension, an optional module.

Pure functions of the IR, read by ``ClassWriter``: whether a named group's steps form a
chain (``nn.Sequential(...)``), are numbered by position with conditions and loops among
them (torchvision's ``layers`` list), or make one module a pass (``*[Block(...) for ...]``);
which symbols a group reads from outside, and which parameters a loop's symbols stand for.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from archdsl import ir
from archdsl.back.codewriter import CodeWriter
from archdsl.back.pynames import mangled
from archdsl.back.pysource import Call, flat
from archdsl.elaboration.templates import carries
from archdsl.ir import flow
from archdsl.ir.expr import PARAM, Op, Sym, symbols


def plain_attribute(name: Any) -> bool:
    """Whether ``self.<name>`` can be written as it is (else ``add_module`` and ``getattr`` are)."""
    return isinstance(name, str) and name.isidentifier() and not mangled(name)


def conditional(out: CodeWriter, condition: str, then: list[str], otherwise: list[str]) -> None:
    """``if condition:`` over ``then`` and ``else:`` over ``otherwise``; ``if not (condition):`` where only
    ``otherwise`` has lines (one of them must)."""
    out.line(f"if {condition}:" if then else f"if not ({condition}):")
    indented(out, then or otherwise)
    if then and otherwise and _one_if(otherwise):  # `else: if` as `elif`: an `else if` chain does not nest
        out.line("el" + otherwise[0])
        for line in otherwise[1:]:
            out.line(line)
    elif then and otherwise:
        out.line("else:")
        indented(out, otherwise)


def _one_if(lines: list[str]) -> bool:
    """Whether ``lines`` are one ``if`` statement, with its ``elif``s and ``else``, and nothing after it."""
    return lines[0].startswith("if ") and all(not line or line.startswith((" ", "elif ", "else:"))
                                              for line in lines[1:])


def indented(out: CodeWriter, lines: list[str]) -> None:
    with out.indent():
        for line in lines:
            out.line(line)




def rerolled(parts: list[Call | str]) -> list[Call | str]:
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


def listed_name(name: Any) -> tuple[str, Any] | None:
    """The label and pass of a module a labelled step in a loop makes (``m.1``; in a class's loop ``m.{i}``), or
    None for any other name."""
    if isinstance(name, str):
        label, dot, index = name.partition(".")
        return (label, int(index)) if dot else None
    if isinstance(name, Op) and name.name == "name" and str(name.args[0]).endswith("."):
        return str(name.args[0])[:-1], name.args[1]
    return None


def static_names(group: ir.Group) -> list[str]:
    """The attribute names a class holds directly (not inside its sub-modules)."""
    found: list[str] = []
    stack: list[ir.Node] = list(group.children)
    while stack:
        node = stack.pop(0)
        if isinstance(node, (ir.Layer, ir.Group)):
            listed = listed_name(node.name)  # a loop's modules are a list: `self.m`
            if listed is not None or plain_attribute(node.name):
                found.append(node.name if listed is None else listed[0])
        else:
            stack[0:0] = [c for path in ir.paths(node) for c in path]
    return found


def chain(group: ir.Group) -> list[tuple[ir.Layer | ir.Group, ir.Node | None]] | None:
    """The group's steps with the step before each, where they are a plain chain of modules."""
    steps: list[tuple[ir.Layer | ir.Group, ir.Node | None]] = []
    previous: ir.Node | None = None
    for child in group.children:
        if isinstance(child, ir.Require) and child.code is not None:
            continue
        if not isinstance(child, (ir.Layer, ir.Group)) or not isinstance(child.name, str) or _given_tensors(child):
            return None
        steps.append((child, previous))
        previous = child
    return steps


def _given_tensors(node: ir.Layer | ir.Group) -> bool:
    """Whether a module is called with labelled tensors beside its input (nn.Sequential passes one)."""
    return isinstance(node, ir.Group) and bool(flow.given_tensors(node))


def positional(nodes: Sequence[ir.Node]) -> bool:
    """Whether ``nodes`` are modules numbered by position (no labels), some under conditions, nothing else."""
    for node in nodes:
        if isinstance(node, ir.Choice):
            if not positional(node.then) or not positional(node.otherwise):
                return False
        elif isinstance(node, ir.Loop):
            if not positional(node.body):
                return False
        elif isinstance(node, (ir.Layer, ir.Group)):
            name = node.name
            if not ((isinstance(name, str) and name.isdigit()) or (isinstance(name, Op) and name.name == "name"
                    and name.args[0] == "")) or _given_tensors(node):
                return False
        elif not isinstance(node, ir.Require):
            return False
    return True


def unnamed(loop: ir.Loop, read: set[Any]) -> set[Any]:
    """``read`` without the loop's index where only the names of its steps read it (numbered by position)."""
    values = (value for node in ir.walk(loop) if node is not loop for value in ir.values(node)
              if not isinstance(node, (ir.Layer, ir.Group)) or value is not node.name)
    return read if any(loop.index in symbols(value) for value in values) else read - {loop.index}


def comprehended(nodes: Sequence[ir.Node], read: set[Any]) -> bool:
    """Whether ``nodes`` are numbered modules and loops that each make one, carrying nothing that is read."""
    if not positional(nodes) or any(isinstance(node, ir.Choice) for node in nodes):
        return False
    for loop in nodes:
        if isinstance(loop, ir.Loop):
            made = [node for node in loop.body if not isinstance(node, ir.Require)]
            if len(made) != 1 or not isinstance(made[0], (ir.Layer, ir.Group)) or any(
                    {state, after} & read for state, after, _, _ in carries(loop)):
                return False
    return True


def optional_module(nodes: tuple[ir.Node, ...]) -> tuple[Any, ir.Layer | ir.Group] | None:
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


def parameters_behind(body: ir.Group) -> Callable[[Collection[Any]], set[Sym]]:
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


def bound(node: ir.Node) -> set[Any]:
    """The symbols the loops in ``node`` bind (itself included)."""
    bound: set[Any] = set()
    for inner in ir.walk(node):
        if isinstance(inner, ir.Loop):
            bound |= {*inner.targets, inner.index, *inner.state.shape, *(after for _, after in inner.results)}
        elif isinstance(inner, ir.Dense):
            bound.add(inner.index)
    return bound


def symbols_in(group: ir.Group) -> set[Sym]:
    """The symbols a group's steps read from outside it (not those its own loops bind)."""
    found: set[Sym] = set()
    for node in ir.walk(group):
        if node is not group:
            for value in ir.values(node):
                found |= symbols(value)
    return found - bound(group)


