"""How large a network may grow: the bounds a check enforces so that a build and a forward can run."""

from __future__ import annotations

from archdsl import errorcodes as codes
from archdsl.diagnostics import Diagnostic
from archdsl.ir.expr import is_symbolic
from archdsl.ir.tensor import TensorType
from archdsl.span import Frame, Span

MAX_LAYERS = 100_000
MAX_BLOCK_DEPTH = 64
MAX_REPEAT = 10_000
MAX_ELEMENTS = 2**31  # per tensor and sample: 8 GB in float32; beyond it torch's indexing breaks too
MAX_PARAMS = 10**9  # by default; `--max-params` raises it
MAX_SYMBOLIC_ARMS = 100  # an emitted class nests an `if`'s arms on parameters: Python's stack bounds the nesting


def oversized(t: TensorType, what: str, span: Span, hint: str, trace: tuple[Frame, ...]) -> Diagnostic | None:
    """The error where ``t`` is more than a build and a forward can allocate, else None."""
    if is_symbolic(t.shape) or t.numel <= MAX_ELEMENTS:
        return None
    return Diagnostic(codes.LIMIT, f"{what} {_shown(t)} has {_size(t.numel)} elements per sample; the limit is "
                      f"{MAX_ELEMENTS:,}", span, hint, trace)


def _shown(t: TensorType) -> str:
    return "[" + ", ".join(_size(n) for n in t.shape) + "]"


def _size(n: int) -> str:
    """A size as written, or in scientific notation where it is huge (even beyond a float's range)."""
    if n < 10**7:
        return str(n)
    digits = str(n)
    return f"{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"
