"""Forward latency and build time of compiled zoo specs against torchvision, in one run.

    python benchmarks/torch_speed.py [--repeats N] [--batches 1 16]

Each pair is measured alternately (ours, reference, ours, ...) so machine drift hits
both; the table gives medians and the ratio ours / reference (goal: forward <= 1.02,
build <= 1.2).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
import torchvision

import archdsl

ROOT = Path(__file__).resolve().parent.parent
MODELS: dict[str, Callable[[], torch.nn.Module]] = {
    "resnet50": lambda: torchvision.models.resnet50(weights=None),
    "convnext_tiny": lambda: torchvision.models.convnext_tiny(weights=None),
}


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def alternate(ours: Callable[[], object], reference: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of each, measured in turns after one warm-up call each."""
    ours()
    reference()
    mine, theirs = [], []
    for _ in range(repeats):
        mine.append(timed(ours))
        theirs.append(timed(reference))
    return statistics.median(mine), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print(f"{'model':<15}{'what':<12}{'archdsl ms':>12}{'reference ms':>14}{'ratio':>8}")
    for name, make_reference in MODELS.items():
        spec = ROOT / "specs" / f"{name}.arch"
        build = alternate(partial(archdsl.build, spec), make_reference, 3 * args.repeats)  # cheap but noisy
        print(f"{name:<15}{'build':<12}{build[0] * 1e3:>12.1f}{build[1] * 1e3:>14.1f}{build[0] / build[1]:>8.3f}")
        ours, reference = archdsl.build(spec).eval(), make_reference().eval()
        for batch in args.batches:
            x = torch.randn(batch, 3, 224, 224)
            mine, theirs = alternate(partial(ours, x), partial(reference, x), args.repeats)
            print(f"{name:<15}{f'batch {batch}':<12}{mine * 1e3:>12.1f}{theirs * 1e3:>14.1f}{mine / theirs:>8.3f}")


if __name__ == "__main__":
    main()
