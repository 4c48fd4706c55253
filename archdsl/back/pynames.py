"""Names in the emitted Python: legal, unique, and shadowing nothing the file or Python needs.

Modelled on torch.fx's ``_Namespace``: every name is asked for with a candidate and
handed out changed where it would clash (a keyword, a builtin, a name the file uses,
a name already taken).
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Sequence

from archdsl.ir.expr import HELPERS
from archdsl.ir.layers import RUNTIME_CLASSES
from archdsl.ir.tensor import spoken

# What an emitted file defines or imports at module level, besides its classes, and the builtins its
# classes call: a parameter or local variable of that name would hide it.
FILE_NAMES = frozenset({"torch", "nn", "F", "OrderedDict", "annotations", "init_weights", *HELPERS, "require",
                        "tupled", *RUNTIME_CLASSES})
CALLED_BUILTINS = frozenset({"super", "range", "enumerate", "getattr", "len", "min", "max", "abs", "int", "float",
                             "bool", "str", "tuple", "isinstance", "sum"})


class Names:
    """A set of taken identifiers; ``create`` gives a free one close to the candidate."""

    def __init__(self, taken: set[str] | frozenset[str] = frozenset()):
        self.reserved = FILE_NAMES | CALLED_BUILTINS | {"self"}
        self.taken = set(taken) | self.reserved

    def create(self, candidate: str) -> str:
        """``candidate`` as an identifier: with ``_`` added where Python or the file reserves it (``lambda_``),
        then numbered until it is free (``branch2``)."""
        name = identifier(candidate)
        if mangled(name):  # Python would rename it inside the class
            name = name.lstrip("_") or "value"
        if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in self.reserved:
            name = f"{name}_"
        base, number = name, 1
        while self.clashes(name):
            number += 1
            name = f"{base}_{number}" if base[-1].isdigit() or base.endswith("_") else f"{base}{number}"
        self.taken.add(name)
        return name

    def clashes(self, name: str) -> bool:
        return name in self.taken or keyword.iskeyword(name) or keyword.issoftkeyword(name)


def mangled(name: str) -> bool:
    """Whether Python would rename ``name`` inside a class body (``__x`` becomes ``_Class__x``)."""
    return name.startswith("__") and not name.endswith("__")


def identifier(text: str) -> str:
    """``text`` made a Python identifier: other characters as ``_``, never starting with a digit."""
    name = re.sub(r"\W", "_", text) or "value"
    return f"_{name}" if name[0].isdigit() else name


def variable(key: str) -> str:
    """A candidate name for the forward's variable holding the tensor the IR calls ``key``: ``m[1]`` is
    ``m_1``, one pass's tensor of a label in a loop; in a class's loop ``m[]`` is ``m`` and ``m[*]`` ``ms``."""
    plain = spoken(key).replace("[*]", "s").replace("[]", "")  # every pass's `ms`, this pass's `m`
    return identifier(re.sub(r"\[(\d+)\]", r"_\1", plain))


def class_name(spec_name: str, taken: set[str]) -> str:
    """``bottleneck`` -> ``Bottleneck``, ``conv_bn_relu`` -> ``ConvBnRelu``; unique, and never a Python name."""
    words = [part for part in re.split(r"[^0-9A-Za-z]+", spec_name) if part]
    base = "".join(part[:1].upper() + part[1:] for part in words) or "Block"
    if base[0].isdigit():
        base = f"Block{base}"
    if keyword.iskeyword(base) or base in ("None", "True", "False") or base in dir(builtins):
        base = f"{base}Block"
    name, number = base, 1
    while name in taken or name in FILE_NAMES:
        number += 1
        name = f"{base}{number}"
    taken.add(name)
    return name


def parameter_names(params: Sequence[str], tensors: Sequence[str] = ()) -> dict[str, str]:
    """The Python names of a class's parameters: each spec name, changed only where it would be no Python
    parameter (a keyword) or hide what the file uses (``nn``, a helper, a builtin it calls): ``lambda_``, ``nn_``;
    and for each of a block's tensor parameters, ``skip_channels`` and ``skip_size``. The classes are named around
    the parameters."""
    names = Names({"in_channels", "in_size"})
    found = {name: names.create(name) for name in params}
    return found | {f"{t}_{what}": names.create(f"{t}_{what}") for t in tensors for what in ("channels", "size")}


def outputs_class(network: str, taken: set[str], named: str | None = None) -> str:
    """The namedtuple a network's ``train()`` gives where some outputs are training-only: the name the spec gives
    it, else ``HeadsOutputs`` for the network ``heads``."""
    return class_name(named or f"{network} outputs", taken)  # a name the file needs is numbered: `F2`
