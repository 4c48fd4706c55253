"""Receptive field and jump along each spatial axis: the quantity, and how a window changes it.

``r`` is how many input pixels one output value sees; ``j`` is how many input pixels
lie between neighbouring outputs. Starting from ``r = 1, j = 1``, a window of
effective size ``e`` and stride ``s`` gives ``r + (e - 1) * j`` and ``j * s``.
"""

from __future__ import annotations

from fractions import Fraction

from msgspec import Struct

Number = int | Fraction  # an int wherever the strides are whole: Fraction arithmetic is slow


def ratio(numerator: Number, denominator: Number) -> Number:
    """``numerator / denominator``, an int where it is whole."""
    quotient = Fraction(numerator) / denominator
    return quotient.numerator if quotient.denominator == 1 else quotient


class Field(Struct, frozen=True):
    """Receptive field and jump along each spatial axis of the network input."""

    r: tuple[Number, ...]
    j: tuple[Number, ...]

    @classmethod
    def start(cls, rank: int) -> Field:
        return cls((1,) * rank, (1,) * rank)

    def window(self, kernel: tuple[int, ...], stride: tuple[Number, ...]) -> Field:
        r = tuple(r + (k - 1) * j for r, k, j in zip(self.r, kernel, self.j, strict=True))
        return Field(r, tuple(j * s for j, s in zip(self.j, stride, strict=True)))

    def rescaled(self, factors: tuple[Number, ...]) -> Field:
        """The same field, neighbouring outputs ``factor`` times closer (up-sampling)."""
        return Field(self.r, tuple(ratio(j, f) for j, f in zip(self.j, factors, strict=True)))

    def widest(self, other: Field) -> Field:
        return Field(tuple(max(a, b) for a, b in zip(self.r, other.r, strict=True)), self.j)
