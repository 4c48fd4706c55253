"""Measures the reference counts in ``counts.json``: parameters and fvcore FLOPs of the reference models.

    python tests/references/measure.py [NAME ...]    # rewrites the named entries (default: every one)
    python tests/references/measure.py --check NAME  # measures and compares, writes nothing

Each entry is measured as its ``source`` says, with the installed torchvision, fvcore
(and timm, for timm's models): the model built without weights and put in eval mode,
``params = sum(p.numel() for p in model.parameters())`` and ``fvcore_flops =
FlopCountAnalysis(model, torch.zeros(1, *input)).total()``, one multiply-add counting
as one flop. The suite reads the file; it never needs this script or the network.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

COUNTS = Path(__file__).with_name("counts.json")


def _torchvision(path: str, **kwargs: Any) -> Callable[[], Any]:
    def make() -> Any:
        import torchvision

        target: Any = torchvision.models
        for part in path.split("."):
            target = getattr(target, part)
        return target(**kwargs)
    return make


def _timm(name: str) -> Callable[[], Any]:
    def make() -> Any:
        import timm

        return timm.create_model(name, pretrained=False)
    return make


def _fpn() -> Any:
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

    return resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=5)


# How each entry's model is made; its `source` text in counts.json says the same in words.
RECIPES: dict[str, Callable[[], Any]] = {
    **{name: _torchvision(name, weights=None) for name in (
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "densenet121",
        "densenet169", "densenet201", "convnext_tiny", "convnext_small", "mobilenet_v2", "vgg16", "alexnet",
        "shufflenet_v2_x1_0")},
    "googlenet": _torchvision("googlenet", weights=None, aux_logits=False),
    "googlenet_aux": _torchvision("googlenet", weights=None, aux_logits=True, init_weights=True),
    "inception_v3_aux": _torchvision("inception_v3", weights=None, aux_logits=True, init_weights=True),
    "seresnet50_timm": _timm("seresnet50"),
    "resnet50_fpn": _fpn,
    "fcn_resnet50": _torchvision("segmentation.fcn_resnet50", weights=None, weights_backbone=None, aux_loss=True),
    "deeplabv3_resnet50": _torchvision("segmentation.deeplabv3_resnet50", weights=None, weights_backbone=None,
                                       aux_loss=True),
    "lraspp_mobilenet_v3_large": _torchvision("segmentation.lraspp_mobilenet_v3_large", weights=None,
                                              weights_backbone=None),
}


def measure(name: str, input_shape: list[int]) -> dict[str, int]:
    """Parameters and fvcore FLOPs of the reference model ``name`` in eval mode."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis

        model = RECIPES[name]().eval()
        counter = FlopCountAnalysis(model, torch.zeros(1, *input_shape))
        counter.unsupported_ops_warnings(False)
        counter.uncalled_modules_warnings(False)
        flops = counter.total()
    return {"params": sum(p.numel() for p in model.parameters()), "fvcore_flops": flops}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="entries to measure (default: all)")
    parser.add_argument("--check", action="store_true", help="compare with the file instead of rewriting it")
    args = parser.parse_args(argv)
    data = json.loads(COUNTS.read_text())
    names = args.names or list(data["models"])
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        parser.error(f"no recipe for {', '.join(unknown)}")
    differ = []
    for name in names:
        entry = data["models"][name]
        measured = measure(name, entry["input"])
        same = all(entry[key] == value for key, value in measured.items())
        print(f"{name:<28} {measured['params']:>12,} params {measured['fvcore_flops']:>16,} FLOPs"
              f"{'' if same else '  (differs from the file)'}")
        if not same:
            differ.append(name)
            entry.update(measured)
    if args.check:
        return 1 if differ else 0
    COUNTS.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
