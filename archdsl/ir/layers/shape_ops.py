"""Layers that change the layout: flatten, linear, up-sampling, channel shuffling and reduction, pixel shuffles."""

from __future__ import annotations

from fractions import Fraction
from functools import partial
from math import floor
from typing import Any

from archdsl import errorcodes as codes
from archdsl.ir.expr import equals, is_symbolic, op, where
from archdsl.ir.field import Field
from archdsl.ir.layers.record import (
    Args,
    Checks,
    Constructor,
    LayerKind,
    Message,
    Shaped,
    ShapeError,
    keeps_field,
    make,
    no_flops,
    no_ops,
    per_input,
    register,
    size,
)
from archdsl.ir.layers.signature import Param, boolean, choice, integer, per_axis
from archdsl.ir.tensor import TensorType

SPATIAL = (1, 2, 3)

register(LayerKind(
    "flatten", "All axes into one flat vector", (), (0, 1, 2, 3),
    shape=lambda a, t, checks: Shaped(TensorType((t.numel,))), module=lambda a, t, o, inplace: make("nn.Flatten", 1),
    flops=no_flops, extra_ops=no_ops, receptive=keeps_field, family="reshape", describe=lambda a, o: ""))


def _linear(args: Args, t: TensorType, checks: Checks) -> Shaped:
    out = args["out"]
    return Shaped(TensorType((out,)), t.channels * out + where(args["bias"], out, 0))


register(LayerKind(
    "linear", "Fully connected layer on a flat tensor",
    (Param("out", integer(1), doc="output features"), Param("bias", boolean, True, "add a bias")), (0,),
    shape=_linear, module=lambda a, t, o, inplace: make("nn.Linear", t.channels, a["out"], bias=a["bias"]),
    flops=lambda a, t, o: ("linear", t.channels * o.channels), extra_ops=no_ops, receptive=keeps_field,
    family="fully connected", describe=lambda a, o: str(o.channels), fresh=True))


def _scaled(n: Any, factor: Any) -> Any:
    return op("int", n * factor) if is_symbolic((n, factor)) else floor(n * factor)  # sizes are positive


def _scale(args: Args, t: TensorType) -> tuple[Any, ...]:
    return args["scale"] if args["scale"] is not None else (2,) * t.rank


def _upsample(args: Args, t: TensorType, checks: Checks) -> Shaped:
    if args["size"] is not None and args["scale"] is not None:
        raise ShapeError(codes.ARGUMENT_TYPE, "upsample takes `scale` or `size`, not both",
                         "give either the factor per spatial axis (scale=) or the output size per axis (size=)")
    linear = equals(args["mode"], "linear")
    checks.require(op("or", op("not", args["align_corners"]), linear), codes.ARGUMENT_TYPE,
                   Message(('upsample align_corners=true needs mode="linear"',)))
    if args["size"] is not None:
        return Shaped(t.with_shape(t.channels, args["size"]))
    return Shaped(t.with_shape(t.channels, tuple(_scaled(n, f) for n, f in zip(t.spatial, _scale(args, t),
                                                                               strict=True))))


_INTERPOLATION = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _upsample_module(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    linear = equals(a["mode"], "linear")
    mode = where(linear, _INTERPOLATION[t.rank], "nearest")
    to = ({"size": a["size"]} if a["size"] is not None else
          {"scale_factor": tuple(op("float", s) if is_symbolic(s) else float(s) for s in _scale(a, t))})
    if is_symbolic(mode):
        return make("nn.Upsample", **to, mode=mode, align_corners=where(linear, a["align_corners"], None))
    return make("nn.Upsample", **to, mode=mode, **({"align_corners": a["align_corners"]} if mode != "nearest" else {}))


def _upsample_flops(a: Args, t: TensorType, o: TensorType) -> tuple[str, int] | None:
    """fvcore counts 2-D up-sampling only: nearest one flop per output element, bilinear four."""
    if t.rank != 2:
        return None
    return ("upsample_nearest2d", o.numel) if a["mode"] == "nearest" else ("upsample_bilinear2d", 4 * o.numel)


def _upsample_field(a: Args, t: TensorType, o: TensorType, field: Field) -> Field:
    if a["size"] is not None:
        return field.rescaled(tuple(Fraction(out, n) for out, n in zip(o.spatial, t.spatial, strict=True)))
    return field.rescaled(tuple(Fraction(s).limit_denominator() for s in _scale(a, t)))


def _describe_upsample(a: Args, o: TensorType) -> str:
    if a["size"] is not None:
        return f"to {size(a['size'])} {a['mode']}"
    return f"x{size(tuple(s if s != int(s) else int(s) for s in _scale(a, o)))} {a['mode']}"


register(LayerKind(
    "upsample", "Up-sampling by interpolation",
    (Param("scale", per_axis(1, allow_float=True), None, "factor per spatial axis (2 unless `size` is given)",
           shown="2"),
     Param("size", per_axis(1), None, "the output size per spatial axis, in place of `scale`", shown="…"),
     Param("mode", choice("nearest", "linear"), "nearest", "interpolation (linear: bi-/trilinear by rank)"),
     Param("align_corners", boolean, False, "linear only: the corner pixels of input and output align")), SPATIAL,
    shape=_upsample, module=_upsample_module, flops=_upsample_flops, extra_ops=no_ops, receptive=_upsample_field,
    family="pooling", describe=_describe_upsample, fresh=True))


def _divisible(kind: str, channels: Any, by: Any, what: str, output: TensorType, checks: Checks) -> None:
    checks.require(equals(channels % by, 0), codes.GROUPS,
                   Message((f"{kind} {what}=", by, " does not divide its ", channels, " channels")),
                   partial(_remainder, channels, by), output)


def _remainder(n: int, by: int) -> str:
    return f"{n} % {by} = {n % by}"


def _channel_shuffle(args: Args, t: TensorType, checks: Checks) -> Shaped:
    _divisible("channel_shuffle", t.channels, args["groups"], "groups", t, checks)
    return Shaped(t)


register(LayerKind(
    "channel_shuffle", "Interleaves channel groups (ShuffleNet)",
    (Param("groups", integer(1), doc="channel groups to interleave"),), SPATIAL, shape=_channel_shuffle,
    module=lambda a, t, o, inplace: make("nn.ChannelShuffle", a["groups"]), flops=no_flops, extra_ops=no_ops,
    receptive=keeps_field, family="reshape", describe=lambda a, o: f"{a['groups']} groups"))


def _reduce_channels(args: Args, t: TensorType, checks: Checks) -> Shaped:
    return Shaped(t.with_shape(1))


for _name, _cls, _doc in (("channel_mean", "ChannelMean", "mean over the channels, keeping one channel"),
                          ("channel_max", "ChannelMax", "maximum over the channels, keeping one channel")):
    register(LayerKind(
        _name, _doc, (), SPATIAL, shape=_reduce_channels,
        module=lambda a, t, o, inplace, cls=_cls: make(cls),  # type: ignore[misc]
        flops=no_flops, extra_ops=per_input, receptive=keeps_field, family="pooling", describe=lambda a, o: ""))


FACTOR = Param("r", integer(1), doc="up-scaling factor per spatial axis")


def _pixel_shuffle(args: Args, t: TensorType, checks: Checks) -> Shaped:
    r = args["r"]
    output = t.with_shape(t.channels // (r * r), tuple(n * r for n in t.spatial))
    _divisible("pixel_shuffle", t.channels, r * r, "r*r", output, checks)
    return Shaped(output)


def _pixel_unshuffle(args: Args, t: TensorType, checks: Checks) -> Shaped:
    r = args["r"]
    output = t.with_shape(t.channels * r * r, tuple(n // r for n in t.spatial))
    for axis, n in zip(t.axis_names, t.spatial, strict=True):
        checks.require(equals(n % r, 0), codes.GROUPS,
                       Message(("pixel_unshuffle r=", r, f" does not divide its input {axis} ", n)),
                       partial(_remainder, n, r), output)
    return Shaped(output)


register(LayerKind(
    "pixel_shuffle", "Sub-pixel up-sampling: r*r channels become an r x r block of positions (ESPCN)", (FACTOR,), (2,),
    shape=_pixel_shuffle, module=lambda a, t, o, inplace: make("nn.PixelShuffle", a["r"]), flops=no_flops,
    extra_ops=no_ops, receptive=lambda a, t, o, f: f.rescaled((a["r"],) * t.rank), family="reshape",
    describe=lambda a, o: f"x{a['r']}"))

register(LayerKind(
    "pixel_unshuffle", "The inverse of pixel_shuffle: each r x r block of positions into r*r channels",
    (Param("r", integer(1), doc="down-scaling factor per spatial axis"),), (2,),
    shape=_pixel_unshuffle, module=lambda a, t, o, inplace: make("nn.PixelUnshuffle", a["r"]), flops=no_flops,
    extra_ops=no_ops, receptive=lambda a, t, o, f: f.window((a["r"],) * t.rank, (a["r"],) * t.rank),
    family="reshape", describe=lambda a, o: f"/{a['r']}"))

