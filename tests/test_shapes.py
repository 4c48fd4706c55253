"""Shape rules, table-driven: archdsl's static types and parameter counts against torch on real tensors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import archdsl
from archdsl import ir

# (input type, spec step, torch module or None, expected output type or error code)
CASES: list[tuple[tuple[int, ...], str, nn.Module | None, tuple[int, ...] | str]] = [
    # 1-D, 2-D and 3-D by the input's rank
    ((1, 100), "conv(8, 5)", nn.Conv1d(1, 8, 5), (8, 96)),
    ((3, 32, 32), "conv(8, 3)", nn.Conv2d(3, 8, 3), (8, 30, 30)),
    ((2, 8, 16, 16), "conv(4, 3, p=1)", nn.Conv3d(2, 4, 3, padding=1), (4, 8, 16, 16)),
    # stride, padding, dilation, per-axis values
    ((3, 33, 33), "conv(8, 3, s=2)", nn.Conv2d(3, 8, 3, stride=2), (8, 16, 16)),
    ((3, 32, 32), "conv(8, 3, s=2, p=1)", nn.Conv2d(3, 8, 3, stride=2, padding=1), (8, 16, 16)),
    ((3, 32, 32), "conv(8, 3, d=2)", nn.Conv2d(3, 8, 3, dilation=2), (8, 28, 28)),
    ((3, 32, 32), "conv(8, 3, p=same, d=3)", nn.Conv2d(3, 8, 3, padding=3, dilation=3), (8, 32, 32)),
    ((3, 32, 31), "conv(8, (3, 5), s=(1, 2), p=(1, 2))", nn.Conv2d(3, 8, (3, 5), (1, 2), (1, 2)), (8, 32, 16)),
    ((3, 32, 32), "conv(8, 7, s=2, p=same)", nn.Conv2d(3, 8, 7, 2, 3), (8, 16, 16)),
    ((3, 32, 32), "conv(8, 4, p=same)", None, "E208"),
    ((3, 4, 4), "conv(8, 5)", None, "E201"),
    ((3, 4, 40), "conv(8, (1, 5), d=(1, 10))", None, "E201"),
    # groups, depth-wise, point-wise
    ((32, 16, 16), "conv(64, 3, p=1, groups=8)", nn.Conv2d(32, 64, 3, padding=1, groups=8), (64, 16, 16)),
    ((30, 16, 16), "conv(64, 3, groups=4)", None, "E202"),
    ((32, 16, 16), "conv(30, 3, groups=4)", None, "E202"),
    ((32, 16, 16), "dwconv(3, p=1)", nn.Conv2d(32, 32, 3, padding=1, groups=32), (32, 16, 16)),
    ((32, 16, 16), "dwconv(5, s=2, p=2, mult=2)", nn.Conv2d(32, 64, 5, 2, 2, groups=32), (64, 8, 8)),
    ((32, 16, 16), "pwconv(64, bias=false)", nn.Conv2d(32, 64, 1, bias=False), (64, 16, 16)),
    # transposed
    ((16, 8, 8), "conv_transpose(8, 2, s=2)", nn.ConvTranspose2d(16, 8, 2, 2), (8, 16, 16)),
    ((16, 8, 8), "conv_transpose(8, 3, s=2, p=1, op=1)", nn.ConvTranspose2d(16, 8, 3, 2, 1, 1), (8, 16, 16)),
    ((16, 10), "conv_transpose(4, 4, s=3, d=2, groups=2)", nn.ConvTranspose1d(16, 4, 4, 3, groups=2, dilation=2),
     (4, 34)),
    ((16, 8, 8), "conv_transpose(8, 3, s=2, op=2)", None, "E208"),
    # pooling, with PyTorch's ceil mode
    ((8, 112, 112), "maxpool(3, s=2, ceil=true)", nn.MaxPool2d(3, 2, ceil_mode=True), (8, 56, 56)),
    ((8, 112, 112), "maxpool(3, s=2)", nn.MaxPool2d(3, 2), (8, 55, 55)),
    ((8, 6, 6), "maxpool(2, s=2, p=1, ceil=true)", nn.MaxPool2d(2, 2, 1, ceil_mode=True), (8, 4, 4)),
    ((8, 5, 5), "maxpool(2, s=2, p=1, ceil=true)", nn.MaxPool2d(2, 2, 1, ceil_mode=True), (8, 3, 3)),
    ((8, 14, 14), "maxpool(3, s=2, p=1, d=2, ceil=true)", nn.MaxPool2d(3, 2, 1, 2, ceil_mode=True), (8, 7, 7)),
    ((8, 15, 15), "maxpool(3, s=2, p=1, d=2, ceil=true)", nn.MaxPool2d(3, 2, 1, 2, ceil_mode=True), (8, 7, 7)),
    ((8, 7, 7), "avgpool(2, ceil=true)", nn.AvgPool2d(2, ceil_mode=True), (8, 4, 4)),
    ((8, 7, 7), "avgpool(3, s=2, p=1, count_include_pad=false)", nn.AvgPool2d(3, 2, 1, count_include_pad=False),
     (8, 4, 4)),
    ((8, 9), "avgpool(3)", nn.AvgPool1d(3), (8, 3)),
    ((8, 4, 8, 8), "maxpool(2)", nn.MaxPool3d(2), (8, 2, 4, 4)),
    ((8, 8, 8), "maxpool(3, p=2)", None, "E208"),
    ((8, 13, 17), "adaptive_avgpool((5, 7))", nn.AdaptiveAvgPool2d((5, 7)), (8, 5, 7)),
    ((8, 13, 17), "gap", nn.AdaptiveAvgPool2d(1), (8, 1, 1)),
    ((8, 5, 13, 17), "gmp", nn.AdaptiveMaxPool3d(1), (8, 1, 1, 1)),
    # norms
    ((32, 8, 8), "bn", nn.BatchNorm2d(32), (32, 8, 8)),
    ((32,), "bn(affine=false)", nn.BatchNorm1d(32, affine=False), (32,)),
    ((32, 8, 8), "gn(8)", nn.GroupNorm(8, 32), (32, 8, 8)),
    ((30, 8, 8), "gn(8)", None, "E202"),
    ((32, 8, 8), "instancenorm(affine=true)", nn.InstanceNorm2d(32, affine=True), (32, 8, 8)),
    ((32,), "ln", nn.LayerNorm(32), (32,)),
    # flat layers, layout
    ((16, 4, 4), "flatten", nn.Flatten(1), (256,)),
    ((256,), "linear(10)", nn.Linear(256, 10), (10,)),
    ((16, 4, 4), "linear(10)", None, "E206"),
    ((256,), "conv(8, 1)", None, "E207"),
    ((8, 5, 6), "upsample(2)", nn.Upsample(scale_factor=2.0), (8, 10, 12)),
    ((8, 5, 6), "upsample(1.5, mode=\"linear\")", nn.Upsample(scale_factor=1.5, mode="bilinear"), (8, 7, 9)),
    ((8, 5), "upsample(3, mode=\"linear\")", nn.Upsample(scale_factor=3.0, mode="linear"), (8, 15)),
    ((8, 5, 6), "channel_shuffle(4)", nn.ChannelShuffle(4), (8, 5, 6)),
    ((8, 5, 6), "channel_shuffle(3)", None, "E202"),
]


def _spec(shape: tuple[int, ...], step: str) -> str:
    return f"network n {{ input {list(shape)}; {step} }}"


@pytest.mark.parametrize(("shape", "step", "module", "expected"), CASES, ids=[f"{c[1]}@{c[0]}" for c in CASES])
def test_static_shape_matches_torch(shape: tuple[int, ...], step: str, module: nn.Module | None,
                                    expected: tuple[int, ...] | str) -> None:
    result = archdsl.check(source=_spec(shape, step))
    if isinstance(expected, str):
        assert [d.code.id for d in result.diagnostics if d.is_error] == [expected]
        return
    assert result.ok, [d.message for d in result.diagnostics]
    network = result.networks[0]
    assert network.output.shape == expected
    assert module is not None
    out = module.eval()(torch.randn(2, *shape))
    assert tuple(out.shape[1:]) == expected, "torch agrees with the expected shape"
    assert ir.count_params(network.root) == sum(p.numel() for p in module.parameters())
    assert ir.count_buffers(network.root) == sum(b.numel() for b in module.buffers())
