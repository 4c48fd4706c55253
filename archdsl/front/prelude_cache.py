"""The prelude's syntax tree kept on disk between processes: parsing it costs a check more than reading it back.

The file is named by a hash of the prelude's text, of Python's version and of the source of what makes the tree
(its classes, the grammar, the parser), so an edited prelude or parser, or another release, never reads a stale
tree. It
lives in the user's own ``cache_folder``. Reading it builds nothing but syntax nodes and spans: any other class
named in the file makes it unreadable, and an unreadable file is parsed again. Nothing is ever cached for spec
files.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from archdsl import span
from archdsl.front import cache_folder
from archdsl.front import syntax as ast

_ALLOWED_MODULES = frozenset({"archdsl.front.syntax", "archdsl.span"})
# What makes the tree: the classes it is made of, the grammar, the parser and the step from Lark's tree to it.
_HERE = Path(__file__).parent
_MAKERS = (Path(str(span.__file__)), Path(str(ast.__file__)), _HERE / "grammar.lark", _HERE / "parser.py",
           _HERE / "to_ast.py")


class _SyntaxUnpickler(pickle.Unpickler):
    """Builds syntax nodes and spans only."""

    def find_class(self, module: str, name: str) -> type:
        if module not in _ALLOWED_MODULES:
            raise pickle.UnpicklingError(f"the prelude cache names {module}.{name}")
        found = super().find_class(module, name)
        if not isinstance(found, type):
            raise pickle.UnpicklingError(f"the prelude cache names {module}.{name}, not a class")
        return found


def cached(text: str, parse: Callable[[], ast.Module | None]) -> ast.Module | None:
    """The syntax tree of the prelude ``text``: from the cache where it holds one, else ``parse()``'s, kept there
    when it parsed clean."""
    folder = cache_folder.made()
    if folder is None:
        return parse()
    path = folder / f"prelude-{_key(text)}.pickle"
    module = _read(path)
    if module is None:
        module = parse()
        if module is not None:
            _write(path, module)
    return module


def _key(text: str) -> str:
    digest = hashlib.sha256(f"{sys.version}\0{pickle.HIGHEST_PROTOCOL}\0{text}".encode())
    for path in _MAKERS:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _read(path: Path) -> ast.Module | None:
    if not cache_folder.readable(path):
        return None
    try:
        module = _SyntaxUnpickler(io.BytesIO(path.read_bytes())).load()
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, TypeError, ValueError, IndexError):
        return None
    return module if isinstance(module, ast.Module) else None


def _write(path: Path, module: ast.Module) -> None:
    """Writes the file whole (a temporary file renamed over it)."""
    try:
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=".prelude-")
    except OSError:
        return
    written = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            pickle.dump(module, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(written, path)
    except BaseException as error:  # a full disk, or Ctrl-C: no half-written file stays
        written.unlink(missing_ok=True)
        if not isinstance(error, OSError):
            raise
