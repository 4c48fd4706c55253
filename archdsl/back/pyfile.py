"""What the classes of one emitted file share, the parameters each class takes, and what the network gives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec import Struct, field

from archdsl import ir
from archdsl.back.codewriter import CodeWriter
from archdsl.back.pysource import call_line
from archdsl.elaboration.templates import Template
from archdsl.ir.expr import Sym, literal


class Emitted(Struct):
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
    outputs: ir.Outputs | None = None  # what the network's forward gives, where it says (`output(...)`)
    outputs_class: str | None = None  # the namedtuple of the outputs train() gives, where some are only there
    inference: bool = False  # the file has ``for_inference`` and the classes say what it folds


class Parameter(Struct, frozen=True):
    """One parameter of an emitted class: the local it is bound to and the spec's symbol it stands for."""

    local: str
    symbol: Sym
    default: Any  # REQUIRED, a value, or an expression of the parameters before it
    example: Any  # a value the parameter took, or the type its values have


def returned_annotation(outputs: ir.Outputs | None, train_class: str | None) -> str:
    """What a forward returns, as an annotation."""
    if outputs is None:
        return "torch.Tensor"
    written = {"namedtuple": str(train_class), "tuple": "tuple[torch.Tensor, ...]", "tensor": "torch.Tensor",
               "dict": "dict[str, torch.Tensor]"}
    trained, evaluated = written[outputs.structure(True)], written[outputs.structure(False)]
    return trained if trained == evaluated else f"{trained} | {evaluated}"


def write_returns(out: CodeWriter, outputs: ir.Outputs, train_class: str | None, tensor: Callable[[str], str]
                  ) -> None:
    """The network's ``return``: a tensor, a tuple, a dict in spec order; the namedtuple in ``train()`` where
    some outputs are training-only, as torchvision's GoogLeNet gives ``GoogLeNetOutputs``."""
    if outputs.structure(True) == "namedtuple":
        out.line("if self.training:")
        with out.indent():
            out.line(f"return {train_class}({', '.join(tensor(o.label) for o in outputs.items)})")
    given, structure = outputs.given(False), outputs.structure(False)
    if structure == "tuple":
        out.line("return " + ", ".join(tensor(o.label) for o in given))
    elif structure == "tensor":
        out.line(f"return {tensor(given[0].label)}")
    else:
        call_line(out, "return OrderedDict([", [f"({literal(str(o.key))}, {tensor(o.label)})" for o in given], "])")
