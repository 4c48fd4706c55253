"""The model zoo equals the reference implementations: counts, names and outputs."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from emitting import structure, tensors_of

import archdsl
from archdsl import ir
from archdsl.back.weights import lraspp_from_torchvision
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
             "mobilenet_v2", "convnext_tiny", "convnext_small", "shufflenet_v2_x1_0", "googlenet_aux",
             "inception_v3_aux", "resnet50_fpn", "fcn_resnet50", "deeplabv3_resnet50", "lraspp_mobilenet_v3_large"]
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
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
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


# Operators that only describe a tensor again (its axes in another order, a 1x1 weight as a matrix), no work.
VIEWS = frozenset({"aten.permute.default", "aten.movedim.int", "aten.flatten.using_ints"})


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "googlenet", "mobilenet_v2", "convnext_tiny"])  # DenseNet-121: 8 s
def test_forward_runs_the_same_operators_as_torchvision(name: str) -> None:
    """The same aten calls but views, at least as many of them in place: speed differs only by call overhead.

    ConvNeXt's point-wise layers are 1x1 convolutions (the spec's keys and shapes) that run as ``F.linear`` on
    the channels-last tensor ``ChannelLayerNorm`` leaves, the ``addmm`` of torchvision's ``nn.Linear``."""
    torchvision = pytest.importorskip("torchvision")
    x = torch.randn(1, 3, 64, 64)

    def operators(model: torch.nn.Module) -> Counter[str]:
        graph = torch.export.export(model.eval(), (x,)).graph
        return Counter(str(node.target) for node in graph.nodes if node.op == "call_function")

    def in_place(ops: Counter[str]) -> int:
        return sum(count for op, count in ops.items() if "_." in op)

    def working(ops: Counter[str]) -> Counter[str]:
        """The operators that compute, an in-place form counted as the other."""
        merged: Counter[str] = Counter()
        for op, count in ops.items():
            if op not in VIEWS:
                merged[op.replace("_.", ".")] += count
        return merged

    ours = operators(archdsl.build(SPECS[name], init=False))
    theirs = operators(getattr(torchvision.models, name)(weights=None, **TORCHVISION.get(name, {})))
    assert working(ours) == working(theirs)
    assert in_place(ours) >= in_place(theirs)


def _fpn() -> torch.nn.Module:
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

    model = resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=5)
    for module in model.modules():  # FrozenBatchNorm2d starts as the identity: give it statistics to apply
        if type(module).__name__ == "FrozenBatchNorm2d":
            for name in ("weight", "bias", "running_mean"):
                getattr(module, name).normal_()
            module.running_var.uniform_(0.5, 2.0)
    return model


def _torchvision(name: str, **kwargs: object) -> Callable[[], torch.nn.Module]:
    def make() -> torch.nn.Module:
        import torchvision

        target: Any = torchvision.models
        for part in name.split("."):
            target = getattr(target, part)
        return target(weights=None, **kwargs)
    return make


# The graph references (issue 11): how torchvision makes each, how its weights reach ours, and the smallest
# input at which every output of both is computed in train() and eval() (Inception's training-only head
# needs 299).
GRAPHS: dict[str, tuple[Callable[[], torch.nn.Module], Callable[[Any], Any], tuple[int, ...]]] = {
    "shufflenet_v2_x1_0": (_torchvision("shufflenet_v2_x1_0"), dict, (3, 32, 32)),
    "googlenet_aux": (_torchvision("googlenet", aux_logits=True, init_weights=True), dict, (3, 64, 64)),
    "inception_v3_aux": (_torchvision("inception_v3", aux_logits=True, init_weights=True), dict, (3, 299, 299)),
    "fcn_resnet50": (_torchvision("segmentation.fcn_resnet50", weights_backbone=None, aux_loss=True), dict,
                     (3, 32, 32)),
    "deeplabv3_resnet50": (_torchvision("segmentation.deeplabv3_resnet50", weights_backbone=None, aux_loss=True),
                           dict, (3, 32, 32)),
    "lraspp_mobilenet_v3_large": (_torchvision("segmentation.lraspp_mobilenet_v3_large", weights_backbone=None),
                                  lraspp_from_torchvision, (3, 64, 64)),
    "resnet50_fpn": (_fpn, dict, (3, 64, 64)),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_graph_references_load_strictly_and_give_the_same_outputs_in_train_and_eval(name: str) -> None:
    pytest.importorskip("torchvision")
    make, mapping, shape = GRAPHS[name]
    torch.manual_seed(0)
    reference = make()
    ours = archdsl.build(SPECS[name], input_shape=shape)
    ours.load_state_dict(mapping(reference.state_dict()), strict=True)
    for model in (ours, reference):  # train() then differs by batch statistics only
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    x = torch.randn(2, *shape)
    with torch.no_grad():
        for training in (False, True):
            got, expected = ours.train(training)(x), reference.train(training)(x)
            assert structure(got) == structure(expected), training
            for a, b in zip(tensors_of(got), tensors_of(expected), strict=True):
                assert (a - b).abs().max().item() < 1e-4, training
