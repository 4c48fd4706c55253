"""Normalisation layers; each carries its eps (and momentum) because outputs depend on them."""

from __future__ import annotations

from math import prod

from archdsl import errorcodes as codes
from archdsl.layers.registry import Args, Inferred, ShapeError, layer
from archdsl.layers.signature import Param, boolean, integer, number
from archdsl.tensor import TensorType

EPS = Param("eps", number(0.0), 1e-5, "added to the variance")
MOMENTUM = Param("momentum", number(0.0, 1.0001), 0.1, "running-statistics update rate")
AFFINE = Param("affine", boolean, True, "learn a scale and shift per channel")


def _affine(args: Args, t: TensorType) -> int:
    return 2 * t.channels if args["affine"] else 0


@layer("bn", EPS, MOMENTUM, AFFINE, Param("track", boolean, True, "keep running statistics"), is_norm=True)
def bn(args: Args, t: TensorType) -> Inferred:
    """Batch norm over the channel axis; running mean, variance and a batch counter are buffers."""
    buffers = 2 * t.channels + 1 if args["track"] else 0
    return Inferred(t, _affine(args, t), buffers)


@layer("ln", EPS, AFFINE, is_norm=True)
def ln(args: Args, t: TensorType) -> Inferred:
    """Layer norm over the channels at each position (ConvNeXt's LayerNorm2d)."""
    return Inferred(t, _affine(args, t))


@layer("gn", Param("groups", integer(1), doc="channel groups"), EPS, AFFINE, is_norm=True)
def gn(args: Args, t: TensorType) -> Inferred:
    """Group norm: statistics over groups of channels and all positions."""
    groups = args["groups"]
    if t.channels % groups:
        raise ShapeError(codes.GROUPS, f"gn groups={groups} does not divide its {t.channels} channels",
                         f"{t.channels} % {groups} = {t.channels % groups}")
    return Inferred(t, _affine(args, t))


@layer("instancenorm", EPS, MOMENTUM, Param("affine", boolean, False, "learn a scale and shift per channel"),
       Param("track", boolean, False, "keep running statistics"), ranks=(1, 2, 3), is_norm=True)
def instancenorm(args: Args, t: TensorType) -> Inferred:
    """Instance norm: statistics per sample and channel over all positions."""
    if prod(t.spatial) == 1:
        raise ShapeError(codes.TOO_SMALL, f"instancenorm needs more than one position, got {t}",
                         "each sample and channel is normalised over its positions; use it before the pooling")
    buffers = 2 * t.channels + 1 if args["track"] else 0
    return Inferred(t, _affine(args, t), buffers)
