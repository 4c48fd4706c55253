"""One record per layer kind: every fact present, and each kind's facts against torch and fvcore."""

from __future__ import annotations

import dataclasses
import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import pytest
import torch

import archdsl
from archdsl import ir
from archdsl.ir.field import Field
from archdsl.ir.layers import LAYERS, LayerKind
from archdsl.reports.report import build_report

ROOT = Path(__file__).resolve().parent.parent


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference", ROOT / "docs" / "reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLES = _reference().EXAMPLES


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_kind_has_every_fact(name: str) -> None:
    kind = LAYERS[name]
    for field in dataclasses.fields(LayerKind):
        value = getattr(kind, field.name)
        if field.name == "cancels_bias":
            continue  # None means: not a norm that cancels a bias
        assert value is not None and value != "", f"{name} lacks {field.name}"
    assert kind.ranks and kind.family in ("convolution", "normalisation", "activation", "pooling",
                                          "fully connected", "regularisation", "reshape")
    assert name in EXAMPLES, f"{name} has no example in docs/reference.py"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_each_kind_builds_what_its_record_says(name: str) -> None:
    """Output shape, parameters and buffers of the module, fvcore's FLOPs, and a receptive field of the input's rank."""
    call, shape = EXAMPLES[name]
    network = archdsl.load_network(source=f"network n {{ input {shape}; {call} }}")
    [layer] = list(ir.layers_in(network.root))
    model = archdsl.build(source=f"network n {{ input {shape}; {call} }}").eval()
    x = torch.randn(2, *network.input.shape)
    with torch.no_grad():
        assert tuple(model(x).shape[1:]) == network.output.shape
    assert sum(p.numel() for p in model.parameters()) == layer.params
    assert sum(b.numel() for b in model.buffers()) == layer.buffers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis

        counter = FlopCountAnalysis(model, x[:1])
        counter.unsupported_ops_warnings(False)
        counter.uncalled_modules_warnings(False)
        assert counter.total() == build_report(network).flops
    rank = network.input.rank
    field = LAYERS[name].receptive(dict(layer.args), layer.input, layer.output, Field.start(rank))
    assert isinstance(field, Field) and len(field.r) == len(field.j) == rank


def test_pixel_shuffle_and_unshuffle_are_inverse_and_checked() -> None:
    spec = "network n { input [16, 8, 6]; pixel_shuffle(2); pixel_unshuffle(2) }"
    model = archdsl.build(source=spec)
    x = torch.randn(1, 16, 8, 6)
    assert torch.equal(model(x), x)
    report = build_report(archdsl.load_network(source="network n { input [16, 8, 6]; conv(16, 3); pixel_shuffle(2) }"))
    assert (report.rows[-1].receptive_field, report.rows[-1].jump) == ((3, 3), (0.5, 0.5))
    bad = archdsl.check(source="network n { input [6, 8, 8]; pixel_shuffle(2) }").diagnostics
    assert [(d.code.id, d.message) for d in bad] == [("E202", "pixel_shuffle r*r=4 does not divide its 6 channels")]
    odd = archdsl.check(source="network n { input [4, 7, 8]; pixel_unshuffle(2) }").diagnostics
    assert [(d.code.id, d.message) for d in odd] == [("E202", "pixel_unshuffle r=2 does not divide its input height 7")]
