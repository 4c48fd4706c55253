"""The Python back end: one self-contained, readable ``.py`` file per network.

The file imports only torch. It holds one class per block (see ``pyclasses``), the
few runtime modules PyTorch lacks (copied from ``archdsl/runtime.py``), and the
network class, which initialises its weights as the in-memory build does, so both
back ends give the same module for the same seed.
"""

from __future__ import annotations

import ast as pyast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from archdsl import __version__, ir
from archdsl import syntax as ast
from archdsl.codewriter import CodeWriter
from archdsl.layers import RUNTIME_CLASSES
from archdsl.pyclasses import ClassBuilder, Param, PyClass, Ref, ShapeRef
from archdsl.values import Value

MAX_LINE = 110
_AXIS_LETTERS = {1: "L", 2: "HW", 3: "DHW"}
# Constructor arguments equal to PyTorch's defaults are left out, as people write them.
_DEFAULTS: tuple[tuple[str, dict[str, str]], ...] = (
    (r"nn\.Conv(Transpose)?\dd", {"stride": "1", "padding": "0", "dilation": "1", "groups": "1", "bias": "True",
                                  "output_padding": "0"}),
    (r"nn\.BatchNorm\dd", {"eps": "1e-05", "momentum": "0.1", "affine": "True", "track_running_stats": "True"}),
    (r"nn\.InstanceNorm\dd", {"eps": "1e-05", "momentum": "0.1", "affine": "False",
                              "track_running_stats": "False"}),
    (r"nn\.MaxPool\dd", {"padding": "0", "dilation": "1", "ceil_mode": "False"}),
    (r"nn\.AvgPool\dd", {"padding": "0", "ceil_mode": "False", "count_include_pad": "True"}),
    (r"nn\.(GroupNorm|LayerNorm)", {"eps": "1e-05", "affine": "True", "elementwise_affine": "True"}),
    (r"nn\.Linear", {"bias": "True"}),
    (r"nn\.GELU", {"approximate": "'none'"}),
    (r"nn\.\w+", {"inplace": "False"}),
    (r"ChannelLayerNorm", {"eps": "1e-06", "affine": "True"}),
    (r"LayerScale", {"rank": "2"}),
)


def _constant(text: str) -> object:
    """The value of a literal (never of anything else), or None."""
    try:
        return pyast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None


def _is_default(cls: str, name: str, text: str) -> bool:
    return any(re.fullmatch(pattern, cls) and defaults.get(name) == text for pattern, defaults in _DEFAULTS)


@dataclass(frozen=True)
class Call:
    """A constructor call inside another's arguments, kept whole so a long one can be wrapped in turn."""

    head: str
    parts: Sequence[Part]


Part = str | Call


def _flat(part: Part) -> str:
    return f"{part.head}({', '.join(_flat(p) for p in part.parts)})" if isinstance(part, Call) else part


def _parameter(param: Param) -> str:
    """``name: type = default`` as PEP 8 spaces it; a computed default is None until ``__init__`` sets it."""
    annotation = param.annotation
    if annotation is not None and param.computed is not None:
        annotation += " | None"
    if annotation is None:
        return param.name if param.default is None else f"{param.name}={param.default}"
    return f"{param.name}: {annotation}" + ("" if param.default is None else f" = {param.default}")


def _runtime_source(names: set[str]) -> list[str]:
    """The source of the runtime classes in ``names`` and of ``init_weights``, read without importing torch."""
    text = resources.files("archdsl").joinpath("runtime.py").read_text(encoding="utf-8")
    tree = pyast.parse(text)
    wanted = names | {"init_weights"}
    return [pyast.get_source_segment(text, node) or "" for node in tree.body
            if isinstance(node, (pyast.ClassDef, pyast.FunctionDef)) and node.name in wanted]


class _ClassWriter:
    def __init__(self, out: CodeWriter, cls: PyClass, is_network: bool):
        self.out = out
        self.cls = cls
        self.is_network = is_network
        self.temporaries: dict[str, int] = {}
        self.projections: dict[str, bool] = {}  # projections present (or absent) in every instance

    def text(self, ref: Ref) -> str:
        return self.cls.texts[ref.index]

    def comment(self, ref: ShapeRef, channels: str | None = None) -> str:
        """The output shape, in terms of the input's H and W where instances differ.

        ``channels`` is the text for a channel count that differs between instances and no
        expression of the class gives (a concat's sum of its branches).
        """
        shapes = self.cls.shapes[ref.index]
        dims = []
        for axis, values in enumerate(zip(*shapes, strict=True)):
            if axis == 0:
                dims.append(self._channels(list(values)) or channels or "C")
            elif len(set(values)) == 1:
                dims.append(str(values[0]))
            else:
                dims.append(self._spatial(axis, list(values)))
        return "  # [" + ", ".join(dims) + "]"

    def _channels(self, values: list[int]) -> str | None:
        """A channel count of every instance: the number where they agree, else an expression of the class."""
        return str(values[0]) if len(set(values)) == 1 else self.cls.expression_for(values)

    def _channel_sum(self, branches: tuple[tuple[Any, ...], ...]) -> str | None:
        """A concat's channels as the sum of its branches' (``c1 + c3 + c5 + pool_proj``), where each has a text."""
        texts = []
        for plan in branches:
            text = self._channels([shape[0] for shape in (self.cls.shapes[plan[-1][-1].index] if plan
                                                          else self.cls.inputs)])
            if text is None:
                return None
            texts.append(f"({text})" if " if " in text else text)  # the one form that binds looser than +
        return " + ".join(texts)

    def _spatial(self, axis: int, values: list[int]) -> str:
        letter = _AXIS_LETTERS.get(len(self.cls.inputs[0]) - 1, "LHW")[axis - 1]
        inputs = [shape[axis] for shape in self.cls.inputs]
        if values == inputs:
            return letter
        ratios = [i // v if v and -(-i // (i // v or 1)) == v else 0 for i, v in zip(inputs, values, strict=True)]
        if 0 not in ratios:
            if len(set(ratios)) == 1:
                return f"{letter}/{ratios[0]}"
            text = self.cls.expression_for(list(ratios))
            if text is not None:
                return f"{letter}/{text}"
        return "?"

    def write(self) -> None:
        out, cls = self.out, self.cls
        out.line(f"class {cls.name}(nn.Module):")
        with out.indent():
            out.docstring(cls.doc)
            out.blank()
            params = (["in_channels: int"] if cls.takes_channels else []) + [
                _parameter(p) for p in cls.params if not p.keyword_only]
            lifted = [_parameter(p) for p in cls.params if p.keyword_only]
            params += ["*", *lifted] if lifted else []
            self.call_line("def __init__(", ["self", *params], ") -> None:")
            with out.indent():
                out.line("super().__init__()")
                for param in cls.params:
                    if param.computed is not None:
                        out.line(f"if {param.name} is None:")
                        with out.indent():
                            out.line(f"{param.name} = {param.computed}")
                init, plan, _ = cls.skeleton
                for item in init:
                    self.init_item(item)
                if self.is_network:
                    out.line("init_weights(self)")
            out.blank()
            out.line("def forward(self, x: torch.Tensor) -> torch.Tensor:")
            with out.indent():
                result = self.path(plan, "x", "x")
                out.line(f"return {result}")

    def call_line(self, head: str, parts: Sequence[Part], tail: str) -> None:
        """``head`` + the parts + ``tail`` on one line where it fits, else one part a line, nested calls alike."""
        single = head + ", ".join(_flat(part) for part in parts) + tail
        if len(self.out.unit * self.out.level + single) <= MAX_LINE:
            self.out.line(single)
            return
        self.out.line(head)
        with self.out.indent():
            for part in parts:
                if isinstance(part, Call):
                    self.call_line(f"{part.head}(", part.parts, "),")
                else:
                    self.out.line(part + ",")
        self.out.line(tail.lstrip(", "))

    def init_item(self, item: tuple[Any, ...]) -> None:
        if item[0] == "attr":
            self.call_assign(f"self.{item[1]}", item[2])
            return
        if item[0] == "dense_loop":
            self.dense_loop(*item[1:])
            return
        _, attr, rank, channels_in, channels_out, stride = item
        d = max(1, rank)
        make = ("seq", (("ctor", f"nn.Conv{d}d", (channels_in, channels_out, 1), (("stride", stride), ("bias", False))),
                        ("ctor", f"nn.BatchNorm{d}d", (channels_out,), ())))
        stride_text, in_text, out_text = self.text(stride), self.text(channels_in), self.text(channels_out)
        fixed_stride, fixed_in, fixed_out = (_constant(t) for t in (stride_text, in_text, out_text))
        channels_differ = fixed_in is not None and fixed_out is not None and fixed_in != fixed_out
        always = fixed_stride not in (None, 1) or channels_differ
        never = fixed_stride == 1 and in_text == out_text
        if always or never:  # the same in every instance: decide here
            self.projections[attr] = always
            if always:
                self.call_assign(f"self.{attr}", make)
            return
        conditions = [] if fixed_stride == 1 else [f"{stride_text} != 1"]
        if in_text != out_text:
            conditions.append(f"{in_text} != {out_text}")
        self.out.line(f"self.{attr} = None")
        self.out.line(f"if {' or '.join(conditions)}:")
        with self.out.indent():
            self.call_assign(f"self.{attr}", make)

    def dense_loop(self, prefix: str, make: Any, count: Ref, growth: Ref) -> None:
        taken = {p.name for p in self.cls.params}
        index = next(name for name in ("i", "index", "layer_index") if name not in taken)
        layer = next(name for name in ("layer", "dense_layer", "new_layer") if name not in taken)
        step = self.text(growth)
        step = step if step.isidentifier() or step.isdigit() else f"({step})"
        _, cls_name, channels, args = make
        self.out.line(f"for {index} in range({self.text(count)}):")
        with self.out.indent():
            parts = [f"{self.text(channels)} + {index} * {step}", *(f"{k}={self.text(v)}" for k, v in args)]
            self.call_line(f"{layer} = {cls_name}(", parts, ")")
            self.out.line(f'self.add_module(f"{prefix}{{{index} + 1}}", {layer})')

    def call_assign(self, target: str, make: Any) -> None:
        head, parts = self.make_parts(make)
        self.call_line(f"{target} = {head}(", parts, ")")

    def make_parts(self, make: Any) -> tuple[str, Sequence[Part]]:
        if make[0] == "ctor":
            _, cls, args, kwargs = make
            parts = [self.value(a) for a in args]
            parts += [f"{k}={self.value(v)}" for k, v in kwargs if not _is_default(cls, k, self.value(v))]
            return cls, parts
        if make[0] == "seq":
            return "nn.Sequential", [Call(*self.make_parts(m)) for m in make[1]]
        _, name, channels, args = make
        parts = [] if channels is None else [self.text(channels)]
        return name, parts + [f"{k}={self.text(v)}" for k, v in args]

    def value(self, value: Any) -> str:
        return self.text(value) if isinstance(value, Ref) else repr(value)

    def temporary(self, base: str) -> str:
        self.temporaries[base] = self.temporaries.get(base, 0) + 1
        count = self.temporaries[base]
        return base if count == 1 else f"{base}{count}"

    def path(self, plan: tuple[Any, ...], source: str, target: str) -> str:
        """Writes the steps of ``plan`` reading ``source``; returns the variable holding the result."""
        current = source
        for step in plan:
            self.step(step, current, target)
            current = target
        if current != target:
            return current
        return target

    def step(self, step: tuple[Any, ...], source: str, target: str) -> None:
        out, op = self.out, step[0]
        if op == "call":
            out.line(f"{target} = self.{step[1]}({source}){self.comment(step[2])}")
        elif op in ("residual", "residual_projected"):
            identity = self.temporary("identity")
            out.line(f"{identity} = {source}")
            body = self.path(step[1], identity, target)
            if op == "residual_projected":
                fixed = self.projections.get(step[2])
                if fixed is None:
                    out.line(f"if self.{step[2]} is not None:")
                    with out.indent():
                        out.line(f"{identity} = self.{step[2]}({identity})")
                shortcut = f"self.{step[2]}({identity})" if fixed else identity
            else:
                shortcut = identity if step[2] is None else self.path(step[2], identity, self.temporary("shortcut"))
            joined = f"{body} += {shortcut}" if step[3] and body == target else f"{target} = {body} + {shortcut}"
            out.line(f"{joined}{self.comment(step[-1])}")
        elif op in ("concat", "add"):
            outputs = [self.path(p, source, self.temporary("branch")) for p in step[1]]
            joined = f"torch.cat([{', '.join(outputs)}], dim=1)" if op == "concat" else " + ".join(outputs)
            total = self._channel_sum(step[1]) if op == "concat" else None
            out.line(f"{target} = {joined}{self.comment(step[-1], total)}")
        elif op == "gate":
            weights = self.path(step[1], source, self.temporary("weights"))
            out.line(f"{target} = {source} * {weights}{self.comment(step[-1])}")
        elif op == "dense":
            features = self.temporary("features")
            out.line(f"{features} = [{source}]")
            if step[1] is None:  # the module holds nothing but the dense layers
                out.line("for layer in self.children():")
            elif len(step[1]) == 1:
                out.line(f"for layer in (self.{step[1][0]},):")
            else:
                self.call_line("for layer in (", [f"self.{name}" for name in step[1]], "):")
            with out.indent():
                out.line(f"{features}.append(layer(torch.cat({features}, dim=1)))")
            out.line(f"{target} = torch.cat({features}, dim=1){self.comment(step[-1])}")


def python_source(network: ir.Network, params: list[ast.Param], blocks: dict[str, ast.Definition],
                  spec_name: str, *, given: Mapping[str, Value] | None = None,
                  fixed: Mapping[str, Value] | None = None) -> str:
    """The emitted file's text: deterministic for the same network.

    ``given``: the network arguments set by the user; ``fixed``: the network parameters written out as values.
    """
    classes = ClassBuilder(network, params, blocks, given=given, fixed=fixed).build()
    runtime = sorted({m for c in classes for m in RUNTIME_CLASSES if m in repr(c.skeleton)})
    texts = [t for c in classes for t in [*c.texts, *(p.computed or p.default or "" for p in c.params)]]
    runtime += sorted({f for f in ("half",) if any(f"{f}(" in text for text in texts)})
    out = CodeWriter()
    out.docstring(f"`{network.name}`, {network.input} -> {network.output}: generated by archdsl {__version__} "
                  f"from {spec_name}.\n\nEdit the spec rather than this file; `archdsl compile` writes it again.")
    out.blank()
    out.line("from __future__ import annotations")
    out.blank()
    out.line("import torch")
    if "ChannelLayerNorm" in runtime:
        out.line("import torch.nn.functional as F")
    out.line("from torch import nn")
    for source in _runtime_source(set(runtime)):
        out.blank(2)
        for line in source.splitlines():
            out.line(line)
    for cls in classes:
        out.blank(2)
        _ClassWriter(out, cls, cls is classes[-1]).write()
    return out.text()
