"""A block called again with the same arguments on the same input type is elaborated once (``blocks.Form``).

Every later call gets a copy of the steps the first made: the checked IR must be the IR made call by call, no node
shared between calls, and everything a call says (its warnings, a limit it passes) said at that call.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator

import pytest
import specgen

import archdsl
from archdsl import ir
from archdsl.elaboration import blocks
from archdsl.reports import report

REPEATED = """
block unit(width, p=1) {
    residual(shortcut=project) { conv(width, 3, p=p, bias=false); bn; relu }
}
network n {
    input [8, 8, 8]
    repeat(3) { unit(8) }
    unit(16)
    unit(16)
    unit(16, p=1)
    unit(8)
}
"""


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    """The key of every block call elaborated, counted."""
    seen: Counter = Counter()
    form_key = blocks._form_key

    def counted(*args: object) -> object:
        key = form_key(*args)
        seen[key] += 1
        return key

    monkeypatch.setattr(blocks, "_form_key", counted)
    yield seen


def _call_by_call(monkeypatch: pytest.MonkeyPatch, text: str) -> archdsl.CheckResult:
    with monkeypatch.context() as patched:
        patched.setattr(blocks, "_form_key", lambda *args: None)
        return archdsl.check(source=text)


def _nodes(network: ir.Network) -> list[ir.Node]:
    return list(ir.walk(network.root))


def test_a_repeated_call_gives_the_ir_made_call_by_call(monkeypatch: pytest.MonkeyPatch, keys: Counter) -> None:
    remembered = archdsl.check(source=REPEATED)
    # unit(8) on [8, 8, 8] thrice, unit(16) on [16, 8, 8] twice (`p=1` given or not), two calls once each
    assert remembered.ok and sorted(keys.values()) == [1, 1, 2, 3]
    made = _call_by_call(monkeypatch, REPEATED)
    assert remembered.networks == made.networks
    nodes = _nodes(remembered.networks[0])
    assert len({id(node) for node in nodes}) == len(nodes)  # no node is in two places


def test_blocks_called_alike_are_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    text = """
block up(k=1) { relu }
block down(k=1) { sigmoid }
network n {
    input [3, 8, 8]
    up
    down
}
"""
    assert archdsl.check(source=text).networks == _call_by_call(monkeypatch, text).networks


def test_arguments_equal_across_types_are_different_calls() -> None:
    result = archdsl.check(source="""
block b(x) { conv(3, 3, p=1, bias=x) }
network n {
    input [3, 8, 8]
    b(true)
    b(1)
}
""")
    errors = [d for d in result.diagnostics if d.is_error]
    # `1` is no bool, though `1 == true`: the error is the second call's
    assert len(errors) == 1 and [frame.call.line for frame in errors[0].trace] == [6]


def test_floats_equal_but_written_apart_are_different_calls() -> None:
    text = """
block b(slope) { leaky_relu(slope) }
network n {
    input [3, 8, 8]
    b(0.0)
    b(-0.0)
}
"""
    first, second = (group.children[0].arg("slope") for group in archdsl.check(source=text).networks[0].root.children)
    assert (math.copysign(1, first), math.copysign(1, second)) == (1, -1)  # 0.0 == -0.0, yet each keeps its own


def test_a_warning_in_a_block_counts_every_call(keys: Counter) -> None:
    result = archdsl.check(source="""
block wide { conv(3, 1, p=3); conv(3, 7) }
network n {
    input [3, 8, 8]
    repeat(3) { wide }
}
""")
    [warning] = [d for d in result.diagnostics if d.code.id == "W303"]
    assert warning.count == 3 and sum(keys.values()) == 3


def test_a_limit_is_reported_at_the_call_that_passes_it() -> None:
    result = archdsl.check(source="""
block unit { conv(16, 3, p=1) }
network n {
    input [16, 8, 8]
    unit
    unit
    unit
    unit
}
""", max_params=2 * (16 * 16 * 9 + 16) + 100)
    [error] = [d for d in result.diagnostics if d.is_error]
    assert "parameters" in error.message and [frame.call.line for frame in error.trace] == [7]


def test_generated_specs_give_the_ir_made_call_by_call(monkeypatch: pytest.MonkeyPatch, keys: Counter) -> None:
    again = 0
    for seed in range(60):
        keys.clear()
        text = specgen.network_spec(random.Random(seed), again=0.9)
        remembered = archdsl.check(source=text)
        assert remembered.ok, text
        assert remembered.networks == _call_by_call(monkeypatch, text).networks, text
        for network in remembered.networks:
            nodes = _nodes(network)
            assert len({id(node) for node in nodes}) == len(nodes), text
        again += any(count > 1 for key, count in keys.items() if key is not None)
    assert again >= 8  # specs where a call was made again, from its form


def test_the_report_counts_each_layer_form_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[ir.Layer] = []
    of = report._Counts.of
    monkeypatch.setattr(report._Counts, "of", lambda layer: counted.append(layer) or of(layer))
    network = archdsl.check(source=REPEATED).networks[0]
    rows = report.build_report(network).rows
    layers = [row for row in rows if row.is_layer]
    # 25 layers, 12 of them unlike the others: each counted once (unit(8) thrice makes three alike, and a norm or
    # an activation on the same type at the same place of the body is alike in every call)
    assert len(layers) == 25 and len(counted) == 12 == len(set(counted))
    assert [row.flops for row in layers[:3]] == [row.flops for row in layers[3:6]] != [0] * 3
