"""The few modules PyTorch lacks, shared by the in-memory build and the emitted Python source.

The Python back end copies these classes' source into every file it writes, so the
code here is written to be read there: small, standalone, torch-only.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of a channels-first tensor, at every position (ConvNeXt's LayerNorm2d)."""

    def __init__(self, channels: int, eps: float = 1e-6, affine: bool = True) -> None:
        super().__init__()
        self.normalized_shape = (channels,)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.movedim(1, -1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.movedim(-1, 1)


class FrozenBatchNorm(nn.Module):
    """Batch norm whose statistics and affine terms are fixed buffers (torchvision's FrozenBatchNorm2d, any rank)."""

    weight: torch.Tensor
    bias: torch.Tensor
    running_mean: torch.Tensor
    running_var: torch.Tensor

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object) -> None:
        state_dict.pop(prefix + "num_batches_tracked", None)  # a trained BatchNorm's counter means nothing here
        super()._load_from_state_dict(state_dict, prefix, *args)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * scale.reshape(shape) + shift.reshape(shape)


class SidesPadded:
    """Mixed into a convolution: pads its input by ``sides`` first (``F.pad``'s order, the last axis first),
    the two sides of an axis apart, as a causal convolution pads only the past."""

    def __init__(self, *args: Any, sides: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sides = sides

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.sides))  # type: ignore[misc]


class PaddedConv1d(SidesPadded, nn.Conv1d):
    """A Conv1d padded apart on its two sides (``SidesPadded``)."""


class PaddedConv2d(SidesPadded, nn.Conv2d):
    """A Conv2d padded apart on each side (``SidesPadded``)."""


class PaddedConv3d(SidesPadded, nn.Conv3d):
    """A Conv3d padded apart on each side (``SidesPadded``)."""


class ChannelsLastPointwise:
    """Mixed into a 1x1 convolution whose input comes channels-last in memory (a ``ChannelLayerNorm`` before it):
    runs it as ``F.linear`` over the channels, as torchvision's ConvNeXt runs its ``nn.Linear`` between two
    permutes, where a convolution would first reorder the tensor. The weight keeps the convolution's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.flatten(1)  # type: ignore[attr-defined]
        return F.linear(x.movedim(1, -1), weight, self.bias).movedim(-1, 1)  # type: ignore[attr-defined]


class PointwiseConv1d(ChannelsLastPointwise, nn.Conv1d):
    """A 1x1 Conv1d run as a linear layer over the channels (``ChannelsLastPointwise``)."""


class PointwiseConv2d(ChannelsLastPointwise, nn.Conv2d):
    """A 1x1 Conv2d run as a linear layer over the channels (``ChannelsLastPointwise``)."""


class PointwiseConv3d(ChannelsLastPointwise, nn.Conv3d):
    """A 1x1 Conv3d run as a linear layer over the channels (``ChannelsLastPointwise``)."""


class Crop(nn.Module):
    """Cuts positions off each spatial axis: ``sides`` holds a (before, after) pair per axis (U-Net's skips)."""

    def __init__(self, sides: tuple[tuple[int, int], ...]) -> None:
        super().__init__()
        self.sides = sides

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept = [slice(before, x.shape[axis] - after) for axis, (before, after) in enumerate(self.sides, start=2)]
        return x[(slice(None), slice(None), *kept)]


class CenterCrop(nn.Module):
    """Cuts each spatial axis to ``size`` about its centre, an odd remainder after (U-Net's skip connections)."""

    def __init__(self, size: int | tuple[int, ...]) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sizes = self.size if isinstance(self.size, tuple) else (self.size,) * (x.dim() - 2)
        kept = [slice((n - size) // 2, (n - size) // 2 + size) for n, size in zip(x.shape[2:], sizes, strict=True)]
        return x[(slice(None), slice(None), *kept)]


class LayerScale(nn.Module):
    """Multiplies each channel by a learned scale, initialised small (ConvNeXt, CaiT)."""

    def __init__(self, channels: int, init: float = 1e-6, rank: int = 2) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels,) + (1,) * rank, init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class DropPath(nn.Dropout):
    """Stochastic depth: while training, zeroes a sample's whole residual branch with probability p."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class SpatialMean(nn.Module):
    """Mean over the spatial axes, keeping them as size 1 (timm's squeeze-and-excitation pooling)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)


class ChannelMean(nn.Module):
    """Mean over the channels, keeping a single channel (CBAM's spatial attention)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1, keepdim=True)


class ChannelMax(nn.Module):
    """Maximum over the channels, keeping a single channel (CBAM's spatial attention)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=1, keepdim=True)


def init_weights(model: nn.Module, conv: str = "kaiming_fan_out", linear: str = "normal", std: float = 0.01,
                 bias: str = "zeros") -> None:
    """Initialises convs and linears as the spec's `init(...)` says, norms to one and zero.

    By default as torchvision's VGG and MobileNet: He-normal convs (fan out), normal(0, 0.01)
    linears, zero biases. A scheme is "kaiming_fan_out", "kaiming_fan_in", "normal" or
    "trunc_normal" (these two with ``std``), or "default" (PyTorch's own); ``bias`` is "zeros"
    or "default".
    """
    if conv == linear == bias == "default":
        return  # PyTorch's own, which the norms already start as
    convs = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm)
    for module in model.modules():
        if isinstance(module, norms):
            if module.weight is not None and module.bias is not None:
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            continue
        if isinstance(module, convs):
            scheme = conv
        elif isinstance(module, nn.Linear):
            scheme = linear
        else:
            continue
        if scheme == "kaiming_fan_out":
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif scheme == "kaiming_fan_in":
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif scheme == "normal":
            nn.init.normal_(module.weight, 0, std)
        elif scheme == "trunc_normal":
            nn.init.trunc_normal_(module.weight, std=std)
        if module.bias is not None and bias == "zeros":
            nn.init.zeros_(module.bias)


def for_inference(model: nn.Module) -> nn.Module:
    """``model``, its weights loaded, for inference only, in place: in eval mode, each batch norm that follows a
    convolution (in an ``nn.Sequential``, or as its class's ``FOLDS`` say) folded into it by torch's
    ``fuse_conv_bn_eval`` and left an ``nn.Identity``, dropout and drop-path the identity, 4-D weights
    channels-last (the layout oneDNN's CPU convolutions run fastest on). It gives the eval-mode model's outputs;
    train the model it was made from, not this one (its folded biases do not learn). Running it again changes
    nothing."""
    model.eval()
    for module in list(model.modules()):
        folds = list(getattr(module, "FOLDS", ()))
        if isinstance(module, nn.Sequential):  # each step's output goes to the next alone
            steps = list(module.named_children())
            folds += [(steps[i - 1][0], name) for i, (name, norm) in enumerate(steps) if i and isinstance(
                steps[i - 1][1], nn.modules.conv._ConvNd) and getattr(norm, "running_var", None) is not None]
        for conv_path, norm_path in folds:
            try:
                conv: Any = module.get_submodule(conv_path)
                norm: Any = module.get_submodule(norm_path)
            except AttributeError:  # a module this instance is made without (torchvision's `downsample = None`)
                continue
            if getattr(norm, "running_var", None) is None:  # folded already: for_inference ran on this model
                continue
            transposed = isinstance(conv, nn.modules.conv._ConvTransposeNd)
            module.set_submodule(conv_path, nn.utils.fuse_conv_bn_eval(conv, norm, transpose=transposed))
            module.set_submodule(norm_path, nn.Identity())
        for name, child in module.named_children():
            if isinstance(child, nn.modules.dropout._DropoutNd):
                setattr(module, name, nn.Identity())
    for weight in model.parameters():
        if weight.dim() == 4:
            weight.data = weight.data.contiguous(memory_format=torch.channels_last)
    return model
