"""Element-wise activations and regularisers: they keep the shape."""

from __future__ import annotations

from archdsl.ir.layers.record import (
    Args,
    Constructor,
    LayerKind,
    ModuleRule,
    Shaped,
    keeps_field,
    make,
    no_flops,
    no_ops,
    per_output,
    register,
    same_shape,
)
from archdsl.ir.layers.signature import Param, choice, number
from archdsl.ir.tensor import TensorType


def _in_place(cls: str) -> ModuleRule:
    return lambda a, t, o, inplace: make(cls, inplace=True) if inplace else make(cls)


def _fixed(cls: str, *args: object, **kwargs: object) -> ModuleRule:
    return lambda a, t, o, inplace: make(cls, *args, **kwargs)


def activation(name: str, doc: str, module: ModuleRule, *params: Param, in_place: bool = False,
               describe: str | None = None, extra: bool = True) -> None:
    """A layer that keeps its input's shape and acts on each element (or, ``extra=False``, does nothing)."""
    register(LayerKind(
        name, doc, params, (0, 1, 2, 3), shape=same_shape, module=module, flops=no_flops,
        extra_ops=per_output if extra else no_ops, receptive=keeps_field, family="activation",
        describe=(lambda a, o: f"{describe}={a[describe]}") if describe else (lambda a, o: ""),
        in_place=in_place))


activation("relu", "max(x, 0)", _in_place("nn.ReLU"), in_place=True)
activation("relu6", "min(max(x, 0), 6), MobileNet's activation", _in_place("nn.ReLU6"), in_place=True)
activation("silu", "x * sigmoid(x), also called swish", _in_place("nn.SiLU"), in_place=True)
activation("hardswish", "MobileNetV3's piecewise-linear swish", _in_place("nn.Hardswish"), in_place=True)
activation("hardsigmoid", "MobileNetV3's piecewise-linear sigmoid", _in_place("nn.Hardsigmoid"), in_place=True)
activation("sigmoid", "1 / (1 + exp(-x))", _fixed("nn.Sigmoid"))
activation("tanh", "hyperbolic tangent", _fixed("nn.Tanh"))
activation("softmax", "softmax over the channels", _fixed("nn.Softmax", dim=1))
activation("leaky_relu", "x, or slope * x below zero",
           lambda a, t, o, inplace: make("nn.LeakyReLU", a["slope"], **({"inplace": True} if inplace else {})),
           Param("slope", number(0.0), 0.01, "slope for negative inputs"), in_place=True, describe="slope")
activation("gelu", "Gaussian error linear unit", lambda a, t, o, inplace: make("nn.GELU", approximate=a["approximate"]),
           Param("approximate", choice("none", "tanh"), "none", "tanh approximation"))


def _regulariser(name: str, doc: str, module: ModuleRule, *params: Param) -> None:
    register(LayerKind(
        name, doc, params, (0, 1, 2, 3), shape=same_shape, module=module, flops=no_flops, extra_ops=no_ops,
        receptive=keeps_field, family="regularisation", describe=lambda a, o: f"p={a['p']}", gives_input=True))


register(LayerKind(
    "identity", "passes its input through", (), (0, 1, 2, 3), shape=same_shape, module=_fixed("nn.Identity"),
    flops=no_flops, extra_ops=no_ops, receptive=keeps_field, family="reshape", describe=lambda a, o: "",
    gives_input=True))
_regulariser("dropout", "zeroes random elements while training", lambda a, t, o, inplace: make("nn.Dropout", a["p"]),
             Param("p", number(0.0, 1.0), 0.5, "probability of zeroing an element"))
_regulariser("droppath", "stochastic depth: drops a residual branch per sample while training",
             lambda a, t, o, inplace: make("DropPath", a["p"]),
             Param("p", number(0.0, 1.0), 0.0, "probability of dropping a sample's path"))


def _layerscale(args: Args, t: TensorType, checks: object) -> Shaped:
    return Shaped(t, t.channels)


def _layerscale_module(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    return make("LayerScale", t.channels, a["init"], rank=t.rank)


register(LayerKind(
    "layerscale", "A learned per-channel scale (ConvNeXt, CaiT)",
    (Param("init", number(0.0), 1e-6, "initial scale"),), (0, 1, 2, 3),
    shape=_layerscale, module=_layerscale_module, flops=no_flops,
    extra_ops=per_output, receptive=keeps_field, family="regularisation", describe=lambda a, o: "", fresh=True))
