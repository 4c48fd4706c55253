"""Which network parameters an emitted file can take as constructor arguments.

A network class takes a parameter only where its code stays right for other values of it.
Channel counts between blocks are written out as numbers, so where they depend on a
parameter (a DenseNet's growth sets the width of every transition) the class called with
another value would build a module that fails in forward. The test: elaborate the network
again at another value of the parameter and compare the classes it makes; where anything
changes, the parameter is fixed, written out as its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from archdsl import ir
from archdsl import syntax as ast
from archdsl.diagnostics import Sink
from archdsl.elaborate import Elaborator
from archdsl.loader import Program
from archdsl.pyclasses import ClassBuilder
from archdsl.values import Value, is_int


def fixed_parameters(program: Program, network: ir.Network, given: Mapping[str, Value],
                     input_shape: tuple[int, ...] | None) -> dict[str, Value]:
    """The parameters of ``network`` the emitted classes must write out, with their values.

    ``given`` and ``input_shape`` are what ``network`` was elaborated with.
    """
    definition = program.networks[network.name]
    shape = _class_shape(program, network)
    values = dict(network.args)
    fixed = {}
    for param in definition.params:
        variant = _first_variant(program, definition, given, param.name, values[param.name], input_shape)
        if variant is None or _class_shape(program, variant) != shape:
            fixed[param.name] = values[param.name]
    return fixed


def _first_variant(program: Program, definition: ast.Definition, given: Mapping[str, Value], name: str,
                   value: Value, input_shape: tuple[int, ...] | None) -> ir.Network | None:
    """The network elaborated at the first other value of ``name`` that has no errors."""
    for other in _other_values(value):
        scratch = replace(program, sink=Sink())
        variant = Elaborator(scratch).network(definition, {**given, name: other}, input_shape)
        if variant is not None:
            return variant
    return None


def _other_values(value: Value) -> list[Value]:
    """Values to try in place of ``value``: near it, of its type; none for strings, tuples and None."""
    if isinstance(value, bool):
        return [not value]
    if is_int(value):
        assert isinstance(value, int)
        return [value * 2, value + 1, *([value // 2] if value > 1 else [])]
    if isinstance(value, float):
        return [value / 2, value + 0.125] if value else [0.25]
    return []


def _class_shape(program: Program, network: ir.Network) -> list[tuple[Any, ...]]:
    """What the emitted classes are, short of their parameters' defaults and the shape comments."""
    definition = program.networks[network.name]
    classes = ClassBuilder(network, list(definition.params), program.blocks).build()
    return [(c.name, [p.name for p in c.params], c.skeleton, c.texts) for c in classes]
