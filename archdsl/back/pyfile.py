"""What the classes of one emitted file share, and the parameters each class takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archdsl import ir
from archdsl.elaboration.templates import Template
from archdsl.ir.expr import Sym


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


@dataclass(frozen=True)
class Parameter:
    """One parameter of an emitted class: the local it is bound to and the spec's symbol it stands for."""

    local: str
    symbol: Sym
    default: Any  # REQUIRED, a value, or an expression of the parameters before it
    example: Any  # a value the parameter took, or the type its values have
