"""archdsl: a declarative language and compiler for convolutional network architectures.

Importing archdsl imports nothing else: the API loads on first use, and torch only
when a module is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archdsl.api import CheckResult, build, check, load_network
    from archdsl.diagnostics import ArchError, Diagnostic

__version__ = "0.1.0"
__all__ = ["ArchError", "CheckResult", "Diagnostic", "__version__", "build", "check", "load_network"]
_HOMES = {"CheckResult": "api", "build": "api", "check": "api", "load_network": "api", "ArchError": "diagnostics",
          "Diagnostic": "diagnostics"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'archdsl' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"archdsl.{_HOMES[name]}"), name)
