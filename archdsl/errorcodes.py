"""Every diagnostic code archdsl emits, with its one-line meaning, in one registry.

Codes are stable: editors and CI scripts match on them. ``E`` codes stop a network
from being built; ``W`` codes are shown and the network is built anyway.
"""

from __future__ import annotations

from enum import Enum

from msgspec import Struct


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


class Code(Struct, frozen=True):
    id: str
    title: str

    @property
    def severity(self) -> Severity:
        return Severity.ERROR if self.id.startswith("E") else Severity.WARNING


# Input and syntax.
SYNTAX = Code("E001", "syntax error")
FILE_UNREADABLE = Code("E002", "a file cannot be read")
IMPORT_CYCLE = Code("E003", "files import each other in a cycle")
LIMIT = Code("E004", "a size or depth limit is exceeded")
# Names and calls.
UNKNOWN_CALLEE = Code("E101", "unknown layer or block")
UNKNOWN_NAME = Code("E102", "unknown name in an expression")
UNKNOWN_PARAMETER = Code("E103", "unknown parameter")
ARITY = Code("E104", "wrong number of arguments")
ARGUMENT_TYPE = Code("E105", "argument of the wrong type")
DUPLICATE = Code("E106", "a name is defined twice")
RECURSION = Code("E107", "a block calls itself")
BAD_VALUE = Code("E108", "an expression cannot be evaluated")
MISPLACED = Code("E109", "a statement in the wrong place")
UNKNOWN_NETWORK = Code("E110", "no network of that name")
BAD_LABEL = Code("E111", "a step name that cannot be used")
UNKNOWN_TENSOR = Code("E112", "a tensor read that no earlier step of the definition made")
# Shapes.
OUTPUT_TOO_SMALL = Code("E201", "an output size is below 1")
GROUPS = Code("E202", "groups does not divide the channels")
RESIDUAL_SHAPE = Code("E203", "residual paths cannot be added")
GATE_SHAPE = Code("E204", "gate body cannot be broadcast to its input")
JOIN_SHAPE = Code("E205", "joined branches differ in shape")
NOT_FLAT = Code("E206", "layer needs a flat tensor")
RANK = Code("E207", "layer does not fit the tensor's rank")
PADDING = Code("E208", "padding cannot be honoured")
TOO_SMALL = Code("E209", "a tensor is too small for the layer")
# Verification of our counts against the built module.
COUNT_MISMATCH = Code("E401", "a static count differs from what torch or fvcore measures")
# Warnings.
STRIDE_DROPS = Code("W301", "a stride drops input rows")
BIAS_BEFORE_NORM = Code("W302", "a bias directly followed by a norm is wasted")
WIDE_PADDING = Code("W303", "padding wider than the kernel")
MISALIGNED_JOIN = Code("W304", "joined paths have different strides")
UNREAD_TENSOR = Code("W305", "a label names only a tensor, and no step reads it")
DEAD_STEP = Code("W306", "a step whose output nothing reads")

ALL: tuple[Code, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Code))
