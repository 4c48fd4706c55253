"""Which spec parameter each constructor argument comes from: read by the Python back end of old."""

from __future__ import annotations

# Which spec parameter each constructor argument comes from, so generated code can reuse the
# spec's own expression for it: keyword arguments by name, positional ones per kind.
_KEYWORD_SOURCES = {
    "stride": "s", "padding": "p", "dilation": "d", "groups": "groups", "bias": "bias", "output_padding": "op",
    "eps": "eps", "momentum": "momentum", "affine": "affine", "elementwise_affine": "affine",
    "track_running_stats": "track", "ceil_mode": "ceil", "count_include_pad": "count_include_pad",
    "approximate": "approximate",
}
_POSITIONAL_SOURCES: dict[str, tuple[str | None, ...]] = {
    "conv": (None, "out", "k"), "conv_transpose": (None, "out", "k"), "dwconv": (None, None, "k"),
    "pwconv": (None, "out"), "maxpool": ("k",), "avgpool": ("k",), "adaptive_avgpool": ("size",),
    "adaptive_maxpool": ("size",), "gn": ("groups",), "linear": (None, "out"), "leaky_relu": ("slope",),
    "dropout": ("p",), "droppath": ("p",), "layerscale": (None, "init"), "channel_shuffle": ("groups",),
}


def argument_source(kind: str, key: int | str) -> str | None:
    """The spec parameter of layer ``kind`` that constructor argument ``key`` (a position or a name) comes from."""
    if isinstance(key, str):
        return _KEYWORD_SOURCES.get(key) if kind != "dwconv" or key != "groups" else None
    positional = _POSITIONAL_SOURCES.get(kind, ())
    return positional[key] if key < len(positional) else None
