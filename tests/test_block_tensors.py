"""Blocks given tensors beside their input and giving several (issue 11): `block merge(@skip, out)`, called
`merge(@c3, 64)`, reads the caller's `@c3` as `@skip`; a block ending `output(@a, @b)` gives both, read at a
labelled call as `@m[0]`, `@m[1]`. Checked at every call; both back ends against torch and each other."""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from emitting import problems

import archdsl
from archdsl.api import python_source
from archdsl.reports.report import build_report
from archdsl.reports.to_dot import to_dot, to_graph

# Two streams that persist from unit to unit and exchange information, as HRNet's: the block is given the
# low-resolution stream beside its input (the high one) and a second block is given both.
STREAMS = """
block exchange(@low, c) {
    high: seq { conv(c, 3, p=1, bias=false); bn; relu }
    down: from(@high) { conv(@low.c, 3, s=2, p=1, bias=false) }
    low2: add(@down, @low)
    up: from(@low2) { conv(c, 1, bias=false); upsample(size=@high.spatial) }
    add(@high, @up)
}

block fuse(@a, @b, c) {
    x1: exchange(@a, c)
    concat(@x1, @b)
}

network streams(width=8, units=2) {
    input [3, 32, 32]
    stem: conv(width, 3, p=1)
    low: from(@stem) { conv(2 * width, 3, s=2, p=1) }
    high: from(@stem) { conv(width, 1) }
    for i in range(units) {
        exchange(@low, width)
    }
    fuse(@low, @high, width)
}
"""


def test_a_block_reads_the_tensor_it_is_given_as_its_parameter() -> None:
    model = archdsl.build(source=STREAMS, units=1).eval()
    x = torch.randn(2, 3, 32, 32)
    stem = model.stem(x)
    low, high = model.low(stem), model.high(stem)

    def exchange(unit: torch.nn.Module, x: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        high = unit.high(x)
        low2 = unit.down(high) + low
        return high + F.interpolate(getattr(unit.up, "0")(low2), size=high.shape[-2:])

    unit = exchange(model.exchange1, high, low)
    expected = torch.cat([exchange(model.fuse1.x1, unit, low), high], dim=1)
    assert torch.equal(model(x), expected)


def test_emitted_classes_take_the_tensors_and_their_channels_and_equal_build() -> None:
    checked = archdsl.check(source=STREAMS)
    source = python_source(checked, checked.networks[0], "streams.arch")
    assert "def __init__(self, in_channels: int, low_channels: int, in_size: tuple[int, ...], c: int)" in source
    assert "def forward(self, x: torch.Tensor, low: torch.Tensor) -> torch.Tensor:" in source
    assert "def forward(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:" in source
    assert "self.down = nn.Sequential(nn.Conv2d(c, low_channels, 3, stride=2, padding=1, bias=False))" in source
    assert "nn.Upsample(size=(in_size[0], in_size[1]), mode=\"nearest\")" in source
    assert "x = getattr(self, f\"exchange{i + 1}\")(x, low)" in source
    assert "x = self.fuse1(x, low, high)" in source
    assert list(problems(STREAMS)) == []


def test_a_block_given_tensors_in_a_loop_exports_whole_and_runs_on_meta() -> None:
    model = archdsl.build(source=STREAMS).eval()  # torch.compile: see the test of TWO below
    x = torch.randn(1, 3, 32, 32)
    expected = model(x)
    assert torch.allclose(torch.export.export(model, (x,)).module()(x), expected)
    assert archdsl.build(source=STREAMS).to("meta")(x.to("meta")).shape == expected.shape


def test_a_path_from_a_given_tensor_starts_at_its_receptive_field() -> None:
    report = build_report(archdsl.load_network(source="""
        block side(@t) { from(@t) { conv(4, 3, p=1) } }
        network n {
            input [1, 32, 32]
            a: conv(4, 3, p=1)                  # r 3
            conv(4, 3, p=1); conv(4, 3, p=1)    # r 7
            side(@a)                            # r 5: from @a, not from the r 7 tensor
        }"""))
    assert [(r.name, r.receptive_field) for r in report.rows][-1] == ("side1.conv1", (5, 5))


def test_tensor_parameters_are_checked_at_every_call() -> None:
    cases = [
        (("fuse(@low, @high, width)", "fuse(@low, 3, width)"),
         ("E105", "`b` of `fuse` is a tensor parameter: it takes a labelled tensor, `@name`, not 3")),
        (("fuse(@low, @high, width)", "fuse(@low, @high, @stem)"),
         ("E105", "`c` of `fuse` takes a value, not the tensor `@stem`")),
        (("fuse(@low, @high, width)", "fuse(@low, @hihg, width)"), ("E112", "unknown tensor `@hihg`")),
        (("fuse(@low, @high, width)", "fuse(@low, width)"), ("E104", "fuse is missing `c`")),
        (("concat(@x1, @b)", "concat(@x1, @high)"), ("E112", "unknown tensor `@high`")),
        (("concat(@x1, @b)", "concat(@x1, @stem)"), ("E112", "unknown tensor `@stem`")),
        (("fuse(@low, @high, width)", "fuse(@low, @high, @stem.c)"), None),  # a size of a tensor is a value

        (("fuse(@low, @high, width)", "fuse(@high, @low, width)"),
         ("E205", "add branches differ in shape: `@down` [8, 16, 16], `@low` [8, 32, 32]")),
        (("network streams(width=8, units=2)", "network streams(@x, width=8)"),
         ("E109", "a network takes no tensor parameter `@x`")),
    ]
    _assert_diagnosed(STREAMS, cases)
    hint = archdsl.check(source=STREAMS.replace("concat(@x1, @b)", "concat(@x1, @stem)")).diagnostics[0].help
    assert hint == ("a block sees only its own labels and the tensors it is given: declare `@stem` as a parameter, "
                    "`block name(@stem, ...)`, and pass it at the call")


# An FPN-style block that gives two tensors (the lateral and the merged one), read by index at its call.
TWO = """
block two(@top, c) {
    lateral: conv(c, 1)
    merged: add(@lateral) { branch(@top) { upsample(size=@lateral.spatial) } }
    output(@merged, @lateral)
}

block first(c) {
    a: conv(c, 3, p=1)
    relu                  # never run: output(@a) gives the conv's output (W306)
    output(@a)
}

network pyramid(c=8) {
    input [3, 16, 16]
    c2: conv(c, 3, p=1)
    c3: conv(c, 3, s=2, p=1)
    from(@c2)
    m: two(@c3, c)
    p: from(@m[1]) { first(c) }
    add(@m[0], @p)
}
"""


def test_a_block_gives_a_tuple_read_by_index_and_one_named_tensor_not_its_last_step() -> None:
    model = archdsl.build(source=TWO).eval()
    x = torch.randn(2, 3, 16, 16)
    c2 = model.c2(x)
    c3 = model.c3(c2)
    lateral = model.m.lateral(c2)
    merged = lateral + F.interpolate(c3, size=lateral.shape[-2:])
    first = getattr(model.p, "0")
    assert torch.equal(model(x), merged + first.a(lateral)), "output(@a) gives the conv's output, not the relu's"
    assert list(problems(TWO)) == []
    checked = archdsl.check(source=TWO)
    source = python_source(checked, checked.networks[0], "pyramid.arch")
    assert "    def forward(self, x: torch.Tensor, top: torch.Tensor) -> tuple[torch.Tensor, ...]:\n" in source
    assert "        return merged, lateral\n" in source
    assert "        m = self.m(c2, c3)  # [c, 16, 16]\n        p = self.p(m[1])  # [c, 16, 16]\n" in source
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    assert torch.allclose(compiled(x), model(x))
    assert torch.allclose(torch.export.export(model, (x,)).module()(x), model(x))


def test_each_part_of_a_block_output_has_its_receptive_field_and_its_edge() -> None:
    network = archdsl.load_network(source=TWO)
    fields = {r.name: r.receptive_field for r in build_report(network).rows}
    assert fields["p.0.a"] == (5, 5), "from @m[1], the 1x1 lateral conv on c2 (3), not @m[0] (5, then 7)"
    dot = to_dot(network)
    ids = dict((tip, node) for node, tip in re.findall(r'(n\d+) \[label=.*? tooltip="?([\w.]+)"?\]', dot))
    assert re.search(rf"^\s*{ids['m.lateral']} -> {ids['p.0.a']} ", dot, flags=re.MULTILINE)
    collapsed = to_graph(network, depth=1).source  # the block one node: each part an edge that names it
    assert re.search(r'-> n\d+ \[label=" @m\[1\] 8x16x16"\]', collapsed), collapsed


def test_a_block_that_gives_several_tensors_is_checked_where_it_is_called() -> None:
    cases = [
        (("    m: two(@c3, c)", "    two(@c3, c)"), ("E109", "`two` gives 2 tensors: label the call to read them")),
        (("add(@m[0], @p)", "add(@m, @p)"),  # a join takes both, as `add(@m[0], @m[1], @p)`: no error
         ("W306", "nothing reads the output of this step: it is built, and never run")),
        (("add(@m[0], @p)", "from(@m) { relu }"), ("E105", "`@m` is 2 tensors: read one")),
        (("p: from(@m[1]) { first(c) }", "p: from(@m[1]) { first(@m.c) }"),
         ("E105", "`@m` is 2 tensors: read the size of one")),
        (("p: from(@m[1]) { first(c) }", "p: from(@m[1]) { two(@m, c) }"), ("E105", "`@m` is 2 tensors: pass one")),
        (("add(@m[0], @p)", "add(@m[2], @p)"), ("E108", "index 2 is out of range for 2 items")),
        (("output(@merged, @lateral)", "output(a=@merged, b=@lateral)"),
         ("E105", "a block gives one tensor or a tuple, `output(@a, @b)`")),
        (("    relu                  # never run: output(@a) gives the conv's output (W306)\n    output(@a)",
          "    output(@a)\n    relu"),
         ("E109", "`output(...)` may only be the last line of a network or a block")),
    ]
    _assert_diagnosed(TWO, cases)


def _assert_diagnosed(spec: str, cases: list[tuple[tuple[str, str], tuple[str, str] | None]]) -> None:
    """Each edit of ``spec`` gives the (code, message) expected among its diagnostics, or none where None."""
    for (old, new), expected in cases:
        assert old in spec
        found = [(d.code.id, d.message) for d in archdsl.check(source=spec.replace(old, new)).diagnostics]
        assert expected in found if expected else found == [], (new, found)
