"""Fuzz archdsl: 100,000 generated, mutated and spliced specs through `check`, a sample through both back ends.

    python benchmarks/fuzz.py [--count N] [--seed S] [--workers W] [--timeout SECONDS] [--memory MB]
                              [--compile-sample N] [--report PATH]
    python benchmarks/fuzz.py --show INDEX [--seed S]      # print one input, as the run made it

The default run (100,000 inputs, 2 workers) takes about half an hour on the project's 2-core machine.
Everything is deterministic in the seed: input ``i`` is made from ``random.Random(f"{seed}:{i}")``,
so any number in the report can be reproduced with ``--show i``.

Inputs, by source (the rows of the first table):

- generated: ``specgen.network_spec``, specs written to check clean (blocks, loops, every combinator);
- mutated: 1 to 6 token-level edits (``specgen.mutate``) of a repository spec or of a generated one;
- spliced: a prefix of one spec joined to a suffix of another (``specgen.splice``);
- hostile: hand-made inputs at the limits: long else-if chains, deep nesting, huge numbers.

Phase 1 runs ``archdsl.check(source=text)`` on every input in worker processes, each with an
address-space limit (``--memory``); the parent kills a worker whose input runs past ``--timeout``
and starts another. Besides ``check`` itself, the worker renders the diagnostics as the CLI does
(text and JSON) and asserts what the property tests assert (every span inside its text, every code
known, the layer count read from the text a lower bound of the real one). The columns:

- inputs: how many inputs of that source;
- clean: ``check`` returned no error and at least one network (warnings allowed);
- with diagnostics: ``check`` returned at least one error: the expected answer to a broken spec;
- no network: no error and no network (a file of blocks, or of comments);
- exceptions: ``check``, rendering or an invariant raised: a bug, listed below with its repro;
- hangs: the input ran past the timeout and its worker was killed;
- memory errors: ``MemoryError`` under the address-space limit;
- crashes: the worker died without an answer (a segfault, or killed by the system).

CPU time is the worker's ``time.process_time`` for the input. Peak memory is how far the input
raised the worker's peak RSS (``ru_maxrss``); a worker that grew by more than 200 MB is replaced,
so each input is measured from a near-fresh high-water mark. The five largest are measured again
alone with ``tracemalloc`` (the peak of Python allocations during ``check``).

Phase 2 takes a sample of the clean networks (``--compile-sample``) and, in workers without the
address-space limit (torch maps a lot of virtual memory), checks each network again, emits its
Python file (``archdsl.api.python_source``), executes it in a fresh module, instantiates the
network's class and compares it with ``archdsl.build``: the same initial weights for the same seed,
the same state_dict keys (and order) and shapes, and, after loading the built module's weights into
the emitted one, the same outputs on a random input (eval mode, ``torch.allclose(rtol=1e-4,
atol=1e-5)``). Networks over ``--compile-max-params`` parameters or ``--compile-max-activations``
activation elements are skipped to keep the phase cheap.

Distinct failures are grouped by (stage, exception type, message with numbers and quoted names
blanked, innermost archdsl frame); the smallest input of each group is minimised (lines, then
lexemes, deleted while the same failure persists, with a bounded number of tries) and reported
with its traceback tail. The full report goes to ``--report`` (markdown); the summary tables are
printed. The exit code is 0 unless the harness itself breaks: the numbers are the result.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import linecache
import multiprocessing
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import specgen  # noqa: E402  (tests/ is not a package)

KINDS = ("generated", "mutated", "spliced", "hostile")
OUTCOMES = ("clean", "diagnostics", "no network", "exception", "hang", "memory", "crash")
BATCH = 100

# ---------------------------------------------------------------------------------------------
# Inputs


def hostile_inputs() -> list[str]:
    """Hand-made inputs at and past the limits the README promises (E004) and values that break arithmetic."""
    net = "network n {{\n    input [3, 8, 8]\n{}\n}}\n".format
    chain = "if a == 0 { relu }" + "".join(f" else if a == {i} {{ relu }}" for i in range(1, 5000))
    many: list[str] = [
        "network n(a=4999) {\n    input [3, 8, 8]\n    " + chain + "\n}\n",
        "network n(a=-1) {\n    input [3, 8, 8]\n    " + chain + " else { gelu }\n}\n",
        net("    " + "seq { " * 99 + "relu" + " }" * 99),
        net("    " + "seq { " * 101 + "relu" + " }" * 101),
        net("    " + "residual { " * 300 + "relu" + " }" * 300),
        net("    " + "repeat(1) { " * 1000 + "relu" + " }" * 1000),
        net("    conv(" + "(" * 99 + "8" + ")" * 99 + ", 1)"),
        net("    conv(" + "(" * 150 + "8" + ")" * 150 + ", 1)"),
        net("    conv(" + "[" * 101 + "8" + "]" * 101 + ", 1)"),
        net("    conv(" + "-" * 1000 + "8, 1)"),
        net("    conv(8, 1, bias=" + "not " * 1000 + "true)"),
        net("    conv(" + "1 + " * 5000 + "1, 1)"),
        net("    conv(" + "2 ** " * 300 + "1, 1)"),
        net("    conv(" + "1 if true else " * 500 + "1, 1)"),
        net("    conv(" + "max(" * 90 + "8" + ")" * 90 + ", 1)"),
        net("    conv(" + "9" * 5000 + ", 1)"),
        net("    conv(10**10**10, 1)"),
        net("    conv(9**9**9, 1)"),
        net("    conv(2**2**2**2**2, 1)"),
        net("    conv(int(1e400), 1)"),
        net("    conv(int(1e308) * int(1e308), 1)"),
        net("    conv(len(range(10**18)), 1)"),
        net("    for i in range(10**18) { relu }"),
        net("    for i in range(1, 10, 0) { relu }"),
        net("    for i in range(3.5) { relu }"),
        net("    conv(len([0] * 10**9), 1)"),
        net("    conv(len((1,) * 10**9), 1)"),
        net("    conv(len(\"ab\" + \"c\" * 3), 1)"),
        net("    repeat(10**18) { relu }"),
        net("    repeat(10000) { repeat(10000) { relu } }"),
        net("    repeat(10000) { repeat(10) { relu } }"),
        net("    repeat(10000) { repeat(11) { relu } }"),
        net("    repeat(-1) { relu }"),
        net("    repeat(1.5) { relu }"),
        net("    conv(1 // 0, 1)"), net("    conv(1 % 0, 1)"), net("    conv(1 / 0, 1)"),
        net("    conv(0 ** -1, 1)"), net("    conv(int((-8) ** 0.5), 1)"), net("    dropout((-1) ** 0.5)"),
        net("    conv(int(-1e400), 1)"), net("    conv(int(float(10**400)), 1)"), net("    conv(abs(-2**63), 1)"),
        net("    conv(max(), 1)"), net("    conv(min([]), 1)"), net("    conv(len(5), 1)"),
        net("    conv(in.shape[10**18], 1)"), net("    conv(in.shape[-1], 1)"), net("    conv(in.shape[-10**30], 1)"),
        net("    conv(8, 3, s=0)"), net("    conv(8, 3, d=0)"), net("    conv(8, 3, groups=0)"),
        net("    conv(8, 3, p=-5)"), net("    conv(8, 0)"), net("    conv(0, 1)"), net("    conv(8, 3, s=10**30)"),
        net("    upsample(0)"), net("    upsample(1e-9)"), net("    upsample(0.3)"), net("    upsample(10**9)"),
        net("    upsample(1e400)"), net("    adaptive_avgpool(0)"), net("    dropout(2)"), net("    dropout(1e400)"),
        net("    channel_shuffle(0)"), net("    gn(0)"), net("    dwconv(3, mult=0)"),
        net("    conv_transpose(8, 3, op=5)"), net("    conv_transpose(8, 3, s=10**9)"), net("    linear(10**12)"),
        net("    maxpool(10**18)"), net("    avgpool(3, p=10**18)"), net("    layerscale(1e400)"),
        net("    bn(eps=1e-400); bn(eps=-1); bn(momentum=1e400)"),
        "network n {\n    input [3, 1000000000, 1000000000]\n    conv(8, 3); gap; flatten; linear(10)\n}\n",
        "network n {\n    input [1000000, 1, 1]\n    conv(1000000, 1)\n}\n",
        "network n {\n    input [3, 0, 8]\n    relu\n}\n",
        "network n {\n    input [-3, 8, 8]\n    relu\n}\n",
        "network n {\n    input [3, 8, 8, 8, 8]\n    conv(4, 3)\n}\n",
        "network n {\n    input [3]\n    conv(4, 3)\n}\n",
        "network n {\n    input [3, 8.5, 8]\n    relu\n}\n",
        "network n {\n    input []\n    relu\n}\n",
        "network n {\n    input [3, 8, 8]\n    input [3, 8, 8]\n}\n",
        "network n {\n    relu\n}\n",
        "block a { b }\nblock b { a }\nnetwork n {\n    input [3, 8, 8]\n    a\n}\n",
        _chain_of_blocks(63), _chain_of_blocks(64), _chain_of_blocks(65), _chain_of_blocks(500),
        _exponential_blocks(30), _exponential_blocks(60),
        "".join(f"network n{i} {{ input [3, 8, 8]; relu }}\n" for i in range(2000)),
        "# " + "x" * (1_000_000 - 3) + "\n",
        "# " + "x" * 1_000_000 + "\n",
        net("    " + "relu; " * 49_990),
        net("    " + "relu; " * 50_010),
        net("    " + "; " * 100_000 + "relu"),
        net('    upsample(2, mode="' + "a" * 500_000 + '")'),
        net('    upsample(2, mode="nearest)'),
        "\ufeff" + net("    relu"),
        net("    relu").replace("\n", "\r"),
        net("    relu").replace("\n", "\r\n"),
        net("    relu\x00; gelu"),
        net("    r\u00e9lu"),
        net("    relu\u2028gelu"),
        net("    for (a, b) in [(1,), (1, 2, 3)] { relu }"),
        net("    for (a, b) in [1, 2] { relu }"),
        net("    for a, a in [(1, 2)] { relu }"),
        net("    residual(when=1) { relu }"),
        net("    residual(shortcut=same) { relu }"),
        net("    residual(shortcut=project, when=false) { conv(4, 1) }"),
        net("    dense(0) { conv(4, 1) }"), net("    dense(10000) { conv(4, 1) }"), net("    dense(-1) { relu }"),
        net("    concat { }"), net("    add { }"), net("    gate { }"), net("    residual { }"),
        net("    concat { relu }"), net("    branch { relu }"), net("    shortcut { relu }"),
        net("    residual { shortcut { relu }; shortcut { relu } }"),
        net("    residual { residual { shortcut { relu } } }"),
        net("    relu { relu }"), net("    x: y: relu"), net("    __init__: relu"), net("    forward: relu"),
        net("    import: relu"), net("    input: relu"),
        'import "/dev/zero"\n' + net("    relu"),
        'import "/proc/self/status"\n' + net("    relu"),
        'import "."\n' + net("    relu"),
        'import ""\n' + net("    relu"),
        "import " + '"a.arch"\n' * 1000,
    ]
    return many


def _chain_of_blocks(depth: int) -> str:
    """Blocks calling one another ``depth`` deep: the README's limit is 64."""
    blocks = [f"block b{i} {{ b{i + 1} }}" for i in range(depth)] + [f"block b{depth} {{ relu }}"]
    return "\n".join(blocks) + "\nnetwork n {\n    input [3, 8, 8]\n    b0\n}\n"


def _exponential_blocks(depth: int) -> str:
    """Each block calls the next twice: 2**depth layers, which the text-read layer count refuses early."""
    blocks = [f"block b{i} {{ b{i + 1}; b{i + 1} }}" for i in range(depth)] + [f"block b{depth} {{ relu }}"]
    return "\n".join(blocks) + "\nnetwork n {\n    input [3, 8, 8]\n    b0\n}\n"


@dataclass
class Inputs:
    """Makes input ``index`` of a run from the seed alone, in the parent or in any worker."""

    seed: int
    corpus: list[str]
    hostile: list[str]

    def make(self, index: int) -> tuple[str, str]:
        if index < len(self.hostile):
            return "hostile", self.hostile[index]
        rng = random.Random(f"{self.seed}:{index}")
        roll = rng.random()
        if roll < 0.4:
            return "generated", specgen.network_spec(rng)
        if roll < 0.8:
            return "mutated", specgen.mutate(rng, self.base(rng))
        return "spliced", specgen.splice(rng, self.base(rng), self.base(rng))

    def base(self, rng: random.Random) -> str:
        """A spec to mutate or splice: half from the repository, half generated."""
        return rng.choice(self.corpus) if rng.random() < 0.5 else specgen.network_spec(rng)


# ---------------------------------------------------------------------------------------------
# Records


@dataclass(slots=True)
class Failure:
    """One exception (or a wrong answer) with what is needed to group it and to show it."""

    stage: str
    type: str
    message: str
    tail: str = ""  # the last frames of the traceback
    site: str = ""  # the innermost archdsl frame, file:function
    group: str = ""  # what groups it, where the normalised message would split one bug in many

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.stage, self.type, self.group or normalise(self.message), self.site


@dataclass(slots=True)
class CheckRecord:
    index: int
    kind: str
    outcome: str
    cpu: float = 0.0
    rss_kb: int = 0  # growth of the worker's peak RSS during this input
    size: int = 0
    networks: tuple[str, ...] = ()  # of a clean input
    failure: Failure | None = None


@dataclass(slots=True)
class CompileRecord:
    index: int
    kind: str
    network: str
    outcome: str  # "ok", "skipped", or the stage that failed
    seconds: float = 0.0
    failure: Failure | None = None


def normalise(message: str) -> str:
    """A message with what varies between inputs blanked: numbers, addresses, quoted names."""
    text = re.sub(r"0x[0-9a-fA-F]+", "0x?", message.strip().split("\n")[0])
    text = re.sub(r"(['`\"])[^'`\"]{0,60}\1", r"\1?\1", text)
    text = re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "N", text)
    return re.sub(r"\s+", " ", text)[:240]


def describe(stage: str, error: BaseException) -> Failure:
    """The failure of ``error``; a syntax error in the emitted file names its line (the traceback is no help)."""
    if isinstance(error, SyntaxError) and error.filename == "<emitted>":
        line = (error.text or "").strip()
        start = " ".join(re.findall(r"\w+|[^\w\s]", line)[:4])  # `self . 0 =`, `def __init__ ( self`
        return Failure(stage, "SyntaxError", f"{error.msg}: {line}", f"line {error.lineno} of the emitted file:\n"
                       f"    {line}", "<emitted>", normalise(f"{error.msg}: {start}"))
    frames = traceback.extract_tb(error.__traceback__)
    tail = "".join(traceback.format_list(frames[-6:])).replace(str(ROOT) + "/", "")
    ours = [f for f in frames if "/archdsl/" in f.filename or f.filename == "<emitted>"]
    site = f"{Path(ours[-1].filename).name}:{ours[-1].name}" if ours else ""
    message = str(error) if not isinstance(error, KeyError) else repr(error.args[0] if error.args else "")
    return Failure(stage, type(error).__name__, message[:2000], tail, site)


# ---------------------------------------------------------------------------------------------
# Phase 1, in the worker: check one input


class Deadline(BaseException):
    """Raised by SIGALRM inside a worker; a BaseException, so no ``except Exception`` in archdsl catches it."""


def _alarm(signum: int, frame: object) -> None:
    raise Deadline


def run_check(text: str) -> tuple[str, tuple[str, ...], Failure | None]:
    """Check ``text`` as the CLI would (check, then render the diagnostics) and assert the invariants."""
    import archdsl
    from archdsl.diagnostics import render_json, render_text

    stage = "check"
    try:
        result = archdsl.check(source=text)
        stage = "render"
        render_text(result.diagnostics, result.sources)
        render_json(result.diagnostics)
        stage = "invariant"
        _invariants(result)
    except (Deadline, MemoryError):
        raise
    except Exception as error:  # RecursionError included: every exception here is a finding
        return "exception", (), describe(stage, error)
    if not result.ok:
        return "diagnostics", (), None
    if not result.networks:
        return "no network", (), None
    return "clean", tuple(n.name for n in result.networks), None


def _invariants(result: Any) -> None:
    """What ``tests/test_properties.py`` asserts of every answer of ``check``."""
    from archdsl import errorcodes, ir
    from archdsl.elaboration.least_layers import LeastLayers
    from archdsl.elaboration.limits import MAX_BLOCK_DEPTH, MAX_REPEAT

    known = {code.id for code in errorcodes.ALL}
    for d in result.diagnostics:
        assert d.code.id in known, f"unknown code {d.code.id}"
        span = d.span
        if span is None or span.file not in result.sources:
            continue
        lines = result.sources[span.file].split("\n")
        assert 1 <= span.line <= span.end_line <= len(lines), f"{d.code.id} span lines outside the text"
        assert 1 <= span.col <= len(lines[span.line - 1]) + 1, f"{d.code.id} span column outside its line"
        assert (span.line, span.col) <= (span.end_line, span.end_col), f"{d.code.id} span ends before it starts"
    for network in result.networks:
        program = result.programs[id(network)]
        bound = LeastLayers(program.blocks, cap=10**15, max_count=MAX_REPEAT, max_depth=MAX_BLOCK_DEPTH)
        least = bound.of(program.networks[network.name].body)
        layers = sum(isinstance(n, ir.Layer) for n in ir.walk(network.root))
        assert least <= layers, f"layer count read from the text ({least}) exceeds the real one ({layers})"


def _max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _check_item(inputs: Inputs, index: int) -> CheckRecord:
    kind, text = inputs.make(index)
    rss, cpu = _max_rss_kb(), time.process_time()
    try:
        outcome, networks, failure = run_check(text)
    except MemoryError as error:
        outcome, networks, failure = "memory", (), describe("check", error)
    return CheckRecord(index, kind, outcome, time.process_time() - cpu, max(0, _max_rss_kb() - rss), len(text),
                       networks, failure)


def _measure_item(inputs: Inputs, index: int) -> int | None:
    """The tracemalloc peak of checking input ``index`` alone, in bytes."""
    import tracemalloc

    _, text = inputs.make(index)
    tracemalloc.start()
    try:
        run_check(text)
        return tracemalloc.get_traced_memory()[1]
    except MemoryError:
        return None
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------------------------
# Phase 2, in the worker: compile one network and compare the back ends


@dataclass
class Limits:
    max_params: int
    max_activations: int


class Mismatch(Exception):
    """The two back ends disagree; the message says how."""


def build_module(text: str, network: str) -> Any:
    """``archdsl.build`` of ``text``: the ``source=`` keyword where it exists, else the text as first argument.

    The positional form takes one line without a newline for a path, so a newline is added.
    """
    import archdsl

    try:
        return archdsl.build(source=text, network=network)
    except TypeError as error:
        if "source" not in str(error) and "spec" not in str(error):
            raise
    return archdsl.build(text if "\n" in text else text + "\n", network=network)


def run_compile(text: str, name: str, limits: Limits) -> tuple[str, Failure | None]:
    """Emit, execute and instantiate the Python file of network ``name``; compare it with ``archdsl.build``.

    Returns ("ok" | "skipped", None) or (stage, failure). A network that was clean in phase 1 and is not when
    checked alone fails at stage "recheck": ``check(network=NAME)`` disagrees with ``check()`` (or archdsl changed
    under a long run).
    """
    import torch

    import archdsl
    from archdsl import ir
    from archdsl.api import python_source

    result = archdsl.check(source=text, network=name)
    if not result.ok or len(result.networks) != 1:
        errors = [d for d in result.diagnostics if d.is_error]
        first = errors[0] if errors else None
        message = f"{first.code.id}: {first.message}" if first else f"{len(result.networks)} networks"
        return "recheck", Failure("recheck", "not clean", message)
    network = result.networks[0]
    activations = sum(_elements(layer.output.shape) for layer in ir.layers_in(network.root))
    if ir.count_params(network.root) > limits.max_params or activations > limits.max_activations:
        return "skipped", None
    stage = "emit"
    try:
        source = python_source(result, network, "<fuzz>")
        stage = "parse"
        linecache.cache["<emitted>"] = (len(source), None, source.splitlines(keepends=True), "<emitted>")
        code = compile(source, "<emitted>", "exec")
        stage = "import"
        namespace = _execute(code)
        cls = _network_class(namespace, name)
        stage = "construct"
        torch.manual_seed(0)
        emitted = cls()
        stage = "build"
        torch.manual_seed(0)
        built = build_module(text, name)
        stage = "initial weights"
        _same_weights(built.state_dict(), emitted.state_dict(), stage)
        stage = "load"
        emitted.load_state_dict(built.state_dict())
        stage = "forward"
        built.eval()
        emitted.eval()
        torch.manual_seed(0)
        x = torch.randn(2, *network.input.shape)
        with torch.no_grad():
            ours = built(x)
            stage = "forward (emitted)"
            theirs = emitted(x)
        stage = "outputs"
        _same_outputs(ours, theirs, tuple(network.output.shape))
    except (Deadline, MemoryError):
        raise
    except Exception as error:
        return stage, describe(stage, error)
    return "ok", None


def _elements(shape: Sequence[int]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


def _execute(code: Any) -> dict[str, Any]:
    """Run the emitted file in a fresh module registered in ``sys.modules`` (dataclasses and pickling want it)."""
    import types

    module = types.ModuleType("archdsl_fuzz_emitted")
    sys.modules[module.__name__] = module
    try:
        exec(code, module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module.__dict__


def _network_class(namespace: dict[str, Any], name: str) -> Any:
    """The last module class whose name is the network's in PascalCase (maybe numbered to stay unique)."""
    from torch import nn

    from archdsl.back.pynames import class_name

    classes = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, nn.Module)
               and v.__module__ == "archdsl_fuzz_emitted"]
    wanted = class_name(name, set())
    named = [c for c in classes if re.fullmatch(re.escape(wanted) + r"\d*", c.__name__)]
    if not named:
        raise Mismatch(f"no class named {wanted} among {[c.__name__ for c in classes]}")
    return named[-1]


def _same_weights(ours: dict[str, Any], theirs: dict[str, Any], stage: str) -> None:
    import torch

    if set(ours) != set(theirs):
        missing, extra = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
        raise Mismatch(f"state_dict keys differ: emitted lacks {len(missing)} {missing[:4]}, has {len(extra)} "
                       f"extra {extra[:4]}")
    if list(ours) != list(theirs):
        first = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)
        raise Mismatch(f"state_dict key order differs from key {first}: built {list(ours)[first]}, "
                       f"emitted {list(theirs)[first]}")
    shapes = [k for k in ours if ours[k].shape != theirs[k].shape]
    if shapes:
        k = shapes[0]
        raise Mismatch(f"state_dict shapes differ in {len(shapes)} tensors: {k} built {tuple(ours[k].shape)}, "
                       f"emitted {tuple(theirs[k].shape)}")
    values = [k for k in ours if ours[k].dtype.is_floating_point and not torch.equal(ours[k], theirs[k])]
    if values:
        raise Mismatch(f"initial weights differ for the same seed in {len(values)} tensors: {values[:3]}")


def _same_outputs(ours: Any, theirs: Any, expected: tuple[int, ...]) -> None:
    import torch

    if tuple(ours.shape[1:]) != expected:
        raise Mismatch(f"built output shape {tuple(ours.shape[1:])} is not the checked {expected}")
    if ours.shape != theirs.shape:
        raise Mismatch(f"output shapes differ: built {tuple(ours.shape)}, emitted {tuple(theirs.shape)}")
    if not torch.allclose(ours, theirs, rtol=1e-4, atol=1e-5, equal_nan=True):
        diff = (ours - theirs).abs().nan_to_num(float("inf")).max().item()
        raise Mismatch(f"outputs differ: max abs difference {diff:.3g}")


def _compile_item(inputs: Inputs, item: tuple[int, str], limits: Limits) -> CompileRecord:
    index, name = item
    kind, text = inputs.make(index)
    start = time.perf_counter()
    outcome, failure = run_compile(text, name, limits)
    return CompileRecord(index, kind, name, outcome, time.perf_counter() - start, failure)


# ---------------------------------------------------------------------------------------------
# Minimising a repro, in the worker


@dataclass
class Budget:
    tries: int
    seconds: float
    per_try: float  # SIGALRM deadline for one try


def minimise(text: str, fails: Callable[[str], bool], budget: Budget) -> str:
    """Delete chunks of lines, then of lexemes, while ``fails`` still holds; stops at the budget.

    Coarse chunks first (halving down to one unit), as delta debugging does, so a long spec
    shrinks in a few tries and the last tries remove single lexemes.
    """
    tries = Tries(fails, budget)
    for split in (None, _lines, _tokens, None, _lines):
        if split is None:
            text = _delete_braced(text, tries)
            continue
        units = split(text)
        chunk = max(1, len(units) // 2)
        while chunk >= 1 and not tries.exhausted:
            i = 0
            while i < len(units) and not tries.exhausted:
                candidate = units[:i] + units[i + chunk:]
                if tries.holds("".join(candidate)):
                    units = candidate
                else:
                    i += chunk
            chunk //= 2
        text = "".join(units)
    return text


class Tries:
    """Runs ``fails`` on candidates under a per-try deadline, until the budget of tries or seconds is spent."""

    def __init__(self, fails: Callable[[str], bool], budget: Budget) -> None:
        self.fails = fails
        self.budget = budget
        self.end = time.monotonic() + budget.seconds
        self.count = 0

    @property
    def exhausted(self) -> bool:
        return self.count >= self.budget.tries or time.monotonic() > self.end

    def holds(self, candidate: str) -> bool:
        if self.exhausted or not candidate.strip():
            return False
        self.count += 1
        signal.setitimer(signal.ITIMER_REAL, self.budget.per_try)
        try:
            return self.fails(candidate)
        except (Deadline, MemoryError):
            return False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _delete_braced(text: str, tries: Tries) -> str:
    """Try deleting each line that opens a ``{`` together with the lines up to its closing ``}``: whole
    definitions and combinators, which chunks of lines rarely line up with."""
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines) and not tries.exhausted:
        depth, j = 0, i
        while j < len(lines):
            depth += lines[j].count("{") - lines[j].count("}")
            if depth <= 0:
                break
            j += 1
        if "{" in lines[i] and j < len(lines) and tries.holds("".join(lines[:i] + lines[j + 1:])):
            del lines[i:j + 1]
        else:
            i += 1
    return "".join(lines)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _tokens(text: str) -> list[str]:
    """Lexemes, each with the white space after it, so deleting one keeps the rest readable."""
    units: list[str] = []
    for lexeme in specgen.LEXEME.findall(text):
        if units and lexeme.isspace():
            units[-1] += lexeme
        else:
            units.append(lexeme)
    return units


def _minimise_check(item: tuple[str, tuple[str, ...]], budget: Budget) -> tuple[str, Failure | None]:
    """The minimised text and its failure (the same key; the message and traceback of the small spec)."""
    text, key = item
    seen: dict[str, Failure] = {}

    def fails(candidate: str) -> bool:
        _, _, failure = run_check(candidate)
        if failure is not None and failure.key == key:
            seen[candidate] = failure
            return True
        return False

    small = minimise(text, fails, budget)
    return small, seen.get(small)


def _minimise_compile(item: tuple[str, str, tuple[str, ...]], budget: Budget, limits: Limits
                      ) -> tuple[str, Failure | None]:
    text, name, key = item
    seen: dict[str, Failure] = {}

    def fails(candidate: str) -> bool:
        _, failure = run_compile(candidate, name, limits)
        if failure is not None and failure.key == key:
            seen[candidate] = failure
            return True
        return False

    small = minimise(text, fails, budget)
    return small, seen.get(small)


# ---------------------------------------------------------------------------------------------
# Workers and the pool


@dataclass
class WorkerConfig:
    seed: int
    sandbox: str
    memory_mb: int | None  # None: no address-space limit (the torch phase)
    timeout: float  # of one item: faulthandler dumps the stack a little before the parent kills
    retire_kb: int  # a worker whose peak RSS grew this much is replaced
    limits: Limits
    budget: Budget
    dump: str  # faulthandler writes the stack of a hanging input here


def worker_main(conn: Connection, config: WorkerConfig) -> None:
    """Serve tasks: a task is a mode and a list of items; one answer per item, in order.

    Each answer is (result, retire): a worker that retires exits after it, so a worker's
    memory never carries over far into the next inputs, and one that hit MemoryError is fresh again.
    """
    os.chdir(config.sandbox)
    if config.memory_mb is not None:
        limit = config.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _alarm)
    import archdsl

    archdsl.check(source="network warm { input [3, 8, 8]; relu }")  # Lark's tables, the prelude
    if config.memory_mb is None:
        import torch

        torch.set_num_threads(1)
    inputs = Inputs(config.seed, specgen.seeds(), hostile_inputs())
    baseline = _max_rss_kb()
    conn.send("ready")
    dump = open(config.dump, "w")  # noqa: SIM115  (open for the worker's life)
    fd = dump.fileno()
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        mode, items = task
        for item in items:
            if os.fstat(fd).st_size:  # only the stack of the input that hangs is wanted
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
            faulthandler.dump_traceback_later(config.timeout * 0.9, file=dump)
            result = _serve(mode, item, inputs, config)
            faulthandler.cancel_dump_traceback_later()
            retire = (isinstance(result, CheckRecord) and result.outcome == "memory") \
                or _max_rss_kb() - baseline > config.retire_kb
            conn.send((result, retire))
            if retire:
                return


def _serve(mode: str, item: Any, inputs: Inputs, config: WorkerConfig) -> Any:
    if mode == "check":
        return _check_item(inputs, item)
    if mode == "measure":
        return _measure_item(inputs, item)
    if mode == "compile":
        return _compile_item(inputs, item, config.limits)
    if mode == "minimise check":
        return _minimise_check(item, config.budget)
    if mode == "minimise compile":
        return _minimise_compile(item, config.budget, config.limits)
    raise ValueError(f"unknown mode {mode}")


@dataclass
class Lost:
    """An item whose worker was killed (a hang) or died (a crash), with the stack faulthandler saw."""

    reason: str  # "hang" | "crash"
    seconds: float
    stack: str = ""
    exitcode: int | None = None


@dataclass
class _Slot:
    process: Any
    conn: Connection
    dump: str
    items: deque[Any] = field(default_factory=deque)
    mode: str = ""
    started: float = 0.0


class Pool:
    """Worker processes that take tasks in batches and are killed and replaced on a hang.

    The parent knows which item a worker is on (the first not yet answered) and since when, so
    a batch costs one message per item and no ``start`` messages.
    """

    def __init__(self, size: int, config: WorkerConfig, item_timeout: float) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.config = config
        self.item_timeout = item_timeout
        self.slots = [self._start(i) for i in range(size)]
        self.restarts = 0

    def _start(self, number: int) -> _Slot:
        dump = str(Path(self.config.sandbox) / f"stack-{number}-{time.monotonic_ns()}.txt")
        ours, theirs = self.context.Pipe()
        config = WorkerConfig(**{**self.config.__dict__, "dump": dump})
        process = self.context.Process(target=worker_main, args=(theirs, config), daemon=True)
        process.start()
        theirs.close()
        if not ours.poll(300) or ours.recv() != "ready":
            raise RuntimeError("a worker did not start")
        return _Slot(process, ours, dump)

    def _replace(self, index: int, kill: bool) -> None:
        slot = self.slots[index]
        if kill and slot.process.is_alive():
            slot.process.kill()
        slot.process.join()
        slot.conn.close()
        Path(slot.dump).unlink(missing_ok=True)
        self.slots[index] = self._start(index)
        self.restarts += 1

    def run(self, mode: str, items: Sequence[Any], batch: int = BATCH, timeout: float | None = None
            ) -> Iterator[tuple[Any, Any]]:
        """Yield (item, result) for every item, in no particular order; a lost item's result is a ``Lost``.

        ``timeout`` (default: the pool's) is how long one item may take before its worker is killed.
        """
        limit = self.item_timeout if timeout is None else timeout
        pending = deque(list(items[i:i + batch]) for i in range(0, len(items), batch))
        while pending or any(slot.items for slot in self.slots):
            for slot in self.slots:
                if not slot.items and pending:
                    task = pending.popleft()
                    slot.items, slot.mode, slot.started = deque(task), mode, time.monotonic()
                    slot.conn.send((mode, task))
            busy = [slot.conn for slot in self.slots if slot.items]
            ready = wait(busy, timeout=0.25)
            for number, slot in enumerate(self.slots):
                if slot.conn in ready:
                    yield from self._answer(number, pending)
                elif slot.items and time.monotonic() - slot.started > limit:
                    yield from self._lose(number, pending, "hang")

    def _answer(self, number: int, pending: deque[list[Any]]) -> Iterator[tuple[Any, Any]]:
        slot = self.slots[number]
        try:
            result, retire = slot.conn.recv()
        except (EOFError, OSError):
            yield from self._lose(number, pending, "crash")
            return
        item = slot.items.popleft()
        slot.started = time.monotonic()
        yield item, result
        if retire:
            if slot.items:
                pending.appendleft(list(slot.items))
            slot.items.clear()
            self._replace(number, kill=False)

    def _lose(self, number: int, pending: deque[list[Any]], reason: str) -> Iterator[tuple[Any, Any]]:
        slot = self.slots[number]
        item = slot.items.popleft()
        seconds = time.monotonic() - slot.started
        if reason == "hang":
            slot.process.kill()
        slot.process.join()
        stack = Path(slot.dump).read_text(errors="replace") if Path(slot.dump).exists() else ""
        exitcode = slot.process.exitcode
        if slot.items:
            pending.appendleft(list(slot.items))
        slot.items.clear()
        self._replace(number, kill=True)
        yield item, Lost(reason, seconds, _stack_tail(stack), exitcode)

    def close(self) -> None:
        for slot in self.slots:
            with contextlib.suppress(OSError):
                slot.conn.send(None)
        for slot in self.slots:
            slot.process.join(5)
            if slot.process.is_alive():
                slot.process.kill()
            Path(slot.dump).unlink(missing_ok=True)


def _stack_tail(dump: str) -> str:
    """The main thread's innermost frames from a faulthandler dump (most recent call first)."""
    lines = [line.strip() for line in dump.splitlines() if line.strip().startswith("File")]
    return "\n".join(line.replace(str(ROOT) + "/", "") for line in lines[:8])


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class Group:
    """Inputs that fail the same way, and the smallest of them."""

    failure: Failure
    count: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    index: int = -1
    size: int = 10**12
    network: str = ""
    repro: str = ""


def group_failures(records: Sequence[CheckRecord | CompileRecord], outcomes: set[str] | None = None
                   ) -> dict[tuple[str, ...], Group]:
    groups: dict[tuple[str, ...], Group] = {}
    for record in records:
        if record.failure is None or (outcomes is not None and record.outcome not in outcomes):
            continue
        group = groups.setdefault(record.failure.key, Group(record.failure))
        group.count += 1
        group.kinds[record.kind] += 1
        size = record.size if isinstance(record, CheckRecord) else 0
        if group.index < 0 or size < group.size:
            group.failure, group.index, group.size = record.failure, record.index, size
            group.network = record.network if isinstance(record, CompileRecord) else ""
    return groups


@dataclass
class Run:
    args: argparse.Namespace
    inputs: Inputs
    sandbox: str
    checks: list[CheckRecord] = field(default_factory=list)
    lost: dict[int, Lost] = field(default_factory=dict)
    peaks: dict[int, int | None] = field(default_factory=dict)
    check_groups: dict[tuple[str, ...], Group] = field(default_factory=dict)
    compiles: list[CompileRecord] = field(default_factory=list)
    compile_groups: dict[tuple[str, ...], Group] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    restarts: int = 0

    def config(self, phase: str) -> WorkerConfig:
        """Check workers: the address-space limit, replaced after 200 MB of growth; compile workers: neither."""
        a = self.args
        limits = Limits(a.compile_max_params, a.compile_max_activations)
        if phase == "check":
            budget = Budget(a.minimise_tries, a.minimise_seconds, min(a.timeout, 5.0))
            return WorkerConfig(a.seed, self.sandbox, a.memory, a.timeout, 200 * 1024, limits, budget, "")
        budget = Budget(a.minimise_tries, a.minimise_seconds * 2, min(a.compile_timeout, 30.0))
        return WorkerConfig(a.seed, self.sandbox, None, a.compile_timeout, 2048 * 1024, limits, budget, "")

    def minimise_timeout(self, config: WorkerConfig) -> float:
        return config.budget.seconds + config.budget.per_try + 60


def phase_check(run: Run) -> None:
    a = run.args
    config = run.config("check")
    pool = Pool(a.workers, config, a.timeout)
    start = time.monotonic()
    done = 0
    step = max(1, a.count // 20)
    try:
        for index, result in pool.run("check", range(a.count)):
            if isinstance(result, Lost):
                kind, text = run.inputs.make(index)
                run.lost[index] = result
                result = CheckRecord(index, kind, result.reason, 0.0, 0, len(text))  # its seconds: in run.lost
            run.checks.append(result)
            done += 1
            if done % step == 0:
                _progress("check", done, a.count, start)
        run.checks.sort(key=lambda r: r.index)
        run.times["check"] = time.monotonic() - start
        start = time.monotonic()
        largest = sorted(run.checks, key=lambda r: -r.rss_kb)[:5]
        for index, peak in pool.run("measure", [r.index for r in largest], batch=1, timeout=max(120.0, a.timeout * 10)):
            run.peaks[index] = None if isinstance(peak, Lost) else peak
        run.check_groups = group_failures(run.checks, {"exception", "memory"})
        _minimise_groups(run, pool, run.check_groups, "minimise check", run.minimise_timeout(config))
        run.times["check minimise"] = time.monotonic() - start
    finally:
        run.restarts += pool.restarts
        pool.close()


def _minimise_groups(run: Run, pool: Pool, groups: dict[tuple[str, ...], Group], mode: str, timeout: float) -> None:
    """Minimise the smallest input of every group (memory errors are kept whole: each try could take seconds)."""
    items: list[Any] = []
    for key, group in groups.items():
        _, text = run.inputs.make(group.index)
        group.repro = text
        if group.failure.type == "MemoryError":
            continue
        items.append((text, key) if mode == "minimise check" else (text, group.network, key))
    for item, result in pool.run(mode, items, batch=1, timeout=timeout):
        key = item[1] if mode == "minimise check" else item[2]
        if isinstance(result, tuple):
            groups[key].repro = result[0]
            if result[1] is not None:
                groups[key].failure = result[1]


def compile_sample(run: Run) -> list[tuple[int, str]]:
    """Clean networks in a seeded random order, ``--compile-sample`` of them."""
    rng = random.Random(f"{run.args.seed}:compile")
    clean = [r for r in run.checks if r.outcome == "clean"]
    rng.shuffle(clean)
    chosen: list[tuple[int, str]] = []
    for record in clean:
        for name in record.networks:
            if len(chosen) < run.args.compile_sample and record.networks.count(name) == 1:
                chosen.append((record.index, name))
    return chosen


def phase_compile(run: Run) -> None:
    a = run.args
    sample = compile_sample(run)
    if not sample:
        return
    config = run.config("compile")
    pool = Pool(min(a.workers, len(sample)), config, a.compile_timeout)
    start = time.monotonic()
    try:
        for item, result in pool.run("compile", sample, batch=10):
            if isinstance(result, Lost):
                index, name = item
                kind, _ = run.inputs.make(index)
                failure = Failure(result.reason, result.reason, f"worker {result.reason} after {result.seconds:.0f} s",
                                  result.stack)
                result = CompileRecord(index, kind, name, result.reason, result.seconds, failure)
            run.compiles.append(result)
        run.compiles.sort(key=lambda r: r.index)
        run.times["compile"] = time.monotonic() - start
        start = time.monotonic()
        run.compile_groups = group_failures(run.compiles)
        for group in run.compile_groups.values():  # the smallest spec of the group, by its text
            sizes = [(len(run.inputs.make(r.index)[1]), r.index, r.network, r.failure) for r in run.compiles
                     if r.failure is not None and r.failure.key == group.failure.key]
            group.size, group.index, group.network, failure = min(sizes, key=lambda s: s[:3])
            group.failure = failure or group.failure
        _minimise_groups(run, pool, run.compile_groups, "minimise compile", run.minimise_timeout(config))
        run.times["compile minimise"] = time.monotonic() - start
    finally:
        run.restarts += pool.restarts
        pool.close()


def _progress(phase: str, done: int, total: int, start: float) -> None:
    elapsed = time.monotonic() - start
    rate = done / elapsed if elapsed else 0.0
    eta = (total - done) / rate if rate else 0.0
    print(f"[{phase}] {done}/{total} ({rate:.0f}/s, {elapsed:.0f} s, about {eta:.0f} s left)", file=sys.stderr,
          flush=True)


# ---------------------------------------------------------------------------------------------
# The report


def _first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    line = line if len(line) <= 60 else line[:57] + "..."
    return "`" + line.replace("`", "'").replace("|", "\\|") + "`" if line else "(empty)"


def check_table(run: Run) -> str:
    rows = ["| source | inputs | clean | with diagnostics | no network | exceptions | hangs | memory errors "
            "| crashes |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in (*KINDS, "total"):
        records = [r for r in run.checks if kind in (r.kind, "total")]
        counts = Counter(r.outcome for r in records)
        cells = [len(records)] + [counts[o] for o in OUTCOMES]
        rows.append(f"| {kind} | " + " | ".join(f"{n:,}" for n in cells) + " |")
    return "\n".join(rows)


def slowest_table(run: Run) -> str:
    rows = ["| input | CPU s | source | outcome | size | first line |", "|---:|---:|---|---|---:|---|"]
    for r in sorted(run.checks, key=lambda r: -r.cpu)[:5]:
        rows.append(f"| {r.index} | {r.cpu:.3f} | {r.kind} | {r.outcome} | {r.size:,} | "
                    f"{_first_line(run.inputs.make(r.index)[1])} |")
    return "\n".join(rows)


def memory_table(run: Run) -> str:
    rows = ["| input | peak RSS growth MB | tracemalloc peak MB | CPU s | source | outcome | size | first line |",
            "|---:|---:|---:|---:|---|---|---:|---|"]
    for r in sorted(run.checks, key=lambda r: -r.rss_kb)[:5]:
        peak = run.peaks.get(r.index)
        rows.append(f"| {r.index} | {r.rss_kb / 1024:.1f} | {'-' if peak is None else f'{peak / 2**20:.1f}'} | "
                    f"{r.cpu:.3f} | {r.kind} | {r.outcome} | {r.size:,} | {_first_line(run.inputs.make(r.index)[1])} |")
    return "\n".join(rows)


def compile_table(run: Run) -> str:
    counts = Counter(r.outcome for r in run.compiles)
    failed = {k: n for k, n in counts.items() if k not in ("ok", "skipped")}
    seconds = sum(r.seconds for r in run.compiles)
    lines = ["| sampled networks | ok | skipped (too large) | failed | seconds |", "|---:|---:|---:|---:|---:|",
             f"| {len(run.compiles)} | {counts['ok']} | {counts['skipped']} | {sum(failed.values())} | "
             f"{seconds:.0f} |"]
    if failed:
        lines += ["", "| failed at stage | networks |", "|---|---:|"]
        lines += [f"| {stage} | {n} |" for stage, n in sorted(failed.items())]
    kinds = Counter(r.kind for r in run.compiles)
    lines += ["", "sampled by source: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))]
    return "\n".join(lines)


def _fence(text: str, lang: str = "") -> str:
    limit = 6000
    shown = text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit:,} more characters)"
    ticks = "````" if "```" in shown else "```"
    return f"{ticks}{lang}\n{shown.rstrip()}\n{ticks}"


def groups_section(run: Run, groups: dict[tuple[str, ...], Group], title: str) -> str:
    if not groups:
        return f"### {title}: none\n"
    parts = [f"### {title}: {len(groups)}\n"]
    ordered = sorted(groups.values(), key=lambda g: (-g.count, g.failure.stage))
    for number, group in enumerate(ordered, 1):
        f = group.failure
        original = len(run.inputs.make(group.index)[1])
        kinds = ", ".join(f"{k} {n}" for k, n in group.kinds.most_common())
        network = f", network `{group.network}`" if group.network else ""
        parts.append(f"#### {number}. {f.stage}: {f.type}: {f.message.splitlines()[0][:300] if f.message else ''}\n")
        parts.append(f"{group.count} inputs ({kinds}); smallest input {group.index}{network}, {original:,} characters,"
                     f" minimised to {len(group.repro):,}; raised in {f.site or '-'}.\n")
        parts.append(_fence(group.repro, "arch") + "\n")
        if f.tail:
            parts.append("Traceback tail:\n\n" + _fence(f.tail) + "\n")
    return "\n".join(parts)


def lost_section(run: Run) -> str:
    if not run.lost:
        return "### Hangs and crashes: none\n"
    parts = [f"### Hangs and crashes: {len(run.lost)}\n"]
    smallest = sorted(run.lost.items(), key=lambda kv: len(run.inputs.make(kv[0])[1]))[:10]
    for index, lost in smallest:
        kind, text = run.inputs.make(index)
        code = "" if lost.exitcode is None else f", exit code {lost.exitcode}"
        parts.append(f"#### input {index} ({kind}): {lost.reason} after {lost.seconds:.1f} s{code}, "
                     f"{len(text):,} characters\n")
        parts.append(_fence(text, "arch") + "\n")
        if lost.stack:
            parts.append("Where it was (faulthandler, innermost first):\n\n" + _fence(lost.stack) + "\n")
    return "\n".join(parts)


def _version() -> str:
    """The commit checked, and whether the working tree differs from it (others may be changing it)."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "archdsl")
    return f"at commit {commit}" + (" with uncommitted changes to archdsl/" if dirty else "")


def report(run: Run) -> tuple[str, str]:
    """The full markdown report, and the summary printed at the end."""
    a = run.args
    total = sum(run.times.values())
    head = (f"# archdsl fuzz report\n\narchdsl {_version()}; seed {a.seed}, {a.count:,} inputs, {a.workers} workers,"
            f" timeout {a.timeout:g} s, memory limit {a.memory} MB, compile sample {a.compile_sample};"
            f" took {total / 60:.1f} min ("
            + ", ".join(f"{k} {v:.0f} s" for k, v in run.times.items()) + f"); {run.restarts} worker restarts.\n")
    summary = "\n\n".join([
        head, "## Check\n", check_table(run), "### Slowest inputs\n", slowest_table(run),
        "### Largest peak memory\n", memory_table(run), "## Compile (emitted Python against archdsl.build)\n",
        compile_table(run),
        "distinct check exceptions: " + str(len(run.check_groups)) + "; distinct compile failures: "
        + str(len(run.compile_groups)) + "; hangs and crashes: " + str(len(run.lost)),
    ])
    full = "\n\n".join([
        summary, "## Failures in check\n", groups_section(run, run.check_groups, "Distinct exceptions in check"),
        lost_section(run), "## Failures in compile\n",
        groups_section(run, run.compile_groups, "Distinct compile failures"),
    ])
    return full, summary


# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--count", type=int, default=100_000, help="inputs to check (default 100000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds one input may take before it is a hang")
    p.add_argument("--memory", type=int, default=2048, help="address-space limit of a check worker, MB")
    p.add_argument("--compile-sample", type=int, default=300, help="clean networks to compile and compare")
    p.add_argument("--compile-timeout", type=float, default=120.0)
    p.add_argument("--compile-max-params", type=int, default=20_000_000)
    p.add_argument("--compile-max-activations", type=int, default=20_000_000)
    p.add_argument("--minimise-tries", type=int, default=600, help="tries per repro minimisation")
    p.add_argument("--minimise-seconds", type=float, default=30.0, help="per repro (compile: twice)")
    p.add_argument("--report", type=Path, default=Path("fuzz-report.md"))
    p.add_argument("--show", type=int, default=None, metavar="INDEX", help="print input INDEX and exit")
    return p.parse_args(argv)


def sandbox_with_corpus() -> str:
    """A working folder for the workers holding the repository's specs by file name, so imports resolve."""
    folder = tempfile.mkdtemp(prefix="archdsl-fuzz-")
    for path in specgen.seed_paths():
        shutil.copy(path, Path(folder) / path.name)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    inputs = Inputs(args.seed, specgen.seeds(), hostile_inputs())
    if args.show is not None:
        kind, text = inputs.make(args.show)
        print(f"# input {args.show} of seed {args.seed}: {kind}", file=sys.stderr)
        sys.stdout.write(text)
        return 0
    sandbox = sandbox_with_corpus()
    run = Run(args, inputs, sandbox)
    try:
        phase_check(run)
        phase_compile(run)
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)
    full, summary = report(run)
    args.report.write_text(full, encoding="utf-8")
    print(summary)
    print(f"\nfull report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
