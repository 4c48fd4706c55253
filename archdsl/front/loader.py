"""Files to a program: reading with size limits, parsing each file once, following imports.

The prelude (standard blocks written in archdsl) is loaded first; user definitions
may shadow its blocks.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from msgspec import Struct, field

from archdsl import errorcodes as codes
from archdsl.diagnostics import Diagnostic, Sink
from archdsl.front import prelude_cache
from archdsl.front import syntax as ast
from archdsl.front.parser import parse
from archdsl.ir.combinators import COMBINATORS
from archdsl.ir.layers import LAYERS
from archdsl.span import Span

MAX_FILE_BYTES = 1 << 20
PRELUDE = "<prelude>"


class Program(Struct):
    """Every definition reachable from the root files, and the text of each file for diagnostics."""

    blocks: dict[str, ast.Definition] = field(default_factory=dict)
    networks: dict[str, ast.Definition] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)
    sink: Sink = field(default_factory=Sink)

    def networks_in(self, file: str) -> list[ast.Definition]:
        return [d for d in self.networks.values() if d.span.file == file]


class _Loader:
    def __init__(self, program: Program):
        self.program = program
        self.done: set[str] = set()
        self.active: list[str] = []

    def load_text(self, text: str, file: str, via: Span | None = None) -> None:
        size = len(text.encode("utf-8", errors="replace"))
        if size > MAX_FILE_BYTES:
            self._too_large(file, size, via)
            return
        self._add(file, text, *parse(text, file))

    def load_prelude(self) -> None:
        self._add(PRELUDE, *_parsed_prelude())

    def _add(self, file: str, text: str, module: ast.Module | None, errors: Sequence[Diagnostic]) -> None:
        self.program.sources[file] = text
        self.program.sink.extend(errors)
        if module is None:
            return
        self.active.append(file)
        for imp in module.imports:
            self.load_path(self._resolve(file, imp.path), imp.span)
        self.active.pop()
        for definition in module.definitions:
            self._define(definition)

    def load_path(self, path: Path, via: Span | None = None) -> None:
        file = str(path)
        if file in self.active:
            cycle = " -> ".join([*self.active[self.active.index(file):], file])
            self._error(codes.IMPORT_CYCLE, f"import cycle: {cycle}", via, "move the shared blocks into a third file")
            return
        if file in self.done:
            return
        self.done.add(file)
        try:
            text = read_spec(path)
        except SpecTooLarge as error:
            self._too_large(file, error.size, via)
            return
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            hint = "save the file as UTF-8" if isinstance(error, UnicodeDecodeError) else None
            if isinstance(error, NotASpecFile):
                hint = "a spec is a regular file of text"
            self._error(codes.FILE_UNREADABLE, f"cannot read {file}: {reason}", via or _start_of(file), hint)
            return
        self.load_text(text, file, via)

    def _too_large(self, file: str, size: int, via: Span | None) -> None:
        self._error(codes.LIMIT, f"{file} is {size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.1f} MB",
                    via or _start_of(file), "split the spec into imported files")

    @staticmethod
    def _resolve(importer: str, target: str) -> Path:
        base = Path(importer).parent if importer not in (PRELUDE, "<string>") else Path.cwd()
        return Path(target) if Path(target).is_absolute() else base / target

    def _define(self, definition: ast.Definition) -> None:
        table = self.program.blocks if definition.kind == "block" else self.program.networks
        reserved = definition.kind == "block" and (definition.name in LAYERS or definition.name in COMBINATORS)
        if reserved:
            self._error(codes.DUPLICATE, f"block `{definition.name}` has the name of a built-in layer",
                        definition.name_span, "choose another name")
            return
        previous = table.get(definition.name)
        if previous is not None and previous.span.file != PRELUDE:
            self._error(codes.DUPLICATE, f"{definition.kind} `{definition.name}` is defined twice",
                        definition.name_span, f"the first definition is at {previous.name_span}")
            return
        seen: set[str] = set()
        for param in definition.params:
            if param.name in seen:
                self._error(codes.DUPLICATE, f"parameter `{param.name}` is listed twice", param.span)
            seen.add(param.name)
            if param.tensor and definition.kind == "network":
                self._error(codes.MISPLACED, f"a network takes no tensor parameter `@{param.name}`", param.span,
                            "a network reads its input, `@in`; give tensors to blocks: `block merge(@skip, out)`")
        table[definition.name] = definition

    def _error(self, code: codes.Code, message: str, span: Span | None, help: str | None = None) -> None:
        self.program.sink.add(Diagnostic(code, message, span, help))


class SpecTooLarge(Exception):
    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


class NotASpecFile(OSError):
    """The path names a folder, a device, a FIFO or a socket: nothing archdsl reads."""


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))


def read_spec(path: Path) -> str:
    """The text of a regular file of at most ``MAX_FILE_BYTES``.

    The file is opened without blocking (a FIFO would wait for a writer) and checked to
    be regular before anything is read; at most one byte more than the limit is read,
    so ``/dev/zero`` or a file that grows cannot exhaust memory.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise NotASpecFile(errno.EINVAL, f"it is {kind}, not a regular file")
        data = os.read(descriptor, MAX_FILE_BYTES + 1)
    finally:
        os.close(descriptor)
    if len(data) > MAX_FILE_BYTES:
        raise SpecTooLarge(max(len(data), os.stat(path).st_size))
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


@functools.cache
def _parsed_prelude() -> tuple[str, ast.Module | None, tuple[Diagnostic, ...]]:
    """The prelude's text and AST, parsed once per process (the AST is immutable) and read back from the
    prelude cache by later processes."""
    text = Path(__file__).with_name("prelude.arch").read_text(encoding="utf-8")
    errors: list[Diagnostic] = []

    def parsed() -> ast.Module | None:
        module, found = parse(text, PRELUDE)
        errors.extend(found)
        return None if found else module

    module = prelude_cache.cached(text, parsed)
    return text, module, tuple(errors)


def _start_of(file: str) -> Span:
    """Where a problem with a whole file is reported."""
    return Span(file, 1, 1, 1, 2)


def load(files: list[Path] | None = None, source: str | None = None, name: str = "<string>") -> Program:
    """Load the prelude, then ``files`` (or ``source`` text) with everything they import."""
    program = Program()
    loader = _Loader(program)
    loader.load_prelude()
    if source is not None:
        program.roots.append(name)
        loader.load_text(source, name)
    for path in files or []:
        program.roots.append(str(path))
        loader.load_path(path)
    return program
