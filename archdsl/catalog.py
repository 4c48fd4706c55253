"""What a spec can call: layers and prelude blocks, with their signatures and one-line documentation.

``archdsl layers`` prints it and docs/reference.py writes the README's tables from it,
so the two cannot drift apart.
"""

from __future__ import annotations

import functools
from pathlib import Path

from msgspec import Struct

from archdsl.front.loader import PRELUDE
from archdsl.front.parser import parse
from archdsl.ir.combinators import COMBINATORS
from archdsl.ir.layers import LAYERS


class Entry(Struct, frozen=True):
    """One callable name: its kind, signature as a spec writes it, one-line doc, and per-parameter docs."""

    name: str
    kind: str  # "layer" | "block" | "combinator"
    signature: str
    doc: str
    params: tuple[tuple[str, str], ...] = ()
    source: str = ""  # a prelude block's definition


def layer_signature(name: str) -> str:
    parts = [p.name if p.required else f"{p.name}={p.default_shown}" for p in LAYERS[name].params]
    return f"{name}({', '.join(parts)})" if parts else name


def _layer(name: str) -> Entry:
    kind = LAYERS[name]
    doc = kind.doc.replace("``", "`").split("\n")[0].rstrip(".")
    return Entry(name, "layer", layer_signature(name), doc, tuple((p.name, p.doc) for p in kind.params))


@functools.cache
def prelude_blocks() -> tuple[Entry, ...]:
    """The prelude's blocks in file order; each one's doc is the comment above it."""
    text = (Path(__file__).parent / "front" / "prelude.arch").read_text(encoding="utf-8")
    module, _ = parse(text, PRELUDE)
    assert module is not None, "the prelude parses"
    lines = text.splitlines()
    entries = []
    for definition in module.definitions:
        comment: list[str] = []
        for line in reversed(lines[: definition.span.line - 1]):
            if not line.startswith("#"):
                break
            comment.insert(0, line.lstrip("# ").strip())
        signature = lines[definition.span.line - 1].split("{")[0].replace("block ", "").strip()
        source = "\n".join(lines[definition.span.line - 1:definition.span.end_line])
        entries.append(Entry(definition.name, "block", signature, " ".join(comment), source=source))
    return tuple(entries)


def entries() -> list[Entry]:
    """Every layer (by name), then every prelude block (in file order), then the combinators."""
    combinators = [Entry(name, "combinator", f"{name} {{ ... }}", doc) for name, doc in COMBINATORS.items()]
    return [*(_layer(name) for name in sorted(LAYERS)), *prelude_blocks(), *combinators]


def describe(entry: Entry) -> str:
    """The long form ``archdsl layers NAME`` prints."""
    lines = [entry.signature, "", f"{entry.kind}: {entry.doc}"]
    if entry.params:
        width = max(len(name) for name, _ in entry.params)
        lines += ["", "parameters:", *(f"  {name:<{width}}  {doc}" for name, doc in entry.params)]
    if entry.source:
        lines += ["", "definition (in the prelude):", *(f"  {line}" for line in entry.source.splitlines())]
    return "\n".join(lines)


def listing() -> str:
    """The short form ``archdsl layers`` prints: a line per name, grouped by kind."""
    found = entries()
    width = min(48, max(len(entry.signature) for entry in found))
    lines: list[str] = []
    for kind, title in (("layer", "Layers"), ("block", "Prelude blocks"), ("combinator", "Combinators")):
        group = [entry for entry in found if entry.kind == kind]
        if lines:
            lines.append("")
        lines.append(f"{title} ({len(group)}):")
        for entry in group:
            gap = "\n" + " " * (width + 4) if len(entry.signature) > width else " " * (width - len(entry.signature) + 2)
            first_sentence = entry.doc.split(". ")[0].rstrip(".")
            lines.append(f"  {entry.signature}{gap}{first_sentence}")
    return "\n".join(lines)
