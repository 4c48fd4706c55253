"""AST to checked IR: binds parameters, unrolls loops, expands blocks and infers every shape.

Shapes are inferred during expansion because the body of a block depends on its
input (``in.c``). Errors are collected, never raised: after one, the tensor type
becomes unknown (``None``) and later steps are still name- and type-checked but not
shape-checked, so one mistake does not cascade.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl import syntax as ast
from archdsl.combinators import COMBINATORS
from archdsl.combine import combine
from archdsl.diagnostics import Diagnostic, did_you_mean
from archdsl.evaluation import evaluate, truth
from archdsl.layers import LAYERS, Checks, ShapeError, check_rank
from archdsl.layers.signature import ArgumentError, Param, bind
from archdsl.least_layers import LeastLayers
from archdsl.loader import Program
from archdsl.naming import Namespace, label_problem, labels_in
from archdsl.span import Frame, Span
from archdsl.tensor import TensorType
from archdsl.values import UNKNOWN, EvalError, Value, contains_unknown, is_int, show

MAX_LAYERS = 100_000
MAX_REPEAT = 10_000
MAX_BLOCK_DEPTH = 64
MAX_ELEMENTS = 2**31  # per tensor and sample: 8 GB in float32; beyond it torch's indexing breaks too
MAX_PARAMS = 10**9  # by default; `--max-params` raises it

Type = TensorType | None  # None: unknown after an earlier error


class _Abort(Exception):
    """Elaboration of this network cannot go on (a global limit was hit)."""


@dataclass(frozen=True)
class Scope:
    values: Mapping[str, Value]
    block_input: TensorType | object | None  # what `in` means; UNKNOWN after an error
    namespace: Namespace
    trace: tuple[Frame, ...] = ()
    stack: tuple[str, ...] = ()
    decisions: list[tuple[ast.Expr, bool]] = field(default_factory=list)  # the block's `if`s and `when`s, shared

    def decide(self, condition: ast.Expr, outcome: bool) -> bool:
        """Records how a condition of the block's text came out, for the emitted class's docstring."""
        self.decisions.append((condition, outcome))
        return outcome

    def bind(self, names: Mapping[str, Value]) -> Scope:
        return replace(self, values={**self.values, **names})


class Elaborator:
    def __init__(self, program: Program, max_params: int = MAX_PARAMS):
        self.program = program
        self.sink = program.sink
        self.max_params = max_params
        self.layer_count = 0
        self.param_count = 0

    # -- entry point ----------------------------------------------------------------

    def network(self, definition: ast.Definition, overrides: Mapping[str, Value],
                input_shape: tuple[int, ...] | None = None) -> ir.Network | None:
        """The checked IR of one network; ``input_shape`` replaces the spec's `input` line."""
        errors_before = self._errors()
        self.layer_count = self.param_count = 0
        values = self._network_args(definition, overrides)
        if values is None:
            return None
        body = definition.body
        if not body or not isinstance(body[0], ast.Input):
            self._error(codes.MISPLACED, f"network `{definition.name}` does not start with `input [C, ...]`",
                        definition.name_span, "begin the body with its input type, e.g. `input [3, 224, 224]`")
            return None
        scope = Scope(values, None, Namespace(labels_in(body[1:]), indexed=False))
        if input_shape and len(input_shape) != len(body[0].dims):
            sizes = {1: "C", 2: "C, L", 3: "C, H, W", 4: "C, D, H, W"}.get(len(body[0].dims), "C, ...")
            self._error(codes.ARGUMENT_TYPE, f"the input given, {list(input_shape)}, has {len(input_shape)} sizes; "
                        f"network `{definition.name}` takes {len(body[0].dims)}", None, f"give {sizes}")
            return None
        t_in = TensorType(input_shape) if input_shape else self._input_type(body[0], scope)
        if t_in is None or not self.bounded(t_in, "the input", body[0].span, scope, "the input is far too large"):
            return None
        scope = replace(scope, block_input=t_in)
        if self._too_many_layers(body[1:]):
            return None
        try:
            children, t_out = self.sequence(body[1:], scope, t_in)
        except _Abort:
            return None
        if t_out is None or self._errors() > errors_before:
            return None
        root = ir.Group("network", definition.name, tuple(children), t_in, t_out, definition.span,
                        definition.name, tuple(values.items()))
        return ir.Network(definition.name, definition.span.file, tuple(values.items()), root)

    def _too_many_layers(self, stmts: tuple[ast.Stmt, ...]) -> bool:
        """Refuses at once a network whose text alone fixes more layers than the limit."""
        least = LeastLayers(self.program.blocks, cap=10**15, max_count=MAX_REPEAT, max_depth=MAX_BLOCK_DEPTH)
        if least.of(stmts) <= MAX_LAYERS:
            return False
        worst = max(stmts, key=lambda stmt: least.of((stmt,)))
        self._error(codes.LIMIT, f"this makes at least {least.of((worst,))} layers; a network may have {MAX_LAYERS}",
                    worst.span, "a block calling a block twice doubles the count with each level; repeats multiply it")
        return True

    def _network_args(self, definition: ast.Definition, overrides: Mapping[str, Value]) -> dict[str, Value] | None:
        names = [p.name for p in definition.params]
        ok = True
        for name in overrides:
            if name not in names:
                hint = did_you_mean(name, names) or (f"its parameters are {', '.join(names)}" if names else None)
                self._error(codes.UNKNOWN_PARAMETER, f"network `{definition.name}` has no parameter `{name}`",
                            None, hint)
                ok = False
        values: dict[str, Value] = {}
        for param in definition.params:
            if param.name in overrides:
                values[param.name] = overrides[param.name]
            elif param.default is None:
                self._error(codes.ARITY, f"network `{definition.name}` needs a value for `{param.name}`",
                            param.span, f"give one with --set {param.name}=VALUE")
                ok = False
            else:
                value = self._eval(param.default, Scope(values, None, Namespace()))
                ok = ok and value is not UNKNOWN
                values[param.name] = value
        return values if ok else None

    def _input_type(self, stmt: ast.Input, scope: Scope) -> TensorType | None:
        dims = [self._eval(d, scope) for d in stmt.dims]
        if any(d is UNKNOWN for d in dims):
            return None
        if not 1 <= len(dims) <= 4 or not all(is_int(d) and d >= 1 for d in dims):  # type: ignore[operator]
            self._error(codes.ARGUMENT_TYPE, f"input must be 1 to 4 positive integers [C, *spatial], got "
                        f"{show(tuple(dims))}", stmt.span, "for example `input [3, 224, 224]`")
            return None
        return TensorType(tuple(dims))  # type: ignore[arg-type]

    # -- statements -------------------------------------------------------------------

    def sequence(self, stmts: tuple[ast.Stmt, ...], scope: Scope, t: Type) -> tuple[list[ir.Node], Type]:
        nodes: list[ir.Node] = []
        for call, inner in self._expand(stmts, scope):
            made, t = self.call(call, inner, t)
            nodes.extend(made)
        return nodes, t

    def _expand(self, stmts: tuple[ast.Stmt, ...], scope: Scope) -> Iterator[tuple[ast.Call, Scope]]:
        """Unrolls ``for``, ``if`` and ``repeat``: yields each remaining call with its scope."""
        for stmt in stmts:
            if isinstance(stmt, ast.Input):
                self._error(codes.MISPLACED, "`input` may only be the first line of a network", stmt.span)
            elif isinstance(stmt, ast.If):
                branch = self._chosen(stmt, scope)
                if branch is not None:
                    yield from self._expand(branch, scope)
            elif isinstance(stmt, ast.For):
                yield from self._unroll(stmt, scope)
            elif stmt.callee == "repeat" and stmt.body is not None and stmt.label is None:
                for _ in range(self.repeat_count(stmt, scope)):
                    yield from self._expand(stmt.body, scope)
            else:
                yield stmt, scope

    def _chosen(self, stmt: ast.If, scope: Scope) -> tuple[ast.Stmt, ...] | None:
        """The body of the first arm whose condition holds, else the ``else`` body; None after an error."""
        for arm in stmt.arms:
            test = self._eval(arm.cond, scope)
            if test is UNKNOWN:
                return None
            try:
                if scope.decide(arm.cond, truth(test, arm.cond.span)):
                    return arm.body
            except EvalError as error:
                self.sink.add(self._traced(error.diagnostic, scope))
                return None
        return stmt.orelse

    def _unroll(self, stmt: ast.For, scope: Scope) -> Iterator[tuple[ast.Call, Scope]]:
        items = self._eval(stmt.iterable, scope)
        if items is UNKNOWN:
            return
        if not isinstance(items, tuple):
            self._error(codes.ARGUMENT_TYPE, f"`for` needs a list, tuple or range, got {show(items)}",
                        stmt.iterable.span, scope=scope)
            return
        for item in items:
            if len(stmt.targets) == 1:
                names = {stmt.targets[0]: item}
            elif isinstance(item, tuple) and len(item) == len(stmt.targets):
                names = dict(zip(stmt.targets, item, strict=True))
            else:
                self._error(codes.ARGUMENT_TYPE, f"cannot unpack {show(item)} into {len(stmt.targets)} names",
                            stmt.iterable.span, scope=scope)
                return
            yield from self._expand(stmt.body, scope.bind(names))

    def repeat_count(self, stmt: ast.Call, scope: Scope) -> int:
        values = self._arguments(stmt, scope, ["n"], [True])
        if values is None:
            return 0
        n, count_span = values["n"], stmt.args[0].span
        if not is_int(n) or n < 0:  # type: ignore[operator]
            self._error(codes.ARGUMENT_TYPE, f"repeat count must be a non-negative integer, got {show(n)}",
                        count_span, scope=scope)
            return 0
        if n > MAX_REPEAT:  # type: ignore[operator]
            self._error(codes.LIMIT, f"repeat({n}) is more than the limit of {MAX_REPEAT}", count_span, scope=scope)
            return 0
        return n  # type: ignore[return-value]

    # -- calls ------------------------------------------------------------------------

    def call(self, call: ast.Call, scope: Scope, t: Type) -> tuple[list[ir.Node], Type]:
        if call.callee in COMBINATORS:
            return combine(self, call, scope, t)
        if call.callee not in LAYERS and call.callee not in self.program.blocks:
            if call.body is not None:  # only combinators take a body
                what = "combinator"
                hint = did_you_mean(call.callee, COMBINATORS) or "the combinators are " + ", ".join(
                    name for name in COMBINATORS if name not in ("branch", "shortcut"))
            else:
                what = "layer or block"
                hint = did_you_mean(call.callee, [*LAYERS, *self.program.blocks, *COMBINATORS]) or ""
            self._error(codes.UNKNOWN_CALLEE, f"unknown {what} `{call.callee}`", call.callee_span, hint or None,
                        scope)
            return [], None
        if call.body is not None:
            self._error(codes.MISPLACED, f"`{call.callee}` takes no `{{ }}` body", call.span, scope=scope)
            return [], None
        if call.callee in LAYERS:
            layer, t_out = self.layer(call, scope, t)
            return ([layer] if layer else []), t_out
        group, t_out = self.block(call, scope, t)
        return ([group] if group else []), t_out

    def layer(self, call: ast.Call, scope: Scope, t: Type) -> tuple[ir.Layer | None, Type]:
        kind = LAYERS[call.callee]
        values = self._arguments(call, scope, [p.name for p in kind.params], [p.required for p in kind.params])
        if values is not None and t is None:  # after an earlier error: still report arguments of the wrong type
            self._checked_arguments(call.callee, values, None, call, scope)
        if values is None or t is None:
            return None, None
        return self.primitive(call.callee, values, t, call, scope)

    def _checked_arguments(self, kind_name: str, values: Mapping[str, Value], rank: int | None, call: ast.Call,
                           scope: Scope) -> dict[str, Value] | None:
        """Each argument in the form its layer wants, or None after reporting the first of the wrong type.

        With the input's ``rank`` unknown (after an earlier error) only the arguments' types are checked.
        """
        kind = LAYERS[kind_name]
        args: dict[str, Any] = {}
        for param in kind.params:
            value = values.get(param.name, param.default)
            try:
                args[param.name] = value if value is None else param.check(value, rank, self._guarding)
            except ArgumentError as error:
                self._error(codes.ARGUMENT_TYPE, f"{kind_name} `{param.name}` {error.message}",
                            self._argument_span(call, param.name, kind.params), scope=scope)
                return None
        return args

    def primitive(self, kind_name: str, values: Mapping[str, Value], t: TensorType, call: ast.Call, scope: Scope,
                  name: str | None = None, generated: bool = False) -> tuple[ir.Layer | None, Type]:
        """Checks and infers one layer from evaluated arguments; a ``generated`` layer was not written as such."""
        kind = LAYERS[kind_name]
        try:
            check_rank(kind, t)
        except ShapeError as error:
            self._error(error.code, error.message, call.span, error.help, scope)
            if error.code is not codes.NOT_FLAT:
                return None, None
            _, as_if_flat = self.primitive(kind_name, values, TensorType((t.numel,)), call, scope, name, generated)
            return None, as_if_flat  # as if flattened first, so later steps are still checked
        args = self._checked_arguments(kind_name, values, t.rank, call, scope)
        if args is None:
            return None, None
        try:
            inferred = kind.shape(args, t, Checks())
        except ShapeError as error:
            self._error(error.code, error.message, call.span, error.help, scope)
            return None, error.recovered
        for warning in () if generated else inferred.warnings:
            self.sink.add(Diagnostic(warning.code, warning.message, call.span, warning.help, scope.trace))
        if not self.bounded(inferred.output, f"{kind_name} output", call.span, scope):
            return None, None
        self.layer_count += 1
        self.param_count += inferred.params
        if self.layer_count > MAX_LAYERS:
            self._error(codes.LIMIT, f"the network has more than {MAX_LAYERS} layers", call.span, scope=scope)
            raise _Abort
        if self.param_count > self.max_params:
            self._error(codes.LIMIT, f"the network has more than {self.max_params:,} parameters here", call.span,
                        "raise the limit with --max-params N (max_params= in Python) if this is meant", scope)
            raise _Abort
        node_name = name or self.name(call, scope, kind_name)
        node = ir.Layer(kind_name, node_name, tuple(args.items()), t, inferred.output, inferred.params,
                        inferred.buffers, call.span, None if generated else call, scope.values)
        return node, inferred.output

    def block(self, call: ast.Call, scope: Scope, t: Type) -> tuple[ir.Group | None, Type]:
        definition = self.program.blocks[call.callee]
        if call.callee in scope.stack:
            chain = " -> ".join([*scope.stack[scope.stack.index(call.callee):], call.callee])
            self._error(codes.RECURSION, f"block `{call.callee}` calls itself: {chain}", call.callee_span,
                        "blocks cannot be recursive; unroll with `repeat` or `for`", scope)
            return None, None
        if len(scope.stack) >= MAX_BLOCK_DEPTH:
            self._error(codes.LIMIT, f"blocks nest more than {MAX_BLOCK_DEPTH} deep", call.span, scope=scope)
            return None, None
        names = [p.name for p in definition.params]
        values = self._arguments(call, scope, names, [p.default is None for p in definition.params])
        if values is None:
            return None, None
        inner = Scope({}, UNKNOWN if t is None else t, Namespace(labels_in(definition.body)),
                      (*scope.trace, Frame(call.callee, call.span)), (*scope.stack, call.callee))
        bound: dict[str, Value] = {}
        for param in definition.params:
            if param.name in values:
                bound[param.name] = values[param.name]
            else:
                bound[param.name] = self._eval(param.default, inner.bind(bound))  # type: ignore[arg-type]
        children, t_out = self.sequence(definition.body, inner.bind(bound), t)
        if t is None or t_out is None:
            return None, None
        node = ir.Group("block", self.name(call, scope, call.callee), tuple(children), t, t_out, call.span,
                        definition.name, tuple(bound.items()), source=call, caller=scope.values,
                        decisions=self._decisions(inner.decisions))
        return node, t_out

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _guarding(holds: object, message: tuple[object, ...]) -> None:
        raise AssertionError("a checked network has no symbolic arguments")

    def _errors(self) -> int:
        """Errors so far, short of denied warnings: those do not stop the network's whole-network checks."""
        return self.sink.raised

    def bounded(self, t: TensorType, what: str, span: Span, scope: Scope,
                hint: str = "a channel count or an up-sampling factor is far too large") -> bool:
        """Whether ``t`` stays within the size a build and a forward can allocate; reports it where not."""
        if t.numel <= MAX_ELEMENTS:
            return True
        self._error(codes.LIMIT, f"{what} {_shown(t)} has {_size(t.numel)} elements per sample; the limit is "
                    f"{MAX_ELEMENTS:,}", span, hint, scope)
        return False

    def _decisions(self, made: list[tuple[ast.Expr, bool]]) -> tuple[tuple[str, bool], ...]:
        """Each condition's text and outcome, where it came out the same every time (not one that a loop varies)."""
        outcomes: dict[str, set[bool]] = {}
        for condition, outcome in made:
            text = condition.span.text(self.program.sources.get(condition.span.file, ""))
            outcomes.setdefault(text, set()).add(outcome)
        return tuple((text, next(iter(seen))) for text, seen in outcomes.items() if len(seen) == 1)

    def name(self, call: ast.Call, scope: Scope, kind: str) -> str:
        problem = label_problem(call.label) if call.label else None
        if problem:
            self._error(codes.BAD_LABEL, f"`{call.label}` cannot name a step: {problem}", call.label_span,
                        "choose another name", scope)
            return scope.namespace.name(None, kind) or kind
        name = scope.namespace.name(call.label, kind)
        if name is None:
            self._error(codes.DUPLICATE, f"another step is already named `{call.label}`", call.label_span,
                        "step names must be unique within a block; inside `repeat` or `for` a named step gets "
                        "the same name on every pass, so leave it unnamed there", scope)
            return scope.namespace.name(None, kind) or kind
        return name

    def _arguments(self, call: ast.Call, scope: Scope, names: list[str], required: list[bool]
                   ) -> dict[str, Value] | None:
        """Evaluates and binds a call's arguments; None (after reporting) when any is wrong."""
        positional, keywords, ok = [], [], True
        for arg in call.args:
            value = self._eval(arg.value, scope)
            ok = ok and not contains_unknown(value)
            if arg.name is None:
                positional.append(value)
            else:
                keywords.append((arg.name, value))
        bound, errors = bind(call.callee, names, required, positional, keywords)
        for error in errors:
            code = {"unknown": codes.UNKNOWN_PARAMETER, "arity": codes.ARITY, "duplicate": codes.DUPLICATE}[error.kind]
            at_arg = error.index is not None and error.index < len(call.args)
            span = call.args[error.index].span if at_arg else call.span  # type: ignore[index]
            self._error(code, error.message, span, error.hint, scope)
        return bound if ok and not errors else None  # type: ignore[return-value]

    @staticmethod
    def _argument_span(call: ast.Call, name: str, params: tuple[Param, ...]) -> Span:
        return next((arg.span for given, arg in call.by_parameter([p.name for p in params]) if given == name),
                    call.span)

    def _eval(self, expr: ast.Expr, scope: Scope) -> Value:
        try:
            return evaluate(expr, scope.values, scope.block_input)  # type: ignore[arg-type]
        except EvalError as error:
            self.sink.add(self._traced(error.diagnostic, scope))
            return UNKNOWN

    @staticmethod
    def _traced(diagnostic: Diagnostic, scope: Scope) -> Diagnostic:
        return replace(diagnostic, trace=scope.trace)

    def _error(self, code: codes.Code, message: str, span: Span | None, help: str | None = None,
               scope: Scope | None = None) -> None:
        self.sink.add(Diagnostic(code, message, span, help, scope.trace if scope else ()))



def _shown(t: TensorType) -> str:
    return "[" + ", ".join(_size(n) for n in t.shape) + "]"


def _size(n: int) -> str:
    """A size as written, or in scientific notation where it is huge (even beyond a float's range)."""
    if n < 10**7:
        return str(n)
    digits = str(n)
    return f"{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"
