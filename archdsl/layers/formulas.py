"""The output-size formulas of convolution and pooling, per spatial axis.

Each function returns the size and, when a caller needs to explain it, the formula
with the numbers put in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archdsl import errorcodes as codes
from archdsl.layers.registry import ShapeError, Warning_
from archdsl.tensor import TensorType


def effective_kernel(k: int, d: int) -> int:
    return d * (k - 1) + 1


def conv_size(length: int, k: int, s: int, p: int, d: int) -> int:
    return (length + 2 * p - effective_kernel(k, d)) // s + 1


def pool_ceil_size(length: int, k: int, s: int, p: int, d: int) -> int:
    """PyTorch's ceil mode: round up, but the last window must start inside the input or left padding."""
    out = -(-(length + 2 * p - effective_kernel(k, d)) // s) + 1
    if (out - 1) * s >= length + p:
        out -= 1
    return out


def transposed_size(length: int, k: int, s: int, p: int, d: int, output_padding: int) -> int:
    return (length - 1) * s - 2 * p + d * (k - 1) + output_padding + 1


def _conv_formula(length: int, k: int, s: int, p: int, d: int, ceil: bool) -> str:
    rounding = "ceil" if ceil else "floor"
    return (f"{rounding}(({length} + 2*{p} - ({d}*({k}-1)+1)) / {s}) + 1 = "
            f"{rounding}({length + 2 * p - effective_kernel(k, d)} / {s}) + 1")


@dataclass(frozen=True, slots=True)
class Window:
    """Kernel, stride, padding and dilation, one entry per spatial axis."""

    k: tuple[int, ...]
    s: tuple[int, ...]
    p: tuple[int, ...]
    d: tuple[int, ...]


def sliding_output(kind: str, tensor: TensorType, window: Window, ceil: bool = False
                   ) -> tuple[tuple[int, ...], tuple[Warning_, ...]]:
    """Spatial output of a conv or pool; E201 when an axis would be empty, W301 when input rows are dropped.

    The stride skips ``(L + 2p - eff_k) % s`` positions at the end; only those beyond the right
    padding are input rows, so the usual ``conv(k=3, s=2, p=1)`` on an even size drops nothing.
    Where windows leave gaps (``eff_k < s``), only a tail longer than a gap counts.
    """
    sizes: list[int] = []
    dropped_axes: list[tuple[str, int, str]] = []
    for axis, length, k, s, p, d in zip(tensor.axis_names, tensor.spatial, window.k, window.s, window.p,
                                        window.d, strict=True):
        size = pool_ceil_size(length, k, s, p, d) if ceil else conv_size(length, k, s, p, d)
        if size < 1:
            rounding = "ceil" if ceil else "floor"
            raise ShapeError(
                codes.OUTPUT_TOO_SMALL,
                f"{kind} output {axis} is {size}: the input is {length} but the kernel spans "
                f"{effective_kernel(k, d)}",
                f"{rounding}((L + 2p - (d(k-1)+1)) / s) + 1 = {_conv_formula(length, k, s, p, d, ceil)} = {size}",
            )
        skipped = (length + 2 * p - effective_kernel(k, d)) % s
        # The rows after the last window, beyond the right padding, are lost; a kernel narrower than its
        # stride leaves a gap of s - e rows between any two windows by design (a 1x1 stride-2 projection),
        # so only a tail longer than that gap is worth a warning.
        if skipped - p > max(0, s - effective_kernel(k, d)) and not ceil:
            formula = f"({length} + 2*{p} - {effective_kernel(k, d)}) % {s} = {skipped}, {p} of them padding"
            dropped_axes.append((axis, skipped - p, formula))
        sizes.append(size)
    return tuple(sizes), _stride_warning(kind, dropped_axes)


def _stride_warning(kind: str, dropped: list[tuple[str, int, str]]) -> tuple[Warning_, ...]:
    if not dropped:
        return ()
    names = [axis for axis, _, _ in dropped]
    axes = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    counts = sorted({n for _, n, _ in dropped})
    amount = " or ".join(str(n) for n in counts)
    formulas = "; ".join(dict.fromkeys(f for _, _, f in dropped))
    return (Warning_(codes.STRIDE_DROPS,
                     f"{kind}'s stride skips the last {amount} position{'s' if counts[-1] > 1 else ''} of the input "
                     f"along {axes}",
                     f"(L + 2p - (d(k-1)+1)) % s = {formulas}; adjust the padding or input size to use them"),)


def resolve_same(kind: str, k: Sequence[int], d: Sequence[int]) -> tuple[int, ...]:
    """``p=same``: half the effective kernel, exact only when that kernel is odd."""
    pads = []
    for ki, di in zip(k, d, strict=True):
        e = effective_kernel(ki, di)
        if e % 2 == 0:
            raise ShapeError(codes.PADDING, f"{kind} cannot pad `same`: its effective kernel {e} is even",
                             "`same` needs an odd d(k-1)+1; give the padding as numbers instead")
        pads.append((e - 1) // 2)
    return tuple(pads)

