"""The user's own cache folder, where the prelude's syntax tree and Lark's parser tables are kept between processes.

It is ``$XDG_CACHE_HOME/archdsl``, else ``~/.cache/archdsl``, made readable by its owner alone; where that cannot
be made (a home folder one may not write), a folder of the user's own in the temporary folder,
``archdsl-<uid>``. Both caches are pickles, and reading a pickle can run code: a file is read back only where
the folder and the file belong to the user and nobody else may write them, never from a folder others share
(Lark's own default is the temporary folder itself, under a name anyone can compute).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def made() -> Path | None:
    """The cache folder, made if it is missing; None where no folder of the user's own can be made (one found
    there that another user made, or may write, is not used)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for path in (Path(base) / "archdsl", Path(tempfile.gettempdir()) / f"archdsl-{os.getuid()}"):
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if _private(path):
                return path
        except OSError:
            continue
    return None


def readable(path: Path) -> bool:
    """Whether ``path`` is a regular file of this user's, in a folder of this user's, that no one else may write."""
    try:
        return _private(path.parent) and _private(path) and stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _private(path: Path) -> bool:
    """Whether ``path`` belongs to this user and no one else may write it."""
    info = path.lstat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
