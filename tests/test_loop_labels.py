"""Labels in loops: a module and a tensor per pass, a tensor carried from pass to pass, every pass's read after."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from emitting import network_class, problems
from torch import nn

import archdsl
from archdsl.api import python_source
from archdsl.reports.report import build_report
from archdsl.reports.report_format import to_text

ROOT = Path(__file__).resolve().parent.parent

C2F = """
block cbs(out, k=1) { conv: conv(out, k, p=half(k), bias=false); bn: bn; act: silu }
block bneck(c) { residual { cv1: cbs(c, 3); cv2: cbs(c, 3) } }
block c2f(out, n=1, c=out // 2) {
    cv1: cbs(2 * c)
    y: split((c, c))
    from(@y[1])
    repeat(n) { m: bneck(c) }
    concat(@y, @m)
    cv2: cbs(out)
}
network net(n=2) {
    input [3, 8, 8]
    a: c2f(8, n)
    b: c2f(8, 1)
}
"""

CARRIED = """
network carried(n=3) {
    input [4, 6, 6]
    acc: conv(4, 1)
    repeat(n) {
        m: conv(4, 3, p=1)
        acc: add(@acc, @m)          # the sum so far, read by the next pass
    }
    from(@acc[-1])
}
"""


def _c2f(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Ultralytics' C2f.forward, by hand: each bottleneck on the last output, all of them joined."""
    def cbs(m: nn.Module, t: torch.Tensor) -> torch.Tensor:
        return F.silu(m.bn(m.conv(t)))

    ys = list(cbs(block.cv1, x).chunk(2, 1))
    for bottleneck in block.m:
        ys.append(ys[-1] + cbs(bottleneck.cv2, cbs(bottleneck.cv1, ys[-1])))
    return cbs(block.cv2, torch.cat(ys, 1))


def test_a_label_in_a_loop_names_one_module_per_pass_as_ultralytics_does() -> None:
    model = archdsl.build(source=C2F, n=3)
    assert isinstance(model.a.m, nn.ModuleList) and len(model.a.m) == 3 and len(model.b.m) == 1
    keys = [k for k in model.state_dict() if k.startswith("a.") and k.endswith("conv.weight")]
    assert keys == ["a.cv1.conv.weight", *(f"a.m.{i}.cv{j}.conv.weight" for i in range(3) for j in (1, 2)),
                    "a.cv2.conv.weight"]


def test_every_pass_s_tensor_is_joined_after_the_loop() -> None:
    model = archdsl.build(source=C2F, n=3).eval()
    assert archdsl.check(source=C2F, params={"n": 3}).networks[0].root.children[0].children[-1].input.shape == (
        20, 8, 8), "cv2 reads the two halves and three bottlenecks: 5 * 4 channels"
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(model(x), _c2f(model.b, _c2f(model.a, x)), atol=1e-6)


def test_a_tensor_is_carried_from_pass_to_pass() -> None:
    model = archdsl.build(source=CARRIED).eval()
    x = torch.randn(2, 4, 6, 6)
    acc = model.acc(x)
    for conv in model.m:  # each pass adds its conv of the sum so far
        acc = acc + conv(acc)
    assert torch.allclose(model(x), acc, atol=1e-6)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("from(@acc[-1])", "from(@acc) { relu }", ("E105", "`@acc` is 3 tensors: read one")),
    ("from(@acc[-1])", "from(@acc[3])", ("E108", "index 3 is out of range for 3 items")),
    ("    acc: conv(4, 1)\n", "    conv(4, 1)\n",
     ("E112", "`@acc` is read before this loop has labelled one: the first pass has none")),
    ("from(@acc[-1])", "m: conv(4, 1)", ("E106", "another step is already named `m`")),
    ("network carried(n=3)", "network carried(n=0)",
     ("E105", "a loop that labels its steps must run at least once, not 0 times")),
])
def test_labels_in_loops_are_checked(old: str, new: str, expected: tuple[str, str]) -> None:
    assert old in CARRIED
    found = [(d.code.id, d.message) for d in archdsl.check(source=CARRIED.replace(old, new)).diagnostics]
    assert expected in found, found


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("from(@acc[-1])", "repeat(2) { m: conv(4, 1) }\n    concat(@m)",  # a newcomer's: two loops, one list
     ("E106", "`m` already names the tensors of the loop at line 5")),
    ("acc: add(@acc, @m)", "acc: add(@acc, @m[0])", ("E105", "`@m` is one tensor: there is nothing to index")),
    ("network carried(n=3)", "network carried(n=0)", None),  # the only error: none about reads after it
])
def test_what_a_newcomer_tried_is_one_located_error(old: str, new: str, expected: tuple[str, str] | None) -> None:
    found = [(d.code.id, d.message) for d in archdsl.check(source=CARRIED.replace(old, new)).diagnostics]
    assert (expected in found) if expected else len(found) == 1, found


def test_the_report_names_a_loop_s_modules_by_their_list() -> None:
    text = to_text(build_report(archdsl.load_network(source=C2F)))
    assert "\n  m.0 " in text and "\n  m.1 " in text, text


def test_the_emitted_class_keeps_the_loop_and_follows_its_count() -> None:
    result = archdsl.check(source=C2F)
    source = python_source(result, result.networks[0], "c2f.arch")
    assert source.count("class C2f") == 1, "one class for every n"
    assert "        self.m = nn.ModuleList()\n" in source and "            ms.append(m)\n" in source
    assert list(problems(C2F, values=2)) == []
    assert list(problems(CARRIED, values=2)) == []
    assert list(problems(CARRIED.replace("from(@acc[-1])", "from(@acc[2])"), values=3)) == [], "n < 3 refused"


def test_a_loop_s_label_may_share_a_parameter_s_name() -> None:
    """Differential seed 40795: `self.x = nn.ModuleList()` hid the count the forward reads as `self.x`."""
    clash = CARRIED.replace("(n=3)", "(x=4)").replace("repeat(n)", "repeat(x // 2)").replace(
        "m: conv", "x: conv").replace("@m)", "@x)").replace("from(@acc[-1])", "concat(@x)")
    assert list(problems(clash, values=2)) == []


def test_the_readme_shows_the_emitted_c2f() -> None:
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("<!-- emitted forward of C2f in examples/yolo_neck.arch -->\n```py\n", 1)[1].split("```")[0]
    result = archdsl.check(ROOT / "examples" / "yolo_neck.arch")
    source = python_source(result, result.networks[0], "yolo_neck.arch")
    c2f = source.split("class C2f(nn.Module):", 1)[1].split("\nclass ", 1)[0]
    assert shown in c2f


def test_a_loop_whose_passes_differ_is_written_for_its_count_and_refuses_another() -> None:
    growing = CARRIED.replace("acc: add(@acc, @m)", "acc: concat(@acc, @m)").replace(
        "from(@acc[-1])", "concat(@acc)")  # the carried tensor grows by 4 channels a pass
    result = archdsl.check(source=growing)
    assert result.ok, [d.message for d in result.diagnostics]
    cls = network_class(python_source(result, result.networks[0], "growing.arch"))
    torch.manual_seed(0)
    built, emitted = archdsl.build(source=growing, init=False).eval(), cls().eval()
    emitted.load_state_dict(built.state_dict())
    x = torch.randn(1, 4, 6, 6)
    assert torch.equal(built(x), emitted(x))
    with pytest.raises(ValueError, match=re.escape("n=4: this class is written for `n` == 3, not 4")):
        cls(n=4)


def test_a_loop_with_labels_compiles_without_graph_breaks_and_exports() -> None:
    result = archdsl.check(source=C2F)
    built, emitted = archdsl.build(source=C2F).eval(), network_class(python_source(
        result, result.networks[0], "c2f.arch"))().eval()
    x = torch.randn(1, 3, 8, 8)
    compiled = torch.compile(emitted, fullgraph=True, backend="aot_eager")  # `self.m[i]` in a Python loop
    assert torch.allclose(compiled(x), emitted(x), atol=1e-6)
    for model in (built, emitted):
        exported = torch.export.export(model, (x,))
        assert torch.allclose(exported.module()(x), model(x), atol=1e-6)
