"""Specs whose emitted Python once did not load or computed something else (issue 10, items A to H; later
findings from the differential runs and the reference specs)."""

from __future__ import annotations

import inspect

import pytest
import torch
from emitting import difference, network_class, problems

import archdsl
from archdsl.api import python_source

REPROS = {
    "A: two projected residuals at one level, the first keeping the shape": """
network repro2 {
    input [8, 16]; residual(shortcut=project) { conv(8, 3, p=1) }; residual(shortcut=project) { conv(16, 3, p=1) }
}
""",
    "B: a second projected residual in a block, changing channels": """
block b(w) {
    residual(shortcut=project) { conv(in.c, 3, p=1) }
    residual(shortcut=project) { conv(w, 3, p=1) }
}
network nb(w=16) { input [8, 16, 16]; b(w); b(w) }
""",
    "C: named combinators and seqs holding unnamed steps": """
network nc {
    input [4, 8, 8]
    se: gate { gap; fc1: conv(4, 1); sigmoid }
    x: residual { conv(4, 1); relu }
    blk: seq { residual { conv(4, 3, p=1) } }
}
""",
    "D: a default that reads `in` after defaulted parameters": """
block b(w, s=1, sq=in.c // 2) { conv(sq, 1); conv(w, 3, s=s, p=1) }
network nd { input [8, 16, 16]; b(16); b(32, s=2) }
""",
    "E: tuple arguments with equal items": """
block b(outs) { conv(outs[1], 1) }
network ne { input [8, 16, 16]; b((4, 4)); b((8, 8)) }
""",
    "F: a per-axis tuple and scalars of the same value": """
network nf {
    input [3, 16, 16]; conv(8, 3, s=(1, 1)); dwconv((1, 1)); maxpool((4, 4), s=3); dense(2) { conv(4, 1) }; flatten
}
""",
    "G: names Python or the file reserve": """
block None { relu }
block True { relu }
block False { relu }
block __class__ { conv(4, 1) }
block b { conv(in.c, 1) }
network ng(init_weights=2, B=1) { input [3, 8, 8]; None; True; False; __class__; b; conv(init_weights + B, 1) }
""",
    "H: an `if` on a network parameter": """
network hon(k=4) {
    input [3, 16, 16]
    if k > 3 { conv(8, 3, p=1) } else { conv(8, 5, p=2); conv(8, 1) }
}
""",
    "I: a dense layer keeping a size written two ways (2 + 2 * max(n, 1) - 4 and 2 * max(n, 1) - 2)": """
network ni(n=2) { input [4, 2]; conv(6, 5, p=max(n, 1)); dense_block(2, growth=4); spatial_mean; flatten; linear(3) }
""",
    "J: a division by a parameter": """
block b(w, s) { conv(w // s, 1) }
network nj(s=2, r=4) { input [3, 8, 8]; conv(64 // s, 1); b(24, s=r) }
""",
    "K: a projection named after one that only one branch of an `if` makes": """
network nk(n=1) {
    input [8, 8, 8]
    if n > 2 { residual(shortcut=project) { conv(4, 3, p=1) } } else { relu }
    residual(shortcut=project) { conv(6, 3, p=1) }
}
""",
    "L: a named residual after a loop that changes the length": """
network nl(w=4) {
    input [2, 23]
    x: seq {
        for (c, s) in [(8, 2), (2, 2)] { conv(c, 3, s=s, p=1) }
        named: residual(when=w > 1) { gate { conv(1, 3, p=1); sigmoid } }
    }
}
""",
    "M: a projection that exists for some arguments, then one that always does": """
network nm(w=16) {
    input [16, 8, 8]
    residual(shortcut=project) { conv(w, 3, p=1) }
    residual(shortcut=project) { conv(24, 3, p=1) }
}
""",
    "N: a 3-D average pool whose input depth is a parameter's": """
network nn_(k=2) { input [2, 4, 8, 8]; conv(4, (k, 1, 1)); avgpool(3, s=1, p=1) }
""",
    "O: a projection over a body that pads and crops, its channels a parameter": """
network no(width=8) { input [4, 8, 8]; residual(shortcut=project) { conv(width, 3, p=1); pad(1); crop(1) } }
""",
    "P: a label `downsample` in one branch of an `if`, then a projection": """
network np_(deep=true) {
    input [8, 8, 8]
    if deep { downsample: conv(8, 3, p=1) }
    residual(shortcut=project) { conv(4, 3, p=1) }
}
""",
    "Q: a rule that divides by what a parameter divided, inside a nested residual": """
network nq_(width=4) {
    input [1, 12, 12]
    residual(when=in.h >= 11) { conv(4 // width, 1); residual { dwconv(3, p=1) } }
}
""",
    "R: forward decides by channels a loop left, where a later name may take the projection's": """
network nr_(n=2) {
    input [3, 16, 16]
    conv(8, 3, p=1)
    repeat(n) { conv(16, 1) }
    residual(shortcut=project) { conv(16, 3, p=1) }
    residual(shortcut=project) { conv(24, 3, p=1) }
    gap; flatten
    linear(10)
}
""",
    "S: a projection over a body that crops to a fixed size, where the input already has it": """
network ns_(p=1) {
    input [6, 4, 4]
    conv(6, 3, p=p)
    residual(shortcut=project) { conv(6, 3, p=1); pad((1, 2)); center_crop((4, 4)) }
}
""",
    "T: a projection over a strided body that pads and crops, on a size a division gave": """
network nt_(width=16) {
    input [4, 8]
    conv(32, 5, p=32 // width)
    residual(shortcut=project) { conv(24, 3, s=2, p=1); pad(1); crop(1) }
}
""",
    "U: a named combinator of a block up-sampling to the block's input size (a helper's DeepLab ASPP)": """
block pool_back(w=4) {
    convs: concat {
        branch { conv(w, 1) }
        branch { gap; conv(w, 1); upsample(size=@in.spatial, mode="linear") }
    }
}
network nu_ { input [3, 8, 8]; pool_back; pool_back(w=2) }
""",
    "V: an activation in place at the start of an `if` arm (MobileNetV3's block)": """
block act(hs=false) { conv(8, 1, bias=false); bn; if hs { hardswish } else { relu } }
network nv_ { input [3, 8, 8]; act; act(hs=true) }
""",
    "W: a network parameter defaulting to another (a helper's WaveNet)": """
network nw_(a=4, b=a) { input [3, 8, 8]; conv(b, 1) }
""",
}


@pytest.mark.parametrize("text", REPROS.values(), ids=[key.split(":")[0] for key in REPROS])
def test_the_emitted_classes_equal_build_for_every_argument(text: str) -> None:
    assert list(problems(text)) == []


def _emitted(key: str) -> tuple[str, type[torch.nn.Module]]:
    result = archdsl.check(source=REPROS[key])
    source = python_source(result, result.networks[0], "spec.arch")
    return source, network_class(source)


def test_a_projection_is_applied_where_it_was_made() -> None:
    source, _ = _emitted(next(k for k in REPROS if k.startswith("B")))
    assert "        if in_channels != w:\n            self.downsample = nn.Sequential(" in source
    assert "        if self.downsample is not None:\n            identity2 = self.downsample(identity2)\n" in source


def test_a_default_that_reads_in_is_computed_in_the_constructor() -> None:
    source, _ = _emitted(next(k for k in REPROS if k.startswith("D")))
    assert "def __init__(self, in_channels: int, w: int, s: int = 1, sq: int | None = None) -> None:" in source
    assert "        if sq is None:\n            sq = in_channels // 2\n" in source


def test_tuple_arguments_are_passed_by_name_and_indexed_as_written() -> None:
    source, _ = _emitted(next(k for k in REPROS if k.startswith("E")))
    assert "self.b1 = B(8, outs=(4, 4))" in source and "self.b2 = B(4, outs=(8, 8))" in source
    assert "x = self.conv1(x)  # [outs[1], H, W]" in source


def test_values_are_written_from_their_own_expressions() -> None:
    source, _ = _emitted(next(k for k in REPROS if k.startswith("F")))
    assert "nn.Flatten(1)" in source and "groups=8" in source and "(1, 1)" not in source.split("Flatten")[1]


def test_reserved_names_are_renamed_and_said_so() -> None:
    key = next(k for k in REPROS if k.startswith("G"))
    source, cls = _emitted(key)
    assert list(inspect.signature(cls).parameters) == ["init_weights_", "B"]
    assert "Parameter `init_weights` is `init_weights_` here: Python reserves the spec's name or the file needs it." \
        in source
    for name in ("NoneBlock", "TrueBlock", "FalseBlock", "Class"):
        assert f"class {name}(nn.Module):" in source
    torch.manual_seed(0)
    built = archdsl.build(source=REPROS[key], init=False, init_weights=3, B=2)
    assert difference(built, cls(init_weights_=3, B=2), (3, 8, 8)) is None


def test_an_if_on_a_parameter_is_decided_by_the_argument() -> None:
    source, cls = _emitted(next(k for k in REPROS if k.startswith("H")))
    assert "if k > 3:" in source
    assert [name for name, _ in cls(k=2).named_children()] == ["conv1", "conv2"]
    assert [name for name, _ in cls(k=4).named_children()] == ["conv1"]


def test_sizes_equal_however_written_keep_the_class_general() -> None:
    source, cls = _emitted(next(k for k in REPROS if k.startswith("I")))
    assert "written for" not in source
    assert [name for name, _ in cls(n=5).named_children()][:2] == ["conv1", "dense_block1"]


def test_a_division_by_zero_is_refused_in_the_checkers_words() -> None:
    key = next(k for k in REPROS if k.startswith("J"))
    _, cls = _emitted(key)
    for given, said in (({"s": 0}, "s=0: division by zero in `64 // 0`"),
                        ({"r": 0}, "r=0: division by zero in `24 // 0`")):
        checked = archdsl.check(source=REPROS[key], params=given)
        assert [d.message for d in checked.diagnostics] == [said.split(": ", 1)[1]]
        with pytest.raises(ValueError) as refused:
            cls(**given)
        assert str(refused.value) == said


def test_a_name_one_branch_took_is_numbered_only_where_that_branch_runs() -> None:
    key = next(k for k in REPROS if k.startswith("K"))
    source, cls = _emitted(key)
    assert '"downsample1" if n > 2 else "downsample"' in source
    assert "downsample.0.weight" in cls(n=1).state_dict() and "downsample1.0.weight" in cls(n=3).state_dict()


def test_forward_reads_the_channels_a_loop_left_as_the_constructor_kept_them() -> None:
    source, cls = _emitted(next(k for k in REPROS if k.startswith("R")))
    assert "        self.channels = channels\n" in source and "        if self.channels != 16:\n" in source
    assert [n for n, _ in cls(n=1).named_children() if n.startswith("downsample")] == ["downsample"]
    assert [n for n, _ in cls(n=0).named_children() if n.startswith("downsample")] == ["downsample", "downsample1"]


def test_a_nested_class_is_given_the_input_size_its_construction_reads() -> None:
    source, cls = _emitted(next(k for k in REPROS if k.startswith("U")))
    assert "        self.convs = Convs(in_channels, in_size_0=in_size[0], in_size_1=in_size[1], w=w)\n" in source
    assert cls()(torch.randn(1, 3, 8, 8)).shape == (1, 4, 8, 8)


def test_an_activation_in_an_if_arm_works_in_place_as_the_built_one_does() -> None:
    _, cls = _emitted(next(k for k in REPROS if k.startswith("V")))
    built = archdsl.build(source=REPROS[next(k for k in REPROS if k.startswith("V"))], init=False)
    assert [repr(m) for m in cls().modules() if not list(m.children())] == [
        repr(m) for m in built.modules() if not list(m.children())]
    assert "ReLU(inplace=True)" in repr(built)
