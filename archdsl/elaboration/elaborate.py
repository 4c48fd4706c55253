"""AST to IR: binds parameters, unrolls loops, expands blocks and infers every shape.

Shapes are inferred during expansion because the body of a block depends on its
input (``in.c``). Errors are collected, never raised: after one, the tensor type
becomes unknown (``None``) and later steps are still name- and type-checked but not
shape-checked, so one mistake does not cascade.

The same elaborator writes templates: given symbols (``expr.Sym``) for a definition's
parameters and input, every value it computes from them is an expression, a check it
cannot decide becomes an ``ir.Require``, an ``if`` on them keeps both branches
(``ir.Choice``) and a loop over them stays a loop (``ir.Loop``). That is the IR the
Python back end prints, so a class is right for every argument value. What a template
cannot express it assumes, at the value the network was compiled for, and requires.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from msgspec.structs import replace

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.diagnostics import Diagnostic, Sink, did_you_mean
from archdsl.elaboration import blocks, control, outputs, tensors
from archdsl.elaboration.combine import combine
from archdsl.elaboration.evaluation import evaluate
from archdsl.elaboration.init_statement import init_scheme, states_init
from archdsl.elaboration.least_layers import LeastLayers
from archdsl.elaboration.limits import MAX_BLOCK_DEPTH, MAX_LAYERS, MAX_PARAMS, MAX_REPEAT, oversized
from archdsl.elaboration.naming import Namespace, label_problem, labels_in
from archdsl.elaboration.scope import Abort, Nodes, Scope, Type
from archdsl.front import syntax as ast
from archdsl.front.loader import Program
from archdsl.ir import layout, typed
from archdsl.ir.combinators import COMBINATORS
from archdsl.ir.expr import LOOP, STATE, Sym, is_symbolic, op, substitute
from archdsl.ir.layers import LAYERS, Checks, ShapeError, check_rank
from archdsl.ir.layers.signature import ArgumentError, Param, bind
from archdsl.ir.tensor import Named, TensorType
from archdsl.ir.values import UNKNOWN, EvalError, Value, contains_unknown, is_int, show
from archdsl.span import Span


class Elaborator:
    """Checks and expands one network, or (with a ``reference``) writes the template of a definition.

    ``reference`` gives each symbol the value the network was compiled for: where a
    template cannot stay general, it assumes that value and requires it.
    """

    def __init__(self, program: Program, max_params: int = MAX_PARAMS,
                 reference: Mapping[Sym, Value] | None = None):
        self.program = program
        self.symbolic = reference is not None
        self.sink = program.sink if reference is None else Sink()
        self.max_params = max_params
        self.reference: dict[Sym, Value] = dict(reference or {})
        self.pending: Nodes = []  # guards met while elaborating the current step, placed before it
        self.layer_count = 0
        self.param_count = 0
        self.fresh = 0
        self.forms: dict[Hashable, Any] = {}  # block bodies elaborated once for calls alike (``blocks.Form``)
        self._site: Span | None = None  # the argument being checked, for its guards
        self.ending: ast.Call | None = None  # the network's `output(...)` line
        self.outputs: ir.Outputs | None = None  # what it gives

    # -- entry points ---------------------------------------------------------------

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
            self.error(codes.MISPLACED, f"network `{definition.name}` does not start with `input [C, ...]`",
                        definition.name_span, "begin the body with its input type, e.g. `input [3, 224, 224]`")
            return None
        scheme, rest = init_scheme(self, body[1:])
        if scheme is None:
            return None
        scope = Scope(values, None, Namespace(labels_in(rest), indexed=False), **tensors.of_definition(rest))
        if input_shape and len(input_shape) != len(body[0].dims):
            sizes = {1: "C", 2: "C, L", 3: "C, H, W", 4: "C, D, H, W"}.get(len(body[0].dims), "C, ...")
            self.error(codes.ARGUMENT_TYPE, f"the input given, {list(input_shape)}, has {len(input_shape)} sizes; "
                        f"network `{definition.name}` takes {len(body[0].dims)}", None, f"give {sizes}")
            return None
        t_in = TensorType(input_shape) if input_shape else self._input_type(body[0], scope)
        if t_in is None or not self.bounded(t_in, "the input", body[0].span, scope, "the input is far too large"):
            return None
        scope = replace(scope, block_input=t_in)
        if self._too_many_layers(rest, values):
            return None
        self._ends(rest)
        try:
            scope, kept = tensors.entering(scope, t_in, body[0].span)
            children, t_out = self.sequence(rest, scope, t_in)
        except Abort:
            return None
        if t_out is None or self._errors() > errors_before:
            return None
        steps = (*kept, *children)
        tensors.dead(self, steps, self.outputs, scope)  # the tuple the back ends read: its dead steps found once
        root = ir.Group("network", definition.name, steps, t_in, t_out, definition.span,
                        definition.name, tuple(values.items()))
        return ir.Network(definition.name, definition.span.file, tuple(values.items()), root, scheme, self.outputs)

    def _ends(self, body: tuple[ast.Stmt, ...]) -> None:
        self.ending, self.outputs = outputs.ending(body), None

    def template(self, definition: ast.Definition, values: Mapping[str, Any],
                 block_input: TensorType | None) -> ir.Group | None:
        """The template of a definition over symbolic ``values``; ``block_input`` is a block's input (symbolic).

        A network's input type comes from its `input` line (symbolic where it reads a parameter); a block's tensor
        parameters are given as ``Named`` values.
        """
        plain = {name: value for name, value in values.items() if not isinstance(value, Named)}
        scope = Scope(plain, block_input, Namespace(labels_in(definition.body), indexed=False),
                      **tensors.of_definition(definition.body))
        giving = tensors.given(self, definition, values, None, scope)
        if giving is None:
            return None
        scope, given = giving
        for value in values.values():
            # a block's tuple arguments: a network's arguments are tested first by its class (RuleWriter.typed)
            if isinstance(value, Sym) and isinstance(value.type, tuple) and definition.kind == "block":
                self.require(typed.holds(value, value.type), None, typed.refusal(value), definition.span)
        body = definition.body
        if definition.kind == "network":
            t_in = self._input_type(body[0], scope)  # type: ignore[arg-type]
            scope, body = replace(scope, block_input=t_in), body[1 + states_init(body[1:]):]
        else:
            t_in = block_input
        self._ends(body)
        if t_in is None:
            return None
        scope, kept = tensors.entering(scope, t_in, definition.span)
        children, t_out = self.sequence(body, scope, t_in)
        children = [*kept, *self.take_pending(), *children]
        if t_out is None:
            return None
        return ir.Group(definition.kind, definition.name, tuple(children), t_in, t_out, definition.span,
                        definition.name, tuple(plain.items()), given=given,
                        gives=self.outputs if definition.kind == "block" else None)

    def defaults(self, definition: ast.Definition, values: Mapping[str, Any], block_input: TensorType | None
                 ) -> dict[str, Any]:
        """Each defaulted parameter's default over the symbols of the parameters before it (and of ``in``)."""
        scope = Scope({}, block_input, Namespace())
        found: dict[str, Any] = {}
        for param in definition.params:
            if param.default is not None:
                found[param.name] = self.value(param.default, scope.bind({k: values[k] for k in found} | {
                    p.name: values[p.name] for p in definition.params if p.default is None and not p.tensor}))
        return found

    def _too_many_layers(self, stmts: tuple[ast.Stmt, ...], values: Mapping[str, Value]) -> bool:
        """Refuses at once a network whose text and parameters alone fix more layers than the limit."""
        least = LeastLayers(self.program.blocks, cap=10**15, max_count=MAX_REPEAT, max_depth=MAX_BLOCK_DEPTH)
        if least.of(stmts, values) <= MAX_LAYERS:
            return False
        worst = max(stmts, key=lambda stmt: least.of((stmt,), values))
        count = least.of((worst,), values)
        self.error(codes.LIMIT, f"this makes at least {count} layers; a network may have {MAX_LAYERS}", worst.span,
                   "a block calling a block twice doubles the count with each level; repeats multiply it")
        return True

    def _network_args(self, definition: ast.Definition, overrides: Mapping[str, Value]) -> dict[str, Value] | None:
        names = [p.name for p in definition.params]
        ok = True
        for name in overrides:
            if name not in names:
                hint = did_you_mean(name, names) or (f"its parameters are {', '.join(names)}" if names else None)
                self.error(codes.UNKNOWN_PARAMETER, f"network `{definition.name}` has no parameter `{name}`",
                            None, hint)
                ok = False
        values: dict[str, Value] = {}
        for param in definition.params:
            if param.name in overrides:
                values[param.name] = overrides[param.name]
            elif param.default is None:
                self.error(codes.ARITY, f"network `{definition.name}` needs a value for `{param.name}`",
                            param.span, f"give one with --set {param.name}=VALUE")
                ok = False
            else:
                value = self.value(param.default, Scope(values, None, Namespace()))
                ok = ok and value is not UNKNOWN
                values[param.name] = value
        return values if ok else None

    def _input_type(self, stmt: ast.Input, scope: Scope) -> TensorType | None:
        dims = [self.value(d, scope) for d in stmt.dims]
        if any(d is UNKNOWN for d in dims):
            return None
        for dim in dims:
            if is_symbolic(dim):
                self.require(op("and", op("is_int", dim), dim >= 1), None,
                             ("input sizes must be positive integers, got ", dim), stmt.span)
        if not 1 <= len(dims) <= 4 or not all(is_symbolic(d) or (is_int(d) and d >= 1) for d in dims):
            self.error(codes.ARGUMENT_TYPE, f"input must be 1 to 4 positive integers [C, *spatial], got "
                        f"{show(tuple(dims))}", stmt.span, "for example `input [3, 224, 224]`")
            return None
        return TensorType(tuple(dims))

    # -- statements -------------------------------------------------------------------

    def sequence(self, stmts: tuple[ast.Stmt, ...], scope: Scope, t: Type) -> tuple[Nodes, Type]:
        nodes, t, _ = self.steps(stmts, scope, t)
        return nodes, t

    def steps(self, stmts: tuple[ast.Stmt, ...], scope: Scope, t: Type) -> tuple[Nodes, Type, Scope]:
        """``stmts`` elaborated from ``scope``, and the scope after them: the labels they made."""
        outer, self.pending = self.pending, []  # guards of the step this sequence is part of stay with it
        nodes: Nodes = []
        for position, stmt in enumerate(stmts):
            if isinstance(stmt, ast.Input):
                self.error(codes.MISPLACED, "`input` may only be the first line of a network", stmt.span)
                continue
            if isinstance(stmt, ast.If):
                made, t = control.if_(self, stmt, stmt.arms, scope, t)
            elif isinstance(stmt, ast.For):
                made, t, scope = control.for_(self, stmt, scope, t)
            elif stmt.callee == "repeat" and stmt.body is not None and stmt.label is None:
                made, t, scope = control.repeat(self, stmt, scope, t)
            elif stmt.callee == "output":
                made, t = [], outputs.statement(self, stmt, scope)
            else:
                made, t = self.call(stmt, scope, t)
                made, parts = tensors.unpacked(self, stmt, made, scope)
                if stmt.label is not None:
                    key = scope.key(stmt)
                    scope.namespace.made_in_pass(stmt.label, t)
                    scope = scope.labelled(stmt.label, t, parts, key)
                    if stmt.label not in scope.read:
                        if position < len(stmts) - 1:
                            tensors.unread(self, stmt, made, scope)
                    elif t is not None and not parts:
                        made = [*made, ir.Keep(key, t, t, stmt.label_span or stmt.span)]
            nodes.extend([*self.take_pending(), *made])
        self.pending = outer + self.pending
        return layout.marked(nodes), t, scope

    def trial(self, attempt: Any) -> Any:
        """``attempt()``, or None where it met an error (the unrolled form is used instead)."""
        errors, pending = self._errors(), list(self.pending)
        result = attempt()
        if self._errors() > errors:
            self.pending = pending
            return None
        return result


    # -- symbols, assumptions and guards ------------------------------------------------

    def assume(self, value: Any, span: Span | None) -> Any:
        """The compiled value of a symbolic ``value``, required to hold when the class is built."""
        known = substitute(value, self.reference)
        if is_symbolic(known):
            raise Abort  # nothing to assume it by: the template cannot be written
        if isinstance(known, bool):
            holds = value if known else op("not", value)
            self.require(holds, None, ("this class is written for ", ir.Quoted(value), f" being {str(known).lower()}"),
                         span)
        else:
            self.require(op("==", value, known), None,
                         ("this class is written for ", ir.Quoted(value), f" == {known!r}, not ", value), span)
        return known

    def require(self, holds: Any, code: codes.Code | None, message: tuple[Any, ...], span: Span | None) -> None:
        """A guard the class tests where the template cannot decide it now."""
        if is_symbolic(holds):
            self.pending.append(ir.Require(holds, code, message, TensorType(()), TensorType(()), span))

    def _guarding(self, holds: Any, message: tuple[Any, ...]) -> None:
        self.require(holds, codes.ARGUMENT_TYPE, message, self._site)

    def take_pending(self) -> Nodes:
        taken, self.pending = self.pending, []
        return taken

    def symbol(self, role: str, kind: Any, reference: Any = UNKNOWN) -> Sym:
        """A new symbol for a loop's index, item or state; ``reference``: its value in the compiled network."""
        self.fresh += 1
        sym = Sym(f"{role}{self.fresh}", STATE if role == "state" else LOOP, kind)
        if reference is not UNKNOWN and not is_symbolic(reference):
            self.reference[sym] = reference
        return sym

    # -- calls ------------------------------------------------------------------------

    def call(self, call: ast.Call, scope: Scope, t: Type) -> tuple[Nodes, Type]:
        if call.callee == "init" and call.label is None and call.body is None:
            self.error(codes.MISPLACED, "`init(...)` says how a network's weights start: it comes right after the "
                        "network's `input` line", call.span, scope=scope)
            return [], None
        if call.callee in COMBINATORS:
            return combine(self, call, scope, t)
        if call.callee == "split":
            return tensors.split(self, call, scope, t)
        if call.callee == "train" and call.callee not in self.program.blocks:
            self.error(codes.MISPLACED, "`train(@x)` marks a training-only output: it stands inside `output(...)`",
                       call.callee_span, "give it a name there: `output(logits=@x, aux=train(@aux))`", scope)
            return [], None
        if call.callee not in LAYERS and call.callee not in self.program.blocks:
            if call.body is not None:  # only combinators take a body
                what = "combinator"
                hint = did_you_mean(call.callee, COMBINATORS) or "the combinators are " + ", ".join(
                    name for name in COMBINATORS if name not in ("branch", "shortcut"))
            else:
                what = "layer or block"
                hint = did_you_mean(call.callee, [*LAYERS, *self.program.blocks, *COMBINATORS]) or ""
            self.error(codes.UNKNOWN_CALLEE, f"unknown {what} `{call.callee}`", call.callee_span, hint or None,
                        scope)
            return [], None
        if call.body is not None:
            self.error(codes.MISPLACED, f"`{call.callee}` takes no `{{ }}` body", call.span, scope=scope)
            return [], None
        if call.callee in LAYERS:
            layer, t_out = self.layer(call, scope, t)
            return ([layer] if layer else []), t_out
        group, t_out = self.block(call, scope, t)
        return ([group] if group else []), t_out

    def layer(self, call: ast.Call, scope: Scope, t: Type) -> tuple[ir.Layer | None, Type]:
        kind = LAYERS[call.callee]
        values = self.arguments(call, scope, [p.name for p in kind.params], [p.default_shown for p in kind.params])
        if values is not None and t is None:  # after an earlier error: still report arguments of the wrong type
            self._checked_arguments(call.callee, values, None, call, scope)
        if values is None or t is None:
            return None, None
        return self.primitive(call.callee, values, t, call, scope)

    def _checked_arguments(self, kind_name: str, values: Mapping[str, Any], rank: int | None, call: ast.Call,
                           scope: Scope) -> dict[str, Any] | None:
        """Each argument in the form its layer wants, or None after reporting the first of the wrong type.

        With the input's ``rank`` unknown (after an earlier error) only the arguments' types are checked.
        """
        kind = LAYERS[kind_name]
        args: dict[str, Any] = {}
        spans = self._argument_spans(call, kind.params)
        for param in kind.params:
            value = values.get(param.name, param.default)
            self._site = spans.get(param.name, call.span)
            try:
                args[param.name] = value if value is None else self._check_argument(param, value, rank, kind_name)
            except ArgumentError as error:
                self.error(codes.ARGUMENT_TYPE, f"{kind_name} `{param.name}` {error.message}", self._site,
                            scope=scope)
                return None
        return args

    def _check_argument(self, param: Param, value: Any, rank: int | None, kind_name: str) -> Any:
        """An argument in the form its layer wants; in a template, one whose type cannot be told is assumed."""

        def guarding(holds: Any, words: tuple[Any, ...]) -> None:
            self._guarding(holds, (f"{kind_name} `{param.name}` ", *words))

        try:
            return param.check(value, rank, guarding)
        except ArgumentError:
            if not is_symbolic(value):
                raise
            return param.check(self.assume(value, self._site), rank, guarding)

    def primitive(self, kind_name: str, values: Mapping[str, Any], t: TensorType, call: ast.Call, scope: Scope,
                  name: str | None = None, generated: bool = False) -> tuple[ir.Layer | None, Type]:
        """Checks and infers one layer from evaluated arguments; a ``generated`` layer was not written as such."""
        kind = LAYERS[kind_name]
        try:
            check_rank(kind, t)
        except ShapeError as error:
            self.error(error.code, error.message, call.span, error.help, scope)
            if error.code is not codes.NOT_FLAT:
                return None, None
            _, as_if_flat = self.primitive(kind_name, values, TensorType((t.numel,)), call, scope, name, generated)
            return None, as_if_flat  # as if flattened first, so later steps are still checked
        args = self._checked_arguments(kind_name, values, t.rank, call, scope)
        if args is None:
            return None, None
        checks = Checks()
        try:
            inferred = kind.shape(args, t, checks)
        except ShapeError as error:
            self.error(error.code, error.message, call.span, error.help, scope)
            return None, error.recovered
        for guard in checks.guards:
            self.require(guard.holds, guard.code, guard.message.parts, call.span)
        for warning in () if generated else inferred.warnings:
            self.sink.add(Diagnostic(warning.code, warning.message, call.span, warning.help, scope.trace))
        if not self.bounded(inferred.output, f"{kind_name} output", call.span, scope):
            return None, None
        self._count(inferred.params, call, scope)
        node = ir.Layer(kind_name, name or self.name(call, scope, kind_name), tuple(args.items()), t, inferred.output,
                        inferred.params, inferred.buffers, call.span)
        return node, inferred.output

    def _count(self, params: Any, call: ast.Call, scope: Scope) -> None:
        if self.symbolic:
            return
        self.layer_count += 1
        self.param_count += params
        if self.layer_count > MAX_LAYERS:
            self.error(codes.LIMIT, f"the network has more than {MAX_LAYERS} layers", call.span, scope=scope)
            raise Abort
        if self.param_count > self.max_params:
            self.error(codes.LIMIT, f"the network has more than {self.max_params:,} parameters here", call.span,
                        "raise the limit with --max-params N (max_params= in Python) if this is meant", scope)
            raise Abort

    def block(self, call: ast.Call, scope: Scope, t: Type) -> tuple[ir.Group | None, Type]:
        return blocks.instance(self, self.program.blocks[call.callee], call, scope, t)

    # -- helpers ----------------------------------------------------------------------

    def _errors(self) -> int:
        """Errors so far, short of denied warnings: those do not stop the network's whole-network checks."""
        return self.sink.raised

    def bounded(self, t: TensorType, what: str, span: Span, scope: Scope,
                hint: str = "a channel count or an up-sampling factor is far too large") -> bool:
        """Whether ``t`` stays within the size a build and a forward can allocate; reports it where not."""
        problem = oversized(t, what, span, hint, scope.trace)
        if problem is not None:
            self.sink.add(problem)
        return problem is None

    def name(self, call: ast.Call, scope: Scope, kind: str) -> Any:
        problem = label_problem(call.label) if call.label else None
        if problem:
            self.error(codes.BAD_LABEL, f"`{call.label}` cannot name a step: {problem}", call.label_span,
                        "choose another name", scope)
            return scope.namespace.name(None, kind) or kind
        name = scope.namespace.name(call.label, kind)
        if name is None:
            self.error(codes.DUPLICATE, f"another step is already named `{call.label}`", call.label_span,
                        "step names must be unique within a block; inside `repeat` or `for` a label names one "
                        "module per pass (`m.0`, `m.1`), so it cannot also name a module outside (a tensor carried "
                        "into a loop is labelled before it on a step that makes none: `x: from(@y)`)", scope)
            return scope.namespace.name(None, kind) or kind
        return name

    def arguments(self, call: ast.Call, scope: Scope, names: list[str], defaults: Sequence[str | None]
                   ) -> dict[str, Any] | None:
        """Evaluates and binds a call's arguments; None (after reporting) when any is wrong."""
        positional, keywords, ok = [], [], True
        for arg in call.args:
            if arg.quoted:
                self.error(codes.UNKNOWN_PARAMETER, f"`{call.callee}` takes no quoted name `\"{arg.name}\"`", arg.span,
                           "write a parameter's name bare (`out=64`); only `output(...)` names outputs with strings",
                           scope)
                ok = False
            value = self.value(arg.value, scope)
            ok = ok and not contains_unknown(value)
            if arg.name is None:
                positional.append(value)
            else:
                keywords.append((arg.name, value))
        bound, errors = bind(call.callee, names, defaults, positional, keywords)
        for error in errors:
            code = {"unknown": codes.UNKNOWN_PARAMETER, "arity": codes.ARITY, "duplicate": codes.DUPLICATE}[error.kind]
            at_arg = error.index is not None and error.index < len(call.args)
            span = call.args[error.index].span if at_arg else call.span  # type: ignore[index]
            self.error(code, error.message, span, error.hint, scope)
        return bound if ok and not errors else None

    @staticmethod
    def _argument_spans(call: ast.Call, params: tuple[Param, ...]) -> dict[str, Span]:
        """Where each parameter's argument is written (the first, where one is given twice)."""
        spans: dict[str, Span] = {}
        for name, arg in call.by_parameter([p.name for p in params]):
            spans.setdefault(name, arg.span)
        return spans

    def value(self, expr: ast.Expr, scope: Scope) -> Any:
        try:
            return evaluate(expr, scope.values, scope.block_input,  # type: ignore[arg-type]
                            lambda holds, message, span: self.require(holds, codes.BAD_VALUE, message, span),
                            lambda name, span: tensors.read(name, span, scope, bool(scope.stack)))
        except EvalError as error:
            self.sink.add(self._traced(error.diagnostic, scope))
            return UNKNOWN

    @staticmethod
    def _traced(diagnostic: Diagnostic, scope: Scope) -> Diagnostic:
        return replace(diagnostic, trace=scope.trace)

    def error(self, code: codes.Code, message: str, span: Span | None, help: str | None = None,
               scope: Scope | None = None) -> None:
        self.sink.add(Diagnostic(code, message, span, help, scope.trace if scope else ()))
