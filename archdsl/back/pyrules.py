"""The rules a network class tests before it builds anything, in its own terms (mixed into ``ClassWriter``).

The network tests every rule the checker could not decide for every argument value, under
the conditions and in the loops that hold it; a rule is written once, outside every loop
that runs and whose variables it does not read; a rule that reads no parameter held when
the checker checked it and is left out. Every class follows the loops inside the modules it
builds whose results it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.back.codewriter import CodeWriter
from archdsl.back.pyforms import bound, conditional, indented, unnamed
from archdsl.back.pysource import Shown, call_line, formatted
from archdsl.ir import typed
from archdsl.ir.expr import Op, Sym, is_symbolic, nonzero_divisor, symbols, walk
from archdsl.ir.tensor import TensorType

_NONE = TensorType(())  # a rule has no tensor


class RuleWriter:
    """Writes a class's tests of the checker's rules; ``ClassWriter`` gives it names and expressions."""

    kind: str
    helpers: set[str]  # the helper functions the file must define
    read: set[Any]
    mentioned: set[Any]
    hoists: list[tuple[CodeWriter, set[Any], set[Any]]]
    guarded: int
    conditions: list[Any]  # the conditions of the choices around the rules being written
    params_of: Callable[[Collection[Any]], set[Sym]]

    def name_of(self, sym: Sym) -> str:
        raise NotImplementedError

    def py(self, value: Any) -> str:
        raise NotImplementedError

    _loop: Callable[[ir.Loop, set[Any], list[str], CodeWriter], None]  # a loop in ``__init__`` (``LoopWriter``)

    def _require(self, out: CodeWriter, check: ir.Require) -> None:
        if check.holds is True:  # decided once values replaced symbols
            return
        self.helpers.add("require")
        reads = symbols(check.holds).union(*(symbols(condition) for condition in self.conditions))
        params = sorted(self.params_of(reads), key=lambda s: s.name)  # named with the conditions around it
        if not params and self.kind == "network" and not self.guarded:  # true for every argument: checked so
            return
        parts: list[Any] = []
        for number, param in enumerate(params):
            parts += [", " if number else "", f"{self.name_of(param)}=", Shown(self.py(param), "!r")]
        parts += [": " if params else ""]
        cut = len(parts)  # a long message goes on two lines: the arguments, then the rule
        for part in check.message:
            if isinstance(part, ir.Quoted):
                parts.append(f"`{self.py(part.value)}`")
            elif is_symbolic(part):
                parts.append(Shown(self.py(part)))
            else:
                parts.append(str(part))
        call_line(out, "require(", [self.py(check.holds), formatted(parts, [cut] if params else [])], ")")

    # -- steps --------------------------------------------------------------------


    def checks(self, nodes: Sequence[ir.Node], out: CodeWriter, seen: set[Any], own: bool = True) -> None:
        """What the class computes before it builds anything: the network tests the rules the checker could not
        decide for every argument value, in its terms, under the conditions and in the loops that hold them; and
        every class follows the loops inside the modules it builds whose results it reads (a block's channels).

        ``seen``: the rules already tested on the way here; each is written once. ``own``: the nodes are built
        by this class, not inside a sub-module. A sequence's rules come after its loops, whose state they read.
        """
        for node in sorted(nodes, key=lambda node: isinstance(node, ir.Require)):
            if isinstance(node, ir.Require):
                if self.kind == "network":
                    self._checked(node, out, seen)
            elif isinstance(node, ir.Choice):
                hoists, self.hoists = self.hoists, []  # a rule under a condition stays under it
                self.guarded += 1
                self._checked_choice(node, out, seen, own)
                self.guarded -= 1
                self.hoists = hoists
            elif isinstance(node, ir.Loop):
                inner = CodeWriter()
                self._loop_checks(node, node.body, out, inner, seen, own)
                results = {after for _, after in node.results}
                if inner.lines or results & self.mentioned or (not own and results & self.read):
                    self._loop(node, unnamed(node, self.read), inner.lines, out)
            elif isinstance(node, ir.Dense) and node.index is not None:
                inner = CodeWriter()
                self._loop_checks(node, node.layers, out, inner, seen, own)
                if inner.lines:
                    out.line(f"for {self.name_of(node.index)} in range({self.py(node.count)}):")
                    indented(out, inner.lines)
            else:
                inside = own and not isinstance(node, ir.Group)
                self.checks([child for path in ir.paths(node) for child in path], out, seen, inside)

    def typed(self, parameters: Sequence[Sym], out: CodeWriter) -> None:
        """A network class is written for arguments of the types it was compiled with (a tuple of the length and
        item types compiled, a list taken for a tuple): ``width=16.0`` or ``flag=1`` is refused first, in the
        checker's words, not failed inside torch or taken for ``true``. A block's arguments come from the class
        that builds it."""
        if self.kind != "network":
            return
        for param in parameters:
            if isinstance(param.type, tuple):  # a list is a tuple, as in a spec and in ``archdsl.build``
                self.helpers.add("tupled")
                out.line(f"{self.name_of(param)} = tupled({self.name_of(param)})")
            test = typed.holds(param, param.type)
            if test is not None:
                self._require(out, ir.Require(test, None, typed.refusal(param), _NONE, _NONE, None))

    def _checked(self, node: ir.Require, out: CodeWriter, seen: set[Any]) -> None:
        """Tests the rule once, outside every loop that runs and whose variables it does not read."""
        reads = symbols(node.holds) | {s for part in node.message for s in symbols(getattr(part, "value", part))}
        for writer, outer_seen, binds in reversed(self.hoists):
            if reads & binds:
                break
            out, seen = writer, outer_seen
        if node.holds not in seen:
            for guard in _divisions(node):  # a divisor is tested before the rule that divides by it
                self._checked(guard, out, seen)
            seen.add(node.holds)
            self._require(out, node)

    def _loop_checks(self, node: ir.Loop | ir.Dense, body: Sequence[ir.Node], out: CodeWriter, inner: CodeWriter,
                     seen: set[Any], own: bool) -> None:
        runs = not is_symbolic(node.items if isinstance(node, ir.Loop) else node.count) and (
            len(node.items) > 0 if isinstance(node, ir.Loop) else node.count > 0)
        hoists = self.hoists
        # a rule in a loop that may not run is tested only in it; else outside, unless it reads the loop's symbols
        self.hoists = [*hoists, (out, seen, bound(node))] if runs else []
        guarded = bool(self.params_of(symbols(node.items if isinstance(node, ir.Loop) else node.count)))
        self.guarded += guarded
        self.checks(body, inner, set(seen), own)
        self.hoists = hoists
        self.guarded -= guarded

    def _checked_choice(self, node: ir.Choice, out: CodeWriter, seen: set[Any], own: bool) -> None:
        then, otherwise = CodeWriter(), CodeWriter()
        self.conditions.append(node.condition)
        self.checks(node.then, then, set(seen), own)
        self.checks(node.otherwise, otherwise, set(seen), own)
        self.conditions.pop()
        if then.lines or otherwise.lines:
            conditional(out, self.py(node.condition), then.lines, otherwise.lines)


def _divisions(rule: ir.Require) -> list[ir.Require]:
    """The rule that each symbolic divisor in ``rule`` is not zero, in the checker's words."""
    found = []
    for value in (rule.holds, *rule.message):
        for part in walk(getattr(value, "value", value)):
            if isinstance(part, Op) and part.name in ("/", "//", "%") and is_symbolic(part.args[1]):
                holds, message = nonzero_divisor(part.args[0], part.name, part.args[1])
                found.append(ir.Require(holds, codes.BAD_VALUE, message, rule.input, rule.output, rule.span))
    return found
