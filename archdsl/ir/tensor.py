"""Tensor types ``[C, *spatial]``; the batch dimension is implicit."""

from __future__ import annotations

import re
from math import prod
from typing import Any

from msgspec import Struct

Size = Any  # an int; in a template (symbolic IR) an expression of the class's symbols (``archdsl.ir.expr``)

AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


class TensorType(Struct, frozen=True):
    shape: tuple[Size, ...]

    @property
    def channels(self) -> Size:
        return self.shape[0]

    @property
    def spatial(self) -> tuple[Size, ...]:
        return self.shape[1:]

    @property
    def rank(self) -> int:
        """Number of spatial axes: 0 for a flat vector, 1 to 3 for signals, images, volumes."""
        return len(self.shape) - 1

    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def axis_names(self) -> tuple[str, ...]:
        return AXIS_NAMES.get(self.rank, tuple(f"axis {i}" for i in range(self.rank)))

    def with_shape(self, channels: Size, spatial: tuple[Size, ...] | None = None) -> TensorType:
        return TensorType((channels, *(self.spatial if spatial is None else spatial)))

    def __str__(self) -> str:
        return "[" + ", ".join(str(n) for n in self.shape) + "]"


class Named(Struct, frozen=True):
    """A labelled step's output as a value: ``@c4`` is ``Named("c4", its type)``."""

    label: str
    type: TensorType
    parts: tuple[TensorType, ...] = ()  # a split's: read one by its index, ``@parts[1]``
    key: str = ""  # the IR's name for it, where it differs from the label (see ``tensor_key``)
    count: Any = None  # in a template, every tensor a loop of the class labelled: how many (``all_key``)

    def __str__(self) -> str:
        return f"@{self.label}"

    @property
    def ref(self) -> str:
        """What the IR's ``Keep``, ``Split`` and ``Read`` call this tensor."""
        return self.key or self.label

    def part(self, index: int) -> Named:
        """One of the tensors the label stands for: a split's part, one of a block's tuple, one pass's tensor."""
        t = self.type if self.count is not None else self.parts[index]
        return Named(f"{self.label}[{index}]", t, key=f"{self.ref}[{index}]")

    def every(self) -> tuple[Named, ...]:
        """Each tensor the label stands for: its parts (a split's, a block's tuple, every pass's of a loop)."""
        return tuple(self.part(i) for i in range(len(self.parts)))

    @property
    def several(self) -> str:
        """What the label stands for where it is several tensors ("2 tensors"); else the empty string."""
        if self.count is not None:
            return "a tensor per pass of a loop"
        return f"{len(self.parts)} tensors" if self.parts else ""


def tensor_key(label: str, shadowed: bool, line: int, col: int) -> str:
    """The IR's name for a tensor labelled ``label`` at ``line:col``: the label, unless it hides a tensor of that
    label from an enclosing body, whose steps may share the IR's group with it; then unique: ``a~3.5``."""
    return f"{label}~{line}.{col}" if shadowed else label


def pass_key(label: str) -> str:
    """In a template, the IR's name for the tensor ``label`` names on the current pass of a loop of the class."""
    return f"{label}[]"


def pass_label(key: str) -> str | None:
    """The label a ``pass_key`` is of (``m`` of ``m[]``); None for any other key."""
    return key[:-2] if key.endswith("[]") else None


def all_key(label: str) -> str:
    """In a template, the IR's name for every tensor ``label`` named in a loop of the class, in pass order."""
    return f"{label}[*]"


def spoken(key: str) -> str:
    """The label a tensor's IR name stands for: ``a~3.5[0]`` is ``a[0]``."""
    return re.sub(r"~\d+\.\d+", "", key)
