"""Calls as emitted Python: on one line where they fit, else one argument a line, nested calls alike."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any

from msgspec import Struct, field

from archdsl.back.codewriter import CodeWriter
from archdsl.ir.layers import Constructor

MAX_LINE = 110
# Constructor arguments equal to PyTorch's defaults are left out, as people write them.
_DEFAULTS: tuple[tuple[str, dict[str, str]], ...] = (
    (r"(nn\.|Padded|Pointwise)Conv(Transpose)?\dd", {"stride": "1", "padding": "0", "dilation": "1",
                                                     "groups": "1", "bias": "True", "output_padding": "0"}),
    (r"nn\.BatchNorm\dd", {"eps": "1e-05", "momentum": "0.1", "affine": "True", "track_running_stats": "True"}),
    (r"nn\.InstanceNorm\dd", {"eps": "1e-05", "momentum": "0.1", "affine": "False",
                              "track_running_stats": "False"}),
    (r"nn\.MaxPool\dd", {"padding": "0", "dilation": "1", "ceil_mode": "False"}),
    (r"nn\.AvgPool\dd", {"padding": "0", "ceil_mode": "False", "count_include_pad": "True"}),
    (r"nn\.(GroupNorm|LayerNorm)", {"eps": "1e-05", "affine": "True", "elementwise_affine": "True"}),
    (r"nn\.Linear", {"bias": "True"}),
    (r"nn\.GELU", {"approximate": '"none"'}),
    (r"nn\.\w+", {"inplace": "False"}),
    (r"ChannelLayerNorm", {"eps": "1e-06", "affine": "True"}),
    (r"FrozenBatchNorm", {"eps": "1e-05"}),
    (r"LayerScale", {"rank": "2"}),
)


def _is_default(cls: str, name: str, text: str) -> bool:
    return any(re.fullmatch(pattern, cls) and defaults.get(name) == text for pattern, defaults in _DEFAULTS)


class Call(Struct, frozen=True):
    """``head(part, part, ...)``, kept whole so that a long one can be wrapped; ``brackets`` for a list."""

    head: str
    parts: Sequence[Part] = field(default_factory=tuple)
    brackets: str = "()"


class Message(Struct, frozen=True):
    """A string literal, and the adjacent pieces it is written as, one a line, where it is too long for one."""

    whole: str
    pieces: tuple[str, ...]


Part = str | Call | Message


def flat(part: Part) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, Message):
        return part.whole
    return part.head + part.brackets[0] + ", ".join(flat(p) for p in part.parts) + part.brackets[1]


def constructor_call(made: Constructor, py: Callable[[Any], str]) -> Call:
    """A layer's module as a call, its arguments as source and those equal to PyTorch's defaults left out."""
    parts = [py(a) for a in made.args]
    for key, value in made.kwargs:
        text = py(value)
        if not _is_default(made.cls, key, text):
            parts.append(f"{key}={text}")
    return Call(made.cls, parts)


def call_line(out: CodeWriter, head: str, parts: Sequence[Part], tail: str) -> None:
    """``head`` + the parts + ``tail`` on one line where it fits, else one part a line, nested calls alike."""
    single = head + ", ".join(flat(part) for part in parts) + tail
    if len(out.unit * out.level + single) <= MAX_LINE:
        out.line(single)
        return
    if len(parts) == 1 and isinstance(parts[0], Call) and not head.endswith(("(", "[")):
        call = parts[0]
        call_line(out, head + call.head + call.brackets[0], call.parts, call.brackets[1] + tail)
        return
    out.line(head)
    with out.indent():
        for part in parts:
            too_long = len(out.unit * out.level + flat(part) + ",") > MAX_LINE
            if isinstance(part, Call) and too_long:
                call_line(out, part.head + part.brackets[0], part.parts, part.brackets[1] + ",")
            elif isinstance(part, Message) and too_long:
                for piece in part.pieces[:-1]:
                    out.line(piece)
                out.line(part.pieces[-1] + ",")
            else:
                out.line(flat(part) + ",")
    out.line(tail.lstrip(", ") or ")")


class Shown(Struct, frozen=True):
    """An expression shown in a message, with its conversion (``!r``)."""

    source: str
    conversion: str = ""


def formatted(parts: list[str | Shown], pieces: Sequence[int] = ()) -> Message:
    """Source for a message of words and expressions: an f-string, or ``str.format`` where an expression holds
    a quote or backslash (which an f-string's expressions cannot hold before Python 3.12). It may be
    written in pieces, ``parts`` cut before each index in ``pieces``."""
    shown = [part for part in parts if isinstance(part, Shown)]
    inline = not any(c in part.source for part in shown for c in "\"'\\")
    bounds = [0, *pieces, len(parts)]
    literals = [_literal(parts[start:end], inline, formatting=bool(shown))
                for start, end in itertools.pairwise(bounds)]
    whole = _literal(parts, inline, formatting=bool(shown))
    if shown and not inline:
        arguments = ".format(" + ", ".join(part.source for part in shown) + ")"
        whole, literals[-1] = whole + arguments, literals[-1] + arguments
    return Message(whole, tuple(literals))


def _literal(parts: Sequence[str | Shown], inline: bool, formatting: bool) -> str:
    """One piece of a message: an f-string where it shows expressions inline, braces escaped where it is
    formatted (``str.format`` applies to every piece of the message)."""
    shows = any(isinstance(part, Shown) for part in parts)
    text = ""
    for part in parts:
        if isinstance(part, Shown):
            text += "{" + (part.source if inline else "") + part.conversion + "}"
            continue
        escaped = part.replace("\\", "\\\\").replace('"', '\\"')
        text += escaped.replace("{", "{{").replace("}", "}}") if (shows if inline else formatting) else escaped
    return ("f" if inline and shows else "") + '"' + text + '"'


def annotation(value: Any) -> str | None:
    """The annotation of a parameter that took ``value`` (or whose values have that type), if it has one."""
    if isinstance(value, type) and value in (bool, int, float, str):
        return value.__name__
    if isinstance(value, tuple) and value and all(v in (bool, int, float, str) for v in value):
        return f"tuple[{value[0].__name__}, ...]" if len(set(value)) == 1 else None
    if isinstance(value, bool | int | float | str):
        return type(value).__name__
    if isinstance(value, tuple) and value:
        items = {annotation(v) for v in value}
        if len(items) == 1 and None not in items:
            return f"tuple[{items.pop()}, ...]"
    return None
