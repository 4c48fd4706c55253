"""Lark's parse tree to the AST: a node for each rule, with its span, made without recursion."""

from __future__ import annotations

import math
from typing import Any

import lark
from lark import Token

from archdsl import errorcodes as codes
from archdsl.diagnostics import Diagnostic
from archdsl.front import syntax as ast
from archdsl.ir.values import MAX_INT
from archdsl.span import Span


class SyntaxProblem(Exception):
    """A problem found while building the AST (a limit or a bad literal), not a grammar error."""

    def __init__(self, code: codes.Code, message: str, span: Span, help: str | None = None):
        super().__init__(message)
        self.diagnostic = Diagnostic(code, message, span, help)


def token_span(file: str, token: Token) -> Span:
    """Where ``token`` stands; a token Lark made up after an error may lack a position."""
    line = token.line or 1
    col = token.column or 1
    end_line = token.end_line or line
    end_col = token.end_column or col + max(1, len(token))
    return Span(file, line, col, end_line, end_col)


def _unescape(raw: str, span: Span) -> str:
    out: list[str] = []
    escapes = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
    chars = iter(raw[1:-1])
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        if nxt not in escapes:
            raise SyntaxProblem(codes.SYNTAX, f"unknown escape `\\{nxt}` in a string", span,
                                "the escapes are \\n, \\t, \\\\, \\\" and \\'")
        out.append(escapes[nxt])
    return "".join(out)


class ToAst:
    """Grammar rule name -> AST node: each method makes the node of the rule it is named after, from the rule's
    span and its children, already made."""

    MAX_EXPRESSION_DEPTH = 200

    def __init__(self, file: str):
        self.file = file
        self.depths: dict[int, tuple[Any, int]] = {}  # id -> (node, depth): holding the node keeps its id unique

    def transform(self, tree: lark.Tree) -> Any:
        """The AST of ``tree``, made bottom-up without recursion (deep input cannot overflow the stack).

        A rule's span runs from where its first child starts to where its last ends, a child's brackets included
        (``(a + b) * c`` starts at the bracket, ``a + b`` in it after): what Lark's ``propagate_positions`` gives,
        for a fraction of its cost. The brackets and keywords at a rule's ends are in the tree for this.
        """
        made: list[Any] = []  # the children made so far, in order: tokens, None for a part left out, nodes
        starts: list[tuple[int, int] | None] = []  # where each of them starts, brackets around it included
        ends: list[tuple[int, int] | None] = []
        stack: list[Any] = [tree]
        while stack:
            item = stack.pop()
            if type(item) is tuple:  # every child of the tree in it is made
                rule = item[0]
                first = len(made) - len(rule.children)
                start = next((at for at in starts[first:] if at is not None), None)
                end = next((at for at in reversed(ends[first:]) if at is not None), None)
                value = getattr(self, rule.data)(self._span(rule, start, end), *made[first:])
                del made[first:], starts[first:], ends[first:]
                made.append(value)
                starts.append(start)
                ends.append(end)
            elif isinstance(item, lark.Tree):
                stack.append((item,))
                stack.extend(reversed(item.children))
            else:  # a token, or None for a part left out
                made.append(item)
                starts.append(None if item is None else (item.line, item.column))
                ends.append(None if item is None else (item.end_line, item.end_column))
        return made[0]

    def _span(self, rule: lark.Tree, start: tuple[int, int] | None, end: tuple[int, int] | None) -> Span | None:
        """The span of ``rule``, from where its first child starts to where its last ends (``rule`` is for a
        subclass that reads Lark's own positions instead: tests/test_spans.py compares the two)."""
        return None if start is None or end is None else Span(self.file, *start, *end)

    def _tok(self, token: Token) -> Span:
        return token_span(self.file, token)

    def _nested(self, node: Any, *children: Any) -> Any:
        depth = 1 + max((self._depth(c) for c in children), default=0)
        if depth > self.MAX_EXPRESSION_DEPTH:
            raise SyntaxProblem(codes.LIMIT, f"expression nests more than {self.MAX_EXPRESSION_DEPTH} deep",
                                node.span, "split it with a block parameter or a loop")
        self.depths[id(node)] = (node, depth)
        return node

    def _depth(self, node: Any) -> int:
        known = self.depths.get(id(node))
        return known[1] if known is not None and known[0] is node else 0

    # definitions
    def start(self, span: Span, *items: Any) -> ast.Module:
        imports = tuple(i for i in items if isinstance(i, ast.Import))
        defs = tuple(i for i in items if isinstance(i, ast.Definition))
        return ast.Module(self.file, imports, defs)

    def import_(self, span: Span, keyword: Token, path: Token) -> ast.Import:
        return ast.Import(_unescape(str(path), self._tok(path)), span)

    def definition(self, span: Span, kind: Token, name: Token, params: Any, body: Any) -> ast.Definition:
        return ast.Definition(str(kind), str(name), tuple(params or ()), body, span, self._tok(name))

    def param(self, span: Span, name: Token, default: Any = None) -> ast.Param:
        tensor = name.type == "TENSOR"  # `@skip`
        return ast.Param(str(name)[1:] if tensor else str(name), default, span, tensor=tensor)

    def body(self, span: Span, *items: Any) -> tuple[Any, ...]:
        """A body's statements (its closing brace, last, ends its span)."""
        return self.params(span, *items[:-1])

    def params(self, span: Span, *items: Any) -> tuple[Any, ...]:
        """A list of the parse (parameters, arguments): its items, less the parts left out."""
        return tuple(item for item in items if item is not None)

    args = params

    # statements
    def call(self, span: Span, name: Token, args: Any, closing: Token | None, body: Any) -> ast.Call:
        return ast.Call(str(name), tuple(args or ()), body, span, self._tok(name))

    def label(self, span: Span, token: Token) -> Token:
        return token

    def labeled(self, span: Span, label: Token, call: ast.Call) -> ast.Call:
        return ast.Call(call.callee, call.args, call.body, span, call.callee_span,
                        str(label), self._tok(label))

    def arg(self, span: Span, value: Any) -> ast.Argument:
        return ast.Argument(None, value, span)

    def kwarg(self, span: Span, name: Token, value: Any) -> ast.Argument:
        span = span
        if name.type == "STRING":  # `"0"=@p2`
            return ast.Argument(_unescape(str(name), span), value, span, quoted=True)
        return ast.Argument(str(name), value, span)

    def for_(self, span: Span, keyword: Token, targets: tuple[str, ...], iterable: Any, body: Any) -> ast.For:
        return ast.For(targets, iterable, body, span)

    def targets(self, span: Span, *names: Token) -> tuple[str, ...]:
        return tuple(str(n) for n in names)

    def if_(self, span: Span, keyword: Token, cond: Any, then: Any, *rest: Any) -> ast.If:
        *others, orelse = rest
        return ast.If((ast.Arm(cond, then), *others), orelse or (), span)

    def else_if(self, span: Span, cond: Any, body: Any) -> ast.Arm:
        return ast.Arm(cond, body)

    def input_(self, span: Span, keyword: Token, value: Any) -> ast.Input:
        dims = value.items if isinstance(value, ast.Sequence) else (value,)
        return ast.Input(dims, span)

    # expressions
    def integer(self, span: Span, token: Token) -> ast.Literal:
        span = span
        digits = str(token).lstrip("0")
        if len(digits) > len(str(MAX_INT)) or int(digits or "0") >= MAX_INT:  # int() refuses 4,300+ digits
            raise SyntaxProblem(codes.LIMIT, "number is too large", span, "values must stay below 2**63 in size")
        return ast.Literal(int(token), span)

    def float_(self, span: Span, token: Token) -> ast.Literal:
        span = span
        value = float(token)
        if math.isinf(value):
            raise SyntaxProblem(codes.LIMIT, f"number is too large: {token} is beyond a float's range", span,
                                "floats stop near 1.8e308")
        return ast.Literal(value, span)

    def string(self, span: Span, token: Token) -> ast.Literal:
        span = span
        return ast.Literal(_unescape(str(token), span), span)

    def true(self, span: Span, token: Token) -> ast.Literal:
        return ast.Literal(True, span)

    def false(self, span: Span, token: Token) -> ast.Literal:
        return ast.Literal(False, span)

    def name(self, span: Span, token: Token) -> ast.Name:
        return ast.Name(str(token), span)

    def input_ref(self, span: Span, token: Token) -> ast.InputRef:
        return ast.InputRef(span)

    def tensor_ref(self, span: Span, token: Token) -> ast.TensorRef:
        return ast.TensorRef(str(token)[1:], span)

    def function_call(self, span: Span, name: Token, *args: Any) -> ast.FunctionCall:
        items = tuple(a for a in args[:-1] if a is not None)  # the last is the closing bracket
        return self._nested(ast.FunctionCall(str(name), items, span), *items)

    def tuple_(self, span: Span, *items: Any) -> ast.Sequence:
        items = tuple(i for i in items[1:-1] if i is not None)  # within the brackets
        return self._nested(ast.Sequence(items, span), *items)

    list_ = tuple_

    def parenthesized(self, span: Span, opening: Token, expr: Any, closing: Token) -> Any:
        """The expression in brackets, its own span as it is (its brackets widen the spans around it)."""
        return expr

    def attribute(self, span: Span, value: Any, attr: Token) -> ast.Attribute:
        return self._nested(ast.Attribute(value, str(attr), span), value)

    def index(self, span: Span, value: Any, index: Any, closing: Token) -> ast.Index:
        return self._nested(ast.Index(value, index, span), value, index)

    def unary(self, span: Span, op: Token, operand: Any) -> ast.Unary:
        return self._nested(ast.Unary(str(op), operand, span), operand)

    def binary(self, span: Span, left: Any, op: Token, right: Any) -> ast.Binary:
        return self._nested(ast.Binary(str(op), left, right, span), left, right)

    def conditional(self, span: Span, then: Any, cond: Any, orelse: Any) -> ast.Conditional:
        node = ast.Conditional(then, cond, orelse, span)
        return self._nested(node, then, cond, orelse)
