"""Regenerates the README's tables from archdsl itself: layers, prelude blocks, error codes, the zoo.

    python docs/reference.py

Each table sits in the README between ``<!-- generated:NAME -->`` and ``<!-- end:NAME -->``;
tests/test_readme.py fails when one differs from what this script writes today. The zoo
diagrams (docs/zoo/NAME.svg, with their .dot text for that test) are written too.
"""

from __future__ import annotations

import re
from pathlib import Path

import archdsl
from archdsl import catalog, errorcodes
from archdsl.reports.report import build_report
from archdsl.reports.report_format import human
from archdsl.reports.to_dot import to_graph

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ZOO_DEPTH = 1

# One example per layer, with an input type it fits: each is checked by the tests.
EXAMPLES: dict[str, tuple[str, str]] = {
    "conv": ("conv(64, 4, s=2, p=1)", "[3, 32, 32]"),
    "dwconv": ("dwconv(3, p=1)", "[32, 16, 16]"),
    "pwconv": ("pwconv(128)", "[32, 16, 16]"),
    "conv_transpose": ("conv_transpose(16, 2, s=2)", "[32, 8, 8]"),
    "maxpool": ("maxpool(3, s=2, ceil=true)", "[64, 112, 112]"),
    "avgpool": ("avgpool(2)", "[64, 8, 8]"),
    "adaptive_avgpool": ("adaptive_avgpool(7)", "[512, 14, 14]"),
    "adaptive_maxpool": ("adaptive_maxpool((2, 1))", "[8, 6, 6]"),
    "gap": ("gap", "[512, 7, 7]"),
    "gmp": ("gmp", "[512, 7, 7]"),
    "spatial_mean": ("spatial_mean", "[512, 7, 7]"),
    "bn": ("bn(eps=0.001)", "[64, 56, 56]"),
    "frozen_bn": ("frozen_bn", "[256, 56, 56]"),
    "ln": ("ln(eps=1e-6)", "[96, 56, 56]"),
    "gn": ("gn(32)", "[64, 56, 56]"),
    "instancenorm": ("instancenorm(affine=true)", "[64, 56, 56]"),
    "relu": ("relu", "[64, 8, 8]"),
    "relu6": ("relu6", "[64, 8, 8]"),
    "leaky_relu": ("leaky_relu(0.2)", "[64, 8, 8]"),
    "gelu": ("gelu", "[64, 8, 8]"),
    "silu": ("silu", "[64, 8, 8]"),
    "sigmoid": ("sigmoid", "[64, 8, 8]"),
    "tanh": ("tanh", "[64, 8, 8]"),
    "hardswish": ("hardswish", "[64, 8, 8]"),
    "hardsigmoid": ("hardsigmoid", "[64, 8, 8]"),
    "softmax": ("softmax", "[10]"),
    "dropout": ("dropout(0.2)", "[4096]"),
    "droppath": ("droppath(0.1)", "[96, 56, 56]"),
    "layerscale": ("layerscale(1e-6)", "[96, 56, 56]"),
    "flatten": ("flatten", "[512, 1, 1]"),
    "linear": ("linear(1000)", "[2048]"),
    "identity": ("identity", "[64, 8, 8]"),
    "upsample": ("upsample(2, mode=\"linear\")", "[64, 8, 8]"),
    "channel_shuffle": ("channel_shuffle(4)", "[64, 8, 8]"),
    "channel_mean": ("channel_mean", "[64, 8, 8]"),
    "channel_max": ("channel_max", "[64, 8, 8]"),
    "pad": ("pad((8, 0))", "[32, 100]"),
    "crop": ("crop(((4, 4), (2, 1)))", "[64, 32, 32]"),
    "center_crop": ("center_crop(392)", "[64, 568, 568]"),
    "pixel_shuffle": ("pixel_shuffle(2)", "[64, 8, 8]"),
    "pixel_unshuffle": ("pixel_unshuffle(2)", "[16, 32, 32]"),
}
ZOO = ["lenet5", "alexnet", "vgg16", "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
       "resnext50_32x4d", "densenet121", "densenet169", "densenet201", "seresnet50", "mobilenet_v2",
       "convnext_tiny", "convnext_small", "shufflenet_v2_x1_0", "googlenet_aux", "inception_v3_aux",
       "resnet50_fpn", "fcn_resnet50", "deeplabv3_resnet50", "lraspp_mobilenet_v3_large"]


def example_spec(layer: str) -> str:
    call, shape = EXAMPLES[layer]
    return f"network example {{ input {shape}; {call} }}"


def layer_table() -> str:
    rows = ["| layer | what it does | example, on input |", "|---|---|---|"]
    for entry in catalog.entries():
        if entry.kind == "layer":
            call, shape = EXAMPLES[entry.name]
            rows.append(f"| `{entry.signature}` | {entry.doc} | `{call}` on `{shape}` |")
    return "\n".join(rows)


def prelude_table() -> str:
    rows = ["| block | what it is |", "|---|---|"]
    rows += [f"| `{entry.signature}` | {entry.doc} |" for entry in catalog.prelude_blocks()]
    return "\n".join(rows)


def error_table() -> str:
    rows = ["| code | meaning |", "|---|---|"]
    rows += [f"| {code.id} | {code.title} |" for code in errorcodes.ALL]
    return "\n".join(rows)


def zoo_table() -> str:
    rows = ["| network | parameters | FLOPs | output | spec | diagram |", "|---|---:|---:|---|---|---|"]
    for name in ZOO:
        network = archdsl.load_network(ROOT / "specs" / f"{name}.arch")
        report = build_report(network)
        rows.append(f"| {name} | {report.params:,} ({human(report.params)}) | {report.flops:,} "
                    f"({human(report.flops)}) | {network.shown_output()} | [specs/{name}.arch](specs/{name}.arch) | "
                    f"[depth {ZOO_DEPTH}](docs/zoo/{name}.svg) |")
    return "\n".join(rows)


def zoo_dot(name: str) -> str:
    return to_graph(archdsl.load_network(ROOT / "specs" / f"{name}.arch"), ZOO_DEPTH).source


SECTIONS = {"layers": layer_table, "prelude": prelude_table, "errors": error_table, "zoo": zoo_table}


def section_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"<!-- generated:{name} -->\n.*?<!-- end:{name} -->", re.DOTALL)


def section(name: str) -> str:
    """The README text of a generated section, markers included."""
    return f"<!-- generated:{name} -->\n{SECTIONS[name]()}\n<!-- end:{name} -->"


def main() -> None:
    readme = README.read_text()
    for name in SECTIONS:
        readme, count = section_pattern(name).subn(lambda m, name=name: section(name), readme)
        assert count == 1, f"README has no generated:{name} section"
    README.write_text(readme)
    folder = ROOT / "docs" / "zoo"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ZOO:
        graph = to_graph(archdsl.load_network(ROOT / "specs" / f"{name}.arch"), ZOO_DEPTH)
        (folder / f"{name}.dot").write_text(graph.source)
        (folder / f"{name}.svg").write_bytes(graph.pipe(format="svg"))
    print("README.md tables and docs/zoo/ diagrams written")


if __name__ == "__main__":
    main()
