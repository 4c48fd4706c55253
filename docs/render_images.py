"""Regenerates the diagrams shown in the README: docs/images/NAME.dot and NAME.png.

    python docs/render_images.py

tests/test_to_dot.py fails when a committed .dot differs from what archdsl draws today,
so run this after changing the diagram back end and commit both files.
"""

from __future__ import annotations

from pathlib import Path

import archdsl
from archdsl.reports.to_dot import to_graph

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
# (image name, spec, network, depth)
DIAGRAMS = [
    ("resnet50_depth1", "specs/resnet50.arch", None, 1),
    ("resnet50_depth2", "specs/resnet50.arch", None, 2),
    ("inception_block", "docs/diagrams.arch", "inception_block", None),
    ("dense_block", "docs/diagrams.arch", "dense_block_demo", None),
    ("se_block", "docs/diagrams.arch", "se_block", None),
    ("convnext_block", "docs/diagrams.arch", "convnext_block_demo", None),
]


def dot_text(spec: str, network: str | None, depth: int | None) -> str:
    return to_graph(archdsl.load_network(ROOT / spec, network), depth).source


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name, spec, network, depth in DIAGRAMS:
        graph = to_graph(archdsl.load_network(ROOT / spec, network), depth)
        (IMAGES / f"{name}.dot").write_text(graph.source)
        (IMAGES / f"{name}.png").write_bytes(graph.pipe(format="png"))
        print(f"docs/images/{name}.png")


if __name__ == "__main__":
    main()
