"""The Graphviz back end: structure of the drawing, golden DOT text, the render command."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import archdsl
from archdsl import ir
from archdsl.reports.to_dot import to_dot

ROOT = Path(__file__).resolve().parent.parent
SINK = ROOT / "tests" / "specs" / "kitchen_sink.arch"


def _images_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("render_images", ROOT / "docs" / "render_images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nodes(dot: str) -> list[str]:
    return re.findall(r"^\s*(n\d+) \[label=", dot, flags=re.MULTILINE)


def test_one_node_per_layer_plus_joins_input_and_output() -> None:
    network = archdsl.load_network(SINK, "kitchen_sink")
    dot = to_dot(network)
    layers = list(ir.layers_in(network.root))
    joins = re.findall(r'\[label="?(\+|×|concat)"? ', dot)
    assert len(_nodes(dot)) == len(layers) + len(joins)
    assert "input" in dot and 'label="output\\n10"' in dot
    assert '"conv 3x3, 16"' in dot  # kind and key hyper-parameters
    assert joins.count("×") == 3  # the SE block, the spatial attention gate and the mul
    assert dot.count("subgraph cluster_") >= 4  # block instances and named groups


def test_edges_carry_shapes_where_they_change() -> None:
    dot = to_dot(archdsl.load_network(ROOT / "specs" / "resnet50.arch"))
    assert re.search(r'-> n\d+ \[label=" 64x112x112"\]', dot)
    assert re.search(r'-> n\d+ \[label=" 2048x7x7"\]', dot)
    # as the README says: after the input, a layer that changes the shape, and every join; not after a relu
    small = to_dot(archdsl.load_network(source="network n { input [3, 8, 8]; conv(8, 3, p=1); relu; "
                                               "residual { conv(8, 3, p=1) }; relu }"))
    assert [line.strip() for line in small.splitlines() if "->" in line] == [
        'input -> n1 [label=" 3x8x8"]', 'n1 -> n2 [label=" 8x8x8"]', "n2 -> n3", "n3 -> n4", "n2 -> n4",
        'n4 -> n5 [label=" 8x8x8"]', "n5 -> output"]


def test_depth_collapses_blocks_into_nodes_that_show_their_arguments() -> None:
    network = archdsl.load_network(ROOT / "specs" / "resnet50.arch")
    full, shallow = to_dot(network), to_dot(network, depth=1)
    assert len(_nodes(shallow)) < 15 < len(_nodes(full))
    assert "layer1: 3 × bottleneck\\n64x56x56 → 256x56x56" in shallow
    assert "0: bottleneck(128, s=2)\\n256x56x56 → 512x28x28" in to_dot(network, depth=2)


def test_dot_is_deterministic_and_the_readme_images_are_current() -> None:
    script = _images_script()
    for name, spec, network, depth in script.DIAGRAMS:
        text = script.dot_text(spec, network, depth)
        assert text == script.dot_text(spec, network, depth)
        committed = ROOT / "docs" / "images" / f"{name}.dot"
        assert committed.read_text() == text, f"run python docs/render_images.py: {name} is out of date"
        assert (ROOT / "docs" / "images" / f"{name}.png").stat().st_size > 1000


@pytest.mark.parametrize("name", ["kitchen_sink", "signal", "volume"])
def test_golden_dot(name: str, golden: Callable[[Path, str], None]) -> None:
    golden(ROOT / "tests" / "golden" / f"{name}.dot", to_dot(archdsl.load_network(SINK, name), direction="LR"))


def _render(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archdsl", "render", *args], capture_output=True, text=True,
                          env=env)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_render_command_writes_svg_png_and_pdf(tmp_path: Path) -> None:
    for suffix, magic in ((".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF")):
        out = tmp_path / f"net{suffix}"
        run = _render(str(SINK), "-n", "signal", "-o", str(out), "--depth", "1")
        assert run.returncode == 0, run.stderr
        assert out.read_bytes().startswith(magic)


def test_render_to_standard_output_writes_the_dot_text(tmp_path: Path) -> None:
    run = _render(str(SINK), "-n", "signal", "-o", "-", "--depth", "1")
    written = _render(str(SINK), "-n", "signal", "-o", str(tmp_path / "net.dot"), "--depth", "1")
    assert run.returncode == 0 and written.returncode == 0, run.stderr
    assert run.stdout == (tmp_path / "net.dot").read_text()


def test_without_dot_the_command_says_how_to_install_it_and_still_writes_dot(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "empty")}
    refused = _render(str(SINK), "-n", "signal", "-o", str(tmp_path / "net.png"), env=env)
    assert refused.returncode == 2
    assert "apt-get install graphviz" in refused.stderr and "-o net.dot" in refused.stderr
    assert not (tmp_path / "net.png").exists()
    written = _render(str(SINK), "-n", "signal", "-o", str(tmp_path / "net.dot"), env=env)
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "net.dot").read_text().startswith("digraph signal {")


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.arch")), ids=lambda p: p.stem)
def test_every_example_renders_with_its_blocks_drawn_as_one_node(path: Path) -> None:
    """Depth 1 draws some networks with no layer outside a block: the legend is left out, not drawn empty (which
    dot refuses, so `render --depth 1` of examples/tiny_fpn.arch was a traceback)."""
    from archdsl.reports.to_dot import to_graph

    for network in archdsl.check([path]).networks:
        assert to_graph(network, depth=1).pipe(format="svg").startswith(b"<?xml")
