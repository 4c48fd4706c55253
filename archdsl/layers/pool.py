"""Pooling: windowed max/average (with PyTorch's ceil mode), adaptive and global."""

from __future__ import annotations

from archdsl import errorcodes as codes
from archdsl.layers.conv import DILATION, KERNEL, PADDING, SPATIAL
from archdsl.layers.formulas import Window, resolve_same, sliding_output
from archdsl.layers.registry import Args, Inferred, ShapeError, layer
from archdsl.layers.signature import Param, boolean, per_axis
from archdsl.tensor import TensorType

POOL_STRIDE = Param("s", per_axis(1), None, "stride (default: the kernel size)")
CEIL = Param("ceil", boolean, False, "round the output size up (PyTorch's ceil_mode)")


def _pool(kind: str, args: Args, t: TensorType) -> Inferred:
    k = args["k"]
    d = args.get("d", (1,) * t.rank)
    p = resolve_same(kind, k, d) if args["p"] == "same" else args["p"]
    for ki, pi in zip(k, p, strict=True):
        if 2 * pi > ki:  # PyTorch's rule, on the kernel size before dilation
            raise ShapeError(codes.PADDING, f"{kind} padding {pi} is more than half its kernel {ki}",
                             f"PyTorch allows at most {ki // 2} here")
    small = [(axis, n, ki) for axis, n, ki in zip(t.axis_names, t.spatial, k, strict=True) if n < ki]
    if kind == "avgpool" and t.rank == 3 and small:  # PyTorch's 3-D average pooling ignores the padding here
        axis, n, ki = small[0]
        raise ShapeError(codes.OUTPUT_TOO_SMALL, f"3-D avgpool needs an input at least as large as its kernel: "
                         f"the {axis} is {n}, the kernel {ki}", "PyTorch's avg_pool3d refuses it even with padding")
    window = Window(k, args["s"] if args["s"] is not None else k, p, d)
    spatial, warnings = sliding_output(kind, t, window, ceil=args["ceil"])
    return Inferred(t.with_shape(t.channels, spatial), warnings=warnings)


@layer("maxpool", KERNEL, POOL_STRIDE, PADDING, DILATION, CEIL, ranks=SPATIAL)
def maxpool(args: Args, t: TensorType) -> Inferred:
    """Max pooling over a sliding window."""
    return _pool("maxpool", args, t)


@layer("avgpool", KERNEL, POOL_STRIDE, PADDING, CEIL,
       Param("count_include_pad", boolean, True, "count padding zeros in the average"), ranks=SPATIAL)
def avgpool(args: Args, t: TensorType) -> Inferred:
    """Average pooling over a sliding window."""
    return _pool("avgpool", args, t)


def _adaptive(args: Args, t: TensorType) -> Inferred:
    """Pool to a fixed output size, whatever the input size."""
    return Inferred(t.with_shape(t.channels, args["size"]))


OUTPUT_SIZE = Param("size", per_axis(1), doc="output size per spatial axis")
layer("adaptive_avgpool", OUTPUT_SIZE, ranks=SPATIAL)(_adaptive)
layer("adaptive_maxpool", OUTPUT_SIZE, ranks=SPATIAL)(_adaptive)


@layer("gap", ranks=SPATIAL)
def gap(args: Args, t: TensorType) -> Inferred:
    """Global average pooling: every spatial axis to 1."""
    return Inferred(t.with_shape(t.channels, (1,) * t.rank))


@layer("gmp", ranks=SPATIAL)
def gmp(args: Args, t: TensorType) -> Inferred:
    """Global max pooling: every spatial axis to 1."""
    return Inferred(t.with_shape(t.channels, (1,) * t.rank))


@layer("spatial_mean", ranks=SPATIAL)
def spatial_mean(args: Args, t: TensorType) -> Inferred:
    """Mean over every spatial axis, as ``x.mean(...)``: the value of ``gap``, but an operator fvcore does not count."""
    return Inferred(t.with_shape(t.channels, (1,) * t.rank))
