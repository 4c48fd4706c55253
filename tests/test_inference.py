"""The inference build (issue 12, item 6): batch norms folded into the convolutions before them, dropout gone,
outputs equal to the eval-mode module, on generated specs and against torchvision."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import specgen
import torch
import torchvision
from emitting import network_class, structure, tensors_of
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from torch import nn

import archdsl
from archdsl.api import python_source
from archdsl.back.runtime import for_inference
from archdsl.ir import folding
from archdsl.reports.report import build_report

ROOT = Path(__file__).resolve().parent.parent
RESNET_BLOCK = """network small(classes=10) {
    input [3, 16, 16]
    conv(8, 3, p=1, bias=false); bn; relu
    residual { conv(8, 3, p=1); bn; relu; dropout(0.2); conv(8, 3, p=1); bn }
    mark: conv(16, 1); bn
    gap; flatten; dropout(0.5); linear(classes)
}
"""


def _trained(module: nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    """``module``'s state_dict with batch norm statistics and affine terms as training leaves them, not as they
    start (unit scale, zero mean: a fold of those would hide a wrong formula)."""
    generator = torch.Generator().manual_seed(seed)
    state = module.state_dict()
    for key, value in state.items():
        if key.endswith(("running_mean", "bias")) and value.is_floating_point():
            value.copy_(torch.randn(value.shape, generator=generator) * 0.2)
        elif key.endswith("running_var"):
            value.copy_(torch.rand(value.shape, generator=generator) + 0.5)
    return state


def _equal_outputs(eval_module: nn.Module, fused: nn.Module, x: torch.Tensor, rtol: float = 1e-5) -> None:
    with torch.no_grad():
        expected, got = eval_module.eval()(x), fused(x)
    assert structure(expected) == structure(got)
    for a, b in zip(tensors_of(expected), tensors_of(got), strict=True):
        assert (a - b).abs().max() <= rtol * a.abs().max() + 1e-6, float((a - b).abs().max() / a.abs().max())


def _emitted_for_inference(text: str, network: str | None, weights: dict[str, torch.Tensor]) -> nn.Module:
    """The network class of ``archdsl compile --inference``, its weights loaded, through its ``for_inference``."""
    result = archdsl.check(source=text, network=network)
    source = python_source(result, result.networks[0], "spec.arch", inference=True)
    model = network_class(source)()
    model.load_state_dict(weights)
    namespace = {"__name__": "inference"}
    exec(compile(source, "<inference>", "exec"), namespace)
    return namespace["for_inference"](model)  # type: ignore[operator, no-any-return]


def test_the_fused_module_gives_the_eval_outputs_with_fewer_modules() -> None:
    model = archdsl.build(source=RESNET_BLOCK)
    weights = _trained(model)
    fused = archdsl.build(source=RESNET_BLOCK, weights=weights, inference=True)
    _equal_outputs(model, fused, torch.randn(4, 3, 16, 16))
    kinds = [type(m).__name__ for m in fused.modules()]
    assert "BatchNorm2d" not in kinds and "Dropout" not in kinds and kinds.count("Identity") == 6  # 4 norms, 2 drops
    assert fused.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert list(fused.state_dict()) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight",
                                        "conv3.bias", "mark.weight", "mark.bias", "linear1.weight", "linear1.bias"]


def test_the_report_states_the_fused_parameter_count() -> None:
    network = archdsl.load_network(source=RESNET_BLOCK)
    fused = archdsl.build(source=RESNET_BLOCK, inference=True)
    report = build_report(network)
    assert report.fused_params == sum(p.numel() for p in fused.parameters()) != report.params
    # three norms of 8 and one of 16 lose scale and shift (2 * 40); the bias-free stem conv gains 8
    assert report.params - report.fused_params == 2 * 40 - 8


def test_weights_load_from_a_saved_file(tmp_path: Path) -> None:
    model = archdsl.build(source=RESNET_BLOCK)
    path = tmp_path / "weights.pt"
    torch.save(_trained(model, seed=3), path)
    fused = archdsl.build(source=RESNET_BLOCK, weights=path, inference=True)
    model.load_state_dict(torch.load(path, weights_only=True))
    _equal_outputs(model, fused, torch.randn(2, 3, 16, 16))


def test_weights_that_do_not_fit_are_one_short_error_naming_the_keys(tmp_path: Path) -> None:
    weights = archdsl.build(source=RESNET_BLOCK, classes=7).state_dict()
    weights["extra.weight"] = torch.zeros(1)
    del weights["conv1.weight"]
    path = tmp_path / "other.pt"
    torch.save(weights, path)
    with pytest.raises(ValueError) as error:
        archdsl.build(source=RESNET_BLOCK, weights=path, inference=True)
    assert str(error.value) == (
        f"the weights in {path} do not fit network `small`: 1 missing: conv1.weight; 1 not in the network: "
        "extra.weight; 2 of another shape: linear1.weight [7, 16], not [10, 16], linear1.bias [7], not [10]. Its "
        "keys are archdsl.build(...).state_dict()'s; archdsl.back.weights maps torchvision's ConvNeXt and LRASPP "
        "weights to them")
    with pytest.raises(TypeError, match="the weights are a Sequential, not a state_dict"):
        archdsl.build(source=RESNET_BLOCK, weights=nn.Sequential())  # type: ignore[arg-type]


def test_what_folds() -> None:
    source = """network n {
        input [3, 16, 16]
        conv(8, 3, p=1); bn(track=false)
        conv(8, 3, p=1); keep: bn
        conv(8, 1); relu; bn
        conv_transpose(8, 2, s=2); frozen_bn
        dwconv(3, p=1); bn; output(@keep, @in)
    }"""
    network = archdsl.load_network(source=source)
    kinds = [(conv.name, norm.name) for conv, norm in folding.pairs(network.root)]
    assert sorted(kinds) == [("conv2", "keep"), ("conv_transpose1", "frozen_bn1"), ("dwconv1", "bn3")]


def test_torch_compile_and_export_trace_the_fused_module() -> None:
    fused = archdsl.build(source=RESNET_BLOCK, inference=True)
    x = torch.randn(2, 3, 16, 16)
    compiled = torch.compile(fused, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        assert torch.allclose(compiled(x), fused(x), rtol=1e-5, atol=1e-6)
        exported = torch.export.export(fused, (x,))
        assert torch.allclose(exported.module()(x), fused(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2", "densenet121", "googlenet_aux"])
def test_both_inference_builds_equal_torchvision_in_eval(name: str) -> None:
    """torchvision's weights, trained-looking statistics, loaded by name into the built module and into the
    emitted class; each inference form gives torchvision's eval outputs within 1e-5 relative, and both fold the
    same norms."""
    options = {"aux_logits": True, "init_weights": True} if name == "googlenet_aux" else {}
    reference = getattr(torchvision.models, name.removesuffix("_aux"))(**options)
    weights = _trained(reference)
    spec = ROOT / "specs" / f"{name}.arch"
    fused = archdsl.build(spec, weights=weights, inference=True)
    emitted = _emitted_for_inference(spec.read_text(), None, weights)
    x = torch.randn(2, 3, 64, 64)
    for_inference(emitted)  # again: nothing more to fold
    _equal_outputs(reference, fused, x)
    _equal_outputs(reference, emitted, x)
    report = build_report(archdsl.load_network(spec))
    assert sum(p.numel() for p in emitted.parameters()) == sum(p.numel() for p in fused.parameters()) == (
        report.fused_params)


def test_the_inference_file_adds_for_inference_and_what_its_forwards_fold() -> None:
    result = archdsl.check(ROOT / "specs" / "resnet50.arch")
    plain = python_source(result, result.networks[0], "specs/resnet50.arch").splitlines()
    inference = python_source(result, result.networks[0], "specs/resnet50.arch", inference=True).splitlines()
    added = [line for line in inference if line not in plain]
    assert added[0] == "from typing import Any" and added[1] == "def for_inference(model: nn.Module) -> nn.Module:"
    assert [line for line in added if "FOLDS = " in line] == [
        '    FOLDS = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))',  # downsample: an nn.Sequential
        '    FOLDS = (("conv1", "bn1"),)']
    assert [line for line in plain if line not in inference] == []


@settings(max_examples=30, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.integers(0, 2**63))
def test_both_inference_builds_equal_eval_on_generated_specs(seed: int) -> None:
    text = specgen.network_spec(random.Random(seed))
    for network in archdsl.check(source=text).networks:
        model = archdsl.build(source=text, network=network.name)
        weights = _trained(model)
        fused = archdsl.build(source=text, network=network.name, weights=weights, inference=True)
        emitted = _emitted_for_inference(text, network.name, weights)
        x = torch.randn(2, *network.input.shape)
        _equal_outputs(model, fused, x, rtol=1e-4)
        _equal_outputs(model, emitted, x, rtol=1e-4)
        # the class folds no norm whose name is computed (`bn{n + 2}` after a loop of n passes): at most as many
        assert sum(p.numel() for p in fused.parameters()) == build_report(network).fused_params, text
        assert sum(p.numel() for p in emitted.parameters()) >= build_report(network).fused_params, text
