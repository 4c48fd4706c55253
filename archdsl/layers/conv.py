"""Convolutions: plain, grouped, dilated, depth-wise, point-wise and transposed."""

from __future__ import annotations

from math import gcd, prod

from archdsl import errorcodes as codes
from archdsl.layers.formulas import Window, effective_kernel, resolve_same, sliding_output, transposed_size
from archdsl.layers.registry import Args, Inferred, ShapeError, Warning_, layer
from archdsl.layers.signature import Param, boolean, integer, padding, per_axis
from archdsl.tensor import TensorType

SPATIAL = (1, 2, 3)
KERNEL = Param("k", per_axis(1), doc="kernel size")
STRIDE = Param("s", per_axis(1), 1, "stride")
PADDING = Param("p", padding, 0, "zero padding on each side, or `same`")
DILATION = Param("d", per_axis(1), 1, "dilation")
GROUPS = Param("groups", integer(1), 1, "channel groups")
BIAS = Param("bias", boolean, True, "add a learned bias")


def _window(kind: str, args: Args) -> Window:
    k, d = args["k"], args["d"]
    p = resolve_same(kind, k, d) if args["p"] == "same" else args["p"]
    return Window(k, args["s"], p, d)


def _check_groups(kind: str, groups: int, in_channels: int, out_channels: int, output: TensorType) -> None:
    for side, channels in (("input", in_channels), ("output", out_channels)):
        if channels % groups:
            raise ShapeError(codes.GROUPS, f"{kind} groups={groups} does not divide its {channels} {side} channels",
                             f"{channels} % {groups} = {channels % groups}; groups must divide "
                             f"gcd({in_channels}, {out_channels}) = {gcd(in_channels, out_channels)}", output)


def _wide_padding(kind: str, window: Window) -> tuple[Warning_, ...]:
    for k, p, d in zip(window.k, window.p, window.d, strict=True):
        e = effective_kernel(k, d)
        if p > e // 2:
            return (Warning_(codes.WIDE_PADDING,
                             f"{kind} padding {p} is more than half its kernel span {e}: border outputs see "
                             f"{'only' if p >= e else 'mostly'} zeros",
                             f"p <= (d(k-1)+1) // 2 = ({d}*({k}-1)+1) // 2 = {e // 2} keeps at least half of "
                             "every window on the input"),)
    return ()


def _convolve(kind: str, args: Args, t: TensorType, out_channels: int, groups: int) -> Inferred:
    window = _window(kind, args)
    spatial, warnings = sliding_output(kind, t, window)
    _check_groups(kind, groups, t.channels, out_channels, t.with_shape(out_channels, spatial))
    weights = out_channels * (t.channels // groups) * prod(window.k)
    bias = out_channels if args["bias"] else 0
    return Inferred(t.with_shape(out_channels, spatial), weights + bias, 0, warnings + _wide_padding(kind, window))


@layer("conv", Param("out", integer(1), doc="output channels"), KERNEL, STRIDE, PADDING, DILATION, GROUPS, BIAS,
       ranks=SPATIAL)
def conv(args: Args, t: TensorType) -> Inferred:
    """Convolution; 1-D, 2-D or 3-D by the input's rank."""
    return _convolve("conv", args, t, args["out"], args["groups"])


@layer("dwconv", KERNEL, STRIDE, PADDING, DILATION, Param("mult", integer(1), 1, "channel multiplier"),
       BIAS, ranks=SPATIAL)
def dwconv(args: Args, t: TensorType) -> Inferred:
    """Depth-wise convolution: one filter (or ``mult`` filters) per input channel."""
    return _convolve("dwconv", args, t, t.channels * args["mult"], t.channels)


@layer("pwconv", Param("out", integer(1), doc="output channels"), GROUPS, BIAS, ranks=SPATIAL)
def pwconv(args: Args, t: TensorType) -> Inferred:
    """Point-wise (1x1) convolution."""
    ones = (1,) * t.rank
    full = {"k": ones, "s": ones, "p": (0,) * t.rank, "d": ones, **args}
    return _convolve("pwconv", full, t, args["out"], args["groups"])


@layer("conv_transpose", Param("out", integer(1), doc="output channels"), KERNEL, STRIDE,
       Param("p", per_axis(0), 0, "padding removed from each side"),
       Param("op", per_axis(0), 0, "extra size added to one side (output_padding)"), DILATION, GROUPS, BIAS,
       ranks=SPATIAL)
def conv_transpose(args: Args, t: TensorType) -> Inferred:
    """Transposed convolution (learned up-sampling)."""
    out_channels, groups = args["out"], args["groups"]
    sizes = []
    for axis, length, k, s, p, d, op in zip(t.axis_names, t.spatial, args["k"], args["s"], args["p"],
                                            args["d"], args["op"], strict=True):
        if op >= max(s, d):
            raise ShapeError(codes.PADDING, f"conv_transpose output padding {op} must be smaller than the stride "
                             f"or the dilation (here {s} and {d})")
        size = transposed_size(length, k, s, p, d, op)
        if size < 1:
            raise ShapeError(codes.OUTPUT_TOO_SMALL, f"conv_transpose output {axis} is {size}",
                             f"(L - 1)s - 2p + d(k-1) + op + 1 = ({length} - 1)*{s} - 2*{p} + {d}*({k}-1) + {op} + 1"
                             f" = {size}")
        sizes.append(size)
    _check_groups("conv_transpose", groups, t.channels, out_channels, t.with_shape(out_channels, tuple(sizes)))
    weights = t.channels * (out_channels // groups) * prod(args["k"])
    bias = out_channels if args["bias"] else 0
    return Inferred(t.with_shape(out_channels, tuple(sizes)), weights + bias)
