"""Every node's span is the one Lark's ``propagate_positions`` would give it, which the parser no longer asks for.

The parser finds spans itself, from the brackets and keywords the grammar keeps at the ends of rules (a third of
the cost of Lark's positions). Here Lark finds them too, over the same grammar, and the trees must be equal.
"""

from __future__ import annotations

import random
from importlib import resources
from pathlib import Path

import lark
import pytest
import specgen

from archdsl.front import parser, to_ast
from archdsl.span import Span

ROOT = Path(__file__).resolve().parent.parent


class _LarksSpans(to_ast.ToAst):
    def _span(self, rule: lark.Tree, start: object, end: object) -> Span | None:
        meta = rule.meta
        return None if meta.empty else Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)


@pytest.fixture(scope="module")
def positions() -> lark.Lark:
    grammar = resources.files("archdsl.front").joinpath("grammar.lark").read_text(encoding="utf-8")
    return lark.Lark(grammar, **parser.LARK_OPTIONS, propagate_positions=True, postlex=parser._Newlines(""))


def _both(positions: lark.Lark, text: str, start: str = "start") -> tuple[object, object]:
    ours = parser._parser().parse(text, "f", start)
    return ours, _LarksSpans("f").transform(positions.parse(text, start=start))


SPECS = [*sorted(ROOT.glob("specs/*.arch")),
         *sorted(path for path in ROOT.glob("examples/**/*.arch") if "errors" not in path.parts)]


@pytest.mark.parametrize("path", SPECS[::3], ids=lambda path: path.name)
def test_the_shipped_specs(positions: lark.Lark, path: Path) -> None:
    ours, larks = _both(positions, path.read_text())
    assert ours == larks


def test_generated_specs(positions: lark.Lark) -> None:
    for seed in range(40):
        text = specgen.network_spec(random.Random(seed))
        ours, larks = _both(positions, text)
        assert ours == larks, text


@pytest.mark.parametrize("text", ["(a + b) * c", "((a))", "[1, (2), (3,)]", "f(x)[0].c", "-(x)", "a if (b) else (c)",
                                  "()", "(1, 2,)", "max((a), b)", "x[(1)]", "in.c // (2)"])
def test_brackets_widen_the_spans_around_them_not_their_own(positions: lark.Lark, text: str) -> None:
    ours, larks = _both(positions, text, "expr")
    assert ours == larks


def test_a_bracketed_expression_keeps_its_own_span() -> None:
    expr = parser.parse_expression("(a + b) * c")[0]
    assert (expr.span.col, expr.span.end_col) == (1, 12) and (expr.left.span.col, expr.left.span.end_col) == (2, 7)
