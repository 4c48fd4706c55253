"""Layers that change the layout: flatten, linear, up-sampling, channel shuffling and reduction."""

from __future__ import annotations

from math import floor

from archdsl import errorcodes as codes
from archdsl.layers.registry import Args, Inferred, ShapeError, layer
from archdsl.layers.signature import Param, boolean, choice, integer, per_axis
from archdsl.tensor import TensorType


@layer("flatten")
def flatten(args: Args, t: TensorType) -> Inferred:
    """All axes into one flat vector."""
    return Inferred(TensorType((t.numel,)))


@layer("linear", Param("out", integer(1), doc="output features"), Param("bias", boolean, True, "add a bias"),
       ranks=(0,))
def linear(args: Args, t: TensorType) -> Inferred:
    """Fully connected layer on a flat tensor."""
    out = args["out"]
    return Inferred(TensorType((out,)), t.channels * out + (out if args["bias"] else 0))


@layer("upsample", Param("scale", per_axis(1, allow_float=True), 2, "factor per spatial axis"),
       Param("mode", choice("nearest", "linear"), "nearest", "interpolation (linear: bi-/trilinear by rank)"),
       ranks=(1, 2, 3))
def upsample(args: Args, t: TensorType) -> Inferred:
    """Up-sampling by interpolation."""
    return Inferred(t.with_shape(t.channels, tuple(floor(n * f) for n, f in zip(t.spatial, args["scale"],
                                                                                 strict=True))))


@layer("channel_shuffle", Param("groups", integer(1), doc="channel groups to interleave"), ranks=(1, 2, 3))
def channel_shuffle(args: Args, t: TensorType) -> Inferred:
    """Interleaves channel groups (ShuffleNet)."""
    if t.channels % args["groups"]:
        raise ShapeError(codes.GROUPS, f"channel_shuffle groups={args['groups']} does not divide its "
                         f"{t.channels} channels", f"{t.channels} % {args['groups']} = {t.channels % args['groups']}")
    return Inferred(t)


def _reduce_channels(args: Args, t: TensorType) -> Inferred:
    return Inferred(t.with_shape(1))


layer("channel_mean", ranks=(1, 2, 3), doc="mean over the channels, keeping one channel")(_reduce_channels)
layer("channel_max", ranks=(1, 2, 3), doc="maximum over the channels, keeping one channel")(_reduce_channels)
