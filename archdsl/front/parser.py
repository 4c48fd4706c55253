"""Source text to AST. Lark lives here and in ``to_ast.py``, which reads its parse tree.

The grammar is built once per process (and its tables kept by Lark between runs, in the user's
own cache folder); Lark's errors become diagnostics at this boundary and no parse tree leaves it.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lark
from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from archdsl import errorcodes as codes
from archdsl.diagnostics import Diagnostic
from archdsl.front import cache_folder
from archdsl.front import syntax as ast
from archdsl.front.to_ast import SyntaxProblem, ToAst, token_span
from archdsl.span import Span

MAX_NESTING = 100
MAX_SYNTAX_ERRORS = 20
_DEFINITION_START = re.compile(r"(?:block|network)\b")
MAX_TOKENS = 100_000

_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = frozenset(_OPENERS.values())
_WORDS = {
    "NAME": "a name", "INT": "a number", "FLOAT": "a number", "STRING": "a string",
    "_NL": "a new line", "$END": "the end of the file", "COMPARE": "a comparison",
    "ADDOP": "`+` or `-`", "MULOP": "`*`, `/`, `//` or `%`", "BLOCK": "`block`", "NETWORK": "`network`",
    "IMPORT": "`import`", "TENSOR": "a labelled step's output (`@name`)",
}
_OPERATORS = frozenset({"POW", "MULOP", "ADDOP", "COMPARE", "AND", "OR", "IF", "DOT", "LSQB"})
_EXPRESSION_START = frozenset({"NAME", "INT", "FLOAT", "STRING", "LPAR", "LSQB", "IN", "TRUE",
                               "FALSE", "NOT", "ADDOP"})


class _Newlines:
    """Post-lexer: drops newlines inside brackets, bounds the nesting depth and the file's length in tokens.

    Lark takes tens of microseconds per token, so the token bound is what keeps a dense
    file under the byte limit from taking many seconds to reject.
    """

    always_accept = ("_NL",)

    def __init__(self, file: str):
        self.file = file

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        brackets = 0
        for count, token in enumerate(stream):
            if count == MAX_TOKENS:
                raise SyntaxProblem(codes.LIMIT, f"the file is longer than {MAX_TOKENS} tokens",
                                    token_span(self.file, token),
                                    "split the spec into imported files, or write long runs with `repeat` or `for`")
            if token.type in _OPENERS:
                depth += 1
                brackets += token.type != "LBRACE"
                if depth > MAX_NESTING:
                    raise SyntaxProblem(codes.LIMIT, f"brackets nest more than {MAX_NESTING} deep",
                                        token_span(self.file, token),
                                        "split the expression or block into named parts")
            elif token.type in _CLOSERS:
                depth = max(0, depth - 1)
                brackets = max(0, brackets - (token.type != "RBRACE"))
            elif token.type == "_NL" and brackets:
                continue
            yield token


# One lexer for every parser state (`lexer="basic"`), not one per state: a process compiles one scanner, not the
# 20 a contextual lexer compiled for ResNet-152 (about 7 ms of a 0.2 s `archdsl report`). The reserved words are
# then reserved everywhere, as the README says, where the contextual lexer let `for` name a parameter.
LARK_OPTIONS: dict[str, Any] = {"parser": "lalr", "lexer": "basic", "start": ["start", "expr"],
                                "maybe_placeholders": True}


class _Parser:
    """The one Lark parser and the post-lexer that runs inside it.

    The post-lexer carries the current file's name, so parses are serialised by a lock.
    """

    def __init__(self) -> None:
        grammar = Path(__file__).with_name("grammar.lark").read_text(encoding="utf-8")
        self.postlex = _Newlines("")
        self.lark = lark.Lark(grammar, **LARK_OPTIONS, cache=_tables_file(grammar), postlex=self.postlex)
        self.lock = threading.Lock()

    def parse(self, text: str, file: str, start: str = "start") -> Any:
        with self.lock:
            self.postlex.file = file
            tree = self.lark.parse(text, start=start)
        return ToAst(file).transform(tree)


def _tables_file(grammar: str) -> str | bool:
    """Where Lark keeps its tables for ``grammar`` between processes: a file in the user's own cache folder, else
    no cache (False). Never Lark's default, a file in the shared temporary folder under a name anyone can
    compute: Lark unpickles it, so whoever wrote it first could run code in every later check."""
    base = cache_folder.made()
    if base is None:
        return False
    key = hashlib.sha256(f"{lark.__version__}\0{sys.version}\0{LARK_OPTIONS}\0{grammar}".encode()).hexdigest()[:32]
    path = base / f"lark-{key}.pickle"
    return str(path) if not os.path.lexists(path) or cache_folder.readable(path) else False


@functools.cache
def _parser() -> _Parser:
    return _Parser()


def _describe(terminal: str, parser: lark.Lark) -> str:
    if terminal in _WORDS:
        return _WORDS[terminal]
    try:
        pattern = parser.get_terminal(terminal).pattern
    except KeyError:
        return terminal.lower()
    return f"`{pattern.value}`"


def _expected_words(expected: set[str], parser: lark.Lark) -> str:
    names = set(expected)
    words = []
    if len(names & _EXPRESSION_START) >= 4:
        names -= _EXPRESSION_START
        words.append("an expression")
    if len(names & _OPERATORS) >= 4:
        names -= _OPERATORS
        words.append("an operator")
    words += sorted({_describe(n, parser) for n in names})
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


# What can hold a brace or bracket that is not one: strings and comments; and the braces themselves.
_BRACE_SCAN = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|#[^\n]*|[{}]""")
_BRACKET_SCAN = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|#[^\n]*|[{}()\[\]]""")
_PAIRS = {"(": ")", "[": "]"}
RESERVED_WORDS = ("block", "network", "import", "input", "for", "in", "if", "else", "true", "false", "and", "or",
                  "not")
LABEL_WORDS = ("block", "network", "input", "true", "false")  # reserved, but a step may be named with them


def _unclosed_brace(text: str, file: str, before: tuple[int, int]) -> Span | None:
    """The `{` left open before (line, column) ``before``, outside strings and comments.

    Indentation says which: a `}` that starts a line closes the `{` whose line is indented
    as it is, so any `{` on a more deeply indented line still open there is the one whose
    `}` is missing. Without such a clue, the innermost `{` still open is taken.
    """
    starts = [0]
    for row in text.split("\n"):
        starts.append(starts[-1] + len(row) + 1)
    end = starts[before[0] - 1] + before[1] - 1 if before[0] <= len(starts) - 1 else len(text)
    open_at: list[tuple[int, int]] = []  # (offset, indentation of its line)
    skipped: list[int] = []
    for match in _BRACE_SCAN.finditer(text, 0, end):
        if match.group() == "{":
            open_at.append((match.start(), _indentation(text, starts, match.start())))
        elif match.group() == "}" and open_at:
            line_start = starts[bisect.bisect_right(starts, match.start()) - 1]
            if text[line_start:match.start()].strip() == "":  # the `}` begins its line: its indentation counts
                indent = match.start() - line_start
                while len(open_at) > 1 and open_at[-1][1] > indent:
                    skipped.append(open_at.pop()[0])
            open_at.pop()
    offset = skipped[0] if skipped else open_at[-1][0] if open_at else None
    if offset is None:
        return None
    line = bisect.bisect_right(starts, offset)
    col = offset - starts[line - 1] + 1
    return Span(file, line, col, line, col + 1)


def _unclosed_bracket(text: str, file: str, before: tuple[int, int]) -> tuple[Span, str] | None:
    """The innermost `(` or `[` open at (line, column) ``before`` that no later closer matches before a brace.

    A bracket can hold no `{` or `}`, so meeting one first means the bracket was never closed.
    """
    starts = [0]
    for row in text.split("\n"):
        starts.append(starts[-1] + len(row) + 1)
    end = starts[before[0] - 1] + before[1] - 1 if before[0] <= len(starts) - 1 else len(text)
    open_at: list[tuple[int, str]] = []
    for match in _BRACKET_SCAN.finditer(text, 0, end):
        char = match.group()
        if char in _PAIRS:
            open_at.append((match.start(), char))
        elif char in ("{", "}"):
            open_at.clear()
        elif char in (")", "]") and open_at and _PAIRS[open_at[-1][1]] == char:
            open_at.pop()
    if not open_at:
        return None
    depth = 0
    for match in _BRACKET_SCAN.finditer(text, end):
        char = match.group()
        if char in ("{", "}"):
            break
        if char in _PAIRS:
            depth += 1
        elif char in (")", "]"):
            if depth == 0:
                return None
            depth -= 1
    offset, opener = open_at[-1]
    line = bisect.bisect_right(starts, offset)
    col = offset - starts[line - 1] + 1
    return Span(file, line, col, line, col + 1), opener


def _indentation(text: str, starts: list[int], offset: int) -> int:
    line_start = starts[bisect.bisect_right(starts, offset) - 1]
    line = text[line_start:offset]
    return len(line) - len(line.lstrip(" \t"))


def _syntax_diagnostic(error: UnexpectedInput, file: str, parser: lark.Lark, text: str) -> Diagnostic:
    if isinstance(error, UnexpectedCharacters):
        span = Span(file, error.line, error.column, error.line, error.column + 1)
        char = error.char if error.char.isprintable() else repr(error.char)
        return Diagnostic(codes.SYNTAX, f"unexpected character `{char}`", span,
                          "names are letters, digits and `_`; strings are in quotes")
    assert isinstance(error, UnexpectedToken)
    token = error.token
    accepts = set(error.accepts or error.expected)
    expected = _expected_words(accepts, parser)
    if token.type == "$END":
        line, col = max(1, token.line or 1), max(1, token.column or 1)
        span = Span(file, line, col, line, col + 1)
        found = "end of file"
    else:
        span = token_span(file, token)
        found = "end of line" if token.type == "_NL" else f"`{token}`"
    help = None
    before = text.split("\n")[span.line - 1][:span.col - 1] if token.type != "$END" else ""
    bracket = _unclosed_bracket(text, file, (span.line, span.col))
    if bracket is not None and bracket[0].line < span.line:
        opener, closer = bracket[1], _PAIRS[bracket[1]]
        return Diagnostic(codes.SYNTAX, f"this `{opener}` is not closed", bracket[0],
                          f"close it with `{closer}`; inside brackets new lines do not end a statement, so line "
                          f"{span.line} was read as part of it")
    next_definition = token.type in ("BLOCK", "NETWORK") or (
        token.type == "NAME" and _DEFINITION_START.fullmatch(before.strip()) and not before[:1].isspace())
    if "RBRACE" in accepts or next_definition:
        unclosed = _unclosed_brace(text, file, (span.line, 1 if next_definition else span.col))
        if unclosed is not None and (token.type == "$END" or next_definition):
            ends = "the file ends first" if token.type == "$END" else f"line {span.line} begins another definition"
            return Diagnostic(codes.SYNTAX, f"this `{{` is not closed: {ends}", unclosed,
                              "close it with `}` where its body ends")
    word = before.rstrip().rsplit(None, 1)[-1] if before.strip() else ""
    named = str(token) if "NAME" in accepts else word if token.type == "EQUAL" else ""  # a word used as a name
    if token.type == "COLON" and word in RESERVED_WORDS:
        help = (f"`{word}` is a reserved word and cannot name a step; of the reserved words only "
                f"{', '.join(f'`{w}`' for w in LABEL_WORDS)} can")
    elif named in RESERVED_WORDS:
        help = f"`{named}` is a reserved word and cannot be a name"
    elif token.type == "EQUAL" and "LPAR" in accepts:
        help = "there is no assignment; pass values as block or network parameters"
    elif "_NL" in accepts and token.type not in ("_NL", "$END"):
        help = "put each statement on its own line, or separate them with `;`"
    return Diagnostic(codes.SYNTAX, f"unexpected {found}; expected {expected}", span, help)


def _attempt(text: str, file: str, start: str = "start") -> tuple[Any, Diagnostic | None, bool]:
    """The parse of ``text``; or None, the problem that stopped it, and whether it was a syntax error Lark found."""
    parser = _parser()
    try:
        return parser.parse(text, file, start), None, False
    except SyntaxProblem as problem:
        return None, problem.diagnostic, False
    except UnexpectedInput as error:
        return None, _syntax_diagnostic(error, file, parser.lark, text), True


def parse(text: str, file: str) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse one file: the module, or None and its syntax errors, the first of each definition.

    The last few files parsed are kept (the syntax tree is immutable): checking a spec again
    with other parameter values, as a sweep or the emitted code's tests do, parses it once.
    """
    module, errors = _parse(text, file)
    return module, list(errors)


@functools.lru_cache(maxsize=16)
def _parse(text: str, file: str) -> tuple[ast.Module | None, tuple[Diagnostic, ...]]:
    """``parse`` without the cache.

    After a syntax error parsing starts again at the next definition (a line that
    begins with `block` or `network`): inside one definition, guesses at recovery
    mostly produce follow-on errors that are not the user's.
    """
    module, problem, resumable = _attempt(text, file)
    if problem is None:
        return module, ()
    errors = [problem]
    lines = text.split("\n")
    starts = [number for number, line in enumerate(lines, 1) if _DEFINITION_START.match(line)]
    while resumable and len(errors) < MAX_SYNTAX_ERRORS:
        span = errors[-1].span
        assert span is not None  # syntax errors always have one
        after = next((line for line in starts if line > span.line or (line == span.line and span.col == 1)), None)
        if after is None:
            break
        # blank lines in place of the ones before keep every position as it is
        _, problem, resumable = _attempt("\n" * (after - 1) + "\n".join(lines[after - 1:]), file)
        if problem is None:
            break
        errors.append(problem)
    return None, tuple(errors)


def parse_expression(text: str, file: str = "<expression>") -> tuple[ast.Expr | None, list[Diagnostic]]:
    """Parse a lone expression, such as the value of ``--set NAME=VALUE``."""
    expr, problem, _ = _attempt(text, file, "expr")
    return expr, [] if problem is None else [problem]
