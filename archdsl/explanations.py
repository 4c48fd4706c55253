"""The long explanation of every diagnostic code, for ``archdsl explain CODE``.

The entries live in ``explanations.md``: each says why the rule exists and what the
numbers in its message mean, with a wrong spec that gives the code and the same spec
fixed (both checked by the tests). Paragraphs are wrapped at 88 columns when shown; one
that starts with four spaces (a formula) is shown as written.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from msgspec import Struct

from archdsl import errorcodes as codes

WIDTH = 88


class Explanation(Struct, frozen=True):
    text: str  # paragraphs separated by blank lines
    wrong: str  # a spec that gives the code
    fixed: str  # the same spec without it


_ENTRY = re.compile(r"^## (?P<code>[EW]\d{3})\n\n(?P<text>.*?)\n\nwrong:\n\n```arch\n(?P<wrong>.*?)```\n\n"
                    r"fixed:\n\n```arch\n(?P<fixed>.*?)```$", re.M | re.S)


def _read() -> dict[str, Explanation]:
    """The entries of ``explanations.md``, by code."""
    text = Path(__file__).with_name("explanations.md").read_text(encoding="utf-8")
    return {m["code"]: Explanation(m["text"], m["wrong"], m["fixed"]) for m in _ENTRY.finditer(text)}


EXPLANATIONS: dict[str, Explanation] = _read()


_CODES = {code.id: code for code in codes.ALL}


def _wrap(paragraph: str) -> str:
    """``paragraph`` filled to ``WIDTH`` columns, never breaking a `code span`."""
    kept = re.sub(r"`[^`]*`", lambda span: span.group().replace(" ", "\xa0"), paragraph)
    return textwrap.fill(kept, WIDTH, break_on_hyphens=False, break_long_words=False).replace("\xa0", " ")


def explain(code_id: str) -> str:
    """The text `archdsl explain CODE` prints: title, explanation, a wrong and a fixed example.

    Raises ``KeyError`` for a code that is not in the registry.
    """
    code, entry = _CODES[code_id], EXPLANATIONS[code_id]
    paragraphs = [p if p.startswith("    ") else _wrap(p) for p in entry.text.split("\n\n")]
    return "\n".join([
        f"{code.id}: {code.title}",
        "",
        "\n\n".join(paragraphs),
        "",
        "Wrong:",
        textwrap.indent(entry.wrong.rstrip("\n"), "    ", lambda line: bool(line.strip())),
        "",
        "Fixed:",
        textwrap.indent(entry.fixed.rstrip("\n"), "    ", lambda line: bool(line.strip())),
    ])
