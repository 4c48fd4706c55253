"""Named tensors (issue 11): labels name outputs, `@name` reads them, `from(@x) { }` and `branch(@x) { }` start
at them, joins take them. Each back end against torch on hand-written graphs; generated graphs are in
``test_emitted_property`` (``specgen`` writes `from`, `branch(@x)`, joins of tensors and splits)."""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from emitting import network_class, problems

import archdsl
from archdsl.api import python_source
from archdsl.reports.report import build_report
from archdsl.reports.to_dot import to_dot
from archdsl.reports.verify import verify

ROOT = Path(__file__).resolve().parent.parent
FPN = ROOT / "examples" / "tiny_fpn.arch"

SHADOWED = """
network shadowed {
    input [3, 8, 8]
    a: conv(4, 1)
    s: seq { a: conv(8, 1); from(@a) { relu } }
    concat(@a, @s)
}
"""

IN_PLACE = """
network kept {
    input [2, 6, 6]
    a: conv(4, 3, p=1)
    relu
    b: conv(4, 1)
    relu
    add(@a, @b)
    residual { from(@a) { relu } }
}
"""

BLOCK = """
block down(out) {
    a: conv(out, 3, s=2, p=1); relu
    b: conv(out, 3, p=1)
    add(@a, @b)
}
network g(w=8) {
    input [3, 32, 32]
    c2: down(w)
    c3: down(2 * w)
    p3: from(@c3) { conv(w, 1) }
    m2: add(@c2) { branch(@p3) { upsample(2) } }
    head: seq { conv(w, 3, p=1); add(@m2) { branch { relu } } }
    x: conv(4, 1)
    from(@x) { relu }
}
"""

LABELLED = """
network labelled(n=2, deep=true) {
    input [3, 8, 8]
    r: repeat(n) { conv(3, 1); relu }
    if deep { t: conv(3, 1) } else { t: relu }
    add(@r) { branch { relu } }
    d: dense(2) { conv(4, 1) }
    q: residual(when=deep) { conv(11, 1) }
    concat(@q, @d, @r)
}
"""

SPLIT_INSIDE = """
network split_inside(width=16) {
    input [1, 8, 8]
    trunk: bn
    layer: from(@trunk) { conv(24, 3, p=1); mix: split((width // 2, 16)); concat(@mix[1], @mix[0]) }
    concat(@layer, @trunk)
}
"""

# Seeds 1007583 and 1007065 of a differential run: a module given labelled tensors under an `if` on a parameter
# was called without them; a labelled seq whose only step is a split was taken for the split. Seed 1002806: an
# optional module overwrote the labelled tensor it read (`a = self.conv2(a)`).
OPTIONAL_READER = """
network optional_reader(act="gelu") {
    input [4, 8]
    pool: conv(4, 1)
    relu
    if act == "gelu" { a: mul(@pool) { branch { relu } } }
}
"""
KEPT_OPTIONAL = """
network kept_optional(n=1) {
    input [4, 8]
    a: conv(4, 1)
    if n == 1 { conv(4, 1) }
    concat(@a) { branch { identity } }
}
"""
SPLIT_IN_SEQ = """
network split_in_seq {
    input [4, 8]
    z0: seq { parts: split((2, 2)) }
    add(@z0) { branch { relu } }
}
"""


# A label in a body that makes no module of its own hides an outer one only in that body (seed 1113036: the
# emitted forward wrote the split's parts over the outer tensor's variable).
SHADOW_FLAT = """
network n {
    input [4, 8, 8]
    fc: conv(6, 1)
    a: conv(4, 3, p=1)
    y: seq { fc: add(@a, @in) }
    z: seq { fc: split((1, 3)) }
    concat(@fc) { branch { conv(4, 1) } }
}
"""


def _fpn_by_hand(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    c2 = model.c2(x)
    c3 = model.c3(c2)
    c4 = model.c4(c3)
    m3 = model.inner3(c3) + F.interpolate(model.inner4(c4), size=c3.shape[-2:])
    m2 = model.inner2(c2) + F.interpolate(m3, size=c2.shape[-2:])
    return {"p2": model.p2(m2), "p3": model.p3(m3)}


def _equal(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> bool:
    return type(got) is OrderedDict and list(got) == list(expected) and all(
        torch.equal(got[key], value) for key, value in expected.items())


def test_the_built_pyramid_computes_what_torchvision_style_code_does() -> None:
    torch.manual_seed(0)
    model = archdsl.build(FPN).eval()
    x = torch.randn(2, 3, 64, 64)
    assert _equal(model(x), _fpn_by_hand(model, x))
    assert [name for name, _ in model.named_children()] == ["c2", "c3", "c4", "inner4", "inner3", "top3", "inner2",
                                                            "top2", "p3", "p2"], "a label without a module makes none"


def test_the_emitted_forward_names_each_tensor_by_its_label() -> None:
    checked = archdsl.check([FPN])
    source = python_source(checked, checked.networks[0], FPN.name)
    forward = source[source.index("class TinyFpn"):].split("def forward", 1)[1]
    assert re.findall(r"^        (\w+) = (.+?)  #", forward, flags=re.MULTILINE) == [
        ("c2", "self.c2(x)"), ("c3", "self.c3(c2)"), ("c4", "self.c4(c3)"), ("inner4", "self.inner4(c4)"),
        ("inner3", "self.inner3(c3)"), ("top3", "self.top3(inner4)"), ("m3", "inner3 + top3"),
        ("inner2", "self.inner2(c2)"), ("top2", "self.top2(m3)"), ("m2", "inner2 + top2"), ("p3", "self.p3(m3)"),
        ("p2", "self.p2(m2)")]
    assert forward.endswith('        return OrderedDict([("p2", p2), ("p3", p3)])\n')
    torch.manual_seed(0)
    emitted = network_class(source)().eval()
    x = torch.randn(1, 3, 64, 64)
    assert _equal(emitted(x), _fpn_by_hand(emitted, x))


def test_the_readme_shows_the_forward_compile_writes() -> None:
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("<!-- emitted forward of examples/tiny_fpn.arch -->\n```py\n", 1)[1].split("```")[0]
    checked = archdsl.check([FPN])
    assert shown in python_source(checked, checked.networks[0], FPN.name)


def test_emitted_classes_equal_build_for_every_argument() -> None:
    for text in (SHADOWED, IN_PLACE, BLOCK, LABELLED, SPLIT_INSIDE, OPTIONAL_READER, SPLIT_IN_SEQ, KEPT_OPTIONAL,
                 SHADOW_FLAT, FPN.read_text()):  # SPLIT_INSIDE: seed 842845
        assert list(problems(text)) == [], text


def test_a_nested_label_shadows_the_outer_one_only_inside() -> None:
    model = archdsl.build(source=SHADOWED).eval()
    x = torch.randn(1, 3, 8, 8)
    a = model.a(x)
    inner = model.s(a)  # conv then relu of that conv's output
    assert torch.equal(model(x), torch.cat([a, inner], dim=1))
    assert archdsl.check(source=SHADOWED).networks[0].output.shape == (12, 8, 8)


def test_a_label_that_hides_an_outer_one_in_a_body_without_a_module_hides_it_only_there() -> None:
    model = archdsl.build(source=SHADOW_FLAT).eval()
    x = torch.randn(1, 4, 8, 8)
    fc = model.fc(x)
    after = model.a(fc) + x  # y's output, which z splits and passes on whole
    assert torch.equal(model(x), torch.cat([fc, model.conv1(after)], dim=1)), "the outer @fc, not y's or z's"
    assert archdsl.check(source=SHADOW_FLAT).networks[0].output.shape == (10, 8, 8)


def test_a_kept_tensor_is_never_overwritten_in_place() -> None:
    model = archdsl.build(source=IN_PLACE).eval()
    x = torch.randn(1, 2, 6, 6)
    a = model.a(x)
    joined = a + model.b(torch.relu(a))
    assert torch.equal(model(x), joined + torch.relu(a))
    assert not any(getattr(m, "inplace", False) for m in model.modules()), "both activations read a kept tensor"


def test_a_graph_traces_whole_with_compile_and_export() -> None:
    model = archdsl.build(source=BLOCK).eval()
    x = torch.randn(1, 3, 32, 32)
    expected = model(x)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    assert torch.allclose(compiled(x), expected)
    exported = torch.export.export(model, (x,))
    assert torch.allclose(exported.module()(x), expected)
    meta = archdsl.build(source=BLOCK).to("meta")
    assert meta(x.to("meta")).shape == expected.shape


def test_a_path_from_a_labelled_tensor_has_that_tensors_receptive_field() -> None:
    report = build_report(archdsl.load_network(source="""network n {
        input [1, 32, 32]
        a: conv(4, 3, p=1)                 # r 3
        conv(4, 3, p=1); conv(4, 3, p=1)   # r 7
        from(@a) { conv(4, 3, p=1) }       # r 5: it starts at @a, not at the r 7 tensor
    }"""))
    assert [(r.name, r.receptive_field) for r in report.rows] == [
        ("a", (3, 3)), ("conv1", (5, 5)), ("conv2", (7, 7)), ("conv3", (5, 5))]


def test_the_diagram_draws_each_labelled_tensor_once_with_an_edge_to_every_reader() -> None:
    dot = to_dot(archdsl.load_network(FPN))
    ids = dict((tip, node) for node, tip in re.findall(r'(n\d+) \[label=.*? tooltip="([\w.]+)"', dot))
    edges = re.findall(rf'^\s*{ids["c3.relu2"]} -> (n\d+) \[label=" @c3 48x16x16"\]', dot, flags=re.MULTILINE)
    assert sorted(edges) == sorted([ids["c4.conv1"], ids["inner3.0"]]), "the stage after it and the lateral conv"


def test_a_labelled_repeat_is_one_sub_module() -> None:
    model = archdsl.build(source=LABELLED, n=3)  # a labelled repeat was a KeyError traceback
    assert [name for name, _ in model.r.named_children()] == [str(i) for i in range(6)]


HEADS = """
network heads(w=8) {
    input [3, 16, 16]
    c1: conv(w, 3, s=2, p=1); relu
    conv(2 * w, 3, s=2, p=1); c2: relu
    aux: from(@c1) { gap; flatten; linear(5) }
    logits: from(@c2) { gap; flatten; linear(10) }
    output(logits=@logits, aux=train(@aux))
}
"""


def test_training_only_outputs_are_a_namedtuple_in_train_and_absent_in_eval() -> None:
    model = archdsl.build(source=HEADS)
    x = torch.randn(2, 3, 16, 16)
    trained = model.train()(x)
    assert type(trained).__name__ == "HeadsOutputs" and trained._fields == ("logits", "aux")
    assert [tuple(t.shape) for t in trained] == [(2, 10), (2, 5)]
    assert tuple(model.eval()(x).shape) == (2, 10)
    checked = archdsl.check(source=HEADS)
    assert checked.networks[0].shown_output() == "(logits=[10], aux=[5] in train)"
    source = python_source(checked, checked.networks[0], "heads.arch")
    assert 'HeadsOutputs = namedtuple("HeadsOutputs", ["logits", "aux"])' in source
    assert "        if self.training:\n            return HeadsOutputs(logits, aux)\n        return logits\n" in source


def test_a_label_names_the_namedtuple_and_quoted_keys_name_dict_outputs() -> None:
    named = HEADS.replace("    output(", "    GoogLeNetOutputs: output(")
    trained = archdsl.build(source=named).train()(torch.randn(2, 3, 16, 16))
    assert type(trained).__name__ == "GoogLeNetOutputs" and trained._fields == ("logits", "aux")
    keyed = HEADS.replace("output(logits=@logits, aux=train(@aux))", 'output("0"=@logits, "1"=@aux, pool=@c2)')
    got = archdsl.build(source=keyed).eval()(torch.randn(2, 3, 16, 16))  # torchvision's FPN keys
    assert list(got) == ["0", "1", "pool"]
    for text in (named, keyed):
        assert list(problems(text)) == []
    quoted = archdsl.check(source=HEADS.replace("linear(5)", 'linear("out"=5)')).diagnostics
    assert [(d.code.id, d.message) for d in quoted] == [("E103", '`linear` takes no quoted name `"out"`')]


def test_outputs_as_a_tuple_and_every_form_equal_in_both_back_ends() -> None:
    tuple_form = HEADS.replace("output(logits=@logits, aux=train(@aux))", "output(@logits, @aux)")
    model = archdsl.build(source=tuple_form).eval()
    given = model(torch.randn(1, 3, 16, 16))
    assert type(given) is tuple and [tuple(t.shape) for t in given] == [(1, 10), (1, 5)]
    for text in (HEADS, tuple_form, HEADS.replace("aux=train(@aux)", "aux=@aux")):
        assert list(problems(text)) == [], text


def test_graph_outputs_trace_whole_with_compile_and_export() -> None:
    model = archdsl.build(FPN).eval()
    x = torch.randn(1, 3, 64, 64)
    expected = model(x)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    assert all(torch.allclose(a, b) for a, b in zip(compiled(x).values(), expected.values(), strict=True))
    exported = torch.export.export(model, (x,)).module()(x)
    assert list(exported) == ["p2", "p3"]


def test_an_output_line_that_cannot_be_is_a_located_error() -> None:
    cases = {
        "output(@logits)\n    relu": ("E109", "`output(...)` may only be the last line of a network or a block"),
        "output(@logits, aux=@aux)": ("E105", "`output(...)` gives a tuple or named tensors, not both"),
        "output(@logits, train(@aux))": ("E105", "a training-only output needs a name"),
        "output(a=train(@logits), b=train(@aux))": ("E105", "every output is training-only: `eval()` would give "
                                                            "nothing"),
        "output(logits=@logits, lambda=train(@aux))": ("E111", "`lambda` cannot name an output of a namedtuple"),
        "output(a=@logits, a=@aux)": ("E106", "two outputs are named `a`"),
        "output(@logits, 3)": ("E105", "`output(...)` gives labelled tensors, `@name`, not 3"),
        "output(@logit)": ("E112", "unknown tensor `@logit`"),
        'output(logits=@logits, "0"=train(@aux))': ("E111", "`0` cannot name an output of a namedtuple"),
        "lambda: output(logits=@logits, aux=train(@aux))": ("E111", "`lambda` cannot name what `output(...)` gives"),
        "Both: output(@logits, @aux)": ("E111", "`Both` cannot name what `output(...)` gives"),
        "train(@aux)\n    output(@logits)": ("E109", "`train(@x)` marks a training-only output: it stands inside "
                                                "`output(...)`"),
    }
    for line, (code, message) in cases.items():
        text = HEADS.replace("output(logits=@logits, aux=train(@aux))", line)
        found = [(d.code.id, d.message) for d in archdsl.check(source=text).diagnostics]
        assert (code, message) in found, (line, found)


SHUFFLE = """
network shuffle_unit(c=16) {
    input [32, 8, 8]
    halves: split((c, 32 - c))
    concat(@halves[0]) {
        branch(@halves[1]) { conv(32 - c, 1, bias=false); bn; relu; dwconv(3, p=1, bias=false); bn }
    }
    channel_shuffle(2)
}
"""


def test_a_channel_split_is_torch_split_and_its_parts_are_read_by_index() -> None:
    model = archdsl.build(source=SHUFFLE, c=12).eval()
    x = torch.randn(2, 32, 8, 8)
    first, second = torch.split(x, [12, 20], dim=1)
    branch = torch.nn.Sequential(*list(model.children())[:5])
    assert torch.equal(model(x), model.channel_shuffle1(torch.cat([first, branch(second)], dim=1)))
    checked = archdsl.check(source=SHUFFLE)
    source = python_source(checked, checked.networks[0], "shuffle.arch")
    assert "        halves = torch.split(x, [self.c, 32 - self.c], dim=1)\n" in source
    assert "x = torch.cat([halves[0], branch2], dim=1)" in source
    assert list(problems(SHUFFLE)) == []


def test_a_split_that_cannot_be_is_a_located_error() -> None:
    cases = [
        (("halves: split((c, 32 - c))", "halves: split((c, 30 - c))"),
         ("E105", "split sizes add up to 30, but the input [32, 8, 8] has 32 channels")),
        (("halves: split((c, 32 - c))", "split((c, 32 - c))"),
         ("E109", "a split names its parts by a label, and takes no `{ }` body")),
        (("concat(@halves[0])", "concat(@halves)"), None),  # a join takes both parts
        (("concat(@halves[0]) {", "from(@halves) { relu }\n    concat {"),
         ("E105", "`@halves` is 2 tensors: read one")),
        (("concat(@halves[0])", "concat(@halves[2])"), ("E108", "index 2 is out of range for 2 items")),
    ]
    for (old, new), expected in cases:
        found = [(d.code.id, d.message) for d in archdsl.check(source=SHUFFLE.replace(old, new)).diagnostics]
        assert expected in found if expected else found == [], (new, found)


def test_eval_skips_the_steps_only_training_only_outputs_need_and_the_report_counts_eval() -> None:
    network = archdsl.load_network(source=HEADS)
    model = archdsl.build(source=HEADS)
    ran: list[str] = []
    model.aux.register_forward_hook(lambda *_: ran.append("aux"))
    model.eval()(torch.randn(1, 3, 16, 16))
    assert ran == [], "the auxiliary head does not run in eval()"
    model.train()(torch.randn(2, 3, 16, 16))
    assert ran == ["aux"]
    report = build_report(network)
    assert {r.name: r.flops for r in report.rows}["aux.2"] == 0 and report.params == sum(
        p.numel() for p in model.parameters()), "its parameters count, its operations do not"
    assert verify(network, report) == []
    checked = archdsl.check(source=HEADS)
    source = python_source(checked, checked.networks[0], "heads.arch")
    training = ["        if self.training:", "            aux = self.aux(c1)  # [5]"]
    assert "\n".join(training) in source
