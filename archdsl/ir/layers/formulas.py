"""The output-size formulas of convolution and pooling, per spatial axis.

Each works on known sizes and on symbolic ones alike (``expr`` overloads the
arithmetic), and each check goes through ``Checks``, so a size that is not known yet
becomes a guard instead of an error. The help texts put the numbers into the formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from msgspec import Struct

from archdsl import errorcodes as codes
from archdsl.ir.expr import is_symbolic, op, where
from archdsl.ir.layers.record import Checks, Message, ShapeError, Warning_
from archdsl.ir.tensor import TensorType


def effective_kernel(k: Any, d: Any) -> Any:
    return d * (k - 1) + 1


def conv_size(length: Any, k: Any, s: Any, p: Any, d: Any) -> Any:
    return (length + 2 * p - effective_kernel(k, d)) // s + 1


def pool_ceil_size(length: Any, k: Any, s: Any, p: Any, d: Any) -> Any:
    """PyTorch's ceil mode: round up, but the last window must start inside the input or left padding."""
    out = -(-(length + 2 * p - effective_kernel(k, d)) // s) + 1
    return where((out - 1) * s >= length + p, out - 1, out)


def transposed_size(length: Any, k: Any, s: Any, p: Any, d: Any, output_padding: Any) -> Any:
    return (length - 1) * s - 2 * p + d * (k - 1) + output_padding + 1


def _size_help(length: int, k: int, s: int, p: int, d: int, size: int, ceil: bool) -> str:
    """The size formula with the numbers put in."""
    rounding = "ceil" if ceil else "floor"
    return (f"{rounding}((L + 2p - (d(k-1)+1)) / s) + 1 = {rounding}(({length} + 2*{p} - ({d}*({k}-1)+1)) / {s}) + 1"
            f" = {rounding}({length + 2 * p - effective_kernel(k, d)} / {s}) + 1 = {size}")


class Window(Struct, frozen=True):
    """Kernel, stride, padding and dilation, one entry per spatial axis."""

    k: tuple[Any, ...]
    s: tuple[Any, ...]
    p: tuple[Any, ...]
    d: tuple[Any, ...]


def sliding_output(kind: str, tensor: TensorType, window: Window, checks: Checks, ceil: bool = False,
                   sides: tuple[tuple[Any, Any], ...] | None = None) -> tuple[tuple[Any, ...], tuple[Warning_, ...]]:
    """Spatial output of a conv or pool; E201 when an axis would be empty, W301 when input rows are dropped.

    The stride skips ``(L + 2p - eff_k) % s`` positions at the end; only those beyond the right
    padding are input rows, so the usual ``conv(k=3, s=2, p=1)`` on an even size drops nothing.
    Where windows leave gaps (``eff_k < s``), only a tail longer than a gap counts. ``sides``: the
    padding before and after each axis where they differ (the window's own padding is then 0).
    """
    sizes: list[Any] = []
    dropped_axes: list[tuple[str, int, str]] = []
    for index, (axis, length, k, s, p, d) in enumerate(zip(tensor.axis_names, tensor.spatial, window.k, window.s,
                                                           window.p, window.d, strict=True)):
        before, after = sides[index] if sides is not None else (p, p)
        if sides is not None:
            size = conv_size(length + before + after, k, s, 0, d)
        else:
            size = pool_ceil_size(length, k, s, p, d) if ceil else conv_size(length, k, s, p, d)
        checks.require(
            size >= 1, codes.OUTPUT_TOO_SMALL,
            Message((f"{kind} output {axis} is ", size, ": the input is ", length, " but the kernel spans ",
                     effective_kernel(k, d))),
            partial(_size_help, length, k, s, p, d, size, ceil))
        sizes.append(size)
        if ceil or is_symbolic((length, k, s, before, after, d)):
            continue
        skipped = (length + before + after - effective_kernel(k, d)) % s
        # The rows after the last window, beyond the right padding, are lost; a kernel narrower than its
        # stride leaves a gap of s - e rows between any two windows by design (a 1x1 stride-2 projection),
        # so only a tail longer than that gap is worth a warning.
        if skipped - after > max(0, s - effective_kernel(k, d)):
            padded = f"2*{p}" if sides is None else f"{before} + {after}"
            formula = f"({length} + {padded} - {effective_kernel(k, d)}) % {s} = {skipped}, {after} of them padding"
            dropped_axes.append((axis, skipped - after, formula))
    return tuple(sizes), _stride_warning(kind, dropped_axes, "before + after" if sides is not None else "2p")


def _stride_warning(kind: str, dropped: list[tuple[str, int, str]], padding: str) -> tuple[Warning_, ...]:
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
                     f"(L + {padding} - (d(k-1)+1)) % s = {formulas}; adjust the padding or input size to use them"),)


def resolve_same(kind: str, k: Sequence[Any], d: Sequence[Any], checks: Checks) -> tuple[Any, ...]:
    """``p=same``: half the effective kernel, exact only when that kernel is odd."""
    pads = []
    for ki, di in zip(k, d, strict=True):
        e = effective_kernel(ki, di)
        if not is_symbolic(e) and e % 2 == 0:
            raise ShapeError(codes.PADDING, f"{kind} cannot pad `same`: its effective kernel {e} is even",
                             "`same` needs an odd d(k-1)+1; give the padding as numbers instead")
        if is_symbolic(e):
            checks.require(op("==", e % 2, 1), codes.PADDING,
                           Message((f"{kind} cannot pad `same`: its effective kernel ", e, " is even")))
        pads.append((e - 1) // 2)
    return tuple(pads)
