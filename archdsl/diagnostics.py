"""Diagnostics as data, and the two ways they are shown: text for people, JSON for tools."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from msgspec import Struct, field
from msgspec.structs import replace

from archdsl.errorcodes import Code, Severity
from archdsl.span import Frame, Span


class Diagnostic(Struct, frozen=True):
    code: Code
    message: str
    span: Span | None
    help: str | None = None
    trace: tuple[Frame, ...] = ()
    denied: bool = False  # a warning made an error (`--deny`)
    count: int = 1  # how often the warning came up at this place (loop passes, block calls)

    @property
    def severity(self) -> Severity:
        return Severity.ERROR if self.denied else self.code.severity

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_dict(self) -> dict[str, object]:
        span = self.span
        return {
            "file": span.file if span else None,
            "line": span.line if span else None,
            "column": span.col if span else None,
            "end_line": span.end_line if span else None,
            "end_column": span.end_col if span else None,
            "severity": self.severity.value,
            "code": self.code.id,
            "message": self.message,
            "help": self.help,
            "trace": [{"block": f.block, "file": f.call.file, "line": f.call.line,
                       "column": f.call.col} for f in self.trace],
            "count": self.count,
        }


class ArchError(Exception):
    """Raised by the Python API when a spec has errors; carries all of them."""

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = tuple(diagnostics)
        self.sources = sources or {}
        super().__init__(render_text(self.diagnostics, self.sources))


# `# archdsl: allow W302` (or several codes, by commas) in a comment silences those warnings on its line.
_ALLOW_COMMENT = re.compile(r"#\s*archdsl:\s*allow\s+([A-Z]\d+(?:\s*,\s*[A-Z]\d+)*)")
_COMMENTS = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|#[^\n]*""")


def allowed_on_lines(text: str) -> dict[int, frozenset[str]]:
    """The codes each line's `# archdsl: allow ...` comment silences, by line number."""
    allowed: dict[int, frozenset[str]] = {}
    if "archdsl:" not in text:
        return allowed
    for match in _COMMENTS.finditer(text):
        found = _ALLOW_COMMENT.match(match.group())
        if found:
            line = text.count("\n", 0, match.start()) + 1
            allowed[line] = frozenset(re.split(r"\s*,\s*", found.group(1)))
    return allowed


class WarningPolicy(Struct):
    """Which warnings are dropped (``--allow``, allow comments) and which become errors (``--deny``).

    ``deny`` may hold ``warnings``: every warning. ``sources`` holds each file's text, for its comments.
    """

    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()
    sources: dict[str, str] = field(default_factory=dict)
    _comments: dict[str, dict[int, frozenset[str]]] = field(default_factory=dict)

    def allowed(self, d: Diagnostic) -> bool:
        if d.code.id in self.allow:
            return True
        places = [frame.call for frame in d.trace] + ([d.span] if d.span else [])
        return any(d.code.id in self._on_lines(span.file).get(span.line, ()) for span in places)

    def denies(self, d: Diagnostic) -> bool:
        return "warnings" in self.deny or d.code.id in self.deny

    def _on_lines(self, file: str) -> dict[int, frozenset[str]]:
        if file not in self._comments:
            self._comments[file] = allowed_on_lines(self.sources.get(file, ""))
        return self._comments[file]


class Sink(Struct):
    """Collects diagnostics in order, counting repeats (one bad block called many times).

    An error is shown once per place and message, a warning once per place: further ones
    there (each pass of a loop, each call of a block) only count. The policy drops allowed
    warnings and makes denied ones errors.
    """

    items: list[Diagnostic] = field(default_factory=list)
    policy: WarningPolicy = field(default_factory=WarningPolicy)
    raised: int = 0  # errors added, repeats included: what tells whether a network had one
    denied: int = 0  # denied warnings added, repeats included
    heard: int = 0  # diagnostics added, repeats and allowed warnings included: whether a step said anything
    _erred: dict[tuple[str, Span | None, str], int] = field(default_factory=dict)  # error -> index in items
    _warned: dict[tuple[str, Span | None], int] = field(default_factory=dict)  # place -> index in items

    def add(self, diagnostic: Diagnostic) -> None:
        self.heard += 1
        if diagnostic.code.severity is Severity.WARNING:
            self._warn(diagnostic)
            return
        self.raised += 1
        key = (diagnostic.code.id, diagnostic.span, diagnostic.message)
        if key in self._erred:
            index = self._erred[key]
            self.items[index] = replace(self.items[index], count=self.items[index].count + 1)
            return
        self._erred[key] = len(self.items)
        self.items.append(diagnostic)

    def _warn(self, warning: Diagnostic) -> None:
        if self.policy.allowed(warning):
            return
        place = (warning.code.id, warning.span)
        if place in self._warned:
            index = self._warned[place]
            self.items[index] = replace(self.items[index], count=self.items[index].count + 1)
            self.denied += self.items[index].denied
            return
        self._warned[place] = len(self.items)
        self.items.append(replace(warning, denied=self.policy.denies(warning)))
        self.denied += self.items[-1].denied

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for d in diagnostics:
            self.add(d)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def errors(self) -> int:
        """Errors added so far, denied warnings included, each time: one shown once counts for every network."""
        return self.raised + self.denied

    def warnings(self) -> int:
        """Warnings seen so far, each place as often as it came up."""
        return sum(d.count for d in self.items if not d.is_error)


# Names people bring from PyTorch and Keras (lower case, without `_` and a 1d/2d/3d ending),
# and archdsl's for the same thing; offered only where that name is known at the mistake.
FAMILIAR_NAMES = {
    "batchnorm": "bn", "layernorm": "ln", "groupnorm": "gn", "instancenorm": "instancenorm",
    "convolution": "conv", "convtranspose": "conv_transpose", "deconv": "conv_transpose",
    "depthwiseconv": "dwconv", "separableconv": "sepconv", "pool": "maxpool",
    "adaptiveavgpool": "adaptive_avgpool", "adaptivemaxpool": "adaptive_maxpool", "globalavgpool": "gap",
    "globalaveragepooling": "gap", "globalmaxpool": "gmp", "globalmaxpooling": "gmp", "fc": "linear",
    "fullyconnected": "linear", "swish": "silu", "hswish": "hardswish", "stochasticdepth": "droppath",
    "upsampling": "upsample", "interpolate": "upsample",
    "stride": "s", "strides": "s", "padding": "p", "kernel": "k", "kernelsize": "k", "dilation": "d",
    "dilationrate": "d", "outchannels": "out", "filters": "out", "outfeatures": "out", "units": "out",
    "ceilmode": "ceil", "numgroups": "groups", "scalefactor": "scale", "rate": "p",
}


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name a typo (or a PyTorch or Keras name) most likely meant, for ``did you mean`` hints."""
    names = sorted(set(known))
    familiar = FAMILIAR_NAMES.get(re.sub(r"[123]d$", "", name.lower().replace("_", "")))
    if familiar in names:
        return familiar
    import difflib  # imported when a hint is wanted: a check that finds no error never needs it

    matches = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    match = closest(name, known)
    return f"did you mean `{match}`?" if match else None


def render_one(d: Diagnostic, sources: dict[str, str]) -> str:
    if d.span is None:
        head = f"archdsl: {d.severity.value}[{d.code.id}]: {d.message}"
        return head + (f"\n  help: {d.help}" if d.help else "")
    span = d.span
    lines = [f"{span}: {d.severity.value}[{d.code.id}]: {d.message}"]
    text = sources.get(span.file)
    if text is not None:
        source_lines = text.splitlines()
        if 0 < span.line <= len(source_lines):
            line_text = source_lines[span.line - 1].expandtabs(1)
            end = span.end_col if span.end_line == span.line else len(line_text) + 1
            shown, start = _window(line_text, span.col - 1)
            width = max(1, min(end - span.col, len(shown) - (span.col - 1 - start)))
            gutter = " " * len(str(span.line))
            lines.append(f"{span.line} | {shown}")
            lines.append(f"{gutter} | {' ' * (span.col - 1 - start)}^{'~' * (width - 1)}")
    for frame in reversed(d.trace):
        lines.append(f"  note: in block `{frame.block}` called at {frame.call}")
    if d.count > 1:
        lines.append(f"  note: {d.count} times at this place (each pass of a loop or call of a block); "
                     "the first is shown")
    if d.help:
        lines.append(f"  help: {d.help}")
    return "\n".join(lines)


# Source lines longer than this are shown as a window around the column, cut with `...`.
SHOWN_LINE = 120


def _window(line: str, column: int) -> tuple[str, int]:
    """The part of ``line`` shown around 0-based ``column``, and where that part starts in the shown text's terms.

    The start is given so that ``column - start`` is the column in the shown text.
    """
    if len(line) <= SHOWN_LINE:
        return line, 0
    first = max(0, min(column - SHOWN_LINE // 3, len(line) - SHOWN_LINE))
    shown = line[first:first + SHOWN_LINE]
    prefix = "..." if first else ""
    return prefix + shown + ("..." if first + SHOWN_LINE < len(line) else ""), first - len(prefix)


def render_text(diagnostics: Sequence[Diagnostic], sources: dict[str, str]) -> str:
    return "\n".join(render_one(d, sources) for d in diagnostics)


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    import json

    return json.dumps([d.as_dict() for d in diagnostics], indent=2)
