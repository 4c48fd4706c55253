"""The graph examples of issue 11, each checked at its own size, built and run (small), rendered and compiled."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from emitting import problems

import archdsl
from archdsl.api import python_source
from archdsl.reports.report import build_report
from archdsl.reports.report_format import to_text
from archdsl.reports.to_dot import to_dot

ROOT = Path(__file__).resolve().parent.parent
UNET = ROOT / "examples" / "unet.arch"
YOLO = ROOT / "examples" / "yolo_neck.arch"
HRNET = ROOT / "examples" / "hrnet_stage.arch"
WAVENET = ROOT / "examples" / "wavenet.arch"


def _small_unet() -> str:
    """The U-Net spec at the smallest input its valid convolutions allow, 4 channels on the first level."""
    return UNET.read_text().replace("input [1, 572, 572]", "input [1, 188, 188]").replace("width=64", "width=4")


def _centre(t: torch.Tensor, size: int) -> torch.Tensor:
    start = (t.shape[-1] - size) // 2
    return t[..., start:start + size, start:start + size]


def test_unet_has_the_papers_sizes_and_computes_crop_and_concat() -> None:
    network = archdsl.load_network(UNET)
    assert network.output.shape == (2, 388, 388)
    model = archdsl.build(source=_small_unet()).eval()
    x = torch.randn(2, 1, 188, 188)
    e1 = model.e1(x)
    e2 = model.e2(e1)
    e3 = model.e3(e2)
    e4 = model.e4(e3)
    y = model.bottom(e4)
    for level, skip in zip([model.up1, model.up2, model.up3, model.up4], [e4, e3, e2, e1], strict=True):
        upconv = level.upconv(y)
        y = level.double_conv1(torch.cat([_centre(skip, upconv.shape[-1]), upconv], dim=1))
    assert torch.equal(model(x), model.conv1(y))
    assert model(x).shape == (2, 2, 4, 4)


def test_unet_renders_its_skips_and_compiles_to_what_build_makes() -> None:
    dot = to_dot(archdsl.load_network(UNET))
    assert all(f" @e{level} " in dot for level in range(1, 5)), "each skip is an edge named by its label"
    assert list(problems(_small_unet())) == []
    checked = archdsl.check(UNET)
    source = python_source(checked, checked.networks[0], "unet.arch")
    assert "    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:\n" in source  # as README says


def _small_yolo() -> str:
    """The YOLO spec at 64x64 (P5 is 2x2) with 4 channels after the first conv."""
    return YOLO.read_text().replace("input [3, 640, 640]", "input [3, 64, 64]").replace("width=16", "width=4")


def _cbs(m: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.silu(m.bn(m.conv(x)))


def _c2f(m: torch.nn.Module, x: torch.Tensor, shortcut: bool) -> torch.Tensor:
    """Ultralytics' C2f.forward: halves, each bottleneck on the last output, all joined."""
    ys = list(_cbs(m.cv1, x).chunk(2, 1))
    for block in m.m:
        y = _cbs(block.cv2, _cbs(block.cv1, ys[-1]))
        ys.append(ys[-1] + y if shortcut else y)
    return _cbs(m.cv2, torch.cat(ys, 1))


def _sppf(m: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    ys = [_cbs(m.cv1, x)]
    for _ in range(3):
        ys.append(F.max_pool2d(ys[-1], 5, 1, 2))
    return _cbs(m.cv2, torch.cat(ys, 1))


def test_yolo_neck_has_yolov8n_sizes_and_counts() -> None:
    network = archdsl.load_network(YOLO)
    assert [(o.key, o.type.shape) for o in network.outputs.items] == [
        ("p3", (64, 80, 80)), ("p4", (128, 40, 40)), ("p5", (256, 20, 20))]
    assert "output:         (p3=[64, 80, 80], p4=[128, 40, 40], p5=[256, 20, 20])\n" in to_text(
        build_report(network)), "the report shows every output"
    # With the Detect head for 80 classes (897,664 and 2,147,008 parameters, counted by hand from
    # Ultralytics' Detect) these are YOLOv8n's published 3,157,200 and YOLOv8s's 11,166,560.
    assert sum(p.numel() for p in archdsl.build(YOLO).parameters()) == 2_259_536
    assert sum(p.numel() for p in archdsl.build(YOLO, width=32).parameters()) == 9_019_552


def test_yolo_neck_computes_c2f_sppf_and_the_pan_and_compiles_to_what_build_makes() -> None:
    model = archdsl.build(source=_small_yolo()).eval()
    x = torch.randn(2, 3, 64, 64)
    c2 = _c2f(model.c2, _cbs(model.p2, _cbs(model.p1, x)), True)
    c3 = _c2f(model.c3, _cbs(model.down3, c2), True)
    c4 = _c2f(model.c4, _cbs(model.down4, c3), True)
    p5 = _sppf(model.p5, _c2f(model.c5, _cbs(model.down5, c4), True))
    h4 = _c2f(model.h4, torch.cat([F.interpolate(p5, scale_factor=2.0), c4], 1), False)
    out3 = _c2f(model.out3, torch.cat([F.interpolate(h4, scale_factor=2.0), c3], 1), False)
    out4 = _c2f(model.out4, torch.cat([_cbs(model.down_h4, out3), h4], 1), False)
    out5 = _c2f(model.out5, torch.cat([_cbs(model.down_h5, out4), p5], 1), False)
    got = model(x)
    assert list(got) == ["p3", "p4", "p5"]
    for have, want in zip(got.values(), [out3, out4, out5], strict=True):
        assert torch.allclose(have, want, atol=1e-6, rtol=1e-5)
    assert list(problems(_small_yolo())) == []


def _small_hrnet() -> str:
    """The HRNet stage at 16x16 in, 4 channels on the high stream."""
    return HRNET.read_text().replace("input [3, 64, 64]", "input [3, 16, 16]").replace("width=32", "width=4")


def test_hrnet_stage_keeps_two_streams_and_fuses_them_as_hrnet_does() -> None:
    assert archdsl.load_network(HRNET).output.shape == (17, 32, 32)
    model = archdsl.build(source=_small_hrnet()).eval()
    x = torch.randn(2, 3, 16, 16)

    def conv_bn_relu(m: torch.nn.Module, t: torch.Tensor) -> torch.Tensor:
        return torch.relu(m.bn(m.conv(t)))

    def basic(b: torch.nn.Module, t: torch.Tensor) -> torch.Tensor:
        return torch.relu(b.bn2(b.conv2(torch.relu(b.bn1(b.conv1(t))))) + t)

    high = conv_bn_relu(model.stem, x)
    low = conv_bn_relu(getattr(model.transition1, "0"), high)
    assert len(model.u) == 4
    for unit in model.u:  # each reads the unit before's two streams
        b0, b1 = basic(getattr(unit.branch0, "0"), high), basic(getattr(unit.branch1, "0"), low)
        up, down = unit.fuse_layers_0_1, unit.fuse_layers_1_0
        lateral = getattr(up, "1")(getattr(up, "0")(b1))
        high = torch.relu(b0 + F.interpolate(lateral, size=b0.shape[-2:], mode="nearest"))
        low = torch.relu(getattr(down, "1")(getattr(down, "0")(b0)) + b1)
    head = torch.cat([high, F.interpolate(low, size=high.shape[-2:], mode="nearest")], dim=1)
    assert torch.equal(model(x), model.final_layer(head))
    assert list(problems(_small_hrnet())) == []


def _small_wavenet(length: int = 64) -> str:
    """The WaveNet spec on a short signal, 4 channels in both streams."""
    return WAVENET.read_text().replace("input [1, 4096]", f"input [1, {length}]").replace("channels=32", "channels=4")


def _causal(conv: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A causal convolution by hand: d(k-1) zeros before the signal, none after."""
    d = conv.dilation[0]
    return F.conv1d(F.pad(x, (d * (conv.kernel_size[0] - 1), 0)), conv.weight, conv.bias, dilation=d)


def test_wavenet_computes_gated_units_and_summed_skips() -> None:
    network = archdsl.load_network(WAVENET)
    assert network.output.shape == (256, 4096)
    assert build_report(network).rows[-1].receptive_field == (1025,), "2 + (1 + 2 + ... + 512) samples"
    model = archdsl.build(source=_small_wavenet()).eval()
    x = torch.randn(2, 1, 64)
    h, skips = _causal(model.causal, x), []
    assert len(model.l) == 9
    for layer in [*model.l, model.last]:  # the last layer gives its skip alone
        z = torch.tanh(_causal(layer.z.filter, h)) * torch.sigmoid(_causal(layer.z.gate, h))
        skips.append(layer.skip(z))
        if layer is not model.last:
            h = h + layer.res(z)
    total = sum(skips[1:], skips[0])
    expected = getattr(model.head, "3")(torch.relu(getattr(model.head, "1")(torch.relu(total))))
    with torch.no_grad():
        assert torch.allclose(model(x), expected, atol=1e-6)


def test_wavenet_is_causal_and_compiles_to_what_build_makes() -> None:
    model = archdsl.build(source=_small_wavenet(1100)).eval()
    x = torch.randn(1, 1, 1100)
    with torch.no_grad():
        y = model(x)
        for t in (0, 17, 550, 1099):
            changed = x.clone()
            changed[..., t] += 1.0
            z = model(changed)
            assert torch.equal(y[..., :t], z[..., :t]), f"an output before {t} saw the input at {t}"
            assert not torch.equal(y[..., t:], z[..., t:]), f"no output saw the input at {t}"
        changed = x.clone()
        changed[..., 0] += 1.0
        assert torch.equal(y[..., 1025:], model(changed)[..., 1025:]), "the receptive field is 1025 samples"
    assert list(problems(_small_wavenet())) == []
