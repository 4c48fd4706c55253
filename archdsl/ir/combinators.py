"""Names of the built-in combinators, which take a ``{ }`` body: documentation and arity in one table."""

from __future__ import annotations

COMBINATORS: dict[str, str] = {
    "residual": "body(x) + shortcut(x); shortcut=identity (default) or project, or a `shortcut { }` inside",
    "shortcut": "inside a residual: the path the input takes to the add",
    "concat": "branches joined along the channels; concat(@a, @b) joins labelled tensors",
    "add": "branches summed; add(@a, @b) sums labelled tensors",
    "mul": "branches multiplied element by element (WaveNet's tanh(a) * sigmoid(b)); mul(@a, @b) too",
    "branch": "one path of a concat, add or mul, on the input; branch(@x) { } starts at a labelled tensor",
    "from": "from(@x) { }: steps that start at a labelled tensor instead of the current one",
    "gate": "x * body(x), the body's output broadcast over x",
    "dense": "dense(n): layer i sees concat(x, y1 .. y(i-1)); the output is the concat of all",
    "repeat": "repeat(n): the body n times in sequence",
    "seq": "a sequence of steps; named, it becomes one sub-module",
}
