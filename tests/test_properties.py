"""Property tests: no input makes archdsl crash, and random conv/pool stacks agree with torch.

Every test runs a fixed number of derandomized examples, so CI sees the same cases on every run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import archdsl
from archdsl import errorcodes, ir
from archdsl.diagnostics import Diagnostic, render_json, render_text
from archdsl.elaboration.least_layers import LeastLayers
from archdsl.elaboration.limits import MAX_BLOCK_DEPTH, MAX_REPEAT
from archdsl.ir.layers.formulas import conv_size, pool_ceil_size

ROOT = Path(__file__).resolve().parent.parent
CODES = {code.id for code in errorcodes.ALL}
FIXED = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Small specs in the prelude's style: every combinator, loops, conditions and `in`.
SNIPPETS = [
    """block stage(w, n=2, s=1) {
    conv_bn_relu(w, 3, s=s)
    repeat(n - 1) { residual { conv(w, 3, p=1, bias=false); bn; relu } }
}
network small(classes=10, wide=false) {
    input [3, 32, 32]
    for (w, s) in [(16, 1), (32 if wide else 24, 2)] { stage(w, s=s) }
    concat { branch { conv(8, 1) }; branch { maxpool(3, s=1, p=1, ceil=true) } }
    se(r=4)
    if classes > 2 { dropout(0.2) } else { identity }
    gap; flatten; head: linear(classes)
}""",
    """block attend(r=4) { gate { gap; conv(max(1, in.c // r), 1); relu; conv(in.c, 1); sigmoid } }
network dense_net {
    input [8, 16]
    dense(3) { bn; relu; conv(4, 3, p=1, bias=false) }
    add { branch { conv(20, 1) }; branch { identity } }
    attend(r=8)
    upsample(2, mode="linear"); avgpool(2, ceil=true); gmp; flatten; linear(len(in.shape) + 1)
}""",
    """block down(out, k=(3, 1, 3), g=1) { conv(out, k, s=(2, 1, 2), p=(1, 0, 1), groups=g, d=1); gn(min(4, out)) }
network volume {
    input [4, 8, 16, 16]
    down(8, k=3, g=2); conv_transpose(4, 2, s=2, op=(0, 1, 1), p=(0, 1, 1))
    dwconv(3, p=same, mult=2); pwconv(16); channel_shuffle(4); ln; gelu; adaptive_avgpool((1, 2, 2))
}""",
]
SEEDS = [*SNIPPETS, *(p.read_text() for p in sorted([*ROOT.glob("specs/*.arch"), *ROOT.glob("examples/*.arch")])),
         (ROOT / "archdsl" / "front" / "prelude.arch").read_text()]

TOKENS = ["{", "}", "(", ")", "[", "]", ",", ";", "\n", ":", "=", ".", "#", "\"", "in", "in.c", "in.shape", "for",
          "if", "else", "block", "network", "input", "import", "conv", "relu", "residual", "concat", "branch",
          "repeat", "dense", "gate", "shortcut", "project", "same", "true", "not", "and", "//", "**", "%", "x"]
NUMBERS = ["0", "-1", "1", "2", "3", "7", "0.5", "1e-9", "1e400", "10000", "10**9", "2**63", "10**10**10",
           "9" * 30, "9" * 5000, "(1, 2)", "(0, 0, 0, 0)", "-0.0"]
LEXEME = re.compile(r"\d+(?:\.\d*)?(?:e-?\d+)?|\w+|\"[^\"\n]*\"|\s+|.", re.DOTALL)
NUMBER = re.compile(r"\d")


def _spans_inside_their_text(diagnostics: list[Diagnostic], sources: dict[str, str]) -> None:
    for d in diagnostics:
        assert d.code.id in CODES, d
        if d.span is None or d.span.file not in sources:
            continue
        lines = sources[d.span.file].split("\n")  # Lark counts lines by "\n" only
        span = d.span
        assert 1 <= span.line <= span.end_line <= len(lines), (d, len(lines))
        assert 1 <= span.col <= len(lines[span.line - 1]) + 1, d  # one past the end: the end of the file
        assert (span.line, span.col) <= (span.end_line, span.end_col), d


def _only_diagnostics(text: str) -> None:
    """``check`` returns (never raises) and every diagnostic is well formed and can be shown.

    And the layer count read from the text before elaboration is a lower bound of the real one.
    """
    result = archdsl.check(source=text)
    _spans_inside_their_text(result.diagnostics, result.sources)
    render_text(result.diagnostics, result.sources)
    render_json(result.diagnostics)
    assert result.ok == (not any(d.is_error for d in result.diagnostics))
    for network in result.networks:
        assert least_layers(result, network) <= sum(isinstance(n, ir.Layer) for n in ir.walk(network.root))


def least_layers(result: archdsl.CheckResult, network: ir.Network) -> int:
    program = result.programs[id(network)]
    bound = LeastLayers(program.blocks, cap=10**15, max_count=MAX_REPEAT, max_depth=MAX_BLOCK_DEPTH)
    return bound.of(program.networks[network.name].body)


@FIXED
@given(st.one_of(st.text(max_size=300), st.lists(st.sampled_from(TOKENS + NUMBERS), max_size=60).map(" ".join)))
def test_random_text_gives_only_diagnostics(text: str) -> None:
    _only_diagnostics(text)


def _swap(lexemes: list[str], i: int, _: str) -> None:
    j = (i * 7919) % len(lexemes)
    i %= len(lexemes)
    lexemes[i], lexemes[j] = lexemes[j], lexemes[i]


def _change_number(lexemes: list[str], i: int, number: str) -> None:
    numbers = [n for n, lexeme in enumerate(lexemes) if NUMBER.match(lexeme)] or [0]
    lexemes[numbers[i % len(numbers)]] = number


def _cut(lexemes: list[str], i: int, _: str) -> None:
    """Keeps only the first characters of one lexeme: half a keyword, a number losing digits."""
    lexemes[i % len(lexemes)] = lexemes[i % len(lexemes)][: i % 3]


# Each mutation edits the lexemes in place near position ``i`` (taken modulo the length) with a payload.
MUTATIONS: dict[str, Callable[[list[str], int, str], None]] = {
    "delete": lambda lexemes, i, _: lexemes.pop(i % len(lexemes)),
    "duplicate": lambda lexemes, i, _: lexemes.insert(i % len(lexemes), lexemes[i % len(lexemes)]),
    "swap": _swap,
    "insert token": lambda lexemes, i, token: lexemes.insert(i % len(lexemes), token),
    "insert character": lambda lexemes, i, char: lexemes.insert(i % len(lexemes), char),
    "change number": _change_number,
    "cut": _cut,
}
PAYLOADS = {"insert token": st.sampled_from(TOKENS), "insert character": st.characters(),
            "change number": st.sampled_from(NUMBERS)}


@st.composite
def mutation(draw: st.DrawFn) -> tuple[str, int, str]:
    name = draw(st.sampled_from(sorted(MUTATIONS)))
    return name, draw(st.integers(0, 10**6)), draw(PAYLOADS.get(name, st.just("")))


def _mutate(seed: str, edits: list[tuple[str, int, str]]) -> str:
    lexemes = LEXEME.findall(seed)
    for name, position, payload in edits:
        MUTATIONS[name](lexemes, position, payload)
        lexemes = lexemes or [""]
    return "".join(lexemes)


@FIXED
@given(st.sampled_from(SEEDS), st.lists(mutation(), min_size=1, max_size=6))
def test_mutated_specs_give_only_diagnostics(seed: str, edits: list[tuple[str, int, str]]) -> None:
    _only_diagnostics(_mutate(seed, edits))


def test_seeds_are_valid_so_mutations_start_from_real_specs() -> None:
    for seed in SNIPPETS:
        result = archdsl.check(source=seed)
        assert result.ok and result.networks, [d.message for d in result.diagnostics]

    for seed in SEEDS:
        result = archdsl.check(source=seed)
        for network in result.networks:
            layers = sum(isinstance(n, ir.Layer) for n in ir.walk(network.root))
            assert 0 < least_layers(result, network) <= layers, network.name
    assert _mutate("conv(8, 3)", [("change number", 1, "1e400")]) == "conv(8, 1e400)"


@dataclass(frozen=True)
class Layer:
    """One layer of a random stack: its spec text and the torch module built from the same numbers."""

    text: str
    module: nn.Module


def _axes(draw: st.DrawFn, rank: int, low: int, high: int | list[int]) -> tuple[int, ...]:
    """A value per axis; ``high`` may differ per axis."""
    highs = high if isinstance(high, list) else [high] * rank
    return tuple(draw(st.integers(low, max(low, h))) for h in highs)


def _spec_value(values: tuple[int, ...]) -> str:
    """One number when every axis agrees (the spec's shorthand), else a tuple."""
    return str(values[0]) if len(set(values)) == 1 else str(values)


@st.composite
def conv_layer(draw: st.DrawFn, rank: int, channels: int) -> Layer:
    k, s, d = _axes(draw, rank, 1, 5), _axes(draw, rank, 1, 3), _axes(draw, rank, 1, 3)
    p = _axes(draw, rank, 0, [di * (ki - 1) + 1 for ki, di in zip(k, d, strict=True)])
    groups = draw(st.sampled_from([1, 2, channels]))
    cls = [nn.Conv1d, nn.Conv2d, nn.Conv3d][rank - 1]
    text = f"conv({channels}, {_spec_value(k)}, s={_spec_value(s)}, p={_spec_value(p)}, d={_spec_value(d)}, " \
           f"groups={groups})"
    return Layer(text, cls(channels, channels, k, s, p, d, groups))


@st.composite
def transposed_layer(draw: st.DrawFn, rank: int, channels: int) -> Layer:
    k, s, d = _axes(draw, rank, 1, 4), _axes(draw, rank, 1, 3), _axes(draw, rank, 1, 2)
    p = _axes(draw, rank, 0, 2)
    op = _axes(draw, rank, 0, [max(si, di) - 1 for si, di in zip(s, d, strict=True)])
    cls = [nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d][rank - 1]
    text = f"conv_transpose({channels}, {_spec_value(k)}, s={_spec_value(s)}, p={_spec_value(p)}, " \
           f"op={_spec_value(op)}, d={_spec_value(d)})"
    return Layer(text, cls(channels, channels, k, s, p, op, dilation=d))


@st.composite
def pool_layer(draw: st.DrawFn, rank: int, channels: int) -> Layer:
    """Padding stays within half the kernel, the bound torch puts on pooling."""
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    k, s = _axes(draw, rank, 1, 5), _axes(draw, rank, 1, 3)
    d = _axes(draw, rank, 1, 3) if kind == "maxpool" else (1,) * rank
    p = _axes(draw, rank, 0, [ki // 2 for ki in k])
    ceil = draw(st.booleans())
    common = f"{_spec_value(k)}, s={_spec_value(s)}, p={_spec_value(p)}, ceil={str(ceil).lower()}"
    if kind == "maxpool":
        cls = [nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d][rank - 1]
        return Layer(f"maxpool({common}, d={_spec_value(d)})", cls(k, s, p, d, ceil_mode=ceil))
    cls = [nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d][rank - 1]
    return Layer(f"avgpool({common})", cls(k, s, p, ceil_mode=ceil))


@st.composite
def stacks(draw: st.DrawFn) -> tuple[tuple[int, ...], list[Layer]]:
    rank = draw(st.integers(1, 3))
    channels = draw(st.sampled_from([2, 4]))
    spatial = _axes(draw, rank, 1, 24 if rank < 3 else 9)
    layer = st.one_of(conv_layer(rank, channels), pool_layer(rank, channels), transposed_layer(rank, channels))
    return (channels, *spatial), draw(st.lists(layer, min_size=1, max_size=4))


def _torch_shape(shape: tuple[int, ...], layers: list[Layer]) -> tuple[int, ...] | None:
    """The output shape torch computes on a real tensor, or None when torch refuses the stack."""
    x = torch.zeros(1, *shape)
    try:
        with torch.no_grad():
            for layer in layers:
                x = layer.module(x)
    except RuntimeError:
        return None
    return None if 0 in x.shape else tuple(x.shape[1:])


@FIXED
@given(stacks())
def test_random_stacks_agree_with_torch(case: tuple[tuple[int, ...], list[Layer]]) -> None:
    shape, layers = case
    spec = f"network n {{ input {list(shape)}; " + "; ".join(layer.text for layer in layers) + " }"
    result = archdsl.check(source=spec)
    errors = {d.code.id for d in result.diagnostics if d.is_error}
    torch_shape = _torch_shape(shape, layers)
    if torch_shape is None:
        assert errors and errors <= {"E201", "E208"}, f"torch refused {spec}, archdsl gave {errors or 'no error'}"
    else:
        assert not errors, (spec, [d.message for d in result.diagnostics])
        assert result.networks[0].output.shape == torch_shape, spec


@pytest.mark.parametrize("length", range(1, 12))
def test_ceil_mode_never_exceeds_floor_by_more_than_one(length: int) -> None:
    for k in range(1, 5):
        for s in range(1, 4):
            for p in range(0, k // 2 + 1):
                floor, ceil = conv_size(length, k, s, p, 1), pool_ceil_size(length, k, s, p, 1)
                if floor >= 1:
                    assert floor <= ceil <= floor + 1
