"""The expression language: values, operators, functions, scope and errors, never Python's eval."""

from __future__ import annotations

import pytest

import archdsl
from archdsl.elaboration.evaluation import evaluate
from archdsl.front.parser import parse_expression
from archdsl.ir.tensor import TensorType
from archdsl.ir.values import EvalError, Value

IN = TensorType((64, 28, 14))


def value(text: str, **scope: Value) -> Value:
    expr, errors = parse_expression(text)
    assert expr is not None, errors
    return evaluate(expr, scope, IN)


@pytest.mark.parametrize(("text", "expected"), [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("7 / 2", 3.5), ("7 // 2", 3), ("-7 // 2", -4), ("7 % 3", 1),
    ("2 ** 10", 1024), ("-2 ** 2", -4), ("2 ** -1", 0.5), ("1e-6 * 2", 2e-6),
    ("3 > 2 and not false", True), ("1 == 1.0", True), ("2 <= 1 or true", True), ("\"a\" + \"b\"", "ab"),
    ("1 if 2 > 3 else 4", 4), ("(1, 2) + (3,)", (1, 2, 3)), ("[1, 2][1]", 2), ("(1, 2) * 2", (1, 2, 1, 2)),
    ("min(3, 1, 2)", 1), ("max((4, 9))", 9), ("len(range(2, 10, 3))", 3), ("abs(-3)", 3), ("int(2.9)", 2),
    ("float(3)", 3.0), ("range(3)", (0, 1, 2)),
    ("in.c", 64), ("in.h", 28), ("in.w", 14), ("in.shape", (64, 28, 14)), ("in.spatial", (28, 14)),
    ("in.rank", 2), ("in.c // 16", 4), ("same", "same"),
])
def test_values(text: str, expected: Value) -> None:
    got = value(text)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(("text", "code", "words"), [
    ("true + 1", "E105", "cannot combine a boolean and an integer"),
    ("1 / 0", "E108", "division by zero"),
    ("10 ** 10 ** 10", "E004", "too large"),
    ("2 ** 64", "E004", "too large"),
    ("(1, 2)[5]", "E108", "out of range"),
    ("widht", "E102", "did you mean `width`?"),
    ("in.x", "E102", "`in` has no `x`"),
    ("sqrt(4)", "E102", "unknown function `sqrt`"),
    ("1 if 3 else 2", "E105", "a condition must be true or false"),
    ("\"a\" < 1", "E105", "cannot compare"),
    ("range(10 ** 9)", "E004", "the limit is"),
])
def test_errors(text: str, code: str, words: str) -> None:
    with pytest.raises(EvalError) as error:
        value(text, width=3)
    diagnostic = error.value.diagnostic
    assert diagnostic.code.id == code
    assert words in diagnostic.message + (diagnostic.help or "")


def test_defaults_may_use_earlier_parameters_and_in() -> None:
    spec = """
    block b(width, mid=width // 2, out=in.c * 2) { conv(mid, 1); conv(out, 1) }
    network n { input [8, 4, 4]; b(6) }
    """
    network = archdsl.load_network(source=spec)
    assert network.output.shape == (16, 4, 4)
    assert [layer.output.channels for layer in network.root.children[0].children] == [3, 16]


def test_loop_variables_and_parameters_are_scoped() -> None:
    spec = """
    network n(w=4) {
        input [3, 8, 8]
        for (c, k) in [(w, 3), (2 * w, 1)] { conv(c, k, p=k // 2) }
        for i in range(2) { conv(w + i, 1) }
    }
    """
    assert archdsl.load_network(source=spec).output.shape == (5, 8, 8)
    result = archdsl.check(source="network n { input [3, 8, 8]; for c in [4] { relu }; conv(c, 1) }")
    assert [d.code.id for d in result.diagnostics] == ["E102"]
