"""Element-wise activations and regularisers: they keep the shape."""

from __future__ import annotations

from archdsl.layers.registry import Args, Inferred, layer
from archdsl.layers.signature import Param, choice, number
from archdsl.tensor import TensorType


def same_shape(args: Args, t: TensorType) -> Inferred:
    return Inferred(t)


for _name, _doc in {
    "relu": "max(x, 0)",
    "relu6": "min(max(x, 0), 6), MobileNet's activation",
    "sigmoid": "1 / (1 + exp(-x))",
    "tanh": "hyperbolic tangent",
    "silu": "x * sigmoid(x), also called swish",
    "hardswish": "MobileNetV3's piecewise-linear swish",
    "hardsigmoid": "MobileNetV3's piecewise-linear sigmoid",
    "softmax": "softmax over the channels",
    "identity": "passes its input through",
}.items():
    layer(_name, doc=_doc)(same_shape)

layer("leaky_relu", Param("slope", number(0.0), 0.01, "slope for negative inputs"),
      doc="x, or slope * x below zero")(same_shape)
layer("gelu", Param("approximate", choice("none", "tanh"), "none", "tanh approximation"),
      doc="Gaussian error linear unit")(same_shape)
layer("dropout", Param("p", number(0.0, 1.0), 0.5, "probability of zeroing an element"),
      doc="zeroes random elements while training")(same_shape)
layer("droppath", Param("p", number(0.0, 1.0), 0.0, "probability of dropping a sample's path"),
      doc="stochastic depth: drops a residual branch per sample while training")(same_shape)


@layer("layerscale", Param("init", number(0.0), 1e-6, "initial scale"))
def layerscale(args: Args, t: TensorType) -> Inferred:
    """A learned per-channel scale (ConvNeXt, CaiT)."""
    return Inferred(t, t.channels)
