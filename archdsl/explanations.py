"""The long explanation of every diagnostic code, for ``archdsl explain CODE``.

Each entry says why the rule exists and what the numbers in its message mean, with a
wrong spec that gives the code and the same spec fixed (both checked by the tests).
Paragraphs of ``text`` are wrapped at 88 columns when shown; one that starts with four
spaces (a formula) is shown as written.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from archdsl import errorcodes as codes

WIDTH = 88


@dataclass(frozen=True, slots=True)
class Explanation:
    text: str  # paragraphs separated by blank lines
    wrong: str  # a spec that gives the code
    fixed: str  # the same spec without it


EXPLANATIONS: dict[str, Explanation] = {
    # -- Input and syntax ---------------------------------------------------------------
    "E001": Explanation(
        text=(
            "The text does not follow archdsl's grammar. The message names the token found and "
            "what could have stood there instead, and the caret points at it; the mistake is "
            "often just before it, as with a missing comma between arguments or a bracket never "
            "closed."
            "\n\n"
            "Each `block` and `network` reports only its first syntax error: parsing starts again "
            "at the next definition, so a mistake in one does not hide those in the others, while "
            "guesses past a mistake inside the same definition would mostly report errors that "
            "are not yours. Nothing in the file is checked further until all of it parses."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    conv(16 3)
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    conv(16, 3)
}
""",
    ),
    "E002": Explanation(
        text=(
            "An `import` names a file that cannot be read: it does not exist, it is a folder, or "
            "it may not be read. The path is relative to the importing file, not to the current "
            "directory, and the message shows the path it was resolved to, with the system's "
            "reason. Check the spelling and the folder, or define the blocks in this file. The "
            "file's own networks are not checked while one of its imports is missing, since any "
            "of their calls may need a block from it."
        ),
        wrong="""\
import "blocks/common.arch"

network n {
    input [3, 32, 32]
    stem(16)
}
""",
        fixed="""\
block stem(width) { conv(width, 3, p=1, bias=false); bn; relu }

network n {
    input [3, 32, 32]
    stem(16)
}
""",
    ),
    "E003": Explanation(
        text=(
            "Files import each other in a cycle, directly or through other files: `net.arch` "
            "imports `blocks.arch`, which imports `net.arch`. A file sees the definitions of the "
            "files it imports, and each of those must make sense without it: imports make a tree "
            "of libraries, each of which can be read, checked and reused on its own. A cycle "
            "would make each file a part of the other, so it is refused; the message shows the "
            "chain of imports."
            "\n\n"
            "A cycle needs two files, so the example below is two files, each after a `# file` "
            "line. Move the blocks both files need into one of them, or into a third file that "
            "both import and that imports neither."
        ),
        wrong="""\
# file net.arch
import "blocks.arch"
block head(classes) { gap; flatten; linear(classes) }
network net { input [3, 32, 32]; stem(16); head(10) }

# file blocks.arch
import "net.arch"
block stem(width) { conv(width, 3, p=1, bias=false); bn; relu }
block small(classes) { stem(8); head(classes) }
""",
        fixed="""\
# file net.arch
import "blocks.arch"
network net { input [3, 32, 32]; stem(16); head(10) }

# file blocks.arch
block head(classes) { gap; flatten; linear(classes) }
block stem(width) { conv(width, 3, p=1, bias=false); bn; relu }
block small(classes) { stem(8); head(classes) }
""",
    ),
    "E004": Explanation(
        text=(
            "archdsl refuses inputs large enough to hang or crash the compiler, so that any spec, "
            "even a generated or hostile one, is checked in moments. The limits: a file of at "
            "most 100,000 tokens and 2**20 bytes (1 MB); brackets nested 100 deep, expressions 200 "
            "deep, block calls 64 deep; `repeat`, ranges and lists of at most 10,000 items; "
            "integers below 2**63; a network of at most 100,000 layers and 10**9 parameters "
            "(`--max-params` raises this one); a tensor of at most 2**31 elements per sample. The "
            "layer count is first estimated from the text, so a spec that would unroll to "
            "millions of layers is refused before any of it is elaborated."
            "\n\n"
            "A real network stays far below all of these: reaching one usually means a wrong "
            "number, such as a size where a count was meant, or a missing division."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    repeat(10001) { conv(16, 3, p=1); relu }
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    repeat(4) { conv(16, 3, p=1); relu }
}
""",
    ),
    # -- Names and calls ----------------------------------------------------------------
    "E101": Explanation(
        text=(
            "A step calls a name that is neither a layer (see the layer table: `conv`, `bn`, "
            "`maxpool`, ...), nor a combinator, nor a block: of the prelude, of this file or of a "
            "file it imports. Names are case-sensitive and are never guessed, since a near miss "
            "that silently picked another layer would build a different network; the help line "
            "suggests the closest known name. A block defined in another file needs an `import` "
            "of that file."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    conv(16, 3)
    maxpol(2)
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    conv(16, 3)
    maxpool(2)
}
""",
    ),
    "E102": Explanation(
        text=(
            "An expression uses a name that means nothing where it stands. The names an "
            "expression can see are the parameters of its own block or network, the variables of "
            "the `for` loops around it, `in` (the input's type), the constants `same`, `project`, "
            "`identity`, `true` and `false`, and the functions `min max range len abs int float`. "
            "A block does not see the variables of the place that calls it: whatever it needs is "
            "passed as a parameter, so that a block means the same wherever it is used. The help "
            "line suggests the closest name in scope."
        ),
        wrong="""\
block stage(width) {
    conv(widht, 3, p=1)
}

network n {
    input [3, 32, 32]
    stage(16)
}
""",
        fixed="""\
block stage(width) {
    conv(width, 3, p=1)
}

network n {
    input [3, 32, 32]
    stage(16)
}
""",
    ),
    "E103": Explanation(
        text=(
            "A call passes a keyword argument that the layer or block does not have. archdsl's "
            "layers use short names, the same on every layer: `k` kernel, `s` stride, `p` "
            "padding, `d` dilation, `out` output channels; PyTorch's `stride=`, `padding=` or "
            "`kernel_size=` are not accepted, so that a spec reads the same throughout. A block's "
            "parameters are the names in its definition. The help line suggests the closest "
            "parameter, and the layer table lists every signature."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    conv(16, 3, stride=2)
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    conv(16, 3, s=2, p=1)
}
""",
    ),
    "E104": Explanation(
        text=(
            "A call gives too few or too many arguments. Every parameter without a default must "
            "be given, by position or by name, and no more positional arguments may be given than "
            "there are parameters. Missing values are never made up: a convolution without a "
            "kernel size has no sensible default. The help line shows the signature, with `…` for "
            "the defaults."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    conv(16)
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    conv(16, 3)
}
""",
    ),
    "E105": Explanation(
        text=(
            "An argument has a value of the wrong kind for its parameter. Channel counts, kernel "
            "sizes and strides are integers of at least 1, paddings and repeat counts at least 0; "
            "per-axis parameters take one integer or a tuple with one per spatial axis; flags are "
            "`true` or `false`, and so is an `if` condition; `int()` takes a number, `len()` a list "
            "or tuple. Nothing is converted silently, since rounding 3.5 to a kernel of 3 or 4 would be a guess: "
            "compute integers with `//` or `int()`. The message says what was expected and what "
            "was given."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    conv(16, 3.5)
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    conv(16, 3)
}
""",
    ),
    "E106": Explanation(
        text=(
            "A name is given to two things at once: two steps of one module, two parameters of "
            "one definition, one argument twice in a call, or two blocks or networks of one "
            "program. Step names become the built module's attribute names and `state_dict` keys, "
            "which must be unique, and a call must name exactly one definition. Inside `repeat` "
            "or `for`, a named step gets the same name on every pass: leave it unnamed (steps are "
            "numbered `conv1`, `conv2`, ...), or name the whole loop with a named `seq`. A spec "
            "may still define a block of the same name as a prelude block, to replace it."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    repeat(2) { conv1: conv(16, 3, p=1) }
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    repeat(2) { conv(16, 3, p=1) }
}
""",
    ),
    "E107": Explanation(
        text=(
            "A block calls itself, directly or through other blocks; the message shows the chain "
            "of calls. Every block call is expanded into layers when the spec is checked, so that "
            "each shape can be inferred and each layer counted: a spec describes one finite "
            "network, not a program that builds one. Recursion is refused even where an `if` "
            "would end it; repeat a block with `repeat(n)` or `for`, with the depth as a "
            "parameter."
        ),
        wrong="""\
block down(c) { conv(c, 3, s=2, p=1); down(c) }

network n {
    input [3, 32, 32]
    down(16)
}
""",
        fixed="""\
block down(c) { conv(c, 3, s=2, p=1) }

network n {
    input [3, 32, 32]
    repeat(3) { down(16) }
}
""",
    ),
    "E108": Explanation(
        text=(
            "An expression has operands of the right kinds but no value: a division or modulo by "
            "zero, an index beyond the end of a list or tuple, a `range` with a step of 0, a "
            "power that is not a real number, arithmetic whose result is not finite. The message "
            "shows the operation with the values put in, and a note names the block call the "
            "values came from, which is often where the mistake is (here, a default that cannot "
            "be used)."
        ),
        wrong="""\
block squeeze(r=0) {
    conv(in.c // r, 1)
}

network n {
    input [16, 8, 8]
    squeeze
}
""",
        fixed="""\
block squeeze(r=4) {
    conv(in.c // r, 1)
}

network n {
    input [16, 8, 8]
    squeeze
}
""",
    ),
    "E109": Explanation(
        text=(
            "A statement stands where it has no meaning: a `branch` outside a `concat` or `add`, "
            "a `shortcut` outside a `residual`, anything but branches inside a `concat` or `add`, "
            "an `input` line that is not the first line of a network (or a network without one), "
            "a `{ }` body given to a layer, a combinator without its body, or `in` outside a "
            "block or network. Each of these has one place where it makes sense; elsewhere "
            "archdsl could only guess what was meant."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    branch { conv(16, 1) }
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    concat {
        branch { conv(16, 1) }
        branch { conv(16, 3, p=1) }
    }
}
""",
    ),
    "E110": Explanation(
        text=(
            "The network named with `-n` (or `network=` in Python) is not defined in the files "
            "given, nor in the files they import. It is a mistake on the command line rather than "
            "in a spec, so it has no place in a file and the exit code is 2. The help line "
            "suggests the closest network name, or lists the networks defined; `archdsl list "
            "FILE` shows them with their parameters."
        ),
        wrong="""\
archdsl check specs/lenet5.arch -n lenet
""",
        fixed="""\
archdsl check specs/lenet5.arch -n lenet5
""",
    ),
    "E111": Explanation(
        text=(
            "A step's name cannot be used as the name of a module attribute. Step names become "
            "attributes of the built `nn.Module` (`model.stem`) and keys of its `state_dict`, so "
            "a name must not be a Python keyword (`class`, `lambda`), must not start with `_` "
            "(kept for the code archdsl writes), and must not be an attribute that `nn.Module` "
            "already has (`forward`, `eval`, `train`, `parameters`, ...): assigning a layer there "
            "would break the module. Choose another name."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    forward: conv(16, 3)
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    stem: conv(16, 3)
}
""",
    ),
    # -- Shapes ------------------------------------------------------------------------
    "E201": Explanation(
        text=(
            "A layer's output would have a size below 1 along a spatial axis: its window does not "
            "fit even once in the (padded) input. For convolution and pooling, with input size L, "
            "padding p, dilation d, kernel k and stride s, the window spans e = d(k-1)+1 "
            "positions and the output size is"
            "\n\n"
            "    floor((L + 2p - e) / s) + 1"
            "\n\n"
            "(for `conv_transpose`: (L - 1)s - 2p + d(k-1) + op + 1). The help line puts the "
            "layer's numbers into the formula. It usually means too many down-sampling steps for "
            "the input (five halvings take 32 to 1) or a forgotten padding; a note names the "
            "block call where it happened."
        ),
        wrong="""\
network n {
    input [3, 4, 4]
    conv(64, 7, s=2)
}
""",
        fixed="""\
network n {
    input [3, 4, 4]
    conv(64, 3, p=1)
}
""",
    ),
    "E202": Explanation(
        text=(
            "A grouped convolution splits its input channels into `groups` equal groups and its "
            "output channels likewise; each output group sees only its own input group. So "
            "`groups` must divide both the input and the output channels, and the largest it can "
            "be is their greatest common divisor. The help line shows the remainder and that "
            "divisor. The same holds for `gn` and `channel_shuffle`, whose groups split the "
            "channels."
        ),
        wrong="""\
network n {
    input [48, 16, 16]
    conv(64, 3, p=1, groups=32)
}
""",
        fixed="""\
network n {
    input [48, 16, 16]
    conv(64, 3, p=1, groups=16)
}
""",
    ),
    "E203": Explanation(
        text=(
            "A `residual` adds its body's output to its input, element by element, so both must "
            "have the same shape: the same channels and the same spatial sizes. When the body "
            "changes either, the shortcut must change them too: `residual(shortcut=project)` adds "
            "a 1x1 convolution with the body's stride and a batch norm where the shapes differ "
            "(as ResNet does), and a `shortcut { }` inside the body gives the shortcut's steps "
            "explicitly. `residual(when=COND)` makes the residual conditional instead."
        ),
        wrong="""\
network n {
    input [64, 16, 16]
    residual { conv(128, 3, p=1) }
}
""",
        fixed="""\
network n {
    input [64, 16, 16]
    residual(shortcut=project) { conv(128, 3, p=1) }
}
""",
    ),
    "E204": Explanation(
        text=(
            "A `gate` multiplies its input by its body's output, broadcast as in PyTorch: each "
            "axis of the body's output must be 1 (the same weight all along that axis) or equal "
            "to the input's. So [C, 1, 1] weighs channels (squeeze-and-excitation), [1, H, W] "
            "weighs positions (spatial attention), and [C, H, W] weighs every element. Any other "
            "size cannot be spread over the input: usually the body's last convolution has the "
            "wrong number of channels."
        ),
        wrong="""\
network n {
    input [64, 16, 16]
    gate { gap; conv(32, 1); sigmoid }
}
""",
        fixed="""\
network n {
    input [64, 16, 16]
    gate { gap; conv(64, 1); sigmoid }
}
""",
    ),
    "E205": Explanation(
        text=(
            "Branches that are joined must agree in shape: `concat` stacks its branches along the "
            "channels, so their spatial sizes must be equal (their channels may differ); `add` "
            "sums them, so their whole shapes must be equal; each layer of a `dense` block is "
            "concatenated with its input, so it must keep the spatial size. The message lists "
            "every branch's shape. Usually one branch forgot its padding (a 3x3 convolution needs "
            "p=1 to keep the size) or has another stride."
        ),
        wrong="""\
network n {
    input [64, 16, 16]
    concat {
        branch { conv(32, 1) }
        branch { conv(32, 3) }
    }
}
""",
        fixed="""\
network n {
    input [64, 16, 16]
    concat {
        branch { conv(32, 1) }
        branch { conv(32, 3, p=1) }
    }
}
""",
    ),
    "E206": Explanation(
        text=(
            "`linear` needs a flat tensor [N], with one axis of features. PyTorch's `nn.Linear` "
            "would also run on a [C, H, W] map, over its last axis only, which is almost never "
            "what was meant, so archdsl asks for the flattening to be written out: `flatten` "
            "keeps every value ([C, H, W] becomes [C*H*W]), `gap; flatten` first averages away "
            "the spatial axes ([C, H, W] becomes [C])."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    conv(16, 3, p=1)
    gap
    linear(10)
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    conv(16, 3, p=1)
    gap; flatten
    linear(10)
}
""",
    ),
    "E207": Explanation(
        text=(
            "A layer gets a tensor with a number of spatial axes it cannot work on. A tensor type "
            "is [C, *spatial]: a flat vector has none, a signal one, an image two, a video three. "
            "Convolutions, poolings, `gap` and `instancenorm` need 1, 2 or 3 spatial axes (a "
            "convolution is 1-D, 2-D or 3-D by its input), so they cannot follow a `flatten`. "
            "Most often the `flatten` came too early: pool and convolve first, then flatten for "
            "the classifier."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    flatten
    conv(16, 3)
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    conv(16, 3)
    flatten
}
""",
    ),
    "E208": Explanation(
        text=(
            "A padding cannot be done as written. `p=same` pads (e-1)/2 on each side, with the "
            "window span e = d(k-1)+1, to keep the size at stride 1; that is a whole number only "
            "for an odd span, and archdsl, like PyTorch's modules, pads both sides equally. A "
            "pooling's padding may be at most half its kernel, as PyTorch requires, and a "
            "`conv_transpose`'s output padding `op` must be smaller than its stride or its "
            "dilation. For an even kernel, give the padding as a number (`conv(16, 4, s=2, p=1)` "
            "halves the size)."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    conv(16, 4, p=same)
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    conv(16, 3, p=same)
}
""",
    ),
    "E209": Explanation(
        text=(
            "A layer needs more of the tensor than there is. `instancenorm` normalises each "
            "sample's channel over its positions: subtract their mean, divide by their standard "
            "deviation. Over a single position, as after `gap` or on a 1x1 map, the mean is the "
            "value itself and the variance is 0, so every output would be 0 (PyTorch refuses it "
            "while training). Put the norm where the map still has more than one position, "
            "usually before the global pooling."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    conv(16, 3, p=1, bias=false)
    gap
    instancenorm
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    conv(16, 3, p=1, bias=false)
    instancenorm
    gap
}
""",
    ),
    # -- Verification ------------------------------------------------------------------
    "E401": Explanation(
        text=(
            "`archdsl report --verify` builds the network in PyTorch and compares archdsl's "
            "static counts with what torch measures (the parameters of the built module) and what "
            "fvcore measures (its FLOPs, one multiply-add being one flop). archdsl computes both "
            "from each layer's registry entry, and the two must agree to the unit; the message "
            "names the first layer where they part."
            "\n\n"
            "No spec should be able to cause this: a difference is a bug in archdsl, between a "
            "layer's count and the module it builds, so there is nothing to fix in the spec. "
            "Please report it with the spec and the command. Meanwhile the numbers torch and "
            "fvcore measure are the ones to trust."
        ),
        wrong="""\
$ archdsl report net.arch --verify
net.arch:1:1: error[E401]: net: FLOPs: archdsl counts 1,000, fvcore 1,024; ...
  help: please report this: the layer registry and the built module disagree
""",
        fixed="""\
Nothing to change in net.arch: report the spec, the command and its output
as an issue, so that the layer's count can be corrected.
""",
    ),
    # -- Warnings ----------------------------------------------------------------------
    "W301": Explanation(
        text=(
            "A strided window stops before the end of the input: along an axis of size L with "
            "padding p, window span e = d(k-1)+1 and stride s,"
            "\n\n"
            "    (L + 2p - e) % s"
            "\n\n"
            "positions at the end are never read. Those beyond the right padding p are real input, "
            "thrown away, and the output is no longer centred on the input. ResNet's 7x7 stem "
            "(s=2, p=3) skips one position of a 224 input's padding, which is fine. Pad by "
            "the difference, or choose an input size that the strides divide. Where it is meant, "
            "silence it on its line with `# archdsl: allow W301`, or for a run with `--allow W301`."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    conv(16, 3, s=2, bias=false)
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    conv(16, 3, s=2, p=1, bias=false)
}
""",
    ),
    "W302": Explanation(
        text=(
            "A convolution's bias is directly followed by `bn`, `gn` or `instancenorm`. `bn` and "
            "`instancenorm` subtract each channel's mean over its positions, a mean that includes "
            "the channel's bias, so the bias comes out exactly cancelled: its parameters (one per "
            "output channel, the count in the message) are learned for nothing, and the norm's "
            "own shift takes their place. (`gn` subtracts the mean of a group of channels, which "
            "cancels what their biases have in common.) Pass `bias=false`. `ln` normalises across "
            "the channels at each position instead, which does not cancel a bias, so it is not "
            "warned about. Where it is meant, silence it with `# archdsl: allow W302`."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    conv(16, 3, p=1)
    bn
    relu
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    conv(16, 3, p=1, bias=false)
    bn
    relu
}
""",
    ),
    "W303": Explanation(
        text=(
            "A convolution's padding p is more than half its window span e = d(k-1)+1, that is, "
            "more than e // 2 on each side. Its border windows then lie mostly on padding, or "
            "wholly where p >= e: those outputs see only zeros, and the output grows past the "
            "input size. This is usually a padding kept when the kernel was made smaller, such as "
            "ImageNet's 7x7 stem with p=3 turned into a 3x3 one. Padding e // 2 keeps the size at "
            "stride 1. Where it is meant, silence it with `# archdsl: allow W303`."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    conv(64, 3, p=3, bias=false)
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    conv(64, 3, p=1, bias=false)
}
""",
    ),
    "W304": Explanation(
        text=(
            "Paths joined by a `residual`, `concat`, `add` or `gate` reach it having stepped over "
            "the input at different strides. A path's stride (its jump, in the report) is the "
            "distance in input pixels between neighbouring outputs: the product of its strides, "
            "divided by its up-sampling. When the paths differ, their outputs may have the same "
            "size by coincidence, but the value at one position describes different places of the "
            "input on each path, so the join mixes unrelated features. Make the strides and "
            "up-sampling match on every path (the message lists each path's stride), or where it "
            "is meant, silence it with `# archdsl: allow W304`."
        ),
        wrong="""\
network n {
    input [3, 32, 32]
    concat {
        branch { conv(8, 4, s=2, p=1) }
        branch { conv(8, 17) }
    }
}
""",
        fixed="""\
network n {
    input [3, 32, 32]
    concat {
        branch { conv(8, 4, s=2, p=1) }
        branch { maxpool(2); conv(8, 1) }
    }
}
""",
    ),
}


_CODES = {code.id: code for code in codes.ALL}


def _wrap(paragraph: str) -> str:
    """``paragraph`` filled to ``WIDTH`` columns, never breaking a `code span`."""
    kept = re.sub(r"`[^`]*`", lambda span: span.group().replace(" ", "\xa0"), paragraph)
    return textwrap.fill(kept, WIDTH, break_on_hyphens=False, break_long_words=False).replace("\xa0", " ")


def explain(code_id: str) -> str:
    """The text `archdsl explain CODE` prints: title, explanation, a wrong and a fixed example.

    Raises ``KeyError`` for a code that is not in the registry.
    """
    code, entry = _CODES[code_id], EXPLANATIONS[code_id]
    paragraphs = [p if p.startswith("    ") else _wrap(p) for p in entry.text.split("\n\n")]
    return "\n".join([
        f"{code.id}: {code.title}",
        "",
        "\n\n".join(paragraphs),
        "",
        "Wrong:",
        textwrap.indent(entry.wrong.rstrip("\n"), "    ", lambda line: bool(line.strip())),
        "",
        "Fixed:",
        textwrap.indent(entry.fixed.rstrip("\n"), "    ", lambda line: bool(line.strip())),
    ])
