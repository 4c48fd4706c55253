"""Build time, eval forward and the inference build of zoo specs against torchvision, in one run, as CPU time.

    python benchmarks/torch_speed.py [--repeats N] [--models NAME ...] [--batches 1 8] [--threads 1 2]
                                     [--skip build forward inference resolution]

Three tables (see ``timing``: ours and the reference take turns, median and spread):

- build: ``archdsl.build(spec)`` against torchvision's constructor, both with their own
  initialisation (goal: at most 1.05x for every zoo model);
- forward: the built module in eval mode against torchvision's, at each batch size and
  number of threads (goal: at most 1.02x);
- inference: ``archdsl.build(spec, weights=..., inference=True)`` with torchvision's
  weights against torchvision's eval model, batch 1, 1 thread (goal: at most 0.85x for
  ResNet-50, MobileNetV2 and DenseNet-121); each pair's outputs are compared first.

Forward inputs are 224x224 (299x299 for Inception v3), under ``torch.inference_mode``.

A last table times torchvision's model against a second instance of itself, measured the same
way: the ratios it shows, which ought to be 1.000, are what this machine can tell apart.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
import torchvision
from timing import Timed, take_turns

import archdsl

ROOT = Path(__file__).resolve().parent.parent
REFERENCES: dict[str, Callable[[], torch.nn.Module]] = {
    "resnet50": torchvision.models.resnet50,
    "resnet152": torchvision.models.resnet152,
    "densenet121": torchvision.models.densenet121,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "googlenet": partial(torchvision.models.googlenet, aux_logits=False, init_weights=True),
    "convnext_tiny": torchvision.models.convnext_tiny,
    "vgg16": torchvision.models.vgg16,
    "shufflenet_v2_x1_0": torchvision.models.shufflenet_v2_x1_0,
    "resnext50_32x4d": torchvision.models.resnext50_32x4d,
}
FORWARD = ("resnet50", "densenet121", "mobilenet_v2", "googlenet", "convnext_tiny")
INFERENCE = ("resnet50", "mobilenet_v2", "densenet121")
GOALS = {"build": 1.05, "forward": 1.02, "inference": 0.85}


def row(what: str, ours: Timed, reference: Timed) -> float:
    ratio = ours.median / reference.median
    cells = [f"{each.median * 1e3:>10.1f} ({each.spread(1e3, 1):>13})" for each in (ours, reference)]
    print(f"{ours.label:<20}{what:<18}{cells[0]}{cells[1]}{ratio:>8.3f}")
    return ratio


def header(title: str, ours: str = "archdsl ms", reference: str = "torchvision") -> None:
    print(f"\n{title}\n{'model':<20}{'setting':<18}{ours:>10} {'(spread)':>15}{reference:>11}"
          f"{'(spread)':>15}{'ratio':>8}")


def verdict(table: str, ratios: list[float]) -> None:
    worst = max(ratios)
    goal = GOALS[table]
    print(f"goal: {table} at most {goal}x: {'met' if worst <= goal else 'NOT met'} (worst {worst:.3f}x)")


def spec(name: str) -> Path:
    return ROOT / "specs" / f"{name}.arch"


def builds(models: list[str], repeats: int) -> None:
    header("build (constructor, initialisation included)")
    ratios = []
    for name in models:
        pair = Timed(name, partial(archdsl.build, spec(name))), Timed(name, REFERENCES[name])
        take_turns(pair, repeats)
        ratios.append(row("build", *pair))
    verdict("build", ratios)


def forwards(models: list[str], batches: list[int], threads: list[int], repeats: int) -> None:
    header("eval forward")
    ratios = []
    for name in models:
        ours, reference = archdsl.build(spec(name)).eval(), REFERENCES[name]().eval()
        side = 299 if name.startswith("inception") else 224
        for count in threads:
            torch.set_num_threads(count)
            for batch in batches:
                x = torch.randn(batch, 3, side, side)
                pair = Timed(name, partial(ours, x)), Timed(name, partial(reference, x))
                take_turns(pair, repeats)
                ratios.append(row(f"batch {batch}, {count} thr", *pair))
    verdict("forward", ratios)


def inference(models: list[str], repeats: int) -> None:
    header("inference build against torchvision's eval model, batch 1, 1 thread")
    torch.set_num_threads(1)
    ratios = []
    for name in models:
        reference = REFERENCES[name]().eval()
        fused = archdsl.build(spec(name), weights=reference.state_dict(), inference=True)
        x = torch.randn(1, 3, 224, 224)
        expected, got = reference(x), fused(x)
        difference = float((expected - got).abs().max() / expected.abs().max())
        assert difference <= 1e-5, f"{name}: the inference build differs by {difference:.2e} (relative)"
        pair = Timed(name, partial(fused, x)), Timed(name, partial(reference, x))
        take_turns(pair, repeats)
        ratios.append(row("fused, batch 1", *pair))
    verdict("inference", ratios)


def resolution(repeats: int) -> None:
    header("torchvision against itself: how far from 1.000 a ratio strays on this machine", "first ms", "second")
    torch.set_num_threads(1)
    for name in ("shufflenet_v2_x1_0", "densenet121"):
        pair = Timed(name, REFERENCES[name]), Timed(name, REFERENCES[name])
        take_turns(pair, 3 * repeats)
        row("build", *pair)
    for name in ("resnet50", "convnext_tiny"):
        first, second = REFERENCES[name]().eval(), REFERENCES[name]().eval()
        for count in (1, 2):
            torch.set_num_threads(count)
            for batch in (1, 8):
                x = torch.randn(batch, 3, 224, 224)
                pair = Timed(name, partial(first, x)), Timed(name, partial(second, x))
                take_turns(pair, repeats)
                row(f"batch {batch}, {count} thr", *pair)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--models", nargs="+", choices=sorted(REFERENCES), help="default: all for build, "
                        + ", ".join(FORWARD) + " for forward, " + ", ".join(INFERENCE) + " for inference")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip", nargs="+", default=[], choices=("build", "forward", "inference", "resolution"))
    args = parser.parse_args()
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, CPU time in ms")
    if "build" not in args.skip:
        builds(args.models or list(REFERENCES), 3 * args.repeats)  # cheap, so noisy: more rounds
    with torch.inference_mode():
        if "forward" not in args.skip:
            forwards(args.models or list(FORWARD), args.batches, args.threads, args.repeats)
        if "inference" not in args.skip:
            inference(args.models or list(INFERENCE), args.repeats)
        if "resolution" not in args.skip:
            resolution(args.repeats)


if __name__ == "__main__":
    main()
