"""archdsl: a declarative language and compiler for convolutional network architectures.

Importing archdsl does not import torch; only building a module does.
"""

from archdsl.api import CheckResult, build, check, load_network
from archdsl.diagnostics import ArchError, Diagnostic

__version__ = "0.1.0"
__all__ = ["ArchError", "CheckResult", "Diagnostic", "__version__", "build", "check", "load_network"]
