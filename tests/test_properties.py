"""Property tests: no input makes archdsl crash, and random conv/pool stacks agree with torch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import archdsl
from archdsl import errorcodes
from archdsl.layers.formulas import conv_size, pool_ceil_size

ROOT = Path(__file__).resolve().parent.parent
CODES = {code.id for code in errorcodes.ALL}
SEEDS = [p.read_text() for p in sorted([*ROOT.glob("specs/*.arch"), *ROOT.glob("examples/*.arch")])]
FAST = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _only_diagnostics(text: str) -> None:
    result = archdsl.check(source=text)
    lines = text.splitlines()
    for d in result.diagnostics:
        assert d.code.id in CODES
        if d.span is not None and d.span.file == "<string>":
            assert 1 <= d.span.line <= max(1, len(lines) + 1)


@FAST
@given(st.text(max_size=300))
def test_random_text_gives_only_diagnostics(text: str) -> None:
    _only_diagnostics(text)


TOKENS = ["{", "}", "(", ")", "[", "]", ",", ";", "\n", ":", "=", "in", "in.c", "for", "if", "else", "block",
          "network", "input", "conv", "relu", "residual", "concat", "branch", "repeat", "0", "-1", "3", "1e9",
          "2**64", "//", "*", "true", "\"s\"", "x", "same", "project"]


@FAST
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["delete", "insert",
                                                                                         "duplicate", "swap"]),
                                                   st.sampled_from(TOKENS)), min_size=1, max_size=6))
def test_mutated_specs_give_only_diagnostics(seed: str, edits: list[tuple[int, str, str]]) -> None:
    words = seed.split(" ")
    for position, action, token in edits:
        i = position % len(words)
        if action == "delete":
            del words[i]
        elif action == "insert":
            words.insert(i, token)
        elif action == "duplicate":
            words.insert(i, words[i])
        else:
            j = (position // 7) % len(words)
            words[i], words[j] = words[j], words[i]
        if not words:
            words = [""]
    _only_diagnostics(" ".join(words))


@st.composite
def windows(draw: st.DrawFn, rank: int) -> tuple[str, nn.Module, bool]:
    """One random conv or pool layer for a ``rank``-D input: spec text, torch module, whether it is a pool."""
    kind = draw(st.sampled_from(["conv", "maxpool", "avgpool"]))
    k = draw(st.integers(1, 5))
    s = draw(st.integers(1, 3))
    d = draw(st.integers(1, 3)) if kind != "avgpool" else 1
    p = draw(st.integers(0, (d * (k - 1) + 1) // 2))
    if kind == "conv":
        groups = draw(st.sampled_from([1, 2]))
        cls = [nn.Conv1d, nn.Conv2d, nn.Conv3d][rank - 1]
        return (f"conv(4, {k}, s={s}, p={p}, d={d}, groups={groups})", cls(4, 4, k, s, p, d, groups), False)
    ceil = draw(st.booleans())
    if kind == "maxpool":
        cls = [nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d][rank - 1]
        return (f"maxpool({k}, s={s}, p={p}, d={d}, ceil={str(ceil).lower()})", cls(k, s, p, d, ceil_mode=ceil), True)
    cls = [nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d][rank - 1]
    return (f"avgpool({k}, s={s}, p={p}, ceil={str(ceil).lower()})", cls(k, s, p, ceil_mode=ceil), True)


@st.composite
def stacks(draw: st.DrawFn) -> tuple[tuple[int, ...], list[tuple[str, nn.Module, bool]]]:
    rank = draw(st.integers(1, 3))
    size = draw(st.integers(1, 24 if rank < 3 else 10))
    layers = draw(st.lists(windows(rank), min_size=1, max_size=4))
    return (4, *([size] * rank)), layers


@FAST
@given(stacks())
def test_random_stacks_agree_with_torch(case: tuple[tuple[int, ...], list[tuple[str, nn.Module, bool]]]) -> None:
    shape, layers = case
    spec = f"network n {{ input {list(shape)}; " + "; ".join(text for text, _, _ in layers) + " }"
    result = archdsl.check(source=spec)
    x = torch.zeros(1, *shape)
    try:
        with torch.no_grad():
            for _, module, _ in layers:
                x = module(x)
        torch_shape: tuple[int, ...] | None = tuple(x.shape[1:])
    except RuntimeError:
        torch_shape = None
    if torch_shape is None or 0 in torch_shape:
        assert not result.ok, f"torch refused {spec}, archdsl accepted it"
        assert {d.code.id for d in result.diagnostics if d.is_error} <= {"E201", "E208"}
    else:
        assert result.ok, (spec, [d.message for d in result.diagnostics])
        assert result.networks[0].output.shape == torch_shape


@pytest.mark.parametrize("length", range(1, 12))
def test_ceil_mode_never_exceeds_floor_by_more_than_one(length: int) -> None:
    for k in range(1, 5):
        for s in range(1, 4):
            for p in range(0, k // 2 + 1):
                floor, ceil = conv_size(length, k, s, p, 1), pool_ceil_size(length, k, s, p, 1)
                if floor >= 1:
                    assert floor <= ceil <= floor + 1
