"""Pooling: windowed max/average (with PyTorch's ceil mode), adaptive and global."""

from __future__ import annotations

from functools import partial
from math import prod

from archdsl import errorcodes as codes
from archdsl.ir.field import Field, ratio
from archdsl.ir.layers.conv import DILATION, KERNEL, PADDING, SPATIAL, describe_window, sliding_field, window_of
from archdsl.ir.layers.formulas import sliding_output
from archdsl.ir.layers.record import (
    Args,
    Checks,
    Constructor,
    LayerKind,
    Message,
    Shaped,
    make,
    nd,
    no_flops,
    per_input,
    register,
    size,
)
from archdsl.ir.layers.signature import Param, boolean, per_axis
from archdsl.ir.tensor import TensorType

POOL_STRIDE = Param("s", per_axis(1), None, "stride (default: the kernel size)", shown="k")
CEIL = Param("ceil", boolean, False, "round the output size up (PyTorch's ceil_mode)")


def _pool(kind: str, args: Args, t: TensorType, checks: Checks) -> Shaped:
    window = window_of(kind, {**args, "d": args.get("d") or (1,) * t.rank}, checks)
    for ki, pi in zip(window.k, window.p, strict=True):  # PyTorch's rule, on the kernel size before dilation
        too_wide = Message((f"{kind} padding ", pi, " is more than half its kernel ", ki))
        checks.require(2 * pi <= ki, codes.PADDING, too_wide, partial("PyTorch allows at most {} here".format, ki // 2))
    if kind == "avgpool" and t.rank == 3:  # PyTorch's 3-D average pooling ignores the padding here
        for axis, n, ki in zip(t.axis_names, t.spatial, window.k, strict=True):
            checks.require(n >= ki, codes.OUTPUT_TOO_SMALL,
                           Message(("3-D avgpool needs an input at least as large as its kernel: the ", axis, " is ",
                                    n, ", the kernel ", ki)),
                           lambda: "PyTorch's avg_pool3d refuses it even with padding")
    spatial, warnings = sliding_output(kind, t, window, checks, ceil=args["ceil"])
    return Shaped(t.with_shape(t.channels, spatial), warnings=warnings)


def _window_ops(args: Args, t: TensorType, o: TensorType) -> int:
    """A comparison or an addition per element of every window."""
    return o.numel * prod(args["k"])


def _maxpool_module(args: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    window = window_of("maxpool", args, Checks())
    return make(nd("MaxPool", t), args["k"], stride=window.s, padding=window.p, dilation=args["d"],
                ceil_mode=args["ceil"])


def _avgpool_module(args: Args, t: TensorType, o: TensorType, inplace: bool) -> Constructor:
    window = window_of("avgpool", {**args, "d": (1,) * t.rank}, Checks())
    return make(nd("AvgPool", t), args["k"], stride=window.s, padding=window.p, ceil_mode=args["ceil"],
                count_include_pad=args["count_include_pad"])


register(LayerKind(
    "maxpool", "Max pooling over a sliding window", (KERNEL, POOL_STRIDE, PADDING, DILATION, CEIL), SPATIAL,
    shape=lambda a, t, checks: _pool("maxpool", a, t, checks), module=_maxpool_module, flops=no_flops,
    extra_ops=_window_ops, receptive=sliding_field, family="pooling",
    describe=lambda a, o: describe_window(a, o, channels=False), fresh=True))

register(LayerKind(
    "avgpool", "Average pooling over a sliding window",
    (KERNEL, POOL_STRIDE, PADDING, CEIL,
     Param("count_include_pad", boolean, True, "count padding zeros in the average")), SPATIAL,
    shape=lambda a, t, checks: _pool("avgpool", a, t, checks), module=_avgpool_module, flops=no_flops,
    extra_ops=_window_ops, receptive=sliding_field, family="pooling",
    describe=lambda a, o: describe_window(a, o, channels=False), fresh=True))


def _whole_window_field(args: Args, t: TensorType, o: TensorType, field: Field) -> Field:
    """Adaptive pooling: windows of about input / output positions, that far apart."""
    kernel = tuple(-(-n // m) for n, m in zip(t.spatial, o.spatial, strict=True))
    return field.window(kernel, tuple(ratio(n, m) for n, m in zip(t.spatial, o.spatial, strict=True)))


def _average_flops(name: str) -> object:
    """fvcore counts adaptive average pooling, 2-D only, as one flop per input element."""
    return lambda a, t, o: (name, t.numel) if t.rank == 2 else None


def _average_extra(args: Args, t: TensorType, o: TensorType) -> int:
    return 0 if t.rank == 2 else t.numel


OUTPUT_SIZE = Param("size", per_axis(1), doc="output size per spatial axis")

register(LayerKind(
    "adaptive_avgpool", "Pool to a fixed output size, whatever the input size", (OUTPUT_SIZE,), SPATIAL,
    shape=lambda a, t, checks: Shaped(t.with_shape(t.channels, a["size"])),
    module=lambda a, t, o, inplace: make(nd("AdaptiveAvgPool", t), a["size"]),
    flops=_average_flops("adaptive_avg_pool2d"), extra_ops=_average_extra,  # type: ignore[arg-type]
    receptive=_whole_window_field, family="pooling", describe=lambda a, o: size(a["size"]), fresh=True))

register(LayerKind(
    "adaptive_maxpool", "Pool to a fixed output size, whatever the input size", (OUTPUT_SIZE,), SPATIAL,
    shape=lambda a, t, checks: Shaped(t.with_shape(t.channels, a["size"])),
    module=lambda a, t, o, inplace: make(nd("AdaptiveMaxPool", t), a["size"]),
    flops=no_flops, extra_ops=per_input, receptive=_whole_window_field, family="pooling",
    describe=lambda a, o: size(a["size"]), fresh=True))


def _global(args: Args, t: TensorType, checks: Checks) -> Shaped:
    return Shaped(t.with_shape(t.channels, (1,) * t.rank))


register(LayerKind(
    "gap", "Global average pooling: every spatial axis to 1", (), SPATIAL, shape=_global,
    module=lambda a, t, o, inplace: make(nd("AdaptiveAvgPool", t), 1),
    flops=_average_flops("adaptive_avg_pool2d"), extra_ops=_average_extra,  # type: ignore[arg-type]
    receptive=_whole_window_field, family="pooling", describe=lambda a, o: "", fresh=True))

register(LayerKind(
    "gmp", "Global max pooling: every spatial axis to 1", (), SPATIAL, shape=_global,
    module=lambda a, t, o, inplace: make(nd("AdaptiveMaxPool", t), 1), flops=no_flops, extra_ops=per_input,
    receptive=_whole_window_field, family="pooling", describe=lambda a, o: "", fresh=True))

register(LayerKind(
    "spatial_mean",
    "Mean over every spatial axis, as `x.mean(...)`: the value of `gap`, but an operator fvcore does not count",
    (), SPATIAL, shape=_global, module=lambda a, t, o, inplace: make("SpatialMean"), flops=no_flops,
    extra_ops=per_input, receptive=_whole_window_field, family="pooling", describe=lambda a, o: ""))

