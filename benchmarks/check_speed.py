"""Wall time of the whole `archdsl check` process, against a bare `python -c pass` in the same run.

    python benchmarks/check_speed.py [--repeats N]

Specs: the ResNet-152 spec, and generated networks of 1,000, 2,000 and 4,000 block
calls, whose times show whether checking is linear in spec size. Goal of issue 2:
ResNet-152 under 0.5 s on this machine (2 cores), and linear time.

Every command runs once to warm up (Lark's grammar cache, the OS file cache), then
the commands take turns, round after round, so a change in the machine's load
touches all of them alike; each row is the median of its rounds. archdsl's bytecode
is compiled first, as an installed package has it, even where PYTHONDONTWRITEBYTECODE
is set. One row checks ResNet-152 with an empty temporary folder, so without Lark's
cached grammar tables: the difference to the row above it is what that cache saves.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1000, 2000, 4000)
GOAL_SECONDS = 0.5


@dataclass
class Command:
    label: str
    argv: list[str]
    fresh_tmpdir: bool = False
    times: list[float] = field(default_factory=list)

    def run(self) -> float:
        with tempfile.TemporaryDirectory() as empty:
            env = {**os.environ, "TMPDIR": empty} if self.fresh_tmpdir else None
            start = time.perf_counter()
            done = subprocess.run(self.argv, cwd=ROOT, env=env, capture_output=True, check=False)
            elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{self.label} failed:\n{done.stderr.decode()}")
        return elapsed

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def generated(blocks: int) -> str:
    """A network of ``blocks`` calls to a small residual block (5 layers each), one call per line."""
    calls = "\n".join(f"    unit({16 + i % 4 * 8})" for i in range(blocks))
    return ("block unit(width) {\n    residual(shortcut=project) { conv(width, 3, p=1, bias=false); bn; relu }\n}\n"
            f"network big {{\n    input [16, 32, 32]\n{calls}\n}}\n")


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares seconds per block."""
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)


def measure(commands: list[Command], repeats: int) -> None:
    for command in commands:
        command.run()
    for _ in range(repeats):
        for command in commands:
            command.times.append(command.run())


def report(bare: Command, resnet: Command, scaled: dict[int, Command], others: list[Command]) -> None:
    print(f"{'command':<34}{'median s':>9}{'x python -c pass':>18}")
    for command in [bare, resnet, *others, *scaled.values()]:
        print(f"{command.label:<34}{command.median:>9.3f}{command.median / bare.median:>18.1f}")
    points = [(blocks, command.median) for blocks, command in scaled.items()]
    per_block = slope(points)
    steps = [(y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in pairwise(points)]
    print(f"\nper block (least squares over {', '.join(str(b) for b in scaled)} blocks): {per_block * 1e3:.3f} ms")
    print("per block between sizes: " + ", ".join(f"{s * 1e3:.3f} ms" for s in steps)
          + f" (ratio {steps[-1] / steps[0]:.2f}; 1.00 is linear)")
    verdict = "met" if resnet.median < GOAL_SECONDS else "NOT met"
    print(f"goal: ResNet-152 under {GOAL_SECONDS} s: {verdict} ({resnet.median:.3f} s)")


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
        bare = Command("python -c pass", [sys.executable, "-c", "pass"])
        resnet = Command("archdsl check resnet152.arch", [*check, resnet152])
        cold = Command("  same, no Lark grammar cache", [*check, resnet152], fresh_tmpdir=True)
        measure([bare, resnet, cold, *scaled.values()], args.repeats)
    report(bare, resnet, scaled, [cold])


if __name__ == "__main__":
    main()
