"""The static report of ResNet-152 against fvcore counting the built module, in one run.

    python benchmarks/report_speed.py [--repeats N]

Both sides start from the spec: archdsl parses, checks and counts; the reference
builds the module with archdsl and runs fvcore's FlopCountAnalysis on it (in eval
mode, one 224x224 image). Goal of issue 4: the static report at least 20x faster.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

import archdsl
from archdsl.reports.report import build_report

SPEC = Path(__file__).resolve().parent.parent / "specs" / "resnet152.arch"


def static() -> int:
    return build_report(archdsl.load_network(SPEC)).flops


def measured() -> int:
    with warnings.catch_warnings():  # fvcore uses torch.jit, which warns of its own deprecation
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import FlopCountAnalysis
    model = archdsl.build(SPEC).eval()
    counter = FlopCountAnalysis(model, torch.zeros(1, 3, 224, 224))
    counter.unsupported_ops_warnings(False)
    counter.uncalled_modules_warnings(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return int(counter.total())


def median_seconds(action: Callable[[], int], repeats: int) -> tuple[float, int]:
    result = action()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ours, flops = median_seconds(static, args.repeats)
    theirs, reference = median_seconds(measured, args.repeats)
    assert flops == reference, (flops, reference)
    print(f"static report   {ours:8.3f} s   {flops:,} FLOPs")
    print(f"fvcore (built)  {theirs:8.3f} s   {reference:,} FLOPs")
    print(f"speed-up        {theirs / ours:8.1f}x")


if __name__ == "__main__":
    main()
