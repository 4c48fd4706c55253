"""One record per layer kind: every fact about it in one place, dispatched through one table.

A record holds the kind's signature, its shape rule (output type, parameter and buffer
counts, guards and warnings), how it lowers to a module (a ``Constructor``, data that
the in-memory build instantiates and the Python back end writes out), its fvcore FLOP
rule and the element-wise work fvcore leaves out, its receptive-field rule, its diagram
family and the short description papers use. Adding a layer is adding one record;
``tests/test_layers.py`` fails if a record lacks any fact.

Shape rules run on known values (the checked network) and on symbolic ones (the classes
``archdsl compile`` writes): a check whose operands are not known yet becomes a ``Guard``
that the emitted code tests when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from msgspec import Struct, field

from archdsl import errorcodes as codes
from archdsl.ir.expr import Expr, is_symbolic
from archdsl.ir.layers.signature import Param
from archdsl.ir.tensor import TensorType

Args = Mapping[str, Any]  # values already normalised by the parameter checkers; symbolic ones are Exprs


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


class Message(Struct, frozen=True):
    """A diagnostic's words with its numbers kept apart, so code can print them when it knows them."""

    parts: tuple[Any, ...]

    def __str__(self) -> str:
        return "".join(str(part) for part in self.parts)


class Guard(Struct, frozen=True):
    """A rule whose operands are not known yet: ``holds`` must be true, else ``message`` is the error."""

    holds: Expr
    code: codes.Code
    message: Message


class Checks(Struct):
    """What a shape rule checks: known violations raise at once, unknown ones are kept as guards."""

    guards: list[Guard] = field(default_factory=list)

    def require(self, holds: Any, code: codes.Code, message: Message, help: Callable[[], str] | None = None,
                recovered: TensorType | None = None) -> None:
        if is_symbolic(holds):
            self.guards.append(Guard(holds, code, message))
        elif not holds:
            raise ShapeError(code, str(message), help() if help else None, recovered)


class Warning_(Struct, frozen=True):
    code: codes.Code
    message: str
    help: str | None = None


class Shaped(Struct, frozen=True):
    """What a shape rule finds: the output type, learned parameters, buffers and warnings."""

    output: TensorType
    params: Any = 0
    buffers: Any = 0
    warnings: tuple[Warning_, ...] = ()


class Constructor(Struct, frozen=True):
    """``cls(*args, **kwargs)``; ``cls`` is ``nn.<Name>`` or a runtime class of archdsl's."""

    cls: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()


ShapeRule = Callable[[Args, TensorType, Checks], Shaped]
ModuleRule = Callable[[Args, TensorType, TensorType, bool], Constructor]
FlopRule = Callable[[Args, TensorType, TensorType], "tuple[str, int] | None"]
OpsRule = Callable[[Args, TensorType, TensorType], int]
FieldRule = Callable[[Args, TensorType, TensorType, Any], Any]
DescribeRule = Callable[[Args, TensorType], str]


class LayerKind(Struct, frozen=True):
    name: str
    doc: str
    params: tuple[Param, ...]
    ranks: tuple[int, ...]
    shape: ShapeRule
    module: ModuleRule
    flops: FlopRule  # fvcore 0.1.5's count of the module, in eval mode: (operator, flops) or None
    extra_ops: OpsRule  # the element-wise work fvcore does not count
    receptive: FieldRule  # the receptive field and jump after the layer, from those before
    family: str  # the diagram's colour family
    describe: DescribeRule  # key hyper-parameters as papers write them: "7x7 /2, 64"
    in_place: bool = False  # may overwrite its input (activations)
    fresh: bool = False  # its output is a new tensor nothing else holds
    gives_input: bool = False  # gives back its input itself, or (dropout while training) a new tensor
    cancels_bias: Callable[[Args, TensorType], bool] | None = None  # a norm that removes each channel's mean
    has_bias: bool = False  # a convolution whose `bias` argument adds one


LAYERS: dict[str, LayerKind] = {}


def register(kind: LayerKind) -> LayerKind:
    if kind.name in LAYERS:
        raise ValueError(f"layer {kind.name} registered twice")
    LAYERS[kind.name] = kind
    return kind


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


# -- rules many kinds share ------------------------------------------------------------------

def same_shape(args: Args, t: TensorType, checks: Checks) -> Shaped:
    return Shaped(t)


def no_flops(args: Args, t: TensorType, o: TensorType) -> None:
    return None


def no_ops(args: Args, t: TensorType, o: TensorType) -> int:
    return 0


def per_output(args: Args, t: TensorType, o: TensorType) -> int:
    """One operation per output element (an activation, a scale)."""
    return o.numel


def per_input(args: Args, t: TensorType, o: TensorType) -> int:
    """One operation per input element (a reduction)."""
    return t.numel


def keeps_field(args: Args, t: TensorType, o: TensorType, field: Any) -> Any:
    return field


def nothing_to_say(args: Args, o: TensorType) -> str:
    return ""


def size(values: tuple[Any, ...]) -> str:
    """``(3, 3)`` as papers write it: ``3x3``."""
    return "x".join(str(v) for v in values)


def compact(value: Any) -> Any:
    """(3, 3) -> 3: one number where every axis agrees, as hand-written code does."""
    if isinstance(value, tuple) and value and all(v == value[0] for v in value[1:]):
        return value[0]
    return value


def make(cls: str, *args: Any, **kwargs: Any) -> Constructor:
    """A constructor; per-axis values where every axis agrees are written once."""
    return Constructor(cls, tuple(compact(a) for a in args), tuple((k, compact(v)) for k, v in kwargs.items()))


def nd(base: str, t: TensorType) -> str:
    """``nn.Conv2d`` for a 2-D input, from ``Conv``."""
    return f"nn.{base}{max(1, t.rank)}d"
