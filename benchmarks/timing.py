"""CPU time for the benchmarks: what is measured takes turns with its reference, round after round; each row is
the median of its rounds and their spread (the lowest and the highest).

CPU time, not wall time: the machines are shared, and other work on them does not count in a process's CPU
time. With several threads it sums them, so a ratio compares work done, not latency. Each action in this process
starts after a full garbage collection, so that a round does not pay, or not, for a collection the rounds before it
made due: otherwise rounds of a small build split into two modes about 15 ms apart, at random on either side.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Measured:
    """Something measured: its label and the CPU seconds of each round."""

    label: str
    times: list[float] = field(default_factory=list, init=False)

    def run(self) -> float:
        raise NotImplementedError

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def spread(self, scale: float = 1.0, digits: int = 3) -> str:
        return f"{min(self.times) * scale:.{digits}f}-{max(self.times) * scale:.{digits}f}"


@dataclass
class Timed(Measured):
    """An action in this process."""

    action: Callable[[], object] = lambda: None

    def run(self) -> float:
        gc.collect()
        start = time.process_time()
        self.action()
        return time.process_time() - start


def take_turns(measured: Sequence[Measured], repeats: int) -> None:
    """Runs each once untimed (caches, lazy imports, allocator), then all in turns for ``repeats`` rounds."""
    for each in measured:
        each.run()
    for _ in range(repeats):
        for each in measured:
            each.times.append(each.run())
