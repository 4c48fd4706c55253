"""The primitive layers: one record per kind, holding every fact about it (see ``record``)."""

from archdsl.ir.layers.record import LAYERS, Checks, Constructor, Guard, LayerKind, Shaped, ShapeError, check_rank

# Importing the family modules fills the table.
from archdsl.ir.layers import activations, borders, conv, norm, pool, shape_ops  # noqa: F401  isort: skip

RUNTIME_CLASSES = ("ChannelLayerNorm", "FrozenBatchNorm", "Crop", "CenterCrop", "SidesPadded", "PaddedConv1d",
                   "PaddedConv2d", "PaddedConv3d", "ChannelsLastPointwise", "PointwiseConv1d", "PointwiseConv2d",
                   "PointwiseConv3d", "LayerScale", "DropPath", "SpatialMean", "ChannelMean", "ChannelMax")

__all__ = ["LAYERS", "RUNTIME_CLASSES", "Checks", "Constructor", "Guard", "LayerKind", "ShapeError", "Shaped",
           "check_rank"]
