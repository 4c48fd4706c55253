"""What the checker needs to know about a layer kind, kept in one table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from archdsl import errorcodes as codes
from archdsl.layers.signature import Param
from archdsl.tensor import TensorType

Args = Mapping[str, Any]  # values already normalised by the parameter checkers


class ShapeError(Exception):
    """A layer cannot take its input; the elaborator adds the call's span.

    ``recovered`` is the output the layer has all the same, where the mistake does not
    decide it (a wrong ``groups``): later steps are then still checked.
    """

    def __init__(self, code: codes.Code, message: str, help: str | None = None,
                 recovered: TensorType | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.help = help
        self.recovered = recovered


@dataclass(frozen=True, slots=True)
class Warning_:
    code: codes.Code
    message: str
    help: str | None = None


@dataclass(frozen=True, slots=True)
class Inferred:
    output: TensorType
    params: int = 0
    buffers: int = 0
    warnings: tuple[Warning_, ...] = ()


Rule = Callable[[Args, TensorType], Inferred]


@dataclass(frozen=True, slots=True)
class LayerKind:
    name: str
    params: tuple[Param, ...]
    infer: Rule
    ranks: tuple[int, ...] = (0, 1, 2, 3)
    doc: str = ""
    is_norm: bool = False


LAYERS: dict[str, LayerKind] = {}


def layer(name: str, *params: Param, ranks: tuple[int, ...] = (0, 1, 2, 3), is_norm: bool = False,
          doc: str | None = None) -> Callable[[Rule], Rule]:
    """Register ``infer`` as the rule of layer ``name``; ``doc`` (or its docstring) documents the layer."""

    def register(infer: Rule) -> Rule:
        if name in LAYERS:
            raise ValueError(f"layer {name} registered twice")
        LAYERS[name] = LayerKind(name, params, infer, ranks, doc or (infer.__doc__ or "").strip(), is_norm)
        return infer

    return register


def check_rank(kind: LayerKind, tensor: TensorType) -> None:
    if tensor.rank in kind.ranks:
        return
    if kind.ranks == (0,):
        raise ShapeError(codes.NOT_FLAT, f"{kind.name} needs a flat tensor, got {tensor}",
                         "flatten it first (`flatten`, or `gap; flatten` to pool away the spatial axes)")
    ranks = [str(r) for r in kind.ranks]
    wanted = ranks[0] if len(ranks) == 1 else ", ".join(ranks[:-1]) + " or " + ranks[-1]
    hint = "this tensor is flat: did a `flatten` come too early?" if tensor.rank == 0 else None
    raise ShapeError(codes.RANK, f"{kind.name} needs {wanted} spatial axes, got {tensor}", hint)
