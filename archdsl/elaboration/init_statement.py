"""A network's `init(...)`: how its weights start, the statement right after its `input` line."""

from __future__ import annotations

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.diagnostics import did_you_mean
from archdsl.elaboration.naming import Namespace
from archdsl.elaboration.scope import Elaborating, Scope
from archdsl.front import syntax as ast
from archdsl.ir.values import show
from archdsl.span import Span


def init_scheme(el: Elaborating, body: tuple[ast.Stmt, ...]) -> tuple[ir.Init | None, tuple[ast.Stmt, ...]]:
    """The network's ``init(...)`` (the statement after `input`, if it is one) and the steps after it."""
    if not states_init(body):
        return ir.Init(), body
    call = body[0]
    assert isinstance(call, ast.Call)
    names = ["conv", "linear", "std", "bias"]
    values = el.arguments(call, Scope({}, None, Namespace()), names, [show(getattr(ir.Init(), n)) for n in names])
    if values is None:
        return None, body
    for name, allowed in (("conv", ir.INIT_SCHEMES), ("linear", ir.INIT_SCHEMES), ("bias", ir.INIT_BIASES)):
        if name in values and values[name] not in allowed:
            hint = did_you_mean(str(values[name]), allowed) or "one of " + ", ".join(f'"{a}"' for a in allowed)
            el.error(codes.ARGUMENT_TYPE, f"init `{name}` is {show(values[name])}, not a scheme it knows",
                     _keyword_span(call, name), hint)
            return None, body
    std = values.get("std", ir.Init().std)
    if isinstance(std, bool) or not isinstance(std, int | float) or not 0 < std <= 1:
        el.error(codes.ARGUMENT_TYPE, f"init `std` must be a number above 0 and at most 1, got {show(std)}",
                 _keyword_span(call, "std"))
        return None, body
    return ir.Init(**{**values, "std": float(std)}), body[1:]


def _keyword_span(call: ast.Call, name: str) -> Span:
    return next((arg.span for arg in call.args if arg.name == name), call.span)


def states_init(body: tuple[ast.Stmt, ...]) -> bool:
    """Whether the first statement is a network's ``init(...)``."""
    return bool(body) and isinstance(body[0], ast.Call) and body[0].callee == "init" and body[0].body is None \
        and body[0].label is None
