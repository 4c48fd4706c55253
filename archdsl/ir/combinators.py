"""Names of the built-in combinators, which take a ``{ }`` body: documentation and arity in one table."""

from __future__ import annotations

COMBINATORS: dict[str, str] = {
    "residual": "body(x) + shortcut(x); shortcut=identity (default) or project, or a `shortcut { }` inside",
    "shortcut": "inside a residual: the path the input takes to the add",
    "concat": "branches on the same input, joined along the channels",
    "add": "branches on the same input, summed",
    "mul": "branches on the same input, multiplied element by element (WaveNet's tanh(a) * sigmoid(b))",
    "branch": "one path of a concat, add or mul",
    "gate": "x * body(x), the body's output broadcast over x",
    "dense": "dense(n): layer i sees concat(x, y1 .. y(i-1)); the output is the concat of all",
    "repeat": "repeat(n): the body n times in sequence",
    "seq": "a sequence of steps; named, it becomes one sub-module",
}
