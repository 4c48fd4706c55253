"""How each layer kind becomes a PyTorch module, as plain data (no torch import here).

A ``Constructor`` names a class (``nn.Conv2d``, or one of archdsl's runtime modules)
and its arguments. The in-memory builder instantiates it and the Python back end
writes it out, so the two back ends cannot disagree on what a layer is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod
from typing import Any

from archdsl.layers.registry import Args
from archdsl.tensor import TensorType
from archdsl.values import Value

RUNTIME_CLASSES = ("ChannelLayerNorm", "LayerScale", "DropPath", "SpatialMean", "ChannelMean", "ChannelMax")


@dataclass(frozen=True, slots=True)
class Constructor:
    """``cls(*args, **kwargs)``; ``cls`` is ``nn.<Name>`` or a runtime class name."""

    cls: str
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()


ModuleRule = Callable[[Args, TensorType, TensorType, bool], Constructor]


def _make(cls: str, *args: Value, **kwargs: Any) -> Constructor:
    return Constructor(cls, tuple(compact(a) for a in args), tuple((k, compact(v)) for k, v in kwargs.items()))


def compact(value: Any) -> Value:
    """(3, 3) -> 3: one number where every axis agrees, as hand-written code does."""
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return value[0]
    return value


def _nd(base: str, t: TensorType) -> str:
    return f"nn.{base}{max(1, t.rank)}d"


def _conv(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    return _make(_nd("Conv", t), t.channels, a["out"], a["k"], stride=a["s"], padding=_padding(a), dilation=a["d"],
                 groups=a["groups"], bias=a["bias"])


def _padding(a: Args) -> Value:
    if a["p"] != "same":
        return a["p"]
    return tuple((d * (k - 1)) // 2 for k, d in zip(a["k"], a["d"], strict=True))


def _dwconv(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    return _make(_nd("Conv", t), t.channels, o.channels, a["k"], stride=a["s"], padding=_padding(a),
                 dilation=a["d"], groups=t.channels, bias=a["bias"])


def _pwconv(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    return _make(_nd("Conv", t), t.channels, a["out"], 1, groups=a["groups"], bias=a["bias"])


def _conv_transpose(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    return _make(_nd("ConvTranspose", t), t.channels, a["out"], a["k"], stride=a["s"], padding=a["p"],
                 output_padding=a["op"], groups=a["groups"], bias=a["bias"], dilation=a["d"])


def _maxpool(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    return _make(_nd("MaxPool", t), a["k"], stride=a["s"] or a["k"], padding=_padding(a), dilation=a["d"],
                 ceil_mode=a["ceil"])


def _avgpool(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    padding = _padding({**a, "d": (1,) * t.rank})
    return _make(_nd("AvgPool", t), a["k"], stride=a["s"] or a["k"], padding=padding, ceil_mode=a["ceil"],
                 count_include_pad=a["count_include_pad"])


def _norm(base: str) -> ModuleRule:
    def rule(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
        return _make(_nd(base, t), t.channels, eps=a["eps"], momentum=a["momentum"], affine=a["affine"],
                     track_running_stats=a["track"])
    return rule


def _ln(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    if t.rank == 0:
        return _make("nn.LayerNorm", t.channels, eps=a["eps"], elementwise_affine=a["affine"])
    return _make("ChannelLayerNorm", t.channels, eps=a["eps"], affine=a["affine"])


def _gn(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    return _make("nn.GroupNorm", a["groups"], t.channels, eps=a["eps"], affine=a["affine"])


def _upsample(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[t.rank] if a["mode"] == "linear" else "nearest"
    scale = tuple(float(s) for s in a["scale"])
    extra = {"align_corners": False} if mode != "nearest" else {}
    return _make("nn.Upsample", scale_factor=scale, mode=mode, **extra)


def _fixed(cls: str, *args: Value, **kwargs: Any) -> ModuleRule:
    return lambda a, t, o, inplace: _make(cls, *args, **kwargs)


def _activation(cls: str) -> ModuleRule:
    return lambda a, t, o, inplace: _make(cls, inplace=True) if inplace else _make(cls)


MODULES: dict[str, ModuleRule] = {
    "conv": _conv,
    "dwconv": _dwconv,
    "pwconv": _pwconv,
    "conv_transpose": _conv_transpose,
    "maxpool": _maxpool,
    "avgpool": _avgpool,
    "adaptive_avgpool": lambda a, t, o, inplace: _make(_nd("AdaptiveAvgPool", t), a["size"]),
    "adaptive_maxpool": lambda a, t, o, inplace: _make(_nd("AdaptiveMaxPool", t), a["size"]),
    "gap": lambda a, t, o, inplace: _make(_nd("AdaptiveAvgPool", t), 1),
    "gmp": lambda a, t, o, inplace: _make(_nd("AdaptiveMaxPool", t), 1),
    "bn": _norm("BatchNorm"),
    "instancenorm": _norm("InstanceNorm"),
    "ln": _ln,
    "gn": _gn,
    "relu": _activation("nn.ReLU"),
    "relu6": _activation("nn.ReLU6"),
    "hardswish": _activation("nn.Hardswish"),
    "hardsigmoid": _activation("nn.Hardsigmoid"),
    "silu": _activation("nn.SiLU"),
    "leaky_relu": lambda a, t, o, inplace: _make("nn.LeakyReLU", a["slope"], **({"inplace": True} if inplace else {})),
    "gelu": lambda a, t, o, inplace: _make("nn.GELU", approximate=a["approximate"]),
    "sigmoid": _fixed("nn.Sigmoid"),
    "tanh": _fixed("nn.Tanh"),
    "softmax": _fixed("nn.Softmax", dim=1),
    "identity": _fixed("nn.Identity"),
    "dropout": lambda a, t, o, inplace: _make("nn.Dropout", a["p"]),
    "droppath": lambda a, t, o, inplace: _make("DropPath", a["p"]),
    "layerscale": lambda a, t, o, inplace: _make("LayerScale", t.channels, a["init"], rank=t.rank),
    "flatten": _fixed("nn.Flatten", 1),
    "linear": lambda a, t, o, inplace: _make("nn.Linear", t.channels, a["out"], bias=a["bias"]),
    "upsample": _upsample,
    "channel_shuffle": lambda a, t, o, inplace: _make("nn.ChannelShuffle", a["groups"]),
    "spatial_mean": _fixed("SpatialMean"),
    "channel_mean": _fixed("ChannelMean"),
    "channel_max": _fixed("ChannelMax"),
}

# Which spec parameter each constructor argument comes from, so generated code can reuse the
# spec's own expression for it: keyword arguments by name, positional ones per kind.
_KEYWORD_SOURCES = {
    "stride": "s", "padding": "p", "dilation": "d", "groups": "groups", "bias": "bias", "output_padding": "op",
    "eps": "eps", "momentum": "momentum", "affine": "affine", "elementwise_affine": "affine",
    "track_running_stats": "track", "ceil_mode": "ceil", "count_include_pad": "count_include_pad",
    "approximate": "approximate",
}
_POSITIONAL_SOURCES: dict[str, tuple[str | None, ...]] = {
    "conv": (None, "out", "k"), "conv_transpose": (None, "out", "k"), "dwconv": (None, None, "k"),
    "pwconv": (None, "out"), "maxpool": ("k",), "avgpool": ("k",), "adaptive_avgpool": ("size",),
    "adaptive_maxpool": ("size",), "gn": ("groups",), "linear": (None, "out"), "leaky_relu": ("slope",),
    "dropout": ("p",), "droppath": ("p",), "layerscale": (None, "init"), "channel_shuffle": ("groups",),
}


def argument_source(kind: str, key: int | str) -> str | None:
    """The spec parameter of layer ``kind`` that constructor argument ``key`` (a position or a name) comes from."""
    if isinstance(key, str):
        return _KEYWORD_SOURCES.get(key) if kind != "dwconv" or key != "groups" else None
    positional = _POSITIONAL_SOURCES.get(kind, ())
    return positional[key] if key < len(positional) else None


# Activations that may overwrite their input when nothing else reads it.
INPLACE_CAPABLE = frozenset({"relu", "relu6", "hardswish", "hardsigmoid", "silu", "leaky_relu"})


# FLOPs as fvcore 0.1.5 counts the module above in eval mode: one multiply-add is one flop,
# bias and element-wise work are free, and only the operators below are counted at all.
# A rule returns (fvcore's operator name, flops), or None where fvcore counts nothing.
FlopRule = Callable[[Args, TensorType, TensorType], "tuple[str, int] | None"]


def _conv_flops(a: Args, t: TensorType, o: TensorType) -> tuple[str, int]:
    groups = a["groups"]
    return "conv", o.channels * (t.channels // groups) * prod(a.get("k", (1,) * t.rank)) * prod(o.spatial)


def _norm_flops(name: str, per_element: int) -> FlopRule:
    return lambda a, t, o: (name, t.numel * (per_element + (1 if a["affine"] else 0)))


def _only_2d(name: str, count: Callable[[TensorType, TensorType], int]) -> FlopRule:
    return lambda a, t, o: (name, count(t, o)) if t.rank == 2 else None


FLOPS: dict[str, FlopRule] = {
    "conv": _conv_flops,
    "pwconv": _conv_flops,
    "dwconv": lambda a, t, o: ("conv", o.channels * prod(a["k"]) * prod(o.spatial)),
    "conv_transpose": lambda a, t, o: ("conv", t.channels * (o.channels // a["groups"]) * prod(a["k"])
                                       * prod(t.spatial)),
    "linear": lambda a, t, o: ("linear", t.channels * o.channels),
    # Without running statistics batch norm normalises by the batch's, as in training.
    "bn": lambda a, t, o: _norm_flops("batch_norm", 1 if a["track"] else 4)(a, t, o),
    "ln": _norm_flops("layer_norm", 4),
    "gn": _norm_flops("group_norm", 4),
    "instancenorm": _norm_flops("instance_norm", 4),
    "gap": _only_2d("adaptive_avg_pool2d", lambda t, o: t.numel),
    "adaptive_avgpool": _only_2d("adaptive_avg_pool2d", lambda t, o: t.numel),
    "upsample": lambda a, t, o: None if t.rank != 2 else (
        ("upsample_nearest2d", o.numel) if a["mode"] == "nearest" else ("upsample_bilinear2d", 4 * o.numel)),
}


def fvcore_flops(kind: str, a: Args, t: TensorType, o: TensorType) -> tuple[str, int] | None:
    rule = FLOPS.get(kind)
    return None if rule is None else rule(a, t, o)


# The element-wise work fvcore leaves out, for the "all operations" count: per output
# element one operation for activations and scaling, k operations for a pooling window.
def elementwise_ops(kind: str, a: Args, t: TensorType, o: TensorType) -> int:
    if kind in ("maxpool", "avgpool"):
        return o.numel * prod(a["k"])
    if kind in ("gmp", "adaptive_maxpool", "channel_mean", "channel_max", "spatial_mean"):
        return t.numel
    if kind in ("gap", "adaptive_avgpool") and t.rank != 2:
        return t.numel
    if kind in INPLACE_CAPABLE or kind in ("gelu", "sigmoid", "tanh", "softmax", "layerscale"):
        return o.numel
    return 0
