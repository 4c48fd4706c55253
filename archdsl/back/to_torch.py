"""The torch back end: checked IR to an ``nn.Module``, in memory.

Every IR group becomes one module whose children are registered under their IR
names (so state_dict keys are the spec's names) and whose forward walks a static
plan of the group's dataflow. The plan is plain tuples, so ``torch.compile`` and
``torch.export`` trace straight through it.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any

import torch
from msgspec import Struct
from torch import nn

from archdsl import ir
from archdsl.back import runtime
from archdsl.back.lowered import adds_in_place, constructor_of
from archdsl.back.pynames import outputs_class
from archdsl.ir import flow, folding
from archdsl.ir.layers import Constructor
from archdsl.remembered import by_identity

Plan = tuple[Any, ...]
Step = tuple[Any, ...]


class ArchModule(nn.Module):
    """One IR group: named children, run in the order and wiring of ``plan``, which keeps labelled tensors for
    the steps that read them."""

    # Defaults on the class: a network builds hundreds of groups, and every attribute set on an instance passes
    # through nn.Module.__setattr__, a few microseconds each.
    _plan: Plan = ()
    _outputs: ir.Outputs | None = None  # a network's output(...): what forward gives
    _train_outputs: Any = None  # the namedtuple of the outputs train() gives, where some are only there
    FOLDS: tuple[tuple[str, str], ...] = ()  # what ``runtime.for_inference`` folds: (convolution, norm)

    def __init__(self, output_shape: tuple[int, ...]) -> None:
        super().__init__()
        self._output_shape = output_shape

    def gives(self, outputs: ir.Outputs, name: str) -> None:
        """Makes forward give ``outputs`` of the network ``name`` instead of its last step's tensor."""
        self._outputs = outputs
        if outputs.form == "train":
            self._train_outputs = namedtuple(outputs_class(name, set(), outputs.name),  # type: ignore[misc]
                                             [str(o.key) for o in outputs.items])

    def forward(self, x: torch.Tensor, tensors: dict[str, torch.Tensor] | None = None) -> Any:
        """``tensors``: those the enclosing module kept, where this one reads them (its own stay here)."""
        kept = {} if tensors is None else dict(tensors)
        y = self._run(self._plan, x, kept)
        if self._outputs is None:
            return y
        given = self._outputs.given(self.training)
        structure = self._outputs.structure(self.training)
        if structure == "namedtuple":
            return self._train_outputs(*(kept[o.label] for o in given))
        if structure == "tuple":
            return tuple(kept[o.label] for o in given)
        if structure == "tensor":
            return kept[given[0].label]
        return OrderedDict((o.key, kept[o.label]) for o in given)

    def _run(self, plan: Plan, x: torch.Tensor, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        for step in plan:
            if step[0] == "train":  # a step only training-only outputs need
                if not self.training:
                    continue
                step = step[1]
            op = step[0]
            if op == "call":
                module = self._modules[step[1]]
                if step[2] is not None:  # one pass's module of a label in a loop: `self.m[1]`
                    module = module[step[2]]  # type: ignore[index]
                given = {inner: tensors[outer] for inner, outer in step[3]}
                x = module(x, given) if given else module(x)  # type: ignore[misc]
            elif op == "keep":
                tensors[step[1]] = x
            elif op == "split":
                for index, part in enumerate(torch.split(x, step[2], dim=1)):
                    tensors[f"{step[1]}[{index}]"] = part
            elif op == "unpack":  # a block's tuple: its parts kept, the first flows on
                tensors.update((f"{step[1]}[{index}]", part) for index, part in enumerate(x[:step[2]]))
                x = x[0]
            elif op == "read":
                x = tensors[step[1]]
            elif op == "residual":
                shortcut = x if step[2] is None else self._run(step[2], x, tensors)
                body = self._run(step[1], x, tensors)
                x = body.add_(shortcut) if step[3] else body + shortcut
            elif op == "concat":
                x = torch.cat([self._run(path, x, tensors) for path in step[1]], dim=1)
            elif op in ("+", "*"):
                outputs = [self._run(path, x, tensors) for path in step[1]]
                x = outputs[0]
                for other in outputs[1:]:
                    x = x + other if op == "+" else x * other
            elif op == "gate":
                x = x * self._run(step[1], x, tensors)
            elif op == "dense":
                features = [x]
                for name in step[1]:
                    features.append(self._modules[name](torch.cat(features, dim=1)))  # type: ignore[misc]
                x = torch.cat(features, dim=1)
        return x

    def extra_repr(self) -> str:
        return f"output_shape={list(self._output_shape)}"


def instantiate(constructor: Constructor) -> nn.Module:
    cls = getattr(nn, constructor.cls[3:]) if constructor.cls.startswith("nn.") else getattr(runtime, constructor.cls)
    return cls(*constructor.args, **dict(constructor.kwargs))


def register(owner: nn.Module, name: str, module: nn.Module) -> None:
    """``module`` added to ``owner`` as ``name``, or, where a loop's pass made it (``m.1``), appended to the
    ``nn.ModuleList`` ``m``."""
    label, index = _attribute(name)
    if index is None:
        owner.add_module(name, module)
        return
    if label not in owner._modules:
        owner.add_module(label, nn.ModuleList())
    listed = owner._modules[label]
    assert isinstance(listed, nn.ModuleList) and len(listed) == index, name
    listed.append(module)


class Recipe(Struct, frozen=True):
    """What building one group's module takes, read off the IR once: its parts in the order they register
    (dataflow order), each a layer's constructor or a sub-group's recipe, and the plan its forward walks."""

    output_shape: tuple[int, ...]
    parts: tuple[tuple[str, Constructor | Recipe], ...]
    plan: Plan
    folds: tuple[tuple[str, str], ...]  # (convolution, norm) pairs ``runtime.for_inference`` folds
    outputs: ir.Outputs | None  # a network's ``output(...)`` or a block's ``gives``
    name: str


class _Planner:
    def group(self, group: ir.Group, outputs: ir.Outputs | None = None) -> Recipe:
        """``group``'s recipe; ``outputs``: a network's ``output(...)`` (a block's is its own ``gives``)."""
        parts: list[tuple[str, Constructor | Recipe]] = []
        folds: list[tuple[str, str]] = []
        plan = self.path(group.children, parts, folds)  # every module is built, also those no step needs
        outputs = outputs or group.gives
        dead, training = flow.dead_steps(group.children, outputs), flow.training_only(group.children, outputs)
        plan = tuple(("train", step) if id(node) in training else step
                     for node, step in zip(group.children, plan, strict=True) if id(node) not in dead)
        return Recipe(group.output.shape, tuple(parts), plan, tuple(folds), outputs, group.name)

    def path(self, nodes: tuple[ir.Node, ...], parts: list[tuple[str, Constructor | Recipe]],
             folds: list[tuple[str, str]]) -> Plan:
        steps: list[Step] = []
        previous: ir.Node | None = None
        for node in nodes:
            steps.append(self.step(node, previous, parts, folds))
            if folding.folds(previous, node):
                folds.append((_path(steps[-2]), _path(steps[-1])))
            previous = node
        return tuple(steps)

    def step(self, node: ir.Node, previous: ir.Node | None, parts: list[tuple[str, Constructor | Recipe]],
             folds: list[tuple[str, str]]) -> tuple[Any, ...]:
        match node:
            case ir.Layer():
                parts.append((node.name, constructor_of(node, previous)))
                return ("call", *_attribute(node.name), ())
            case ir.Group():
                parts.append((node.name, self.group(node)))
                return ("call", *_attribute(node.name), flow.given_tensors(node))
            case ir.Keep(label=label):
                return ("keep", label)
            case ir.Split(label=label, sizes=sizes):
                return ("split", label, list(sizes))
            case ir.Unpack(label=label, count=count):
                return ("unpack", label, count)
            case ir.Read(label=label):
                return ("read", label)
            case ir.Residual(body=body, shortcut=shortcut):
                plan = self.path(body, parts, folds)  # body first: modules register in dataflow order
                short = None if shortcut is None else self.path(shortcut, parts, folds)
                return ("residual", plan, short, adds_in_place(node))
            case ir.Concat(branches=branches):
                return ("concat", tuple(self.path(b, parts, folds) for b in branches))
            case ir.Elementwise(op=operator, branches=branches):
                return (operator, tuple(self.path(b, parts, folds) for b in branches))
            case ir.Gate(body=body):
                return ("gate", self.path(body, parts, folds))
            case ir.Dense(layers=layers):
                parts.extend((layer.name, self.group(layer)) for layer in layers)
                return ("dense", tuple(layer.name for layer in layers))
        raise TypeError(f"cannot build IR node {type(node).__name__}")


def _attribute(name: str) -> tuple[str, int | None]:
    """Where a call step finds the module ``name`` in its owner: an attribute, and its index in a loop's list
    (``m.1``: the list ``m``, index 1)."""
    label, dot, index = name.partition(".")
    return (label, int(index)) if dot else (name, None)


def _path(step: Step) -> str:
    """The path of the module a call step calls, from its owner: ``conv1``, or ``m.1`` in a loop's list."""
    return step[1] if step[2] is None else f"{step[1]}.{step[2]}"


@by_identity(kept=8)
def recipe_of(network: ir.Network) -> Recipe:
    """The network's recipe, read once for every build of it (the checked IR is cached and immutable)."""
    return _Planner().group(network.root, network.outputs)


def construct(recipe: Recipe) -> ArchModule:
    """A new module, with new weights, from ``recipe``."""
    module = ArchModule(recipe.output_shape)
    for name, part in recipe.parts:
        register(module, name, construct(part) if isinstance(part, Recipe) else instantiate(part))
    module._plan = recipe.plan
    if recipe.folds:
        module.FOLDS = recipe.folds
    if recipe.outputs is not None:
        module.gives(recipe.outputs, recipe.name)
    return module


def build_module(network: ir.Network, init: bool = True) -> ArchModule:
    """The network as an ``nn.Module``, its weights started as the spec's ``init(...)`` says unless ``init`` is
    false."""
    module = construct(recipe_of(network))
    if init:
        scheme = network.init
        runtime.init_weights(module, scheme.conv, scheme.linear, scheme.std, scheme.bias)
    return module
