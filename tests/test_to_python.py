"""The Python back end: emitted files build the same module as the in-memory back end."""

from __future__ import annotations

import importlib.util
import inspect
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from emitting import LIGHTER, structure, tensors_of

import archdsl
from archdsl import ir
from archdsl.api import python_source
from archdsl.back.pynames import Names, class_name
from archdsl.back.to_torch import build_module
from archdsl.elaboration.limits import MAX_SYMBOLIC_ARMS

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted([*ROOT.glob("specs/*.arch"), *ROOT.glob("examples/*.arch"), *ROOT.glob("tests/specs/*.arch")])

HOSTILE = '''
# Names that collide with Python keywords, builtins and the emitted code's own names.
block lambda(self, nn, torch, x=2, in_channels=3, class_=1) {
    conv(self * x, 3, p=1, groups=class_); bn; relu
    residual(shortcut=project) { conv(nn, 1, s=x, groups=torch, bias=false); bn }
}
network min(max=10) {
    input [3, 16, 16]
    lambda(8, 16, 4)
    conv(torch_ish(max), 1)
}
'''.replace("torch_ish(max)", "max")


def load_emitted(source: str, tmp_path: Path, name: str) -> ModuleType:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def emit(result: archdsl.CheckResult, network: ir.Network, tmp_path: Path) -> tuple[str, torch.nn.Module]:
    source = python_source(result, network, "spec.arch")
    module = load_emitted(source, tmp_path, f"emitted_{network.name}")
    classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
               and v.__module__ == module.__name__]
    torch.manual_seed(0)
    return source, classes[-1]()


def _cases() -> list[tuple[Path, str]]:
    cases = []
    for path in SPECS:
        result = archdsl.check([path])
        cases += [(path, n.name) for n in result.networks]
    return cases


@pytest.mark.parametrize(("path", "name"), _cases(), ids=lambda c: c.name if isinstance(c, Path) else c)
def test_emitted_module_equals_the_built_module(path: Path, name: str, tmp_path: Path) -> None:
    result = archdsl.check([path], network=name, params=LIGHTER.get(name))
    network = result.networks[0]
    _, emitted = emit(result, network, tmp_path)
    torch.manual_seed(0)
    built = build_module(network)
    ours, theirs = built.state_dict(), emitted.state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours), "same seed, same initial weights"
    emitted.eval()
    built.eval()
    x = torch.randn(2, *network.input.shape)
    with torch.no_grad():
        got, expected = emitted(x), built(x)
    assert structure(got) == structure(expected)
    assert all(torch.equal(a, b) for a, b in zip(tensors_of(got), tensors_of(expected), strict=True))


def test_resnet50_source_reads_like_torchvision(tmp_path: Path) -> None:
    result = archdsl.check([ROOT / "specs" / "resnet50.arch"])
    source, _ = emit(result, result.networks[0], tmp_path)
    assert source.count("class Bottleneck(nn.Module):") == 1
    assert "if in_channels != width * expansion or s != 1:" in source
    assert "*[Bottleneck(1024, width=256) for _ in range(5)]" in source
    assert "self.conv3 = nn.Conv2d(mid, width * expansion, 1, bias=False)" in source
    assert "Bottleneck(256, width=128, s=2)" in source
    assert "self.fc = nn.Linear(2048, classes)" in source
    assert "x = self.conv2(x)  # [mid, H / s, W / s]" in source


def test_emitted_source_is_deterministic_and_ruff_clean(tmp_path: Path) -> None:
    result = archdsl.check([ROOT / "tests" / "specs" / "kitchen_sink.arch"], network="kitchen_sink")
    first = python_source(result, result.networks[0], "spec.arch")
    again = archdsl.check([ROOT / "tests" / "specs" / "kitchen_sink.arch"], network="kitchen_sink")
    assert python_source(again, again.networks[0], "spec.arch") == first
    fpn = archdsl.check([ROOT / "specs" / "resnet50_fpn.arch"])  # a graph: named locals, a dict of five outputs
    for name, source in (("emitted.py", first), ("fpn.py", python_source(fpn, fpn.networks[0], "fpn.arch"))):
        (tmp_path / name).write_text(source)
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,B,UP,SIM",
                           "--line-length", "120", str(tmp_path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    imports = {line for line in first.splitlines() if line.startswith(("import", "from"))}
    assert imports <= {"from __future__ import annotations", "from collections import OrderedDict", "import torch",
                       "from torch import nn", "import torch.nn.functional as F", "from typing import Any"}, imports


def test_hostile_names_stay_names(tmp_path: Path) -> None:
    result = archdsl.check(source=HOSTILE)
    assert result.ok, [d.message for d in result.diagnostics]
    network = result.networks[0]
    source, emitted = emit(result, network, tmp_path)
    assert re.search(r"def __init__\(\s*self,\s*in_channels: int,\s*self_: int,\s*nn_: int,\s*torch_: int,", source)
    torch.manual_seed(0)
    built = build_module(network)
    assert list(built.state_dict()) == list(emitted.state_dict())


CLASHING = """
# Blocks whose classes would take the names of the runtime modules the file also defines.
block drop_path(p) { droppath(p) }
block layer_scale(v=0.5) { layerscale(v) }
block channel_layer_norm { ln }
block f { conv(in.c, 1) }
network clash {
    input [8, 8, 8]
    residual { drop_path(0.1) }; layer_scale; channel_layer_norm; f
}
"""


def test_block_classes_never_take_the_names_of_runtime_modules(tmp_path: Path) -> None:
    result = archdsl.check(source=CLASHING)
    source, emitted = emit(result, result.networks[0], tmp_path)
    assert {"class DropPath2(nn.Module):", "class LayerScale2(nn.Module):", "class F2(nn.Module):",
            "class ChannelLayerNorm2(nn.Module):", "import torch.nn.functional as F"} <= set(source.splitlines())
    torch.manual_seed(0)
    built = build_module(result.networks[0]).eval()
    x = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        assert torch.equal(emitted.eval()(x), built(x))


def test_conditions_on_block_parameters_are_python_ifs(tmp_path: Path) -> None:
    """MobileNetV2's block is one class, as torchvision's: `expand != 1` and the residual test are `if`s."""
    result = archdsl.check([ROOT / "specs" / "mobilenet_v2.arch"])
    source, _ = emit(result, result.networks[0], tmp_path)
    assert source.count("(nn.Module):") == 2, "InvertedResidual and MobilenetV2, nothing else"
    assert "def __init__(self, in_channels: int, out: int, s: int = 1, expand: int = 6) -> None:" in source
    assert "        if expand != 1:\n            layers.append(" in source
    assert "self.conv = nn.Sequential(*layers)" in source
    assert "if self.s == 1 and self.in_channels == self.out:" in source
    module = load_emitted(source, tmp_path, "mobilenet")
    block = module.InvertedResidual(24, out=32, s=2).eval()  # a form no call of the network builds
    spec = (ROOT / "specs" / "mobilenet_v2.arch").read_text()
    reference = archdsl.build(network="n", init=False,
                              source=spec + "network n { input [24, 16, 16]; inverted_residual(32, s=2) }")
    block.load_state_dict({k.removeprefix("inverted_residual1."): v for k, v in reference.state_dict().items()})
    x = torch.randn(2, 24, 16, 16)
    with torch.no_grad():
        assert torch.equal(block(x), reference.eval()(x))


def test_a_block_that_cannot_follow_its_arguments_refuses_them() -> None:
    """A loop whose steps' names depend on its variable is written for the compiled count, and says so."""
    looped = archdsl.check(source="block b(n) {\n  for i in range(n) { if i == 0 { relu } else { identity } }\n"
                                  "  if n > 1 { gelu }\n}\nnetwork x(n=2) { input [4, 8, 8]; b(n) }\n")
    source = python_source(looped, looped.networks[0], "spec.arch")
    namespace: dict[str, Any] = {"__name__": "emitted"}
    exec(compile(source, "emitted", "exec"), namespace)
    assert list(namespace["X"]().state_dict()) == []
    with pytest.raises(ValueError, match=r"^n=3: this class is written for `n` == 2, not 3$"):
        namespace["X"](n=3)


def test_the_network_class_takes_every_parameter_and_refuses_in_the_checkers_words(tmp_path: Path) -> None:
    """What the README says of `TinyCnn`."""
    path = ROOT / "examples" / "tiny_cnn.arch"
    result = archdsl.check([path])
    _, model = emit(result, result.networks[0], tmp_path)
    cls = type(model)
    assert list(inspect.signature(cls).parameters) == ["classes", "width"]
    with torch.device("meta"):
        assert _leaves(cls(classes=100, width=16)) == _leaves(archdsl.build(path, classes=100, width=16))
    refused = archdsl.check([path], params={"width": 0})
    with pytest.raises(ValueError) as error:
        cls(width=0)
    assert str(error.value) == f"width=0: {refused.diagnostics[0].message}"
    with pytest.raises(ValueError, match=r"^width=16.0: `width` must be an integer$"):
        cls(width=16.0)


@pytest.mark.parametrize(("argument", "refusal"), [
    ({"width": 16.0}, "width=16.0: `width` must be an integer"),
    ({"width": "16"}, "width='16': `width` must be an integer"),
    ({"width": True}, "width=True: `width` must be an integer"),
    ({"flag": 1}, "flag=1: `flag` must be true or false"),
    ({"p": "0.5"}, "p='0.5': `p` must be a number"),
    ({"mode": 2}, "mode=2: `mode` must be a string"),
])
def test_an_argument_of_another_type_is_refused_in_words(tmp_path: Path, argument: dict[str, object],
                                                         refusal: str) -> None:
    """The class is written for the types the network was compiled with (and a tuple's length): the checker
    refuses these too, and the class says so before torch fails, or takes ``1`` for ``true``."""
    source = """network n(width=16, flag=true, p=0.5, mode="nearest", depths=(1, 1)) {
    input [3, 8, 8]
    conv(width, 3, p=1)
    if flag { dropout(p) }
    repeat(depths[0]) { relu }
    upsample(mode=mode)
}"""
    result = archdsl.check(source=source)
    _, model = emit(result, result.networks[0], tmp_path)
    assert not archdsl.check(source=source, params=argument).ok
    cls = type(model)
    assert _leaves(cls(p=0)) == _leaves(archdsl.build(source=source, p=0))  # an integer is a number
    with pytest.raises(ValueError) as error:
        cls(**argument)
    assert str(error.value) == refusal
    assert _leaves(cls(depths=[2, 1])) == _leaves(archdsl.build(source=source, depths=[2, 1]))  # a list is a tuple
    with pytest.raises(ValueError, match=r"^depths=\(1, 1, 1\): this class is written for `depths` as a tuple of 2 "):
        cls(depths=[1, 1, 1])  # taken for a tuple, then refused for its length
    with pytest.raises(ValueError, match=r"^depths=\(1, 1, 1\): this class is written for `depths` as a tuple of 2 "):
        cls(depths=(1, 1, 1))  # what the README says: a tuple keeps the length it was compiled with
    with pytest.raises(ValueError, match=r"^depths=\(1, 1.0\): this class is written for `depths` as a tuple of 2 int"):
        cls(depths=(1, 1.0))  # and its items the types they were compiled with


def test_nested_lists_are_taken_for_the_tuples_compiled(tmp_path: Path) -> None:
    """The newcomer's case: a spec's list default is a tuple, and the class takes the list the spec wrote."""
    source = """network n(stages=[[8, 1], [16, 2]]) {
    input [3, 16, 16]
    for (width, stride) in stages { conv(width, 3, s=stride, p=1); relu }
}"""
    result = archdsl.check(source=source)
    _, model = emit(result, result.networks[0], tmp_path)
    other = [[4, 2], [6, 1]]
    built, emitted = archdsl.build(source=source, stages=other), type(model)(stages=other)
    assert _leaves(emitted) == _leaves(built) and _leaves(type(model)(stages=[[8, 1], [16, 2]])) == _leaves(model)
    with pytest.raises(ValueError, match=r"^stages=\(\(4, 2\), \(6, 1.5\)\): this class is written for `stages` as "):
        type(model)(stages=[[4, 2], [6, 1.5]])


def test_an_if_with_more_arms_on_parameters_than_a_class_can_nest_is_written_for_the_values_compiled(
        tmp_path: Path) -> None:
    """The fuzzer's long `else if` chain on a parameter stopped `compile` with a Python recursion error (E004
    without a place); past ``MAX_SYMBOLIC_ARMS`` the class is written for the compiled value, as it says."""
    arms = " else ".join(f"if k == {i} {{ conv({i % 7 + 1}, 1) }}" for i in range(300))
    source = f"network n(k=4) {{\n    input [3, 8, 8]\n    {arms}\n}}\n"
    result = archdsl.check(source=source)
    text, model = emit(result, result.networks[0], tmp_path)
    assert "Written for k=4: other values need the spec compiled again." in text
    assert _leaves(model) == _leaves(archdsl.build(source=source)) == ["Conv2d(3, 5, kernel_size=1, stride=1)"]
    with pytest.raises(ValueError, match=r"^k=5: this class is written for `k` == 4, not 5$"):
        type(model)(k=5)


def test_an_else_if_chain_on_a_parameter_is_an_elif_chain(tmp_path: Path) -> None:
    """Each arm once nested in the `else:` of the one before: 97 arms passed Python's 100 levels of indentation
    and the file did not load."""
    arms = " else ".join(f"if k == {i} {{ conv({i % 7 + 1}, 1) }}" for i in range(MAX_SYMBOLIC_ARMS))
    source = f"network n(k=4) {{\n    input [3, 8, 8]\n    {arms} else {{ relu }}\n}}\n"
    result = archdsl.check(source=source)
    text, model = emit(result, result.networks[0], tmp_path)
    assert "need the spec compiled again" not in text  # the class is general
    assert text.count("\n        elif k == ") == text.count("\n        elif self.k == ") == MAX_SYMBOLIC_ARMS - 1
    for k in (0, 60, MAX_SYMBOLIC_ARMS - 1, 1000):
        assert _leaves(type(model)(k=k)) == _leaves(archdsl.build(source=source, k=k))


def test_hostile_file_names_cannot_break_the_docstring(tmp_path: Path) -> None:
    result = archdsl.check(source="network n { input [3, 8, 8]; conv(4, 3) }")
    source = python_source(result, result.networks[0], 'evil""" + __import__("os").system("x") + """.arch')
    load_emitted(source, tmp_path, "evil")  # importing runs nothing but class definitions
    assert "system" not in source.split('"""')[2]


def test_names_are_legal_unique_and_shadow_nothing() -> None:
    names = Names()
    assert [names.create(c) for c in ("lambda", "width", "width", "a-b", "2x", "__x", "torch", "range")] == [
        "lambda_", "width", "width2", "a_b", "_2x", "x", "torch_", "range_"]
    taken: set[str] = set()
    assert [class_name(n, taken) for n in ("None", "conv_bn", "conv-bn", "3x", "init_weights")] == [
        "NoneBlock", "ConvBn", "ConvBn2", "Block3x", "InitWeights"]


def test_compile_command_writes_atomically_and_never_over_the_spec(tmp_path: Path) -> None:
    out = tmp_path / "model.py"
    spec = ROOT / "tests" / "specs" / "kitchen_sink.arch"
    run = subprocess.run([sys.executable, "-m", "archdsl", "compile", str(spec), "-n", "signal", "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "written to" in run.stdout
    assert load_emitted(out.read_text(), tmp_path, "compiled").Signal()
    before = spec.read_text()
    refused = subprocess.run([sys.executable, "-m", "archdsl", "compile", str(spec), "-n", "signal", "-o",
                              str(spec)], capture_output=True, text=True)
    assert refused.returncode == 2 and spec.read_text() == before
    bad = tmp_path / "bad.arch"
    bad.write_text("network n { input [3, 4, 4]; conv(8, 9) }")
    failed = subprocess.run([sys.executable, "-m", "archdsl", "compile", str(bad), "-o", str(tmp_path / "x.py")],
                            capture_output=True, text=True)
    assert failed.returncode == 1 and "E201" in failed.stderr
    assert not (tmp_path / "x.py").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


GOLDEN = [("specs/resnet50.arch", "resnet50"), ("specs/densenet121.arch", "densenet121"),
          ("specs/googlenet.arch", "googlenet"), ("specs/convnext_tiny.arch", "convnext_tiny"),
          ("tests/specs/kitchen_sink.arch", "kitchen_sink")]


@pytest.mark.parametrize(("spec", "name"), GOLDEN, ids=[name for _, name in GOLDEN])
def test_golden_source(spec: str, name: str, golden: Callable[[Path, str], None]) -> None:
    """The emitted file, reviewed once by a person; any change to it shows as a diff to review again."""
    result = archdsl.check([ROOT / spec], network=name)
    golden(ROOT / "tests" / "golden" / f"{name}.py", python_source(result, result.networks[0], spec))


def _others(value: Any) -> list[Any]:
    """Two values for a parameter besides the compiled one (a bool has one): the class must honour or refuse both."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value * 3, value + 1]
    return [value * 0.75, value / 2] if isinstance(value, float) else []


def _leaves(model: torch.nn.Module) -> list[str]:
    """Each leaf module as it prints, a size equal on every axis once: ``size=(28, 28)`` is ``size=28``, as the
    built module writes it (the class computes the sizes, so it writes them per axis)."""
    return [re.sub(r"\((\d+)(?:, \1)+\)", r"\1", repr(m)) for m in model.modules() if not list(m.children())]


@pytest.mark.parametrize(("path", "name"), _cases(), ids=lambda c: c.name if isinstance(c, Path) else c)
def test_every_network_parameter_means_what_the_spec_says_at_two_further_values(path: Path, name: str,
                                                                                  tmp_path: Path) -> None:
    """Called with other values of each parameter, the emitted class builds what the spec builds, or refuses the
    value in the checker's words where the checker does."""
    result = archdsl.check([path], network=name)
    _, default = emit(result, result.networks[0], tmp_path)
    taken = list(inspect.signature(type(default)).parameters)
    for (param, value), local in zip(result.networks[0].args, taken, strict=True):
        for other in _others(value):
            checked = archdsl.check([path], network=name, params={param: other})
            if not checked.ok:
                with pytest.raises(ValueError, match=f"{local}={other!r}"):
                    type(default)(**{local: other})
                continue
            with torch.device("meta"):
                emitted = type(default)(**{local: other})
                built = archdsl.build(path, name, init=False, **{param: other})
            assert _leaves(emitted) == _leaves(built), (param, other)


def test_values_set_on_the_command_line_become_the_defaults(tmp_path: Path) -> None:
    result = archdsl.check([ROOT / "specs" / "resnet50.arch"], params={"classes": 10})
    source, model = emit(result, result.networks[0], tmp_path)
    assert "def __init__(self, classes: int = 10) -> None:" in source
    with torch.device("meta"):
        assert model.to("meta")(torch.empty(1, 3, 224, 224)).shape == (1, 10)
    dense = archdsl.check([ROOT / "specs" / "densenet121.arch"], params={"growth": 16})
    source, model = emit(dense, dense.networks[0], tmp_path)
    assert "def __init__(self, classes: int = 1000, growth: int = 16, bn_size: int = 4) -> None:" in source
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


SMALL_DENSE = """
network small_dense {
    input [3, 32, 32]
    conv(16, 3, p=1); dense_block(3, 8); transition; dense_block(2, 8); gap; flatten; linear(10)
}
"""


@pytest.mark.parametrize(("source", "name"), [(SMALL_DENSE, "small_dense"),
                                              ((ROOT / "tests" / "specs" / "kitchen_sink.arch").read_text(),
                                               "kitchen_sink")], ids=["small_dense", "kitchen_sink"])
def test_emitted_source_compiles_without_graph_breaks_and_exports(source: str, name: str, tmp_path: Path) -> None:
    result = archdsl.check(source=source, network=name)
    network = result.networks[0]
    _, model = emit(result, network, tmp_path)
    model.eval()
    x = torch.randn(2, *network.input.shape)
    with torch.no_grad():
        expected = model(x)
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
        assert torch.allclose(compiled(x), expected, atol=1e-5)
        assert torch.allclose(torch.export.export(model, (x,)).module()(x), expected, atol=1e-5)
