"""Convolutions: plain, grouped, dilated, depth-wise, point-wise and transposed."""

from __future__ import annotations

from functools import partial
from math import gcd, prod
from typing import Any

from msgspec.structs import replace

from archdsl import errorcodes as codes
from archdsl.ir.expr import equals, is_symbolic, op, where
from archdsl.ir.field import Field, ratio
from archdsl.ir.layers.borders import torch_order
from archdsl.ir.layers.formulas import Window, effective_kernel, resolve_same, sliding_output, transposed_size
from archdsl.ir.layers.record import (
    Args,
    Checks,
    Constructor,
    LayerKind,
    Message,
    Shaped,
    ShapeError,
    Warning_,
    make,
    nd,
    no_ops,
    register,
    size,
)
from archdsl.ir.layers.signature import Param, boolean, integer, padding, padding_or_sides, per_axis
from archdsl.ir.tensor import TensorType

SPATIAL = (1, 2, 3)
KERNEL = Param("k", per_axis(1), doc="kernel size")
STRIDE = Param("s", per_axis(1), 1, "stride")
PADDING = Param("p", padding, 0, "zero padding on each side, or `same`")
CONV_PADDING = Param("p", padding_or_sides, 0, "zero padding on each side, `same`, `causal` (1-D: the past only), or "
                     "((before, after), ...) per axis")
DILATION = Param("d", per_axis(1), 1, "dilation")
GROUPS = Param("groups", integer(1), 1, "channel groups")
BIAS = Param("bias", boolean, True, "add a learned bias")
OUT = Param("out", integer(1), doc="output channels")


def window_of(kind: str, args: Args, checks: Checks) -> Window:
    k, d = args["k"], args.get("d") or (1,) * len(args["k"])
    p = resolve_same(kind, k, d, checks) if args["p"] == "same" else args["p"]
    s = args["s"] if args.get("s") is not None else k
    return Window(k, s, p, d)


def check_groups(kind: str, groups: Any, in_channels: Any, out_channels: Any, output: TensorType,
                 checks: Checks) -> None:
    for side, channels in (("input", in_channels), ("output", out_channels)):
        checks.require(
            equals(channels % groups, 0), codes.GROUPS,
            Message((f"{kind} groups=", groups, " does not divide its ", channels, f" {side} channels")),
            partial(_groups_help, channels, groups, in_channels, out_channels), output)


def _groups_help(channels: int, groups: int, in_channels: int, out_channels: int) -> str:
    return (f"{channels} % {groups} = {channels % groups}; groups must divide "
            f"gcd({in_channels}, {out_channels}) = {gcd(in_channels, out_channels)}")


def _wide_padding(kind: str, window: Window) -> tuple[Warning_, ...]:
    if is_symbolic((window.k, window.p, window.d)):
        return ()
    for k, p, d in zip(window.k, window.p, window.d, strict=True):
        e = effective_kernel(k, d)
        if p > e // 2:
            return (Warning_(codes.WIDE_PADDING,
                             f"{kind} padding {p} is more than half its kernel span {e}: border outputs see "
                             f"{'only' if p >= e else 'mostly'} zeros",
                             f"p <= (d(k-1)+1) // 2 = ({d}*({k}-1)+1) // 2 = {e // 2} keeps at least half of "
                             "every window on the input"),)
    return ()


def one_sided(kind: str, args: Args) -> tuple[tuple[Any, Any], ...] | None:
    """The sides a convolution pads apart, ``causal`` worked out; None where each axis pads both sides alike."""
    p = args["p"]
    if p == "causal":
        k, d = args["k"], args.get("d") or (1,) * len(args["k"])
        if len(k) != 1:
            raise ShapeError(codes.PADDING, f"{kind} p=causal pads the past of a sequence: it needs 1 spatial axis, "
                             f"got {len(k)}", "give the sides of each axis: p=((before, after), ...)")
        return ((d[0] * (k[0] - 1), 0),)
    return p if isinstance(p, tuple) and p and isinstance(p[0], tuple) else None


def _convolve(kind: str, args: Args, t: TensorType, checks: Checks, out_channels: Any, groups: Any) -> Shaped:
    sides = one_sided(kind, args)
    if sides is not None:  # padded apart first, then a window without padding of its own
        args = {**args, "p": (0,) * t.rank}
    window = window_of(kind, args, checks)
    spatial, warnings = sliding_output(kind, t, window, checks, sides=sides)
    output = t.with_shape(out_channels, spatial)
    check_groups(kind, groups, t.channels, out_channels, output, checks)
    return Shaped(output, _weights(args, t, out_channels, groups), 0, warnings + _wide_padding(kind, window))


def _weights(args: Args, t: TensorType, out_channels: Any, groups: Any) -> Any:
    return out_channels * (t.channels // groups) * prod(args["k"]) + where(args["bias"], out_channels, 0)


def conv_padding(args: Args, checks: Checks | None = None) -> Any:
    """The padding a module is given: numbers, `same` worked out (PyTorch's own `same` allows no stride)."""
    return args["p"] if args["p"] != "same" else resolve_same("conv", args["k"], args["d"], checks or Checks())


def conv_flops(args: Args, t: TensorType, o: TensorType) -> tuple[str, int]:
    return "conv", o.channels * (t.channels // args.get("groups", 1)) * prod(args.get("k", (1,) * t.rank)) * prod(
        o.spatial)


def sliding_field(args: Args, t: TensorType, o: TensorType, field: Field) -> Field:
    """A window of size ``e = d(k-1)+1`` moved by ``s``: the rule of convolutions and pooling."""
    k = args["k"]
    d = args.get("d") or (1,) * len(k)
    stride = args["s"] if args.get("s") is not None else k
    return field.window(tuple(effective_kernel(ki, di) for ki, di in zip(k, d, strict=True)), stride)


def describe_window(args: Args, o: TensorType, channels: bool = True) -> str:
    """``7x7 /2 d2 g32 ceil, 64``: kernel, stride, dilation, groups, ceil mode and causal padding where used."""
    k = args["k"]
    parts = [size(k)]
    stride = args["s"] if args.get("s") is not None else k
    if any(s != 1 for s in stride):
        parts.append("/" + size(stride if len(set(stride)) > 1 else stride[:1]))
    if any(d != 1 for d in args.get("d") or ()):
        parts.append("d" + size(args["d"]))
    if args.get("groups", 1) != 1:
        parts.append(f"g{args['groups']}")
    if args.get("ceil"):
        parts.append("ceil")
    if args.get("p") == "causal":
        parts.append("causal")
    text = " ".join(parts)
    return f"{text}, {o.channels}" if channels else text


def convolution(args: Args, t: TensorType, out_channels: Any, groups: Any) -> Constructor:
    """``nn.Conv2d``, or ``PaddedConv1d`` where the sides pad apart (PyTorch's own pad both sides alike)."""
    sides = one_sided("conv", args)
    padding = {"padding": conv_padding(args)} if sides is None else {}
    made = make(nd("Conv", t) if sides is None else nd("Conv", t).replace("nn.", "Padded"), t.channels, out_channels,
                args["k"], stride=args["s"], **padding, dilation=args["d"], groups=groups, bias=args["bias"])
    if sides is None:
        return made
    return replace(made, kwargs=(*made.kwargs, ("sides", torch_order(sides))))  # F.pad wants every side


def _conv(args: Args, t: TensorType, checks: Checks) -> Shaped:
    return _convolve("conv", args, t, checks, args["out"], args["groups"])


register(LayerKind(
    "conv", "Convolution; 1-D, 2-D or 3-D by the input's rank",
    (OUT, KERNEL, STRIDE, CONV_PADDING, DILATION, GROUPS, BIAS), SPATIAL,
    shape=_conv, module=lambda a, t, o, inplace: convolution(a, t, a["out"], a["groups"]), flops=conv_flops,
    extra_ops=no_ops, receptive=sliding_field,
    family="convolution", describe=describe_window, fresh=True, has_bias=True))


def _dwconv(args: Args, t: TensorType, checks: Checks) -> Shaped:
    return _convolve("dwconv", args, t, checks, t.channels * args["mult"], t.channels)


register(LayerKind(
    "dwconv", "Depth-wise convolution: one filter (or `mult` filters) per input channel",
    (KERNEL, STRIDE, CONV_PADDING, DILATION, Param("mult", integer(1), 1, "channel multiplier"), BIAS), SPATIAL,
    shape=_dwconv, module=lambda a, t, o, inplace: convolution(a, t, o.channels, t.channels),
    flops=lambda a, t, o: ("conv", o.channels * prod(a["k"]) * prod(o.spatial)),
    extra_ops=no_ops, receptive=sliding_field, family="convolution", describe=describe_window, fresh=True,
    has_bias=True))


def _pwconv(args: Args, t: TensorType, checks: Checks) -> Shaped:
    ones = (1,) * t.rank
    full = {"k": ones, "s": ones, "p": (0,) * t.rank, "d": ones, **args}
    return _convolve("pwconv", full, t, checks, args["out"], args["groups"])


register(LayerKind(
    "pwconv", "Point-wise (1x1) convolution", (OUT, GROUPS, BIAS), SPATIAL,
    shape=_pwconv,
    module=lambda a, t, o, inplace: make(nd("Conv", t), t.channels, a["out"], 1, groups=a["groups"], bias=a["bias"]),
    flops=conv_flops, extra_ops=no_ops, receptive=lambda a, t, o, f: f, family="convolution",
    describe=lambda a, o: str(o.channels), fresh=True, has_bias=True))


def _conv_transpose(args: Args, t: TensorType, checks: Checks) -> Shaped:
    out_channels, groups = args["out"], args["groups"]
    sizes = []
    for axis, length, k, s, p, d, op_ in zip(t.axis_names, t.spatial, args["k"], args["s"], args["p"],
                                             args["d"], args["op"], strict=True):
        checks.require(op_ < op("max", s, d), codes.PADDING,
                       Message(("conv_transpose output padding ", op_, " must be smaller than the stride or the "
                                "dilation (here ", s, " and ", d, ")")))
        out = transposed_size(length, k, s, p, d, op_)
        checks.require(out >= 1, codes.OUTPUT_TOO_SMALL, Message((f"conv_transpose output {axis} is ", out)),
                       partial(_transposed_help, length, k, s, p, d, op_, out))
        sizes.append(out)
    output = t.with_shape(out_channels, tuple(sizes))
    check_groups("conv_transpose", groups, t.channels, out_channels, output, checks)
    weights = t.channels * (out_channels // groups) * prod(args["k"])
    return Shaped(output, weights + where(args["bias"], out_channels, 0))


def _transposed_help(length: int, k: int, s: int, p: int, d: int, op_: int, out: int) -> str:
    return f"(L - 1)s - 2p + d(k-1) + op + 1 = ({length} - 1)*{s} - 2*{p} + {d}*({k}-1) + {op_} + 1 = {out}"


def _transposed_field(args: Args, t: TensorType, o: TensorType, field: Field) -> Field:
    step = Field(field.r, tuple(ratio(j, s) for j, s in zip(field.j, args["s"], strict=True)))
    return step.window(tuple(effective_kernel(k, d) for k, d in zip(args["k"], args["d"], strict=True)),
                       (1,) * len(field.j))


register(LayerKind(
    "conv_transpose", "Transposed convolution (learned up-sampling)",
    (OUT, KERNEL, STRIDE, Param("p", per_axis(0), 0, "padding removed from each side"),
     Param("op", per_axis(0), 0, "extra size added to one side (output_padding)"), DILATION, GROUPS, BIAS),
    SPATIAL, shape=_conv_transpose,
    module=lambda a, t, o, inplace: make(nd("ConvTranspose", t), t.channels, a["out"], a["k"], stride=a["s"],
                                         padding=a["p"], output_padding=a["op"], groups=a["groups"],
                                         bias=a["bias"], dilation=a["d"]),
    # fvcore counts a transposed convolution over its input's positions.
    flops=lambda a, t, o: ("conv", t.channels * (o.channels // a["groups"]) * prod(a["k"]) * prod(t.spatial)),
    extra_ops=no_ops, receptive=_transposed_field, family="convolution", describe=describe_window, fresh=True,
    has_bias=True))
