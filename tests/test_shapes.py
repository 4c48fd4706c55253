"""Shape rules, table-driven: archdsl's static types and parameter counts against torch on real tensors.

Each case is an input type, one spec step, and either the expected output type with the torch
layer built from the same numbers, or the expected error code (with, where torch has the same
limit, the torch layer that must refuse too).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
import torch
from torch import nn

import archdsl
from archdsl import ir


class ChannelLayerNorm(nn.Module):
    """ConvNeXt's LayerNorm2d, which archdsl's `ln` is: a LayerNorm over the channels at each position."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


Build = Callable[[], nn.Module]
Shape = tuple[int, ...]

VALID: list[tuple[Shape, str, Shape, Build]] = [
    # conv: 1-D, 2-D and 3-D by the input's rank
    ((1, 100), "conv(8, 5)", (8, 96), partial(nn.Conv1d, 1, 8, 5)),
    ((4, 50), "conv(6, 3, s=2, d=2)", (6, 23), partial(nn.Conv1d, 4, 6, 3, 2, 0, 2)),
    ((4, 17), "conv(4, 5, p=same, bias=false)", (4, 17), partial(nn.Conv1d, 4, 4, 5, padding=2, bias=False)),
    ((3, 32, 32), "conv(8, 3)", (8, 30, 30), partial(nn.Conv2d, 3, 8, 3)),
    ((2, 8, 16, 16), "conv(4, 3, p=1)", (4, 8, 16, 16), partial(nn.Conv3d, 2, 4, 3, padding=1)),
    # stride, padding, dilation
    ((3, 33, 33), "conv(8, 3, s=2)", (8, 16, 16), partial(nn.Conv2d, 3, 8, 3, stride=2)),
    ((3, 32, 32), "conv(8, 3, s=2, p=1)", (8, 16, 16), partial(nn.Conv2d, 3, 8, 3, stride=2, padding=1)),
    ((3, 32, 32), "conv(8, 3, p=5)", (8, 40, 40), partial(nn.Conv2d, 3, 8, 3, padding=5)),
    ((3, 32, 32), "conv(8, 3, d=2)", (8, 28, 28), partial(nn.Conv2d, 3, 8, 3, dilation=2)),
    ((3, 9, 9), "conv(8, 9, s=4)", (8, 1, 1), partial(nn.Conv2d, 3, 8, 9, 4)),
    # per-axis tuples for k, s, p and d
    ((3, 32, 31), "conv(8, (3, 5), s=(1, 2), p=(1, 2))", (8, 32, 16), partial(nn.Conv2d, 3, 8, (3, 5), (1, 2), (1, 2))),
    ((3, 20, 20), "conv(8, 3, d=(1, 3))", (8, 18, 14), partial(nn.Conv2d, 3, 8, 3, dilation=(1, 3))),
    ((2, 9, 16, 16), "conv(4, (3, 3, 1), s=(1, 2, 2), p=(1, 0, 0), d=(2, 1, 1))", (4, 7, 7, 8),
     partial(nn.Conv3d, 2, 4, (3, 3, 1), (1, 2, 2), (1, 0, 0), (2, 1, 1))),
    # p=same: exact wherever the effective kernel d(k-1)+1 is odd, whatever the stride
    ((3, 32, 32), "conv(8, 3, p=same, d=3)", (8, 32, 32), partial(nn.Conv2d, 3, 8, 3, padding=3, dilation=3)),
    ((3, 32, 32), "conv(8, 7, s=2, p=same)", (8, 16, 16), partial(nn.Conv2d, 3, 8, 7, 2, 3)),
    ((3, 16, 15), "conv(8, (3, 5), p=same)", (8, 16, 15), partial(nn.Conv2d, 3, 8, (3, 5), padding=(1, 2))),
    ((3, 16, 16), "conv(8, 2, d=2, p=same)", (8, 16, 16), partial(nn.Conv2d, 3, 8, 2, padding=1, dilation=2)),
    # groups, depth-wise, point-wise
    ((32, 16, 16), "conv(64, 3, p=1, groups=8)", (64, 16, 16), partial(nn.Conv2d, 32, 64, 3, padding=1, groups=8)),
    ((6, 20), "conv(9, 3, groups=3, bias=false)", (9, 18), partial(nn.Conv1d, 6, 9, 3, groups=3, bias=False)),
    ((32, 16, 16), "dwconv(3, p=1)", (32, 16, 16), partial(nn.Conv2d, 32, 32, 3, padding=1, groups=32)),
    ((32, 16, 16), "dwconv(5, s=2, p=2, mult=2)", (64, 8, 8), partial(nn.Conv2d, 32, 64, 5, 2, 2, groups=32)),
    ((8, 30), "dwconv(7, p=same, bias=false)", (8, 30), partial(nn.Conv1d, 8, 8, 7, padding=3, groups=8, bias=False)),
    ((4, 6, 6, 6), "dwconv(3, d=2, mult=3)", (12, 2, 2, 2), partial(nn.Conv3d, 4, 12, 3, dilation=2, groups=4)),
    ((32, 16, 16), "pwconv(64, bias=false)", (64, 16, 16), partial(nn.Conv2d, 32, 64, 1, bias=False)),
    ((32, 10), "pwconv(16, groups=4)", (16, 10), partial(nn.Conv1d, 32, 16, 1, groups=4)),
    # transposed, with output padding
    ((16, 8, 8), "conv_transpose(8, 2, s=2)", (8, 16, 16), partial(nn.ConvTranspose2d, 16, 8, 2, 2)),
    ((16, 8, 8), "conv_transpose(8, 3, s=2, p=1, op=1)", (8, 16, 16), partial(nn.ConvTranspose2d, 16, 8, 3, 2, 1, 1)),
    ((16, 10), "conv_transpose(4, 4, s=3, d=2, groups=2)", (4, 34),
     partial(nn.ConvTranspose1d, 16, 4, 4, 3, groups=2, dilation=2)),
    ((4, 3, 5, 5), "conv_transpose(2, (2, 3, 3), s=(1, 2, 2), p=(0, 1, 1), op=(0, 1, 0))", (2, 4, 10, 9),
     partial(nn.ConvTranspose3d, 4, 2, (2, 3, 3), (1, 2, 2), (0, 1, 1), (0, 1, 0))),
    ((4, 5), "conv_transpose(2, 3, s=1, p=1, op=1, d=2, bias=false)", (2, 8),
     partial(nn.ConvTranspose1d, 4, 2, 3, 1, 1, 1, bias=False, dilation=2)),
    # pooling; the stride defaults to the kernel
    ((8, 9), "avgpool(3)", (8, 3), partial(nn.AvgPool1d, 3)),
    ((8, 4, 8, 8), "maxpool(2)", (8, 2, 4, 4), partial(nn.MaxPool3d, 2)),
    ((4, 9, 10), "maxpool((3, 2), s=(2, 1))", (4, 4, 9), partial(nn.MaxPool2d, (3, 2), (2, 1))),
    ((4, 9, 10), "maxpool(3, s=1, p=same)", (4, 9, 10), partial(nn.MaxPool2d, 3, 1, 1)),
    ((8, 7, 7), "avgpool(3, s=2, p=1, count_include_pad=false)", (8, 4, 4),
     partial(nn.AvgPool2d, 3, 2, 1, count_include_pad=False)),
    ((8, 13, 9), "maxpool(3, s=2, p=1, d=(1, 2))", (8, 7, 4), partial(nn.MaxPool2d, 3, 2, 1, (1, 2))),
    # ceil mode: GoogLeNet's stride-2 pools, each one row more than floor gives
    ((8, 112, 112), "maxpool(3, s=2, ceil=true)", (8, 56, 56), partial(nn.MaxPool2d, 3, 2, ceil_mode=True)),
    ((8, 112, 112), "maxpool(3, s=2)", (8, 55, 55), partial(nn.MaxPool2d, 3, 2)),
    ((8, 56, 56), "maxpool(3, s=2, ceil=true)", (8, 28, 28), partial(nn.MaxPool2d, 3, 2, ceil_mode=True)),
    ((8, 28, 28), "maxpool(3, s=2, ceil=true)", (8, 14, 14), partial(nn.MaxPool2d, 3, 2, ceil_mode=True)),
    ((8, 14, 14), "maxpool(2, s=2, ceil=true)", (8, 7, 7), partial(nn.MaxPool2d, 2, 2, ceil_mode=True)),
    ((8, 28, 28), "maxpool(3, s=1, p=1, ceil=true)", (8, 28, 28), partial(nn.MaxPool2d, 3, 1, 1, ceil_mode=True)),
    ((8, 7, 7), "avgpool(2, ceil=true)", (8, 4, 4), partial(nn.AvgPool2d, 2, ceil_mode=True)),
    # ceil mode where the last window would start in the right padding: PyTorch drops it
    ((8, 6, 6), "maxpool(2, s=2, p=1, ceil=true)", (8, 4, 4), partial(nn.MaxPool2d, 2, 2, 1, ceil_mode=True)),
    ((8, 5, 5), "maxpool(2, s=2, p=1, ceil=true)", (8, 3, 3), partial(nn.MaxPool2d, 2, 2, 1, ceil_mode=True)),
    ((1, 5), "avgpool(2, s=2, p=1, ceil=true)", (1, 3), partial(nn.AvgPool1d, 2, 2, 1, ceil_mode=True)),
    ((1, 2), "maxpool(2, s=3, p=1, ceil=true)", (1, 1), partial(nn.MaxPool1d, 2, 3, 1, ceil_mode=True)),
    ((2, 5, 7, 9), "maxpool(2, s=2, p=1, ceil=true)", (2, 3, 4, 5),
     partial(nn.MaxPool3d, 2, 2, 1, ceil_mode=True)),
    ((8, 14, 14), "maxpool(3, s=2, p=1, d=2, ceil=true)", (8, 7, 7), partial(nn.MaxPool2d, 3, 2, 1, 2, ceil_mode=True)),
    ((8, 15, 15), "maxpool(3, s=2, p=1, d=2, ceil=true)", (8, 7, 7), partial(nn.MaxPool2d, 3, 2, 1, 2, ceil_mode=True)),
    # adaptive and global pooling
    ((8, 13, 17), "adaptive_avgpool((5, 7))", (8, 5, 7), partial(nn.AdaptiveAvgPool2d, (5, 7))),
    ((8, 3, 3), "adaptive_avgpool(5)", (8, 5, 5), partial(nn.AdaptiveAvgPool2d, 5)),
    ((8, 20), "adaptive_maxpool(6)", (8, 6), partial(nn.AdaptiveMaxPool1d, 6)),
    ((8, 5, 13, 17), "adaptive_avgpool((1, 2, 3))", (8, 1, 2, 3), partial(nn.AdaptiveAvgPool3d, (1, 2, 3))),
    ((8, 13, 17), "gap", (8, 1, 1), partial(nn.AdaptiveAvgPool2d, 1)),
    ((8, 13), "gap", (8, 1), partial(nn.AdaptiveAvgPool1d, 1)),
    ((8, 5, 13, 17), "gmp", (8, 1, 1, 1), partial(nn.AdaptiveMaxPool3d, 1)),
    # flatten and linear
    ((16, 4, 4), "flatten", (256,), partial(nn.Flatten, 1)),
    ((16, 7), "flatten", (112,), partial(nn.Flatten, 1)),
    ((256,), "linear(10)", (10,), partial(nn.Linear, 256, 10)),
    ((256,), "linear(10, bias=false)", (10,), partial(nn.Linear, 256, 10, bias=False)),
    # up-sampling, nearest and (bi/tri)linear, by integer and float scales (floor of L * scale)
    ((8, 5, 6), "upsample(2)", (8, 10, 12), partial(nn.Upsample, scale_factor=2.0)),
    ((8, 5, 6), "upsample((2, 3))", (8, 10, 18), partial(nn.Upsample, scale_factor=(2.0, 3.0))),
    ((8, 5, 6), "upsample(1.5, mode=\"linear\")", (8, 7, 9), partial(nn.Upsample, scale_factor=1.5, mode="bilinear")),
    ((8, 5), "upsample(3, mode=\"linear\")", (8, 15), partial(nn.Upsample, scale_factor=3.0, mode="linear")),
    ((2, 7), "upsample(1.3)", (2, 9), partial(nn.Upsample, scale_factor=1.3)),
    ((2, 3, 4, 5), "upsample(2, mode=\"linear\")", (2, 6, 8, 10),
     partial(nn.Upsample, scale_factor=2.0, mode="trilinear")),
    # channel shuffle
    ((8, 5, 6), "channel_shuffle(4)", (8, 5, 6), partial(nn.ChannelShuffle, 4)),
    ((6, 5), "channel_shuffle(3)", (6, 5), partial(nn.ChannelShuffle, 3)),
    # norms: parameters, and buffers (running statistics and the batch counter)
    ((32, 8, 8), "bn", (32, 8, 8), partial(nn.BatchNorm2d, 32)),
    ((32,), "bn(affine=false)", (32,), partial(nn.BatchNorm1d, 32, affine=False)),
    ((32, 10), "bn(track=false)", (32, 10), partial(nn.BatchNorm1d, 32, track_running_stats=False)),
    ((4, 3, 5, 5), "bn", (4, 3, 5, 5), partial(nn.BatchNorm3d, 4)),
    ((32, 8, 8), "gn(8)", (32, 8, 8), partial(nn.GroupNorm, 8, 32)),
    ((12, 8), "gn(12, affine=false)", (12, 8), partial(nn.GroupNorm, 12, 12, affine=False)),
    ((32, 8, 8), "instancenorm(affine=true)", (32, 8, 8), partial(nn.InstanceNorm2d, 32, affine=True)),
    ((6, 9), "instancenorm(track=true)", (6, 9), partial(nn.InstanceNorm1d, 6, track_running_stats=True)),
    ((32,), "ln", (32,), partial(nn.LayerNorm, 32)),
    ((16, 5, 7), "ln", (16, 5, 7), partial(ChannelLayerNorm, 16)),
]

ERRORS: list[tuple[Shape, str, str, Build | None]] = [
    # an output size below 1 (torch refuses too)
    ((3, 4, 4), "conv(8, 5)", "E201", partial(nn.Conv2d, 3, 8, 5)),
    ((3, 4, 40), "conv(8, (1, 5), d=(1, 10))", "E201", partial(nn.Conv2d, 3, 8, (1, 5), dilation=(1, 10))),
    ((1, 2, 8, 8), "conv(4, 3)", "E201", partial(nn.Conv3d, 1, 4, 3)),
    ((4, 2, 2), "maxpool(3)", "E201", partial(nn.MaxPool2d, 3)),
    ((4, 1), "conv_transpose(2, 1, p=1)", "E201", partial(nn.ConvTranspose1d, 4, 2, 1, padding=1)),
    ((2, 2, 8, 8), "avgpool(3, p=1)", "E201", partial(nn.AvgPool3d, 3, padding=1)),
    # groups that do not divide the channels
    ((30, 16, 16), "conv(64, 3, groups=4)", "E202", partial(nn.Conv2d, 30, 64, 3, groups=4)),
    ((32, 16, 16), "conv(30, 3, groups=4)", "E202", partial(nn.Conv2d, 32, 30, 3, groups=4)),
    ((32, 10), "pwconv(16, groups=3)", "E202", partial(nn.Conv1d, 32, 16, 1, groups=3)),
    ((16, 8), "conv_transpose(6, 2, groups=4)", "E202", partial(nn.ConvTranspose1d, 16, 6, 2, groups=4)),
    ((30, 8, 8), "gn(8)", "E202", partial(nn.GroupNorm, 8, 30)),
    ((8, 5, 6), "channel_shuffle(3)", "E202", None),
    # a linear layer on a tensor that is not flat
    ((16, 4, 4), "linear(10)", "E206", None),
    ((16, 1, 1), "linear(10)", "E206", None),
    # a layer that does not fit the tensor's rank
    ((256,), "conv(8, 1)", "E207", None),
    ((256,), "maxpool(2)", "E207", None),
    ((256,), "upsample(2)", "E207", None),
    ((256,), "gap", "E207", None),
    ((8, 5), "linear(3)", "E206", None),
    ((16,), "instancenorm", "E207", None),
    ((16,), "dwconv(3)", "E207", None),
    # padding that cannot be honoured
    ((3, 32, 32), "conv(8, 4, p=same)", "E208", None),
    ((4, 10), "conv(4, 2, p=same)", "E208", None),
    ((4, 10), "maxpool(2, p=same)", "E208", None),
    ((8, 8, 8), "maxpool(3, p=2)", "E208", partial(nn.MaxPool2d, 3, padding=2)),
    ((8, 9), "maxpool(3, p=2, d=2)", "E208", partial(nn.MaxPool1d, 3, padding=2, dilation=2)),
    ((16, 8, 8), "conv_transpose(8, 3, s=2, op=2)", "E208", partial(nn.ConvTranspose2d, 16, 8, 3, 2, output_padding=2)),
]


def _spec(shape: Shape, step: str) -> str:
    return f"network n {{ input {list(shape)}; {step} }}"


def _ids(cases: list[tuple[Shape, str, object, object]]) -> list[str]:
    return [f"{step}@{list(shape)}" for shape, step, _, _ in cases]


@pytest.mark.parametrize(("shape", "step", "expected", "build"), VALID, ids=_ids(VALID))
def test_static_shape_and_parameters_match_torch(shape: Shape, step: str, expected: Shape, build: Build) -> None:
    result = archdsl.check(source=_spec(shape, step))
    assert result.ok, [d.message for d in result.diagnostics]
    network = result.networks[0]
    assert network.output.shape == expected
    module = build().eval()
    with torch.no_grad():
        out = module(torch.randn(2, *shape))
    assert tuple(out.shape[1:]) == expected, "torch computes the same shape"
    assert ir.count_params(network.root) == sum(p.numel() for p in module.parameters())
    assert ir.count_buffers(network.root) == sum(b.numel() for b in module.buffers())


@pytest.mark.parametrize(("shape", "step", "code", "build"), ERRORS, ids=_ids(ERRORS))
def test_shape_errors(shape: Shape, step: str, code: str, build: Build | None) -> None:
    result = archdsl.check(source=_spec(shape, step))
    errors = [d for d in result.diagnostics if d.is_error]
    assert [d.code.id for d in errors] == [code], [d.message for d in errors]
    assert errors[0].span is not None and errors[0].span.line == 1
    assert errors[0].span.col > len("network n { input ")
    if build is not None:
        with pytest.raises((RuntimeError, ValueError)), torch.no_grad():
            build()(torch.randn(1, *shape))


def test_errors_name_the_numbers_in_the_formula() -> None:
    result = archdsl.check(source=_spec((3, 4, 4), "conv(8, 5, s=1, p=0)"))
    [error] = result.diagnostics
    assert "floor((4 + 2*0 - (1*(5-1)+1)) / 1) + 1" in (error.help or "")
    assert error.message.endswith("is 0: the input is 4 but the kernel spans 5")


def test_every_layer_step_of_a_chain_carries_its_type() -> None:
    """The IR keeps the type after each step, so a table case also checks the types between steps."""
    spec = "network n { input [3, 32, 32]; conv(8, 3, s=2); maxpool(2, ceil=true); gap }"
    network = archdsl.load_network(source=spec)
    assert [child.output.shape for child in network.root.children] == [(8, 15, 15), (8, 8, 8), (8, 1, 1)]


# (input, step, the W301 message's "skips the last N position(s)" where input rows are lost, else None)
STRIDE_WARNINGS: list[tuple[Shape, str, str | None]] = [
    ((3, 8), "conv(4, 3, s=2)", "skips the last 1 position of the input along length"),
    ((3, 8), "conv(4, 3, s=2, p=1)", None),  # the skipped position is the right padding
    ((3, 224, 224), "conv(64, 7, s=2, p=3)", None),  # ResNet's stem
    ((3, 224, 224), "conv(64, 11, s=4, p=2)", None),  # AlexNet's: 1 skipped, 2 of padding
    ((3, 12, 12), "conv(4, 3, s=4, p=1)", "skips the last 2 positions of the input along height and width"),
    ((3, 12, 13), "maxpool(3, s=4, p=1)", "skips the last 2 positions of the input along height"),
    ((3, 8, 8, 9), "conv(4, 3, s=2, d=2)", "skips the last 1 position of the input along depth and height"),
    ((3, 12, 13), "maxpool(3, s=4, p=1, ceil=true)", None),  # ceil mode takes a last partial window
]


@pytest.mark.parametrize(("shape", "step", "message"), STRIDE_WARNINGS, ids=[s for _, s, _ in STRIDE_WARNINGS])
def test_stride_warning_only_where_input_rows_are_dropped(shape: Shape, step: str, message: str | None) -> None:
    result = archdsl.check(source=f"network n {{ input {list(shape)}; {step} }}")
    assert result.ok
    warnings = [d.message for d in result.diagnostics if d.code.id == "W301"]
    assert warnings == ([] if message is None else [f"{step.split('(')[0]}'s stride {message}"])
