"""CPU time of the whole `archdsl compile` process against `archdsl check` of the same spec.

    python benchmarks/compile_speed.py [--repeats N]

Issue 10 wants `compile` within 1.2x of `check` on ResNet-152 and DenseNet-201. Measured as
`check_speed.py` measures: the CPU time (user + system) of each child process from the
kernel's accounting, every command once to warm up, then the commands in turns, round
after round; each row gives the median of its rounds and their spread.
"""

from __future__ import annotations

import argparse
import compileall
import sys
import tempfile
from pathlib import Path

from check_speed import ROOT, Command
from timing import take_turns

SPECS = ("resnet152", "densenet201")
GOAL = 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds (default 9)")
    args = parser.parse_args()
    compileall.compile_dir(ROOT / "archdsl", quiet=1)
    archdsl = [sys.executable, "-m", "archdsl"]
    pairs = []
    with tempfile.TemporaryDirectory() as folder:
        for name in SPECS:
            spec = str(ROOT / "specs" / f"{name}.arch")
            pairs.append((Command(f"archdsl check {name}.arch", [*archdsl, "check", spec]),
                          Command(f"archdsl compile {name}.arch", [*archdsl, "compile", spec, "-o",
                                                                   str(Path(folder) / f"{name}.py")])))
        take_turns([command for pair in pairs for command in pair], args.repeats)
    print(f"{'command':<36}{'median CPU s':>13}{'spread':>15}{'x check':>10}")
    for check, compile_ in pairs:
        for command in (check, compile_):
            print(f"{command.label:<36}{command.median:>13.3f}{command.spread():>15}"
                  f"{command.median / check.median:>10.2f}")
    worst = max(compile_.median / check.median for check, compile_ in pairs)
    print(f"goal: compile within {GOAL}x of check: {'met' if worst <= GOAL else 'NOT met'} (worst {worst:.2f}x)")


if __name__ == "__main__":
    main()
