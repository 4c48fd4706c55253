"""The model zoo equals the reference implementations: counts, names and outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import archdsl
from archdsl import ir

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = json.loads((ROOT.parent / "shared" / "refs" / "reference-counts.json").read_text()) \
    if (ROOT.parent / "shared" / "refs" / "reference-counts.json").exists() else None
SPECS = {p.stem: p for p in (ROOT / "specs").glob("*.arch")}
COUNTED = sorted(set(SPECS) & set(REFERENCE["models"] if REFERENCE else {}))
TORCHVISION = {
    "resnet50": {},
    "resnet152": {},
    "densenet121": {},
    "googlenet": {"aux_logits": False, "init_weights": True},
}


def test_reference_counts_are_available() -> None:
    assert REFERENCE is not None, "shared/refs/reference-counts.json sits beside the repository"
    assert {"resnet50", "densenet121", "googlenet", "convnext_tiny"} <= set(COUNTED)


@pytest.mark.parametrize("name", COUNTED)
def test_parameter_count_equals_the_reference(name: str) -> None:
    network = archdsl.load_network(SPECS[name])
    assert ir.count_params(network.root) == REFERENCE["models"][name]["params"]


@pytest.mark.slow
@pytest.mark.parametrize("name", COUNTED)
def test_fvcore_flops_of_the_built_module_equal_the_reference(name: str) -> None:
    fvcore = pytest.importorskip("fvcore.nn")
    model = archdsl.build(SPECS[name]).eval()
    counter = fvcore.FlopCountAnalysis(model, torch.randn(1, *REFERENCE["models"][name]["input"]))
    counter.unsupported_ops_warnings(False)
    counter.uncalled_modules_warnings(False)
    assert counter.total() == REFERENCE["models"][name]["fvcore_flops"]


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
