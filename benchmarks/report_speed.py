"""The static report of ResNet-152 against fvcore counting the built model, in-process and as whole processes.

    python benchmarks/report_speed.py [--repeats N] [--python PATH]

In-process, 1 thread: checking the spec and reading the report off the IR (``archdsl.check``, which
caches nothing, then ``build_report``) against building torchvision's ResNet-152 and counting it
with ``fvcore.nn.FlopCountAnalysis`` on a 1x3x224x224 input (goal: at least 50x faster). Whole
processes: ``archdsl report specs/resnet152.arch`` against a script that imports torchvision and
fvcore, builds the model and prints fvcore's count (goal: at least 40x faster). Both counts are
compared first. Measured as ``timing`` says: CPU time, in turns, median and spread.

``--python`` runs archdsl's process with another interpreter: a virtual environment holding archdsl
and its own dependencies only shows what the command costs on a fresh install, without the imports
other packages of a shared environment add (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch
from check_speed import Command
from timing import Timed, take_turns

import archdsl
from archdsl.reports.report import build_report

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "resnet152.arch"
GOALS = {"in-process": 50.0, "whole process": 40.0}
FVCORE_SCRIPT = """
import warnings
import torch, torchvision
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fvcore.nn import FlopCountAnalysis
    counter = FlopCountAnalysis(torchvision.models.resnet152().eval(), torch.zeros(1, 3, 224, 224))
    counter.unsupported_ops_warnings(False)
    counter.uncalled_modules_warnings(False)
    print(counter.total())
"""


def static() -> int:
    (network,) = archdsl.check(SPEC).networks
    return build_report(network).flops


def fvcore() -> int:
    import torchvision
    with warnings.catch_warnings():  # fvcore uses torch.jit, which warns of its own deprecation
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis
        counter = FlopCountAnalysis(torchvision.models.resnet152().eval(), torch.zeros(1, 3, 224, 224))
        counter.unsupported_ops_warnings(False)
        counter.uncalled_modules_warnings(False)
        return int(counter.total())


def table(title: str, ours: Timed | Command, reference: Timed | Command) -> None:
    speedup = reference.median / ours.median
    goal = GOALS[title]
    print(f"\n{title}\n{'what':<44}{'median CPU s':>13}{'spread':>15}")
    for each in (ours, reference):
        print(f"{each.label:<44}{each.median:>13.3f}{each.spread():>15}")
    print(f"speed-up {speedup:.1f}x; goal: at least {goal:.0f}x: {'met' if speedup >= goal else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter for archdsl's process (default: this one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    flops, reference = static(), fvcore()
    assert flops == reference, (flops, reference)
    print(f"resnet152: {flops:,} FLOPs, the same in both")
    pair = Timed("archdsl check + report", static), Timed("torchvision model + fvcore", fvcore)
    take_turns(pair, args.repeats)
    table("in-process", *pair)
    label = "archdsl report resnet152.arch" + (" (--python)" if args.python != sys.executable else "")
    processes = (Command(label, [args.python, "-m", "archdsl", "report", str(SPEC)]),
                 Command("python: torchvision model + fvcore", [sys.executable, "-c", FVCORE_SCRIPT]))
    take_turns(processes, args.repeats)
    table("whole process", *processes)


if __name__ == "__main__":
    main()
