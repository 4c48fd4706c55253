"""Loading reference weights whose layout differs from a spec's (documented mappings, no torch import).

Most zoo specs name their steps as torchvision does, so ``load_state_dict`` works as is.
ConvNeXt cannot match inside its block: torchvision applies LayerNorm and the two
point-wise layers as ``nn.Linear`` on a channels-last view (between two permutes) and
keeps layer scale as a bare parameter. ``convnext_from_torchvision`` renames those keys
and reshapes each ``(out, in)`` linear weight to the ``(out, in, 1, 1)`` 1x1 convolution
the spec uses; everything else already matches.

One graph spec needs its keys renamed: torchvision's ``IntermediateLayerGetter`` there gives
tensors from numbered steps of one ``nn.Sequential``, which a label cannot name:
``lraspp_from_torchvision`` (``backbone.5`` to ``backbone.16`` are ``high.0`` to ``high.11``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Rule = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str], Callable[[Any], Any]]


def _same(tensor: Any) -> Any:
    return tensor


def _as_conv(tensor: Any) -> Any:
    """A linear layer's (out, in) weight as a 1x1 convolution's (out, in, 1, 1)."""
    return tensor[:, :, None, None] if tensor.dim() == 2 else tensor


CONVNEXT_RULES: tuple[Rule, ...] = (
    (re.compile(r"^(.*)\.block\.0\.(weight|bias)$"), r"\1.dwconv1.\2", _same),
    (re.compile(r"^(.*)\.block\.2\.(weight|bias)$"), r"\1.ln1.\2", _same),
    (re.compile(r"^(.*)\.block\.3\.(weight|bias)$"), r"\1.pwconv1.\2", _as_conv),
    (re.compile(r"^(.*)\.block\.5\.(weight|bias)$"), r"\1.pwconv2.\2", _as_conv),
    (re.compile(r"^(.*)\.layer_scale$"), r"\1.layerscale1.scale", _same),
)


def remap(state_dict: Mapping[str, Any], rules: tuple[Rule, ...]) -> dict[str, Any]:
    """``state_dict`` with each key renamed (and its tensor reshaped) by the first rule that matches it."""
    result = {}
    for key, tensor in state_dict.items():
        for pattern, replacement, transform in rules:
            if pattern.match(key):
                key, tensor = pattern.sub(replacement, key), transform(tensor)
                break
        result[key] = tensor
    return result


def convnext_from_torchvision(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """torchvision's ``convnext_tiny``/``small``/``base``/``large`` weights for the archdsl ConvNeXt specs."""
    return remap(state_dict, CONVNEXT_RULES)


LRASPP_RULES: tuple[Rule, ...] = (
    (re.compile(r"^backbone\.(\d+)\.(?=.)"), lambda m: f"high.{int(m[1]) - 5}." if int(m[1]) >= 5 else m[0], _same),
)


def lraspp_from_torchvision(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """torchvision's ``lraspp_mobilenet_v3_large`` weights for ``specs/lraspp_mobilenet_v3_large.arch``."""
    return remap(state_dict, LRASPP_RULES)
