"""The primitive layers: one registry entry per kind, holding every rule about it."""

from archdsl.layers.registry import LAYERS, Inferred, LayerKind, ShapeError

# Importing the rule modules fills the registry.
from archdsl.layers import activations, conv, norm, pool, shape_ops  # noqa: F401  isort: skip

__all__ = ["LAYERS", "Inferred", "LayerKind", "ShapeError"]
