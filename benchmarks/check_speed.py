"""Wall time of the whole `archdsl check` process, against a bare `python -c pass` in the same run.

    python benchmarks/check_speed.py [--repeats N]

Specs: the ResNet-152 spec, and generated networks of 1,000, 2,000 and 4,000 block
calls, whose times show whether checking is linear in spec size. The goal of issue 2:
under 0.5 s for ResNet-152 on a 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generated(blocks: int) -> str:
    """A network of ``blocks`` calls to a small residual block, each on its own line."""
    calls = "\n".join(f"    unit({16 + i % 4 * 8})" for i in range(blocks))
    return ("block unit(width) {\n    residual(shortcut=project) { conv(width, 3, p=1, bias=false); bn; relu }\n}\n"
            f"network big {{\n    input [16, 32, 32]\n{calls}\n}}\n")


def seconds(command: list[str], repeats: int) -> float:
    """Median wall time over ``repeats`` runs, after one warm-up (Lark's grammar cache, the OS file cache)."""
    subprocess.run(command, capture_output=True, check=False)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    check = [sys.executable, "-m", "archdsl", "check"]
    with tempfile.TemporaryDirectory() as folder:
        specs = {"resnet152": ROOT / "specs" / "resnet152.arch"}
        for blocks in (1000, 2000, 4000):
            path = Path(folder) / f"generated_{blocks}.arch"
            path.write_text(generated(blocks))
            specs[f"{blocks} blocks"] = path
        bare = seconds([sys.executable, "-c", "pass"], args.repeats)
        print(f"{'spec':<14}{'seconds':>9}{'x python -c pass':>18}")
        print(f"{'python -c pass':<14}{bare:>9.3f}{1:>18.1f}")
        results = {}
        for name, path in specs.items():
            results[name] = seconds([*check, str(path)], args.repeats)
            print(f"{name:<14}{results[name]:>9.3f}{results[name] / bare:>18.1f}")
    per_block = [(results[f"{b} blocks"] - results["1000 blocks"]) / (b - 1000) * 1000 for b in (2000, 4000)]
    print(f"marginal time per 1,000 blocks: {per_block[0]:.3f} s (1k->2k), {per_block[1]:.3f} s (1k->4k)")


if __name__ == "__main__":
    main()
