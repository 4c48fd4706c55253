"""Writing results: whole files or nothing, and never over a spec."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path


class OutputError(Exception):
    """The output cannot be written where asked."""


def write_output(target: str, text: str | bytes, inputs: Iterable[str | Path] = ()) -> None:
    """Writes ``text`` to ``target`` (``-``: standard output) through a temporary file and a rename.

    Missing folders on the way are made. Only regular files are replaced: a device or a
    FIFO is written through, as a shell's redirection would.
    """
    if target == "-":
        if isinstance(text, bytes):
            sys.stdout.buffer.write(text)
        else:
            sys.stdout.write(text)
        return
    path = Path(target)
    if any(path.resolve() == Path(i).resolve() for i in inputs):
        raise OutputError(f"refusing to overwrite the input spec {target}")
    if path.is_dir():
        raise OutputError(f"{target} is a folder")
    if target.endswith((os.sep, os.altsep or os.sep)):  # `-o out/`: a folder meant, not a file named `out`
        raise OutputError(f"{target} names a folder: give the name of a file in it")
    data = text.encode("utf-8") if isinstance(text, str) else text
    if path.exists() and not path.is_file():  # a device or FIFO (/dev/null, a pipe): written through, never replaced
        try:
            with path.open("wb") as stream:
                stream.write(data)
        except OSError as error:
            raise OutputError(f"cannot write {target}: {error.strerror}") from None
        return
    path = path.resolve()  # a link to a file: replace the file, keep the link
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"cannot write {target}: {directory} is not a folder") from None
    except OSError as error:
        raise OutputError(f"cannot write {target}: {error.strerror}") from None
    try:
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OutputError(f"cannot write {target}: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes files private; outputs are ordinary files
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
