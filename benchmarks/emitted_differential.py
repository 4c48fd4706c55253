"""The Python back end against ``archdsl.build`` on many generated specs (the suite runs 500).

Each spec from ``tests/specgen.py`` is compiled, its classes run in a fresh namespace and
compared with ``archdsl.build`` at the compiled arguments and with every network parameter
at other values (``tests/emitting.py``). Outcomes per spec:

- ok: equal everywhere, and every value the checker refuses is refused with a ValueError
  naming the parameter;
- written for: a class fell back to the compiled value of something it could not keep
  general (a block whose structure depends on spatial sizes, a loop whose names depend on
  its variable) and refuses, naming the parameter, a value the checker accepts;
- failure: anything else (a difference, an exception, a value built that the checker refuses).

    python benchmarks/emitted_differential.py --count 20000 [--start 0] [--values 3]
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import emitting
import specgen


def outcome(seed: int, values: int) -> tuple[str, str]:
    text = specgen.network_spec(random.Random(seed))
    try:
        found = list(emitting.problems(text, values))
    except Exception as error:  # a crash is a finding, reported with its seed
        return "failure", f"{type(error).__name__}: {error} | {traceback.format_exc(limit=-2)!r}"
    if not found:
        return "ok", ""
    if all("refused a value the checker accepts" in f and "this class is written for" in f for f in found):
        return "written for", found[0]
    return "failure", next(f for f in found if "this class is written for" not in f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--values", type=int, default=3, help="other values tried per network parameter")
    args = parser.parse_args()
    counts: collections.Counter[str] = collections.Counter()
    began = time.process_time()
    for seed in range(args.start, args.start + args.count):
        kind, detail = outcome(seed, args.values)
        counts[kind] += 1
        if kind != "ok":
            print(f"seed {seed}: {kind}: {detail[:300]}", flush=True)
        if (seed - args.start + 1) % 1000 == 0:
            print(f"... {seed - args.start + 1} specs, {time.process_time() - began:.0f} s CPU", flush=True)
    spent = time.process_time() - began
    print(f"{args.count} specs (seeds {args.start}..{args.start + args.count - 1}), {args.values} other values per "
          f"parameter: " + ", ".join(f"{counts[k]} {k}" for k in ("ok", "written for", "failure")) +
          f"; {spent:.0f} s CPU, {spent / args.count * 1000:.0f} ms per spec")


if __name__ == "__main__":
    main()
