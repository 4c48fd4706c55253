"""CPU time of the whole `archdsl check` process, against a bare `python -c pass` in the same run.

    python benchmarks/check_speed.py [--repeats N]

Specs: the ResNet-152 spec; ResNet-50 and ResNet-50 with a feature pyramid (a graph of named
tensors and five outputs), which issue 11 wants checked in at most 1.2x ResNet-50's time;
generated networks of 1,000, 2,000 and 4,000 block calls, one per line, whose times show
whether checking is linear in spec size; and a generated network of 100,000 layers (20,000
five-layer blocks made by `for` and `repeat`), which issue 9 wants checked in under 10 s on
this machine.

Each row is the CPU time (user + system) of the child process, read from the kernel's
accounting of finished children, so other work on the shared machine does not count.
Every command runs once to warm up (archdsl's cache folder, the OS file cache), then the
commands take turns, round after round; each row gives the median of its rounds and
their spread (the lowest and the highest). archdsl's bytecode is compiled first, as an
installed package has it. One row checks ResNet-152 with an empty cache folder, so
without Lark's cached grammar tables or the prelude's cached syntax tree.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from timing import Measured, take_turns

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1000, 2000, 4000)
LAYERS_GOAL_SECONDS = 10.0
STARTUP_GOAL_RATIO = 5.0  # ResNet-152's check against `python -c pass`
BLOCKS_GOAL = (10_000, 2.0)  # blocks, seconds
GRAPH_GOAL_RATIO = 1.2


@dataclass
class Command(Measured):
    """A command whose whole process is measured."""

    argv: list[str] = field(default_factory=list)
    fresh_cache: bool = False

    def run(self) -> float:
        """The CPU seconds the command's process used."""
        with tempfile.TemporaryDirectory() as empty:
            env = {**os.environ, "XDG_CACHE_HOME": empty} if self.fresh_cache else None
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run(self.argv, cwd=ROOT, env=env, capture_output=True, check=False)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{self.label} failed:\n{done.stderr.decode()}")
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def generated(blocks: int) -> str:
    """A network of ``blocks`` calls to a small residual block (5 layers each), one call per line."""
    calls = "\n".join(f"    unit({16 + i % 4 * 8})" for i in range(blocks))
    return ("block unit(width) {\n    residual(shortcut=project) { conv(width, 3, p=1, bias=false); bn; relu }\n}\n"
            f"network big {{\n    input [16, 32, 32]\n{calls}\n}}\n")


# 4 x 4,999 calls of a 5-layer block and 3 projections of 2 layers where the width changes: 99,986 layers,
# just under the limit of 100,000.
HUNDRED_THOUSAND_LAYERS = """block unit(width) {
    residual(shortcut=project) { conv(width, 3, p=1, bias=false); bn; relu; conv(width, 1, bias=false); bn }
}
network big {
    input [16, 32, 32]
    for w in [16, 24, 32, 40] { repeat(4999) { unit(w) } }
}
"""


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares seconds per block."""
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)


def report(bare: Command, resnet: Command, scaled: dict[int, Command], others: list[Command],
           layers: Command, graph: tuple[Command, Command]) -> None:
    print(f"{'command':<36}{'median CPU s':>13}{'spread':>15}{'x python -c pass':>18}")
    for command in [bare, resnet, *others, *graph, *scaled.values(), layers]:
        print(f"{command.label:<36}{command.median:>13.3f}{command.spread():>15}{command.median / bare.median:>18.1f}")
    points = [(blocks, command.median) for blocks, command in scaled.items()]
    steps = [(y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in pairwise(points)]
    print(f"\nper block (least squares over {', '.join(str(b) for b in scaled)} blocks): "
          f"{slope(points) * 1e3:.3f} ms")
    print("per block between sizes: " + ", ".join(f"{s * 1e3:.3f} ms" for s in steps)
          + f" (ratio {steps[-1] / steps[0]:.2f}; 1.00 is linear)")
    ratio = resnet.median / bare.median
    print(f"goal: ResNet-152 at most {STARTUP_GOAL_RATIO:.0f}x python -c pass: "
          f"{'met' if ratio <= STARTUP_GOAL_RATIO else 'NOT met'} ({ratio:.1f}x)")
    blocks, seconds = BLOCKS_GOAL
    extrapolated = points[-1][1] + slope(points) * (blocks - points[-1][0])
    print(f"goal: {blocks:,} blocks under {seconds:.0f} s: {'met' if extrapolated < seconds else 'NOT met'} "
          f"({extrapolated:.1f} s, from the largest size and the slope)")
    verdict = "met" if layers.median < LAYERS_GOAL_SECONDS else "NOT met"
    print(f"goal: 100,000 layers under {LAYERS_GOAL_SECONDS:.0f} s of CPU: {verdict} ({layers.median:.2f} s)")
    plain, pyramid = graph
    ratio = pyramid.median / plain.median
    verdict = "met" if ratio <= GRAPH_GOAL_RATIO else "NOT met"
    print(f"goal: resnet50_fpn at most {GRAPH_GOAL_RATIO}x resnet50: {verdict} ({ratio:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (default 7)")
    args = parser.parse_args()
    compileall.compile_dir(ROOT / "archdsl", quiet=1)
    check = [sys.executable, "-m", "archdsl", "check"]
    resnet152 = str(ROOT / "specs" / "resnet152.arch")
    with tempfile.TemporaryDirectory() as folder:
        scaled = {}
        for blocks in SIZES:
            path = Path(folder) / f"generated_{blocks}.arch"
            path.write_text(generated(blocks))
            scaled[blocks] = Command(f"generated, {blocks:,} blocks", [*check, str(path)])
        big = Path(folder) / "layers_100000.arch"
        big.write_text(HUNDRED_THOUSAND_LAYERS)
        layers = Command("generated, 99,986 layers", [*check, str(big)])
        bare = Command("python -c pass", [sys.executable, "-c", "pass"])
        resnet = Command("archdsl check resnet152.arch", [*check, resnet152])
        cold = Command("  same, empty cache folder", [*check, resnet152], fresh_cache=True)
        graph = (Command("archdsl check resnet50.arch", [*check, str(ROOT / "specs" / "resnet50.arch")]),
                 Command("archdsl check resnet50_fpn.arch", [*check, str(ROOT / "specs" / "resnet50_fpn.arch")]))
        take_turns([bare, resnet, cold, *graph, *scaled.values(), layers], args.repeats)
    report(bare, resnet, scaled, [cold], layers, graph)


if __name__ == "__main__":
    main()
