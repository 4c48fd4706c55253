"""How tensors flow between a definition's steps: which labelled tensors each step reads and keeps, what a
sub-module is given beside its input, and which steps what the definition gives needs (the rest are dead, or
run only in training)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeVar

from archdsl.ir import Concat, Elementwise, Group, Keep, Node, Outputs, Read, Require, Split, Unpack, paths
from archdsl.remembered import by_identity

T = TypeVar("T")


def outer_reads(group: Group) -> tuple[str, ...]:
    """The labelled tensors the steps of ``group`` read but do not keep themselves, in the order first read: what
    a sub-module of a definition is given beside its input."""
    kept: set[str] = set()
    read: list[str] = []
    for label, keeps in _labels(group.children):
        if keeps:
            kept.add(label)
        elif not _kept_by(label, kept) and label not in read:
            read.append(label)
    return tuple(read)


def _kept_by(label: str, kept: set[str]) -> bool:
    """Whether reading ``label`` reads a tensor ``kept`` holds (see ``_kept_as``)."""
    return any(key in kept for key in _kept_as(label))


def _kept_as(read: str) -> Iterator[str]:
    """The keys under which the tensor ``read`` reads may be kept: itself, what it is a part of (``u[0]`` and
    ``u`` of ``u[0][1]``), and for every pass's tensor of a class's loop (``m[*]``) one pass's (``m[]``)."""
    while True:
        yield read
        if read.endswith("[*]"):
            yield read[:-3] + "[]"
        if not read.endswith("]"):
            return
        read = read[:read.rindex("[")]


def given_tensors(group: Group) -> tuple[tuple[str, str], ...]:
    """What a sub-module is given beside its input, as (its name inside, the caller's label): a block's tensor
    parameters, or the labelled tensors of the definition a seq or branch reads."""
    if group.kind == "block":
        return tuple((g.param, g.label) for g in group.given)
    return tuple((label, label) for label in outer_reads(group))


def seen_inside(group: Group, outer: Mapping[str, T]) -> dict[str, T]:
    """What the steps of ``group`` see of the labelled tensors ``outer`` holds where it stands: a block only those
    it is given, under its parameters' names; any other group all of them."""
    if group.kind == "block":
        return {g.param: outer[g.label] for g in group.given}
    return dict(outer)


def _labels(nodes: tuple[Node, ...]) -> Iterator[tuple[str, bool]]:
    """The labels ``nodes`` keep (True) or read (False), in dataflow order: a block call reads what it is given,
    and keeps its own labels inside."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if isinstance(node, (Keep, Split, Unpack)):
            yield node.label, True
        elif isinstance(node, Read):
            yield node.label, False
        elif isinstance(node, Group) and node.kind == "block":
            yield from ((g.label, False) for g in node.given)
            continue
        for path in reversed(paths(node)):
            stack.extend(reversed(path))


@by_identity(kept=10_000)
def training_only(steps: tuple[Node, ...], outputs: Outputs | None) -> frozenset[int]:
    """The ids of a network's top-level steps that only its training-only outputs need: ``eval()`` skips them,
    as torchvision's GoogLeNet runs its auxiliary heads only in training."""
    if outputs is None or outputs.form != "train":
        return frozenset()
    return _unneeded(steps, {o.label for o in outputs.given(False)}, False) - dead_steps(steps, outputs)


@by_identity(kept=10_000)
def dead_steps(steps: tuple[Node, ...], outputs: Outputs | None) -> frozenset[int]:
    """The ids of a definition's steps whose tensor nothing it gives needs (``conv(4, 1); from(@in); ...``): built
    but never run. ``outputs``: what its ``output(...)`` gives; None, the last step's tensor."""
    return _unneeded(steps, set() if outputs is None else {o.label for o in outputs.items}, outputs is None)


def _unneeded(steps: tuple[Node, ...], needed: set[str], last: bool) -> frozenset[int]:
    """The ids of the steps that neither the labels ``needed`` nor, where ``last``, the last tensor depend on."""
    current = last  # whether the tensor the step being looked at gives is needed
    wanted = {key for read in needed for key in _kept_as(read)}  # the keys that keep a needed tensor
    skipped: set[int] = set()
    for node in reversed(steps):
        if isinstance(node, Require):
            continue
        if isinstance(node, (Keep, Split, Unpack)):  # the tensor flows on; the label may be what is needed
            current = current or node.label in wanted
            if not current:
                skipped.add(id(node))
            continue
        labels = list(_labels((node,)))
        if not current and not any(keeps and label in wanted for label, keeps in labels):  # nor what it keeps
            skipped.add(id(node))
            continue
        wanted |= {key for label, keeps in labels if not keeps for key in _kept_as(label)}
        current = _reads_input(node)
    return frozenset(skipped)


def _reads_input(node: Node) -> bool:
    """Whether a step reads the tensor before it (not only labelled ones)."""
    if isinstance(node, Read):
        return False
    if isinstance(node, (Concat, Elementwise)):
        return any(not path or _reads_input(path[0]) for path in node.branches)
    if isinstance(node, Group) and node.kind != "block":
        first = [n for n in node.children if not isinstance(n, Require)]
        return not first or _reads_input(first[0])
    return True
