"""The model zoo equals the reference implementations: counts, names and outputs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

import archdsl
from archdsl import ir
from archdsl.reports.report import build_report

ROOT = Path(__file__).resolve().parent.parent
# Measured counts of the reference models, kept in the repository with how each was measured.
REFERENCE = json.loads((ROOT / "tests" / "references" / "counts.json").read_text())
SPECS = {p.stem: p for p in (ROOT / "specs").glob("*.arch")}
# The reference of each spec where its name differs (timm's SE-ResNet-50).
REFERENCE_NAMES = {"seresnet50": "seresnet50_timm"}
COUNTED = sorted(s for s in SPECS if REFERENCE_NAMES.get(s, s) in REFERENCE["models"])
SPEC_LIST = ["lenet5", "alexnet", "vgg16", "googlenet", "resnet18", "resnet34", "resnet50", "resnet101",
             "resnet152", "resnext50_32x4d", "densenet121", "densenet169", "densenet201", "seresnet50",
             "mobilenet_v2", "convnext_tiny", "convnext_small"]
# Specs whose step names are torchvision's, so its state_dict loads as is.
TORCHVISION = {name: {} for name in ["alexnet", "vgg16", "resnet18", "resnet34", "resnet50", "resnet101",
                                     "resnet152", "resnext50_32x4d", "densenet121", "densenet169", "densenet201",
                                     "mobilenet_v2"]}
TORCHVISION["googlenet"] = {"aux_logits": False, "init_weights": True}


def test_every_spec_but_lenet_has_a_measured_reference() -> None:
    assert set(SPECS) - set(COUNTED) == {"lenet5"}, "LeNet-5 is checked against the paper's count below"
    for entry in REFERENCE["models"].values():
        assert entry["source"] and entry["input"] and entry["params"] > 0 and entry["fvcore_flops"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "googlenet_aux"])
def test_the_measuring_script_reproduces_the_reference_counts(name: str) -> None:
    pytest.importorskip("torchvision")
    from references.measure import measure

    entry = REFERENCE["models"][name]
    assert measure(name, entry["input"]) == {"params": entry["params"], "fvcore_flops": entry["fvcore_flops"]}


def test_the_zoo_is_complete() -> None:
    assert sorted(SPECS) == sorted(SPEC_LIST)


def test_lenet5_has_the_papers_parameter_count() -> None:
    assert ir.count_params(archdsl.load_network(SPECS["lenet5"]).root) == 61_706


@pytest.mark.parametrize("name", COUNTED)
def test_parameter_count_equals_the_reference(name: str) -> None:
    network = archdsl.load_network(SPECS[name])
    assert ir.count_params(network.root) == REFERENCE["models"][REFERENCE_NAMES.get(name, name)]["params"]


@pytest.mark.slow
@pytest.mark.parametrize("name", COUNTED)
def test_fvcore_flops_of_the_built_module_equal_the_reference(name: str) -> None:
    fvcore = pytest.importorskip("fvcore.nn")
    reference = REFERENCE["models"][REFERENCE_NAMES.get(name, name)]
    model = archdsl.build(SPECS[name]).eval()
    counter = fvcore.FlopCountAnalysis(model, torch.randn(1, *reference["input"]))
    counter.unsupported_ops_warnings(False)
    counter.uncalled_modules_warnings(False)
    assert counter.total() == reference["fvcore_flops"]
    assert build_report(archdsl.load_network(SPECS[name])).flops == reference["fvcore_flops"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(TORCHVISION) & set(SPECS)))
def test_torchvision_weights_load_by_name_and_give_the_same_outputs(name: str) -> None:
    torchvision = pytest.importorskip("torchvision")
    reference = getattr(torchvision.models, name)(weights=None, **TORCHVISION[name]).eval()
    ours = archdsl.build(SPECS[name]).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max().item() < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("name", ["convnext_tiny", "convnext_small"])
def test_torchvision_convnext_weights_load_through_the_documented_mapping(name: str) -> None:
    torchvision = pytest.importorskip("torchvision")
    from archdsl.back.weights import convnext_from_torchvision

    reference = getattr(torchvision.models, name)(weights=None).eval()
    ours = archdsl.build(SPECS[name]).eval()
    ours.load_state_dict(convnext_from_torchvision(reference.state_dict()), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max().item() < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "densenet121", "googlenet", "mobilenet_v2"])
def test_forward_runs_the_same_operators_as_torchvision(name: str) -> None:
    """The same aten calls, at least as many of them in place: forward speed differs only by call overhead."""
    torchvision = pytest.importorskip("torchvision")
    x = torch.randn(1, 3, 224, 224)

    def operators(model: torch.nn.Module) -> Counter[str]:
        graph = torch.export.export(model.eval(), (x,)).graph
        return Counter(str(node.target) for node in graph.nodes if node.op == "call_function")

    def in_place(ops: Counter[str]) -> int:
        return sum(count for op, count in ops.items() if "_." in op)

    def either_form(ops: Counter[str]) -> Counter[str]:
        merged: Counter[str] = Counter()
        for op, count in ops.items():
            merged[op.replace("_.", ".")] += count
        return merged

    ours = operators(archdsl.build(SPECS[name], init=False))
    theirs = operators(getattr(torchvision.models, name)(weights=None, **TORCHVISION[name]))
    assert either_form(ours) == either_form(theirs)
    assert in_place(ours) >= in_place(theirs)
