"""Templates: each definition a network uses, elaborated once over symbols for its parameters and input.

A template is what one class of the emitted Python is: the definition's steps with
every argument an expression of the class's parameters (and of ``in_channels``), its
``if``s on them kept as ``ir.Choice``, its loops over them as ``ir.Loop`` and the rules
it could not decide as ``ir.Require``. The network's template takes the network's
parameters; each block's, the block's. Nothing here knows Python: the back end prints
what is found here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from msgspec import Struct, field, structs

from archdsl import ir
from archdsl.elaboration.elaborate import Elaborator
from archdsl.elaboration.scope import Abort
from archdsl.front import syntax as ast
from archdsl.front.loader import Program
from archdsl.ir.expr import GIVEN, INPUT, PARAM, Sym, is_symbolic, op, substitute, symbols, type_of
from archdsl.ir.tensor import AXIS_NAMES, Named, TensorType
from archdsl.ir.values import UNKNOWN, Value

REQUIRED: Any = object()


class Parameter(Struct, frozen=True):
    """A parameter of a class: its symbol, and its default (a value, an expression of those before, or REQUIRED)."""

    name: str
    symbol: Sym
    default: Any
    example: Value  # the value the network was compiled with, which gives the annotation


class Template(Struct):
    """One class of the emitted file."""

    definition: str  # the block's or network's name in the spec
    kind: str  # "network" | "block"
    rank: int  # the number of spatial axes its input has
    params: tuple[Parameter, ...]
    body: ir.Group
    input: TensorType  # its input, over the symbols `in.c`, `in.h`, ... for a block
    reference: dict[Sym, Value] = field(default_factory=dict)  # each symbol's value where it was written from
    general: bool = True  # False: written for the compiled arguments only
    sizes: set[str] = field(default_factory=set)  # the tensors whose spatial size its construction reads: "in",
    # a block's input, or a tensor parameter; the class is given them (``in_size``, ``skip_size``)


class Templates(Struct):
    """Every class of one emitted file, blocks first; and which class each block call builds."""

    classes: list[Template]
    calls: dict[int, Template]  # id() of a block call's ir.Group -> the class it builds


def input_symbols(rank: int, tensor: str | None = None) -> TensorType:
    """A block's input as symbols: ``in.c`` and one per spatial axis (``in.h``, ``in.w``); or, named, a tensor
    parameter's: ``skip.c``, ``skip.h``, ..."""
    axes = AXIS_NAMES.get(rank, ())
    role, prefix = (INPUT, "") if tensor is None else (GIVEN, f"{tensor}.")
    return TensorType((Sym(prefix + "c", role, int), *(Sym(prefix + axis[0], role, int) for axis in axes)))


def templates(program: Program, network: ast.Definition, args: Mapping[str, Value]) -> Templates:
    """The network's template, last, after the template of every block class it builds.

    A block has one class per rank, and another where a call's arguments break what a
    class had to assume (see ``Elaborator.assume``).
    """
    symbols_ = {name: Sym(name, PARAM, type_of(value)) for name, value in args.items()}
    reference: dict[Sym, Value] = {symbols_[name]: value for name, value in args.items()}
    elaborated = _elaborate(program, network, symbols_, None, reference)
    general = elaborated is not None
    if elaborated is None:  # written for the compiled values: the class refuses others
        elaborated = _elaborate(program, network, args, None, reference)
        assert elaborated is not None, f"network {network.name} elaborates at the values it was checked with"
    root, root_reference = elaborated
    if not general:
        refusals = tuple(ir.Require(op("==", symbols_[name], value), None,
                                    ("this class is written for ", ir.Quoted(symbols_[name]), f" == {value!r}, not ",
                                     symbols_[name]), root.input, root.input, network.span)
                         for name, value in args.items())
        root = structs.replace(root, children=(*refusals, *root.children))
    spec = Elaborator(program, reference=reference).defaults(network, symbols_, None)
    params = tuple(Parameter(name, symbols_[name], _default(spec.get(name), value, reference), value)
                   for name, value in args.items())
    main = Template(network.name, "network", root.input.rank, params, root, root.input, root_reference, general)
    variants: dict[tuple[str, int], list[Template]] = {}
    order: list[Template] = []
    calls: dict[int, Template] = {}
    pending = list(_calls(main))
    while pending:
        key, group, outer = pending.pop(0)
        values = _call_values(group, outer)
        chosen = next((t for t in variants.get(key, []) if _fits(t, values)), None)
        if chosen is None:
            chosen = _block(program, program.blocks[key[0]], group, values)
            variants.setdefault(key, []).append(chosen)
            order.append(chosen)
            pending.extend(_calls(chosen))
        calls[id(group)] = chosen
    _decide_sizes(order, calls)
    return Templates([*reversed(order), main], calls)


def _default(spec: Any, value: Value, reference: Mapping[Sym, Value]) -> Any:
    """A network parameter's default in its class: the spec's expression where it reads parameters before it and
    gives the compiled value (``b=a``: ``b`` follows ``a``), else the compiled value (``--set`` changes it)."""
    return spec if is_symbolic(spec) and substitute(spec, reference) == value else value


def _decide_sizes(blocks: list[Template], calls: dict[int, Template]) -> None:
    """Which block classes are given the spatial size of their input or of a tensor parameter: those whose
    construction reads it, directly or through a call of a class that is given it."""
    growing = True
    while growing:
        growing = False
        for template in blocks:
            if not template.general:
                continue
            read = construction_symbols(template.body, lambda call: calls[id(call)].sizes)
            sizes = {_tensor_of(s) for s in read if s.role in (INPUT, GIVEN) and s.name.split(".")[-1] != "c"}
            if not sizes <= template.sizes:
                template.sizes |= sizes
                growing = True


def _tensor_of(sym: Sym) -> str:
    """The tensor a size symbol is of: "in", or a tensor parameter's name."""
    return "in" if sym.role == INPUT else sym.name.split(".")[0]


def _elaborate(program: Program, definition: ast.Definition, values: Mapping[str, Any],
               block_input: TensorType | None, reference: Mapping[Sym, Value]
               ) -> tuple[ir.Group, dict[Sym, Value]] | None:
    """The template and every symbol's value where it was written from (its loops' symbols too)."""
    elaborator = Elaborator(program, reference=reference)
    try:
        body = elaborator.template(definition, values, block_input)
    except Abort:
        return None
    return None if body is None else (body, elaborator.reference)


CallValues = tuple[dict[str, Value], TensorType, dict[str, TensorType]]  # arguments, input, tensors given


def _call_values(group: ir.Group, outer: Mapping[Sym, Value]) -> CallValues:
    """A block call's arguments, input and given tensors as values, where the caller's symbols have their reference
    values."""
    def known_type(t: TensorType) -> TensorType:
        return TensorType(tuple(_known(size, outer) for size in t.shape))

    args = {name: _known(value, outer) for name, value in group.args}
    return args, known_type(group.input), {g.param: known_type(g.type) for g in group.given}


def _known(value: Any, reference: Mapping[Sym, Value]) -> Value:
    known = substitute(value, reference)
    return UNKNOWN if is_symbolic(known) else known


def _block(program: Program, definition: ast.Definition, call: ir.Group, values: CallValues) -> Template:
    """A block's template, general where the elaborator can keep it so; else written for the call's values."""
    example, t_example, given = values
    rank = t_example.rank
    t_in = input_symbols(rank)
    valued = [p for p in definition.params if not p.tensor]
    symbols_ = {p.name: Sym(p.name, PARAM, type_of(example[p.name])) for p in valued}
    reference: dict[Sym, Value] = {symbols_[p.name]: example[p.name] for p in valued}
    reference.update(dict(zip(t_in.shape, t_example.shape, strict=True)))
    tensors = {name: Named(name, input_symbols(t.rank, name)) for name, t in given.items()}
    for name, t in given.items():
        reference.update(dict(zip(tensors[name].type.shape, t.shape, strict=True)))
    defaults = Elaborator(program, reference=reference).defaults(definition, symbols_, t_in)
    params = tuple(Parameter(p.name, symbols_[p.name], defaults.get(p.name, REQUIRED), example[p.name])
                   for p in valued)
    elaborated = _elaborate(program, definition, {**symbols_, **tensors}, t_in, reference)
    if elaborated is not None and UNKNOWN not in reference.values():
        body, full = elaborated
        return Template(definition.name, "block", rank, params, body, t_in, full)
    fixed_tensors = {name: Named(name, t) for name, t in given.items()}
    fixed = _elaborate(program, definition, {**example, **fixed_tensors}, t_example, reference)
    assert fixed is not None, f"block {definition.name} elaborates at the values it was checked with"
    return Template(definition.name, "block", rank, params, fixed[0], t_in, fixed[1], general=False)


def _fits(template: Template, values: CallValues) -> bool:
    """Whether a class serves a call with these values: the same ranks, and what it assumed holds there."""
    args, t_in, given = values
    tensors = [(template.input, t_in), *((g.type, given[g.param]) for g in template.body.given)]
    if any(symbolic.rank != t.rank for symbolic, t in tensors):
        return False
    if not template.general:
        return all(args.get(p.name) == p.example for p in template.params) and all(
            t == TensorType(tuple(template.reference.get(s, s) for s in symbolic.shape)) for symbolic, t in tensors)
    mapping: dict[Sym, Value] = {p.symbol: args[p.name] for p in template.params if p.name in args}
    for symbolic, t in tensors:
        mapping.update(dict(zip(symbolic.shape, t.shape, strict=True)))
    return all(substitute(holds, mapping) is not False for holds in _assumptions(template.body.children, mapping))


def _assumptions(nodes: tuple[ir.Node, ...], mapping: Mapping[Sym, Value]) -> Iterator[Any]:
    """What a template assumed, on the path these values take through its choices."""
    for node in nodes:
        if isinstance(node, ir.Require) and node.code is None:
            yield node.holds
        elif isinstance(node, ir.Choice):
            taken = substitute(node.condition, mapping)
            if taken is not False:
                yield from _assumptions(node.then, mapping)
            if taken is not True:
                yield from _assumptions(node.otherwise, mapping)
        elif not isinstance(node, ir.Group) or node.kind != "block":
            yield from _assumptions(tuple(child for path in ir.paths(node) for child in path), mapping)


def _calls(template: Template) -> Iterator[tuple[tuple[str, int], ir.Group, Mapping[Sym, Value]]]:
    """The block calls a template builds (not those inside them), with the values its symbols were written for."""
    stack: list[ir.Node] = list(template.body.children)
    while stack:
        node = stack.pop(0)
        if isinstance(node, ir.Group) and node.kind == "block":
            yield (node.definition or node.name, node.input.rank), node, template.reference
            continue
        stack[0:0] = [child for path in ir.paths(node) for child in path]


def construction_symbols(body: ir.Group, sizes: Callable[[ir.Group], set[str]]) -> set[Sym]:
    """The symbols a class's construction reads: arguments, names, channels, conditions, loop counts, split sizes
    and what the class assumed; and the state the loops carry to compute them, its own loops' or those of the classes it
    builds. Not its shape comments or the checker's rules.

    ``sizes(call)``: the tensors whose spatial size the class a block call builds is given ("in", or a tensor
    parameter's name).
    """
    found: set[Sym] = set()
    for node in own_nodes(body):
        if isinstance(node, (ir.Layer, ir.Group)):
            found |= symbols(node.args) | symbols(node.name) | symbols(node.input.channels)
            if isinstance(node, ir.Group) and node.kind == "block":
                given = sizes(node)
                found |= symbols(node.input.spatial) if "in" in given else set()
                for g in node.given:
                    found |= symbols(g.type.channels) | (symbols(g.type.spatial) if g.param in given else set())
        elif isinstance(node, ir.Choice):
            found |= symbols(node.condition)
        elif isinstance(node, ir.Loop):
            found |= symbols(node.items)
        elif isinstance(node, ir.Dense):
            found |= symbols(node.count)
        elif isinstance(node, ir.Split):  # forward splits by them: the class keeps them
            found |= symbols(node.sizes)
        elif isinstance(node, ir.Require) and node.code is None:
            found |= symbols(node.holds) | symbols(node.message)
    return carried(found, body)


def check_symbols(body: ir.Group) -> set[Sym]:
    """The symbols the network's tests read: its rules, the conditions and loops around them, the state they carry."""
    found: set[Sym] = set()
    for node in ir.walk(body):
        if node is not body and isinstance(node, (ir.Require, ir.Choice, ir.Loop, ir.Dense)):
            found |= {s for value in ir.values(node) for s in symbols(value)}
    return carried(found, body)


def carried(found: set[Sym], body: ir.Group) -> set[Sym]:
    """``found`` and what computing it needs from the loops anywhere in ``body``: each state, its start, its update."""
    loops = [node for node in ir.walk(body) if isinstance(node, ir.Loop)]
    growing = True
    while growing:
        growing = False
        for state, after, start, update in (carry for loop in loops for carry in carries(loop)):
            if (state in found or after in found) and not ({state} | symbols(start) | symbols(update)) <= found:
                found |= {state, *symbols(start), *symbols(update)}
                growing = True
    return found


def own_nodes(body: ir.Group) -> Iterator[ir.Node]:
    """The nodes a class builds itself: below ``body``, not inside the block calls, which their classes build."""
    stack: list[ir.Node] = list(reversed(body.children))
    while stack:
        node = stack.pop()
        yield node
        if not (isinstance(node, ir.Group) and node.kind == "block"):
            for path in reversed(ir.paths(node)):
                stack.extend(reversed(path))


def carries(loop: ir.Loop) -> Iterator[tuple[Sym, Sym, Any, Any]]:
    """What a loop carries from pass to pass: (state, its symbol after the loop, its start, its value after a pass)."""
    final = output_of(loop.body, loop.state)
    for state, after in loop.results:
        position = loop.state.shape.index(state)
        yield state, after, loop.input.shape[position], final.shape[position]


def output_of(nodes: tuple[ir.Node, ...], start: TensorType) -> TensorType:
    """The type a sequence of nodes ends with (``start`` where it holds no step)."""
    for node in reversed(nodes):
        if not isinstance(node, ir.Require):
            return node.output
    return start
