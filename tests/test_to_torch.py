"""The in-memory torch back end: shapes, counts, names and portability of built modules."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch
from emitting import tensors_of
from torch import nn

import archdsl
from archdsl import ir
from archdsl.back.to_torch import build_module, recipe_of

ROOT = Path(__file__).resolve().parent.parent
SINK = ROOT / "tests" / "specs" / "kitchen_sink.arch"
SMALL_NETWORKS = ["kitchen_sink", "signal", "volume"]
ZOO = sorted(p for p in [*ROOT.glob("specs/*.arch"), *ROOT.glob("examples/*.arch")])


def _networks(path: Path) -> list[ir.Network]:
    result = archdsl.check([path])
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    return result.networks


def _sink(name: str) -> ir.Network:
    return archdsl.load_network(SINK, name)


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.name)
def test_forward_gives_the_checked_shape_and_parameter_count(path: Path) -> None:
    for network in _networks(path):
        model = build_module(network).eval()
        assert sum(p.numel() for p in model.parameters()) == ir.count_params(network.root)
        assert sum(b.numel() for b in model.buffers()) == ir.count_buffers(network.root)
        with torch.device("meta"):
            out = model.to("meta")(torch.empty(3, *network.input.shape))
        given = [o.type for o in network.outputs.given(False)] if network.outputs else [network.output]
        assert [tuple(t.shape) for t in tensors_of(out)] == [(3, *t.shape) for t in given]


@pytest.mark.parametrize("name", SMALL_NETWORKS)
def test_small_networks_run_for_real_at_several_batch_sizes(name: str) -> None:
    network = _sink(name)
    model = build_module(network).eval()
    assert sum(p.numel() for p in model.parameters()) == ir.count_params(network.root)
    for batch in (1, 2, 5):
        with torch.no_grad():
            out = model(torch.randn(batch, *network.input.shape))
        assert tuple(out.shape) == (batch, *network.output.shape)


def test_every_layer_output_shape_matches_the_ir() -> None:
    network = _sink("kitchen_sink")
    model = build_module(network).eval()
    seen: dict[str, tuple[int, ...]] = {}

    def record(name: str):  # type: ignore[no-untyped-def]
        return lambda module, args, output: seen.__setitem__(name, tuple(output.shape[1:]))

    for name, module in model.named_modules():
        if name:
            module.register_forward_hook(record(name))
    with torch.no_grad():
        model(torch.randn(2, *network.input.shape))
    expected = _named_outputs(network.root, "")
    assert expected  # the walk found the layers
    for name, shape in expected.items():
        assert seen[name] == shape, name


def _named_outputs(group: ir.Group, prefix: str) -> dict[str, tuple[int, ...]]:
    """IR output shapes by module path, for the nodes that become modules."""
    found: dict[str, tuple[int, ...]] = {}

    def visit(node: ir.Node, prefix: str) -> None:
        if isinstance(node, (ir.Layer, ir.Group)):
            path = f"{prefix}{node.name}"
            found[path] = node.output.shape
            if isinstance(node, ir.Group):
                for child in node.children:
                    visit(child, path + ".")
            return
        for nodes in ir.paths(node):
            for child in nodes:
                visit(child, prefix)

    for child in group.children:
        visit(child, prefix)
    return found


def test_state_dict_keys_follow_the_spec_names() -> None:
    model = build_module(_sink("kitchen_sink"))
    keys = set(model.state_dict())
    assert "stem.conv.weight" in keys  # a labelled block and the prelude's labels
    assert "stem.bn.running_mean" in keys
    assert "b2.1.weight" in keys  # a labelled branch numbers its steps from 0
    assert "downsample.0.weight" in keys  # the projection shortcut, named as torchvision names it
    assert "denselayer2.conv1.weight" in keys


def test_resnet50_equals_torchvision_weights_and_outputs() -> None:
    torchvision = pytest.importorskip("torchvision")
    ours = archdsl.build(ROOT / "specs" / "resnet50.arch").eval()
    reference = torchvision.models.resnet50(weights=None).eval()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()}
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max().item() < 1e-4


def test_initialisation_is_deterministic_under_manual_seed() -> None:
    torch.manual_seed(0)
    first = build_module(_sink("kitchen_sink")).state_dict()
    torch.manual_seed(0)
    second = build_module(_sink("kitchen_sink")).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_a_second_build_reuses_the_recipe_and_shares_nothing_with_the_first() -> None:
    """The recipe is read off the IR once (issue 12, item 4); every build still makes its own modules and
    weights."""
    network = _sink("kitchen_sink")
    first, second = build_module(network), build_module(network)
    assert recipe_of(network) is recipe_of(network)
    assert repr(first) == repr(second) and first.FOLDS == second.FOLDS
    assert first._plan == second._plan and first.state_dict().keys() == second.state_dict().keys()
    assert not {id(m) for m in first.modules()} & {id(m) for m in second.modules()}
    assert not {p.data_ptr() for p in first.parameters()} & {p.data_ptr() for p in second.parameters()}
    assert any(not torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters(), strict=True))


def test_in_place_activations_never_change_results() -> None:
    network = _sink("kitchen_sink")
    model = build_module(network).eval()
    x = torch.randn(2, *network.input.shape)
    with torch.no_grad():
        fast = model(x.clone())
    for module in model.modules():
        if hasattr(module, "inplace"):
            module.inplace = False
    with torch.no_grad():
        assert torch.equal(model(x.clone()), fast)


def test_a_pointwise_conv_runs_as_a_linear_layer_where_a_channel_layernorm_leaves_channels_last_tensors() -> None:
    """As torchvision's ConvNeXt block: ``F.linear`` over the channels after the LayerNorm, through element-wise
    layers and labels, never after a layer that gives another layout, never grouped; results and gradients those
    of the 1x1 convolution it stands for, the report counting its FLOPs as fvcore does."""
    from fvcore.nn import FlopCountAnalysis

    from archdsl.reports.report import build_report

    source = """network n {
    input [8, 6, 5]
    ln; pwconv(16); gelu; mid: pwconv(8); layerscale(0.5); droppath(0.1); pwconv(8)
    conv(8, 3, p=1); pwconv(8)
    ln; pwconv(8, groups=2)
    bn; ln; relu; pwconv(4)
}"""
    network = archdsl.check(source=source).networks[0]
    model = build_module(network).eval()
    kinds = [type(module).__name__ for module in model.children()]
    assert kinds == ["ChannelLayerNorm", "PointwiseConv2d", "GELU", "PointwiseConv2d", "LayerScale", "DropPath",
                     "PointwiseConv2d", "Conv2d", "Conv2d", "ChannelLayerNorm", "Conv2d", "BatchNorm2d",
                     "ChannelLayerNorm", "ReLU", "PointwiseConv2d"]
    x = torch.randn(2, 8, 6, 5, requires_grad=True)
    plain = copy.deepcopy(model)
    for name, module in list(plain.named_children()):
        if type(module).__name__ == "PointwiseConv2d":
            conv = nn.Conv2d(module.in_channels, module.out_channels, 1)
            conv.load_state_dict(module.state_dict())
            setattr(plain, name, conv)
    ours, theirs = model(x), plain(x)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.allclose(*(torch.autograd.grad(out.sum(), x)[0] for out in (ours, theirs)), atol=1e-5)
    counter = FlopCountAnalysis(model, (x[:1].detach(),))
    counter.unsupported_ops_warnings(False)
    counter.uncalled_modules_warnings(False)
    assert build_report(network).flops_by_operator == dict(counter.by_operator())


def test_a_residual_body_ending_in_dropout_adds_into_the_tensor_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dropout and drop-path give their input (eval) or a new tensor (training): either may take the add,
    with the results and gradients of adding out of place."""
    from archdsl.api import python_source

    source = """network n {
    input [4, 8, 8]
    residual { conv(4, 3, p=1); layerscale(0.5); droppath(0.5) }
    residual { conv(4, 3, p=1); dropout(0.5) }
    residual { relu; dropout(0.5) }
}"""
    result = archdsl.check(source=source)
    assert python_source(result, result.networks[0], "n.arch").count("x += identity") == 2  # not after the relu
    fast = build_module(result.networks[0])
    monkeypatch.setattr("archdsl.back.to_torch.adds_in_place", lambda residual: False)
    plain = build_module(result.networks[0])
    plain.load_state_dict(fast.state_dict())
    for training in (True, False):
        outputs, grads = [], []
        for model in (fast, plain):
            x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1), requires_grad=True)
            torch.manual_seed(0)
            out = model.train(training)(x)
            outputs.append(out)
            grads.append(torch.autograd.grad(out.sum(), x)[0])
        assert torch.equal(outputs[0], outputs[1])
        assert torch.equal(grads[0], grads[1])


@pytest.mark.parametrize("name", SMALL_NETWORKS)
def test_bfloat16_channels_last_and_autocast(name: str) -> None:
    network = _sink(name)
    model = build_module(network).eval()
    x = torch.randn(2, *network.input.shape)
    with torch.no_grad():
        reference = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert model(x).shape == reference.shape
        half = copy.deepcopy(model).to(torch.bfloat16)(x.to(torch.bfloat16))
        assert half.dtype == torch.bfloat16
        assert torch.allclose(half.float(), reference, atol=0.1, rtol=0.1)
        if network.input.rank == 2:
            model = model.to(memory_format=torch.channels_last)
            out = model(x.to(memory_format=torch.channels_last))
            assert torch.allclose(out, reference, atol=1e-5)


def test_many_built_networks_compile_whole_with_a_count_each() -> None:
    """The README's advice for sweeps: past torch's eight compilations of the one ``forward`` built networks
    share, ``isolate_recompiles=True`` still compiles each whole."""
    for width in range(4, 14):
        model = archdsl.build(source=f"network n {{ input [3, 8, 8]; conv({width}, 3, p=1); relu }}").eval()
        compiled = torch.compile(model, fullgraph=True, backend="eager", isolate_recompiles=True)
        with torch.no_grad():
            assert compiled(torch.randn(1, 3, 8, 8)).shape == (1, width, 8, 8)


def test_compiles_without_graph_breaks_and_exports() -> None:
    network = _sink("kitchen_sink")
    model = build_module(network).eval()
    x = torch.randn(2, *network.input.shape)
    with torch.no_grad():
        expected = model(x)
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
        assert torch.allclose(compiled(x), expected, atol=1e-5)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        assert torch.allclose(exported.module()(x), expected, atol=1e-5)


def test_every_parameter_takes_part_in_training() -> None:
    network = _sink("kitchen_sink")
    model = build_module(network).train()
    loss = nn.functional.cross_entropy(model(torch.randn(4, *network.input.shape)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert [k for k, v in model.named_parameters() if v.grad is None] == []


# A residual, an inception and a ConvNeXt network; dense blocks trace in the kitchen sink above (DenseNet-121
# took a fifth of a minute here, which the ten-minute suite can no longer spare).
GPU_READY_SPECS = ["resnet50", "googlenet", "convnext_tiny"]


@pytest.mark.slow
@pytest.mark.parametrize("name", GPU_READY_SPECS)
def test_zoo_compiles_without_graph_breaks_and_exports(name: str) -> None:
    model = archdsl.build(ROOT / "specs" / f"{name}.arch").eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected = model(x)
        torch._dynamo.reset()
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
        assert torch.allclose(compiled(x), expected, atol=1e-4)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        assert torch.allclose(exported.module()(x), expected, atol=1e-4)


def _ddp_step(rank: int, world: int, store: str, results: Any) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)  # same initial weights on every rank
        network = archdsl.load_network(SINK, "kitchen_sink")
        model = DistributedDataParallel(build_module(network).train())
        optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
        torch.manual_seed(rank)  # different data on every rank
        x = torch.randn(4, *network.input.shape)
        loss = nn.functional.cross_entropy(model(x), torch.randint(0, 10, (4,)))
        loss.backward()
        optimiser.step()
        results[rank] = torch.cat([p.detach().flatten() for p in model.parameters()])
    finally:
        dist.destroy_process_group()


def test_distributed_data_parallel_training_step(tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_ddp_step, args=(2, str(tmp_path / "store"), results), nprocs=2, join=True)
        first, second = results[0], results[1]
    assert torch.equal(first, second), "gradients were averaged across the two processes"


def test_mul_multiplies_its_branches_and_checks_their_shapes() -> None:
    model = archdsl.build(source="network n { input [4, 16]; mul { branch { tanh }; branch { sigmoid } } }")
    x = torch.randn(2, 4, 16)
    assert torch.equal(model(x), torch.tanh(x) * torch.sigmoid(x))
    bad = archdsl.check(source="network n { input [4, 16]; mul { branch { conv(8, 1) }; branch { relu } } }")
    assert [(d.code.id, d.message) for d in bad.diagnostics] == [
        ("E205", "mul branches differ in shape: [8, 16], [4, 16]")]
