"""Weights start as the spec's `init(...)` says, in both back ends; the zoo's as their torchvision references'."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from emitting import network_class
from torch import nn

import archdsl
from archdsl.api import python_source

ROOT = Path(__file__).resolve().parent.parent
CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
# Small members of each family whose torchvision constructor initialises its own way.
FAMILIES = {"resnet18": {}, "resnext50_32x4d": {}, "densenet121": {}, "convnext_tiny": {}, "vgg16": {},
            "mobilenet_v2": {}, "alexnet": {}, "googlenet": {"aux_logits": False, "init_weights": True}}


def _weighted(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(type(m).__name__, m) for m in model.modules() if isinstance(m, (*CONVS, nn.Linear))]


def _agree(ours: torch.Tensor, theirs: torch.Tensor, what: str) -> None:
    """Two samples of the same distribution: means within a few standard errors, standard deviations within 15%."""
    if float(theirs.std()) == 0:
        assert torch.equal(ours, theirs), f"{what}: constant"
        return
    spread = float(theirs.std())
    error = 5 * spread / math.sqrt(theirs.numel())
    assert abs(float(ours.mean()) - float(theirs.mean())) <= error + 1e-6, f"{what}: mean"
    assert abs(float(ours.std()) / spread - 1) < 0.15, f"{what}: std {float(ours.std()):.4g} vs {spread:.4g}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_the_zoo_starts_with_the_weight_statistics_of_torchvision(name: str) -> None:
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    ours = _weighted(archdsl.build(ROOT / "specs" / f"{name}.arch"))
    theirs = _weighted(getattr(torchvision.models, name)(weights=None, **FAMILIES[name]))
    for index, ((kind, mine), (_, reference)) in enumerate(zip(ours, theirs, strict=True)):
        assert mine.weight.numel() == reference.weight.numel()  # ConvNeXt's 1x1 convs are torchvision's linears
        if mine.weight.numel() >= 256:  # a sample large enough to say something
            _agree(mine.weight.detach(), reference.weight.detach(), f"{kind} {index} weight")
        assert (mine.bias is None) == (reference.bias is None)
        if mine.bias is not None and mine.bias.numel() >= 256:
            _agree(mine.bias.detach(), reference.bias.detach(), f"{kind} {index} bias")
        elif mine.bias is not None:
            assert bool(mine.bias.eq(0).all()) == bool(reference.bias.eq(0).all()), f"{kind} {index}: zero bias"


SCHEMES = """
network n {
    input [8, 16, 16]
    init(conv="trunc_normal", linear="normal", std=0.02, bias="default")
    conv(256, 3); gap; flatten; linear(512)
}
"""


def test_the_emitted_class_starts_as_build_does() -> None:
    result = archdsl.check(source=SCHEMES)
    source = python_source(result, result.networks[0], "spec.arch")
    assert 'init_weights(self, conv="trunc_normal", std=0.02, bias="default")' in source
    torch.manual_seed(1)
    built = archdsl.build(source=SCHEMES)
    torch.manual_seed(1)
    emitted = network_class(source)()
    for key, value in built.state_dict().items():
        assert torch.equal(value, emitted.state_dict()[key]), key
    assert abs(float(built.state_dict()["conv1.weight"].std()) - 0.02) < 0.002
    assert abs(float(built.state_dict()["linear1.weight"].std()) - 0.02) < 0.002
    assert not bool(built.state_dict()["linear1.bias"].eq(0).all()), "bias=default keeps PyTorch's"


@pytest.mark.parametrize(("statement", "message"), [
    ('init(conv="he")', 'E105 init `conv` is "he", not a scheme it knows'),
    ("init(std=0)", "E105 init `std` must be a number above 0 and at most 1, got 0"),
    ("init(gain=2)", "E103"),
])
def test_a_wrong_init_is_a_located_error(statement: str, message: str) -> None:
    result = archdsl.check(source=f"network n {{\n    input [3, 8, 8]\n    {statement}\n    conv(4, 1)\n}}\n")
    found = [f"{d.code.id} {d.message}" for d in result.diagnostics]
    assert len(found) == 1 and found[0].startswith(message), found
    assert result.diagnostics[0].span is not None and result.diagnostics[0].span.line == 3


def test_init_belongs_after_the_input_line() -> None:
    result = archdsl.check(source='network n { input [3, 8, 8]; conv(4, 1); init(conv="default") }')
    assert [d.code.id for d in result.diagnostics] == ["E109"]
    assert "right after the network's `input` line" in result.diagnostics[0].message
