"""Borders: zero padding and cropping, each side of each spatial axis its own amount.

Sides are written ``((before, after), ...)`` in axis order (depth, height, width); see
``signature.sides`` for the shorter forms. A causal convolution is ``pad`` before the
past of a sequence; U-Net cuts its skips to the decoder's size with ``center_crop``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from archdsl import errorcodes as codes
from archdsl.ir.layers.record import (
    Args,
    Checks,
    Constructor,
    LayerKind,
    Message,
    Shaped,
    keeps_field,
    make,
    nd,
    no_flops,
    no_ops,
    register,
    size,
)
from archdsl.ir.layers.signature import Param, per_axis, sides
from archdsl.ir.tensor import TensorType

SPATIAL = (1, 2, 3)


def torch_order(amounts: tuple[tuple[Any, Any], ...]) -> tuple[Any, ...]:
    """``F.pad``'s order: the last axis first, before then after."""
    return tuple(v for pair in reversed(amounts) for v in pair)


def _describe_sides(args: Args, o: TensorType) -> str:
    return ", ".join(f"{before}+{after}" for before, after in args["p"])


def _pad(args: Args, t: TensorType, checks: Checks) -> Shaped:
    spatial = tuple(n + before + after for n, (before, after) in zip(t.spatial, args["p"], strict=True))
    return Shaped(t.with_shape(t.channels, spatial))


register(LayerKind(
    "pad", "Zero padding, each side its own amount (a causal convolution pads the past only)",
    (Param("p", sides, doc="positions added before and after each spatial axis"),), SPATIAL, shape=_pad,
    module=lambda a, t, o, inplace: make(nd("ZeroPad", t), torch_order(a["p"])), flops=no_flops, extra_ops=no_ops,
    receptive=keeps_field, family="reshape", describe=_describe_sides, fresh=True))


def _crop(args: Args, t: TensorType, checks: Checks) -> Shaped:
    spatial = []
    for axis, n, (before, after) in zip(t.axis_names, t.spatial, args["p"], strict=True):
        left = n - before - after
        checks.require(left >= 1, codes.OUTPUT_TOO_SMALL,
                       Message((f"crop leaves {axis} ", left, ": the input is ", n, " and ", before + after,
                                " positions are cut")))
        spatial.append(left)
    return Shaped(t.with_shape(t.channels, tuple(spatial)))


register(LayerKind(
    "crop", "Cuts positions off each side of each spatial axis",
    (Param("p", sides, doc="positions cut before and after each spatial axis"),), SPATIAL, shape=_crop,
    module=lambda a, t, o, inplace: Constructor("Crop", (a["p"],)), flops=no_flops, extra_ops=no_ops,
    receptive=keeps_field, family="reshape", describe=_describe_sides))


def _center_crop(args: Args, t: TensorType, checks: Checks) -> Shaped:
    for axis, n, wanted in zip(t.axis_names, t.spatial, args["size"], strict=True):
        checks.require(n >= wanted, codes.TOO_SMALL,
                       Message((f"center_crop to {axis} ", wanted, " needs at least that much input, got ", n)),
                       partial(_crop_help, axis))
    return Shaped(t.with_shape(t.channels, args["size"]))


def _crop_help(axis: str) -> str:
    return f"crop to a {axis} no larger than the input's, or pad the input first"


register(LayerKind(
    "center_crop", "Cuts each spatial axis to a size about its centre (U-Net's skip connections)",
    (Param("size", per_axis(1), doc="the size kept per spatial axis"),), SPATIAL, shape=_center_crop,
    module=lambda a, t, o, inplace: make("CenterCrop", a["size"]), flops=no_flops,
    extra_ops=no_ops, receptive=keeps_field, family="reshape", describe=lambda a, o: size(a["size"])))
