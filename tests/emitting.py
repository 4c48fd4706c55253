"""Emitted Python under test: imported in a fresh namespace and compared with ``archdsl.build``."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

import archdsl
from archdsl.api import python_source
from archdsl.back.to_torch import build_module

# The examples as their papers size them cost seconds a forward pass: the tests that run every spec and example
# at its own input run these at fewer channels (a parameter each has), the examples' own tests at their sizes.
LIGHTER = {"unet": {"width": 4}, "yolov8_neck": {"width": 4}, "hrnet_stage": {"width": 8}}


def network_class(source: str, name: str = "emitted") -> type[nn.Module]:
    """The network class of an emitted file (its last class), the file run in a namespace of its own."""
    namespace: dict[str, Any] = {"__name__": name}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    classes = [value for value in namespace.values() if isinstance(value, type) and issubclass(value, nn.Module)
               and value.__module__ == name]
    return classes[-1]


def difference(built: nn.Module, emitted: nn.Module, shape: tuple[int, ...]) -> str | None:
    """How ``emitted`` differs from ``built``: state_dict keys and shapes, then outputs for the same weights."""
    ours, theirs = built.state_dict(), emitted.state_dict()
    if list(ours) != list(theirs):
        return f"state_dict keys differ: build {list(ours)[:6]}..., emitted {list(theirs)[:6]}..."
    for key, value in ours.items():
        if value.shape != theirs[key].shape:
            return f"{key}: build {tuple(value.shape)}, emitted {tuple(theirs[key].shape)}"
    emitted.load_state_dict(ours)
    x = torch.randn(2, *shape)  # two: a group norm over one value per group fails on a batch of one
    with torch.no_grad():
        expected, got = built.eval()(x), emitted.eval()(x)
        if structure(expected) != structure(got):
            return f"the outputs differ in structure: build {structure(expected)}, emitted {structure(got)}"
        if not all(torch.allclose(a, b, rtol=1e-4, atol=1e-5) for a, b in zip(tensors_of(expected), tensors_of(got),
                                                                               strict=True)):
            return "outputs differ for the same weights"
        if getattr(built, "_outputs", None) is None:  # the last step's tensor, in train() as in eval()
            return None
        trained = structure(built.train()(x)), structure(emitted.train()(x))  # dropout: the structure only
    if trained[0] != trained[1]:
        return f"in train() the outputs differ in structure: build {trained[0]}, emitted {trained[1]}"
    return None


def structure(output: Any) -> Any:
    """An output's structure: the type and names of its containers, and each tensor's shape."""
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, dict):
        return type(output).__name__, [(key, structure(value)) for key, value in output.items()]
    fields = getattr(output, "_fields", None)  # a namedtuple
    return type(output).__name__ if fields else "tuple", fields, [structure(value) for value in output]


def tensors_of(output: Any) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    return [t for value in (output.values() if isinstance(output, dict) else output) for t in tensors_of(value)]


def other_values(value: Any) -> list[Any]:
    """Values of a parameter's type other than ``value``, some of which a spec may refuse."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value * 2, max(0, value - 1)]
    if isinstance(value, float):
        return [value / 2, value + 0.25]
    if isinstance(value, tuple) and value and all(type(v) is int for v in value):
        return [tuple(v + 1 for v in value)]
    return []


def problems(text: str, values: int | None = None) -> Iterator[str]:
    """Where the emitted classes of spec ``text`` differ from ``archdsl.build``: at the compiled arguments, and
    with each network parameter at up to ``values`` other values (a refused value must be refused alike)."""
    result = archdsl.check(source=text)
    assert result.ok, [d.message for d in result.diagnostics]
    for network in result.networks:
        cls = network_class(python_source(result, network, "spec.arch"))
        torch.manual_seed(0)
        found = difference(build_module(network, init=False), cls(), network.input.shape)
        if found:
            yield f"{network.name} as compiled: {found}"
            continue
        taken = list(inspect.signature(cls).parameters)
        for (name, value), local in zip(network.args, taken, strict=True):
            for other in other_values(value)[:values]:
                yield from _at(text, network.name, cls, name, local, other)


def _at(text: str, network: str, cls: type[nn.Module], name: str, local: str, value: Any) -> Iterator[str]:
    where = f"{network}({name}={value!r})"
    checked = archdsl.check(source=text, network=network, params={name: value})
    try:
        emitted = cls(**{local: value})
    except ValueError as error:
        if checked.ok:
            yield f"{where}: refused a value the checker accepts: {error}"
        elif not str(error).startswith(f"{local}=") and f"{local}=" not in str(error):
            yield f"{where}: the refusal names no parameter: {error}"
        return
    if not checked.ok:
        yield f"{where}: built a value the checker refuses ({checked.diagnostics[0].message})"
        return
    found = difference(build_module(checked.networks[0], init=False), emitted, checked.networks[0].input.shape)
    if found:
        yield f"{where}: {found}"
