"""One record per layer kind: every fact present, and each kind's facts against torch and fvcore."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import msgspec
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
    for field in msgspec.structs.fields(LayerKind):
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


def test_frozen_bn_is_torchvisions_frozen_batch_norm_and_loads_a_trained_batch_norm() -> None:
    from torchvision.ops.misc import FrozenBatchNorm2d

    ours = archdsl.build(source="network n { input [8, 5, 5]; features: frozen_bn }").features
    theirs = FrozenBatchNorm2d(8)
    trained = torch.nn.BatchNorm2d(8)
    torch.manual_seed(0)
    for tensor in (trained.weight, trained.bias, trained.running_mean):
        tensor.data.normal_()
    trained.running_var.data.uniform_(0.5, 2.0)
    for module in (ours, theirs):
        module.load_state_dict(trained.state_dict(), strict=True)  # num_batches_tracked is dropped
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    assert not list(ours.parameters())
    x = torch.randn(2, 8, 5, 5)
    assert torch.equal(ours.train()(x), theirs(x))
    assert torch.allclose(ours(x), trained.eval()(x), atol=1e-6)


def test_a_causal_convolution_pads_the_past_only_and_sees_no_future() -> None:
    spec = "network n { input [4, 32]; c: conv(6, 3, d=2, p=causal) }"
    model = archdsl.build(source=spec).eval()
    conv = model.c
    assert type(conv).__name__ == "PaddedConv1d" and conv.sides == (4, 0)
    assert list(conv.state_dict()) == ["weight", "bias"]
    x = torch.randn(2, 4, 32)
    expected = torch.nn.functional.conv1d(torch.nn.functional.pad(x, (4, 0)), conv.weight, conv.bias, dilation=2)
    assert torch.equal(model(x), expected)
    later = x.clone()
    later[..., 20:] += 1.0
    with torch.no_grad():
        assert torch.equal(model(x)[..., :20], model(later)[..., :20])
    assert archdsl.load_network(source=spec).output.shape == (6, 32)


def test_sides_pad_apart_in_every_rank_and_causal_is_one_dimensional() -> None:
    model = archdsl.build(source="network n { input [3, 9, 8]; c: conv(4, 3, s=2, p=((2, 0), (1, 2))) }").eval()
    x = torch.randn(1, 3, 9, 8)
    padded = torch.nn.functional.pad(x, (1, 2, 2, 0))
    assert torch.equal(model(x), torch.nn.functional.conv2d(padded, model.c.weight, model.c.bias, stride=2))
    equal = archdsl.build(source="network n { input [3, 9, 8]; c: conv(4, 3, p=((1, 1), (1, 1))) }")
    assert type(equal.c) is torch.nn.Conv2d and equal.c.padding == (1, 1)  # equal sides: PyTorch's own padding
    bad = archdsl.check(source="network n { input [3, 9, 8]; conv(4, 3, p=causal) }").diagnostics
    assert [(d.code.id, d.message, d.help) for d in bad] == [
        ("E208", "conv p=causal pads the past of a sequence: it needs 1 spatial axis, got 2",
         "give the sides of each axis: p=((before, after), ...)")]
    negative = archdsl.check(source="network n { input [3, 9]; pad((1, -1)) }").diagnostics
    assert [d.code.id for d in negative] == ["E105"] and "got (1, -1)" in negative[0].message


def test_crops_cut_what_they_say_and_refuse_too_much() -> None:
    model = archdsl.build(source="network n { input [2, 568, 568]; center_crop(392) }")
    x = torch.randn(1, 2, 568, 568)
    assert torch.equal(model(x), x[:, :, 88:480, 88:480])  # U-Net's crop of its first skip
    odd = archdsl.build(source="network n { input [2, 7]; center_crop(4) }")
    y = torch.randn(1, 2, 7)
    assert torch.equal(odd(y), y[..., 1:5])  # an odd remainder is cut after
    sides = archdsl.build(source="network n { input [2, 10, 10]; crop(((1, 2), 3)) }")
    z = torch.randn(1, 2, 10, 10)
    assert torch.equal(sides(z), z[:, :, 1:8, 3:7])
    too_much = archdsl.check(source="network n { input [2, 10, 10]; crop((5, 0)) }").diagnostics
    assert [(d.code.id, d.message) for d in too_much] == [
        ("E201", "crop leaves height 0: the input is 10 and 10 positions are cut")]
    larger = archdsl.check(source="network n { input [2, 10, 10]; center_crop(12) }").diagnostics
    assert [(d.code.id, d.message) for d in larger] == [
        ("E209", "center_crop to height 12 needs at least that much input, got 10")]


def test_upsample_to_a_size_with_aligned_corners_is_torchs_interpolate() -> None:
    spec = 'network n { input [3, 7, 9]; upsample(size=(15, 20), mode="linear", align_corners=true) }'
    model = archdsl.build(source=spec).eval()
    x = torch.randn(2, 3, 7, 9)
    expected = torch.nn.functional.interpolate(x, size=(15, 20), mode="bilinear", align_corners=True)
    assert torch.equal(model(x), expected)
    network = archdsl.load_network(source=spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis

        assert FlopCountAnalysis(model, x[:1]).total() == build_report(network).flops == 4 * 3 * 15 * 20
    assert build_report(network).rows[-1].jump == pytest.approx((7 / 15, 9 / 20), abs=1e-3)  # shown rounded
    both = archdsl.check(source="network n { input [3, 7, 9]; upsample(2, size=4) }").diagnostics
    assert [(d.code.id, d.message) for d in both] == [("E105", "upsample takes `scale` or `size`, not both")]
    nearest = archdsl.check(source="network n { input [3, 7, 9]; upsample(2, align_corners=true) }").diagnostics
    assert [(d.code.id, d.message) for d in nearest] == [("E105", 'upsample align_corners=true needs mode="linear"')]


def test_a_stride_that_skips_input_rows_is_reported_with_sides_apart_too() -> None:
    found = archdsl.check(source="network n { input [3, 16]; conv(8, 3, s=2, d=2, p=causal) }").diagnostics
    assert [(d.code.id, d.message) for d in found] == [
        ("W301", "conv's stride skips the last 1 position of the input along length")]
    assert "(16 + 4 + 0 - 5) % 2 = 1, 0 of them padding" in (found[0].help or "")
    kept = archdsl.check(source="network n { input [3, 16, 16]; conv(8, 3, s=2, p=((1, 0), (1, 1))) }")
    assert kept.diagnostics == []
