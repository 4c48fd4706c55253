"""Normalisation layers; each carries its eps (and momentum) because outputs depend on them."""

from __future__ import annotations

from math import prod

from archdsl import errorcodes as codes
from archdsl.ir.expr import equals, where
from archdsl.ir.layers.record import (
    Args,
    Checks,
    Constructor,
    FlopRule,
    LayerKind,
    Message,
    Shaped,
    keeps_field,
    make,
    nd,
    no_ops,
    register,
)
from archdsl.ir.layers.signature import Param, boolean, integer, number
from archdsl.ir.tensor import TensorType

EPS = Param("eps", number(0.0), 1e-5, "added to the variance")
MOMENTUM = Param("momentum", number(0.0, 1.0001), 0.1, "running-statistics update rate")
AFFINE = Param("affine", boolean, True, "learn a scale and shift per channel")
TRACK = Param("track", boolean, True, "keep running statistics")


def _affine(args: Args, t: TensorType) -> object:
    return where(args["affine"], 2 * t.channels, 0)


def _flops(name: str, per_element: int) -> FlopRule:
    """fvcore's count: ``per_element`` operations per element, one more with a learned scale and shift."""
    return lambda a, t, o: (name, t.numel * (per_element + (1 if a["affine"] else 0)))


def _every_channel(args: Args, t: TensorType) -> bool:
    return True


def _bn(args: Args, t: TensorType, checks: Checks) -> Shaped:
    return Shaped(t, _affine(args, t), where(args["track"], 2 * t.channels + 1, 0))


def _norm_module(base: str) -> object:
    def module(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
        return make(nd(base, t), t.channels, eps=a["eps"], momentum=a["momentum"], affine=a["affine"],
                    track_running_stats=a["track"])
    return module


register(LayerKind(
    "bn", "Batch norm over the channel axis; running mean, variance and a batch counter are buffers",
    (EPS, MOMENTUM, AFFINE, TRACK), (0, 1, 2, 3), shape=_bn, module=_norm_module("BatchNorm"),  # type: ignore[arg-type]
    # Without running statistics batch norm normalises by the batch's, as in training.
    flops=lambda a, t, o: _flops("batch_norm", 1 if a["track"] else 4)(a, t, o),
    extra_ops=no_ops, receptive=keeps_field, family="normalisation", describe=lambda a, o: "", fresh=True,
    cancels_bias=_every_channel))


def _frozen_bn(args: Args, t: TensorType, checks: Checks) -> Shaped:
    return Shaped(t, 0, 4 * t.channels)


register(LayerKind(
    "frozen_bn", "Batch norm with fixed statistics and affine terms, all buffers (detection backbones)",
    (EPS,), (0, 1, 2, 3), shape=_frozen_bn,
    module=lambda a, t, o, inplace: make("FrozenBatchNorm", t.channels, eps=a["eps"]),
    flops=lambda a, t, o: None,  # a scale and a shift per element: fvcore counts neither
    extra_ops=lambda a, t, o: 2 * t.numel, receptive=keeps_field, family="normalisation",
    describe=lambda a, o: "", fresh=True))


def _ln_module(a: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    if t.rank == 0:
        return make("nn.LayerNorm", t.channels, eps=a["eps"], elementwise_affine=a["affine"])
    return make("ChannelLayerNorm", t.channels, eps=a["eps"], affine=a["affine"])


register(LayerKind(
    "ln", "Layer norm over the channels at each position (ConvNeXt's LayerNorm2d)", (EPS, AFFINE), (0, 1, 2, 3),
    shape=lambda a, t, checks: Shaped(t, _affine(a, t)), module=_ln_module, flops=_flops("layer_norm", 4),
    extra_ops=no_ops, receptive=keeps_field, family="normalisation", describe=lambda a, o: "", fresh=True))


def _gn(args: Args, t: TensorType, checks: Checks) -> Shaped:
    groups = args["groups"]
    checks.require(equals(t.channels % groups, 0), codes.GROUPS,
                   Message(("gn groups=", groups, " does not divide its ", t.channels, " channels")),
                   lambda: f"{t.channels} % {groups} = {t.channels % groups}", t)
    return Shaped(t, _affine(args, t))


register(LayerKind(
    "gn", "Group norm: statistics over groups of channels and all positions",
    (Param("groups", integer(1), doc="channel groups"), EPS, AFFINE), (0, 1, 2, 3), shape=_gn,
    module=lambda a, t, o, inplace: make("nn.GroupNorm", a["groups"], t.channels, eps=a["eps"], affine=a["affine"]),
    flops=_flops("group_norm", 4), extra_ops=no_ops, receptive=keeps_field, family="normalisation",
    describe=lambda a, o: f"{a['groups']} groups", fresh=True,
    # Only a group per channel subtracts each channel's own mean.
    cancels_bias=lambda a, t: a["groups"] == t.channels))


def _instancenorm(args: Args, t: TensorType, checks: Checks) -> Shaped:
    checks.require(prod(t.spatial) > 1, codes.TOO_SMALL,
                   Message(("instancenorm needs more than one position, got ", t)),
                   lambda: "each sample and channel is normalised over its positions; use it before the pooling")
    return Shaped(t, _affine(args, t), where(args["track"], 2 * t.channels + 1, 0))


register(LayerKind(
    "instancenorm", "Instance norm: statistics per sample and channel over all positions",
    (EPS, MOMENTUM, Param("affine", boolean, False, "learn a scale and shift per channel"),
     Param("track", boolean, False, "keep running statistics")), (1, 2, 3),
    shape=_instancenorm, module=_norm_module("InstanceNorm"),  # type: ignore[arg-type]
    flops=_flops("instance_norm", 4), extra_ops=no_ops, receptive=keeps_field, family="normalisation",
    describe=lambda a, o: "", fresh=True, cancels_bias=_every_channel))
