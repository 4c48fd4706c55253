"""Random archdsl specs for fuzzing: networks meant to check clean, token mutations and splices.

Every function draws from a ``random.Random`` it is given, so the same seed gives the same text:
hypothesis can drive the generator through ``st.randoms(use_true_random=False)``, and
``benchmarks/fuzz.py`` through one seed per input.

``network_spec`` writes specs the way people do (blocks with defaults that read ``in``, loops,
conditions, every combinator, labels) while tracking the tensor shape loosely, so most of them
check clean and the checker's deeper stages (elaboration, the combinators, the back ends) see
real work. ``mutate`` and ``splice`` then break such specs, and the shipped ones, in small ways.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# Shapes


@dataclass(frozen=True)
class Shape:
    """A tensor type ``[c, *spatial]`` as the generator believes it to be."""

    c: int
    spatial: tuple[int, ...]

    @property
    def smallest(self) -> int:
        return min(self.spatial)

    @property
    def largest(self) -> int:
        return max(self.spatial)

    def with_channels(self, c: int) -> Shape:
        return Shape(c, self.spatial)

    def strided(self, s: int) -> Shape:
        """After an odd kernel padded by k // 2 with stride ``s``: floor((L - 1) / s) + 1."""
        return Shape(self.c, tuple((n - 1) // s + 1 for n in self.spatial))


def conv_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def pool_ceil_size(n: int, k: int, s: int, p: int) -> int:
    """PyTorch's ceil mode: one more window, unless it would start beyond the input and its padding."""
    out = -(-(n + 2 * p - k) // s) + 1
    return out - 1 if (out - 1) * s >= n + p else out


AXES = {1: ("l",), 2: ("h", "w"), 3: ("d", "h", "w")}
WIDTHS = (2, 4, 6, 8, 12, 16, 24, 32)
MAX_CHANNELS = 32
MAX_SPATIAL = 32

# Names a spec may use that Python or the emitted file also uses: the back end must rename them.
AWKWARD_NAMES = ("x", "self", "nn", "torch", "F", "in_channels", "features", "layer", "i", "index", "super",
                 "print", "cls", "module", "state", "out_channels", "kernel_size", "stride", "padding", "class_",
                 "lambda", "pass", "None", "True", "False", "yield", "def", "return", "import_", "Conv2d")
LABELS = ("stem", "head", "body", "features", "classifier", "fc", "block1", "layer1", "proj", "attn", "se",
          "y", "out", "stage2", "trunk", "pool", "mix", "squeeze", "expand", "conv1", "relu1", "bn2", "norm",
          "downsample", "branch1", "fc1", "act", "layer", "x", "z0", "classifier2", "in_proj")
NAMES = ("net", "tiny", "model", "cifar", "signal", "volume", "toy", "resnetish", "mini", "lambda", "min",
         "my_net", "net2", "n", "Net", "deep_thing", "x", "torch", "nn", "module")
BRANCH_LABELS = ("b1", "b2", "path", "left", "right", "branch1")
BLOCK_NAMES = ("unit", "res", "squeeze", "inc", "maybe", "stack", "short", "grow", "down", "mix", "attend",
               "tuple_conv", "ratio", "wrap", "stage", "cell", "lambda", "self", "torch", "nn", "Layer", "x")


# ---------------------------------------------------------------------------------------------
# Output


@dataclass
class _Writer:
    lines: list[str] = field(default_factory=list)
    depth: int = 0

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@dataclass
class Scope:
    """What names mean where a statement is written: ``in``, parameters, labels taken in the module."""

    input: Shape
    env: dict[str, object]
    labels: set[str] = field(default_factory=set)
    in_loop: bool = False
    depth: int = 0
    tensors: dict[str, Shape] = field(default_factory=dict)  # the labelled outputs steps here may read
    taken: str | None = None  # the label the step being written took

    def inner(self, *, module: bool = False, loop: bool = False) -> Scope:
        """The scope of a combinator's body: a new module only for a named combinator; the labelled tensors
        seen outside are seen inside, and those labelled inside stay there."""
        labels = set() if module else self.labels
        return Scope(self.input, self.env, labels, self.in_loop or loop, self.depth + 1, dict(self.tensors))


def _call(name: str, positional: Sequence[str] = (), keywords: dict[str, str] | None = None) -> str:
    args = [*positional, *(f"{k}={v}" for k, v in (keywords or {}).items())]
    return f"{name}({', '.join(args)})" if args else name


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)


# ---------------------------------------------------------------------------------------------
# Blocks: hand-written templates with random names and defaults, each knowing its output shape.

CallFn = Callable[["_Generator", Scope, Shape], "tuple[str, Shape] | None"]


@dataclass
class Block:
    """A block definition and how to call it: ``call`` gives the call text and output shape, or None."""

    name: str
    text: str
    call: CallFn
    stride_param: str | None = None  # of a (w, ..., s=...) block, which another block may wrap
    out: Callable[[Shape, int, int], Shape] | None = None
    labels_itself: bool = False  # its call text carries the label that names its outputs


def _rename(text: str, names: dict[str, str]) -> str:
    """Put parameter names into a template: ``@w`` becomes ``names['w']``."""
    return re.sub(r"@(\w+)", lambda m: names[m.group(1)], text)


def _param_name(rng: random.Random, usual: str, taken: set[str]) -> str:
    name = usual
    if rng.random() < 0.2:
        name = rng.choice([n for n in AWKWARD_NAMES if n not in taken] or [usual])
    taken.add(name)
    return name


def _names(rng: random.Random, usual: dict[str, str]) -> dict[str, str]:
    """Usual parameter names, a few swapped for names Python or the emitted file also uses."""
    taken = set(usual.values())
    return {key: _param_name(rng, value, taken) if rng.random() < 0.5 else value for key, value in usual.items()}


def _pick_kw(rng: random.Random, name: str, value: str, default: str, into: dict[str, str]) -> None:
    """Pass a keyword argument: always when it differs from the default, sometimes when it does not."""
    if value != default or rng.random() < 0.2:
        into[name] = value


def _unit(rng: random.Random, name: str, rank: int) -> Block:
    n = _names(rng, {"w": "out", "k": "k", "s": "s", "p": "p", "act": "act", "norm": "norm"})
    text = _rename(f"""block {name}(@w, @k=3, @s=1, @p=@k // 2, @act="relu", @norm=true) {{
    conv(@w, @k, s=@s, p=@p, bias=not @norm)
    if @norm {{ bn }}
    if @act == "relu" {{ relu }} else if @act == "gelu" {{ gelu }} else {{ silu }}
}}""", n)

    def out(shape: Shape, w: int, s: int) -> Shape:
        return shape.strided(s).with_channels(w)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        w, k, s = g.width(), rng.choice([1, 3, 3, 5]), g.stride(shape)
        kw: dict[str, str] = {}
        positional = [g.int_expr(w, scope)]
        if k != 3 or rng.random() < 0.3:
            positional.append(str(k))
        _pick_kw(rng, n["s"], str(s), "1", kw)
        _pick_kw(rng, n["act"], _literal(rng.choice(["relu", "gelu", "silu", "swish"])), '"relu"', kw)
        _pick_kw(rng, n["norm"], _literal(rng.random() < 0.7), "true", kw)
        return _call(name, positional, kw), out(shape, w, s)

    return Block(name, text, call, n["s"], out)


def _res(rng: random.Random, name: str, rank: int) -> Block:
    n = _names(rng, {"w": "width", "s": "s", "mid": "mid", "drop": "drop"})
    mid = rng.choice(["max(1, in.c // 2)", "in.c", "@w // 2 + 1", "int(@w * 0.5) + 1"])
    text = _rename(f"""block {name}(@w, @s=1, @mid={mid}, @drop=0.0) {{
    residual(shortcut=project) {{
        conv(@mid, 1, bias=false); bn; relu
        conv(@w, 3, s=@s, p=1, bias=false); bn
        if @drop > 0 {{ droppath(@drop) }}
    }}
    relu
}}""", n)

    def out(shape: Shape, w: int, s: int) -> Shape:
        return shape.strided(s).with_channels(w)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        w, s = g.width(), g.stride(shape)
        kw: dict[str, str] = {}
        _pick_kw(rng, n["s"], str(s), "1", kw)
        _pick_kw(rng, n["drop"], rng.choice(["0.0", "0.1", "0.25"]), "0.0", kw)
        return _call(name, [g.int_expr(w, scope)], kw), out(shape, w, s)

    return Block(name, text, call, n["s"], out)


def _squeeze(rng: random.Random, name: str, rank: int) -> Block:
    n = _names(rng, {"r": "r", "sq": "sq"})
    raw = rng.random() < 0.5  # `sq=in.c // r` is 0 below r channels: the call then passes sq
    default = "in.c // @r" if raw else "max(1, in.c // @r)"
    label = rng.choice(["se: ", "", "attn: "])
    gate = rng.choice(["sigmoid", "hardsigmoid"])
    pool = rng.choice(["gap", "spatial_mean", "adaptive_avgpool(1)", "gmp"])
    text = _rename(f"""block {name}(@r=4, @sq={default}) {{
    {label}gate {{ {pool}; conv(@sq, 1); relu; conv(in.c, 1); {gate} }}
}}""", n)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        r = rng.choice([2, 4, 8])
        kw: dict[str, str] = {}
        _pick_kw(rng, n["r"], str(r), "4", kw)
        if raw and shape.c // r < 1:
            kw[n["sq"]] = str(rng.choice([1, 2]))
        return _call(name, [], kw), shape

    return Block(name, text, call)


def _inception(rng: random.Random, name: str, rank: int) -> Block:
    n = _names(rng, {"a": "a", "b": "b", "pool": "pool", "k": "k"})
    b2 = rng.choice(["", "b2: "])
    text = _rename(f"""block {name}(@a, @b=@a, @pool=true, @k=3) {{
    concat {{
        branch {{ conv(@a, 1) }}
        {b2}branch {{ conv(@b, @k, p=@k // 2); relu }}
        if @pool {{ branch {{ maxpool(3, s=1, p=1) }} }}
    }}
}}""", n)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        a, b = rng.choice(WIDTHS[:5]), rng.choice(WIDTHS[:5])
        pool = rng.random() < 0.5
        total = a + b + (shape.c if pool else 0)
        if total > MAX_CHANNELS:
            return None
        kw: dict[str, str] = {}
        positional = [g.int_expr(a, scope)]
        if b != a or rng.random() < 0.3:
            kw[n["b"]] = g.int_expr(b, scope)
        _pick_kw(rng, n["pool"], _literal(pool), "true", kw)
        _pick_kw(rng, n["k"], str(rng.choice([1, 3, 5])), "3", kw)
        return _call(name, positional, kw), Shape(total, shape.spatial)

    return Block(name, text, call)


def _maybe(rng: random.Random, name: str, rank: int) -> Block:
    n = _names(rng, {"w": "out", "s": "s"})
    text = _rename(f"""block {name}(@w, @s=1) {{
    residual(when=@s == 1 and in.c == @w) {{ conv(@w, 3, s=@s, p=1); bn }}
}}""", n)

    def out(shape: Shape, w: int, s: int) -> Shape:
        return shape.strided(s).with_channels(w)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        w = shape.c if rng.random() < 0.5 else g.width()
        s = g.stride(shape)
        kw: dict[str, str] = {}
        _pick_kw(rng, n["s"], str(s), "1", kw)
        return _call(name, [g.int_expr(w, scope)], kw), out(shape, w, s)

    return Block(name, text, call, n["s"], out)


def _stack(rng: random.Random, name: str, rank: int) -> Block:
    if rng.random() < 0.5:
        n = _names(rng, {"w": "w", "n": "n", "k": "k"})
        text = _rename(f"""block {name}(@w, @n=2, @k=3) {{
    repeat(@n) {{ conv(@w, @k, p=@k // 2); relu }}
}}""", n)

        def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
            w, count = g.width(), rng.choice([0, 1, 2, 3])
            kw: dict[str, str] = {}
            _pick_kw(rng, n["n"], str(count), "2", kw)
            _pick_kw(rng, n["k"], str(rng.choice([1, 3, 5])), "3", kw)
            return _call(name, [g.int_expr(w, scope)], kw), shape if count == 0 else shape.with_channels(w)

        return Block(name, text, call)
    n = _names(rng, {"plan": "plan"})
    text = _rename(f"""block {name}(@plan=[(8, 1), (16, 2)]) {{
    for (w, s) in @plan {{ conv(w, 3, s=s, p=1); bn; relu }}
}}""", n)

    def call_plan(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        plan = [(8, 1), (16, 2)] if rng.random() < 0.3 else [(g.width(), g.stride(shape)) for _ in range(2)]
        out = shape
        for w, s in plan:
            out = out.strided(s).with_channels(w)
        kw = {} if plan == [(8, 1), (16, 2)] else {n["plan"]: _literal(plan)}
        return _call(name, [], kw), out

    return Block(name, text, call_plan)


def _short(rng: random.Random, name: str, rank: int) -> Block:
    n = _names(rng, {"w": "w", "s": "s"})
    label = rng.choice(["x: ", "", "main: "])
    sc = rng.choice(["", "downsample: ", "proj: "])
    text = _rename(f"""block {name}(@w, @s=2) {{
    {label}residual {{
        conv(@w, 3, s=@s, p=1, bias=false); bn
        {sc}shortcut {{ conv(@w, 1, s=@s, bias=false); bn }}
    }}
}}""", n)

    def out(shape: Shape, w: int, s: int) -> Shape:
        return shape.strided(s).with_channels(w)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        w, s = g.width(), g.stride(shape)
        kw: dict[str, str] = {}
        _pick_kw(rng, n["s"], str(s), "2", kw)
        return _call(name, [g.int_expr(w, scope)], kw), out(shape, w, s)

    return Block(name, text, call, n["s"], out)


def _grow(rng: random.Random, name: str, rank: int) -> Block:
    n = _names(rng, {"n": "n", "g": "g"})
    layer = rng.choice(["bn; relu; conv(@g, 3, p=1, bias=false)", "conv(@g, 1); relu",
                        "norm: bn; act: relu; c3: conv(@g, 3, p=same)"])
    text = _rename(f"""block {name}(@n=2, @g=4) {{
    dense(@n) {{ {layer} }}
}}""", n)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        count, growth = rng.choice([1, 2, 3]), rng.choice([2, 4, 8])
        if shape.c + count * growth > MAX_CHANNELS:
            return None
        kw: dict[str, str] = {}
        _pick_kw(rng, n["n"], str(count), "2", kw)
        _pick_kw(rng, n["g"], str(growth), "4", kw)
        return _call(name, [], kw), shape.with_channels(shape.c + count * growth)

    return Block(name, text, call)


def _down(rng: random.Random, name: str, rank: int) -> Block:
    """A condition on ``in``'s spatial sizes: pool only what is large enough."""
    n = _names(rng, {"w": "w", "at": "at"})
    cond = " and ".join(f"in.{axis} >= @at" for axis in AXES[rank])
    text = _rename(f"""block {name}(@w, @at=8) {{
    if {cond} {{ maxpool(2) }} else {{ identity }}
    conv(@w, 1)
}}""", n)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        w, at = g.width(), rng.choice([2, 4, 8, 16])
        kw: dict[str, str] = {}
        _pick_kw(rng, n["at"], str(at), "8", kw)
        spatial = tuple(s // 2 for s in shape.spatial) if shape.smallest >= at else shape.spatial
        return _call(name, [g.int_expr(w, scope)], kw), Shape(w, spatial)

    return Block(name, text, call)


def _mix(rng: random.Random, name: str, rank: int) -> Block:
    n = _names(rng, {"w": "w", "mode": "mode"})
    seq = rng.choice(["blk: seq { bn; relu }", "seq { bn; relu }", "bn; relu"])
    text = _rename(f"""block {name}(@w, @mode="sum") {{
    if @mode == "sum" {{
        add {{ branch {{ conv(@w, 3, p=1) }}; branch {{ conv(@w, 1) }} }}
    }} else {{
        concat {{ branch {{ conv(@w // 2, 3, p=1) }}; branch {{ conv(@w - @w // 2, 1) }} }}
    }}
    {seq}
}}""", n)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        w = rng.choice([2, 4, 8, 16])
        kw: dict[str, str] = {}
        _pick_kw(rng, n["mode"], _literal(rng.choice(["sum", "cat"])), '"sum"', kw)
        return _call(name, [g.int_expr(w, scope)], kw), shape.with_channels(w)

    return Block(name, text, call)


def _attend(rng: random.Random, name: str, rank: int) -> Block:
    n = _names(rng, {"k": "k"})
    body = rng.choice(["channel_mean; conv(1, @k, p=@k // 2); sigmoid",
                       "concat { branch { channel_mean }; branch { channel_max } }; conv(1, @k, p=same); sigmoid",
                       "conv(1, @k, p=same, bias=false); hardsigmoid"])
    text = _rename(f"""block {name}(@k=3) {{
    gate {{ {body} }}
}}""", n)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        kw: dict[str, str] = {}
        _pick_kw(rng, n["k"], str(rng.choice([1, 3, 5, 7])), "3", kw)
        return _call(name, [], kw), shape

    return Block(name, text, call)


def _tuple_conv(rng: random.Random, name: str, rank: int) -> Block:
    """Per-axis tuples as defaults and arguments (``k=(1, 3)``), with ``p=same`` for odd kernels."""
    n = _names(rng, {"w": "w", "k": "k", "s": "s"})
    k0 = tuple(rng.choice([1, 3, 5]) for _ in range(rank))
    s0 = tuple(rng.choice([1, 1, 2]) for _ in range(rank))
    text = _rename(f"""block {name}(@w, @k={_literal(k0)}, @s={_literal(s0)}) {{
    conv(@w, @k, s=@s, p=same); gn(1)
}}""", n)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        w = g.width()
        k = tuple(rng.choice([1, 3, 5]) for _ in range(rank)) if rng.random() < 0.5 else k0
        s = s0 if rng.random() < 0.7 else tuple(rng.choice([1, 2]) for _ in range(rank))
        if shape.smallest < 4 and max(s) > 1:
            s = (1,) * rank
        kw: dict[str, str] = {}
        if k != k0:
            kw[n["k"]] = _literal(k)
        if s != s0:
            kw[n["s"]] = _literal(s) if len(set(s)) > 1 or rng.random() < 0.5 else str(s[0])
        spatial = tuple((size - 1) // stride + 1 for size, stride in zip(shape.spatial, s, strict=True))
        return _call(name, [g.int_expr(w, scope)], kw), Shape(w, spatial)

    return Block(name, text, call)


def _ratio(rng: random.Random, name: str, rank: int) -> Block:
    n = _names(rng, {"ratio": "ratio", "drop": "drop"})
    text = _rename(f"""block {name}(@ratio=0.5, @drop=0.1) {{
    pwconv(max(1, int(in.c * @ratio))); dropout(@drop)
    layerscale(1 / float(in.shape[0]))
}}""", n)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        ratio = rng.choice([0.25, 0.5, 1.0, 2.0])
        kw: dict[str, str] = {}
        _pick_kw(rng, n["ratio"], repr(ratio), "0.5", kw)
        _pick_kw(rng, n["drop"], rng.choice(["0.1", "0.0", "0.5"]), "0.1", kw)
        c = max(1, int(shape.c * ratio))
        return (_call(name, [], kw), shape.with_channels(c)) if c <= MAX_CHANNELS else None

    return Block(name, text, call)


def _given(rng: random.Random, name: str, rank: int) -> Block:
    """A block given a labelled tensor beside its input (``block merge(@skip, w)``): it brings it to its own
    output's size and joins the two."""
    n = _names(rng, {"w": "w", "mode": "mode"})
    tensor = rng.choice(["skip", "lateral", "side", "low"])
    n.update({"t": f"@{tensor}", "a": "@a", "b": "@b", "in": "@in"})
    start = rng.choice(["conv(@w, 1)", "from(@in) { conv(@w, 3, p=1) }"])
    text = _rename(f"""block {name}(@t, @w, @mode="add") {{
    a: {start}
    b: from(@t) {{ conv(@w, 1); upsample(size=@a.spatial) }}
    if @mode == "add" {{
        add(@a, @b)
    }} else if @mode == "mul" {{
        mul(@a, @b)
    }} else {{
        concat(@a, @b)
    }}
}}""", n)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        tensors = sorted(label for label, seen in scope.tensors.items() if len(seen.spatial) == len(shape.spatial)
                         and seen.spatial)
        if not tensors or not shape.spatial:
            return None
        w = rng.choice([2, 4, 8])
        mode = rng.choice(["add", "mul", "cat"])
        kw: dict[str, str] = {}
        _pick_kw(rng, n["mode"], _literal(mode), '"add"', kw)
        return (_call(name, [f"@{rng.choice(tensors)}", g.int_expr(w, scope)], kw),
                shape.with_channels(2 * w if mode == "cat" else w))

    return Block(name, text, call)


def _two(rng: random.Random, name: str, rank: int) -> Block:
    """A block that gives two tensors, ``output(@a, @b)``: its call is labelled, its parts read as ``@m[0]``."""
    n = _names(rng, {"w": "w"})
    n.update({"a": "@a", "b": "@b", "in": "@in"})
    second = rng.choice(["@b", "@in"])
    text = _rename(f"""block {name}(@w) {{
    a: conv(@w, 1)
    b: from(@a) {{ conv(@w, 3, p=1); relu }}
    output(@a, {second})
}}""", n)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        free = [label for label in LABELS if label not in scope.labels]
        if scope.in_loop or not free:
            return None
        label, w = rng.choice(free), rng.choice([2, 4, 8])
        scope.labels.add(label)
        scope.tensors.pop(label, None)  # the label hides an outer tensor of that name: read its parts
        scope.tensors.update({f"{label}[0]": shape.with_channels(w),
                              f"{label}[1]": shape if second == "@in" else shape.with_channels(w)})
        return f"{label}: {_call(name, [g.int_expr(w, scope)])}", shape.with_channels(w)

    return Block(name, text, call, labels_itself=True)


TEMPLATES: tuple[Callable[[random.Random, str, int], Block], ...] = (
    _unit, _res, _squeeze, _inception, _maybe, _stack, _short, _grow, _down, _mix, _attend, _tuple_conv, _ratio,
    _given, _two)


def _wrap(rng: random.Random, name: str, inner: Block) -> Block:
    """A block that calls another block of signature (w, s=...): block calls nest."""
    n = _names(rng, {"w": "w", "s": "s"})
    assert inner.out is not None
    inner_out = inner.out
    extra = rng.choice(["relu", "bn", "identity", "se(r=2)", "seq { relu }"])
    text = _rename(f"""block {name}(@w, @s=1) {{
    {inner.name}(@w, {inner.stride_param}=@s)
    {extra}
}}""", n)

    def call(g: _Generator, scope: Scope, shape: Shape) -> tuple[str, Shape] | None:
        w, s = g.width(), g.stride(shape)
        kw: dict[str, str] = {}
        _pick_kw(rng, n["s"], str(s), "1", kw)
        return _call(name, [g.int_expr(w, scope)], kw), inner_out(shape, w, s)

    return Block(name, text, call)


# ---------------------------------------------------------------------------------------------
# Networks


class _Generator:
    """One spec being written: its rank, blocks, and a budget of statements."""

    def __init__(self, rng: random.Random, again: float = 0.0) -> None:
        self.rng = rng
        self.again = again  # how often a block call that keeps the shape is written twice
        self.rank = rng.choices([1, 2, 3], weights=[25, 55, 20])[0]
        self.blocks: list[Block] = []
        self.budget = 0

    # -- values

    def width(self) -> int:
        return self.rng.choice(WIDTHS)

    def stride(self, shape: Shape) -> int:
        return 2 if shape.smallest >= 4 and self.rng.random() < 0.3 else 1

    def int_expr(self, value: int, scope: Scope) -> str:
        """An expression worth ``value``: mostly the number, sometimes a parameter, ``in`` or arithmetic."""
        rng = self.rng
        if rng.random() < 0.55:
            return str(value)
        options = [str(value)]
        for name, known in scope.env.items():
            if isinstance(known, bool) or not isinstance(known, int):
                continue
            if known == value:
                options += [name, name, f"max({name}, 1)"]
            elif known * 2 == value:
                options.append(f"{name} * 2")
            elif known > 0 and known // 2 == value:
                options.append(f"{name} // 2")
            if known > 0 and value * known <= 4096:
                options.append(f"{value * known} // {name}")  # a division by a parameter: 0 must be refused
        if scope.input.c == value:
            options += ["in.c", "in.shape[0]"]
        elif scope.input.c * 2 == value:
            options.append("in.c * 2")
        if value > 1:
            options += [f"{value - 1} + 1", f"{value * 2} // 2", f"int({value}.0)", f"abs(-{value})",
                        f"{value} if true else 1", f"min({value}, 64)", f"max(1, {value})",
                        f"len({_literal(list(range(value)))})", f"2 ** {value.bit_length() - 1} + "
                        f"{value - 2 ** (value.bit_length() - 1)}"]
        return rng.choice(options)

    def condition(self, scope: Scope) -> tuple[str, bool]:
        """A condition on parameters or ``in``, and its value."""
        rng = self.rng
        options: list[tuple[str, bool]] = [("true", True), ("false", False)]
        for name, known in scope.env.items():
            if isinstance(known, bool):
                options += [(name, known), (f"not {name}", not known)]
            elif isinstance(known, int):
                bound = rng.choice([known - 1, known, known + 1, 8])
                options += [(f"{name} > {bound}", known > bound), (f"{name} == {known}", True),
                            (f"{name} != {bound}", known != bound)]
            elif isinstance(known, str):
                other = rng.choice([known, "gelu", "relu"])
                options.append((f'{name} == "{other}"', known == other))
            elif isinstance(known, list):
                options.append((f"len({name}) > 1", len(known) > 1))
        axis = AXES[self.rank][0]
        size = scope.input.spatial[0]
        bound = rng.choice([size - 1, size, 16])
        options += [(f"in.c == {scope.input.c}", True), (f"in.c >= {bound}", scope.input.c >= bound),
                    (f"in.{axis} >= {bound}", size >= bound), (f"in.rank == {self.rank}", True)]
        text, value = rng.choice(options)
        if rng.random() < 0.2:
            other, other_value = rng.choice(options)
            if rng.random() < 0.5:
                return f"{text} and ({other})", value and other_value
            return f"({text}) or {other}", value or other_value
        return text, value

    # -- statements

    def label(self, scope: Scope, names: Sequence[str] = ()) -> str:
        """``name: `` for a step, unique in its module; in a loop only as ``_collect`` writes them."""
        if scope.in_loop or self.rng.random() > 0.25:
            return ""
        free = [name for name in names or LABELS if name not in scope.labels]
        if not free:
            return ""
        name = self.rng.choice(free)
        scope.labels.add(name)
        scope.taken = name
        return f"{name}: "

    def steps(self, out: _Writer, scope: Scope, shape: Shape, count: int, keep: bool = False) -> Shape:
        """Write up to ``count`` statements; with ``keep`` they leave the shape as it was."""
        written = 0
        attempts = 0
        while written < count and attempts < count * 6 and self.budget > 0:
            attempts += 1
            chooser = self.rng.choice(KEEPING if keep else STEPS)
            scope.taken = None
            result = chooser(self, out, scope, shape)
            if result is None:
                continue
            if scope.taken is not None:  # the step's label names its output (a shape-keeping last statement)
                scope.tensors[scope.taken] = result
            if keep and result != shape:
                raise AssertionError(f"{chooser.__name__} changed {shape} to {result}")
            shape = result
            written += 1
            self.budget -= 1
        return shape

    def body(self, out: _Writer, head: str, scope: Scope, shape: Shape, count: int, keep: bool = False) -> Shape:
        """``head { ... }`` on several lines, or on one line with ``;`` for short bodies."""
        inner = _Writer(depth=0)
        result = self.steps(inner, scope, shape, count, keep)
        if not inner.lines:
            inner.line("identity")
        if len(inner.lines) <= 3 and all("{" not in line for line in inner.lines) and self.rng.random() < 0.5:
            out.line(f"{head} {{ {'; '.join(inner.lines)} }}")
        else:
            out.line(f"{head} {{")
            for line in inner.lines:
                out.lines.append("    " * (out.depth + 1) + line)
            out.line("}")
        return result

    def network(self, name: str) -> str:
        rng = self.rng
        shape = self.input_shape()
        params = self.network_params()
        scope = Scope(shape, dict(params))
        out = _Writer()
        signature = "" if not params else "(" + ", ".join(f"{k}={_literal(v)}" for k, v in params.items()) + ")"
        if not params and rng.random() < 0.3:
            signature = "()"
        out.line(f"network {name}{signature} {{")
        out.depth = 1
        out.line("input [" + ", ".join(str(n) for n in (shape.c, *shape.spatial)) + "]")
        self.budget = rng.randint(4, 24)
        shape = self.steps(out, scope, shape, self.budget)
        if rng.random() < 0.6:
            self.head(out, scope, shape, params)
        out.depth = 0
        out.line("}")
        return out.text()

    def input_shape(self) -> Shape:
        rng = self.rng
        c = rng.choice([1, 2, 3, 4, 8])
        if self.rank == 1:
            return Shape(c, (rng.randint(8, 32),))
        if self.rank == 2:
            h = rng.choice([8, 9, 12, 16, 16, 17, 24, 32, 32])
            return Shape(c, (h, h if rng.random() < 0.7 else rng.randint(8, 32)))
        return Shape(c, (rng.randint(2, 8), rng.choice([8, 9, 12, 16]), rng.choice([8, 12, 16])))

    def network_params(self) -> dict[str, object]:
        rng = self.rng
        candidates: dict[str, object] = {
            "classes": rng.choice([2, 10, 5]), "width": rng.choice([4, 8, 16]), "deep": rng.random() < 0.5,
            "drop": rng.choice([0.0, 0.1, 0.5]), "act": rng.choice(["relu", "gelu"]),
            "widths": [rng.choice(WIDTHS[:6]) for _ in range(rng.randint(1, 3))], "k": rng.choice([1, 3, 5]),
            "n": rng.randint(0, 3),
        }
        if rng.random() < 0.2:
            candidates[rng.choice(AWKWARD_NAMES)] = rng.choice([4, 8])
        chosen = rng.sample(sorted(candidates), rng.randint(0, 4))
        return {name: candidates[name] for name in chosen}

    def head(self, out: _Writer, scope: Scope, shape: Shape, params: dict[str, object]) -> None:
        rng = self.rng
        classes = params.get("classes", rng.choice([3, 10]))
        assert isinstance(classes, int)
        pool = rng.choice(["gap", "gmp", "adaptive_avgpool(1)", "adaptive_maxpool(1)", "spatial_mean"])
        out.line(f"{self.label(scope)}{pool}; flatten")
        if rng.random() < 0.4:
            hidden = rng.choice([8, 16, 32])
            out.line(f"linear({hidden}); {rng.choice(['relu', 'gelu', 'bn', 'ln'])}")
        if rng.random() < 0.3:
            out.line("dropout(drop)" if "drop" in params else "dropout(0.2)")
        classes_text = "classes" if "classes" in params else self.int_expr(classes, scope)
        out.line(f"{self.label(scope)}linear({classes_text}){rng.choice(['', '', '; softmax'])}")


# Each step writes one statement for an input shape and gives the output shape, or None when it cannot.
Step = Callable[[_Generator, _Writer, Scope, Shape], "Shape | None"]


def _conv(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    rng = g.rng
    w = g.width()
    k = rng.choice([1, 3, 3, 5, 7])
    s = g.stride(shape)
    d = 2 if rng.random() < 0.1 else 1
    span = d * (k - 1) + 1
    padding = rng.choice(["half", "half", "same", "zero"])
    if padding == "zero" and span > shape.smallest:
        padding = "half"
    kw: dict[str, str] = {}
    if s != 1:
        kw["s"] = str(s)
    if padding == "half" and span > 1:
        kw["p"] = g.int_expr(span // 2, scope)
    elif padding == "same":
        kw["p"] = "same"
    if d != 1:
        kw["d"] = str(d)
    groups = rng.choice([g_ for g_ in (2, 4) if shape.c % g_ == 0 and w % g_ == 0] or [1])
    if rng.random() < 0.15 and groups > 1:
        kw["groups"] = str(groups)
    norm = rng.random() < 0.4
    if norm:
        kw["bias"] = "false"
    p = 0 if padding == "zero" else span // 2
    spatial = tuple(conv_size(n, k, s, p, d) for n in shape.spatial)
    k_text = str(k) if rng.random() < 0.8 else _literal((k,) * g.rank)
    out.line(f"{g.label(scope)}{_call('conv', [g.int_expr(w, scope), k_text], kw)}"
             + ("; bn" if norm else "") + (f"; {rng.choice(ACTIVATIONS)}" if rng.random() < 0.5 else ""))
    return Shape(w, spatial)


ACTIVATIONS = ("relu", "relu6", "gelu", "silu", "hardswish", "leaky_relu(0.1)", "sigmoid", "tanh", "hardsigmoid",
               'gelu(approximate="tanh")', "leaky_relu")


def _pointwise(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    """Layers that keep the shape: activations, norms, dropout, layer scale, depth-wise convs."""
    rng = g.rng
    groups = [n for n in (1, 2, 4) if shape.c % n == 0]
    positions = 1
    for n in shape.spatial:
        positions *= n
    instance = "instancenorm" if positions > 1 else "bn"  # one position leaves nothing to normalise (E209)
    apart = rng.choice(["causal", "(2, 0)"]) if g.rank == 1 else "(" + ", ".join(  # sides that keep the size
        rng.choice(["(2, 0)", "(0, 2)", "(1, 1)"]) for _ in range(g.rank)) + ")"
    step = rng.choice([
        *ACTIVATIONS, "bn", f"gn({rng.choice(groups)})", "ln", "ln(eps=1e-6)", f"{instance}(affine=true)",
        instance, f"dropout({rng.choice(['0.1', '0.5', '0'])})", "droppath(0.1)", "layerscale(1e-6)",
        "identity", "dwconv(3, p=1)", "dwconv(5, p=same, bias=false)", f"channel_shuffle({rng.choice(groups)})",
        "bn(eps=0.001, momentum=0.01)", "frozen_bn", f"dwconv(3, p={apart})", "pad(1); crop(1)",
        f"pad({rng.choice(['2', '(1, 2)' if g.rank < 3 else '(1, 2, 0)'])}); center_crop({shape.spatial})",
        f"maxpool(3, s=1, p=1{rng.choice(['', ', ceil=true'])})",
        f"pwconv({g.int_expr(shape.c, scope)})",
        # torch's 3-D average pooling wants the input at least as large as the kernel
        "avgpool(3, s=1, p=1, count_include_pad=false)" if g.rank < 3 or shape.smallest >= 3 else "identity",
    ])
    out.line(("" if step.startswith("pad(") else g.label(scope)) + step)  # a label would name the padded tensor
    return shape


def _pool(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    rng = g.rng
    options: list[tuple[str, Shape]] = []
    if shape.smallest >= 2:
        options.append(("maxpool(2)", Shape(shape.c, tuple(n // 2 for n in shape.spatial))))
        options.append(("avgpool(2, ceil=true)", Shape(shape.c, tuple(pool_ceil_size(n, 2, 2, 0)
                                                                           for n in shape.spatial))))
    if shape.smallest >= 3:
        options.append(("maxpool(3, s=2, ceil=true)", Shape(shape.c, tuple(pool_ceil_size(n, 3, 2, 0)
                                                                                for n in shape.spatial))))
        options.append(("avgpool(3, s=2, p=1)", shape.strided(2)))
        options.append(("maxpool(3, s=2, p=1)", shape.strided(2)))
    size = rng.randint(1, shape.smallest)
    options.append((f"adaptive_avgpool({size})", Shape(shape.c, (size,) * g.rank)))
    if shape.largest * 2 <= MAX_SPATIAL:
        mode = rng.choice(["", ', mode="linear"', ', mode="nearest"'])
        options.append((f"upsample(2{mode})", Shape(shape.c, tuple(n * 2 for n in shape.spatial))))
        w = g.width()
        options.append((f"conv_transpose({g.int_expr(w, scope)}, 2, s=2)",
                        Shape(w, tuple(n * 2 for n in shape.spatial))))
        options.append((f"conv_transpose({g.int_expr(w, scope)}, 4, s=2, p=1)",
                        Shape(w, tuple(n * 2 for n in shape.spatial))))
    text, result = rng.choice(options)
    out.line(g.label(scope) + text)
    return result


def _residual(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    rng = g.rng
    if scope.depth >= 3:
        return None
    label = g.label(scope)
    inner = scope.inner(module=bool(label))
    kind = rng.choice(["identity", "identity", "project", "shortcut", "when"])
    if kind == "identity":
        head = rng.choice(["residual", "residual(shortcut=identity)"])
        return g.body(out, label + head, inner, shape, rng.randint(1, 3), keep=True)
    w, s = g.width(), g.stride(shape)
    result = shape.strided(s).with_channels(w)
    conv = f"conv({g.int_expr(w, scope)}, 3, s={s}, p=1, bias=false); bn"
    if kind == "project":
        out.line(f"{label}residual(shortcut=project) {{")
        out.depth += 1
        out.line(conv)
        g.steps(out, inner.inner(), result, rng.randint(0, 2), keep=True)
        out.depth -= 1
        out.line("}")
        return result
    if kind == "shortcut":
        out.line(f"{label}residual {{")
        out.depth += 1
        out.line(conv)
        sc_label = g.label(inner) if label else ""
        out.line(f"{sc_label}shortcut {{ conv({w}, 1, s={s}); {rng.choice(['bn', 'identity', 'relu'])} }}")
        out.depth -= 1
        out.line("}")
        return result
    condition, holds = g.condition(scope)
    if holds:
        return g.body(out, f"{label}residual(when={condition})", inner, shape, rng.randint(1, 2), keep=True)
    out.line(f"{label}residual(when={condition}) {{ {conv} }}")
    return result


def _concat(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    rng = g.rng
    if scope.depth >= 3:
        return None
    label = g.label(scope)
    branches: list[str] = []
    inner = scope.inner(module=bool(label))  # a branch label names a sub-module of the concat's module
    total = 0
    for _ in range(rng.randint(2, 3)):
        a = rng.choice([2, 4, 8])
        text, channels = rng.choice([(f"conv({a}, 1)", a), (f"conv({a}, 3, p=1); relu", a),
                                     ("maxpool(3, s=1, p=1)", shape.c), ("identity", shape.c),
                                     (f"conv({a}, 5, p=same, bias=false); bn", a)])
        branches.append(f"{g.label(inner, BRANCH_LABELS)}branch {{ {text} }}")
        total += channels
    if total > MAX_CHANNELS:
        return None
    _join(g, out, f"{label}concat", branches)
    return shape.with_channels(total)


def _join(g: _Generator, out: _Writer, head: str, branches: list[str]) -> None:
    if g.rng.random() < 0.4:
        out.line(f"{head} {{ {'; '.join(branches)} }}")
        return
    out.line(f"{head} {{")
    for b in branches:
        out.lines.append("    " * (out.depth + 1) + b)
    out.line("}")


def _add(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    rng = g.rng
    w = shape.c if rng.random() < 0.5 else g.width()
    options = [f"conv({w}, 3, p=1)", f"conv({w}, 1)", f"conv({w}, 1); relu", f"conv({w}, 5, p=same)"]
    if w == shape.c:
        options += ["identity", "relu", "dwconv(3, p=1)"]
    branches = [f"branch {{ {rng.choice(options)} }}" for _ in range(rng.randint(2, 3))]
    _join(g, out, g.label(scope) + rng.choice(["add", "add", "mul"]), branches)
    return shape.with_channels(w)


def _gate(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    rng = g.rng
    sq = max(1, shape.c // 4)
    body = rng.choice([
        f"gap; conv({sq}, 1); relu; conv({g.int_expr(shape.c, scope)}, 1); sigmoid",
        "conv(1, 3, p=1); sigmoid",
        "channel_max; sigmoid",
        f"spatial_mean; conv({shape.c}, 1); hardsigmoid",
        "gmp; sigmoid",
    ])
    out.line(f"{g.label(scope)}gate {{ {body} }}")
    return shape


def _dense(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    rng = g.rng
    n, growth = rng.randint(1, 3), rng.choice([2, 4])
    if shape.c + n * growth > MAX_CHANNELS:
        return None
    out.line(f"{g.label(scope)}dense({g.int_expr(n, scope)}) {{ bn; relu; conv({growth}, 3, p=1, bias=false) }}")
    return shape.with_channels(shape.c + n * growth)


def _seq(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    if scope.depth >= 3:
        return None
    label = g.label(scope)
    return g.body(out, f"{label}seq", scope.inner(module=bool(label)), shape, g.rng.randint(1, 3))


def _repeat(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    rng = g.rng
    if scope.depth >= 3:
        return None
    n = rng.randint(0, 3)
    count = "n" if scope.env.get("n") == n and not isinstance(scope.env["n"], bool) else g.int_expr(n, scope)
    return g.body(out, f"repeat({count})", scope.inner(loop=True), shape, rng.randint(1, 2), keep=True)


def _for(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    rng = g.rng
    if scope.depth >= 3:
        return None
    widths = scope.env.get("widths")
    form = rng.choice(["list", "pairs", "param" if isinstance(widths, list) else "list", "range"])
    act = rng.choice(ACTIVATIONS)
    if form == "pairs":
        pairs = [(g.width(), g.stride(shape)) for _ in range(rng.randint(1, 3))]
        result = shape
        for w, s in pairs:
            result = result.strided(s).with_channels(w)
        targets = rng.choice(["(w, s)", "w, s"])
        out.line(f"for {targets} in {_literal(pairs)} {{ conv(w, 3, s=s, p=1); {act} }}")
        return result
    if form == "range":
        n = rng.randint(0, 3)
        out.line(f"for i in range({n}) {{ conv({shape.c} + i - i, 3, p=1); {act} }}")
        return shape
    items = list(widths) if form == "param" and isinstance(widths, list) else [g.width()
                                                                               for _ in range(rng.randint(1, 3))]
    source = "widths" if form == "param" else _literal(items)
    out.line(f"for w in {source} {{ conv(w, 3, p=1); {act} }}")
    return shape.with_channels(items[-1]) if items else shape


def _if(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    """``if``/``else if``/``else``: every branch from the same shape; the one whose condition holds counts."""
    rng = g.rng
    if scope.depth >= 3:
        return None
    result: Shape | None = None
    chain = rng.randint(1, 3)
    inner = scope.inner()
    for i in range(chain):
        condition, holds = g.condition(scope)
        head = ("if " if i == 0 else "} else if ") + condition
        branch = _Writer(depth=out.depth + 1)
        inner.tensors = dict(scope.tensors)  # what an arm labels stays in it
        got = g.steps(branch, inner, shape, rng.randint(1, 2))
        out.line(head + " {")
        out.lines += branch.lines
        if holds and result is None:
            result = got
    if rng.random() < 0.6 or result is None:
        out.line("} else {")
        branch = _Writer(depth=out.depth + 1)
        inner.tensors = dict(scope.tensors)
        got = g.steps(branch, inner, shape, rng.randint(1, 2))
        out.lines += branch.lines or ["    " * (out.depth + 1) + "identity"]
        if result is None:
            result = got
    out.line("}")
    return result


def _call_block(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    if not g.blocks:
        return None
    block = g.rng.choice(g.blocks)
    made = block.call(g, scope, shape)
    if made is None:
        return None
    text, result = made
    out.line(("" if block.labels_itself else g.label(scope)) + text)
    if g.again and result == shape and not block.labels_itself and g.rng.random() < g.again:
        out.line(text)  # the same call on the same input again
    return result


def _prelude(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    """A call to a prelude block, with the shape it gives."""
    rng = g.rng
    w, s = g.width(), g.stride(shape)
    options: list[tuple[str, Shape]] = [
        (f"conv_bn_relu({w}, {rng.choice([1, 3, 5])}" + (f", s={s})" if s > 1 else ")"), shape.strided(s)
         .with_channels(w)),
        (f"basic({w}" + (f", s={s})" if s > 1 else ")"), shape.strided(s).with_channels(w)),
        (f"se(r={rng.choice([2, 4, 16])})", shape),
        (f"sepconv({w}" + (f", s={s})" if s > 1 else ")"), shape.strided(s).with_channels(w)),
        (f"inverted_residual({w}, expand={rng.choice([1, 2])}" + (f", s={s})" if s > 1 else ")"),
         shape.strided(s).with_channels(w)),
        ("convnext_block(drop=0.1)", shape),
        ("spatial_attention", shape),
    ]
    if w <= 8:
        options.append((f"bottleneck({w}" + (f", s={s})" if s > 1 else ")"), shape.strided(s).with_channels(w * 4)))
    if shape.c + 8 <= MAX_CHANNELS:
        options.append(("dense_block(2, growth=4)", shape.with_channels(shape.c + 8)))
    if shape.smallest >= 2 and shape.c >= 2:
        options.append(("transition", Shape(int(shape.c * 0.5), tuple(n // 2 for n in shape.spatial))))
    if shape.smallest >= 2:
        options.append((f"patchify({w}, patch=2)", Shape(w, tuple(n // 2 for n in shape.spatial))))
    text, result = rng.choice(options)
    out.line(g.label(scope) + text)
    return result


def _from(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    """Steps that start at a labelled tensor: ``from(@c2) { ... }``, or ``from(@c2)`` alone."""
    if not scope.tensors or scope.depth >= 3:
        return None
    name, start = g.rng.choice(sorted(scope.tensors.items()))
    label = g.label(scope)
    if g.rng.random() < 0.25:
        out.line(f"{label}from(@{name})")
        return start
    return g.body(out, f"{label}from(@{name})", scope.inner(module=bool(label)), start, g.rng.randint(1, 2))


def _collect(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    """A loop whose label names a module and a tensor per pass, with a tensor carried from pass to pass, read
    after it as every pass's (``concat(@m)``, ``add(@acc)``) or one (``@acc[-1]``)."""
    rng = g.rng
    free = [name for name in LABELS if name not in scope.labels]
    if scope.in_loop or scope.depth >= 2 or len(free) < 2 or shape.c > 64:
        return None
    made, acc = rng.sample(free, 2)
    scope.labels.update((made, acc))
    for name in (made, acc):
        scope.tensors.pop(name, None)
    n = rng.randint(1, 3)
    count = "n" if scope.env.get("n") == n and not isinstance(scope.env["n"], bool) else g.int_expr(n, scope)
    act = rng.choice(["", "; relu", "; bn"])
    out.line(f"{acc}: conv({shape.c}, 1)")  # the carried tensor before the loop
    out.line(f"repeat({count}) {{")
    out.lines.append("    " * (out.depth + 1) + f"{made}: conv({shape.c}, 3, p=1){act}")
    out.lines.append("    " * (out.depth + 1) + f"{acc}: add(@{acc}, @{made})")
    out.line("}")
    form = rng.choice(["concat", "add", "last", "first"])
    if form == "concat":
        out.line(f"concat(@{made})")
        return shape.with_channels(shape.c * n)
    out.line({"add": f"add(@{acc})", "last": f"from(@{acc}[-1])", "first": f"add(@{made}[0], @{acc}[-1])"}[form])
    return shape


def _split(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    """``parts: split((a, b))``: the channels in two labelled parts, read later as ``@parts[0]``, ``@parts[1]``."""
    free = [name for name in LABELS if name not in scope.labels]
    if shape.c < 2 or scope.in_loop or not free:
        return None
    name = g.rng.choice(free)
    scope.labels.add(name)
    scope.tensors.pop(name, None)  # the split's label hides an outer tensor of that name: read its parts
    first = g.rng.randint(1, shape.c - 1)
    out.line(f"{name}: split(({g.int_expr(first, scope)}, {shape.c - first}))")
    scope.tensors.update({f"{name}[0]": shape.with_channels(first), f"{name}[1]": shape.with_channels(shape.c - first)})
    return shape


def _join_tensors(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    """A join of labelled tensors (``add(@a, @b)``), with branches that start at one (``branch(@a) { }``) or at
    the current tensor."""
    rng = g.rng
    kind = rng.choice(["add", "mul", "concat"])
    fits = (lambda s: s.spatial == shape.spatial) if kind == "concat" else (lambda s: s == shape)
    names = sorted(name for name, seen in scope.tensors.items() if fits(seen))
    if not names:
        return None
    given = rng.sample(names, min(len(names), rng.randint(1, 2)))
    branches: list[str] = []
    channels = [scope.tensors[name].c for name in given]
    for _ in range(rng.randint(0 if len(given) > 1 else 1, 2)):
        start = rng.choice([None, *names])
        c = shape.c if start is None else scope.tensors[start].c
        w = c if kind != "concat" else rng.choice([c, 4])
        text = rng.choice([f"conv({w}, 1)", f"conv({w}, 3, p=1); relu"] + (["identity", "relu"] if w == c else []))
        branches.append(f"branch{'' if start is None else f'(@{start})'} {{ {text} }}")
        channels.append(w)
    if (kind != "concat" and len({*channels, shape.c}) > 1) or sum(channels) > MAX_CHANNELS:
        return None
    head = g.label(scope) + f"{kind}({', '.join(f'@{name}' for name in given)})"
    if branches:
        _join(g, out, head, branches)
    else:
        out.line(head)
    return shape.with_channels(sum(channels)) if kind == "concat" else shape


STEPS: tuple[Step, ...] = (_conv, _conv, _conv, _pointwise, _pointwise, _pool, _residual, _residual, _concat, _add,
                           _gate, _dense, _seq, _repeat, _for, _if, _call_block, _call_block, _call_block, _prelude,
                           _from, _join_tensors, _join_tensors, _split, _collect)


def _keep_conv(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    """A convolution that keeps the shape, for residual and repeat bodies."""
    k = g.rng.choice([1, 3, 5])
    extra = g.rng.choice(["", "; bn", "; relu", "; bn; relu"])
    out.line(f"{g.label(scope)}conv({g.int_expr(shape.c, scope)}, {k}, p={k // 2 if g.rng.random() < 0.7 else 'same'}"
             f"{', bias=false' if 'bn' in extra else ''}){extra}")
    return shape


def _keep_nested(g: _Generator, out: _Writer, scope: Scope, shape: Shape) -> Shape | None:
    """A nested combinator that keeps the shape: a residual or a repeat inside a residual or a repeat."""
    choice = g.rng.choice([_residual, _repeat, _seq])
    if choice is _seq:
        if scope.depth >= 3:
            return None
        label = g.label(scope)
        return g.body(out, f"{label}seq", scope.inner(module=bool(label)), shape, 1, keep=True)
    if choice is _residual and scope.depth < 3:
        return g.body(out, "residual", scope.inner(), shape, 1, keep=True)
    return _repeat(g, out, scope, shape)


# Steps that keep the shape: the bodies of residuals and repeats.
KEEPING: tuple[Step, ...] = (_pointwise, _pointwise, _keep_conv, _keep_conv, _gate, _keep_nested)


def network_spec(rng: random.Random, again: float = 0.0) -> str:
    """A spec of a few blocks and one or two networks, meant to check clean most of the time; ``again``: how often
    a block call that keeps its input's shape is made twice in a row."""
    g = _Generator(rng, again)
    parts: list[str] = []
    if rng.random() < 0.2:
        parts.append(f"# generated by specgen, rank {g.rank}")
    names = rng.sample(BLOCK_NAMES, rng.randint(0, 4))
    for name in names:
        block = rng.choice(TEMPLATES)(rng, name, g.rank)
        g.blocks.append(block)
        parts.append(block.text)
    wrappable = [b for b in g.blocks if b.stride_param]
    if wrappable and rng.random() < 0.4:
        name = f"{rng.choice(['wrap', 'outer', 'twice'])}_{len(g.blocks)}"
        block = _wrap(rng, name, rng.choice(wrappable))
        g.blocks.append(block)
        parts.append(block.text)
    for name in rng.sample(NAMES, rng.choice([1, 1, 1, 2])):
        parts.append(g.network(name))
    if rng.random() < 0.2:
        rng.shuffle(parts)  # definitions may come in any order
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Mutations and splices

TOKENS = ("{", "}", "(", ")", "[", "]", ",", ";", "\n", ":", "=", ".", "#", '"', "'", "in", "in.c", "in.h", "in.w",
          "in.l", "in.d", "in.shape", "in.spatial", "in.rank", "for", "if", "else", "block", "network", "input",
          "import", "conv", "relu", "bn", "gap", "flatten", "linear", "maxpool", "residual", "concat", "branch",
          "add", "repeat", "dense", "gate", "seq", "shortcut", "project", "identity", "same", "true", "false", "not",
          "and", "or", "//", "**", "%", "*", "/", "+", "-", "==", "<", ">=", "x", "when", "range", "len", "min",
          "max", "int", "float", "abs", "s=", "p=", "k=", "groups=", "d=", "op=", "mode=", "\\\n", "\r\n", "\t",
          "se", "basic", "conv_bn_relu", "dwconv", "upsample", "conv_transpose", "adaptive_avgpool", "x:", "stem:",
          "if true", "else if", "[3, 8, 8]", "[1, 0]", "[]", "()", "(,)", "in.shape[9]", "range(-1)",
          '"nearest"', "'linear'")
NUMBERS = ("0", "-1", "1", "2", "3", "7", "0.5", "1e-9", "1e400", "10000", "10001", "10**9", "2**63", "2**64 - 1",
           "10**10**10", "9" * 30, "9" * 5000, "(1, 2)", "(0, 0, 0, 0)", "-0.0", "1e-400", "0.0", "1.5", "-3",
           "99999", "2**31", "100000", ".5", "1e308 * 10", "-2**63", "(1,)", "[0] * 10000", "64", "65", "101")
CHARACTERS = ("\x00", "\x0b", "\x0c", "\r", "\t", "\u00e9", "\u2028", "\u00a0", "\ufeff", "\U0001f600", "\\", "$",
              "`", "@", "?", "!", "~", "&", "|", "^", "'", '"', "\u0130", "\ud7ff", "0", "_")
LEXEME = re.compile(r"\d+(?:\.\d*)?(?:e-?\d+)?|\w+|\"[^\"\n]*\"|\s+|.", re.DOTALL)
_NUMBER = re.compile(r"\d")
_WORD = re.compile(r"[A-Za-z_]\w*")


def _delete(rng: random.Random, lexemes: list[str]) -> None:
    del lexemes[rng.randrange(len(lexemes))]


def _duplicate(rng: random.Random, lexemes: list[str]) -> None:
    i = rng.randrange(len(lexemes))
    lexemes.insert(i, lexemes[i])


def _swap(rng: random.Random, lexemes: list[str]) -> None:
    i, j = rng.randrange(len(lexemes)), rng.randrange(len(lexemes))
    lexemes[i], lexemes[j] = lexemes[j], lexemes[i]


def _change_number(rng: random.Random, lexemes: list[str]) -> None:
    """A number to an extreme value, or to a near one (which often still parses and checks)."""
    numbers = [n for n, lexeme in enumerate(lexemes) if _NUMBER.match(lexeme)]
    if not numbers:
        lexemes.insert(rng.randrange(len(lexemes) + 1), rng.choice(NUMBERS))
        return
    i = rng.choice(numbers)
    if rng.random() < 0.5:
        lexemes[i] = rng.choice(NUMBERS)
        return
    try:
        value = int(lexemes[i])
    except ValueError:
        lexemes[i] = rng.choice(NUMBERS)
        return
    lexemes[i] = str(rng.choice([value + 1, value - 1, value * 2, value // 2, 0, 1, value * 100]))


def _replace_word(rng: random.Random, lexemes: list[str]) -> None:
    """A name to another name of the same text: a parameter for another, a layer for another, a label."""
    words = [n for n, lexeme in enumerate(lexemes) if _WORD.fullmatch(lexeme)]
    if not words:
        return
    i, j = rng.choice(words), rng.choice(words)
    lexemes[i] = lexemes[j] if rng.random() < 0.7 else rng.choice(TOKENS)


def _cut(rng: random.Random, lexemes: list[str]) -> None:
    """Keeps only the first characters of one lexeme: half a keyword, a number losing digits."""
    i = rng.randrange(len(lexemes))
    lexemes[i] = lexemes[i][: rng.randint(0, max(0, len(lexemes[i]) - 1))]


def _duplicate_line(rng: random.Random, lexemes: list[str]) -> None:
    """A whole line twice: a step, a definition header, a closing brace."""
    text = "".join(lexemes)
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    lines.insert(i, lines[i])
    lexemes[:] = LEXEME.findall("\n".join(lines))


def _delete_line(rng: random.Random, lexemes: list[str]) -> None:
    lines = "".join(lexemes).split("\n")
    del lines[rng.randrange(len(lines))]
    lexemes[:] = LEXEME.findall("\n".join(lines)) or [""]


# Each mutation edits a list of lexemes in place.
MUTATIONS: dict[str, Callable[[random.Random, list[str]], None]] = {
    "delete": _delete,
    "duplicate": _duplicate,
    "swap": _swap,
    "insert token": lambda rng, lx: lx.insert(rng.randrange(len(lx) + 1), rng.choice(TOKENS)),
    "insert character": lambda rng, lx: lx.insert(rng.randrange(len(lx) + 1), rng.choice(CHARACTERS)),
    "change number": _change_number,
    "replace word": _replace_word,
    "cut": _cut,
    "duplicate line": _duplicate_line,
    "delete line": _delete_line,
}
# Edits that keep a spec parsing (numbers, names, whole lines) are more likely: they reach elaboration.
WEIGHTS = {"delete": 2, "duplicate": 2, "swap": 1, "insert token": 2, "insert character": 1, "change number": 4,
           "replace word": 3, "cut": 1, "duplicate line": 2, "delete line": 2}


def mutate(rng: random.Random, text: str, edits: int | None = None) -> str:
    """``text`` after ``edits`` (default 1 to 6) random token-level edits."""
    lexemes = LEXEME.findall(text) or [""]
    names = sorted(MUTATIONS)
    for _ in range(rng.randint(1, 6) if edits is None else edits):
        name = rng.choices(names, weights=[WEIGHTS[n] for n in names])[0]
        MUTATIONS[name](rng, lexemes)
        lexemes = lexemes or [""]
    return "".join(lexemes)


def splice(rng: random.Random, a: str, b: str) -> str:
    """A prefix of ``a`` joined to a suffix of ``b``, cut at line boundaries or at lexemes."""
    if rng.random() < 0.5:
        first, second = a.split("\n"), b.split("\n")
        return "\n".join(first[: rng.randint(0, len(first))] + second[rng.randint(0, len(second)):])
    first, second = LEXEME.findall(a), LEXEME.findall(b)
    return "".join(first[: rng.randint(0, len(first))] + second[rng.randint(0, len(second)):])


# ---------------------------------------------------------------------------------------------
# The seed corpus


def seed_paths(root: Path = ROOT) -> list[Path]:
    paths = [*root.glob("specs/*.arch"), *root.glob("examples/**/*.arch"), *root.glob("tests/specs/*.arch"),
             root / "archdsl" / "front" / "prelude.arch"]
    return sorted(p for p in paths if p.is_file())


def seeds(root: Path = ROOT) -> list[str]:
    """The repository's specs: the zoo, the examples (with their errors), the test specs and the prelude."""
    return [p.read_text(encoding="utf-8") for p in seed_paths(root)]
