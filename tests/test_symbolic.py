"""Symbolic expressions fold without changing their value for any value of their symbols."""

from __future__ import annotations

import operator
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from archdsl.ir.expr import PARAM, Expr, Sym, op, python, substitute

SYMBOLS = (Sym("a", PARAM, int), Sym("b", PARAM, int), Sym("c", PARAM, int))
OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul}


def _trees() -> st.SearchStrategy[tuple]:
    """Integer expressions as plain trees: a symbol's index, a constant, or (operator, left, right)."""
    leaves = st.one_of(st.sampled_from(range(len(SYMBOLS))).map(lambda i: ("sym", i)),
                       st.integers(-5, 5).map(lambda n: ("int", n)))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.tuples(st.sampled_from(sorted(OPERATORS)), inner, inner),
        st.tuples(st.just("neg"), inner),
        st.tuples(st.just("max"), inner, inner)), max_leaves=12)


def _built(tree: tuple) -> Any:
    """The tree built through ``op``, folding as the elaborator does."""
    kind = tree[0]
    if kind == "sym":
        return SYMBOLS[tree[1]]
    if kind == "int":
        return tree[1]
    return op(kind, *(_built(t) for t in tree[1:]))


def _value(tree: tuple, values: tuple[int, ...]) -> int:
    kind = tree[0]
    if kind == "sym":
        return values[tree[1]]
    if kind == "int":
        return tree[1]
    if kind == "neg":
        return -_value(tree[1], values)
    if kind == "max":
        return max(_value(tree[1], values), _value(tree[2], values))
    return OPERATORS[kind](_value(tree[1], values), _value(tree[2], values))


@given(_trees(), _trees(), st.tuples(*(st.integers(-20, 20) for _ in SYMBOLS)))
def test_folding_keeps_the_value_and_comparisons_decided_early_are_right(left: tuple, right: tuple,
                                                                          values: tuple[int, ...]) -> None:
    mapping = dict(zip(SYMBOLS, values, strict=True))
    built = _built(left)
    assert substitute(built, mapping) == _value(left, values)
    compared = op("<=", built, _built(right))
    assert substitute(compared, mapping) == (_value(left, values) <= _value(right, values))


def test_sums_written_differently_are_one_sum() -> None:
    n = Sym("n", PARAM, int)
    size = op("max", n, 1)
    assert python(2 + 2 * size - 4, str) == "2 * max(n, 1) - 2"
    assert op("==", 2 + 2 * size - 4, 2 * size - 2) is True
    assert op("<", n - 1, n + 1) is True
    assert python(n * 4 + n, str) == "5 * n"
    assert python(2 + n, str) == "2 + n"  # nothing to shorten: written as it came


def test_sums_of_other_types_are_left_alone() -> None:
    width, word = Sym("width", PARAM, float), Sym("word", PARAM, str)
    assert isinstance(width + 1 - 1, Expr)
    assert isinstance(op("+", op("+", word, "x"), word), Expr)
